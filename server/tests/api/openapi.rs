//! The machine API's OpenAPI document: it lists every `/v1` route, and real answers have the
//! shapes it describes. `PUT /v1/budgets` replaces the organization's budgets, all or nothing.
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Follows `$ref`s into `components.schemas`.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            resolve(document, &document["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Every key of `value` is a documented property, every required property is there, and so on
/// down; nullable and optional values may be null or absent.
fn conforms(document: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = resolve(document, schema);
    if let Some(choices) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        if value.is_null()
            || choices.iter().any(|choice| {
                let mut found = Vec::new();
                conforms(document, choice, value, at, &mut found);
                found.is_empty()
            })
        {
            return;
        }
        problems.push(format!("{at}: {value} matches none of {schema}"));
        return;
    }
    match value {
        Value::Object(fields) => {
            let properties = &schema["properties"];
            for (key, field) in fields {
                match properties.get(key) {
                    Some(property) => conforms(document, property, field, &format!("{at}.{key}"), problems),
                    None => problems.push(format!("{at}.{key} is not in the document")),
                }
            }
            for required in schema["required"].as_array().into_iter().flatten() {
                if !fields.contains_key(required.as_str().unwrap()) {
                    problems.push(format!("{at}.{required} is required but absent"));
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                conforms(document, &schema["items"], item, &format!("{at}[{i}]"), problems);
            }
        }
        _ => {}
    }
}

fn response_schema<'a>(document: &'a Value, path: &str, method: &str) -> &'a Value {
    &document["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
}

#[tokio::test]
async fn the_document_lists_every_route_and_real_answers_have_its_shapes() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let answer = new_client().get(app.url("/v1/openapi.json")).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let document: Value = answer.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let mut paths: Vec<&str> = document["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/v1/budgets",
            "/v1/estimate",
            "/v1/invoices",
            "/v1/invoices/{invoice_id}",
            "/v1/namespaces",
            "/v1/namespaces/{namespace}",
            "/v1/usage",
            "/v1/usage/events",
        ]
    );
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            assert_eq!(operation["security"], json!([{ "api_key": [] }]), "{method} {path}");
        }
    }
    assert_eq!(document["components"]["securitySchemes"]["api_key"]["scheme"], "bearer");
    let estimate = resolve(&document, response_schema(&document, "/v1/estimate", "get"));
    assert_eq!(estimate["properties"]["month_to_date_minor"]["type"], "integer", "{estimate}");

    let put = json!([{ "namespace": "payments-prod", "measure": "actions", "limit": 9_000_000_000i64, "thresholds": [50, 80] }]);
    let reads = [
        ("/v1/estimate", Method::GET, None),
        ("/v1/namespaces", Method::GET, None),
        ("/v1/namespaces/{namespace}", Method::GET, None),
        ("/v1/invoices", Method::GET, None),
        ("/v1/budgets", Method::PUT, Some(put)),
        ("/v1/budgets", Method::GET, None),
        ("/v1/usage", Method::GET, None),
    ];
    let mut problems = Vec::new();
    for (path, method, body) in reads {
        let url = match path {
            "/v1/namespaces/{namespace}" => "/v1/namespaces/payments-prod".to_owned(),
            "/v1/usage" => "/v1/usage?metric=actions&from=2026-01-01&to=2026-03-31&granularity=day".to_owned(),
            other => other.to_owned(),
        };
        let mut request = app.api(method.clone(), &url, &key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{method} {url}");
        let value: Value = answer.json().await.unwrap();
        let schema = response_schema(&document, path, &method.as_str().to_lowercase());
        assert!(!schema.is_null(), "{method} {path} documents its answer");
        conforms(&document, schema, &value, &format!("{method} {path}"), &mut problems);
    }
    // A refusal has the documented error's shape.
    let refused =
        app.api(Method::GET, "/v1/usage?metric=parsecs&from=2026-01-01&to=2026-01-02", &key).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = refused.json().await.unwrap();
    let error_schema =
        &document["paths"]["/v1/usage"]["get"]["responses"]["422"]["content"]["application/json"]["schema"];
    conforms(&document, error_schema, &error, "422", &mut problems);
    assert_eq!(problems, Vec::<String>::new());
}

#[tokio::test]
async fn put_budgets_replaces_them_all_or_changes_nothing() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let put = |body: Value| app.api(Method::PUT, "/v1/budgets", &key).json(&body).send();

    let set = put(json!([
        { "measure": "cost", "limit": 100_000_000, "thresholds": [80, 50] },
        { "namespace": "payments-prod", "measure": "actions", "limit": 9_000_000_000i64, "hard_cap": true },
    ]))
    .await
    .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let budgets: Value = set.json().await.unwrap();
    assert_eq!(budgets.as_array().unwrap().len(), 2, "{budgets}");
    let whole = budgets.as_array().unwrap().iter().find(|b| b["namespace"].is_null()).unwrap();
    assert_eq!((whole["limit"].as_i64(), &whole["thresholds"]), (Some(100_000_000), &json!([50, 80])));
    let read: Value = app.api(Method::GET, "/v1/budgets", &key).send().await.unwrap().json().await.unwrap();
    assert_eq!(read, budgets, "what was put is what is read");

    for (body, field) in [
        (
            json!([{ "measure": "cost", "limit": 100, "thresholds": [50] },
                   { "namespace": "payments-prod", "measure": "cost", "limit": 0, "thresholds": [50] }]),
            "budgets[1].limit",
        ),
        (
            json!([{ "measure": "cost", "limit": 100, "thresholds": [50] }, { "measure": "cost", "limit": 5, "thresholds": [50] }]),
            "budgets[1].namespace",
        ),
        (json!([{ "namespace": "nope", "measure": "cost", "limit": 100, "thresholds": [50] }]), "budgets[0].namespace"),
        (json!([{ "measure": "parsecs", "limit": 100, "thresholds": [50] }]), "budgets[0].measure"),
        (json!([{ "measure": "cost", "limit": 100, "thresholds": [0] }]), "budgets[0].thresholds"),
    ] {
        let refused = put(body.clone()).await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }
    let unknown_field =
        put(json!([{ "measure": "cost", "limit": 100, "thresholds": [50], "cap": true }])).await.unwrap();
    assert_eq!(unknown_field.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let read_again: Value = app.api(Method::GET, "/v1/budgets", &key).send().await.unwrap().json().await.unwrap();
    assert_eq!(read_again, budgets, "a refused list changes nothing");

    assert_eq!(put(json!([])).await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.count("select count(*) from budgets").await, 0, "an empty list removes them all");
    assert_eq!(app.count("select count(*) from audit_log where action = 'budget.delete'").await, 2);
}

/// Lists put at once replace each other whole: never a mix of the two.
#[tokio::test]
async fn two_lists_put_at_once_leave_one_of_them() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let list = |namespace: &str| json!([{ "namespace": namespace, "measure": "actions", "limit": 9_000_000_000i64, "thresholds": [50] }]);
    for _ in 0..10 {
        let (first, second) = tokio::join!(
            app.api(Method::PUT, "/v1/budgets", &key).json(&list("payments-prod")).send(),
            app.api(Method::PUT, "/v1/budgets", &key).json(&list("payments-staging")).send(),
        );
        assert_eq!((first.unwrap().status(), second.unwrap().status()), (StatusCode::OK, StatusCode::OK));
        assert_eq!(app.count("select count(*) from budgets").await, 1, "one list, not both");
    }
}
