//! Usage events (append-only), dirty hours and hourly rollups: all metering SQL.
use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, FromRow};

use crate::db::bulk::{Value, bind_all, bind_all_as, list_placeholders, placeholder, row_placeholders, texts};
use crate::domain::usage::ValidEvent;
use crate::error::Error;

/// Rows per multi-row statement: 12 parameters each stays far below both databases' limits.
const INSERT_CHUNK: usize = 500;
const LOOKUP_CHUNK: usize = 500;

pub async fn metric_keys(conn: &mut AnyConnection) -> Result<Vec<String>, Error> {
    Ok(sqlx::query_scalar("select key from metrics order by key").fetch_all(conn).await?)
}

/// Names and ids of the organization's namespaces, each mapped to the id.
pub async fn namespace_lookup(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<HashMap<String, String>, Error> {
    let rows: Vec<(String, String)> = sqlx::query_as("select id, name from namespaces where organization_id = $1")
        .bind(organization_id)
        .fetch_all(conn)
        .await?;
    let mut lookup = HashMap::with_capacity(rows.len() * 2);
    for (id, name) in rows {
        lookup.insert(name, id.clone());
        lookup.insert(id.clone(), id);
    }
    Ok(lookup)
}

pub async fn usage_closed_before(conn: &mut AnyConnection, organization_id: &str) -> Result<i64, Error> {
    Ok(sqlx::query_scalar("select usage_closed_before from organizations where id = $1")
        .bind(organization_id)
        .fetch_optional(conn)
        .await?
        .unwrap_or(0))
}

/// SQLite: the number of a new ingestion commit, inside its transaction; numbers grow and are
/// never reused. SQLite has one writer at a time, so the counter row is never waited for.
pub async fn next_commit_id(conn: &mut AnyConnection) -> Result<i64, Error> {
    Ok(sqlx::query_scalar("update usage_commit_counter set last = last + 1 returning last").fetch_one(conn).await?)
}

/// The ingestion commit that stores a set of new events, and what it needs to know about them.
pub struct NewEvents<'a> {
    pub organization_id: &'a str,
    pub commit_id: i64,
    pub received_at: i64,
    /// Events for hours before this instant are stored as `late`.
    pub closed_before: i64,
}

/// What storing a set of events found: the ids it inserted, and the content hashes of the ids
/// that were already stored.
pub struct StoredIds {
    pub inserted: HashSet<String>,
    pub already_stored: HashMap<String, String>,
}

/// SQLite: inserts the events whose id is new for the organization. This transaction holds the
/// only write lock, so an id not stored at the lookup is still new at the insert; plain inserts
/// then spare a row sent back per event (12% faster than `on conflict do nothing returning`).
pub async fn insert_new_events(
    conn: &mut AnyConnection,
    new: &NewEvents<'_>,
    events: &[&ValidEvent],
) -> Result<StoredIds, Error> {
    let already_stored = stored_hashes(conn, new.organization_id, &event_ids(events)).await?;
    let fresh: Vec<&ValidEvent> =
        events.iter().filter(|e| !already_stored.contains_key(&e.event_id)).copied().collect();
    for chunk in fresh.chunks(INSERT_CHUNK) {
        let sql = format!(
            "insert into usage_events (organization_id, event_id, namespace_id, metric, quantity, occurred_at, hour,
                 properties, content_hash, received_at, late, commit_id)
             values {}",
            row_placeholders(conn, 1, chunk.len(), 12)
        );
        let mut query = sqlx::query(&sql);
        for event in chunk {
            query = query
                .bind(new.organization_id)
                .bind(&event.event_id)
                .bind(&event.namespace_id)
                .bind(&event.metric)
                .bind(event.quantity)
                .bind(event.occurred_at)
                .bind(event.hour())
                .bind(event.properties.as_deref())
                .bind(&event.content_hash)
                .bind(new.received_at)
                .bind(i64::from(event.hour() < new.closed_before))
                .bind(new.commit_id);
        }
        query.execute(&mut *conn).await?;
    }
    let inserted = fresh.iter().map(|e| e.event_id.clone()).collect();
    Ok(StoredIds { inserted, already_stored })
}

fn event_ids<'e>(events: &[&'e ValidEvent]) -> Vec<&'e str> {
    events.iter().map(|e| e.event_id.as_str()).collect()
}

/// Content hashes of already stored events, by event id.
async fn stored_hashes(
    conn: &mut AnyConnection,
    organization_id: &str,
    event_ids: &[&str],
) -> Result<HashMap<String, String>, Error> {
    let mut found = HashMap::with_capacity(event_ids.len());
    for chunk in event_ids.chunks(LOOKUP_CHUNK) {
        let ids: Vec<String> = (2..chunk.len() + 2).map(|n| placeholder(conn, n)).collect();
        let sql = format!(
            "select event_id, content_hash from usage_events where organization_id = {} and event_id in ({})",
            placeholder(conn, 1),
            ids.join(", ")
        );
        let mut query = sqlx::query_as::<_, (String, String)>(&sql).bind(organization_id);
        for id in chunk {
            query = query.bind(*id);
        }
        found.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(found)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, FromRow)]
pub struct HourKey {
    pub organization_id: String,
    pub namespace_id: String,
    pub metric: String,
    pub hour: i64,
}

/// SQLite: marks the hours one commit touched: each (hour, commit) gets its own mark, so writers never
/// share a mark row and a mark's `marked_at` is the time its events became durable.
pub async fn mark_dirty(conn: &mut AnyConnection, keys: &[HourKey], commit_id: i64, now_ms: i64) -> Result<(), Error> {
    for chunk in keys.chunks(INSERT_CHUNK) {
        let sql = format!(
            "insert into usage_dirty_hours (organization_id, namespace_id, metric, hour, commit_id, marked_at) values {}
             on conflict do nothing",
            row_placeholders(conn, 1, chunk.len(), 6)
        );
        let mut query = sqlx::query(&sql);
        for key in chunk {
            query = query
                .bind(&key.organization_id)
                .bind(&key.namespace_id)
                .bind(&key.metric)
                .bind(key.hour)
                .bind(commit_id)
                .bind(now_ms);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct DirtyPart {
    pub organization_id: String,
    pub namespace_id: String,
    pub metric: String,
    pub hour: i64,
    pub commit_id: i64,
}

impl DirtyPart {
    pub fn key(&self) -> HourKey {
        HourKey {
            organization_id: self.organization_id.clone(),
            namespace_id: self.namespace_id.clone(),
            metric: self.metric.clone(),
            hour: self.hour,
        }
    }
}

pub async fn oldest_dirty_parts(conn: &mut AnyConnection, limit: i64) -> Result<Vec<DirtyPart>, Error> {
    Ok(sqlx::query_as(
        "select organization_id, namespace_id, metric, hour, commit_id from usage_dirty_hours order by marked_at limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// A part's total recomputed from its commit's events.
#[derive(Debug, Clone, FromRow)]
pub struct PartTotal {
    pub organization_id: String,
    pub namespace_id: String,
    pub metric: String,
    pub hour: i64,
    pub commit_id: i64,
    pub total: i64,
    pub event_count: i64,
}

/// Sums the events of each marked part, in key order. A committed commit's events never change,
/// so this read needs no write lock: on SQLite it runs beside the ingestion writer, which the
/// same sums inside the write transaction kept waiting for a quarter of a 300k-event run.
pub async fn part_totals(conn: &mut AnyConnection, marks: &[DirtyPart]) -> Result<Vec<PartTotal>, Error> {
    // A commit's events are found by its number alone (the only index they need besides their id)
    // and grouped here; only the marked parts are kept.
    let mut commits: Vec<i64> = marks.iter().map(|mark| mark.commit_id).collect();
    commits.sort_unstable();
    commits.dedup();
    let sql = format!(
        "select organization_id, namespace_id, metric, hour, commit_id, cast(sum(quantity) as bigint) as total,
             count(*) as event_count
         from usage_events
         where commit_id in ({})
         group by organization_id, namespace_id, metric, hour, commit_id
         having (organization_id, namespace_id, metric, hour, commit_id) in (values {})
         order by organization_id, namespace_id, metric, hour, commit_id",
        list_placeholders(conn, 1, commits.len()),
        row_placeholders(conn, 1 + commits.len(), marks.len(), 5)
    );
    let commit_values: Vec<Value> = commits.into_iter().map(Value::Int).collect();
    let mark_values: Vec<Value> = marks.iter().flat_map(mark_values).collect();
    Ok(bind_all_as(bind_all_as(sqlx::query_as(&sql), &commit_values), &mark_values).fetch_all(conn).await?)
}

/// Stores recomputed parts, recomputes the totals of their hours from all of each hour's parts,
/// and clears the marks: four statements however many marks, so the worker keeps up with
/// PostgreSQL's concurrent writers. `marks` and `parts` must be in key order.
pub async fn store_parts(
    conn: &mut AnyConnection,
    marks: &[DirtyPart],
    parts: &[PartTotal],
    now_ms: i64,
) -> Result<(), Error> {
    let mut hours: Vec<HourKey> = marks.iter().map(DirtyPart::key).collect();
    hours.dedup();
    let hour_values: Vec<Value> = hours.iter().flat_map(key_values).collect();

    // Writing the hours' rows first locks them, in key order: a second instance recomputing the
    // same hours waits, and then sums parts that include this transaction's. `where true` keeps
    // SQLite from reading the upsert's `on` as a join constraint.
    let lock = format!(
        "insert into usage_hourly (organization_id, namespace_id, metric, hour, computed_at, total, event_count)
         select m.column1, m.column2, m.column3, m.column4, {}, 0, 0 from (values {}) as m where true
         on conflict (organization_id, namespace_id, metric, hour) do update set computed_at = excluded.computed_at",
        placeholder(conn, 1),
        row_placeholders(conn, 2, hours.len(), 4)
    );
    bind_all(sqlx::query(&lock).bind(now_ms), &hour_values).execute(&mut *conn).await?;

    if !parts.is_empty() {
        let upsert = format!(
            "insert into usage_hourly_parts (organization_id, namespace_id, metric, hour, commit_id, total, event_count)
             values {}
             on conflict (organization_id, namespace_id, metric, hour, commit_id)
             do update set total = excluded.total, event_count = excluded.event_count",
            row_placeholders(conn, 1, parts.len(), 7)
        );
        let part_values: Vec<Value> = parts
            .iter()
            .flat_map(|part| {
                [
                    Value::Text(part.organization_id.clone()),
                    Value::Text(part.namespace_id.clone()),
                    Value::Text(part.metric.clone()),
                    Value::Int(part.hour),
                    Value::Int(part.commit_id),
                    Value::Int(part.total),
                    Value::Int(part.event_count),
                ]
            })
            .collect();
        bind_all(sqlx::query(&upsert), &part_values).execute(&mut *conn).await?;
    }

    let totals = format!(
        "update usage_hourly set (total, event_count) = (
             select cast(coalesce(sum(p.total), 0) as bigint), cast(coalesce(sum(p.event_count), 0) as bigint)
             from usage_hourly_parts p
             where p.organization_id = usage_hourly.organization_id and p.namespace_id = usage_hourly.namespace_id
                 and p.metric = usage_hourly.metric and p.hour = usage_hourly.hour)
         where (organization_id, namespace_id, metric, hour) in (values {})",
        row_placeholders(conn, 1, hours.len(), 4)
    );
    bind_all(sqlx::query(&totals), &hour_values).execute(&mut *conn).await?;

    let clear = format!(
        "delete from usage_dirty_hours where (organization_id, namespace_id, metric, hour, commit_id) in (values {})",
        row_placeholders(conn, 1, marks.len(), 5)
    );
    let mark_values: Vec<Value> = marks.iter().flat_map(mark_values).collect();
    bind_all(sqlx::query(&clear), &mark_values).execute(&mut *conn).await?;
    Ok(())
}

fn mark_values(mark: &DirtyPart) -> [Value; 5] {
    let [organization_id, namespace_id, metric, hour] = key_values(&mark.key());
    [organization_id, namespace_id, metric, hour, Value::Int(mark.commit_id)]
}

fn key_values(key: &HourKey) -> [Value; 4] {
    [
        Value::Text(key.organization_id.clone()),
        Value::Text(key.namespace_id.clone()),
        Value::Text(key.metric.clone()),
        Value::Int(key.hour),
    ]
}

/// When the oldest pending mark of the organization was made; `None` when nothing waits.
pub async fn oldest_pending_mark(conn: &mut AnyConnection, organization_id: &str) -> Result<Option<i64>, Error> {
    Ok(sqlx::query_scalar("select min(marked_at) from usage_dirty_hours where organization_id = $1")
        .bind(organization_id)
        .fetch_one(conn)
        .await?)
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct HourTotal {
    pub namespace_id: String,
    pub hour: i64,
    pub total: i64,
}

/// The hourly totals of one metric in `[from, to)`, the numbers charts, tables, CSV and invoices share.
pub async fn hourly_totals(
    conn: &mut AnyConnection,
    organization_id: &str,
    metric: &str,
    from: i64,
    to: i64,
) -> Result<Vec<HourTotal>, Error> {
    Ok(sqlx::query_as(
        "select namespace_id, hour, total from usage_hourly
         where organization_id = $1 and metric = $2 and hour >= $3 and hour < $4 order by hour, namespace_id",
    )
    .bind(organization_id)
    .bind(metric)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?)
}

pub async fn late_event_count(conn: &mut AnyConnection, organization_id: &str) -> Result<i64, Error> {
    Ok(sqlx::query_scalar("select count(*) from usage_events where organization_id = $1 and late = 1")
        .bind(organization_id)
        .fetch_one(conn)
        .await?)
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct KeyedTotal {
    pub organization_id: String,
    pub namespace_id: String,
    pub metric: String,
    pub hour: i64,
    pub total: i64,
}

/// Hourly sums straight from the events, for reconciliation.
pub async fn event_sums(conn: &mut AnyConnection, from: i64, to: i64) -> Result<Vec<KeyedTotal>, Error> {
    Ok(sqlx::query_as(
        "select organization_id, namespace_id, metric, hour, cast(sum(quantity) as bigint) as total from usage_events
         where hour >= $1 and hour < $2 group by organization_id, namespace_id, metric, hour",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?)
}

pub async fn stored_rollups(conn: &mut AnyConnection, from: i64, to: i64) -> Result<Vec<KeyedTotal>, Error> {
    Ok(sqlx::query_as(
        "select organization_id, namespace_id, metric, hour, total from usage_hourly where hour >= $1 and hour < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct MetricRow {
    pub key: String,
    pub display_name: String,
    pub display_unit: String,
    pub units_per_display: i64,
}

pub async fn metric_catalog(conn: &mut AnyConnection) -> Result<Vec<MetricRow>, Error> {
    Ok(sqlx::query_as("select key, display_name, display_unit, units_per_display from metrics order by key")
        .fetch_all(conn)
        .await?)
}

pub async fn dirty_keys(conn: &mut AnyConnection, from: i64, to: i64) -> Result<Vec<HourKey>, Error> {
    Ok(sqlx::query_as(
        "select distinct organization_id, namespace_id, metric, hour from usage_dirty_hours where hour >= $1 and hour < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?)
}

/// (namespace, metric, total) over `[from, to)`, from the same hourly rollups the charts show.
pub async fn period_totals(
    conn: &mut AnyConnection,
    organization_id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(String, String, i64)>, Error> {
    Ok(sqlx::query_as(
        "select namespace_id, metric, cast(sum(total) as bigint) from usage_hourly
         where organization_id = $1 and hour >= $2 and hour < $3 group by namespace_id, metric",
    )
    .bind(organization_id)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?)
}

/// (organization, namespace, metric, total) over `[from, to)` for many organizations at once.
pub async fn period_totals_of(
    conn: &mut AnyConnection,
    organization_ids: &[String],
    (from, to): (i64, i64),
) -> Result<Vec<(String, String, String, i64)>, Error> {
    if organization_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select organization_id, namespace_id, metric, cast(sum(total) as bigint) from usage_hourly
         where hour >= {} and hour < {} and organization_id in ({}) group by organization_id, namespace_id, metric",
        placeholder(conn, 1),
        placeholder(conn, 2),
        list_placeholders(conn, 3, organization_ids.len())
    );
    let values = texts(organization_ids);
    Ok(bind_all_as(sqlx::query_as(&sql).bind(from).bind(to), &values).fetch_all(conn).await?)
}

/// Usage before `before_ms` belongs to a finalized period from now on, for every listed
/// organization: later events for it are `late`.
pub async fn close_usage_before_many(
    conn: &mut AnyConnection,
    organization_ids: &[String],
    before_ms: i64,
) -> Result<(), Error> {
    if organization_ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "update organizations set usage_closed_before = {} where usage_closed_before < {} and id in ({})",
        placeholder(conn, 1),
        placeholder(conn, 2),
        list_placeholders(conn, 3, organization_ids.len())
    );
    let values = texts(organization_ids);
    bind_all(sqlx::query(&sql).bind(before_ms).bind(before_ms), &values).execute(conn).await?;
    Ok(())
}
