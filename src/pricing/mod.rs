//! Pricing: tiers decided by segment priority, quotes, and bulk price updates for a
//! segment's members (SEMANTICS.md, "Pricing").
//!
//! The parts, from pure to stored:
//! - [`tier`]: the tiers, and the effective order of tiered segments (the priority list,
//!   then tiered segments missing from it by ascending id, that is, by creation).
//! - [`assign`]: every client's tier from segment memberships with bitmaps, and one
//!   client's deciding and losing segments; [`what_if`] compares two assignments.
//! - [`prices`]: products' list prices per tier, found by id or SKU.
//! - [`quote`]: unit prices and totals for a client: its newest override in force, else
//!   its tier's price, else retail.
//! - [`bulk`]: bulk price updates: validate, dry run, apply as overrides.
//! - [`store`]: the SQLite tables the catalog creates with [`MIGRATIONS`].
//!
//! Invariant: nothing here holds a snapshot position across snapshots; the store keeps
//! client ids. Money is integer cents throughout; a price is never below 0.

pub mod assign;
pub mod bulk;
mod error;
pub mod prices;
pub mod quote;
pub mod store;
pub mod tier;
pub mod what_if;

#[cfg(test)]
mod tests;

use crate::snapshot::{ClientIndex, Snapshot};

pub use assign::{ClientPricing, SegmentCount, TierAssignment, TierCounts, client_pricing};
pub use bulk::{BulkPreview, BulkSpec, PriceChange, PriceSample, ProductSelector};
pub use error::{PricingError, UnknownProduct};
pub use prices::{PriceList, PriceSource, Product, ProductRef};
pub use quote::{Quote, QuoteRequest, QuotedLine};
pub use store::{MIGRATIONS, Override, PriceUpdate};
pub use tier::{
    ProposedTier, Tier, TierProposal, TieredSegment, effective_order, validate_priority,
};
pub use what_if::{TierChange, WhatIf, what_if};

pub type Result<T, E = PricingError> = std::result::Result<T, E>;

/// What pricing reads of one snapshot: client ids, product prices and the tiers.
#[derive(Debug, Clone, Copy)]
pub struct PricingContext<'a> {
    pub clients: &'a ClientIndex,
    pub prices: &'a PriceList,
    pub tiers: &'a TierAssignment,
}

impl<'a> PricingContext<'a> {
    /// Binds a snapshot's clients to a price list and an assignment computed on it.
    pub fn new(snapshot: &'a Snapshot, prices: &'a PriceList, tiers: &'a TierAssignment) -> Self {
        PricingContext {
            clients: &snapshot.index,
            prices,
            tiers,
        }
    }

    /// The position of a live client.
    ///
    /// # Errors
    /// [`PricingError::UnknownClient`] for an id that is not a client or is deleted.
    pub fn live_position(&self, client_id: i64) -> Result<u32> {
        self.clients
            .position(client_id)
            .filter(|position| self.tiers.contains(*position))
            .ok_or(PricingError::UnknownClient { client_id })
    }
}
