//! The customer's billing details: owners save them checked and audited, members read them.
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

fn form<'a>(organization_id: &'a str, changes: &[(&'static str, &'a str)]) -> Vec<(&'static str, &'a str)> {
    let mut fields = vec![
        ("organization_id", organization_id),
        ("legal_name", "Acme Corporation GmbH"),
        ("address_line1", "Hauptstraße 1"),
        ("address_line2", ""),
        ("city", "Berlin"),
        ("postal_code", "10115"),
        ("region", ""),
        ("country", "de"),
        ("tax_id", "DE 123 456 789"),
        ("billing_email", "invoices@acme.test"),
    ];
    for (name, value) in changes {
        fields.iter_mut().find(|(field, _)| field == name).expect("a field of the form").1 = value;
    }
    fields
}

#[tokio::test]
async fn owners_save_checked_billing_details_that_members_read() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;

    let saved = app.call_with(&owner, "save_billing_details", &form(&acme, &[])).await;
    assert_eq!(saved.status(), StatusCode::OK);
    let page: Value = saved.json().await.unwrap();
    assert_eq!(page["details"]["country"], "DE");
    assert_eq!(page["details"]["tax_id"], "DE123456789", "stored in one form");
    assert_eq!(page["can_edit"], true);
    let billing_email =
        format!("select count(*) from organizations where billing_email = 'invoices@acme.test' and id = '{acme}'");
    assert_eq!(app.count(&billing_email).await, 1, "notices go to the new address");
    assert_eq!(app.count("select count(*) from audit_log where action = 'billing_details.update'").await, 1);

    let member = app.client_for(&ACME_MEMBER).await;
    let read: Value =
        app.call_with(&member, "billing_details", &[("organization_id", &acme)]).await.json().await.unwrap();
    assert_eq!(read["details"]["legal_name"], "Acme Corporation GmbH");
    assert_eq!(read["can_edit"], false);
    let page = app.get_page(&member, &format!("/orgs/{acme}/billing-details")).await.text().await.unwrap();
    assert!(page.contains("Hauptstraße 1, 10115 Berlin, Germany"), "{page}");
    assert!(page.contains("Only owners can change the billing details."));
}

#[tokio::test]
async fn bad_billing_details_name_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let long = "x".repeat(201);
    let cases: [(&[(&'static str, &str)], &str); 7] = [
        (&[("billing_email", "")], "billing_email"),
        (&[("billing_email", "billing at acme")], "billing_email"),
        (&[("country", "ZZ")], "country"),
        (&[("tax_id", "DE12345")], "tax_id"),
        (&[("city", "")], "city"),
        (&[("legal_name", &long)], "legal_name"),
        (&[("country", ""), ("address_line1", ""), ("city", ""), ("postal_code", "")], "country"),
    ];
    for (changes, field) in cases {
        let response = app.call_with(&owner, "save_billing_details", &form(&acme, changes)).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{changes:?}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["field"], field, "{changes:?}: {error}");
    }
    assert_eq!(app.count("select count(*) from billing_details").await, 0);
    assert_eq!(app.count("select count(*) from organizations where billing_email = 'billing@acme.test'").await, 1);
    assert_eq!(app.count("select count(*) from audit_log where action = 'billing_details.update'").await, 0);
}

#[tokio::test]
async fn billing_contacts_get_the_invoice_mail_beside_the_billing_email_without_logging_in() {
    let (app, inbox) = crate::signup::app_with_inbox(Some(crate::billing::at("2027-01-10T09:00:00Z")), &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let add = |email: &'static str| {
        let (app, owner, acme) = (&app, &owner, &acme);
        async move { app.call_with(owner, "add_billing_contact", &[("organization_id", acme), ("email", email)]).await }
    };
    let page = json(add(" Controller@Acme.test ").await).await;
    assert_eq!(page["contacts"], serde_json::json!(["controller@acme.test"]), "{page}");
    add("ap-team@acme.test").await;
    assert_eq!(add("controller@acme.test").await.status(), StatusCode::CONFLICT, "listed once");
    let bad = add("not an address").await;
    assert_eq!(json(bad).await["field"], "email");
    // Valid to some parsers, but one would stop every mail of the list: plain addresses only.
    assert_eq!(add("\"a b\"@acme.test").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(add("BILLING@acme.test").await.status(), StatusCode::CONFLICT, "the billing email itself");
    let member = app.client_for(&ACME_MEMBER).await;
    let by_member =
        app.call_with(&member, "add_billing_contact", &[("organization_id", &acme), ("email", "x@acme.test")]).await;
    assert_eq!(by_member.status(), StatusCode::FORBIDDEN);
    let read = json(app.call_with(&member, "billing_details", &[("organization_id", &acme)]).await).await;
    assert_eq!(read["contacts"].as_array().unwrap().len(), 2, "members read the list");

    app.cycle_at("2027-02-10T10:00:00Z").await;
    app.cycle_at("2027-02-12T10:00:00Z").await;
    let mails = inbox.deliver(&app).await;
    let invoice = mails.iter().find(|m| m.contains("Subject: Invoice INV-")).expect("the invoice mail");
    let to = invoice.lines().find(|l| l.starts_with("To: ")).unwrap();
    for address in ["billing@acme.test", "controller@acme.test", "ap-team@acme.test"] {
        assert!(to.contains(address), "{to}");
    }

    let removed = app
        .call_with(&owner, "remove_billing_contact", &[("organization_id", &acme), ("email", " AP-Team@acme.test ")])
        .await;
    assert_eq!(json(removed).await["contacts"], serde_json::json!(["controller@acme.test"]));
    assert_eq!(
        app.count("select count(*) from audit_log where action in ('billing_contact.add', 'billing_contact.remove')")
            .await,
        3
    );
}
