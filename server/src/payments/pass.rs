//! One pass of the payments job, which demo data and tests also run directly.
use crate::error::Error;
use crate::notifications::delivery::{Outbox, deliver_notifications};
use crate::payments::collection::{Collector, run_collections};
use crate::payments::overpayments::refund_overpayments;
use crate::payments::processor_checks::run_daily_check;
use crate::payments::processor_events::process_inbox;
use crate::store::Db;

/// One pass at the store's "now": webhook events first (they may settle charges), then due
/// collection steps, then refunds of overpayments, then the day's check against the processor's
/// records (once a day), then the notifications they wrote.
#[tracing::instrument(skip_all)]
pub async fn run_payments_pass(db: &Db, collector: &Collector, outbox: &Outbox) -> Result<(), Error> {
    // Each stage reads the clock when it starts: its leases must run from the moment it claims,
    // not from the start of a pass whose earlier stages may have taken minutes.
    let inbox = process_inbox(db, collector, db.clock.now_ms()).await?;
    if inbox.processed + inbox.failed + inbox.parked > 0 {
        tracing::info!(?inbox, "webhook inbox");
    }
    let collections = run_collections(db, collector, db.clock.now_ms()).await?;
    if collections.steps > 0 {
        tracing::info!(?collections, "collections");
    }
    let refunds = refund_overpayments(db, collector, db.clock.now_ms()).await?;
    if refunds > 0 {
        tracing::info!(refunds, "overpayments refunded");
    }
    // A failed check is not retried today (its row is claimed); tomorrow's reads from the last
    // finished one, so nothing goes unchecked.
    match run_daily_check(db, collector, db.clock.now_ms()).await {
        Ok(Some(check)) => tracing::info!(?check, "processor check"),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "processor check failed"),
    }
    deliver_notifications(db, outbox, db.clock.now_ms()).await
}
