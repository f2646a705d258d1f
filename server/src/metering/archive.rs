//! `server archive --before <month>`: whole months of usage events, once late usage for them can no
//! longer arrive, leave the database for one file each (CSV compressed with zstd, every column of
//! every event). The hourly rollups stay, so pages, invoices and the API answer as before; a month
//! leaves the database in the transaction that records its file, after the file was read back and
//! found whole (on PostgreSQL its partition is detached and dropped); and `server reconcile` checks
//! the rollups of archived months against their files.
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use app::api::error::AppError;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Connection};

use crate::error::Error;
use crate::metering::db::archive::{
    ArchiveRecord, ArchivedEvent, archives_overlapping, delete_events_between, events_between, give_joins_memory,
    is_archived, oldest_event_hour_before, record_archive, unsettled_hours_between,
};
use crate::metering::db::partitions::drop_month;
use crate::metering::db::usage::KeyedTotal;
use crate::metering::db::usage_dimensions::DimensionHourTotal;
use crate::metering::domain::usage_months::{UsageMonth, months_to_archive};
use crate::store::{Db, Dialect};

/// Kept between the late-usage cutoff and the months archived: for a batch checked just before the
/// cutoff moved and stored after, and for the clocks of other hosts running the server.
const CUTOFF_MARGIN_MS: i64 = 86_400_000;

/// zstd's default level: about 8 times smaller than the CSV at a few hundred MB/s.
const ZSTD_LEVEL: i32 = 3;

/// What one month's archiving did.
#[derive(Debug)]
pub struct ArchivedMonth {
    pub month: String,
    pub path: PathBuf,
    pub events: i64,
    pub quantity: i64,
}

/// Archives every month of events before `before` into `dir`. Refused, changing nothing, when a
/// month before `before` may still receive late usage (`max_age_ms`, `USAGE_MAX_AGE_DAYS`).
#[tracing::instrument(skip_all, fields(before = %before.label()))]
pub async fn archive_usage(
    db: &Db,
    dir: &Path,
    before: UsageMonth,
    max_age_ms: i64,
) -> Result<Vec<ArchivedMonth>, Error> {
    let late_cutoff = db.clock.now_ms() - max_age_ms - CUTOFF_MARGIN_MS;
    let mut conn = db.pool.acquire().await?;
    let oldest = oldest_event_hour_before(&mut conn, before.start).await?;
    let months = months_to_archive(oldest, before, late_cutoff).map_err(|too_recent| {
        let open = too_recent.first_open.label();
        AppError::invalid(
            "before",
            format!("late usage for {open} may still arrive, so {open} is the latest month to give"),
        )
    })?;
    std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
    let dir = dir.canonicalize().map_err(Error::io(format!("reading {}", dir.display())))?;
    let _only_run = lock_folder(&dir)?;
    let mut archived = Vec::new();
    for month in months {
        if is_archived(&mut conn, month.start).await? {
            // Events stored in a month after its archive: its file is evidence, never rewritten.
            return Err(Error::Corrupt(format!(
                "{} was archived already, yet events of it are stored again; nothing was written",
                month.label()
            )));
        }
        if unsettled_hours_between(&mut conn, month.start, month.end()).await? > 0 {
            let reason =
                format!("{} has hours still to be rolled up; archive it once rollups caught up", month.label());
            return Err(AppError::invalid("before", reason).into());
        }
        let path = dir.join(format!("usage-events-{}.csv.zst", month.label()));
        let Some(written) = write_month(&mut conn, month, &path).await? else { continue };
        let record = ArchiveRecord {
            month_start: month.start,
            month_end: month.end(),
            path: path.display().to_string(),
            events: written.events,
            quantity: written.quantity,
            sha256: written.sha256,
            archived_at: db.clock.now_ms(),
        };
        let mut tx = db.begin().await?;
        let deleted = match db.dialect {
            Dialect::Sqlite => delete_events_between(&mut tx, month.start, month.end()).await?,
            Dialect::Postgres => drop_month(&mut tx, month).await?,
        };
        if deleted != written.events as u64 {
            tx.rollback().await?;
            return Err(Error::Corrupt(format!(
                "{}: {deleted} events to delete, {} written to {}; nothing deleted",
                month.label(),
                written.events,
                path.display()
            )));
        }
        record_archive(&mut tx, &record).await?;
        tx.commit().await?;
        tracing::info!(month = %month.label(), events = written.events, path = %path.display(), "usage archived");
        archived.push(ArchivedMonth { month: month.label(), path, events: written.events, quantity: written.quantity });
    }
    Ok(archived)
}

/// One run at a time writes into a folder: two would write the same `.partial` files. The lock is
/// the operating system's, so it ends with the process, however that ends.
fn lock_folder(dir: &Path) -> Result<File, Error> {
    let path = dir.join(".archive.lock");
    let lock = File::create(&path).map_err(Error::io(format!("creating {}", path.display())))?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(Error::Config(format!("another `server archive` is writing into {}", dir.display())))
        }
        Err(std::fs::TryLockError::Error(error)) => Err(Error::io(format!("locking {}", path.display()))(error)),
    }
}

/// SQLite keeps the pages deleted events held and reuses them for new ones; `VACUUM` gives them
/// back to the file system, rewriting the whole file while every other connection waits.
pub async fn vacuum(db: &Db) -> Result<(), Error> {
    if db.dialect == Dialect::Sqlite {
        sqlx::query("vacuum").execute(&db.pool).await?;
    }
    Ok(())
}

/// What a written (and read back) archive file holds.
struct Written {
    events: i64,
    quantity: i64,
    sha256: String,
}

/// Writes the month's events to `path` (through a `.partial` file renamed when whole), reads it
/// back, and answers what it holds; `None`, leaving no file, for a month without events.
async fn write_month(conn: &mut AnyConnection, month: UsageMonth, path: &Path) -> Result<Option<Written>, Error> {
    let partial = path.with_extension("zst.partial");
    let io = |doing: &str| Error::io(format!("{doing} {}", partial.display()));
    let file = File::create(&partial).map_err(io("creating"))?;
    let encoder =
        zstd::Encoder::new(HashingWriter::new(BufWriter::new(file)), ZSTD_LEVEL).map_err(io("compressing"))?;
    let mut csv = csv::Writer::from_writer(encoder);
    let (mut events, mut quantity) = (0_i64, 0_i64);
    let mut reading = conn.begin().await?;
    give_joins_memory(&mut reading).await?;
    let mut rows = events_between(&mut reading, month.start, month.end());
    while let Some(event) = rows.try_next().await? {
        events += 1;
        quantity = add_quantity(quantity, &event)?;
        csv.serialize(&event).map_err(|e| Error::Corrupt(format!("writing {}: {e}", partial.display())))?;
    }
    drop(rows);
    reading.commit().await?;
    let encoder =
        csv.into_inner().map_err(|e| Error::Corrupt(format!("writing {}: {}", partial.display(), e.error())))?;
    let hashing = encoder.finish().map_err(io("compressing"))?;
    let (buffered, sha256) = hashing.finish();
    let file =
        buffered.into_inner().map_err(|e| Error::Corrupt(format!("writing {}: {}", partial.display(), e.error())))?;
    file.sync_all().map_err(io("syncing"))?;
    drop(file);
    if events == 0 {
        std::fs::remove_file(&partial).map_err(io("removing"))?;
        return Ok(None);
    }
    let read_back = read_archive(&partial, |_| Ok(()))?;
    if (read_back.events, read_back.quantity, &read_back.sha256) != (events, quantity, &sha256) {
        return Err(Error::Corrupt(format!("{} does not read back as written", partial.display())));
    }
    std::fs::rename(&partial, path).map_err(io("renaming"))?;
    // The new name is durable before the events it holds are deleted.
    if let Some(folder) = path.parent() {
        File::open(folder)
            .and_then(|folder| folder.sync_all())
            .map_err(Error::io(format!("syncing {}", folder.display())))?;
    }
    Ok(Some(Written { events, quantity, sha256 }))
}

fn add_quantity(sum: i64, event: &ArchivedEvent) -> Result<i64, Error> {
    sum.checked_add(event.quantity)
        .ok_or_else(|| Error::Amount(format!("the quantity of a month of {} passes 64 bits", event.metric)))
}

/// Reads every event of an archive file, handing each to `each`; answers what the file holds.
fn read_archive(path: &Path, mut each: impl FnMut(ArchivedEvent) -> Result<(), Error>) -> Result<Written, Error> {
    let file = File::open(path).map_err(Error::io(format!("opening {}", path.display())))?;
    let mut hashing = HashingReader::new(BufReader::new(file));
    let decoder = zstd::Decoder::new(&mut hashing).map_err(Error::io(format!("reading {}", path.display())))?;
    let (mut events, mut quantity) = (0_i64, 0_i64);
    for event in csv::Reader::from_reader(decoder).into_deserialize::<ArchivedEvent>() {
        let event = event.map_err(|e| Error::Corrupt(format!("reading {}: {e}", path.display())))?;
        events += 1;
        quantity = add_quantity(quantity, &event)?;
        each(event)?;
    }
    // zstd stops at the end of its frame: whatever follows is read, so the hash covers the file.
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(Error::io(format!("reading {}", path.display())))?;
    Ok(Written { events, quantity, sha256: hashing.finish() })
}

/// Hourly sums of archived events, as reconciliation compares them with the rollups.
#[derive(Debug, Default)]
pub struct ArchivedSums {
    pub totals: Vec<KeyedTotal>,
    pub by_dimensions: Vec<DimensionHourTotal>,
    /// One line per archive that is missing or not as recorded.
    pub problems: Vec<String>,
}

/// The sums of every archived event in the hours `[from, to)`, read from the archive files.
pub async fn archived_sums(db: &Db, from: i64, to: i64) -> Result<ArchivedSums, Error> {
    let records = archives_overlapping(&mut *db.pool.acquire().await?, from, to).await?;
    if records.is_empty() {
        return Ok(ArchivedSums::default());
    }
    // Reading files is blocking work: off the runtime's threads.
    tokio::task::spawn_blocking(move || sum_archives(&records, from, to)).await?
}

type HourKey = (String, String, String, i64);

fn sum_archives(records: &[ArchiveRecord], from: i64, to: i64) -> Result<ArchivedSums, Error> {
    let mut totals: BTreeMap<HourKey, i64> = BTreeMap::new();
    let mut by_dimensions: BTreeMap<(HourKey, String), i64> = BTreeMap::new();
    let mut problems = Vec::new();
    for record in records {
        let month = UsageMonth::of(record.month_start).label();
        let read = read_archive(Path::new(&record.path), |event| {
            if event.hour < from || event.hour >= to {
                return Ok(());
            }
            let key = (event.organization_id, event.namespace_id, event.metric, event.hour);
            let total = totals.entry(key.clone()).or_default();
            *total = total
                .checked_add(event.quantity)
                .ok_or_else(|| Error::Amount("an hour's total passes 64 bits".into()))?;
            if let Some(dimensions) = event.dimensions {
                let total = by_dimensions.entry((key, dimensions)).or_default();
                *total = total
                    .checked_add(event.quantity)
                    .ok_or_else(|| Error::Amount("an hour's total passes 64 bits".into()))?;
            }
            Ok(())
        });
        match read {
            Ok(read)
                if read.sha256 == record.sha256 && (read.events, read.quantity) == (record.events, record.quantity) => {
            }
            Ok(_) => {
                problems.push(format!("archive {month} {}: not the file archived (its checksum differs)", record.path))
            }
            Err(Error::Io { source, .. }) => problems.push(format!("archive {month} {}: {source}", record.path)),
            Err(Error::Corrupt(reason)) => problems.push(format!("archive {month}: {reason}")),
            Err(other) => return Err(other),
        }
    }
    Ok(ArchivedSums {
        totals: totals
            .into_iter()
            .map(|((organization_id, namespace_id, metric, hour), total)| KeyedTotal {
                organization_id,
                namespace_id,
                metric,
                hour,
                total,
            })
            .collect(),
        by_dimensions: by_dimensions
            .into_iter()
            .map(|(((organization_id, namespace_id, metric, hour), dimensions), total)| DimensionHourTotal {
                organization_id,
                namespace_id,
                metric,
                hour,
                dimensions,
                total,
            })
            .collect(),
        problems,
    })
}

/// Passes writes on, hashing every byte.
struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self { inner, hash: Sha256::new() }
    }

    fn finish(self) -> (W, String) {
        (self.inner, hex::encode(self.hash.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.hash.update(&bytes[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Passes reads on, hashing every byte.
struct HashingReader<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        Self { inner, hash: Sha256::new() }
    }

    fn finish(self) -> String {
        hex::encode(self.hash.finalize())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.hash.update(&buffer[..read]);
        Ok(read)
    }
}
