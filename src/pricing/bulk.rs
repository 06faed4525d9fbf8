//! Bulk price updates for a segment: a spec (which products, what change, until when),
//! a dry run, and applying it as one override per member and product, all or nothing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use roaring::RoaringBitmap;
use rusqlite::Connection;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::store::{self, NewUpdate, OverrideStamp, PriceUpdate};
use super::{PriceSource, PricingContext, PricingError, Product, ProductRef, Result, Tier};
use crate::money::{Cents, div_round_half_away};

/// How many (client, product) prices a dry run shows, unless the caller says otherwise.
pub const SAMPLE_MAX: usize = 20;

/// The percent changes a spec may ask for, in hundredths, both ends included: -100 % takes
/// a price to 0, and a rise past +1000 % is far more likely a typo than a price.
pub const PERCENT_HUNDREDTHS: std::ops::RangeInclusive<i64> = -10_000..=100_000;

/// A validated bulk price update, before it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkSpec {
    pub products: ProductSelector,
    pub change: PriceChange,
    /// When the overrides stop applying; they last until reverted when absent.
    pub ends_at: Option<DateTime<Utc>>,
}

/// Which products an update changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ProductSelector {
    Ids(Vec<i64>),
    Skus(Vec<String>),
    /// Every product of a category, matched after trimming and case folding.
    Category(String),
}

/// How an update changes each current price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceChange {
    /// A new price, never negative.
    Set(Cents),
    /// A change in hundredths of a percent: `-1250` is -12.5 %.
    Percent(#[serde(serialize_with = "hundredths")] i64),
    /// A change by an amount, up or down.
    Amount(Cents),
}

fn hundredths<S: Serializer>(value: &i64, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    Cents(*value).serialize(serializer)
}

impl PriceChange {
    /// The new price from the current one, never below 0; `None` when it does not fit. A
    /// percentage's change is rounded half away from zero to the cent, then added: 7.95 at
    /// -10 % changes by -0.795, so by -0.80, to 7.15 (docs/semantics-choices.md).
    pub fn apply(self, current: Cents) -> Option<Cents> {
        let changed = match self {
            PriceChange::Set(price) => price,
            PriceChange::Amount(amount) => current.checked_add(amount)?,
            PriceChange::Percent(hundredths) => {
                let delta =
                    div_round_half_away(i128::from(current.0) * i128::from(hundredths), 10_000);
                current.checked_add(Cents(i64::try_from(delta).ok()?))?
            }
        };
        Some(changed.max(Cents::ZERO))
    }
}

/// The JSON shape of a spec's change, before validation.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum RawChange {
    Set(Value),
    Percent(Value),
    Amount(Value),
}

impl BulkSpec {
    /// Reads a spec such as `{"products": {"category": "Tools"}, "change": {"percent":
    /// "-12.5"}, "ends_at": "2025-01-31T23:00:00Z"}`. Amounts and percentages are decimal
    /// strings or numbers with at most 2 decimal places; a percentage is within -100 to
    /// +1000 ([`PERCENT_HUNDREDTHS`]).
    ///
    /// # Errors
    /// [`PricingError::Invalid`] with the JSON path of the part at fault.
    pub fn from_json(json: &Value) -> Result<BulkSpec> {
        let object = json
            .as_object()
            .ok_or_else(|| invalid("$", "expected an object"))?;
        if let Some(extra) = object
            .keys()
            .find(|k| !["products", "change", "ends_at"].contains(&k.as_str()))
        {
            return Err(invalid("$", &format!("unknown field {extra:?}")));
        }
        let products = one_of::<ProductSelector>(
            object.get("products"),
            "$.products",
            &["ids", "skus", "category"],
        )?;
        let change = one_of::<RawChange>(
            object.get("change"),
            "$.change",
            &["set", "percent", "amount"],
        )?;
        let ends_at = match object.get("ends_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(
                crate::time::parse_request_instant(text)
                    .map_err(|message| invalid("$.ends_at", &message))?,
            ),
            Some(other) => {
                let message = format!("{other} is not an RFC 3339 instant in a string");
                return Err(invalid("$.ends_at", &message));
            }
        };
        Ok(BulkSpec {
            products,
            change: validate_change(change)?,
            ends_at,
        })
    }

    /// The spec as JSON that [`BulkSpec::from_json`] reads back.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Reads `{"<key>": ...}`, exactly one of `keys`, into the enum `T` they name; a wrong
/// shape is told in terms of those keys, not of serde's "map with a single key".
fn one_of<T: serde::de::DeserializeOwned>(
    value: Option<&Value>,
    at: &str,
    keys: &[&str],
) -> Result<T> {
    let expected = format!("exactly one of {}", keys.join(", "));
    let Some(value) = value else {
        return Err(invalid(
            at,
            &format!("missing; expected an object with {expected}"),
        ));
    };
    let Some(object) = value.as_object() else {
        return Err(invalid(at, &format!("expected an object with {expected}")));
    };
    if let Some(unknown) = object.keys().find(|k| !keys.contains(&k.as_str())) {
        let message = format!("unknown field {unknown:?}; expected {expected}");
        return Err(invalid(at, &message));
    }
    let given: Vec<&str> = object.keys().map(String::as_str).collect();
    let [key] = given[..] else {
        let found = match given.is_empty() {
            true => "none".to_string(),
            false => given.join(" and "),
        };
        return Err(invalid(at, &format!("expected {expected}; found {found}")));
    };
    serde_json::from_value(value.clone())
        .map_err(|e| invalid(&format!("{at}.{key}"), &e.to_string()))
}

fn validate_change(change: RawChange) -> Result<PriceChange> {
    match change {
        RawChange::Set(value) => {
            let price = money(&value, "$.change.set")?;
            if price < Cents::ZERO {
                return Err(invalid(
                    "$.change.set",
                    &format!("price {price} is below 0"),
                ));
            }
            Ok(PriceChange::Set(price))
        }
        RawChange::Percent(value) => percent(&value).map(PriceChange::Percent),
        RawChange::Amount(value) => Ok(PriceChange::Amount(money(&value, "$.change.amount")?)),
    }
}

/// A percentage in hundredths, within [`PERCENT_HUNDREDTHS`].
fn percent(value: &Value) -> Result<i64> {
    let at = "$.change.percent";
    // Hundredths of a percent have the shape of cents: a decimal with at most 2 places.
    let hundredths = money(value, at)?;
    if !PERCENT_HUNDREDTHS.contains(&hundredths.0) {
        let message = format!("percent {hundredths} is outside -100 to +1000");
        return Err(invalid(at, &message));
    }
    Ok(hundredths.0)
}

/// A decimal with at most 2 places, as a string or a number.
fn money(value: &Value, at: &str) -> Result<Cents> {
    let parsed = match value {
        Value::String(text) => Cents::parse(text),
        Value::Number(number) => Cents::from_json_number(number),
        other => return Err(invalid(at, &format!("expected a decimal, found {other}"))),
    };
    parsed.map_err(|e| invalid(at, &e.to_string()))
}

fn invalid(at: &str, message: &str) -> PricingError {
    PricingError::Invalid {
        at: at.to_string(),
        message: message.to_string(),
    }
}

/// The products a spec selects, by ascending id, each once.
///
/// # Errors
/// Ids or SKUs naming no product (all of them, with their paths); an empty list; a
/// category without products.
pub fn select_products<'a>(
    selector: &ProductSelector,
    prices: &'a super::PriceList,
) -> Result<Vec<&'a Product>> {
    let named: Vec<(String, ProductRef)> = match selector {
        ProductSelector::Category(category) => return category_products(category, prices),
        ProductSelector::Ids(ids) => named(ids, "ids", |id| ProductRef::Id(*id)),
        ProductSelector::Skus(skus) => named(skus, "skus", |sku| ProductRef::Sku(sku.clone())),
    };
    if named.is_empty() {
        return Err(invalid("$.products", "names no product"));
    }
    let mut found = Vec::with_capacity(named.len());
    let mut unknown = Vec::new();
    for (at, product) in named {
        match prices.resolve(&product) {
            Some(p) => found.push(p),
            None => unknown.push(super::UnknownProduct { at, product }),
        }
    }
    if !unknown.is_empty() {
        return Err(PricingError::UnknownProducts { products: unknown });
    }
    found.sort_by_key(|p| p.product_id);
    found.dedup_by_key(|p| p.product_id);
    Ok(found)
}

fn named<T>(
    items: &[T],
    key: &str,
    to_ref: impl Fn(&T) -> ProductRef,
) -> Vec<(String, ProductRef)> {
    let at = |i| format!("$.products.{key}[{i}]");
    items
        .iter()
        .enumerate()
        .map(|(i, item)| (at(i), to_ref(item)))
        .collect()
}

fn category_products<'a>(category: &str, prices: &'a super::PriceList) -> Result<Vec<&'a Product>> {
    let found = prices.in_category(category);
    if found.is_empty() {
        return Err(PricingError::EmptyCategory {
            at: "$.products.category".into(),
            category: category.to_string(),
        });
    }
    Ok(found)
}

/// What a dry run reports: how many clients and products the update would touch, and a
/// sample of old and new prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkPreview {
    pub segment_id: i64,
    pub clients: u64,
    pub products: u64,
    pub product_ids: Vec<i64>,
    /// Overrides an apply would write: clients times products.
    pub overrides: u64,
    pub sample: Vec<PriceSample>,
}

/// One client's price of one product, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceSample {
    pub client_id: i64,
    pub product_id: i64,
    pub sku: String,
    pub old_price: Cents,
    pub old_source: PriceSource,
    pub new_price: Cents,
}

/// An update bound to a segment's current members and the products it selects.
struct Plan<'a> {
    ctx: &'a PricingContext<'a>,
    /// Live members, as positions.
    members: RoaringBitmap,
    products: Vec<&'a Product>,
    /// Overrides in force now, the newest per (client id, product id).
    overrides: HashMap<(i64, i64), Cents>,
    change: PriceChange,
}

impl<'a> Plan<'a> {
    fn bind(
        conn: &Connection,
        ctx: &'a PricingContext<'a>,
        members: &RoaringBitmap,
        spec: &BulkSpec,
        now: DateTime<Utc>,
    ) -> Result<Plan<'a>> {
        if let Some(ends_at) = spec.ends_at.filter(|end| *end <= now) {
            return Err(PricingError::EndsInPast { ends_at, now });
        }
        let products = select_products(&spec.products, ctx.prices)?;
        let members = members & ctx.tiers.universe();
        let ids: Vec<i64> = products.iter().map(|p| p.product_id).collect();
        let wanted = |client_id| {
            ctx.clients
                .position(client_id)
                .is_some_and(|p| members.contains(p))
        };
        let overrides = store::overrides_in_force(conn, &ids, now, wanted)?;
        Ok(Plan {
            ctx,
            members,
            products,
            overrides,
            change: spec.change,
        })
    }

    fn product_ids(&self) -> Vec<i64> {
        self.products.iter().map(|p| p.product_id).collect()
    }

    /// The current price of a product for the member at `position`, where it comes from,
    /// and the price after the change.
    fn price(&self, position: u32, product: &Product) -> Result<(i64, Cents, PriceSource, Cents)> {
        let client_id = self.ctx.clients.client_id(position);
        let (old, source) = match self.overrides.get(&(client_id, product.product_id)) {
            Some(price) => (*price, PriceSource::Override),
            None => product.tier_price(self.ctx.tiers.tier_of(position).unwrap_or(Tier::Retail)),
        };
        let new = self
            .change
            .apply(old)
            .ok_or_else(|| PricingError::Overflow {
                at: format!("client {client_id}, product {}", product.product_id),
            })?;
        Ok((client_id, old, source, new))
    }

    /// Every (client id, product id, new price), members by id, then products by id.
    fn rows(&self) -> impl Iterator<Item = Result<(i64, i64, Cents)>> + '_ {
        self.members.iter().flat_map(move |position| {
            self.products.iter().map(move |product| {
                let (client_id, _, _, new) = self.price(position, product)?;
                Ok((client_id, product.product_id, new))
            })
        })
    }

    fn sample(&self, sample_max: usize) -> Result<Vec<PriceSample>> {
        let pairs = self
            .members
            .iter()
            .flat_map(|position| self.products.iter().map(move |p| (position, *p)));
        pairs
            .take(sample_max)
            .map(|(position, product)| {
                let (client_id, old_price, old_source, new_price) =
                    self.price(position, product)?;
                Ok(PriceSample {
                    client_id,
                    product_id: product.product_id,
                    sku: product.sku.clone(),
                    old_price,
                    old_source,
                    new_price,
                })
            })
            .collect()
    }
}

/// A dry run: what applying `spec` to the segment's current `members` (positions) would do,
/// from the prices in force at `now`. Writes nothing.
///
/// # Errors
/// A spec naming unknown products or ending before `now`; a database failure.
pub fn preview(
    conn: &Connection,
    ctx: &PricingContext<'_>,
    segment_id: i64,
    members: &RoaringBitmap,
    spec: &BulkSpec,
    now: DateTime<Utc>,
    sample_max: usize,
) -> Result<BulkPreview> {
    let plan = Plan::bind(conn, ctx, members, spec, now)?;
    Ok(BulkPreview {
        segment_id,
        clients: plan.members.len(),
        products: plan.products.len() as u64,
        product_ids: plan.product_ids(),
        overrides: plan.members.len() * plan.products.len() as u64,
        sample: plan.sample(sample_max)?,
    })
}

/// Applies `spec` to the segment's current live `members` (positions): one override per
/// member and product, from the price in force at `now`, and a record of the update and its
/// members. One savepoint: everything is written or nothing.
///
/// # Errors
/// As [`preview`]; a price too large to compute; a database failure (nothing written).
pub fn apply(
    conn: &Connection,
    ctx: &PricingContext<'_>,
    segment_id: i64,
    members: &RoaringBitmap,
    spec: &BulkSpec,
    now: DateTime<Utc>,
) -> Result<PriceUpdate> {
    let started = std::time::Instant::now();
    let plan = Plan::bind(conn, ctx, members, spec, now)?;
    let client_ids = ctx.clients.ids_of(&plan.members);
    let product_ids = plan.product_ids();
    let new_update = NewUpdate {
        segment_id,
        spec: spec.to_json(),
        product_ids: &product_ids,
        applied_at: now,
        ends_at: spec.ends_at,
        client_ids: &client_ids,
    };
    let update = store::in_savepoint(conn, "pricing_bulk_apply", || {
        let update_id = store::record_update(conn, &new_update)?;
        let stamp = OverrideStamp {
            update_id,
            created_at: now,
            expires_at: spec.ends_at,
        };
        store::write_overrides(conn, stamp, plan.rows(), store::ROWS_PER_INSERT)?;
        store::get_update(conn, update_id)
    })?;
    tracing::info!(
        update_id = update.update_id,
        segment_id,
        clients = update.member_count,
        products = update.product_count,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "price update applied"
    );
    Ok(update)
}
