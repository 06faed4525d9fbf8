//! Computing memberships: each segment's members on one snapshot, in dependency order, and
//! what changed since the published ones. Pure: no locks, no catalog, no clock.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use roaring::RoaringBitmap;

use crate::catalog::history::Refresh;
use crate::catalog::segments::{SegmentKind, SegmentRecord};
use crate::eval::{self, SegmentLookup};
use crate::rules::Rule;
use crate::snapshot::Snapshot;

use super::error::{Result, ServiceError};
use super::state::live_positions;

/// Where a segment's members come from.
#[derive(Debug, Clone)]
pub(super) enum Source {
    /// A static segment's stored client ids.
    Listed(Vec<i64>),
    /// A dynamic segment's rule, as stored.
    Rule(serde_json::Value),
}

/// The `segment_id` of a job for a segment not saved yet, whose failure is the answer to
/// the request that would create it rather than news for the log.
pub(super) const UNSAVED: i64 = 0;

/// One segment to compute, stamped with the rule version it is computed from.
#[derive(Debug, Clone)]
pub(super) struct Job {
    pub segment_id: i64,
    pub rule_version: i64,
    pub source: Source,
}

impl Job {
    /// The job of a stored segment; `listed` holds static segments' ids.
    pub fn of(record: &SegmentRecord, listed: &mut HashMap<i64, Vec<i64>>) -> Job {
        let source = match (&record.kind, &record.rule) {
            (SegmentKind::Dynamic, Some(rule)) => Source::Rule(rule.clone()),
            _ => Source::Listed(listed.remove(&record.id).unwrap_or_default()),
        };
        Job {
            segment_id: record.id,
            rule_version: record.rule_version,
            source,
        }
    }
}

/// A computed membership. When `error` is set the evaluation failed and `members` holds
/// the fallback: the prior members, or nobody.
#[derive(Debug)]
pub(super) struct Computed {
    pub segment_id: i64,
    pub rule_version: i64,
    pub members: RoaringBitmap,
    pub error: Option<ServiceError>,
}

/// Computes `jobs` in their order on `snapshot`. A `segment` condition reads the result of
/// this run when its segment is in it, else `prior` (memberships on the same snapshot).
pub(super) fn compute(
    snapshot: &Snapshot,
    jobs: &[Job],
    prior: &dyn SegmentLookup,
    as_of: DateTime<Utc>,
) -> Vec<Computed> {
    let mut done: HashMap<i64, Arc<RoaringBitmap>> = HashMap::new();
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let lookup = |id: i64| done.get(&id).cloned().or_else(|| prior.members(id));
        let (members, error) = match members_of(job, snapshot, as_of, &lookup) {
            Ok(members) => (members, None),
            Err(error) => {
                if job.segment_id != UNSAVED {
                    tracing::warn!(segment_id = job.segment_id, %error, "segment not refreshed");
                }
                let fallback = prior.members(job.segment_id);
                (
                    fallback.map(|m| (*m).clone()).unwrap_or_default(),
                    Some(error),
                )
            }
        };
        tracing::debug!(
            segment_id = job.segment_id,
            members = members.len(),
            "computed"
        );
        done.insert(job.segment_id, Arc::new(members.clone()));
        out.push(Computed {
            segment_id: job.segment_id,
            rule_version: job.rule_version,
            members,
            error,
        });
    }
    out
}

/// One segment's members.
///
/// # Errors
/// A stored rule that no longer fits the facts (a custom field or SKU gone), or a fault.
pub(super) fn members_of(
    job: &Job,
    snapshot: &Snapshot,
    as_of: DateTime<Utc>,
    lookup: &dyn SegmentLookup,
) -> Result<RoaringBitmap> {
    match &job.source {
        Source::Listed(ids) => Ok(live_positions(snapshot, ids)),
        Source::Rule(json) => {
            let rule = Rule::from_json(json, &snapshot.facts.custom_fields)?;
            evaluate(&rule, snapshot, as_of, lookup)
        }
    }
}

/// Evaluates a parsed rule.
///
/// # Errors
/// As [`eval::evaluate`], mapped onto [`ServiceError`].
pub(super) fn evaluate(
    rule: &Rule,
    snapshot: &Snapshot,
    as_of: DateTime<Utc>,
    lookup: &dyn SegmentLookup,
) -> Result<RoaringBitmap> {
    Ok(eval::evaluate(rule, snapshot, as_of, lookup)?.members)
}

/// The refresh record of a membership: who entered and who left since `previous` (client
/// ids, ascending).
pub(super) fn refresh_record(
    computed: &Computed,
    snapshot: &Snapshot,
    previous: &[i64],
    at: DateTime<Utc>,
) -> Refresh {
    let members = snapshot.index.ids_of(&computed.members);
    let (entered, left) = diff_sorted(previous, &members);
    Refresh {
        segment_id: computed.segment_id,
        at,
        rule_version: computed.rule_version,
        members,
        entered,
        left,
    }
}

/// `(after - before, before - after)` of two ascending id lists.
pub(super) fn diff_sorted(before: &[i64], after: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let (mut entered, mut left) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < before.len() && j < after.len() {
        match before[i].cmp(&after[j]) {
            Ordering::Equal => (i, j) = (i + 1, j + 1),
            Ordering::Less => {
                left.push(before[i]);
                i += 1;
            }
            Ordering::Greater => {
                entered.push(after[j]);
                j += 1;
            }
        }
    }
    left.extend_from_slice(&before[i..]);
    entered.extend_from_slice(&after[j..]);
    (entered, left)
}

/// A membership on `from` carried over to `to` by client id: ids `to` does not know, or
/// whose clients are deleted there, drop out.
pub(super) fn carry_over(members: &RoaringBitmap, from: &Snapshot, to: &Snapshot) -> RoaringBitmap {
    live_positions(to, &from.index.ids_of(members))
}
