use reqwest::StatusCode;

use crate::helpers::{ACME_OWNER, ORIGIN, json, set_cookie, spawn_app, spawn_app_with};

#[tokio::test]
async fn logging_in_sets_an_http_only_same_site_cookie_and_points_to_the_organization() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;

    let response = app.login(&ACME_OWNER).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["location"], format!("/orgs/{acme}").as_str());
    let cookie = set_cookie(response.headers());
    assert!(cookie.contains("portal_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    let wrote = set_cookie(app.call("set_time_zone", &[("time_zone", "Europe/Paris")]).await.headers());
    assert!(
        wrote.contains("wrote=1; Max-Age=10; Path=/; HttpOnly; SameSite=Lax") && !wrote.contains("Secure"),
        "{wrote}"
    );
}

#[tokio::test]
async fn the_cookies_are_secure_when_configured() {
    let app = spawn_app_with(&["--session-cookie-secure", "true"]).await;
    let response = app.login(&ACME_OWNER).await;
    assert!(set_cookie(response.headers()).contains("Secure"));
    // The mark a write leaves, which sends the browser's next reads to the primary, too.
    let wrote = app.call("set_time_zone", &[("time_zone", "Europe/Paris")]).await;
    let cookie = set_cookie(wrote.headers());
    assert!(cookie.contains("wrote=1") && cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_generic_answer() {
    let app = spawn_app().await;

    let wrong_password = app.call("login", &[("email", ACME_OWNER.email), ("password", "nope")]).await;
    let unknown_email = app.call("login", &[("email", "nobody@acme.test"), ("password", "nope")]).await;

    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(wrong_password).await, json(unknown_email).await);
    assert_eq!(app.count("select count(*) from sessions").await, 0, "no session for a failed login");
}

#[tokio::test]
async fn the_session_id_is_renewed_at_login() {
    let app = spawn_app().await;
    // An anonymous visit that stores nothing gets no cookie; a failed login neither. So plant one.
    let planted = "portal_session=AAAAAAAAAAAAAAAAAAAAAA";
    let response = app
        .client
        .post(app.url("/api/login"))
        .header("origin", ORIGIN)
        .header("cookie", planted)
        .form(&[("email", ACME_OWNER.email), ("password", ACME_OWNER.password)])
        .send()
        .await
        .unwrap();
    let cookie = set_cookie(response.headers());
    assert!(cookie.starts_with("portal_session="), "{cookie}");
    assert!(!cookie.contains("AAAAAAAAAAAAAAAAAAAAAA"), "{cookie}");
}

#[tokio::test]
async fn logging_in_again_retires_the_session_id_the_browser_held() {
    let app = spawn_app().await;
    app.login(&ACME_OWNER).await;
    let first: String = sqlx::query_scalar("select id from sessions").fetch_one(&app.db.pool).await.unwrap();
    app.login(&ACME_OWNER).await;
    let ids: Vec<String> = sqlx::query_scalar("select id from sessions").fetch_all(&app.db.pool).await.unwrap();
    assert!(ids.len() == 1 && ids[0] != first, "one session, under a new id: {ids:?}");
    // Whoever copied the first id has nobody's session.
    let copied = browser_with_session(&first);
    assert_eq!(json(app.call_with(&copied, "whoami", &[]).await).await, serde_json::Value::Null);
    assert_eq!(json(app.call("whoami", &[]).await).await["email"], ACME_OWNER.email);
}

#[tokio::test]
async fn logging_out_ends_the_session() {
    let app = spawn_app().await;
    app.login(&ACME_OWNER).await;
    assert_eq!(json(app.call("whoami", &[]).await).await["email"], ACME_OWNER.email);

    let response = app.call("logout", &[]).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["location"], "/login");
    assert_eq!(json(app.call("whoami", &[]).await).await, serde_json::Value::Null);
    assert_eq!(app.count("select count(*) from sessions").await, 0);
}

#[tokio::test]
async fn a_session_from_before_sessions_named_their_user_stays_logged_in_through_the_upgrade() {
    let app = spawn_app().await;
    app.login(&ACME_OWNER).await;
    // The database as the release before left it: the session's user only in its data.
    for statement in [
        "alter table sessions drop column user_id",
        "alter table sessions drop column generation",
        "delete from _sqlx_migrations where version = 20261207000044",
    ] {
        sqlx::query(statement).execute(&app.db.pool).await.unwrap();
    }
    assert_eq!(app.call("whoami", &[]).await.status(), StatusCode::INTERNAL_SERVER_ERROR, "the old schema");

    app.db.migrate().await.unwrap();

    assert_eq!(json(app.call("whoami", &[]).await).await["email"], ACME_OWNER.email);
}

/// A client sending the session cookie `id`, as a browser holding it does.
fn browser_with_session(id: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("cookie", format!("portal_session={id}").parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

#[tokio::test]
async fn a_session_the_release_before_wrote_during_a_rolling_upgrade_is_honored_until_a_reset() {
    let app = spawn_app().await;
    let (owner, generation): (String, i64) =
        sqlx::query_as("select id, session_generation from users where email = $1")
            .bind(ACME_OWNER.email)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    // As an instance of the release before writes a login: the user in the data only.
    let id = tower_sessions::session::Id::default().to_string();
    let data = serde_json::json!({ "user_id": owner, "session_generation": generation }).to_string();
    sqlx::query("insert into sessions (id, data, expires_at) values ($1, $2, $3)")
        .bind(&id)
        .bind(&data)
        .bind(server::shared::time::now_ms() + 3_600_000)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let browser = browser_with_session(&id);
    assert_eq!(json(app.call_with(&browser, "whoami", &[]).await).await["email"], ACME_OWNER.email);

    sqlx::query("update users set session_generation = session_generation + 1").execute(&app.db.pool).await.unwrap();
    assert_eq!(json(app.call_with(&browser, "whoami", &[]).await).await, serde_json::Value::Null);
}

#[tokio::test]
async fn a_session_in_use_is_renewed_for_its_idle_time_once_half_of_it_has_passed() {
    let app = spawn_app_with(&["--session-idle-minutes", "10"]).await;
    app.login(&ACME_OWNER).await;
    let expires_at = || async {
        let at: i64 = sqlx::query_scalar("select expires_at from sessions").fetch_one(&app.db.pool).await.unwrap();
        at - server::shared::time::now_ms()
    };
    let whoami = app.call("whoami", &[]).await;
    let cookie = set_cookie(whoami.headers());
    assert!(!cookie.contains("portal_session"), "with most of its time left, nothing is written: {cookie}");
    assert!(expires_at().await > 9 * 60_000);

    // Four minutes left of ten: the next request renews it, in the database and in the browser.
    sqlx::query("update sessions set expires_at = $1")
        .bind(server::shared::time::now_ms() + 4 * 60_000)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let whoami = app.call("whoami", &[]).await;
    let cookie = set_cookie(whoami.headers());
    assert!(cookie.contains("portal_session=") && cookie.contains("Max-Age=600"), "sent again: {cookie}");
    assert_eq!(json(whoami).await["email"], ACME_OWNER.email);
    assert!(expires_at().await > 9 * 60_000, "renewed for the whole idle time");
}

#[tokio::test]
async fn a_session_of_an_earlier_generation_or_past_its_expiry_is_nobodys() {
    let app = spawn_app().await;
    app.login(&ACME_OWNER).await;
    sqlx::query("update users set session_generation = session_generation + 1").execute(&app.db.pool).await.unwrap();
    assert_eq!(json(app.call("whoami", &[]).await).await, serde_json::Value::Null, "a reset ended it");

    app.login(&ACME_OWNER).await;
    assert_eq!(json(app.call("whoami", &[]).await).await["email"], ACME_OWNER.email);
    sqlx::query("update sessions set expires_at = 0").execute(&app.db.pool).await.unwrap();
    assert_eq!(json(app.call("whoami", &[]).await).await, serde_json::Value::Null, "expired");
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_with_retry_after() {
    let app = spawn_app_with(&["--login-max-failures", "3"]).await;
    for _ in 0..3 {
        let response = app.call("login", &[("email", ACME_OWNER.email), ("password", "wrong")]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    let throttled = app.login(&ACME_OWNER).await;

    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = throttled.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert_eq!(json(throttled).await["kind"], "rate_limited");
}

#[tokio::test]
async fn failed_logins_from_one_address_are_throttled_across_accounts() {
    let app = spawn_app_with(&["--login-max-failures", "3"]).await;
    for email in ["a@x.test", "b@x.test", "c@x.test"] {
        app.call("login", &[("email", email), ("password", "wrong")]).await;
    }
    assert_eq!(app.login(&ACME_OWNER).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_empty_email_is_an_error_naming_the_field() {
    let app = spawn_app().await;
    let response = app.call("login", &[("email", " "), ("password", "x")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(response).await["field"], "email");
}

impl crate::helpers::TestApp {
    async fn login_from(&self, forwarded_for: &str, email: &str, password: &str) -> StatusCode {
        self.client
            .post(self.url("/api/login"))
            .header("origin", ORIGIN)
            .header("x-forwarded-for", forwarded_for)
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .expect("request")
            .status()
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_failed_logins_are_throttled_per_real_client() {
    let app = spawn_app_with(&["--login-max-failures", "3", "--trusted-proxies", "127.0.0.1"]).await;
    for email in ["a@x.test", "b@x.test", "c@x.test"] {
        // The proxy appends the address it saw; what the client claimed before it is not trusted.
        app.login_from("10.9.9.9, 203.0.113.7", email, "wrong").await;
    }
    assert_eq!(
        app.login_from("203.0.113.7", ACME_OWNER.email, ACME_OWNER.password).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(app.login_from("198.51.100.4", ACME_OWNER.email, ACME_OWNER.password).await, StatusCode::OK);
}

#[tokio::test]
async fn a_forwarded_for_header_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app_with(&["--login-max-failures", "3"]).await;
    for (email, spoofed) in [("a@x.test", "203.0.113.1"), ("b@x.test", "203.0.113.2"), ("c@x.test", "203.0.113.3")] {
        app.login_from(spoofed, email, "wrong").await;
    }
    assert_eq!(
        app.login_from("198.51.100.4", ACME_OWNER.email, ACME_OWNER.password).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}
