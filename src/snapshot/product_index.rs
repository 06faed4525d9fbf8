//! Per product, the clients who bought it in a completed order; and SKUs to product ids.

use std::collections::{HashMap, HashSet};

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::Int64Type;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use roaring::RoaringBitmap;

use super::ClientIndex;

/// Buyers per product id. A product that left the products table keeps its buyers: the
/// index is built from order lines, not from the catalog.
#[derive(Debug, Clone, Default)]
pub struct ProductIndex {
    buyers: HashMap<i64, RoaringBitmap>,
    skus: HashMap<String, i64>,
    listed: HashSet<i64>,
}

const BUYERS: &str = "
    SELECT l.product_id, o.client_id
    FROM order_lines l JOIN orders o ON l.order_id = o.order_id
    WHERE o.status = 'completed' AND o.client_id IS NOT NULL";

impl ProductIndex {
    /// Builds the index with a DataFusion join of lines to completed orders.
    ///
    /// # Errors
    /// Only a DataFusion failure.
    pub async fn build(
        ctx: &SessionContext,
        index: &ClientIndex,
        products: &RecordBatch,
    ) -> Result<ProductIndex, DataFusionError> {
        let mut buyers: HashMap<i64, RoaringBitmap> = HashMap::new();
        for batch in ctx.sql(BUYERS).await?.collect().await? {
            let products: &Int64Array = batch.column(0).as_primitive();
            let clients: &Int64Array = batch.column(1).as_primitive();
            for (product, client) in products.values().iter().zip(clients.values()) {
                if let Some(pos) = index.position(*client) {
                    buyers.entry(*product).or_default().insert(pos);
                }
            }
        }
        let listed = products
            .column(0)
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .copied()
            .collect();
        Ok(ProductIndex {
            buyers,
            skus: sku_map(products),
            listed,
        })
    }

    /// Clients who bought `product_id` in a completed order.
    pub fn buyers(&self, product_id: i64) -> Option<&RoaringBitmap> {
        self.buyers.get(&product_id)
    }

    /// The product id of a SKU, matched exactly after trimming, else ignoring case.
    pub fn product_by_sku(&self, sku: &str) -> Option<i64> {
        let sku = sku.trim();
        self.skus
            .get(sku)
            .or_else(|| self.skus.get(&sku.to_lowercase()))
            .copied()
    }

    /// Whether the products table lists this id.
    pub fn is_listed(&self, product_id: i64) -> bool {
        self.listed.contains(&product_id)
    }
}

fn sku_map(products: &RecordBatch) -> HashMap<String, i64> {
    let ids: &Int64Array = products.column(0).as_primitive();
    let skus: &StringArray = products.column(1).as_string();
    let mut map = HashMap::with_capacity(ids.len() * 2);
    for (id, sku) in ids.values().iter().zip(skus.iter()) {
        let sku = sku.unwrap_or_default().trim();
        map.entry(sku.to_lowercase()).or_insert(*id);
        map.insert(sku.to_string(), *id);
    }
    map
}
