//! The dashboard's overview: plan and status, the next invoice, balances, the latest invoices,
//! and the alerts that need the customer, each as its own page shows it.
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;
use crate::payments::Scenario;

impl Scenario {
    async fn overview(&self) -> Value {
        let form = [("organization_id", self.acme.as_str())];
        json(self.app.call_with(&self.owner, "dashboard", &form).await).await["overview"].clone()
    }

    /// (severity, section) of each alert, in order, and their messages.
    async fn alerts(&self) -> (Vec<(String, String)>, String) {
        let overview = self.overview().await;
        let alerts = overview["alerts"].as_array().cloned().unwrap_or_default();
        let kinds = alerts
            .iter()
            .map(|a| {
                (
                    a["severity"].as_str().unwrap_or_default().to_owned(),
                    a["section"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let messages = alerts.iter().filter_map(|a| a["message"].as_str()).collect::<Vec<_>>().join(" | ");
        (kinds, messages)
    }
}

fn kinds(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(s, p)| ((*s).to_owned(), (*p).to_owned())).collect()
}

#[tokio::test]
async fn the_overview_shows_plan_next_invoice_and_balances_as_their_pages_do() {
    let s = Scenario::new(&[]).await;
    let overview = s.overview().await;
    assert_eq!(
        (overview["plan"].as_str(), overview["status"].as_str()),
        (Some("Business"), Some("active")),
        "{overview}"
    );
    assert_eq!(overview["next_invoice_on"]["local"], "2027-04-01 00:00 UTC");
    assert_eq!(overview["next_invoice_in"], "in 31 days", "the clock stands at March 1");
    assert_eq!((overview["balance_due"].as_str(), overview["credit_balance"].as_str()), (Some("$0.00"), Some("$0.00")));
    assert_eq!(overview["latest_invoices"], serde_json::json!([]));
    assert_eq!(s.alerts().await.0, kinds(&[]));

    // A cancellation waiting for the period's end is an alert until it is taken back.
    let org = [("organization_id", s.acme.as_str())];
    s.app.call_with(&s.owner, "cancel_subscription", &org).await;
    let (alerts, messages) = s.alerts().await;
    assert_eq!(alerts, kinds(&[("Warning", "plan")]));
    assert!(messages.contains("canceled at the end of the period, on 2027-04-01 00:00 UTC"), "{messages}");
    s.app.call_with(&s.owner, "keep_subscription", &org).await;
    assert_eq!(s.alerts().await.0, kinds(&[]));

    // A declined card that lapses this month: past due first, then the card.
    s.save_card("4000 0000 0000 0341").await;
    sqlx::query("update payment_profiles set exp_month = 4, exp_year = 2027").execute(&s.app.db.pool).await.unwrap();
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let (alerts, messages) = s.alerts().await;
    assert_eq!(alerts, kinds(&[("Danger", "payment"), ("Warning", "payment")]), "{messages}");
    assert!(messages.contains("The card ending 0341 expires at the end of 04/2027"), "{messages}");
    let invoices = json(s.app.call_with(&s.owner, "invoices", &org).await).await;
    let overview = s.overview().await;
    assert_eq!(overview["balance_due"], invoices["balance_due"]);
    assert_ne!(overview["balance_due"], "$0.00");
    assert_eq!(overview["latest_invoices"][0]["number"], invoices["invoices"][0]["number"]);
    assert_eq!(overview["status"], "past_due");

    // Once the card has lapsed, it says so.
    s.app.db.clock.set(crate::payments::at("2027-05-01T00:00:00Z"));
    let (alerts, messages) = s.alerts().await;
    assert!(
        alerts.contains(&("Danger".to_owned(), "payment".to_owned())) && messages.contains("has expired"),
        "{messages}"
    );
}

#[tokio::test]
async fn a_scheduled_plan_change_is_an_alert_until_it_takes_effect() {
    let s = Scenario::new(&[]).await;
    s.app.db.clock.set(crate::payments::at("2027-03-10T00:00:00Z"));
    s.app.change_plan(&s.owner, &s.acme, "Essentials").await;
    let (alerts, messages) = s.alerts().await;
    assert_eq!(alerts, kinds(&[("Info", "plan")]), "{messages}");
    assert_eq!(messages, "The plan changes to Essentials on 2027-04-01 00:00 UTC.");
    s.app.cycle_at("2027-04-01T00:00:00Z").await;
    assert_eq!(s.alerts().await, (kinds(&[]), String::new()), "applied: nothing waits");
    assert_eq!(s.overview().await["plan"], "Essentials");
}

#[tokio::test]
async fn plan_changes_there_and_back_within_a_minute_move_the_estimate() {
    let s = Scenario::new(&["--downgrade-timing", "immediately"]).await;
    let total = || async {
        let form = [("organization_id", s.acme.as_str())];
        json(s.app.call_with(&s.owner, "dashboard", &form).await).await["estimate"]["total_minor"].as_i64()
    };
    s.app.db.clock.set(crate::payments::at("2027-03-10T12:00:10Z"));
    let before = total().await.expect("an estimate");
    s.app.change_plan(&s.owner, &s.acme, "Enterprise").await;
    s.app.db.clock.set(crate::payments::at("2027-03-10T12:00:50Z"));
    s.app.change_plan(&s.owner, &s.acme, "Business").await;
    // Back on the plan and period it had, in the same minute: only the two changes applied tell
    // this estimate from the one before them (40 seconds of Enterprise's fee, prorated).
    let after = total().await.expect("an estimate");
    assert_ne!(after, before, "the estimate rated before the changes is not shown after them");
}

#[tokio::test]
async fn the_dashboard_compares_usage_so_far_with_the_same_point_of_the_previous_period() {
    let s = Scenario::new(&[]).await;
    let key = s.app.api_key(&ACME_OWNER, "Acme Corp").await;
    let actions = |id: &str, quantity: i64, timestamp: &str| serde_json::json!([{"id": id, "namespace": "payments-prod", "metric": "actions", "quantity": quantity, "timestamp": timestamp}]);
    let usage_change = || async {
        let form = [("organization_id", s.acme.as_str())];
        json(s.app.call_with(&s.owner, "dashboard", &form).await).await["estimate"]["usage_change"].clone()
    };
    assert_eq!(usage_change().await, Value::Null, "the first period has nothing to compare with");

    // The first period (March): 3,500,000 actions on its second day, 1,000,000 more on the 20th.
    for (id, quantity, sent_at) in
        [("m1", 3_500_000, "2027-03-02T10:00:00Z"), ("m2", 1_000_000, "2027-03-20T10:00:00Z")]
    {
        s.app.db.clock.set(crate::payments::at(sent_at) + 60_000);
        s.app.send_events(&key, &actions(id, quantity, sent_at)).await;
        s.app.wait_for_rollups().await;
    }
    // April 3, 01:00: two days and an hour into the second period, with 3,000,000 actions so far.
    let now = s.finalize_first_invoice().await;
    s.app.send_events(&key, &actions("a1", 3_000_000, "2027-04-02T10:00:00Z")).await;
    s.app.wait_for_rollups().await;
    s.app.db.clock.set(now);

    // Business includes 2,500,000 actions, then $45.00 per million: $22.50 now; by March 3 01:00,
    // 1,000,000 over made $45.00 (the 20th's usage came later).
    assert_eq!(usage_change().await, "Usage so far $22.50, down 50% on the same point last period ($45.00)");
}

#[tokio::test]
async fn the_projection_of_steady_usage_is_what_the_period_then_costs() {
    let s = Scenario::new(&[]).await;
    let key = s.app.api_key(&ACME_OWNER, "Acme Corp").await;
    let actions = |id: &str, quantity: i64, timestamp: &str| serde_json::json!([{"id": id, "namespace": "payments-prod", "metric": "actions", "quantity": quantity, "timestamp": timestamp}]);
    let estimate = || async {
        let form = [("organization_id", s.acme.as_str())];
        json(s.app.call_with(&s.owner, "dashboard", &form).await).await["estimate"].clone()
    };
    // April 3, 01:00: 49 hours into April's 720, with 3,000,000 actions so far.
    let now = s.finalize_first_invoice().await;
    s.app.send_events(&key, &actions("a1", 3_000_000, "2027-04-02T10:00:00Z")).await;
    s.app.wait_for_rollups().await;
    s.app.db.clock.set(now);
    let early = estimate().await;
    let projection = &early["projection"];
    assert!(projection["total_minor"].as_i64().unwrap() > early["total_minor"].as_i64().unwrap(), "{early}");
    // The usage API answers the same figures, per namespace.
    let api = json(s.app.api(Method::GET, "/v1/estimate", &key).send().await.unwrap()).await;
    assert_eq!(api["month_to_date_minor"], early["total_minor"], "{api}");
    assert_eq!(api["projected_minor"], projection["total_minor"], "{api}");
    assert_eq!((api["currency"].as_str(), api["trial"].as_bool()), (Some("USD"), Some(false)), "{api}");
    assert_eq!(api["period_start"], "2027-04-01T00:00:00Z", "{api}");
    let in_api = api["namespaces"].as_array().unwrap().iter().find(|n| n["name"] == "payments-prod").unwrap();
    let on_page = &projection["per_namespace"][0];
    assert_eq!(in_api["projected_usage_minor"], on_page["usage_minor"], "{api}");
    let usage_so_far = in_api["usage_to_date_minor"].as_i64().unwrap();
    assert!(usage_so_far > 0 && usage_so_far < on_page["usage_minor"].as_i64().unwrap(), "{api}");

    // The same pace to the end: 3,000,000 × 671 / 49 more actions (rounded down) by April 30.
    let late = crate::payments::at("2027-04-30T22:00:00Z");
    s.app.db.clock.set(late);
    s.app.send_events(&key, &actions("a2", 41_081_632, "2027-04-30T21:00:00Z")).await;
    s.app.wait_for_rollups().await;
    let at_the_end = estimate().await;
    assert_eq!(at_the_end["total_minor"], projection["total_minor"], "{projection} against {at_the_end}");
    assert_eq!(projection["total"], at_the_end["total"]);
    let namespaces = projection["per_namespace"].as_array().unwrap();
    assert_eq!(namespaces.len(), 1, "{projection}");
    assert_eq!(namespaces[0]["namespace"], "payments-prod");

    // Within a period's first day there is too little to go on.
    s.app.db.clock.set(crate::payments::at("2027-04-01T12:00:00Z"));
    assert_eq!(estimate().await["projection"], Value::Null);
    let api = json(s.app.api(Method::GET, "/v1/estimate", &key).send().await.unwrap()).await;
    assert_eq!(api["projected_minor"], Value::Null, "{api}");
    assert!(api["namespaces"].as_array().unwrap().iter().all(|n| n["projected_usage_minor"].is_null()), "{api}");
}
