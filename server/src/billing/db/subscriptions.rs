//! Subscriptions: their status with its transition log, their current period, and plan changes.
use sqlx::{AnyConnection, FromRow, Row};

use crate::accounts::db::organizations::OrganizationRow;

use crate::billing::domain::proration::Proration;
use crate::billing::domain::subscription::{SubscriptionStatus, transition};
use crate::error::Error;
use crate::shared::ids::{IdKind, new_id};
use crate::store::bulk::{bind_all_as, bind_all_scalar, list_placeholders, placeholder, texts};

const SUBSCRIPTION_COLUMNS: &str = "s.id, s.organization_id, s.plan_version_id, s.status, s.anchor_at,
    s.current_period_start, s.current_period_end, s.trial_ends_at, s.cancel_requested_at, s.ended_at";

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SubscriptionRow {
    pub id: String,
    pub organization_id: String,
    pub plan_version_id: String,
    pub status: String,
    pub anchor_at: i64,
    pub current_period_start: i64,
    pub current_period_end: i64,
    pub trial_ends_at: Option<i64>,
    pub cancel_requested_at: Option<i64>,
    /// Canceled before its period's end: the last period is billed up to here.
    pub ended_at: Option<i64>,
}

impl SubscriptionRow {
    pub fn status(&self) -> Result<SubscriptionStatus, Error> {
        SubscriptionStatus::parse(&self.status).ok_or_else(|| Error::Corrupt(format!("status {}", self.status)))
    }
}

pub struct NewSubscription<'a> {
    pub organization_id: &'a str,
    pub plan_version_id: &'a str,
    pub status: SubscriptionStatus,
    pub anchor_at: i64,
    pub period: (i64, i64),
    pub trial_ends_at: Option<i64>,
}

/// Locks the organization's subscription row until the transaction ends (a no-op update, since
/// SQLite has no `for update`: its write transaction already excludes every other writer).
pub async fn lock_subscription_of(conn: &mut AnyConnection, organization_id: &str) -> Result<(), Error> {
    sqlx::query("update subscriptions set plan_version_id = plan_version_id where organization_id = $1")
        .bind(organization_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_subscription(conn: &mut AnyConnection, new: &NewSubscription<'_>) -> Result<String, Error> {
    let id = new_id(IdKind::Subscription, new.anchor_at);
    sqlx::query(
        "insert into subscriptions (id, organization_id, plan_version_id, status, anchor_at, created_at,
             current_period_start, current_period_end, trial_ends_at)
         values ($1, $2, $3, $4, $5, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(new.organization_id)
    .bind(new.plan_version_id)
    .bind(new.status.as_str())
    .bind(new.anchor_at)
    .bind(new.period.0)
    .bind(new.period.1)
    .bind(new.trial_ends_at)
    .execute(conn)
    .await?;
    Ok(id)
}

/// Picks the organization's subscription: the running one (at most one runs), else the one that
/// ended last: after a resubscription the ended one stays beside it with its invoices. Not by
/// `created_at`, which is a trial's end.
const RUNNING_FIRST: &str =
    "order by case when s.ended_at is null then 1 else 0 end desc, s.ended_at desc, s.id desc limit 1";

pub async fn subscription_of(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<Option<SubscriptionRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {SUBSCRIPTION_COLUMNS} from subscriptions s where s.organization_id = $1 {RUNNING_FIRST}"
    ))
    .bind(organization_id)
    .fetch_optional(conn)
    .await?)
}

/// The organization's subscription as [`subscription_of`] picks it, with what the pages showing
/// an estimate ask beside it, in the same statement (a round trip each was most of a page's cost
/// on PostgreSQL).
#[derive(Debug, Clone, FromRow)]
pub struct SubscriptionStanding {
    #[sqlx(flatten)]
    pub subscription: SubscriptionRow,
    /// Plan changes applied since the period began. Applied changes are never removed or moved, so
    /// a count that grew means one more was applied.
    pub changes_applied_in_period: i64,
    pending_to_version_id: Option<String>,
    pending_effective_at: Option<i64>,
    /// The organization's coupon redemptions, running or not: with none (most organizations) there
    /// is no discount to look for.
    pub redemptions: i64,
}

impl SubscriptionStanding {
    /// The plan change waiting for its moment, as (the plan version it moves to, when).
    pub fn pending_change(&self) -> Option<(&str, i64)> {
        self.pending_to_version_id.as_deref().zip(self.pending_effective_at)
    }
}

/// A [`SubscriptionStanding`]'s columns beyond the subscription's, of `s` joined to its pending change `p`.
const STANDING_COLUMNS: &str = "(select count(*) from plan_changes c where c.subscription_id = s.id
        and c.status = 'applied' and c.effective_at >= s.current_period_start) as changes_applied_in_period,
    p.to_version_id as pending_to_version_id, p.effective_at as pending_effective_at,
    (select count(*) from coupon_redemptions r where r.organization_id = s.organization_id) as redemptions";
const PENDING_CHANGE: &str = "left join plan_changes p on p.subscription_id = s.id and p.status = 'pending'";

pub async fn standing_of(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<Option<SubscriptionStanding>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {SUBSCRIPTION_COLUMNS}, {STANDING_COLUMNS} from subscriptions s {PENDING_CHANGE}
         where s.organization_id = $1 {RUNNING_FIRST}"
    ))
    .bind(organization_id)
    .fetch_optional(conn)
    .await?)
}

/// The organization, and its subscription's standing as [`standing_of`] reads it, in one
/// statement: the dashboard's first read. `None` when there is no such organization.
pub async fn organization_and_standing(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<Option<(OrganizationRow, Option<SubscriptionStanding>)>, Error> {
    let row = sqlx::query(&format!(
        "select o.id as org_id, o.name as org_name, o.billing_email as org_billing_email,
                o.currency as org_currency, o.created_at as org_created_at, o.onboarded_at as org_onboarded_at,
                {SUBSCRIPTION_COLUMNS}, {STANDING_COLUMNS}
         from organizations o
         left join subscriptions s on s.id = (select s.id from subscriptions s where s.organization_id = o.id {RUNNING_FIRST})
         {PENDING_CHANGE}
         where o.id = $1"
    ))
    .bind(organization_id)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let organization = OrganizationRow {
        id: row.try_get("org_id")?,
        name: row.try_get("org_name")?,
        billing_email: row.try_get("org_billing_email")?,
        currency: row.try_get("org_currency")?,
        created_at: row.try_get("org_created_at")?,
        onboarded_at: row.try_get("org_onboarded_at")?,
    };
    let standing = match row.try_get::<Option<String>, _>("id")? {
        Some(_) => Some(SubscriptionStanding::from_row(&row)?),
        None => None,
    };
    Ok(Some((organization, standing)))
}

pub async fn subscription(conn: &mut AnyConnection, subscription_id: &str) -> Result<Option<SubscriptionRow>, Error> {
    Ok(sqlx::query_as(&format!("select {SUBSCRIPTION_COLUMNS} from subscriptions s where s.id = $1"))
        .bind(subscription_id)
        .fetch_optional(conn)
        .await?)
}

/// Subscriptions whose current period has ended by `now`: the invoice run's work list.
/// Subscriptions with a period to close: live ones whose period ended, and canceled ones whose
/// periods up to their end are not all closed yet.
pub async fn periods_ended(conn: &mut AnyConnection, now: i64, limit: i64) -> Result<Vec<SubscriptionRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select * from (
             select {SUBSCRIPTION_COLUMNS} from subscriptions s
             where s.current_period_end <= $1 and s.status <> 'canceled'
             union all
             select {SUBSCRIPTION_COLUMNS} from subscriptions s
             where s.ended_at is not null and s.status = 'canceled' and s.current_period_start < s.ended_at
                 and (s.ended_at <= $1 or s.current_period_end <= $1)
         ) due order by current_period_end limit $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn trials_ended(conn: &mut AnyConnection, now: i64) -> Result<Vec<SubscriptionRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {SUBSCRIPTION_COLUMNS} from subscriptions s where s.status = 'trialing' and s.trial_ends_at <= $1"
    ))
    .bind(now)
    .fetch_all(conn)
    .await?)
}

pub struct TransitionCause<'a> {
    pub cause: &'a str,
    pub actor: &'a str,
    pub at: i64,
}

/// Changes the status if the move is legal and logs it. Returns false, changing nothing, when the
/// stored status is no longer `from` (someone else moved it first).
pub async fn change_status(
    conn: &mut AnyConnection,
    subscription_id: &str,
    from: SubscriptionStatus,
    to: SubscriptionStatus,
    cause: &TransitionCause<'_>,
) -> Result<bool, Error> {
    transition(from, to)?;
    let changed = sqlx::query("update subscriptions set status = $1 where id = $2 and status = $3")
        .bind(to.as_str())
        .bind(subscription_id)
        .bind(from.as_str())
        .execute(&mut *conn)
        .await?;
    if changed.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "insert into subscription_transitions (id, subscription_id, from_status, to_status, cause, actor, at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id(IdKind::SubscriptionTransition, cause.at))
    .bind(subscription_id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(cause.cause)
    .bind(cause.actor)
    .bind(cause.at)
    .execute(conn)
    .await?;
    Ok(true)
}

pub async fn status_of(conn: &mut AnyConnection, subscription_id: &str) -> Result<Option<SubscriptionStatus>, Error> {
    let status: Option<String> = sqlx::query_scalar("select status from subscriptions where id = $1")
        .bind(subscription_id)
        .fetch_optional(conn)
        .await?;
    status.map(|s| SubscriptionStatus::parse(&s).ok_or_else(|| Error::Corrupt(format!("status {s}")))).transpose()
}

pub async fn set_plan_version(conn: &mut AnyConnection, subscription_id: &str, version_id: &str) -> Result<(), Error> {
    sqlx::query("update subscriptions set plan_version_id = $1 where id = $2")
        .bind(version_id)
        .bind(subscription_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn request_cancellation(conn: &mut AnyConnection, subscription_id: &str, at: i64) -> Result<bool, Error> {
    let done =
        sqlx::query("update subscriptions set cancel_requested_at = $1 where id = $2 and cancel_requested_at is null")
            .bind(at)
            .bind(subscription_id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Withdraws a requested cancellation of a subscription that has not ended. Returns false when
/// there was none to withdraw (or the subscription ended meanwhile).
pub async fn withdraw_cancellation(conn: &mut AnyConnection, subscription_id: &str) -> Result<bool, Error> {
    let done = sqlx::query(
        "update subscriptions set cancel_requested_at = null
         where id = $1 and cancel_requested_at is not null and status <> 'canceled'",
    )
    .bind(subscription_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records that the subscription stopped at `at`, before its period's end; the first end stays.
pub async fn end_at(conn: &mut AnyConnection, subscription_id: &str, at: i64) -> Result<(), Error> {
    sqlx::query("update subscriptions set ended_at = $1 where id = $2 and ended_at is null")
        .bind(at)
        .bind(subscription_id)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct PlanChangeRow {
    pub id: String,
    pub from_version_id: String,
    pub to_version_id: String,
    pub direction: String,
    pub status: String,
    pub requested_at: i64,
    pub effective_at: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub remaining_seconds: i64,
    pub period_seconds: i64,
    pub old_base_fee_minor: i64,
    pub new_base_fee_minor: i64,
    pub credit_minor: i64,
    pub charge_minor: i64,
    pub net_minor: i64,
    pub credit_unrounded: String,
    pub charge_unrounded: String,
}

pub struct NewPlanChange<'a> {
    pub subscription_id: &'a str,
    pub from_version_id: &'a str,
    pub to_version_id: &'a str,
    pub direction: &'a str,
    pub pending: bool,
    pub requested_by: &'a str,
    pub requested_at: i64,
    pub effective_at: i64,
    pub proration: &'a Proration,
}

pub async fn insert_plan_change(conn: &mut AnyConnection, change: &NewPlanChange<'_>) -> Result<String, Error> {
    let id = new_id(IdKind::PlanChange, change.requested_at);
    let p = change.proration;
    sqlx::query(
        "insert into plan_changes (id, subscription_id, from_version_id, to_version_id, direction, status,
             requested_by, requested_at, effective_at, period_start, period_end, remaining_seconds, period_seconds,
             old_base_fee_minor, new_base_fee_minor, credit_minor, charge_minor, net_minor, credit_unrounded,
             charge_unrounded)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(&id)
    .bind(change.subscription_id)
    .bind(change.from_version_id)
    .bind(change.to_version_id)
    .bind(change.direction)
    .bind(if change.pending { "pending" } else { "applied" })
    .bind(change.requested_by)
    .bind(change.requested_at)
    .bind(change.effective_at)
    .bind(p.input.period_start_ms)
    .bind(p.input.period_end_ms)
    .bind(p.remaining_seconds)
    .bind(p.period_seconds)
    .bind(p.input.old_base_fee_minor)
    .bind(p.input.new_base_fee_minor)
    .bind(p.credit_minor)
    .bind(p.charge_minor)
    .bind(p.net_minor)
    .bind(p.credit_unrounded.audit_text())
    .bind(p.charge_unrounded.audit_text())
    .execute(conn)
    .await?;
    Ok(id)
}

const PLAN_CHANGE_COLUMNS: &str = "id, from_version_id, to_version_id, direction, status, requested_at, effective_at,
    period_start, period_end, remaining_seconds, period_seconds, old_base_fee_minor, new_base_fee_minor,
    credit_minor, charge_minor, net_minor, credit_unrounded, charge_unrounded";

/// Applied changes that took effect inside `[from, to)`, in order.
pub async fn applied_changes(
    conn: &mut AnyConnection,
    subscription_id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<PlanChangeRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {PLAN_CHANGE_COLUMNS} from plan_changes where subscription_id = $1 and status = 'applied'
         and effective_at >= $2 and effective_at < $3 order by effective_at, id"
    ))
    .bind(subscription_id)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?)
}

pub async fn pending_change(conn: &mut AnyConnection, subscription_id: &str) -> Result<Option<PlanChangeRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {PLAN_CHANGE_COLUMNS} from plan_changes where subscription_id = $1 and status = 'pending'"
    ))
    .bind(subscription_id)
    .fetch_optional(conn)
    .await?)
}

pub async fn mark_change_applied(conn: &mut AnyConnection, change_id: &str) -> Result<(), Error> {
    sqlx::query("update plan_changes set status = 'applied' where id = $1 and status = 'pending'")
        .bind(change_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves every listed subscription still in `period` to `next`, in one statement. Returns the ids
/// this caller moved: of concurrent invoice runs exactly one moves each subscription.
pub async fn advance_periods(
    conn: &mut AnyConnection,
    ids: &[String],
    period: (i64, i64),
    next: (i64, i64),
) -> Result<Vec<String>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "update subscriptions set current_period_start = {}, current_period_end = {}
         where current_period_start = {} and current_period_end = {} and id in ({}) returning id",
        placeholder(conn, 1),
        placeholder(conn, 2),
        placeholder(conn, 3),
        placeholder(conn, 4),
        list_placeholders(conn, 5, ids.len())
    );
    let values = texts(ids);
    let query = sqlx::query_scalar(&sql).bind(next.0).bind(next.1).bind(period.0).bind(period.1);
    Ok(bind_all_scalar(query, &values).fetch_all(conn).await?)
}

/// (id, status, cancellation requested, ended) of each listed subscription as stored now.
pub async fn end_states(
    conn: &mut AnyConnection,
    ids: &[String],
) -> Result<Vec<(String, String, Option<i64>, Option<i64>)>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select id, status, cancel_requested_at, ended_at from subscriptions where id in ({})",
        list_placeholders(conn, 1, ids.len())
    );
    Ok(bind_all_as(sqlx::query_as(&sql), &texts(ids)).fetch_all(conn).await?)
}

/// Which of the subscriptions have a plan change (applied or pending) at or after `since`.
pub async fn with_changes_since(conn: &mut AnyConnection, ids: &[String], since: i64) -> Result<Vec<String>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select distinct subscription_id from plan_changes where (effective_at >= {} or status = 'pending')
         and subscription_id in ({})",
        placeholder(conn, 1),
        list_placeholders(conn, 2, ids.len())
    );
    let values = texts(ids);
    Ok(bind_all_scalar(sqlx::query_scalar(&sql).bind(since), &values).fetch_all(conn).await?)
}

/// Subscriptions created before periods were stored (their period end is still 0).
pub async fn without_period(conn: &mut AnyConnection) -> Result<Vec<SubscriptionRow>, Error> {
    Ok(sqlx::query_as(&format!("select {SUBSCRIPTION_COLUMNS} from subscriptions s where s.current_period_end = 0"))
        .fetch_all(conn)
        .await?)
}

pub async fn set_period(conn: &mut AnyConnection, subscription_id: &str, period: (i64, i64)) -> Result<(), Error> {
    sqlx::query("update subscriptions set current_period_start = $1, current_period_end = $2 where id = $3")
        .bind(period.0)
        .bind(period.1)
        .bind(subscription_id)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, FromRow)]
pub struct TransitionRow {
    pub from_status: String,
    pub to_status: String,
    pub cause: String,
    pub actor: String,
    pub at: i64,
}

/// Every status change of the organization's subscriptions, newest first.
pub async fn transitions_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<TransitionRow>, Error> {
    Ok(sqlx::query_as(
        "select t.from_status, t.to_status, t.cause, t.actor, t.at from subscription_transitions t
         join subscriptions s on s.id = t.subscription_id where s.organization_id = $1 order by t.at desc, t.id desc",
    )
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}

/// The cause of the subscription's latest status change.
pub async fn last_cause(conn: &mut AnyConnection, subscription_id: &str) -> Result<Option<String>, Error> {
    Ok(sqlx::query_scalar(
        "select cause from subscription_transitions where subscription_id = $1 order by at desc, id desc limit 1",
    )
    .bind(subscription_id)
    .fetch_optional(conn)
    .await?)
}

/// (organization id, status) of each organization's subscription as `subscription_of` picks it:
/// the running one, else the one that ended last. Organizations without one are left out.
pub async fn statuses_of_organizations(
    conn: &mut AnyConnection,
    organization_ids: &[String],
) -> Result<Vec<(String, String)>, Error> {
    if organization_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select organization_id, status from (
             select s.organization_id, s.status, row_number() over (partition by s.organization_id
                 order by case when s.ended_at is null then 1 else 0 end desc, s.ended_at desc, s.id desc) as pick
             from subscriptions s where s.organization_id in ({})) picked
         where pick = 1",
        list_placeholders(conn, 1, organization_ids.len())
    );
    Ok(bind_all_as(sqlx::query_as(&sql), &texts(organization_ids)).fetch_all(conn).await?)
}
