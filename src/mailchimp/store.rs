//! The sync's SQLite tables: configurations, the per-member state of each sync, the run
//! history, and the lock that keeps two runs of one sync from overlapping.
//!
//! Invariant: a member's row says `confirmed = 1` only after Mailchimp answered that the tag
//! is on; a row with `confirmed = 0` is written before a tag request is sent, so a run cut off
//! half-way leaves a trace of every request that may have landed. Rows are deleted only after
//! an untag is confirmed (or both sides agree the member is not tagged).
//! Instants are stored as microseconds since the epoch, as in the rest of the catalog.

use std::collections::BTreeMap;
use std::ops::DerefMut;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use crate::catalog::{Migration, from_micros, to_micros};

use super::config::{Direction, NewStatus, SyncConfig, ValidSpec, tag_key};
use super::plan::{State, StateEntry, StateWrite, Target};
use super::report::{Counts, Details, RunReport, RunStatus, Trigger};

/// The sync's tables, version 1, as one batch of `CREATE ... IF NOT EXISTS` statements.
pub const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS mailchimp_syncs (
    id INTEGER PRIMARY KEY,
    segment_id INTEGER NOT NULL,
    list_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('one_way', 'two_way')),
    status_if_new TEXT NOT NULL,
    interval_secs INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    next_run_at INTEGER NOT NULL,
    remote_tag_id INTEGER,
    running_run_id INTEGER,
    heartbeat_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (list_id, tag_key)
);
CREATE TABLE IF NOT EXISTS mailchimp_members (
    sync_id INTEGER NOT NULL REFERENCES mailchimp_syncs(id) ON DELETE CASCADE,
    subscriber_hash TEXT NOT NULL,
    email TEXT NOT NULL,
    client_ids TEXT NOT NULL,
    confirmed INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (sync_id, subscriber_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mailchimp_runs (
    id INTEGER PRIMARY KEY,
    sync_id INTEGER NOT NULL REFERENCES mailchimp_syncs(id) ON DELETE CASCADE,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    created INTEGER NOT NULL DEFAULT 0,
    tagged INTEGER NOT NULL DEFAULT 0,
    untagged INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS mailchimp_runs_by_sync ON mailchimp_runs (sync_id, id);
";

/// Version 2: the highest sync id ever given, so that a deleted sync's id is never given
/// again (a rowid is reused once the highest row is gone, and a scheduler, a log line or
/// a saved link to "sync 1" would then name another sync).
pub const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS mailchimp_sync_ids (last_id INTEGER NOT NULL);
INSERT INTO mailchimp_sync_ids (last_id)
    SELECT COALESCE(MAX(id), 0) FROM mailchimp_syncs
    WHERE NOT EXISTS (SELECT 1 FROM mailchimp_sync_ids);
";

/// The statements that create the sync's tables; running them twice changes nothing.
pub const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2];

/// The same, as the catalog's versioned migrations (module `mailchimp`), for
/// `Catalog::open(path, CATALOG_MIGRATIONS)`.
pub const CATALOG_MIGRATIONS: &[Migration] = &[
    Migration {
        module: "mailchimp",
        version: 1,
        sql: SCHEMA_V1,
    },
    Migration {
        module: "mailchimp",
        version: 2,
        sql: SCHEMA_V2,
    },
];

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Mailchimp sync {id} does not exist")]
    NotFound { id: i64 },
    #[error(
        "audience {list_id} already syncs tag {tag:?} (sync {other}); tags are compared \
         ignoring case and surrounding spaces"
    )]
    TagTaken {
        list_id: String,
        tag: String,
        other: i64,
    },
    #[error("Mailchimp sync {sync_id} is already running (run {run_id}, alive at {since})")]
    Busy {
        sync_id: i64,
        run_id: i64,
        since: DateTime<Utc>,
    },
    #[error("Mailchimp sync {sync_id}: run {run_id} lost its lock to a newer run")]
    LockLost { sync_id: i64, run_id: i64 },
    #[error("stored {what} {value:?} is not valid (table mailchimp_syncs or mailchimp_runs)")]
    Corrupt { what: &'static str, value: String },
    #[error("Mailchimp store: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where a run gets a connection while it works. A run takes one only between requests, for
/// a few statements, and never holds it across an `await`.
pub trait Database: Send + Sync {
    fn connection(&self) -> Box<dyn DerefMut<Target = Connection> + '_>;
}

impl Database for Mutex<Connection> {
    fn connection(&self) -> Box<dyn DerefMut<Target = Connection> + '_> {
        Box::new(self.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Opens a connection of its own to the catalog file at `path`, as a run needs one: it waits
/// up to 30 s for other writers and enforces foreign keys. The catalog runs in WAL mode, so
/// this connection and the catalog's work side by side.
///
/// # Errors
/// The file cannot be opened.
pub fn open(path: &std::path::Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(conn)
}

/// Runs [`MIGRATIONS`].
///
/// # Errors
/// Any SQLite error.
pub fn migrate(conn: &Connection) -> Result<()> {
    MIGRATIONS
        .iter()
        .try_for_each(|sql| conn.execute_batch(sql))?;
    Ok(())
}

fn micros(at: DateTime<Utc>) -> i64 {
    to_micros(at)
}

fn instant(micros: i64) -> DateTime<Utc> {
    from_micros(micros)
}

/// A write transaction that takes the write lock at once, so it waits for another writer
/// (up to the busy timeout) instead of failing when upgrading from a read.
fn write_tx(conn: &Connection) -> rusqlite::Result<Transaction<'_>> {
    Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
}

fn after(at: DateTime<Utc>, secs: u64) -> DateTime<Utc> {
    at + chrono::Duration::seconds(secs.min(i64::MAX as u64) as i64)
}

const SYNC_COLUMNS: &str = "id, segment_id, list_id, tag, direction, status_if_new, \
    interval_secs, enabled, next_run_at, created_at, updated_at";

fn sync_row(row: &Row) -> rusqlite::Result<(SyncConfig, String, String)> {
    let config = SyncConfig {
        id: row.get(0)?,
        segment_id: row.get(1)?,
        list_id: row.get(2)?,
        tag: row.get(3)?,
        direction: Direction::OneWay,
        status_if_new: NewStatus::Subscribed,
        interval_secs: row.get::<_, i64>(6)?.max(0) as u64,
        enabled: row.get(7)?,
        next_run_at: instant(row.get(8)?),
        created_at: instant(row.get(9)?),
        updated_at: instant(row.get(10)?),
    };
    Ok((config, row.get(4)?, row.get(5)?))
}

fn finish_sync(raw: (SyncConfig, String, String)) -> Result<SyncConfig> {
    let (mut config, direction, status) = raw;
    config.direction = match direction.as_str() {
        "one_way" => Direction::OneWay,
        "two_way" => Direction::TwoWay,
        _ => return Err(corrupt("direction", direction)),
    };
    config.status_if_new =
        NewStatus::parse(&status).ok_or_else(|| corrupt("status_if_new", status))?;
    Ok(config)
}

fn corrupt(what: &'static str, value: String) -> StoreError {
    StoreError::Corrupt { what, value }
}

fn direction_text(direction: Direction) -> &'static str {
    match direction {
        Direction::OneWay => "one_way",
        Direction::TwoWay => "two_way",
    }
}

/// Refuses a tag that another sync of the same audience already uses, ignoring case.
fn check_tag_free(conn: &Connection, spec: &ValidSpec, except: Option<i64>) -> Result<()> {
    let spec = spec.spec();
    let other: Option<i64> = conn
        .query_row(
            "SELECT id FROM mailchimp_syncs WHERE list_id = ?1 AND tag_key = ?2 AND id IS NOT ?3",
            params![spec.list_id, tag_key(&spec.tag), except],
            |row| row.get(0),
        )
        .optional()?;
    match other {
        Some(other) => Err(StoreError::TagTaken {
            list_id: spec.list_id.clone(),
            tag: spec.tag.clone(),
            other,
        }),
        None => Ok(()),
    }
}

/// Stores a new sync, due at once, under an id no sync has had.
///
/// # Errors
/// [`StoreError::TagTaken`] when the audience already syncs an equal tag.
pub fn create_sync(conn: &Connection, spec: &ValidSpec, now: DateTime<Utc>) -> Result<SyncConfig> {
    check_tag_free(conn, spec, None)?;
    let s = spec.spec();
    let tx = write_tx(conn)?;
    let id: i64 = tx.query_row(
        "UPDATE mailchimp_sync_ids
         SET last_id = MAX(last_id, (SELECT COALESCE(MAX(id), 0) FROM mailchimp_syncs)) + 1
         RETURNING last_id",
        [],
        |row| row.get(0),
    )?;
    tx.execute(
        "INSERT INTO mailchimp_syncs (id, segment_id, list_id, tag, tag_key, direction,
            status_if_new, interval_secs, enabled, next_run_at, created_at, updated_at)
         VALUES (?10, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?9)",
        params![
            s.segment_id,
            s.list_id,
            s.tag,
            tag_key(&s.tag),
            direction_text(s.direction),
            s.status_if_new.as_str(),
            s.interval_secs as i64,
            s.enabled,
            micros(now),
            id
        ],
    )?;
    tx.commit()?;
    get_sync(conn, id)
}

/// # Errors
/// [`StoreError::NotFound`].
pub fn get_sync(conn: &Connection, id: i64) -> Result<SyncConfig> {
    let sql = format!("SELECT {SYNC_COLUMNS} FROM mailchimp_syncs WHERE id = ?1");
    let raw = conn.query_row(&sql, [id], sync_row).optional()?;
    finish_sync(raw.ok_or(StoreError::NotFound { id })?)
}

/// Every sync, by id.
///
/// # Errors
/// Any SQLite error.
pub fn list_syncs(conn: &Connection) -> Result<Vec<SyncConfig>> {
    query_syncs(conn, "1 = 1 ORDER BY id", params![])
}

/// The syncs of one segment, by id.
///
/// # Errors
/// Any SQLite error.
pub fn syncs_of_segment(conn: &Connection, segment_id: i64) -> Result<Vec<SyncConfig>> {
    query_syncs(conn, "segment_id = ?1 ORDER BY id", params![segment_id])
}

/// Enabled syncs whose next run is at or before `now`, the most overdue first.
///
/// # Errors
/// Any SQLite error.
pub fn due_syncs(conn: &Connection, now: DateTime<Utc>) -> Result<Vec<SyncConfig>> {
    let filter = "enabled = 1 AND next_run_at <= ?1 ORDER BY next_run_at, id";
    query_syncs(conn, filter, params![micros(now)])
}

fn query_syncs(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<SyncConfig>> {
    let sql = format!("SELECT {SYNC_COLUMNS} FROM mailchimp_syncs WHERE {filter}");
    let mut statement = conn.prepare(&sql)?;
    let raws = statement.query_map(args, sync_row)?;
    raws.map(|raw| finish_sync(raw?)).collect()
}

/// Replaces a sync's settings. A new audience or tag starts from an empty state, since
/// nothing this sync recorded applies to it.
///
/// # Errors
/// [`StoreError::NotFound`], [`StoreError::TagTaken`].
pub fn update_sync(
    conn: &Connection,
    id: i64,
    spec: &ValidSpec,
    now: DateTime<Utc>,
) -> Result<SyncConfig> {
    let old = get_sync(conn, id)?;
    check_tag_free(conn, spec, Some(id))?;
    let s = spec.spec();
    let tx = write_tx(conn)?;
    if old.list_id != s.list_id || tag_key(&old.tag) != tag_key(&s.tag) {
        tx.execute("DELETE FROM mailchimp_members WHERE sync_id = ?1", [id])?;
        tx.execute(
            "UPDATE mailchimp_syncs SET remote_tag_id = NULL WHERE id = ?1",
            [id],
        )?;
    }
    let next = old.next_run_at.min(after(now, s.interval_secs));
    tx.execute(
        "UPDATE mailchimp_syncs SET segment_id = ?2, list_id = ?3, tag = ?4, tag_key = ?5,
            direction = ?6, status_if_new = ?7, interval_secs = ?8, enabled = ?9,
            next_run_at = ?10, updated_at = ?11
         WHERE id = ?1",
        params![
            id,
            s.segment_id,
            s.list_id,
            s.tag,
            tag_key(&s.tag),
            direction_text(s.direction),
            s.status_if_new.as_str(),
            s.interval_secs as i64,
            s.enabled,
            micros(next),
            micros(now)
        ],
    )?;
    tx.commit()?;
    get_sync(conn, id)
}

/// Deletes a sync with its state and history. Mailchimp is not touched.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn delete_sync(conn: &Connection, id: i64) -> Result<()> {
    let tx = write_tx(conn)?;
    tx.execute("DELETE FROM mailchimp_members WHERE sync_id = ?1", [id])?;
    tx.execute("DELETE FROM mailchimp_runs WHERE sync_id = ?1", [id])?;
    let deleted = tx.execute("DELETE FROM mailchimp_syncs WHERE id = ?1", [id])?;
    tx.commit()?;
    if deleted == 0 {
        return Err(StoreError::NotFound { id });
    }
    Ok(())
}

/// A run's hold on its sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLock {
    pub sync_id: i64,
    pub run_id: i64,
}

/// Starts a run: records it and takes the sync's lock. A lock whose holder gave no sign of
/// life for `stale_after` is taken over, and its run is marked failed.
///
/// # Errors
/// [`StoreError::Busy`] while another run holds a live lock; [`StoreError::NotFound`].
pub fn begin_run(
    conn: &Connection,
    sync_id: i64,
    trigger: Trigger,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> Result<RunLock> {
    let tx = write_tx(conn)?;
    let holder: Option<(Option<i64>, Option<i64>)> = tx
        .query_row(
            "SELECT running_run_id, heartbeat_at FROM mailchimp_syncs WHERE id = ?1",
            [sync_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let (holder, heartbeat) = holder.ok_or(StoreError::NotFound { id: sync_id })?;
    if let Some(run_id) = holder {
        let since = instant(heartbeat.unwrap_or(0));
        if now
            .signed_duration_since(since)
            .to_std()
            .unwrap_or_default()
            < stale_after
        {
            return Err(StoreError::Busy {
                sync_id,
                run_id,
                since,
            });
        }
        abandon_run(&tx, run_id, since, now)?;
    }
    tx.execute(
        "INSERT INTO mailchimp_runs (sync_id, trigger, status, started_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            sync_id,
            trigger.as_str(),
            RunStatus::Running.as_str(),
            micros(now)
        ],
    )?;
    let run_id = tx.last_insert_rowid();
    tx.execute(
        "UPDATE mailchimp_syncs SET running_run_id = ?2, heartbeat_at = ?3 WHERE id = ?1",
        params![sync_id, run_id, micros(now)],
    )?;
    tx.commit()?;
    Ok(RunLock { sync_id, run_id })
}

fn abandon_run(
    conn: &Connection,
    run_id: i64,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    tracing::warn!(run_id, %since, "taking over the lock of a Mailchimp run that stopped");
    let error = format!("interrupted: no sign of life since {since}");
    conn.execute(
        "UPDATE mailchimp_runs SET status = ?2, finished_at = ?3, error = ?4
         WHERE id = ?1 AND status = ?5",
        params![
            run_id,
            RunStatus::Failed.as_str(),
            micros(now),
            error,
            RunStatus::Running.as_str()
        ],
    )?;
    Ok(())
}

/// Proves the run still holds its lock and renews it.
fn renew(conn: &Connection, lock: RunLock, now: DateTime<Utc>) -> Result<()> {
    let renewed = conn.execute(
        "UPDATE mailchimp_syncs SET heartbeat_at = ?3 WHERE id = ?1 AND running_run_id = ?2",
        params![lock.sync_id, lock.run_id, micros(now)],
    )?;
    if renewed == 0 {
        return Err(StoreError::LockLost {
            sync_id: lock.sync_id,
            run_id: lock.run_id,
        });
    }
    Ok(())
}

/// Records member changes and renews the lock, all or nothing.
///
/// # Errors
/// [`StoreError::LockLost`] when another run took the lock over: nothing is written.
pub fn record(
    conn: &Connection,
    lock: RunLock,
    writes: &[StateWrite],
    now: DateTime<Utc>,
) -> Result<()> {
    let tx = write_tx(conn)?;
    renew(&tx, lock, now)?;
    for write in writes {
        match write {
            StateWrite::Sent(target) => upsert_member(&tx, lock.sync_id, target, false, now)?,
            StateWrite::Confirm(target) => upsert_member(&tx, lock.sync_id, target, true, now)?,
            StateWrite::Forget(hash) => {
                tx.execute(
                    "DELETE FROM mailchimp_members WHERE sync_id = ?1 AND subscriber_hash = ?2",
                    params![lock.sync_id, hash],
                )?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

fn upsert_member(
    conn: &Connection,
    sync_id: i64,
    target: &Target,
    confirmed: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let ids = serde_json::to_string(&target.client_ids).expect("ids serialise");
    conn.execute(
        "INSERT INTO mailchimp_members (sync_id, subscriber_hash, email, client_ids, confirmed, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (sync_id, subscriber_hash) DO UPDATE SET
            email = excluded.email, client_ids = excluded.client_ids,
            confirmed = excluded.confirmed, updated_at = excluded.updated_at",
        params![sync_id, target.hash, target.email, ids, confirmed, micros(now)],
    )?;
    Ok(())
}

/// Everything a sync recorded about its members.
///
/// # Errors
/// Any SQLite error, or a row whose client ids are not a JSON list.
pub fn load_state(conn: &Connection, sync_id: i64) -> Result<State> {
    let mut statement = conn.prepare(
        "SELECT subscriber_hash, email, client_ids, confirmed FROM mailchimp_members WHERE sync_id = ?1",
    )?;
    let rows = statement.query_map([sync_id], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get(1)?,
            row.get::<_, String>(2)?,
            row.get(3)?,
        ))
    })?;
    let mut state = BTreeMap::new();
    for row in rows {
        let (hash, email, ids, confirmed) = row?;
        let client_ids = serde_json::from_str(&ids).map_err(|_| corrupt("client_ids", ids))?;
        state.insert(
            hash,
            StateEntry {
                email,
                client_ids,
                confirmed,
            },
        );
    }
    Ok(state)
}

/// Remembers the Mailchimp tag id a sync writes to. When it differs from the last one (the
/// tag was deleted, or recreated), the recorded state described another tag and is dropped.
///
/// # Errors
/// [`StoreError::LockLost`], or any SQLite error.
pub fn set_remote_tag(
    conn: &Connection,
    lock: RunLock,
    tag_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let tx = write_tx(conn)?;
    renew(&tx, lock, now)?;
    let old: Option<i64> = tx.query_row(
        "SELECT remote_tag_id FROM mailchimp_syncs WHERE id = ?1",
        [lock.sync_id],
        |row| row.get(0),
    )?;
    if old != Some(tag_id) {
        if old.is_some() {
            tracing::warn!(
                sync_id = lock.sync_id,
                tag_id,
                "Mailchimp tag changed; state reset"
            );
        }
        tx.execute(
            "DELETE FROM mailchimp_members WHERE sync_id = ?1",
            [lock.sync_id],
        )?;
        tx.execute(
            "UPDATE mailchimp_syncs SET remote_tag_id = ?2 WHERE id = ?1",
            params![lock.sync_id, tag_id],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Ends a run: stores its report, releases the lock and schedules the next run an interval
/// from now.
///
/// # Errors
/// Any SQLite error.
pub fn finish_run(
    conn: &Connection,
    lock: RunLock,
    report: &RunReport,
    now: DateTime<Utc>,
) -> Result<()> {
    let details = serde_json::to_string(&report.details).expect("details serialise");
    let c = report.counts;
    let tx = write_tx(conn)?;
    tx.execute(
        "UPDATE mailchimp_runs SET status = ?2, finished_at = ?3, created = ?4, tagged = ?5,
            untagged = ?6, skipped = ?7, failed = ?8, error = ?9, details = ?10
         WHERE id = ?1",
        params![
            lock.run_id,
            report.status.as_str(),
            micros(now),
            c.created as i64,
            c.tagged as i64,
            c.untagged as i64,
            c.skipped as i64,
            c.failed as i64,
            report.error,
            details
        ],
    )?;
    tx.execute(
        "UPDATE mailchimp_syncs SET running_run_id = NULL, heartbeat_at = NULL,
            next_run_at = ?3 + interval_secs * 1000000
         WHERE id = ?1 AND running_run_id = ?2",
        params![lock.sync_id, lock.run_id, micros(now)],
    )?;
    tx.commit()?;
    Ok(())
}

const RUN_COLUMNS: &str = "id, sync_id, trigger, status, started_at, finished_at, created, \
    tagged, untagged, skipped, failed, error, details";

type RawRun = (RunReport, String, String, String);

fn run_row(row: &Row) -> rusqlite::Result<RawRun> {
    let count = |i: usize| row.get::<_, i64>(i).map(|n| n.max(0) as u64);
    let report = RunReport {
        run_id: row.get(0)?,
        sync_id: row.get(1)?,
        trigger: Trigger::Manual,
        status: RunStatus::Running,
        started_at: instant(row.get(4)?),
        finished_at: row.get::<_, Option<i64>>(5)?.map(instant),
        counts: Counts {
            created: count(6)?,
            tagged: count(7)?,
            untagged: count(8)?,
            skipped: count(9)?,
            failed: count(10)?,
        },
        error: row.get(11)?,
        details: Details::default(),
    };
    Ok((report, row.get(2)?, row.get(3)?, row.get(12)?))
}

fn finish_run_row(raw: RawRun) -> Result<RunReport> {
    let (mut report, trigger, status, details) = raw;
    report.trigger = Trigger::parse(&trigger).ok_or_else(|| corrupt("trigger", trigger))?;
    report.status = RunStatus::parse(&status).ok_or_else(|| corrupt("status", status))?;
    report.details = serde_json::from_str(&details).map_err(|_| corrupt("details", details))?;
    Ok(report)
}

/// The latest `limit` runs of a sync, newest first.
// TODO: runs are kept forever with their full lists (skipped, failures); a retention rule
// (like the catalog's 90 days of refresh history) belongs here once the API pages history.
///
/// # Errors
/// Any SQLite error.
pub fn runs(conn: &Connection, sync_id: i64, limit: usize) -> Result<Vec<RunReport>> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM mailchimp_runs WHERE sync_id = ?1 ORDER BY id DESC LIMIT ?2"
    );
    let mut statement = conn.prepare(&sql)?;
    let raws = statement.query_map(params![sync_id, limit as i64], run_row)?;
    raws.map(|raw| finish_run_row(raw?)).collect()
}

/// Moves a sync's next run to `until`, for a sync that could not run now.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn postpone(conn: &Connection, sync_id: i64, until: DateTime<Utc>) -> Result<()> {
    let changed = conn.execute(
        "UPDATE mailchimp_syncs SET next_run_at = ?2 WHERE id = ?1",
        params![sync_id, micros(until)],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound { id: sync_id });
    }
    Ok(())
}
