//! Publishing: refresh rounds that compute outside the writes lock and publish under it,
//! edits that compute and publish under it, and the check that keeps stale results out.
//!
//! Invariant: a membership is published only if, under the writes lock, nothing it was
//! computed from changed since its computation began: not its rule version, not its static
//! list, not any segment it reads. Every edit bumps the [`EditLog`] of the segments it
//! publishes, so a round compares its starting sequence number with theirs (CASES H12).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration as Days, Utc};
use roaring::RoaringBitmap;
use rusqlite::Transaction;

use crate::catalog::segments::SegmentRecord;
use crate::catalog::{self, history, members, segments};
use crate::eval::SegmentLookup;
use crate::reports::ReportFacts;
use crate::snapshot::Snapshot;

use super::compute::{Computed, Job, carry_over, compute, refresh_record};
use super::error::{Result, ServiceError};
use super::graph::Graph;
use super::state::{Membership, TenantState, live_positions};
use super::views::{RefreshFailure, RefreshReport};
use super::{Service, elapsed_ms, now};

/// Which segments edits published, and when, in a sequence private to the writes lock.
#[derive(Debug, Default)]
pub(super) struct EditLog {
    seq: u64,
    last: HashMap<i64, u64>,
}

impl EditLog {
    /// Notes that an edit published (or deleted) these segments.
    pub fn touch(&mut self, ids: impl IntoIterator<Item = i64>) {
        self.seq += 1;
        for id in ids {
            self.last.insert(id, self.seq);
        }
    }

    fn edited_since(&self, id: i64, seq: u64) -> bool {
        self.last.get(&id).is_some_and(|at| *at > seq)
    }
}

/// A pause between computing and publishing a round, so a test can edit in between.
#[cfg(test)]
pub(super) struct Gate {
    pub reached: tokio::sync::oneshot::Sender<()>,
    pub proceed: tokio::sync::oneshot::Receiver<()>,
}

/// Memberships a computation reads for segments it does not compute: `overlay` first, then
/// the published `state` (which must be on the same snapshot).
#[derive(Debug, Clone, Default)]
pub(super) struct Prior {
    pub overlay: HashMap<i64, Arc<RoaringBitmap>>,
    pub state: Option<Arc<TenantState>>,
}

impl SegmentLookup for Prior {
    fn members(&self, segment_id: i64) -> Option<Arc<RoaringBitmap>> {
        let overlay = self.overlay.get(&segment_id).cloned();
        overlay.or_else(|| self.state.as_ref()?.members(segment_id))
    }
}

/// What a round computes from, read under the writes lock so that it is consistent.
struct RoundInput {
    /// The edit sequence when the input was read.
    seq: u64,
    snapshot: Arc<Snapshot>,
    /// The report views of `snapshot`.
    reports: Arc<ReportFacts>,
    new_snapshot: bool,
    jobs: Vec<Job>,
    /// Every segment's previous members carried onto `snapshot`.
    prior: Prior,
    /// Last members stored in the catalog, for segments not yet published (at open).
    stored: HashMap<i64, Vec<i64>>,
}

impl Service {
    /// Refreshes every segment on the published snapshot, or on `fresh` (a reload's new
    /// snapshot, with its views). `stored` holds catalog memberships for segments not
    /// published yet.
    pub(super) async fn run_round(
        &self,
        fresh: Option<Arc<ReportFacts>>,
        stored: HashMap<i64, Vec<i64>>,
    ) -> Result<RefreshReport> {
        let _one_round = self.rounds.lock().await;
        let started = Instant::now();
        let as_of = now();
        let input = self.round_input(fresh, stored).await?;
        let computed = compute_blocking(
            Arc::clone(&input.snapshot),
            input.jobs.clone(),
            input.prior.clone(),
            as_of,
        )
        .await?;
        self.pass_gate().await;
        let mut log = self.writes.lock().await;
        self.publish_round(&mut log, input, computed, as_of, started)
    }

    async fn round_input(
        &self,
        fresh: Option<Arc<ReportFacts>>,
        stored: HashMap<i64, Vec<i64>>,
    ) -> Result<RoundInput> {
        let log = self.writes.lock().await;
        let base = self.state();
        let jobs = self.stored_jobs(None)?;
        let reports = fresh.clone().unwrap_or_else(|| Arc::clone(&base.reports));
        let snapshot = Arc::clone(reports.snapshot());
        let prior = Prior {
            overlay: carried_prior(&base, &stored, &snapshot),
            state: None,
        };
        Ok(RoundInput {
            seq: log.seq,
            snapshot,
            reports,
            new_snapshot: fresh.is_some(),
            jobs,
            prior,
            stored,
        })
    }

    #[cfg(test)]
    async fn pass_gate(&self) {
        let gate = self.gate.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(gate) = gate {
            let _ = gate.reached.send(());
            let _ = gate.proceed.await;
        }
    }

    #[cfg(not(test))]
    async fn pass_gate(&self) {}

    /// Publishes what is still fresh of a round, under the writes lock.
    fn publish_round(
        &self,
        log: &mut EditLog,
        input: RoundInput,
        computed: Vec<Computed>,
        as_of: DateTime<Utc>,
        started: Instant,
    ) -> Result<RefreshReport> {
        let current = self.state();
        let same = Arc::ptr_eq(&current.snapshot, &input.snapshot);
        let mut report = RefreshReport::default();
        if !same && !input.new_snapshot {
            // A reload published a newer snapshot meanwhile, with its own refresh.
            report.stale = computed.iter().map(|c| c.segment_id).collect();
            return Ok(self.finish_report(report, started));
        }
        let (records, graph) = self.catalog.with_conn(|conn| {
            let refs = segments::refs(conn)?;
            Ok((segments::list(conn)?, Graph::from_edges(&refs)))
        })?;
        let records: HashMap<i64, SegmentRecord> = records.into_iter().map(|r| (r.id, r)).collect();
        let (mut fresh, stale) = split_stale(log, input.seq, computed, &records, &graph);
        report.stale = stale;
        if input.new_snapshot {
            let missing = self.compute_missing(&records, &graph, &fresh, &input, as_of)?;
            fresh.extend(missing);
        }
        let keep = |c: &Computed| {
            c.error.is_none() || !same || !current.memberships.contains_key(&c.segment_id)
        };
        let publish: Vec<Computed> = fresh.into_iter().filter(keep).collect();
        self.write_round(&current, &input, &publish, as_of)?;
        report.failed = failures(&publish);
        report.refreshed = publish
            .iter()
            .filter(|c| c.error.is_none())
            .map(|c| c.segment_id)
            .collect();
        let base = if same {
            current.memberships.clone()
        } else {
            HashMap::new()
        };
        let memberships = self.merge(base, publish, &records, as_of);
        self.swap(TenantState {
            snapshot: Arc::clone(&input.snapshot),
            reports: Arc::clone(&input.reports),
            memberships,
        });
        Ok(self.finish_report(report, started))
    }

    /// On a new snapshot every segment needs a membership: computes, under the lock, those
    /// whose result went stale and those created while the round ran.
    fn compute_missing(
        &self,
        records: &HashMap<i64, SegmentRecord>,
        graph: &Graph,
        fresh: &[Computed],
        input: &RoundInput,
        as_of: DateTime<Utc>,
    ) -> Result<Vec<Computed>> {
        let done: BTreeSet<i64> = fresh.iter().map(|c| c.segment_id).collect();
        let missing: BTreeSet<i64> = records
            .keys()
            .filter(|id| !done.contains(id))
            .copied()
            .collect();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let mut listed = self.catalog.with_conn(members::all_ids)?;
        let jobs: Vec<Job> = graph
            .order(&missing)
            .iter()
            .map(|id| Job::of(&records[id], &mut listed))
            .collect();
        let mut prior = input.prior.clone();
        for c in fresh {
            prior
                .overlay
                .insert(c.segment_id, Arc::new(c.members.clone()));
        }
        Ok(compute(&input.snapshot, &jobs, &prior, as_of))
    }

    /// Records a round's refreshes and prunes old history, in one transaction.
    fn write_round(
        &self,
        current: &TenantState,
        input: &RoundInput,
        publish: &[Computed],
        at: DateTime<Utc>,
    ) -> Result<()> {
        let refreshes: Vec<_> = publish
            .iter()
            .filter(|c| c.error.is_none())
            .map(|c| {
                let previous = previous_ids(current, &input.stored, c.segment_id);
                refresh_record(c, &input.snapshot, &previous, at)
            })
            .collect();
        let cutoff = at - Days::days(history::HISTORY_DAYS);
        self.catalog.with_tx(|tx| {
            for refresh in &refreshes {
                history::record(tx, refresh)?;
            }
            let pruned = history::prune(tx, cutoff)?;
            if pruned > 0 {
                tracing::info!(pruned, "refresh history pruned");
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Puts published results into `base`, stamped at `at`, keeping only live segments.
    fn merge(
        &self,
        mut base: HashMap<i64, Arc<Membership>>,
        publish: Vec<Computed>,
        records: &HashMap<i64, SegmentRecord>,
        at: DateTime<Utc>,
    ) -> HashMap<i64, Arc<Membership>> {
        for c in publish {
            self.metrics.record_size(c.segment_id, c.members.len());
            let membership = Membership {
                segment_id: c.segment_id,
                rule_version: c.rule_version,
                members: c.members,
                refreshed_at: at,
            };
            base.insert(membership.segment_id, Arc::new(membership));
        }
        base.retain(|id, _| records.contains_key(id));
        base
    }

    fn finish_report(&self, mut report: RefreshReport, started: Instant) -> RefreshReport {
        report.elapsed_ms = elapsed_ms(started);
        let count = |n: usize| n as u64;
        self.metrics.record_round(
            started.elapsed(),
            count(report.refreshed.len()),
            count(report.stale.len()),
            count(report.failed.len()),
        );
        tracing::info!(
            segments = report.refreshed.len(),
            stale = report.stale.len(),
            failed = report.failed.len(),
            elapsed_ms = report.elapsed_ms,
            "segments refreshed"
        );
        report
    }

    /// Publishes an edit, under the writes lock: `write` changes the catalog and returns
    /// memberships computed on the published snapshot; their refresh records are written in
    /// the same transaction, then they are swapped in. Failed results keep the published
    /// members.
    ///
    /// # Errors
    /// `write`'s error or a failed commit; nothing is published then.
    // TODO: the transaction runs on the calling async worker (SQLite is synchronous); a
    // million-id member change holds that worker for about 2 s in a debug build. Move it to
    // the blocking pool once the write closures own their inputs.
    pub(super) fn commit<T>(
        &self,
        log: &mut EditLog,
        write: impl FnOnce(&Transaction) -> catalog::Result<(T, Vec<Computed>)>,
    ) -> Result<T> {
        let current = self.state();
        let at = now();
        let (value, results) = self.catalog.with_tx(|tx| {
            let (value, results) = write(tx)?;
            for c in results.iter().filter(|c| c.error.is_none()) {
                let previous = current.member_ids(c.segment_id);
                history::record(tx, &refresh_record(c, &current.snapshot, &previous, at))?;
            }
            Ok((value, results))
        })?;
        let publish: Vec<Computed> = results.into_iter().filter(|c| c.error.is_none()).collect();
        log.touch(publish.iter().map(|c| c.segment_id));
        let mut memberships = current.memberships.clone();
        for c in publish {
            tracing::debug!(
                segment_id = c.segment_id,
                members = c.members.len(),
                "published"
            );
            self.metrics.record_size(c.segment_id, c.members.len());
            let membership = Membership {
                segment_id: c.segment_id,
                rule_version: c.rule_version,
                members: c.members,
                refreshed_at: at,
            };
            memberships.insert(membership.segment_id, Arc::new(membership));
        }
        self.swap(TenantState {
            snapshot: Arc::clone(&current.snapshot),
            reports: Arc::clone(&current.reports),
            memberships,
        });
        Ok(value)
    }

    /// Computes, on the published state, the segments that read any of `changed` (directly
    /// or not), on top of `changed`; returns `changed` followed by them.
    pub(super) async fn with_dependents(
        &self,
        state: &Arc<TenantState>,
        graph: &Graph,
        mut changed: Vec<Computed>,
    ) -> Result<Vec<Computed>> {
        let changed_ids: BTreeSet<i64> = changed.iter().map(|c| c.segment_id).collect();
        let dependents: BTreeSet<i64> = changed_ids
            .iter()
            .flat_map(|id| graph.dependents(*id))
            .filter(|id| !changed_ids.contains(id))
            .collect();
        if dependents.is_empty() {
            return Ok(changed);
        }
        let records = self.catalog.with_conn(segments::list)?;
        let records: HashMap<i64, SegmentRecord> = records.into_iter().map(|r| (r.id, r)).collect();
        let mut listed = HashMap::new();
        let jobs = graph
            .order(&dependents)
            .iter()
            .filter_map(|id| records.get(id))
            .map(|record| Job::of(record, &mut listed))
            .collect();
        let overlay = changed
            .iter()
            .map(|c| (c.segment_id, Arc::new(c.members.clone())))
            .collect();
        let prior = Prior {
            overlay,
            state: Some(Arc::clone(state)),
        };
        let snapshot = Arc::clone(&state.snapshot);
        changed.extend(compute_blocking(snapshot, jobs, prior, now()).await?);
        Ok(changed)
    }
}

/// Computes on the blocking pool, so evaluation never stalls the async runtime.
///
/// # Errors
/// Only if the computation panicked.
pub(super) async fn compute_blocking(
    snapshot: Arc<Snapshot>,
    jobs: Vec<Job>,
    prior: Prior,
    as_of: DateTime<Utc>,
) -> Result<Vec<Computed>> {
    tokio::task::spawn_blocking(move || compute(&snapshot, &jobs, &prior, as_of))
        .await
        .map_err(|e| ServiceError::internal(format!("segment evaluation panicked: {e}")))
}

impl Service {
    /// Jobs for the stored segments in dependency order: every one, or those `reading` and
    /// every segment they read, directly or through others.
    ///
    /// # Errors
    /// A catalog fault.
    pub(super) fn stored_jobs(&self, reading: Option<&[i64]>) -> Result<Vec<Job>> {
        let (records, mut listed, graph) = self.catalog.with_conn(|conn| {
            let refs = segments::refs(conn)?;
            let listed = members::all_ids(conn)?;
            Ok((segments::list(conn)?, listed, Graph::from_edges(&refs)))
        })?;
        let by_id: HashMap<i64, &SegmentRecord> = records.iter().map(|r| (r.id, r)).collect();
        let ids: BTreeSet<i64> = match reading {
            Some(ids) => graph.read_by(ids),
            None => by_id.keys().copied().collect(),
        };
        let jobs = graph
            .order(&ids)
            .into_iter()
            .filter_map(|id| by_id.get(&id));
        Ok(jobs.map(|record| Job::of(record, &mut listed)).collect())
    }
}

/// Every published or stored membership, carried onto `snapshot`.
fn carried_prior(
    base: &TenantState,
    stored: &HashMap<i64, Vec<i64>>,
    snapshot: &Arc<Snapshot>,
) -> HashMap<i64, Arc<RoaringBitmap>> {
    let same = Arc::ptr_eq(&base.snapshot, snapshot);
    let mut prior: HashMap<i64, Arc<RoaringBitmap>> = stored
        .iter()
        .map(|(id, ids)| (*id, Arc::new(live_positions(snapshot, ids))))
        .collect();
    for (id, membership) in &base.memberships {
        let members = if same {
            membership.members.clone()
        } else {
            carry_over(&membership.members, &base.snapshot, snapshot)
        };
        prior.insert(*id, Arc::new(members));
    }
    prior
}

/// Splits a round's results, in evaluation order, into those still fresh and the ids of
/// those gone stale: deleted segments, changed rules or lists, or reading a stale one.
fn split_stale(
    log: &EditLog,
    seq: u64,
    computed: Vec<Computed>,
    records: &HashMap<i64, SegmentRecord>,
    graph: &Graph,
) -> (Vec<Computed>, Vec<i64>) {
    let mut stale = BTreeSet::new();
    let mut fresh = Vec::new();
    for c in computed {
        let version = records.get(&c.segment_id).map(|r| r.rule_version);
        let is_stale = version != Some(c.rule_version)
            || log.edited_since(c.segment_id, seq)
            || graph.reads(c.segment_id).any(|id| stale.contains(&id));
        if is_stale {
            tracing::debug!(segment_id = c.segment_id, "stale result dropped");
            stale.insert(c.segment_id);
        } else {
            fresh.push(c);
        }
    }
    (fresh, stale.into_iter().collect())
}

/// The client ids a segment had before this publication.
fn previous_ids(current: &TenantState, stored: &HashMap<i64, Vec<i64>>, id: i64) -> Vec<i64> {
    match current.membership(id) {
        Some(_) => current.member_ids(id),
        None => stored.get(&id).cloned().unwrap_or_default(),
    }
}

fn failures(results: &[Computed]) -> Vec<RefreshFailure> {
    let failed = results.iter().filter_map(|c| {
        let error = c.error.as_ref()?;
        Some(RefreshFailure {
            segment_id: c.segment_id,
            error: error.to_string(),
        })
    });
    failed.collect()
}
