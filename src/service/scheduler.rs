//! The schedule: refresh every segment each `refresh_interval`, reload the folder each
//! `reload_interval` (when set) and shortly after appends, until shutdown.

use std::future::pending;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{Instant, Interval, MissedTickBehavior, interval_at, sleep};

use super::{APPEND_RELOAD_DELAY, Service};

impl Service {
    /// Starts the schedule on the current runtime; it ends after [`Service::shutdown`].
    pub fn start_scheduler(self: &Arc<Self>) -> JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move { service.schedule().await })
    }

    /// Asks the scheduler to stop; a round already running finishes first.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// A receiver that turns `true` at shutdown, for other tasks to stop with the service.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    async fn schedule(&self) {
        let mut stop = self.shutdown.subscribe();
        let mut refresh = ticks(self.options.refresh_interval);
        let mut reload = self.options.reload_interval.map(ticks);
        tracing::info!(
            refresh_secs = self.options.refresh_interval.as_secs(),
            reload_secs = self.options.reload_interval.map(|d| d.as_secs()),
            "scheduler started"
        );
        while !*stop.borrow() {
            tokio::select! {
                _ = stop.changed() => {}
                _ = refresh.tick() => self.scheduled_refresh().await,
                _ = next_tick(&mut reload) => self.scheduled_reload().await,
                _ = self.appended.notified() => {
                    sleep(APPEND_RELOAD_DELAY).await;
                    self.scheduled_reload().await;
                }
            }
        }
        tracing::info!("scheduler stopped");
    }

    async fn scheduled_refresh(&self) {
        if let Err(error) = self.refresh_all().await {
            tracing::error!(%error, "scheduled refresh failed");
        }
    }

    async fn scheduled_reload(&self) {
        if let Err(error) = self.reload().await {
            tracing::error!(%error, "scheduled reload failed");
        }
    }
}

/// Ticks every `period`, the first one a period from now (open has just refreshed).
fn ticks(period: Duration) -> Interval {
    let period = period.max(Duration::from_millis(1));
    let mut interval = interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

async fn next_tick(interval: &mut Option<Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => pending().await,
    }
}
