//! The pricing tables in the catalog's SQLite database: the priority list, bulk price
//! updates with the members they were applied to, and the clients' price overrides.
//!
//! Times are stored as microseconds since the epoch, UTC. Overrides are keyed by client id,
//! never by snapshot position, so they survive reloads and clients leaving segments.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{PricingError, Result, validate_priority};
use crate::money::Cents;

/// The statements that create the pricing tables; the catalog runs them at start-up.
///
/// Each entry is one step: entry `i` is migration version `i + 1` of the module `pricing`
/// in the catalog's `schema_version`. Never edit an entry that shipped; append new ones.
pub const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS pricing_priority (
        position INTEGER PRIMARY KEY,
        segment_id INTEGER NOT NULL UNIQUE
    )",
    "CREATE TABLE IF NOT EXISTS price_updates (
        update_id INTEGER PRIMARY KEY AUTOINCREMENT,
        segment_id INTEGER NOT NULL,
        spec TEXT NOT NULL,
        product_ids TEXT NOT NULL,
        applied_at INTEGER NOT NULL,
        ends_at INTEGER,
        member_count INTEGER NOT NULL,
        product_count INTEGER NOT NULL,
        reverted_at INTEGER
    )",
    "CREATE TABLE IF NOT EXISTS price_update_members (
        update_id INTEGER NOT NULL,
        client_id INTEGER NOT NULL,
        PRIMARY KEY (update_id, client_id)
    ) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS price_overrides (
        client_id INTEGER NOT NULL,
        product_id INTEGER NOT NULL,
        price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
        update_id INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER
    )",
    "CREATE INDEX IF NOT EXISTS price_overrides_by_client
        ON price_overrides (client_id, product_id, created_at)",
    "CREATE INDEX IF NOT EXISTS price_overrides_by_update ON price_overrides (update_id)",
];

/// Runs [`MIGRATIONS`]; for callers that do not run them with their own.
///
/// # Errors
/// A database failure.
pub fn migrate(conn: &Connection) -> Result<()> {
    MIGRATIONS
        .iter()
        .try_for_each(|sql| conn.execute_batch(sql).map_err(PricingError::from))
}

/// The priority list, first segment first.
///
/// # Errors
/// A database failure.
pub fn read_priority(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT segment_id FROM pricing_priority ORDER BY position")?;
    let ids = stmt.query_map([], |row| row.get(0))?;
    Ok(ids.collect::<rusqlite::Result<_>>()?)
}

/// Replaces the priority list, all or nothing. `known` holds every existing segment id.
///
/// # Errors
/// A list naming an unknown segment or one segment twice (see
/// [`super::validate_priority`]); a database failure.
pub fn replace_priority(conn: &Connection, priority: &[i64], known: &[i64]) -> Result<()> {
    validate_priority(priority, known)?;
    in_savepoint(conn, "pricing_priority_replace", || {
        conn.execute("DELETE FROM pricing_priority", [])?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO pricing_priority (position, segment_id) VALUES (?1, ?2)",
        )?;
        for (position, segment_id) in priority.iter().enumerate() {
            insert.execute(params![position as i64, segment_id])?;
        }
        Ok(())
    })?;
    tracing::info!(segments = priority.len(), "pricing priority replaced");
    Ok(())
}

/// Takes a deleted segment out of the priority list; whether it was in it. Overrides its
/// price updates wrote stay: they belong to the clients.
///
/// # Errors
/// A database failure.
pub fn remove_segment(conn: &Connection, segment_id: i64) -> Result<bool> {
    let removed = conn.execute(
        "DELETE FROM pricing_priority WHERE segment_id = ?1",
        [segment_id],
    )?;
    Ok(removed > 0)
}

/// A client's own price for a product, written by a bulk price update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Override {
    pub product_id: i64,
    pub price: Cents,
    pub update_id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A client's overrides in force at `now`, the newest per product (latest creation, then
/// highest update id); expired ones are left out, so an older one shows again.
///
/// # Errors
/// A database failure, or stored times out of range.
pub fn client_overrides(
    conn: &Connection,
    client_id: i64,
    now: DateTime<Utc>,
) -> Result<HashMap<i64, Override>> {
    let mut stmt = conn.prepare_cached(
        "SELECT product_id, price_cents, update_id, created_at, expires_at
         FROM price_overrides
         WHERE client_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)
         ORDER BY product_id, created_at DESC, update_id DESC",
    )?;
    let mut rows = stmt.query(params![client_id, now.timestamp_micros()])?;
    let mut newest = HashMap::new();
    while let Some(row) = rows.next()? {
        let found = override_row(row)?;
        newest.entry(found.product_id).or_insert(found);
    }
    Ok(newest)
}

fn override_row(row: &Row<'_>) -> Result<Override> {
    Ok(Override {
        product_id: row.get(0)?,
        price: Cents(row.get(1)?),
        update_id: row.get(2)?,
        created_at: instant(row.get(3)?)?,
        expires_at: row.get::<_, Option<i64>>(4)?.map(instant).transpose()?,
    })
}

/// Overrides in force at `now` for these products, the newest per (client id, product id),
/// for clients `wanted` accepts.
///
/// # Errors
/// A database failure.
pub(super) fn overrides_in_force(
    conn: &Connection,
    product_ids: &[i64],
    now: DateTime<Utc>,
    wanted: impl Fn(i64) -> bool,
) -> Result<HashMap<(i64, i64), Cents>> {
    // TODO: this scans every override in force, which is right while the table holds a
    // few million rows; past that, look members up through `price_overrides_by_client`
    // when the segment is small against the table.
    let products: std::collections::HashSet<i64> = product_ids.iter().copied().collect();
    let mut stmt = conn.prepare_cached(
        "SELECT client_id, product_id, price_cents, created_at, update_id
         FROM price_overrides WHERE expires_at IS NULL OR expires_at > ?1",
    )?;
    let mut rows = stmt.query([now.timestamp_micros()])?;
    let mut newest: HashMap<(i64, i64), (i64, i64, Cents)> = HashMap::new();
    while let Some(row) = rows.next()? {
        let key: (i64, i64) = (row.get(0)?, row.get(1)?);
        if !products.contains(&key.1) || !wanted(key.0) {
            continue;
        }
        let candidate = (row.get(3)?, row.get(4)?, Cents(row.get(2)?));
        let slot = newest.entry(key).or_insert(candidate);
        if (candidate.0, candidate.1) > (slot.0, slot.1) {
            *slot = candidate;
        }
    }
    Ok(newest
        .into_iter()
        .map(|(key, (_, _, price))| (key, price))
        .collect())
}

/// One bulk price update as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceUpdate {
    pub update_id: i64,
    pub segment_id: i64,
    /// The update's spec as given (see [`super::BulkSpec::to_json`]).
    pub spec: serde_json::Value,
    /// The products it changed, resolved when it was applied.
    pub product_ids: Vec<i64>,
    pub applied_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    /// How many clients it wrote overrides for.
    pub member_count: u64,
    pub product_count: u64,
    pub reverted_at: Option<DateTime<Utc>>,
}

/// What [`record_update`] writes besides the overrides.
pub(super) struct NewUpdate<'a> {
    pub segment_id: i64,
    pub spec: serde_json::Value,
    pub product_ids: &'a [i64],
    pub applied_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub client_ids: &'a [i64],
}

/// Records an update and its members; the id of the new update.
pub(super) fn record_update(conn: &Connection, update: &NewUpdate<'_>) -> Result<i64> {
    let product_ids = serde_json::to_string(update.product_ids)
        .map_err(|e| PricingError::Corrupt(e.to_string()))?;
    conn.execute(
        "INSERT INTO price_updates
         (segment_id, spec, product_ids, applied_at, ends_at, member_count, product_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            update.segment_id,
            update.spec.to_string(),
            product_ids,
            update.applied_at.timestamp_micros(),
            update.ends_at.map(|t| t.timestamp_micros()),
            update.client_ids.len() as i64,
            update.product_ids.len() as i64,
        ],
    )?;
    let update_id = conn.last_insert_rowid();
    let mut member = conn.prepare_cached(
        "INSERT INTO price_update_members (update_id, client_id) VALUES (?1, ?2)",
    )?;
    for client_id in update.client_ids {
        member.execute(params![update_id, client_id])?;
    }
    Ok(update_id)
}

/// Rows per `INSERT` statement when writing overrides: one statement per row costs about
/// twice as much for a million rows.
pub(super) const ROWS_PER_INSERT: usize = 100;

/// Who wrote a batch of overrides, and until when they apply: the same for every row.
#[derive(Debug, Clone, Copy)]
pub(super) struct OverrideStamp {
    pub update_id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Writes one update's `(client id, product id, price)` rows, `rows_per_insert` to a
/// statement, reusing one prepared statement; how many were written.
pub(super) fn write_overrides(
    conn: &Connection,
    stamp: OverrideStamp,
    rows: impl Iterator<Item = Result<(i64, i64, Cents)>>,
    rows_per_insert: usize,
) -> Result<u64> {
    let mut full = conn.prepare_cached(&insert_overrides_sql(rows_per_insert))?;
    let mut batch = Vec::with_capacity(rows_per_insert);
    let mut written = 0;
    for row in rows {
        batch.push(row?);
        if batch.len() == rows_per_insert {
            insert_batch(&mut full, stamp, &batch)?;
            written += batch.len() as u64;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        let mut tail = conn.prepare(&insert_overrides_sql(batch.len()))?;
        insert_batch(&mut tail, stamp, &batch)?;
        written += batch.len() as u64;
    }
    Ok(written)
}

/// `INSERT` of `rows` rows: `?1` to `?3` are the stamp, then three parameters per row.
fn insert_overrides_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let at = 4 + 3 * row;
            format!("(?{}, ?{}, ?{}, ?1, ?2, ?3)", at, at + 1, at + 2)
        })
        .collect();
    format!(
        "INSERT INTO price_overrides
         (client_id, product_id, price_cents, update_id, created_at, expires_at) VALUES {}",
        values.join(", ")
    )
}

fn insert_batch(
    insert: &mut rusqlite::Statement<'_>,
    stamp: OverrideStamp,
    batch: &[(i64, i64, Cents)],
) -> Result<()> {
    insert.raw_bind_parameter(1, stamp.update_id)?;
    insert.raw_bind_parameter(2, stamp.created_at.timestamp_micros())?;
    insert.raw_bind_parameter(3, stamp.expires_at.map(|t| t.timestamp_micros()))?;
    for (row, (client_id, product_id, price)) in batch.iter().enumerate() {
        let at = 4 + 3 * row;
        insert.raw_bind_parameter(at, client_id)?;
        insert.raw_bind_parameter(at + 1, product_id)?;
        insert.raw_bind_parameter(at + 2, price.0)?;
    }
    insert.raw_execute()?;
    Ok(())
}

const UPDATE_COLUMNS: &str = "update_id, segment_id, spec, product_ids, applied_at, ends_at,
    member_count, product_count, reverted_at";

/// Every price update, oldest first.
///
/// # Errors
/// A database failure, or a stored update that cannot be read back.
pub fn list_updates(conn: &Connection) -> Result<Vec<PriceUpdate>> {
    let sql = format!("SELECT {UPDATE_COLUMNS} FROM price_updates ORDER BY update_id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([])?;
    let mut updates = Vec::new();
    while let Some(row) = rows.next()? {
        updates.push(update_row(row)?);
    }
    Ok(updates)
}

/// The updates applied to `segment_id` whose overrides are still in force at `now`: not
/// reverted and not ended, oldest first.
///
/// # Errors
/// A database failure.
pub fn updates_in_force(
    conn: &Connection,
    segment_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT update_id FROM price_updates
         WHERE segment_id = ?1 AND reverted_at IS NULL AND (ends_at IS NULL OR ends_at > ?2)
         ORDER BY update_id",
    )?;
    let ids = stmt.query_map((segment_id, now.timestamp_micros()), |row| row.get(0))?;
    Ok(ids.collect::<rusqlite::Result<Vec<i64>>>()?)
}

/// One price update.
///
/// # Errors
/// [`PricingError::UnknownUpdate`]; a database failure.
pub fn get_update(conn: &Connection, update_id: i64) -> Result<PriceUpdate> {
    let sql = format!("SELECT {UPDATE_COLUMNS} FROM price_updates WHERE update_id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let found = stmt
        .query_row([update_id], |row| Ok(update_row(row)))
        .optional()?;
    found.ok_or(PricingError::UnknownUpdate { update_id })?
}

fn update_row(row: &Row<'_>) -> Result<PriceUpdate> {
    let spec: String = row.get(2)?;
    let product_ids: String = row.get(3)?;
    let corrupt = |e: serde_json::Error| PricingError::Corrupt(format!("price update: {e}"));
    Ok(PriceUpdate {
        update_id: row.get(0)?,
        segment_id: row.get(1)?,
        spec: serde_json::from_str(&spec).map_err(corrupt)?,
        product_ids: serde_json::from_str(&product_ids).map_err(corrupt)?,
        applied_at: instant(row.get(4)?)?,
        ends_at: row.get::<_, Option<i64>>(5)?.map(instant).transpose()?,
        member_count: row.get::<_, i64>(6)? as u64,
        product_count: row.get::<_, i64>(7)? as u64,
        reverted_at: row.get::<_, Option<i64>>(8)?.map(instant).transpose()?,
    })
}

/// The clients an update was applied to, ascending.
///
/// # Errors
/// [`PricingError::UnknownUpdate`]; a database failure.
pub fn update_members(conn: &Connection, update_id: i64) -> Result<Vec<i64>> {
    get_update(conn, update_id)?;
    let mut stmt = conn.prepare_cached(
        "SELECT client_id FROM price_update_members WHERE update_id = ?1 ORDER BY client_id",
    )?;
    let ids = stmt.query_map([update_id], |row| row.get(0))?;
    Ok(ids.collect::<rusqlite::Result<_>>()?)
}

/// Reverts an update: deletes its overrides, so each client's price is again what it was
/// before (an older override, or the tier price), and stamps `reverted_at`. All or nothing.
///
/// An update is refused while a later one still overrides some of the same prices: that
/// later price was worked out from this update's, so it would stay in force after the
/// revert and the prices would not be those from before. Later updates are reverted first.
///
/// # Errors
/// [`PricingError::UnknownUpdate`], [`PricingError::AlreadyReverted`],
/// [`PricingError::LaterUpdateInForce`]; a database failure.
pub fn revert_update(conn: &Connection, update_id: i64, now: DateTime<Utc>) -> Result<PriceUpdate> {
    let reverted = in_savepoint(conn, "pricing_revert", || {
        let update = get_update(conn, update_id)?;
        if let Some(reverted_at) = update.reverted_at {
            return Err(PricingError::AlreadyReverted {
                update_id,
                reverted_at,
            });
        }
        let later = later_updates_in_force(conn, update_id, now)?;
        if !later.is_empty() {
            return Err(PricingError::LaterUpdateInForce { update_id, later });
        }
        let deleted = conn.execute(
            "DELETE FROM price_overrides WHERE update_id = ?1",
            [update_id],
        )?;
        conn.execute(
            "UPDATE price_updates SET reverted_at = ?2 WHERE update_id = ?1",
            params![update_id, now.timestamp_micros()],
        )?;
        tracing::info!(update_id, overrides = deleted, "price update reverted");
        Ok(PriceUpdate {
            reverted_at: Some(now),
            ..update
        })
    })?;
    Ok(reverted)
}

/// The updates, ascending, with an override in force at `now` that is newer (later
/// creation, then higher update id, as quotes rank them) than one of `update_id`'s for the
/// same client and product. Reverted updates hold no overrides, so they never show.
fn later_updates_in_force(
    conn: &Connection,
    update_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT later.update_id
         FROM price_overrides AS own
         JOIN price_overrides AS later
           ON later.client_id = own.client_id AND later.product_id = own.product_id
         WHERE own.update_id = ?1
           AND (later.created_at, later.update_id) > (own.created_at, own.update_id)
           AND (later.expires_at IS NULL OR later.expires_at > ?2)
         ORDER BY later.update_id",
    )?;
    let ids = stmt.query_map(params![update_id, now.timestamp_micros()], |row| row.get(0))?;
    Ok(ids.collect::<rusqlite::Result<_>>()?)
}

/// Runs `work` inside a savepoint: it all lands, or none of it does. Works alone (the
/// savepoint is then a transaction) and inside the caller's transaction.
pub(super) fn in_savepoint<T>(
    conn: &Connection,
    name: &str,
    work: impl FnOnce() -> Result<T>,
) -> Result<T> {
    conn.execute_batch(&format!("SAVEPOINT {name}"))?;
    let outcome = work().and_then(|value| {
        conn.execute_batch(&format!("RELEASE {name}"))?;
        Ok(value)
    });
    if outcome.is_err() {
        let undo = conn.execute_batch(&format!("ROLLBACK TO {name}; RELEASE {name}"));
        if let Err(error) = undo {
            tracing::error!(%error, savepoint = name, "rolling back a pricing savepoint failed");
        }
    }
    outcome
}

fn instant(micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| PricingError::Corrupt(format!("time {micros} out of range")))
}
