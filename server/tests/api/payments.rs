//! Payments over days of dunning with the server's clock set by the test: the test-mode processor
//! following Stripe's test cards, retries on days 3, 7 and 10, suspension, cancellation, the
//! immediate retry after a card update, and signed Stripe events driving the same state.
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use server::admin::reconciliation::invoices::reconcile_billing;
use server::billing::invoicing::run_billing_cycle;
use server::notifications::db::{NewNotification, enqueue};
use server::notifications::delivery::{Outbox, deliver_notifications};
use server::payments::channel::{ChargeOutcome, ChargeRequest};
use server::payments::collection::{Collector, payment_succeeded};
use server::payments::db::attempts;
use server::payments::db::stripe_events::{ReceivedEvent, insert_event};
use server::payments::domain::dunning::{DAY_MS, DunningPolicy};
use server::payments::domain::stripe_signature::sign;
use server::payments::pass::run_payments_pass;
use server::payments::processor_events::process_inbox;
use server::shared::time::parse_rfc3339_or_date;

use crate::helpers::*;

pub fn at(text: &str) -> i64 {
    parse_rfc3339_or_date(text).expect("an RFC 3339 instant")
}

const START: &str = "2027-03-01T00:00:00Z";
/// Acme's first period ends on April 1; its draft is finalized after the 48-hour grace.
const FINALIZED: &str = "2027-04-03T01:00:00Z";

pub struct Scenario {
    pub app: TestApp,
    pub collector: Collector,
    pub outbox: Outbox,
    pub acme: String,
    pub owner: Client,
}

impl Scenario {
    pub async fn new(extra: &[&str]) -> Self {
        let app = spawn_app_at(Some(at(START)), extra).await;
        let collector = Collector::test_mode(&app.db, DunningPolicy::default(), Duration::ZERO, &app.address);
        let acme = app.organization_id("Acme Corp").await;
        let owner = app.client_for(&ACME_OWNER).await;
        Self { app, collector, outbox: Outbox::default(), acme, owner }
    }

    pub async fn save_card(&self, number: &str) -> reqwest::Response {
        let form =
            [("organization_id", self.acme.as_str()), ("number", number), ("exp_month", "12"), ("exp_year", "2031")];
        self.app.call_with(&self.owner, "save_test_card", &form).await
    }

    /// Closes and finalizes Acme's first period; answers the day-0 instant.
    pub async fn finalize_first_invoice(&self) -> i64 {
        for instant in ["2027-04-01T00:00:00Z", FINALIZED] {
            self.app.db.clock.set(at(instant));
            run_billing_cycle(&self.app.db, &self.app.rules, at(instant)).await.expect("billing cycle");
        }
        at(FINALIZED)
    }

    pub async fn pass_at(&self, now: i64) {
        self.app.db.clock.set(now);
        run_payments_pass(&self.app.db, &self.collector, &self.outbox).await.expect("payments pass");
    }

    pub async fn subscription_status(&self) -> String {
        self.text("select status from subscriptions where organization_id = $1").await
    }

    pub async fn invoice_status(&self) -> String {
        self.text("select status from invoices where organization_id = $1").await
    }

    async fn text(&self, sql: &str) -> String {
        sqlx::query_scalar(sql).bind(&self.acme).fetch_one(&self.app.db.pool).await.expect(sql)
    }

    /// (attempt, status, failure code, trigger) of every payment attempt, in order.
    pub(crate) async fn payments(&self) -> Vec<(i64, String, Option<String>, String)> {
        sqlx::query_as(
            "select attempt, status, failure_code, trigger from payments where organization_id = $1 order by attempt",
        )
        .bind(&self.acme)
        .fetch_all(&self.app.db.pool)
        .await
        .expect("payments")
    }

    pub(crate) async fn notification_kinds(&self) -> Vec<String> {
        sqlx::query_scalar("select kind from notifications where organization_id = $1 order by created_at, id")
            .bind(&self.acme)
            .fetch_all(&self.app.db.pool)
            .await
            .expect("notifications")
    }

    pub async fn ledger(&self, account: &str) -> i64 {
        sqlx::query_scalar(
            "select cast(coalesce(sum(e.amount_minor), 0) as bigint) from ledger_entries e
             join ledger_transactions t on t.id = e.transaction_id where t.organization_id = $1 and e.account = $2",
        )
        .bind(&self.acme)
        .bind(account)
        .fetch_one(&self.app.db.pool)
        .await
        .expect("ledger balance")
    }

    pub(crate) async fn banner(&self) -> Value {
        json(self.app.call_with(&self.owner, "billing_status", &[("organization_id", &self.acme)]).await).await
    }

    /// A pending attempt on Acme's latest invoice, written as the collector writes one before it
    /// calls the processor.
    pub async fn insert_attempt(&self, attempt: i64, step: &str, now: i64) -> attempts::PaymentRow {
        let invoice: (String, i64, String) = sqlx::query_as(
            "select id, amount_due_minor, currency from invoices where organization_id = $1
             order by finalized_at desc limit 1",
        )
        .bind(&self.acme)
        .fetch_one(&self.app.db.pool)
        .await
        .unwrap();
        let mut conn = self.app.db.pool.acquire().await.unwrap();
        let profile = attempts::profile_of(&mut conn, &self.acme).await.unwrap().expect("a card on file");
        let payment = attempts::PaymentRow {
            id: format!("pay-{step}"),
            invoice_id: invoice.0.clone(),
            organization_id: self.acme.clone(),
            attempt,
            idempotency_key: format!("{}:{step}", invoice.0),
            amount_minor: invoice.1,
            currency: invoice.2.clone(),
            payment_method_id: profile.payment_method_id.clone().unwrap(),
            status: "pending".into(),
            processor_payment_id: None,
            failure_code: None,
            failure_message: None,
            refunded_minor: 0,
            trigger: "automatic".into(),
            created_at: now,
            updated_at: now,
        };
        attempts::insert_payment(&mut conn, &payment).await.unwrap();
        payment
    }

    /// The processor charges the attempt, as it would before the server hears the answer.
    pub async fn charge(&self, payment: &attempts::PaymentRow) -> ChargeOutcome {
        let mut conn = self.app.db.pool.acquire().await.unwrap();
        let profile = attempts::profile_of(&mut conn, &self.acme).await.unwrap().expect("a card on file");
        drop(conn);
        self.collector
            .channel
            .charge(&ChargeRequest {
                customer_id: &profile.customer_id,
                payment_method_id: &payment.payment_method_id,
                amount_minor: payment.amount_minor,
                currency: &payment.currency,
                idempotency_key: &payment.idempotency_key,
                invoice_id: &payment.invoice_id,
                payment_id: &payment.id,
            })
            .await
            .expect("the processor answers")
    }

    /// The processor's success for `payment` arrives, as its webhook or its direct answer does.
    async fn succeeded(&self, payment: &attempts::PaymentRow, outcome: ChargeOutcome) {
        let ChargeOutcome::Succeeded { processor_payment_id } = outcome else { panic!("{outcome:?}") };
        let mut tx = self.app.db.begin().await.unwrap();
        payment_succeeded(&mut tx, payment, &processor_payment_id, self.app.db.clock.now_ms()).await.unwrap();
        tx.commit().await.unwrap();
    }

    pub async fn assert_reconciled(&self) {
        let now = self.app.db.clock.now_ms();
        let report = reconcile_billing(&self.app.db, &self.app.rules, (0, now + DAY_MS), now).await.expect("reconcile");
        assert_eq!(report.mismatches, Vec::<String>::new());
    }
}

fn failed(attempt: i64, code: &str, trigger: &str) -> (i64, String, Option<String>, String) {
    (attempt, "failed".into(), Some(code.into()), trigger.into())
}

#[tokio::test]
async fn a_declined_card_is_retried_on_days_3_and_7_and_a_new_card_on_day_8_pays_at_once() {
    let s = Scenario::new(&[]).await;
    let saved = json(s.save_card("4000 0000 0000 0341").await).await;
    assert_eq!(saved["card"]["last4"], "0341", "{saved}");
    let day0 = s.finalize_first_invoice().await;
    let amount_due: i64 =
        sqlx::query_scalar("select amount_due_minor from invoices").fetch_one(&s.app.db.pool).await.unwrap();
    assert!(amount_due > 0);

    s.pass_at(day0).await;
    assert_eq!(s.subscription_status().await, "past_due");
    assert_eq!(s.payments().await, vec![failed(1, "card_declined", "automatic")]);
    let banner = s.banner().await;
    let past_due = &banner["past_due"][0];
    assert_eq!(past_due["number"].as_str().unwrap().len(), "INV-2027-000001".len());
    assert_eq!(past_due["next_retry"], "2027-04-06 01:00 UTC");
    assert_eq!(past_due["next_retry_in"], "in 3 days");
    assert_eq!(past_due["suspends_in_days"], 10);
    assert_eq!(banner["last_failure"], "Your card was declined.");

    s.pass_at(day0 + 3 * DAY_MS - 1).await;
    assert_eq!(s.payments().await.len(), 1, "nothing runs before day 3");
    s.pass_at(day0 + 3 * DAY_MS).await;
    s.pass_at(day0 + 7 * DAY_MS).await;
    assert_eq!(s.payments().await.len(), 3);
    assert!(s.notification_kinds().await.contains(&"suspension_warning".to_owned()));
    assert_eq!(s.banner().await["past_due"][0]["suspends_in_days"], 3);

    // Day 8: a working card. Its setup runs through the webhook pipeline and pays at once.
    s.app.db.clock.set(day0 + 8 * DAY_MS);
    let page = json(s.save_card("4242 4242 4242 4242").await).await;
    assert_eq!(page["card"]["last4"], "4242");
    assert_eq!(page["status"]["past_due"], json!([]), "{page}");
    assert_eq!(s.invoice_status().await, "paid");
    assert_eq!(s.subscription_status().await, "active");
    let payments = s.payments().await;
    assert_eq!(payments[3], (4, "succeeded".into(), None, "customer".into()));
    assert_eq!(s.ledger("receivable").await, 0);
    assert_eq!(s.ledger("processor_clearing").await, amount_due);

    // The processor's events for every attempt arrive afterwards, in any order: nothing changes.
    s.pass_at(day0 + 8 * DAY_MS).await;
    assert_eq!(s.app.count("select count(*) from stripe_events where status not in ('processed', 'ignored')").await, 0);
    assert_eq!(s.invoice_status().await, "paid");
    assert_eq!(s.payments().await, payments);
    assert_eq!(s.app.count("select count(*) from ledger_transactions where kind = 'payment.received'").await, 1);
    // Day 10 comes and goes without another charge; the processor charged once per attempt.
    s.pass_at(day0 + 10 * DAY_MS).await;
    assert_eq!(s.app.count("select count(*) from test_mode_charges").await, 4);
    assert_eq!(s.app.count("select count(distinct idempotency_key) from test_mode_charges").await, 4);
    let kinds = s.notification_kinds().await;
    assert!(kinds.contains(&"payment_failed".to_owned()), "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("receipt"), "the receipt comes last");
    assert_eq!(s.app.count("select count(*) from notifications where delivered_at is null").await, 0);
    s.assert_reconciled().await;
}

#[tokio::test]
async fn unpaid_dunning_suspends_after_the_day_10_retry_and_cancels_on_day_30() {
    let s = Scenario::new(&[]).await;
    s.save_card("4000 0000 0000 9995").await;
    let key = s.app.api_key(&ACME_OWNER, "Acme Corp").await;
    let day0 = s.finalize_first_invoice().await;
    for day in [0, 3, 7] {
        s.pass_at(day0 + day * DAY_MS).await;
    }
    assert_eq!(s.subscription_status().await, "past_due");
    s.pass_at(day0 + 10 * DAY_MS).await;
    assert_eq!(s.subscription_status().await, "suspended");
    assert_eq!(s.app.count("select count(*) from namespaces where suspended_at is null").await, 1, "Globex's only");
    let codes: Vec<Option<String>> = s.payments().await.into_iter().map(|p| p.2).collect();
    assert_eq!(codes, vec![Some("insufficient_funds".to_owned()); 4]);
    assert_eq!(s.banner().await["suspended"], true);

    // Suspended namespaces still have their usage recorded.
    let timestamp = server::shared::time::display_rfc3339(day0 + 10 * DAY_MS - 60_000);
    let events = json!([{ "id": "while-suspended", "namespace": "payments-prod", "metric": "actions", "quantity": 5, "timestamp": timestamp }]);
    let reply = json(s.app.send_events(&key, &events).await).await;
    assert_eq!(reply["results"][0]["status"], "accepted", "{reply}");

    s.pass_at(day0 + 30 * DAY_MS - 1).await;
    assert_eq!(s.subscription_status().await, "suspended");
    s.pass_at(day0 + 30 * DAY_MS).await;
    assert_eq!(s.subscription_status().await, "canceled");
    assert_eq!(s.invoice_status().await, "uncollectible");
    assert_eq!(s.payments().await.len(), 4, "no charge on the cancellation day");
    let kinds = s.notification_kinds().await;
    for kind in ["payment_failed", "retry_scheduled", "suspension_warning", "suspended", "canceled"] {
        assert!(kinds.contains(&kind.to_owned()), "{kind} in {kinds:?}");
    }
    let steps: Vec<String> =
        sqlx::query_scalar("select kind from collection_events where organization_id = $1 order by at, id")
            .bind(&s.acme)
            .fetch_all(&s.app.db.pool)
            .await
            .unwrap();
    assert_eq!(steps.iter().filter(|k| *k == "retry_failed").count(), 3);
    assert_eq!(steps.last().map(String::as_str), Some("canceled"));
    // Running the same days again changes nothing.
    for day in [0, 3, 7, 10, 30] {
        s.pass_at(day0 + day * DAY_MS).await;
    }
    assert_eq!(s.payments().await.len(), 4);
    s.assert_reconciled().await;
}

/// Dunning's day 30 falls two days into May: April was never closed (no billing run since April
/// 3), and May is in progress. Both are billed: April whole, May to the cancellation instant with
/// the unused part of the base fee credited back; usage after it is refused.
#[tokio::test]
async fn a_dunning_cancellation_bills_every_period_up_to_the_cancellation_instant() {
    let s = Scenario::new(&[]).await;
    s.save_card("4000 0000 0000 9995").await;
    let key = s.app.api_key(&ACME_OWNER, "Acme Corp").await;
    let day0 = s.finalize_first_invoice().await;
    let event = |id: &str, at: &str, quantity: i64| json!([{ "id": id, "namespace": "payments-prod", "metric": "actions", "quantity": quantity, "timestamp": at }]);
    for day in [0, 3, 7, 10] {
        s.pass_at(day0 + day * DAY_MS).await;
    }
    s.app.db.clock.set(at("2027-04-20T12:00:00Z"));
    let reply = json(s.app.send_events(&key, &event("in-april", "2027-04-20T11:00:00Z", 100_000_000)).await).await;
    assert_eq!(reply["results"][0]["status"], "accepted", "{reply}");
    s.app.db.clock.set(at("2027-05-03T00:30:00Z"));
    let reply = json(s.app.send_events(&key, &event("in-may", "2027-05-02T10:00:00Z", 200_000_000)).await).await;
    assert_eq!(reply["results"][0]["status"], "accepted", "{reply}");
    s.app.wait_for_rollups().await;

    let canceled_at = day0 + 30 * DAY_MS;
    s.pass_at(canceled_at).await;
    assert_eq!(s.subscription_status().await, "canceled");
    s.app.db.clock.set(canceled_at + 60_000);
    let late = json(s.app.send_events(&key, &event("after", "2027-05-03T01:00:30Z", 5)).await).await;
    assert_eq!(late["results"][0]["status"], "rejected", "{late}");
    assert_eq!(late["results"][0]["field"], "timestamp", "{late}");

    for now in [canceled_at + 60_000, canceled_at + 49 * 3_600_000] {
        s.app.db.clock.set(now);
        run_billing_cycle(&s.app.db, &s.app.rules, now).await.expect("billing cycle");
    }
    let periods: Vec<(i64, i64, String)> = sqlx::query_as(
        "select period_start, period_end, status from invoices where organization_id = $1 order by period_start",
    )
    .bind(&s.acme)
    .fetch_all(&s.app.db.pool)
    .await
    .unwrap();
    let april = (at("2027-04-01T00:00:00Z"), at("2027-05-01T00:00:00Z"));
    let may = (april.1, canceled_at);
    assert_eq!(periods.len(), 3, "March, April, and May to the cancellation: {periods:?}");
    assert_eq!((periods[1].0, periods[1].1), april);
    assert_eq!((periods[2].0, periods[2].1), may);
    assert!(periods[1..].iter().all(|p| p.2 == "open"), "both finalized and owed: {periods:?}");
    let lines_of = |period: (i64, i64)| {
        sqlx::query_as::<_, (String, i64, Option<i64>)>(
            "select l.kind, l.amount_minor, l.quantity from invoice_lines l join invoices i on i.id = l.invoice_id
             where i.organization_id = $1 and i.period_start = $2 and i.period_end = $3 order by l.position",
        )
        .bind(&s.acme)
        .bind(period.0)
        .bind(period.1)
        .fetch_all(&s.app.db.pool)
    };
    let april_lines = lines_of(april).await.unwrap();
    let may_lines = lines_of(may).await.unwrap();
    let base_fee = april_lines[0].1;
    assert_eq!(april_lines[0].0, "base_fee");
    assert!(!april_lines.iter().any(|l| l.0 == "proration"), "{april_lines:?}");
    // May ran 49 hours of its 744: the fee for the rest is credited, rounded once.
    let unused = may_lines.iter().find(|l| l.0 == "proration").expect("the unused fee is credited").1;
    let expected = -((base_fee as i128 * 695 * 2 + 744) / (744 * 2)) as i64;
    assert_eq!(unused, expected, "{may_lines:?}");
    let usage_amount =
        |lines: &[(String, i64, Option<i64>)]| lines.iter().filter(|l| l.0 == "usage").map(|l| l.1).sum::<i64>();
    assert!(usage_amount(&april_lines) > 0, "April's usage is billed: {april_lines:?}");
    assert!(usage_amount(&may_lines) > usage_amount(&april_lines), "May's usage is billed: {may_lines:?}");
    s.assert_reconciled().await;

    // Once the final invoice is issued, usage dated before the end has no invoice to go on.
    let after_final = json(s.app.send_events(&key, &event("too-late", "2027-05-02T11:00:00Z", 7)).await).await;
    assert_eq!(after_final["results"][0]["field"], "timestamp", "{after_final}");
    assert!(after_final["results"][0]["reason"].as_str().unwrap().contains("final invoice"), "{after_final}");
    // An event checked just before the final invoice closed the period and stored just after:
    // nothing would bill it, and reconcile says so.
    let closed_before: i64 = sqlx::query_scalar("select usage_closed_before from organizations where id = $1")
        .bind(&s.acme)
        .fetch_one(&s.app.db.pool)
        .await
        .unwrap();
    let set_closed_before =
        |at: i64| sqlx::query("update organizations set usage_closed_before = $1 where id = $2").bind(at).bind(&s.acme);
    set_closed_before(0).execute(&s.app.db.pool).await.unwrap();
    let raced = json(s.app.send_events(&key, &event("raced", "2027-05-02T11:00:00Z", 7)).await).await;
    assert_eq!(raced["results"][0]["status"], "accepted", "{raced}");
    set_closed_before(closed_before).execute(&s.app.db.pool).await.unwrap();
    s.app.wait_for_rollups().await;
    let now = s.app.db.clock.now_ms();
    let report = reconcile_billing(&s.app.db, &s.app.rules, (0, now), now).await.expect("reconcile");
    assert!(report.mismatches.iter().any(|m| m.contains("rollups differ from what was billed")), "{report:?}");

    // Reconcile finds an hour no period bills: here the final invoice made to start after it.
    sqlx::query("update invoices set period_start = $1 where organization_id = $2 and period_start = $3")
        .bind(at("2027-05-03T00:00:00Z"))
        .bind(&s.acme)
        .bind(may.0)
        .execute(&s.app.db.pool)
        .await
        .unwrap();
    let now = s.app.db.clock.now_ms();
    let report = reconcile_billing(&s.app.db, &s.app.rules, (0, now), now).await.expect("reconcile");
    let unbilled = format!("organization {}: usage in the hour of 2027-05-02T10:00:00Z is in no billed period", s.acme);
    assert!(report.mismatches.contains(&unbilled), "{:?}", report.mismatches);
}

/// A subscription canceled before its end was recorded (a row from before that column): dunning's
/// last step on an older invoice must not end it now and bill a period the customer had left.
#[tokio::test]
async fn dunning_ends_nothing_when_the_subscription_was_already_canceled() {
    let s = Scenario::new(&[]).await;
    s.save_card("4000 0000 0000 9995").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    sqlx::query("update subscriptions set status = 'canceled' where organization_id = $1")
        .bind(&s.acme)
        .execute(&s.app.db.pool)
        .await
        .unwrap();
    for day in [3, 7, 10, 30] {
        s.pass_at(day0 + day * DAY_MS).await;
    }
    let collection: String =
        sqlx::query_scalar("select status from collections").fetch_one(&s.app.db.pool).await.unwrap();
    assert_eq!(collection, "canceled", "dunning reached its last step");
    assert_eq!(s.app.count("select count(*) from subscriptions where ended_at is not null").await, 0);
    assert_eq!(s.app.count("select count(*) from organizations where usage_ends_at is not null").await, 0);
}

#[tokio::test]
async fn a_failed_retry_after_a_card_update_keeps_the_dunning_step_and_says_why() {
    let s = Scenario::new(&[]).await;
    s.save_card("4000 0000 0000 0341").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    s.pass_at(day0 + 3 * DAY_MS).await;
    s.app.db.clock.set(day0 + 4 * DAY_MS);
    let page = json(s.save_card("4000 0025 0000 3155").await).await;
    assert!(page["status"]["last_failure"].as_str().unwrap_or_default().contains("authentication"), "{page}");
    let step: i64 = sqlx::query_scalar("select dunning_step from collections").fetch_one(&s.app.db.pool).await.unwrap();
    assert_eq!(step, 1, "still waiting for the day-7 retry");
    assert_eq!(s.banner().await["past_due"][0]["next_retry"], "2027-04-10 01:00 UTC");
    // "Pay now" with the same card fails the same way, and still does not advance dunning.
    let paid = s.app.call_with(&s.owner, "pay_now", &[("organization_id", &s.acme)]).await;
    assert_eq!(paid.status(), StatusCode::OK);
    assert_eq!(s.payments().await.len(), 4);
    let audited = "select count(*) from audit_log where action = 'payment.pay_now' and actor = 'owner@acme.test'";
    assert_eq!(s.app.count(audited).await, 1, "Pay now names who pressed it");
    let step: i64 = sqlx::query_scalar("select dunning_step from collections").fetch_one(&s.app.db.pool).await.unwrap();
    assert_eq!(step, 1);
}

#[tokio::test]
async fn card_and_payment_requests_are_checked_and_refused_ones_change_nothing() {
    let s = Scenario::new(&[]).await;
    let member = s.app.client_for(&ACME_MEMBER).await;
    let globex_owner = s.app.client_for(&GLOBEX_OWNER).await;
    let call = |client: &Client, number: &str, month: &str| {
        let form = [
            ("organization_id", s.acme.clone()),
            ("number", number.to_owned()),
            ("exp_month", month.to_owned()),
            ("exp_year", "2031".to_owned()),
        ];
        let request = client.post(s.app.url("/api/save_test_card")).header("origin", ORIGIN).form(&form);
        async move { request.send().await.expect("request") }
    };
    assert_eq!(call(&member, "4242 4242 4242 4242", "12").await.status(), StatusCode::FORBIDDEN);
    let hidden = call(&globex_owner, "4242 4242 4242 4242", "12").await;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND, "another organization is not revealed");
    for (number, month, field) in [
        ("4242", "12", "number"),
        ("4242 4242 4242 4241", "12", "number"),
        ("4000 0000 0000 0002", "12", "number"),
        ("5555 5555 5555 4444", "12", "number"),
        ("4242 4242 4242 4242 4242 4242 4242 4242 42", "12", "number"),
        ("4242 4242 4242 4242", "13", "exp_month"),
    ] {
        let response = call(&s.owner, number, month).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{number}/{month}");
        assert_eq!(json(response).await["field"], field, "{number}/{month}");
    }
    let no_card = s.app.call_with(&s.owner, "pay_now", &[("organization_id", &s.acme)]).await;
    assert_eq!(no_card.status(), StatusCode::CONFLICT);
    assert_eq!(json(no_card).await["field"], "payment_method");
    let member_pays = s.app.call_with(&member, "pay_now", &[("organization_id", &s.acme)]).await;
    assert_eq!(member_pays.status(), StatusCode::FORBIDDEN);
    for table in ["payment_profiles", "test_mode_payment_methods", "stripe_events", "payments"] {
        assert_eq!(s.app.count(&format!("select count(*) from {table}")).await, 0, "{table}");
    }
    // A member may read the payment page, without the card form.
    let page = s.app.call_with(&member, "payment_method", &[("organization_id", &s.acme)]).await;
    assert_eq!(page.status(), StatusCode::OK);
}

const SECRET: &str = "whsec_payments_test";
const SETUP_SUCCEEDED: &str = include_str!("../fixtures/setup_intent.succeeded.json");

/// Stripe's `setup_intent.succeeded` as sent, for our customer and method.
pub fn setup_event(id: &str, customer: &str, payment_method: &str, created: i64) -> String {
    let mut event: Value = serde_json::from_str(SETUP_SUCCEEDED).unwrap();
    event["id"] = json!(id);
    event["created"] = json!(created);
    event["data"]["object"]["customer"] = json!(customer);
    event["data"]["object"]["payment_method"] = json!(payment_method);
    event.to_string()
}
const SUCCEEDED: &str = include_str!("../fixtures/payment_intent.succeeded.json");

/// The fixture, about our pending attempt, as a different event type and time.
fn stripe_event(payment_id: &str, invoice_id: &str, event_type: &str, id: &str, created: i64) -> String {
    let mut event: Value = serde_json::from_str(SUCCEEDED).unwrap();
    event["id"] = json!(id);
    event["type"] = json!(event_type);
    event["created"] = json!(created);
    let object = &mut event["data"]["object"];
    object["metadata"] = json!({ "invoice_id": invoice_id, "payment_id": payment_id });
    if event_type == "payment_intent.payment_failed" {
        object["status"] = json!("requires_payment_method");
        object["amount_received"] = json!(0);
        object["last_payment_error"] = json!({ "type": "card_error", "code": "card_declined", "decline_code": "generic_decline", "message": "Your card was declined." });
    }
    event.to_string()
}

#[tokio::test]
async fn signed_stripe_events_settle_an_attempt_once_in_either_order_through_the_background_worker() {
    let s = Scenario::new(&["--stripe-webhook-secret", SECRET, "--payments-interval-seconds", "1"]).await;
    s.finalize_first_invoice().await;
    // The state a crash leaves between the processor's charge and our record of it.
    let (invoice_id, amount): (String, i64) =
        sqlx::query_as("select id, amount_due_minor from invoices").fetch_one(&s.app.db.pool).await.unwrap();
    sqlx::query(
        "insert into payments (id, invoice_id, organization_id, attempt, idempotency_key, amount_minor, currency,
             payment_method_id, status, trigger, created_at, updated_at)
         values ('pay_crashed', $1, $2, 1, 'k1', $3, 'USD', 'pm_x', 'pending', 'automatic', 0, 0)",
    )
    .bind(&invoice_id)
    .bind(&s.acme)
    .bind(amount)
    .execute(&s.app.db.pool)
    .await
    .unwrap();

    let now = s.app.db.clock.now_ms() / 1000;
    let newer = stripe_event("pay_crashed", &invoice_id, "payment_intent.succeeded", "evt_ok", now);
    let older = stripe_event("pay_crashed", &invoice_id, "payment_intent.payment_failed", "evt_failed", now - 60);
    let deliver = |body: String| {
        let url = s.app.url("/stripe/webhook");
        async move {
            let signature = format!("t={now},v1={}", sign(SECRET, now, body.as_bytes()));
            new_client().post(url).header("stripe-signature", signature).body(body).send().await.unwrap()
        }
    };
    // Newest first, then the older failure, then the success again (a redelivery).
    for body in [newer.clone(), older, newer] {
        assert_eq!(deliver(body).await.status(), StatusCode::OK);
    }
    for _ in 0..100 {
        if s.app.count("select count(*) from stripe_events where status = 'pending'").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s.app.count("select count(*) from stripe_events where status = 'processed'").await, 2);
    assert_eq!(s.invoice_status().await, "paid");
    assert_eq!(s.payments().await, vec![(1, "succeeded".into(), None, "automatic".into())]);
    assert_eq!(s.ledger("processor_clearing").await, amount);
    assert_eq!(s.app.count("select count(*) from ledger_transactions where kind = 'payment.received'").await, 1);
}

#[tokio::test]
async fn an_event_that_keeps_failing_is_retried_with_backoff_then_parked_and_replayed_by_hand() {
    let s = Scenario::new(&["--stripe-webhook-secret", SECRET]).await;
    s.save_card("4242 4242 4242 4242").await;
    let customer = format!("cus_test_{}", s.acme);
    let now = s.app.db.clock.now_ms();
    // A setup with a method the processor does not know (yet): processing it fails.
    deliver_signed(&s, setup_event("evt_setup_unknown_method", &customer, "pm_test_later", now / 1000)).await;

    let state = || async {
        sqlx::query_as::<_, (String, i64, i64)>(
            "select status, attempts, next_attempt_at from stripe_events where id = 'evt_setup_unknown_method'",
        )
        .fetch_one(&s.app.db.pool)
        .await
        .unwrap()
    };
    s.pass_at(now).await;
    let (status, attempts, next) = state().await;
    assert_eq!((status.as_str(), attempts, next), ("failed", 1, now + 30_000));
    s.pass_at(next - 1).await;
    assert_eq!(state().await.1, 1, "not before its backoff");
    s.pass_at(next).await;
    let mut waits = vec![];
    loop {
        let (status, _, next) = state().await;
        if status == "parked" {
            break;
        }
        waits.push(next - s.app.db.clock.now_ms());
        s.pass_at(next).await;
    }
    // Doubling up to six hours, for as long as Stripe itself would keep sending it: three days.
    let hours = |h: i64| h * 3_600_000;
    assert_eq!(waits[..9], [60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_840_000, 7_680_000, 15_360_000]);
    assert!(waits[9..].iter().all(|wait| *wait == hours(6)), "{waits:?}");
    let failing_for = s.app.db.clock.now_ms() - now;
    assert!((hours(72)..hours(78)).contains(&failing_for), "parked after {failing_for} ms");
    assert_eq!(state().await.1, 2 + waits.len() as i64, "the first two attempts come before the waits recorded");
    let staff = s.app.client_for(&STAFF).await;
    let parked = json(s.app.call_with(&staff, "admin_parked_events", &[]).await).await;
    assert_eq!(parked[0]["id"], "evt_setup_unknown_method");
    assert!(parked[0]["last_error"].as_str().unwrap().contains("pm_test_later"), "{parked}");
    assert_eq!(s.app.call_with(&s.owner, "admin_parked_events", &[]).await.status(), StatusCode::NOT_FOUND);

    // The cause is fixed (the processor has the method now); a person replays the event.
    sqlx::query(
        "insert into test_mode_payment_methods (id, customer_id, card_number_last4, behaviour, brand, exp_month,
             exp_year, created_at) values ('pm_test_later', $1, '4444', 'succeeds', 'visa', 1, 2032, 0)",
    )
    .bind(&customer)
    .execute(&s.app.db.pool)
    .await
    .unwrap();
    let replay = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args([
            "--database-url",
            &s.app.database_url,
            "--log-level",
            "error",
            "webhooks",
            "replay",
            "evt_setup_unknown_method",
        ])
        .output()
        .expect("run server webhooks replay");
    let printed = String::from_utf8_lossy(&replay.stdout);
    assert!(replay.status.success(), "{printed} {}", String::from_utf8_lossy(&replay.stderr));
    assert!(printed.contains("evt_setup_unknown_method setup_intent.succeeded processed"), "{printed}");
    let last4: String = sqlx::query_scalar("select last4 from payment_profiles where organization_id = $1")
        .bind(&s.acme)
        .fetch_one(&s.app.db.pool)
        .await
        .unwrap();
    assert_eq!(last4, "4444");
}

#[tokio::test]
async fn staff_refund_part_of_a_payment_once_and_the_ledger_follows() {
    let s = Scenario::new(&[]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    assert_eq!(s.invoice_status().await, "paid");
    let (payment_id, amount): (String, i64) =
        sqlx::query_as("select id, amount_minor from payments").fetch_one(&s.app.db.pool).await.unwrap();
    let staff = s.app.client_for(&STAFF).await;
    let refund = |client: Client, amount: &str, key: &str| {
        let form = [
            ("payment_id", payment_id.clone()),
            ("amount", amount.to_owned()),
            ("reason", "goodwill".to_owned()),
            ("idempotency_key", key.to_owned()),
        ];
        let request = client.post(s.app.url("/api/refund_payment")).header("origin", ORIGIN).form(&form);
        async move { request.send().await.expect("request") }
    };
    assert_eq!(refund(s.owner.clone(), "10.00", "k1").await.status(), StatusCode::NOT_FOUND, "staff only");
    let too_much = refund(staff.clone(), &format!("{}.01", amount / 100), "k0").await;
    assert_eq!(too_much.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(too_much).await["field"], "amount");
    assert_eq!(refund(staff.clone(), "0", "k0").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.app.count("select count(*) from test_mode_refunds").await, 0, "refused refunds reach nobody");

    let clearing_before = s.ledger("processor_clearing").await;
    for _ in 0..2 {
        // The same form submitted twice refunds once.
        assert_eq!(refund(staff.clone(), "10.00", "k1").await.status(), StatusCode::OK);
    }
    assert_eq!(s.app.count("select count(*) from test_mode_refunds").await, 1);
    let refunded: i64 =
        sqlx::query_scalar("select refunded_minor from payments").fetch_one(&s.app.db.pool).await.unwrap();
    assert_eq!(refunded, 1_000);
    assert_eq!(s.ledger("processor_clearing").await, clearing_before - 1_000);
    assert_eq!(s.app.count("select count(*) from ledger_transactions where kind = 'payment.refunded'").await, 1);
    assert_eq!(s.app.count("select count(*) from audit_log where action = 'payment.refund'").await, 2);
    let page = json(s.app.call_with(&staff, "admin_customer", &[("organization_id", &s.acme)]).await).await;
    assert_eq!(page["payments"][0]["refunded"], "$10.00");
    assert_eq!(s.invoice_status().await, "paid");
    s.assert_reconciled().await;
}

#[tokio::test]
async fn notifications_go_to_the_smtp_relay_when_one_is_configured() {
    let (relay, received) = fake_smtp().await;
    let mut s = Scenario::new(&[]).await;
    s.outbox = Outbox::smtp(&format!("smtp://{relay}"), "billing@portal.test", "portal.test")
        .unwrap()
        .with_attachments(s.app.documents.clone());
    s.save_card("4000 0000 0000 0341").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let messages = received.lock().unwrap().clone();
    assert_eq!(messages.len(), 3, "the invoice, payment failed, retry scheduled: {messages:?}");
    let failed = messages
        .iter()
        .find(|m| m.contains("Subject: Payment failed for INV-2027-000001"))
        .expect("the failure notice");
    for header in [
        "From: billing@portal.test\n",
        "To: billing@acme.test\n",
        "Date: ",
        "Content-Type: text/plain; charset=utf-8\n",
    ] {
        assert!(failed.contains(header), "{header:?} in {failed}");
    }
    assert!(failed.contains("Message-ID: <ntf"), "a Message-ID from the notification's id: {failed}");
    // Long lines travel quoted-printable, with soft line breaks.
    assert!(failed.replace("=\n", "").contains("Your card was declined."), "{failed}");
    assert_eq!(s.app.count("select count(*) from notifications where delivery = 'smtp'").await, 3);
    s.pass_at(day0 + 1).await;
    assert_eq!(received.lock().unwrap().len(), 3, "each notification is sent once");
}

#[tokio::test]
async fn staff_retry_now_write_off_and_replay_each_with_a_reason_and_an_audit_entry() {
    let s = Scenario::new(&[]).await;
    s.save_card("4000 0000 0000 0341").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let staff = s.app.client_for(&STAFF).await;
    let retry = |reason: &'static str| {
        let form = [("organization_id", s.acme.clone()), ("reason", reason.to_owned())];
        let request = staff.post(s.app.url("/api/admin_retry_payments")).header("origin", ORIGIN).form(&form);
        async move { request.send().await.expect("request") }
    };
    assert_eq!(retry("").await.status(), StatusCode::UNPROCESSABLE_ENTITY, "a reason is required");
    assert_eq!(s.payments().await.len(), 1);
    let tried = retry("customer called; card replaced at the bank").await;
    assert_eq!(json(tried).await, json!(1));
    assert_eq!(s.payments().await[1], failed(2, "card_declined", "customer"));
    let step: i64 = sqlx::query_scalar("select dunning_step from collections").fetch_one(&s.app.db.pool).await.unwrap();
    assert_eq!(step, 0, "a manual retry does not move dunning on");

    let invoice_id: String = sqlx::query_scalar("select id from invoices").fetch_one(&s.app.db.pool).await.unwrap();
    let write_off = s
        .app
        .call_with(&staff, "mark_uncollectible", &[("invoice_id", &invoice_id), ("reason", "customer insolvent")])
        .await;
    assert_eq!(write_off.status(), StatusCode::OK);
    assert_eq!(s.invoice_status().await, "uncollectible");
    assert_eq!(s.subscription_status().await, "active", "nothing is past due any more");
    s.pass_at(day0 + 3 * DAY_MS).await;
    assert_eq!(s.payments().await.len(), 2, "no more dunning for a written-off invoice");
    let again =
        s.app.call_with(&staff, "mark_uncollectible", &[("invoice_id", &invoice_id), ("reason", "twice")]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);

    let event: String =
        sqlx::query_scalar("select id from stripe_events where event_type = 'payment_intent.payment_failed' limit 1")
            .fetch_one(&s.app.db.pool)
            .await
            .unwrap();
    let replayed =
        s.app.call_with(&staff, "replay_webhook_event", &[("event_id", &event), ("reason", "checking")]).await;
    assert_eq!(json(replayed).await, json!("processed"));
    for action in ["payment.retry", "invoice.uncollectible", "webhook.replay"] {
        let sql = format!("select count(*) from audit_log where action = '{action}' and actor = 'admin@portal.test'");
        assert_eq!(s.app.count(&sql).await, 1, "{action}");
    }
}

/// The processor charged the first attempt, then the server died before recording it: the
/// attempt is pending with no processor id. "Pay now" must settle that attempt under its own key
/// before it makes another one, or the customer pays twice.
#[tokio::test]
async fn pay_now_settles_an_attempt_of_unknown_outcome_before_making_another() {
    let s = Scenario::new(&[]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    let payment = s.insert_attempt(1, "first", day0).await;
    let charged = s.charge(&payment).await;
    assert!(matches!(charged, ChargeOutcome::Succeeded { .. }));

    let pay_now = s.app.call_with(&s.owner, "pay_now", &[("organization_id", s.acme.as_str())]).await;
    assert_eq!(pay_now.status(), StatusCode::OK);

    assert_eq!(s.app.count("select count(*) from test_mode_charges").await, 1, "the customer is charged once");
    assert_eq!(s.app.count("select count(*) from payments").await, 1);
    assert_eq!(s.invoice_status().await, "paid");
    assert_eq!(s.app.count("select count(*) from ledger_transactions where kind = 'payment.received'").await, 1);
    s.assert_reconciled().await;
}

/// An attempt whose key was renewed (the processor had forgotten it) and that then failed is still
/// the attempt of its dunning step: running the step again must not make a second one.
#[tokio::test]
async fn a_step_whose_attempt_was_sent_under_a_renewed_key_is_not_attempted_twice() {
    let s = Scenario::new(&[]).await;
    s.save_card("4000 0000 0000 9995").await;
    let day0 = s.finalize_first_invoice().await;
    s.insert_attempt(1, "first", day0).await;
    sqlx::query(
        "update payments set idempotency_key = idempotency_key || ':gen2', status = 'failed',
             failure_code = 'card_declined', failure_message = 'Your card was declined.'
         where id = 'pay-first'",
    )
    .execute(&s.app.db.pool)
    .await
    .unwrap();
    s.pass_at(day0).await;
    assert_eq!(s.app.count("select count(*) from payments").await, 1, "the step's attempt is the renewed one");
    assert_eq!(s.app.count("select count(*) from test_mode_charges").await, 0, "the card is not charged again");
}

/// The processor reports a second success for an attempt already paid, under another
/// PaymentIntent (two generations of its key both charged): that money is not owed, so it is held
/// as an overpayment and refunded, once however often the news arrives.
#[tokio::test]
async fn a_second_charge_for_one_attempt_is_refunded_as_an_overpayment() {
    let s = Scenario::new(&[]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    let payment = s.insert_attempt(1, "first", day0).await;
    let outcome = s.charge(&payment).await;
    s.succeeded(&payment, outcome).await;
    assert_eq!(s.invoice_status().await, "paid");
    let amount = s.app.count("select amount_due_minor from invoices where status = 'paid'").await;
    for _ in 0..2 {
        s.succeeded(&payment, ChargeOutcome::Succeeded { processor_payment_id: "pi_second_charge".into() }).await;
    }
    assert_eq!(s.app.count("select count(*) from payments where processor_payment_id = 'pi_second_charge'").await, 1);
    assert_eq!(s.app.count("select count(*) from overpayment_refunds").await, 1);
    assert_eq!(s.ledger("overpayments").await, -amount, "held until it is refunded");
    assert_eq!(s.app.count("select count(*) from ledger_transactions where kind = 'payment.received'").await, 1);
    s.assert_reconciled().await;

    // Its refund's event carries the metadata of the attempt it was charged for (Stripe copies a
    // PaymentIntent's metadata onto its charge); it gives back the second charge, not the first.
    let charge = json!({ "id": "ch_second", "object": "charge", "amount": amount, "amount_refunded": amount,
        "currency": "usd", "payment_intent": "pi_second_charge", "metadata": { "payment_id": payment.id },
        "refunded": true, "status": "succeeded" });
    receive(&s, &event_about("evt_second_refunded", "charge.refunded", charge), day0).await;
    s.pass_at(day0 + 60_000).await;
    assert_eq!(
        s.app.count("select refunded_minor from payments where processor_payment_id = 'pi_second_charge'").await,
        amount
    );
    assert_eq!(s.app.count(&format!("select refunded_minor from payments where id = '{}'", payment.id)).await, 0);
    assert_eq!(s.ledger("overpayments").await, 0, "what was held is given back");
    assert_eq!(s.app.count("select count(*) from ledger_transactions where kind = 'payment.refunded'").await, 0);
    s.assert_reconciled().await;
}

fn event_about(id: &str, event_type: &str, object: Value) -> (String, String, String) {
    let payload = json!({ "id": id, "object": "event", "type": event_type, "created": 1_800_000_000,
        "livemode": false, "data": { "object": object } });
    (id.to_owned(), event_type.to_owned(), payload.to_string())
}

async fn receive(s: &Scenario, (id, event_type, payload): &(String, String, String), at: i64) {
    let event = ReceivedEvent { id, event_type, created: 1_800_000_000, livemode: false, payload, received_at: at };
    insert_event(&mut *s.app.db.pool.acquire().await.unwrap(), &event).await.unwrap();
}

/// A second charge's refund (or dispute) can arrive before its success: it names the first
/// attempt in its metadata, and must wait for the second charge to be recorded, not land on the
/// first. A second charge's failure changes nothing about the attempt recorded.
#[tokio::test]
async fn events_about_a_second_charge_never_land_on_the_first_attempt() {
    let s = Scenario::new(&[]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    let payment = s.insert_attempt(1, "first", day0).await;
    let outcome = s.charge(&payment).await;
    s.succeeded(&payment, outcome).await;
    let amount = s.app.count("select amount_due_minor from invoices where status = 'paid'").await;
    let charge = json!({ "id": "ch_third", "object": "charge", "amount": amount, "amount_refunded": amount,
        "currency": "usd", "payment_intent": "pi_third", "metadata": { "payment_id": payment.id },
        "refunded": true, "status": "succeeded" });
    receive(&s, &event_about("evt_third_refunded", "charge.refunded", charge), day0).await;
    s.pass_at(day0 + 60_000).await;
    assert_eq!(s.app.count(&format!("select refunded_minor from payments where id = '{}'", payment.id)).await, 0);
    assert_eq!(s.app.count("select count(*) from ledger_transactions where kind = 'payment.refunded'").await, 0);

    s.succeeded(&payment, ChargeOutcome::Succeeded { processor_payment_id: "pi_third".into() }).await;
    s.pass_at(day0 + 10 * 60_000).await;
    assert_eq!(
        s.app.count("select refunded_minor from payments where processor_payment_id = 'pi_third'").await,
        amount
    );
    assert_eq!(s.app.count(&format!("select refunded_minor from payments where id = '{}'", payment.id)).await, 0);
    assert_eq!(s.ledger("overpayments").await, 0);
    assert_eq!(s.app.count("select count(*) from ledger_transactions where kind = 'payment.refunded'").await, 0);

    // A pending attempt recorded under one PaymentIntent; another of its charges fails.
    let second = s.insert_attempt(9, "later", day0).await;
    attempts::set_processor_id(&mut *s.app.db.pool.acquire().await.unwrap(), &second.id, "pi_second_gen1", day0)
        .await
        .unwrap();
    let failed = json!({ "id": "pi_second_gen2", "object": "payment_intent", "amount": amount, "currency": "usd",
        "status": "requires_payment_method", "metadata": { "payment_id": second.id },
        "last_payment_error": { "code": "card_declined", "message": "Your card was declined." } });
    receive(&s, &event_about("evt_gen2_failed", "payment_intent.payment_failed", failed), day0).await;
    s.pass_at(day0 + 11 * 60_000).await;
    let status = format!(
        "select count(*) from payments where id = '{}' and status = 'pending' and processor_payment_id = 'pi_second_gen1'",
        second.id
    );
    assert_eq!(s.app.count(&status).await, 1, "the recorded charge is still awaited");
}

/// The processor refuses to refund an overpayment (here: it knows no such charge). Asking again
/// would be refused again: the refund waits for staff on the operations view instead.
#[tokio::test]
async fn a_refused_overpayment_refund_is_not_asked_again_and_staff_see_it() {
    let s = Scenario::new(&[]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let second = s.insert_attempt(2, "second", day0).await;
    let outcome = s.charge(&second).await;
    s.succeeded(&second, outcome).await;
    // The processor no longer knows the charge by the id we recorded.
    sqlx::query(
        "update test_mode_charges set payment_intent_id = 'pi_renamed'
         where payment_intent_id = (select processor_payment_id from payments where id = 'pay-second')",
    )
    .execute(&s.app.db.pool)
    .await
    .unwrap();
    s.pass_at(day0 + 60_000).await;
    let refused_at = "select count(*) from overpayment_refunds where refused_at is not null";
    assert_eq!(s.app.count(refused_at).await, 1);
    let updated = "select updated_at from overpayment_refunds";
    let first_try = s.app.count(updated).await;
    s.pass_at(day0 + 20 * 60_000).await;
    assert_eq!(s.app.count(updated).await, first_try, "not asked again once its lease lapsed");
    assert_eq!(s.app.count("select count(*) from test_mode_refunds").await, 0);

    let admin = s.app.client_for(&STAFF).await;
    let page = s.app.get_page(&admin, "/admin/operations").await.text().await.unwrap();
    assert!(page.contains("Overpayment refunds refused"), "{page}");
    assert!(page.contains("no such payment: pi_"), "{page}");
}

/// A second payment for an invoice already paid (a failed PaymentIntent that succeeded after all,
/// beside the attempt that paid): the money is not kept as revenue but refunded, and the books
/// show the invoice paid once.
#[tokio::test]
async fn a_second_payment_for_a_paid_invoice_is_refunded_and_never_counted_twice() {
    let s = Scenario::new(&[]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    assert_eq!(s.invoice_status().await, "paid");
    let amount = s.app.count("select amount_due_minor from invoices where status = 'paid'").await;

    let second = s.insert_attempt(2, "second", day0).await;
    let outcome = s.charge(&second).await;
    s.succeeded(&second, outcome).await;
    s.pass_at(day0 + 60_000).await; // sends the refund
    s.pass_at(day0 + 120_000).await; // applies the processor's `charge.refunded`

    assert_eq!(s.invoice_status().await, "paid");
    assert_eq!(s.app.count("select count(*) from test_mode_refunds").await, 1, "the second payment is refunded");
    assert_eq!(s.app.count("select refunded_minor from payments where id = 'pay-second'").await, amount);
    assert_eq!(s.ledger("receivable").await, 0);
    assert_eq!(s.ledger("overpayments").await, 0);
    assert_eq!(s.ledger("revenue").await, -amount, "revenue is the invoice, once");
    assert_eq!(s.ledger("processor_clearing").await, amount);
    assert!(s.notification_kinds().await.contains(&"overpayment_refund".to_owned()));
    s.assert_reconciled().await;

    // The refund order is sent once, however often the job runs.
    s.pass_at(day0 + 20 * 60_000).await;
    assert_eq!(s.app.count("select count(*) from test_mode_refunds").await, 1);
}

/// Staff void an invoice while its charge is in flight; the charge then succeeds. The customer
/// owes nothing for a void invoice, so the payment is refunded.
#[tokio::test]
async fn a_payment_that_lands_after_its_invoice_was_voided_is_refunded() {
    let s = Scenario::new(&[]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    let in_flight = s.insert_attempt(1, "first", day0).await;
    let staff = s.app.client_for(&STAFF).await;
    let voided = s
        .app
        .call_with(&staff, "void_invoice", &[("invoice_id", &in_flight.invoice_id), ("reason", "billed twice")])
        .await;
    assert_eq!(voided.status(), StatusCode::OK);

    let outcome = s.charge(&in_flight).await;
    s.succeeded(&in_flight, outcome).await;
    s.pass_at(day0 + 60_000).await;
    s.pass_at(day0 + 120_000).await;

    assert_eq!(s.invoice_status().await, "void");
    assert_eq!(s.app.count("select count(*) from test_mode_refunds").await, 1);
    assert_eq!(s.ledger("receivable").await, 0);
    assert_eq!(s.ledger("revenue").await, 0);
    assert_eq!(s.ledger("processor_clearing").await, 0);
    s.assert_reconciled().await;
}

/// Each message is delivered on its own: a mailbox that does not exist parks its message for
/// staff, one that is full for now is tried again later, and neither holds back the others.
#[tokio::test]
async fn one_undeliverable_notice_never_holds_back_the_others() {
    let (relay, received) = fake_smtp().await;
    let mut s = Scenario::new(&[]).await;
    s.outbox = Outbox::smtp(&format!("smtp://{relay}"), "billing@portal.test", "portal.test").unwrap();
    let now = s.app.db.clock.now_ms();
    sqlx::query("delete from notifications").execute(&s.app.db.pool).await.unwrap();
    let mut conn = s.app.db.pool.acquire().await.unwrap();
    for (reference, recipient, subject) in [
        ("1", "refused@acme.test", "Receipt"),
        ("2", "later@acme.test", "Receipt"),
        ("3", "", "Receipt"),
        ("4", "ok@acme.test", "Reçu — facture INV-1"),
    ] {
        let notice = NewNotification {
            organization_id: Some(&s.acme),
            kind: "receipt",
            reference,
            recipient,
            subject,
            body: "Merci.",
            attachment: None,
        };
        enqueue(&mut conn, &notice, now + reference.parse::<i64>().unwrap()).await.unwrap();
    }
    // The server's own payments job makes its first pass at start, with its own outbox (the mail
    // log) and its clock frozen at `now`: due only from `now + 5`, these notices are this test's.
    // That pass, whenever it runs, takes none of them; here it runs at a known moment.
    sqlx::query("update notifications set next_attempt_at = $1").bind(now + 5).execute(&mut *conn).await.unwrap();
    drop(conn);
    run_payments_pass(&s.app.db, &s.collector, &Outbox::default()).await.unwrap();

    deliver_notifications(&s.app.db, &s.outbox, now + 10).await.unwrap();
    let messages = received.lock().unwrap().clone();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].contains("To: ok@acme.test"));
    assert!(messages[0].contains("Subject: =?utf-8?"), "a UTF-8 subject is encoded: {}", messages[0]);

    let state = || async {
        sqlx::query_as::<_, (String, Option<String>, i64, i64, Option<String>)>(
            "select recipient, delivery, case when parked_at is null then 0 else 1 end, attempts, last_error
             from notifications order by created_at",
        )
        .fetch_all(&s.app.db.pool)
        .await
        .unwrap()
    };
    let rows = state().await;
    assert_eq!((rows[0].2, rows[0].3), (1, 1), "no such user: parked");
    assert!(rows[0].4.as_deref().unwrap().contains("550"), "{rows:?}");
    assert_eq!((rows[1].2, rows[1].3, rows[1].1.as_deref()), (0, 1, None), "mailbox full: tried again later");
    assert_eq!(rows[2].2, 1, "no address at all: parked without asking the relay");
    assert_eq!(rows[3].1.as_deref(), Some("smtp"));

    deliver_notifications(&s.app.db, &s.outbox, now + 20).await.unwrap();
    assert_eq!(state().await[1].3, 1, "not before its backoff");
    deliver_notifications(&s.app.db, &s.outbox, now + 10 + 60_000).await.unwrap();
    assert_eq!(state().await[1].3, 2, "tried again after a minute");
    assert_eq!(received.lock().unwrap().len(), 1, "delivered messages are not sent again");

    let staff = s.app.client_for(&STAFF).await;
    let customer = json(s.app.call_with(&staff, "admin_customer", &[("organization_id", &s.acme)]).await).await;
    let log = customer["notifications"].as_array().unwrap();
    let refused = log.iter().find(|n| n["recipient"] == "refused@acme.test").unwrap();
    assert!(refused["delivery"].as_str().unwrap().starts_with("not delivered: "), "{refused}");
}

/// Stripe's `charge.refunded` can arrive before the success it refunds (events come in any order).
/// The refund waits for the success, so a success that turns out to be an overpayment is held and
/// given back once, and the books end up where they would in the usual order.
#[tokio::test]
async fn a_refund_event_that_arrives_before_its_success_is_applied_after_it() {
    let s = Scenario::new(&[]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let amount = s.app.count("select amount_due_minor from invoices where status = 'paid'").await;

    // A second payment for the paid invoice, refunded in Stripe's dashboard before its success is recorded.
    let second = s.insert_attempt(2, "second", day0).await;
    let outcome = s.charge(&second).await;
    let ChargeOutcome::Succeeded { processor_payment_id } = &outcome else { panic!("{outcome:?}") };
    s.collector.channel.refund(processor_payment_id, amount, "dashboard-refund").await.unwrap();
    // Stripe's success event is late: the attempt is pending with Stripe's id when the refund's arrives.
    attempts::set_processor_id(&mut *s.app.db.pool.acquire().await.unwrap(), &second.id, processor_payment_id, day0)
        .await
        .unwrap();
    sqlx::query("delete from stripe_events where event_type = 'payment_intent.succeeded' and status = 'pending'")
        .execute(&s.app.db.pool)
        .await
        .unwrap();
    s.pass_at(day0 + 60_000).await; // the refund event first: it must wait for the success
    s.succeeded(&second, outcome).await;
    for minutes in [2, 3, 10, 30] {
        s.pass_at(day0 + minutes * 60_000).await;
    }

    assert_eq!(s.ledger("revenue").await, -amount, "revenue is the invoice, once");
    assert_eq!(s.ledger("overpayments").await, 0);
    assert_eq!(s.ledger("processor_clearing").await, amount);
    assert_eq!(s.app.count("select count(*) from test_mode_refunds").await, 1, "refunded once");
    s.assert_reconciled().await;
}

const DISPUTE_CREATED: &str = include_str!("../fixtures/charge.dispute.created.json");

/// Stripe's dispute event about our payment, with the dispute in `status` and the balance
/// movements so far.
fn dispute_event(
    event_type: &str,
    id: &str,
    created: i64,
    intent: &str,
    amount: i64,
    status: &str,
    movements: Value,
) -> String {
    let mut event: Value = serde_json::from_str(DISPUTE_CREATED).unwrap();
    event["id"] = json!(id);
    event["type"] = json!(event_type);
    event["created"] = json!(created);
    let dispute = &mut event["data"]["object"];
    dispute["payment_intent"] = json!(intent);
    dispute["amount"] = json!(amount);
    dispute["status"] = json!(status);
    dispute["balance_transactions"] = movements;
    dispute["evidence_details"]["due_by"] = json!(created + 10 * 86_400);
    event.to_string()
}

async fn deliver_signed(s: &Scenario, body: String) {
    let now = s.app.db.clock.now_ms() / 1000;
    let signature = format!("t={now},v1={}", sign(SECRET, now, body.as_bytes()));
    let response = new_client()
        .post(s.app.url("/stripe/webhook"))
        .header("stripe-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// A dispute of money we held as an overpayment: lost, the bank gave it back, so nothing is owed
/// back any more and nothing comes off revenue; the refund order is not sent.
#[tokio::test]
async fn a_lost_dispute_of_an_overpayment_settles_what_was_owed_back_not_revenue() {
    let s = Scenario::new(&["--stripe-webhook-secret", SECRET]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let amount = s.app.count("select amount_due_minor from invoices where status = 'paid'").await;
    let second = s.insert_attempt(2, "second", day0).await;
    let outcome = s.charge(&second).await;
    let ChargeOutcome::Succeeded { processor_payment_id: intent } = outcome.clone() else { panic!("{outcome:?}") };
    s.succeeded(&second, outcome).await;
    assert_eq!(s.ledger("overpayments").await, -amount);

    let t = day0 / 1000 + 600;
    let withdrawal = json!([{ "id": "txn_over", "object": "balance_transaction", "amount": -amount, "fee": 1500, "net": -amount - 1500 }]);
    deliver_signed(&s, dispute_event("charge.dispute.closed", "evt_over_lost", t, &intent, amount, "lost", withdrawal))
        .await;
    process_inbox(&s.app.db, &s.collector, day0 + 60_000).await.unwrap();
    assert_eq!(s.ledger("overpayments").await, 0, "nothing is owed back any more");
    assert_eq!(s.ledger("revenue").await, -amount, "the invoice's revenue stands");
    assert_eq!(s.ledger("disputed").await, 0);
    assert_eq!(s.ledger("dispute_fees").await, 1500);
    s.pass_at(day0 + 20 * 60_000).await;
    assert_eq!(s.app.count("select count(*) from test_mode_refunds").await, 0, "the bank gave it back already");
    s.assert_reconciled().await;
}

/// An overpayment held, for the dispute tests: (scenario, day0, amount, its PaymentIntent).
async fn an_overpayment_held() -> (Scenario, i64, i64, String) {
    let s = Scenario::new(&["--stripe-webhook-secret", SECRET]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let amount = s.app.count("select amount_due_minor from invoices where status = 'paid'").await;
    let second = s.insert_attempt(2, "second", day0).await;
    let outcome = s.charge(&second).await;
    let ChargeOutcome::Succeeded { processor_payment_id: intent } = outcome.clone() else { panic!("{outcome:?}") };
    s.succeeded(&second, outcome).await;
    (s, day0, amount, intent)
}

async fn lose_dispute(s: &Scenario, id: &str, intent: &str, amount: i64, at: i64) {
    let withdrawal = json!([{ "id": format!("txn_{id}"), "object": "balance_transaction", "amount": -amount, "fee": 0, "net": -amount }]);
    deliver_signed(
        s,
        dispute_event("charge.dispute.closed", &format!("evt_{id}"), at / 1000, intent, amount, "lost", withdrawal),
    )
    .await;
}

/// The bank returned part of an overpayment in a lost dispute: the rest is still refunded.
#[tokio::test]
async fn a_partly_lost_dispute_of_an_overpayment_leaves_the_rest_to_refund() {
    let (s, day0, amount, intent) = an_overpayment_held().await;
    lose_dispute(&s, "part", &intent, 30_000, day0).await;
    process_inbox(&s.app.db, &s.collector, day0 + 60_000).await.unwrap();
    for minutes in [2, 10] {
        s.pass_at(day0 + minutes * 60_000).await;
    }
    let refunded: Vec<i64> =
        sqlx::query_scalar("select amount_minor from test_mode_refunds").fetch_all(&s.app.db.pool).await.unwrap();
    assert_eq!(refunded, vec![amount - 30_000], "the part the bank did not return");
    assert_eq!(s.ledger("overpayments").await, 0);
    s.assert_reconciled().await;
}

/// The refund was already asked of the processor when the dispute was lost (its own event not in
/// yet): the customer got it twice, which is a loss, and what was held is given back once.
#[tokio::test]
async fn a_lost_dispute_of_an_overpayment_already_refunded_is_a_loss_counted_once() {
    let (s, day0, amount, intent) = an_overpayment_held().await;
    s.pass_at(day0 + 60_000).await; // sends the refund; its event waits in the inbox
    sqlx::query("delete from stripe_events where event_type = 'charge.refunded' and status = 'pending'")
        .execute(&s.app.db.pool)
        .await
        .unwrap();
    lose_dispute(&s, "after_refund", &intent, amount, day0 + 120_000).await;
    process_inbox(&s.app.db, &s.collector, day0 + 180_000).await.unwrap();
    assert_eq!(s.ledger("overpayments").await, -amount, "still held until the refund's own event");
    // The refund's event, as Stripe would send it after all.
    let charge = json!({ "id": "ch_refund", "object": "charge", "amount": amount, "amount_refunded": amount,
        "currency": "usd", "payment_intent": intent, "refunded": true, "status": "succeeded" });
    receive(&s, &event_about("evt_late_refund", "charge.refunded", charge), day0 + 200_000).await;
    process_inbox(&s.app.db, &s.collector, day0 + 240_000).await.unwrap();
    assert_eq!(s.ledger("overpayments").await, 0, "given back once");
    assert_eq!(s.ledger("revenue").await, 0, "the invoice's revenue, less what the customer got twice");
    s.assert_reconciled().await;
}

/// A refund the processor refused, then the dispute lost: the bank returned it, so staff are not
/// asked to refund it by hand any more.
#[tokio::test]
async fn a_refused_refund_the_bank_returned_in_a_lost_dispute_leaves_the_staff_list() {
    let (s, day0, amount, intent) = an_overpayment_held().await;
    sqlx::query("update test_mode_charges set payment_intent_id = 'pi_renamed' where payment_intent_id = $1")
        .bind(&intent)
        .execute(&s.app.db.pool)
        .await
        .unwrap();
    s.pass_at(day0 + 60_000).await;
    assert_eq!(s.app.count("select count(*) from overpayment_refunds where refused_at is not null").await, 1);
    lose_dispute(&s, "refused", &intent, amount, day0 + 120_000).await;
    process_inbox(&s.app.db, &s.collector, day0 + 180_000).await.unwrap();
    let staff = s.app.client_for(&STAFF).await;
    let operations = json(s.app.call_with(&staff, "admin_operations", &[]).await).await;
    assert_eq!(operations["refused_refunds"], json!([]), "{operations}");
    assert_eq!(s.ledger("overpayments").await, 0);
    s.assert_reconciled().await;
}

/// A dispute of a charge whose success is not recorded yet waits for it instead of being dropped.
#[tokio::test]
async fn a_dispute_of_a_charge_not_recorded_yet_waits_for_its_success() {
    let (s, day0, _, _) = an_overpayment_held().await;
    deliver_signed(
        &s,
        dispute_event(
            "charge.dispute.created",
            "evt_early",
            day0 / 1000,
            "pi_not_yet",
            1_000,
            "needs_response",
            json!([]),
        ),
    )
    .await;
    process_inbox(&s.app.db, &s.collector, day0 + 60_000).await.unwrap();
    let status: String = sqlx::query_scalar("select status from stripe_events where id = 'evt_early'")
        .fetch_one(&s.app.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "failed", "tried again later, not ignored");
}

/// A chargeback, told by Stripe's events in any order: the dispute is tied to our payment and
/// invoice, staff see it open with its evidence deadline, the withdrawn funds and the fee are
/// posted once, and the dispute lost writes the revenue off; an older event never undoes a newer one.
#[tokio::test]
async fn a_dispute_is_recorded_posted_and_shown_whatever_the_order_of_its_events() {
    let s = Scenario::new(&["--stripe-webhook-secret", SECRET]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let (invoice, intent, amount): (String, String, i64) = sqlx::query_as(
        "select invoice_id, processor_payment_id, amount_minor from payments where status = 'succeeded'",
    )
    .fetch_one(&s.app.db.pool)
    .await
    .unwrap();
    let t = day0 / 1000 + 86_400;
    let withdrawal = json!([{ "id": "txn_withdrawal", "object": "balance_transaction", "amount": -amount, "fee": 1500, "net": -amount - 1500 }]);

    deliver_signed(
        &s,
        dispute_event("charge.dispute.created", "evt_d1", t, &intent, amount, "needs_response", json!([])),
    )
    .await;
    s.pass_at(day0 + 86_400_000).await;
    let staff = s.app.client_for(&STAFF).await;
    let operations = json(s.app.call_with(&staff, "admin_operations", &[]).await).await;
    let open = &operations["open_disputes"][0];
    assert_eq!(open["reason"], "fraudulent", "{operations}");
    assert_eq!(open["status"], "needs response");
    assert!(open["evidence_due"]["local"].as_str().is_some(), "{open}");

    // The closing event arrives before the withdrawal it includes, then the older withdrawal event.
    let lost = dispute_event("charge.dispute.closed", "evt_d3", t + 20, &intent, amount, "lost", withdrawal.clone());
    deliver_signed(&s, lost).await;
    let withdrawn = dispute_event(
        "charge.dispute.funds_withdrawn",
        "evt_d2",
        t + 10,
        &intent,
        amount,
        "needs_response",
        withdrawal,
    );
    deliver_signed(&s, withdrawn).await;
    s.pass_at(day0 + 86_400_000 + 60_000).await;

    assert_eq!(s.app.count("select count(*) from disputes where status = 'lost'").await, 1, "the newest state is kept");
    assert_eq!(s.ledger("revenue").await, 0, "the revenue of a lost dispute is written off");
    assert_eq!(s.ledger("disputed").await, 0);
    assert_eq!(s.ledger("dispute_fees").await, 1500);
    assert_eq!(s.ledger("processor_clearing").await, -1500);
    assert_eq!(s.app.count("select count(*) from ledger_transactions where kind like 'dispute.%'").await, 2);
    let operations = json(s.app.call_with(&staff, "admin_operations", &[]).await).await;
    assert_eq!(operations["open_disputes"], json!([]));
    let customer = json(s.app.call_with(&staff, "admin_customer", &[("organization_id", &s.acme)]).await).await;
    assert_eq!(customer["disputes"][0]["status"], "lost");
    let detail =
        json(s.app.call_with(&s.owner, "invoice", &[("organization_id", &s.acme), ("invoice_id", &invoice)]).await)
            .await;
    assert_eq!(detail["disputes"][0]["status"], "lost", "{detail}");
    s.assert_reconciled().await;
}

#[tokio::test]
async fn the_past_due_banner_offers_pay_now_to_those_who_keep_the_card_and_tells_members_whom_to_ask() {
    let s = Scenario::new(&[]).await;
    s.save_card("4000 0000 0000 0341").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let page = format!("/orgs/{}", s.acme);
    let owner_html = s.app.get_page(&s.owner, &page).await.text().await.unwrap();
    assert!(owner_html.contains("id=\"past-due-banner\"") && owner_html.contains("id=\"pay-now\""), "{owner_html}");
    let member = s.app.client_for(&ACME_MEMBER).await;
    let member_html = s.app.get_page(&member, &page).await.text().await.unwrap();
    assert!(member_html.contains("id=\"past-due-banner\""), "members see what is owed");
    assert!(!member_html.contains("id=\"pay-now\""), "a member's Pay now would be refused");
    assert!(member_html.contains("id=\"ask-to-pay\""));
}
