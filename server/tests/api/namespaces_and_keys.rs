use reqwest::{Method, StatusCode};
use serde_json::json as body;

use crate::helpers::{ACME_MEMBER, ACME_OWNER, GLOBEX_OWNER, json, spawn_app};

#[tokio::test]
async fn an_owner_creates_a_namespace_and_the_change_is_audited() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    app.login(&ACME_OWNER).await;

    let response = app.call("create_namespace", &[("organization_id", &acme), ("name", "billing-eu")]).await;

    assert_eq!(response.status(), StatusCode::OK);
    let created = json(response).await;
    assert_eq!(created["name"], "billing-eu");
    assert!(created["id"].as_str().unwrap().starts_with("ns_"));
    let dashboard = json(app.call("dashboard", &[("organization_id", &acme)]).await).await;
    let names: Vec<&str> =
        dashboard["namespaces"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["billing-eu", "payments-prod", "payments-staging"]);
    let mut conn = app.db.pool.acquire().await.unwrap();
    let audit = server::accounts::db::audit::list_audit(&mut conn, &acme, 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!((audit[0].actor.as_str(), audit[0].action.as_str()), (ACME_OWNER.email, "namespace.create"));
    assert!(audit[0].after_json.as_deref().unwrap().contains("billing-eu"));
}

#[tokio::test]
async fn invalid_and_duplicate_namespace_names_name_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    app.login(&ACME_OWNER).await;
    let before = app.count("select count(*) from namespaces").await;

    for bad in ["", "ab", "Upper-Case", "under_score", &"x".repeat(64)] {
        let response = app.call("create_namespace", &[("organization_id", &acme), ("name", bad)]).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        let error = json(response).await;
        assert_eq!((error["kind"].as_str(), error["field"].as_str()), (Some("invalid"), Some("name")), "{bad:?}");
    }
    let duplicate = app.call("create_namespace", &[("organization_id", &acme), ("name", "payments-prod")]).await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    assert_eq!(json(duplicate).await["field"], "name");

    assert_eq!(app.count("select count(*) from namespaces").await, before);
    assert_eq!(app.count("select count(*) from audit_log").await, 0);
}

#[tokio::test]
async fn the_same_namespace_name_may_exist_in_two_organizations() {
    let app = spawn_app().await;
    let globex = app.organization_id("Globex").await;
    let client = app.client_for(&GLOBEX_OWNER).await;
    let response =
        app.call_with(&client, "create_namespace", &[("organization_id", &globex), ("name", "payments-prod")]).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_api_key_is_shown_once_stored_as_a_hash_and_stops_working_when_revoked() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    app.login(&ACME_OWNER).await;

    let created =
        json(app.call("create_api_key", &[("organization_id", &acme), ("name", "ingest worker")]).await).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let key_id = created["key"]["id"].as_str().unwrap().to_owned();

    let listed = json(app.call("api_keys", &[("organization_id", &acme)]).await).await;
    assert!(!listed.to_string().contains(&secret), "listings never show the secret");
    assert!(secret.starts_with(listed[0]["prefix"].as_str().unwrap()));
    let stored: String = sqlx::query_scalar("select secret_hash from api_keys").fetch_one(&app.db.pool).await.unwrap();
    assert!(!stored.contains(&secret[4..]));

    let ok = app.api(Method::GET, "/v1/namespaces", &secret).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(json(ok).await.as_array().unwrap().len(), 2);
    let listed = json(app.call("api_keys", &[("organization_id", &acme)]).await).await;
    assert!(listed[0]["last_used_at"]["local"].is_string(), "use is recorded");

    let revoked = app.call("revoke_api_key", &[("organization_id", &acme), ("key_id", &key_id)]).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let refused = app.api(Method::GET, "/v1/namespaces", &secret).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let listed = json(app.call("api_keys", &[("organization_id", &acme)]).await).await;
    assert!(listed[0]["revoked_at"]["local"].is_string());
}

#[tokio::test]
async fn a_key_of_another_organization_cannot_be_revoked_and_stays_unknown() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let globex = app.organization_id("Globex").await;
    app.login(&ACME_OWNER).await;
    let created = json(app.call("create_api_key", &[("organization_id", &acme), ("name", "acme key")]).await).await;
    let key_id = created["key"]["id"].as_str().unwrap();
    let intruder = app.client_for(&GLOBEX_OWNER).await;

    let response =
        app.call_with(&intruder, "revoke_api_key", &[("organization_id", &globex), ("key_id", key_id)]).await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("select count(*) from api_keys where revoked_at is not null").await, 0);
}

#[tokio::test]
async fn an_api_key_name_is_required_and_bounded() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    app.login(&ACME_OWNER).await;
    for bad in ["  ", &"k".repeat(101)] {
        let response = app.call("create_api_key", &[("organization_id", &acme), ("name", bad)]).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(json(response).await["field"], "name");
    }
    assert_eq!(app.count("select count(*) from api_keys").await, 0);
}

#[tokio::test]
async fn the_json_api_answers_bad_input_with_errors_naming_the_field() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    app.login(&ACME_OWNER).await;
    let created = json(app.call("create_api_key", &[("organization_id", &acme), ("name", "api")]).await).await;
    let key = created["secret"].as_str().unwrap();
    let before = app.count("select count(*) from namespaces").await;

    let created = app.api(Method::POST, "/v1/namespaces", key).json(&body!({"name": "from-api"})).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    let malformed = app
        .api(Method::POST, "/v1/namespaces", key)
        .header("content-type", "application/json")
        .body("{\"name\":")
        .send()
        .await
        .unwrap();
    let malformed_status = malformed.status();
    let malformed = json(malformed).await;
    assert_eq!(malformed_status, StatusCode::BAD_REQUEST, "{malformed}");
    assert_eq!(malformed["error"]["field"], "body");

    let missing = app.api(Method::POST, "/v1/namespaces", key).json(&body!({"title": "x"})).send().await.unwrap();
    assert_eq!(json(missing).await["error"]["field"], "title");

    let invalid = app.api(Method::POST, "/v1/namespaces", key).json(&body!({"name": "NO"})).send().await.unwrap();
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(invalid).await["error"]["field"], "name");

    let huge =
        app.api(Method::POST, "/v1/namespaces", key).json(&body!({"name": "x".repeat(100_000)})).send().await.unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(huge).await["error"]["kind"], "payload_too_large");

    let no_key =
        app.api(Method::POST, "/v1/namespaces", "bpk_wrong").json(&body!({"name": "nokey"})).send().await.unwrap();
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(app.count("select count(*) from namespaces").await, before + 1);
}

#[tokio::test]
async fn the_dashboards_first_steps_tick_off_as_a_key_and_an_event_arrive_then_go_away_for_good() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    app.login(&ACME_OWNER).await;
    let steps =
        || async { json(app.call("dashboard", &[("organization_id", &acme)]).await).await["getting_started"].clone() };

    let first = steps().await;
    assert_eq!(first["has_plan"], true, "{first}");
    assert_eq!(first["first_namespace"], "payments-prod");
    assert_eq!((first["has_api_key"].clone(), first["has_usage"].clone()), (body!(false), body!(false)));
    assert_eq!(first["events_url"], format!("{}/v1/usage/events", crate::helpers::ORIGIN));
    // A step only an owner can take links an owner to its form, and tells a member whom to ask.
    let dashboard = format!("/orgs/{acme}");
    let member_page = app.get_page(&app.client_for(&ACME_MEMBER).await, &dashboard).await.text().await.unwrap();
    let owner_page = app.get_page(&app.client_for(&ACME_OWNER).await, &dashboard).await.text().await.unwrap();
    assert!(member_page.contains("An owner creates the key") && !member_page.contains(">Create an API key<"));
    assert!(owner_page.contains(">Create an API key<") && !owner_page.contains("An owner creates the key"));

    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    assert_eq!(steps().await["has_api_key"], true);
    let event = body!([{ "id": "first", "namespace": "payments-prod", "metric": "actions", "quantity": 1,
        "timestamp": crate::helpers::minutes_ago(1) }]);
    assert_eq!(app.send_events(&key, &event).await.status(), StatusCode::OK);
    assert_eq!(steps().await, serde_json::Value::Null, "every step done: the card goes away");
    let onboarded = format!("select count(*) from organizations where id = '{acme}' and onboarded_at is not null");
    assert_eq!(app.count(&onboarded).await, 1, "recorded, so the dashboard stops checking");

    // A customer who replaces their keys later is not new again.
    let keys = json(app.call("api_keys", &[("organization_id", &acme)]).await).await;
    let key_id = keys[0]["id"].as_str().unwrap().to_owned();
    let revoked = app.call("revoke_api_key", &[("organization_id", &acme), ("key_id", &key_id)]).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(steps().await, serde_json::Value::Null, "the steps stay done");
}
