//! Seeding a new catalog from a JSON file of segments (`data/sample/segments.json`).

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

use crate::catalog::segments::{self, SegmentKind, name_key};

use super::Service;
use super::error::{Result, ServiceError};
use super::validate;
use super::views::NewSegment;

/// One segment of a seed file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedEntry {
    name: String,
    kind: SegmentKind,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, alias = "color")]
    colour: Option<String>,
    #[serde(default)]
    rule: Option<serde_json::Value>,
    #[serde(default)]
    client_ids: Vec<i64>,
    #[serde(default)]
    tier: Option<String>,
}

impl SeedEntry {
    fn new_segment(&self) -> NewSegment {
        NewSegment {
            name: self.name.clone(),
            description: self.description.clone(),
            colour: self.colour.clone(),
            kind: self.kind,
            rule: self.rule.clone(),
            tier: self.tier.clone(),
        }
    }
}

impl Service {
    /// Creates the segments of a seed file when the catalog has none; returns how many were
    /// created (0 when the catalog already had segments). Every entry is checked before the
    /// first is created. Rules may read earlier entries by the ids they will get (1, 2, ...
    /// in file order on a new catalog).
    ///
    /// # Errors
    /// An unreadable file or a bad entry ([`ServiceError::Invalid`] naming the entry).
    pub async fn seed_from_file(&self, path: &Path) -> Result<usize> {
        if self.catalog.with_conn(segments::count)? > 0 {
            tracing::info!(path = %path.display(), "catalog has segments; seed skipped");
            return Ok(0);
        }
        let invalid =
            |message: String| ServiceError::Invalid(format!("{}: {message}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
        let entries: Vec<SeedEntry> =
            serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        self.check_seed(&entries)
            .map_err(|e| invalid(e.to_string()))?;
        for (i, entry) in entries.iter().enumerate() {
            let entry_error =
                |e: ServiceError| invalid(format!("entry {i} ({:?}): {e}", entry.name));
            let view = self
                .create_segment(entry.new_segment())
                .await
                .map_err(entry_error)?;
            if !entry.client_ids.is_empty() {
                let change = self.add_members(view.id, &entry.client_ids).await?;
                if !change.unknown.is_empty() || !change.deleted.is_empty() {
                    tracing::warn!(segment_id = view.id, unknown = ?change.unknown, deleted = ?change.deleted, "seed members skipped");
                }
            }
        }
        tracing::info!(segments = entries.len(), path = %path.display(), "catalog seeded");
        Ok(entries.len())
    }

    /// Checks every entry's fields, kind and rule form, and that names are unique.
    fn check_seed(&self, entries: &[SeedEntry]) -> Result<()> {
        let snapshot = std::sync::Arc::clone(&self.state().snapshot);
        let mut names = HashSet::new();
        for (i, entry) in entries.iter().enumerate() {
            let entry_error = |e: ServiceError| {
                ServiceError::Invalid(format!("entry {i} ({:?}): {e}", entry.name))
            };
            validate::new_segment(&entry.new_segment(), &snapshot).map_err(entry_error)?;
            if !names.insert(name_key(&entry.name)) {
                return Err(entry_error(ServiceError::Conflict(
                    "the name repeats an earlier entry's".into(),
                )));
            }
            if entry.kind == SegmentKind::Dynamic && !entry.client_ids.is_empty() {
                let message = "client_ids: a dynamic segment takes no listed members";
                return Err(entry_error(ServiceError::Invalid(message.into())));
            }
        }
        Ok(())
    }
}
