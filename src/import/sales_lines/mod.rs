//! Import of the sales export most shops have: one row per order line (order id,
//! date-time, client id, product code, description, quantity, unit price, country), as CSV
//! or gzip CSV, into a tenant folder in the input contract's format.
//!
//! What becomes what, and the choices made where the export is ambiguous:
//! - One order per order id, at its earliest row's date-time (read as UTC); its total is
//!   the exact sum of quantity × unit price, each line rounded half away from zero to the
//!   cent. Prices finer than a cent (Online Retail has `0.001`) are read exactly and only
//!   the line total is rounded. Rows without a client id are guest sales (client null).
//! - Cancellations: by default an order id of the prefix `C` followed by digits
//!   (`C536379`) is a cancelled order. With [`CancelRule::Negative`] an order whose every
//!   line has a negative quantity is. A cancelled credit note is stored as the sale it
//!   cancels, with positive quantities and total. Returns are not netted from revenue: the
//!   export does not say which sale they reverse.
//! - Not sales, set aside and counted: adjustment documents (order ids of the prefix `A`
//!   followed by digits, Online Retail's "Adjust bad debt") and rows with a negative unit
//!   price. Rows with a price of 0 are kept (free items, stock corrections): they add
//!   quantity but no money.
//! - Unparsable rows (bad number, bad date, missing order id or product code, too few
//!   fields, invalid UTF-8) are set aside and counted, with the first examples.
//! - Clients: `Customer <id>`, type `retail`, created at their first order, in the country
//!   most of their rows name (mapped to ISO alpha-2 where known, else none).
//! - Products: ids are the sorted product codes numbered from 1; the name is the last
//!   non-empty description, the retail price the last positive unit price (0 when none).
//! - Order ids are the file's numbers (without the cancel prefix) when those are distinct
//!   whole numbers, else the orders are numbered from 1 in time order.

mod build;
mod columns;
mod parse;

#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow::error::ArrowError;
use csv::StringRecord;
use flate2::read::MultiGzDecoder;

use crate::facts::schema;
use crate::facts::write::{self, ContractMap, PartsWriter, Table, WriteError, WriteOptions};
use crate::money::Cents;
pub use build::BuildStats;
use build::{Built, NotASale, SaleRow, TenantBuilder};
use columns::ColumnMap;
pub use columns::{Key, Mapping};
pub use parse::DateFormat;

/// Examples of set-aside rows kept for the summary, per kind.
const EXAMPLES_MAX: usize = 5;
/// Rows per part file of `orders/` and `order_lines/`.
const ROWS_PER_PART: usize = 1_000_000;

/// How cancelled orders are recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelRule {
    /// An order id of this prefix followed by digits (`C536379`).
    Prefix(String),
    /// An order whose every line has a negative quantity.
    Negative,
}

/// How to read the file.
#[derive(Debug, Clone)]
pub struct SalesLinesOptions {
    /// Columns named by the user; the others are recognised from the header.
    pub mappings: Vec<Mapping>,
    pub cancel: CancelRule,
    /// Order ids of this prefix followed by digits are adjustments, not sales; `None` keeps
    /// them.
    pub adjust_prefix: Option<String>,
    pub dates: DateFormat,
    /// Replace the tenant data already in the output folder.
    pub replace: bool,
}

impl Default for SalesLinesOptions {
    fn default() -> Self {
        SalesLinesOptions {
            mappings: Vec::new(),
            cancel: CancelRule::Prefix("C".into()),
            adjust_prefix: Some("A".into()),
            dates: DateFormat::default(),
            replace: false,
        }
    }
}

/// Why an import failed as a whole (single bad rows are set aside, see [`RowIssue`]).
#[derive(Debug, thiserror::Error)]
pub enum SalesLinesError {
    #[error("{file}: {source}")]
    Open { file: PathBuf, source: io::Error },
    #[error("{file}: line {line}: {source}")]
    Csv {
        file: String,
        line: u64,
        source: csv::Error,
    },
    #[error(
        "{file}: no column for {key}; the header has {headers:?}; name it with --map {key}=COLUMN"
    )]
    MissingColumn {
        file: String,
        key: Key,
        headers: Vec<String>,
    },
    #[error("{file}: --map {key}={column:?}: no such column; the header has {headers:?}")]
    UnknownMappedColumn {
        file: String,
        key: Key,
        column: String,
        headers: Vec<String>,
    },
    #[error(
        "{file}: no sales rows were kept ({set_aside} set aside){}",
        examples.iter().map(|e| format!("\n  {e}")).collect::<String>()
    )]
    NothingKept {
        file: String,
        set_aside: u64,
        /// The first rows set aside, unparsable ones first.
        examples: Vec<RowIssue>,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("internal error, a bug: imported columns do not fit the schema: {0}")]
    Internal(#[from] ArrowError),
}

/// A row set aside: where, which column, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowIssue {
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for RowIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {column}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// What an import read, kept and set aside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SalesLinesSummary {
    pub file: String,
    pub rows_read: u64,
    pub rows_kept: u64,
    /// Kept rows without a client id.
    pub guest_rows: u64,
    pub unparsable_rows: u64,
    pub unparsable_examples: Vec<RowIssue>,
    pub adjustment_rows: u64,
    pub adjustment_examples: Vec<RowIssue>,
    /// Kept rows whose unit price was finer than a cent.
    pub sub_cent_rows: u64,
    pub built: BuildStats,
    pub elapsed: Duration,
}

impl SalesLinesSummary {
    pub fn set_aside(&self) -> u64 {
        self.unparsable_rows + self.adjustment_rows
    }
}

/// Imports a sales-lines file into the tenant folder `out`.
///
/// # Errors
/// The file cannot be opened or is no CSV, a needed column is missing, nothing could be
/// kept, or the tenant cannot be written. Rows that cannot be read are set aside, not
/// errors.
pub fn import_sales_lines(
    file: &Path,
    out: &Path,
    options: &SalesLinesOptions,
) -> Result<SalesLinesSummary, SalesLinesError> {
    let started = Instant::now();
    let _span = tracing::info_span!("import_sales_lines", file = %file.display()).entered();
    let mut summary = SalesLinesSummary {
        file: file.display().to_string(),
        ..Default::default()
    };
    write::check_tenant_dir(out, options.replace)?;
    let mut builder = TenantBuilder::new(options);
    read_rows(file, options, &mut builder, &mut summary)?;
    if summary.rows_kept == 0 {
        let set_aside = summary.set_aside();
        let mut examples = summary.unparsable_examples;
        examples.extend(summary.adjustment_examples);
        examples.truncate(EXAMPLES_MAX);
        return Err(SalesLinesError::NothingKept {
            file: summary.file,
            set_aside,
            examples,
        });
    }

    let built = builder.finish()?;
    write::prepare_tenant_dir(out, options.replace)?;
    write_tenant(out, &built)?;
    summary.built = built.stats;
    summary.elapsed = started.elapsed();
    tracing::info!(
        rows = summary.rows_read,
        kept = summary.rows_kept,
        orders = summary.built.orders,
        elapsed_ms = summary.elapsed.as_millis() as u64,
        "sales lines imported"
    );
    Ok(summary)
}

/// A reader of the file's bytes, gunzipped when it is gzip (by its magic bytes, whatever
/// its name).
fn open(file: &Path) -> Result<Box<dyn Read>, SalesLinesError> {
    let open_error = |source| SalesLinesError::Open {
        file: file.to_path_buf(),
        source,
    };
    let mut reader = BufReader::new(File::open(file).map_err(open_error)?);
    let gzip = reader
        .fill_buf()
        .map_err(open_error)?
        .starts_with(&[0x1f, 0x8b]);
    Ok(match gzip {
        true => Box::new(MultiGzDecoder::new(reader)),
        false => Box::new(reader),
    })
}

/// Reads every row into `builder`, counting what is kept and set aside.
fn read_rows(
    file: &Path,
    options: &SalesLinesOptions,
    builder: &mut TenantBuilder,
    summary: &mut SalesLinesSummary,
) -> Result<(), SalesLinesError> {
    // TODO: a delimiter and decimal-comma option for European spreadsheet exports (`;`,
    // `2,55`); today such a file is refused for its header or its prices are unparsable.
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(open(file)?);
    let file_name = summary.file.clone();
    let csv_error = |source: csv::Error| {
        let line = source.position().map_or(0, |p| p.line());
        SalesLinesError::Csv {
            file: file_name.clone(),
            line,
            source,
        }
    };
    let headers = reader.headers().map_err(csv_error)?.clone();
    let columns = ColumnMap::resolve(&headers, &options.mappings, &summary.file)?;

    let mut record = StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => add_record(&record, &columns, headers.len(), options, builder, summary),
            Err(error) if matches!(error.kind(), csv::ErrorKind::Utf8 { .. }) => {
                let line = error.position().map_or(0, |p| p.line());
                let issue = RowIssue {
                    line,
                    column: None,
                    reason: "is not UTF-8".into(),
                };
                summary.rows_read += 1;
                set_aside_unparsable(summary, issue);
            }
            Err(error) => return Err(csv_error(error)),
        }
    }
}

fn add_record(
    record: &StringRecord,
    columns: &ColumnMap,
    width: usize,
    options: &SalesLinesOptions,
    builder: &mut TenantBuilder,
    summary: &mut SalesLinesSummary,
) {
    summary.rows_read += 1;
    let line = record.position().map_or(0, |p| p.line());
    let row = match read_row(record, line, columns, width, &options.dates) {
        Ok(row) => row,
        Err(issue) => return set_aside_unparsable(summary, issue),
    };
    match builder.add(&row) {
        Ok(()) => {
            summary.rows_kept += 1;
            summary.guest_rows += u64::from(row.client.is_none());
            summary.sub_cent_rows += u64::from(row.price.sub_cent);
        }
        Err(reason) => {
            summary.adjustment_rows += 1;
            if summary.adjustment_examples.len() < EXAMPLES_MAX {
                summary
                    .adjustment_examples
                    .push(adjustment_issue(line, columns, reason));
            }
        }
    }
}

fn set_aside_unparsable(summary: &mut SalesLinesSummary, issue: RowIssue) {
    summary.unparsable_rows += 1;
    if summary.unparsable_examples.len() < EXAMPLES_MAX {
        summary.unparsable_examples.push(issue);
    }
}

fn adjustment_issue(line: u64, columns: &ColumnMap, reason: NotASale) -> RowIssue {
    let (key, reason) = match reason {
        NotASale::AdjustmentOrder(id) => {
            (Key::OrderId, format!("{id:?} is an adjustment, not a sale"))
        }
        NotASale::NegativePrice => (
            Key::UnitPrice,
            "a negative price is an adjustment, not a sale".into(),
        ),
    };
    RowIssue {
        line,
        column: Some(columns.header(key).to_string()),
        reason,
    }
}

/// Parses one record, or says which cell is wrong.
fn read_row<'r>(
    record: &'r StringRecord,
    line: u64,
    columns: &ColumnMap,
    width: usize,
    dates: &DateFormat,
) -> Result<SaleRow<'r>, RowIssue> {
    if record.len() < width {
        let reason = format!("has {} fields, the header has {width}", record.len());
        return Err(RowIssue {
            line,
            column: None,
            reason,
        });
    }
    let cell = |key: Key| columns.index(key).and_then(|i| record.get(i)).unwrap_or("");
    let issue = |key: Key, reason: String| {
        let column = Some(columns.header(key).to_string());
        RowIssue {
            line,
            column,
            reason: format!("{:?} {reason}", cell(key)),
        }
    };
    let required = |key: Key| match cell(key).trim() {
        "" => Err(RowIssue {
            line,
            column: Some(columns.header(key).to_string()),
            reason: "is empty".into(),
        }),
        text => Ok(text),
    };

    let order_key = required(Key::OrderId)?;
    let code = required(Key::ProductCode)?;
    let at_us = dates
        .parse_micros(cell(Key::OrderedAt))
        .map_err(|r| issue(Key::OrderedAt, r))?;
    let client = parse::client_id(cell(Key::ClientId)).map_err(|r| issue(Key::ClientId, r))?;
    let quantity = parse::whole_number(cell(Key::Quantity)).map_err(|r| issue(Key::Quantity, r))?;
    let price = parse::unit_price(cell(Key::UnitPrice)).map_err(|r| issue(Key::UnitPrice, r))?;
    let line_total_cents =
        parse::line_total_cents(quantity, price).map_err(|r| issue(Key::Quantity, r))?;
    Ok(SaleRow {
        order_key,
        at_us,
        client,
        code,
        description: cell(Key::Description),
        quantity,
        price,
        line_total_cents,
        country: cell(Key::Country),
    })
}

/// Writes the built tables, an empty invoices table and `tenant.json` (UTC: the export's
/// date-times carry no zone and were read as UTC, so calendar dates stay as written).
fn write_tenant(out: &Path, built: &Built) -> Result<(), SalesLinesError> {
    write::write_parquet(Table::Clients, &built.clients, &out.join("clients.parquet"))?;
    write::write_parquet(
        Table::Products,
        &built.products,
        &out.join("products.parquet"),
    )?;
    let no_invoices = arrow::record_batch::RecordBatch::new_empty(schema::invoices_schema());
    write::write_parquet(Table::Invoices, &no_invoices, &out.join("invoices.parquet"))?;
    for (table, batch) in [
        (Table::Orders, &built.orders),
        (Table::OrderLines, &built.lines),
    ] {
        let map = ContractMap::new(table, batch.schema_ref(), &[])?;
        let mut parts = PartsWriter::create(map, out, ROWS_PER_PART, WriteOptions::default())?;
        parts.write(batch)?;
        parts.finish()?;
    }
    write::write_tenant_settings(out, "UTC")?;
    Ok(())
}

impl fmt::Display for SalesLinesSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let built = &self.built;
        writeln!(f, "read {} rows from {}", self.rows_read, self.file)?;
        writeln!(
            f,
            "kept {} rows, {} of them guest rows (no client id)",
            self.rows_kept, self.guest_rows
        )?;
        writeln!(
            f,
            "orders: {} ({} cancelled)",
            built.orders, built.cancelled_orders
        )?;
        writeln!(f, "clients: {}", built.clients)?;
        writeln!(f, "products: {}", built.products)?;
        writeln!(f, "order lines: {}", built.lines)?;
        writeln!(
            f,
            "revenue of completed orders: {}",
            Cents(built.completed_revenue_cents)
        )?;
        writeln!(f, "set aside: {} rows", self.set_aside())?;
        writeln!(f, "  unparsable: {}", self.unparsable_rows)?;
        write_examples(f, &self.unparsable_examples)?;
        writeln!(f, "  adjustments (not sales): {}", self.adjustment_rows)?;
        write_examples(f, &self.adjustment_examples)?;
        self.fmt_notes(f)
    }
}

impl SalesLinesSummary {
    fn fmt_notes(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let built = &self.built;
        if self.sub_cent_rows > 0 {
            let rows = self.sub_cent_rows;
            writeln!(
                f,
                "note: {rows} rows priced finer than a cent; line totals rounded"
            )?;
        }
        if built.order_ids_numbered {
            writeln!(
                f,
                "note: order ids are not distinct numbers; numbered in time order"
            )?;
        }
        if built.client_conflicts > 0 {
            let rows = built.client_conflicts;
            writeln!(
                f,
                "note: {rows} rows name another client than their order's first row"
            )?;
        }
        if !built.unmapped_countries.is_empty() {
            let names: Vec<String> = built
                .unmapped_countries
                .iter()
                .map(|(name, rows)| format!("{name} ({rows} rows)"))
                .collect();
            writeln!(
                f,
                "note: no ISO code, client country left empty: {}",
                names.join(", ")
            )?;
        }
        Ok(())
    }
}

fn write_examples(f: &mut fmt::Formatter<'_>, examples: &[RowIssue]) -> fmt::Result {
    examples
        .iter()
        .try_for_each(|issue| writeln!(f, "    {issue}"))
}
