//! Every report on a small Berlin tenant whose numbers are worked out by hand below, plus
//! the filter algebra, the calendar, CSV text and the widget store.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use roaring::RoaringBitmap;

use super::*;
use crate::facts::OrderStatus;
use crate::facts::builder::{ClientRow, FactsBuilder, InvoiceRow, OrderRow, ProductRow, micros};
use crate::money::Cents;
use crate::snapshot::Snapshot;
use crate::time::parse_zone;

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

fn range(from: &str, to: &str) -> DateRange {
    DateRange::new(date(from), date(to)).unwrap()
}

async fn report_facts(facts: FactsBuilder, tz: &str) -> ReportFacts {
    let facts = facts.build().expect("test facts");
    let snapshot = Snapshot::build(facts, parse_zone(tz).unwrap())
        .await
        .expect("snapshot");
    ReportFacts::build(snapshot).expect("report views")
}

fn order(order_id: i64, client_id: Option<i64>, at: &str, cents: i64) -> OrderRow {
    OrderRow {
        client_id,
        ..OrderRow::completed(order_id, 0, at, cents)
    }
}

fn client(client_id: i64, name: &str, country: Option<&str>) -> ClientRow {
    ClientRow {
        name: name.into(),
        country: country.map(Into::into),
        ..ClientRow::new(client_id)
    }
}

fn invoice(
    id: i64,
    client_id: i64,
    issued: &str,
    due: Option<&str>,
    total: i64,
    paid: i64,
) -> InvoiceRow {
    InvoiceRow {
        invoice_id: id,
        client_id,
        issued_at: micros(issued),
        due_at: due.map(date),
        total_cents: total,
        paid_cents: paid,
        status: "open".into(),
    }
}

fn product(product_id: i64, name: &str) -> ProductRow {
    ProductRow {
        product_id,
        sku: format!("SKU-{product_id}"),
        name: name.into(),
        retail_price_cents: 1_000,
        ..ProductRow::default()
    }
}

/// Zone Europe/Berlin (UTC+1, UTC+2 from 2024-03-31 01:00Z). Local dates in brackets.
///
/// Clients: 1 Alpha DE, 2 Beta "de", 3 Gamma FR, 4 Delta (no country), 5 Echo US
/// (deleted), 6 Foxtrot " us " (no orders).
///
/// Completed orders, revenue = max(total - refunded, 0):
/// o1 c1 2024-02-29T22:30Z [Feb 29] 100.00 | o2 c2 2024-02-29T23:30Z [Mar 1] 50.00
/// o3 c1 [Mar 10] 30.00 - 10.00 = 20.00   | o4 c3 [Mar 15] 40.00 - 55.00 → 0.00
/// o5 guest [Mar 20] 25.00                | o6 c5 (deleted) [Mar 5] 60.00
/// o7 c2 2024-03-31T22:30Z [Apr 1] 70.00  | o10 c4 [Mar 25] 15.55 | o11 c2 [Mar 25] 10.01
/// Not counted: o8 c1 cancelled 500.00, o9 c3 open 300.00.
///
/// Lines: o1 P10 2 × 60.00, P20 1 × 40.00; o2 P20 5 × 50.00; o5 P10 1 × 25.00;
/// o7 P99 (not in the products table) 7 × 70.00; o8 (cancelled) P30 100 × 500.00.
///
/// Invoices (as of 2024-06-15T22:30Z, local 2024-06-16), outstanding = total - paid:
/// i1 c1 due Jun 16 100.00 (0 days: not yet due) | i2 c1 due Jun 15 50 - 20 = 30.00 (1)
/// i3 c2 due May 17 200.00 (30)  | i4 c2 due May 16 80.00 (31)
/// i5 c3 due Apr 17 40.00 (60)   | i6 c3 due Apr 16 10.00 (61)
/// i7 c4 due Mar 18 5.00 (90)    | i8 c4 due Mar 17 7.00 (91)
/// i9 c5 no due date, issued Jan 10: due Jan 10, 12.00 (158)
/// i12 c3 due Jun 20, credit 10 - 25 = -15.00 (not yet due)
/// i14 c6 no due date, issued 2024-06-15T22:30Z [Jun 16]: 1.00 (not yet due)
/// Not counted: i10 void 999.00, i11 paid in full, i13 issued Jun 20 (after as-of).
fn shop() -> FactsBuilder {
    let mut facts = FactsBuilder::new()
        .client(client(1, "Alpha", Some("DE")))
        .client(client(2, "Beta", Some("de")))
        .client(client(3, "Gamma", Some("FR")))
        .client(client(4, "Delta", None))
        .client(ClientRow {
            deleted_at: Some(micros("2024-04-10T00:00:00Z")),
            ..client(5, "Echo", Some("US"))
        })
        .client(client(6, "Foxtrot", Some(" us ")))
        .order(order(1, Some(1), "2024-02-29T22:30:00Z", 10_000))
        .order(order(2, Some(2), "2024-02-29T23:30:00Z", 5_000))
        .order(OrderRow {
            refunded_cents: 1_000,
            ..order(3, Some(1), "2024-03-10T10:00:00Z", 3_000)
        })
        .order(OrderRow {
            refunded_cents: 5_500,
            ..order(4, Some(3), "2024-03-15T12:00:00Z", 4_000)
        })
        .order(order(5, None, "2024-03-20T09:00:00Z", 2_500))
        .order(order(6, Some(5), "2024-03-05T09:00:00Z", 6_000))
        .order(order(7, Some(2), "2024-03-31T22:30:00Z", 7_000))
        .order(OrderRow {
            status: OrderStatus::Cancelled,
            ..order(8, Some(1), "2024-03-12T10:00:00Z", 50_000)
        })
        .order(OrderRow {
            status: OrderStatus::Open,
            ..order(9, Some(3), "2024-03-12T10:00:00Z", 30_000)
        })
        .order(order(10, Some(4), "2024-03-25T10:00:00Z", 1_555))
        .order(order(11, Some(2), "2024-03-25T11:00:00Z", 1_001))
        .line(1, 10, 2, 6_000)
        .line(1, 20, 1, 4_000)
        .line(2, 20, 5, 5_000)
        .line(5, 10, 1, 2_500)
        .line(7, 99, 7, 7_000)
        .line(8, 30, 100, 50_000)
        .product(product(10, "Widget"))
        .product(product(20, "Gadget"))
        .product(product(30, "Gizmo"));
    let issued = "2024-05-01T10:00:00Z";
    let invoices = [
        invoice(1, 1, issued, Some("2024-06-16"), 10_000, 0),
        invoice(2, 1, issued, Some("2024-06-15"), 5_000, 2_000),
        invoice(3, 2, issued, Some("2024-05-17"), 20_000, 0),
        invoice(4, 2, issued, Some("2024-05-16"), 8_000, 0),
        invoice(5, 3, issued, Some("2024-04-17"), 4_000, 0),
        invoice(6, 3, issued, Some("2024-04-16"), 1_000, 0),
        invoice(7, 4, issued, Some("2024-03-18"), 500, 0),
        invoice(8, 4, issued, Some("2024-03-17"), 700, 0),
        invoice(9, 5, "2024-01-10T12:00:00Z", None, 1_200, 0),
        InvoiceRow {
            status: "void".into(),
            ..invoice(10, 1, issued, Some("2024-01-01"), 99_900, 0)
        },
        invoice(11, 2, issued, Some("2024-01-01"), 30_000, 30_000),
        invoice(12, 3, issued, Some("2024-06-20"), 1_000, 2_500),
        invoice(13, 1, "2024-06-20T10:00:00Z", Some("2024-06-20"), 50_000, 0),
        invoice(14, 6, "2024-06-15T22:30:00Z", None, 100, 0),
    ];
    for row in invoices {
        facts = facts.invoice(row);
    }
    facts
}

/// Segments of the shop, as positions: 1 = {1, 2}, 2 = {2, 3}, 3 = {3}, 4 = {4, 5} (5 is
/// deleted; a real membership would not hold it, but a filter must cut it anyway).
fn segments(facts: &ReportFacts) -> HashMap<i64, Arc<RoaringBitmap>> {
    let index = &facts.snapshot().index;
    let of = |ids: &[i64]| Arc::new(index.positions_of(ids).0);
    HashMap::from([
        (1, of(&[1, 2])),
        (2, of(&[2, 3])),
        (3, of(&[3])),
        (4, of(&[4, 5])),
    ])
}

fn filter_of(facts: &ReportFacts, include: &[i64], exclude: &[i64]) -> Option<RoaringBitmap> {
    let lookup = segments(facts);
    let filter = SegmentFilter {
        include: include.to_vec(),
        exclude: exclude.to_vec(),
    };
    resolve(&filter, &facts.snapshot().universe, |id| {
        lookup.get(&id).cloned()
    })
    .unwrap()
}

/// `(revenue cents, orders, average order value cents, clients)`.
type Figures = (i64, u64, Option<i64>, u64);

fn figures_of(f: &SalesFigures) -> Figures {
    (
        f.revenue.0,
        f.orders,
        f.average_order_value.map(|c| c.0),
        f.clients,
    )
}

#[track_caller]
fn check_over_time(report: &SalesOverTime, periods: &[(&str, Figures)], total: Figures) {
    let got: Vec<(&str, Figures)> = report
        .periods
        .iter()
        .map(|p| (p.period.as_str(), figures_of(&p.figures)))
        .collect();
    assert_eq!(got, periods);
    assert_eq!(figures_of(&report.total), total, "total");
}

async fn monthly(facts: &ReportFacts, members: Option<&RoaringBitmap>) -> SalesOverTime {
    let months = range("2024-02-01", "2024-04-30");
    sales_over_time(facts, months, Granularity::Month, members)
        .await
        .unwrap()
}

#[tokio::test]
async fn monthly_sales_unfiltered_count_guests_and_deleted_clients() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    // Mar: 50.00 + 20.00 + 0.00 + 25.00 (guest) + 60.00 (deleted c5) + 15.55 + 10.01 =
    // 180.56 over 7 orders, 25.794 → 25.79; clients 2, 1, 3, 5, 4. Total 350.56 / 9.
    check_over_time(
        &monthly(&facts, None).await,
        &[
            ("2024-02", (10_000, 1, Some(10_000), 1)),
            ("2024-03", (18_056, 7, Some(2_579), 5)),
            ("2024-04", (7_000, 1, Some(7_000), 1)),
        ],
        (35_056, 9, Some(3_895), 5),
    );
}

#[tokio::test]
async fn a_client_in_two_selected_segments_counts_once() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    let members = filter_of(&facts, &[1, 2], &[]);
    // {1, 2} ∪ {2, 3} = {1, 2, 3}. Mar: o2 50.00 + o3 20.00 + o4 0.00 + o11 10.01 = 80.01
    // over 4 orders (20.0025 → 20.00). Total 250.01 / 6 = 41.668 → 41.67.
    check_over_time(
        &monthly(&facts, members.as_ref()).await,
        &[
            ("2024-02", (10_000, 1, Some(10_000), 1)),
            ("2024-03", (8_001, 4, Some(2_000), 3)),
            ("2024-04", (7_000, 1, Some(7_000), 1)),
        ],
        (25_001, 6, Some(4_167), 3),
    );
}

#[tokio::test]
async fn excluded_segments_are_taken_out() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    // {1, 2, 3} - {3} = {1, 2}: March loses o4 (0.00 but one order). 80.01 / 3 = 26.67.
    let members = filter_of(&facts, &[1, 2], &[3]);
    check_over_time(
        &monthly(&facts, members.as_ref()).await,
        &[
            ("2024-02", (10_000, 1, Some(10_000), 1)),
            ("2024-03", (8_001, 3, Some(2_667), 2)),
            ("2024-04", (7_000, 1, Some(7_000), 1)),
        ],
        (25_001, 5, Some(5_000), 2),
    );
    // Only exclusions: live clients {1, 2, 3, 4, 6} - {3}; no guest, no deleted client.
    // March: 50.00 + 20.00 + 15.55 + 10.01 = 95.56 / 4 = 23.89.
    let members = filter_of(&facts, &[], &[3]);
    check_over_time(
        &monthly(&facts, members.as_ref()).await,
        &[
            ("2024-02", (10_000, 1, Some(10_000), 1)),
            ("2024-03", (9_556, 4, Some(2_389), 3)),
            ("2024-04", (7_000, 1, Some(7_000), 1)),
        ],
        (26_556, 6, Some(4_426), 3),
    );
}

#[tokio::test]
async fn a_filter_never_holds_deleted_clients() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    // Segment 4 names clients 4 and 5; 5 is deleted, so only o10 (15.55) counts.
    let members = filter_of(&facts, &[4], &[]);
    check_over_time(
        &monthly(&facts, members.as_ref()).await,
        &[
            ("2024-02", (0, 0, None, 0)),
            ("2024-03", (1_555, 1, Some(1_555), 1)),
            ("2024-04", (0, 0, None, 0)),
        ],
        (1_555, 1, Some(1_555), 1),
    );
}

#[tokio::test]
async fn days_follow_the_tenant_zone_across_midnight_and_dst() {
    let berlin = report_facts(shop(), "Europe/Berlin").await;
    let utc = report_facts(shop(), "UTC").await;
    let days = |from, to| range(from, to);
    // o1 (22:30Z) is 29 Feb in Berlin, o2 (23:30Z) is already 1 March there.
    let report = sales_over_time(
        &berlin,
        days("2024-02-29", "2024-03-01"),
        Granularity::Day,
        None,
    );
    check_over_time(
        &report.await.unwrap(),
        &[
            ("2024-02-29", (10_000, 1, Some(10_000), 1)),
            ("2024-03-01", (5_000, 1, Some(5_000), 1)),
        ],
        (15_000, 2, Some(7_500), 2),
    );
    let report = sales_over_time(
        &utc,
        days("2024-02-29", "2024-03-01"),
        Granularity::Day,
        None,
    );
    check_over_time(
        &report.await.unwrap(),
        &[
            ("2024-02-29", (15_000, 2, Some(7_500), 2)),
            ("2024-03-01", (0, 0, None, 0)),
        ],
        (15_000, 2, Some(7_500), 2),
    );
    // o7 at 2024-03-31T22:30Z: summer time has begun (UTC+2), so it is 1 April, 00:30.
    let report = sales_over_time(
        &berlin,
        days("2024-03-31", "2024-04-01"),
        Granularity::Day,
        None,
    );
    check_over_time(
        &report.await.unwrap(),
        &[
            ("2024-03-31", (0, 0, None, 0)),
            ("2024-04-01", (7_000, 1, Some(7_000), 1)),
        ],
        (7_000, 1, Some(7_000), 1),
    );
}

#[tokio::test]
async fn iso_weeks_cross_the_year_boundary() {
    // 2024-12-29 is a Sunday of 2024-W52; 2024-12-30 starts 2025-W01, which runs to
    // 2025-01-05; 2025-01-06 starts 2025-W02.
    let facts = FactsBuilder::new()
        .client(client(1, "One", None))
        .order(order(1, Some(1), "2024-12-29T12:00:00Z", 1_000))
        .order(order(2, Some(1), "2024-12-30T12:00:00Z", 2_000))
        .order(order(3, None, "2025-01-05T12:00:00Z", 3_000))
        .order(order(4, Some(1), "2025-01-06T12:00:00Z", 4_000));
    let facts = report_facts(facts, "UTC").await;
    let weeks = range("2024-12-28", "2025-01-06");
    let report = sales_over_time(&facts, weeks, Granularity::Week, None)
        .await
        .unwrap();
    check_over_time(
        &report,
        &[
            ("2024-W52", (1_000, 1, Some(1_000), 1)),
            ("2025-W01", (5_000, 2, Some(2_500), 1)),
            ("2025-W02", (4_000, 1, Some(4_000), 1)),
        ],
        (10_000, 4, Some(2_500), 1),
    );
    let bounds: Vec<(NaiveDate, NaiveDate)> =
        report.periods.iter().map(|p| (p.from, p.to)).collect();
    assert_eq!(
        bounds,
        [
            (date("2024-12-28"), date("2024-12-29")),
            (date("2024-12-30"), date("2025-01-05")),
            (date("2025-01-06"), date("2025-01-06")),
        ]
    );
}

#[track_caller]
fn check_products(report: &ProductSales, expected: &[(i64, Option<&str>, i64, i64, u64)]) {
    let got: Vec<(i64, Option<&str>, i64, i64, u64)> = report
        .products
        .iter()
        .map(|p| {
            (
                p.product_id,
                p.name.as_deref(),
                p.quantity,
                p.revenue.0,
                p.clients,
            )
        })
        .collect();
    assert_eq!(got, expected);
    let ranks: Vec<usize> = report.products.iter().map(|p| p.rank).collect();
    assert_eq!(ranks, (1..=expected.len()).collect::<Vec<_>>());
}

#[tokio::test]
async fn top_products_by_revenue_and_quantity() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    let months = range("2024-02-01", "2024-04-30");
    let top = |ranking, n, members| sales_by_product(&facts, months, ranking, n, members);
    // P20: 40.00 + 50.00, qty 6, clients 1 and 2. P10: 60.00 + 25.00 (guest), qty 3,
    // client 1. P99: 70.00, qty 7, no catalog entry. P30 sold only in a cancelled order.
    let all = top(ProductRanking::Revenue, 10, None).await.unwrap();
    check_products(
        &all,
        &[
            (20, Some("Gadget"), 6, 9_000, 2),
            (10, Some("Widget"), 3, 8_500, 1),
            (99, None, 7, 7_000, 1),
        ],
    );
    assert_eq!(all.products[0].sku.as_deref(), Some("SKU-20"));
    let by_quantity = top(ProductRanking::Quantity, 2, None).await.unwrap();
    check_products(
        &by_quantity,
        &[(99, None, 7, 7_000, 1), (20, Some("Gadget"), 6, 9_000, 2)],
    );
    // Segments 1 and 2 ({1, 2, 3}) drop the guest's P10 line.
    let members = filter_of(&facts, &[1, 2], &[]);
    let filtered = top(ProductRanking::Revenue, 10, members.as_ref())
        .await
        .unwrap();
    check_products(
        &filtered,
        &[
            (20, Some("Gadget"), 6, 9_000, 2),
            (99, None, 7, 7_000, 1),
            (10, Some("Widget"), 2, 6_000, 1),
        ],
    );
}

/// `(rank, client id, name, revenue cents, orders, average order value cents)`.
type ClientLine<'a> = (usize, i64, &'a str, i64, u64, Option<i64>);

fn client_line(c: &RankedClient) -> ClientLine<'_> {
    let aov = c.average_order_value.map(|a| a.0);
    (c.rank, c.client_id, &c.name, c.revenue.0, c.orders, aov)
}

#[tokio::test]
async fn top_clients_rank_by_revenue_then_lower_id() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    let months = range("2024-02-01", "2024-04-30");
    // c2: 50.00 + 70.00 + 10.01 = 130.01 / 3 = 43.34; c1: 100.00 + 20.00; c5 (deleted)
    // 60.00; c4 15.55; c3 0.00. The guest's 25.00 is in the total only.
    let report = sales_by_client(&facts, months, 3, None).await.unwrap();
    let rows: Vec<ClientLine> = report.clients.iter().map(client_line).collect();
    assert_eq!(
        rows,
        [
            (1, 2, "Beta", 13_001, 3, Some(4_334)),
            (2, 1, "Alpha", 12_000, 2, Some(6_000)),
            (3, 5, "Echo", 6_000, 1, Some(6_000)),
        ]
    );
    assert_eq!(figures_of(&report.total), (35_056, 9, Some(3_895), 5));
    let members = filter_of(&facts, &[1, 2], &[]);
    let filtered = sales_by_client(&facts, months, 10, members.as_ref())
        .await
        .unwrap();
    let ids: Vec<i64> = filtered.clients.iter().map(|c| c.client_id).collect();
    assert_eq!(ids, [2, 1, 3]);
    assert_eq!(figures_of(&filtered.total), (25_001, 6, Some(4_167), 3));

    // Equal revenue: the lower client id ranks first.
    let tied = FactsBuilder::new()
        .client(client(8, "Late", None))
        .client(client(7, "Early", None))
        .order(order(1, Some(8), "2024-01-02T10:00:00Z", 1_000))
        .order(order(2, Some(7), "2024-01-03T10:00:00Z", 1_000));
    let tied = report_facts(tied, "UTC").await;
    let report = sales_by_client(&tied, range("2024-01-01", "2024-01-31"), 2, None);
    let ids: Vec<i64> = report
        .await
        .unwrap()
        .clients
        .iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(ids, [7, 8]);
}

#[tokio::test]
async fn sales_by_country_of_the_client() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    let months = range("2024-02-01", "2024-04-30");
    // DE: c1 120.00 (2 orders) + c2 "de" 130.01 (3) = 250.01 / 5 = 50.00, 2 clients.
    // US: c5 60.00. None: c4 15.55 + guest 25.00 = 40.55 / 2 = 20.275 → 20.28, 1 client.
    // FR: c3 0.00 in 1 order.
    let report = sales_by_country(&facts, months, None).await.unwrap();
    let rows: Vec<(Option<&str>, Figures)> = report
        .countries
        .iter()
        .map(|c| (c.country.as_deref(), figures_of(&c.figures)))
        .collect();
    assert_eq!(
        rows,
        [
            (Some("DE"), (25_001, 5, Some(5_000), 2)),
            (Some("US"), (6_000, 1, Some(6_000), 1)),
            (None, (4_055, 2, Some(2_028), 1)),
            (Some("FR"), (0, 1, Some(0), 1)),
        ]
    );
    assert_eq!(figures_of(&report.total), (35_056, 9, Some(3_895), 5));
    let members = filter_of(&facts, &[2], &[]);
    let report = sales_by_country(&facts, months, members.as_ref())
        .await
        .unwrap();
    let rows: Vec<(Option<&str>, i64)> = report
        .countries
        .iter()
        .map(|c| (c.country.as_deref(), c.figures.revenue.0))
        .collect();
    assert_eq!(rows, [(Some("DE"), 13_001), (Some("FR"), 0)]);
}

/// `(client id, [not yet due, 1-30, 31-60, 61-90, over 90], total, invoices)`, cents.
type AgeingRow = (i64, [i64; 5], i64, u64);

fn ageing_of(client_id: i64, a: &Ageing) -> AgeingRow {
    let buckets = [
        a.not_yet_due,
        a.days_1_30,
        a.days_31_60,
        a.days_61_90,
        a.over_90_days,
    ];
    (client_id, buckets.map(|c| c.0), a.total.0, a.invoices)
}

#[tokio::test]
async fn balances_age_by_days_past_due_in_the_tenant_zone() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    // 22:30Z on 15 June is 00:30 on 16 June in Berlin: that is the as-of date.
    let as_of = utc("2024-06-15T22:30:00Z");
    let report = balances(&facts, as_of, None, None).await.unwrap();
    assert_eq!(report.as_of, date("2024-06-16"));
    let rows: Vec<AgeingRow> = report
        .clients
        .iter()
        .map(|c| ageing_of(c.client_id, &c.ageing))
        .collect();
    assert_eq!(
        rows,
        [
            (2, [0, 20_000, 8_000, 0, 0], 28_000, 2),
            (1, [10_000, 3_000, 0, 0, 0], 13_000, 2),
            (3, [-1_500, 0, 4_000, 1_000, 0], 3_500, 3),
            (4, [0, 0, 0, 500, 700], 1_200, 2),
            (5, [0, 0, 0, 0, 1_200], 1_200, 1),
            (6, [100, 0, 0, 0, 0], 100, 1),
        ]
    );
    assert_eq!(
        ageing_of(0, &report.total),
        (0, [8_600, 23_000, 12_000, 1_500, 1_900], 47_000, 11)
    );
    assert_eq!(report.clients[0].name, "Beta");

    let members = filter_of(&facts, &[1, 2], &[]);
    let report = balances(&facts, as_of, Some(2), members.as_ref())
        .await
        .unwrap();
    let ids: Vec<i64> = report.clients.iter().map(|c| c.client_id).collect();
    assert_eq!(ids, [2, 1]);
    assert_eq!(
        ageing_of(0, &report.total),
        (0, [8_500, 23_000, 12_000, 1_000, 0], 44_500, 7)
    );
}

#[tokio::test]
async fn balances_in_utc_see_the_previous_day() {
    // As of 15 June (UTC): i1 and i2 are not yet due; i14 (issued 22:30Z) counts, i3 is
    // 29 days past due, i4 30.
    let facts = report_facts(shop(), "UTC").await;
    let report = balances(&facts, utc("2024-06-15T22:30:00Z"), None, None)
        .await
        .unwrap();
    let c1 = report.clients.iter().find(|c| c.client_id == 1).unwrap();
    assert_eq!(
        ageing_of(1, &c1.ageing),
        (1, [13_000, 0, 0, 0, 0], 13_000, 2)
    );
    let c2 = report.clients.iter().find(|c| c.client_id == 2).unwrap();
    assert_eq!(
        ageing_of(2, &c2.ageing),
        (2, [0, 28_000, 0, 0, 0], 28_000, 2)
    );
}

fn widget(id: i64, segment_id: Option<i64>, metric: Metric, period: WidgetPeriod) -> Widget {
    Widget {
        id,
        title: format!("widget {id}"),
        segment_id,
        metric,
        period,
    }
}

/// `(current, previous, unavailable)` of each value.
fn amounts(values: &[WidgetValue]) -> Vec<(Option<Amount>, Option<Amount>, Option<&str>)> {
    values
        .iter()
        .map(|v| (v.current, v.previous, v.unavailable.as_deref()))
        .collect()
}

#[tokio::test]
async fn widget_values_compare_with_the_period_before() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    let lookup = segments(&facts);
    let lookup = move |id: i64| lookup.get(&id).cloned();
    // 2024-03-31T22:30Z is 1 April, 00:30 in Berlin: today is 2024-04-01.
    let now = utc("2024-03-31T22:30:00Z");
    let march = WidgetPeriod::Fixed {
        from: date("2024-03-01"),
        to: date("2024-03-31"),
    };
    let widgets = [
        // Mar 26..Apr 1: o7 70.00. Mar 19..25: o5 25.00 + o10 15.55 + o11 10.01.
        widget(1, None, Metric::Revenue, WidgetPeriod::Last7Days),
        widget(2, None, Metric::OrderCount, WidgetPeriod::Last7Days),
        // Apr 1 against Mar 1 (o2 50.00).
        widget(3, None, Metric::Revenue, WidgetPeriod::MonthToDate),
        // Everything since 1 January; nothing a year before.
        widget(4, None, Metric::Revenue, WidgetPeriod::YearToDate),
        // March 180.56; Jan 30..Feb 29: o1 100.00.
        widget(5, None, Metric::Revenue, march),
        // Segment 2 {2, 3}, Mar 3..Apr 1: o4, o7, o11; Feb 2..Mar 2: o2.
        widget(6, Some(2), Metric::OrderCount, WidgetPeriod::Last30Days),
        widget(7, Some(2), Metric::Revenue, WidgetPeriod::Last30Days),
        widget(8, Some(99), Metric::Revenue, WidgetPeriod::Last30Days),
    ];
    let values = widget_values(&facts, &lookup, &widgets, now).await.unwrap();
    let money = |cents| Some(Amount::Money(Cents(cents)));
    let count = |n| Some(Amount::Count(n));
    assert_eq!(
        amounts(&values),
        [
            (money(7_000), money(5_056), None),
            (count(1), count(3), None),
            (money(7_000), money(5_000), None),
            (money(35_056), money(0), None),
            (money(18_056), money(10_000), None),
            (count(3), count(1), None),
            (money(8_001), money(5_000), None),
            (None, None, Some("segment 99 does not exist")),
        ]
    );
    assert_eq!(
        (values[5].from, values[5].to),
        (date("2024-03-03"), date("2024-04-01"))
    );
    assert_eq!(
        (values[5].previous_from, values[5].previous_to),
        (date("2024-02-02"), date("2024-03-02"))
    );
    assert_eq!(values[7].widget, widgets[7]);
    // Without a segment there is no value, but the dates are those of the period.
    assert_eq!(
        (values[7].from, values[7].previous_to),
        (date("2024-03-03"), date("2024-03-02"))
    );
}

/// The current value of a Last30Days order-count widget on segment 3 holding `members`,
/// today being 2024-04-01 in Berlin.
async fn segment_orders(facts: &ReportFacts, members: &[i64]) -> Option<Amount> {
    let widgets = [widget(
        1,
        Some(3),
        Metric::OrderCount,
        WidgetPeriod::Last30Days,
    )];
    let members = Arc::new(facts.snapshot().index.positions_of(members).0);
    let lookup = move |_id: i64| Some(members.clone());
    let now = utc("2024-03-31T22:30:00Z");
    let values = widget_values(facts, &lookup, &widgets, now).await.unwrap();
    values[0].current
}

#[tokio::test]
async fn widget_values_follow_memberships_and_facts() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    // Segment 3 holds client 3 (o4), then is refreshed to client 2 (o7, o11).
    assert_eq!(segment_orders(&facts, &[3]).await, Some(Amount::Count(1)));
    assert_eq!(segment_orders(&facts, &[2]).await, Some(Amount::Count(2)));
    // A new snapshot with one more order of client 3 on 31 March.
    let grown = shop().order(order(12, Some(3), "2024-03-31T10:00:00Z", 900));
    let grown = report_facts(grown, "Europe/Berlin").await;
    assert_eq!(segment_orders(&grown, &[3]).await, Some(Amount::Count(2)));
}

#[tokio::test]
async fn daily_running_totals_equal_a_scan() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    let ranges = [
        ("2024-01-01", "2024-12-31"),
        ("2024-02-29", "2024-03-01"),
        ("2024-03-25", "2024-03-25"),
        ("2024-04-01", "2024-04-30"),
        ("2023-01-01", "2023-12-31"),
        ("2025-01-01", "2025-01-31"),
    ];
    for (from, to) in ranges {
        let days = range(from, to);
        let [fast] = revenue_and_orders(&facts, &[days], None).await[..] else {
            panic!("one range asked");
        };
        let scanned = sales::totals(&facts, days, None).await.unwrap();
        assert_eq!(fast, (scanned.revenue, scanned.orders), "{from}..{to}");
    }
    let year = [range("2024-01-01", "2024-12-31")];
    assert_eq!(
        revenue_and_orders(&facts, &year, None).await,
        [(Cents(35_056), 9)]
    );
}

#[tokio::test]
async fn two_ranges_in_one_scan_equal_two_scans() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    let members = filter_of(&facts, &[1, 2], &[]);
    let mask = facts.mask(members.as_ref());
    // Disjoint with a gap holding orders (o3, o4 in mid-March), and back to back.
    let pairs = [
        (
            range("2024-03-25", "2024-04-01"),
            range("2024-02-01", "2024-03-01"),
        ),
        (
            range("2024-03-16", "2024-04-14"),
            range("2024-02-15", "2024-03-15"),
        ),
    ];
    for (current, previous) in pairs {
        let both = revenue_and_orders(&facts, &[current, previous], mask.as_ref()).await;
        let mut separately = Vec::new();
        for days in [current, previous] {
            let figures = sales::totals(&facts, days, mask.as_ref()).await.unwrap();
            separately.push((figures.revenue, figures.orders));
        }
        assert_eq!(both, separately, "{current:?} {previous:?}");
    }
    // Mar 25..Apr 1: o11 10.01 + o7 70.00; Feb 1..Mar 1: o1 100.00 + o2 50.00.
    let both = revenue_and_orders(&facts, &[pairs[0].0, pairs[0].1], mask.as_ref()).await;
    assert_eq!(both, [(Cents(8_001), 2), (Cents(15_000), 2)]);
}

/// Revenue and orders of `mask`'s clients in each of `ranges`, through [`sales::range_sums`].
async fn revenue_and_orders(
    facts: &ReportFacts,
    ranges: &[DateRange],
    mask: Option<&Arc<MemberMask>>,
) -> Vec<(Cents, u64)> {
    let asks: Vec<sales::RangeAsk> = ranges
        .iter()
        .map(|range| sales::RangeAsk {
            mask: mask.cloned(),
            range: *range,
        })
        .collect();
    sales::range_sums(facts, &asks).await.unwrap()
}

#[tokio::test]
async fn overlapping_ranges_of_several_segments_in_one_scan_equal_separate_scans() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    let first = facts.mask(filter_of(&facts, &[1, 2], &[]).as_ref());
    let second = facts.mask(filter_of(&facts, &[4], &[]).as_ref());
    let ranges = [
        range("2024-03-01", "2024-03-31"),
        range("2024-03-16", "2024-04-14"),
        range("2024-03-25", "2024-03-25"),
        range("2024-01-01", "2024-12-31"),
    ];
    let mut asks = Vec::new();
    for mask in [&first, &second, &None] {
        for range in ranges {
            let mask = mask.clone();
            asks.push(sales::RangeAsk { mask, range });
        }
    }
    let together = sales::range_sums(&facts, &asks).await.unwrap();
    for (ask, sums) in asks.iter().zip(together) {
        let alone = sales::totals(&facts, ask.range, ask.mask.as_ref());
        let alone = alone.await.unwrap();
        assert_eq!(sums, (alone.revenue, alone.orders), "{ask:?}");
    }
}

#[test]
fn daily_totals_add_the_days_of_a_range() {
    // Days 10 and 20 after the epoch: 1970-01-11 and 1970-01-21.
    let rows = [(10, 100, 1), (10, 50, 1), (20, 7, 2)];
    let daily = super::views::DailyTotals::from_sorted(rows);
    let between = |from, to| daily.between(range(from, to));
    assert_eq!(between("1970-01-11", "1970-01-21"), (Cents(157), 4));
    assert_eq!(between("1970-01-11", "1970-01-11"), (Cents(150), 2));
    assert_eq!(between("1970-01-12", "1970-01-20"), (Cents::ZERO, 0));
    assert_eq!(between("1970-01-21", "2060-01-01"), (Cents(7), 2));
    assert_eq!(between("1900-01-01", "1970-01-10"), (Cents::ZERO, 0));
}

#[tokio::test]
async fn touching_ranges_longer_together_than_a_range_may_be_are_both_scanned() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    let mask = facts.mask(filter_of(&facts, &[1, 2], &[]).as_ref());
    // 36,524 days, then 9,132: one scan covers 45,656 days.
    let ranges = [
        range("1900-01-01", "1999-12-31"),
        range("2000-01-01", "2024-12-31"),
    ];
    let asks: Vec<_> = ranges
        .iter()
        .map(|range| sales::RangeAsk {
            mask: mask.clone(),
            range: *range,
        })
        .collect();
    let sums = sales::range_sums(&facts, &asks).await.unwrap();
    let later = sales::totals(&facts, ranges[1], mask.as_ref())
        .await
        .unwrap();
    assert!(later.orders > 0);
    assert_eq!(sums, vec![(Cents::ZERO, 0), (later.revenue, later.orders)]);
}

#[tokio::test]
async fn csv_output_is_exact() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    let months = range("2024-02-01", "2024-04-30");
    assert_eq!(
        monthly(&facts, None).await.to_csv(),
        "period,from,to,revenue,orders,average_order_value,clients\n\
         2024-02,2024-02-01,2024-02-29,100.00,1,100.00,1\n\
         2024-03,2024-03-01,2024-03-31,180.56,7,25.79,5\n\
         2024-04,2024-04-01,2024-04-30,70.00,1,70.00,1\n\
         total,2024-02-01,2024-04-30,350.56,9,38.95,5\n"
    );
    let members = filter_of(&facts, &[4], &[]);
    let daily = sales_over_time(
        &facts,
        range("2024-03-24", "2024-03-25"),
        Granularity::Day,
        members.as_ref(),
    );
    assert_eq!(
        daily.await.unwrap().to_csv(),
        "period,from,to,revenue,orders,average_order_value,clients\n\
         2024-03-24,2024-03-24,2024-03-24,0.00,0,,0\n\
         2024-03-25,2024-03-25,2024-03-25,15.55,1,15.55,1\n\
         total,2024-03-24,2024-03-25,15.55,1,15.55,1\n"
    );
    let products = sales_by_product(&facts, months, ProductRanking::Revenue, 2, None);
    assert_eq!(
        products.await.unwrap().to_csv(),
        "rank,product_id,sku,name,quantity,revenue,clients\n\
         1,20,SKU-20,Gadget,6,90.00,2\n\
         2,10,SKU-10,Widget,3,85.00,1\n"
    );
    let clients = sales_by_client(&facts, months, 2, None);
    assert_eq!(
        clients.await.unwrap().to_csv(),
        "rank,client_id,name,revenue,orders,average_order_value,clients\n\
         1,2,Beta,130.01,3,43.34,1\n\
         2,1,Alpha,120.00,2,60.00,1\n\
         total,,,350.56,9,38.95,5\n"
    );
    let members = filter_of(&facts, &[2], &[]);
    let countries = sales_by_country(&facts, months, members.as_ref());
    assert_eq!(
        countries.await.unwrap().to_csv(),
        "country,revenue,orders,average_order_value,clients\n\
         DE,130.01,3,43.34,1\n\
         FR,0.00,1,0.00,1\n\
         total,130.01,4,32.50,2\n"
    );
    let members = filter_of(&facts, &[3, 4], &[]);
    let owed = balances(&facts, utc("2024-06-15T22:30:00Z"), None, members.as_ref());
    assert_eq!(
        owed.await.unwrap().to_csv(),
        "client_id,name,not_yet_due,days_1_30,days_31_60,days_61_90,over_90_days,total,invoices\n\
         3,Gamma,-15.00,0.00,40.00,10.00,0.00,35.00,3\n\
         4,Delta,0.00,0.00,0.00,5.00,7.00,12.00,2\n\
         total,,-15.00,0.00,40.00,15.00,7.00,47.00,5\n"
    );
}

#[tokio::test]
async fn json_shows_money_as_decimal_strings() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    let report = sales_over_time(
        &facts,
        range("2024-04-01", "2024-04-01"),
        Granularity::Day,
        None,
    );
    let json = serde_json::to_value(report.await.unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "range": {"from": "2024-04-01", "to": "2024-04-01"},
            "granularity": "day",
            "periods": [{"period": "2024-04-01", "from": "2024-04-01", "to": "2024-04-01",
                         "revenue": "70.00", "orders": 1, "average_order_value": "70.00",
                         "clients": 1}],
            "total": {"revenue": "70.00", "orders": 1, "average_order_value": "70.00",
                      "clients": 1},
        })
    );
}

#[tokio::test]
async fn the_filter_is_a_function_inside_the_physical_plan() {
    let facts = report_facts(shop(), "Europe/Berlin").await;
    let members = filter_of(&facts, &[1], &[]);
    let mask = facts.mask(members.as_ref());
    let frame = facts
        .scan(
            &facts.orders,
            range("2024-03-01", "2024-03-31"),
            mask.as_ref(),
        )
        .unwrap();
    let plan = frame.create_physical_plan().await.unwrap();
    let shown = datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string();
    assert!(
        shown.contains("FilterExec: in_members(client_pos"),
        "{shown}"
    );
}

#[test]
fn ranges_and_tops_are_checked() {
    let error = DateRange::new(date("2024-03-02"), date("2024-03-01")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "date range 2024-03-02..2024-03-01 is empty: `from` is after `to`"
    );
    // 1925-01-01..2024-12-31 holds 100 years, 25 of them leap years: 36,525 days; 75 more
    // days back (14 in October, 30 and 31 in November and December) make 36,600.
    let century = DateRange::new(date("1925-01-01"), date("2024-12-31")).unwrap();
    assert_eq!(century.days(), 36_525);
    let longest = DateRange::new(date("1924-10-18"), date("2024-12-31")).unwrap();
    assert_eq!(longest.days(), 36_600);
    let error = DateRange::new(date("1924-10-17"), date("2024-12-31")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "date range 1924-10-17..2024-12-31 is longer than 36600 days"
    );
    let error = sales::check_top(0).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`top` is 0; it must be between 1 and 10000"
    );
}
