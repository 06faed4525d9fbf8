//! Static members: client ids listed by hand, per segment.

use std::collections::HashMap;

use rusqlite::{Connection, Transaction, params};

use super::error::Result;

/// Adds client ids to a static segment; returns the ids that were not members yet, in input
/// order (a repeated id counts once).
///
/// # Errors
/// A failed statement; the caller's transaction then rolls everything back.
pub fn add(tx: &Transaction, segment_id: i64, client_ids: &[i64]) -> Result<Vec<i64>> {
    let mut statement = tx.prepare_cached(
        "INSERT OR IGNORE INTO static_members (segment_id, client_id) VALUES (?1, ?2)",
    )?;
    let mut added = Vec::new();
    for id in client_ids {
        if statement.execute(params![segment_id, id])? > 0 {
            added.push(*id);
        }
    }
    Ok(added)
}

/// Removes client ids from a static segment; returns the ids that were members.
///
/// # Errors
/// A failed statement.
pub fn remove(tx: &Transaction, segment_id: i64, client_ids: &[i64]) -> Result<Vec<i64>> {
    let mut statement =
        tx.prepare_cached("DELETE FROM static_members WHERE segment_id = ?1 AND client_id = ?2")?;
    let mut removed = Vec::new();
    for id in client_ids {
        if statement.execute(params![segment_id, id])? > 0 {
            removed.push(*id);
        }
    }
    Ok(removed)
}

/// The client ids stored for one segment, ascending.
///
/// # Errors
/// A failed query.
pub fn ids(conn: &Connection, segment_id: i64) -> Result<Vec<i64>> {
    let mut statement = conn.prepare_cached(
        "SELECT client_id FROM static_members WHERE segment_id = ?1 ORDER BY client_id",
    )?;
    let rows = statement.query_map([segment_id], |row| row.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The stored client ids of every static segment that has any, each ascending.
///
/// # Errors
/// A failed query.
pub fn all_ids(conn: &Connection) -> Result<HashMap<i64, Vec<i64>>> {
    let mut statement = conn.prepare(
        "SELECT segment_id, client_id FROM static_members ORDER BY segment_id, client_id",
    )?;
    let mut rows = statement.query([])?;
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    while let Some(row) = rows.next()? {
        out.entry(row.get(0)?).or_default().push(row.get(1)?);
    }
    Ok(out)
}
