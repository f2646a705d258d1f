//! Billing benchmarks: rating speed on one core, and a whole invoice run (draft, then finalize)
//! over many subscriptions with rollups in every namespace and metric.
use std::time::Instant;

use server::admin::customers::search_customers;
use server::billing::domain::catalog;
use server::billing::domain::rating::{Usage, rate};
use server::billing::invoicing::run_billing_cycle;
use server::billing::period_rating::BillingRules;
use server::billing::subscriptions::ensure_catalog;
use server::store::{Db, Dialect};
use sqlx::AnyConnection;

const METRICS: [&str; 3] = ["actions", "active_storage_gbh", "retained_storage_gbh"];
const HOUR_MS: i64 = 3_600_000;
/// 2026-01-01T00:00:00Z: every benchmark subscription's period runs through January.
const PERIOD_START: i64 = 1_767_225_600_000;
const PERIOD_END: i64 = PERIOD_START + 31 * 24 * HOUR_MS;

/// Rates the Business plan (graduated actions, per-unit storage) for `namespaces` namespaces over
/// and over, and reports invoice lines per second.
pub fn rating(lines_wanted: u64, namespaces: usize) {
    let (_, plan) = catalog::plans().into_iter().find(|(name, _)| *name == "Business").expect("Business plan");
    let usage: Vec<Usage> = (0..namespaces)
        .flat_map(|n| {
            METRICS.iter().map(move |metric| Usage {
                namespace_id: format!("ns_{n:03}"),
                metric: (*metric).to_owned(),
                quantity: 3_000_000 + n as i64 * 100_000,
            })
        })
        .collect();
    // The Business plan's amounts are far from 64 bits; a refusal here is a bug in rating.
    let rate = |plan, usage: &[Usage]| rate(plan, usage).expect("the benchmark's amounts are in range");
    let started = Instant::now();
    let (mut lines, mut total) = (0u64, 0i64);
    while lines < lines_wanted {
        let rated = rate(&plan, &usage);
        lines += rated.len() as u64;
        total = total.wrapping_add(rated.iter().map(|l| l.amount_minor).sum::<i64>());
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "rating: {lines} lines in {seconds:.2} s = {:.0} lines/s on one core ({} lines per invoice, checksum {total})",
        lines as f64 / seconds,
        rate(&plan, &usage).len()
    );
}

fn placeholders(conn: &AnyConnection, rows: usize, columns: usize) -> String {
    let sqlite = conn.backend_name() == "SQLite";
    (0..rows)
        .map(|r| {
            let cells: Vec<String> =
                (1..=columns).map(|c| if sqlite { "?".to_owned() } else { format!("${}", r * columns + c) }).collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Inserts `rows` (all of `columns` text-or-integer cells) into `table` in statements of 500 rows.
async fn insert_rows(
    conn: &mut AnyConnection,
    table: &str,
    columns: &str,
    rows: &[Vec<Cell>],
) -> Result<(), sqlx::Error> {
    let width = columns.split(',').count();
    for chunk in rows.chunks(500) {
        let sql = format!("insert into {table} ({columns}) values {}", placeholders(conn, chunk.len(), width));
        let mut query = sqlx::query(&sql);
        for row in chunk {
            for cell in row {
                query = match cell {
                    Cell::Text(t) => query.bind(t.clone()),
                    Cell::Int(i) => query.bind(*i),
                };
            }
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

enum Cell {
    Text(String),
    Int(i64),
}

use Cell::{Int, Text};

/// Creates `subscriptions` organizations on Business, each with `namespaces` namespaces and one
/// rollup per namespace and metric, all in the same January period.
async fn create_subscriptions(
    db: &Db,
    subscriptions: usize,
    namespaces: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    ensure_catalog(db).await?;
    let version: String = sqlx::query_scalar(
        "select v.id from plan_versions v join plans p on p.id = v.plan_id where p.name = 'Business' and v.version = 1",
    )
    .fetch_one(&db.pool)
    .await?;
    for first in (0..subscriptions).step_by(1_000) {
        let last = (first + 1_000).min(subscriptions);
        let (mut orgs, mut subs, mut nss, mut rollups) = (vec![], vec![], vec![], vec![]);
        for s in first..last {
            let org = format!("org_bench{s:07}");
            orgs.push(vec![
                Text(org.clone()),
                Text(format!("Bench {s}")),
                Text(format!("b{s}@bench.test")),
                Text("USD".into()),
                Int(PERIOD_START),
            ]);
            subs.push(vec![
                Text(format!("sub_bench{s:07}")),
                Text(org.clone()),
                Text(version.clone()),
                Text("active".into()),
                Int(PERIOD_START),
                Int(PERIOD_START),
                Int(PERIOD_START),
                Int(PERIOD_END),
            ]);
            for n in 0..namespaces {
                let ns = format!("ns_bench{s:07}_{n:02}");
                nss.push(vec![Text(ns.clone()), Text(org.clone()), Text(format!("ns-{n}")), Int(PERIOD_START)]);
                for (m, metric) in METRICS.iter().enumerate() {
                    let hour = PERIOD_START + ((s + n + m) % 700) as i64 * HOUR_MS;
                    let total = 200_000 + ((s * 31 + n * 7 + m) % 1_000) as i64 * 1_000;
                    rollups.push(vec![
                        Text(org.clone()),
                        Text(ns.clone()),
                        Text((*metric).into()),
                        Int(hour),
                        Int(total),
                        Int(1),
                        Int(PERIOD_START),
                    ]);
                }
            }
        }
        let mut tx = db.begin().await?;
        insert_rows(&mut tx, "organizations", "id, name, billing_email, currency, created_at", &orgs).await?;
        insert_rows(
            &mut tx,
            "subscriptions",
            "id, organization_id, plan_version_id, status, anchor_at, created_at, current_period_start, current_period_end",
            &subs,
        )
        .await?;
        insert_rows(&mut tx, "namespaces", "id, organization_id, name, created_at", &nss).await?;
        insert_rows(
            &mut tx,
            "usage_hourly",
            "organization_id, namespace_id, metric, hour, total, event_count, computed_at",
            &rollups,
        )
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Times the invoice run that drafts every subscription's ended period, then the run after the
/// grace period that finalizes them all.
pub async fn invoice_run(db: &Db, subscriptions: usize, namespaces: usize) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    create_subscriptions(db, subscriptions, namespaces).await?;
    println!(
        "setup: {subscriptions} subscriptions × {namespaces} namespaces × {} metrics of rollups in {:.1} s",
        METRICS.len(),
        started.elapsed().as_secs_f64()
    );
    // A database that has lived has statistics of its rollups (autovacuum gathers them); rows
    // bulk-loaded a moment ago have none yet, and PostgreSQL would plan the run blind.
    if db.dialect == Dialect::Postgres {
        sqlx::query("analyze").execute(&db.pool).await?;
    }
    let rules = BillingRules {
        grace_ms: 48 * HOUR_MS,
        payment_terms_ms: 14 * 24 * HOUR_MS,
        late_usage_window_ms: 35 * 24 * HOUR_MS,
        downgrade_timing: server::billing::domain::subscription::DowngradeTiming::PeriodEnd,
        credit_max_minor: 1_000_000,
    };
    let drafting = Instant::now();
    let drafted = run_billing_cycle(db, &rules, PERIOD_END + HOUR_MS).await?;
    let draft_seconds = drafting.elapsed().as_secs_f64();
    let finalizing = Instant::now();
    let finalized = run_billing_cycle(db, &rules, PERIOD_END + rules.grace_ms + HOUR_MS).await?;
    let finalize_seconds = finalizing.elapsed().as_secs_f64();
    let lines: i64 = sqlx::query_scalar("select count(*) from invoice_lines").fetch_one(&db.pool).await?;
    println!(
        "invoice run: {} periods drafted in {draft_seconds:.1} s, {} finalized in {finalize_seconds:.1} s; \
         total {:.1} s = {:.0} subscriptions/s; {lines} invoice lines",
        drafted.periods_closed,
        finalized.finalized,
        draft_seconds + finalize_seconds,
        subscriptions as f64 / (draft_seconds + finalize_seconds)
    );
    customer_search(db, subscriptions).await
}

/// Staff customer search over the organizations (with invoices) the invoice run left: the median
/// and slowest of 20 runs per kind of query.
async fn customer_search(db: &Db, organizations: usize) -> Result<(), Box<dyn std::error::Error>> {
    let middle = organizations / 2;
    let queries = [
        ("name prefix", format!("bench {middle}"), 0),
        ("billing email prefix", format!("b{middle}@"), 0),
        ("organization id", format!("org_bench{middle:07}"), 0),
        ("invoice number (every organization has INV-2026-000001)", "inv-2026-000001".to_owned(), 0),
        ("everyone, first page", String::new(), 0),
        ("everyone, page 2,000", String::new(), 2_000),
    ];
    for (what, query, page) in queries {
        let mut times = Vec::with_capacity(20);
        let mut found = 0;
        for _ in 0..20 {
            let started = Instant::now();
            found = search_customers(db, &query, page).await?.customers.len();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "customer search, {what}: median {:.1} ms, slowest {:.1} ms ({found} on the page)",
            times[10], times[19]
        );
    }
    Ok(())
}
