//! The segment catalog: everything the product must not forget, in one SQLite file per
//! tenant (`<tenant dir>/catalog.sqlite`).
//!
//! It holds segments and their rules, static members (as client ids, since positions belong
//! to one snapshot), the last published membership of every segment and 90 days of refresh
//! history. Later modules (pricing, report widgets, the Mailchimp sync) add their own tables
//! through their own [`Migration`] lists.
//!
//! # Durability
//! The file runs in WAL mode with `synchronous=FULL`: a commit returns only once its WAL
//! frames are on disk, so neither a `kill -9` nor a power cut loses an acknowledged write.
//! (`NORMAL` would survive `kill -9` too, since committed frames sit in the OS page cache,
//! but could lose the last commits on power loss; the catalog sees few writes, so the extra
//! fsync per commit is cheap.) Every write runs in one `BEGIN IMMEDIATE` transaction.
//!
//! Invariant: this module is pure persistence. It validates nothing that belongs to the
//! domain (names, colours, rules); the service does that before writing.

mod error;
pub mod history;
pub mod ids;
pub mod members;
mod migrate;
pub mod segments;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, TransactionBehavior};

pub use error::{CatalogError, Result};
pub use migrate::Migration;

/// The catalog's file name inside a tenant folder.
pub const FILE_NAME: &str = "catalog.sqlite";

/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The catalog's own tables.
pub const MIGRATIONS: &[Migration] = &[Migration {
    module: "segments",
    version: 1,
    sql: include_str!("schema_v1.sql"),
}];

/// An open catalog: one connection for writes, one read-only connection for reads, so
/// reads never queue behind a long write (WAL lets them run side by side).
pub struct Catalog {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("path", &self.path).finish()
    }
}

impl Catalog {
    /// Opens (or creates) the catalog at `path` and applies the catalog's migrations, then
    /// `extra` (other modules' migrations).
    ///
    /// # Errors
    /// The file cannot be opened, or a migration fails or is newer than this program.
    pub fn open(path: &Path, extra: &[Migration]) -> Result<Catalog> {
        let open_error = |source| CatalogError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut writer = Connection::open(path).map_err(open_error)?;
        configure(&writer).map_err(open_error)?;
        migrate::apply(&mut writer, MIGRATIONS)?;
        migrate::apply(&mut writer, extra)?;
        let reader = Connection::open(path).map_err(open_error)?;
        configure(&reader).map_err(open_error)?;
        reader
            .pragma_update(None, "query_only", true)
            .map_err(open_error)?;
        tracing::info!(path = %path.display(), "catalog opened");
        Ok(Catalog {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    /// Applies another module's migrations to an open catalog.
    ///
    /// # Errors
    /// As [`Catalog::open`].
    pub fn migrate(&self, migrations: &[Migration]) -> Result<()> {
        migrate::apply(&mut self.writer(), migrations)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one immediate transaction, committed when `f` succeeds and rolled back
    /// when it fails. The commit is durable when this returns `Ok`.
    ///
    /// # Errors
    /// `f`'s error, or a failure to begin or commit.
    pub fn with_tx<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs reads on the read-only connection; each statement sees the last commit.
    ///
    /// # Errors
    /// `f`'s error.
    pub fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn)
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic inside `with_tx` rolls the transaction back on drop, so the connection
        // is still sound after a poisoned lock.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// Microseconds since the epoch: how the catalog stores instants.
pub fn to_micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// The instant of a stored microsecond count.
pub fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MIN_UTC)
}
