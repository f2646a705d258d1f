//! Sign-up with email confirmation and password reset, with the links read from mail delivered to
//! a real SMTP listener.
use std::sync::{Arc, Mutex};

use reqwest::{Client, StatusCode};
use serde_json::Value;
use server::notifications::delivery::{Outbox, deliver_notifications};

use crate::helpers::{ACME_OWNER, TestApp, fake_smtp, json, minutes_ago, new_client, spawn_app_at};

const PASSWORD: &str = "violet tractor mango 17";
const HOUR_MS: i64 = 3_600_000;
const START: i64 = 1_798_761_600_000; // 2027-01-01T00:00:00Z

pub(crate) struct Inbox {
    relay: Outbox,
    received: Arc<Mutex<Vec<String>>>,
}

/// The server, its clock standing at `start` if given, with its mail going to a local relay: the
/// payments job's first pass may hand a notice over before the test does.
pub(crate) async fn app_with_inbox(start: Option<i64>, extra: &[&str]) -> (TestApp, Inbox) {
    let (address, received) = fake_smtp().await;
    let url = format!("smtp://{address}");
    let app = spawn_app_at(start, &[&["--smtp-url", &url, "--smtp-from", "portal@portal.test"], extra].concat()).await;
    let relay =
        Outbox::smtp(&url, "portal@portal.test", "portal.test").unwrap().with_attachments(app.documents.clone());
    (app, Inbox { relay, received })
}

impl Inbox {
    /// Hands every queued notice to the relay and answers what arrived, decoded from
    /// quoted-printable.
    pub(crate) async fn deliver(&self, app: &TestApp) -> Vec<String> {
        deliver_notifications(&app.db, &self.relay, app.db.clock.now_ms()).await.unwrap();
        // A notice the payments job claimed first is in its hands until it is delivered.
        for _ in 0..100 {
            if app.count("select count(*) from notifications where delivered_at is null and parked_at is null").await
                == 0
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let decoded = self.received.lock().unwrap().iter().map(|m| m.replace("=\n", "").replace("=3D", "=")).collect();
        self.received.lock().unwrap().clear();
        decoded
    }
}

/// The token of the one link to `path` in `mail`.
pub(crate) fn token_in(mail: &str, path: &str) -> String {
    let start = mail.find(&format!("{path}?token=")).unwrap_or_else(|| panic!("a link to {path} in {mail}"));
    mail[start + path.len() + 7..].chars().take_while(char::is_ascii_alphanumeric).collect()
}

async fn sign_up(app: &TestApp, email: &str, password: &str, organization: &str) -> reqwest::Response {
    let form = [("email", email), ("password", password), ("organization_name", organization)];
    app.call_with(&new_client(), "sign_up", &form).await
}

/// Uses a confirmation link with the password the sign-ups here chose.
async fn confirm(app: &TestApp, client: &Client, token: &str) -> reqwest::Response {
    app.call_with(client, "confirm_sign_up", &[("token", token), ("password", PASSWORD)]).await
}

#[tokio::test]
async fn only_the_mailed_link_creates_the_organization_and_its_owner_who_is_then_logged_in() {
    let (app, inbox) = app_with_inbox(None, &[]).await;
    let answer = sign_up(&app, " Grace@Hooli.test ", PASSWORD, "  Hooli ").await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(app.count("select count(*) from organizations where name = 'Hooli'").await, 0);
    assert_eq!(app.count("select count(*) from users where email = 'grace@hooli.test'").await, 0);

    let mails = inbox.deliver(&app).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].contains("To: grace@hooli.test"), "{}", mails[0]);
    assert!(mails[0].contains("Subject: Confirm your email"), "{}", mails[0]);
    let token = token_in(&mails[0], "http://portal.test/signup/confirm");
    assert_eq!(app.count("select count(*) from signups").await, 1);
    let stored: String = sqlx::query_scalar("select token_hash from signups").fetch_one(&app.db.pool).await.unwrap();
    assert!(stored.len() == 64 && stored != token, "only the token's hash is stored");

    let browser = new_client();
    let confirmed = confirm(&app, &browser, &token).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let hooli = app.organization_id("Hooli").await;
    assert_eq!(confirmed.headers()["location"], format!("/orgs/{hooli}/plan").as_str());
    let me = json(app.call_with(&browser, "whoami", &[]).await).await;
    assert_eq!(me["email"], "grace@hooli.test");
    assert_eq!(me["memberships"][0]["organization_id"], hooli.as_str());
    assert_eq!(me["memberships"][0]["role"], "owner");
    let billing_email: String = sqlx::query_scalar("select billing_email from organizations where id = $1")
        .bind(&hooli)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(billing_email, "grace@hooli.test");
    assert_eq!(app.count("select count(*) from audit_log where action = 'organization.sign_up'").await, 1);
    let dashboard = app.get_page(&browser, &format!("/orgs/{hooli}")).await;
    assert_eq!(dashboard.status(), StatusCode::OK, "a new organization without a plan has a dashboard");
    let dashboard = json(app.call_with(&browser, "dashboard", &[("organization_id", &hooli)]).await).await;
    assert_eq!(dashboard["organization_name"], "Hooli", "{dashboard}");
    let overview = &dashboard["overview"];
    assert_eq!((&overview["plan"], &overview["status"]), (&Value::Null, &Value::from("none")), "{overview}");

    let plans = json(app.call_with(&browser, "plan", &[("organization_id", &hooli)]).await).await;
    assert_eq!(plans["subscribed"], false);
    let offered: Vec<_> =
        plans["plans"].as_array().unwrap().iter().map(|p| (p["name"].clone(), p["trial"].clone())).collect();
    assert_eq!(offered[1], (Value::from("Business"), Value::from("14-day free trial")));
    assert_eq!(offered[2], (Value::from("Enterprise"), Value::Null), "Enterprise is sold with a contract");
    // Usage before a plan would be billed by no period: refused, then accepted once a plan starts.
    app.call_with(&browser, "create_namespace", &[("organization_id", &hooli), ("name", "prod")]).await;
    let created = app.call_with(&browser, "create_api_key", &[("organization_id", &hooli), ("name", "first")]).await;
    let key = json(created).await["secret"].as_str().unwrap().to_owned();
    let event = |id: &str| serde_json::json!([{"id": id, "namespace": "prod", "metric": "actions", "quantity": 1, "timestamp": minutes_ago(1)}]);
    let before = json(app.send_events(&key, &event("e1")).await).await;
    assert_eq!(before["results"][0]["status"], "rejected", "{before}");
    assert_eq!(before["results"][0]["field"], "organization", "{before}");
    let unknown = app.call_with(&browser, "start_plan", &[("organization_id", &hooli), ("plan", "Gold")]).await;
    assert_eq!(json(unknown).await["field"], "plan");
    let started = app.call_with(&browser, "start_plan", &[("organization_id", &hooli), ("plan", "Business")]).await;
    assert_eq!(started.status(), StatusCode::OK);
    let started = json(started).await;
    assert_eq!((started["current_plan"].as_str(), started["status"].as_str()), (Some("Business"), Some("trialing")));
    let again = app.call_with(&browser, "start_plan", &[("organization_id", &hooli), ("plan", "Essentials")]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "a plan is started once; later changes are previewed");
    assert_eq!(app.count("select count(*) from audit_log where action = 'subscription.start'").await, 1);
    assert_eq!(app.count("select count(*) from subscriptions s join organizations o on o.id = s.organization_id where o.name = 'Hooli'").await, 1);
    let after = json(app.send_events(&key, &event("e2")).await).await;
    assert_eq!(after["results"][0]["status"], "accepted", "{after}");

    let login = app.call_with(&new_client(), "login", &[("email", "grace@hooli.test"), ("password", PASSWORD)]).await;
    assert_eq!(login.status(), StatusCode::OK, "the password chosen at sign-up logs in");
}

#[tokio::test]
async fn a_confirmation_link_works_once_and_not_after_a_day() {
    let (app, inbox) = app_with_inbox(Some(START), &[]).await;
    sign_up(&app, "ada@initrode.test", PASSWORD, "Initrode").await;
    sign_up(&app, "bob@initrode.test", PASSWORD, "Initrode Two").await;
    let mails = inbox.deliver(&app).await;
    let link_of =
        |to: &str| token_in(mails.iter().find(|m| m.contains(&format!("To: {to}"))).unwrap(), "/signup/confirm");
    let (ada, bob) = (link_of("ada@initrode.test"), link_of("bob@initrode.test"));

    assert_eq!(confirm(&app, &new_client(), &ada).await.status(), StatusCode::OK);
    let again = confirm(&app, &new_client(), &ada).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(json(again).await["field"], "token");
    assert_eq!(app.count("select count(*) from organizations where name = 'Initrode'").await, 1);

    app.db.clock.set(START + 24 * HOUR_MS + 1);
    let late = confirm(&app, &new_client(), &bob).await;
    assert_eq!(late.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("select count(*) from users where email = 'bob@initrode.test'").await, 0);
    let made_up = confirm(&app, &new_client(), "not-a-token").await;
    assert_eq!(made_up.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_address_with_an_account_gets_the_same_answer_and_a_note_by_mail_and_mail_is_throttled_per_address() {
    let (app, inbox) = app_with_inbox(None, &["--account-mails-per-hour", "2"]).await;
    let taken = sign_up(&app, ACME_OWNER.email, PASSWORD, "Acme Again").await;
    let free = sign_up(&app, "new@acme-again.test", PASSWORD, "Acme Again").await;
    assert_eq!(taken.status(), free.status());
    assert_eq!(taken.text().await.unwrap(), free.text().await.unwrap());
    let mails = inbox.deliver(&app).await;
    let note = mails.iter().find(|m| m.contains(&format!("To: {}", ACME_OWNER.email))).expect("a note to the owner");
    assert!(note.contains("already has an account"), "{note}");
    assert!(!note.contains("token="), "no link that could create anything: {note}");
    assert_eq!(app.count("select count(*) from signups where email = 'owner@acme.test'").await, 0);

    sign_up(&app, ACME_OWNER.email, PASSWORD, "Acme Again").await;
    let third = sign_up(&app, ACME_OWNER.email, PASSWORD, "Acme Again").await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));
    let reset = app.call_with(&new_client(), "request_password_reset", &[("email", ACME_OWNER.email)]).await;
    assert_eq!(reset.status(), StatusCode::TOO_MANY_REQUESTS, "resets and sign-ups share the address's limit");
    assert_eq!(inbox.deliver(&app).await.len(), 1, "the throttled requests mailed nothing");
}

#[tokio::test]
async fn bad_sign_up_input_names_the_field_and_creates_nothing() {
    let (app, inbox) = app_with_inbox(None, &[]).await;
    for (email, password, organization, field) in [
        ("not-an-email", PASSWORD, "Hooli", "email"),
        ("", PASSWORD, "Hooli", "email"),
        ("grace@hooli.test", PASSWORD, " ", "organization_name"),
        ("grace@hooli.test", "short", "Hooli", "password"),
        ("grace@hooli.test", "password1234", "Hooli", "password"),
        ("grace@hooli.test", "grace@hooli.test", "Hooli", "password"),
    ] {
        let answer = sign_up(&app, email, password, organization).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{email} {password} {organization}");
        let body: Value = json(answer).await;
        assert_eq!(body["field"], field, "{body}");
    }
    assert_eq!(app.count("select count(*) from signups").await, 0);
    assert!(inbox.deliver(&app).await.is_empty());
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_ends_every_session_and_expires_in_an_hour() {
    let (app, inbox) = app_with_inbox(None, &[]).await;
    let logged_in = app.client_for(&ACME_OWNER).await;
    let unknown = app.call_with(&new_client(), "request_password_reset", &[("email", "nobody@acme.test")]).await;
    let known = app.call_with(&new_client(), "request_password_reset", &[("email", "Owner@Acme.test")]).await;
    assert_eq!(unknown.status(), StatusCode::OK);
    assert_eq!(unknown.text().await.unwrap(), known.text().await.unwrap(), "the same answer either way");
    let mails = inbox.deliver(&app).await;
    assert_eq!(mails.len(), 1, "only the account's address gets a link: {mails:?}");
    let token = token_in(&mails[0], "/password-reset/confirm");

    let weak = app.call_with(&new_client(), "reset_password", &[("token", &token), ("password", "acme1234")]).await;
    assert_eq!(json(weak).await["field"], "password");
    let reset = app.call_with(&new_client(), "reset_password", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(json(app.call_with(&logged_in, "whoami", &[]).await).await, Value::Null, "the old session ended");
    let old =
        app.call_with(&new_client(), "login", &[("email", ACME_OWNER.email), ("password", ACME_OWNER.password)]).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let fresh = new_client();
    let new = app.call_with(&fresh, "login", &[("email", ACME_OWNER.email), ("password", PASSWORD)]).await;
    assert_eq!(new.status(), StatusCode::OK);
    assert_eq!(json(app.call_with(&fresh, "whoami", &[]).await).await["email"], ACME_OWNER.email);
    let again = [("token", token.as_str()), ("password", "another fine password 9")];
    let twice = app.call_with(&new_client(), "reset_password", &again).await;
    assert_eq!(twice.status(), StatusCode::UNPROCESSABLE_ENTITY, "a link works once");
    assert_eq!(app.count("select count(*) from audit_log where action = 'user.password_reset'").await, 1);
}

#[tokio::test]
async fn a_reset_link_older_than_an_hour_is_refused() {
    let (app, inbox) = app_with_inbox(Some(START), &[]).await;
    app.call_with(&new_client(), "request_password_reset", &[("email", ACME_OWNER.email)]).await;
    let token = token_in(&inbox.deliver(&app).await[0], "/password-reset/confirm");
    app.db.clock.set(START + HOUR_MS + 1);
    let late = app.call_with(&new_client(), "reset_password", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(late.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(late).await["field"], "token");
    let login =
        app.call_with(&new_client(), "login", &[("email", ACME_OWNER.email), ("password", ACME_OWNER.password)]).await;
    assert_eq!(login.status(), StatusCode::OK, "the password is unchanged");
}

#[tokio::test]
async fn without_a_relay_mail_is_written_to_the_mail_log_folder() {
    let folder = std::env::temp_dir().join(format!("portal-mail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    let app = spawn_app_at(None, &["--mail-log-dir", folder.to_str().unwrap()]).await;
    let outbox = Outbox::folder(folder.clone(), "portal@portal.test", "portal.test").unwrap();
    sign_up(&app, "lin@pied-piper.test", PASSWORD, "Pied Piper").await;
    deliver_notifications(&app.db, &outbox, app.db.clock.now_ms()).await.unwrap();
    let id: String = sqlx::query_scalar("select id from notifications where recipient = 'lin@pied-piper.test'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let mut mail = String::new();
    for _ in 0..100 {
        if let Ok(text) = std::fs::read_to_string(folder.join(format!("{id}.eml"))) {
            mail = text;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mail = mail.replace("=\r\n", "").replace("=3D", "=");
    assert!(mail.contains("To: lin@pied-piper.test"), "{mail}");
    let token = token_in(&mail, "/signup/confirm");
    assert_eq!(confirm(&app, &new_client(), &token).await.status(), StatusCode::OK);
    let delivery: String = sqlx::query_scalar("select delivery from notifications where id = $1")
        .bind(&id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(delivery, "mail-log");
    std::fs::remove_dir_all(&folder).unwrap();
}

#[tokio::test]
async fn confirming_needs_the_password_chosen_at_sign_up_so_a_stranger_cannot_pick_it_for_the_owner() {
    let (app, inbox) = app_with_inbox(None, &[]).await;
    sign_up(&app, "victim@corp.test", "attacker knows this one 1", "Corp").await;
    let token = token_in(&inbox.deliver(&app).await[0], "/signup/confirm");
    let without = app.call_with(&new_client(), "confirm_sign_up", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(without.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(without).await["field"], "password");
    assert_eq!(app.count("select count(*) from users where email = 'victim@corp.test'").await, 0);
    let form = [("token", token.as_str()), ("password", "attacker knows this one 1")];
    assert_eq!(app.call_with(&new_client(), "confirm_sign_up", &form).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_session_begun_in_the_instant_of_a_reset_ends_with_it() {
    let (app, inbox) = app_with_inbox(Some(START), &[]).await;
    let logged_in = app.client_for(&ACME_OWNER).await;
    app.call_with(&new_client(), "request_password_reset", &[("email", ACME_OWNER.email)]).await;
    let token = token_in(&inbox.deliver(&app).await[0], "/password-reset/confirm");
    let reset = app.call_with(&new_client(), "reset_password", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(json(app.call_with(&logged_in, "whoami", &[]).await).await, Value::Null);
}

#[tokio::test]
async fn requests_for_an_address_without_an_account_count_toward_its_limit_too() {
    let (app, _inbox) = app_with_inbox(None, &["--account-mails-per-hour", "1"]).await;
    for address in ["nobody@acme.test", ACME_OWNER.email] {
        let first = app.call_with(&new_client(), "request_password_reset", &[("email", address)]).await;
        assert_eq!(first.status(), StatusCode::OK, "{address}");
        let second = app.call_with(&new_client(), "request_password_reset", &[("email", address)]).await;
        assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS, "{address}: the limit says nothing of accounts");
    }
}

#[tokio::test]
async fn a_mailed_link_is_not_kept_in_the_mail_log_once_delivered() {
    let (app, inbox) = app_with_inbox(None, &[]).await;
    sign_up(&app, "grace@hooli.test", PASSWORD, "Hooli").await;
    app.call_with(&new_client(), "request_password_reset", &[("email", ACME_OWNER.email)]).await;
    assert_eq!(inbox.deliver(&app).await.len(), 2);
    assert_eq!(app.count("select count(*) from notifications where body like '%token=%'").await, 0);
}
