//! What readers see: one snapshot and the memberships computed on it, swapped as a whole.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use roaring::RoaringBitmap;

use crate::eval::SegmentLookup;
use crate::reports::ReportFacts;
use crate::snapshot::Snapshot;

/// One consistent version: every membership's positions belong to `snapshot`, and
/// `reports` are the report views of that same snapshot.
///
/// Invariant: a published state never changes; a refresh or a reload builds a new one and
/// swaps it in, so a reader holding an `Arc<TenantState>` sees one complete version.
#[derive(Debug, Clone)]
pub struct TenantState {
    pub snapshot: Arc<Snapshot>,
    /// Built with the snapshot, before it is published, so no report waits for them.
    pub reports: Arc<ReportFacts>,
    /// The published membership of every segment, by segment id.
    pub memberships: HashMap<i64, Arc<Membership>>,
}

/// A segment's published members, stamped with the rule version they were computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub segment_id: i64,
    pub rule_version: i64,
    /// Positions in the state's snapshot; always a subset of its universe.
    pub members: RoaringBitmap,
    pub refreshed_at: DateTime<Utc>,
}

impl TenantState {
    pub fn membership(&self, segment_id: i64) -> Option<&Arc<Membership>> {
        self.memberships.get(&segment_id)
    }

    /// The client ids of a segment's members, ascending; empty for an unknown segment.
    pub fn member_ids(&self, segment_id: i64) -> Vec<i64> {
        self.membership(segment_id)
            .map(|m| self.snapshot.index.ids_of(&m.members))
            .unwrap_or_default()
    }
}

impl SegmentLookup for TenantState {
    fn members(&self, segment_id: i64) -> Option<Arc<RoaringBitmap>> {
        self.membership(segment_id)
            .map(|m| Arc::new(m.members.clone()))
    }
}

/// Positions of `ids` in `snapshot` that are live clients: how stored client ids become a
/// membership. Ids of unknown or deleted clients drop out.
pub fn live_positions(snapshot: &Snapshot, ids: &[i64]) -> RoaringBitmap {
    let (found, _) = snapshot.index.positions_of(ids);
    found & &snapshot.universe
}
