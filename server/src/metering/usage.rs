//! Metering use cases: ingest a batch, roll dirty hours up, reconcile rollups with events.
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::metering::archive::archived_sums;
use crate::metering::catalog::metric_catalog;
use crate::metering::db::ingest_commits;
use crate::metering::db::set_aside;
use crate::metering::db::usage::{self, HourKey, KeyedTotal};
use crate::metering::db::usage_copy;
use crate::metering::db::usage_dimensions::{DimensionHourTotal, event_sums_by_dimensions, stored_dimension_totals};
use crate::metering::domain::usage::{EventRules, Rejection, ValidEvent, check_event};
use crate::metering::id_claims::{GroupClaim, Route};
use crate::store::Db;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EventOutcome {
    Accepted,
    Duplicate,
    Rejected {
        #[schema(value_type = String)]
        field: Cow<'static, str>,
        reason: String,
    },
}

fn conflict() -> EventOutcome {
    EventOutcome::Rejected {
        field: Cow::Borrowed("id"),
        reason: "conflict: an event with this id and different content exists".into(),
    }
}

impl From<Rejection> for EventOutcome {
    fn from(r: Rejection) -> Self {
        Self::Rejected { field: r.field, reason: r.reason }
    }
}

/// (organization, namespace, metric, hour) of an accepted event, borrowed from its batch.
type BorrowedHourKey<'b> = (&'b str, &'b str, &'b str, i64);

/// A batch after its checks: the outcome of every event that was settled without the database,
/// and the events still to be stored.
pub struct CheckedBatch {
    pub organization_id: String,
    outcomes: Vec<Option<EventOutcome>>,
    /// (index in the batch, event): the first occurrence of each id.
    candidates: Vec<(usize, ValidEvent)>,
    closed_before: i64,
}

impl CheckedBatch {
    pub fn event_count(&self) -> usize {
        self.candidates.len()
    }
}

/// Checks every event of a batch against the organization's namespaces and the metrics catalog,
/// and settles repeated ids inside the batch.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn check_batch(
    db: &Db,
    organization_id: &str,
    raw_events: &[&RawValue],
    max_age_ms: i64,
) -> Result<CheckedBatch, Error> {
    let mut conn = db.pool.acquire().await?;
    let namespaces = usage::namespace_lookup(&mut conn, organization_id).await?;
    let catalog = metric_catalog(&mut conn).await?;
    let window = usage::usage_window(&mut conn, organization_id).await?;
    drop(conn);
    let rules = EventRules {
        namespaces: &namespaces,
        metrics: &catalog.keys,
        dimensions: &catalog.dimensions,
        now_ms: db.clock.now_ms(),
        max_age_ms,
        ends_at: window.ends_at,
        closed_before: window.closed_before,
        subscribed: window.subscriptions > 0,
        starts_at: window.starts_at,
    };

    let mut outcomes: Vec<Option<EventOutcome>> = vec![None; raw_events.len()];
    let mut first_by_id: HashMap<String, usize> = HashMap::new();
    let mut candidates: Vec<(usize, ValidEvent)> = Vec::with_capacity(raw_events.len());
    for (index, raw) in raw_events.iter().enumerate() {
        let event = match check_event(raw, &rules) {
            Ok(event) => event,
            Err(rejection) => {
                outcomes[index] = Some(rejection.into());
                continue;
            }
        };
        // The first occurrence of an id is the one stored; later ones are compared to it.
        match first_by_id.get(&event.event_id) {
            None => {
                first_by_id.insert(event.event_id.clone(), candidates.len());
                candidates.push((index, event));
            }
            Some(&first) => {
                let same = candidates[first].1.content_hash == event.content_hash;
                outcomes[index] = Some(if same { EventOutcome::Duplicate } else { conflict() });
            }
        }
    }
    Ok(CheckedBatch {
        organization_id: organization_id.to_owned(),
        outcomes,
        candidates,
        closed_before: window.closed_before,
    })
}

impl CheckedBatch {
    /// The ids to be stored, in the batch's order: what a group claims before it stores.
    pub fn event_ids(&self) -> Vec<&str> {
        self.candidates.iter().map(|(_, event)| event.event_id.as_str()).collect()
    }

    /// The events to look up, those to store as new, and those to look up once the groups that
    /// held them have ended. Without a claim, every id is looked up.
    fn routed(&self, claim: Option<&GroupClaim<'_>>, batch: usize) -> [Vec<&ValidEvent>; 3] {
        let [mut look_up, mut new, mut after_others] = [Vec::new(), Vec::new(), Vec::new()];
        for (n, (_, event)) in self.candidates.iter().enumerate() {
            match claim.map_or(Route::LookUp, |claim| claim.routes(batch)[n]) {
                Route::LookUp => look_up.push(event),
                Route::New => new.push(event),
                Route::AfterOthers => after_others.push(event),
            }
        }
        [look_up, new, after_others]
    }

    fn new_events(&self, commit_id: i64, now: i64) -> usage::NewEvents<'_> {
        usage::NewEvents {
            organization_id: &self.organization_id,
            commit_id,
            received_at: now,
            closed_before: self.closed_before,
        }
    }

    /// Every outcome once the batch is stored: new ids are accepted, known ids are duplicates or
    /// conflicts. The hours of accepted events are added to `dirty`, borrowed: a commit's thousands
    /// of events touch a few dozen hours, so keys are copied only once per hour.
    fn settle<'b>(&'b self, stored: &usage::StoredIds, dirty: &mut BTreeSet<BorrowedHourKey<'b>>) -> Vec<EventOutcome> {
        let mut outcomes = self.outcomes.clone();
        for (index, event) in &self.candidates {
            outcomes[*index] = Some(if stored.was_inserted(&event.event_id) {
                dirty.insert((&self.organization_id, &event.namespace_id, &event.metric, event.hour()));
                EventOutcome::Accepted
            } else if stored.already_stored.get(&event.event_id) == Some(&event.content_hash) {
                EventOutcome::Duplicate
            } else {
                conflict()
            });
        }
        outcomes.into_iter().map(|o| o.unwrap_or_else(conflict)).collect()
    }
}

/// As PostgreSQL's own wait before it looks for a deadlock (`deadlock_timeout`).
const CHECK_WAIT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// One ingestion commit on either kind of transaction: `$sql` is the module with that
/// connection's three steps. A macro, because a function generic over sqlx's executors makes the
/// writer task's future not `Send` (a known limit of the compiler with such bounds).
macro_rules! store_in {
    ($tx:expr, $sql:ident, $batches:expr, $claim:expr, $now:expr) => {{
        let mut tx = $tx;
        let commit_id = $sql::next_commit_id(&mut tx).await?;
        let mut stored = Vec::with_capacity($batches.len());
        let mut waiting = Vec::with_capacity($batches.len());
        for (index, batch) in $batches.iter().enumerate() {
            let [look_up, new, after_others] = batch.routed($claim, index);
            stored.push($sql::insert_new_events(&mut tx, &batch.new_events(commit_id, $now), &look_up, &new).await?);
            waiting.push(after_others);
        }
        if let (Some(claim), true) = ($claim, waiting.iter().any(|events| !events.is_empty())) {
            // Last, so this group's own rows are sent while the groups it waits for commit theirs.
            // Another instance's transaction may wait for this one's rows while a group this one
            // waits for waits for that transaction. PostgreSQL cannot see the wait here, so it
            // cannot end that circle as it ends a deadlock: a long wait checks for it, and ends it.
            while tokio::time::timeout(CHECK_WAIT_EVERY, claim.others_ended()).await.is_err() {
                if $sql::blocks_another_transaction(&mut tx).await? {
                    let _ = tx.rollback().await;
                    return Err(Error::WaitGivenUp(
                        "a usage group waited for another while a transaction waited for it".into(),
                    ));
                }
            }
            for ((batch, events), stored) in $batches.iter().zip(&waiting).zip(&mut stored) {
                if !events.is_empty() {
                    let found =
                        $sql::insert_new_events(&mut tx, &batch.new_events(commit_id, $now), events, &[]).await?;
                    stored.already_stored.extend(found.already_stored);
                }
            }
        }
        let mut dirty = BTreeSet::new();
        let answers: Vec<Vec<EventOutcome>> =
            $batches.iter().zip(&stored).map(|(batch, stored)| batch.settle(stored, &mut dirty)).collect();
        let dirty: Vec<HourKey> = dirty.into_iter().map(|(o, n, m, hour)| HourKey::of(o, n, m, hour)).collect();
        $sql::mark_dirty(&mut tx, &dirty, commit_id, $now).await?;
        if let Some((accepted, newest)) = commit_record($batches, &answers) {
            ingest_commits::record_ingest_commit(accepted, newest, $now).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        answers
    }};
}

/// Stores several checked batches in one transaction: one commit for all of them. Nothing is
/// answered before that commit, so `accepted` always means durable. PostgreSQL's commit runs on a
/// native connection and copies its rows; SQLite's inserts them under its one write lock. The
/// group's `claim` says which ids to look up (see `id_claims`); without one, all are.
#[tracing::instrument(skip_all)]
pub async fn store_batches(
    db: &Db,
    batches: &[CheckedBatch],
    claim: Option<&GroupClaim<'_>>,
) -> Result<Vec<Vec<EventOutcome>>, Error> {
    let now = db.clock.now_ms();
    Ok(match &db.copying {
        Some(pool) => store_in!(pool.begin().await?, usage_copy, batches, claim, now),
        None => store_in!(db.begin().await?, usage, batches, claim, now),
    })
}

/// (events accepted, newest event time) for the record of an ingestion commit that accepted any.
fn commit_record(batches: &[CheckedBatch], answers: &[Vec<EventOutcome>]) -> Option<(i64, i64)> {
    let accepted = answers.iter().flatten().filter(|o| matches!(o, EventOutcome::Accepted)).count();
    let newest = batches.iter().flat_map(|b| &b.candidates).map(|(_, e)| e.occurred_at).max()?;
    (accepted > 0).then_some((accepted as i64, newest))
}

/// One pass of the rollup worker: recompute the parts of up to `limit` marks, oldest first, from
/// their events, then the totals of their hours in one write transaction. Parts of commits at or
/// below `fold_through` (commits whose transactions have ended) may be folded. Returns the number
/// of marks and the organizations whose totals changed, so live views can refresh.
#[tracing::instrument(skip_all)]
pub async fn roll_up_dirty_hours(
    db: &Db,
    limit: i64,
    fold_through: Option<i64>,
) -> Result<(usize, Vec<String>), Error> {
    store_rollup(db, read_dirty_parts(db, limit).await?, fold_through).await
}

/// What a rollup pass reads before it writes: the oldest marks, in key order, and their commits'
/// sums. A committed commit's events never change, so this needs no write lock.
pub struct RollupReading {
    marks: Vec<usage::DirtyPart>,
    parts: Vec<usage::PartTotal>,
}

#[tracing::instrument(skip_all)]
pub async fn read_dirty_parts(db: &Db, limit: i64) -> Result<RollupReading, Error> {
    let mut conn = db.pool.acquire().await?;
    let mut marks = usage::oldest_dirty_parts(&mut conn, limit).await?;
    if marks.is_empty() {
        return Ok(RollupReading { marks, parts: Vec::new() });
    }
    // Key order: concurrent instances (PostgreSQL) then lock hours in one order and cannot deadlock.
    marks.sort_by_cached_key(|mark| (mark.key(), mark.commit_id));
    let parts = usage::part_totals(&mut conn, &marks).await?;
    Ok(RollupReading { marks, parts })
}

/// The write half of a rollup pass, in one transaction.
#[tracing::instrument(skip_all)]
pub async fn store_rollup(
    db: &Db,
    RollupReading { marks, parts }: RollupReading,
    fold_through: Option<i64>,
) -> Result<(usize, Vec<String>), Error> {
    if marks.is_empty() {
        return Ok((0, Vec::new()));
    }
    let mut tx = db.begin().await?;
    usage::store_parts(&mut tx, &marks, &parts, fold_through, db.clock.now_ms()).await?;
    tx.commit().await?;
    let mut organizations: Vec<String> = marks.iter().map(|mark| mark.organization_id.clone()).collect();
    organizations.dedup();
    Ok((marks.len(), organizations))
}

/// After a pass failed with a sum beyond 64 bits: the oldest marks are rolled up hour by hour, and
/// the marks of an hour that cannot be summed are set aside for staff. Returns how many were.
#[tracing::instrument(skip_all)]
pub async fn set_aside_unsummable_hours(db: &Db, limit: i64, fold_through: Option<i64>) -> Result<usize, Error> {
    let mut marks = usage::oldest_dirty_parts(&mut *db.pool.acquire().await?, limit).await?;
    marks.sort_by_cached_key(|mark| (mark.key(), mark.commit_id));
    let mut set_aside = 0;
    for hour in marks.chunk_by(|a, b| a.key() == b.key()) {
        let attempt = async {
            let parts = usage::part_totals_of_hour(&mut *db.pool.acquire().await?, hour).await?;
            store_rollup(db, RollupReading { marks: hour.to_vec(), parts }, fold_through).await
        };
        match attempt.await {
            Ok(_) => {}
            Err(error) if error.is_out_of_range() => {
                tracing::error!(%error, organization = %hour[0].organization_id, namespace = %hour[0].namespace_id,
                    metric = %hour[0].metric, hour = hour[0].hour, "rollup set aside: the hour cannot be summed");
                let mut tx = db.begin().await?;
                set_aside::set_aside(&mut tx, hour, &error.to_string(), db.clock.now_ms()).await?;
                tx.commit().await?;
                set_aside += hour.len();
            }
            Err(error) => return Err(error),
        }
    }
    Ok(set_aside)
}

/// The number of the newest ingestion commit begun so far.
#[tracing::instrument(skip_all)]
pub async fn last_commit_id(db: &Db) -> Result<i64, Error> {
    usage::last_commit_id(&mut *db.pool.acquire().await?).await
}

/// "Usage complete through": every event ingested before this instant is in the rollups.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn complete_through(db: &Db, organization_id: &str) -> Result<i64, Error> {
    let mut conn = db.pool.acquire().await?;
    Ok(complete_before(usage::oldest_pending_mark(&mut conn, organization_id).await?, db.clock.now_ms()))
}

/// Complete through the instant before the oldest pending mark was made; through `now` when none waits.
pub fn complete_before(oldest_pending_mark: Option<i64>, now: i64) -> i64 {
    oldest_pending_mark.map_or(now, |marked_at| marked_at - 1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub organization_id: String,
    pub namespace_id: String,
    pub metric: String,
    /// The hour, or the day for daily sums.
    pub at: i64,
    pub level: &'static str,
    pub from_events: i64,
    pub from_rollups: i64,
}

/// Recomputes hourly and daily totals, and hourly totals per set of dimensions, from the events
/// in `[from, to)` and compares them with the stored rollups. Hours still marked for rollup are
/// behind by design and left out (their count is returned beside the mismatches).
#[tracing::instrument(skip_all)]
pub async fn reconcile(db: &Db, from: i64, to: i64) -> Result<(Vec<Mismatch>, usize), Error> {
    let mut conn = db.pool.acquire().await?;
    let pending: HashSet<HourKey> = usage::dirty_keys(&mut conn, from, to).await?.into_iter().collect();
    let settled = |rows: Vec<KeyedTotal>| -> Vec<KeyedTotal> {
        rows.into_iter()
            .filter(|r| {
                !pending.contains(&HourKey {
                    organization_id: r.organization_id.clone(),
                    namespace_id: r.namespace_id.clone(),
                    metric: r.metric.clone(),
                    hour: r.hour,
                })
            })
            .collect()
    };
    // Archived months' events are in their files; a file that cannot be read as recorded stops the
    // check, since the rollups of its month could not be checked.
    let archived = archived_sums(db, from, to).await?;
    if !archived.problems.is_empty() {
        return Err(Error::Corrupt(archived.problems.join("; ")));
    }
    let mut events = settled(usage::event_sums(&mut conn, from, to).await?);
    events.extend(settled(archived.totals));
    let rollups = settled(usage::stored_rollups(&mut conn, from, to).await?);
    let mut mismatches = compare(&events, &rollups, "hour", |hour| hour);
    mismatches.extend(compare(&events, &rollups, "day", |hour| hour.div_euclid(86_400_000) * 86_400_000));
    // Each hour's totals per set of dimensions, compared as if each set were a metric of its own
    // (`actions action_type=signal`), so a mismatch names it.
    let per_set = |rows: Vec<DimensionHourTotal>| -> Vec<KeyedTotal> {
        rows.into_iter()
            .filter(|row| {
                !pending.contains(&HourKey::of(&row.organization_id, &row.namespace_id, &row.metric, row.hour))
            })
            .map(|row| KeyedTotal {
                metric: format!("{} {}", row.metric, row.dimensions),
                organization_id: row.organization_id,
                namespace_id: row.namespace_id,
                hour: row.hour,
                total: row.total,
            })
            .collect()
    };
    let mut typed_events = per_set(event_sums_by_dimensions(&mut conn, from, to).await?);
    typed_events.extend(per_set(archived.by_dimensions));
    let typed_rollups = per_set(stored_dimension_totals(&mut conn, from, to).await?);
    mismatches.extend(compare(&typed_events, &typed_rollups, "hour", |hour| hour));
    Ok((mismatches, pending.len()))
}

fn compare(
    events: &[KeyedTotal],
    rollups: &[KeyedTotal],
    level: &'static str,
    bucket: impl Fn(i64) -> i64,
) -> Vec<Mismatch> {
    type Key = (String, String, String, i64);
    let sum = |rows: &[KeyedTotal]| {
        let mut totals: BTreeMap<Key, i64> = BTreeMap::new();
        for r in rows {
            *totals
                .entry((r.organization_id.clone(), r.namespace_id.clone(), r.metric.clone(), bucket(r.hour)))
                .or_default() += r.total;
        }
        totals
    };
    let (from_events, from_rollups) = (sum(events), sum(rollups));
    let keys: std::collections::BTreeSet<&Key> = from_events.keys().chain(from_rollups.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let (e, r) = (from_events.get(key).copied().unwrap_or(0), from_rollups.get(key).copied().unwrap_or(0));
            (e != r).then(|| Mismatch {
                organization_id: key.0.clone(),
                namespace_id: key.1.clone(),
                metric: key.2.clone(),
                at: key.3,
                level,
                from_events: e,
                from_rollups: r,
            })
        })
        .collect()
}
