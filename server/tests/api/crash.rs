//! SIGKILL during ingestion: every event answered `accepted` survives exactly once, and the
//! rollups catch up with the events after the restart.
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{ACME_OWNER, fresh_database_url, minutes_ago, new_client};

fn start_server(database_url: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--database-url", database_url, "--listen-addr", &format!("127.0.0.1:{port}"), "--log-level", "error"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the server binary")
}

async fn wait_ready(port: u16) {
    let client = new_client();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server on port {port} did not become ready");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

#[tokio::test]
async fn a_server_killed_during_ingestion_loses_no_accepted_event_and_its_rollups_catch_up() {
    let database_url = fresh_database_url().await;
    let db = server::db::Db::connect(&database_url).await.unwrap();
    db.migrate().await.unwrap();
    server::services::demo::seed_demo(&db, None).await.unwrap();
    let port = free_port();
    let mut child = start_server(&database_url, port);
    wait_ready(port).await;

    let client = new_client();
    let base = format!("http://127.0.0.1:{port}");
    let login = client
        .post(format!("{base}/api/login"))
        .form(&[("email", ACME_OWNER.email), ("password", ACME_OWNER.password)])
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success());
    let acme: String =
        sqlx::query_scalar("select id from organizations where name = 'Acme Corp'").fetch_one(&db.pool).await.unwrap();
    let created: Value = client
        .post(format!("{base}/api/create_api_key"))
        .form(&[("organization_id", acme.as_str()), ("name", "crash")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["secret"].as_str().unwrap().to_owned();

    // Send batches until the kill makes requests fail; remember what was answered `accepted`.
    let sender = {
        let (key, base) = (key.clone(), base.clone());
        tokio::spawn(async move {
            let client = new_client();
            let mut accepted: Vec<String> = Vec::new();
            for batch in 0.. {
                let events: Vec<Value> = (0..200)
                    .map(|i| {
                        let namespace = ["payments-prod", "payments-staging"][i % 2];
                        json!({"id": format!("c{batch}-{i}"), "namespace": namespace,
                               "metric": "actions", "quantity": 1 + i, "timestamp": minutes_ago((i % 90) as i64)})
                    })
                    .collect();
                let Ok(response) =
                    client.post(format!("{base}/v1/usage/events")).bearer_auth(&key).json(&events).send().await
                else {
                    break;
                };
                let Ok(reply) = response.json::<Value>().await else { break };
                for result in reply["results"].as_array().into_iter().flatten() {
                    if result["status"] == "accepted" {
                        accepted.push(format!("c{batch}-{}", result["index"]));
                    }
                }
            }
            accepted
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().expect("SIGKILL the server");
    child.wait().unwrap();
    let accepted = sender.await.unwrap();
    assert!(accepted.len() >= 200, "the load ran before the kill ({} accepted)", accepted.len());

    let mut restarted = start_server(&database_url, port);
    wait_ready(port).await;
    let stored: Vec<String> =
        sqlx::query_scalar("select event_id from usage_events").fetch_all(&db.pool).await.unwrap();
    let stored: HashSet<String> = stored.into_iter().collect();
    let missing: Vec<&String> = accepted.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(missing.is_empty(), "{} accepted events lost, e.g. {:?}", missing.len(), missing.first());

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (mismatches, pending) = server::services::usage::reconcile(&db, i64::MIN / 2, i64::MAX / 2).await.unwrap();
        if pending == 0 {
            assert_eq!(mismatches, vec![]);
            break;
        }
        assert!(Instant::now() < deadline, "rollups did not catch up after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}
