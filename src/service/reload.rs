//! Reloading the tenant folder: new facts, a new snapshot and its report views, every
//! segment refreshed on it, then one swap. A folder that does not load leaves the published
//! state serving.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono_tz::Tz;

use crate::facts::load_tenant;
use crate::reports::ReportFacts;
use crate::snapshot::Snapshot;
use crate::tenant::TenantConfig;

use super::error::{Result, ServiceError};
use super::views::{RefreshReport, ReloadReport};
use super::{Service, elapsed_ms};

impl Service {
    /// Re-reads the folder and publishes the new snapshot with every segment refreshed on it.
    ///
    /// # Errors
    /// Bad facts or settings (the published state stays as it was), or a catalog fault.
    pub async fn reload(&self) -> Result<ReloadReport> {
        let _one_reload = self.reloads.lock().await;
        let started = Instant::now();
        // Every append up to here has its part on disk before the folder is read.
        let appended_through = self.appends.lock().await.seq();
        let reports = match load_views(self.data_dir(), self.options.tz).await {
            Ok(reports) => reports,
            Err(error) => {
                self.metrics.record_reload(false);
                tracing::warn!(%error, "reload failed; the previous facts keep serving");
                return Err(error);
            }
        };
        let refresh = self
            .run_round(Some(Arc::clone(&reports)), HashMap::new())
            .await?;
        let snapshot = reports.snapshot();
        self.appends.lock().await.loaded_through(appended_through);
        self.metrics.record_reload(true);
        let report = ReloadReport {
            clients: snapshot.index.len(),
            live_clients: snapshot.universe.len(),
            load: snapshot.facts.report.clone(),
            refresh,
            elapsed_ms: elapsed_ms(started),
        };
        tracing::info!(
            clients = report.clients,
            elapsed_ms = report.elapsed_ms,
            "tenant reloaded"
        );
        Ok(report)
    }

    /// Refreshes every segment now. When rows were appended since the last load, reloads
    /// first so they count; if that reload fails, refreshes on the published facts.
    ///
    /// # Errors
    /// A catalog fault.
    pub async fn refresh_all(&self) -> Result<RefreshReport> {
        if self.appends.lock().await.has_unloaded() {
            match self.reload().await {
                Ok(report) => return Ok(report.refresh),
                Err(error) => tracing::warn!(%error, "appended rows not loaded"),
            }
        }
        self.run_round(None, HashMap::new()).await
    }
}

/// Loads a tenant folder, builds its snapshot in `tz` (else the zone of `tenant.json`) and
/// the report views of that snapshot. The views are seconds of work at tens of millions of
/// orders; building them here, before anything is published, means no report request ever
/// waits for them.
///
/// # Errors
/// Bad settings or facts, naming file, column and row; or an internal fault.
pub(super) async fn load_views(dir: &Path, tz: Option<Tz>) -> Result<Arc<ReportFacts>> {
    let snapshot = load_snapshot(dir, tz).await?;
    let built = tokio::task::spawn_blocking(move || ReportFacts::build(snapshot)).await;
    let failed = |e: &dyn std::fmt::Display| {
        ServiceError::internal(format!("report views of {}: {e}", dir.display()))
    };
    let reports = built.map_err(|e| failed(&e))?.map_err(|e| failed(&e))?;
    Ok(Arc::new(reports))
}

async fn load_snapshot(dir: &Path, tz: Option<Tz>) -> Result<Arc<Snapshot>> {
    let tz = match tz {
        Some(tz) => tz,
        None => TenantConfig::read(dir)?.time_zone,
    };
    let owned = dir.to_path_buf();
    let facts = tokio::task::spawn_blocking(move || load_tenant(&owned))
        .await
        .map_err(|e| ServiceError::internal(format!("loading facts panicked: {e}")))??;
    Snapshot::build(facts, tz)
        .await
        .map_err(|e| ServiceError::internal(format!("building the snapshot: {e}")))
}
