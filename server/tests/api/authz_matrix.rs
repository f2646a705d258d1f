//! Every server function and route × (anonymous, member, owner, owner of another organization,
//! staff admin, billing member) → the status each must get. Inputs for the allowed callers are chosen invalid
//! wherever a call would change something, so the matrix shows that authorization is decided
//! before anything else and that refused calls change nothing.
use reqwest::{Client, StatusCode};

use crate::helpers::*;

/// [anonymous, member, owner, other organization's owner, staff] for one call. The billing member
/// gets the owner's answer for the functions in `BILLING_KEEPS` and a member's for the rest.
type Expected = [u16; 5];

/// What the billing role may do beyond reading: the card, payments and billing details.
const BILLING_KEEPS: [&str; 8] = [
    "save_test_card",
    "pay_now",
    "pay_page",
    "confirm_test_payment",
    "start_card_setup",
    "save_billing_details",
    "add_billing_contact",
    "remove_billing_contact",
];

fn billing_expects(function: &str, expected: Expected) -> u16 {
    if BILLING_KEEPS.contains(&function) { expected[2] } else { expected[1] }
}

/// A client logged in as a billing member of Acme, who joined by a mailed invitation.
async fn billing_member(app: &TestApp, inbox: &crate::signup::Inbox) -> Client {
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let form = [("organization_id", acme.as_str()), ("email", "finn@acme.test"), ("role", "billing")];
    assert_eq!(app.call_with(&owner, "invite_member", &form).await.status(), StatusCode::OK);
    let mails = inbox.deliver(app).await;
    let token =
        crate::signup::token_in(mails.iter().find(|m| m.contains("To: finn@acme.test")).unwrap(), "/invitation");
    let client = new_client();
    let accepted =
        app.call_with(&client, "accept_invitation", &[("token", &token), ("password", "ledger lantern 4417")]).await;
    assert!(accepted.status().is_success() || accepted.status().is_redirection(), "{}", accepted.status());
    client
}

struct Row {
    function: &'static str,
    form: Vec<(&'static str, String)>,
    expected: Expected,
}

fn row(function: &'static str, form: &[(&'static str, &str)], expected: Expected) -> Row {
    Row { function, form: form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(), expected }
}

#[tokio::test]
async fn every_server_function_answers_each_kind_of_caller_as_the_matrix_says() {
    let (app, inbox) = crate::signup::app_with_inbox(None, &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let org = acme.as_str();
    let billing = billing_member(&app, &inbox).await;
    let callers: [Client; 5] = [
        new_client(),
        app.client_for(&ACME_MEMBER).await,
        app.client_for(&ACME_OWNER).await,
        app.client_for(&GLOBEX_OWNER).await,
        app.client_for(&STAFF).await,
    ];
    let rows = vec![
        // Reads of one organization: its people only; everyone else learns nothing (404).
        row("dashboard", &[("organization_id", org)], [401, 200, 200, 404, 404]),
        row("api_keys", &[("organization_id", org)], [401, 200, 200, 404, 404]),
        row(
            "usage",
            &[("organization_id", org), ("metric", "actions"), ("range", "Last24Hours")],
            [401, 200, 200, 404, 404],
        ),
        row("plan", &[("organization_id", org)], [401, 200, 200, 404, 404]),
        row("invoices", &[("organization_id", org)], [401, 200, 200, 404, 404]),
        row("invoice", &[("organization_id", org), ("invoice_id", "in_unknown")], [401, 404, 404, 404, 404]),
        row("billing_status", &[("organization_id", org)], [401, 200, 200, 404, 404]),
        row("payment_method", &[("organization_id", org)], [401, 200, 200, 404, 404]),
        row("billing_details", &[("organization_id", org)], [401, 200, 200, 404, 404]),
        row("budgets", &[("organization_id", org)], [401, 200, 200, 404, 404]),
        // Anyone in the organization may hide a budget's alert; an unknown one is not found.
        row("dismiss_budget_alert", &[("organization_id", org), ("alert_id", "bx_forged")], [401, 404, 404, 404, 404]),
        // Changes to one organization: owners only (members 403); invalid input for the owner.
        row("create_namespace", &[("organization_id", org), ("name", "")], [401, 403, 422, 404, 404]),
        row("create_api_key", &[("organization_id", org), ("name", "")], [401, 403, 422, 404, 404]),
        row("revoke_api_key", &[("organization_id", org), ("key_id", "key_unknown")], [401, 403, 404, 404, 404]),
        row(
            "save_budget",
            &[("organization_id", org), ("scope", ""), ("measure", "cost"), ("limit", "-1"), ("thresholds", "50")],
            [401, 403, 422, 404, 404],
        ),
        row("delete_budget", &[("organization_id", org), ("budget_id", "bgt_forged")], [401, 403, 404, 404, 404]),
        // Webhook endpoints carry signing secrets and the log of what was sent: owners only.
        row("webhooks", &[("organization_id", org)], [401, 403, 200, 404, 404]),
        row(
            "add_webhook_endpoint",
            &[("organization_id", org), ("url", "https://127.0.0.1/hook"), ("event_types", "invoice.paid")],
            [401, 403, 422, 404, 404],
        ),
        row(
            "rotate_webhook_secret",
            &[("organization_id", org), ("endpoint_id", "we_forged")],
            [401, 403, 404, 404, 404],
        ),
        row(
            "set_webhook_endpoint_enabled",
            &[("organization_id", org), ("endpoint_id", "we_forged"), ("enabled", "false")],
            [401, 403, 404, 404, 404],
        ),
        row("send_webhook_again", &[("organization_id", org), ("delivery_id", "wd_forged")], [401, 403, 404, 404, 404]),
        row("preview_plan_change", &[("organization_id", org), ("plan", "Nonexistent")], [401, 403, 422, 404, 404]),
        row(
            "confirm_plan_change",
            &[("organization_id", org), ("plan", "Nonexistent"), ("token", "forged")],
            [401, 403, 409, 404, 404],
        ),
        row(
            "save_test_card",
            &[("organization_id", org), ("number", "1"), ("exp_month", "1"), ("exp_year", "2031")],
            [401, 403, 422, 404, 404],
        ),
        row("pay_now", &[("organization_id", org)], [401, 403, 409, 404, 404]),
        row("pay_page", &[("organization_id", org), ("invoice_id", "in_unknown")], [401, 403, 404, 404, 404]),
        row(
            "confirm_test_payment",
            &[("organization_id", org), ("invoice_id", "in_unknown"), ("outcome", "approve")],
            [401, 403, 404, 404, 404],
        ),
        row(
            "save_billing_details",
            &[
                ("organization_id", org),
                ("legal_name", "Acme"),
                ("address_line1", ""),
                ("address_line2", ""),
                ("city", ""),
                ("postal_code", ""),
                ("region", ""),
                ("country", ""),
                ("tax_id", ""),
                ("billing_email", "not an address"),
            ],
            [401, 403, 422, 404, 404],
        ),
        row("add_billing_contact", &[("organization_id", org), ("email", "not an address")], [401, 403, 422, 404, 404]),
        row(
            "remove_billing_contact",
            &[("organization_id", org), ("email", "nobody@acme.test")],
            [401, 403, 404, 404, 404],
        ),
        row("start_card_setup", &[("organization_id", org)], [401, 403, 409, 404, 404]),
        row("start_plan", &[("organization_id", org), ("plan", "Business")], [401, 403, 409, 404, 404]),
        row("preview_promotion_code", &[("organization_id", org), ("code", "")], [401, 403, 422, 404, 404]),
        row("redeem_promotion_code", &[("organization_id", org), ("code", "")], [401, 403, 422, 404, 404]),
        // Staff only; to everyone else these do not exist.
        row("admin_search_customers", &[("query", ""), ("page", "0")], [401, 404, 404, 404, 200]),
        row("admin_operations", &[], [401, 404, 404, 404, 200]),
        row(
            "admin_preview_plan_change",
            &[("organization_id", org), ("plan", "Nonexistent")],
            [401, 404, 404, 404, 422],
        ),
        row(
            "admin_change_plan",
            &[("organization_id", org), ("plan", "Nonexistent"), ("token", "forged"), ("reason", "")],
            [401, 404, 404, 404, 422],
        ),
        row("admin_suspend", &[("organization_id", org), ("reason", "")], [401, 404, 404, 404, 422]),
        row("admin_unsuspend", &[("organization_id", org), ("reason", "")], [401, 404, 404, 404, 422]),
        row(
            "admin_set_ingest_quota",
            &[("organization_id", org), ("events_per_second", "100"), ("reason", "")],
            [401, 404, 404, 404, 422],
        ),
        row("admin_customer", &[("organization_id", org)], [401, 404, 404, 404, 200]),
        row("admin_parked_events", &[], [401, 404, 404, 404, 200]),
        row(
            "issue_credit",
            &[("organization_id", org), ("amount", "0"), ("reason", "x"), ("expires", ""), ("idempotency_key", "k")],
            [401, 404, 404, 404, 422],
        ),
        row("void_invoice", &[("invoice_id", "in_unknown"), ("reason", "")], [401, 404, 404, 404, 422]),
        row(
            "refund_payment",
            &[("payment_id", "pay_unknown"), ("amount", "0"), ("reason", "x"), ("idempotency_key", "k")],
            [401, 404, 404, 404, 422],
        ),
        row("admin_retry_payments", &[("organization_id", org), ("reason", "")], [401, 404, 404, 404, 422]),
        row("mark_uncollectible", &[("invoice_id", "in_unknown"), ("reason", "")], [401, 404, 404, 404, 422]),
        row(
            "admin_create_customer",
            &[
                ("form[name]", ""),
                ("form[billing_email]", "ap@example.test"),
                ("form[plan]", ""),
                ("form[trial_days]", ""),
                ("form[owner_email]", "owner@example.test"),
                ("form[reason]", "x"),
            ],
            [401, 404, 404, 404, 422],
        ),
        row(
            "admin_invite_owner",
            &[("organization_id", org), ("email", "not an address"), ("reason", "x")],
            [401, 404, 404, 404, 422],
        ),
        row("admin_coupons", &[], [401, 404, 404, 404, 200]),
        row(
            "admin_create_coupon",
            &[
                ("form[name]", ""),
                ("form[kind]", "percent"),
                ("form[value]", "10"),
                ("form[currency]", "USD"),
                ("form[duration]", "once"),
                ("form[invoices]", ""),
                ("form[redeem_by]", ""),
                ("form[max_redemptions]", ""),
                ("form[plans]", ""),
            ],
            [401, 404, 404, 404, 422],
        ),
        row(
            "admin_create_promotion_code",
            &[
                ("form[coupon_id]", "cpn_unknown"),
                ("form[code]", ""),
                ("form[redeem_by]", ""),
                ("form[max_redemptions]", ""),
            ],
            [401, 404, 404, 404, 422],
        ),
        row("replay_webhook_event", &[("event_id", "evt_unknown"), ("reason", "")], [401, 404, 404, 404, 422]),
        // Anyone may ask who they are, sign up and recover an account; invalid input for all.
        row("whoami", &[], [200, 200, 200, 200, 200]),
        // One's own settings: read on a page of one's organization, set by anyone signed in.
        row("preferences", &[("organization_id", org)], [401, 200, 200, 404, 404]),
        row("set_time_zone", &[("time_zone", "Europe/Atlantis")], [401, 422, 422, 422, 422]),
        row(
            "sign_up",
            &[("email", "not an address"), ("password", "x"), ("organization_name", "x")],
            [422, 422, 422, 422, 422],
        ),
        row("confirm_sign_up", &[("token", "forged"), ("password", "x")], [422, 422, 422, 422, 422]),
        row("request_password_reset", &[("email", "not an address")], [422, 422, 422, 422, 422]),
        row("reset_password", &[("token", "forged"), ("password", "x")], [422, 422, 422, 422, 422]),
        row("accept_invitation", &[("token", "forged"), ("password", "x")], [422, 422, 422, 422, 422]),
        row("team", &[("organization_id", org)], [401, 200, 200, 404, 404]),
        row(
            "invite_member",
            &[("organization_id", org), ("email", "not an address"), ("role", "member")],
            [401, 403, 422, 404, 404],
        ),
        row(
            "resend_invitation",
            &[("organization_id", org), ("invitation_id", "inv_forged")],
            [401, 403, 404, 404, 404],
        ),
        row(
            "withdraw_invitation",
            &[("organization_id", org), ("invitation_id", "inv_forged")],
            [401, 403, 404, 404, 404],
        ),
        row("remove_member", &[("organization_id", org), ("user_id", "usr_forged")], [401, 403, 404, 404, 404]),
        // Last, because they change the subscription for the owner (and take it back).
        row("cancel_subscription", &[("organization_id", org)], [401, 403, 200, 404, 404]),
        row("keep_subscription", &[("organization_id", org)], [401, 403, 200, 404, 404]),
    ];
    let mut mismatches = Vec::new();
    for row in &rows {
        for (who, client) in callers.iter().enumerate() {
            let status = app.call_with(client, row.function, &pairs(&row.form)).await.status().as_u16();
            if status != row.expected[who] {
                mismatches
                    .push(format!("{} as {}: {status}, expected {}", row.function, NAMES[who], row.expected[who]));
            }
        }
        let status = app.call_with(&billing, row.function, &pairs(&row.form)).await.status().as_u16();
        let expected = billing_expects(row.function, row.expected);
        if status != expected {
            mismatches.push(format!("{} as billing member: {status}, expected {expected}", row.function));
        }
    }
    assert_eq!(mismatches, Vec::<String>::new());
    // Nothing a refused or invalid call could have written exists.
    for table in [
        "payment_profiles",
        "credits",
        "plan_changes",
        "api_keys",
        "payments",
        "billing_details",
        "signups",
        "password_resets",
        "coupons",
        "promotion_codes",
        "coupon_redemptions",
        "billing_contacts",
        "budgets",
        "budget_crossings",
        "webhook_endpoints",
        "webhook_deliveries",
    ] {
        assert_eq!(app.count(&format!("select count(*) from {table}")).await, 0, "{table}");
    }
    assert_eq!(app.count("select count(*) from namespaces").await, 3, "the demo's namespaces only");
    assert_eq!(app.count("select count(*) from invitations").await, 1, "the billing member's own");
}

const NAMES: [&str; 5] = ["anonymous", "member", "owner", "other owner", "staff"];

fn pairs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn every_organization_route_answers_each_kind_of_caller_as_the_matrix_says() {
    let (app, inbox) = crate::signup::app_with_inbox(None, &[]).await;
    let billing = billing_member(&app, &inbox).await;
    let acme = app.organization_id("Acme Corp").await;
    let callers: [Client; 5] = [
        new_client(),
        app.client_for(&ACME_MEMBER).await,
        app.client_for(&ACME_OWNER).await,
        app.client_for(&GLOBEX_OWNER).await,
        app.client_for(&STAFF).await,
    ];
    // Pages: anonymous callers are sent to log in (302).
    let pages: Vec<(String, Expected)> = vec![
        (format!("/orgs/{acme}"), [302, 200, 200, 404, 404]),
        (format!("/orgs/{acme}/usage"), [302, 200, 200, 404, 404]),
        (format!("/orgs/{acme}/invoices"), [302, 200, 200, 404, 404]),
        (format!("/orgs/{acme}/plan"), [302, 200, 200, 404, 404]),
        (format!("/orgs/{acme}/payment"), [302, 200, 200, 404, 404]),
        (format!("/orgs/{acme}/namespaces"), [302, 200, 200, 404, 404]),
        (format!("/orgs/{acme}/budgets"), [302, 200, 200, 404, 404]),
        (format!("/orgs/{acme}/webhooks"), [302, 403, 200, 404, 404]),
        (format!("/orgs/{acme}/billing-details"), [302, 200, 200, 404, 404]),
        (format!("/orgs/{acme}/team"), [302, 200, 200, 404, 404]),
        (format!("/orgs/{acme}/preferences"), [302, 200, 200, 404, 404]),
        // The Pay page is for those who keep the card: its invoice unknown, they get 404.
        (format!("/orgs/{acme}/invoices/in_unknown/pay"), [302, 403, 404, 404, 404]),
        (format!("/admin/orgs/{acme}"), [302, 404, 404, 404, 200]),
        ("/admin".to_owned(), [302, 404, 404, 404, 200]),
        ("/admin/operations".to_owned(), [302, 404, 404, 404, 200]),
        ("/admin/coupons".to_owned(), [302, 404, 404, 404, 200]),
        (format!("/orgs/{acme}/usage.csv"), [401, 200, 200, 404, 404]),
        // Pages for visitors: open to everyone.
        ("/signup".to_owned(), [200, 200, 200, 200, 200]),
        ("/signup/confirm?token=forged".to_owned(), [200, 200, 200, 200, 200]),
        ("/password-reset".to_owned(), [200, 200, 200, 200, 200]),
        ("/password-reset/confirm?token=forged".to_owned(), [200, 200, 200, 200, 200]),
        ("/invitation?token=forged".to_owned(), [200, 200, 200, 200, 200]),
    ];
    let mut mismatches = Vec::new();
    for (path, expected) in &pages {
        for (who, client) in callers.iter().enumerate() {
            let status = app.get_page(client, path).await.status().as_u16();
            if status != expected[who] {
                mismatches.push(format!("GET {path} as {}: {status}, expected {}", NAMES[who], expected[who]));
            }
        }
        // Every page reads as it does for a member, but the Pay page as for an owner.
        let billing_expected = if path.ends_with("/pay") { expected[2] } else { expected[1] };
        let status = app.get_page(&billing, path).await.status().as_u16();
        if status != billing_expected {
            mismatches.push(format!("GET {path} as billing member: {status}, expected {billing_expected}"));
        }
    }
    assert_eq!(mismatches, Vec::<String>::new());
    // The machine API takes API keys only: a session cookie is not enough.
    for (who, client) in callers.iter().enumerate() {
        for route in [
            "/v1/namespaces",
            "/v1/namespaces/payments-prod",
            "/v1/budgets",
            "/v1/estimate",
            "/v1/usage?metric=actions",
            "/v1/invoices",
            "/v1/invoices/in_x",
        ] {
            let status = client.get(app.url(route)).send().await.unwrap().status();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{route} as {}", NAMES[who]);
        }
        let put = client.put(app.url("/v1/budgets")).header("origin", ORIGIN).json(&serde_json::json!([])).send();
        assert_eq!(put.await.unwrap().status(), StatusCode::UNAUTHORIZED, "PUT /v1/budgets as {}", NAMES[who]);
        // The API's description is public: it says nothing of any organization.
        let document = client.get(app.url("/v1/openapi.json")).send().await.unwrap().status();
        assert_eq!(document, StatusCode::OK, "the OpenAPI document as {}", NAMES[who]);
    }
}

#[tokio::test]
async fn every_document_route_answers_each_kind_of_caller_as_the_matrix_says() {
    let s = crate::payments::Scenario::new(&[]).await;
    s.save_card("4242 4242 4242 4242").await;
    let paid_on = s.finalize_first_invoice().await;
    s.pass_at(paid_on).await;
    let acme = &s.acme;
    let (invoice, payment): (String, String) =
        sqlx::query_as("select invoice_id, id from payments where organization_id = $1 and status = 'succeeded'")
            .bind(acme)
            .fetch_one(&s.app.db.pool)
            .await
            .expect("a paid invoice");
    let callers: [Client; 5] = [
        new_client(),
        s.app.client_for(&ACME_MEMBER).await,
        s.app.client_for(&ACME_OWNER).await,
        s.app.client_for(&GLOBEX_OWNER).await,
        s.app.client_for(&STAFF).await,
    ];
    // Staff download them from the console too.
    let routes: [(String, Expected); 2] = [
        (format!("/orgs/{acme}/invoices/{invoice}/pdf"), [401, 200, 200, 404, 200]),
        (format!("/orgs/{acme}/payments/{payment}/receipt"), [401, 200, 200, 404, 200]),
    ];
    let mut mismatches = Vec::new();
    for (path, expected) in &routes {
        for (who, client) in callers.iter().enumerate() {
            let status = s.app.get_page(client, path).await.status().as_u16();
            if status != expected[who] {
                mismatches.push(format!("GET {path} as {}: {status}, expected {}", NAMES[who], expected[who]));
            }
        }
    }
    assert_eq!(mismatches, Vec::<String>::new());
}
