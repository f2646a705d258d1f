//! Server-rendered pages under concurrent users: the demo owner's dashboard, usage and invoice
//! pages, each fetched by many logged-in clients at once; reports requests/s and latency.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use server::db::Db;
use tokio::sync::Mutex;

const OWNER: (&str, &str) = ("owner@acme.test", "acme-owner-pass");

pub async fn run(url: &str, db: &Db, users: usize, requests: u64) -> Result<(), Box<dyn std::error::Error>> {
    let organization: String =
        sqlx::query_scalar("select id from organizations where name = 'Acme Corp'").fetch_one(&db.pool).await?;
    let invoice: String =
        sqlx::query_scalar("select id from invoices where organization_id = $1 and number is not null limit 1")
            .bind(&organization)
            .fetch_one(&db.pool)
            .await?;
    let client = reqwest::Client::builder().cookie_store(true).build()?;
    let login = client
        .post(format!("{url}/api/login"))
        .header("origin", url)
        .form(&[("email", OWNER.0), ("password", OWNER.1)])
        .send()
        .await?;
    if !login.status().is_success() {
        return Err(format!("logging in as {} answered {}", OWNER.0, login.status()).into());
    }
    let pages = [
        ("dashboard", format!("{url}/orgs/{organization}")),
        ("usage", format!("{url}/orgs/{organization}/usage")),
        ("invoice", format!("{url}/orgs/{organization}/invoices/{invoice}")),
    ];
    for (name, page) in pages {
        measure(&client, name, &page, users, requests).await?;
    }
    Ok(())
}

/// `requests` GETs of one page by `users` concurrent clients sharing the owner's session.
async fn measure(
    client: &reqwest::Client,
    name: &str,
    page: &str,
    users: usize,
    requests: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let latencies_us = Arc::new(Mutex::new(Vec::with_capacity(requests as usize)));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..users {
        let (client, page) = (client.clone(), page.to_owned());
        let (next, failed, latencies_us) = (next.clone(), failed.clone(), latencies_us.clone());
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let sent = Instant::now();
                let answer = client.get(&page).send().await;
                let ok = match answer {
                    Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                    Err(_) => false,
                };
                mine.push(sent.elapsed().as_micros() as u64);
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies_us.lock().await.extend(mine);
        }));
    }
    for worker in workers {
        worker.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies = latencies_us.lock().await.clone();
    latencies.sort_unstable();
    println!(
        "page {name}: {requests} requests by {users} users in {seconds:.1} s = {:.0} pages/s; \
         p50 {:.1} ms, p99 {:.1} ms; failed {}",
        requests as f64 / seconds,
        crate::percentile_ms(&latencies, 0.5),
        crate::percentile_ms(&latencies, 0.99),
        failed.load(Ordering::Relaxed)
    );
    Ok(())
}
