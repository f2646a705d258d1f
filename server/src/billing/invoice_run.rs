//! The invoice run in bulk: subscriptions whose period ended are drafted, and drafts whose grace
//! period ended are finalized, a group at a time with a few statements per group, so 100,000
//! subscriptions take seconds, not hours. Subscriptions with plan changes, scheduled changes or
//! cancellations take the one-by-one path inside the same transaction.
use std::collections::{BTreeMap, HashMap, HashSet};

use futures_util::future::join_all;

use serde_json::json;
use sqlx::AnyConnection;

use crate::accounts::db::billing_contacts::billing_recipients;
use crate::accounts::db::billing_details::keep_invoice_customers;
use crate::accounts::db::organizations::lock_organizations;
use crate::billing::announcements::invoice_event;
use crate::billing::coupons::{DueDiscount, due_discounts};
use crate::billing::db::coupons;
use crate::billing::db::credits::{self, NewCredit};
use crate::billing::db::invoices::{self, Finalization, InvoiceRow, RatedDraft};
use crate::billing::db::ledger::{self, PostingCause};
use crate::billing::db::subscriptions::{self, SubscriptionRow};
use crate::billing::domain::discount::discount_line;
use crate::billing::domain::invoice::{InvoiceStatus, invoice_number, transition};
use crate::billing::domain::invoice_builder::{
    EarlierPeriod, InvoiceLine, PeriodCharges, PlanSegment, build_lines, credit_to_apply, rate_segment, subtotal_minor,
};
use crate::billing::domain::ledger::Posting;
use crate::billing::domain::period::{instant, next_period};
use crate::billing::domain::rating::Usage;
use crate::billing::domain::subscription::SubscriptionStatus;
use crate::billing::period_rating::{BillingRules, PlanCache, invoice_lines, subscription_by_id};
use crate::billing::run_lanes::{all_lanes, by_lane, lane_caches, lanes, spare_caches};
use crate::billing::subscriptions::{end_subscription, move_status};
use crate::error::Error;
use crate::metering::db::usage::{PeriodTotals, close_usage_before_many, period_totals_of};
use crate::notifications::db::{NewNotification, enqueue_many};
use crate::notifications::outbox::invoice_document;
use crate::shared::ids::{IdKind, new_id};
use crate::shared::money::{AmountOutOfRange, checked_sum, format_money};
use crate::shared::time::display_ms;
use crate::shared::time::display_rfc3339;
use crate::store::Db;
use crate::webhooks::domain::event_types::{INVOICE_FINALIZED, INVOICE_PAID};
use crate::webhooks::events::announce_many;

/// Subscriptions or invoices per transaction: few statements each, and short enough locks.
const GROUP: usize = 1_000;
/// A plan change this long before the oldest period late usage can reach may still shape it.
const LONGEST_PERIOD_MS: i64 = 31 * 86_400_000;

/// (ended period, next period): subscriptions sharing both are closed together.
type PeriodAndNext = ((i64, i64), (i64, i64));

/// Closes the ended period of every listed subscription: drafts its invoice, moves it to the next
/// period. Returns how many this run closed (a concurrent run closes the others).
#[tracing::instrument(skip_all)]
pub async fn close_periods(
    db: &Db,
    cache: &mut PlanCache,
    rules: &BillingRules,
    due: &[SubscriptionRow],
    now: i64,
) -> Result<usize, Error> {
    let mut closed = 0;
    let (ended, live): (Vec<&SubscriptionRow>, Vec<&SubscriptionRow>) =
        due.iter().partition(|s| s.ended_at.is_some() && s.status == SubscriptionStatus::Canceled.as_str());
    for subscription in ended {
        closed += usize::from(close_ended_period(db, cache, rules, subscription, now).await?);
    }
    let mut groups: BTreeMap<PeriodAndNext, Vec<&SubscriptionRow>> = BTreeMap::new();
    for subscription in live {
        let period = (subscription.current_period_start, subscription.current_period_end);
        groups.entry((period, next_period(subscription.anchor_at, period.1))).or_default().push(subscription);
    }
    let lanes = lanes(db);
    let mut work: Vec<Vec<(PeriodAndNext, Vec<&SubscriptionRow>)>> = vec![Vec::new(); lanes];
    for (period_and_next, subscriptions) in groups {
        for (lane, subscriptions) in by_lane(subscriptions, |s| &s.organization_id, lanes).into_iter().enumerate() {
            work[lane].extend(subscriptions.chunks(GROUP).map(|group| (period_and_next, group.to_vec())));
        }
    }
    let mut extra = spare_caches(lanes);
    let runs = lane_caches(cache, &mut extra).zip(work).map(|(cache, groups)| async move {
        let mut closed = 0;
        for ((period, next), group) in groups {
            closed += close_group(db, cache, rules, period, next, &group, now).await?;
        }
        Ok::<_, Error>(closed)
    });
    closed += all_lanes(join_all(runs).await)?;
    Ok(closed)
}

/// One period of a canceled subscription, up to its end: a whole period as usual, or the last one
/// up to the instant it ended (its final invoice). The periods are closed one call at a time, so
/// the run's loop closes every one of them. Returns whether this call closed it.
async fn close_ended_period(
    db: &Db,
    cache: &mut PlanCache,
    rules: &BillingRules,
    subscription: &SubscriptionRow,
    now: i64,
) -> Result<bool, Error> {
    let Some(ended_at) = subscription.ended_at else { return Ok(false) };
    let current = (subscription.current_period_start, subscription.current_period_end);
    let (period, next) = if ended_at < current.1 {
        ((current.0, ended_at), (ended_at, ended_at))
    } else {
        (current, next_period(subscription.anchor_at, current.1))
    };
    let mut tx = db.begin().await?;
    if subscriptions::advance_periods(&mut tx, std::slice::from_ref(&subscription.id), current, next).await?.is_empty()
    {
        return Ok(false);
    }
    if subscription.trial_ends_at.is_none_or(|end| period.1 > end) {
        let late_since = Some(now - rules.late_usage_window_ms);
        let (lines, currency) = invoice_lines(&mut tx, cache, subscription, period, late_since).await?;
        let draft = RatedDraft {
            id: new_id(IdKind::Invoice, now),
            organization_id: subscription.organization_id.clone(),
            subscription_id: subscription.id.clone(),
            period,
            currency,
            subtotal_minor: subtotal_minor(&lines).map_err(|e| out_of_range(subscription, e))?,
            finalize_after: period.1 + rules.grace_ms,
        };
        if !invoices::insert_drafts(&mut tx, std::slice::from_ref(&draft), now).await?.is_empty() {
            invoices::insert_lines(&mut tx, &[(draft.id, lines)]).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

async fn close_group(
    db: &Db,
    cache: &mut PlanCache,
    rules: &BillingRules,
    period: (i64, i64),
    next: (i64, i64),
    group: &[&SubscriptionRow],
    now: i64,
) -> Result<usize, Error> {
    let mut tx = db.begin().await?;
    let ids: Vec<String> = group.iter().map(|s| s.id.clone()).collect();
    let moved: HashSet<String> =
        subscriptions::advance_periods(&mut tx, &ids, period, next).await?.into_iter().collect();
    let moved: Vec<&SubscriptionRow> = group.iter().copied().filter(|s| moved.contains(&s.id)).collect();
    let moved = without_changes_since_listed(&mut tx, moved, period, next).await?;
    if moved.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let late_since = now - rules.late_usage_window_ms;
    let moved_ids: Vec<String> = moved.iter().map(|s| s.id.clone()).collect();
    let changed: HashSet<String> =
        subscriptions::with_changes_since(&mut tx, &moved_ids, late_since - LONGEST_PERIOD_MS)
            .await?
            .into_iter()
            .collect();
    // A free trial's period is closed without an invoice.
    let billable: Vec<&SubscriptionRow> =
        moved.iter().copied().filter(|s| s.trial_ends_at.is_none_or(|end| period.1 > end)).collect();
    let (one_by_one, plain): (Vec<&SubscriptionRow>, Vec<&SubscriptionRow>) =
        billable.into_iter().partition(|s| changed.contains(&s.id));

    let mut rated: Vec<(&SubscriptionRow, Vec<InvoiceLine>, String)> = Vec::with_capacity(moved.len());
    for subscription in one_by_one {
        let (lines, currency) = invoice_lines(&mut tx, cache, subscription, period, Some(late_since)).await?;
        rated.push((subscription, lines, currency));
    }
    rated.extend(rate_plain(&mut tx, cache, &plain, period, late_since).await?);

    let drafts: Vec<RatedDraft> = rated
        .iter()
        .map(|(subscription, lines, currency)| {
            Ok(RatedDraft {
                id: new_id(IdKind::Invoice, now),
                organization_id: subscription.organization_id.clone(),
                subscription_id: subscription.id.clone(),
                period,
                currency: currency.clone(),
                subtotal_minor: subtotal_minor(lines)?,
                finalize_after: period.1 + rules.grace_ms,
            })
        })
        .collect::<Result<_, Error>>()?;
    let inserted: HashSet<String> = invoices::insert_drafts(&mut tx, &drafts, now).await?.into_iter().collect();
    let lines: Vec<(String, Vec<InvoiceLine>)> = drafts
        .iter()
        .zip(rated)
        .filter(|(draft, _)| inserted.contains(&draft.id))
        .map(|(draft, (_, lines, _))| (draft.id.clone(), lines))
        .collect();
    invoices::insert_lines(&mut tx, &lines).await?;

    let with_period_end_changes: Vec<&SubscriptionRow> =
        moved.iter().copied().filter(|s| changed.contains(&s.id) || s.cancel_requested_at.is_some()).collect();
    // Ending a subscription writes its organization's row. They are held in id order first, as
    // finalizing holds them: two instances taking two organizations in opposite orders deadlock.
    let ending: Vec<String> = with_period_end_changes.iter().map(|s| s.organization_id.clone()).collect();
    lock_organizations(&mut tx, &ending).await?;
    for subscription in with_period_end_changes {
        apply_period_end_changes(&mut tx, subscription, period, now).await?;
    }
    tx.commit().await?;
    Ok(moved.len())
}

/// The subscriptions whose status, cancellation or end are still as listed. One canceled, ended
/// or asked to cancel since (by dunning or its owner, committed before this transaction moved it)
/// is moved back: the next run lists it again as it is now and bills it that way. Moving a row
/// holds it, so none can change after this check.
async fn without_changes_since_listed<'a>(
    conn: &mut AnyConnection,
    moved: Vec<&'a SubscriptionRow>,
    period: (i64, i64),
    next: (i64, i64),
) -> Result<Vec<&'a SubscriptionRow>, Error> {
    let ids: Vec<String> = moved.iter().map(|s| s.id.clone()).collect();
    let stored: HashMap<String, (String, Option<i64>, Option<i64>)> = subscriptions::end_states(conn, &ids)
        .await?
        .into_iter()
        .map(|(id, status, cancel_requested_at, ended_at)| (id, (status, cancel_requested_at, ended_at)))
        .collect();
    let (unchanged, changed): (Vec<&SubscriptionRow>, Vec<&SubscriptionRow>) = moved
        .into_iter()
        .partition(|s| stored.get(&s.id) == Some(&(s.status.clone(), s.cancel_requested_at, s.ended_at)));
    let changed: Vec<String> = changed.iter().map(|s| s.id.clone()).collect();
    subscriptions::advance_periods(conn, &changed, next, period).await?;
    Ok(unchanged)
}

/// A plan change scheduled for the period end takes effect; a requested cancellation ends the
/// subscription.
async fn apply_period_end_changes(
    conn: &mut AnyConnection,
    subscription: &SubscriptionRow,
    period: (i64, i64),
    now: i64,
) -> Result<(), Error> {
    if let Some(change) = subscriptions::pending_change(conn, &subscription.id).await?
        && change.effective_at <= period.1
    {
        subscriptions::set_plan_version(conn, &subscription.id, &change.to_version_id).await?;
        subscriptions::mark_change_applied(conn, &change.id).await?;
    }
    if subscription.cancel_requested_at.is_some_and(|at| at < period.1) {
        let cause =
            subscriptions::TransitionCause { cause: "canceled at the end of the period", actor: "system", at: now };
        // Read again: dunning may have moved it since. Whatever it is now, the owner's request holds.
        let from = subscriptions::status_of(conn, &subscription.id).await?.unwrap_or(subscription.status()?);
        let moved = (from, SubscriptionStatus::Canceled);
        if move_status(conn, &subscription.organization_id, &subscription.id, moved, &cause).await? {
            end_subscription(conn, subscription, period.1).await?;
        }
    }
    Ok(())
}

fn usage_by_organization(totals: PeriodTotals) -> HashMap<String, Vec<Usage>> {
    totals
        .into_iter()
        .map(|(organization_id, series)| {
            let usage =
                series.into_iter().map(|(namespace_id, metric, quantity)| Usage { namespace_id, metric, quantity });
            (organization_id, usage.collect())
        })
        .collect()
}

/// Rates subscriptions without plan changes in reach: one plan for the whole period and for the
/// earlier periods late usage can still change, so everything is read in bulk.
async fn rate_plain<'s>(
    conn: &mut AnyConnection,
    cache: &mut PlanCache,
    plain: &[&'s SubscriptionRow],
    period: (i64, i64),
    late_since: i64,
) -> Result<Vec<(&'s SubscriptionRow, Vec<InvoiceLine>, String)>, Error> {
    if plain.is_empty() {
        return Ok(Vec::new());
    }
    let versions: Vec<String> = plain.iter().map(|s| s.plan_version_id.clone()).collect();
    cache.load(conn, &versions).await?;
    let organizations: Vec<String> = plain.iter().map(|s| s.organization_id.clone()).collect();
    let ids: Vec<String> = plain.iter().map(|s| s.id.clone()).collect();
    let mut usage_now = usage_by_organization(period_totals_of(conn, &organizations, period).await?);

    let mut earlier_of: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    for (subscription_id, from, to) in invoices::finalized_periods_of(conn, &ids, late_since, period.0).await? {
        earlier_of.entry(subscription_id).or_default().push((from, to));
    }
    let distinct: HashSet<(i64, i64)> = earlier_of.values().flatten().copied().collect();
    let mut earlier_usage: HashMap<(String, i64), Vec<Usage>> = HashMap::new();
    let mut billed: HashMap<(String, i64), Vec<InvoiceLine>> = HashMap::new();
    for earlier in distinct {
        let having: Vec<&SubscriptionRow> =
            plain.iter().copied().filter(|s| earlier_of.get(&s.id).is_some_and(|p| p.contains(&earlier))).collect();
        let orgs: Vec<String> = having.iter().map(|s| s.organization_id.clone()).collect();
        for (org, usage) in usage_by_organization(period_totals_of(conn, &orgs, earlier).await?) {
            earlier_usage.insert((org, earlier.0), usage);
        }
        let subs: Vec<String> = having.iter().map(|s| s.id.clone()).collect();
        for row in invoices::billed_lines_of(conn, &subs, earlier).await? {
            billed.entry((row.subscription_id, earlier.0)).or_default().push(row.line.into_line()?);
        }
    }

    let mut rated = Vec::with_capacity(plain.len());
    for &subscription in plain {
        let (plan, prices) = cache.cached(&subscription.plan_version_id)?;
        let segment = |from_ms, to_ms, usage| PlanSegment { plan_name: &plan.plan_name, prices, from_ms, to_ms, usage };
        let earlier = earlier_of
            .get(&subscription.id)
            .into_iter()
            .flatten()
            .map(|&(from, to)| {
                let usage = earlier_usage.remove(&(subscription.organization_id.clone(), from)).unwrap_or_default();
                Ok(EarlierPeriod {
                    from_ms: from,
                    to_ms: to,
                    rated_now: rate_segment(&segment(from, to, usage), (from, to))?,
                    billed: billed.remove(&(subscription.id.clone(), from)).unwrap_or_default(),
                })
            })
            .collect::<Result<_, AmountOutOfRange>>()
            .map_err(|e| out_of_range(subscription, e))?;
        let usage = usage_now.remove(&subscription.organization_id).unwrap_or_default();
        let charges = PeriodCharges {
            period,
            base_plan: &plan.plan_name,
            base_fee_minor: plan.base_fee_minor,
            changes: Vec::new(),
            ended_early: None,
            segments: vec![segment(period.0, period.1, usage)],
            earlier,
        };
        let lines = build_lines(&charges).map_err(|e| out_of_range(subscription, e))?;
        rated.push((subscription, lines, plan.currency.clone()));
    }
    Ok(rated)
}

/// Names the subscription whose period cannot be billed, so staff know where to look.
fn out_of_range(subscription: &SubscriptionRow, error: AmountOutOfRange) -> Error {
    Error::Amount(format!("subscription {} of {}: {error}", subscription.id, subscription.organization_id))
}

/// Finalizes the listed drafts, each organization's in its lane.
#[tracing::instrument(skip_all)]
pub async fn finalize_drafts(
    db: &Db,
    cache: &mut PlanCache,
    rules: &BillingRules,
    due: &[InvoiceRow],
    now: i64,
) -> Result<usize, Error> {
    let lanes = lanes(db);
    let mut extra = spare_caches(lanes);
    let runs = lane_caches(cache, &mut extra)
        .zip(by_lane(due, |i| &i.organization_id, lanes))
        .map(|(cache, waiting)| finalize_in_groups(db, cache, rules, waiting, now));
    all_lanes(join_all(runs).await)
}

/// Finalizes the listed drafts in order. Each group holds one invoice per organization (numbers
/// are drawn per organization); the rest wait for the next group.
async fn finalize_in_groups(
    db: &Db,
    cache: &mut PlanCache,
    rules: &BillingRules,
    mut waiting: Vec<&InvoiceRow>,
    now: i64,
) -> Result<usize, Error> {
    let mut finalized = 0;
    while !waiting.is_empty() {
        let mut group = Vec::new();
        let mut organizations = HashSet::new();
        let mut later = Vec::new();
        for invoice in waiting {
            if group.len() < GROUP && organizations.insert(invoice.organization_id.clone()) {
                group.push(invoice);
            } else {
                later.push(invoice);
            }
        }
        finalized += match finalize_group(db, cache, rules, &group, now).await {
            Ok(count) => count,
            // The ledger refused one organization's posting (its books are already wrong): the
            // group is finalized one by one, and the refused invoices stay drafts for a person.
            Err(Error::Ledger(_)) => finalize_one_by_one(db, cache, rules, &group, now).await?,
            Err(error) => return Err(error),
        };
        waiting = later;
    }
    Ok(finalized)
}

async fn finalize_one_by_one(
    db: &Db,
    cache: &mut PlanCache,
    rules: &BillingRules,
    group: &[&InvoiceRow],
    now: i64,
) -> Result<usize, Error> {
    let mut finalized = 0;
    for invoice in group {
        match finalize_group(db, cache, rules, &[invoice], now).await {
            Ok(count) => finalized += count,
            Err(Error::Ledger(reason)) => {
                tracing::error!(invoice = %invoice.id, organization = %invoice.organization_id, %reason,
                    "finalization refused by the ledger; the invoice stays a draft");
            }
            Err(error) => return Err(error),
        }
    }
    Ok(finalized)
}

/// Freezes the lines (re-rated first if usage changed since), applies credits, assigns numbers,
/// posts the ledger and closes the periods' usage, in one transaction.
async fn finalize_group(
    db: &Db,
    cache: &mut PlanCache,
    rules: &BillingRules,
    group: &[&InvoiceRow],
    now: i64,
) -> Result<usize, Error> {
    let mut tx = db.begin().await?;
    let ids: Vec<String> = group.iter().map(|i| i.id.clone()).collect();
    let drafts = invoices::claim_drafts(&mut tx, &ids).await?;
    if drafts.is_empty() {
        return Ok(0);
    }
    let claimed: Vec<String> = drafts.iter().map(|i| i.id.clone()).collect();
    let stale: HashSet<String> = invoices::stale_among(&mut tx, &drafts).await?.into_iter().collect();
    for invoice in drafts.iter().filter(|i| stale.contains(&i.id)) {
        let subscription = subscription_by_id(&mut tx, invoice).await?;
        let period = (invoice.period_start, invoice.period_end);
        let late_since = Some(now - rules.late_usage_window_ms);
        let (lines, _) = invoice_lines(&mut tx, cache, &subscription, period, late_since).await?;
        invoices::replace_draft_lines(&mut tx, &invoice.id, &lines, now).await?;
    }
    // Re-rating rewrote the subtotals of the stale ones.
    let invoices = if stale.is_empty() { drafts } else { invoices::invoices_by_ids(&mut tx, &claimed).await? };
    let organizations: Vec<String> = invoices.iter().map(|i| i.organization_id.clone()).collect();
    // Before the credits are read: another finalization of the same organization commits its
    // draw-down first, and this one then reads what is left.
    lock_organizations(&mut tx, &organizations).await?;
    let mut usable: HashMap<String, Vec<credits::CreditRow>> = HashMap::new();
    for (org, credit) in credits::credits_of_many(&mut tx, &organizations).await? {
        if credit.remaining_minor > 0 && credit.expires_at.is_none_or(|at| at > now) {
            usable.entry(org).or_default().push(credit);
        }
    }
    let year = instant(now).year();
    let numbers: HashMap<String, i64> =
        invoices::next_numbers(&mut tx, &organizations, year as i64).await?.into_iter().collect();
    let mut due_discounts = due_discounts(&mut tx, &claimed).await?;

    let mut applications = Vec::new();
    let mut finalized = Vec::with_capacity(invoices.len());
    for invoice in &invoices {
        let discount = take_discount(&mut tx, invoice, due_discounts.remove(&invoice.id)).await?;
        let subtotal = invoice.subtotal_minor - discount;
        let available = usable.get(&invoice.organization_id).map_or(&[][..], Vec::as_slice);
        let applied = credit_to_apply(subtotal, checked_sum(available.iter().map(|c| c.remaining_minor))?);
        let mut left = applied;
        for credit in available {
            let part = left.min(credit.remaining_minor);
            if part > 0 {
                applications.push((credit.id.clone(), invoice.id.clone(), part));
                left -= part;
            }
        }
        let amount_due = subtotal.max(0) - applied;
        let mut status = transition(InvoiceStatus::Draft, InvoiceStatus::Finalized)?;
        status = transition(status, InvoiceStatus::Open)?;
        if amount_due == 0 {
            status = transition(status, InvoiceStatus::Paid)?;
        }
        let sequence = numbers
            .get(&invoice.organization_id)
            .ok_or_else(|| Error::Corrupt(format!("no invoice number for {}", invoice.organization_id)))?;
        let number = invoice_number(year, *sequence as u32);
        finalized.push(Finalized { invoice, number, subtotal, discount, applied, amount_due, status });
    }
    let records: Vec<Finalization> = finalized
        .iter()
        .map(|f| Finalization {
            invoice_id: &f.invoice.id,
            number: &f.number,
            subtotal_minor: f.subtotal,
            credit_applied_minor: f.applied,
            amount_due_minor: f.amount_due,
            status: f.status,
            due_at: now + rules.payment_terms_ms,
            now,
        })
        .collect();
    invoices::finalize_many(&mut tx, &records).await?;
    keep_invoice_customers(&mut tx, &claimed).await?;
    let to_collect: Vec<(&str, &str, &str)> = finalized
        .iter()
        .filter(|f| f.amount_due > 0)
        .map(|f| (f.invoice.id.as_str(), f.invoice.organization_id.as_str(), f.invoice.subscription_id.as_str()))
        .collect();
    invoices::start_collections(&mut tx, &to_collect, now).await?;
    for (credit_id, invoice_id, amount) in &applications {
        credits::apply_credit(&mut tx, credit_id, invoice_id, *amount).await?;
    }
    let mut postings = Vec::new();
    for f in &finalized {
        let (org, reference) = (f.invoice.organization_id.as_str(), f.invoice.id.as_str());
        if f.subtotal > 0 {
            let cause = PostingCause { organization_id: org, kind: "invoice.finalized", reference, at: now };
            postings.push((cause, Posting::invoice_finalized(f.subtotal, f.applied)?));
        } else if f.subtotal < 0 {
            credit_note(&mut tx, f.invoice, &f.number, now).await?;
        }
        if f.discount > 0 {
            let cause = PostingCause { organization_id: org, kind: "invoice.discounted", reference, at: now };
            postings.push((cause, Posting::invoice_discounted(f.discount)?));
        }
    }
    ledger::post_many(&mut tx, &postings).await?;
    let emails = billing_recipients(&mut tx, &organizations).await?;
    let texts: Vec<(String, String, String)> = finalized
        .iter()
        .zip(&records)
        .map(|(f, record)| {
            let (subject, body) = invoice_mail(f, record.due_at);
            (invoice_document(&f.invoice.organization_id, &f.invoice.id), subject, body)
        })
        .collect();
    let mails: Vec<NewNotification> = finalized
        .iter()
        .zip(&texts)
        .map(|(f, (attachment, subject, body))| NewNotification {
            organization_id: Some(&f.invoice.organization_id),
            kind: "invoice.finalized",
            reference: &f.invoice.id,
            recipient: emails.get(&f.invoice.organization_id).map_or("", String::as_str),
            subject,
            body,
            attachment: Some(attachment),
        })
        .collect();
    enqueue_many(&mut tx, &mails, now).await?;
    let mut events = Vec::with_capacity(finalized.len());
    for (f, record) in finalized.iter().zip(&records) {
        let figures = json!({
            "status": f.status.as_str(),
            "subtotal": f.subtotal,
            "discount": f.discount,
            "credit_applied": f.applied,
            "amount_due": f.amount_due,
            "due_at": display_rfc3339(record.due_at),
        });
        events.push(invoice_event(INVOICE_FINALIZED, &f.invoice.id, f.invoice, &f.number, figures));
        if f.status == InvoiceStatus::Paid {
            let paid = json!({ "amount_paid": 0, "paid_by": "credit" });
            events.push(invoice_event(INVOICE_PAID, &f.invoice.id, f.invoice, &f.number, paid));
        }
    }
    announce_many(&mut tx, &events, now).await?;
    let mut by_period_end: HashMap<i64, Vec<String>> = HashMap::new();
    for invoice in &invoices {
        by_period_end.entry(invoice.period_end).or_default().push(invoice.organization_id.clone());
    }
    for (period_end, orgs) in by_period_end {
        close_usage_before_many(&mut tx, &orgs, period_end).await?;
    }
    tx.commit().await?;
    tracing::debug!(invoices = invoices.len(), "invoices finalized");
    Ok(invoices.len())
}

/// An invoice as it is finalized: its total after the discount, the credit it used, what is owed.
struct Finalized<'a> {
    invoice: &'a InvoiceRow,
    number: String,
    subtotal: i64,
    discount: i64,
    applied: i64,
    amount_due: i64,
    status: InvoiceStatus,
}

/// Takes the discount due off the invoice: a discount line, and the record that counts it against
/// its coupon's duration. Returns the amount; nothing comes off an invoice that owes nothing.
async fn take_discount(conn: &mut AnyConnection, invoice: &InvoiceRow, due: Option<DueDiscount>) -> Result<i64, Error> {
    let Some(due) = due else { return Ok(0) };
    let amount = due.terms.discount_minor(invoice.subtotal_minor, &invoice.currency)?;
    if amount > 0 {
        invoices::append_line(conn, &invoice.id, &discount_line(&due.code, &due.terms, amount)).await?;
        coupons::record_discount(conn, &invoice.id, &due.redemption_id, amount).await?;
    }
    Ok(amount)
}

/// The mail that goes with a finalized invoice's PDF: what it is for, what is owed and by when.
fn invoice_mail(finalized: &Finalized, due_at: i64) -> (String, String) {
    let Finalized { invoice, number, subtotal, applied, amount_due, .. } = finalized;
    let (applied, amount_due) = (*applied, *amount_due);
    let period = format!("{} to {}", display_ms(invoice.period_start), display_ms(invoice.period_end));
    if *subtotal < 0 {
        let credit = format_money(-subtotal, &invoice.currency);
        let body =
            format!("Credit note {number} for {period} is attached: {credit} is credit held for your next invoices.");
        return (format!("Credit note {number}"), body);
    }
    let total = format_money(*subtotal, &invoice.currency);
    let body = if amount_due == 0 && applied == 0 {
        format!("Invoice {number} for {period} is attached: {total}. Nothing is owed.")
    } else if amount_due == 0 {
        format!("Invoice {number} for {period} is attached: {total}, covered by your credit. Nothing is owed.")
    } else {
        format!(
            "Invoice {number} for {period} is attached: {total}, of which {} is due by {}. \
             The card on file is charged automatically; the invoice is also under Invoices in the billing portal.",
            format_money(amount_due, &invoice.currency),
            display_ms(due_at)
        )
    };
    (format!("Invoice {number}"), body)
}

/// A period that lowers what was billed before becomes credit for the next invoices.
async fn credit_note(conn: &mut AnyConnection, invoice: &InvoiceRow, number: &str, now: i64) -> Result<(), Error> {
    let credit_id = new_id(IdKind::Credit, now);
    let reason = format!("Credit note {number}");
    let key = format!("credit-note:{}", invoice.id);
    let credit = NewCredit {
        id: &credit_id,
        organization_id: &invoice.organization_id,
        amount_minor: -invoice.subtotal_minor,
        reason: &reason,
        expires_at: None,
        idempotency_key: &key,
        created_by: "system",
        now,
    };
    credits::insert_credit(conn, &credit).await?;
    let cause = PostingCause {
        organization_id: &invoice.organization_id,
        kind: "credit.granted",
        reference: &credit_id,
        at: now,
    };
    ledger::post(conn, cause, Posting::credit_granted(-invoice.subtotal_minor)?).await?;
    Ok(())
}
