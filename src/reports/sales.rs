//! Sales reports over a local date range: over time (by day, ISO week or month), by
//! product, by client and by country, each restricted to a segment filter's clients.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, RecordBatch, UInt32Array};
use arrow::datatypes::{Int64Type, UInt32Type};
use chrono::NaiveDate;
use datafusion::functions_aggregate::count::count_all;
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::prelude::{DataFrame, Expr, col};
use futures::future::try_join_all;
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::calendar::{DateRange, Granularity, period_table, periods};
use super::distinct::{client_set, distinct_clients, read_client_set};
use super::error::{ReportError, Result};
use super::filter::MemberMask;
use super::label::label;
use super::views::{DailyTotals, ReportFacts, chunks, collect, column, member_days};
use crate::money::{Cents, div_round_half_away};

/// The largest `top` a ranking report accepts.
pub const TOP_MAX: usize = 10_000;

/// What a set of completed orders adds up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SalesFigures {
    /// Sum of `max(total - refunded, 0)`.
    pub revenue: Cents,
    pub orders: u64,
    /// `revenue / orders` rounded half away from zero to the cent; none without orders.
    pub average_order_value: Option<Cents>,
    /// Distinct clients who bought; guest sales add orders and revenue but no client.
    pub clients: u64,
}

impl SalesFigures {
    fn new(revenue_cents: i64, orders: u64, clients: u64) -> SalesFigures {
        let average = (orders > 0).then(|| {
            Cents(div_round_half_away(i128::from(revenue_cents), i128::from(orders)) as i64)
        });
        SalesFigures {
            revenue: Cents(revenue_cents),
            orders,
            average_order_value: average,
            clients,
        }
    }
}

/// Sales per period of a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SalesOverTime {
    pub range: DateRange,
    pub granularity: Granularity,
    /// Every period of the range in order, empty ones included.
    pub periods: Vec<PeriodSales>,
    /// The whole range; its `clients` counts each client once across periods.
    pub total: SalesFigures,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodSales {
    /// `2024-03-01`, `2025-W01` or `2024-03`.
    pub period: String,
    /// The period's days inside the range.
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(flatten)]
    pub figures: SalesFigures,
}

/// Revenue, orders, average order value and buying clients per day, ISO week or month of
/// `range`, for `members` (`None`: every sale, guests included).
///
/// # Errors
/// Only an internal fault running the query.
pub async fn sales_over_time(
    facts: &ReportFacts,
    range: DateRange,
    granularity: Granularity,
    members: Option<&RoaringBitmap>,
) -> Result<SalesOverTime> {
    let mask = facts.mask(members);
    let periods = periods(range, granularity);
    let table = Arc::new(period_table(range, &periods));
    let period = label("period", table, column::DAY).alias("period");
    let frame = facts
        .scan(&facts.orders, range, mask.as_ref())?
        .aggregate(vec![period], grouped_figures())?;
    let groups = Groups::read(&collect(frame).await?)?;
    let mut per_period = vec![SalesFigures::new(0, 0, 0); periods.len()];
    for (number, figures) in groups.figures {
        // Every day of the range has a period, so no group is unlabelled.
        debug_assert!(number.is_some(), "an order outside the range's periods");
        if let Some(number) = number {
            per_period[number as usize] = figures;
        }
    }
    let periods = periods
        .into_iter()
        .zip(per_period)
        .map(|(p, figures)| PeriodSales {
            period: p.label,
            from: p.from,
            to: p.to,
            figures,
        })
        .collect();
    Ok(SalesOverTime {
        range,
        granularity,
        periods,
        total: groups.total,
    })
}

/// `revenue, orders, client_set` aggregates over the orders view, for grouped figures
/// whose total is read from the same groups.
fn grouped_figures() -> Vec<Expr> {
    vec![
        sum(col(column::REVENUE_CENTS)).alias("revenue"),
        count_all().alias("orders"),
        client_set(col(column::CLIENT_POS)).alias("clients"),
    ]
}

/// The figures of each group of a `label, revenue, orders, client_set` result, keyed by
/// label (null: no label), and the total over all groups: sums of revenue and orders, and
/// the union of the groups' clients, so a client in several groups counts once.
struct Groups {
    figures: Vec<(Option<u32>, SalesFigures)>,
    total: SalesFigures,
}

impl Groups {
    fn read(batches: &[RecordBatch]) -> Result<Groups> {
        let mut figures = Vec::new();
        let (mut revenue, mut orders, mut clients) = (0i64, 0u64, RoaringBitmap::new());
        for (batch, row) in each_row(batches) {
            let labels: &UInt32Array = batch.column(0).as_primitive();
            let sum = int64_or_zero(batch.column(1).as_primitive(), row);
            let count = int64_or_zero(batch.column(2).as_primitive(), row) as u64;
            let set = read_client_set(batch.column(3).as_binary::<i32>().value(row))?;
            let key = labels.is_valid(row).then(|| labels.value(row));
            figures.push((key, SalesFigures::new(sum, count, set.len())));
            (revenue, orders) = (revenue + sum, orders + count);
            clients |= set;
        }
        let total = SalesFigures::new(revenue, orders, clients.len());
        Ok(Groups { figures, total })
    }
}

/// Sales of the whole range for `mask`'s clients, or every sale without a mask.
///
/// # Errors
/// Only an internal fault running the query.
pub(super) async fn totals(
    facts: &ReportFacts,
    range: DateRange,
    mask: Option<&Arc<MemberMask>>,
) -> Result<SalesFigures> {
    let batch = whole_range(facts, range, mask, figures()).await?;
    Ok(batch.map_or_else(SalesFigures::default, |b| read_figures(&b, 0, 0)))
}

/// One figure asked of [`range_sums`]: revenue and completed orders of `mask`'s clients
/// (every sale when `None`) over the days of `range`.
#[derive(Debug, Clone)]
pub(super) struct RangeAsk {
    pub mask: Option<Arc<MemberMask>>,
    pub range: DateRange,
}

/// Revenue and completed orders of every ask, in the order asked: [`totals`] without
/// distinct clients, which widgets never show, for many scopes and ranges at once.
///
/// Unfiltered asks are answered by the daily running totals. The others are grouped by
/// scope (masks are shared by pointer): each scope is one pass over the days its asks
/// cover, testing its mask per row and summing per day into running totals of its own
/// ([`daily_sums`]), and the scopes' passes run together. A range's figure is the sum of
/// its days, so ranges may overlap, and may together span more days than one range may
/// hold.
///
/// # Errors
/// Only an internal fault running the query.
pub(super) async fn range_sums(
    facts: &ReportFacts,
    asks: &[RangeAsk],
) -> Result<Vec<(Cents, u64)>> {
    let mut sums = vec![(Cents::ZERO, 0); asks.len()];
    // Each scope to scan once, with the asks it answers.
    let mut scopes: Vec<(&Arc<MemberMask>, Vec<usize>)> = Vec::new();
    for (i, ask) in asks.iter().enumerate() {
        let Some(mask) = &ask.mask else {
            sums[i] = facts.daily.between(ask.range);
            continue;
        };
        match scopes
            .iter_mut()
            .find(|(scope, _)| Arc::ptr_eq(scope, mask))
        {
            Some((_, answered)) => answered.push(i),
            None => scopes.push((mask, vec![i])),
        }
    }
    let scans = scopes.iter().map(|(mask, answered)| {
        let days = disjoint(answered.iter().map(|i| asks[*i].range));
        daily_sums(facts, mask, days)
    });
    let by_day = try_join_all(scans).await?;
    for ((_, answered), daily) in scopes.iter().zip(&by_day) {
        for i in answered {
            sums[*i] = daily.between(asks[*i].range);
        }
    }
    Ok(sums)
}

/// Rows one task of [`daily_sums`] sums: enough to outweigh handing it to a thread, few
/// enough that a year of orders at scale is shared among the cores.
const DAILY_CHUNK_ROWS: usize = 1 << 20;

/// Revenue and orders of `mask`'s clients per day, over the days of `ranges` (disjoint, in
/// date order).
///
/// The rows are cut into chunks summed on blocking threads, in parallel and off the async
/// workers; chunks are in day order, so their rows join into running totals as they come
/// (a day cut between two chunks adds up in [`DailyTotals::from_sorted`]).
async fn daily_sums(
    facts: &ReportFacts,
    mask: &Arc<MemberMask>,
    ranges: Vec<DateRange>,
) -> Result<DailyTotals> {
    let slices: Vec<RecordBatch> = ranges.iter().map(|r| facts.orders.slice(*r)).collect();
    let pieces = slices
        .iter()
        .flat_map(|slice| chunks(slice, DAILY_CHUNK_ROWS));
    let tasks = pieces.map(|chunk| {
        let mask = Arc::clone(mask);
        tokio::task::spawn_blocking(move || member_days(&chunk, &mask))
    });
    let by_chunk = try_join_all(tasks).await.map_err(ReportError::task)?;
    Ok(DailyTotals::from_sorted(by_chunk.into_iter().flatten()))
}

/// The days of `ranges` as ranges that neither overlap nor touch, in date order.
fn disjoint(ranges: impl Iterator<Item = DateRange>) -> Vec<DateRange> {
    let mut sorted: Vec<DateRange> = ranges.collect();
    sorted.sort_by_key(DateRange::from);
    let mut merged: Vec<DateRange> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match merged.last_mut() {
            Some(last) if range.from() <= last.to().succ_opt().unwrap_or(NaiveDate::MAX) => {
                *last = last.hull(range);
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// The one row of `aggregates` over the orders of `range`.
async fn whole_range(
    facts: &ReportFacts,
    range: DateRange,
    mask: Option<&Arc<MemberMask>>,
    aggregates: Vec<Expr>,
) -> Result<Option<RecordBatch>> {
    let frame = facts
        .scan(&facts.orders, range, mask)?
        .aggregate(vec![], aggregates)?;
    let batches = collect(frame).await?;
    Ok(batches.into_iter().find(|b| b.num_rows() == 1))
}

/// `revenue, orders, clients` aggregates over the orders view.
fn figures() -> Vec<Expr> {
    vec![
        sum(col(column::REVENUE_CENTS)).alias("revenue"),
        count_all().alias("orders"),
        distinct_clients(col(column::CLIENT_POS)).alias("clients"),
    ]
}

/// Reads `revenue, orders, clients` from columns `first..first + 3` of `row`.
fn read_figures(batch: &RecordBatch, first: usize, row: usize) -> SalesFigures {
    let revenue = int64_or_zero(batch.column(first).as_primitive(), row);
    let orders = int64_or_zero(batch.column(first + 1).as_primitive(), row);
    let clients = int64_or_zero(batch.column(first + 2).as_primitive(), row);
    SalesFigures::new(revenue, orders as u64, clients as u64)
}

/// A sum over no rows is null; it means zero.
fn int64_or_zero(array: &Int64Array, row: usize) -> i64 {
    if array.is_valid(row) {
        array.value(row)
    } else {
        0
    }
}

pub(super) fn check_top(top: usize) -> Result<()> {
    if (1..=TOP_MAX).contains(&top) {
        Ok(())
    } else {
        Err(ReportError::TopOutOfRange { top, max: TOP_MAX })
    }
}

/// What ranks products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductRanking {
    Revenue,
    Quantity,
}

/// The top products of a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductSales {
    pub range: DateRange,
    pub ranked_by: ProductRanking,
    pub products: Vec<RankedProduct>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RankedProduct {
    pub rank: usize,
    pub product_id: i64,
    /// None for a product that is no longer in the products table.
    pub sku: Option<String>,
    pub name: Option<String>,
    pub quantity: i64,
    /// Sum of the line totals. Refunds are recorded per order, not per line, so they are
    /// not taken off here; the order-level reports take them off.
    pub revenue: Cents,
    /// Distinct clients who bought it.
    pub clients: u64,
}

/// The `top` products of `range` by revenue or quantity, over lines of completed orders;
/// ties go to the lower product id.
///
/// # Errors
/// [`ReportError::TopOutOfRange`], or an internal fault running the query.
pub async fn sales_by_product(
    facts: &ReportFacts,
    range: DateRange,
    ranked_by: ProductRanking,
    top: usize,
    members: Option<&RoaringBitmap>,
) -> Result<ProductSales> {
    check_top(top)?;
    let mask = facts.mask(members);
    let measure = match ranked_by {
        ProductRanking::Revenue => "revenue",
        ProductRanking::Quantity => "quantity",
    };
    let aggregates = vec![
        sum(col(column::LINE_TOTAL_CENTS)).alias("revenue"),
        sum(col(column::QUANTITY)).alias("quantity"),
        distinct_clients(col(column::CLIENT_POS)).alias("clients"),
    ];
    let ranked = facts
        .scan(&facts.lines, range, mask.as_ref())?
        .aggregate(vec![col(column::PRODUCT_ID)], aggregates)?;
    let batches = top_rows(ranked, measure, column::PRODUCT_ID, top)?
        .collect()
        .await?;
    let products = each_row(&batches)
        .map(|(batch, row)| ranked_product(facts, batch, row))
        .enumerate()
        .map(|(i, product)| RankedProduct {
            rank: i + 1,
            ..product
        })
        .collect();
    Ok(ProductSales {
        range,
        ranked_by,
        products,
    })
}

fn ranked_product(facts: &ReportFacts, batch: &RecordBatch, row: usize) -> RankedProduct {
    let product_id = batch.column(0).as_primitive::<Int64Type>().value(row);
    let labels = facts.products.get(&product_id);
    RankedProduct {
        rank: 0,
        product_id,
        sku: labels.map(|(sku, _)| sku.clone()),
        name: labels.map(|(_, name)| name.clone()),
        revenue: Cents(int64_or_zero(batch.column(1).as_primitive(), row)),
        quantity: int64_or_zero(batch.column(2).as_primitive(), row),
        clients: int64_or_zero(batch.column(3).as_primitive(), row) as u64,
    }
}

/// Sorts by `measure` descending, then `key` ascending, and keeps `top` rows.
fn top_rows(frame: DataFrame, measure: &str, key: &str, top: usize) -> Result<DataFrame> {
    let order = vec![col(measure).sort(false, false), col(key).sort(true, false)];
    Ok(frame.sort(order)?.limit(0, Some(top))?)
}

fn each_row(batches: &[RecordBatch]) -> impl Iterator<Item = (&RecordBatch, usize)> {
    batches
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(move |row| (b, row)))
}

/// The top clients of a range, and what every sale in scope adds up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientSales {
    pub range: DateRange,
    pub clients: Vec<RankedClient>,
    /// Every sale in scope: all clients, not only the top ones, and guest sales when the
    /// report is unfiltered.
    pub total: SalesFigures,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RankedClient {
    pub rank: usize,
    pub client_id: i64,
    pub name: String,
    pub revenue: Cents,
    pub orders: u64,
    pub average_order_value: Option<Cents>,
}

/// The `top` clients of `range` by revenue; ties go to the lower client id. Guest sales
/// belong to no client and only count in `total`.
///
/// # Errors
/// [`ReportError::TopOutOfRange`], or an internal fault running the query.
pub async fn sales_by_client(
    facts: &ReportFacts,
    range: DateRange,
    top: usize,
    members: Option<&RoaringBitmap>,
) -> Result<ClientSales> {
    check_top(top)?;
    let mask = facts.mask(members);
    let aggregates = vec![
        sum(col(column::REVENUE_CENTS)).alias("revenue"),
        count_all().alias("orders"),
    ];
    let per_client = facts
        .scan(&facts.orders, range, mask.as_ref())?
        .filter(col(column::CLIENT_POS).is_not_null())?
        .aggregate(vec![col(column::CLIENT_POS)], aggregates)?;
    let ranked = top_rows(per_client, "revenue", column::CLIENT_POS, top)?;
    let (batches, total) = tokio::try_join!(collect(ranked), totals(facts, range, mask.as_ref()))?;
    let clients = each_row(&batches)
        .enumerate()
        .map(|(i, (batch, row))| ranked_client(facts, batch, row, i + 1))
        .collect();
    Ok(ClientSales {
        range,
        clients,
        total,
    })
}

fn ranked_client(
    facts: &ReportFacts,
    batch: &RecordBatch,
    row: usize,
    rank: usize,
) -> RankedClient {
    let position = batch.column(0).as_primitive::<UInt32Type>().value(row);
    let revenue = int64_or_zero(batch.column(1).as_primitive(), row);
    let orders = int64_or_zero(batch.column(2).as_primitive(), row) as u64;
    let figures = SalesFigures::new(revenue, orders, 1);
    RankedClient {
        rank,
        client_id: facts.snapshot.index.client_id(position),
        name: facts.snapshot.client_name(position).to_string(),
        revenue: figures.revenue,
        orders,
        average_order_value: figures.average_order_value,
    }
}

/// Sales per country of the buying client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountrySales {
    pub range: DateRange,
    pub countries: Vec<CountryFigures>,
    pub total: SalesFigures,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountryFigures {
    /// Upper-case code; none for clients without a country and for guest sales.
    pub country: Option<String>,
    #[serde(flatten)]
    pub figures: SalesFigures,
}

/// Sales of `range` per country of the client, by revenue descending, then country code;
/// the row without a country comes last among equals.
///
/// # Errors
/// Only an internal fault running the query.
pub async fn sales_by_country(
    facts: &ReportFacts,
    range: DateRange,
    members: Option<&RoaringBitmap>,
) -> Result<CountrySales> {
    let mask = facts.mask(members);
    let country = label(
        "country",
        facts.countries.of_position.clone(),
        column::CLIENT_POS,
    );
    let per_country = facts
        .scan(&facts.orders, range, mask.as_ref())?
        .aggregate(vec![country.alias("country")], grouped_figures())?;
    let groups = Groups::read(&collect(per_country).await?)?;
    let country = |number: Option<u32>| number.map(|n| facts.countries.codes[n as usize].clone());
    let mut countries: Vec<CountryFigures> = groups
        .figures
        .into_iter()
        .map(|(number, figures)| CountryFigures {
            country: country(number),
            figures,
        })
        .collect();
    countries.sort_by(|a, b| {
        let none_last = |c: &CountryFigures| (c.country.is_none(), c.country.clone());
        (b.figures.revenue, none_last(a)).cmp(&(a.figures.revenue, none_last(b)))
    });
    Ok(CountrySales {
        range,
        countries,
        total: groups.total,
    })
}
