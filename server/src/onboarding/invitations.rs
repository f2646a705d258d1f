//! The team: owners invite people by email with a role, withdraw invitations and remove members
//! (never the last owner). An invitation is a one-time link valid for a week; using it makes the
//! account (or, for an address with one, asks its password) and the membership, together.
use app::api::backend::Authenticated;
use app::api::dto::{Role, SessionUser, TeamInvitation, TeamMember, TeamPage};
use app::api::error::AppError;
use serde_json::json;
use sqlx::AnyConnection;

use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::invitations::{self as db, NewInvitation};
use crate::accounts::db::organizations::{OrganizationRow, find_organization, insert_membership, lock_organizations};
use crate::accounts::db::users::{UserRow, find_user_by_email, insert_user};
use crate::accounts::domain::email::account_email;
use crate::accounts::domain::one_time_token::{generate_token, hash_secret};
use crate::accounts::domain::password::{hash_password, new_password};
use crate::accounts::domain::throttle::retry_after_secs;
use crate::accounts::login::{LoginThrottle, authenticate};
use crate::error::Error;
use crate::notifications::db::enqueue;
use crate::onboarding::mail_throttle::{MailThrottle, count_mail_request};
use crate::onboarding::signup::account_mail;
use crate::reader::moment;
use crate::shared::ids::{IdKind, new_id};
use crate::store::{Db, is_unique_violation};

/// An invitation's link works for a week.
pub const INVITATION_TTL_MS: i64 = 7 * 24 * 3_600_000;
/// Invitations an organization may send a day, resent ones included: a team grows slower, and an
/// owner's account taken over cannot mail the world in the portal's name.
pub const INVITATIONS_PER_DAY: i64 = 50;
const DAY_MS: i64 = 24 * 3_600_000;

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn team_page(db: &Db, organization_id: &str, viewer: &SessionUser) -> Result<TeamPage, Error> {
    let role = viewer.role_in(organization_id)?;
    let mut conn = db.pool.acquire().await?;
    let members = db::members_of(&mut conn, organization_id).await?;
    let owners = members.iter().filter(|m| m.role == Role::Owner.as_str()).count();
    let invitations = db::pending_invitations(&mut conn, organization_id, db.clock.now_ms()).await?;
    Ok(TeamPage {
        members: members
            .into_iter()
            .map(|m| TeamMember {
                // The last owner stays: someone must be able to pay and to invite.
                removable: !(m.role == Role::Owner.as_str() && owners == 1),
                user_id: m.user_id,
                email: m.email,
                role: m.role,
                since: moment(m.created_at),
            })
            .collect(),
        invitations: invitations
            .into_iter()
            .map(|i| TeamInvitation {
                id: i.id,
                email: i.email,
                role: i.role,
                invited_by: i.invited_by,
                expires: moment(i.expires_at),
            })
            .collect(),
        can_manage: role == Role::Owner,
    })
}

fn audit<'a>(organization_id: &'a str, actor: &'a str, action: &'a str, target: &'a str) -> AuditEntry<'a> {
    AuditEntry {
        organization_id: Some(organization_id),
        actor,
        action,
        target,
        before: None,
        after: None,
        reason: None,
    }
}

fn invitation_waiting() -> AppError {
    AppError::conflict("email", "has an invitation waiting: withdraw it to send a new one")
}

pub struct Invite<'a> {
    pub organization_id: &'a str,
    pub email: &'a str,
    pub role: &'a str,
}

/// Mails an invitation to join the organization. An address that is a member already, or has an
/// invitation waiting, is told so; invitations to one address are limited like all account mail.
#[tracing::instrument(skip_all, fields(organization_id = invite.organization_id))]
pub async fn invite(
    db: &Db,
    throttle: MailThrottle,
    base_url: &str,
    actor: &SessionUser,
    invite: &Invite<'_>,
) -> Result<TeamPage, Error> {
    let org = invite.organization_id;
    let email = account_email("email", invite.email)?;
    let role = Role::parse(invite.role).ok_or_else(|| AppError::invalid("role", "must be owner, member or billing"))?;
    {
        let mut conn = db.pool.acquire().await?;
        if db::members_of(&mut conn, org).await?.iter().any(|m| m.email == email) {
            return Err(AppError::conflict("email", "is a member already").into());
        }
        // Before the count: a refused invitation sends no mail, so it uses none of the allowance.
        if db::pending_invitations(&mut conn, org, db.clock.now_ms()).await?.iter().any(|i| i.email == email) {
            return Err(invitation_waiting().into());
        }
    }
    count_mail_request(db, throttle, &email).await?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    let organization = find_organization(&mut tx, org).await?.ok_or(AppError::NotFound)?;
    db::retire_expired(&mut tx, org, &email, now).await?;
    let invitation = Invitation { organization: &organization, email: &email, role, invited_by: &actor.email };
    let id = mail_invitation(&mut tx, base_url, &invitation, now).await?;
    let mut entry = audit(org, &actor.email, "invitation.create", &id);
    entry.after = Some(json!({ "email": email, "role": role.as_str() }));
    append_audit(&mut tx, entry, now).await?;
    tx.commit().await?;
    team_page(db, org, actor).await
}

/// An invitation about to be mailed.
pub struct Invitation<'a> {
    pub organization: &'a OrganizationRow,
    pub email: &'a str,
    pub role: Role,
    pub invited_by: &'a str,
}

/// Stores the invitation and queues its mail with the one-time link, in the caller's transaction.
/// Answers the invitation's id.
pub async fn mail_invitation(
    conn: &mut AnyConnection,
    base_url: &str,
    invitation: &Invitation<'_>,
    now: i64,
) -> Result<String, Error> {
    let organization = invitation.organization;
    let (sent, oldest) = db::invitations_made_since(conn, &organization.id, now - DAY_MS).await?;
    if sent >= INVITATIONS_PER_DAY {
        return Err(AppError::RateLimited { retry_after_secs: retry_after_secs(oldest, DAY_MS, now) }.into());
    }
    let token = generate_token();
    let id = new_id(IdKind::Invitation, now);
    let row = NewInvitation {
        id: &id,
        organization_id: &organization.id,
        email: invitation.email,
        role: invitation.role.as_str(),
        token_hash: &token.hash,
        invited_by: invitation.invited_by,
        expires_at: now + INVITATION_TTL_MS,
    };
    db::insert_invitation(conn, &row, now).await.map_err(|error| match error {
        Error::Database(e) if is_unique_violation(&e) => invitation_waiting().into(),
        other => other,
    })?;
    let body = format!(
        "{} invited you to join {} in the billing portal as {}.\n\n\
         Accept the invitation: {base_url}/invitation?token={}\n\n\
         The link works once, for 7 days. If you did not expect it, you can ignore this message.",
        invitation.invited_by,
        organization.name,
        match invitation.role {
            Role::Owner => "an owner",
            Role::Member => "a member",
            Role::Billing => "a billing member (invoices, payments and the card)",
        },
        token.secret
    );
    let subject = format!("Join {} in the billing portal", organization.name);
    enqueue(conn, &account_mail("account.invitation", &id, invitation.email, &subject, &body), now).await?;
    Ok(id)
}

/// Sends a waiting invitation again with a new link; the old link stops working. Counts like a
/// new invitation against the address's mail allowance and the organization's daily number.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn resend(
    db: &Db,
    throttle: MailThrottle,
    base_url: &str,
    actor: &SessionUser,
    organization_id: &str,
    invitation_id: &str,
) -> Result<TeamPage, Error> {
    let waiting = {
        let mut conn = db.pool.acquire().await?;
        db::pending_invitations(&mut conn, organization_id, db.clock.now_ms()).await?
    };
    let old = waiting.into_iter().find(|i| i.id == invitation_id).ok_or(AppError::NotFound)?;
    let role = Role::parse(&old.role).ok_or_else(|| Error::Corrupt(format!("invitation role {}", old.role)))?;
    count_mail_request(db, throttle, &old.email).await?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    let organization = find_organization(&mut tx, organization_id).await?.ok_or(AppError::NotFound)?;
    // Withdrawn first, so the new one takes the address's one waiting place.
    if !db::revoke_invitation(&mut tx, organization_id, invitation_id, now).await? {
        return Err(AppError::NotFound.into());
    }
    let invitation = Invitation { organization: &organization, email: &old.email, role, invited_by: &actor.email };
    let id = mail_invitation(&mut tx, base_url, &invitation, now).await?;
    let mut entry = audit(organization_id, &actor.email, "invitation.resend", &id);
    entry.before = Some(json!({ "invitation": invitation_id }));
    entry.after = Some(json!({ "email": old.email, "role": role.as_str() }));
    append_audit(&mut tx, entry, now).await?;
    tx.commit().await?;
    team_page(db, organization_id, actor).await
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn withdraw(
    db: &Db,
    actor: &SessionUser,
    organization_id: &str,
    invitation_id: &str,
) -> Result<TeamPage, Error> {
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    if !db::revoke_invitation(&mut tx, organization_id, invitation_id, now).await? {
        return Err(AppError::NotFound.into());
    }
    append_audit(&mut tx, audit(organization_id, &actor.email, "invitation.revoke", invitation_id), now).await?;
    tx.commit().await?;
    team_page(db, organization_id, actor).await
}

/// Removes a member; the organization's last owner cannot be removed.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn remove_member(
    db: &Db,
    actor: &SessionUser,
    organization_id: &str,
    user_id: &str,
) -> Result<TeamPage, Error> {
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    // Two owners removing each other at once: the second sees the first's removal.
    lock_organizations(&mut tx, &[organization_id.to_owned()]).await?;
    let members = db::members_of(&mut tx, organization_id).await?;
    // Read again under the lock: an owner removed by another owner a moment ago removes nobody.
    if !members.iter().any(|m| m.user_id == actor.user_id && m.role == Role::Owner.as_str()) {
        return Err(AppError::Forbidden.into());
    }
    let member = members.iter().find(|m| m.user_id == user_id).ok_or(AppError::NotFound)?;
    let owners = members.iter().filter(|m| m.role == Role::Owner.as_str()).count();
    if member.role == Role::Owner.as_str() && owners == 1 {
        return Err(AppError::conflict(
            "user_id",
            "the last owner cannot be removed: make someone else an owner first",
        )
        .into());
    }
    db::delete_membership(&mut tx, organization_id, user_id).await?;
    // What a removed owner sent goes with them: an invitation to an address they hold included.
    db::revoke_invitations_by(&mut tx, organization_id, &member.email, now).await?;
    let mut entry = audit(organization_id, &actor.email, "membership.remove", user_id);
    entry.before = Some(json!({ "email": member.email, "role": member.role }));
    append_audit(&mut tx, entry, now).await?;
    tx.commit().await?;
    team_page(db, organization_id, actor).await
}

/// Uses an invitation's link: an address without an account chooses its password here; one with
/// an account proves it with its password, checked as a login is (failures counted and limited
/// per account and client), so a link seen by someone else is no way to guess it. Answers who to
/// log in and the organization joined.
#[tracing::instrument(skip_all)]
pub async fn accept(
    db: &Db,
    throttle: LoginThrottle,
    client: &str,
    token: &str,
    password: &str,
) -> Result<(Authenticated, String), Error> {
    let invalid = || AppError::invalid("token", "this invitation is not valid, was used, withdrawn or has expired");
    let token_hash = hash_secret(token.trim());
    let (invitation, user) = {
        let mut conn = db.pool.acquire().await?;
        let invitation = db::usable_invitation(&mut conn, &token_hash, db.clock.now_ms()).await?.ok_or_else(invalid)?;
        let user = find_user_by_email(&mut conn, &invitation.email).await?;
        (invitation, user)
    };
    let new_user = match user {
        Some(user) => {
            authenticate(db, throttle, &invitation.email, password, client).await.map_err(|error| match error {
                Error::App(AppError::WrongCredentials) => {
                    AppError::invalid("password", "is not the password of your account").into()
                }
                other => other,
            })?;
            Err(user)
        }
        None => {
            new_password(password, &[&invitation.email])?;
            let password = password.to_owned();
            Ok(tokio::task::spawn_blocking(move || hash_password(&password)).await??)
        }
    };
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    if !db::accept_invitation(&mut tx, &invitation.id, now).await? {
        return Err(invalid().into());
    }
    let user = match new_user {
        Err(existing) => existing,
        Ok(password_hash) => {
            let user = UserRow {
                id: new_id(IdKind::User, now),
                email: invitation.email.clone(),
                password_hash,
                session_generation: 0,
            };
            insert_user(&mut tx, &user, now).await.map_err(|error| match error {
                // The address signed up meanwhile: its owner accepts with that account's password.
                Error::Database(e) if is_unique_violation(&e) => invalid().into(),
                other => other,
            })?;
            user
        }
    };
    insert_membership(&mut tx, &user.id, &invitation.organization_id, &invitation.role, now).await.map_err(
        |error| match error {
            Error::Database(e) if is_unique_violation(&e) => {
                AppError::conflict("token", "you are a member already").into()
            }
            other => other,
        },
    )?;
    let mut entry = audit(&invitation.organization_id, &invitation.email, "invitation.accept", &invitation.id);
    entry.after = Some(json!({ "user": user.id, "role": invitation.role }));
    append_audit(&mut tx, entry, now).await?;
    tx.commit().await?;
    let authenticated = Authenticated { user_id: user.id, generation: user.session_generation };
    Ok((authenticated, invitation.organization_id))
}
