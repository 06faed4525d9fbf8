//! Appending facts through the API: JSON rows are checked, written as a new Parquet part of
//! the table in the tenant folder and synced to disk before the answer; they count from the
//! next reload.
//!
//! Checks keep the folder loadable: new ids must be new (against the loaded facts, earlier
//! appends not loaded yet, and the batch itself), and rows must point to clients and orders
//! that exist. A part is written under a hidden name (which the loader skips), synced, then
//! renamed into place and its folder synced, so a crash never leaves half a part visible.

mod rows;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, Int64Array, RecordBatch};
use arrow::datatypes::Int64Type;
use serde::{Deserialize, Serialize};

use crate::facts::builder::{ClientRow, FactsBuilder, InvoiceRow, LineRow, OrderRow};
use crate::facts::write::{self, ContractMap, Table, TableWriter, WriteError, WriteOptions};
use crate::facts::{CustomField, Facts};
use crate::snapshot::Snapshot;

use super::Service;
use super::error::{Result, ServiceError};

/// The tables rows can be appended to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppendTable {
    Clients,
    Orders,
    OrderLines,
    Invoices,
}

impl AppendTable {
    pub const ALL: [AppendTable; 4] = [
        AppendTable::Clients,
        AppendTable::Orders,
        AppendTable::OrderLines,
        AppendTable::Invoices,
    ];

    /// The table's name in the tenant folder (`order_lines`).
    pub fn name(self) -> &'static str {
        self.table().name()
    }

    /// The table of a name such as `orders`.
    pub fn parse(name: &str) -> Option<AppendTable> {
        AppendTable::ALL.into_iter().find(|t| t.name() == name)
    }

    fn table(self) -> Table {
        match self {
            AppendTable::Clients => Table::Clients,
            AppendTable::Orders => Table::Orders,
            AppendTable::OrderLines => Table::OrderLines,
            AppendTable::Invoices => Table::Invoices,
        }
    }
}

/// What an append wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppendReport {
    pub table: AppendTable,
    pub rows: usize,
    /// The part written, relative to the tenant folder (`orders/part-0003.parquet`).
    pub file: String,
}

/// Ids appended since the facts were last loaded, by the append sequence that wrote them.
#[derive(Debug, Default)]
pub(super) struct Pending {
    seq: u64,
    loaded: u64,
    ids: HashMap<AppendTable, HashMap<i64, u64>>,
}

impl Pending {
    /// The sequence number of the last append.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether some append is not in the loaded facts yet.
    pub fn has_unloaded(&self) -> bool {
        self.seq > self.loaded
    }

    /// Forgets appends up to `seq`: the facts now loaded hold them.
    pub fn loaded_through(&mut self, seq: u64) {
        self.loaded = self.loaded.max(seq);
        for ids in self.ids.values_mut() {
            ids.retain(|_, at| *at > seq);
        }
    }

    fn contains(&self, table: AppendTable, id: i64) -> bool {
        self.ids
            .get(&table)
            .is_some_and(|ids| ids.contains_key(&id))
    }

    fn add(&mut self, table: AppendTable, ids: Vec<i64>) {
        self.seq += 1;
        let seq = self.seq;
        self.ids
            .entry(table)
            .or_default()
            .extend(ids.into_iter().map(|id| (id, seq)));
    }
}

/// Checked rows of one table, as a canonical batch, with the ids they bring.
struct Batch {
    batch: RecordBatch,
    /// New unique ids (clients, orders, invoices); empty for order lines.
    ids: Vec<i64>,
}

impl Service {
    /// Appends rows to a table of the tenant folder. Every row is checked before anything
    /// is written; the part is on disk when this returns. The rows count from the next
    /// reload, which the scheduler starts shortly after (see the module docs of `service`).
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming the row and field (a missing or mistyped field, an
    /// id that exists already, a client or order that does not), or a write failure.
    pub async fn append(
        &self,
        table: AppendTable,
        rows: Vec<serde_json::Value>,
    ) -> Result<AppendReport> {
        if rows.is_empty() {
            return Err(ServiceError::Invalid("rows: nothing to append".into()));
        }
        let snapshot = std::sync::Arc::clone(&self.state().snapshot);
        let mut pending = self.appends.lock().await;
        let batch = checked_batch(table, &rows, &snapshot, &pending)?;
        let custom = snapshot.facts.custom_fields.clone();
        let dir = self.data_dir().to_path_buf();
        let Batch { batch, ids } = batch;
        let file = tokio::task::spawn_blocking(move || write_part(&dir, table, &batch, &custom))
            .await
            .map_err(|e| ServiceError::internal(format!("writing a part panicked: {e}")))??;
        pending.add(table, ids);
        drop(pending);
        self.appended.notify_one();
        self.metrics.record_append(rows.len() as u64);
        tracing::info!(
            table = table.name(),
            rows = rows.len(),
            file,
            "rows appended"
        );
        Ok(AppendReport {
            table,
            rows: rows.len(),
            file,
        })
    }
}

/// Reads and checks `rows` into a canonical batch of `table`.
fn checked_batch(
    table: AppendTable,
    rows: &[serde_json::Value],
    snapshot: &Snapshot,
    pending: &Pending,
) -> Result<Batch> {
    let custom = &snapshot.facts.custom_fields;
    let known = Known { snapshot, pending };
    let mut builder = FactsBuilder::new();
    builder.custom_fields = custom.clone();
    let ids = match table {
        AppendTable::Clients => {
            builder.clients = rows::clients(rows, custom)?;
            known.new_clients(&builder.clients)?
        }
        AppendTable::Orders => {
            builder.orders = rows::orders(rows)?;
            known.new_orders(&builder.orders)?
        }
        AppendTable::OrderLines => {
            builder.lines = rows::order_lines(rows)?;
            known.lines_of_known_orders(&builder.lines)?;
            Vec::new()
        }
        AppendTable::Invoices => {
            builder.invoices = rows::invoices(rows)?;
            known.new_invoices(&builder.invoices)?
        }
    };
    let built = builder
        .build()
        .map_err(|e| ServiceError::internal(format!("building appended rows: {e}")))?;
    Ok(Batch {
        batch: table_batch(built, table),
        ids,
    })
}

/// What exists: the loaded facts and the appends not loaded yet.
struct Known<'a> {
    snapshot: &'a Snapshot,
    pending: &'a Pending,
}

impl Known<'_> {
    fn client(&self, id: i64) -> bool {
        self.snapshot.index.position(id).is_some()
            || self.pending.contains(AppendTable::Clients, id)
    }

    /// `wanted` ids of `table` that exist, loaded (`column`) or pending.
    fn existing(&self, table: AppendTable, column: &RecordBatch, wanted: &[i64]) -> HashSet<i64> {
        let mut found = present(id_column(column), wanted);
        found.extend(
            wanted
                .iter()
                .filter(|id| self.pending.contains(table, **id)),
        );
        found
    }

    fn new_clients(&self, rows: &[ClientRow]) -> Result<Vec<i64>> {
        let ids: Vec<i64> = rows.iter().map(|c| c.client_id).collect();
        check_new(&ids, "client_id", |id| self.client(id))?;
        Ok(ids)
    }

    fn new_orders(&self, rows: &[OrderRow]) -> Result<Vec<i64>> {
        let ids: Vec<i64> = rows.iter().map(|o| o.order_id).collect();
        let taken = self.existing(AppendTable::Orders, &self.snapshot.facts.orders, &ids);
        check_new(&ids, "order_id", |id| taken.contains(&id))?;
        let clients = rows.iter().map(|o| o.client_id);
        check_refs(clients, "client_id", "client", |id| self.client(id))?;
        Ok(ids)
    }

    fn lines_of_known_orders(&self, rows: &[LineRow]) -> Result<()> {
        let orders: Vec<i64> = rows.iter().map(|l| l.order_id).collect();
        let known = self.existing(AppendTable::Orders, &self.snapshot.facts.orders, &orders);
        let refs = orders.iter().map(|id| Some(*id));
        check_refs(refs, "order_id", "order", |id| known.contains(&id))
    }

    fn new_invoices(&self, rows: &[InvoiceRow]) -> Result<Vec<i64>> {
        let ids: Vec<i64> = rows.iter().map(|i| i.invoice_id).collect();
        let taken = self.existing(AppendTable::Invoices, &self.snapshot.facts.invoices, &ids);
        check_new(&ids, "invoice_id", |id| taken.contains(&id))?;
        let clients = rows.iter().map(|i| Some(i.client_id));
        check_refs(clients, "client_id", "client", |id| self.client(id))?;
        Ok(ids)
    }
}

fn table_batch(facts: Facts, table: AppendTable) -> RecordBatch {
    match table {
        AppendTable::Clients => facts.clients,
        AppendTable::Orders => facts.orders,
        AppendTable::OrderLines => facts.order_lines,
        AppendTable::Invoices => facts.invoices,
    }
}

/// The first column of a fact table: its id.
fn id_column(batch: &RecordBatch) -> &Int64Array {
    batch.column(0).as_primitive::<Int64Type>()
}

/// Which of `wanted` appear in `column`, in one pass over it.
fn present(column: &Int64Array, wanted: &[i64]) -> HashSet<i64> {
    let wanted: HashSet<i64> = wanted.iter().copied().collect();
    column
        .values()
        .iter()
        .filter(|id| wanted.contains(id))
        .copied()
        .collect()
}

/// Refuses ids repeated in the batch or already `taken`, naming the row.
fn check_new(ids: &[i64], field: &str, taken: impl Fn(i64) -> bool) -> Result<()> {
    let mut seen = HashSet::new();
    for (row, id) in ids.iter().enumerate() {
        if !seen.insert(*id) {
            return Err(ServiceError::Invalid(format!(
                "rows[{row}].{field}: {id} repeats an earlier row's"
            )));
        }
        if taken(*id) {
            return Err(ServiceError::Invalid(format!(
                "rows[{row}].{field}: {id} exists already; appends only add new rows"
            )));
        }
    }
    Ok(())
}

/// Refuses references to a `what` that does not exist, naming the row.
fn check_refs(
    refs: impl Iterator<Item = Option<i64>>,
    field: &str,
    what: &str,
    exists: impl Fn(i64) -> bool,
) -> Result<()> {
    for (row, id) in refs.enumerate() {
        if let Some(id) = id.filter(|id| !exists(*id)) {
            return Err(ServiceError::Invalid(format!(
                "rows[{row}].{field}: {what} {id} does not exist"
            )));
        }
    }
    Ok(())
}

/// Writes the batch as the next part of the table, durably; returns its relative path.
fn write_part(
    dir: &Path,
    table: AppendTable,
    batch: &RecordBatch,
    custom: &[CustomField],
) -> Result<String> {
    let folder = dir.join(table.name());
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    std::fs::create_dir_all(&folder).map_err(io(&folder))?;
    let number = write::next_part_number(&folder).map_err(io(&folder))?;
    let name = write::part_file_name(number);
    let hidden = folder.join(format!("_{name}"));
    let map = ContractMap::new(table.table(), batch.schema_ref(), custom)?;
    let mut writer = TableWriter::create(map, &hidden, WriteOptions::default())?;
    writer.write(batch)?;
    writer.finish()?;
    sync(&hidden).map_err(io(&hidden))?;
    let visible: PathBuf = folder.join(&name);
    std::fs::rename(&hidden, &visible).map_err(io(&visible))?;
    sync(&folder).map_err(io(&folder))?;
    Ok(format!("{}/{name}", table.name()))
}

/// Flushes a file or a folder's entries to disk.
fn sync(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}
