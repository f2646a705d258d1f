//! Coupons and promotion codes: staff create them, an owner previews a code and applies it, the
//! next invoices carry a discount line and the ledger books the discount apart from revenue; a
//! code is redeemed once per organization and never beyond its limit, also when asked at once.
use reqwest::{Client, StatusCode};
use serde_json::Value;
use server::admin::reconciliation::invoices::reconcile_billing;

use crate::billing::at;
use crate::helpers::*;

impl TestApp {
    /// Creates a coupon as staff; returns its id. `fields` override a 20 % once coupon.
    async fn coupon(&self, staff: &Client, fields: &[(&str, &str)]) -> String {
        let response = self.create_coupon(staff, fields).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = json(response).await;
        let name = coupon_form(fields).into_iter().find(|(field, _)| field == "form[name]").unwrap().1;
        let coupons = page["coupons"].as_array().expect("coupons");
        let coupon = coupons.iter().find(|c| c["name"] == name).expect("the new coupon");
        coupon["id"].as_str().unwrap().to_owned()
    }

    async fn create_coupon(&self, staff: &Client, fields: &[(&str, &str)]) -> reqwest::Response {
        let form = coupon_form(fields);
        let pairs: Vec<(&str, &str)> = form.iter().map(|(name, value)| (name.as_str(), *value)).collect();
        self.call_with(staff, "admin_create_coupon", &pairs).await
    }

    async fn promotion_code(&self, staff: &Client, coupon_id: &str, code: &str, max: &str) -> reqwest::Response {
        let form = [
            ("form[coupon_id]", coupon_id),
            ("form[code]", code),
            ("form[redeem_by]", ""),
            ("form[max_redemptions]", max),
        ];
        self.call_with(staff, "admin_create_promotion_code", &form).await
    }

    async fn redeem(&self, owner: &Client, org: &str, code: &str) -> reqwest::Response {
        self.call_with(owner, "redeem_promotion_code", &[("organization_id", org), ("code", code)]).await
    }
}

fn coupon_form<'a>(fields: &[(&'a str, &'a str)]) -> Vec<(String, &'a str)> {
    let mut form = vec![
        ("name", "Launch"),
        ("kind", "percent"),
        ("value", "20"),
        ("currency", "USD"),
        ("duration", "once"),
        ("invoices", ""),
        ("redeem_by", ""),
        ("max_redemptions", ""),
        ("plans", ""),
    ];
    for (name, value) in fields {
        form.iter_mut().find(|(n, _)| n == name).expect("a coupon field").1 = value;
    }
    form.into_iter().map(|(name, value)| (format!("form[{name}]"), value)).collect()
}

#[tokio::test]
async fn a_promotion_code_takes_its_percentage_off_the_next_invoices_and_the_ledger_books_it_apart() {
    let app = spawn_app_at(Some(at("2027-01-10T09:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let (staff, owner) = (app.client_for(&STAFF).await, app.client_for(&ACME_OWNER).await);
    let coupon =
        app.coupon(&staff, &[("duration", "repeating"), ("invoices", "2"), ("plans", "business, Essentials")]).await;
    assert_eq!(app.promotion_code(&staff, &coupon, " launch20 ", "").await.status(), StatusCode::OK);
    let page = json(app.call_with(&staff, "admin_coupons", &[]).await).await;
    assert_eq!(page["coupons"][0]["terms"], "20% off the next 2 invoices", "{page}");
    assert_eq!(page["coupons"][0]["plans"], serde_json::json!(["Business", "Essentials"]));
    assert_eq!(page["coupons"][0]["codes"][0]["code"], "LAUNCH20");

    // Acme is on Business (500.00 a month, no usage yet): the preview takes 20 % off the period so far.
    app.db.clock.set(at("2027-01-20T09:00:00Z"));
    let member = app.client_for(&ACME_MEMBER).await;
    let form = [("organization_id", acme.as_str()), ("code", "Launch20")];
    assert_eq!(app.call_with(&member, "preview_promotion_code", &form).await.status(), StatusCode::FORBIDDEN);
    let preview = json(app.call_with(&owner, "preview_promotion_code", &form).await).await;
    assert_eq!(preview["period_so_far"], "$500.00", "{preview}");
    assert_eq!((preview["discount"].as_str(), preview["after_discount"].as_str()), (Some("-$100.00"), Some("$400.00")));
    assert_eq!(app.count("select count(*) from coupon_redemptions").await, 0, "a preview redeems nothing");

    let plan = json(app.redeem(&owner, &acme, "launch20").await).await;
    assert_eq!(plan["discount"]["code"], "LAUNCH20", "{plan}");
    assert_eq!(plan["discount"]["remaining"], "2 invoices left");
    let dashboard = json(app.call_with(&member, "dashboard", &[("organization_id", &acme)]).await).await;
    let estimate = &dashboard["estimate"];
    assert_eq!(
        (estimate["total"].as_str(), estimate["discount"].as_str()),
        (Some("$400.00"), Some("$100.00 off with LAUNCH20")),
        "{estimate}"
    );
    let again = app.redeem(&owner, &acme, "LAUNCH20").await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(json(again).await["field"], "code");

    // The first period: finalized with a discount line, the ledger keeps the whole revenue and the
    // discount given away apart.
    app.cycle_at("2027-02-10T10:00:00Z").await;
    assert!(app.lines(&acme, 0).await.iter().all(|l| l.0 != "discount"), "a draft is not discounted yet");
    app.cycle_at("2027-02-12T10:00:00Z").await;
    let first = &app.invoices(&acme).await[0];
    assert_eq!((first.0.as_str(), first.2, first.4), ("open", 40_000, 40_000));
    let lines = app.lines(&acme, 0).await;
    let last = lines.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str(), last.3),
        ("discount", "Discount LAUNCH20: 20% off the next 2 invoices", -10_000)
    );
    assert_eq!(app.ledger_balance(&acme, "revenue").await, -50_000);
    assert_eq!(app.ledger_balance(&acme, "discounts").await, 10_000);
    assert_eq!(app.ledger_balance(&acme, "receivable").await, 40_000);
    let plan = json(app.call_with(&owner, "plan", &[("organization_id", &acme)]).await).await;
    assert_eq!(plan["discount"]["remaining"], "1 invoice left");

    // The second invoice is discounted too; the third is not.
    app.cycle_at("2027-03-10T10:00:00Z").await;
    app.cycle_at("2027-03-12T10:00:00Z").await;
    assert_eq!(app.invoices(&acme).await[1].2, 40_000);
    let plan = json(app.call_with(&owner, "plan", &[("organization_id", &acme)]).await).await;
    assert_eq!(plan["discount"], Value::Null, "{plan}");
    app.cycle_at("2027-04-10T10:00:00Z").await;
    app.cycle_at("2027-04-12T10:00:00Z").await;
    assert_eq!(app.invoices(&acme).await[2].2, 50_000);
    assert!(app.lines(&acme, 2).await.iter().all(|l| l.0 != "discount"));
    assert_eq!(app.ledger_balance(&acme, "discounts").await, 20_000);
    app.assert_reconciled(0).await;

    // Voiding a discounted invoice takes its discount back out of the books.
    let second: String =
        sqlx::query_scalar("select id from invoices where organization_id = $1 order by period_start limit 1 offset 1")
            .bind(&acme)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let voided = app.call_with(&staff, "void_invoice", &[("invoice_id", &second), ("reason", "billed in error")]).await;
    assert_eq!(voided.status(), StatusCode::OK);
    assert_eq!(app.ledger_balance(&acme, "discounts").await, 10_000);
    assert_eq!(app.ledger_balance(&acme, "revenue").await, -100_000);
    app.assert_reconciled(0).await;
    for action in ["coupon.create", "promotion_code.create", "promotion_code.redeem"] {
        let sql = format!("select count(*) from audit_log where action = '{action}'");
        assert_eq!(app.count(&sql).await, 1, "{action}");
    }
}

#[tokio::test]
async fn a_fixed_amount_never_takes_more_than_the_invoice_and_a_full_discount_leaves_nothing_due() {
    let app = spawn_app_at(Some(at("2027-01-10T09:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let (staff, owner) = (app.client_for(&STAFF).await, app.client_for(&ACME_OWNER).await);
    let coupon = app.coupon(&staff, &[("kind", "amount"), ("value", "750.00"), ("duration", "forever")]).await;
    app.promotion_code(&staff, &coupon, "BIGDEAL", "").await;
    assert_eq!(app.redeem(&owner, &acme, "bigdeal").await.status(), StatusCode::OK);
    app.cycle_at("2027-02-10T10:00:00Z").await;
    app.cycle_at("2027-02-12T10:00:00Z").await;
    let invoice = &app.invoices(&acme).await[0];
    assert_eq!((invoice.0.as_str(), invoice.2, invoice.4), ("paid", 0, 0), "750.00 off a 500.00 invoice");
    assert_eq!(app.lines(&acme, 0).await.last().unwrap().3, -50_000);
    assert_eq!(app.ledger_balance(&acme, "discounts").await, 50_000);
    assert_eq!(app.ledger_balance(&acme, "revenue").await, -50_000);
    assert_eq!(app.count("select count(*) from payments").await, 0, "nothing to collect");
    app.assert_reconciled(0).await;

    // Reconciliation notices a recorded discount that differs from the invoice's line and the books.
    sqlx::query("update discount_applications set amount_minor = amount_minor - 1")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let now = app.db.clock.now_ms();
    let found = reconcile_billing(&app.db, &app.rules, (i64::MIN / 2, i64::MAX / 2), now).await.unwrap().mismatches;
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].ends_with("discount lines 50000, discount recorded 49999"), "{found:?}");
    assert!(found[1].ends_with("discounts 50000 posted, 49999 recorded"), "{found:?}");
}

#[tokio::test]
async fn a_code_goes_once_per_organization_and_never_beyond_its_limit_when_asked_at_once() {
    let app = spawn_app().await;
    let staff = app.client_for(&STAFF).await;
    let (acme, globex) = (app.organization_id("Acme Corp").await, app.organization_id("Globex").await);
    let (acme_owner, globex_owner) = (app.client_for(&ACME_OWNER).await, app.client_for(&GLOBEX_OWNER).await);

    // A code for one redemption, asked for by two organizations at once: one gets it.
    let once = app.coupon(&staff, &[("name", "One only")]).await;
    app.promotion_code(&staff, &once, "ONLYONE", "1").await;
    let (a, b) = tokio::join!(app.redeem(&acme_owner, &acme, "ONLYONE"), app.redeem(&globex_owner, &globex, "ONLYONE"));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 422]);
    let (code_count, coupon_count): (i64, i64) = sqlx::query_as(
        "select p.times_redeemed, c.times_redeemed from promotion_codes p join coupons c on c.id = p.coupon_id
         where p.code = 'ONLYONE'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!((code_count, coupon_count), (1, 1));

    // The other organization, two owners' clicks at once: one redemption.
    let (client, org) = if b.status() == StatusCode::OK { (&acme_owner, &acme) } else { (&globex_owner, &globex) };
    let twice = app.coupon(&staff, &[]).await;
    app.promotion_code(&staff, &twice, "TWICE", "").await;
    let (a, b) = tokio::join!(app.redeem(client, org, "TWICE"), app.redeem(client, org, "TWICE"));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    assert_eq!(app.count("select count(*) from coupon_redemptions").await, 2);
    assert_eq!(app.count("select times_redeemed from promotion_codes where code = 'TWICE'").await, 1);
}

#[tokio::test]
async fn codes_that_do_not_apply_are_refused_with_the_reason_and_change_nothing() {
    let app = spawn_app_at(Some(at("2027-01-10T09:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let (staff, owner) = (app.client_for(&STAFF).await, app.client_for(&ACME_OWNER).await);
    let essentials_only = app.coupon(&staff, &[("plans", "Essentials")]).await;
    app.promotion_code(&staff, &essentials_only, "ESSENTIALS", "").await;
    let refused = app.redeem(&owner, &acme, "ESSENTIALS").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(refused).await["message"], "ESSENTIALS does not apply to the Business plan");

    let soon = app.coupon(&staff, &[("name", "Soon over"), ("redeem_by", "2027-01-20")]).await;
    app.promotion_code(&staff, &soon, "SOON", "").await;
    app.db.clock.set(at("2027-01-21T00:00:00Z"));
    let expired = json(app.redeem(&owner, &acme, "SOON").await).await;
    assert_eq!((expired["field"].as_str(), expired["message"].as_str()), (Some("code"), Some("SOON has expired")));
    let unknown = json(app.redeem(&owner, &acme, "NOSUCHCODE").await).await;
    assert_eq!(unknown["message"], "NOSUCHCODE is not a promotion code");
    let malformed = json(app.redeem(&owner, &acme, "no such code").await).await;
    assert_eq!(malformed["field"], "code");
    assert_eq!(app.count("select count(*) from coupon_redemptions").await, 0);
    assert_eq!(app.count("select cast(coalesce(sum(times_redeemed), 0) as bigint) from promotion_codes").await, 0);

    // A coupon's own limit holds across its codes.
    let capped = app.coupon(&staff, &[("name", "Capped"), ("max_redemptions", "1")]).await;
    app.promotion_code(&staff, &capped, "CAP-A", "").await;
    app.promotion_code(&staff, &capped, "CAP-B", "").await;
    assert_eq!(app.redeem(&owner, &acme, "cap-a").await.status(), StatusCode::OK);
    let globex = app.organization_id("Globex").await;
    let used_up = json(app.redeem(&app.client_for(&GLOBEX_OWNER).await, &globex, "CAP-B").await).await;
    assert_eq!(used_up["message"], "CAP-B has been used up");
}

#[tokio::test]
async fn bad_coupon_forms_name_the_field_and_create_nothing() {
    let app = spawn_app().await;
    let staff = app.client_for(&STAFF).await;
    let cases: [(&[(&str, &str)], &str); 9] = [
        (&[("name", " ")], "name"),
        (&[("kind", "bogus")], "kind"),
        (&[("value", "0")], "value"),
        (&[("value", "101")], "value"),
        (&[("kind", "amount"), ("value", "10.00"), ("currency", "XYZ")], "currency"),
        (&[("duration", "repeating")], "invoices"),
        (&[("plans", "Business, Platinum")], "plans"),
        (&[("redeem_by", "2001-01-01")], "redeem_by"),
        (&[("max_redemptions", "-3")], "max_redemptions"),
    ];
    for (fields, field) in cases {
        let response = app.create_coupon(&staff, fields).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert_eq!(json(response).await["field"], field, "{fields:?}");
    }
    assert_eq!(app.count("select count(*) from coupons").await, 0);

    let coupon = app.coupon(&staff, &[]).await;
    let bad = app.promotion_code(&staff, &coupon, "has space", "").await;
    assert_eq!(json(bad).await["field"], "code");
    assert_eq!(app.promotion_code(&staff, &coupon, "SPRING", "").await.status(), StatusCode::OK);
    let taken = app.promotion_code(&staff, &coupon, "spring", "").await;
    assert_eq!(taken.status(), StatusCode::CONFLICT, "codes are unique whatever their case");
    let unknown_coupon = app.promotion_code(&staff, "cpn_unknown", "OTHER", "").await;
    assert_eq!(unknown_coupon.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("select count(*) from promotion_codes").await, 1);
}

impl TestApp {
    pub(crate) async fn change_plan(&self, owner: &Client, org: &str, plan: &str) {
        let form = [("organization_id", org), ("plan", plan)];
        let preview = json(self.call_with(owner, "preview_plan_change", &form).await).await;
        let token = preview["token"].as_str().expect("a preview token").to_owned();
        let confirm = [("organization_id", org), ("plan", plan), ("token", token.as_str())];
        assert_eq!(self.call_with(owner, "confirm_plan_change", &confirm).await.status(), StatusCode::OK);
    }

    async fn discounts_per_invoice(&self, org: &str) -> Vec<i64> {
        let mut discounts = Vec::new();
        for index in 0..self.invoices(org).await.len() {
            discounts.push(self.lines(org, index).await.iter().filter(|l| l.0 == "discount").map(|l| -l.3).sum());
        }
        discounts
    }
}

#[tokio::test]
async fn a_code_redeemed_after_a_period_ended_leaves_that_periods_invoice_alone() {
    let app = spawn_app_at(Some(at("2027-01-10T09:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let (staff, owner) = (app.client_for(&STAFF).await, app.client_for(&ACME_OWNER).await);
    let coupon = app.coupon(&staff, &[("value", "50")]).await;
    app.promotion_code(&staff, &coupon, "HALF", "").await;
    app.cycle_at("2027-02-10T10:00:00Z").await;
    // January's draft waits out its grace period while February runs; the code is for February on.
    app.db.clock.set(at("2027-02-11T09:00:00Z"));
    assert_eq!(app.redeem(&owner, &acme, "HALF").await.status(), StatusCode::OK);
    app.cycle_at("2027-02-12T10:00:00Z").await;
    app.cycle_at("2027-03-10T10:00:00Z").await;
    app.cycle_at("2027-03-12T10:00:00Z").await;
    assert_eq!(app.discounts_per_invoice(&acme).await, [0, 25_000]);
    app.assert_reconciled(0).await;
}

#[tokio::test]
async fn a_plan_limited_coupon_follows_the_plan_the_period_was_billed_on() {
    let app = spawn_app_at(Some(at("2027-01-10T09:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let (staff, owner) = (app.client_for(&STAFF).await, app.client_for(&ACME_OWNER).await);
    let business =
        app.coupon(&staff, &[("name", "Business only"), ("duration", "forever"), ("plans", "Business")]).await;
    app.promotion_code(&staff, &business, "BUSINESS10", "").await;
    let anyone = app.coupon(&staff, &[("name", "Anyone"), ("value", "5")]).await;
    app.promotion_code(&staff, &anyone, "ANYONE5", "").await;
    app.db.clock.set(at("2027-01-20T09:00:00Z"));
    assert_eq!(app.redeem(&owner, &acme, "BUSINESS10").await.status(), StatusCode::OK);
    // The downgrade waits for the period end; January was billed on Business and gets its discount.
    app.change_plan(&owner, &acme, "Essentials").await;
    app.cycle_at("2027-02-10T10:00:00Z").await;
    app.cycle_at("2027-02-12T10:00:00Z").await;
    assert_eq!(app.discounts_per_invoice(&acme).await, [10_000]);

    // On Essentials the Business coupon no longer runs: another code can be applied, and is used.
    let plan = json(app.call_with(&owner, "plan", &[("organization_id", &acme)]).await).await;
    assert_eq!(plan["discount"], Value::Null, "{plan}");
    assert_eq!(app.redeem(&owner, &acme, "ANYONE5").await.status(), StatusCode::OK);
    app.cycle_at("2027-03-10T10:00:00Z").await;
    app.cycle_at("2027-03-12T10:00:00Z").await;
    assert_eq!(app.discounts_per_invoice(&acme).await, [10_000, 500], "5 % of Essentials' 100.00");
    app.assert_reconciled(0).await;
}

#[tokio::test]
async fn a_voided_discounted_invoice_gives_its_turn_back_to_the_next_invoice() {
    let app = spawn_app_at(Some(at("2027-01-10T09:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let (staff, owner) = (app.client_for(&STAFF).await, app.client_for(&ACME_OWNER).await);
    let coupon = app.coupon(&staff, &[]).await;
    app.promotion_code(&staff, &coupon, "ONCE20", "").await;
    app.redeem(&owner, &acme, "ONCE20").await;
    app.cycle_at("2027-02-10T10:00:00Z").await;
    app.cycle_at("2027-02-12T10:00:00Z").await;
    let first: String = sqlx::query_scalar("select id from invoices where organization_id = $1")
        .bind(&acme)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    app.call_with(&staff, "void_invoice", &[("invoice_id", &first), ("reason", "billed in error")]).await;
    let plan = json(app.call_with(&owner, "plan", &[("organization_id", &acme)]).await).await;
    assert_eq!(plan["discount"]["remaining"], "1 invoice left", "{plan}");
    app.cycle_at("2027-03-10T10:00:00Z").await;
    app.cycle_at("2027-03-12T10:00:00Z").await;
    assert_eq!(app.discounts_per_invoice(&acme).await, [10_000, 10_000]);
    assert_eq!(app.ledger_balance(&acme, "discounts").await, 10_000, "the voided invoice's discount is reversed");
    app.assert_reconciled(0).await;
}

#[tokio::test]
async fn guessing_codes_is_limited_per_organization() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let (staff, owner) = (app.client_for(&STAFF).await, app.client_for(&ACME_OWNER).await);
    let coupon = app.coupon(&staff, &[]).await;
    app.promotion_code(&staff, &coupon, "REAL", "").await;
    for guess in 0..20 {
        let form = [("organization_id", acme.as_str()), ("code", &format!("GUESS{guess}"))];
        let response = app.call_with(&owner, "preview_promotion_code", &form).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "guess {guess}");
    }
    let form = [("organization_id", acme.as_str()), ("code", "REAL")];
    let throttled = app.call_with(&owner, "preview_promotion_code", &form).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS, "even a real code waits");
    assert!(throttled.headers().contains_key("retry-after"));
    assert_eq!(app.redeem(&owner, &acme, "REAL").await.status(), StatusCode::TOO_MANY_REQUESTS);
    let globex = app.organization_id("Globex").await;
    let other = app.client_for(&GLOBEX_OWNER).await;
    let form = [("organization_id", globex.as_str()), ("code", "REAL")];
    assert_eq!(
        app.call_with(&other, "preview_promotion_code", &form).await.status(),
        StatusCode::OK,
        "per organization"
    );
    app.db.clock.set(app.db.clock.now_ms() + 3_600_001);
    assert_eq!(app.redeem(&owner, &acme, "REAL").await.status(), StatusCode::OK, "the window passes");
}
