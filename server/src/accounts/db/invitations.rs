//! Invitations to join an organization, and the memberships they lead to.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;

#[derive(Debug, Clone, FromRow)]
pub struct InvitationRow {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: String,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub struct NewInvitation<'a> {
    pub id: &'a str,
    pub organization_id: &'a str,
    pub email: &'a str,
    pub role: &'a str,
    pub token_hash: &'a str,
    pub invited_by: &'a str,
    pub expires_at: i64,
}

const COLUMNS: &str = "id, organization_id, email, role, invited_by, created_at, expires_at";

pub async fn insert_invitation(
    conn: &mut AnyConnection,
    invitation: &NewInvitation<'_>,
    now: i64,
) -> Result<(), Error> {
    sqlx::query(
        "insert into invitations (id, organization_id, email, role, token_hash, invited_by, created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(invitation.id)
    .bind(invitation.organization_id)
    .bind(invitation.email)
    .bind(invitation.role)
    .bind(invitation.token_hash)
    .bind(invitation.invited_by)
    .bind(now)
    .bind(invitation.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Withdraws the address's pending invitations that expired, so a new one can take their place.
pub async fn retire_expired(
    conn: &mut AnyConnection,
    organization_id: &str,
    email: &str,
    now: i64,
) -> Result<(), Error> {
    sqlx::query(
        "update invitations set revoked_at = $1
         where organization_id = $2 and email = $3 and accepted_at is null and revoked_at is null and expires_at <= $4",
    )
    .bind(now)
    .bind(organization_id)
    .bind(email)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The organization's invitations still waiting to be used, newest first.
pub async fn pending_invitations(
    conn: &mut AnyConnection,
    organization_id: &str,
    now: i64,
) -> Result<Vec<InvitationRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from invitations
         where organization_id = $1 and accepted_at is null and revoked_at is null and expires_at > $2
         order by created_at desc"
    ))
    .bind(organization_id)
    .bind(now)
    .fetch_all(conn)
    .await?)
}

/// A usable invitation by its link's hash: not used, not withdrawn, not expired.
pub async fn usable_invitation(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<InvitationRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from invitations
         where token_hash = $1 and accepted_at is null and revoked_at is null and expires_at > $2"
    ))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// Uses the invitation: `false` when it was used, withdrawn or expired meanwhile.
pub async fn accept_invitation(conn: &mut AnyConnection, id: &str, now: i64) -> Result<bool, Error> {
    let done = sqlx::query(
        "update invitations set accepted_at = $1
         where id = $2 and accepted_at is null and revoked_at is null and expires_at > $3",
    )
    .bind(now)
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Withdraws a pending invitation of the organization: `false` when there is none by that id.
pub async fn revoke_invitation(
    conn: &mut AnyConnection,
    organization_id: &str,
    id: &str,
    now: i64,
) -> Result<bool, Error> {
    let done = sqlx::query(
        "update invitations set revoked_at = $1
         where id = $2 and organization_id = $3 and accepted_at is null and revoked_at is null",
    )
    .bind(now)
    .bind(id)
    .bind(organization_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Withdraws every pending invitation `invited_by` sent for the organization.
pub async fn revoke_invitations_by(
    conn: &mut AnyConnection,
    organization_id: &str,
    invited_by: &str,
    now: i64,
) -> Result<(), Error> {
    sqlx::query(
        "update invitations set revoked_at = $1
         where organization_id = $2 and invited_by = $3 and accepted_at is null and revoked_at is null",
    )
    .bind(now)
    .bind(organization_id)
    .bind(invited_by)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub created_at: i64,
}

/// The organization's members with their addresses, owners first.
pub async fn members_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<MemberRow>, Error> {
    Ok(sqlx::query_as(
        "select m.user_id, u.email, m.role, m.created_at from memberships m join users u on u.id = m.user_id
         where m.organization_id = $1 order by case when m.role = 'owner' then 0 else 1 end, u.email",
    )
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}

pub async fn delete_membership(conn: &mut AnyConnection, organization_id: &str, user_id: &str) -> Result<bool, Error> {
    let done = sqlx::query("delete from memberships where organization_id = $1 and user_id = $2")
        .bind(organization_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// (count, oldest time) of the invitations the organization made since `since`.
pub async fn invitations_made_since(
    conn: &mut AnyConnection,
    organization_id: &str,
    since: i64,
) -> Result<(i64, Option<i64>), Error> {
    Ok(sqlx::query_as(
        "select cast(count(*) as bigint), min(created_at) from invitations where organization_id = $1 and created_at >= $2",
    )
    .bind(organization_id)
    .bind(since)
    .fetch_one(conn)
    .await?)
}
