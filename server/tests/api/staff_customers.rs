//! Staff create a customer for someone sold to by hand: the organization, its billing email, its
//! plan with the trial staff chose, and its first owner invited by mail (read from a real SMTP
//! listener), who accepts and finds everything in place.
use reqwest::{Client, StatusCode};

use crate::billing::at;
use crate::helpers::*;
use crate::signup::{app_with_inbox, token_in};

const PASSWORD: &str = "amber compass river 93";

fn customer_form<'a>(fields: &[(&'a str, &'a str)]) -> Vec<(String, &'a str)> {
    let mut form = vec![
        ("name", "Hooli"),
        ("billing_email", "ap@hooli.test"),
        ("plan", "Essentials"),
        ("trial_days", "30"),
        ("owner_email", "gavin@hooli.test"),
        ("reason", "Contract 2027-004, signed by phone"),
    ];
    for (name, value) in fields {
        form.iter_mut().find(|(n, _)| n == name).expect("a customer field").1 = value;
    }
    form.into_iter().map(|(name, value)| (format!("form[{name}]"), value)).collect()
}

async fn create_customer(app: &TestApp, staff: &Client, fields: &[(&str, &str)]) -> reqwest::Response {
    let form = customer_form(fields);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(name, value)| (name.as_str(), *value)).collect();
    app.call_with(staff, "admin_create_customer", &pairs).await
}

#[tokio::test]
async fn staff_create_a_customer_on_a_trial_and_its_first_owner_joins_through_the_mailed_link() {
    let (app, inbox) = app_with_inbox(Some(at("2027-01-10T09:00:00Z")), &[]).await;
    let staff = app.client_for(&STAFF).await;
    let created = create_customer(&app, &staff, &[]).await;
    assert_eq!(created.status(), StatusCode::OK);
    let organization_id: String = json(created).await.as_str().expect("the new organization's id").to_owned();

    let customer = json(app.call_with(&staff, "admin_customer", &[("organization_id", &organization_id)]).await).await;
    assert_eq!(customer["name"], "Hooli", "{customer}");
    assert_eq!(customer["billing_email"], "ap@hooli.test");
    assert_eq!(
        (customer["plan"].as_str(), customer["subscription_status"].as_str()),
        (Some("Essentials"), Some("trialing"))
    );
    let trial_end: i64 = sqlx::query_scalar("select trial_ends_at from subscriptions where organization_id = $1")
        .bind(&organization_id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(trial_end, at("2027-02-09T09:00:00Z"), "the 30 days staff chose, not the plan's 14");
    assert_eq!(app.count("select count(*) from audit_log where action = 'organization.create'").await, 1);
    let twice = create_customer(&app, &staff, &[("name", "HOOLI")]).await;
    assert_eq!(twice.status(), StatusCode::CONFLICT, "a second submit makes no second customer");
    assert_eq!(app.count("select count(*) from organizations where lower(name) = 'hooli'").await, 1);

    let mails = inbox.deliver(&app).await;
    let mail = mails.iter().find(|m| m.contains("To: gavin@hooli.test")).expect("the owner's invitation");
    assert!(mail.contains("Subject: Join Hooli in the billing portal"), "{mail}");
    let token = token_in(mail, "/invitation");
    let gavin = new_client();
    let accepted = app.call_with(&gavin, "accept_invitation", &[("token", &token), ("password", PASSWORD)]).await;
    assert!(accepted.status().is_success() || accepted.status().is_redirection(), "{}", accepted.status());
    let dashboard = json(app.call_with(&gavin, "dashboard", &[("organization_id", &organization_id)]).await).await;
    assert_eq!(dashboard["role"], "owner", "{dashboard}");
    let plan = json(app.call_with(&gavin, "plan", &[("organization_id", &organization_id)]).await).await;
    assert_eq!((plan["current_plan"].as_str(), plan["status"].as_str()), (Some("Essentials"), Some("trialing")));
}

#[tokio::test]
async fn staff_invite_an_owner_again_once_the_first_invitation_has_lapsed() {
    let (app, inbox) = app_with_inbox(Some(at("2027-01-10T09:00:00Z")), &[]).await;
    let staff = app.client_for(&STAFF).await;
    let organization_id = json(create_customer(&app, &staff, &[]).await).await.as_str().unwrap().to_owned();
    inbox.deliver(&app).await;
    app.db.clock.set(at("2027-01-18T09:00:00Z"));
    let org = organization_id.as_str();
    let without_reason = [("organization_id", org), ("email", "gavin@hooli.test"), ("reason", "")];
    assert_eq!(json(app.call_with(&staff, "admin_invite_owner", &without_reason).await).await["field"], "reason");
    let refs = [("organization_id", org), ("email", "gavin@hooli.test"), ("reason", "The first link lapsed")];
    assert_eq!(app.call_with(&staff, "admin_invite_owner", &refs).await.status(), StatusCode::OK);
    let owner = app.client_for(&ACME_OWNER).await;
    assert_eq!(app.call_with(&owner, "admin_invite_owner", &refs).await.status(), StatusCode::NOT_FOUND, "staff only");

    let mails = inbox.deliver(&app).await;
    let token =
        token_in(mails.iter().find(|m| m.contains("To: gavin@hooli.test")).expect("a new invitation"), "/invitation");
    let gavin = new_client();
    app.call_with(&gavin, "accept_invitation", &[("token", &token), ("password", PASSWORD)]).await;
    let dashboard = json(app.call_with(&gavin, "dashboard", &[("organization_id", &organization_id)]).await).await;
    assert_eq!(dashboard["role"], "owner", "{dashboard}");
}

#[tokio::test]
async fn a_customer_without_a_plan_or_a_trial_starts_as_staff_said() {
    let app = spawn_app().await;
    let staff = app.client_for(&STAFF).await;
    let without_plan =
        json(create_customer(&app, &staff, &[("name", "Pied Piper"), ("plan", ""), ("trial_days", "")]).await).await;
    let without_plan = without_plan.as_str().unwrap();
    assert_eq!(
        app.count(&format!("select count(*) from subscriptions where organization_id = '{without_plan}'")).await,
        0
    );
    let no_trial = json(create_customer(&app, &staff, &[("name", "Raviga"), ("trial_days", "0")]).await).await;
    let status: String = sqlx::query_scalar("select status from subscriptions where organization_id = $1")
        .bind(no_trial.as_str().unwrap())
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "active", "no trial: billed from today");
}

#[tokio::test]
async fn bad_customer_forms_name_the_field_and_create_nothing() {
    let app = spawn_app().await;
    let staff = app.client_for(&STAFF).await;
    let organizations = app.count("select count(*) from organizations").await;
    let cases: [(&[(&str, &str)], &str); 8] = [
        (&[("reason", " ")], "reason"),
        (&[("name", "  ")], "name"),
        (&[("billing_email", "not an address")], "billing_email"),
        (&[("owner_email", "")], "owner_email"),
        (&[("plan", "Platinum")], "plan"),
        (&[("trial_days", "91")], "trial_days"),
        (&[("trial_days", "ten")], "trial_days"),
        (&[("plan", ""), ("trial_days", "10")], "trial_days"),
    ];
    for (fields, field) in cases {
        let response = create_customer(&app, &staff, fields).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert_eq!(json(response).await["field"], field, "{fields:?}");
    }
    assert_eq!(app.count("select count(*) from organizations").await, organizations);
    assert_eq!(app.count("select count(*) from invitations").await, 0);
    let owner = app.client_for(&ACME_OWNER).await;
    assert_eq!(create_customer(&app, &owner, &[]).await.status(), StatusCode::NOT_FOUND, "staff only");
}
