//! The products' list prices per tier, and finding a product by id or SKU.

use std::collections::HashMap;
use std::fmt;

use arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::Int64Type;
use serde::Serialize;

use super::Tier;
use crate::facts::schema::products as col;
use crate::money::Cents;

/// Where a unit price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// The client's own override, from a bulk price update.
    Override,
    /// The price of the client's tier.
    Tier,
    /// The retail price, because the client's tier is retail.
    Retail,
    /// The retail price, because the product has no price for the client's tier.
    RetailFallback,
}

/// A product as a request names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductRef {
    #[serde(rename = "product_id")]
    Id(i64),
    Sku(String),
}

impl fmt::Display for ProductRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProductRef::Id(id) => write!(f, "id {id}"),
            ProductRef::Sku(sku) => write!(f, "SKU {sku:?}"),
        }
    }
}

/// One product and its list prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub category: Option<String>,
    pub retail: Cents,
    pub wholesale: Option<Cents>,
    pub vip: Option<Cents>,
    pub staff: Option<Cents>,
}

impl Product {
    /// The list price for a tier, falling back to retail where the tier has none.
    pub fn tier_price(&self, tier: Tier) -> (Cents, PriceSource) {
        let tier_price = match tier {
            Tier::Retail => return (self.retail, PriceSource::Retail),
            Tier::Wholesale => self.wholesale,
            Tier::Vip => self.vip,
            Tier::Staff => self.staff,
        };
        match tier_price {
            Some(price) => (price, PriceSource::Tier),
            None => (self.retail, PriceSource::RetailFallback),
        }
    }
}

/// Every product of a snapshot, by id and by SKU.
///
/// Build it once per snapshot: it copies the products table.
#[derive(Debug, Clone, Default)]
pub struct PriceList {
    products: Vec<Product>,
    by_id: HashMap<i64, usize>,
    by_sku: HashMap<String, usize>,
    by_folded_sku: HashMap<String, usize>,
}

impl PriceList {
    /// Indexes products; a repeated id or SKU keeps its first product.
    pub fn new(products: Vec<Product>) -> PriceList {
        let mut list = PriceList {
            by_id: HashMap::with_capacity(products.len()),
            by_sku: HashMap::with_capacity(products.len()),
            by_folded_sku: HashMap::with_capacity(products.len()),
            products,
        };
        for (at, product) in list.products.iter().enumerate() {
            let sku = product.sku.trim();
            list.by_id.entry(product.product_id).or_insert(at);
            list.by_sku.entry(sku.to_string()).or_insert(at);
            list.by_folded_sku.entry(sku.to_lowercase()).or_insert(at);
        }
        list
    }

    /// Reads the canonical `products` table (`snapshot.facts.products`).
    pub fn from_batch(batch: &RecordBatch) -> PriceList {
        let ints = |name| {
            batch
                .column_by_name(name)
                .map(|c| c.as_primitive::<Int64Type>())
        };
        let texts = |name| batch.column_by_name(name).map(|c| c.as_string::<i32>());
        let (Some(ids), Some(skus), Some(names), Some(retail)) = (
            ints(col::PRODUCT_ID),
            texts(col::SKU),
            texts(col::NAME),
            ints(col::RETAIL_PRICE_CENTS),
        ) else {
            tracing::warn!("products table without its canonical columns: no prices");
            return PriceList::default();
        };
        let columns = Columns {
            ids,
            skus,
            names,
            categories: texts(col::CATEGORY),
            retail,
            wholesale: ints(col::WHOLESALE_PRICE_CENTS),
            vip: ints(col::VIP_PRICE_CENTS),
            staff: ints(col::STAFF_PRICE_CENTS),
        };
        PriceList::new(
            (0..batch.num_rows())
                .map(|row| columns.product(row))
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.products.len()
    }

    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    pub fn get(&self, product_id: i64) -> Option<&Product> {
        self.by_id.get(&product_id).map(|at| &self.products[*at])
    }

    /// The product with this SKU: exactly after trimming, else ignoring case.
    pub fn by_sku(&self, sku: &str) -> Option<&Product> {
        let sku = sku.trim();
        self.by_sku
            .get(sku)
            .or_else(|| self.by_folded_sku.get(&sku.to_lowercase()))
            .map(|at| &self.products[*at])
    }

    pub fn resolve(&self, product: &ProductRef) -> Option<&Product> {
        match product {
            ProductRef::Id(id) => self.get(*id),
            ProductRef::Sku(sku) => self.by_sku(sku),
        }
    }

    /// Products whose category matches after trimming and case folding, by ascending id.
    pub fn in_category(&self, category: &str) -> Vec<&Product> {
        let wanted = category.trim().to_lowercase();
        let mut found: Vec<&Product> = self
            .products
            .iter()
            .filter(|p| {
                p.category
                    .as_deref()
                    .is_some_and(|c| c.trim().to_lowercase() == wanted)
            })
            .collect();
        found.sort_by_key(|p| p.product_id);
        found.dedup_by_key(|p| p.product_id);
        found
    }
}

/// The columns of a products table, read row by row.
struct Columns<'a> {
    ids: &'a Int64Array,
    skus: &'a StringArray,
    names: &'a StringArray,
    categories: Option<&'a StringArray>,
    retail: &'a Int64Array,
    wholesale: Option<&'a Int64Array>,
    vip: Option<&'a Int64Array>,
    staff: Option<&'a Int64Array>,
}

impl Columns<'_> {
    fn product(&self, row: usize) -> Product {
        let optional = |column: Option<&Int64Array>| {
            column
                .filter(|c| c.is_valid(row))
                .map(|c| Cents(c.value(row)))
        };
        Product {
            product_id: self.ids.value(row),
            sku: self.skus.value(row).to_string(),
            name: self.names.value(row).to_string(),
            category: self
                .categories
                .filter(|c| c.is_valid(row))
                .map(|c| c.value(row).to_string()),
            retail: Cents(self.retail.value(row)),
            wholesale: optional(self.wholesale),
            vip: optional(self.vip),
            staff: optional(self.staff),
        }
    }
}
