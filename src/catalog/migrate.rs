//! Versioned schema migrations, per module, recorded in `schema_version`.
//!
//! Each module (the segment catalog itself, pricing, report widgets, the Mailchimp sync)
//! owns a list of migrations numbered 1, 2, 3, ... Opening a catalog applies, in order, the
//! ones not yet recorded, each in its own transaction together with its `schema_version`
//! row, so a crash leaves every migration either fully applied or not at all.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::error::{CatalogError, Result};

/// One schema step of one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The module owning the tables, e.g. `"segments"`, `"pricing"`.
    pub module: &'static str,
    /// 1 for the first migration of the module, then 2, 3, ...
    pub version: u32,
    /// SQL run as one batch.
    pub sql: &'static str,
}

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    module TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (module, version)
)";

/// Applies the migrations of `list` not yet recorded.
///
/// # Errors
/// A list out of order, a catalog newer than the list, or a failing migration (whose
/// changes are rolled back).
pub(super) fn apply(conn: &mut Connection, list: &[Migration]) -> Result<()> {
    conn.execute_batch(VERSION_TABLE)?;
    for (module, migrations) in by_module(list)? {
        let applied = applied_version(conn, module)?;
        let known = migrations.last().map_or(0, |m| m.version);
        if applied > known {
            return Err(CatalogError::TooNew {
                module: module.to_string(),
                found: applied,
                known,
            });
        }
        for migration in migrations.iter().filter(|m| m.version > applied) {
            apply_one(conn, migration)?;
        }
    }
    Ok(())
}

/// Groups migrations by module, checking each module's versions run 1, 2, 3, ...
fn by_module(list: &[Migration]) -> Result<Vec<(&'static str, Vec<Migration>)>> {
    let mut groups: Vec<(&'static str, Vec<Migration>)> = Vec::new();
    for migration in list {
        match groups.iter_mut().find(|(m, _)| *m == migration.module) {
            Some((_, group)) => group.push(*migration),
            None => groups.push((migration.module, vec![*migration])),
        }
    }
    for (module, group) in &groups {
        let misplaced = group
            .iter()
            .enumerate()
            .find(|(i, m)| m.version as usize != i + 1);
        if let Some((_, m)) = misplaced {
            return Err(CatalogError::MigrationOrder {
                module,
                version: m.version,
            });
        }
    }
    Ok(groups)
}

fn applied_version(conn: &Connection, module: &str) -> Result<u32> {
    let version: Option<u32> = conn
        .query_row(
            "SELECT MAX(version) FROM schema_version WHERE module = ?1",
            [module],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    Ok(version.unwrap_or(0))
}

fn apply_one(conn: &mut Connection, migration: &Migration) -> Result<()> {
    let failed = |source| CatalogError::Migration {
        module: migration.module,
        version: migration.version,
        source,
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    tx.execute_batch(migration.sql).map_err(failed)?;
    tx.execute(
        "INSERT INTO schema_version (module, version, applied_at) VALUES (?1, ?2, ?3)",
        params![
            migration.module,
            migration.version,
            chrono::Utc::now().timestamp_micros()
        ],
    )
    .map_err(failed)?;
    tx.commit().map_err(failed)?;
    tracing::info!(
        module = migration.module,
        version = migration.version,
        "catalog migrated"
    );
    Ok(())
}
