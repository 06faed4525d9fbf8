//! The loader: reads a tenant folder (Parquet and CSV, see `docs/input-format.md`) into
//! canonical [`Facts`].
//!
//! # Where tables come from
//! For each table the loader reads, in this order, `<dir>/<table>.parquet`,
//! `<dir>/<table>.csv`, then every `.parquet` and `.csv` file of the folder `<dir>/<table>/`
//! sorted by file name (files named `.*` or `_*` are skipped), and concatenates them.
//! `clients` and `orders` are required; `order_lines`, `invoices` and `products` load empty
//! when absent.
//!
//! # How values are read
//! - Integers: any Arrow integer type that fits `Int64`. Text: `Utf8`, `LargeUtf8`,
//!   `Utf8View` or a dictionary of them.
//! - Money becomes `Int64` cents: a decimal of any precision and scale whose values have at
//!   most 2 decimal places, or an integer (whole units). Floating point is refused: money
//!   must stay exact. In CSV, a plain decimal such as `12.50`.
//! - Timestamps: any unit, with or without a zone (none means UTC), or a date (midnight
//!   UTC). In CSV: RFC 3339, `YYYY-MM-DD HH:MM:SS[.fff]` or `YYYY-MM-DDTHH:MM:SS` without a
//!   zone (UTC), or a bare `YYYY-MM-DD` (midnight UTC).
//! - Dates (`due_at`): `Date32`, `Date64` or a timestamp's UTC date; in CSV `YYYY-MM-DD`
//!   (a timestamp gives its UTC date).
//! - Booleans: `Boolean`; in CSV `true`/`false`, `yes`/`no` or `1`/`0`, in any case.
//! - Statuses are trimmed and case folded, then must be known; they are kept lower-case.
//! - `tags`: a list of text; in CSV split on `;`, pieces trimmed, empty pieces dropped,
//!   case kept.
//! - In CSV an empty or blank field is a null. Parquet text is never parsed into numbers,
//!   dates or money: a Parquet column must have its contract type.
//!
//! # Client custom fields
//! Every clients column beyond the contract is a custom field. In Parquet its kind follows
//! its type: text is Text, any integer Integer, floats Float, decimals Money, Boolean,
//! dates Date, timestamps Timestamp (other types are ignored with a warning). In CSV the kind
//! is inferred from the column's non-empty values, first match wins:
//! 1. all `true`/`false` (any case): Boolean;
//! 2. all numbers, and the column name ends with `_amount`, `_price`, `_balance` or
//!    `_revenue`: Money (a value with more than 2 decimal places is then refused by row);
//! 3. all integers without a leading zero (so zip codes such as `01234` stay text): Integer;
//! 4. all integers or decimals: Float;
//! 5. all `YYYY-MM-DD`: Date;
//! 6. all timestamps as above (dates included): Timestamp;
//! 7. anything else, or no value at all: Text.
//!
//! When parts disagree, the field takes a kind holding both: Integer with Float is Float,
//! Integer with Money is Money, Date with Timestamp is Timestamp, anything else is Text.
//! A part without the column gives nulls.
//!
//! # What is checked
//! Required columns must exist and hold no null; `client_id` (clients), `order_id` (orders)
//! and `product_id` (products) must be unique across all parts. Orders of an unknown client,
//! lines of an unknown (or left out) order and invoices of an unknown client are left out
//! and counted in the [`LoadReport`], with one warning per table. Guest orders (no client)
//! and orders of deleted clients are kept.

mod convert;
mod csv;
mod discover;
mod error;
mod ids;
mod infer;
mod orphans;
mod parquet;
mod part;
mod sink;
mod spec;
mod table;
mod text;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Instant;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use tracing::{info, info_span, warn};

pub use error::LoadError;
use error::Result;
use ids::IdSet;
use orphans::{Link, Orphans};
use spec::TableSpec;
use table::LoadedTable;

use super::schema::{invoices, order_lines, orders};
use super::{Facts, LoadReport, TableReport};

/// Loads every table of the tenant folder into canonical form.
///
/// # Errors
/// The folder or a required table is missing, a file cannot be read, or its data breaks the
/// contract (a missing column, a wrong type, a null or bad value, a duplicate id). Every error
/// names the file, and the column and row where they apply.
pub fn load_tenant(dir: &Path) -> Result<Facts, LoadError> {
    let _span = info_span!("load", dir = %dir.display()).entered();
    let started = Instant::now();
    if !dir.is_dir() {
        return Err(LoadError::NotAFolder {
            dir: dir.to_path_buf(),
        });
    }
    let mut report = LoadReport::default();

    // Clients first, then what points to them, then what points to orders.
    let clients = load_table(dir, spec::clients(), None, &mut report)?;
    let client_ids = clients.ids.as_ref().expect("clients have a unique column");
    let of_clients = |column, row_id| Link {
        column,
        parents: client_ids,
        parent_table: "clients",
        row_id,
    };
    let orders_link = of_clients(orders::CLIENT_ID, orders::ORDER_ID);
    let orders = load_table(dir, spec::orders(), Some(orders_link), &mut report)?;
    let lines_link = Link {
        column: order_lines::ORDER_ID,
        parents: orders.ids.as_ref().expect("orders have a unique column"),
        parent_table: "orders",
        row_id: order_lines::ORDER_ID,
    };
    let order_lines = load_table(dir, spec::order_lines(), Some(lines_link), &mut report)?;
    let invoices_link = of_clients(invoices::CLIENT_ID, invoices::INVOICE_ID);
    let invoices = load_table(dir, spec::invoices(), Some(invoices_link), &mut report)?;
    let products = load_table(dir, spec::products(), None, &mut report)?;
    let product_ids = products
        .ids
        .as_ref()
        .expect("products have a unique column");
    count_unknown_products(&order_lines.batch, product_ids, &mut report);

    info!(elapsed_ms = elapsed_ms(started), "tenant loaded");
    Ok(Facts {
        clients: clients.batch,
        orders: orders.batch,
        order_lines: order_lines.batch,
        invoices: invoices.batch,
        products: products.batch,
        custom_fields: clients.custom_fields,
        report,
    })
}

/// Loads one table, leaves out its orphans, and reports and logs it.
fn load_table(
    dir: &Path,
    spec: TableSpec,
    link: Option<Link>,
    report: &mut LoadReport,
) -> Result<LoadedTable> {
    let started = Instant::now();
    let mut table = table::load(dir, &spec)?;
    let orphans = match &link {
        Some(link) => orphans::drop_orphans(&mut table, link, dir)?,
        None => Orphans::default(),
    };
    let table_report = TableReport {
        table: spec.name.to_string(),
        rows: table.batch.num_rows(),
        orphans: orphans.count,
        orphan_samples: orphans.samples,
        elapsed_ms: elapsed_ms(started),
    };
    log_table(&table_report, link.as_ref(), table.parts);
    report.tables.push(table_report);
    Ok(table)
}

/// One info line per table, and one warning when rows were left out.
fn log_table(report: &TableReport, link: Option<&Link>, parts: usize) {
    let table = report.table.as_str();
    if let Some(link) = link.filter(|_| report.orphans > 0) {
        warn!(
            table,
            orphans = report.orphans,
            samples = ?report.orphan_samples,
            "left out {table} rows whose {} is not in {}",
            link.column,
            link.parent_table
        );
    }
    let (rows, orphans, elapsed_ms) = (report.rows, report.orphans, report.elapsed_ms);
    info!(table, rows, parts, orphans, elapsed_ms, "table loaded");
}

/// Counts the order lines whose product `products` does not list, and warns once. They are
/// kept: the sale happened, whatever the product list says.
fn count_unknown_products(lines: &RecordBatch, products: &IdSet, report: &mut LoadReport) {
    const SAMPLES_MAX: usize = 5;
    let column = lines
        .column_by_name(order_lines::PRODUCT_ID)
        .expect("canonical column");
    let mut last: Option<(i64, bool)> = None;
    for &id in column.as_primitive::<Int64Type>().values() {
        let known = match last {
            Some((seen, known)) if seen == id => known,
            _ => products.contains(id),
        };
        last = Some((id, known));
        if known {
            continue;
        }
        report.lines_of_unknown_products += 1;
        let samples = &mut report.unknown_product_samples;
        if samples.len() < SAMPLES_MAX && !samples.contains(&id) {
            samples.push(id);
        }
    }
    if report.lines_of_unknown_products > 0 {
        warn!(
            lines = report.lines_of_unknown_products,
            samples = ?report.unknown_product_samples,
            "kept order lines whose product_id is not in products; reports show them without \
             a SKU or name"
        );
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
