//! Customers sold to by hand: staff create the organization with its billing email and plan (the
//! trial they agreed on), and its first owner is invited by mail to take it over. Staff can invite
//! an owner again later, when nobody inside can.
use app::api::dto::Role;
use app::api::dto::admin::NewCustomerForm;
use app::api::error::AppError;
use serde_json::json;

use crate::accounts::audit::reason_of;
use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::invitations;
use crate::accounts::db::organizations::{
    OrganizationRow, find_organization, insert_organization, organizations_named,
};
use crate::accounts::domain::email::account_email;
use crate::accounts::domain::organization_name::organization_name;
use crate::billing::db::plans;
use crate::billing::domain::catalog::CURRENCY;
use crate::billing::subscriptions::subscribe;
use crate::error::Error;
use crate::onboarding::invitations::{Invitation, mail_invitation};
use crate::shared::ids::{IdKind, new_id};
use crate::store::Db;

/// The longest trial staff may give.
const MAX_TRIAL_DAYS: i64 = 90;

/// Days of trial as typed: empty for none, else 0 (none) to `MAX_TRIAL_DAYS`.
fn trial_days_of(text: &str, plan: Option<&str>) -> Result<Option<i64>, AppError> {
    let days = match text.trim() {
        "" => return Ok(None),
        text => text.parse::<i64>().ok().filter(|d| (0..=MAX_TRIAL_DAYS).contains(d)),
    };
    let days = days.ok_or_else(|| AppError::invalid("trial_days", format!("must be 0 to {MAX_TRIAL_DAYS} days")))?;
    if plan.is_none() && days > 0 {
        return Err(AppError::invalid("trial_days", "needs a plan to be a trial of"));
    }
    Ok((days > 0).then_some(days))
}

/// Creates the organization, its subscription and its first owner's invitation in one transaction,
/// and answers the organization's id.
#[tracing::instrument(skip_all)]
pub async fn create_customer(db: &Db, base_url: &str, admin: &str, form: &NewCustomerForm) -> Result<String, Error> {
    let name = organization_name(&form.name).map_err(|refusal| AppError::invalid("name", refusal.reason))?;
    let billing_email = account_email("billing_email", &form.billing_email)?;
    let owner_email = account_email("owner_email", &form.owner_email)?;
    let plan = Some(form.plan.trim()).filter(|p| !p.is_empty());
    let trial_days = trial_days_of(&form.trial_days, plan)?;
    let reason = reason_of(&form.reason)?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    // A second submit of the same form (a double click, a retry) makes no second customer.
    if organizations_named(&mut tx, &name, &billing_email).await? > 0 {
        let message = "a customer with this name and billing email exists: search for it";
        return Err(AppError::conflict("name", message).into());
    }
    if let Some(plan) = plan
        && !plans::current_versions(&mut tx).await?.iter().any(|v| v.plan_name == plan)
    {
        return Err(AppError::invalid("plan", "is not a plan on offer").into());
    }
    let organization = OrganizationRow {
        id: new_id(IdKind::Organization, now),
        name,
        billing_email,
        currency: CURRENCY.to_owned(),
        created_at: now,
        onboarded_at: None,
    };
    insert_organization(&mut tx, &organization).await?;
    if let Some(plan) = plan {
        subscribe(&mut tx, &organization.id, plan, trial_days, now).await?;
    }
    let invitation =
        Invitation { organization: &organization, email: &owner_email, role: Role::Owner, invited_by: admin };
    mail_invitation(&mut tx, base_url, &invitation, now).await?;
    let audit = AuditEntry {
        organization_id: Some(&organization.id),
        actor: admin,
        action: "organization.create",
        target: &organization.id,
        before: None,
        after: Some(json!({
            "name": organization.name, "billing_email": organization.billing_email, "plan": plan,
            "trial_days": trial_days, "owner": owner_email,
        })),
        reason: Some(reason),
    };
    append_audit(&mut tx, audit, now).await?;
    tx.commit().await?;
    Ok(organization.id)
}

/// Staff invite an owner into a customer: when the first owner's invitation lapsed, or the
/// customer's owners left, nobody inside could invite anyone.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn invite_owner(
    db: &Db,
    base_url: &str,
    admin: &str,
    organization_id: &str,
    email: &str,
    reason: &str,
) -> Result<(), Error> {
    let email = account_email("email", email)?;
    let reason = reason_of(reason)?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    let organization = find_organization(&mut tx, organization_id).await?.ok_or(AppError::NotFound)?;
    if invitations::members_of(&mut tx, organization_id).await?.iter().any(|m| m.email == email) {
        return Err(AppError::conflict("email", "is a member already").into());
    }
    invitations::retire_expired(&mut tx, organization_id, &email, now).await?;
    let invitation = Invitation { organization: &organization, email: &email, role: Role::Owner, invited_by: admin };
    let id = mail_invitation(&mut tx, base_url, &invitation, now).await?;
    let audit = AuditEntry {
        organization_id: Some(organization_id),
        actor: admin,
        action: "invitation.create",
        target: &id,
        before: None,
        after: Some(json!({ "email": email, "role": "owner" })),
        reason: Some(reason),
    };
    append_audit(&mut tx, audit, now).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trials_are_days_within_the_limit_and_only_with_a_plan() {
        assert_eq!(trial_days_of("", Some("Essentials")), Ok(None));
        assert_eq!(trial_days_of("0", Some("Essentials")), Ok(None));
        assert_eq!(trial_days_of(" 30 ", Some("Essentials")), Ok(Some(30)));
        assert!(trial_days_of("91", Some("Essentials")).is_err());
        assert!(trial_days_of("-1", Some("Essentials")).is_err());
        assert!(trial_days_of("10", None).is_err());
        assert_eq!(trial_days_of("0", None), Ok(None));
    }
}
