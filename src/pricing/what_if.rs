//! What-if: the tier counts and the clients whose tier would change under a proposed
//! priority list or tiers, computed and never saved.

use roaring::RoaringBitmap;
use serde::Serialize;

use super::{Tier, TierAssignment, TierCounts};
use crate::snapshot::ClientIndex;

/// How many changed clients a what-if lists, unless the caller says otherwise.
pub const CHANGED_SAMPLE_MAX: usize = 100;

/// The effect of a proposed change on the tiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhatIf {
    pub counts_before: TierCounts,
    pub counts_after: TierCounts,
    /// How many clients would change tier.
    pub changed_total: u64,
    /// The first of them by client id, at most the sample size asked for.
    pub changed: Vec<TierChange>,
}

/// One client whose tier would change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TierChange {
    pub client_id: i64,
    pub from: Tier,
    pub to: Tier,
}

/// Compares two assignments of the same snapshot, listing at most `sample_max` changes.
pub fn what_if(
    current: &TierAssignment,
    proposed: &TierAssignment,
    clients: &ClientIndex,
    sample_max: usize,
) -> WhatIf {
    let changed = changed_positions(current, proposed);
    let sample = changed
        .iter()
        .take(sample_max)
        .filter_map(|position| change_of(position, current, proposed, clients))
        .collect();
    WhatIf {
        counts_before: current.counts(),
        counts_after: proposed.counts(),
        changed_total: changed.len(),
        changed: sample,
    }
}

/// Clients placed in both assignments whose tier differs.
fn changed_positions(current: &TierAssignment, proposed: &TierAssignment) -> RoaringBitmap {
    let both = current.universe() & proposed.universe();
    let moved = Tier::ALL
        .into_iter()
        .fold(RoaringBitmap::new(), |moved, tier| {
            moved | (current.members(tier) - proposed.members(tier))
        });
    moved & both
}

fn change_of(
    position: u32,
    current: &TierAssignment,
    proposed: &TierAssignment,
    clients: &ClientIndex,
) -> Option<TierChange> {
    Some(TierChange {
        client_id: clients.client_id(position),
        from: current.tier_of(position)?,
        to: proposed.tier_of(position)?,
    })
}
