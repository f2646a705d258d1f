//! The raw insert rate of the database itself, for rows shaped like usage events with the same
//! unique key, so the HTTP figure can be read as a share of it.
use server::store::Db;
use server::store::Dialect;
use sqlx::Executor;

const TABLE: &str = "loadgen_baseline_events";

pub async fn insert_rows(
    db: &Db,
    url: &str,
    events: u64,
    rows_per_transaction: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    db.pool.execute(format!("drop table if exists {TABLE}").as_str()).await?;
    db.pool
        .execute(
            format!(
                "create table {TABLE} (organization_id text not null, event_id text not null, namespace_id text not null,
                 metric text not null, quantity bigint not null, occurred_at bigint not null, hour bigint not null,
                 properties text, content_hash text not null, received_at bigint not null, late bigint not null,
                 primary key (organization_id, event_id))"
            )
            .as_str(),
        )
        .await?;
    let result = match db.dialect {
        Dialect::Sqlite => insert_sqlite(db, events, rows_per_transaction).await,
        Dialect::Postgres => copy_postgres(url, events, rows_per_transaction).await,
    };
    db.pool.execute(format!("drop table {TABLE}").as_str()).await?;
    result
}

fn row(i: u64) -> [String; 11] {
    let worker = i % 8;
    let hour = 1_795_251_600_000 + (i as i64 % 3) * 3_600_000;
    [
        format!("org_load{}", worker % 4),
        format!("w{worker}-{}", i / 8),
        format!("ns_load{}", i % 5),
        if i.is_multiple_of(5) { "active_storage_gbh".into() } else { "actions".into() },
        (i % 500).to_string(),
        (hour + (i as i64 % 3_600_000)).to_string(),
        hour.to_string(),
        String::new(),
        format!("{:032x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        hour.to_string(),
        "0".into(),
    ]
}

/// Multi-row INSERTs, 500 rows per statement, `rows_per_transaction` per commit.
async fn insert_sqlite(db: &Db, events: u64, rows_per_transaction: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut next = 0u64;
    while next < events {
        let end = (next + rows_per_transaction as u64).min(events);
        let mut tx = db.begin().await?;
        while next < end {
            let chunk = (end - next).min(500);
            // Anonymous placeholders: numbered ones make SQLite's binding quadratic in their count.
            let values: Vec<&str> = (0..chunk).map(|_| "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").collect();
            let sql = format!("insert into {TABLE} values {}", values.join(", "));
            let mut query = sqlx::query(&sql);
            for i in next..next + chunk {
                let [org, id, ns, metric, quantity, occurred, hour, _props, hash, received, late] = row(i);
                query = query
                    .bind(org)
                    .bind(id)
                    .bind(ns)
                    .bind(metric)
                    .bind(quantity.parse::<i64>()?)
                    .bind(occurred.parse::<i64>()?)
                    .bind(hour.parse::<i64>()?)
                    .bind(None::<String>)
                    .bind(hash)
                    .bind(received.parse::<i64>()?)
                    .bind(late.parse::<i64>()?);
            }
            query.execute(&mut *tx).await?;
            next += chunk;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// COPY … FROM STDIN in CSV, `rows_per_transaction` per COPY.
async fn copy_postgres(url: &str, events: u64, rows_per_transaction: usize) -> Result<(), Box<dyn std::error::Error>> {
    let pool = sqlx::PgPool::connect(url).await?;
    let mut next = 0u64;
    while next < events {
        let end = (next + rows_per_transaction as u64).min(events);
        let mut csv = String::with_capacity((end - next) as usize * 120);
        for i in next..end {
            let cells = row(i);
            csv.push_str(&cells.join(","));
            csv.push('\n');
        }
        let mut conn = pool.acquire().await?;
        let mut copy = conn.copy_in_raw(&format!("copy {TABLE} from stdin (format csv)")).await?;
        copy.send(csv.as_bytes()).await?;
        copy.finish().await?;
        next = end;
    }
    Ok(())
}
