//! Segment rows: definitions, rules with their versions, and the segments each rule reads.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};

use super::error::{CatalogError, Result};
use super::{from_micros, to_micros};

/// Whether a segment lists its members by hand or computes them from a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentKind {
    Static,
    Dynamic,
}

impl SegmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Static => "static",
            SegmentKind::Dynamic => "dynamic",
        }
    }

    fn parse(text: &str) -> Option<SegmentKind> {
        match text {
            "static" => Some(SegmentKind::Static),
            "dynamic" => Some(SegmentKind::Dynamic),
            _ => None,
        }
    }
}

/// A stored segment.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRecord {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub colour: Option<String>,
    pub kind: SegmentKind,
    /// The rule's JSON, for dynamic segments.
    pub rule: Option<serde_json::Value>,
    pub tier: Option<String>,
    /// 1 at creation, one more at every change of the rule.
    pub rule_version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The validated fields of a segment to write.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentDraft {
    pub name: String,
    pub description: Option<String>,
    pub colour: Option<String>,
    pub kind: SegmentKind,
    pub rule: Option<serde_json::Value>,
    pub tier: Option<String>,
    /// Segments the rule reads through `segment` conditions.
    pub refs: Vec<i64>,
}

/// The form in which names are unique: trimmed and case folded.
pub fn name_key(name: &str) -> String {
    crate::rules::normalize_text(name)
}

const COLUMNS: &str = "id, name, description, colour, kind, rule, tier, rule_version, \
    created_at, updated_at";

/// Inserts a segment at rule version 1.
///
/// # Errors
/// [`CatalogError::DuplicateName`] when the name's key is taken.
pub fn insert(tx: &Transaction, draft: &SegmentDraft, now: DateTime<Utc>) -> Result<SegmentRecord> {
    let rule = draft.rule.as_ref().map(|r| r.to_string());
    tx.execute(
        "INSERT INTO segments (name, name_key, description, colour, kind, rule, tier, \
         rule_version, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8)",
        params![
            draft.name,
            name_key(&draft.name),
            draft.description,
            draft.colour,
            draft.kind.as_str(),
            rule,
            draft.tier,
            to_micros(now)
        ],
    )
    .map_err(|e| duplicate_name(e, &draft.name))?;
    let id = tx.last_insert_rowid();
    write_refs(tx, id, &draft.refs)?;
    Ok(get(tx, id)?.expect("just inserted"))
}

/// Rewrites a segment's fields; `bump_version` adds one to its rule version. The kind never
/// changes. Returns `None` when the segment does not exist.
///
/// # Errors
/// [`CatalogError::DuplicateName`] when the new name's key belongs to another segment.
pub fn update(
    tx: &Transaction,
    id: i64,
    draft: &SegmentDraft,
    bump_version: bool,
    now: DateTime<Utc>,
) -> Result<Option<SegmentRecord>> {
    let rule = draft.rule.as_ref().map(|r| r.to_string());
    let changed = tx
        .execute(
            "UPDATE segments SET name = ?2, name_key = ?3, description = ?4, colour = ?5, \
             rule = ?6, tier = ?7, rule_version = rule_version + ?8, updated_at = ?9 \
             WHERE id = ?1",
            params![
                id,
                draft.name,
                name_key(&draft.name),
                draft.description,
                draft.colour,
                rule,
                draft.tier,
                i64::from(bump_version),
                to_micros(now)
            ],
        )
        .map_err(|e| duplicate_name(e, &draft.name))?;
    if changed == 0 {
        return Ok(None);
    }
    tx.execute("DELETE FROM segment_refs WHERE segment_id = ?1", [id])?;
    write_refs(tx, id, &draft.refs)?;
    get(tx, id)
}

/// Deletes a segment with its members, state and history; `false` if it did not exist.
///
/// # Errors
/// A foreign key failure when another segment's rule still reads it.
pub fn delete(tx: &Transaction, id: i64) -> Result<bool> {
    Ok(tx.execute("DELETE FROM segments WHERE id = ?1", [id])? > 0)
}

/// The segment `id`, if it exists.
///
/// # Errors
/// A failed query or a corrupt stored rule.
pub fn get(conn: &Connection, id: i64) -> Result<Option<SegmentRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM segments WHERE id = ?1");
    let row = conn.query_row(&sql, [id], read_row).optional()?;
    row.map(finish_row).transpose()
}

/// Every segment, by id.
///
/// # Errors
/// A failed query or a corrupt stored rule.
pub fn list(conn: &Connection) -> Result<Vec<SegmentRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM segments ORDER BY id");
    let mut statement = conn.prepare(&sql)?;
    let rows = statement.query_map([], read_row)?;
    rows.map(|row| finish_row(row?)).collect()
}

/// How many segments exist.
///
/// # Errors
/// A failed query.
pub fn count(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM segments", [], |row| row.get(0))?)
}

/// The id of the segment whose name has the same key as `name`, if any.
///
/// # Errors
/// A failed query.
pub fn id_by_name(conn: &Connection, name: &str) -> Result<Option<i64>> {
    let sql = "SELECT id FROM segments WHERE name_key = ?1";
    Ok(conn
        .query_row(sql, [name_key(name)], |row| row.get(0))
        .optional()?)
}

/// Every edge `(segment, segment its rule reads)`.
///
/// # Errors
/// A failed query.
pub fn refs(conn: &Connection) -> Result<Vec<(i64, i64)>> {
    let mut statement =
        conn.prepare("SELECT segment_id, refers_to FROM segment_refs ORDER BY 1, 2")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn write_refs(tx: &Transaction, id: i64, refs: &[i64]) -> Result<()> {
    let mut statement = tx.prepare_cached(
        "INSERT OR IGNORE INTO segment_refs (segment_id, refers_to) VALUES (?1, ?2)",
    )?;
    for target in refs {
        statement.execute(params![id, target])?;
    }
    Ok(())
}

/// A row as read, before its rule text is parsed.
struct RawRow {
    record: SegmentRecord,
    kind: String,
    rule: Option<String>,
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    let record = SegmentRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        colour: row.get(3)?,
        kind: SegmentKind::Static,
        rule: None,
        tier: row.get(6)?,
        rule_version: row.get(7)?,
        created_at: from_micros(row.get(8)?),
        updated_at: from_micros(row.get(9)?),
    };
    Ok(RawRow {
        record,
        kind: row.get(4)?,
        rule: row.get(5)?,
    })
}

fn finish_row(raw: RawRow) -> Result<SegmentRecord> {
    let mut record = raw.record;
    let corrupt = |what, detail| CatalogError::Corrupt {
        segment_id: record.id,
        what,
        detail,
    };
    record.kind = SegmentKind::parse(&raw.kind)
        .ok_or_else(|| corrupt("kind", format!("unknown kind {:?}", raw.kind)))?;
    record.rule = match raw.rule {
        Some(text) => {
            let json = serde_json::from_str(&text).map_err(|e| corrupt("rule", e.to_string()))?;
            Some(json)
        }
        None => None,
    };
    Ok(record)
}

/// Turns a unique-constraint failure on the name key into [`CatalogError::DuplicateName`].
fn duplicate_name(error: rusqlite::Error, name: &str) -> CatalogError {
    let is_name = matches!(
        &error,
        rusqlite::Error::SqliteFailure(e, Some(message))
            if e.code == rusqlite::ErrorCode::ConstraintViolation
                && message.contains("name_key")
    );
    if is_name {
        CatalogError::DuplicateName { name: name.into() }
    } else {
        error.into()
    }
}
