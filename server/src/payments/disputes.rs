//! Disputes: what a `charge.dispute.*` event changes. Every event carries the whole dispute, so
//! any order of events ends in the same state: the newest state is kept, each balance movement is
//! posted once by its processor id, and a lost dispute writes its revenue off once.
use sqlx::AnyConnection;

use crate::billing::db::ledger::{self, PostingCause};
use crate::billing::domain::ledger::Posting;
use crate::error::Error;
use crate::notifications::outbox::notify;
use crate::payments::db::attempts::PaymentRow;
use crate::payments::db::disputes::{self, DisputeRecord};
use crate::payments::db::overpayments;
use crate::payments::domain::stripe_event::DisputeFacts;
use crate::shared::money::format_money;

pub async fn apply_dispute(
    conn: &mut AnyConnection,
    payment: &PaymentRow,
    dispute: &DisputeFacts<'_>,
    event_created: i64,
    now: i64,
) -> Result<(), Error> {
    let org = payment.organization_id.as_str();
    let record = DisputeRecord {
        id: dispute.id,
        payment_id: &payment.id,
        invoice_id: &payment.invoice_id,
        organization_id: org,
        amount_minor: dispute.amount_minor,
        currency: dispute.currency,
        reason: dispute.reason,
        status: dispute.status,
        evidence_due_by: dispute.evidence_due_by,
        event_created,
    };
    disputes::record(conn, &record, now).await?;
    for movement in dispute.balance_transactions {
        let (kind, posting) = if movement.amount < 0 {
            ("dispute.funds_withdrawn", Posting::dispute_funds_withdrawn(-movement.amount, movement.fee)?)
        } else {
            ("dispute.funds_reinstated", Posting::dispute_funds_reinstated(movement.amount, -movement.fee)?)
        };
        let cause = PostingCause { organization_id: org, kind, reference: &movement.id, at: now };
        ledger::post(conn, cause, posting).await?;
    }
    if dispute.status == "lost" {
        let cause = PostingCause { organization_id: org, kind: "dispute.lost", reference: dispute.id, at: now };
        // Money held as an overpayment never was revenue: losing it settles what was still owed
        // back. What its refund already gave back (asked of the processor, maybe not yet told)
        // the customer now has twice: that part is lost.
        let overpayment = overpayments::state(conn, &payment.id, now).await?;
        let posting = match &overpayment {
            Some(state) => {
                let held = if state.refund_sent() { 0 } else { state.owed_minor };
                Posting::overpayment_dispute_lost(dispute.amount_minor, held)?
            }
            None => Posting::dispute_lost(dispute.amount_minor)?,
        };
        let settles_all = overpayment.is_some_and(|state| state.owed_minor <= dispute.amount_minor);
        if ledger::post(conn, cause, posting).await? && settles_all {
            overpayments::settled_by_dispute(conn, &payment.id, now).await?;
        }
    }
    let amount = format_money(dispute.amount_minor, &dispute.currency.to_uppercase());
    let body = format!(
        "Your bank has disputed a payment of {amount} to us (reason: {}). If this was a mistake, please contact \
         your bank or reply to this message.",
        dispute.reason.replace('_', " ")
    );
    notify(conn, org, "payment_disputed", dispute.id, "A payment was disputed", &body, now).await
}
