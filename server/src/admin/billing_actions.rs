//! What staff do to an organization's money: grant credits and void invoices. Each action is
//! audited with the admin and the reason, and posted to the ledger in the same transaction.
use app::api::dto::billing::IssuedCredit;
use app::api::error::AppError;
use serde_json::json;

use crate::accounts::audit::{idempotency_key_of, positive_amount_of, reason_of};
use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::organizations;
use crate::billing::db::coupons;
use crate::billing::db::credits::{self, NewCredit};
use crate::billing::db::invoices;
use crate::billing::db::ledger::{self, PostingCause};
use crate::billing::domain::invoice::{InvoiceStatus, transition};
use crate::billing::domain::ledger::Posting;
use crate::error::Error;
use crate::payments::collection::stop_collecting;
use crate::shared::ids::{IdKind, new_id};
use crate::shared::money::{format_minor, format_money};
use crate::shared::time::{display_rfc3339, parse_rfc3339_or_date};
use crate::store::Db;
use crate::webhooks::domain::event_types::CREDIT_GRANTED;
use crate::webhooks::events::{Announcement, announce};

pub struct CreditRequest<'a> {
    pub organization_id: &'a str,
    pub amount: &'a str,
    pub reason: &'a str,
    /// A date or an RFC 3339 instant; empty for a credit that does not expire.
    pub expires: &'a str,
    pub idempotency_key: &'a str,
}

/// Grants a credit once per idempotency key: a double click or a retried request returns the
/// credit the first one created.
#[tracing::instrument(skip_all)]
pub async fn issue_credit(
    db: &Db,
    admin: &str,
    max_minor: i64,
    request: &CreditRequest<'_>,
) -> Result<IssuedCredit, Error> {
    let now = db.clock.now_ms();
    let amount = positive_amount_of(request.amount)?;
    if amount > max_minor {
        return Err(AppError::invalid("amount", format!("must not exceed {}", format_minor(max_minor))).into());
    }
    let reason = reason_of(request.reason)?;
    let key = idempotency_key_of(request.idempotency_key.trim())?;
    let expires_at = match request.expires.trim() {
        "" => None,
        text => Some(
            parse_rfc3339_or_date(text)
                .ok_or_else(|| AppError::invalid("expires", "must be a date such as 2027-03-31"))?,
        ),
    };
    if expires_at.is_some_and(|at| at <= now) {
        return Err(AppError::invalid("expires", "must be in the future").into());
    }
    let mut tx = db.begin().await?;
    let org = organizations::find_organization(&mut tx, request.organization_id).await?.ok_or(AppError::NotFound)?;
    let id = new_id(IdKind::Credit, now);
    let credit = NewCredit {
        id: &id,
        organization_id: &org.id,
        amount_minor: amount,
        reason,
        expires_at,
        idempotency_key: key,
        created_by: admin,
        now,
    };
    let (stored, created) = credits::insert_credit(&mut tx, &credit).await?;
    if created {
        let cause = PostingCause { organization_id: &org.id, kind: "credit.granted", reference: &stored.id, at: now };
        ledger::post(&mut tx, cause, Posting::credit_granted(amount)?).await?;
        let audit = AuditEntry {
            organization_id: Some(&org.id),
            actor: admin,
            action: "credit.grant",
            target: &stored.id,
            before: None,
            after: Some(json!({ "amount_minor": amount, "expires_at": expires_at })),
            reason: Some(reason),
        };
        append_audit(&mut tx, audit, now).await?;
        let granted = Announcement {
            organization_id: org.id.clone(),
            event_type: CREDIT_GRANTED,
            reference: stored.id.clone(),
            data: json!({
                "credit_id": stored.id,
                "amount": amount,
                "currency": org.currency,
                "reason": reason,
                "expires_at": expires_at.map(display_rfc3339),
            }),
        };
        announce(&mut tx, granted, now).await?;
    }
    tx.commit().await?;
    Ok(IssuedCredit { id: stored.id, amount: format_money(stored.amount_minor, &org.currency), created })
}

/// Voids a finalized or open invoice: the finalization is reversed in the ledger and the credit it
/// used becomes available again. Paid invoices cannot be voided (refund them instead).
#[tracing::instrument(skip_all, fields(invoice_id))]
pub async fn void_invoice(db: &Db, admin: &str, invoice_id: &str, reason: &str) -> Result<(), Error> {
    let now = db.clock.now_ms();
    let reason = reason_of(reason)?;
    let mut tx = db.begin().await?;
    let invoice = invoices::invoice(&mut tx, invoice_id).await?.ok_or(AppError::NotFound)?;
    let from = invoice.status()?;
    transition(from, InvoiceStatus::Void)?;
    if !invoices::void(&mut tx, invoice_id, from, reason, now).await? {
        return Err(AppError::conflict("status", "the invoice changed meanwhile; reload it").into());
    }
    if invoice.subtotal_minor > 0 {
        let cause = PostingCause {
            organization_id: &invoice.organization_id,
            kind: "invoice.voided",
            reference: invoice_id,
            at: now,
        };
        ledger::post(&mut tx, cause, Posting::invoice_voided(invoice.subtotal_minor, invoice.credit_applied_minor)?)
            .await?;
    }
    let discount = coupons::discount_of(&mut tx, invoice_id).await?;
    if discount > 0 {
        let cause = PostingCause {
            organization_id: &invoice.organization_id,
            kind: "invoice.discount_voided",
            reference: invoice_id,
            at: now,
        };
        ledger::post(&mut tx, cause, Posting::invoice_discount_voided(discount)?).await?;
    }
    let audit = AuditEntry {
        organization_id: Some(&invoice.organization_id),
        actor: admin,
        action: "invoice.void",
        target: invoice_id,
        before: Some(json!({ "status": from.as_str() })),
        after: Some(json!({ "status": "void" })),
        reason: Some(reason),
    };
    append_audit(&mut tx, audit, now).await?;
    stop_collecting(&mut tx, &invoice, "Invoice voided; collection stopped.", now).await?;
    tx.commit().await?;
    Ok(())
}
