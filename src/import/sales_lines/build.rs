//! Sales lines gathered into the tenant's tables: one order per order id, one client per
//! client id, one product per product code, one order line per kept row.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Int64Array, ListArray, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::Field;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::parse::UnitPrice;
use super::{CancelRule, SalesLinesOptions};
use crate::facts::schema::{self, OrderStatus};
use crate::import::countries;

/// One parsed row of the file.
#[derive(Debug, Clone, Copy)]
pub struct SaleRow<'a> {
    pub order_key: &'a str,
    pub at_us: i64,
    pub client: Option<i64>,
    pub code: &'a str,
    pub description: &'a str,
    pub quantity: i64,
    pub price: UnitPrice,
    pub line_total_cents: i64,
    pub country: &'a str,
}

/// Why a well-formed row is still no sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotASale {
    /// An adjustment document (Online Retail's "A" invoices, "Adjust bad debt").
    AdjustmentOrder(String),
    /// A negative unit price: a booking, not goods sold.
    NegativePrice,
}

/// The tables built, and what building them found.
#[derive(Debug)]
pub struct Built {
    pub clients: RecordBatch,
    pub orders: RecordBatch,
    pub lines: RecordBatch,
    pub products: RecordBatch,
    pub stats: BuildStats,
}

/// Counts for the import summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildStats {
    pub orders: u64,
    pub cancelled_orders: u64,
    pub clients: u64,
    pub products: u64,
    pub lines: u64,
    /// Sum of the totals of completed orders (never negative per order), in cents.
    pub completed_revenue_cents: i64,
    /// `true` when the file's order ids were not all distinct whole numbers, so orders
    /// were numbered from 1 in time order instead.
    pub order_ids_numbered: bool,
    /// Rows of an order whose client id differs from the order's first one.
    pub client_conflicts: u64,
    /// Country names without an ISO code, with their rows.
    pub unmapped_countries: BTreeMap<String, u64>,
}

#[derive(Debug)]
struct OrderAcc {
    key: String,
    /// The whole number in the key once a cancel or adjust prefix is removed.
    number: Option<i64>,
    prefix_cancelled: bool,
    at_us: i64,
    client: Option<i64>,
    total_cents: i64,
    quantity: i64,
    all_negative: bool,
}

#[derive(Debug)]
struct ProductAcc {
    code: String,
    name: Option<String>,
    price: Option<UnitPrice>,
}

#[derive(Debug, Default)]
struct ClientAcc {
    first_at_us: i64,
    countries: Vec<(&'static str, u64)>,
}

#[derive(Debug, Clone, Copy)]
struct LineAcc {
    order: u32,
    product: u32,
    quantity: i64,
    total_cents: i64,
}

/// Gathers rows in file order.
#[derive(Debug)]
pub struct TenantBuilder {
    cancel: CancelRule,
    adjust_prefix: Option<String>,
    orders: Vec<OrderAcc>,
    order_index: HashMap<String, u32>,
    products: Vec<ProductAcc>,
    product_index: HashMap<String, u32>,
    clients: BTreeMap<i64, ClientAcc>,
    lines: Vec<LineAcc>,
    client_conflicts: u64,
    unmapped_countries: BTreeMap<String, u64>,
}

impl TenantBuilder {
    pub fn new(options: &SalesLinesOptions) -> Self {
        TenantBuilder {
            cancel: options.cancel.clone(),
            adjust_prefix: options.adjust_prefix.clone().filter(|p| !p.is_empty()),
            orders: Vec::new(),
            order_index: HashMap::new(),
            products: Vec::new(),
            product_index: HashMap::new(),
            clients: BTreeMap::new(),
            lines: Vec::new(),
            client_conflicts: 0,
            unmapped_countries: BTreeMap::new(),
        }
    }

    /// Adds a row as an order line, or says why it is no sale.
    pub fn add(&mut self, row: &SaleRow<'_>) -> Result<(), NotASale> {
        if let Some(prefix) = &self.adjust_prefix
            && strip_number_prefix(row.order_key, prefix).is_some()
        {
            return Err(NotASale::AdjustmentOrder(row.order_key.to_string()));
        }
        if row.price.ten_thousandths < 0 {
            return Err(NotASale::NegativePrice);
        }
        let order = self.order_for(row);
        let product = self.product_for(row);
        self.note_client(row);
        self.lines.push(LineAcc {
            order,
            product,
            quantity: row.quantity,
            total_cents: row.line_total_cents,
        });
        Ok(())
    }

    fn order_for(&mut self, row: &SaleRow<'_>) -> u32 {
        let index = match self.order_index.get(row.order_key) {
            Some(index) => *index,
            None => self.new_order(row),
        };
        let order = &mut self.orders[index as usize];
        order.at_us = order.at_us.min(row.at_us);
        order.total_cents += row.line_total_cents;
        order.quantity += row.quantity;
        order.all_negative &= row.quantity < 0;
        match (order.client, row.client) {
            (None, Some(client)) => order.client = Some(client),
            (Some(known), Some(client)) if known != client => self.client_conflicts += 1,
            _ => {}
        }
        index
    }

    fn new_order(&mut self, row: &SaleRow<'_>) -> u32 {
        let cancelled_rest = match &self.cancel {
            CancelRule::Prefix(prefix) => strip_number_prefix(row.order_key, prefix),
            CancelRule::Negative => None,
        };
        let number_text = cancelled_rest.unwrap_or(row.order_key);
        let index = self.orders.len() as u32;
        self.orders.push(OrderAcc {
            key: row.order_key.to_string(),
            number: number_text.parse().ok(),
            prefix_cancelled: cancelled_rest.is_some(),
            at_us: row.at_us,
            client: None,
            total_cents: 0,
            quantity: 0,
            all_negative: true,
        });
        self.order_index.insert(row.order_key.to_string(), index);
        index
    }

    fn product_for(&mut self, row: &SaleRow<'_>) -> u32 {
        let index = match self.product_index.get(row.code) {
            Some(index) => *index,
            None => {
                let index = self.products.len() as u32;
                let code = row.code.to_string();
                self.products.push(ProductAcc {
                    code: code.clone(),
                    name: None,
                    price: None,
                });
                self.product_index.insert(code, index);
                index
            }
        };
        // The last non-empty description and the last positive price win.
        let product = &mut self.products[index as usize];
        let description = row.description.trim();
        if !description.is_empty() && product.name.as_deref() != Some(description) {
            product.name = Some(description.to_string());
        }
        if row.price.ten_thousandths > 0 {
            product.price = Some(row.price);
        }
        index
    }

    fn note_client(&mut self, row: &SaleRow<'_>) {
        let Some(client_id) = row.client else { return };
        let code = self.country_code(row.country);
        let client = self.clients.entry(client_id).or_insert_with(|| ClientAcc {
            first_at_us: row.at_us,
            countries: Vec::new(),
        });
        client.first_at_us = client.first_at_us.min(row.at_us);
        if let Some(code) = code {
            match client.countries.iter_mut().find(|(c, _)| *c == code) {
                Some((_, rows)) => *rows += 1,
                None => client.countries.push((code, 1)),
            }
        }
    }

    fn country_code(&mut self, name: &str) -> Option<&'static str> {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        let code = countries::iso_alpha2(name);
        if code.is_none() {
            *self.unmapped_countries.entry(name.to_string()).or_insert(0) += 1;
        }
        code
    }

    /// The finished tables.
    ///
    /// # Errors
    /// Only if the columns do not fit the canonical schemas, which is a bug.
    pub fn finish(self) -> Result<Built, ArrowError> {
        let (order_ids, order_ids_numbered) = assign_order_ids(&self.orders);
        let product_ids = assign_product_ids(&self.products);
        let flipped: Vec<bool> = self
            .orders
            .iter()
            .map(|o| self.is_cancelled(o) && o.quantity < 0)
            .collect();

        let mut stats = BuildStats {
            orders: self.orders.len() as u64,
            clients: self.clients.len() as u64,
            products: self.products.len() as u64,
            lines: self.lines.len() as u64,
            order_ids_numbered,
            client_conflicts: self.client_conflicts,
            ..BuildStats::default()
        };
        let orders = self.orders_batch(&order_ids, &flipped, &mut stats)?;
        let lines = self.lines_batch(&order_ids, &product_ids, &flipped)?;
        let products = self.products_batch(&product_ids)?;
        let clients = self.clients_batch()?;
        stats.unmapped_countries = self.unmapped_countries;
        Ok(Built {
            clients,
            orders,
            lines,
            products,
            stats,
        })
    }

    fn is_cancelled(&self, order: &OrderAcc) -> bool {
        match self.cancel {
            CancelRule::Prefix(_) => order.prefix_cancelled,
            CancelRule::Negative => order.all_negative,
        }
    }

    /// Orders sorted by id. A cancelled order that is a credit note (negative quantities)
    /// is stored as the sale it cancels: positive quantities and total.
    fn orders_batch(
        &self,
        ids: &[i64],
        flipped: &[bool],
        stats: &mut BuildStats,
    ) -> Result<RecordBatch, ArrowError> {
        let mut by_id: Vec<usize> = (0..self.orders.len()).collect();
        by_id.sort_unstable_by_key(|&i| ids[i]);
        let mut statuses = Vec::with_capacity(by_id.len());
        let mut totals = Vec::with_capacity(by_id.len());
        for &i in &by_id {
            let order = &self.orders[i];
            let status = match self.is_cancelled(order) {
                true => OrderStatus::Cancelled,
                false => OrderStatus::Completed,
            };
            let total = if flipped[i] {
                -order.total_cents
            } else {
                order.total_cents
            };
            match status {
                OrderStatus::Completed => stats.completed_revenue_cents += total.max(0),
                _ => stats.cancelled_orders += 1,
            }
            statuses.push(status.as_str());
            totals.push(total);
        }
        let at = by_id.iter().map(|&i| self.orders[i].at_us);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(by_id.iter().map(|&i| ids[i]))),
            Arc::new(Int64Array::from_iter(
                by_id.iter().map(|&i| self.orders[i].client),
            )),
            Arc::new(TimestampMicrosecondArray::from_iter_values(at).with_timezone("UTC")),
            Arc::new(StringArray::from(statuses)),
            Arc::new(Int64Array::from(totals)),
            Arc::new(Int64Array::from(vec![0; by_id.len()])),
        ];
        RecordBatch::try_new(schema::orders_schema(), columns)
    }

    /// Lines sorted by order id, in file order within an order.
    fn lines_batch(
        &self,
        order_ids: &[i64],
        product_ids: &[i64],
        flipped: &[bool],
    ) -> Result<RecordBatch, ArrowError> {
        let mut lines = self.lines.clone();
        lines.sort_by_key(|l| order_ids[l.order as usize]);
        let sign = |l: &LineAcc| if flipped[l.order as usize] { -1 } else { 1 };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(
                lines.iter().map(|l| order_ids[l.order as usize]),
            )),
            Arc::new(Int64Array::from_iter_values(
                lines.iter().map(|l| product_ids[l.product as usize]),
            )),
            Arc::new(Int64Array::from_iter_values(
                lines.iter().map(|l| sign(l) * l.quantity),
            )),
            Arc::new(Int64Array::from_iter_values(
                lines.iter().map(|l| sign(l) * l.total_cents),
            )),
        ];
        RecordBatch::try_new(schema::order_lines_schema(), columns)
    }

    /// Products sorted by id: the code as SKU, the last description as name (the code when
    /// there was none), the last positive unit price as retail price (0 when none).
    fn products_batch(&self, ids: &[i64]) -> Result<RecordBatch, ArrowError> {
        let mut by_id: Vec<usize> = (0..self.products.len()).collect();
        by_id.sort_unstable_by_key(|&i| ids[i]);
        let products = by_id.iter().map(|&i| &self.products[i]);
        let names = products
            .clone()
            .map(|p| p.name.as_deref().unwrap_or(&p.code));
        let prices = products
            .clone()
            .map(|p| p.price.map_or(0, UnitPrice::cents));
        let no_price = || Arc::new(Int64Array::new_null(by_id.len())) as ArrayRef;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(by_id.iter().map(|&i| ids[i]))),
            Arc::new(StringArray::from_iter_values(
                products.clone().map(|p| &p.code),
            )),
            Arc::new(StringArray::from_iter_values(names)),
            Arc::new(StringArray::new_null(by_id.len())),
            Arc::new(Int64Array::from_iter_values(prices)),
            no_price(),
            no_price(),
            no_price(),
        ];
        RecordBatch::try_new(schema::products_schema(), columns)
    }

    /// Retail clients named after their id, in the country most of their rows name
    /// (ties to the alphabetically first code), created at their first order.
    fn clients_batch(&self) -> Result<RecordBatch, ArrowError> {
        let count = self.clients.len();
        let country = |c: &ClientAcc| {
            c.countries
                .iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .map(|(code, _)| *code)
        };
        let created = self.clients.values().map(|c| c.first_at_us);
        let tags_field = Arc::new(Field::new("item", arrow::datatypes::DataType::Utf8, true));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(self.clients.keys().copied())),
            Arc::new(StringArray::from_iter_values(
                self.clients.keys().map(|id| format!("Customer {id}")),
            )),
            Arc::new(StringArray::new_null(count)),
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                "retail", count,
            ))),
            Arc::new(StringArray::from_iter(self.clients.values().map(country))),
            Arc::new(StringArray::new_null(count)),
            Arc::new(TimestampMicrosecondArray::from_iter_values(created).with_timezone("UTC")),
            Arc::new(ListArray::new_null(tags_field, count)),
            Arc::new(TimestampMicrosecondArray::new_null(count).with_timezone("UTC")),
            Arc::new(BooleanArray::new_null(count)),
        ];
        RecordBatch::try_new(schema::clients_schema(&[]), columns)
    }
}

/// `"C536379"` with prefix `"C"` gives `"536379"`: a prefix counts only before digits, so
/// an order id like `"CUST-7"` never matches `"C"`.
pub fn strip_number_prefix<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = key.strip_prefix(prefix)?;
    (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())).then_some(rest)
}

/// The file's own order numbers when they are distinct whole numbers; otherwise orders
/// numbered from 1 by (date-time, order id). Returns the ids and whether they were numbered.
fn assign_order_ids(orders: &[OrderAcc]) -> (Vec<i64>, bool) {
    let numbers: Option<Vec<i64>> = orders.iter().map(|o| o.number).collect();
    if let Some(numbers) = numbers {
        let mut sorted = numbers.clone();
        sorted.sort_unstable();
        if sorted.windows(2).all(|w| w[0] != w[1]) {
            return (numbers, false);
        }
    }
    let mut by_time: Vec<usize> = (0..orders.len()).collect();
    by_time.sort_by(|&a, &b| {
        (orders[a].at_us, &orders[a].key).cmp(&(orders[b].at_us, &orders[b].key))
    });
    let mut ids = vec![0; orders.len()];
    for (rank, &index) in by_time.iter().enumerate() {
        ids[index] = rank as i64 + 1;
    }
    (ids, true)
}

/// Product ids: the codes sorted, numbered from 1.
fn assign_product_ids(products: &[ProductAcc]) -> Vec<i64> {
    let mut by_code: Vec<usize> = (0..products.len()).collect();
    by_code.sort_by(|&a, &b| products[a].code.cmp(&products[b].code));
    let mut ids = vec![0; products.len()];
    for (rank, &index) in by_code.iter().enumerate() {
        ids[index] = rank as i64 + 1;
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_only_before_digits() {
        assert_eq!(strip_number_prefix("C536379", "C"), Some("536379"));
        assert_eq!(strip_number_prefix("CN-1001", "CN-"), Some("1001"));
        assert_eq!(strip_number_prefix("CUST-7", "C"), None);
        assert_eq!(strip_number_prefix("C", "C"), None);
        assert_eq!(strip_number_prefix("536379", "C"), None);
    }
}
