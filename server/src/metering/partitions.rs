//! PostgreSQL keeps usage events in a partition per month, made ahead of time here: at start and
//! with the other housekeeping, every instance makes the months that are missing. SQLite keeps one
//! table.
use crate::error::Error;
use crate::metering::db::partitions::{make_partition, stray_hours};
use crate::metering::domain::usage_months::{UsageMonth, months_to_partition};
use crate::store::{Db, Dialect};

/// Makes the partitions missing for the months usage may arrive for now, and for the months of
/// events that found none (they move out of the default partition). The months it made.
pub async fn keep_partitions_ready(db: &Db, late_window_ms: i64) -> Result<Vec<UsageMonth>, Error> {
    if db.dialect != Dialect::Postgres {
        return Ok(Vec::new());
    }
    let strays = stray_hours(&mut *db.pool.acquire().await?).await?;
    let mut made = Vec::new();
    for month in months_to_partition(db.clock.now_ms(), late_window_ms, strays) {
        let mut tx = db.begin().await?;
        if make_partition(&mut tx, month).await? {
            made.push(month);
        }
        tx.commit().await?;
    }
    if !made.is_empty() {
        let months: Vec<String> = made.iter().map(|month| month.label()).collect();
        tracing::info!(months = %months.join(", "), "usage event partitions made");
    }
    Ok(made)
}
