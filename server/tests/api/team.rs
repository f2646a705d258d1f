//! The team: invitations by mail (read from a real SMTP listener), accepted by a new or an
//! existing account, withdrawn, and members removed but never the last owner.
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{ACME_MEMBER, ACME_OWNER, GLOBEX_OWNER, TestApp, json, new_client, spawn_app};
use crate::signup::{app_with_inbox, token_in};

const PASSWORD: &str = "copper lantern orbit 42";

async fn invite(app: &TestApp, owner: &reqwest::Client, org: &str, email: &str, role: &str) -> reqwest::Response {
    app.call_with(owner, "invite_member", &[("organization_id", org), ("email", email), ("role", role)]).await
}

#[tokio::test]
async fn an_invited_person_joins_with_a_new_account_once_and_an_owner_removes_them() {
    let (app, inbox) = app_with_inbox(None, &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;

    let page = json(invite(&app, &owner, &acme, "  Dana@Example.test ", "member").await).await;
    assert_eq!(page["invitations"][0]["email"], "dana@example.test", "{page}");
    assert_eq!(page["invitations"][0]["invited_by"], ACME_OWNER.email);
    let twice = invite(&app, &owner, &acme, "dana@example.test", "owner").await;
    assert_eq!(twice.status(), StatusCode::CONFLICT, "one invitation waits per address");
    let mails = inbox.deliver(&app).await;
    let mail = mails.iter().find(|m| m.contains("To: dana@example.test")).expect("the invitation");
    assert!(mail.contains("Subject: Join Acme Corp in the billing portal"), "{mail}");
    let token = token_in(mail, "/invitation");

    let dana = new_client();
    let weak = app.call_with(&dana, "accept_invitation", &[("token", &token), ("password", "short")]).await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(weak).await["field"], "password");
    let accepted = app.call_with(&dana, "accept_invitation", &[("token", &token), ("password", PASSWORD)]).await;
    assert!(accepted.status().is_success() || accepted.status().is_redirection(), "{}", accepted.status());
    let role: Value =
        json(app.call_with(&dana, "dashboard", &[("organization_id", &acme)]).await).await["role"].clone();
    assert_eq!(role, "member", "logged in as the new member");
    let again = app.call_with(&new_client(), "accept_invitation", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY, "a link works once");
    assert_eq!(
        app.count("select count(*) from audit_log where action in ('invitation.create', 'invitation.accept')").await,
        2
    );

    let team = json(app.call_with(&owner, "team", &[("organization_id", &acme)]).await).await;
    let dana_id =
        team["members"].as_array().unwrap().iter().find(|m| m["email"] == "dana@example.test").unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_owned();
    let by_member = app.call_with(&dana, "remove_member", &[("organization_id", &acme), ("user_id", &dana_id)]).await;
    assert_eq!(by_member.status(), StatusCode::FORBIDDEN, "members do not change the team");
    let removed = app.call_with(&owner, "remove_member", &[("organization_id", &acme), ("user_id", &dana_id)]).await;
    assert_eq!(removed.status(), StatusCode::OK);
    let gone = app.call_with(&dana, "dashboard", &[("organization_id", &acme)]).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND, "a removed member sees nothing of the organization");
    assert_eq!(app.count("select count(*) from audit_log where action = 'membership.remove'").await, 1);
}

#[tokio::test]
async fn an_existing_account_joins_with_its_own_password_and_a_withdrawn_link_does_nothing() {
    let (app, inbox) = app_with_inbox(None, &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    invite(&app, &owner, &acme, GLOBEX_OWNER.email, "owner").await;
    let mails = inbox.deliver(&app).await;
    let token = token_in(mails.iter().find(|m| m.contains(GLOBEX_OWNER.email)).unwrap(), "/invitation");
    let client = new_client();
    let wrong = app.call_with(&client, "accept_invitation", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(json(wrong).await["field"], "password", "an existing account proves its password");
    app.call_with(&client, "accept_invitation", &[("token", &token), ("password", GLOBEX_OWNER.password)]).await;
    let role = json(app.call_with(&client, "dashboard", &[("organization_id", &acme)]).await).await["role"].clone();
    assert_eq!(role, "owner");

    let page = json(invite(&app, &owner, &acme, "erin@example.test", "member").await).await;
    let id = page["invitations"][0]["id"].as_str().unwrap().to_owned();
    let token = token_in(&inbox.deliver(&app).await[0], "/invitation");
    let withdrawn =
        app.call_with(&owner, "withdraw_invitation", &[("organization_id", &acme), ("invitation_id", &id)]).await;
    assert_eq!(json(withdrawn).await["invitations"], Value::Array(vec![]));
    let used = app.call_with(&new_client(), "accept_invitation", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(used.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("select count(*) from users where email = 'erin@example.test'").await, 0, "nothing made");
}

#[tokio::test]
async fn the_last_owner_stays_and_bad_invitations_name_their_field() {
    let (app, _inbox) = app_with_inbox(None, &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let team = json(app.call_with(&owner, "team", &[("organization_id", &acme)]).await).await;
    let members = team["members"].as_array().unwrap();
    let me = members.iter().find(|m| m["email"] == ACME_OWNER.email).unwrap();
    assert_eq!(me["removable"], false, "{team}");
    let last = app
        .call_with(&owner, "remove_member", &[("organization_id", &acme), ("user_id", me["user_id"].as_str().unwrap())])
        .await;
    assert_eq!(last.status(), StatusCode::CONFLICT);

    for (email, role, field) in [
        ("not an address", "member", "email"),
        ("sam@example.test", "admin", "role"),
        (ACME_MEMBER.email, "member", "email"),
    ] {
        let refused = invite(&app, &owner, &acme, email, role).await;
        assert!(refused.status().is_client_error(), "{email} {role}");
        assert_eq!(json(refused).await["field"], field, "{email} {role}");
    }
    assert_eq!(app.count("select count(*) from invitations").await, 0, "refused invitations write nothing");
}

#[tokio::test]
async fn guessing_an_existing_accounts_password_through_an_invitation_is_throttled_like_a_login() {
    let (app, inbox) = app_with_inbox(None, &["--login-max-failures", "2"]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    invite(&app, &owner, &acme, GLOBEX_OWNER.email, "member").await;
    let token = token_in(&inbox.deliver(&app).await[0], "/invitation");
    let guesser = new_client();
    for guess in ["guess one is wrong", "guess two is wrong"] {
        let wrong = app.call_with(&guesser, "accept_invitation", &[("token", &token), ("password", guess)]).await;
        assert_eq!(json(wrong).await["field"], "password");
    }
    let right =
        app.call_with(&guesser, "accept_invitation", &[("token", &token), ("password", GLOBEX_OWNER.password)]).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS, "the account's failures count here too");
    let joined = format!(
        "select count(*) from memberships m join users u on u.id = m.user_id
         where u.email = '{}' and m.organization_id = '{acme}'",
        GLOBEX_OWNER.email
    );
    assert_eq!(app.count(&joined).await, 0);
}

#[tokio::test]
async fn an_owner_removed_meanwhile_removes_nobody() {
    let (app, inbox) = app_with_inbox(None, &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    invite(&app, &owner, &acme, GLOBEX_OWNER.email, "owner").await;
    invite(&app, &owner, &acme, "carol@example.test", "owner").await;
    let mails = inbox.deliver(&app).await;
    let link_to =
        |email: &str| token_in(mails.iter().find(|m| m.contains(&format!("To: {email}"))).unwrap(), "/invitation");
    let second = new_client();
    app.call_with(
        &second,
        "accept_invitation",
        &[("token", &link_to(GLOBEX_OWNER.email)), ("password", GLOBEX_OWNER.password)],
    )
    .await;
    app.call_with(
        &new_client(),
        "accept_invitation",
        &[("token", &link_to("carol@example.test")), ("password", PASSWORD)],
    )
    .await;
    let team = json(app.call_with(&owner, "team", &[("organization_id", &acme)]).await).await;
    let id_of = |email: &str| {
        team["members"].as_array().unwrap().iter().find(|m| m["email"] == email).unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (first_id, second_id) = (id_of(ACME_OWNER.email), id_of(GLOBEX_OWNER.email));
    // The first owner's request was authorized before the second owner removed them.
    let stale = server::accounts::login::session_user(&app.db, &first_id, 0).await.unwrap().unwrap();
    let removed = app.call_with(&second, "remove_member", &[("organization_id", &acme), ("user_id", &first_id)]).await;
    assert_eq!(removed.status(), StatusCode::OK);
    let late = server::onboarding::invitations::remove_member(&app.db, &stale, &acme, &second_id).await;
    assert!(late.is_err(), "no longer an owner");
    let owners = format!("select count(*) from memberships where organization_id = '{acme}' and role = 'owner'");
    assert_eq!(app.count(&owners).await, 2, "the second owner stays");
}

#[tokio::test]
async fn an_invitation_that_expires_while_it_is_being_used_is_not_used() {
    let (app, _inbox) = app_with_inbox(None, &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let page = json(invite(&app, &owner, &acme, "late@example.test", "member").await).await;
    let id = page["invitations"][0]["id"].as_str().unwrap().to_owned();
    let expired = app.db.clock.now_ms() + server::onboarding::invitations::INVITATION_TTL_MS;
    let mut conn = app.db.pool.acquire().await.unwrap();
    let used = server::accounts::db::invitations::accept_invitation(&mut conn, &id, expired).await.unwrap();
    assert!(!used, "checked again where it is used");
}

#[tokio::test]
async fn a_refused_second_invitation_does_not_use_up_the_addresss_mail_allowance() {
    let (app, _inbox) = app_with_inbox(None, &["--account-mails-per-hour", "2"]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let page = json(invite(&app, &owner, &acme, "fay@example.test", "member").await).await;
    let id = page["invitations"][0]["id"].as_str().unwrap().to_owned();
    let waiting = invite(&app, &owner, &acme, "fay@example.test", "member").await;
    assert_eq!(waiting.status(), StatusCode::CONFLICT);
    app.call_with(&owner, "withdraw_invitation", &[("organization_id", &acme), ("invitation_id", &id)]).await;
    let again = invite(&app, &owner, &acme, "fay@example.test", "owner").await;
    assert_eq!(again.status(), StatusCode::OK, "the refused one was not counted");
}

#[tokio::test]
async fn removing_an_owner_withdraws_the_invitations_they_sent() {
    let (app, inbox) = app_with_inbox(None, &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    invite(&app, &owner, &acme, GLOBEX_OWNER.email, "owner").await;
    let token = token_in(&inbox.deliver(&app).await[0], "/invitation");
    let second = new_client();
    app.call_with(&second, "accept_invitation", &[("token", &token), ("password", GLOBEX_OWNER.password)]).await;
    invite(&app, &second, &acme, "mallory@example.test", "owner").await;
    let token = token_in(&inbox.deliver(&app).await[0], "/invitation");

    let team = json(app.call_with(&owner, "team", &[("organization_id", &acme)]).await).await;
    let second_id =
        team["members"].as_array().unwrap().iter().find(|m| m["email"] == GLOBEX_OWNER.email).unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_owned();
    let removed =
        json(app.call_with(&owner, "remove_member", &[("organization_id", &acme), ("user_id", &second_id)]).await)
            .await;
    assert_eq!(removed["invitations"], Value::Array(vec![]), "{removed}");
    let used = app.call_with(&new_client(), "accept_invitation", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(used.status(), StatusCode::UNPROCESSABLE_ENTITY, "a removed owner's invitation does nothing");
}

#[tokio::test]
async fn a_billing_member_keeps_the_card_and_the_billing_details_and_changes_nothing_else() {
    let (app, inbox) = app_with_inbox(None, &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    assert_eq!(invite(&app, &owner, &acme, "finn@acme.test", "billing").await.status(), StatusCode::OK);
    let token = token_in(&inbox.deliver(&app).await[0], "/invitation");
    let finn = new_client();
    app.call_with(&finn, "accept_invitation", &[("token", &token), ("password", PASSWORD)]).await;
    let org = acme.as_str();
    let dashboard = json(app.call_with(&finn, "dashboard", &[("organization_id", org)]).await).await;
    assert_eq!(dashboard["role"], "billing", "{dashboard}");

    let card = [("organization_id", org), ("number", "4242 4242 4242 4242"), ("exp_month", "12"), ("exp_year", "2031")];
    assert_eq!(app.call_with(&finn, "save_test_card", &card).await.status(), StatusCode::OK);
    let contact = [("organization_id", org), ("email", "controller@acme.test")];
    assert_eq!(app.call_with(&finn, "add_billing_contact", &contact).await.status(), StatusCode::OK);
    let details = json(app.call_with(&finn, "billing_details", &[("organization_id", org)]).await).await;
    assert_eq!(details["can_edit"], true);
    for (function, form) in [
        ("create_api_key", vec![("organization_id", org), ("name", "finance")]),
        ("create_namespace", vec![("organization_id", org), ("name", "finance")]),
        ("invite_member", vec![("organization_id", org), ("email", "x@acme.test"), ("role", "member")]),
        ("preview_plan_change", vec![("organization_id", org), ("plan", "Essentials")]),
        ("cancel_subscription", vec![("organization_id", org)]),
    ] {
        assert_eq!(app.call_with(&finn, function, &form).await.status(), StatusCode::FORBIDDEN, "{function}");
    }
    let page = json(app.call_with(&owner, "team", &[("organization_id", org)]).await).await;
    let finn_row = page["members"].as_array().unwrap().iter().find(|m| m["email"] == "finn@acme.test").cloned();
    assert_eq!(finn_row.unwrap()["role"], "billing");
}

#[tokio::test]
async fn a_resent_invitation_carries_a_new_link_and_the_old_one_stops_working() {
    let (app, inbox) = app_with_inbox(None, &[]).await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let page = json(invite(&app, &owner, &acme, "gil@example.test", "billing").await).await;
    let first_id = page["invitations"][0]["id"].as_str().unwrap().to_owned();
    let old_token = token_in(&inbox.deliver(&app).await[0], "/invitation");
    let member = app.client_for(&ACME_MEMBER).await;
    let form = [("organization_id", acme.as_str()), ("invitation_id", first_id.as_str())];
    assert_eq!(app.call_with(&member, "resend_invitation", &form).await.status(), StatusCode::FORBIDDEN);

    let page = json(app.call_with(&owner, "resend_invitation", &form).await).await;
    let waiting = page["invitations"].as_array().unwrap();
    assert_eq!(waiting.len(), 1, "{page}");
    assert_ne!(waiting[0]["id"], first_id.as_str(), "a new invitation takes the old one's place");
    assert_eq!(waiting[0]["role"], "billing");
    let new_token = token_in(&inbox.deliver(&app).await[0], "/invitation");
    assert_ne!(new_token, old_token);
    let old = app.call_with(&new_client(), "accept_invitation", &[("token", &old_token), ("password", PASSWORD)]).await;
    assert_eq!(old.status(), StatusCode::UNPROCESSABLE_ENTITY, "the old link stops working");
    let gil = new_client();
    app.call_with(&gil, "accept_invitation", &[("token", &new_token), ("password", PASSWORD)]).await;
    let dashboard = json(app.call_with(&gil, "dashboard", &[("organization_id", &acme)]).await).await;
    assert_eq!(dashboard["role"], "billing");
    let again = app.call_with(&owner, "resend_invitation", &form).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND, "a used or withdrawn invitation is not resent");
    assert_eq!(app.count("select count(*) from audit_log where action = 'invitation.resend'").await, 1);
}

#[tokio::test]
async fn an_organization_sends_at_most_fifty_invitations_a_day() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    for n in 0..50 {
        let sent = invite(&app, &owner, &acme, &format!("person{n}@example.test"), "member").await;
        assert_eq!(sent.status(), StatusCode::OK, "invitation {n}");
    }
    let refused = invite(&app, &owner, &acme, "person50@example.test", "member").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(app.count("select count(*) from invitations").await, 50);
    app.db.clock.set(app.db.clock.now_ms() + 24 * 3_600_000 + 1);
    let tomorrow = invite(&app, &owner, &acme, "person50@example.test", "member").await;
    assert_eq!(tomorrow.status(), StatusCode::OK, "the next day");
}
