//! Counters of the runtime: refresh rounds, their durations, segment sizes, reloads and
//! appends. Cheap to update (atomics, one short lock), read as a [`MetricsReport`] that the
//! API renders at `/metrics`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// How many recent refresh durations are kept.
pub const RECENT_MAX: usize = 64;

/// The runtime's counters.
#[derive(Debug, Default)]
pub struct ServiceMetrics {
    rounds: AtomicU64,
    rounds_ms_total: AtomicU64,
    segments_refreshed: AtomicU64,
    segments_stale: AtomicU64,
    segments_failed: AtomicU64,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    rows_appended: AtomicU64,
    recent: Mutex<Recent>,
}

#[derive(Debug, Default)]
struct Recent {
    /// The last [`RECENT_MAX`] round durations, oldest first.
    rounds_ms: VecDeque<u64>,
    /// Members per segment at its last published refresh.
    sizes: BTreeMap<i64, u64>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MetricsReport {
    pub refresh_rounds: u64,
    pub refresh_rounds_ms_total: u64,
    pub segments_refreshed: u64,
    pub segments_stale: u64,
    pub segments_failed: u64,
    pub reloads: u64,
    pub reload_failures: u64,
    pub rows_appended: u64,
    /// The last round durations, oldest first.
    pub recent_rounds_ms: Vec<u64>,
    /// Members per segment at its last refresh, by segment id.
    pub segment_sizes: BTreeMap<i64, u64>,
}

impl ServiceMetrics {
    /// Counts one refresh round and its outcome per segment.
    pub fn record_round(&self, elapsed: Duration, refreshed: u64, stale: u64, failed: u64) {
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.rounds.fetch_add(1, Ordering::Relaxed);
        self.rounds_ms_total.fetch_add(ms, Ordering::Relaxed);
        self.segments_refreshed
            .fetch_add(refreshed, Ordering::Relaxed);
        self.segments_stale.fetch_add(stale, Ordering::Relaxed);
        self.segments_failed.fetch_add(failed, Ordering::Relaxed);
        let mut recent = self.recent();
        if recent.rounds_ms.len() == RECENT_MAX {
            recent.rounds_ms.pop_front();
        }
        recent.rounds_ms.push_back(ms);
    }

    /// Records a segment's size after a published refresh.
    pub fn record_size(&self, segment_id: i64, members: u64) {
        self.recent().sizes.insert(segment_id, members);
    }

    pub fn forget_segment(&self, segment_id: i64) {
        self.recent().sizes.remove(&segment_id);
    }

    pub fn record_reload(&self, ok: bool) {
        let counter = if ok {
            &self.reloads
        } else {
            &self.reload_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_append(&self, rows: u64) {
        self.rows_appended.fetch_add(rows, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn report(&self) -> MetricsReport {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let recent = self.recent();
        MetricsReport {
            refresh_rounds: load(&self.rounds),
            refresh_rounds_ms_total: load(&self.rounds_ms_total),
            segments_refreshed: load(&self.segments_refreshed),
            segments_stale: load(&self.segments_stale),
            segments_failed: load(&self.segments_failed),
            reloads: load(&self.reloads),
            reload_failures: load(&self.reload_failures),
            rows_appended: load(&self.rows_appended),
            recent_rounds_ms: recent.rounds_ms.iter().copied().collect(),
            segment_sizes: recent.sizes.clone(),
        }
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }
}
