//! Users and staff admins.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::store::Dialect;

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    /// Read with the hash: a login checked against this hash belongs to this generation.
    pub session_generation: i64,
}

pub async fn insert_user(conn: &mut AnyConnection, user: &UserRow, now_ms: i64) -> Result<(), Error> {
    sqlx::query("insert into users (id, email, password_hash, created_at) values ($1, $2, $3, $4)")
        .bind(&user.id)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find_user_by_email(conn: &mut AnyConnection, email: &str) -> Result<Option<UserRow>, Error> {
    Ok(sqlx::query_as("select id, email, password_hash, session_generation from users where email = $1")
        .bind(email)
        .fetch_optional(conn)
        .await?)
}

pub async fn find_user(conn: &mut AnyConnection, id: &str) -> Result<Option<UserRow>, Error> {
    Ok(sqlx::query_as("select id, email, password_hash, session_generation from users where id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// What every request needs of its signed-in user: one row per membership, or one with no
/// organization for a user without any. Every request asks, so it is one statement.
#[derive(Debug, Clone, FromRow)]
pub struct SessionUserRow {
    pub id: String,
    pub email: String,
    pub session_generation: i64,
    /// The IANA zone the user chose to read times in, if any.
    pub time_zone: Option<String>,
    staff_user_id: Option<String>,
    organization_id: Option<String>,
    organization_name: Option<String>,
    role: Option<String>,
    past_due_collections: i64,
}

impl SessionUserRow {
    pub fn is_staff(&self) -> bool {
        self.staff_user_id.is_some()
    }

    /// (organization id, its name, the role in it, whether a payment of it is past due).
    pub fn membership(&self) -> Option<(&str, &str, &str, bool)> {
        let past_due = self.past_due_collections > 0;
        Some((self.organization_id.as_deref()?, self.organization_name.as_deref()?, self.role.as_deref()?, past_due))
    }
}

/// With each membership, whether a payment of the organization is past due (payments' table):
/// the past-due banner on every page then reads nothing more for an organization in good standing.
const SESSION_USER_SELECT: &str = "select u.id, u.email, u.session_generation, u.time_zone,
        a.user_id as staff_user_id, m.organization_id, o.name as organization_name, m.role,
        (select count(*) from collections c where c.organization_id = m.organization_id
         and c.status = 'past_due') as past_due_collections";
const SESSION_USER_JOINS: &str = "left join staff_admins a on a.user_id = u.id
    left join (memberships m join organizations o on o.id = m.organization_id) on m.user_id = u.id";

/// The user's rows (see [`SessionUserRow`]), memberships by organization name; empty when there
/// is no such user.
pub async fn find_session_user(conn: &mut AnyConnection, id: &str) -> Result<Vec<SessionUserRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "{SESSION_USER_SELECT} from users u {SESSION_USER_JOINS} where u.id = $1 order by o.name, o.id"
    ))
    .bind(id)
    .fetch_all(conn)
    .await?)
}

/// A [`SessionUserRow`] read with its session, and when the session expires.
#[derive(Debug, Clone, FromRow)]
pub struct SessionOfUserRow {
    #[sqlx(flatten)]
    pub user: SessionUserRow,
    pub session_expires_at: i64,
}

/// The rows of the user a session belongs to, read with the session; empty when the session is
/// unknown, expired at `now`, anonymous, or began in an earlier session generation of its user
/// (before a password reset).
pub async fn find_user_of_session(
    conn: &mut AnyConnection,
    session_id: &str,
    now: i64,
) -> Result<Vec<SessionOfUserRow>, Error> {
    // A session written by an instance of the release before (both run during a rolling upgrade)
    // names its user in its data only.
    let (user_id, generation) = match Dialect::of(conn) {
        Dialect::Sqlite => (
            "coalesce(s.user_id, json_extract(s.data, '$.user_id'))",
            "case when s.user_id is null then coalesce(json_extract(s.data, '$.session_generation'), 0)
             else s.generation end",
        ),
        Dialect::Postgres => (
            "coalesce(s.user_id, s.data::json ->> 'user_id')",
            "case when s.user_id is null then coalesce((s.data::json ->> 'session_generation')::bigint, 0)
             else s.generation end",
        ),
    };
    Ok(sqlx::query_as(&format!(
        "{SESSION_USER_SELECT}, s.expires_at as session_expires_at from sessions s
         join users u on u.id = {user_id} and u.session_generation = {generation} {SESSION_USER_JOINS}
         where s.id = $1 and s.expires_at > $2 order by o.name, o.id"
    ))
    .bind(session_id)
    .bind(now)
    .fetch_all(conn)
    .await?)
}

/// `None` goes back to the browser's zone.
pub async fn set_time_zone(conn: &mut AnyConnection, user_id: &str, zone: Option<&str>) -> Result<(), Error> {
    sqlx::query("update users set time_zone = $1 where id = $2").bind(zone).bind(user_id).execute(conn).await?;
    Ok(())
}

/// Sets a new password and starts the next session generation, ending every session of the old.
pub async fn set_password(conn: &mut AnyConnection, user_id: &str, password_hash: &str) -> Result<(), Error> {
    sqlx::query("update users set password_hash = $1, session_generation = session_generation + 1 where id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_staff_admin(conn: &mut AnyConnection, user_id: &str, now_ms: i64) -> Result<(), Error> {
    sqlx::query("insert into staff_admins (user_id, created_at) values ($1, $2)")
        .bind(user_id)
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(())
}
