//! Who pays with what (payment profiles) and every charge attempt (payments).
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::payments::domain::card::CardDetails;
use crate::payments::domain::status::PaymentStatus;
use crate::payments::domain::test_cards::AUTHENTICATION_REQUIRED;

#[derive(Debug, Clone, FromRow)]
pub struct PaymentProfileRow {
    pub organization_id: String,
    pub channel: String,
    pub customer_id: String,
    pub payment_method_id: Option<String>,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<i64>,
    pub exp_year: Option<i64>,
    pub method_set_at: i64,
    pub updated_at: i64,
}

const PROFILE_COLUMNS: &str = "organization_id, channel, customer_id, payment_method_id, brand, last4, exp_month, exp_year, method_set_at, updated_at";

pub async fn profile_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Option<PaymentProfileRow>, Error> {
    Ok(sqlx::query_as(&format!("select {PROFILE_COLUMNS} from payment_profiles where organization_id = $1"))
        .bind(organization_id)
        .fetch_optional(conn)
        .await?)
}

/// What the dashboard's payment alerts read, in one round trip: whether a collection is past due,
/// and the card on file as (expiry month, expiry year, last four) when it has an expiry.
pub async fn past_due_and_card(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<(bool, Option<(i64, i64, String)>), Error> {
    type Read = (i64, Option<String>, Option<i64>, Option<i64>, Option<String>);
    let (past_due, method, month, year, last4): Read = sqlx::query_as(
        "select (select count(*) from collections where organization_id = $1 and status = 'past_due'),
                p.payment_method_id, p.exp_month, p.exp_year, p.last4
         from (select 1 as one) one left join payment_profiles p on p.organization_id = $1",
    )
    .bind(organization_id)
    .fetch_one(conn)
    .await?;
    let card = method.and(month.zip(year)).map(|(month, year)| (month, year, last4.unwrap_or_default()));
    Ok((past_due > 0, card))
}

pub async fn profile_by_customer(
    conn: &mut AnyConnection,
    channel: &str,
    customer_id: &str,
) -> Result<Option<PaymentProfileRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {PROFILE_COLUMNS} from payment_profiles where channel = $1 and customer_id = $2"
    ))
    .bind(channel)
    .bind(customer_id)
    .fetch_optional(conn)
    .await?)
}

pub async fn insert_profile(
    conn: &mut AnyConnection,
    organization_id: &str,
    channel: &str,
    customer_id: &str,
    now: i64,
) -> Result<(), Error> {
    sqlx::query(
        "insert into payment_profiles (organization_id, channel, customer_id, updated_at) values ($1, $2, $3, $4)
         on conflict (organization_id) do nothing",
    )
    .bind(organization_id)
    .bind(channel)
    .bind(customer_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Makes `card` the default unless a change the processor made later is already stored.
/// Returns whether it was set.
pub async fn set_default_method(
    conn: &mut AnyConnection,
    organization_id: &str,
    card: &CardDetails,
    set_at: i64,
    now: i64,
) -> Result<bool, Error> {
    let updated = sqlx::query(
        "update payment_profiles set payment_method_id = $1, brand = $2, last4 = $3, exp_month = $4, exp_year = $5,
             method_set_at = $6, updated_at = $7
         where organization_id = $8 and method_set_at <= $6",
    )
    .bind(&card.payment_method_id)
    .bind(&card.brand)
    .bind(&card.last4)
    .bind(card.exp_month)
    .bind(card.exp_year)
    .bind(set_at)
    .bind(now)
    .bind(organization_id)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct PaymentRow {
    pub id: String,
    pub invoice_id: String,
    pub organization_id: String,
    pub attempt: i64,
    pub idempotency_key: String,
    pub amount_minor: i64,
    pub currency: String,
    pub payment_method_id: String,
    pub status: String,
    pub processor_payment_id: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub refunded_minor: i64,
    pub trigger: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl PaymentRow {
    pub fn status(&self) -> Result<PaymentStatus, Error> {
        PaymentStatus::parse(&self.status).ok_or_else(|| Error::Corrupt(format!("payment status {:?}", self.status)))
    }

    /// A failed attempt whose PaymentIntent waits for the card holder: completing it on-session
    /// pays the invoice.
    pub fn awaits_authentication(&self) -> bool {
        self.status == PaymentStatus::Failed.as_str()
            && self.failure_code.as_deref() == Some(AUTHENTICATION_REQUIRED)
            && self.processor_payment_id.is_some()
    }
}

const PAYMENT_COLUMNS: &str = "id, invoice_id, organization_id, attempt, idempotency_key, amount_minor, currency,
    payment_method_id, status, processor_payment_id, failure_code, failure_message, refunded_minor, trigger, created_at, updated_at";

/// Writes a new attempt; its key counts as sent from its creation.
pub async fn insert_payment(conn: &mut AnyConnection, payment: &PaymentRow) -> Result<(), Error> {
    sqlx::query(&format!(
        "insert into payments ({PAYMENT_COLUMNS}, key_sent_at, succeeded_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $15,
                 case when $9 = 'succeeded' then $16 end)"
    ))
    .bind(&payment.id)
    .bind(&payment.invoice_id)
    .bind(&payment.organization_id)
    .bind(payment.attempt)
    .bind(&payment.idempotency_key)
    .bind(payment.amount_minor)
    .bind(&payment.currency)
    .bind(&payment.payment_method_id)
    .bind(&payment.status)
    .bind(&payment.processor_payment_id)
    .bind(&payment.failure_code)
    .bind(&payment.failure_message)
    .bind(payment.refunded_minor)
    .bind(&payment.trigger)
    .bind(payment.created_at)
    .bind(payment.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn payments_of_invoice(conn: &mut AnyConnection, invoice_id: &str) -> Result<Vec<PaymentRow>, Error> {
    Ok(sqlx::query_as(&format!("select {PAYMENT_COLUMNS} from payments where invoice_id = $1 order by attempt"))
        .bind(invoice_id)
        .fetch_all(conn)
        .await?)
}

pub async fn payments_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<PaymentRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {PAYMENT_COLUMNS} from payments where organization_id = $1 order by created_at desc, attempt desc"
    ))
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}

pub async fn payment(conn: &mut AnyConnection, id: &str) -> Result<Option<PaymentRow>, Error> {
    Ok(sqlx::query_as(&format!("select {PAYMENT_COLUMNS} from payments where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// The attempt sent under `idempotency_key`, or under a later generation of it (`<key>:genN`,
/// renewed after the processor forgot the key).
pub async fn payment_by_key(conn: &mut AnyConnection, idempotency_key: &str) -> Result<Option<PaymentRow>, Error> {
    let generations = format!("{idempotency_key}:gen");
    Ok(sqlx::query_as(&format!(
        "select {PAYMENT_COLUMNS} from payments
         where idempotency_key = $1 or substr(idempotency_key, 1, length($2)) = $3"
    ))
    .bind(idempotency_key)
    .bind(&generations)
    .bind(&generations)
    .fetch_optional(conn)
    .await?)
}

pub async fn payment_by_processor_id(
    conn: &mut AnyConnection,
    processor_payment_id: &str,
) -> Result<Option<PaymentRow>, Error> {
    Ok(sqlx::query_as(&format!("select {PAYMENT_COLUMNS} from payments where processor_payment_id = $1"))
        .bind(processor_payment_id)
        .fetch_optional(conn)
        .await?)
}

/// Settles an attempt: a failure only a pending one, a success a pending or failed one (a
/// PaymentIntent that failed can still succeed; one that succeeded never fails). Returns false
/// when nothing changed.
pub async fn settle(
    conn: &mut AnyConnection,
    payment_id: &str,
    status: PaymentStatus,
    processor_payment_id: Option<&str>,
    failure: Option<(&str, &str)>,
    now: i64,
) -> Result<bool, Error> {
    let updated = sqlx::query(
        "update payments set status = $1, processor_payment_id = coalesce($2, processor_payment_id),
             failure_code = $3, failure_message = $4, updated_at = $5,
             succeeded_at = case when $1 = 'succeeded' then $5 else succeeded_at end
         where id = $6 and (status = 'pending' or (status = 'failed' and $1 = 'succeeded'))",
    )
    .bind(status.as_str())
    .bind(processor_payment_id)
    .bind(failure.map(|f| f.0))
    .bind(failure.map(|f| f.1))
    .bind(now)
    .bind(payment_id)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// A failed attempt that waited for the card holder, declined after they confirmed it: the reason
/// it failed is now the bank's. Answers whether it changed.
pub async fn record_later_failure(
    conn: &mut AnyConnection,
    payment_id: &str,
    (code, message): (&str, &str),
    now: i64,
) -> Result<bool, Error> {
    let updated = sqlx::query(
        "update payments set failure_code = $1, failure_message = $2, updated_at = $3
         where id = $4 and status = 'failed' and failure_code = $5",
    )
    .bind(code)
    .bind(message)
    .bind(now)
    .bind(payment_id)
    .bind(AUTHENTICATION_REQUIRED)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// When the attempt succeeded: kept while refunds and disputes change the row later.
pub async fn succeeded_at(conn: &mut AnyConnection, payment_id: &str) -> Result<Option<i64>, Error> {
    Ok(sqlx::query_scalar("select succeeded_at from payments where id = $1")
        .bind(payment_id)
        .fetch_optional(conn)
        .await?
        .flatten())
}

/// The attempt's current idempotency key and when it was first sent.
pub async fn current_key(conn: &mut AnyConnection, payment_id: &str) -> Result<(String, i64), Error> {
    Ok(sqlx::query_as("select idempotency_key, coalesce(key_sent_at, created_at) from payments where id = $1")
        .bind(payment_id)
        .fetch_one(conn)
        .await?)
}

/// Replaces a pending attempt's key by `next`, unless another worker replaced it first.
pub async fn renew_key(
    conn: &mut AnyConnection,
    payment_id: &str,
    from: &str,
    next: &str,
    now: i64,
) -> Result<bool, Error> {
    let updated = sqlx::query(
        "update payments set idempotency_key = $1, key_sent_at = $2, updated_at = $2
         where id = $3 and idempotency_key = $4 and status = 'pending'",
    )
    .bind(next)
    .bind(now)
    .bind(payment_id)
    .bind(from)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Remembers the processor's id of an attempt it accepted but has not finished.
pub async fn set_processor_id(
    conn: &mut AnyConnection,
    payment_id: &str,
    processor_payment_id: &str,
    now: i64,
) -> Result<(), Error> {
    sqlx::query("update payments set processor_payment_id = $1, updated_at = $2 where id = $3 and status = 'pending'")
        .bind(processor_payment_id)
        .bind(now)
        .bind(payment_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Raises the refunded amount to the processor's cumulative figure; returns what it added.
pub async fn record_refunded(
    conn: &mut AnyConnection,
    payment_id: &str,
    refunded_total_minor: i64,
    now: i64,
) -> Result<i64, Error> {
    // A compare-and-set, read again on a miss: another transaction may record a larger total
    // between this read and this write, and only what this call itself adds may be posted.
    loop {
        let before: i64 = sqlx::query_scalar("select refunded_minor from payments where id = $1")
            .bind(payment_id)
            .fetch_one(&mut *conn)
            .await?;
        if refunded_total_minor <= before {
            return Ok(0);
        }
        let updated = sqlx::query(
            "update payments set refunded_minor = $1, updated_at = $2 where id = $3 and refunded_minor = $4",
        )
        .bind(refunded_total_minor)
        .bind(now)
        .bind(payment_id)
        .bind(before)
        .execute(&mut *conn)
        .await?;
        if updated.rows_affected() == 1 {
            return Ok(refunded_total_minor - before);
        }
    }
}
