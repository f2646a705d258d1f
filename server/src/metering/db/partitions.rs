//! PostgreSQL's monthly partitions of `usage_events` (see the migration that made them): made
//! ahead of time, and detached and dropped when their month has gone to its archive file.
use sqlx::{AnyConnection, Executor};

use crate::error::Error;
use crate::metering::db::archive::give_joins_memory;
use crate::metering::domain::usage_months::UsageMonth;

/// Instances take turns making partitions: two making the same month at once would both find it
/// missing.
const MAKING_PARTITIONS: &str = "usage_events partitions";

/// `usage_events_2026_11`: months are whole numbers, so names are never quoted.
fn partition_name(month: UsageMonth) -> String {
    format!("usage_events_{}", month.label().replace('-', "_"))
}

/// The oldest and newest hour of the events that found no partition of their month.
pub async fn stray_hours(conn: &mut AnyConnection) -> Result<Option<(i64, i64)>, Error> {
    let (oldest, newest): (Option<i64>, Option<i64>) =
        sqlx::query_as("select min(hour), max(hour) from usage_events_default").fetch_one(conn).await?;
    Ok(oldest.zip(newest))
}

async fn has_partition(conn: &mut AnyConnection, month: UsageMonth) -> Result<bool, Error> {
    let found: Option<String> =
        sqlx::query_scalar("select cast(to_regclass($1) as text)").bind(partition_name(month)).fetch_one(conn).await?;
    Ok(found.is_some())
}

/// Archiving and making partitions take turns: an archive that ran while a month was made could
/// miss the partition being made and leave its events behind.
async fn take_partitions_turn(conn: &mut AnyConnection) -> Result<(), Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtext($1))::text").bind(MAKING_PARTITIONS).execute(conn).await?;
    Ok(())
}

/// Makes the month's partition, in the caller's transaction, unless it exists; the events the
/// default partition holds for the month move into it. Whether it made the partition.
///
/// The whole table is locked while the partition is made (no more than a month of strays moves;
/// a month made ahead moves none): a statement planned before the new partition existed and run
/// after would read neither the moved events in it nor in the default partition, and an event
/// stored into the default partition meanwhile would fail the attach.
pub async fn make_partition(conn: &mut AnyConnection, month: UsageMonth) -> Result<bool, Error> {
    take_partitions_turn(conn).await?;
    if has_partition(conn, month).await? {
        return Ok(false);
    }
    let (name, from, to) = (partition_name(month), month.start, month.end());
    for statement in [
        "lock table usage_events in access exclusive mode".to_owned(),
        format!("create table {name} (like usage_events including defaults including constraints)"),
        format!("insert into {name} select * from usage_events_default where hour >= {from} and hour < {to}"),
        format!("delete from usage_events_default where hour >= {from} and hour < {to}"),
        format!("alter table usage_events attach partition {name} for values from ({from}) to ({to})"),
    ] {
        conn.execute(statement.as_str()).await?;
    }
    Ok(true)
}

/// Deletes a month's events with their keys, in the caller's transaction: the month's partition
/// is detached and dropped whole, and the few events of the month the default partition holds are
/// deleted. The number of events deleted; an event without its key, or a key without its event,
/// is reported and deletes nothing.
pub async fn drop_month(conn: &mut AnyConnection, month: UsageMonth) -> Result<u64, Error> {
    take_partitions_turn(conn).await?;
    give_joins_memory(conn).await?;
    let (from, to) = (month.start, month.end());
    let partition = has_partition(conn, month).await?.then(|| partition_name(month));
    if let Some(name) = &partition {
        // No event enters the month while its keys go: ingestion refuses a month this old anyway.
        conn.execute(format!("lock table {name} in share row exclusive mode").as_str()).await?;
    }
    let events: i64 = sqlx::query_scalar("select count(*) from usage_events where hour >= $1 and hour < $2")
        .bind(from)
        .bind(to)
        .fetch_one(&mut *conn)
        .await?;
    let keys = sqlx::query(
        "delete from usage_event_keys k using usage_events e
         where e.hour >= $1 and e.hour < $2 and k.organization_id = e.organization_id and k.event_id = e.event_id",
    )
    .bind(from)
    .bind(to)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if keys != events as u64 {
        return Err(Error::Corrupt(format!(
            "{}: {events} events stored but {keys} of their keys; nothing deleted",
            month.label()
        )));
    }
    sqlx::query("delete from usage_events_default where hour >= $1 and hour < $2")
        .bind(from)
        .bind(to)
        .execute(&mut *conn)
        .await?;
    if let Some(name) = partition {
        conn.execute(format!("alter table usage_events detach partition {name}").as_str()).await?;
        conn.execute(format!("drop table {name}").as_str()).await?;
    }
    Ok(keys)
}
