//! A snapshot: one tenant's facts bound to a time zone, with everything rules read.
//!
//! Building a snapshot sorts clients by id, assigns dense positions, computes the metrics
//! table and builds the bitmap indexes. A snapshot never changes; a reload builds a new one,
//! so readers hold an `Arc<Snapshot>` and never see half of a reload.

mod client_index;
mod product_index;
mod text_index;

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::{sort_to_indices, take_record_batch};
use chrono_tz::Tz;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};
use roaring::RoaringBitmap;

use crate::facts::Facts;
use crate::facts::schema::clients;
use crate::metrics::{self, ClientMetrics};

pub use client_index::ClientIndex;
pub use product_index::ProductIndex;
pub use text_index::TextIndex;

/// Rows per partition when facts are registered with DataFusion, so scans run in parallel.
const PARTITION_ROWS: usize = 1 << 20;

/// Everything a rule evaluation reads, immutable once built.
pub struct Snapshot {
    pub facts: Facts,
    pub tz: Tz,
    /// The clients table sorted by `client_id`: row `i` is position `i`.
    pub clients: RecordBatch,
    pub index: ClientIndex,
    /// Live clients: not deleted. Every membership is a subset of it.
    pub universe: RoaringBitmap,
    pub metrics: ClientMetrics,
    pub client_types: TextIndex,
    pub countries: TextIndex,
    pub cities: TextIndex,
    pub tags: TextIndex,
    pub products: ProductIndex,
    /// A DataFusion session with `orders`, `order_lines`, `invoices`, `products`, `clients`
    /// and `metrics` registered.
    pub ctx: SessionContext,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("tz", &self.tz)
            .field("clients", &self.index.len())
            .field("live", &self.universe.len())
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    /// Builds a snapshot of `facts` in the zone `tz`.
    ///
    /// # Errors
    /// Only a DataFusion or Arrow failure, which means a bug: facts are validated on load.
    pub async fn build(facts: Facts, tz: Tz) -> Result<Arc<Snapshot>, DataFusionError> {
        let started = Instant::now();
        let clients = sort_by_id(&facts.clients)?;
        let index = ClientIndex::from_sorted(
            clients
                .column(0)
                .as_primitive::<arrow::datatypes::Int64Type>(),
        );
        let universe = live_clients(&clients);
        let ctx = session(&facts, &clients)?;
        let metrics = metrics::compute(&ctx, &facts, &clients, &index, tz).await?;
        register(&ctx, "metrics", &metrics.batch)?;
        let products = ProductIndex::build(&ctx, &index, &facts.products).await?;
        let text = |name: &str| {
            TextIndex::from_column(
                clients
                    .column_by_name(name)
                    .expect("canonical")
                    .as_string::<i32>(),
            )
        };
        let tags = TextIndex::from_lists(
            clients
                .column_by_name(clients::TAGS)
                .expect("canonical")
                .as_list::<i32>(),
        );
        let snapshot = Snapshot {
            client_types: text(clients::CLIENT_TYPE),
            countries: text(clients::COUNTRY),
            cities: text(clients::CITY),
            tags,
            products,
            metrics,
            universe,
            index,
            clients,
            facts,
            tz,
            ctx,
        };
        tracing::info!(
            clients = snapshot.index.len(),
            live = snapshot.universe.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "snapshot built"
        );
        Ok(Arc::new(snapshot))
    }

    /// The name of the client at `position`.
    pub fn client_name(&self, position: u32) -> &str {
        self.clients
            .column(1)
            .as_string::<i32>()
            .value(position as usize)
    }

    /// A text column of the sorted clients table, for member listings.
    pub fn client_text(&self, column: &str) -> &StringArray {
        self.clients
            .column_by_name(column)
            .expect("canonical column")
            .as_string()
    }
}

fn sort_by_id(clients: &RecordBatch) -> Result<RecordBatch, DataFusionError> {
    let ids: &Int64Array = clients.column(0).as_primitive();
    if ids.values().windows(2).all(|w| w[0] < w[1]) {
        return Ok(clients.clone());
    }
    let order = sort_to_indices(ids, None, None)?;
    Ok(take_record_batch(clients, &order)?)
}

fn live_clients(clients: &RecordBatch) -> RoaringBitmap {
    let deleted = clients
        .column_by_name(clients::DELETED_AT)
        .expect("canonical column");
    let live = (0..clients.num_rows() as u32).filter(|pos| deleted.is_null(*pos as usize));
    RoaringBitmap::from_sorted_iter(live).expect("positions ascend")
}

fn session(facts: &Facts, clients: &RecordBatch) -> Result<SessionContext, DataFusionError> {
    let config = SessionConfig::new().with_target_partitions(num_threads());
    let ctx = SessionContext::new_with_config(config);
    register(&ctx, "clients", clients)?;
    register(&ctx, "orders", &facts.orders)?;
    register(&ctx, "order_lines", &facts.order_lines)?;
    register(&ctx, "invoices", &facts.invoices)?;
    register(&ctx, "products", &facts.products)?;
    Ok(ctx)
}

fn num_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Registers a batch as a table, split into partitions of [`PARTITION_ROWS`] (zero-copy).
fn register(ctx: &SessionContext, name: &str, batch: &RecordBatch) -> Result<(), DataFusionError> {
    let parts = num_threads().max(1);
    let per_part = batch
        .num_rows()
        .div_ceil(parts)
        .max(PARTITION_ROWS.min(batch.num_rows()).max(1));
    let mut partitions = Vec::new();
    let mut offset = 0;
    while offset < batch.num_rows() {
        let len = per_part.min(batch.num_rows() - offset);
        partitions.push(vec![batch.slice(offset, len)]);
        offset += len;
    }
    if partitions.is_empty() {
        partitions.push(vec![batch.clone()]);
    }
    let table = MemTable::try_new(batch.schema(), partitions)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}
