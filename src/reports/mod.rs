//! Reports over a tenant's sales and balances, filtered by segments, and dashboard widgets.
//!
//! Every report reads [`ReportFacts`], views of one snapshot built once when the snapshot
//! is published, and takes the clients to count as an optional bitmap of positions
//! (`None`: unfiltered, guest sales included). [`resolve`] turns a [`SegmentFilter`] into
//! that bitmap. Dates are local calendar dates of the tenant's zone, both ends included;
//! money is exact integer cents.
//!
//! | report | function | CSV |
//! |---|---|---|
//! | sales over time (day, ISO week, month) | [`sales_over_time`] | [`ToCsv`] |
//! | top products by revenue or quantity | [`sales_by_product`] | [`ToCsv`] |
//! | top clients by revenue | [`sales_by_client`] | [`ToCsv`] |
//! | sales by country | [`sales_by_country`] | [`ToCsv`] |
//! | outstanding balances with ageing | [`balances`] | [`ToCsv`] |
//! | dashboard widget values | [`widget_values`], stored by [`store`] | |
//!
//! # How a segment filter enters the query
//!
//! A report's filter is a set operation on memberships followed by one bit test per fact
//! row inside the DataFusion plan; no per-row hash lookup, no join with a member table.
//!
//! 1. **Resolve.** [`resolve`] takes the union of the included segments' bitmaps, cuts it
//!    to the snapshot's universe (live clients), and subtracts the union of the excluded
//!    ones. These are roaring operations over whole containers; a client in two included
//!    segments is one bit, so it counts once. No filter at all resolves to `None`.
//! 2. **Views keyed by position.** [`ReportFacts`] holds the completed orders (and their
//!    lines) with the client already translated to its dense `client_pos: UInt32` (null for
//!    a guest), the order's local `day: Date32` and its `revenue_cents`, sorted by day.
//!    Translating ids to positions happens once per snapshot, not per query.
//! 3. **Date range as a slice.** Because the views are sorted by day, a report's range is
//!    one contiguous slice found by binary search. The slice, zero-copy, is the table the
//!    query reads (a `MemTable` of a few partitions), so rows outside the range are never
//!    scanned.
//! 4. **Membership in the plan.** The resolved bitmap becomes a [`MemberMask`], a dense bit
//!    set over positions (128 KiB at 1M clients, cache-resident), and the plan gets a
//!    `FilterExec` on the scalar function `in_members(client_pos)` closed over that mask.
//!    Per batch it builds the boolean selection with one shift-and-mask per row, ANDs it
//!    with the validity of `client_pos` (a guest is never a member) and hands it to the
//!    filter kernel. Aggregations (sums, counts, distinct clients) run after it as usual.
//! 5. **Grouping on integers.** Periods and countries are looked up inside the plan too:
//!    `period(day)` and `country(client_pos)` map the key through a small table to a label
//!    number, so grouping hashes integers; labels are attached after aggregation.
//! 6. **Distinct clients as bitmaps.** "Buying clients" is the aggregate
//!    `client_set(client_pos)`: one roaring bitmap per group, merged across partitions
//!    with OR. A period's count is its bitmap's length and the report's total is the union
//!    of the periods' bitmaps, so a client counts once per period and once in the total,
//!    all from a single scan.
//!
//! Unfiltered reports skip step 4 and so include guest sales and sales of deleted
//! clients; a filter never holds either. Unfiltered widgets need no scan at all: the views
//! keep running totals of revenue and orders per day, so any range is two subtractions.
//! Widgets on the same segment share one pass over the days any of them covers, summed per
//! day; each widget's periods are sums of those days, and the segments' passes run together.
//! That pass is a plain loop rather than a plan (`views::member_days`): it needs only a bit
//! test and two additions per order, which a plan's filter, copy and hash aggregation by day
//! would cost several times over.
//!
//! The plan of a filtered monthly report, as DataFusion shows it (two partitions):
//!
//! ```text
//! AggregateExec: mode=FinalPartitioned, gby=[period], aggr=[revenue, orders, clients]
//!   RepartitionExec: partitioning=Hash([period], 2)
//!     AggregateExec: mode=Partial, gby=[period(day) as period], aggr=[sum, count, client_set]
//!       FilterExec: in_members(client_pos)
//!         DataSourceExec: partitions=2 (the day-range slice of the orders view)
//! ```
//!
//! Invariant: every function here reads one snapshot's views and bitmaps of positions of
//! that same snapshot; the caller resolves memberships against the snapshot it passes.

mod balances;
mod calendar;
mod client_set;
mod csv;
mod distinct;
mod error;
mod filter;
mod label;
mod sales;
pub mod store;
mod views;
mod widgets;

#[cfg(test)]
mod tests;

pub use balances::{Ageing, Balances, ClientBalance, balances};
pub use calendar::{DateRange, Granularity, Period, periods};
pub use csv::ToCsv;
pub use error::{ReportError, Result};
pub use filter::{MemberMask, SegmentFilter, in_members, resolve};
pub use sales::{
    ClientSales, CountryFigures, CountrySales, PeriodSales, ProductRanking, ProductSales,
    RankedClient, RankedProduct, SalesFigures, SalesOverTime, TOP_MAX, sales_by_client,
    sales_by_country, sales_by_product, sales_over_time,
};
pub use views::{ReportFacts, column};
pub use widgets::{Amount, Metric, Widget, WidgetPeriod, WidgetValue, widget_values};
