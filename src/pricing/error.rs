//! Why a pricing request was refused, or failed.

use std::fmt;

use chrono::{DateTime, Utc};

/// A refused or failed pricing operation. Every variant but [`PricingError::Store`] and
/// [`PricingError::Corrupt`] is the caller's to fix and names the offending value.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("{value:?} is not a tier; expected one of retail, wholesale, vip, staff")]
    UnknownTier { value: String },
    #[error("no segment with id {}", join(ids))]
    UnknownSegments { ids: Vec<i64> },
    #[error("segment {} named more than once in {list}", join(ids))]
    RepeatedSegments { ids: Vec<i64>, list: &'static str },
    #[error("no live client with id {client_id}")]
    UnknownClient { client_id: i64 },
    #[error("unknown product: {}", join(products))]
    UnknownProducts { products: Vec<UnknownProduct> },
    #[error("{at}: {message}")]
    Invalid { at: String, message: String },
    #[error("{at}: no product in category {category:?}")]
    EmptyCategory { at: String, category: String },
    #[error("$.ends_at: {ends_at} is not after now ({now})")]
    EndsInPast {
        ends_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error("{at}: amount too large to compute exactly")]
    Overflow { at: String },
    #[error("no price update with id {update_id}")]
    UnknownUpdate { update_id: i64 },
    #[error(
        "price update {update_id} was already reverted at {}",
        reverted_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    )]
    AlreadyReverted {
        update_id: i64,
        reverted_at: DateTime<Utc>,
    },
    #[error(
        "price update {update_id} cannot be reverted while later updates {} override the \
         same prices; revert them first",
        join(later)
    )]
    LaterUpdateInForce { update_id: i64, later: Vec<i64> },
    /// A fault of the database: internal.
    #[error("pricing store: {0}")]
    Store(#[from] rusqlite::Error),
    /// Stored pricing data that cannot be read back: a bug or a hand-edited database.
    #[error("pricing store holds unreadable data: {0}")]
    Corrupt(String),
}

impl PricingError {
    /// Whether this is our fault rather than the request's (an HTTP 500, logged once).
    pub fn is_internal(&self) -> bool {
        matches!(self, PricingError::Store(_) | PricingError::Corrupt(_))
    }

    /// Whether the request names something that does not exist (an HTTP 404 when it is the
    /// resource itself, a 422 when it is inside the body: the API decides).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            PricingError::UnknownClient { .. }
                | PricingError::UnknownUpdate { .. }
                | PricingError::UnknownSegments { .. }
                | PricingError::UnknownProducts { .. }
        )
    }
}

/// A product a request named that the products table does not hold, and where it was named
/// (`line 2`, `$.products.skus[1]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnknownProduct {
    pub at: String,
    pub product: super::ProductRef,
}

impl fmt::Display for UnknownProduct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: no product with {}", self.at, self.product)
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
