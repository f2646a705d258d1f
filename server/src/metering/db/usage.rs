//! Usage events (append-only), dirty hours and hourly rollups: all metering SQL.
use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::metering::db::usage_dimensions;
use crate::metering::domain::dimensions::{DeclaredDimensions, DimensionTotals, TotalsError};
use crate::metering::domain::usage::ValidEvent;
use crate::shared::money::AmountOutOfRange;
use crate::store::Dialect;
use crate::store::bulk::{
    Value, bind_all, bind_all_as, json_array_agg, kept_prepared, list_placeholders, listed_rows, placeholder,
    recurring_chunks, row_placeholders, texts,
};

/// Rows per multi-row statement: 13 parameters each stays far below both databases' limits.
const INSERT_CHUNK: usize = 500;
const LOOKUP_CHUNK: usize = 500;

/// Tells every instance's `LISTEN`ers (PostgreSQL) that an organization's rollups changed.
pub async fn notify_rolled_up(pool: &sqlx::AnyPool, channel: &str, organization_id: &str) -> Result<(), Error> {
    sqlx::query("select pg_notify($1, $2)").bind(channel).bind(organization_id).execute(pool).await?;
    Ok(())
}

/// Every metric and its declared dimensions, in one query.
pub async fn read_catalog(conn: &mut AnyConnection) -> Result<(Vec<MetricRow>, DeclaredDimensions), Error> {
    type Row = (String, String, String, i64, Option<String>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "select m.key, m.display_name, m.display_unit, m.units_per_display, d.dimension, d.value from metrics m
         left join metric_dimension_values d on d.metric = m.key
         order by m.key, d.dimension, d.position",
    )
    .fetch_all(conn)
    .await?;
    let mut metrics: Vec<MetricRow> = Vec::new();
    let mut declared = DeclaredDimensions::new();
    for (key, display_name, display_unit, units_per_display, dimension, value) in rows {
        if metrics.last().map(|m| &m.key) != Some(&key) {
            metrics.push(MetricRow { key: key.clone(), display_name, display_unit, units_per_display });
        }
        if let (Some(dimension), Some(value)) = (dimension, value) {
            declared.entry(key).or_default().entry(dimension).or_default().push(value);
        }
    }
    Ok((metrics, declared))
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

/// Where the organization's usage stands: hours before `closed_before` belong to finalized
/// periods (late usage), and none may happen at or after `ends_at`.
#[derive(Debug, Clone, Copy, Default, FromRow)]
pub struct UsageWindow {
    pub closed_before: i64,
    pub ends_at: Option<i64>,
    /// Set when the organization subscribed again: usage before it is refused.
    pub starts_at: Option<i64>,
    /// 0 for an organization that has not chosen a plan yet: no period would bill its usage.
    pub subscriptions: i64,
}

pub async fn usage_window(conn: &mut AnyConnection, organization_id: &str) -> Result<UsageWindow, Error> {
    Ok(sqlx::query_as(
        "select usage_closed_before as closed_before, usage_ends_at as ends_at, usage_starts_at as starts_at,
                (select count(*) from subscriptions s where s.organization_id = o.id) as subscriptions
         from organizations o where id = $1",
    )
    .bind(organization_id)
    .fetch_optional(conn)
    .await?
    .unwrap_or_default())
}

/// A new subscription after an ended one: usage is accepted again from `at` on, not before.
pub async fn restart_usage(conn: &mut AnyConnection, organization_id: &str, at: i64) -> Result<(), Error> {
    sqlx::query("update organizations set usage_ends_at = null, usage_starts_at = $1 where id = $2")
        .bind(at)
        .bind(organization_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Accepts the organization's usage again after an end that was withdrawn, unless the end was
/// moved meanwhile (by dunning's cancellation, which stays).
pub async fn reopen_usage(conn: &mut AnyConnection, organization_id: &str, ended_at: i64) -> Result<(), Error> {
    sqlx::query("update organizations set usage_ends_at = null where id = $1 and usage_ends_at = $2")
        .bind(organization_id)
        .bind(ended_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether the organization ever sent an accepted usage event: one still stored, or one whose
/// hour was rolled up (its event may be archived since).
pub async fn has_usage(conn: &mut AnyConnection, organization_id: &str) -> Result<bool, Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "select 1 where exists (select 1 from usage_event_keys where organization_id = $1)
            or exists (select 1 from usage_hourly where organization_id = $1)",
    )
    .bind(organization_id)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// No usage of the organization is accepted from `at` on: its subscription ends there. An earlier
/// end already set (dunning's cancellation before a requested one) stays.
pub async fn end_usage_at(conn: &mut AnyConnection, organization_id: &str, at: i64) -> Result<(), Error> {
    sqlx::query(
        "update organizations set usage_ends_at = $1 where id = $2 and (usage_ends_at is null or usage_ends_at > $3)",
    )
    .bind(at)
    .bind(organization_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The number of the newest ingestion commit begun so far.
pub async fn last_commit_id(conn: &mut AnyConnection) -> Result<i64, Error> {
    let sql = if Dialect::of(conn) == Dialect::Sqlite {
        "select last from usage_commit_counter"
    } else {
        "select last_value from usage_commit_ids"
    };
    Ok(sqlx::query_scalar(sql).fetch_one(conn).await?)
}

/// SQLite: whether another transaction waits for this one's rows. None can: SQLite has one writer
/// at a time, and a reader never waits for it.
pub async fn blocks_another_transaction(_conn: &mut AnyConnection) -> Result<bool, Error> {
    Ok(false)
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

/// What storing a set of events found: the content hashes of the ids that were already stored.
/// Every other id the commit was given, it inserted; so the inserted ids are not copied into a
/// set of their own (8,000 strings hashed per commit, on the writer SQLite waits for).
pub struct StoredIds {
    pub already_stored: HashMap<String, String>,
}

impl StoredIds {
    pub fn was_inserted(&self, event_id: &str) -> bool {
        !self.already_stored.contains_key(event_id)
    }
}

/// SQLite: inserts the events whose id is new for the organization. The `seen` events are looked
/// up first; the `unseen` ones are taken as new, and a chunk in which some were not (ids stored by
/// another process, or before a restart) is looked up after its insert skipped them. This
/// transaction holds the only write lock, so nothing else stores an id meanwhile.
pub async fn insert_new_events(
    conn: &mut AnyConnection,
    new: &NewEvents<'_>,
    seen: &[&ValidEvent],
    unseen: &[&ValidEvent],
) -> Result<StoredIds, Error> {
    let mut already_stored: HashMap<String, String> = stored_events(conn, new.organization_id, &event_ids(seen))
        .await?
        .into_iter()
        .map(|(event_id, content_hash, _)| (event_id, content_hash))
        .collect();
    let fresh: Vec<&ValidEvent> =
        seen.iter().filter(|e| !already_stored.contains_key(&e.event_id)).chain(unseen).copied().collect();
    for chunk in recurring_chunks(&fresh, INSERT_CHUNK) {
        let sql = format!(
            "insert into usage_events (organization_id, event_id, namespace_id, metric, quantity, occurred_at, hour,
                 properties, dimensions, content_hash, received_at, late, commit_id)
             values {}
             on conflict do nothing",
            row_placeholders(conn, 1, chunk.len(), 13)
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
                .bind(event.dimensions.as_deref())
                .bind(&event.content_hash)
                .bind(new.received_at)
                .bind(i64::from(event.hour() < new.closed_before))
                .bind(new.commit_id);
        }
        if (query.execute(&mut *conn).await?.rows_affected() as usize) < chunk.len() {
            // Ids this commit did not store were there before it; an earlier batch of this commit
            // stores no id that a later one takes as unseen.
            for (event_id, content_hash, commit_id) in
                stored_events(conn, new.organization_id, &event_ids(chunk)).await?
            {
                if commit_id != new.commit_id {
                    already_stored.insert(event_id, content_hash);
                }
            }
        }
    }
    Ok(StoredIds { already_stored })
}

pub fn event_ids<'e>(events: &[&'e ValidEvent]) -> Vec<&'e str> {
    events.iter().map(|e| e.event_id.as_str()).collect()
}

/// (event id, content hash, commit) of the stored events among `event_ids`.
async fn stored_events(
    conn: &mut AnyConnection,
    organization_id: &str,
    event_ids: &[&str],
) -> Result<Vec<(String, String, i64)>, Error> {
    let mut found = Vec::new();
    for chunk in event_ids.chunks(LOOKUP_CHUNK) {
        let ids: Vec<String> = (2..chunk.len() + 2).map(|n| placeholder(conn, n)).collect();
        let sql = format!(
            "select event_id, content_hash, commit_id from usage_events
             where organization_id = {} and event_id in ({})",
            placeholder(conn, 1),
            ids.join(", ")
        );
        let mut query = sqlx::query_as::<_, (String, String, i64)>(&sql).bind(organization_id);
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

impl HourKey {
    pub fn of(organization_id: &str, namespace_id: &str, metric: &str, hour: i64) -> Self {
        Self { organization_id: organization_id.into(), namespace_id: namespace_id.into(), metric: metric.into(), hour }
    }
}

/// SQLite: marks the hours one commit touched: each (hour, commit) gets its own mark, so writers never
/// share a mark row and a mark's `marked_at` is the time its events became durable.
pub async fn mark_dirty(conn: &mut AnyConnection, keys: &[HourKey], commit_id: i64, now_ms: i64) -> Result<(), Error> {
    for chunk in recurring_chunks(keys, INSERT_CHUNK) {
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
        HourKey::of(&self.organization_id, &self.namespace_id, &self.metric, self.hour)
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

/// A part of an hour's total: the sum of the hour's events of commits `first_commit_id..=commit_id`.
/// A commit's own part covers that commit alone; a folded part covers a run of settled commits.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PartTotal {
    pub organization_id: String,
    pub namespace_id: String,
    pub metric: String,
    pub hour: i64,
    pub first_commit_id: i64,
    pub commit_id: i64,
    pub total: i64,
    pub event_count: i64,
    /// The part of `total` whose events carried dimensions, per canonical text, as stored JSON.
    pub dimension_totals: Option<String>,
}

/// A part's sum over the events of one set of dimensions (none for `None`); a part is the sum
/// of its groups.
#[derive(FromRow)]
struct GroupSum {
    organization_id: String,
    namespace_id: String,
    metric: String,
    hour: i64,
    first_commit_id: i64,
    commit_id: i64,
    dimensions: Option<String>,
    total: i64,
    event_count: i64,
}

/// Groups in part order → parts, each with its groups' totals and the dimensioned ones kept apart.
fn parts_of_groups(groups: Vec<GroupSum>) -> Result<Vec<PartTotal>, Error> {
    let mut parts: Vec<(PartTotal, DimensionTotals)> = Vec::new();
    for group in groups {
        let same = parts.last().is_some_and(|(part, _)| {
            (&part.organization_id, &part.namespace_id, &part.metric, part.hour, part.commit_id)
                == (&group.organization_id, &group.namespace_id, &group.metric, group.hour, group.commit_id)
        });
        if !same {
            let part = PartTotal {
                organization_id: group.organization_id,
                namespace_id: group.namespace_id,
                metric: group.metric,
                hour: group.hour,
                first_commit_id: group.first_commit_id,
                commit_id: group.commit_id,
                total: 0,
                event_count: 0,
                dimension_totals: None,
            };
            parts.push((part, DimensionTotals::default()));
        }
        let (part, dimensions) = parts.last_mut().expect("pushed above");
        part.total = part.total.checked_add(group.total).ok_or_else(beyond_range)?;
        part.event_count = part.event_count.checked_add(group.event_count).ok_or_else(beyond_range)?;
        dimensions.add(group.dimensions.as_deref(), group.total).map_err(totals_error)?;
    }
    Ok(parts
        .into_iter()
        .map(|(part, dimensions)| PartTotal { dimension_totals: dimensions.to_stored(), ..part })
        .collect())
}

impl PartTotal {
    pub fn key(&self) -> HourKey {
        HourKey::of(&self.organization_id, &self.namespace_id, &self.metric, self.hour)
    }

    fn covers(&self, commit_id: i64) -> bool {
        (self.first_commit_id..=self.commit_id).contains(&commit_id)
    }
}

/// Commits per fold: a folded part never spans two buckets of this many, so recomputing one that
/// is marked again reads the events of at most this many commits.
const FOLD_BUCKET: i64 = 128;

/// Sums the events of each marked commit's part, in key order. A committed commit's events never
/// change, so this read needs no write lock: on SQLite it runs beside the ingestion writer, which
/// the same sums inside the write transaction kept waiting for a quarter of a 300k-event run.
pub async fn part_totals(conn: &mut AnyConnection, marks: &[DirtyPart]) -> Result<Vec<PartTotal>, Error> {
    // A commit's events are found by its number alone (the only index they need besides their id)
    // and grouped here; only the marked parts are kept. The commits are asked for as ranges: a
    // list of numbers, estimated on PostgreSQL before the table has statistics, made it read the
    // whole table (600 ms with 10 million events) instead of the index.
    let mut commits: Vec<i64> = marks.iter().map(|mark| mark.commit_id).collect();
    commits.sort_unstable();
    commits.dedup();
    let runs = commit_runs(&commits);
    let ranges: Vec<String> = (0..runs.len())
        .map(|r| format!("commit_id between {} and {}", placeholder(conn, 1 + 2 * r), placeholder(conn, 2 + 2 * r)))
        .collect();
    let sql = format!(
        "select organization_id, namespace_id, metric, hour, commit_id as first_commit_id, commit_id, dimensions,
             cast(sum(quantity) as bigint) as total, count(*) as event_count
         from usage_events
         where {}
         group by organization_id, namespace_id, metric, hour, commit_id, dimensions
         having (organization_id, namespace_id, metric, hour, commit_id) in (values {})
         order by organization_id, namespace_id, metric, hour, commit_id",
        ranges.join(" or "),
        row_placeholders(conn, 1 + 2 * runs.len(), marks.len(), 5)
    );
    let commit_values: Vec<Value> =
        runs.into_iter().flat_map(|(first, last)| [Value::Int(first), Value::Int(last)]).collect();
    let mark_values: Vec<Value> = marks.iter().flat_map(mark_values).collect();
    let query = sqlx::query_as(&sql).persistent(kept_prepared(marks.len()));
    parts_of_groups(bind_all_as(bind_all_as(query, &commit_values), &mark_values).fetch_all(conn).await?)
}

/// `part_totals` for the marks of one hour, filtering by the hour before summing: on SQLite the
/// general query sums every hour of the commits before it keeps the marked ones, so one hour that
/// cannot be summed would fail the others stored by the same commits.
pub async fn part_totals_of_hour(conn: &mut AnyConnection, marks: &[DirtyPart]) -> Result<Vec<PartTotal>, Error> {
    let Some(first) = marks.first() else { return Ok(Vec::new()) };
    let mut commits: Vec<i64> = marks.iter().map(|mark| mark.commit_id).collect();
    commits.sort_unstable();
    commits.dedup();
    let sql = format!(
        "select organization_id, namespace_id, metric, hour, commit_id as first_commit_id, commit_id, dimensions,
             cast(sum(quantity) as bigint) as total, count(*) as event_count
         from usage_events
         where organization_id = {} and namespace_id = {} and metric = {} and hour = {} and commit_id in ({})
         group by organization_id, namespace_id, metric, hour, commit_id, dimensions
         order by commit_id",
        placeholder(conn, 1),
        placeholder(conn, 2),
        placeholder(conn, 3),
        placeholder(conn, 4),
        list_placeholders(conn, 5, commits.len())
    );
    let commit_values: Vec<Value> = commits.into_iter().map(Value::Int).collect();
    let query = sqlx::query_as(&sql)
        .bind(&first.organization_id)
        .bind(&first.namespace_id)
        .bind(&first.metric)
        .bind(first.hour);
    parts_of_groups(bind_all_as(query, &commit_values).fetch_all(conn).await?)
}

/// Sorted commit numbers → ranges that cover them, reading at most a few commits that are not
/// asked for (a pass's marks are the oldest, so their commits mostly follow each other).
fn commit_runs(commits: &[i64]) -> Vec<(i64, i64)> {
    const MAX_GAP: i64 = 8;
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for &commit in commits {
        match runs.last_mut() {
            Some((_, last)) if commit - *last <= MAX_GAP => *last = commit,
            _ => runs.push((commit, commit)),
        }
    }
    runs
}

/// Stores the recomputed parts of the marks, folds the hours' settled parts, recomputes the
/// hours' totals from their parts and clears the marks: a fixed number of statements however
/// many marks, so the worker keeps up with PostgreSQL's concurrent writers. `marks` must be in
/// key order; `commit_parts` are `part_totals` of the marks. Parts of commits at or below
/// `fold_through`, whose transactions have ended, may be folded.
pub async fn store_parts(
    conn: &mut AnyConnection,
    marks: &[DirtyPart],
    commit_parts: &[PartTotal],
    fold_through: Option<i64>,
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
    bind_all(sqlx::query(&lock).persistent(kept_prepared(hours.len())).bind(now_ms), &hour_values)
        .execute(&mut *conn)
        .await?;

    let claimed = claim_marks(conn, marks).await?;
    let parts = recomputed_parts(conn, &claimed, commit_parts, &hour_values).await?;
    // An hour's totals per dimension change only with a part whose events carried some (events
    // never change): untyped usage costs the pass, which holds SQLite's write lock, nothing more.
    let mut typed_hours: Vec<HourKey> =
        parts.iter().filter(|part| part.dimension_totals.is_some()).map(PartTotal::key).collect();
    typed_hours.sort_unstable();
    typed_hours.dedup();
    match fold_through {
        Some(through) => store_folding(conn, &hours, parts, through).await?,
        None => upsert_parts(conn, &parts).await?,
    }

    let totals = format!(
        "update usage_hourly set (total, event_count) = (
             select cast(coalesce(sum(p.total), 0) as bigint), cast(coalesce(sum(p.event_count), 0) as bigint)
             from usage_hourly_parts p
             where p.organization_id = usage_hourly.organization_id and p.namespace_id = usage_hourly.namespace_id
                 and p.metric = usage_hourly.metric and p.hour = usage_hourly.hour)
         where (organization_id, namespace_id, metric, hour) in ({})",
        listed_rows(conn, 1, hours.len(), 4)
    );
    bind_all(sqlx::query(&totals).persistent(kept_prepared(hours.len())), &hour_values).execute(&mut *conn).await?;
    usage_dimensions::store_hourly_dimensions(conn, &typed_hours).await
}

/// Clears the marks and returns those that were still there. Another instance that recomputed
/// the same marks first has cleared them, and its parts may be folded already: storing them
/// again would count them twice.
async fn claim_marks(conn: &mut AnyConnection, marks: &[DirtyPart]) -> Result<Vec<DirtyPart>, Error> {
    let sql = format!(
        "delete from usage_dirty_hours where (organization_id, namespace_id, metric, hour, commit_id) in ({})
         returning organization_id, namespace_id, metric, hour, commit_id",
        listed_rows(conn, 1, marks.len(), 5)
    );
    let values: Vec<Value> = marks.iter().flat_map(mark_values).collect();
    Ok(bind_all_as(sqlx::query_as(&sql).persistent(kept_prepared(marks.len())), &values).fetch_all(conn).await?)
}

/// The part each claimed mark recomputes: its commit's own part, from the sums read before the
/// transaction, or, for a commit inside a folded part (marked again, or a PostgreSQL commit that
/// ended after its number was taken as settled), the whole folded part from its events.
async fn recomputed_parts(
    conn: &mut AnyConnection,
    claimed: &[DirtyPart],
    commit_parts: &[PartTotal],
    hour_values: &[Value],
) -> Result<Vec<PartTotal>, Error> {
    let Some(lowest) = claimed.iter().map(|mark| mark.commit_id).min() else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "select organization_id, namespace_id, metric, hour, first_commit_id, commit_id, total, event_count,
             dimension_totals
         from usage_hourly_parts
         where first_commit_id < commit_id and commit_id >= {}
             and (organization_id, namespace_id, metric, hour) in ({})",
        placeholder(conn, 1),
        listed_rows(conn, 2, hour_values.len() / 4, 4)
    );
    let folded: Vec<PartTotal> =
        bind_all_as(sqlx::query_as(&sql).persistent(kept_prepared(hour_values.len() / 4)).bind(lowest), hour_values)
            .fetch_all(&mut *conn)
            .await?;
    let mut folded_by_hour: HashMap<HourKey, Vec<&PartTotal>> = HashMap::new();
    for part in &folded {
        folded_by_hour.entry(part.key()).or_default().push(part);
    }
    let by_commit: HashMap<(HourKey, i64), &PartTotal> =
        commit_parts.iter().map(|part| ((part.key(), part.commit_id), part)).collect();

    let mut parts = Vec::with_capacity(claimed.len());
    let mut stale_folds: Vec<&PartTotal> = Vec::new();
    for mark in claimed {
        let key = mark.key();
        let fold = folded_by_hour.get(&key).and_then(|folds| folds.iter().find(|f| f.covers(mark.commit_id)));
        match fold {
            Some(fold) if !stale_folds.contains(fold) => stale_folds.push(fold),
            Some(_) => {}
            None => parts.extend(by_commit.get(&(key, mark.commit_id)).map(|&part| part.clone())),
        }
    }
    for fold in stale_folds {
        parts.push(sum_events(conn, fold).await?);
    }
    Ok(parts)
}

/// The part recomputed from its commits' events.
async fn sum_events(conn: &mut AnyConnection, part: &PartTotal) -> Result<PartTotal, Error> {
    let groups: Vec<GroupSum> = sqlx::query_as(
        "select organization_id, namespace_id, metric, hour, cast($1 as bigint) as first_commit_id,
             cast($2 as bigint) as commit_id, dimensions,
             cast(sum(quantity) as bigint) as total, count(*) as event_count
         from usage_events
         where commit_id between $1 and $2 and organization_id = $3 and namespace_id = $4 and metric = $5
             and hour = $6
         group by organization_id, namespace_id, metric, hour, dimensions",
    )
    .bind(part.first_commit_id)
    .bind(part.commit_id)
    .bind(&part.organization_id)
    .bind(&part.namespace_id)
    .bind(&part.metric)
    .bind(part.hour)
    .fetch_all(conn)
    .await?;
    let summed = parts_of_groups(groups)?.pop();
    Ok(summed.unwrap_or(PartTotal { total: 0, event_count: 0, dimension_totals: None, ..part.clone() }))
}

async fn upsert_parts(conn: &mut AnyConnection, parts: &[PartTotal]) -> Result<(), Error> {
    for chunk in recurring_chunks(parts, INSERT_CHUNK) {
        upsert_part_rows(conn, chunk).await?;
    }
    Ok(())
}

async fn upsert_part_rows(conn: &mut AnyConnection, parts: &[PartTotal]) -> Result<(), Error> {
    let sql = format!(
        "insert into usage_hourly_parts (organization_id, namespace_id, metric, hour, first_commit_id, commit_id,
             total, event_count, dimension_totals)
         values {}
         on conflict (organization_id, namespace_id, metric, hour, commit_id) do update set
             first_commit_id = excluded.first_commit_id, total = excluded.total, event_count = excluded.event_count,
             dimension_totals = excluded.dimension_totals",
        row_placeholders(conn, 1, parts.len(), 9)
    );
    let values: Vec<Value> = parts
        .iter()
        .flat_map(|part| {
            let [organization_id, namespace_id, metric, hour] = key_values(&part.key());
            [
                organization_id,
                namespace_id,
                metric,
                hour,
                Value::Int(part.first_commit_id),
                Value::Int(part.commit_id),
                Value::Int(part.total),
                Value::Int(part.event_count),
                Value::MaybeText(part.dimension_totals.clone()),
            ]
        })
        .collect();
    bind_all(sqlx::query(&sql), &values).execute(conn).await?;
    Ok(())
}

/// Stores a pass's parts and folds each hour's settled parts, stored or new, into one per bucket of
/// commits. A part is settled when its commits are at or below `through` and below every commit
/// of the hour still marked, so a fold never covers a commit whose part is yet to be stored. New
/// parts that are settled already (always on SQLite, where no commit is in flight while a pass
/// holds the write lock) fold before they are stored, sparing an insert and a delete each.
async fn store_folding(
    conn: &mut AnyConnection,
    hours: &[HourKey],
    parts: Vec<PartTotal>,
    through: i64,
) -> Result<(), Error> {
    let hour_values: Vec<Value> = hours.iter().flat_map(key_values).collect();
    let sql = format!(
        "select organization_id, namespace_id, metric, hour, min(commit_id) from usage_dirty_hours
         where (organization_id, namespace_id, metric, hour) in ({})
         group by organization_id, namespace_id, metric, hour",
        listed_rows(conn, 1, hours.len(), 4)
    );
    let pending: HashMap<HourKey, i64> = bind_all_as::<(String, String, String, i64, i64)>(
        sqlx::query_as(&sql).persistent(kept_prepared(hours.len())),
        &hour_values,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(organization_id, namespace_id, metric, hour, commit_id)| {
        (HourKey { organization_id, namespace_id, metric, hour }, commit_id)
    })
    .collect();
    let limits: HashMap<&HourKey, i64> =
        hours.iter().map(|hour| (hour, pending.get(hour).map_or(through, |&marked| through.min(marked - 1)))).collect();
    let limit_values: Vec<Value> = hours
        .iter()
        .flat_map(|hour| {
            let [organization_id, namespace_id, metric, hour_start] = key_values(hour);
            [organization_id, namespace_id, metric, hour_start, Value::Int(limits[hour])]
        })
        .collect();
    // `cross join` makes SQLite walk the hours and look each one's parts up by key, instead of
    // scanning every part of every hour ever stored.
    let sql = format!(
        "select p.organization_id, p.namespace_id, p.metric, p.hour, p.first_commit_id, p.commit_id, p.total,
             p.event_count, p.dimension_totals
         from (values {}) as f cross join usage_hourly_parts p
         where p.organization_id = f.column1 and p.namespace_id = f.column2 and p.metric = f.column3
             and p.hour = f.column4 and p.commit_id <= f.column5",
        row_placeholders(conn, 1, hours.len(), 5)
    );
    let stored: Vec<PartTotal> =
        bind_all_as(sqlx::query_as(&sql).persistent(kept_prepared(hours.len())), &limit_values)
            .fetch_all(&mut *conn)
            .await?;
    let in_table: HashSet<(HourKey, i64)> = stored.iter().map(|part| (part.key(), part.commit_id)).collect();

    // A part summed again in this pass replaces the stored one of the same commits.
    let mut settled: BTreeMap<(HourKey, i64), PartTotal> =
        stored.into_iter().map(|part| ((part.key(), part.commit_id), part)).collect();
    let (mut new_settled, mut rows) = (HashSet::new(), Vec::new());
    for part in parts {
        let key = part.key();
        if limits.get(&key).is_some_and(|&limit| part.commit_id <= limit) {
            new_settled.insert((key.clone(), part.commit_id));
            settled.insert((key, part.commit_id), part);
        } else {
            rows.push(part);
        }
    }
    let settled: Vec<PartTotal> = settled.into_values().collect();
    let (replaced, folds) = fold(&settled, FOLD_BUCKET)?;
    let replaced: HashSet<(HourKey, i64)> = replaced.iter().map(|part| (part.key(), part.commit_id)).collect();
    let gone: Vec<Value> = replaced
        .iter()
        .filter(|row| in_table.contains(*row))
        .flat_map(|(hour, commit_id)| {
            let [organization_id, namespace_id, metric, hour_start] = key_values(hour);
            [organization_id, namespace_id, metric, hour_start, Value::Int(*commit_id)]
        })
        .collect();
    if !gone.is_empty() {
        let sql = format!(
            "delete from usage_hourly_parts where (organization_id, namespace_id, metric, hour, commit_id) in ({})",
            listed_rows(conn, 1, gone.len() / 5, 5)
        );
        bind_all(sqlx::query(&sql).persistent(kept_prepared(gone.len() / 5)), &gone).execute(&mut *conn).await?;
    }
    rows.extend(folds);
    rows.extend(settled.into_iter().filter(|part| {
        let row = (part.key(), part.commit_id);
        new_settled.contains(&row) && !replaced.contains(&row)
    }));
    upsert_parts(conn, &rows).await
}

/// Parts in key and commit order → (the parts that fold, their folds): the parts of an hour whose
/// commits share a bucket of `bucket` commits fold into one, when there are several.
fn fold(parts: &[PartTotal], bucket: i64) -> Result<(Vec<&PartTotal>, Vec<PartTotal>), Error> {
    let (mut replaced, mut folds) = (Vec::new(), Vec::new());
    let same_fold = |a: &PartTotal, b: &PartTotal| {
        (&a.organization_id, &a.namespace_id, &a.metric, a.hour, a.commit_id.div_euclid(bucket))
            == (&b.organization_id, &b.namespace_id, &b.metric, b.hour, b.commit_id.div_euclid(bucket))
    };
    for run in parts.chunk_by(same_fold) {
        // Parts of a bucket never overlap, so the first one's range starts the fold's.
        if let [first, .., last] = run {
            let (mut total, mut event_count, mut dimensions) = (0_i64, 0_i64, DimensionTotals::default());
            for part in run {
                total = total.checked_add(part.total).ok_or_else(beyond_range)?;
                event_count = event_count.checked_add(part.event_count).ok_or_else(beyond_range)?;
                dimensions.add_stored(part.dimension_totals.as_deref()).map_err(totals_error)?;
            }
            folds.push(PartTotal {
                commit_id: last.commit_id,
                total,
                event_count,
                dimension_totals: dimensions.to_stored(),
                ..first.clone()
            });
            replaced.extend(run);
        }
    }
    Ok((replaced, folds))
}

/// A sum beyond 64 bits: the hour cannot be summed, and is set aside like one whose SQL sum failed.
fn beyond_range() -> Error {
    Error::from(AmountOutOfRange)
}

pub(super) fn totals_error(error: TotalsError) -> Error {
    match error {
        TotalsError::BeyondRange => beyond_range(),
        TotalsError::Unreadable => Error::Corrupt("a rollup part's totals per dimension are unreadable".into()),
    }
}

fn mark_values(mark: &DirtyPart) -> [Value; 5] {
    let [organization_id, namespace_id, metric, hour] = key_values(&mark.key());
    [organization_id, namespace_id, metric, hour, Value::Int(mark.commit_id)]
}

pub(super) fn key_values(key: &HourKey) -> [Value; 4] {
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

/// The Usage page's two counts in one round trip: the organization's late events, and when its
/// oldest pending mark was made (`None` when nothing waits).
pub async fn late_events_and_oldest_mark(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<(i64, Option<i64>), Error> {
    Ok(sqlx::query_as(
        "select (select count(*) from usage_events where organization_id = $1 and late = 1),
                (select min(marked_at) from usage_dirty_hours where organization_id = $1)",
    )
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

/// Each listed organization's (namespace, metric, total) over `[from, to)`, in bulk.
pub type PeriodTotals = Vec<(String, Vec<(String, String, i64)>)>;

/// Every listed organization's totals over `[from, to)`. One row per organization, its totals
/// in a JSON array: a row through sqlx costs microseconds of its own, and an invoice run of
/// 100,000 organizations × 30 series spent half its drafting receiving three million rows.
pub async fn period_totals_of(
    conn: &mut AnyConnection,
    organization_ids: &[String],
    (from, to): (i64, i64),
) -> Result<PeriodTotals, Error> {
    if organization_ids.is_empty() {
        return Ok(Vec::new());
    }
    let totals_as_json = json_array_agg(conn, "namespace_id, metric, total");
    let sql = format!(
        "select organization_id, {totals_as_json} from (
           select organization_id, namespace_id, metric, cast(sum(total) as bigint) as total from usage_hourly
           where hour >= {} and hour < {} and organization_id in ({})
           group by organization_id, namespace_id, metric
         ) as series group by organization_id",
        placeholder(conn, 1),
        placeholder(conn, 2),
        list_placeholders(conn, 3, organization_ids.len())
    );
    let values = texts(organization_ids);
    let rows: Vec<(String, String)> =
        bind_all_as(sqlx::query_as(&sql).bind(from).bind(to), &values).fetch_all(conn).await?;
    rows.into_iter()
        .map(|(organization_id, totals)| {
            let totals = serde_json::from_str(&totals)
                .map_err(|e| Error::Corrupt(format!("usage totals of {organization_id}: {e}")))?;
            Ok((organization_id, totals))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn part(hour: i64, first_commit_id: i64, commit_id: i64, total: i64) -> PartTotal {
        PartTotal {
            organization_id: "org".into(),
            namespace_id: "ns".into(),
            metric: "actions".into(),
            hour,
            first_commit_id,
            commit_id,
            total,
            event_count: commit_id - first_commit_id + 1,
            dimension_totals: None,
        }
    }

    fn typed(part: PartTotal, dimension_totals: &str) -> PartTotal {
        PartTotal { dimension_totals: Some(dimension_totals.into()), ..part }
    }

    #[test]
    fn an_hours_parts_fold_per_bucket_of_commits() {
        let parts =
            [part(0, 5, 40, 100), part(0, 41, 41, 7), part(0, 50, 50, 3), part(0, 127, 127, 1), part(0, 128, 128, 2)];
        let (replaced, folds) = fold(&parts, 128).unwrap();
        assert_eq!(replaced, parts[..4].iter().collect::<Vec<_>>());
        assert_eq!(folds, [PartTotal { event_count: 36 + 1 + 1 + 1, ..part(0, 5, 127, 111) }]);
    }

    #[test]
    fn a_fold_keeps_the_sum_of_its_parts_per_dimension() {
        let parts = [
            typed(part(0, 1, 1, 10), r#"{"action_type=activity":4}"#),
            part(0, 2, 2, 5),
            typed(part(0, 3, 3, 7), r#"{"action_type=activity":1,"action_type=signal":6}"#),
        ];
        let (_, folds) = fold(&parts, 128).unwrap();
        let expected = r#"{"action_type=activity":5,"action_type=signal":6}"#;
        assert_eq!(folds, [PartTotal { event_count: 3, ..typed(part(0, 1, 3, 22), expected) }]);
        let broken = [typed(part(0, 1, 1, 1), "not json"), part(0, 2, 2, 1)];
        assert!(fold(&broken, 128).is_err(), "an unreadable part stops the pass rather than losing its split");
        let beyond = [part(0, 1, 1, i64::MAX), part(0, 2, 2, 1)];
        assert!(fold(&beyond, 128).unwrap_err().is_out_of_range(), "set aside, not wrapped or panicking");
    }

    #[test]
    fn commits_are_read_as_ranges_across_small_gaps() {
        assert_eq!(commit_runs(&[3, 4, 5, 9, 30, 31, 1_000]), [(3, 9), (30, 31), (1_000, 1_000)]);
        assert!(commit_runs(&[]).is_empty());
    }

    #[test]
    fn a_part_alone_in_its_bucket_or_hour_stays_as_it_is() {
        let parts = [part(0, 3, 3, 1), part(3_600_000, 4, 4, 2), part(3_600_000, 200, 200, 5)];
        let (replaced, folds) = fold(&parts, 128).unwrap();
        assert!(replaced.is_empty());
        assert!(folds.is_empty());
    }
}
