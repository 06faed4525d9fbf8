//! The Mailchimp sync over the service: the segment side of a run (members from the published
//! state, two-way changes applied as static member changes), the sync configurations the API
//! manages, runs started by hand, and the scheduler `serve` starts.
//!
//! Invariant: a sync is created or moved to a segment only under the writes lock, after
//! checking that the segment exists, and a segment delete removes its syncs in its own
//! transaction ([`super::modules::on_segment_deleted`]), so no sync outlives its segment.
//! Deleting a sync or its segment never touches Mailchimp: the tag stays on its members.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use rusqlite::Connection;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::catalog::segments::{SegmentKind, SegmentRecord};
use crate::mailchimp::config::{API_KEY_ENV, BASE_URL_ENV, ValidSpec};
use crate::mailchimp::scheduler::{Scheduler, SegmentSource, TickOutcome, run_and_apply};
use crate::mailchimp::store::{self, StoreError};
use crate::mailchimp::{
    Account, ApiKey, ClientOptions, ConfigError, Direction, DryRun, MailchimpClient, NewStatus,
    RunOptions, RunReport, SegmentChanges, SyncConfig, SyncError, SyncInput, SyncSpec, dry_run,
};

use super::error::ServiceError;
use super::views::required;
use super::{SAMPLE_SIZE, Service, now};

/// How often `serve` looks for due syncs.
pub const TICK_EVERY: Duration = Duration::from_secs(60);
/// How long `serve` waits at shutdown for a sync under way to finish.
pub const STOP_WAIT: Duration = Duration::from_secs(30);
/// The most runs one history request returns.
pub const RUNS_LIMIT_MAX: usize = 100;

/// Why a Mailchimp operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum MailchimpError {
    #[error(
        "Mailchimp is not configured: set {API_KEY_ENV} (or `serve --mailchimp-key-file`) \
         and restart the server"
    )]
    NotConfigured,
    #[error("cannot read the Mailchimp API key file {}: {source}", .path.display())]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the Mailchimp API key file {} is empty", .path.display())]
    EmptyKeyFile { path: PathBuf },
    /// A refused account or sync setting; the message names the value.
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(StoreError),
    /// A run that could not start, or a dry run whose Mailchimp read failed.
    #[error(transparent)]
    Sync(SyncError),
    /// The segment side: an unknown segment, or a catalog fault.
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("limit {limit}: expected 1 to {RUNS_LIMIT_MAX}")]
    BadLimit { limit: usize },
    /// A background task failed: a bug.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = MailchimpError> = std::result::Result<T, E>;

impl From<StoreError> for MailchimpError {
    fn from(error: StoreError) -> MailchimpError {
        MailchimpError::Store(error)
    }
}

/// A store error inside a sync error is a store error: one place to match `Busy`.
impl From<SyncError> for MailchimpError {
    fn from(error: SyncError) -> MailchimpError {
        match error {
            SyncError::Store(store) => MailchimpError::Store(store),
            SyncError::NoClient { .. } => MailchimpError::NotConfigured,
            other => MailchimpError::Sync(other),
        }
    }
}

/// Changes to a sync: absent fields stay as they are; none may be `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncPatch {
    #[serde(default, deserialize_with = "required")]
    pub segment_id: Option<i64>,
    #[serde(default, deserialize_with = "required")]
    pub list_id: Option<String>,
    #[serde(default, deserialize_with = "required")]
    pub tag: Option<String>,
    #[serde(default, deserialize_with = "required")]
    pub direction: Option<Direction>,
    #[serde(default, deserialize_with = "required")]
    pub status_if_new: Option<NewStatus>,
    #[serde(default, deserialize_with = "required")]
    pub interval_secs: Option<u64>,
    #[serde(default, deserialize_with = "required")]
    pub enabled: Option<bool>,
}

impl SyncPatch {
    /// The full settings of `config` with this patch applied, to validate as a new spec.
    pub fn apply(self, config: &SyncConfig) -> SyncSpec {
        SyncSpec {
            segment_id: self.segment_id.unwrap_or(config.segment_id),
            list_id: self.list_id.unwrap_or_else(|| config.list_id.clone()),
            tag: self.tag.unwrap_or_else(|| config.tag.clone()),
            direction: self.direction.unwrap_or(config.direction),
            status_if_new: self.status_if_new.unwrap_or(config.status_if_new),
            interval_secs: self.interval_secs.unwrap_or(config.interval_secs),
            enabled: self.enabled.unwrap_or(config.enabled),
        }
    }
}

/// The segment side of a sync run.
impl SegmentSource for Service {
    /// The published members of the segment; `None` when it is gone or has no published
    /// membership yet (sending an empty one would untag everyone).
    fn input(&self, segment_id: i64) -> Option<SyncInput> {
        let record = self.sync_record(segment_id)?;
        let state = self.state();
        let Some(membership) = state.membership(segment_id) else {
            tracing::warn!(segment_id, "segment has no published membership to sync");
            return None;
        };
        let is_static = record.kind == SegmentKind::Static;
        let input = SyncInput::from_snapshot(&state.snapshot, &membership.members, is_static);
        Some(input)
    }

    fn apply<'a>(
        &'a self,
        segment_id: i64,
        changes: &'a SegmentChanges,
    ) -> BoxFuture<'a, std::result::Result<(), String>> {
        Box::pin(async move {
            self.apply_changes(segment_id, changes)
                .await
                .map_err(|error| error.to_string())
        })
    }
}

impl Service {
    /// The segment a sync reads, or `None` (logged when the catalog failed).
    fn sync_record(&self, segment_id: i64) -> Option<SegmentRecord> {
        match self.record(segment_id) {
            Ok(record) => Some(record),
            Err(ServiceError::NotFound { .. }) => None,
            Err(error) => {
                tracing::error!(segment_id, %error, "cannot read the segment of a sync");
                None
            }
        }
    }

    /// Adds and removes the static members a two-way run found changed in Mailchimp.
    async fn apply_changes(&self, segment_id: i64, changes: &SegmentChanges) -> Result<()> {
        if !changes.add.is_empty() {
            let added = self.add_members(segment_id, &changes.add).await?;
            let missing = added.unknown.len() + added.deleted.len();
            tracing::info!(
                segment_id,
                added = added.added,
                missing,
                "joined in Mailchimp"
            );
        }
        if !changes.remove.is_empty() {
            let removed = self.remove_members(segment_id, &changes.remove).await?;
            tracing::info!(segment_id, removed = removed.removed, "left in Mailchimp");
        }
        Ok(())
    }
}

/// The Mailchimp sync of one tenant: its configurations, runs and scheduler.
pub struct MailchimpRuntime {
    service: Arc<Service>,
    /// A connection of its own to the catalog file, for the sync's tables.
    db: Arc<Mutex<Connection>>,
    /// `None` when no API key is configured: syncs can be set up, not run.
    client: Option<Arc<MailchimpClient>>,
}

impl std::fmt::Debug for MailchimpRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailchimpRuntime")
            .field("configured", &self.is_configured())
            .finish_non_exhaustive()
    }
}

impl MailchimpRuntime {
    /// The sync of `service`'s tenant, talking to Mailchimp through `client` when given.
    ///
    /// # Errors
    /// The catalog file cannot be opened.
    pub fn open(service: Arc<Service>, client: Option<MailchimpClient>) -> Result<Self> {
        let conn = store::open(service.catalog().path())?;
        Ok(MailchimpRuntime {
            service,
            db: Arc::new(Mutex::new(conn)),
            client: client.map(Arc::new),
        })
    }

    /// The client `serve` syncs with: the account from [`account_from`] over the process
    /// environment, with the client's default limits; `None` without a key. Read before
    /// the tenant is opened, so a bad key refuses the start before anything is written.
    ///
    /// # Errors
    /// An unreadable or empty key file, a malformed key or base URL.
    pub fn client_from_env(key_file: Option<&Path>) -> Result<Option<MailchimpClient>> {
        let account = account_from(key_file, |name| std::env::var(name).ok())?;
        let client = account.map(|a| MailchimpClient::new(a, ClientOptions::default()));
        Ok(client.transpose().map_err(SyncError::Api)?)
    }

    /// The runtime `serve` starts, with the client of [`Self::client_from_env`]. Logs
    /// whether Mailchimp is configured.
    ///
    /// # Errors
    /// An unopenable catalog.
    pub fn start(service: Arc<Service>, client: Option<MailchimpClient>) -> Result<Self> {
        let runtime = MailchimpRuntime::open(service, client)?;
        if runtime.is_configured() {
            tracing::info!(
                tick_secs = TICK_EVERY.as_secs(),
                "Mailchimp sync configured"
            );
        } else {
            tracing::info!("Mailchimp not configured: syncs can be set up but not run");
        }
        Ok(runtime)
    }

    /// Whether an API key is configured, so syncs can run.
    pub fn is_configured(&self) -> bool {
        self.client.is_some()
    }

    fn client(&self) -> Result<Arc<MailchimpClient>> {
        self.client.clone().ok_or(MailchimpError::NotConfigured)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every sync by id, or those of one segment.
    ///
    /// # Errors
    /// A store fault.
    pub fn syncs(&self, segment_id: Option<i64>) -> Result<Vec<SyncConfig>> {
        let conn = self.conn();
        let syncs = match segment_id {
            Some(id) => store::syncs_of_segment(&conn, id)?,
            None => store::list_syncs(&conn)?,
        };
        Ok(syncs)
    }

    /// # Errors
    /// [`StoreError::NotFound`].
    pub fn sync(&self, id: i64) -> Result<SyncConfig> {
        Ok(store::get_sync(&self.conn(), id)?)
    }

    /// Stores a new sync of an existing segment, due at once.
    ///
    /// # Errors
    /// An unknown segment, a refused setting (two-way on a dynamic segment among them) or
    /// [`StoreError::TagTaken`].
    pub async fn create_sync(&self, spec: SyncSpec) -> Result<SyncConfig> {
        let _writes = self.service.writes.lock().await;
        let valid = self.validate(spec)?;
        let config = store::create_sync(&self.conn(), &valid, now())?;
        tracing::info!(
            sync_id = config.id,
            segment_id = config.segment_id,
            "sync created"
        );
        Ok(config)
    }

    /// Changes a sync's settings; the result is checked as a new sync would be.
    ///
    /// # Errors
    /// As [`MailchimpRuntime::create_sync`], plus [`StoreError::NotFound`].
    pub async fn update_sync(&self, id: i64, patch: SyncPatch) -> Result<SyncConfig> {
        let _writes = self.service.writes.lock().await;
        let spec = patch.apply(&self.sync(id)?);
        let valid = self.validate(spec)?;
        let config = store::update_sync(&self.conn(), id, &valid, now())?;
        tracing::info!(sync_id = id, "sync changed");
        Ok(config)
    }

    /// Checks `spec` against its segment, which must exist.
    fn validate(&self, spec: SyncSpec) -> Result<ValidSpec> {
        let record = self.service.record(spec.segment_id)?;
        Ok(spec.validate(record.kind == SegmentKind::Static)?)
    }

    /// Deletes a sync with its state and history; Mailchimp keeps the tag.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    // TODO: a run under way is not waited for: it loses its lock at its next state write and
    // ends failed. Refusing with "already running" needs the store to say who holds the lock.
    pub fn delete_sync(&self, id: i64) -> Result<()> {
        store::delete_sync(&self.conn(), id)?;
        tracing::info!(sync_id = id, "sync deleted");
        Ok(())
    }

    /// The latest `limit` runs of a sync, newest first.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or a limit of 0 or over [`RUNS_LIMIT_MAX`].
    pub fn runs(&self, id: i64, limit: usize) -> Result<Vec<RunReport>> {
        if limit == 0 || limit > RUNS_LIMIT_MAX {
            return Err(MailchimpError::BadLimit { limit });
        }
        let conn = self.conn();
        store::get_sync(&conn, id)?;
        Ok(store::runs(&conn, id, limit)?)
    }

    /// Runs a sync now and applies what changed in Mailchimp. The run is a task of its own,
    /// so a caller that stops waiting (a request timeout) does not cut it off half-way.
    ///
    /// # Errors
    /// [`MailchimpError::NotConfigured`], [`StoreError::NotFound`], [`StoreError::Busy`]
    /// while another run holds the sync, or a run that cannot start.
    pub async fn run_now(&self, id: i64) -> Result<RunReport> {
        let config = self.sync(id)?;
        let client = self.client()?;
        let db = Arc::clone(&self.db);
        let source = Arc::clone(&self.service);
        let task = tokio::spawn(async move {
            let options = RunOptions::default();
            run_and_apply(&client, &*db, &*source, &config, &options).await
        });
        let joined = task.await;
        let report = joined.map_err(|e| MailchimpError::Internal(format!("sync {id}: {e}")))?;
        Ok(report?)
    }

    /// What a run of the sync would send now, without sending it.
    ///
    /// A one-way dry run makes no request, so it answers without a configured account.
    ///
    /// # Errors
    /// As [`MailchimpRuntime::run_now`]; a two-way dry run also fails when Mailchimp does.
    pub async fn dry_run(&self, id: i64) -> Result<DryRun> {
        let config = self.sync(id)?;
        let client = match config.direction {
            Direction::OneWay => None,
            Direction::TwoWay => Some(self.client()?),
        };
        let input = self
            .service
            .input(config.segment_id)
            .ok_or(SyncError::SegmentGone {
                sync_id: id,
                segment_id: config.segment_id,
            })?;
        let planned = dry_run(client.as_deref(), &*self.db, &config, &input, SAMPLE_SIZE).await?;
        Ok(planned)
    }

    /// Starts the scheduler: a tick at once (syncs that fell due while the server was down
    /// run now), then one every `every`, until [`Service::shutdown`]. A tick under way
    /// finishes first. `None` when Mailchimp is not configured.
    pub fn start_scheduler(&self, every: Duration) -> Option<JoinHandle<()>> {
        let client = self.client.clone()?;
        let db = Arc::clone(&self.db);
        let source: Arc<Service> = Arc::clone(&self.service);
        let scheduler = Scheduler::new(client, db, source);
        let stop = self.service.shutdown_signal();
        Some(tokio::spawn(schedule(scheduler, every, stop)))
    }
}

/// Waits up to `wait` for a scheduler stopping after [`Service::shutdown`] to finish its
/// tick, then aborts it. A run cut off that way resumes from what Mailchimp confirmed, once
/// its lock goes stale (10 minutes).
pub async fn stop_scheduler(mut handle: JoinHandle<()>, wait: Duration) {
    match tokio::time::timeout(wait, &mut handle).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "the Mailchimp scheduler ended abnormally"),
        Err(_) => {
            handle.abort();
            tracing::warn!(
                wait_secs = wait.as_secs(),
                "Mailchimp sync cut off at shutdown"
            );
        }
    }
}

async fn schedule(scheduler: Scheduler, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(every.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tracing::info!(every_secs = every.as_secs(), "Mailchimp scheduler started");
    while !*stop.borrow() {
        tokio::select! {
            changed = stop.changed() => if changed.is_err() { break },
            _ = ticks.tick() => tick(&scheduler).await,
        }
    }
    tracing::info!("Mailchimp scheduler stopped");
}

/// Runs the due syncs and says, in one line, what happened to them.
async fn tick(scheduler: &Scheduler) {
    let outcomes = match scheduler.tick(Utc::now()).await {
        Ok(outcomes) => outcomes,
        Err(error) => {
            tracing::error!(%error, "Mailchimp scheduler cannot read the due syncs");
            return;
        }
    };
    if outcomes.is_empty() {
        return;
    }
    let count = |f: fn(&TickOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    tracing::info!(
        ran = count(|o| matches!(o, TickOutcome::Ran(_))),
        busy = count(|o| matches!(o, TickOutcome::Busy { .. })),
        refused = count(|o| matches!(o, TickOutcome::Refused { .. })),
        "due Mailchimp syncs handled"
    );
}

/// Removes the syncs of a deleted segment with their state and history, inside the caller's
/// transaction (`store::delete_sync` opens its own). Returns how many syncs there were.
pub(super) fn delete_segment_syncs(conn: &Connection, segment_id: i64) -> rusqlite::Result<usize> {
    let of_segment = "SELECT id FROM mailchimp_syncs WHERE segment_id = ?1";
    for table in ["mailchimp_members", "mailchimp_runs"] {
        let sql = format!("DELETE FROM {table} WHERE sync_id IN ({of_segment})");
        conn.execute(&sql, [segment_id])?;
    }
    conn.execute(
        "DELETE FROM mailchimp_syncs WHERE segment_id = ?1",
        [segment_id],
    )
}

/// The account `serve` syncs with: the key from `key_file` when given, else from
/// [`API_KEY_ENV`]; the base URL from [`BASE_URL_ENV`] when set. `None` without a key.
/// `env` reads an environment variable.
///
/// # Errors
/// An unreadable key file, a malformed key or base URL.
pub fn account_from(
    key_file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Account>> {
    let key = match key_file {
        Some(path) => Some(read_key(path)?),
        None => env(API_KEY_ENV).filter(|key| !key.trim().is_empty()),
    };
    let Some(key) = key else {
        return Ok(None);
    };
    let account = Account::new(ApiKey::new(&key)?)?;
    let account = match env(BASE_URL_ENV).filter(|url| !url.trim().is_empty()) {
        Some(url) => account.with_base_url(&url)?,
        None => account,
    };
    Ok(Some(account))
}

fn read_key(path: &Path) -> Result<String> {
    let key = std::fs::read_to_string(path).map_err(|source| MailchimpError::KeyFile {
        path: path.to_path_buf(),
        source,
    })?;
    if key.trim().is_empty() {
        let path = path.to_path_buf();
        return Err(MailchimpError::EmptyKeyFile { path });
    }
    Ok(key)
}

#[cfg(test)]
pub(crate) mod tests {
    //! A tiny tenant, shared with the API's Mailchimp tests, and the runtime against the fake.

    use std::time::Instant;

    use serde_json::json;
    use tempfile::TempDir;

    use super::*;
    use crate::catalog::members;
    use crate::facts::builder::write_tenant;
    use crate::facts::builder::{ClientRow, FactsBuilder};
    use crate::facts::write::write_tenant_settings;
    use crate::mailchimp::Trigger;
    use crate::mailchimp::fake::FakeMailchimp;
    use crate::service::{NewSegment, ServiceOptions};

    pub(crate) const KEY: &str = "0123456789abcdef0123456789abcdef-us21";
    pub(crate) const LIST: &str = "aud1";

    /// Clients 1 (DE), 2 (DE) and 3 (US) with `c<id>@example.com`; 4 (DE) has no e-mail.
    pub(crate) async fn tenant() -> (TempDir, Arc<Service>) {
        let client = |id: i64, country: &str, email: bool| ClientRow {
            country: Some(country.into()),
            email: email.then(|| format!("c{id}@example.com")),
            ..ClientRow::new(id)
        };
        let facts = FactsBuilder::new()
            .client(client(1, "DE", true))
            .client(client(2, "DE", true))
            .client(client(3, "US", true))
            .client(client(4, "DE", false))
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_tenant(&facts, dir.path()).unwrap();
        write_tenant_settings(dir.path(), "UTC").unwrap();
        let service = Service::open(ServiceOptions::new(dir.path())).await;
        (dir, service.unwrap())
    }

    /// A static segment "Listed" holding clients 1 and 2, and a dynamic "Germany" (country
    /// DE: clients 1, 2 and 4); their ids.
    pub(crate) async fn segments(service: &Service) -> (i64, i64) {
        let new = |name: &str, kind, rule| NewSegment {
            name: name.into(),
            description: None,
            colour: None,
            kind,
            rule,
            tier: None,
        };
        let listed = service.create_segment(new("Listed", SegmentKind::Static, None));
        let listed = listed.await.unwrap().id;
        service.add_members(listed, &[1, 2]).await.unwrap();
        let rule = json!({"field": "country", "op": "is", "value": "DE"});
        let germany = new("Germany", SegmentKind::Dynamic, Some(rule));
        let germany = service.create_segment(germany).await.unwrap().id;
        (listed, germany)
    }

    /// A client of the fake.
    pub(crate) fn client_for(fake: &FakeMailchimp) -> MailchimpClient {
        let account = Account::new(ApiKey::new(KEY).unwrap()).unwrap();
        let account = account.with_base_url(fake.base_url()).unwrap();
        MailchimpClient::new(account, ClientOptions::default()).unwrap()
    }

    fn spec(segment_id: i64, tag: &str, direction: Direction) -> SyncSpec {
        let spec = json!({"segment_id": segment_id, "list_id": LIST, "tag": tag});
        SyncSpec {
            direction,
            ..serde_json::from_value(spec).unwrap()
        }
    }

    fn ids(members: &[crate::mailchimp::MemberInfo]) -> Vec<i64> {
        members.iter().map(|m| m.client_id).collect()
    }

    #[tokio::test]
    async fn the_input_is_the_published_membership() {
        let (_dir, service) = tenant().await;
        let (listed, germany) = segments(&service).await;

        let input = service.input(listed).unwrap();
        assert_eq!(ids(&input.members), [1, 2]);
        assert_eq!(input.members[1].email.as_deref(), Some("c2@example.com"));
        assert!(input.segment_is_static);
        assert_eq!(
            ids(&input.directory),
            [1, 2, 3, 4],
            "two-way matches every client"
        );

        let input = service.input(germany).unwrap();
        assert_eq!(ids(&input.members), [1, 2, 4]);
        assert_eq!(input.members[2].email, None);
        assert!(!input.segment_is_static && input.directory.is_empty());
        assert!(service.input(99).is_none());
    }

    #[tokio::test]
    async fn changes_made_in_mailchimp_land_in_the_catalog() {
        let fake = FakeMailchimp::start(KEY).await;
        fake.add_list(LIST);
        fake.put_member(LIST, "c3@example.com", "subscribed");
        fake.tag_by_hand(LIST, "Listed", "c3@example.com");
        let (_dir, service) = tenant().await;
        let (listed, _) = segments(&service).await;
        let runtime = MailchimpRuntime::open(Arc::clone(&service), Some(client_for(&fake)));
        let runtime = runtime.unwrap();
        let sync = spec(listed, "Listed", Direction::TwoWay);
        let sync = runtime.create_sync(sync).await.unwrap();

        let report = runtime.run_now(sync.id).await.unwrap();
        let joined = SegmentChanges {
            add: vec![3],
            remove: vec![],
        };
        assert_eq!(report.details.segment_changes, Some(joined));
        assert_eq!(service.state().member_ids(listed), [1, 2, 3]);
        let stored = service.catalog().with_conn(|c| members::ids(c, listed));
        assert_eq!(stored.unwrap(), [1, 2, 3]);
        let tagged = ["c1@example.com", "c2@example.com", "c3@example.com"];
        assert_eq!(fake.tagged(LIST, "Listed"), tagged);

        fake.untag_by_hand(LIST, "Listed", "c1@example.com");
        runtime.run_now(sync.id).await.unwrap();
        assert_eq!(service.state().member_ids(listed), [2, 3]);
    }

    #[tokio::test]
    async fn the_scheduler_runs_due_syncs_at_start_and_stops_on_shutdown() {
        let fake = FakeMailchimp::start(KEY).await;
        fake.add_list(LIST);
        let (_dir, service) = tenant().await;
        let (listed, germany) = segments(&service).await;
        let unconfigured = MailchimpRuntime::open(Arc::clone(&service), None).unwrap();
        assert!(unconfigured.start_scheduler(TICK_EVERY).is_none());
        let runtime = MailchimpRuntime::open(Arc::clone(&service), Some(client_for(&fake)));
        let runtime = runtime.unwrap();
        let one = runtime.create_sync(spec(listed, "Listed", Direction::OneWay));
        let one = one.await.unwrap();
        let two = runtime.create_sync(spec(germany, "Germany", Direction::OneWay));
        let two = two.await.unwrap();

        let handle = runtime.start_scheduler(Duration::from_secs(3_600)).unwrap();
        let started = Instant::now();
        let finished = |id| runtime.runs(id, 1).unwrap().first()?.finished_at;
        while finished(one.id).is_none() || finished(two.id).is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no scheduled run"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        service.shutdown();
        let stopped = tokio::time::timeout(Duration::from_secs(5), handle).await;
        stopped.expect("the scheduler stops").unwrap();

        assert_eq!(
            fake.tagged(LIST, "Listed"),
            ["c1@example.com", "c2@example.com"]
        );
        assert_eq!(
            fake.tagged(LIST, "Germany"),
            ["c1@example.com", "c2@example.com"]
        );
        let run = runtime.runs(one.id, 10).unwrap();
        assert_eq!((run.len(), run[0].trigger), (1, Trigger::Schedule));
    }

    #[track_caller]
    fn check_account(
        key_file: Option<&Path>,
        env: &[(&str, &str)],
        expected: Result<Option<&str>, &str>,
    ) {
        let read = |name: &str| {
            let found = env.iter().find(|(n, _)| *n == name);
            found.map(|(_, value)| value.to_string())
        };
        let got = account_from(key_file, read);
        let got = got
            .map(|a| a.map(|a| a.base_url))
            .map_err(|e| e.to_string());
        let expected = expected.map(|url| url.map(String::from));
        assert_eq!(got, expected.map_err(String::from), "{env:?}");
    }

    #[test]
    fn the_account_comes_from_the_key_file_or_the_environment() {
        let (key, url) = (API_KEY_ENV, BASE_URL_ENV);
        let us21 = "https://us21.api.mailchimp.com/3.0";
        check_account(None, &[], Ok(None));
        check_account(None, &[(key, "  ")], Ok(None));
        check_account(None, &[(key, "k-us21")], Ok(Some(us21)));
        let local = [(key, "k-us21"), (url, "http://127.0.0.1:9/3.0/")];
        check_account(None, &local, Ok(Some("http://127.0.0.1:9/3.0")));
        let no_dc = "the Mailchimp API key has no data-centre suffix such as `-us21`";
        check_account(None, &[(key, "k")], Err(no_dc));
        let ftp = [(key, "k-us21"), (url, "ftp://x")];
        check_account(
            None,
            &ftp,
            Err("base URL \"ftp://x\" is not an http(s) URL"),
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mailchimp.key");
        std::fs::write(&file, "  f-us6\n").unwrap();
        let us6 = "https://us6.api.mailchimp.com/3.0";
        check_account(Some(&file), &[(key, "k-us21")], Ok(Some(us6)));
        let missing = dir.path().join("missing.key");
        let got = account_from(Some(&missing), |_| None)
            .unwrap_err()
            .to_string();
        let expected = format!(
            "cannot read the Mailchimp API key file {}",
            missing.display()
        );
        assert!(got.starts_with(&expected), "{got}");
        let empty = dir.path().join("empty.key");
        std::fs::write(&empty, " \n").unwrap();
        let message = format!("the Mailchimp API key file {} is empty", empty.display());
        check_account(Some(&empty), &[(key, "k-us21")], Err(&message));
    }
}
