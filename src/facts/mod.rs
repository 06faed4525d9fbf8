//! A tenant's facts (clients, orders, order lines, invoices, products) as canonical Arrow
//! tables, and the loader that reads them from a tenant folder.
//!
//! Invariant: every table here has exactly the canonical schema of [`schema`], whatever the
//! input format was. Money is `Int64` cents, timestamps are `Timestamp(Microsecond, "UTC")`,
//! order and invoice statuses are lower-case and known. Orders, lines and invoices that point
//! to an unknown client or order have been left out and counted in [`LoadReport`].

pub mod builder;
pub mod load;
pub mod schema;
pub mod write;

use arrow::record_batch::RecordBatch;

pub use load::{LoadError, load_tenant};
pub use schema::{CustomField, CustomKind, OrderStatus};

/// The five tables of a tenant, in canonical form, plus what the load set aside.
#[derive(Debug, Clone)]
pub struct Facts {
    pub clients: RecordBatch,
    pub orders: RecordBatch,
    pub order_lines: RecordBatch,
    pub invoices: RecordBatch,
    pub products: RecordBatch,
    /// Client columns beyond the contract's, in column order.
    pub custom_fields: Vec<CustomField>,
    pub report: LoadReport,
}

/// What a load read and what it left out, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoadReport {
    pub tables: Vec<TableReport>,
    /// Order lines kept although `products` does not list their product: their sales
    /// count, but reports show them without a SKU or name.
    pub lines_of_unknown_products: usize,
    /// A few of those product ids.
    pub unknown_product_samples: Vec<i64>,
}

/// One table's load: rows kept, rows left out because they point nowhere, and time taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableReport {
    pub table: String,
    pub rows: usize,
    pub orphans: usize,
    /// A few ids of the rows left out, for the log and the API.
    pub orphan_samples: Vec<i64>,
    pub elapsed_ms: u64,
}
