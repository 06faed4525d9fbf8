//! The runtime of one tenant: the published snapshot and memberships, the catalog, and every
//! operation on segments, members, history, clients and facts.
//!
//! # Concurrency
//! Readers call [`Service::state`] and get an `Arc<TenantState>`: one snapshot with the
//! memberships computed on it. Nothing a reader holds ever changes; writers build a new state
//! and swap it in under a lock held only for the pointer swap, so readers never wait for a
//! refresh and never see half of one.
//!
//! Every write that changes what is published (segment saves, member changes, refresh
//! publications, reloads) runs under one async lock, the *writes lock*, and in one catalog
//! transaction. A save evaluates its rule under that lock and publishes the new membership
//! with the rule in the same step. A refresh round evaluates outside the lock, then takes it
//! to publish; there it drops every result computed from a rule version (or static list)
//! that changed while it ran, and results that read such a segment (CASES H12).
//!
//! # Appends
//! [`Service::append`] writes a new Parquet part into the tenant folder and syncs it before
//! answering. The rows become visible at the next reload: the scheduler reloads soon after
//! an append (after [`APPEND_RELOAD_DELAY`], so a burst of appends costs one reload), and
//! [`Service::refresh_all`] reloads first whenever rows were appended since the last load.

mod append;
mod client;
mod compute;
mod dashboard;
mod error;
mod graph;
mod history;
mod import;
pub mod mailchimp;
mod members;
pub mod metrics;
mod modules;
mod preview;
mod reload;
mod round;
mod scheduler;
mod seed;
mod segments;
mod state;
mod validate;
mod views;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::{Mutex, Notify, watch};

use crate::catalog::{self, Catalog};

pub use crate::catalog::history::{HistoryChanges, HistoryEntry};
pub use crate::catalog::segments::SegmentKind;
pub use append::{AppendReport, AppendTable};
pub use client::{
    ClientMetricsView, ClientProfile, ClientSegment, ClientView, CustomFieldValue, NodeCheck,
};
pub use dashboard::{Dashboard, DashboardAnswer};
pub use error::{Result, ServiceError};
pub use metrics::{MetricsReport, ServiceMetrics};
pub use modules::SegmentRemoval;
pub use state::{Membership, TenantState};
pub use validate::{NAME_CHARS_MAX, TIERS};
pub use views::{
    ImportSummary, MemberChange, MemberRow, MembersPage, NewSegment, Preview, RefreshFailure,
    RefreshReport, ReloadReport, SampleMember, SegmentPatch, SegmentView,
};

/// How many members a preview shows.
pub const SAMPLE_SIZE: usize = 20;
/// The largest page of members.
pub const PAGE_LIMIT_MAX: usize = 1_000;
/// How often dynamic segments are refreshed unless told otherwise.
pub const REFRESH_INTERVAL_DEFAULT: Duration = Duration::from_secs(3_600);
/// How long the scheduler waits after an append before reloading.
pub const APPEND_RELOAD_DELAY: Duration = Duration::from_secs(2);

/// How a tenant's service runs.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// The tenant folder: facts, `tenant.json`, and the catalog file.
    pub data_dir: PathBuf,
    /// The tenant's zone; `None` reads `tenant.json` (`time_zone`), else UTC.
    pub tz: Option<Tz>,
    pub refresh_interval: Duration,
    /// Reload the facts on this schedule too; `None` reloads only on demand.
    pub reload_interval: Option<Duration>,
}

impl ServiceOptions {
    /// Defaults for a tenant folder: zone from `tenant.json`, hourly refresh, no reloads.
    pub fn new(data_dir: impl Into<PathBuf>) -> ServiceOptions {
        ServiceOptions {
            data_dir: data_dir.into(),
            tz: None,
            refresh_interval: REFRESH_INTERVAL_DEFAULT,
            reload_interval: None,
        }
    }
}

/// One tenant's runtime, shared as `Arc<Service>`.
pub struct Service {
    options: ServiceOptions,
    catalog: Catalog,
    state: RwLock<Arc<TenantState>>,
    /// The writes lock: every change of what is published happens under it.
    writes: Mutex<round::EditLog>,
    /// One refresh round at a time.
    rounds: Mutex<()>,
    /// One reload at a time.
    reloads: Mutex<()>,
    appends: Mutex<append::Pending>,
    appended: Notify,
    shutdown: watch::Sender<bool>,
    metrics: ServiceMetrics,
    dashboard: dashboard::DashboardCache,
    #[cfg(test)]
    gate: std::sync::Mutex<Option<round::Gate>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("data_dir", &self.options.data_dir)
            .field("snapshot", &self.state().snapshot)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Loads the facts, opens the catalog and evaluates every segment.
    ///
    /// # Errors
    /// Bad facts or settings in the folder, or a catalog that cannot be opened.
    pub async fn open(options: ServiceOptions) -> Result<Arc<Service>> {
        let reports = reload::load_views(&options.data_dir, options.tz).await?;
        let path = options.data_dir.join(catalog::FILE_NAME);
        let catalog = Catalog::open(&path, &modules::migrations())?;
        let stored = catalog.with_conn(catalog::history::last_members_all)?;
        let state = TenantState {
            snapshot: Arc::clone(reports.snapshot()),
            reports,
            memberships: HashMap::new(),
        };
        let service = Arc::new(Service {
            options,
            catalog,
            state: RwLock::new(Arc::new(state)),
            writes: Mutex::new(round::EditLog::default()),
            rounds: Mutex::new(()),
            reloads: Mutex::new(()),
            appends: Mutex::new(append::Pending::default()),
            appended: Notify::new(),
            shutdown: watch::channel(false).0,
            metrics: ServiceMetrics::default(),
            dashboard: dashboard::DashboardCache::default(),
            #[cfg(test)]
            gate: std::sync::Mutex::new(None),
        });
        service.run_round(None, stored).await?;
        Ok(service)
    }

    /// The published state. Never waits for a refresh.
    pub fn state(&self) -> Arc<TenantState> {
        Arc::clone(&self.state.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn metrics(&self) -> &ServiceMetrics {
        &self.metrics
    }

    pub fn options(&self) -> &ServiceOptions {
        &self.options
    }

    pub fn data_dir(&self) -> &Path {
        &self.options.data_dir
    }

    /// Publishes a new state.
    fn swap(&self, state: TenantState) {
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(state);
    }
}

/// Now, truncated to the microsecond: the catalog's precision, so an instant handed out
/// (a refresh time) finds its row again.
pub(crate) fn now() -> DateTime<Utc> {
    catalog::from_micros(catalog::to_micros(Utc::now()))
}

fn elapsed_ms(started: std::time::Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
