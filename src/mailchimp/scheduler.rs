//! Runs syncs when they are due. The schedule lives in the store (`next_run_at`), not in
//! memory, so after a restart the first tick runs every sync that fell due meanwhile.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::client::MailchimpClient;
use super::config::SyncConfig;
use super::plan::SyncInput;
use super::report::{RunReport, SegmentChanges, Trigger};
use super::store::{self, Database, StoreError};
use super::sync::{RunOptions, SyncError, run_sync};

/// The segment side a sync needs: current members, and a way to apply two-way changes.
pub trait SegmentSource: Send + Sync {
    /// The segment's members now, or `None` when the segment no longer exists.
    fn input(&self, segment_id: i64) -> Option<SyncInput>;

    /// Applies membership changes made in Mailchimp to a static segment. On failure (a
    /// message saying why) nothing is lost: the next run returns the same changes again.
    fn apply<'a>(
        &'a self,
        segment_id: i64,
        changes: &'a SegmentChanges,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// Runs a sync with the segment's current members and applies what changed in Mailchimp.
/// Shared by "run now" and the scheduler.
///
/// # Errors
/// [`SyncError::SegmentGone`], or what [`run_sync`] refuses.
pub async fn run_and_apply(
    client: &MailchimpClient,
    db: &dyn Database,
    source: &dyn SegmentSource,
    config: &SyncConfig,
    options: &RunOptions,
) -> Result<RunReport, SyncError> {
    let input = source
        .input(config.segment_id)
        .ok_or(SyncError::SegmentGone {
            sync_id: config.id,
            segment_id: config.segment_id,
        })?;
    let report = run_sync(client, db, config, &input, options).await?;
    let changes = report.details.segment_changes.as_ref();
    if let Some(changes) = changes.filter(|c| !c.is_empty())
        && let Err(error) = source.apply(config.segment_id, changes).await
    {
        tracing::error!(sync_id = config.id, %error, "could not apply Mailchimp changes");
    }
    Ok(report)
}

/// What one tick did with one due sync.
#[derive(Debug)]
pub enum TickOutcome {
    Ran(Box<RunReport>),
    /// Another run holds the lock; the sync stays due.
    Busy {
        sync_id: i64,
    },
    /// The sync could not start; it is postponed by its interval.
    Refused {
        sync_id: i64,
        error: String,
    },
}

/// Runs due syncs, one after the other, on a timer.
pub struct Scheduler {
    client: Arc<MailchimpClient>,
    db: Arc<dyn Database>,
    source: Arc<dyn SegmentSource>,
    stale_lock_after: Duration,
}

impl Scheduler {
    pub fn new(
        client: Arc<MailchimpClient>,
        db: Arc<dyn Database>,
        source: Arc<dyn SegmentSource>,
    ) -> Scheduler {
        Scheduler {
            client,
            db,
            source,
            stale_lock_after: RunOptions::default().stale_lock_after,
        }
    }

    /// Runs every sync due at `now`.
    ///
    /// # Errors
    /// Only when the store cannot list the due syncs.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Vec<TickOutcome>, StoreError> {
        let due = store::due_syncs(&self.db.connection(), now)?;
        let mut outcomes = Vec::with_capacity(due.len());
        for config in due {
            outcomes.push(self.run_one(&config, now).await);
        }
        Ok(outcomes)
    }

    async fn run_one(&self, config: &SyncConfig, now: DateTime<Utc>) -> TickOutcome {
        let options = RunOptions {
            trigger: Trigger::Schedule,
            stale_lock_after: self.stale_lock_after,
        };
        let result = run_and_apply(&self.client, &*self.db, &*self.source, config, &options).await;
        match result {
            Ok(report) => TickOutcome::Ran(Box::new(report)),
            Err(SyncError::Store(StoreError::Busy { sync_id, .. })) => {
                TickOutcome::Busy { sync_id }
            }
            Err(error) => self.refused(config, now, error),
        }
    }

    fn refused(&self, config: &SyncConfig, now: DateTime<Utc>, error: SyncError) -> TickOutcome {
        tracing::warn!(sync_id = config.id, %error, "scheduled Mailchimp sync not run");
        let until = now + chrono::Duration::seconds(config.interval_secs as i64);
        if let Err(store_error) = store::postpone(&self.db.connection(), config.id, until) {
            tracing::error!(sync_id = config.id, %store_error, "could not postpone the sync");
        }
        TickOutcome::Refused {
            sync_id: config.id,
            error: error.to_string(),
        }
    }

    /// Ticks now and then every `every`, until the task is aborted.
    pub fn spawn(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(error) = self.tick(Utc::now()).await {
                    tracing::error!(%error, "Mailchimp scheduler could not read due syncs");
                }
                tokio::time::sleep(every).await;
            }
        })
    }
}
