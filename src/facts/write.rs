//! Writing canonical fact tables back out in the input contract's format (`DATA_CONTRACT.md`).
//!
//! The canonical tables hold money as `Int64` cents named `*_cents`; the contract wants
//! `Decimal128(18,2)` under the contract's names (`total_cents` becomes `total`,
//! `refunded_cents` becomes `refunded_amount`, ...). Everything else passes through
//! unchanged: timestamps stay `Timestamp(Microsecond, "UTC")`, custom fields keep their names.
//!
//! Invariant: a file appears under its final name only once it is complete. Every writer
//! writes a temporary `<name>.<pid>-<n>.tmp` (which the loader ignores) and moves it into
//! place at the end, so a reader never sees half a file. A part is never moved over an
//! existing part: two writers appending to one table at once get different part numbers.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Decimal128Array};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::schema::{self, CustomField, CustomKind};

/// Precision and scale of every money column the contract receives from us.
pub const MONEY_PRECISION: u8 = 18;
pub const MONEY_SCALE: i8 = 2;

/// The largest number of cents a `Decimal128(18,2)` holds.
const MONEY_MAX_CENTS: i64 = 999_999_999_999_999_999;

/// Why a table could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{table}: column {column:?} is missing from the batch")]
    MissingColumn { table: &'static str, column: String },
    #[error("{table}: money column {column:?} is {found}, expected Int64 cents")]
    NotCents {
        table: &'static str,
        column: String,
        found: DataType,
    },
    #[error("{table}: column {column:?}, row {row}: {cents} cents do not fit Decimal128(18,2)")]
    MoneyOutOfRange {
        table: &'static str,
        column: String,
        row: usize,
        cents: i64,
    },
    #[error("{table}: batch schema differs from the writer's: {detail}")]
    SchemaMismatch { table: &'static str, detail: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Parquet { path: PathBuf, source: ParquetError },
    #[error("{path} already exists")]
    AlreadyExists { path: PathBuf },
    #[error("{path} is a file; a tenant is written into a folder")]
    NotAFolder { path: PathBuf },
    #[error(
        "{dir} is being served (another process holds {dir}/{SERVE_LOCK}); stop the server \
         before writing a tenant there"
    )]
    Served { dir: PathBuf },
    #[error("{dir} already holds tenant data ({found}); pass --force to replace it")]
    NotEmpty { dir: PathBuf, found: String },
    #[error("{table}: {source}")]
    Arrow {
        table: &'static str,
        source: ArrowError,
    },
}

pub type Result<T, E = WriteError> = std::result::Result<T, E>;

/// The five tables of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Clients,
    Orders,
    OrderLines,
    Invoices,
    Products,
}

impl Table {
    pub const ALL: [Table; 5] = [
        Table::Clients,
        Table::Orders,
        Table::OrderLines,
        Table::Invoices,
        Table::Products,
    ];

    /// The table's file or folder name in a tenant folder (`order_lines`).
    pub fn name(self) -> &'static str {
        match self {
            Table::Clients => "clients",
            Table::Orders => "orders",
            Table::OrderLines => "order_lines",
            Table::Invoices => "invoices",
            Table::Products => "products",
        }
    }

    /// The canonical money columns of the table and their contract names.
    fn money_columns(self) -> &'static [(&'static str, &'static str)] {
        use schema::{invoices, order_lines, orders, products};
        match self {
            Table::Clients => &[],
            Table::Orders => &[
                (orders::TOTAL_CENTS, "total"),
                (orders::REFUNDED_CENTS, "refunded_amount"),
            ],
            Table::OrderLines => &[(order_lines::LINE_TOTAL_CENTS, "line_total")],
            Table::Invoices => &[
                (invoices::TOTAL_CENTS, "total"),
                (invoices::PAID_CENTS, "paid"),
            ],
            Table::Products => &[
                (products::RETAIL_PRICE_CENTS, "retail_price"),
                (products::WHOLESALE_PRICE_CENTS, "wholesale_price"),
                (products::VIP_PRICE_CENTS, "vip_price"),
                (products::STAFF_PRICE_CENTS, "staff_price"),
            ],
        }
    }
}

/// How the columns of one canonical table map onto the contract: which are money.
#[derive(Debug, Clone)]
pub struct ContractMap {
    table: Table,
    canonical: SchemaRef,
    contract: SchemaRef,
    /// Per canonical column: `true` when it is cents to be written as a decimal.
    money: Vec<bool>,
}

impl ContractMap {
    /// Maps a canonical schema of `table`. `custom_fields` names the clients' custom fields;
    /// those of kind [`CustomKind::Money`] are written as decimals too.
    ///
    /// # Errors
    /// A contract money column that is missing or is not `Int64`.
    pub fn new(table: Table, canonical: &SchemaRef, custom_fields: &[CustomField]) -> Result<Self> {
        let mut renames: Vec<(String, &str)> = Vec::new();
        for (cents, name) in table.money_columns() {
            check_cents_column(table, canonical, cents)?;
            renames.push((cents.to_string(), name));
        }
        let custom_money = custom_fields.iter().filter(|c| c.kind == CustomKind::Money);
        for custom in custom_money.filter(|c| canonical.index_of(&c.name).is_ok()) {
            check_cents_column(table, canonical, &custom.name)?;
            renames.push((custom.name.clone(), &custom.name));
        }

        let money: Vec<bool> = canonical
            .fields()
            .iter()
            .map(|f| renames.iter().any(|(c, _)| c == f.name()))
            .collect();
        let fields: Vec<Field> = canonical
            .fields()
            .iter()
            .map(|f| match renames.iter().find(|(c, _)| c == f.name()) {
                Some((_, name)) => Field::new(*name, money_type(), f.is_nullable()),
                None => f.as_ref().clone(),
            })
            .collect();
        let contract = Arc::new(Schema::new_with_metadata(
            fields,
            canonical.metadata().clone(),
        ));
        Ok(ContractMap {
            table,
            canonical: canonical.clone(),
            contract,
            money,
        })
    }

    pub fn table(&self) -> Table {
        self.table
    }

    /// The schema of the written file.
    pub fn contract_schema(&self) -> &SchemaRef {
        &self.contract
    }

    /// Turns a canonical batch into a contract batch.
    ///
    /// # Errors
    /// A batch whose schema is not the one this map was made for, or money out of range.
    pub fn convert(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        self.check_schema(batch.schema_ref())?;
        let columns = batch
            .columns()
            .iter()
            .zip(&self.money)
            .enumerate()
            .map(|(i, (column, is_money))| match is_money {
                true => self.cents_to_decimal(i, column),
                false => Ok(column.clone()),
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        RecordBatch::try_new(self.contract.clone(), columns).map_err(|source| WriteError::Arrow {
            table: self.table.name(),
            source,
        })
    }

    fn check_schema(&self, schema: &SchemaRef) -> Result<()> {
        let same = schema.fields().len() == self.canonical.fields().len()
            && schema
                .fields()
                .iter()
                .zip(self.canonical.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if same {
            return Ok(());
        }
        let names = |s: &Schema| s.fields().iter().map(|f| f.to_string()).collect::<Vec<_>>();
        let detail = format!(
            "got {:?}, expected {:?}",
            names(schema),
            names(&self.canonical)
        );
        Err(WriteError::SchemaMismatch {
            table: self.table.name(),
            detail,
        })
    }

    fn cents_to_decimal(&self, index: usize, column: &ArrayRef) -> Result<ArrayRef> {
        let cents = column.as_primitive::<Int64Type>();
        if let Some(row) = cents
            .iter()
            .position(|v| v.is_some_and(|c| c.abs() > MONEY_MAX_CENTS))
        {
            return Err(WriteError::MoneyOutOfRange {
                table: self.table.name(),
                column: self.canonical.field(index).name().clone(),
                row,
                cents: cents.value(row),
            });
        }
        let decimals: Decimal128Array = cents.unary(i128::from);
        let decimals = decimals
            .with_precision_and_scale(MONEY_PRECISION, MONEY_SCALE)
            .map_err(|source| WriteError::Arrow {
                table: self.table.name(),
                source,
            })?;
        Ok(Arc::new(decimals))
    }
}

/// The contract's money type, `Decimal128(18,2)`.
pub fn money_type() -> DataType {
    DataType::Decimal128(MONEY_PRECISION, MONEY_SCALE)
}

fn check_cents_column(table: Table, canonical: &Schema, column: &str) -> Result<()> {
    let field = canonical
        .field_with_name(column)
        .map_err(|_| WriteError::MissingColumn {
            table: table.name(),
            column: column.to_string(),
        })?;
    match field.data_type() {
        DataType::Int64 => Ok(()),
        other => Err(WriteError::NotCents {
            table: table.name(),
            column: column.to_string(),
            found: other.clone(),
        }),
    }
}

/// The Parquet compression codec of written files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// zstd level 1: small files, fast enough to write 50 million lines in seconds.
    #[default]
    Zstd,
    Snappy,
}

/// Options of every Parquet writer here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    pub codec: Codec,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            codec: Codec::Zstd,
            row_group_rows: 1 << 20,
        }
    }
}

impl WriteOptions {
    /// Writer properties for `schema`: dictionaries for text only, as numbers and
    /// timestamps here are nearly unique and a dictionary would only be thrown away.
    fn properties(&self, schema: &Schema) -> WriterProperties {
        let compression = match self.codec {
            Codec::Zstd => Compression::ZSTD(ZstdLevel::default()),
            Codec::Snappy => Compression::SNAPPY,
        };
        let mut builder = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(self.row_group_rows));
        for field in schema.fields() {
            let text = matches!(field.data_type(), DataType::Utf8 | DataType::List(_));
            let path = ColumnPath::from(field.name().as_str());
            builder = builder.set_column_dictionary_enabled(path, text);
        }
        builder.build()
    }
}

/// Writes one canonical batch of `table` as a contract Parquet file at `path`, atomically.
///
/// Money custom fields of clients need [`ContractMap`] and [`TableWriter`]; here every
/// other client column passes through as it is.
///
/// # Errors
/// See [`WriteError`]; on error no file appears at `path`.
pub fn write_parquet(table: Table, batch: &RecordBatch, path: &Path) -> Result<()> {
    let map = ContractMap::new(table, batch.schema_ref(), &[])?;
    let mut writer = TableWriter::create(map, path, WriteOptions::default())?;
    writer.write(batch)?;
    writer.finish().map(|_| ())
}

/// A streaming writer of one contract Parquet file: batches in, one file out at `finish`.
///
/// Dropping it unfinished removes the temporary file.
pub struct TableWriter {
    map: ContractMap,
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<ArrowWriter<File>>,
    rows: u64,
}

impl TableWriter {
    /// Starts writing `path` (through a temporary file beside it); `finish` replaces a file
    /// already at `path`.
    ///
    /// # Errors
    /// The temporary file cannot be created.
    pub fn create(map: ContractMap, path: &Path, options: WriteOptions) -> Result<Self> {
        let tmp = tmp_path(path);
        let io_error = |source| WriteError::Io {
            path: tmp.clone(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io_error)?;
        }
        let file = File::create(&tmp).map_err(io_error)?;
        let properties = options.properties(map.contract_schema());
        let writer = ArrowWriter::try_new(file, map.contract_schema().clone(), Some(properties))
            .map_err(|source| WriteError::Parquet {
                path: tmp.clone(),
                source,
            })?;
        Ok(TableWriter {
            map,
            path: path.to_path_buf(),
            tmp,
            writer: Some(writer),
            rows: 0,
        })
    }

    /// Appends a canonical batch.
    ///
    /// # Errors
    /// A batch of another schema, money out of range, or a failed write.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let contract = self.map.convert(batch)?;
        let writer = self
            .writer
            .as_mut()
            .expect("a TableWriter is used only until finish");
        writer
            .write(&contract)
            .map_err(|source| WriteError::Parquet {
                path: self.tmp.clone(),
                source,
            })?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Closes the file and moves it to its final name; returns the rows written.
    ///
    /// # Errors
    /// The file cannot be completed or renamed.
    pub fn finish(self) -> Result<u64> {
        let path = self.path.clone();
        let (tmp, rows) = self.close()?;
        fs::rename(&tmp, &path).map_err(|source| {
            let _ = fs::remove_file(&tmp);
            WriteError::Io { path, source }
        })?;
        Ok(rows)
    }

    /// Completes the temporary file without moving it; the caller owns it from here.
    fn close(mut self) -> Result<(PathBuf, u64)> {
        let writer = self.writer.take().expect("close runs once");
        if let Err(source) = writer.close() {
            let _ = fs::remove_file(&self.tmp);
            return Err(WriteError::Parquet {
                path: self.tmp.clone(),
                source,
            });
        }
        Ok((self.tmp.clone(), self.rows))
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            // Unfinished: the temporary file is garbage. Failing to remove it leaves only a
            // `.tmp` file that no reader picks up.
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A writer of a table split into part files, `<dir>/<table>/part-0001.parquet`, ...,
/// starting a new part every `rows_per_part` rows.
pub struct PartsWriter {
    map: ContractMap,
    folder: PathBuf,
    options: WriteOptions,
    rows_per_part: usize,
    next_part: u32,
    current: Option<TableWriter>,
    parts: Vec<PathBuf>,
    rows: u64,
}

impl PartsWriter {
    /// Writes parts of `map`'s table into `tenant_dir`, numbering after the parts already
    /// there, so a new writer appends to what is present.
    ///
    /// # Errors
    /// The folder cannot be created or read.
    pub fn create(
        map: ContractMap,
        tenant_dir: &Path,
        rows_per_part: usize,
        options: WriteOptions,
    ) -> Result<Self> {
        let folder = tenant_dir.join(map.table().name());
        fs::create_dir_all(&folder).map_err(|source| WriteError::Io {
            path: folder.clone(),
            source,
        })?;
        let next_part = next_part_number(&folder).map_err(|source| WriteError::Io {
            path: folder.clone(),
            source,
        })?;
        Ok(PartsWriter {
            map,
            folder,
            options,
            rows_per_part: rows_per_part.max(1),
            next_part,
            current: None,
            parts: Vec::new(),
            rows: 0,
        })
    }

    /// Appends a canonical batch, splitting it where a part fills up.
    ///
    /// # Errors
    /// As [`TableWriter::write`].
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let limit = self.rows_per_part;
            let writer = self.current_writer()?;
            let room = limit - writer.rows() as usize;
            let take = room.min(batch.num_rows() - offset);
            writer.write(&batch.slice(offset, take))?;
            offset += take;
            if writer.rows() as usize >= limit {
                self.finish_part()?;
            }
        }
        Ok(())
    }

    /// Finishes the last part; returns the paths of the parts written and the rows.
    ///
    /// # Errors
    /// As [`TableWriter::finish`].
    pub fn finish(mut self) -> Result<(Vec<PathBuf>, u64)> {
        self.finish_part()?;
        Ok((std::mem::take(&mut self.parts), self.rows))
    }

    fn current_writer(&mut self) -> Result<&mut TableWriter> {
        if self.current.is_none() {
            let path = self.folder.join(part_file_name(self.next_part));
            self.current = Some(TableWriter::create(self.map.clone(), &path, self.options)?);
        }
        Ok(self.current.as_mut().expect("just created"))
    }

    /// Moves the finished part under the next free number: another writer may have taken
    /// the one planned meanwhile.
    fn finish_part(&mut self) -> Result<()> {
        let Some(writer) = self.current.take() else {
            return Ok(());
        };
        let (tmp, rows) = writer.close()?;
        let folder_error = |source| WriteError::Io {
            path: self.folder.clone(),
            source,
        };
        loop {
            let path = self.folder.join(part_file_name(self.next_part));
            match publish_new(&tmp, &path) {
                Ok(()) => {
                    self.parts.push(path);
                    self.next_part += 1;
                    self.rows += rows;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    self.next_part = next_part_number(&self.folder).map_err(folder_error)?;
                }
                Err(source) => {
                    let _ = fs::remove_file(&tmp);
                    return Err(WriteError::Io { path, source });
                }
            }
        }
    }
}

/// Moves `tmp` to `path` unless `path` exists (then `AlreadyExists`). A hard link is the
/// atomic no-clobber move; where links are unsupported, a checked rename stands in.
fn publish_new(tmp: &Path, path: &Path) -> io::Result<()> {
    match fs::hard_link(tmp, path) {
        Ok(()) => fs::remove_file(tmp),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) if path.exists() => Err(io::ErrorKind::AlreadyExists.into()),
        Err(_) => fs::rename(tmp, path),
    }
}

/// The file name of part `number`: `part-0001.parquet`.
pub fn part_file_name(number: u32) -> String {
    format!("part-{number:04}.parquet")
}

/// The number after the highest `part-NNNN.parquet` in `folder` (1 when there is none).
///
/// # Errors
/// The folder cannot be read.
pub fn next_part_number(folder: &Path) -> io::Result<u32> {
    let mut highest = 0;
    for entry in fs::read_dir(folder)? {
        let name = entry?.file_name();
        let number = name
            .to_str()
            .and_then(|n| n.strip_prefix("part-"))
            .and_then(|n| n.strip_suffix(".parquet"))
            .and_then(|n| n.parse::<u32>().ok());
        highest = highest.max(number.unwrap_or(0));
    }
    Ok(highest + 1)
}

/// Writes `<dir>/tenant.json` with the tenant's time zone, atomically.
///
/// # Errors
/// The file cannot be written.
pub fn write_tenant_settings(dir: &Path, time_zone: &str) -> Result<()> {
    let path = dir.join("tenant.json");
    let tmp = tmp_path(&path);
    let text = serde_json::json!({ "time_zone": time_zone }).to_string() + "\n";
    let io_error = |source| WriteError::Io {
        path: path.clone(),
        source,
    };
    fs::create_dir_all(dir).map_err(io_error)?;
    fs::write(&tmp, text).map_err(io_error)?;
    fs::rename(&tmp, &path).map_err(io_error)
}

/// Makes `dir` ready for a new tenant. A folder already holding tenant data is refused,
/// unless `replace`: then only the tables' files, `tenant.json` and the part files of
/// table folders are removed, never anything else.
///
/// # Errors
/// Tenant data present without `replace`, or a file that cannot be removed.
pub fn prepare_tenant_dir(dir: &Path, replace: bool) -> Result<()> {
    check_tenant_dir(dir, replace)?;
    for path in present_entries(dir) {
        let removed = match path.is_dir() {
            true => remove_parts(&path),
            false => fs::remove_file(&path),
        };
        removed.map_err(|source| WriteError::Io {
            path: path.clone(),
            source,
        })?;
    }
    fs::create_dir_all(dir).map_err(|source| WriteError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// The file in a tenant folder that a running `segments serve` holds locked.
pub const SERVE_LOCK: &str = "serve.lock";

/// Whether a process holds the serve lock of `dir`. Taking the lock to find out releases
/// it at once; a lock file nobody holds (left by a server that ended) is not in use.
pub fn is_served(dir: &Path) -> bool {
    let Ok(file) = fs::OpenOptions::new()
        .write(true)
        .open(dir.join(SERVE_LOCK))
    else {
        return false;
    };
    matches!(file.try_lock(), Err(fs::TryLockError::WouldBlock))
}

/// Refuses, before any work, a folder that [`prepare_tenant_dir`] would refuse.
///
/// # Errors
/// `dir` holds tenant data and `replace` is false.
pub fn check_tenant_dir(dir: &Path, replace: bool) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        let path = dir.to_path_buf();
        return Err(WriteError::NotAFolder { path });
    }
    if is_served(dir) {
        let dir = dir.to_path_buf();
        return Err(WriteError::Served { dir });
    }
    let present = present_entries(dir);
    if present.is_empty() || replace {
        return Ok(());
    }
    let found: Vec<String> = present.iter().map(|p| p.display().to_string()).collect();
    Err(WriteError::NotEmpty {
        dir: dir.to_path_buf(),
        found: found.join(", "),
    })
}

fn present_entries(dir: &Path) -> Vec<PathBuf> {
    tenant_entries(dir)
        .into_iter()
        .filter(|p| p.exists())
        .collect()
}

/// Every table file or folder a tenant folder may hold, and its settings.
fn tenant_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries = vec![dir.join("tenant.json")];
    for table in Table::ALL {
        entries.push(dir.join(format!("{}.parquet", table.name())));
        entries.push(dir.join(format!("{}.csv", table.name())));
        entries.push(dir.join(table.name()));
    }
    entries
}

fn remove_parts(folder: &Path) -> io::Result<()> {
    for entry in fs::read_dir(folder)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("part-") && (name.ends_with(".parquet") || name.ends_with(".csv")) {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// A temporary name beside `path`, unique to this process and call, ending in `.tmp`.
fn tmp_path(path: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}-{n}.tmp", std::process::id()));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray, TimestampMicrosecondArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn orders_batch(totals: Vec<i64>, refunded: Vec<i64>) -> RecordBatch {
        let n = totals.len() as i64;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(1..=n)),
            Arc::new(Int64Array::from_iter(
                (1..=n).map(|i| (i % 2 == 1).then_some(i * 10)),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values((1..=n).map(|i| i * 1_000_000))
                    .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from_iter_values((0..n).map(|_| "completed"))),
            Arc::new(Int64Array::from(totals)),
            Arc::new(Int64Array::from(refunded)),
        ];
        RecordBatch::try_new(schema::orders_schema(), columns).unwrap()
    }

    fn read_back(path: &Path) -> RecordBatch {
        let file = File::open(path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
    }

    fn decimals(batch: &RecordBatch, name: &str) -> Vec<i128> {
        let column = batch.column_by_name(name).unwrap();
        column
            .as_primitive::<arrow::datatypes::Decimal128Type>()
            .values()
            .to_vec()
    }

    #[test]
    fn cents_round_trip_as_decimal_18_2() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.parquet");
        let batch = orders_batch(vec![255, -1, 999_999_999_999_999_999], vec![0, 0, 5]);

        write_parquet(Table::Orders, &batch, &path).unwrap();
        let back = read_back(&path);

        let names: Vec<&str> = back
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(
            names,
            [
                "order_id",
                "client_id",
                "ordered_at",
                "status",
                "total",
                "refunded_amount"
            ]
        );
        assert_eq!(
            back.schema().field(4).data_type(),
            &DataType::Decimal128(18, 2)
        );
        assert_eq!(
            back.schema().field(2).data_type(),
            &schema::timestamp_type()
        );
        assert_eq!(decimals(&back, "total"), [255, -1, 999_999_999_999_999_999]);
        assert_eq!(decimals(&back, "refunded_amount"), [0, 0, 5]);
        assert_eq!(back.column(1).null_count(), 1);
        assert_eq!(temporary_files(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn money_too_large_for_the_contract_is_refused_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.parquet");
        let batch = orders_batch(vec![1, 1_000_000_000_000_000_000], vec![0, 0]);

        let error = write_parquet(Table::Orders, &batch, &path).unwrap_err();

        assert!(
            matches!(error, WriteError::MoneyOutOfRange { row: 1, .. }),
            "{error}"
        );
        assert!(!path.exists());
        assert_eq!(temporary_files(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn custom_money_fields_become_decimals_and_other_custom_fields_pass() {
        let custom = vec![
            CustomField {
                name: "credit_limit".into(),
                kind: CustomKind::Money,
            },
            CustomField {
                name: "employees".into(),
                kind: CustomKind::Integer,
            },
        ];
        let canonical = schema::clients_schema(&custom);

        let map = ContractMap::new(Table::Clients, &canonical, &custom).unwrap();

        let contract = map.contract_schema();
        assert_eq!(
            contract
                .field_with_name("credit_limit")
                .unwrap()
                .data_type(),
            &money_type()
        );
        assert_eq!(
            contract.field_with_name("employees").unwrap().data_type(),
            &DataType::Int64
        );
        assert_eq!(contract.fields().len(), canonical.fields().len());
    }

    #[test]
    fn parts_split_at_the_row_limit_and_append_after_existing_parts() {
        let dir = tempfile::tempdir().unwrap();
        let batch = orders_batch(vec![100, 200, 300, 400, 500], vec![0; 5]);
        let map = ContractMap::new(Table::Orders, &schema::orders_schema(), &[]).unwrap();

        let mut first =
            PartsWriter::create(map.clone(), dir.path(), 2, WriteOptions::default()).unwrap();
        first.write(&batch).unwrap();
        let (parts, rows) = first.finish().unwrap();
        let mut second = PartsWriter::create(map, dir.path(), 10, WriteOptions::default()).unwrap();
        second.write(&batch.slice(0, 1)).unwrap();
        let (more, _) = second.finish().unwrap();

        let names = |paths: &[PathBuf]| -> Vec<String> {
            paths
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(rows, 5);
        assert_eq!(
            names(&parts),
            [
                "part-0001.parquet",
                "part-0002.parquet",
                "part-0003.parquet"
            ]
        );
        assert_eq!(names(&more), ["part-0004.parquet"]);
        assert_eq!(decimals(&read_back(&parts[1]), "total"), [300, 400]);
    }

    #[test]
    fn a_tenant_folder_is_replaced_only_when_asked_and_only_its_tables() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("clients.csv"), "client_id\n").unwrap();
        fs::create_dir(dir.path().join("orders")).unwrap();
        fs::write(dir.path().join("orders").join("part-0001.parquet"), "x").unwrap();
        fs::write(dir.path().join("orders").join("notes.txt"), "keep").unwrap();
        fs::write(dir.path().join("segments.json"), "[]").unwrap();

        let refused = prepare_tenant_dir(dir.path(), false);
        prepare_tenant_dir(dir.path(), true).unwrap();

        assert!(
            matches!(refused, Err(WriteError::NotEmpty { .. })),
            "{refused:?}"
        );
        assert!(!dir.path().join("clients.csv").exists());
        assert!(!dir.path().join("orders").join("part-0001.parquet").exists());
        assert!(dir.path().join("orders").join("notes.txt").exists());
        assert!(dir.path().join("segments.json").exists());
        prepare_tenant_dir(&dir.path().join("new"), false).unwrap();
        let file = dir.path().join("new/notes.txt");
        fs::write(&file, "kept").unwrap();
        let refused = prepare_tenant_dir(&file, true).unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!(
                "{} is a file; a tenant is written into a folder",
                file.display()
            )
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), "kept");
    }

    #[test]
    fn a_served_tenant_folder_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("clients.csv"), "client_id\n").unwrap();
        let lock = fs::File::create(dir.path().join(SERVE_LOCK)).unwrap();
        lock.lock().unwrap();

        let refused = prepare_tenant_dir(dir.path(), true).unwrap_err();

        assert_eq!(
            refused.to_string(),
            format!(
                "{0} is being served (another process holds {0}/serve.lock); stop the server \
                 before writing a tenant there",
                dir.path().display()
            )
        );
        assert!(dir.path().join("clients.csv").exists());
        lock.unlock().unwrap();
        prepare_tenant_dir(dir.path(), true).unwrap();
        assert!(!dir.path().join("clients.csv").exists());
    }

    #[test]
    fn two_writers_appending_at_once_get_different_parts() {
        let dir = tempfile::tempdir().unwrap();
        let batch = orders_batch(vec![100, 200], vec![0; 2]);
        let map = ContractMap::new(Table::Orders, &schema::orders_schema(), &[]).unwrap();
        let create = || PartsWriter::create(map.clone(), dir.path(), 10, WriteOptions::default());
        let (mut first, mut second) = (create().unwrap(), create().unwrap());

        first.write(&batch).unwrap();
        second.write(&batch.slice(1, 1)).unwrap();
        let (second_parts, _) = second.finish().unwrap();
        let (first_parts, _) = first.finish().unwrap();

        let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name(&second_parts[0]), "part-0001.parquet");
        assert_eq!(name(&first_parts[0]), "part-0002.parquet");
        assert_eq!(decimals(&read_back(&first_parts[0]), "total"), [100, 200]);
        assert_eq!(
            temporary_files(&dir.path().join("orders")),
            Vec::<String>::new()
        );
    }

    fn temporary_files(dir: &Path) -> Vec<String> {
        let names = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name());
        names
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn a_batch_of_another_schema_is_refused() {
        let map = ContractMap::new(Table::Orders, &schema::orders_schema(), &[]).unwrap();
        let lines = RecordBatch::new_empty(schema::order_lines_schema());

        let error = map.convert(&lines).unwrap_err();

        assert!(
            matches!(
                error,
                WriteError::SchemaMismatch {
                    table: "orders",
                    ..
                }
            ),
            "{error}"
        );
    }
}
