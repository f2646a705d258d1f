use reqwest::StatusCode;

use crate::helpers::{ACME_MEMBER, ACME_OWNER, GLOBEX_OWNER, STAFF, json, spawn_app};

#[tokio::test]
async fn anonymous_callers_get_401_from_every_server_function_and_are_sent_to_login_by_pages() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    for (function, form) in [
        ("dashboard", vec![("organization_id", acme.as_str())]),
        ("api_keys", vec![("organization_id", acme.as_str())]),
        ("create_namespace", vec![("organization_id", acme.as_str()), ("name", "sneaky")]),
        ("create_api_key", vec![("organization_id", acme.as_str()), ("name", "sneaky")]),
        ("revoke_api_key", vec![("organization_id", acme.as_str()), ("key_id", "key_x")]),
        ("admin_search_customers", vec![("query", ""), ("page", "0")]),
    ] {
        assert_eq!(app.call(function, &form).await.status(), StatusCode::UNAUTHORIZED, "{function}");
    }
    let page = app.get_page(&app.client, &format!("/orgs/{acme}")).await;
    assert_eq!(page.status(), StatusCode::FOUND);
    assert_eq!(page.headers()["location"], "/login");
}

#[tokio::test]
async fn a_user_of_another_organization_gets_404_and_none_of_its_data() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let globex = app.client_for(&GLOBEX_OWNER).await;

    for function in ["dashboard", "api_keys"] {
        let response = app.call_with(&globex, function, &[("organization_id", &acme)]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{function}");
        assert!(!response.text().await.unwrap().contains("Acme"), "{function}");
    }
    let create = app.call_with(&globex, "create_namespace", &[("organization_id", &acme), ("name", "intruder")]).await;
    assert_eq!(create.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("select count(*) from namespaces where name = 'intruder'").await, 0);

    for path in [format!("/orgs/{acme}"), format!("/orgs/{acme}/namespaces")] {
        let page = app.get_page(&globex, &path).await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "{path}");
        let html = page.text().await.unwrap();
        assert!(html.contains("Not found"), "{path}");
        assert!(!html.contains("Acme Corp") && !html.contains("payments-prod"), "{path}");
    }
}

#[tokio::test]
async fn a_member_reads_but_cannot_change_anything() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let member = app.client_for(&ACME_MEMBER).await;

    let dashboard = app.call_with(&member, "dashboard", &[("organization_id", &acme)]).await;
    assert_eq!(dashboard.status(), StatusCode::OK);
    assert_eq!(json(dashboard).await["role"], "member");

    for (function, form) in [
        ("create_namespace", vec![("organization_id", acme.as_str()), ("name", "member-made")]),
        ("create_api_key", vec![("organization_id", acme.as_str()), ("name", "member key")]),
    ] {
        let response = app.call_with(&member, function, &form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{function}");
    }
    assert_eq!(app.count("select count(*) from api_keys").await, 0);
    assert_eq!(app.count("select count(*) from namespaces where name = 'member-made'").await, 0);
}

#[tokio::test]
async fn only_staff_reach_the_admin_functions_and_page() {
    let app = spawn_app().await;
    let owner = app.client_for(&ACME_OWNER).await;
    let staff = app.client_for(&STAFF).await;

    let everyone = [("query", ""), ("page", "0")];
    assert_eq!(app.call_with(&owner, "admin_search_customers", &everyone).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get_page(&owner, "/admin").await.status(), StatusCode::NOT_FOUND);

    let list = json(app.call_with(&staff, "admin_search_customers", &everyone).await).await;
    let names: Vec<&str> = list["customers"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Acme Corp", "Globex"]);
    let page = app.get_page(&staff, "/admin").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Globex"));
}

#[tokio::test]
async fn state_changes_from_another_site_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;

    let forged = owner
        .post(app.url("/api/create_namespace"))
        .header("origin", "http://evil.test")
        .form(&[("organization_id", acme.as_str()), ("name", "forged")])
        .send()
        .await
        .unwrap();
    let fetched = owner
        .post(app.url("/api/create_namespace"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("organization_id", acme.as_str()), ("name", "forged")])
        .send()
        .await
        .unwrap();

    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(forged).await["error"]["kind"], "cross_site");
    assert_eq!(fetched.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("select count(*) from namespaces where name = 'forged'").await, 0);
}
