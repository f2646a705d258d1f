//! Invoice and receipt PDFs: what they print is what the invoice page shows (read back with
//! poppler's `pdftotext`), the same bytes each time, for members and staff only, and mailed once
//! with the finalized invoice or the payment.
use std::process::Stdio;

use base64::Engine;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use server::notifications::delivery::Outbox;

use crate::helpers::*;
use crate::payments::Scenario;

/// The PDF's text in content order, its whitespace collapsed, as `pdftotext -raw` reads it.
async fn pdf_text(pdf: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("pdftotext")
        .args(["-raw", "-enc", "UTF-8", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pdftotext (Debian's poppler-utils, installed by scripts/install.sh)");
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "pdftotext reads the file");
    collapsed(&String::from_utf8(output.stdout).unwrap())
}

fn collapsed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn download(app: &TestApp, client: &Client, path: &str) -> (StatusCode, String, Vec<u8>) {
    let response = client.get(app.url(path)).send().await.unwrap();
    let status = response.status();
    let disposition =
        response.headers().get("content-disposition").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, disposition, response.bytes().await.unwrap().to_vec())
}

async fn latest_invoice(s: &Scenario) -> String {
    sqlx::query_scalar("select id from invoices where organization_id = $1 order by created_at desc limit 1")
        .bind(&s.acme)
        .fetch_one(&s.app.db.pool)
        .await
        .unwrap()
}

async fn save_billing_details(s: &Scenario) {
    save_billing_details_named(s, "Acme Corporation GmbH").await;
}

async fn save_billing_details_named(s: &Scenario, legal_name: &str) {
    let form = [
        ("organization_id", s.acme.as_str()),
        ("legal_name", legal_name),
        ("address_line1", "Hauptstraße 1"),
        ("address_line2", ""),
        ("city", "Berlin"),
        ("postal_code", "10115"),
        ("region", ""),
        ("country", "DE"),
        ("tax_id", "DE123456789"),
        ("billing_email", "invoices@acme.test"),
    ];
    assert_eq!(s.app.call_with(&s.owner, "save_billing_details", &form).await.status(), StatusCode::OK);
}

/// Enough actions in two namespaces for usage lines in both tiers of Acme's plan.
async fn send_usage(s: &Scenario) {
    s.app.db.clock.set(payments_at("2027-03-10T00:00:00Z"));
    let key = s.app.api_key(&ACME_OWNER, "Acme Corp").await;
    let events: Vec<Value> = [("u1", "payments-prod", 4_000_000), ("u2", "payments-prod", 4_000_000), ("u3", "payments-staging", 4_000_000)]
        .iter()
        .map(|(id, namespace, quantity)| {
            serde_json::json!({"id": id, "namespace": namespace, "metric": "actions", "quantity": quantity, "timestamp": "2027-03-09T10:00:00Z"})
        })
        .collect();
    let response = s.app.send_events(&key, &Value::from(events)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert_eq!(body["accepted"], 3, "{body}");
    s.app.wait_for_rollups().await;
}

#[tokio::test]
async fn an_invoice_pdf_prints_the_invoice_pages_figures_the_same_way_each_time() {
    let s = Scenario::new(&[
        "--seller-name",
        "Durable Cloud Ltd",
        "--seller-address",
        "1 Quay Street; Dublin 2; Ireland",
        "--seller-tax-id",
        "IE1234567T",
    ])
    .await;
    save_billing_details(&s).await;
    send_usage(&s).await;
    s.finalize_first_invoice().await;
    let invoice = latest_invoice(&s).await;
    let path = format!("/orgs/{}/invoices/{invoice}/pdf", s.acme);

    let (status, disposition, pdf) = download(&s.app, &s.owner, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(disposition, "attachment; filename=\"INV-2027-000001.pdf\"");
    let text = pdf_text(&pdf).await;

    let page: Value =
        json(s.app.call_with(&s.owner, "invoice", &[("organization_id", &s.acme), ("invoice_id", &invoice)]).await)
            .await;
    let lines = page["lines"].as_array().unwrap();
    assert!(lines.len() >= 4, "a plan fee and usage in two tiers and namespaces: {page}");
    assert!(lines.iter().any(|l| l["tier"] == "tier 2"), "{page}");
    assert!(lines.iter().any(|l| l["namespace"] == "payments-staging"), "{page}");
    for line in lines {
        for field in ["description", "namespace", "tier", "quantity", "unit_price", "amount"] {
            if let Some(value) = line[field].as_str() {
                assert!(text.contains(&collapsed(value)), "{field} {value:?} of {line} in {text}");
            }
        }
    }
    for printed in [
        "Invoice",
        "INV-2027-000001",
        page["summary"]["period"].as_str().unwrap(),
        page["summary"]["due"]["local"].as_str().unwrap(),
        page["subtotal"].as_str().unwrap(),
        page["summary"]["amount_due"].as_str().unwrap(),
        "Durable Cloud Ltd 1 Quay Street Dublin 2 Ireland Tax id IE1234567T",
        "Acme Corporation GmbH Hauptstraße 1 10115 Berlin Germany Tax id DE123456789 invoices@acme.test",
        "The card on file is charged automatically",
    ] {
        assert!(text.contains(&collapsed(printed)), "{printed:?} in {text}");
    }

    let (_, _, again) = download(&s.app, &s.owner, &path).await;
    assert_eq!(again, pdf, "the same invoice gives the same bytes");
    save_billing_details_named(&s, "Acme Holdings AG").await;
    let (_, _, after_rename) = download(&s.app, &s.owner, &path).await;
    assert_eq!(after_rename, pdf, "an issued invoice keeps the customer's details it was issued with");
    let member = s.app.client_for(&ACME_MEMBER).await;
    assert_eq!(download(&s.app, &member, &path).await.2, pdf, "members download it too");
    let staff = s.app.client_for(&STAFF).await;
    assert_eq!(download(&s.app, &staff, &path).await.2, pdf, "and staff, from the console");

    let other = s.app.client_for(&GLOBEX_OWNER).await;
    assert_eq!(download(&s.app, &other, &path).await.0, StatusCode::NOT_FOUND, "another customer's invoice");
    let globex = s.app.organization_id("Globex").await;
    let (status, ..) = download(&s.app, &other, &format!("/orgs/{globex}/invoices/{invoice}/pdf")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an invoice of another organization under one's own");
    assert_eq!(download(&s.app, &new_client(), &path).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_draft_has_no_pdf_and_an_unknown_receipt_is_not_found() {
    let s = Scenario::new(&[]).await;
    s.app.db.clock.set(payments_at("2027-04-01T00:00:00Z"));
    server::billing::invoicing::run_billing_cycle(&s.app.db, &s.app.rules, payments_at("2027-04-01T00:00:00Z"))
        .await
        .unwrap();
    let draft = latest_invoice(&s).await;
    let response = s.owner.get(s.app.url(&format!("/orgs/{}/invoices/{draft}/pdf", s.acme))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["field"], "invoice", "{error}");
    let (status, ..) = download(&s.app, &s.owner, &format!("/orgs/{}/payments/pay_unknown/receipt", s.acme)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn payments_at(text: &str) -> i64 {
    crate::payments::at(text)
}

/// The attachment called `name` in a received message, decoded.
fn attachment(message: &str, name: &str) -> Vec<u8> {
    let start = message.find(&format!("filename=\"{name}\"")).unwrap_or_else(|| panic!("{name} in {message}"));
    let body = &message[start..];
    let body = &body[body.find("\n\n").expect("the part's body") + 2..];
    let encoded: String = body.lines().take_while(|line| !line.starts_with("--")).collect();
    base64::engine::general_purpose::STANDARD.decode(encoded.trim()).expect("base64")
}

#[tokio::test]
async fn a_finalized_invoice_is_mailed_once_with_its_pdf_and_a_payment_with_its_receipt() {
    let (relay, received) = fake_smtp().await;
    // The server's own payments job may hand the mail over first: it goes to the same relay.
    let relay_url = format!("smtp://{relay}");
    let mut s = Scenario::new(&["--smtp-url", &relay_url]).await;
    s.outbox = Outbox::smtp(&format!("smtp://{relay}"), "billing@portal.test", "portal.test")
        .unwrap()
        .with_attachments(s.app.documents.clone());
    s.save_card("4242 4242 4242 4242").await;
    let day0 = s.finalize_first_invoice().await;
    s.pass_at(day0).await;
    let messages = received.lock().unwrap().clone();
    assert_eq!(messages.len(), 2, "the invoice and the receipt: {messages:?}");
    let invoice_mail = messages.iter().find(|m| m.contains("Subject: Invoice INV-2027-000001")).expect("the invoice");
    assert!(invoice_mail.contains("To: billing@acme.test"), "{invoice_mail}");
    assert!(invoice_mail.contains("Content-Type: application/pdf"), "{invoice_mail}");
    let receipt_mail =
        messages.iter().find(|m| m.contains("Subject: Receipt for invoice INV-2027-000001")).expect("the receipt");

    let invoice = latest_invoice(&s).await;
    let (_, _, pdf) = download(&s.app, &s.owner, &format!("/orgs/{}/invoices/{invoice}/pdf", s.acme)).await;
    assert_eq!(attachment(invoice_mail, "INV-2027-000001.pdf"), pdf, "the mailed PDF is the one to download");
    let payment: String = sqlx::query_scalar("select id from payments where invoice_id = $1 and status = 'succeeded'")
        .bind(&invoice)
        .fetch_one(&s.app.db.pool)
        .await
        .unwrap();
    let (status, disposition, receipt) =
        download(&s.app, &s.owner, &format!("/orgs/{}/payments/{payment}/receipt", s.acme)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(disposition, "attachment; filename=\"INV-2027-000001-R1.pdf\"");
    assert_eq!(attachment(receipt_mail, "INV-2027-000001-R1.pdf"), receipt);
    let text = pdf_text(&receipt).await;
    let page: Value =
        json(s.app.call_with(&s.owner, "invoice", &[("organization_id", &s.acme), ("invoice_id", &invoice)]).await)
            .await;
    let paid = page["payments"][0]["amount"].as_str().unwrap();
    for printed in ["Receipt", "INV-2027-000001-R1", "Amount paid", paid, "Visa ending 4242"] {
        assert!(text.contains(printed), "{printed:?} in {text}");
    }
    assert!(pdf_text(&pdf).await.contains("Paid in full on 2027-04-03"), "the invoice, once paid, says so");

    s.pass_at(day0 + 60_000).await;
    assert_eq!(received.lock().unwrap().len(), 2, "each is sent once");
    assert_eq!(s.app.count("select count(*) from notifications where kind = 'invoice.finalized'").await, 1);

    // A refund days later changes the payment's row, not the day it was paid.
    s.app.db.clock.set(day0 + 5 * 86_400_000);
    let staff = s.app.client_for(&STAFF).await;
    let form =
        [("payment_id", payment.as_str()), ("amount", "10.00"), ("reason", "goodwill"), ("idempotency_key", "r1")];
    let refund =
        staff.post(s.app.url("/api/refund_payment")).header("origin", ORIGIN).form(&form).send().await.unwrap();
    assert_eq!(refund.status(), StatusCode::OK);
    let after = download(&s.app, &s.owner, &format!("/orgs/{}/payments/{payment}/receipt", s.acme)).await.2;
    let text = pdf_text(&after).await;
    assert!(text.contains("Paid on 2027-04-03 01:00 UTC"), "{text}");
    assert!(text.contains("$10.00 of it was refunded."), "{text}");
}

/// (parked, last error) of the notice of `kind`, once it is settled: the server's own payments
/// job may hold it under its lease for a moment after the test's pass skipped it.
/// Waits (up to 30 s beside a busy suite) until the notice is parked or delivered.
async fn parked(s: &Scenario, kind: &str) -> (i64, Option<String>) {
    for _ in 0..600 {
        let settled: (i64, Option<String>, Option<i64>) = sqlx::query_as(
            "select case when parked_at is null then 0 else 1 end, last_error, delivered_at
             from notifications where kind = $1",
        )
        .bind(kind)
        .fetch_one(&s.app.db.pool)
        .await
        .unwrap();
        if settled.0 == 1 || settled.2.is_some() {
            return (settled.0, settled.1);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (0, None)
}

#[tokio::test]
async fn the_mail_of_an_invoice_voided_before_it_was_sent_is_held_back_and_staff_see_why() {
    let (relay, received) = fake_smtp().await;
    // The server's own payments job may hand the mail over first: it goes to the same relay.
    let relay_url = format!("smtp://{relay}");
    let mut s = Scenario::new(&["--smtp-url", &relay_url]).await;
    s.outbox = Outbox::smtp(&format!("smtp://{relay}"), "billing@portal.test", "portal.test")
        .unwrap()
        .with_attachments(s.app.documents.clone());
    // The server's own first pass runs at start; on a busy machine it can run late enough to send
    // the mail before the void below. Its daily check is its last step before mail: once that is
    // finished, the pass is done with what was due before the invoice existed.
    for _ in 0..600 {
        if s.app.count("select count(*) from processor_checks where finished_at is not null").await > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let day0 = s.finalize_first_invoice().await;
    let invoice = latest_invoice(&s).await;
    let staff = s.app.client_for(&STAFF).await;
    let voided =
        s.app.call_with(&staff, "void_invoice", &[("invoice_id", &invoice), ("reason", "billed by mistake")]).await;
    assert_eq!(voided.status(), StatusCode::OK);
    s.pass_at(day0).await;
    let messages = received.lock().unwrap().clone();
    assert!(!messages.iter().any(|m| m.contains("Subject: Invoice INV-2027-000001")), "{messages:?}");
    let (is_parked, error) = parked(&s, "invoice.finalized").await;
    assert_eq!(is_parked, 1, "not tried again");
    assert!(error.as_deref().unwrap_or_default().contains("voided"), "{error:?}");
}

#[tokio::test]
async fn a_mail_whose_document_cannot_be_made_is_parked_not_tried_forever() {
    let (relay, received) = fake_smtp().await;
    let relay_url = format!("smtp://{relay}");
    let mut s = Scenario::new(&["--smtp-url", &relay_url]).await;
    // An outbox that was given no documents to attach, and a notice naming one that does not
    // exist (so the server's own job, should it run first, cannot make it either): the mail
    // waits for staff, visibly.
    s.outbox = Outbox::smtp(&relay_url, "billing@portal.test", "portal.test").unwrap();
    let now = s.app.db.clock.now_ms();
    let mut conn = s.app.db.pool.acquire().await.unwrap();
    let reference = server::notifications::outbox::invoice_document(&s.acme, "in_missing");
    let notice = server::notifications::db::NewNotification {
        organization_id: Some(&s.acme),
        kind: "invoice.finalized",
        reference: "in_missing",
        recipient: "billing@acme.test",
        subject: "Invoice",
        body: "Attached.",
        attachment: Some(&reference),
    };
    server::notifications::db::enqueue(&mut conn, &notice, now).await.unwrap();
    drop(conn);
    s.pass_at(now).await;
    assert!(received.lock().unwrap().is_empty());
    let (is_parked, error) = parked(&s, "invoice.finalized").await;
    assert_eq!(is_parked, 1);
    assert!(error.as_deref().unwrap_or_default().contains("attach"), "{error:?}");
}
