//! A deterministic synthetic tenant in the input contract's format: clients with skewed
//! types, countries, tags and custom fields; about 20 orders a client with about 2.5 lines
//! each; invoices of business clients; a product catalogue with tier prices.
//!
//! Invariant: the output depends only on the options (seed, client count, `now`, part
//! size), never on the number of threads. Every block of 1024 clients draws from its own
//! random stream, order ids are counted in advance, and every file has a fixed owner.
//!
//! Work runs in three steps: clients (their rows and a plan for their orders), then the
//! parts of orders and lines in parallel, streamed to disk, then the invoices, numbered
//! across parts.

mod clients;
mod orders;
mod products;
mod random;
mod vocab;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;

use crate::facts::schema;
use crate::facts::write::{
    self, ContractMap, Table, TableWriter, WriteError, WriteOptions, write_tenant_settings,
};
use clients::ClientPlan;
use orders::{InvoiceColumns, PartContext, PartOutput, PartPlan};

/// The first day of generated history.
pub const HISTORY_START: NaiveDate = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();

/// The earliest `now`: two whole days after [`HISTORY_START`], so the history has room.
pub const NOW_EARLIEST: NaiveDate = NaiveDate::from_ymd_opt(2019, 1, 3).unwrap();
/// Product ids the user guide's examples refer to; the catalogue always holds them.
pub const PRODUCTS_MIN: usize = 100;
pub const PRODUCTS_MAX: usize = 10_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub clients: u64,
    pub seed: u64,
    /// History ends at the start of this day (UTC).
    pub now: NaiveDate,
    /// Orders per part file (a part holds whole blocks of clients, so a little more).
    pub orders_per_part: u64,
    /// Worker threads; the output does not depend on it.
    pub threads: usize,
}

impl GenOptions {
    pub fn new(clients: u64, seed: u64, now: NaiveDate) -> Self {
        let threads = thread::available_parallelism().map_or(2, |n| n.get());
        GenOptions {
            clients,
            seed,
            now,
            orders_per_part: 1_000_000,
            threads,
        }
    }

    /// Products: one per client, at least [`PRODUCTS_MIN`], at most [`PRODUCTS_MAX`].
    pub fn products(&self) -> usize {
        (self.clients as usize).clamp(PRODUCTS_MIN, PRODUCTS_MAX)
    }
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenSummary {
    pub clients: u64,
    pub orders: u64,
    pub order_lines: u64,
    pub invoices: u64,
    pub products: u64,
    pub parts: usize,
    pub elapsed: Duration,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("--clients must be at least 1")]
    NoClients,
    #[error(
        "--now {now} is too early: the generated history starts on {HISTORY_START}, so --now \
         must be {NOW_EARLIEST} or later"
    )]
    NowTooEarly { now: NaiveDate },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("internal error, a bug: generated columns do not fit the schema: {0}")]
    Internal(#[from] ArrowError),
}

/// The generated period: from [`HISTORY_START`] to the start of `now`, in µs UTC.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub start_us: i64,
    pub now_us: i64,
}

impl Span {
    const DAY_US: i64 = 86_400_000_000;

    fn new(now: NaiveDate) -> Self {
        let micros = |d: NaiveDate| {
            d.and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp_micros()
        };
        Span {
            start_us: micros(HISTORY_START),
            now_us: micros(now),
        }
    }

    pub fn len_us(&self) -> i64 {
        self.now_us - self.start_us
    }

    /// Days since the epoch of an instant, as in `Date32`.
    pub fn date32(us: i64) -> i32 {
        us.div_euclid(Self::DAY_US) as i32
    }

    pub fn now_date32(&self) -> i32 {
        Self::date32(self.now_us)
    }
}

/// Generates a tenant into `out`. `progress` is called with the number of clients whose
/// orders were just written; the counts add up to `options.clients`.
///
/// # Errors
/// Invalid options, an `out` already holding tenant data (unless `replace`), or a file
/// that cannot be written.
pub fn generate(
    options: &GenOptions,
    out: &Path,
    replace: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<GenSummary, GenError> {
    let started = Instant::now();
    let span = validate(options)?;
    write::prepare_tenant_dir(out, replace)?;
    let _span =
        tracing::info_span!("generate", clients = options.clients, seed = options.seed).entered();

    // Clients first: their rows, and the plan their orders follow.
    let catalogue = products::generate(options.seed, options.products())?;
    let (client_batches, plans) = generate_clients(options, &span)?;
    let block_totals: Vec<u64> = (0..client_batches.len())
        .map(|block| orders::block_orders(orders::block_clients(&plans, block)))
        .collect();
    let parts = orders::plan_parts(&block_totals, options.orders_per_part);
    tracing::debug!(
        parts = parts.len(),
        orders = block_totals.iter().sum::<u64>(),
        "planned"
    );

    // Then every file but the invoices, in parallel.
    let context = PartContext {
        seed: options.seed,
        span: &span,
        plans: &plans,
        prices: &catalogue.prices,
        out,
        options: WriteOptions::default(),
        progress,
    };
    let tables = TablesJob {
        clients: &client_batches,
        products: &catalogue.batch,
        out,
    };
    let outputs = run_jobs(&context, &tables, &parts, options.threads)?;

    // Last the invoices, numbered across parts in order.
    let summary = assemble(options, out, outputs, parts.len(), started)?;
    write_tenant_settings(out, "UTC")?;
    tracing::info!(
        clients = summary.clients,
        orders = summary.orders,
        lines = summary.order_lines,
        invoices = summary.invoices,
        elapsed_ms = summary.elapsed.as_millis() as u64,
        "tenant generated"
    );
    Ok(summary)
}

fn validate(options: &GenOptions) -> Result<Span, GenError> {
    if options.clients == 0 {
        return Err(GenError::NoClients);
    }
    if options.now < NOW_EARLIEST {
        return Err(GenError::NowTooEarly { now: options.now });
    }
    Ok(Span::new(options.now))
}

/// Every client, block by block in parallel, with the plan of its orders.
fn generate_clients(
    options: &GenOptions,
    span: &Span,
) -> Result<(Vec<RecordBatch>, Vec<ClientPlan>), GenError> {
    let block_size = orders::BLOCK_CLIENTS as u64;
    let blocks = options.clients.div_ceil(block_size) as usize;
    let results = parallel_map(blocks, options.threads, |block| {
        let first = block as u64 * block_size;
        let count = block_size.min(options.clients - first) as usize;
        clients::generate_block(options.seed, block as u64, first as i64 + 1, count, span)
    });

    let mut batches = Vec::with_capacity(blocks);
    let mut plans = Vec::with_capacity(options.clients as usize);
    for result in results {
        let (batch, block_plans) = result?;
        batches.push(batch);
        plans.extend(block_plans);
    }
    Ok((batches, plans))
}

/// The single-file tables written while the parts are generated.
struct TablesJob<'a> {
    clients: &'a [RecordBatch],
    products: &'a RecordBatch,
    out: &'a Path,
}

impl TablesJob<'_> {
    fn write(&self) -> Result<(), GenError> {
        let custom = clients::custom_fields();
        let map = ContractMap::new(Table::Clients, &schema::clients_schema(&custom), &custom)?;
        let path = self.out.join("clients.parquet");
        let mut writer = TableWriter::create(map, &path, WriteOptions::default())?;
        for batch in self.clients {
            writer.write(batch)?;
        }
        writer.finish()?;
        write::write_parquet(
            Table::Products,
            self.products,
            &self.out.join("products.parquet"),
        )?;
        Ok(())
    }
}

/// Job 0 writes the clients and products; job `i + 1` writes part `i`.
fn run_jobs(
    context: &PartContext<'_>,
    tables: &TablesJob<'_>,
    parts: &[PartPlan],
    threads: usize,
) -> Result<Vec<PartOutput>, GenError> {
    let results = parallel_map(parts.len() + 1, threads, |job| match job {
        0 => tables.write().map(|()| None),
        _ => orders::write_part(context, &parts[job - 1]).map(Some),
    });
    let mut outputs = Vec::with_capacity(parts.len());
    for result in results {
        outputs.extend(result?);
    }
    Ok(outputs)
}

/// Writes the invoices of all parts and adds everything up.
fn assemble(
    options: &GenOptions,
    out: &Path,
    outputs: Vec<PartOutput>,
    parts: usize,
    started: Instant,
) -> Result<GenSummary, GenError> {
    let mut summary = GenSummary {
        clients: options.clients,
        products: options.products() as u64,
        parts,
        ..GenSummary::default()
    };
    let map = ContractMap::new(Table::Invoices, &schema::invoices_schema(), &[])?;
    let path = out.join("invoices.parquet");
    let mut writer = TableWriter::create(map, &path, WriteOptions::default())?;
    // TODO: the invoices of every part wait in memory for their ids (about 2.5 million rows
    // for 1M clients); stream them to the file in part order if tenants grow much larger.
    let mut next_invoice_id = 1;
    for output in outputs {
        summary.orders += output.orders;
        summary.order_lines += output.lines;
        let invoices: InvoiceColumns = output.invoices;
        let count = invoices.len() as i64;
        if count > 0 {
            writer.write(&invoices.into_batch(next_invoice_id)?)?;
        }
        next_invoice_id += count;
    }
    summary.invoices = writer.finish()?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Runs `work(0..count)` on `threads` threads; results come back in index order.
fn parallel_map<T: Send>(count: usize, threads: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            if index >= count {
                return done;
            }
            done.push((index, work(index)));
        }
    };
    let mut results: Vec<(usize, T)> = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.clamp(1, count.max(1)))
            .map(|_| scope.spawn(worker))
            .collect();
        let joined = handles.into_iter().map(|h| h.join());
        joined
            .flat_map(|r| r.unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    results.sort_unstable_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}
