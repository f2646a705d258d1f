use reqwest::StatusCode;

use crate::helpers::{ACME_OWNER, STAFF, spawn_app};

#[tokio::test]
async fn health_and_readiness_answer_with_the_database_migrated() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.text().await.unwrap(), "ready");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    let app = spawn_app().await;
    let response = app.get_page(&app.client, "/login").await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert!(headers.contains_key("x-request-id"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
}

/// A page holds one person's billing data and a nonce meant for one response: no browser or proxy
/// keeps it, so Back after logging out asks the server again, which sends the login page.
#[tokio::test]
async fn pages_are_never_stored_by_a_cache() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    for (client, path) in [(&app.client, "/login".to_owned()), (&owner, format!("/orgs/{acme}/invoices"))] {
        let response = app.get_page(client, &path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }
}

#[tokio::test]
async fn an_unknown_page_is_404() {
    let app = spawn_app().await;
    let response = app.get_page(&app.client, "/no/such/page").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// More concurrent page loads than the pool has connections: none may hold one connection while
/// waiting for another (that starved the pool for the acquire timeout and answered 500).
#[tokio::test]
async fn forty_concurrent_dashboards_all_answer() {
    let app = crate::helpers::spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&crate::helpers::ACME_OWNER).await;
    let form = [("organization_id", acme.as_str())];
    let calls = (0..40).map(|_| app.call_with(&owner, "dashboard", &form));
    let started = std::time::Instant::now();
    let answers = futures_util::future::join_all(calls).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, vec![200; 40]);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
}

/// (the policy's script nonce, the page) of a rendered page.
async fn page_and_script_nonce(response: reqwest::Response) -> (String, String) {
    let policy = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let scripts = policy.split(';').find(|d| d.trim().starts_with("script-src")).expect("a script-src").to_owned();
    assert!(!scripts.contains("unsafe-inline"), "{policy}");
    let nonce = scripts
        .split_whitespace()
        .find_map(|source| source.strip_prefix("'nonce-")?.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no nonce in {policy}"))
        .to_owned();
    (nonce, response.text().await.unwrap())
}

#[tokio::test]
async fn pages_run_inline_scripts_only_with_the_nonce_of_their_response() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let mut nonces = Vec::new();
    for (client, path) in [(&app.client, "/login".to_owned()), (&owner, format!("/orgs/{acme}/usage"))] {
        let (nonce, page) = page_and_script_nonce(app.get_page(client, &path).await).await;
        let scripts: Vec<&str> = page.split("<script").skip(1).map(|tag| tag.split('>').next().unwrap_or("")).collect();
        assert!(!scripts.is_empty(), "{path} has its hydration script");
        for tag in scripts {
            assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "{path}: <script{tag}> without the nonce");
        }
        nonces.push(nonce);
    }
    // Every time: a page whose policy lacks its nonce does not hydrate at all.
    let staff = app.client_for(&STAFF).await;
    for _ in 0..30 {
        for (client, path) in [(&staff, "/admin/operations".to_owned()), (&owner, format!("/orgs/{acme}"))] {
            let (nonce, page) = page_and_script_nonce(app.get_page(client, &path).await).await;
            assert!(page.contains(&format!("nonce=\"{nonce}\"")), "{path}: the scripts carry the policy's nonce");
        }
    }
    let (again, _) = page_and_script_nonce(app.get_page(&app.client, "/login").await).await;
    assert!(!nonces.contains(&again), "a nonce is used once");
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    let policy = health.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let scripts = policy.split(';').find(|d| d.trim().starts_with("script-src")).expect("a script-src");
    assert!(!scripts.contains("unsafe-inline") && !scripts.contains("nonce"), "{policy}");
}
