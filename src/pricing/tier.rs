//! Pricing tiers, and the order in which tiered segments decide a client's tier.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{PricingError, Result};

/// A price list a client buys from. `Retail` is the default for everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Retail,
    Wholesale,
    Vip,
    Staff,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Retail, Tier::Wholesale, Tier::Vip, Tier::Staff];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Retail => "retail",
            Tier::Wholesale => "wholesale",
            Tier::Vip => "vip",
            Tier::Staff => "staff",
        }
    }

    /// The tier's place in [`Tier::ALL`], for per-tier arrays.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tier {
    type Err = PricingError;

    /// Reads a tier name after trimming and case folding.
    fn from_str(text: &str) -> Result<Tier> {
        let folded = text.trim().to_lowercase();
        Tier::ALL
            .into_iter()
            .find(|tier| tier.as_str() == folded)
            .ok_or_else(|| PricingError::UnknownTier {
                value: text.to_string(),
            })
    }
}

/// Read as [`FromStr`] reads it, so a body takes `"VIP"` wherever a segment's tier does.
impl<'de> Deserialize<'de> for Tier {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Tier, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A segment that carries a tier, at its place in the effective order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TieredSegment {
    pub segment_id: i64,
    pub tier: Tier,
}

/// The order in which tiered segments decide: the priority list first (segments without a
/// tier skipped), then tiered segments missing from the list in order of creation.
///
/// Creation order is ascending segment id: the catalog hands out ids in creation order.
pub fn effective_order(priority: &[i64], tiered: &[(i64, Tier)]) -> Vec<TieredSegment> {
    let tiers: HashMap<i64, Tier> = tiered.iter().copied().collect();
    let listed: HashSet<i64> = priority.iter().copied().collect();
    let mut order = Vec::with_capacity(tiers.len());
    let mut seen = HashSet::with_capacity(tiers.len());

    // The list decides first; a repeated id keeps its first place.
    for &segment_id in priority {
        if let Some(&tier) = tiers.get(&segment_id).filter(|_| seen.insert(segment_id)) {
            order.push(TieredSegment { segment_id, tier });
        }
    }

    // Then the rest, oldest first.
    let unlisted: BTreeMap<i64, Tier> = tiers
        .into_iter()
        .filter(|(id, _)| !listed.contains(id))
        .collect();
    order.extend(
        unlisted
            .into_iter()
            .map(|(segment_id, tier)| TieredSegment { segment_id, tier }),
    );
    order
}

/// Checks a priority list against the segments that exist.
///
/// # Errors
/// [`PricingError::UnknownSegments`] naming every id that is not a segment, else
/// [`PricingError::RepeatedSegments`] naming every id given more than once.
pub fn validate_priority(priority: &[i64], known: &[i64]) -> Result<()> {
    validate_segment_list(priority, known, "the priority list")
}

/// [`validate_priority`] for any list of segment ids; `list` names it in messages.
fn validate_segment_list(priority: &[i64], known: &[i64], list: &'static str) -> Result<()> {
    let known: HashSet<i64> = known.iter().copied().collect();
    let unknown = distinct(priority.iter().copied().filter(|id| !known.contains(id)));
    if !unknown.is_empty() {
        return Err(PricingError::UnknownSegments { ids: unknown });
    }
    let mut seen = HashSet::with_capacity(priority.len());
    let repeated = distinct(priority.iter().copied().filter(|id| !seen.insert(*id)));
    if !repeated.is_empty() {
        return Err(PricingError::RepeatedSegments {
            ids: repeated,
            list,
        });
    }
    Ok(())
}

/// The ids in first-seen order, each once.
fn distinct(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut seen = HashSet::new();
    ids.filter(|id| seen.insert(*id)).collect()
}

/// A change to the tiers that is previewed, never saved: a new priority list, new tiers for
/// some segments, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierProposal {
    /// The proposed priority list; the current one when absent.
    #[serde(default)]
    pub priority: Option<Vec<i64>>,
    /// Segments whose tier would change; `tier: null` takes a segment's tier away.
    #[serde(default)]
    pub tiers: Vec<ProposedTier>,
}

/// One segment's proposed tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposedTier {
    pub segment_id: i64,
    /// Required, so that a forgotten tier is not read as taking the tier away.
    #[serde(deserialize_with = "Option::deserialize")]
    pub tier: Option<Tier>,
}

impl TierProposal {
    /// The effective order the proposal would give, from the current list and tiers.
    ///
    /// # Errors
    /// A proposed list or tier change naming a segment that does not exist, or a list
    /// naming one twice, as [`validate_priority`].
    pub fn effective_order(
        &self,
        priority: &[i64],
        tiered: &[(i64, Tier)],
        known: &[i64],
    ) -> Result<Vec<TieredSegment>> {
        let priority = self.priority.as_deref().unwrap_or(priority);
        validate_priority(priority, known)?;
        let changed: Vec<i64> = self.tiers.iter().map(|t| t.segment_id).collect();
        validate_segment_list(&changed, known, "`tiers`")?;
        Ok(effective_order(priority, &self.apply_tiers(tiered)))
    }

    fn apply_tiers(&self, tiered: &[(i64, Tier)]) -> Vec<(i64, Tier)> {
        let mut tiers: BTreeMap<i64, Tier> = tiered.iter().copied().collect();
        for change in &self.tiers {
            match change.tier {
                Some(tier) => tiers.insert(change.segment_id, tier),
                None => tiers.remove(&change.segment_id),
            };
        }
        tiers.into_iter().collect()
    }
}
