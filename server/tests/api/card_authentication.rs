//! A card whose bank asks the card holder to confirm each payment (Stripe's test card 3155): the
//! off-session charge fails, the customer is sent to the invoice's Pay page, and confirming there
//! completes the same PaymentIntent, which pays the invoice and ends dunning. Dunning keeps
//! running meanwhile and asks again at every retry.
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use server::payments::collection::{Collector, run_collections};
use server::payments::domain::dunning::{DAY_MS, DunningPolicy};
use server::payments::processor_events::process_event;

use crate::helpers::*;
use crate::payments::Scenario;

const AUTHENTICATION_CARD: &str = "4000 0025 0000 3155";

impl Scenario {
    async fn latest_invoice(&self) -> String {
        sqlx::query_scalar("select id from invoices where organization_id = $1 order by finalized_at desc limit 1")
            .bind(&self.acme)
            .fetch_one(&self.app.db.pool)
            .await
            .expect("an invoice")
    }

    async fn pay_page(&self, invoice: &str) -> reqwest::Response {
        let form = [("organization_id", self.acme.as_str()), ("invoice_id", invoice)];
        self.app.call_with(&self.owner, "pay_page", &form).await
    }

    async fn confirm(&self, invoice: &str, outcome: &str) -> reqwest::Response {
        let form = [("organization_id", self.acme.as_str()), ("invoice_id", invoice), ("outcome", outcome)];
        self.app.call_with(&self.owner, "confirm_test_payment", &form).await
    }

    /// (status, failure code) of every charge the test processor made, oldest first.
    async fn processor_charges(&self) -> Vec<(String, Option<String>)> {
        sqlx::query_as("select status, failure_code from test_mode_charges order by created_at, payment_intent_id")
            .fetch_all(&self.app.db.pool)
            .await
            .expect("test charges")
    }

    /// Subject and body of each notice of `kind`, oldest first.
    async fn notices(&self, kind: &str) -> Vec<(String, String)> {
        sqlx::query_as(
            "select subject, body from notifications where organization_id = $1 and kind = $2 order by created_at, id",
        )
        .bind(&self.acme)
        .bind(kind)
        .fetch_all(&self.app.db.pool)
        .await
        .expect("notifications")
    }
}

fn timeline_kinds(banner: &Value) -> Vec<String> {
    banner["past_due"][0]["timeline"]
        .as_array()
        .map(|entries| entries.iter().filter_map(|e| e["kind"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_payment_the_bank_must_confirm_is_sent_as_a_link_and_approving_it_pays_the_invoice() {
    let s = Scenario::new(&[]).await;
    s.save_card(AUTHENTICATION_CARD).await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let invoice = s.latest_invoice().await;
    assert_eq!(s.invoice_status().await, "open");
    assert_eq!(s.subscription_status().await, "past_due");

    // The customer is asked to confirm instead of being told the payment failed.
    let asked = s.notices("authentication_required").await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    let link = format!("{}/orgs/{}/invoices/{invoice}/pay", s.app.address, s.acme);
    assert!(asked[0].1.contains(&link), "{}", asked[0].1);
    assert!(s.notices("payment_failed").await.is_empty());
    let banner = s.banner().await;
    assert_eq!(banner["past_due"][0]["awaits_confirmation"], true, "{banner}");

    let page = json(s.pay_page(&invoice).await).await;
    assert_eq!(page["step"], "TestAuthentication", "{page}");
    assert_eq!(page["card"]["last4"], "3155");

    // Failing the bank's step charges nothing and leaves the payment waiting.
    let failed = s.confirm(&invoice, "fail").await;
    assert_eq!(failed.status(), StatusCode::OK);
    let failed = json(failed).await;
    assert_eq!(failed["step"], "TestAuthentication");
    assert!(failed["notice"].as_str().unwrap_or_default().contains("nothing was charged"), "{failed}");
    assert_eq!(s.invoice_status().await, "open");
    assert!(timeline_kinds(&s.banner().await).contains(&"authentication_failed".to_owned()));

    let approved = json(s.confirm(&invoice, "approve").await).await;
    assert_eq!(approved["step"], "Paid", "{approved}");
    assert_eq!(s.invoice_status().await, "paid");
    assert_eq!(s.subscription_status().await, "active");
    let collection: String = sqlx::query_scalar("select status from collections where invoice_id = $1")
        .bind(&invoice)
        .fetch_one(&s.app.db.pool)
        .await
        .unwrap();
    assert_eq!(collection, "paid");
    // The same PaymentIntent completed: one charge, and the one attempt turned succeeded.
    assert_eq!(s.processor_charges().await, vec![("succeeded".to_owned(), None)]);
    let payments = s.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0].1, "succeeded");
    assert_eq!(s.notices("receipt").await.len(), 1);
    assert!(s.banner().await["past_due"].as_array().is_some_and(Vec::is_empty));
    let amount_due: i64 = sqlx::query_scalar("select amount_due_minor from invoices where id = $1")
        .bind(&invoice)
        .fetch_one(&s.app.db.pool)
        .await
        .unwrap();
    assert_eq!(s.ledger("processor_clearing").await, amount_due);
    assert_eq!(s.ledger("receivable").await, 0);
    s.app.assert_reconciled(0).await;

    // Approving again charges nothing more.
    let again = s.confirm(&invoice, "approve").await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(s.processor_charges().await.len(), 1);
    let audited = s.app.count("select count(*) from audit_log where action like 'payment.authentication_%'").await;
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn dunning_keeps_running_and_asks_again_at_each_retry_until_the_card_holder_confirms() {
    let s = Scenario::new(&[]).await;
    s.save_card(AUTHENTICATION_CARD).await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    s.pass_at(day0 + 3 * DAY_MS).await;
    s.pass_at(day0 + 7 * DAY_MS).await;
    let asked = s.notices("authentication_required").await;
    assert_eq!(asked.len(), 3, "one reminder per attempt: {asked:?}");
    let step: i64 = sqlx::query_scalar("select dunning_step from collections").fetch_one(&s.app.db.pool).await.unwrap();
    assert_eq!(step, 2, "waiting for the day-10 retry");

    // The page confirms the latest PaymentIntent; the earlier ones stay unpaid.
    let invoice = s.latest_invoice().await;
    s.app.db.clock.set(day0 + 8 * DAY_MS);
    let approved = json(s.confirm(&invoice, "approve").await).await;
    assert_eq!(approved["step"], "Paid", "{approved}");
    let charges = s.processor_charges().await;
    assert_eq!(charges.iter().filter(|(status, _)| status == "succeeded").count(), 1, "{charges:?}");
    assert_eq!(charges.last().map(|c| c.0.as_str()), Some("succeeded"));
    s.pass_at(day0 + 10 * DAY_MS).await;
    assert_eq!(s.processor_charges().await.len(), 3, "no retry after the invoice was paid");
    assert_eq!(s.subscription_status().await, "active");
}

#[tokio::test]
async fn two_approvals_at_once_complete_the_payment_once() {
    let s = Scenario::new(&[]).await;
    s.save_card(AUTHENTICATION_CARD).await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let invoice = s.latest_invoice().await;
    let (first, second) = tokio::join!(s.confirm(&invoice, "approve"), s.confirm(&invoice, "approve"));
    let statuses = [first.status(), second.status()];
    assert!(statuses.contains(&StatusCode::OK), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT), "{statuses:?}");
    assert_eq!(s.invoice_status().await, "paid");
    assert_eq!(s.processor_charges().await, vec![("succeeded".to_owned(), None)]);
    assert_eq!(s.app.count("select count(*) from payments where status = 'succeeded'").await, 1);
    assert_eq!(s.notices("receipt").await.len(), 1);
    s.app.assert_reconciled(0).await;
}

#[tokio::test]
async fn only_owners_and_billing_members_confirm_and_only_a_payment_that_waits() {
    let s = Scenario::new(&[]).await;
    s.save_card("4000 0000 0000 0341").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let invoice = s.latest_invoice().await;
    // A declined card is not something the bank can confirm: a new card is the way.
    let page = json(s.pay_page(&invoice).await).await;
    assert_eq!(page["step"], "NothingToConfirm", "{page}");
    assert_eq!(s.banner().await["past_due"][0]["awaits_confirmation"], false);
    let refused = s.confirm(&invoice, "approve").await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(json(refused).await["field"], "invoice_id");

    let bad = s.confirm(&invoice, "maybe").await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(bad).await["field"], "outcome");
    let member = s.app.client_for(&ACME_MEMBER).await;
    let form = [("organization_id", s.acme.as_str()), ("invoice_id", invoice.as_str()), ("outcome", "approve")];
    assert_eq!(s.app.call_with(&member, "confirm_test_payment", &form).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.app.call_with(&member, "pay_page", &form[..2]).await.status(), StatusCode::FORBIDDEN);
    // Another organization's invoice is not found through this one.
    let globex = s.app.organization_id("Globex").await;
    let globex_owner = s.app.client_for(&GLOBEX_OWNER).await;
    let form = [("organization_id", globex.as_str()), ("invoice_id", invoice.as_str())];
    assert_eq!(s.app.call_with(&globex_owner, "pay_page", &form).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_confirmation_that_lands_while_a_retry_is_charging_leaves_the_invoice_paid_and_the_service_running() {
    let s = Scenario::new(&[]).await;
    s.save_card(AUTHENTICATION_CARD).await;
    let day0 = s.finalize_first_invoice().await;
    for day in [0, 3, 7] {
        s.pass_at(day0 + day * DAY_MS).await;
    }
    let invoice = s.latest_invoice().await;
    let waiting: String = sqlx::query_scalar(
        "select processor_payment_id from payments where invoice_id = $1 order by attempt desc limit 1",
    )
    .bind(&invoice)
    .fetch_one(&s.app.db.pool)
    .await
    .unwrap();
    // A slow processor: the day-10 retry's answer comes half a second after its charge is made,
    // and the card holder confirms the waiting payment in between.
    let slow = Collector::test_mode(&s.app.db, DunningPolicy::default(), Duration::from_millis(500), &s.app.address);
    let day10 = day0 + 10 * DAY_MS;
    s.app.db.clock.set(day10);
    let confirm = async {
        while s.app.count("select count(*) from test_mode_charges").await < 4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let test_mode = slow.test_mode.as_ref().unwrap();
        let event = test_mode.authenticate(&waiting, &invoice, true).await.unwrap().expect("an event");
        process_event(&s.app.db, &slow, &event, day10).await.unwrap();
    };
    let (collected, ()) = tokio::join!(run_collections(&s.app.db, &slow, day10), confirm);
    assert_eq!(collected.unwrap().failed, 1, "the retry's own charge failed");
    assert_eq!(s.invoice_status().await, "paid");
    assert_eq!(s.subscription_status().await, "active");
    let collection: String =
        sqlx::query_scalar("select status from collections").fetch_one(&s.app.db.pool).await.unwrap();
    assert_eq!(collection, "paid");
    assert_eq!(s.app.count("select count(*) from namespaces where suspended_at is not null").await, 0);
    assert!(s.notices("suspended").await.is_empty());
    assert_eq!(s.notices("authentication_required").await.len(), 3, "no reminder for a paid invoice");
    s.pass_at(day0 + 30 * DAY_MS).await;
    assert_eq!(s.subscription_status().await, "active");
}

#[tokio::test]
async fn a_voided_invoice_offers_nothing_to_confirm() {
    let s = Scenario::new(&[]).await;
    s.save_card(AUTHENTICATION_CARD).await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let invoice = s.latest_invoice().await;
    let staff = s.app.client_for(&STAFF).await;
    let void = [("invoice_id", invoice.as_str()), ("reason", "billed in error")];
    assert_eq!(s.app.call_with(&staff, "void_invoice", &void).await.status(), StatusCode::OK);
    let page = json(s.pay_page(&invoice).await).await;
    assert_eq!(page["step"], "NothingToConfirm", "{page}");
    assert_eq!(s.confirm(&invoice, "approve").await.status(), StatusCode::CONFLICT);
    assert_eq!(
        s.processor_charges().await,
        vec![("requires_payment_method".to_owned(), Some("authentication_required".to_owned()))]
    );
}

#[tokio::test]
async fn pay_now_while_the_bank_waits_for_the_card_holder_does_not_mail_the_link_again() {
    let s = Scenario::new(&[]).await;
    s.save_card(AUTHENTICATION_CARD).await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    for _ in 0..2 {
        let paid = s.app.call_with(&s.owner, "pay_now", &[("organization_id", &s.acme)]).await;
        assert_eq!(paid.status(), StatusCode::OK);
    }
    assert_eq!(s.notices("authentication_required").await.len(), 1, "the customer is on the page: the banner links");
    assert_eq!(s.banner().await["past_due"][0]["awaits_confirmation"], true);
    let invoice = s.latest_invoice().await;
    assert_eq!(json(s.confirm(&invoice, "approve").await).await["step"], "Paid");
    assert_eq!(s.app.count("select count(*) from test_mode_charges where status = 'succeeded'").await, 1);
}
