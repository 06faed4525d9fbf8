//! Every client's tier from segment memberships, with bitmaps: walk the effective order and
//! give each segment's tier to its members not placed yet.

use roaring::RoaringBitmap;
use serde::Serialize;

use super::{Tier, TieredSegment};

/// The tier of every live client of a snapshot, and which segment decided it.
///
/// Invariant: the per-tier bitmaps are disjoint and their union is the universe the
/// assignment was computed for; the per-segment `won` bitmaps are disjoint subsets of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TierAssignment {
    order: Vec<TieredSegment>,
    won: Vec<RoaringBitmap>,
    tiers: [RoaringBitmap; 4],
}

/// How many clients each tier has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TierCounts {
    pub retail: u64,
    pub wholesale: u64,
    pub vip: u64,
    pub staff: u64,
}

/// How many clients a tiered segment decided, at its place in the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SegmentCount {
    pub segment_id: i64,
    pub tier: Tier,
    pub decided: u64,
}

impl TierAssignment {
    /// Places every client of `universe`: the first segment of `order` holding it gives its
    /// tier; clients no tiered segment holds are retail. `members` gives a segment's
    /// membership (positions); a segment without one holds nobody.
    pub fn compute<'a>(
        order: &[TieredSegment],
        members: impl Fn(i64) -> Option<&'a RoaringBitmap>,
        universe: &RoaringBitmap,
    ) -> TierAssignment {
        let mut unplaced = universe.clone();
        let mut tiers: [RoaringBitmap; 4] = Default::default();
        let mut won = Vec::with_capacity(order.len());
        for segment in order {
            let decided = members(segment.segment_id)
                .map(|m| m & &unplaced)
                .unwrap_or_default();
            unplaced -= &decided;
            tiers[segment.tier.index()] |= &decided;
            won.push(decided);
        }
        tiers[Tier::Retail.index()] |= unplaced;
        TierAssignment {
            order: order.to_vec(),
            won,
            tiers,
        }
    }

    /// The effective order this assignment was computed with.
    pub fn order(&self) -> &[TieredSegment] {
        &self.order
    }

    /// The tier of the client at `position`; `None` for a position outside the universe.
    pub fn tier_of(&self, position: u32) -> Option<Tier> {
        Tier::ALL
            .into_iter()
            .find(|tier| self.tiers[tier.index()].contains(position))
    }

    /// The segment that gave the client at `position` its tier; `None` for a default
    /// retail client.
    pub fn deciding_segment(&self, position: u32) -> Option<TieredSegment> {
        let at = self.won.iter().position(|won| won.contains(position))?;
        Some(self.order[at])
    }

    /// The clients of one tier.
    pub fn members(&self, tier: Tier) -> &RoaringBitmap {
        &self.tiers[tier.index()]
    }

    /// Every client placed: the universe the assignment was computed for.
    pub fn universe(&self) -> RoaringBitmap {
        self.tiers
            .iter()
            .fold(RoaringBitmap::new(), |all, t| all | t)
    }

    /// Whether the client at `position` was placed, that is, is live.
    pub fn contains(&self, position: u32) -> bool {
        self.tier_of(position).is_some()
    }

    pub fn counts(&self) -> TierCounts {
        let count = |tier: Tier| self.tiers[tier.index()].len();
        TierCounts {
            retail: count(Tier::Retail),
            wholesale: count(Tier::Wholesale),
            vip: count(Tier::Vip),
            staff: count(Tier::Staff),
        }
    }

    /// Per tiered segment, in order, how many clients it decided.
    pub fn segment_counts(&self) -> Vec<SegmentCount> {
        self.order
            .iter()
            .zip(&self.won)
            .map(|(segment, won)| SegmentCount {
                segment_id: segment.segment_id,
                tier: segment.tier,
                decided: won.len(),
            })
            .collect()
    }
}

/// One client's pricing: its tier, the segment that decided it, and the other tiered
/// segments it is in that lost, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientPricing {
    pub tier: Tier,
    pub deciding_segment: Option<TieredSegment>,
    pub lost: Vec<TieredSegment>,
}

/// Walks the effective order for one client: the first segment holding it decides, every
/// later one holding it lost. Costs one bitmap lookup per tiered segment.
pub fn client_pricing<'a>(
    position: u32,
    order: &[TieredSegment],
    members: impl Fn(i64) -> Option<&'a RoaringBitmap>,
) -> ClientPricing {
    let mut holding = order
        .iter()
        .filter(|s| members(s.segment_id).is_some_and(|m| m.contains(position)));
    let deciding_segment = holding.next().copied();
    ClientPricing {
        tier: deciding_segment.map_or(Tier::Retail, |s| s.tier),
        deciding_segment,
        lost: holding.copied().collect(),
    }
}
