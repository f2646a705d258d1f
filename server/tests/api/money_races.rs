//! Money paths raced by two transactions at once, made to overlap on purpose: a third
//! transaction holds a lock both need until both have read what they are about to change. On
//! SQLite (one writer) they run one after the other; on PostgreSQL they truly interleave.
use std::time::Duration;

use server::admin::reconciliation::invoices::reconcile_billing;
use server::billing::db::invoices;
use server::billing::db::ledger::{self, PostingCause};
use server::billing::domain::ledger::Posting;
use server::billing::invoice_run::finalize_drafts;
use server::billing::invoicing::run_billing_cycle;
use server::billing::period_rating::{BillingRules, PlanCache};
use server::payments::channel::ChargeOutcome;
use server::payments::collection::payment_succeeded;
use server::payments::db::attempts;
use server::payments::domain::dunning::DAY_MS;
use server::payments::pass::run_payments_pass;
use server::shared::time::parse_rfc3339_or_date;

use crate::helpers::*;

fn at(text: &str) -> i64 {
    parse_rfc3339_or_date(text).expect("an RFC 3339 instant")
}

const YEAR_MS: i64 = 365 * 86_400_000;

/// Acme on March 1, 2027 with a 100.00 credit, and rules whose drafts wait a year for late usage,
/// so drafts of several periods are there to finalize when a test chooses.
struct CreditScenario {
    app: TestApp,
    acme: String,
    credit: String,
    rules: BillingRules,
}

impl CreditScenario {
    async fn new(expires: &str) -> Self {
        Self::with_credit("100.00", expires).await
    }

    async fn with_credit(amount: &str, expires: &str) -> Self {
        let app = spawn_app_at(Some(at("2027-03-01T00:00:00Z")), &[]).await;
        let acme = app.organization_id("Acme Corp").await;
        let staff = app.client_for(&STAFF).await;
        let grant = [
            ("organization_id", acme.as_str()),
            ("amount", amount),
            ("reason", "goodwill"),
            ("expires", expires),
            ("idempotency_key", "k-1"),
        ];
        let credit = json(app.call_with(&staff, "issue_credit", &grant).await).await["id"].as_str().unwrap().to_owned();
        let rules = BillingRules { grace_ms: YEAR_MS, ..app.rules };
        Self { app, acme, credit, rules }
    }

    async fn cycle_at(&self, instant: &str) {
        self.app.db.clock.set(at(instant));
        run_billing_cycle(&self.app.db, &self.rules, at(instant)).await.expect("billing cycle");
    }

    async fn drafts(&self) -> Vec<invoices::InvoiceRow> {
        let mut conn = self.app.db.pool.acquire().await.unwrap();
        let due = invoices::drafts_due(&mut conn, at("2029-01-01T00:00:00Z"), 10).await.unwrap();
        due.into_iter().filter(|draft| draft.organization_id == self.acme).collect()
    }

    /// Holds Acme's invoice-number row, which a finalization takes after reading the credits.
    async fn hold_invoice_numbers(&self) -> server::store::WriteTx {
        let mut holder = self.app.db.begin().await.unwrap();
        invoices::next_numbers(&mut holder, &[self.acme.clone()], 2027).await.unwrap();
        holder
    }

    fn finalize_later(&self, draft: invoices::InvoiceRow, now: i64) -> tokio::task::JoinHandle<usize> {
        let (db, rules) = (self.app.db.clone(), self.rules);
        tokio::spawn(async move {
            finalize_drafts(&db, &mut PlanCache::default(), &rules, &[draft], now).await.expect("finalize")
        })
    }
}

#[tokio::test]
async fn two_finalizations_of_one_organization_at_once_spend_its_credit_once() {
    let s = CreditScenario::new("").await;
    s.cycle_at("2027-04-01T00:00:00Z").await;
    s.cycle_at("2027-05-01T00:00:00Z").await;
    let drafts = s.drafts().await;
    assert_eq!(drafts.len(), 2, "Acme's March and April are drafts");

    let holder = s.hold_invoice_numbers().await;
    let now = at("2027-05-01T00:00:00Z");
    let (first, second) = (s.finalize_later(drafts[0].clone(), now), s.finalize_later(drafts[1].clone(), now));
    tokio::time::sleep(Duration::from_millis(500)).await;
    holder.rollback().await.unwrap();
    assert_eq!(first.await.unwrap() + second.await.unwrap(), 2);

    let applied: i64 = sqlx::query_scalar("select cast(sum(amount_minor) as bigint) from credit_applications")
        .fetch_one(&s.app.db.pool)
        .await
        .unwrap();
    assert_eq!(applied, 10_000, "the 100.00 credit is applied once");
    let invoice_credit: i64 =
        sqlx::query_scalar("select cast(sum(credit_applied_minor) as bigint) from invoices where organization_id = $1")
            .bind(&s.acme)
            .fetch_one(&s.app.db.pool)
            .await
            .unwrap();
    assert_eq!(invoice_credit, 10_000);
    assert_eq!(billing_mismatches(&s.app).await, Vec::<String>::new());
}

#[tokio::test]
async fn two_refund_totals_recorded_at_once_add_up_to_the_refunded_total() {
    let s = crate::payments::Scenario::new(&[]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let payment_id: String = sqlx::query_scalar("select id from payments").fetch_one(&s.app.db.pool).await.unwrap();

    // Two `charge.refunded` events (10.00, then 30.00 refunded in all) handled at the same time.
    let mut first = s.app.db.begin().await.unwrap();
    let added_first = attempts::record_refunded(&mut first, &payment_id, 1_000, day0).await.unwrap();
    let second = {
        let (db, payment_id) = (s.app.db.clone(), payment_id.clone());
        tokio::spawn(async move {
            let mut tx = db.begin().await.unwrap();
            let added = attempts::record_refunded(&mut tx, &payment_id, 3_000, day0).await.unwrap();
            tx.commit().await.unwrap();
            added
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.commit().await.unwrap();
    let added_second = second.await.unwrap();
    assert_eq!((added_first, added_second), (1_000, 2_000), "each posts what it added, nothing twice");
    let refunded: i64 =
        sqlx::query_scalar("select refunded_minor from payments").fetch_one(&s.app.db.pool).await.unwrap();
    assert_eq!(refunded, 3_000);
}

/// Two attempts of one invoice both succeed and their answers are recorded at the same time: one
/// pays the invoice, the other is an overpayment to refund, never a second `payment.received`.
#[tokio::test]
async fn two_successes_for_one_invoice_recorded_at_once_pay_it_once() {
    let s = crate::payments::Scenario::new(&[]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    let mut charged = Vec::new();
    for (attempt, step) in [(1, "first"), (2, "second")] {
        let payment = s.insert_attempt(attempt, step, day0).await;
        let outcome = s.charge(&payment).await;
        let ChargeOutcome::Succeeded { processor_payment_id } = outcome else { panic!("{outcome:?}") };
        charged.push((payment, processor_payment_id));
    }

    // Holds the invoice row, which both read as open before either marks it paid.
    let mut holder = s.app.db.begin().await.unwrap();
    sqlx::query("update invoices set status = status where organization_id = $1")
        .bind(&s.acme)
        .execute(&mut *holder)
        .await
        .unwrap();
    let recorders: Vec<_> = charged
        .into_iter()
        .map(|(payment, processor_id)| {
            let db = s.app.db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin().await.unwrap();
                payment_succeeded(&mut tx, &payment, &processor_id, day0).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    holder.rollback().await.unwrap();
    for recorder in recorders {
        recorder.await.unwrap();
    }

    assert_eq!(s.app.count("select count(*) from ledger_transactions where kind = 'payment.received'").await, 1);
    assert_eq!(s.app.count("select count(*) from overpayment_refunds").await, 1);
    assert_eq!(s.ledger("receivable").await, 0);
    s.assert_reconciled().await;
}

/// Dunning's last step and a payment's success at the same moment: the success holds the
/// invoice and then wants its collection. Dunning takes them in the same order, so neither is
/// aborted as a deadlock (PostgreSQL would abort one; SQLite runs them one after the other).
#[tokio::test]
async fn dunning_cancellation_and_a_payment_success_at_once_do_not_deadlock() {
    let s = crate::payments::Scenario::new(&[]).await;
    s.save_card("4000 0000 0000 9995").await;
    let day0 = s.finalize_first_invoice().await;
    for day in [0, 3, 7, 10] {
        s.pass_at(day0 + day * DAY_MS).await;
    }
    let invoice: String =
        sqlx::query_scalar("select invoice_id from collections").fetch_one(&s.app.db.pool).await.unwrap();
    let mut success = s.app.db.begin().await.unwrap();
    sqlx::query("update invoices set status = status where id = $1")
        .bind(&invoice)
        .execute(&mut *success)
        .await
        .unwrap();
    s.app.db.clock.set(day0 + 30 * DAY_MS);
    let dunning = run_payments_pass(&s.app.db, &s.collector, &s.outbox);
    let rest_of_the_success = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let finished = sqlx::query("update collections set status = status where invoice_id = $1")
            .bind(&invoice)
            .execute(&mut *success)
            .await;
        success.commit().await.map(|_| finished)
    };
    let (dunning, success) = tokio::join!(dunning, rest_of_the_success);
    assert!(matches!(success, Ok(Ok(_))), "the success is not aborted: {success:?}");
    dunning.expect("the dunning pass is not aborted either");
    assert_eq!(s.subscription_status().await, "canceled");
}

/// The ledger itself refuses a posting that would spend more customer credit than was granted,
/// whichever code path builds it.
#[tokio::test]
async fn the_ledger_refuses_to_overdraw_a_customer_credit_account() {
    let s = CreditScenario::new("").await;
    let spend = |amount: i64| {
        let (db, acme) = (s.app.db.clone(), s.acme.clone());
        async move {
            let mut tx = db.begin().await.unwrap();
            let reference = format!("spend-{amount}");
            let cause = PostingCause { organization_id: &acme, kind: "credit.expired", reference: &reference, at: 0 };
            let posted = ledger::post(&mut tx, cause, Posting::credit_expired(amount).unwrap()).await;
            if posted.is_ok() {
                tx.commit().await.unwrap();
            }
            posted.map_err(|error| error.to_string())
        }
    };
    assert_eq!(spend(6_000).await, Ok(true), "60.00 of the 100.00 granted");
    let refused = spend(4_001).await.expect_err("40.01 more than is left");
    assert!(refused.contains("customer credit"), "{refused}");
    assert_eq!(ledger_balance(&s.app, &s.acme, "customer_credit").await, -4_000);
    assert_eq!(spend(4_000).await, Ok(true), "what is left can still be spent");
}

/// A customer whose credit account is already overdrawn (by an earlier bug) has its finalization
/// refused by the ledger; every other customer's invoice is still finalized, and the run ends.
#[tokio::test]
async fn a_customer_whose_books_refuse_a_posting_does_not_hold_back_the_others() {
    let s = CreditScenario::new("").await;
    s.cycle_at("2027-04-01T00:00:00Z").await;
    s.cycle_at("2027-04-16T00:00:00Z").await;
    for (account, amount) in [("customer_credit", 13_000i64), ("revenue", -13_000)] {
        if account == "customer_credit" {
            sqlx::query("insert into ledger_transactions (id, organization_id, kind, reference, at) values ('tx-bug', $1, 'legacy.bug', 'x', 0)")
                .bind(&s.acme)
                .execute(&s.app.db.pool)
                .await
                .unwrap();
        }
        sqlx::query("insert into ledger_entries (transaction_id, account, amount_minor) values ('tx-bug', $1, $2)")
            .bind(account)
            .bind(amount)
            .execute(&s.app.db.pool)
            .await
            .unwrap();
    }
    let mut conn = s.app.db.pool.acquire().await.unwrap();
    let drafts = invoices::drafts_due(&mut conn, at("2029-01-01T00:00:00Z"), 100).await.unwrap();
    drop(conn);
    let others = drafts.iter().filter(|d| d.organization_id != s.acme).count();
    assert!(others > 0, "other customers have drafts too");

    let finalized =
        finalize_drafts(&s.app.db, &mut PlanCache::default(), &s.rules, &drafts, at("2027-04-16T00:00:00Z"))
            .await
            .expect("the run goes on");
    assert_eq!(finalized, others);
    let acme_drafts = "select count(*) from invoices where status = 'draft' and organization_id = $1";
    let left: i64 = sqlx::query_scalar(acme_drafts).bind(&s.acme).fetch_one(&s.app.db.pool).await.unwrap();
    assert_eq!(left, 1, "Acme's invoice waits for a person");
}

async fn ledger_balance(app: &TestApp, organization_id: &str, account: &str) -> i64 {
    sqlx::query_scalar(
        "select cast(coalesce(sum(e.amount_minor), 0) as bigint) from ledger_entries e
         join ledger_transactions t on t.id = e.transaction_id where t.organization_id = $1 and e.account = $2",
    )
    .bind(organization_id)
    .bind(account)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

/// Dunning writes the invoice off at the moment a payment for it succeeds. A written-off invoice
/// is still owed, so the payment pays it; it is not refunded as an overpayment.
#[tokio::test]
async fn a_success_recorded_while_dunning_writes_the_invoice_off_still_pays_it() {
    let s = crate::payments::Scenario::new(&[]).await;
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    let payment = s.insert_attempt(1, "first", day0).await;
    let ChargeOutcome::Succeeded { processor_payment_id } = s.charge(&payment).await else { panic!("charged") };

    // The write-off, not committed yet, holds the invoice row the success is about to change.
    let mut write_off = s.app.db.begin().await.unwrap();
    sqlx::query("update invoices set status = 'uncollectible' where organization_id = $1")
        .bind(&s.acme)
        .execute(&mut *write_off)
        .await
        .unwrap();
    let recorder = {
        let db = s.app.db.clone();
        tokio::spawn(async move {
            let mut tx = db.begin().await.unwrap();
            payment_succeeded(&mut tx, &payment, &processor_payment_id, day0).await.unwrap();
            tx.commit().await.unwrap();
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    write_off.commit().await.unwrap();
    recorder.await.unwrap();

    assert_eq!(s.invoice_status().await, "paid");
    assert_eq!(s.app.count("select count(*) from overpayment_refunds").await, 0, "nothing to refund");
    assert_eq!(s.ledger("receivable").await, 0);
}

async fn billing_mismatches(app: &TestApp) -> Vec<String> {
    let now = app.db.clock.now_ms();
    reconcile_billing(&app.db, &app.rules, (i64::MIN / 2, i64::MAX / 2), now).await.expect("reconcile").mismatches
}

#[tokio::test]
async fn reconcile_names_a_credit_spent_twice_and_an_overdrawn_credit_account() {
    let s = CreditScenario::new("").await;
    for instant in ["2027-04-01T00:00:00Z", "2027-04-03T01:00:00Z", "2027-05-01T00:00:00Z"] {
        s.app.db.clock.set(at(instant));
        run_billing_cycle(&s.app.db, &s.app.rules, at(instant)).await.expect("billing cycle");
    }
    let (app, acme, credit) = (&s.app, &s.acme, &s.credit);
    assert_eq!(billing_mismatches(app).await, Vec::<String>::new());

    // What a double draw-down leaves behind: the credit applied to April's draft too, and posted.
    let april: String = sqlx::query_scalar("select id from invoices where status = 'draft' and organization_id = $1")
        .bind(acme)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    for (sql, values) in [
        (
            "insert into credit_applications (credit_id, invoice_id, amount_minor) values ($1, $2, 10000)",
            [&credit, &april],
        ),
        (
            "insert into ledger_transactions (id, organization_id, kind, reference, at) values ('tx-twice', $1, 'invoice.finalized', $2, 0)",
            [&acme, &april],
        ),
    ] {
        sqlx::query(sql).bind(values[0]).bind(values[1]).execute(&app.db.pool).await.unwrap();
    }
    for (account, amount) in [("customer_credit", 10_000i64), ("receivable", -10_000)] {
        sqlx::query("insert into ledger_entries (transaction_id, account, amount_minor) values ('tx-twice', $1, $2)")
            .bind(account)
            .bind(amount)
            .execute(&app.db.pool)
            .await
            .unwrap();
    }
    let mismatches = billing_mismatches(app).await;
    assert!(mismatches.contains(&format!("credit {credit}: 20000 applied of 10000 granted")), "{mismatches:?}");
    assert!(mismatches.contains(&format!("organization {acme}: customer credit overdrawn by 10000")), "{mismatches:?}");
}

#[tokio::test]
async fn a_credit_whose_expiry_is_posted_is_not_applied_by_a_run_that_started_before_it() {
    let s = CreditScenario::new("2027-04-15").await;
    // One instance's cycle after the expiry posts it while March is still a draft ...
    s.cycle_at("2027-04-01T00:00:00Z").await;
    s.cycle_at("2027-04-16T00:00:00Z").await;
    assert_eq!(s.app.count("select count(*) from ledger_transactions where kind = 'credit.expired'").await, 1);
    // ... and another's, started the day before the expiry, finalizes March.
    let march = s.drafts().await.remove(0);
    assert_eq!(s.finalize_later(march, at("2027-04-14T00:00:00Z")).await.unwrap(), 1);

    assert_eq!(s.app.count("select count(*) from credit_applications").await, 0, "an expired credit is spent");
    assert_eq!(billing_mismatches(&s.app).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_credit_expiring_while_a_finalization_spends_it_is_spent_or_expired_never_both() {
    let s = CreditScenario::new("2027-04-15").await;
    s.cycle_at("2027-04-01T00:00:00Z").await;
    let march = s.drafts().await.remove(0);

    // A finalization from before the expiry has read the credit and waits for the number row ...
    let holder = s.hold_invoice_numbers().await;
    let finalization = s.finalize_later(march, at("2027-04-14T00:00:00Z"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ... while a cycle after the expiry expires what it reads as left.
    let expiry = {
        let (db, rules) = (s.app.db.clone(), s.rules);
        tokio::spawn(async move { run_billing_cycle(&db, &rules, at("2027-04-16T00:00:00Z")).await.expect("cycle") })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.rollback().await.unwrap();
    assert_eq!(finalization.await.unwrap(), 1);
    expiry.await.unwrap();

    let spent = s.app.count("select count(*) from credit_applications").await;
    let expired = s.app.count("select count(*) from ledger_transactions where kind = 'credit.expired'").await;
    assert_eq!((spent, expired), (1, 0), "spent by the finalization, so nothing is left to expire");
    assert_eq!(billing_mismatches(&s.app).await, Vec::<String>::new());
}
