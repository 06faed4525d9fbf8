//! Refresh history: for every published membership, when, from which rule version, how
//! many members, who entered and who left; plus the last membership of each segment.
//!
//! Entered and left ids are stored as encoded bitmaps ([`super::ids`]), so a refresh that
//! changes little costs a few bytes. History older than [`HISTORY_DAYS`] is pruned.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use super::error::{CatalogError, Result};
use super::{from_micros, ids, to_micros};

/// How long refresh history is kept.
pub const HISTORY_DAYS: i64 = 90;

/// One published membership, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refresh {
    pub segment_id: i64,
    pub at: DateTime<Utc>,
    pub rule_version: i64,
    /// Every member's client id, ascending.
    pub members: Vec<i64>,
    pub entered: Vec<i64>,
    pub left: Vec<i64>,
}

/// One refresh of a segment, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub rule_version: i64,
    pub count: u64,
    pub entered: u64,
    pub left: u64,
}

/// Who entered and who left at one refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryChanges {
    pub at: DateTime<Utc>,
    pub entered: Vec<i64>,
    pub left: Vec<i64>,
}

/// Records a refresh in the history and as the segment's last membership.
///
/// # Errors
/// A failed statement.
pub fn record(tx: &Transaction, refresh: &Refresh) -> Result<()> {
    let (members, entered, left) = (
        refresh.members.len() as i64,
        refresh.entered.len() as i64,
        refresh.left.len() as i64,
    );
    let at = to_micros(refresh.at);
    tx.prepare_cached(
        "INSERT INTO segment_history (segment_id, at, rule_version, member_count, \
         entered_count, left_count, entered, left_ids) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        refresh.segment_id,
        at,
        refresh.rule_version,
        members,
        entered,
        left,
        ids::encode(&refresh.entered),
        ids::encode(&refresh.left)
    ])?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO segment_state (segment_id, refreshed_at, rule_version, \
         member_count, entered_count, left_count, members) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        refresh.segment_id,
        at,
        refresh.rule_version,
        members,
        entered,
        left,
        ids::encode(&refresh.members)
    ])?;
    Ok(())
}

/// A segment's refreshes since `since` (all kept ones when `None`), oldest first.
///
/// # Errors
/// A failed query.
pub fn list(
    conn: &Connection,
    segment_id: i64,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<HistoryEntry>> {
    let mut statement = conn.prepare_cached(
        "SELECT at, rule_version, member_count, entered_count, left_count FROM segment_history \
         WHERE segment_id = ?1 AND at >= ?2 ORDER BY at, id",
    )?;
    let since = since.map_or(i64::MIN, to_micros);
    let rows = statement.query_map(params![segment_id, since], read_entry)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn read_entry(row: &Row<'_>) -> rusqlite::Result<HistoryEntry> {
    Ok(HistoryEntry {
        at: from_micros(row.get(0)?),
        rule_version: row.get(1)?,
        count: row.get(2)?,
        entered: row.get(3)?,
        left: row.get(4)?,
    })
}

/// Who entered and left at the refresh of `segment_id` at exactly `at` (to the
/// microsecond); the latest one if several share the instant.
///
/// # Errors
/// A failed query or a corrupt bitmap.
pub fn changes(
    conn: &Connection,
    segment_id: i64,
    at: DateTime<Utc>,
) -> Result<Option<HistoryChanges>> {
    let row: Option<(Vec<u8>, Vec<u8>)> = conn
        .query_row(
            "SELECT entered, left_ids FROM segment_history WHERE segment_id = ?1 AND at = ?2 \
             ORDER BY id DESC LIMIT 1",
            params![segment_id, to_micros(at)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((entered, left)) = row else {
        return Ok(None);
    };
    Ok(Some(HistoryChanges {
        at,
        entered: decode(segment_id, "entered ids", &entered)?,
        left: decode(segment_id, "left ids", &left)?,
    }))
}

/// The last published refresh of every segment that has one, by segment id.
///
/// # Errors
/// A failed query.
pub fn last_all(conn: &Connection) -> Result<HashMap<i64, HistoryEntry>> {
    let mut statement = conn.prepare_cached(
        "SELECT segment_id, refreshed_at, rule_version, member_count, entered_count, \
         left_count FROM segment_state",
    )?;
    let mut rows = statement.query([])?;
    let mut out = HashMap::new();
    while let Some(row) = rows.next()? {
        let entry = HistoryEntry {
            at: from_micros(row.get(1)?),
            rule_version: row.get(2)?,
            count: row.get(3)?,
            entered: row.get(4)?,
            left: row.get(5)?,
        };
        out.insert(row.get(0)?, entry);
    }
    Ok(out)
}

/// The last published refresh of one segment.
///
/// # Errors
/// A failed query.
pub fn last(conn: &Connection, segment_id: i64) -> Result<Option<HistoryEntry>> {
    Ok(conn
        .query_row(
            "SELECT refreshed_at, rule_version, member_count, entered_count, left_count \
             FROM segment_state WHERE segment_id = ?1",
            [segment_id],
            read_entry,
        )
        .optional()?)
}

/// The last published members (client ids, ascending) of every segment that has any.
///
/// # Errors
/// A failed query or a corrupt bitmap.
pub fn last_members_all(conn: &Connection) -> Result<HashMap<i64, Vec<i64>>> {
    let mut statement = conn.prepare_cached("SELECT segment_id, members FROM segment_state")?;
    let mut rows = statement.query([])?;
    let mut out = HashMap::new();
    while let Some(row) = rows.next()? {
        let segment_id: i64 = row.get(0)?;
        let bytes: Vec<u8> = row.get(1)?;
        out.insert(segment_id, decode(segment_id, "members", &bytes)?);
    }
    Ok(out)
}

/// Deletes history older than `before`; returns how many refreshes went.
///
/// # Errors
/// A failed statement.
pub fn prune(tx: &Transaction, before: DateTime<Utc>) -> Result<usize> {
    let sql = "DELETE FROM segment_history WHERE at < ?1";
    Ok(tx.prepare_cached(sql)?.execute([to_micros(before)])?)
}

fn decode(segment_id: i64, what: &'static str, bytes: &[u8]) -> Result<Vec<i64>> {
    ids::decode(bytes).map_err(|detail| CatalogError::Corrupt {
        segment_id,
        what,
        detail,
    })
}
