//! Billing over whole periods with the server's clock set by the test: trials, usage, plan
//! changes with proration, drafts, late usage inside and after the grace period, finalization,
//! credits and the ledger, on whichever database the suite runs on.
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::accounts::db::organizations::lock_organizations;
use server::admin::reconciliation::invoices::reconcile_billing;
use server::billing::db::invoices;
use server::billing::db::subscriptions::{TransitionCause, change_status, periods_ended, subscription_of};
use server::billing::domain::subscription::SubscriptionStatus;
use server::billing::invoice_run::close_periods;
use server::billing::invoicing::{CycleReport, run_billing_cycle};
use server::billing::period_rating::PlanCache;
use server::billing::run_lanes::{lane_of, lanes};
use server::billing::subscriptions::end_subscription;
use server::shared::time::parse_rfc3339_or_date;
use server::store::Dialect;

use crate::helpers::*;

pub(crate) fn at(text: &str) -> i64 {
    parse_rfc3339_or_date(text).expect("an RFC 3339 instant")
}

impl TestApp {
    pub(crate) async fn cycle_at(&self, text: &str) -> CycleReport {
        let now = at(text);
        self.db.clock.set(now);
        run_billing_cycle(&self.db, &self.rules, now).await.expect("billing cycle")
    }

    /// (status, number, subtotal, credit applied, amount due) of the organization's invoices, oldest first.
    pub(crate) async fn invoices(&self, organization_id: &str) -> Vec<(String, Option<String>, i64, i64, i64)> {
        sqlx::query_as(
            "select status, number, subtotal_minor, credit_applied_minor, amount_due_minor from invoices
             where organization_id = $1 order by period_start",
        )
        .bind(organization_id)
        .fetch_all(&self.db.pool)
        .await
        .expect("invoices")
    }

    /// (kind, description, quantity, amount) of every line of the organization's invoice `index`.
    pub(crate) async fn lines(&self, organization_id: &str, index: usize) -> Vec<(String, String, i64, i64)> {
        let ids: Vec<String> =
            sqlx::query_scalar("select id from invoices where organization_id = $1 order by period_start")
                .bind(organization_id)
                .fetch_all(&self.db.pool)
                .await
                .expect("invoice ids");
        sqlx::query_as(
            "select kind, description, quantity, amount_minor from invoice_lines where invoice_id = $1 order by position",
        )
        .bind(&ids[index])
        .fetch_all(&self.db.pool)
        .await
        .expect("lines")
    }

    pub(crate) async fn ledger_balance(&self, organization_id: &str, account: &str) -> i64 {
        sqlx::query_scalar(
            "select cast(coalesce(sum(e.amount_minor), 0) as bigint) from ledger_entries e
             join ledger_transactions t on t.id = e.transaction_id where t.organization_id = $1 and e.account = $2",
        )
        .bind(organization_id)
        .bind(account)
        .fetch_one(&self.db.pool)
        .await
        .expect("balance")
    }

    async fn subscription_status(&self, organization_id: &str) -> String {
        sqlx::query_scalar(
            "select status from subscriptions where organization_id = $1 order by created_at desc, id desc limit 1",
        )
        .bind(organization_id)
        .fetch_one(&self.db.pool)
        .await
        .expect("subscription")
    }

    async fn events_at(&self, key: &str, events: &[(&str, &str, i64, &str)]) {
        let batch: Vec<Value> = events
            .iter()
            .map(|(id, namespace, quantity, timestamp)| {
                json!({"id": id, "namespace": namespace, "metric": "actions", "quantity": quantity, "timestamp": timestamp})
            })
            .collect();
        let response = self.send_events(key, &json!(batch)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = json(response).await;
        assert_eq!(body["accepted"], events.len(), "{body}");
        self.wait_for_rollups().await;
    }

    pub(crate) async fn assert_reconciled(&self, pending_adjustments: usize) {
        let now = self.db.clock.now_ms();
        let result =
            reconcile_billing(&self.db, &self.rules, (i64::MIN / 2, i64::MAX / 2), now).await.expect("reconcile");
        assert!(result.mismatches.is_empty(), "{:?}", result.mismatches);
        assert_eq!(result.pending_adjustments, pending_adjustments);
    }
}

#[tokio::test]
async fn trial_upgrade_late_usage_finalization_and_an_adjustment_on_the_next_invoice() {
    let app = spawn_app_at(Some(at("2027-01-10T09:00:00Z")), &[]).await;
    let globex = app.organization_id("Globex").await;
    let owner = app.client_for(&GLOBEX_OWNER).await;

    // The 14-day trial ends: active, no invoice for the free trial, the transition is logged.
    let report = app.cycle_at("2027-01-24T09:00:00Z").await;
    assert_eq!((report.trials_converted, report.periods_closed), (1, 1));
    assert!(app.invoices(&globex).await.is_empty());
    assert_eq!(app.subscription_status(&globex).await, "active");
    assert_eq!(app.count("select count(*) from subscription_transitions where cause = 'trial ended'").await, 1);

    // Usage in two namespaces, under Essentials (1,000,000 actions included, then 50.00 per started million).
    let created = app.call_with(&owner, "create_namespace", &[("organization_id", &globex), ("name", "billing")]).await;
    assert_eq!(created.status(), StatusCode::OK);
    let key = app.api_key(&GLOBEX_OWNER, "Globex").await;
    app.db.clock.set(at("2027-01-27T00:00:00Z"));
    app.events_at(
        &key,
        &[("e1", "logistics", 1_500_000, "2027-01-25T10:00:00Z"), ("e2", "billing", 300_000, "2027-01-26T10:00:00Z")],
    )
    .await;

    // A mid-period upgrade: previewed with its proration, then confirmed with the preview's token.
    app.db.clock.set(at("2027-02-08T09:00:00Z"));
    let preview =
        json(app.call_with(&owner, "preview_plan_change", &[("organization_id", &globex), ("plan", "Business")]).await)
            .await;
    assert_eq!(preview["immediate"], true, "{preview}");
    assert_eq!(preview["remaining_days"], "16.0");
    // 16 of 31 days: credit 100.00 × 16/31, charge 500.00 × 16/31, each rounded once.
    assert_eq!((preview["credit"].as_str(), preview["charge"].as_str()), (Some("-$51.61"), Some("$258.06")));
    assert_eq!(preview["net"], "$206.45");
    let token = preview["token"].as_str().unwrap().to_owned();
    let confirmed = app
        .call_with(
            &owner,
            "confirm_plan_change",
            &[("organization_id", &globex), ("plan", "Business"), ("token", &token)],
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(json(confirmed).await["current_plan"], "Business");
    let replay = app
        .call_with(
            &owner,
            "confirm_plan_change",
            &[("organization_id", &globex), ("plan", "Business"), ("token", &token)],
        )
        .await;
    assert_eq!(replay.status(), StatusCode::UNPROCESSABLE_ENTITY, "already on Business");
    assert_eq!(app.count("select count(*) from plan_changes").await, 1);

    app.db.clock.set(at("2027-02-11T00:00:00Z"));
    app.events_at(&key, &[("e3", "logistics", 3_000_000, "2027-02-10T10:00:00Z")]).await;

    // The period ends: a draft with the base fee, both proration lines and usage split at the change.
    let report = app.cycle_at("2027-02-24T10:00:00Z").await;
    assert_eq!(report.periods_closed, 2, "Globex's period, and Acme's that ended on February 10");
    let amounts: Vec<(String, i64)> = app.lines(&globex, 0).await.into_iter().map(|(k, _, _, a)| (k, a)).collect();
    // Essentials keeps 15/31 of 1,000,000 included: 1,316,130 billable → 2 blocks. Business keeps
    // 16/31 of 2,500,000: 1,709,678 billable at 45.00 per million → 76.94.
    let expected =
        [("base_fee", 10_000), ("proration", -5_161), ("proration", 25_806), ("usage", 10_000), ("usage", 7_694)];
    assert_eq!(amounts, expected.map(|(k, a)| (k.to_owned(), a)));
    assert_eq!(app.invoices(&globex).await[0].0, "draft");

    // Late usage inside the grace period re-rates the draft.
    app.db.clock.set(at("2027-02-25T09:00:00Z"));
    app.events_at(&key, &[("e4", "billing", 500_000, "2027-02-20T10:00:00Z")]).await;
    let report = app.cycle_at("2027-02-25T09:00:00Z").await;
    assert_eq!((report.rerated, report.finalized), (1, 0));
    let under_business: i64 = app.lines(&globex, 0).await[4..].iter().map(|l| l.3).sum();
    assert_eq!(under_business, 7_694 + 2_250, "2,209,678 billable actions under Business, in two namespaces");

    // After 48 hours: finalized with the first number of the year, open, and posted to the ledger.
    let report = app.cycle_at("2027-02-26T10:00:00Z").await;
    assert_eq!(report.finalized, 1);
    let total = 10_000 - 5_161 + 25_806 + 10_000 + 9_944;
    assert_eq!(app.invoices(&globex).await[0], ("open".into(), Some("INV-2027-000001".into()), total, 0, total));
    assert_eq!(app.ledger_balance(&globex, "receivable").await, total);
    assert_eq!(app.ledger_balance(&globex, "revenue").await, -total);
    app.assert_reconciled(0).await;

    // Late usage after finalization leaves the invoice alone and is adjusted on the next one.
    app.db.clock.set(at("2027-02-27T00:00:00Z"));
    app.events_at(&key, &[("e5", "logistics", 1_000_000, "2027-02-23T10:00:00Z")]).await;
    assert_eq!(app.count("select count(*) from usage_events where late = 1").await, 1);
    assert_eq!(app.invoices(&globex).await[0].2, total);
    app.assert_reconciled(1).await;

    app.cycle_at("2027-03-24T10:00:00Z").await;
    let next = app.lines(&globex, 1).await;
    assert_eq!((next[0].0.as_str(), next[0].3), ("base_fee", 50_000));
    let adjustment = next.iter().find(|l| l.0 == "adjustment").expect("an adjustment line");
    assert_eq!((adjustment.2, adjustment.3), (1_000_000, 4_500));
    assert!(
        adjustment.1.contains("2027-01-24 09:00 UTC to 2027-02-24 09:00 UTC"),
        "names its period: {}",
        adjustment.1
    );
    assert_eq!(app.invoices(&globex).await[0].2, total, "the finalized invoice never changes");
    app.assert_reconciled(0).await;
}

#[tokio::test]
async fn a_downgrade_waits_for_the_period_end_and_a_second_change_is_refused() {
    let app = spawn_app_at(Some(at("2027-05-03T12:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    app.db.clock.set(at("2027-05-20T00:00:00Z"));

    let preview =
        json(app.call_with(&owner, "preview_plan_change", &[("organization_id", &acme), ("plan", "Essentials")]).await)
            .await;
    assert_eq!((preview["immediate"].as_bool(), preview["net"].as_str()), (Some(false), Some("$0.00")), "{preview}");
    let token = preview["token"].as_str().unwrap().to_owned();
    let page = json(
        app.call_with(
            &owner,
            "confirm_plan_change",
            &[("organization_id", &acme), ("plan", "Essentials"), ("token", &token)],
        )
        .await,
    )
    .await;
    assert_eq!(page["current_plan"], "Business");
    assert_eq!(page["scheduled_change"], "Essentials from 2027-06-03 12:00 UTC");

    let again =
        app.call_with(&owner, "preview_plan_change", &[("organization_id", &acme), ("plan", "Enterprise")]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(json(again).await["message"].as_str().unwrap().contains("already scheduled"));
    let member = app.client_for(&ACME_MEMBER).await;
    let forbidden =
        app.call_with(&member, "preview_plan_change", &[("organization_id", &acme), ("plan", "Enterprise")]).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);

    app.cycle_at("2027-06-03T12:00:00Z").await;
    let lines = app.lines(&acme, 0).await;
    assert_eq!(lines.iter().map(|l| l.3).sum::<i64>(), 50_000, "the whole period on Business, nothing prorated");
    let page = json(app.call_with(&owner, "plan", &[("organization_id", &acme)]).await).await;
    assert_eq!((page["current_plan"].as_str(), page["scheduled_change"].as_str()), (Some("Essentials"), None));
    app.cycle_at("2027-07-03T12:00:00Z").await;
    assert_eq!(app.lines(&acme, 1).await[0].3, 10_000, "the next period bills Essentials");
}

#[tokio::test]
async fn a_cancellation_ends_the_subscription_with_the_period_after_its_last_invoice() {
    let app = spawn_app_at(Some(at("2027-05-03T12:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    app.db.clock.set(at("2027-05-10T00:00:00Z"));
    let page = json(app.call_with(&owner, "cancel_subscription", &[("organization_id", &acme)]).await).await;
    assert_eq!(page["cancels_at"], "2027-06-03 12:00 UTC", "{page}");
    let twice = app.call_with(&owner, "cancel_subscription", &[("organization_id", &acme)]).await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);
    let member =
        app.call_with(&app.client_for(&ACME_MEMBER).await, "cancel_subscription", &[("organization_id", &acme)]).await;
    assert_eq!(member.status(), StatusCode::FORBIDDEN);
    // Between the period end and the invoice run that closes it, usage has no period to go on.
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    app.db.clock.set(at("2027-06-03T12:30:00Z"));
    let event = |id: &str, at: &str| json!([{ "id": id, "namespace": "payments-prod", "metric": "actions", "quantity": 1, "timestamp": at }]);
    let before_end = json(app.send_events(&key, &event("before-end", "2027-06-03T11:59:59Z")).await).await;
    assert_eq!(before_end["results"][0]["status"], "accepted", "{before_end}");
    let after_end = json(app.send_events(&key, &event("after-end", "2027-06-03T12:10:00Z")).await).await;
    assert_eq!(after_end["results"][0]["field"], "timestamp", "{after_end}");

    app.cycle_at("2027-06-03T12:00:00Z").await;
    assert_eq!(app.subscription_status(&acme).await, "canceled");
    assert_eq!(app.invoices(&acme).await.len(), 1, "the last period is still invoiced");
    assert_eq!(
        app.count("select count(*) from subscription_transitions where to_status = 'canceled' and actor = 'system'")
            .await,
        1
    );
    app.cycle_at("2027-07-03T12:00:00Z").await;
    app.cycle_at("2027-08-03T12:00:00Z").await;
    assert_eq!(app.invoices(&acme).await.len(), 1, "nothing after the cancellation");
    assert_eq!(app.invoices(&acme).await[0].0, "open", "its draft was finalized");
}

#[tokio::test]
async fn a_customer_whose_subscription_ended_subscribes_again_with_a_new_period_and_keeps_the_old_invoices() {
    let app = spawn_app_at(Some(at("2027-05-03T12:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let org = [("organization_id", acme.as_str())];
    let start = [("organization_id", acme.as_str()), ("plan", "Essentials")];
    app.db.clock.set(at("2027-05-10T00:00:00Z"));
    app.call_with(&owner, "cancel_subscription", &org).await;
    let too_early = app.call_with(&owner, "start_plan", &start).await;
    assert_eq!(too_early.status(), StatusCode::CONFLICT, "the subscription runs to the end of its period");
    app.cycle_at("2027-06-03T12:00:00Z").await;
    app.db.clock.set(at("2027-06-04T09:00:00Z"));
    let unsettled = app.call_with(&owner, "start_plan", &start).await;
    assert_eq!(unsettled.status(), StatusCode::CONFLICT, "the final invoice is not issued yet");
    // Its final invoice paid (a credit covers it), the ended subscription is settled.
    let staff = app.client_for(&STAFF).await;
    let credit = [
        ("organization_id", acme.as_str()),
        ("amount", "600.00"),
        ("reason", "goodwill"),
        ("expires", ""),
        ("idempotency_key", "resubscribe-test"),
    ];
    assert_eq!(app.call_with(&staff, "issue_credit", &credit).await.status(), StatusCode::OK);
    app.cycle_at("2027-06-05T13:00:00Z").await;
    assert_eq!(app.invoices(&acme).await[0].0, "paid", "the final invoice is issued and settled");

    app.db.clock.set(at("2027-06-10T09:00:00Z"));
    let page = json(app.call_with(&owner, "plan", &org).await).await;
    assert_eq!((page["subscribed"].as_bool(), page["ended"].as_str()), (Some(false), Some("2027-06-03 12:00 UTC")));
    assert!(page["plans"].as_array().unwrap().iter().all(|p| p["trial"].is_null()), "no second free trial: {page}");
    let member = app.client_for(&ACME_MEMBER).await;
    assert_eq!(app.call_with(&member, "start_plan", &start).await.status(), StatusCode::FORBIDDEN);
    let page = json(app.call_with(&owner, "start_plan", &start).await).await;
    assert_eq!(
        (page["current_plan"].as_str(), page["status"].as_str()),
        (Some("Essentials"), Some("active")),
        "{page}"
    );
    assert_eq!(app.call_with(&owner, "start_plan", &start).await.status(), StatusCode::CONFLICT, "one at a time");
    assert_eq!(app.count("select count(*) from subscriptions").await, 3, "Acme's two and Globex's");
    // "The" subscription is the running one, whatever the rows' creation times (a trial's is its end).
    sqlx::query("update subscriptions set created_at = 9000000000000 where ended_at is not null")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let page = json(app.call_with(&owner, "plan", &org).await).await;
    assert_eq!(page["current_plan"], "Essentials", "{page}");

    // Usage from the gap is refused; usage from the new start on is accepted and billed.
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    app.db.clock.set(at("2027-06-10T10:00:00Z"));
    let event = |id: &str, at: &str| json!([{ "id": id, "namespace": "payments-prod", "metric": "actions", "quantity": 1_500_000, "timestamp": at }]);
    let gap = json(app.send_events(&key, &event("in-the-gap", "2027-06-08T10:00:00Z")).await).await;
    assert_eq!(gap["results"][0]["field"], "timestamp", "{gap}");
    let after = json(app.send_events(&key, &event("after-restart", "2027-06-10T09:30:00Z")).await).await;
    assert_eq!(after["results"][0]["status"], "accepted", "{after}");
    app.wait_for_rollups().await;

    app.cycle_at("2027-07-10T10:00:00Z").await;
    app.cycle_at("2027-07-12T10:00:00Z").await;
    let invoices = app.invoices(&acme).await;
    assert_eq!(invoices.len(), 2, "the old invoice is kept beside the new one");
    let lines = app.lines(&acme, 1).await;
    assert_eq!((lines[0].0.as_str(), lines[0].3), ("base_fee", 10_000), "Essentials from the new start");
    assert!(lines.iter().any(|l| l.0 == "usage" && l.3 > 0), "the usage after the restart: {lines:?}");
    app.assert_reconciled(0).await;
    // Usage in the gap would be billed by no period: reconcile names it, although it falls before
    // the new subscription's first period.
    sqlx::query(
        "insert into usage_hourly (organization_id, namespace_id, metric, hour, total, event_count, computed_at)
         select organization_id, namespace_id, metric, $1, 7, 1, 0 from usage_hourly where organization_id = $2 limit 1",
    )
    .bind(at("2027-06-08T10:00:00Z"))
    .bind(&acme)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let result = reconcile_billing(&app.db, &app.rules, (i64::MIN / 2, i64::MAX / 2), app.db.clock.now_ms()).await;
    let mismatches = result.expect("reconcile").mismatches;
    assert!(
        mismatches.iter().any(|m| m.contains("2027-06-08T10:00:00Z") && m.contains("no billed period")),
        "{mismatches:?}"
    );
}

#[tokio::test]
async fn usage_rolled_up_while_finalizing_waits_for_its_draft_is_billed_on_it() {
    let app = spawn_app_at(Some(at("2027-01-10T09:00:00Z")), &[]).await;
    // On SQLite finalizing holds the database: no rollup commits while it waits.
    if app.db.dialect != Dialect::Postgres {
        return;
    }
    let acme = app.organization_id("Acme Corp").await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    app.cycle_at("2027-02-10T10:00:00Z").await;
    let (draft, drafted): (String, i64) =
        sqlx::query_as("select id, subtotal_minor from invoices where organization_id = $1 and status = 'draft'")
            .bind(&acme)
            .fetch_one(&app.db.pool)
            .await
            .expect("Acme's draft");

    // Another instance holds the draft (re-rating it, say) when finalizing reaches it.
    let mut holder = app.db.pool.begin().await.expect("transaction");
    sqlx::query("select id from invoices where id = $1 for no key update")
        .bind(&draft)
        .fetch_one(&mut *holder)
        .await
        .expect("draft held");
    let finalizing = tokio::spawn({
        let (db, rules) = (app.db.clone(), app.rules);
        async move { run_billing_cycle(&db, &rules, at("2027-02-12T10:00:00Z")).await }
    });
    let waiting =
        "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()";
    while app.count(waiting).await == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Usage of the period arrives and is rolled up meanwhile.
    app.db.clock.set(at("2027-02-11T00:00:00Z"));
    app.events_at(&key, &[("while-finalizing", "payments-prod", 90_000_000, "2027-02-09T10:00:00Z")]).await;
    holder.rollback().await.expect("released");

    let report = finalizing.await.expect("task").expect("cycle");
    assert_eq!(report.finalized, 1);
    let (status, _, subtotal, _, _) = app.invoices(&acme).await.remove(0);
    assert_eq!(status, "open");
    assert!(subtotal > drafted, "re-rated before finalizing: {subtotal} after {drafted} drafted");
    app.assert_reconciled(0).await;
}

/// Drafts read in bulk arrive as one JSON array per statement, decoded by column position: every
/// field must come out as a read by column name gives it.
#[tokio::test]
async fn drafts_read_in_bulk_carry_every_column_as_stored() {
    let app = spawn_app_at(Some(at("2027-01-10T09:00:00Z")), &[]).await;
    app.cycle_at("2027-02-10T10:00:00Z").await;
    // Every column of the draft a value of its own, so no two fields could be swapped unseen.
    let distinct = "update invoices set number = 'N-1', subtotal_minor = 11, credit_applied_minor = 12,
        amount_due_minor = 13, rated_at = 14, finalize_after = 15, due_at = 16, created_at = 17, finalized_at = 18,
        paid_at = 19, voided_at = 20, void_reason = 'why' where status = 'draft'";
    sqlx::query(distinct).execute(&app.db.pool).await.expect("distinct values");
    let mut conn = app.db.pool.acquire().await.expect("connection");
    let due = invoices::drafts_due(&mut conn, at("2029-01-01T00:00:00Z"), 100).await.expect("drafts due");
    assert!(!due.is_empty(), "the demo has a draft");
    let ids: Vec<String> = due.iter().map(|d| d.id.clone()).collect();
    let by_name = |row: &invoices::InvoiceRow| format!("{row:?}");
    let mut stored = Vec::new();
    for id in &ids {
        stored.push(by_name(&invoices::invoice(&mut conn, id).await.expect("read").expect("stored")));
    }
    assert_eq!(due.iter().map(by_name).collect::<Vec<_>>(), stored);
    drop(conn);
    let mut tx = app.db.begin().await.expect("transaction");
    let mut claimed: Vec<String> =
        invoices::claim_drafts(&mut tx, &ids).await.expect("claimed").iter().map(by_name).collect();
    claimed.sort();
    stored.sort();
    assert_eq!(claimed, stored);
}

/// Drafting ends the usage of subscriptions canceled at the period end, which writes their
/// organizations' rows. It takes them in id order, as finalizing does: an instance drafting that
/// held one organization and waited for another, while a second instance finalizing held the
/// other, would deadlock.
#[tokio::test]
async fn drafting_takes_the_organizations_it_ends_in_id_order() {
    let app = spawn_app_at(Some(at("2027-01-10T09:00:00Z")), &[]).await;
    if app.db.dialect != Dialect::Postgres {
        return;
    }
    let now = at("2027-02-11T00:00:00Z");
    let listed = periods_ended(&mut app.db.pool.acquire().await.expect("connection"), now, 100).await.expect("due");
    let template = listed.first().expect("a period ended").clone();
    // Two organizations whose work shares a lane, so one transaction closes both: copies of the
    // template's, under the first two ids that hash to one lane.
    let lanes = lanes(&app.db);
    let mut by_lane = std::collections::HashMap::new();
    let (lower, higher) = (0..)
        .map(|n| format!("org_lane_{n:02}"))
        .find_map(|id| by_lane.insert(lane_of(&id, lanes), id.clone()).map(|other| (other, id)))
        .expect("two ids in one lane");
    for organization in [&lower, &higher] {
        sqlx::query(
            "insert into organizations select (jsonb_populate_record(o, jsonb_build_object('id', $2::text))).*
             from organizations o where id = $1",
        )
        .bind(&template.organization_id)
        .bind(organization)
        .execute(&app.db.pool)
        .await
        .expect("organization copied");
        // Asked to cancel at the period end.
        sqlx::query(
            "insert into subscriptions select (jsonb_populate_record(s, jsonb_build_object('id', $2::text,
                 'organization_id', $2::text, 'cancel_requested_at', $3::bigint))).*
             from subscriptions s where id = $1",
        )
        .bind(&template.id)
        .bind(organization)
        .bind(template.current_period_end - 1)
        .execute(&app.db.pool)
        .await
        .expect("subscription copied");
    }
    let listed = periods_ended(&mut app.db.pool.acquire().await.expect("connection"), now, 100).await.expect("due");
    let row = |id: &str| listed.iter().find(|s| s.id == id).cloned().expect("listed");
    // The higher id first: the order the group would write them in.
    let due = vec![row(&higher), row(&lower)];

    // Another instance finalizing holds the lower organization.
    let mut holder = app.db.begin().await.expect("transaction");
    lock_organizations(&mut holder, std::slice::from_ref(&lower)).await.expect("held");
    let drafting = tokio::spawn({
        let (db, rules) = (app.db.clone(), app.rules);
        async move { close_periods(&db, &mut PlanCache::default(), &rules, &due, now).await }
    });
    let waiting =
        "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()";
    while app.count(waiting).await == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let probe = sqlx::query("select id from organizations where id = $1 for no key update nowait")
        .bind(&higher)
        .fetch_one(&app.db.pool)
        .await
        .map(drop);
    holder.rollback().await.expect("released");
    assert!(probe.is_ok(), "drafting held the higher organization while it waited for the lower: {probe:?}");
    assert_eq!(drafting.await.expect("task").expect("drafted"), 2);
}

#[tokio::test]
async fn reconcile_names_invoice_lines_whose_invoice_does_not_exist() {
    let app = spawn_app_at(Some(at("2027-01-10T09:00:00Z")), &[]).await;
    app.assert_reconciled(0).await;
    let mut conn = app.db.pool.acquire().await.expect("connection");
    // PostgreSQL does not check the lines' key; on SQLite the line is written past its check.
    if app.db.dialect == Dialect::Sqlite {
        sqlx::query("pragma foreign_keys = off").execute(&mut *conn).await.expect("checks off");
    }
    sqlx::query(
        "insert into invoice_lines (invoice_id, position, kind, description, quantity, amount_minor, unrounded)
         values ('in_never_drafted', 0, 'usage', 'Actions', 1, 100, '100')",
    )
    .execute(&mut *conn)
    .await
    .expect("a line without its invoice");
    // Never back into the pool with its checks off.
    drop(conn.detach());
    let result = reconcile_billing(&app.db, &app.rules, (i64::MIN / 2, i64::MAX / 2), app.db.clock.now_ms()).await;
    let mismatches = result.expect("reconcile").mismatches;
    assert_eq!(mismatches, ["lines name invoice in_never_drafted, which does not exist (1 of them)"]);
}

#[tokio::test]
async fn a_cancellation_taken_back_before_the_period_ends_renews_as_if_never_asked() {
    let app = spawn_app_at(Some(at("2027-05-03T12:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let org = [("organization_id", acme.as_str())];
    let nothing_to_keep = app.call_with(&owner, "keep_subscription", &org).await;
    assert_eq!(nothing_to_keep.status(), StatusCode::CONFLICT);

    app.db.clock.set(at("2027-05-10T00:00:00Z"));
    let reason = [("organization_id", acme.as_str()), ("reason", "  moving to another region  ")];
    let page = json(app.call_with(&owner, "cancel_subscription", &reason).await).await;
    assert_eq!(page["cancels_at"], "2027-06-03 12:00 UTC", "{page}");
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'subscription.cancel' and reason = 'moving to another region'")
            .await,
        1,
        "the reason is kept, trimmed"
    );
    let member = app.call_with(&app.client_for(&ACME_MEMBER).await, "keep_subscription", &org).await;
    assert_eq!(member.status(), StatusCode::FORBIDDEN);

    app.db.clock.set(at("2027-05-20T00:00:00Z"));
    let kept = json(app.call_with(&owner, "keep_subscription", &org).await).await;
    assert_eq!(kept["cancels_at"], Value::Null, "{kept}");
    assert_eq!(app.count("select count(*) from audit_log where action = 'subscription.keep'").await, 1);
    let again = app.call_with(&owner, "keep_subscription", &org).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "kept once");

    // Usage after the old end is accepted again, and the next period is invoiced as usual.
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    app.db.clock.set(at("2027-06-05T00:00:00Z"));
    let event = json!([{ "id": "after-end", "namespace": "payments-prod", "metric": "actions", "quantity": 1, "timestamp": "2027-06-04T10:00:00Z" }]);
    let sent = json(app.send_events(&key, &event).await).await;
    assert_eq!(sent["results"][0]["status"], "accepted", "{sent}");
    app.cycle_at("2027-06-05T12:00:00Z").await;
    app.cycle_at("2027-07-05T12:00:00Z").await;
    assert_eq!(app.subscription_status(&acme).await, "active");
    assert_eq!(app.invoices(&acme).await.len(), 2, "both periods invoiced");
}

#[tokio::test]
async fn a_cancellation_cannot_be_taken_back_once_its_period_has_ended() {
    let app = spawn_app_at(Some(at("2027-05-03T12:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let org = [("organization_id", acme.as_str())];
    app.db.clock.set(at("2027-05-10T00:00:00Z"));
    assert_eq!(app.call_with(&owner, "cancel_subscription", &org).await.status(), StatusCode::OK);
    let too_long = "x".repeat(501);
    let long = app
        .call_with(&owner, "cancel_subscription", &[("organization_id", acme.as_str()), ("reason", &too_long)])
        .await;
    assert_eq!(long.status(), StatusCode::UNPROCESSABLE_ENTITY, "a reason over 500 characters is refused");
    assert_eq!(json(long).await["field"], "reason");
    // After the period's end, before the invoice run: the end stands.
    app.db.clock.set(at("2027-06-03T12:30:00Z"));
    let late = app.call_with(&owner, "keep_subscription", &org).await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    let message = json(late).await["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("ended 2027-06-03 12:00 UTC"), "{message}");
    app.cycle_at("2027-06-03T12:30:00Z").await;
    assert_eq!(app.subscription_status(&acme).await, "canceled");
    let after = app.call_with(&owner, "keep_subscription", &org).await;
    assert_eq!(after.status(), StatusCode::CONFLICT);
}

/// The invoice run read the subscription as active, then dunning made it past due before the run
/// closed its period: that run leaves it to the next, which ends it at the period end as its owner
/// asked.
#[tokio::test]
async fn a_period_end_cancellation_that_races_dunning_still_ends_at_the_period_end() {
    let app = spawn_app_at(Some(at("2027-05-03T12:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    app.db.clock.set(at("2027-05-10T00:00:00Z"));
    let canceled = app.call_with(&owner, "cancel_subscription", &[("organization_id", &acme)]).await;
    assert_eq!(canceled.status(), StatusCode::OK);
    let now = at("2027-06-03T12:00:00Z");
    app.db.clock.set(now);
    let due = periods_ended(&mut *app.db.pool.acquire().await.unwrap(), now, 10).await.unwrap();
    sqlx::query("update subscriptions set status = 'past_due' where organization_id = $1")
        .bind(&acme)
        .execute(&app.db.pool)
        .await
        .unwrap();
    close_periods(&app.db, &mut PlanCache::default(), &app.rules, &due, now).await.unwrap();
    let acme_period = format!("select current_period_start from subscriptions where organization_id = '{acme}'");
    assert_eq!(app.count(&acme_period).await, at("2027-05-03T12:00:00Z"), "not from a list that no longer holds");
    assert_eq!(app.subscription_status(&acme).await, "past_due");
    app.cycle_at("2027-06-03T12:01:00Z").await;
    assert_eq!(app.subscription_status(&acme).await, "canceled");
    let end = at("2027-06-03T12:00:00Z");
    assert_eq!(app.count(&format!("select count(*) from subscriptions where ended_at = {end}")).await, 1);
    assert_eq!(app.count(&format!("select count(*) from organizations where usage_ends_at = {end}")).await, 1);
}

/// The period ended but the invoice run has not closed it yet when the owner cancels: the period
/// in progress is the next one, and the subscription ends with it, its usage accepted till then.
#[tokio::test]
async fn a_cancellation_asked_before_the_run_closed_the_ended_period_ends_with_the_period_in_progress() {
    let app = spawn_app_at(Some(at("2027-05-03T12:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    app.db.clock.set(at("2027-06-03T12:05:00Z"));
    let page = json(app.call_with(&owner, "cancel_subscription", &[("organization_id", &acme)]).await).await;
    assert_eq!(page["cancels_at"], "2027-07-03 12:00 UTC", "{page}");
    app.cycle_at("2027-06-03T12:05:00Z").await;
    app.db.clock.set(at("2027-06-10T00:00:00Z"));
    let event = json!([{ "id": "in-june", "namespace": "payments-prod", "metric": "actions", "quantity": 1, "timestamp": "2027-06-09T10:00:00Z" }]);
    let reply = json(app.send_events(&key, &event).await).await;
    assert_eq!(reply["results"][0]["status"], "accepted", "{reply}");
    assert_eq!(app.subscription_status(&acme).await, "active");
    app.cycle_at("2027-07-03T12:05:00Z").await;
    assert_eq!(app.subscription_status(&acme).await, "canceled");
    let june: i64 =
        app.count(&format!("select count(*) from invoices where period_start = {}", at("2027-06-03T12:00:00Z"))).await;
    assert_eq!(june, 1, "the period in progress is billed, up to its end");
}

/// Dunning canceled the subscription after the invoice run listed it: the run must not bill the
/// whole period from that list, but the period up to the cancellation, from a fresh one.
#[tokio::test]
async fn a_subscription_that_ended_after_the_run_listed_it_is_billed_to_its_end() {
    let app = spawn_app_at(Some(at("2027-05-03T12:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let now = at("2027-06-03T12:01:00Z");
    app.db.clock.set(now);
    let due = periods_ended(&mut *app.db.pool.acquire().await.unwrap(), now, 10).await.unwrap();
    let ended_at = at("2027-06-03T11:00:00Z");
    sqlx::query("update subscriptions set status = 'canceled', ended_at = $1 where organization_id = $2")
        .bind(ended_at)
        .bind(&acme)
        .execute(&app.db.pool)
        .await
        .unwrap();
    close_periods(&app.db, &mut PlanCache::default(), &app.rules, &due, now).await.unwrap();
    app.cycle_at("2027-06-03T12:02:00Z").await;
    let periods: Vec<(i64, i64)> = sqlx::query_as(
        "select period_start, period_end from invoices where organization_id = $1 order by period_start",
    )
    .bind(&acme)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(periods, vec![(at("2027-05-03T12:00:00Z"), ended_at)], "billed to the cancellation, once");
}

/// The owner asked to cancel at the period end; dunning's last step came after that end, before
/// the run: the subscription ended where the owner asked, and nothing after it is billed.
#[tokio::test]
async fn a_dunning_cancellation_after_the_requested_end_ends_at_the_requested_end() {
    let app = spawn_app_at(Some(at("2027-05-03T12:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    app.db.clock.set(at("2027-05-20T00:00:00Z"));
    let canceled = app.call_with(&owner, "cancel_subscription", &[("organization_id", &acme)]).await;
    assert_eq!(canceled.status(), StatusCode::OK);
    let now = at("2027-06-03T12:30:00Z");
    app.db.clock.set(now);
    let mut tx = app.db.begin().await.unwrap();
    let subscription = subscription_of(&mut tx, &acme).await.unwrap().unwrap();
    let cause = TransitionCause { cause: "unpaid at the end of dunning", actor: "dunning", at: now };
    let from = subscription.status().unwrap();
    assert!(change_status(&mut tx, &subscription.id, from, SubscriptionStatus::Canceled, &cause).await.unwrap());
    end_subscription(&mut tx, &subscription, now).await.unwrap();
    tx.commit().await.unwrap();
    app.cycle_at("2027-06-03T12:31:00Z").await;
    let periods: Vec<(i64, i64)> = sqlx::query_as(
        "select period_start, period_end from invoices where organization_id = $1 order by period_start",
    )
    .bind(&acme)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(periods, vec![(at("2027-05-03T12:00:00Z"), at("2027-06-03T12:00:00Z"))]);
}

/// Between a period's end and the run that closes it, a plan change would land in the period
/// being invoiced: it is refused until the run has closed it.
#[tokio::test]
async fn a_plan_change_waits_for_the_run_to_close_the_ended_period() {
    let app = spawn_app_at(Some(at("2027-05-03T12:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    app.db.clock.set(at("2027-06-03T12:05:00Z"));
    for plan in ["Essentials", "Enterprise"] {
        let preview = app.call_with(&owner, "preview_plan_change", &[("organization_id", &acme), ("plan", plan)]).await;
        assert_eq!(preview.status(), StatusCode::CONFLICT, "{plan}");
        let error = json(preview).await;
        assert!(error["message"].as_str().unwrap_or_default().contains("being invoiced"), "{error}");
    }
    // Previewed before the end, confirmed after it: refused too.
    app.db.clock.set(at("2027-06-03T11:59:00Z"));
    let early =
        json(app.call_with(&owner, "preview_plan_change", &[("organization_id", &acme), ("plan", "Enterprise")]).await)
            .await;
    app.db.clock.set(at("2027-06-03T12:05:00Z"));
    let token = early["token"].as_str().unwrap();
    let form = [("organization_id", acme.as_str()), ("plan", "Enterprise"), ("token", token)];
    let confirmed = app.call_with(&owner, "confirm_plan_change", &form).await;
    assert_eq!(confirmed.status(), StatusCode::CONFLICT);
    let refusal = json(confirmed).await;
    assert!(refusal["message"].as_str().unwrap_or_default().contains("being invoiced"), "{refusal}");
    assert_eq!(app.count("select count(*) from plan_changes").await, 0);

    app.cycle_at("2027-06-03T12:05:00Z").await;
    let preview =
        app.call_with(&owner, "preview_plan_change", &[("organization_id", &acme), ("plan", "Essentials")]).await;
    assert_eq!(preview.status(), StatusCode::OK);
    let preview = json(preview).await;
    assert!(preview["period"].as_str().unwrap().starts_with("2027-06-03 12:00 UTC"), "{preview}");
}

#[tokio::test]
async fn a_credit_larger_than_an_invoice_pays_it_and_the_rest_carries_over() {
    let app = spawn_app_at(Some(at("2027-03-01T00:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let staff = app.client_for(&STAFF).await;
    let grant = [
        ("organization_id", acme.as_str()),
        ("amount", "800.00"),
        ("reason", "outage in February"),
        ("expires", ""),
        ("idempotency_key", "k-1"),
    ];
    let first = json(app.call_with(&staff, "issue_credit", &grant).await).await;
    let second = json(app.call_with(&staff, "issue_credit", &grant).await).await;
    assert_eq!((first["created"].as_bool(), second["created"].as_bool()), (Some(true), Some(false)));
    assert_eq!(first["id"], second["id"], "a retried request returns the first credit");
    assert_eq!(app.count("select count(*) from credits").await, 1);
    assert_eq!(app.count("select count(*) from audit_log where action = 'credit.grant'").await, 1);

    app.cycle_at("2027-04-01T00:00:00Z").await;
    app.cycle_at("2027-04-03T01:00:00Z").await;
    assert_eq!(app.invoices(&acme).await[0], ("paid".into(), Some("INV-2027-000001".into()), 50_000, 50_000, 0));
    assert_eq!(app.ledger_balance(&acme, "customer_credit").await, -30_000, "300.00 of credit left");
    app.cycle_at("2027-05-01T00:00:00Z").await;
    app.cycle_at("2027-05-03T01:00:00Z").await;
    assert_eq!(app.invoices(&acme).await[1], ("open".into(), Some("INV-2027-000002".into()), 50_000, 30_000, 20_000));
    assert_eq!(app.ledger_balance(&acme, "customer_credit").await, 0);
    assert_eq!(app.ledger_balance(&acme, "receivable").await, 20_000);
    app.assert_reconciled(0).await;

    let page =
        json(app.call_with(&app.client_for(&ACME_MEMBER).await, "invoices", &[("organization_id", &acme)]).await).await;
    assert_eq!((page["balance_due"].as_str(), page["credit_balance"].as_str()), (Some("$200.00"), Some("$0.00")));
    let outsider = app.call_with(&app.client_for(&GLOBEX_OWNER).await, "invoices", &[("organization_id", &acme)]).await;
    assert_eq!(outsider.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_billing_requests_name_the_reason_and_change_nothing() {
    let app = spawn_app_at(Some(at("2027-03-01T00:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    for (plan, status, field) in
        [("Platinum", StatusCode::UNPROCESSABLE_ENTITY, "plan"), ("Business", StatusCode::UNPROCESSABLE_ENTITY, "plan")]
    {
        let response =
            app.call_with(&owner, "preview_plan_change", &[("organization_id", &acme), ("plan", plan)]).await;
        assert_eq!(response.status(), status, "{plan}");
        assert_eq!(json(response).await["field"], field);
    }
    let forged = app
        .call_with(
            &owner,
            "confirm_plan_change",
            &[("organization_id", &acme), ("plan", "Enterprise"), ("token", "1.abc")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::CONFLICT);

    let staff = app.client_for(&STAFF).await;
    for (amount, message) in
        [("0", "more than zero"), ("-5", "amount such as"), ("10000.01", "must not exceed"), ("1.234", "two decimals")]
    {
        let response = app
            .call_with(
                &staff,
                "issue_credit",
                &[
                    ("organization_id", &acme),
                    ("amount", amount),
                    ("reason", "r"),
                    ("expires", ""),
                    ("idempotency_key", amount),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{amount}");
        let body = json(response).await;
        assert_eq!(body["field"], "amount");
        assert!(body["message"].as_str().unwrap().contains(message), "{body}");
    }
    let no_reason = app
        .call_with(
            &staff,
            "issue_credit",
            &[("organization_id", &acme), ("amount", "5"), ("reason", " "), ("expires", ""), ("idempotency_key", "x")],
        )
        .await;
    assert_eq!(json(no_reason).await["field"], "reason");
    let customer = app
        .call_with(
            &owner,
            "issue_credit",
            &[("organization_id", &acme), ("amount", "5"), ("reason", "me"), ("expires", ""), ("idempotency_key", "y")],
        )
        .await;
    assert_eq!(customer.status(), StatusCode::NOT_FOUND, "customers do not learn the admin action exists");
    assert_eq!(app.count("select count(*) from credits").await, 0);
    assert_eq!(app.count("select count(*) from plan_changes").await, 0);

    // A paid invoice cannot be voided; an open one can, and the ledger is reversed.
    let grant = [
        ("organization_id", acme.as_str()),
        ("amount", "500"),
        ("reason", "goodwill"),
        ("expires", ""),
        ("idempotency_key", "g"),
    ];
    assert_eq!(app.call_with(&staff, "issue_credit", &grant).await.status(), StatusCode::OK);
    app.cycle_at("2027-04-01T00:00:00Z").await;
    app.cycle_at("2027-04-03T01:00:00Z").await;
    app.cycle_at("2027-05-01T00:00:00Z").await;
    app.cycle_at("2027-05-03T01:00:00Z").await;
    let ids: Vec<(String, String)> =
        sqlx::query_as("select id, status from invoices where organization_id = $1 order by period_start")
            .bind(&acme)
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!((ids[0].1.as_str(), ids[1].1.as_str()), ("paid", "open"));
    let refused = app.call_with(&staff, "void_invoice", &[("invoice_id", &ids[0].0), ("reason", "mistake")]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(json(refused).await["message"], "an invoice cannot go from paid to void");
    let voided = app.call_with(&staff, "void_invoice", &[("invoice_id", &ids[1].0), ("reason", "billed twice")]).await;
    assert_eq!(voided.status(), StatusCode::OK);
    assert_eq!(app.ledger_balance(&acme, "receivable").await, 0);
    app.assert_reconciled(0).await;
}

#[tokio::test]
async fn concurrent_invoice_runs_make_one_invoice_per_period_with_gapless_numbers() {
    let app = spawn_app_at(Some(at("2027-03-01T00:00:00Z")), &[]).await;
    let now = at("2027-04-01T00:00:00Z");
    app.db.clock.set(now);
    let runs = (0..4).map(|_| run_billing_cycle(&app.db, &app.rules, now));
    let reports = futures_util::future::join_all(runs).await;
    let periods_closed: usize = reports.into_iter().map(|r| r.expect("cycle").periods_closed).sum();
    assert_eq!(periods_closed, 2, "Acme's first period and Globex's trial, each closed once");
    assert_eq!(app.count("select count(*) from invoices").await, 1);
    let later = at("2027-04-03T01:00:00Z");
    let runs = (0..4).map(|_| run_billing_cycle(&app.db, &app.rules, later));
    let finalized: usize =
        futures_util::future::join_all(runs).await.into_iter().map(|r| r.expect("cycle").finalized).sum();
    assert_eq!(finalized, 1);
    assert_eq!(app.count("select count(*) from ledger_transactions").await, 1);
    assert_eq!(app.count("select max(last_number) from invoice_number_sequences").await, 1);
}

#[tokio::test]
async fn subscriptions_from_before_stored_periods_start_billing_from_the_present() {
    let app = spawn_app_at(Some(at("2027-05-03T12:00:00Z")), &[]).await;
    sqlx::query("update subscriptions set current_period_start = 0, current_period_end = 0")
        .execute(&app.db.pool)
        .await
        .unwrap();
    app.db.clock.set(at("2027-09-10T00:00:00Z"));
    assert_eq!(server::billing::subscriptions::backfill_periods(&app.db).await.unwrap(), 2);
    let report = app.cycle_at("2027-09-10T00:00:00Z").await;
    assert_eq!(report.periods_closed, 0, "no invoice for the months before");
    assert_eq!(app.count("select count(*) from invoices").await, 0);
    let acme: (i64, i64) = sqlx::query_as(
        "select s.current_period_start, s.current_period_end from subscriptions s
         join organizations o on o.id = s.organization_id where o.name = 'Acme Corp'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(acme, (at("2027-09-03T12:00:00Z"), at("2027-10-03T12:00:00Z")));
}

#[tokio::test]
async fn a_stored_plan_that_cannot_be_rated_stops_its_invoice_run_naming_the_metric() {
    let app = spawn_app_at(Some(at("2027-03-01T00:00:00Z")), &[]).await;
    let package = r#"[{"metric":"actions","included":0,"model":{"package":{"block":0,"minor_per_block":2500}}}]"#;
    // Stored as a version of its own, as prices change: a stored version never changes, and the
    // server keeps every version it has read.
    sqlx::query(
        "insert into plan_versions (id, plan_id, version, currency, base_fee_minor, prices_json, created_at)
         select 'pv_unratable', plan_id, 99, currency, base_fee_minor, $1, created_at from plan_versions limit 1",
    )
    .bind(package)
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query("update subscriptions set plan_version_id = 'pv_unratable'").execute(&app.db.pool).await.unwrap();
    app.db.clock.set(at("2027-04-01T00:00:00Z"));

    let refused = run_billing_cycle(&app.db, &app.rules, at("2027-04-01T00:00:00Z")).await.unwrap_err();

    assert!(refused.to_string().contains("actions: a package block must be positive"), "{refused}");
    assert_eq!(app.count("select count(*) from invoices").await, 0, "nothing is billed from it");
}
