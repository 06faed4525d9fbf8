//! Why a catalog operation failed.

use std::path::PathBuf;

/// A catalog failure. Apart from [`CatalogError::DuplicateName`], every variant is a fault
/// of the store or of ours (a broken file, a failed query), never bad user input: the
/// service validates input before it reaches the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{}: cannot open the catalog: {source}", .path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("catalog migration {module} v{version} failed: {source}")]
    Migration {
        module: &'static str,
        version: u32,
        source: rusqlite::Error,
    },
    #[error(
        "the catalog holds {module} schema v{found}, newer than v{known} known to this \
         program; run a newer version"
    )]
    TooNew {
        module: String,
        found: u32,
        known: u32,
    },
    #[error("migrations of {module} must ascend from 1 without gaps; v{version} is out of place")]
    MigrationOrder { module: &'static str, version: u32 },
    #[error("a segment named {name:?} already exists")]
    DuplicateName { name: String },
    #[error("segment {segment_id}: stored {what} is corrupt: {detail}")]
    Corrupt {
        segment_id: i64,
        what: &'static str,
        detail: String,
    },
    #[error("catalog query failed: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// The catalog's result type.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
