//! Server-rendered pages under concurrent users: the demo owner's dashboard, usage and invoice
//! pages, each fetched by many logged-in clients at once; reports requests/s and latency.
use server::store::Db;

use crate::closed_loop;

const OWNER: (&str, &str) = ("owner@acme.test", "acme-owner-pass");

pub async fn run(
    url: &str,
    db: &Db,
    users: usize,
    requests: u64,
    names: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
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
    let anonymous = reqwest::Client::new();
    for name in names {
        let (client, page) = match name.as_str() {
            "dashboard" => (&client, format!("{url}/orgs/{organization}")),
            "usage" => (&client, format!("{url}/orgs/{organization}/usage")),
            "invoice" => (&client, format!("{url}/orgs/{organization}/invoices/{invoice}")),
            "login" => (&anonymous, format!("{url}/login")),
            other => return Err(format!("no page named {other}: dashboard, usage, invoice or login").into()),
        };
        measure(client, name, &page, users, requests).await?;
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
    let (client, page) = (client.clone(), page.to_owned());
    let loaded = closed_loop::run(users, requests, move |_| {
        let sent = client.get(&page).send();
        async move {
            match sent.await {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await?;
    println!(
        "page {name}: {requests} requests by {users} users in {:.1} s = {:.0} pages/s; \
         p50 {:.1} ms, p99 {:.1} ms; failed {}",
        loaded.seconds,
        loaded.per_second(requests),
        loaded.percentile_ms(0.5),
        loaded.percentile_ms(0.99),
        loaded.failed
    );
    Ok(())
}
