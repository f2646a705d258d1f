//! The built-in test-mode processor's own records: the cards it holds and the charges it made,
//! the latter unique by idempotency key like a real processor's.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;

#[derive(Debug, Clone, FromRow)]
pub struct TestPaymentMethodRow {
    pub id: String,
    pub customer_id: String,
    pub card_number_last4: String,
    pub behaviour: String,
    pub brand: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub created_at: i64,
}

pub async fn insert_payment_method(conn: &mut AnyConnection, method: &TestPaymentMethodRow) -> Result<(), Error> {
    sqlx::query(
        "insert into test_mode_payment_methods
             (id, customer_id, card_number_last4, behaviour, brand, exp_month, exp_year, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&method.id)
    .bind(&method.customer_id)
    .bind(&method.card_number_last4)
    .bind(&method.behaviour)
    .bind(&method.brand)
    .bind(method.exp_month)
    .bind(method.exp_year)
    .bind(method.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn payment_method(conn: &mut AnyConnection, id: &str) -> Result<Option<TestPaymentMethodRow>, Error> {
    Ok(sqlx::query_as(
        "select id, customer_id, card_number_last4, behaviour, brand, exp_month, exp_year, created_at
         from test_mode_payment_methods where id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct TestChargeRow {
    pub idempotency_key: String,
    pub payment_intent_id: String,
    pub customer_id: String,
    pub payment_method_id: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub created_at: i64,
    /// Our payment attempt, as Stripe keeps it in the PaymentIntent's metadata.
    pub payment_id: Option<String>,
}

const CHARGE_COLUMNS: &str = "idempotency_key, payment_intent_id, customer_id, payment_method_id, amount_minor,
    currency, status, failure_code, failure_message, created_at, payment_id";

/// Records the charge unless one with this idempotency key exists; answers the stored one.
pub async fn insert_charge(conn: &mut AnyConnection, charge: &TestChargeRow) -> Result<(TestChargeRow, bool), Error> {
    let inserted = sqlx::query(&format!(
        "insert into test_mode_charges ({CHARGE_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         on conflict (idempotency_key) do nothing"
    ))
    .bind(&charge.idempotency_key)
    .bind(&charge.payment_intent_id)
    .bind(&charge.customer_id)
    .bind(&charge.payment_method_id)
    .bind(charge.amount_minor)
    .bind(&charge.currency)
    .bind(&charge.status)
    .bind(&charge.failure_code)
    .bind(&charge.failure_message)
    .bind(charge.created_at)
    .bind(&charge.payment_id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    let stored = sqlx::query_as(&format!("select {CHARGE_COLUMNS} from test_mode_charges where idempotency_key = $1"))
        .bind(&charge.idempotency_key)
        .fetch_one(conn)
        .await?;
    Ok((stored, inserted))
}

pub async fn charge_by_intent(
    conn: &mut AnyConnection,
    payment_intent_id: &str,
) -> Result<Option<TestChargeRow>, Error> {
    Ok(sqlx::query_as(&format!("select {CHARGE_COLUMNS} from test_mode_charges where payment_intent_id = $1"))
        .bind(payment_intent_id)
        .fetch_optional(conn)
        .await?)
}

pub async fn succeeded_charges_since(conn: &mut AnyConnection, since_ms: i64) -> Result<Vec<TestChargeRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {CHARGE_COLUMNS} from test_mode_charges where status = 'succeeded' and created_at >= $1
         order by created_at"
    ))
    .bind(since_ms)
    .fetch_all(conn)
    .await?)
}

/// The charges made for one payment attempt of ours, succeeded ones first.
pub async fn charges_of_payment(conn: &mut AnyConnection, payment_id: &str) -> Result<Vec<TestChargeRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {CHARGE_COLUMNS} from test_mode_charges where payment_id = $1
         order by case when status = 'succeeded' then 0 else 1 end, created_at"
    ))
    .bind(payment_id)
    .fetch_all(conn)
    .await?)
}

/// Records a refund unless one with this key exists, and raises the charge's refunded total.
/// Answers the refund id and the charge's refunded total after it, or None when the refund
/// would exceed what was charged.
pub async fn insert_refund(
    conn: &mut AnyConnection,
    idempotency_key: &str,
    refund_id: &str,
    payment_intent_id: &str,
    amount_minor: i64,
    now: i64,
) -> Result<Option<(String, i64, bool)>, Error> {
    let existing: Option<String> =
        sqlx::query_scalar("select refund_id from test_mode_refunds where idempotency_key = $1")
            .bind(idempotency_key)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(id) = existing {
        let total = refunded_total(conn, payment_intent_id).await?;
        return Ok(Some((id, total, false)));
    }
    let raised = sqlx::query(
        "update test_mode_charges set refunded_minor = refunded_minor + $1
         where payment_intent_id = $2 and status = 'succeeded' and refunded_minor + $1 <= amount_minor",
    )
    .bind(amount_minor)
    .bind(payment_intent_id)
    .execute(&mut *conn)
    .await?;
    if raised.rows_affected() != 1 {
        return Ok(None);
    }
    sqlx::query(
        "insert into test_mode_refunds (idempotency_key, refund_id, payment_intent_id, amount_minor, created_at)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(idempotency_key)
    .bind(refund_id)
    .bind(payment_intent_id)
    .bind(amount_minor)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let total = refunded_total(conn, payment_intent_id).await?;
    Ok(Some((refund_id.to_owned(), total, true)))
}

async fn refunded_total(conn: &mut AnyConnection, payment_intent_id: &str) -> Result<i64, Error> {
    Ok(sqlx::query_scalar("select refunded_minor from test_mode_charges where payment_intent_id = $1")
        .bind(payment_intent_id)
        .fetch_one(conn)
        .await?)
}

/// Completes (`failure` None) or fails a PaymentIntent waiting for authentication, unless it has
/// succeeded meanwhile; answers whether it changed.
pub async fn settle_authentication(
    conn: &mut AnyConnection,
    payment_intent_id: &str,
    failure: Option<(&str, &str)>,
) -> Result<bool, Error> {
    let updated = sqlx::query(
        "update test_mode_charges set status = $1, failure_code = $2, failure_message = $3
         where payment_intent_id = $4 and status <> 'succeeded'",
    )
    .bind(if failure.is_some() { "requires_payment_method" } else { "succeeded" })
    .bind(failure.map(|f| f.0))
    .bind(failure.map(|f| f.1))
    .bind(payment_intent_id)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}
