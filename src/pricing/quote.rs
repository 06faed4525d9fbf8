//! Quotes: a client's unit price for each line, where it came from, and exact totals.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::store::{self, Override};
use super::{
    PriceList, PriceSource, PricingContext, PricingError, Product, ProductRef, Result, Tier,
    UnknownProduct,
};
use crate::money::Cents;

/// A quote request as it arrives: `{"client_id": 7, "lines": [{"sku": "A-1", "quantity":
/// 3}, {"product_id": 12, "quantity": 1}]}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    pub client_id: i64,
    pub lines: Vec<RawLine>,
}

/// One requested line: a product by id or by SKU, and a quantity.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLine {
    #[serde(default)]
    pub product_id: Option<i64>,
    #[serde(default)]
    pub sku: Option<String>,
    pub quantity: Value,
}

/// A priced quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub client_id: i64,
    pub tier: Tier,
    pub lines: Vec<QuotedLine>,
    pub total: Cents,
}

/// One priced line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotedLine {
    /// The line's index in the request, from 0.
    pub line: usize,
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: Cents,
    pub source: PriceSource,
    /// The price update whose override priced the line, when one did.
    pub update_id: Option<i64>,
    pub line_total: Cents,
}

/// Prices a request for a live client at `now`: the newest override in force, else the
/// tier's price, else retail.
///
/// # Errors
/// [`PricingError::UnknownClient`]; [`PricingError::Invalid`] for a line without one
/// product or with a quantity that is not a positive whole number, naming the line;
/// [`PricingError::UnknownProducts`] naming every unknown line; a total too large; a
/// database failure.
pub fn quote(
    conn: &Connection,
    ctx: &PricingContext<'_>,
    request: &QuoteRequest,
    now: DateTime<Utc>,
) -> Result<Quote> {
    let position = ctx.live_position(request.client_id)?;
    let tier = ctx.tiers.tier_of(position).unwrap_or(Tier::Retail);
    let lines = resolve_lines(&request.lines, ctx.prices)?;
    let overrides = store::client_overrides(conn, request.client_id, now)?;
    price_lines(request.client_id, tier, &lines, &overrides)
}

/// A validated line: its index, its product, a positive quantity.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    pub line: usize,
    pub product: &'a Product,
    pub quantity: i64,
}

/// Validates every line and finds its product.
///
/// # Errors
/// The first malformed line; else every line naming an unknown product.
pub fn resolve_lines<'a>(raw: &[RawLine], prices: &'a PriceList) -> Result<Vec<Line<'a>>> {
    if raw.is_empty() {
        return Err(invalid("$.lines", "a quote needs at least one line"));
    }
    let mut lines = Vec::with_capacity(raw.len());
    let mut unknown = Vec::new();
    for (index, line) in raw.iter().enumerate() {
        let product = product_ref(index, line)?;
        let quantity = quantity(index, &line.quantity)?;
        match prices.resolve(&product) {
            Some(product) => lines.push(Line {
                line: index,
                product,
                quantity,
            }),
            None => unknown.push(UnknownProduct {
                at: format!("$.lines[{index}]"),
                product,
            }),
        }
    }
    if !unknown.is_empty() {
        return Err(PricingError::UnknownProducts { products: unknown });
    }
    Ok(lines)
}

fn product_ref(index: usize, line: &RawLine) -> Result<ProductRef> {
    match (line.product_id, &line.sku) {
        (Some(id), None) => Ok(ProductRef::Id(id)),
        (None, Some(sku)) => Ok(ProductRef::Sku(sku.clone())),
        (Some(_), Some(_)) => Err(invalid(
            &format!("$.lines[{index}]"),
            "give product_id or sku, not both",
        )),
        (None, None) => Err(invalid(
            &format!("$.lines[{index}]"),
            "give a product_id or a sku",
        )),
    }
}

fn quantity(index: usize, value: &Value) -> Result<i64> {
    match value.as_i64() {
        Some(quantity) if quantity > 0 => Ok(quantity),
        _ => Err(invalid(
            &format!("$.lines[{index}].quantity"),
            &format!("{value} is not a positive whole number"),
        )),
    }
}

fn invalid(at: &str, message: &str) -> PricingError {
    PricingError::Invalid {
        at: at.to_string(),
        message: message.to_string(),
    }
}

/// Prices validated lines for a client of `tier` with its overrides in force by product id.
///
/// # Errors
/// [`PricingError::Overflow`] when a line total or the total does not fit.
pub fn price_lines(
    client_id: i64,
    tier: Tier,
    lines: &[Line<'_>],
    overrides: &HashMap<i64, Override>,
) -> Result<Quote> {
    let quoted = lines
        .iter()
        .map(|line| price_line(tier, line, overrides.get(&line.product.product_id)))
        .collect::<Result<Vec<_>>>()?;
    let total = quoted
        .iter()
        .try_fold(Cents::ZERO, |sum, line| sum.checked_add(line.line_total))
        .ok_or_else(|| PricingError::Overflow {
            at: "$.total".into(),
        })?;
    Ok(Quote {
        client_id,
        tier,
        lines: quoted,
        total,
    })
}

fn price_line(tier: Tier, line: &Line<'_>, own: Option<&Override>) -> Result<QuotedLine> {
    let (unit_price, source) = match own {
        Some(own) => (own.price, PriceSource::Override),
        None => line.product.tier_price(tier),
    };
    let line_total = unit_price
        .0
        .checked_mul(line.quantity)
        .map(Cents)
        .ok_or_else(|| PricingError::Overflow {
            at: format!("$.lines[{}]", line.line),
        })?;
    Ok(QuotedLine {
        line: line.line,
        product_id: line.product.product_id,
        sku: line.product.sku.clone(),
        name: line.product.name.clone(),
        quantity: line.quantity,
        unit_price,
        source,
        update_id: own.map(|o| o.update_id),
        line_total,
    })
}
