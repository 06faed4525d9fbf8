//! [`ReportFacts`]: the views of a snapshot's facts that reports read, built once per
//! snapshot. Orders and lines of completed orders carry the client's position and the
//! local day, and are sorted by day, so a date range is one contiguous slice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt32Array,
};
use arrow::datatypes::{DataType, Date32Type, Field, Int64Type, Schema, SchemaRef, UInt32Type};
use datafusion::datasource::MemTable;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};

use super::calendar::{DateRange, LocalDays};
use super::error::Result;
use super::filter::{MemberMask, in_members};
use super::label::{LabelTable, NO_LABEL};
use crate::facts::schema::{clients, invoices, order_lines, orders, products};
use crate::money::Cents;
use crate::snapshot::Snapshot;
use crate::time::{local_date, to_date32};

/// Column names of the report views.
pub mod column {
    /// `UInt32`, null for a guest sale: the client's position in the snapshot.
    pub const CLIENT_POS: &str = "client_pos";
    /// `Date32`: the local date of the order in the tenant's zone.
    pub const DAY: &str = "day";
    /// `Int64`: `max(total - refunded, 0)` of a completed order.
    pub const REVENUE_CENTS: &str = "revenue_cents";
    pub const PRODUCT_ID: &str = "product_id";
    pub const QUANTITY: &str = "quantity";
    pub const LINE_TOTAL_CENTS: &str = "line_total_cents";
    /// `Date32`: local date of `issued_at`.
    pub const ISSUED_DAY: &str = "issued_day";
    /// `Date32`: `due_at`, or the issue date when the invoice has no due date.
    pub const DUE_DAY: &str = "due_day";
    /// `Int64`: `total - paid`, never 0 in the view.
    pub const OUTSTANDING_CENTS: &str = "outstanding_cents";
}

/// Rows per batch handed to a plan: large enough to amortise per-batch work.
const BATCH_ROWS: usize = 1 << 16;

/// Everything reports read, for one snapshot. Build it once when a snapshot is published
/// and keep it beside it; it never changes.
pub struct ReportFacts {
    pub(super) snapshot: Arc<Snapshot>,
    pub(super) ctx: SessionContext,
    /// Completed orders, sorted by `day`.
    pub(super) orders: DayTable,
    /// Lines of completed orders, sorted by `day`.
    pub(super) lines: DayTable,
    /// Invoices not void with a balance other than zero.
    pub(super) invoices: RecordBatch,
    pub(super) countries: Countries,
    /// Running totals of every completed order by day, for unfiltered widgets.
    pub(super) daily: DailyTotals,
    /// SKU and name by product id; a product that left the catalog has none.
    pub(super) products: HashMap<i64, (String, String)>,
}

impl std::fmt::Debug for ReportFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportFacts")
            .field("orders", &self.orders.batch.num_rows())
            .field("lines", &self.lines.batch.num_rows())
            .field("invoices", &self.invoices.num_rows())
            .finish_non_exhaustive()
    }
}

impl ReportFacts {
    /// Builds the report views of `snapshot`.
    ///
    /// # Errors
    /// Only an Arrow failure assembling a column, which means a bug.
    pub fn build(snapshot: Arc<Snapshot>) -> Result<ReportFacts> {
        let started = Instant::now();
        let completed = CompletedOrders::read(&snapshot);
        let orders = completed.view()?;
        let lines = completed.lines_view(&snapshot.facts.order_lines)?;
        let invoices = invoices_view(&snapshot)?;
        let facts = ReportFacts {
            daily: DailyTotals::of(&orders),
            ctx: session(),
            countries: Countries::of(&snapshot),
            products: product_names(&snapshot.facts.products),
            snapshot,
            orders,
            lines,
            invoices,
        };
        tracing::info!(
            orders = facts.orders.batch.num_rows(),
            lines = facts.lines.batch.num_rows(),
            invoices = facts.invoices.num_rows(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "report views built"
        );
        Ok(facts)
    }

    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// A member mask of `members` sized for this snapshot; `None` stays unfiltered.
    pub(super) fn mask(&self, members: Option<&roaring::RoaringBitmap>) -> Option<Arc<MemberMask>> {
        let positions = self.snapshot.index.len();
        members.map(|m| Arc::new(MemberMask::from_bitmap(m, positions)))
    }

    /// The rows of `table` in `range`, restricted to `mask`'s clients when given.
    pub(super) fn scan(
        &self,
        table: &DayTable,
        range: DateRange,
        mask: Option<&Arc<MemberMask>>,
    ) -> Result<DataFrame> {
        self.scan_ranges(table, &[range], mask)
    }

    /// The rows of `table` in any of `ranges` (which do not overlap), restricted to
    /// `mask`'s clients when given.
    pub(super) fn scan_ranges(
        &self,
        table: &DayTable,
        ranges: &[DateRange],
        mask: Option<&Arc<MemberMask>>,
    ) -> Result<DataFrame> {
        let partitions = self.ctx.state().config().target_partitions();
        let provider = table.provider(ranges, partitions)?;
        let frame = self.ctx.read_table(provider)?;
        Ok(match mask {
            Some(mask) => frame.filter(in_members(mask.clone()))?,
            None => frame,
        })
    }

    /// The invoices view, restricted to `mask`'s clients when given.
    pub(super) fn scan_invoices(&self, mask: Option<&Arc<MemberMask>>) -> Result<DataFrame> {
        let frame = self.ctx.read_batch(self.invoices.clone())?;
        Ok(match mask {
            Some(mask) => frame.filter(in_members(mask.clone()))?,
            None => frame,
        })
    }
}

/// Runs a report query to the end.
///
/// # Errors
/// Only an internal fault running the plan.
pub(super) async fn collect(frame: DataFrame) -> Result<Vec<RecordBatch>> {
    Ok(frame.collect().await?)
}

fn session() -> SessionContext {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    SessionContext::new_with_config(SessionConfig::new().with_target_partitions(threads))
}

/// A view sorted by its `day` column.
pub(super) struct DayTable {
    pub(super) batch: RecordBatch,
}

impl DayTable {
    fn days(&self) -> &[i32] {
        let column = self.batch.column_by_name(column::DAY).expect("view column");
        column
            .as_primitive::<arrow::datatypes::Date32Type>()
            .values()
    }

    /// The rows whose day is in `range`: a zero-copy slice found by binary search.
    pub(super) fn slice(&self, range: DateRange) -> RecordBatch {
        let (from, to) = range.date32();
        let days = self.days();
        let start = days.partition_point(|d| *d < from);
        let end = days.partition_point(|d| *d <= to);
        self.batch.slice(start, end - start)
    }

    /// The slices of `ranges` as one table, its batches dealt over up to `partitions`
    /// partitions.
    fn provider(&self, ranges: &[DateRange], partitions: usize) -> Result<Arc<MemTable>> {
        let slices = ranges.iter().map(|range| self.slice(*range));
        let all: Vec<RecordBatch> = slices
            .flat_map(|slice| chunks(&slice, BATCH_ROWS).collect::<Vec<_>>())
            .collect();
        let mut parts = vec![Vec::new(); partitions.clamp(1, all.len().max(1))];
        let count = parts.len();
        for (i, batch) in all.into_iter().enumerate() {
            parts[i % count].push(batch);
        }
        Ok(Arc::new(MemTable::try_new(self.batch.schema(), parts)?))
    }
}

/// `batch` cut into zero-copy slices of at most `rows` rows, in order.
pub(super) fn chunks(batch: &RecordBatch, rows: usize) -> impl Iterator<Item = RecordBatch> + '_ {
    (0..batch.num_rows())
        .step_by(rows)
        .map(move |offset| batch.slice(offset, rows.min(batch.num_rows() - offset)))
}

/// Revenue and order counts summed day by day, so the figures of any range are two binary
/// searches and a subtraction. Only days with orders are kept: a sparse history costs what
/// it holds, whatever its span.
pub(super) struct DailyTotals {
    /// Days with completed orders, ascending, each once.
    days: Vec<i32>,
    /// `revenue[i]`: revenue of the days `days[..i]`; one entry more than `days`.
    revenue: Vec<i64>,
    orders: Vec<u64>,
}

impl DailyTotals {
    /// The totals of `(day, revenue, orders)` rows in ascending day order; rows of the same
    /// day add up.
    pub(super) fn from_sorted(rows: impl IntoIterator<Item = (i32, i64, u64)>) -> DailyTotals {
        let mut totals = DailyTotals {
            days: Vec::new(),
            revenue: vec![0],
            orders: vec![0],
        };
        for (day, revenue, orders) in rows {
            if totals.days.last() != Some(&day) {
                totals.days.push(day);
                totals.revenue.push(*totals.revenue.last().unwrap_or(&0));
                totals.orders.push(*totals.orders.last().unwrap_or(&0));
            }
            *totals
                .revenue
                .last_mut()
                .expect("one entry per day and one more") += revenue;
            *totals
                .orders
                .last_mut()
                .expect("one entry per day and one more") += orders;
        }
        totals
    }

    /// The totals of a view sorted by day, one order per row.
    fn of(orders: &DayTable) -> DailyTotals {
        let revenue = column_of(&orders.batch, column::REVENUE_CENTS).as_primitive::<Int64Type>();
        let rows = orders.days().iter().zip(revenue.values());
        DailyTotals::from_sorted(rows.map(|(day, cents)| (*day, *cents, 1)))
    }

    /// Revenue and orders of the days of `range`.
    pub(super) fn between(&self, range: DateRange) -> (Cents, u64) {
        let (from, to) = range.date32();
        let start = self.days.partition_point(|day| *day < from);
        let end = self.days.partition_point(|day| *day <= to);
        let revenue = self.revenue[end] - self.revenue[start];
        (Cents(revenue), self.orders[end] - self.orders[start])
    }
}

/// Revenue and order count per day of the rows of `orders` (an orders view, or a slice of
/// one, in day order) whose client is in `mask`, as `(day, revenue, orders)` rows in day
/// order for [`DailyTotals::from_sorted`]. Guest sales are in no mask; days without a member's
/// order are left out.
///
/// A loop of its own rather than a plan: a widget asks for a few sums over millions of rows,
/// and a plan's filter, copy and hash aggregation by day cost several times this one pass.
/// Rows go by in blocks of 64, whose guests are one word of the validity bitmap; each row
/// tests one bit of the mask and adds its revenue masked by it, without a branch.
pub(super) fn member_days(orders: &RecordBatch, mask: &MemberMask) -> Vec<(i32, i64, u64)> {
    let positions = column_of(orders, column::CLIENT_POS).as_primitive::<UInt32Type>();
    let days = column_of(orders, column::DAY).as_primitive::<Date32Type>();
    let revenue = column_of(orders, column::REVENUE_CENTS).as_primitive::<Int64Type>();
    let (values, days, revenue) = (positions.values(), days.values(), revenue.values());
    match positions.nulls() {
        Some(nulls) => sum_days(
            values,
            days,
            revenue,
            mask,
            nulls.inner().bit_chunks().iter_padded(),
        ),
        None => sum_days(values, days, revenue, mask, std::iter::repeat(u64::MAX)),
    }
}

/// [`member_days`] over plain columns; `valid` holds one word per 64 rows, a set bit for a
/// row with a client.
fn sum_days(
    positions: &[u32],
    days: &[i32],
    revenue: &[i64],
    mask: &MemberMask,
    valid: impl Iterator<Item = u64>,
) -> Vec<(i32, i64, u64)> {
    let mut rows = Vec::new();
    let Some(&first) = days.first() else {
        return rows;
    };
    let (mut day, mut cents, mut count) = (first, 0i64, 0u64);
    let blocks = positions
        .chunks(64)
        .zip(days.chunks(64))
        .zip(revenue.chunks(64));
    for (((positions, days), revenue), valid) in blocks.zip(valid) {
        let rows_of_block = positions.iter().zip(days).zip(revenue).enumerate();
        for (i, ((position, row_day), row_cents)) in rows_of_block {
            if *row_day != day {
                if count > 0 {
                    rows.push((day, cents, count));
                }
                (day, cents, count) = (*row_day, 0, 0);
            }
            let hit = mask.bit(*position) & (valid >> i);
            cents += row_cents & (hit as i64).wrapping_neg();
            count += hit;
        }
    }
    if count > 0 {
        rows.push((day, cents, count));
    }
    rows
}

/// Completed orders in input order, with what every view needs of them.
struct CompletedOrders {
    order_ids: Vec<i64>,
    positions: Vec<Option<u32>>,
    days: Vec<i32>,
    revenue_cents: Vec<i64>,
}

impl CompletedOrders {
    fn read(snapshot: &Snapshot) -> CompletedOrders {
        let batch = &snapshot.facts.orders;
        let int64 = |name: &str| -> &Int64Array { column_of(batch, name).as_primitive() };
        let (ids, clients) = (int64(orders::ORDER_ID), int64(orders::CLIENT_ID));
        let (totals, refunds) = (int64(orders::TOTAL_CENTS), int64(orders::REFUNDED_CENTS));
        let at: &TimestampMicrosecondArray = column_of(batch, orders::ORDERED_AT).as_primitive();
        let status: &StringArray = column_of(batch, orders::STATUS).as_string();
        let rows: Vec<usize> = (0..batch.num_rows())
            .filter(|row| status.value(*row) == "completed")
            .collect();
        let local = local_days(snapshot, at, &rows);
        let position = |row: usize| {
            let known = clients.is_valid(row);
            known
                .then(|| snapshot.index.position(clients.value(row)))
                .flatten()
        };
        CompletedOrders {
            order_ids: rows.iter().map(|r| ids.value(*r)).collect(),
            positions: rows.iter().map(|r| position(*r)).collect(),
            days: rows.iter().map(|r| local.date32(at.value(*r))).collect(),
            revenue_cents: rows
                .iter()
                .map(|r| (totals.value(*r) - refunds.value(*r)).max(0))
                .collect(),
        }
    }

    /// `client_pos, day, revenue_cents`, sorted by day.
    fn view(&self) -> Result<DayTable> {
        let order = order_by_day(&self.days);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from_iter(
                order.iter().map(|i| self.positions[*i as usize]),
            )),
            date32_column(order.iter().map(|i| self.days[*i as usize])),
            Arc::new(Int64Array::from_iter_values(
                order.iter().map(|i| self.revenue_cents[*i as usize]),
            )),
        ];
        let schema = schema(&[
            (column::CLIENT_POS, DataType::UInt32, true),
            (column::DAY, DataType::Date32, false),
            (column::REVENUE_CENTS, DataType::Int64, false),
        ]);
        Ok(DayTable {
            batch: RecordBatch::try_new(schema, columns)?,
        })
    }

    /// Lines of completed orders with their order's client position and day, by day.
    fn lines_view(&self, lines: &RecordBatch) -> Result<DayTable> {
        let int64 = |name: &str| -> &Int64Array { column_of(lines, name).as_primitive() };
        let order_ids = int64(order_lines::ORDER_ID).values();
        let by_id = self.sorted_by_id();
        let find = |id: i64| {
            let found = by_id.binary_search_by_key(&id, |i| self.order_ids[*i as usize]);
            found.ok().map(|at| by_id[at] as usize)
        };
        let (rows, orders): (Vec<usize>, Vec<usize>) = (0..lines.num_rows())
            .filter_map(|row| find(order_ids[row]).map(|order| (row, order)))
            .unzip();
        let days: Vec<i32> = orders.iter().map(|o| self.days[*o]).collect();
        let order = order_by_day(&days);
        let take = |values: &[i64]| -> ArrayRef {
            let sorted = order.iter().map(|i| values[rows[*i as usize]]);
            Arc::new(Int64Array::from_iter_values(sorted))
        };
        let columns: Vec<ArrayRef> = vec![
            take(int64(order_lines::PRODUCT_ID).values()),
            take(int64(order_lines::QUANTITY).values()),
            take(int64(order_lines::LINE_TOTAL_CENTS).values()),
            Arc::new(UInt32Array::from_iter(
                order.iter().map(|i| self.positions[orders[*i as usize]]),
            )),
            date32_column(order.iter().map(|i| days[*i as usize])),
        ];
        let schema = schema(&[
            (column::PRODUCT_ID, DataType::Int64, false),
            (column::QUANTITY, DataType::Int64, false),
            (column::LINE_TOTAL_CENTS, DataType::Int64, false),
            (column::CLIENT_POS, DataType::UInt32, true),
            (column::DAY, DataType::Date32, false),
        ]);
        Ok(DayTable {
            batch: RecordBatch::try_new(schema, columns)?,
        })
    }

    /// Indexes of the orders sorted by order id (order ids are unique).
    fn sorted_by_id(&self) -> Vec<u32> {
        let mut by_id: Vec<u32> = (0..self.order_ids.len() as u32).collect();
        if !self.order_ids.is_sorted() {
            by_id.sort_unstable_by_key(|i| self.order_ids[*i as usize]);
        }
        by_id
    }
}

/// A local-date converter covering the instants of `rows`.
fn local_days(snapshot: &Snapshot, at: &TimestampMicrosecondArray, rows: &[usize]) -> LocalDays {
    let instants = rows.iter().map(|r| at.value(*r));
    let (min, max) = instants.fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    LocalDays::new(snapshot.tz, min, max)
}

/// Indexes of `days` in ascending day order: a counting sort, linear in the rows.
fn order_by_day(days: &[i32]) -> Vec<u32> {
    let (Some(min), Some(max)) = (days.iter().min(), days.iter().max()) else {
        return Vec::new();
    };
    let span = (i64::from(*max) - i64::from(*min) + 1) as usize;
    if span > 4 * days.len() + 100_000 {
        // Sparse days over a huge span: a comparison sort costs less than the counts.
        let mut order: Vec<u32> = (0..days.len() as u32).collect();
        order.sort_by_key(|i| days[*i as usize]);
        return order;
    }
    let mut starts = vec![0u32; span + 1];
    for day in days {
        starts[(day - min) as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut order = vec![0u32; days.len()];
    for (i, day) in days.iter().enumerate() {
        let slot = &mut starts[(day - min) as usize];
        order[*slot as usize] = i as u32;
        *slot += 1;
    }
    order
}

/// Invoices that are not void and whose `total - paid` is not zero.
fn invoices_view(snapshot: &Snapshot) -> Result<RecordBatch> {
    let batch = &snapshot.facts.invoices;
    let int64 = |name: &str| -> &Int64Array { column_of(batch, name).as_primitive() };
    let (clients, totals, paid) = (
        int64(invoices::CLIENT_ID),
        int64(invoices::TOTAL_CENTS),
        int64(invoices::PAID_CENTS),
    );
    let issued: &TimestampMicrosecondArray = column_of(batch, invoices::ISSUED_AT).as_primitive();
    let due: &Date32Array = column_of(batch, invoices::DUE_AT).as_primitive();
    let status: &StringArray = column_of(batch, invoices::STATUS).as_string();
    let outstanding = |row: usize| totals.value(row) - paid.value(row);
    let rows: Vec<usize> = (0..batch.num_rows())
        .filter(|row| status.value(*row) != "void" && outstanding(*row) != 0)
        .collect();
    let issued_day = |row: usize| to_date32(local_date(issued.value(row), snapshot.tz));
    let due_day = |row: usize| {
        if due.is_valid(row) {
            due.value(row)
        } else {
            issued_day(row)
        }
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from_iter(
            rows.iter()
                .map(|r| snapshot.index.position(clients.value(*r))),
        )),
        date32_column(rows.iter().map(|r| issued_day(*r))),
        date32_column(rows.iter().map(|r| due_day(*r))),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| outstanding(*r)),
        )),
    ];
    let schema = schema(&[
        (column::CLIENT_POS, DataType::UInt32, true),
        (column::ISSUED_DAY, DataType::Date32, false),
        (column::DUE_DAY, DataType::Date32, false),
        (column::OUTSTANDING_CENTS, DataType::Int64, false),
    ]);
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Country codes as shown (trimmed, upper-case), and each position's code number.
pub(super) struct Countries {
    pub(super) codes: Vec<String>,
    pub(super) of_position: Arc<LabelTable>,
}

impl Countries {
    fn of(snapshot: &Snapshot) -> Countries {
        let column = snapshot.client_text(clients::COUNTRY);
        let mut codes: Vec<String> = Vec::new();
        let mut numbers: HashMap<String, u32> = HashMap::new();
        let mut number_of = |value: Option<&str>| {
            let code = value
                .map(|v| v.trim().to_uppercase())
                .filter(|c| !c.is_empty());
            let Some(code) = code else { return NO_LABEL };
            *numbers.entry(code.clone()).or_insert_with(|| {
                codes.push(code);
                codes.len() as u32 - 1
            })
        };
        let labels = column.iter().map(&mut number_of).collect();
        Countries {
            codes,
            of_position: Arc::new(LabelTable {
                first_key: 0,
                labels,
            }),
        }
    }
}

fn product_names(products: &RecordBatch) -> HashMap<i64, (String, String)> {
    let ids = column_of(products, products::PRODUCT_ID).as_primitive::<Int64Type>();
    let skus: &StringArray = column_of(products, products::SKU).as_string();
    let names: &StringArray = column_of(products, products::NAME).as_string();
    (0..products.num_rows())
        .map(|row| {
            let labels = (skus.value(row).to_string(), names.value(row).to_string());
            (ids.value(row), labels)
        })
        .collect()
}

fn column_of<'a>(batch: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    batch.column_by_name(name).expect("canonical column")
}

fn date32_column(days: impl Iterator<Item = i32>) -> ArrayRef {
    Arc::new(Date32Array::from_iter_values(days))
}

fn schema(fields: &[(&str, DataType, bool)]) -> SchemaRef {
    let fields = fields
        .iter()
        .map(|(name, t, nullable)| Field::new(*name, t.clone(), *nullable));
    Arc::new(Schema::new(fields.collect::<Vec<_>>()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use roaring::RoaringBitmap;

    use super::*;
    use crate::time::from_date32;

    /// An orders view of `(day, position, revenue)` rows, sorted by day here.
    fn orders_view(mut rows: Vec<(i32, Option<u32>, i64)>) -> RecordBatch {
        rows.sort_by_key(|(day, _, _)| *day);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from_iter(rows.iter().map(|r| r.1))),
            date32_column(rows.iter().map(|r| r.0)),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ];
        let schema = schema(&[
            (column::CLIENT_POS, DataType::UInt32, true),
            (column::DAY, DataType::Date32, false),
            (column::REVENUE_CENTS, DataType::Int64, false),
        ]);
        RecordBatch::try_new(schema, columns).unwrap()
    }

    proptest! {
        /// Summed in chunks of any size, the members' days are the plain sums of their rows:
        /// guests (no position) never count, and a day cut between chunks adds up.
        #[test]
        fn member_days_in_chunks_match_plain_sums(
            rows in prop::collection::vec(
                (0i32..40, prop::option::weighted(0.9, 0u32..200), 0i64..10_000),
                0..400,
            ),
            members in prop::collection::btree_set(0u32..200, 0..200),
            chunk_rows in 1usize..50,
        ) {
            let mut oracle: BTreeMap<i32, (i64, u64)> = BTreeMap::new();
            for (day, position, cents) in &rows {
                if position.is_some_and(|p| members.contains(&p)) {
                    let sums = oracle.entry(*day).or_default();
                    sums.0 += cents;
                    sums.1 += 1;
                }
            }
            let bitmap: RoaringBitmap = members.iter().copied().collect();
            let mask = MemberMask::from_bitmap(&bitmap, 200);
            let view = orders_view(rows);
            let by_chunk = chunks(&view, chunk_rows).map(|chunk| member_days(&chunk, &mask));
            let totals = DailyTotals::from_sorted(by_chunk.collect::<Vec<_>>().concat());
            for day in 0..40 {
                let date = from_date32(day);
                let (cents, orders) = oracle.get(&day).copied().unwrap_or_default();
                let range = DateRange::day(date);
                prop_assert_eq!(totals.between(range), (Cents(cents), orders), "day {}", day);
            }
            let all = DateRange::new(from_date32(0), from_date32(39)).unwrap();
            let cents: i64 = oracle.values().map(|s| s.0).sum();
            let orders: u64 = oracle.values().map(|s| s.1).sum();
            prop_assert_eq!(totals.between(all), (Cents(cents), orders));
        }
    }
}
