//! The Stripe channel (async-stripe) against the fake Stripe: the requests it sends, how it reads
//! declines, and its retries under one idempotency key; then the whole portal running on it.
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use server::billing::invoicing::run_billing_cycle;
use server::payments::channel::ChannelError;
use server::payments::channel::ChargeOutcome;
use server::payments::channel::ChargeRequest;
use server::payments::channel::PaymentChannel;
use server::payments::channel::SetupStart;
use server::payments::channel::stripe::StripeChannel;
use server::payments::collection::{Collector, retry_now};
use server::payments::db::stripe_events::{ReceivedEvent, insert_event};
use server::payments::domain::dunning::DunningPolicy;
use server::payments::domain::stripe_signature::sign;
use server::payments::pass::run_payments_pass;
use server::payments::processor_checks::run_check_now;
use server::payments::processor_events::process_inbox;
use server::shared::time::parse_rfc3339_or_date;

use crate::fake_stripe::{FakeStripe, Scripted};
use crate::helpers::*;
use crate::payments::setup_event;

fn charge<'a>(key: &'a str) -> ChargeRequest<'a> {
    ChargeRequest {
        customer_id: "cus_fake1",
        payment_method_id: "pm_card_visa",
        amount_minor: 12_345,
        currency: "USD",
        idempotency_key: key,
        invoice_id: "in_1",
        payment_id: "pay_1",
    }
}

#[tokio::test]
async fn the_adapter_sends_what_stripe_expects_and_reads_its_answers() {
    let fake = FakeStripe::start().await;
    let stripe = StripeChannel::new("sk_test_fake", Some(&fake.url)).unwrap();

    let customer = stripe.ensure_customer("org_1", "ap@acme.test").await.unwrap();
    assert_eq!(customer, "cus_fake1");
    let sent = &fake.requests_to("/v1/customers")[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.field("email"), Some("ap@acme.test"));
    assert_eq!(sent.field("metadata[organization_id]"), Some("org_1"));
    assert_eq!(sent.idempotency_key.as_deref(), Some("customer-org_1"));
    assert_eq!(sent.authorization.as_deref(), Some("Bearer sk_test_fake"));

    let outcome = stripe.charge(&charge("in_1:first")).await.unwrap();
    assert_eq!(outcome, ChargeOutcome::Succeeded { processor_payment_id: "pi_fake2".into() });
    let sent = &fake.requests_to("/v1/payment_intents")[0];
    for (field, value) in [
        ("amount", "12345"),
        ("currency", "usd"),
        ("customer", "cus_fake1"),
        ("payment_method", "pm_card_visa"),
        ("confirm", "true"),
        ("off_session", "true"),
        ("metadata[invoice_id]", "in_1"),
        ("metadata[payment_id]", "pay_1"),
    ] {
        assert_eq!(sent.field(field), Some(value), "{field}");
    }
    assert_eq!(sent.idempotency_key.as_deref(), Some("in_1:first"));

    let card = stripe.payment_method("pm_card_visa").await.unwrap();
    assert_eq!((card.brand.as_str(), card.last4.as_str(), card.exp_month, card.exp_year), ("visa", "4242", 8, 2032));
    assert_eq!(fake.requests_to("/v1/payment_methods/pm_card_visa")[0].method, "GET");

    let setup = stripe.start_setup("cus_fake1", "http://portal.test/orgs/org_1/payment").await.unwrap();
    assert_eq!(setup, SetupStart::Redirect("https://checkout.stripe.com/c/pay/cs_test_fake4".into()));
    let sent = &fake.requests_to("/v1/checkout/sessions")[0];
    assert_eq!(sent.field("mode"), Some("setup"));
    assert_eq!(sent.field("customer"), Some("cus_fake1"));
    assert_eq!(sent.field("success_url"), Some("http://portal.test/orgs/org_1/payment?setup=done"));
}

#[tokio::test]
async fn declines_become_reasons_and_transient_failures_are_retried_under_the_same_key() {
    let fake = FakeStripe::start().await;
    let stripe = StripeChannel::new("sk_test_fake", Some(&fake.url)).unwrap();

    fake.then(Scripted::Decline("insufficient_funds"));
    let ChargeOutcome::Failed { processor_payment_id, failure } = stripe.charge(&charge("k-decline")).await.unwrap()
    else {
        panic!("a decline is a failed charge")
    };
    assert_eq!(processor_payment_id.as_deref(), Some("pi_fake1"));
    assert_eq!(failure.code, "insufficient_funds");
    assert_eq!(failure.message, "Your card was declined.");

    fake.then(Scripted::Status(500));
    fake.then(Scripted::Status(429));
    let outcome = stripe.charge(&charge("k-retried")).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }));
    let keys: Vec<Option<String>> =
        fake.requests_to("/v1/payment_intents").into_iter().skip(1).map(|r| r.idempotency_key).collect();
    assert_eq!(keys, vec![Some("k-retried".to_owned()); 3], "three tries, one key");

    // The same key again (a step run after a crash) is answered from Stripe's record: no new charge.
    let before = fake.payment_intents_created();
    assert_eq!(stripe.charge(&charge("k-retried")).await.unwrap(), outcome);
    assert_eq!(fake.payment_intents_created(), before);

    for _ in 0..3 {
        fake.then(Scripted::Status(503));
    }
    assert!(matches!(stripe.charge(&charge("k-down")).await, Err(ChannelError::Unavailable(_))));
    fake.then(Scripted::Status(400));
    assert!(matches!(stripe.charge(&charge("k-bad")).await, Err(ChannelError::Refused(_))));
}

#[tokio::test]
async fn refunds_and_payment_states_go_to_stripe_under_their_keys() {
    let fake = FakeStripe::start().await;
    let stripe = StripeChannel::new("sk_test_fake", Some(&fake.url)).unwrap();
    let refund = stripe.refund("pi_fake9", 1_000, "refund-k1").await.unwrap();
    assert_eq!(refund, "re_fake1");
    let sent = &fake.requests_to("/v1/refunds")[0];
    assert_eq!(sent.field("payment_intent"), Some("pi_fake9"));
    assert_eq!(sent.field("amount"), Some("1000"));
    assert_eq!(sent.idempotency_key.as_deref(), Some("refund-k1"));

    // A payment still processing is reported as such, then read back rather than charged again.
    fake.then(Scripted::Processing);
    let pending = stripe.charge(&charge("k-slow")).await.unwrap();
    assert_eq!(pending, ChargeOutcome::Pending { processor_payment_id: "pi_fake2".into() });
    let state = stripe.payment_state("pi_fake2").await.unwrap();
    assert_eq!(state, ChargeOutcome::Succeeded { processor_payment_id: "pi_fake2".into() });
    assert_eq!(fake.requests_to("/v1/payment_intents/pi_fake2")[0].method, "GET");
    assert_eq!(fake.requests_to("/v1/payment_intents").len(), 1, "charged once");
}

const SECRET: &str = "whsec_stripe_mode";

#[tokio::test]
async fn with_a_stripe_key_the_portal_sets_up_cards_on_stripe_and_charges_invoices_there() {
    let fake = FakeStripe::start().await;
    let start = parse_rfc3339_or_date("2027-03-01T00:00:00Z").unwrap();
    let extra = [
        "--stripe-secret-key",
        "sk_test_fake",
        "--stripe-api-base",
        fake.url.as_str(),
        "--stripe-webhook-secret",
        SECRET,
        "--payments-interval-seconds",
        "1",
    ];
    let app = spawn_app_at(Some(start), &extra).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;

    let page = json(app.call_with(&owner, "payment_method", &[("organization_id", &acme)]).await).await;
    assert_eq!(page["test_mode"], false);
    let refused = app
        .call_with(
            &owner,
            "save_test_card",
            &[("organization_id", &acme), ("number", "4242424242424242"), ("exp_month", "1"), ("exp_year", "2031")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT, "no card numbers through the portal with Stripe");
    let setup = app.call_with(&owner, "start_card_setup", &[("organization_id", &acme)]).await;
    assert_eq!(json(setup).await, json!("https://checkout.stripe.com/c/pay/cs_test_fake2"));

    // Stripe reports the completed setup by webhook; the worker stores the card it reads back.
    let created = start / 1000;
    let event = setup_event("evt_setup_1", "cus_fake1", "pm_card_visa", created);
    let signature = format!("t={created},v1={}", sign(SECRET, created, event.as_bytes()));
    let delivered = new_client()
        .post(app.url("/stripe/webhook"))
        .header("stripe-signature", signature)
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), StatusCode::OK);
    let card_on_file = || async {
        let page = json(app.call_with(&owner, "payment_method", &[("organization_id", &acme)]).await).await;
        page["card"]["last4"].as_str().map(str::to_owned)
    };
    // The payments job passes every second; beside the whole suite on PostgreSQL one pass has
    // taken over five, so each wait allows thirty.
    for _ in 0..300 {
        if card_on_file().await.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(card_on_file().await.as_deref(), Some("4242"));

    // Stripe accepts the charge but is still processing it: the attempt waits, then is read back.
    fake.then(Scripted::Processing);
    let mut now = 0;
    for instant in ["2027-04-01T00:00:00Z", "2027-04-03T01:00:00Z"] {
        now = parse_rfc3339_or_date(instant).unwrap();
        app.db.clock.set(now);
        run_billing_cycle(&app.db, &app.rules, now).await.unwrap();
    }
    let invoice: String = sqlx::query_scalar("select id from invoices").fetch_one(&app.db.pool).await.unwrap();
    let waiting = "select count(*) from payments where status = 'pending' and processor_payment_id is not null";
    for _ in 0..300 {
        if app.count(waiting).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.count(waiting).await, 1, "pending, with Stripe's id remembered");
    app.db.clock.set(now + 10 * 60_000);
    for _ in 0..300 {
        if app.count("select count(*) from invoices where status = 'paid'").await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.count("select count(*) from invoices where status = 'paid'").await, 1);
    let charged: Vec<_> = fake.requests_to("/v1/payment_intents").into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(charged.len(), 1);
    assert_eq!(charged[0].idempotency_key.as_deref(), Some(format!("{invoice}:first").as_str()));
    assert_eq!(charged[0].field("customer"), Some("cus_fake1"));
    assert_eq!(fake.requests().iter().filter(|r| r.path.starts_with("/v1/payment_intents/")).count(), 1);
}

/// Acme's invoice open, with a card on Stripe, and an attempt written as the collector writes one
/// before it calls Stripe; `charged` says whether Stripe received it before the server died.
async fn an_attempt_of_unknown_outcome(
    fake: &FakeStripe,
    charged: bool,
) -> (crate::payments::Scenario, Collector, i64) {
    let s = crate::payments::Scenario::new(&[]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    let mut conn = s.app.db.pool.acquire().await.unwrap();
    sqlx::query(
        "update payment_profiles set channel = 'stripe', customer_id = 'cus_fake1', payment_method_id = 'pm_card_visa'",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    let collector = Collector {
        channel: Arc::new(StripeChannel::new("sk_test_fake", Some(&fake.url)).unwrap()),
        channel_name: "stripe",
        test_mode: None,
        policy: DunningPolicy::default(),
        portal_url: s.app.address.clone(),
    };
    let payment = s.insert_attempt(1, "first", day0).await;
    if charged {
        let outcome = collector
            .channel
            .charge(&ChargeRequest {
                customer_id: "cus_fake1",
                payment_method_id: "pm_card_visa",
                amount_minor: payment.amount_minor,
                currency: &payment.currency,
                idempotency_key: &payment.idempotency_key,
                invoice_id: &payment.invoice_id,
                payment_id: &payment.id,
            })
            .await
            .unwrap();
        assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }));
    }
    (s, collector, day0)
}

/// Stripe forgets an idempotency key after 24 hours. An attempt whose outcome is unknown for
/// longer is settled from the PaymentIntent Stripe already has, found by our payment id; sending
/// it again under the old key would charge the customer a second time.
#[tokio::test]
async fn an_attempt_unknown_for_over_a_day_is_settled_from_stripe_not_charged_again() {
    let fake = FakeStripe::start().await;
    let (s, collector, day0) = an_attempt_of_unknown_outcome(&fake, true).await;
    fake.advance(Duration::from_secs(25 * 3600));
    let now = day0 + 25 * 3_600_000;
    s.app.db.clock.set(now);

    retry_now(&s.app.db, &collector, &s.acme, None, now).await.unwrap();
    assert_eq!(fake.payment_intents_created(), 1, "charged once");
    assert_eq!(fake.requests_to("/v1/payment_intents/search").len(), 1);
    assert_eq!(s.invoice_status().await, "paid");
    s.assert_reconciled().await;
}

/// The same, when the attempt never reached Stripe: nothing is found, so it is sent again under a
/// key naming a new generation of the attempt, and charged once.
#[tokio::test]
async fn an_attempt_stripe_never_saw_is_sent_again_under_a_new_generation_of_its_key() {
    let fake = FakeStripe::start().await;
    let (s, collector, day0) = an_attempt_of_unknown_outcome(&fake, false).await;
    fake.advance(Duration::from_secs(25 * 3600));
    let now = day0 + 25 * 3_600_000;
    s.app.db.clock.set(now);

    retry_now(&s.app.db, &collector, &s.acme, None, now).await.unwrap();
    let charges = fake.requests_to("/v1/payment_intents");
    assert_eq!(charges.len(), 1);
    let key = charges[0].idempotency_key.clone().unwrap();
    assert!(key.ends_with(":first:gen2"), "{key}");
    assert_eq!(s.invoice_status().await, "paid");
    // A later pass finds the attempt settled and sends nothing.
    retry_now(&s.app.db, &collector, &s.acme, None, now + 3_600_000).await.unwrap();
    assert_eq!(fake.payment_intents_created(), 1);
}

/// A lookup Stripe refuses (or cannot answer) says nothing about the card: the attempt stays
/// pending and is looked up again later; it is not recorded as a failed payment.
#[tokio::test]
async fn a_failed_lookup_of_an_old_attempt_leaves_it_pending_not_failed() {
    let fake = FakeStripe::start().await;
    let (s, collector, day0) = an_attempt_of_unknown_outcome(&fake, true).await;
    fake.advance(Duration::from_secs(25 * 3600));
    let now = day0 + 25 * 3_600_000;
    s.app.db.clock.set(now);
    fake.then(Scripted::Status(400));

    retry_now(&s.app.db, &collector, &s.acme, None, now).await.unwrap();
    assert_eq!(s.app.count("select count(*) from payments where status = 'pending'").await, 1);
    assert_eq!(s.invoice_status().await, "open");
    assert_eq!(s.app.count("select count(*) from notifications where kind = 'payment_failed'").await, 0);
    assert_eq!(fake.payment_intents_created(), 1, "nothing sent again");
}

/// Webhooks get lost. The processor check reads Stripe's events and charges back: the lost
/// `payment_intent.succeeded` is applied by the webhook's own handler (the invoice is paid, once),
/// and a charge made outside the portal is listed for staff, by the operations view and by
/// `server reconcile --processor`, which exits non-zero.
/// The check reads every page to the oldest; it recovers only events the portal acts on; a charge
/// whose success is delivered but not yet applied is not a discrepancy while it is that fresh.
#[tokio::test]
async fn the_processor_check_reads_every_page_and_counts_only_what_it_acts_on() {
    let fake = FakeStripe::start().await;
    let (s, collector, day0) = an_attempt_of_unknown_outcome(&fake, true).await;
    let success = fake.events()[0].clone();
    let delivered = ReceivedEvent {
        id: success["id"].as_str().unwrap(),
        event_type: success["type"].as_str().unwrap(),
        created: success["created"].as_i64().unwrap(),
        livemode: false,
        payload: &success.to_string(),
        received_at: day0,
    };
    assert!(insert_event(&mut *s.app.db.pool.acquire().await.unwrap(), &delivered).await.unwrap());
    for _ in 0..3 {
        fake.account_event("balance.available");
    }
    let now = day0 + 60_000;
    s.app.db.clock.set(now);

    let check = run_check_now(&s.app.db, &collector, now).await.unwrap();
    assert_eq!(check.events_recovered, 0, "balance events are not ours to apply");
    assert_eq!(check.charges_checked, 1);
    assert_eq!(check.discrepancies, Vec::<String>::new(), "the success waits in the inbox");

    for amount in [101, 102, 103] {
        fake.foreign_charge(amount, "cus_stranger");
    }
    let check = run_check_now(&s.app.db, &collector, now + 60_000).await.unwrap();
    assert_eq!(check.events_recovered, 3, "each foreign charge's success, across pages");
    assert_eq!(check.charges_checked, 4);
    assert_eq!(check.discrepancies.len(), 3, "{:?}", check.discrepancies);
    assert!(check.discrepancies[2].contains("of $1.01"), "the oldest, on the last page: {:?}", check.discrepancies);
    assert_eq!(s.invoice_status().await, "paid", "the waiting success was applied with them");
}

#[tokio::test]
async fn the_processor_check_applies_a_lost_webhook_and_lists_a_charge_the_portal_never_made() {
    let fake = FakeStripe::start().await;
    let (s, collector, day0) = an_attempt_of_unknown_outcome(&fake, true).await;
    fake.foreign_charge(1_234, "cus_stranger");
    fake.customer_with_default("cus_stranger", "pm_theirs");
    fake.customer_with_default("cus_fake1", "pm_card_visa");
    let now = day0 + 60_000;
    s.app.db.clock.set(now);

    let check = run_check_now(&s.app.db, &collector, now).await.unwrap();
    assert_eq!(check.events_recovered, 2, "the lost success and the foreign charge's event");
    assert_eq!(s.invoice_status().await, "paid");
    assert_eq!(s.app.count("select count(*) from payments where status = 'succeeded'").await, 1);
    assert_eq!(s.app.count("select count(*) from ledger_transactions where kind = 'payment.received'").await, 1);
    assert_eq!(check.charges_checked, 2);
    assert_eq!(
        check.discrepancies,
        vec!["charge pi_fake2 of $12.34 (cus_stranger) matches no payment of ours".to_owned()]
    );
    assert_eq!(fake.payment_intents_created(), 2, "nothing charged by the check");

    // The next check starts where this one did: nothing new to apply, the stranger still listed.
    let again = run_check_now(&s.app.db, &collector, now + 3_600_000).await.unwrap();
    assert_eq!((again.events_recovered, again.discrepancies.len()), (0, 1));
    assert_eq!(again.since, now - 3_600_000, "from the last check's start, with an hour's overlap");
    s.assert_reconciled().await;

    let admin = s.app.client_for(&STAFF).await;
    let page = s.app.get_page(&admin, "/admin/operations").await.text().await.unwrap();
    assert!(page.contains("2 charges checked, 1 discrepancies"), "{page}");
    assert!(page.contains("charge pi_fake2 of $12.34 (cus_stranger) matches no payment of ours"));

    // Run beside this test's runtime, which keeps serving the fake Stripe meanwhile.
    let (database_url, stripe_url) = (s.app.database_url.clone(), fake.url.clone());
    let command = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--database-url", &database_url, "--stripe-secret-key", "sk_test_fake"])
            .args(["--stripe-api-base", &stripe_url, "reconcile", "--processor"])
            .output()
            .expect("run server reconcile --processor")
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&command.stdout);
    assert!(!command.status.success(), "{printed}{}", String::from_utf8_lossy(&command.stderr));
    assert!(
        printed.contains("MISMATCH processor charge pi_fake2 of $12.34 (cus_stranger) matches no payment of ours"),
        "{printed}"
    );
    assert!(printed.contains("processor: since"), "{printed}");

    // A default method changed at the processor, with no event left to say so, is listed too.
    fake.customer_with_default("cus_fake1", "pm_from_the_dashboard");
    let later = run_check_now(&s.app.db, &collector, now + 7_200_000).await.unwrap();
    let changed = format!(
        "customer cus_fake1 ({}): the processor's default payment method is pm_from_the_dashboard, ours is pm_card_visa",
        s.acme
    );
    assert!(later.discrepancies.contains(&changed), "{:?}", later.discrepancies);
}

/// Acme's first invoice, charged on Stripe with a card whose bank asks the card holder to confirm
/// it: the PaymentIntent waits on the Pay page. Answers the scenario, a Stripe collector, and the
/// invoice.
async fn a_stripe_payment_waiting_for_the_card_holder(
    fake: &FakeStripe,
) -> (crate::payments::Scenario, Collector, String) {
    let extra = [
        "--stripe-secret-key",
        "sk_test_fake",
        "--stripe-api-base",
        fake.url.as_str(),
        "--stripe-webhook-secret",
        SECRET,
        "--stripe-publishable-key",
        "pk_test_fake",
        "--payments-interval-seconds",
        "3600",
    ];
    let s = crate::payments::Scenario::new(&extra).await;
    sqlx::query(
        "insert into payment_profiles (organization_id, channel, customer_id, payment_method_id, brand, last4,
             exp_month, exp_year, method_set_at, updated_at)
         values ($1, 'stripe', 'cus_fake1', 'pm_card_authenticationRequired', 'visa', '3155', 12, 2031, 0, 0)",
    )
    .bind(&s.acme)
    .execute(&s.app.db.pool)
    .await
    .unwrap();
    let collector = Collector {
        channel: Arc::new(StripeChannel::new("sk_test_fake", Some(&fake.url)).unwrap()),
        channel_name: "stripe",
        test_mode: None,
        policy: DunningPolicy::default(),
        portal_url: s.app.address.clone(),
    };
    let day0 = s.finalize_first_invoice().await;
    fake.then(Scripted::AuthenticationRequired);
    s.app.db.clock.set(day0);
    run_payments_pass(&s.app.db, &collector, &s.outbox).await.unwrap();
    assert_eq!(s.invoice_status().await, "open");
    assert_eq!(s.subscription_status().await, "past_due");
    let invoice: String =
        sqlx::query_scalar("select id from invoices where status = 'open'").fetch_one(&s.app.db.pool).await.unwrap();
    (s, collector, invoice)
}

/// Delivers a Stripe event as Stripe does (signed, to the webhook) and lets the inbox process it.
async fn deliver(s: &crate::payments::Scenario, collector: &Collector, event: serde_json::Value) {
    let event = event.to_string();
    let created = s.app.db.clock.now_ms() / 1000;
    let signature = format!("t={created},v1={}", sign(SECRET, created, event.as_bytes()));
    let delivered =
        new_client().post(s.app.url("/stripe/webhook")).header("stripe-signature", signature).body(event).send();
    assert_eq!(delivered.await.unwrap().status(), StatusCode::OK);
    process_inbox(&s.app.db, collector, s.app.db.clock.now_ms()).await.unwrap();
}

#[tokio::test]
async fn with_stripe_the_pay_page_hands_the_waiting_payment_intent_to_stripe_js_and_its_success_pays_the_invoice() {
    let fake = FakeStripe::start().await;
    let (s, collector, invoice) = a_stripe_payment_waiting_for_the_card_holder(&fake).await;

    // The page gives Stripe.js what it confirms the same PaymentIntent with.
    let form = [("organization_id", s.acme.as_str()), ("invoice_id", invoice.as_str())];
    let page = json(s.app.call_with(&s.owner, "pay_page", &form).await).await;
    assert_eq!(
        page["step"],
        json!({ "Stripe": { "publishable_key": "pk_test_fake", "client_secret": "pi_fake1_secret_fake",
            "payment_method_id": "pm_card_authenticationRequired" } }),
        "{page}"
    );
    // Only the Pay page admits Stripe.js, and it carries the confirmation's inputs.
    let path = format!("/orgs/{}/invoices/{invoice}/pay", s.acme);
    let html = s.app.get_page(&s.owner, &path).await;
    let policy = html.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self' https://js.stripe.com"), "{policy}");
    let frames = "frame-src 'self' https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com";
    assert!(policy.contains(frames), "{policy}");
    let html = html.text().await.unwrap();
    assert!(html.contains("/stripe-confirm.js") && html.contains("pi_fake1_secret_fake"), "{html}");
    let invoice_page = s.app.get_page(&s.owner, &format!("/orgs/{}/invoices/{invoice}", s.acme)).await;
    assert!(!invoice_page.headers()["content-security-policy"].to_str().unwrap().contains("stripe"));
    let approve = [form[0], form[1], ("outcome", "approve")];
    let test_step = s.app.call_with(&s.owner, "confirm_test_payment", &approve).await;
    assert_eq!(test_step.status(), StatusCode::CONFLICT, "no simulated bank step with Stripe");

    // The card holder passes their bank's check; Stripe's signed event settles the same attempt.
    deliver(&s, &collector, fake.authenticate("pi_fake1")).await;
    assert_eq!(s.invoice_status().await, "paid");
    assert_eq!(s.subscription_status().await, "active");
    assert_eq!(fake.payment_intents_created(), 1, "the same PaymentIntent completed; nothing charged twice");
    let page = json(s.app.call_with(&s.owner, "pay_page", &form).await).await;
    assert_eq!(page["step"], "Paid");
    s.app.assert_reconciled(0).await;
}

#[tokio::test]
async fn a_card_declined_after_its_holder_confirmed_it_is_no_longer_offered_for_confirmation() {
    let fake = FakeStripe::start().await;
    let (s, collector, invoice) = a_stripe_payment_waiting_for_the_card_holder(&fake).await;
    // The card holder passes the bank's check, then the bank declines the charge.
    deliver(&s, &collector, fake.decline_after_authentication("pi_fake1", "insufficient_funds")).await;
    let form = [("organization_id", s.acme.as_str()), ("invoice_id", invoice.as_str())];
    let page = json(s.app.call_with(&s.owner, "pay_page", &form).await).await;
    assert_eq!(page["step"], "NothingToConfirm", "{page}");
    let banner = s.banner().await;
    assert_eq!(banner["past_due"][0]["awaits_confirmation"], false, "{banner}");
    assert!(banner["last_failure"].as_str().unwrap_or_default().contains("insufficient funds"), "{banner}");
    assert_eq!(s.invoice_status().await, "open");
}
