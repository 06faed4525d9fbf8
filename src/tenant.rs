//! A tenant folder: its facts and its own settings (`tenant.json`), opened as a snapshot.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono_tz::Tz;
use serde::Deserialize;

use crate::facts::{LoadError, load_tenant};
use crate::snapshot::Snapshot;
use crate::time::parse_zone;

/// The settings file inside a tenant folder.
pub const CONFIG_FILE: &str = "tenant.json";

/// Why a tenant could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("{path}: {message}")]
    BadConfig { path: PathBuf, message: String },
    #[error("time zone: {0}")]
    BadZone(String),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("internal error while building the snapshot: {0}")]
    Internal(String),
}

/// `tenant.json`: `{"time_zone": "Europe/Berlin"}`; every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    time_zone: Option<String>,
}

/// The tenant's settings; a folder without `tenant.json` is in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantConfig {
    pub time_zone: Tz,
}

impl TenantConfig {
    /// Reads `dir/tenant.json`, or the defaults when it is absent.
    ///
    /// # Errors
    /// `dir` is not a folder; a file that is not valid JSON of the expected shape, or an
    /// unknown time zone.
    pub fn read(dir: &Path) -> Result<TenantConfig, TenantError> {
        if !dir.is_dir() {
            let dir = dir.to_path_buf();
            return Err(LoadError::NotAFolder { dir }.into());
        }
        let path = dir.join(CONFIG_FILE);
        let raw = match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str::<RawConfig>(&text).map_err(|e| TenantError::BadConfig {
                    path: path.clone(),
                    message: e.to_string(),
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => RawConfig::default(),
            Err(e) => {
                return Err(TenantError::BadConfig {
                    path,
                    message: e.to_string(),
                });
            }
        };
        let time_zone = match raw.time_zone {
            Some(name) => {
                parse_zone(&name).map_err(|message| TenantError::BadConfig { path, message })?
            }
            None => Tz::UTC,
        };
        Ok(TenantConfig { time_zone })
    }
}

/// Loads a tenant folder and builds its snapshot; `zone` overrides `tenant.json`.
///
/// # Errors
/// Bad settings, bad facts (naming file, column and row), or an internal fault.
pub async fn open_snapshot(dir: &Path, zone: Option<&str>) -> Result<Arc<Snapshot>, TenantError> {
    let tz = match zone {
        Some(name) => parse_zone(name).map_err(TenantError::BadZone)?,
        None => TenantConfig::read(dir)?.time_zone,
    };
    let owned = dir.to_path_buf();
    let facts = tokio::task::spawn_blocking(move || load_tenant(&owned))
        .await
        .map_err(|e| TenantError::Internal(e.to_string()))??;
    Snapshot::build(facts, tz)
        .await
        .map_err(|e| TenantError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_zone_or_defaults_to_utc() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(TenantConfig::read(dir.path()).unwrap().time_zone, Tz::UTC);
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            r#"{"time_zone": "Europe/Berlin"}"#,
        )
        .unwrap();
        assert_eq!(
            TenantConfig::read(dir.path()).unwrap().time_zone,
            Tz::Europe__Berlin
        );
    }

    #[test]
    fn names_the_file_on_bad_settings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            r#"{"time_zone": "Mars/Base"}"#,
        )
        .unwrap();
        let error = TenantConfig::read(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("tenant.json") && error.contains("Mars/Base"),
            "{error}"
        );
        std::fs::write(dir.path().join(CONFIG_FILE), r#"{"zone": "UTC"}"#).unwrap();
        let error = TenantConfig::read(dir.path()).unwrap_err().to_string();
        assert!(error.contains("unknown field `zone`"), "{error}");
    }

    #[test]
    fn a_file_is_not_a_tenant_folder() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clients.parquet");
        std::fs::write(&file, "PAR1").unwrap();
        let error = TenantConfig::read(&file).unwrap_err().to_string();
        assert_eq!(error, format!("{}: not a folder", file.display()));
    }
}
