//! Pricing on a tiny tenant whose prices are worked out by hand in each test.
//!
//! Clients 1 to 7 (positions 0 to 6); client 6 is deleted. Products:
//! - 101 `TOOL-1`, category "Tools": retail 10.04, wholesale 8.00, vip 7.50, no staff price
//! - 102 `TOOL-2`, category " tools ": retail 19.99, no wholesale, vip 15.00, staff 10.00
//! - 103 `Gift-Card`, no category: retail 25.00 only
//!
//! Segments (memberships as bitmaps): 10 wholesale {1,2,3}; 20 vip {2,4}; 30 staff
//! {3,4,5}; 40 without a tier {1,2,3,4,5}; 50 wholesale {5}.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use roaring::RoaringBitmap;
use rusqlite::Connection;
use serde_json::json;

use super::*;
use crate::facts::builder::{ClientRow, FactsBuilder, ProductRow, micros};
use crate::money::Cents;
use crate::snapshot::Snapshot;

use Tier::{Retail, Staff, Vip, Wholesale};

const TIERED: [(i64, Tier); 4] = [(10, Wholesale), (20, Vip), (30, Staff), (50, Wholesale)];
const SEGMENTS: [i64; 5] = [10, 20, 30, 40, 50];

fn now() -> DateTime<Utc> {
    "2024-06-01T12:00:00Z".parse().unwrap()
}

fn product(id: i64, sku: &str, category: Option<&str>, prices: [Option<i64>; 4]) -> ProductRow {
    ProductRow {
        product_id: id,
        sku: sku.into(),
        name: format!("Product {id}"),
        category: category.map(Into::into),
        retail_price_cents: prices[0].unwrap(),
        wholesale_price_cents: prices[1],
        vip_price_cents: prices[2],
        staff_price_cents: prices[3],
    }
}

async fn snapshot() -> Arc<Snapshot> {
    let mut facts = FactsBuilder::new();
    for id in 1..=7 {
        let mut row = ClientRow::new(id);
        if id == 6 {
            row.deleted_at = Some(micros("2024-01-01T00:00:00Z"));
        }
        facts = facts.client(row);
    }
    let facts = facts
        .product(product(
            101,
            "TOOL-1",
            Some("Tools"),
            [Some(1004), Some(800), Some(750), None],
        ))
        .product(product(
            102,
            "TOOL-2",
            Some(" tools "),
            [Some(1999), None, Some(1500), Some(1000)],
        ))
        .product(product(
            103,
            "Gift-Card",
            None,
            [Some(2500), None, None, None],
        ));
    Snapshot::build(facts.build().unwrap(), chrono_tz::UTC)
        .await
        .unwrap()
}

/// The tenant, its segments and an empty pricing store.
struct Fixture {
    snapshot: Arc<Snapshot>,
    prices: PriceList,
    segments: HashMap<i64, RoaringBitmap>,
    conn: Connection,
}

impl Fixture {
    async fn new() -> Fixture {
        let snapshot = snapshot().await;
        let segments = [
            (10, vec![1, 2, 3]),
            (20, vec![2, 4]),
            (30, vec![3, 4, 5]),
            (40, vec![1, 2, 3, 4, 5]),
            (50, vec![5]),
        ];
        let segments = segments
            .into_iter()
            .map(|(id, clients)| (id, members(&snapshot, &clients)))
            .collect();
        let conn = Connection::open_in_memory().unwrap();
        store::migrate(&conn).unwrap();
        Fixture {
            prices: PriceList::from_batch(&snapshot.facts.products),
            snapshot,
            segments,
            conn,
        }
    }

    fn assign(&self, priority: &[i64], tiered: &[(i64, Tier)]) -> TierAssignment {
        let order = effective_order(priority, tiered);
        TierAssignment::compute(&order, |id| self.segments.get(&id), &self.snapshot.universe)
    }

    fn ctx<'a>(&'a self, tiers: &'a TierAssignment) -> PricingContext<'a> {
        PricingContext::new(&self.snapshot, &self.prices, tiers)
    }

    fn apply(&self, tiers: &TierAssignment, segment: i64, spec: serde_json::Value) -> PriceUpdate {
        self.apply_at(tiers, segment, spec, now())
    }

    fn apply_at(
        &self,
        tiers: &TierAssignment,
        segment: i64,
        spec: serde_json::Value,
        at: DateTime<Utc>,
    ) -> PriceUpdate {
        let spec = BulkSpec::from_json(&spec).expect("valid spec");
        bulk::apply(
            &self.conn,
            &self.ctx(tiers),
            segment,
            &self.segments[&segment],
            &spec,
            at,
        )
        .expect("applied")
    }

    /// Unit price in cents and source of each product for a client, quoted at `at`.
    fn prices_at(
        &self,
        tiers: &TierAssignment,
        client: i64,
        products: &[i64],
        at: DateTime<Utc>,
    ) -> Vec<(i64, PriceSource)> {
        let lines: Vec<_> = products
            .iter()
            .map(|id| json!({"product_id": id, "quantity": 1}))
            .collect();
        let request = json!({"client_id": client, "lines": lines});
        let quote = quote::quote(
            &self.conn,
            &self.ctx(tiers),
            &serde_json::from_value(request).unwrap(),
            at,
        )
        .expect("quote");
        quote
            .lines
            .iter()
            .map(|l| (l.unit_price.0, l.source))
            .collect()
    }
}

fn members(snapshot: &Snapshot, ids: &[i64]) -> RoaringBitmap {
    let (found, unknown) = snapshot.index.positions_of(ids);
    assert!(unknown.is_empty());
    found
}

fn order(ids: &[(i64, Tier)]) -> Vec<TieredSegment> {
    ids.iter()
        .map(|&(segment_id, tier)| TieredSegment { segment_id, tier })
        .collect()
}

/// Each client's tier, deciding segment and losing segments.
#[track_caller]
fn check_pricing(
    fixture: &Fixture,
    tiers: &TierAssignment,
    expected: &[(i64, Tier, Option<i64>, &[i64])],
) {
    for &(client, tier, deciding, lost) in expected {
        let position = fixture.snapshot.index.position(client).unwrap();
        assert_eq!(
            tiers.tier_of(position),
            Some(tier),
            "tier of client {client}"
        );
        let decided_by = tiers.deciding_segment(position).map(|s| s.segment_id);
        assert_eq!(decided_by, deciding, "deciding segment of client {client}");
        let walked = client_pricing(position, tiers.order(), |id| fixture.segments.get(&id));
        assert_eq!(walked.tier, tier, "walked tier of client {client}");
        assert_eq!(walked.deciding_segment.map(|s| s.segment_id), deciding);
        let lost_ids: Vec<i64> = walked.lost.iter().map(|s| s.segment_id).collect();
        assert_eq!(lost_ids, lost, "lost segments of client {client}");
    }
}

fn counts(retail: u64, wholesale: u64, vip: u64, staff: u64) -> TierCounts {
    TierCounts {
        retail,
        wholesale,
        vip,
        staff,
    }
}

// ---- tiers ----

#[test]
fn effective_order_puts_unlisted_tiered_segments_last_by_id() {
    let tiered = [(30, Staff), (10, Wholesale), (20, Vip), (50, Wholesale)];
    // 40 has no tier and is skipped; 30 repeated keeps its first place; 99 is unknown.
    let got = effective_order(&[50, 40, 30, 30, 99], &tiered);
    assert_eq!(
        got,
        order(&[(50, Wholesale), (30, Staff), (10, Wholesale), (20, Vip)])
    );
    assert_eq!(effective_order(&[], &[]), vec![]);
}

#[tokio::test]
async fn priority_order_decides_the_tier() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[20, 10, 30, 50], &TIERED);
    check_pricing(
        &f,
        &tiers,
        &[
            (1, Wholesale, Some(10), &[]),
            (2, Vip, Some(20), &[10]),
            (3, Wholesale, Some(10), &[30]),
            (4, Vip, Some(20), &[30]),
            (5, Staff, Some(30), &[50]),
            (7, Retail, None, &[]),
        ],
    );
    assert_eq!(tiers.counts(), counts(1, 2, 2, 1));
    let decided: Vec<u64> = tiers.segment_counts().iter().map(|s| s.decided).collect();
    assert_eq!(decided, [2, 2, 1, 0]);
}

#[tokio::test]
async fn tiered_segments_missing_from_the_list_come_after_it_by_creation() {
    let f = Fixture::new().await;
    // Only 50 is listed: then 10, 20, 30 in order of creation (ascending id).
    let tiers = f.assign(&[50], &TIERED);
    check_pricing(
        &f,
        &tiers,
        &[
            (1, Wholesale, Some(10), &[]),
            (2, Wholesale, Some(10), &[20]),
            (3, Wholesale, Some(10), &[30]),
            (4, Vip, Some(20), &[30]),
            (5, Wholesale, Some(50), &[30]),
        ],
    );
    assert_eq!(tiers.counts(), counts(1, 4, 1, 0));
}

#[tokio::test]
async fn deleted_and_untiered_clients() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[40], &[]);
    let deleted = f.snapshot.index.position(6).unwrap();
    assert_eq!(tiers.tier_of(deleted), None);
    assert_eq!(tiers.counts(), counts(6, 0, 0, 0));
    check_pricing(&f, &tiers, &[(3, Retail, None, &[])]);
}

#[tokio::test]
async fn a_retail_segment_decides_too() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[40, 10], &[(40, Retail), (10, Wholesale)]);
    check_pricing(
        &f,
        &tiers,
        &[(1, Retail, Some(40), &[10]), (7, Retail, None, &[])],
    );
}

#[test]
fn tier_names_parse_after_trimming_and_folding() {
    assert_eq!(" VIP ".parse::<Tier>().unwrap(), Vip);
    assert_eq!(serde_json::to_value(Wholesale).unwrap(), json!("wholesale"));
    let error = "gold".parse::<Tier>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "\"gold\" is not a tier; expected one of retail, wholesale, vip, staff"
    );
}

// ---- priority store ----

#[track_caller]
fn check_refused(conn: &Connection, list: &[i64], message: &str) {
    let error = store::replace_priority(conn, list, &SEGMENTS).unwrap_err();
    assert_eq!(error.to_string(), message);
}

#[tokio::test]
async fn replacing_the_priority_list_refuses_unknown_and_repeated_segments() {
    let f = Fixture::new().await;
    store::replace_priority(&f.conn, &[30, 10], &SEGMENTS).unwrap();
    check_refused(&f.conn, &[10, 77, 78, 77], "no segment with id 77, 78");
    check_refused(
        &f.conn,
        &[10, 20, 10, 20, 10],
        "segment 10, 20 named more than once in the priority list",
    );
    assert_eq!(store::read_priority(&f.conn).unwrap(), [30, 10]);
}

#[tokio::test]
async fn deleting_a_segment_takes_it_out_of_the_list() {
    let f = Fixture::new().await;
    store::replace_priority(&f.conn, &[30, 10, 20], &SEGMENTS).unwrap();
    assert!(store::remove_segment(&f.conn, 10).unwrap());
    assert!(!store::remove_segment(&f.conn, 10).unwrap());
    assert_eq!(store::read_priority(&f.conn).unwrap(), [30, 20]);
}

#[tokio::test]
async fn the_store_survives_a_restart() {
    let f = Fixture::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    let tiers = f.assign(&[], &TIERED);
    let update_id = {
        let conn = Connection::open(&path).unwrap();
        store::migrate(&conn).unwrap();
        store::replace_priority(&conn, &[20, 10], &SEGMENTS).unwrap();
        let spec =
            BulkSpec::from_json(&json!({"products": {"ids": [103]}, "change": {"set": "20"}}))
                .unwrap();
        bulk::apply(&conn, &f.ctx(&tiers), 10, &f.segments[&10], &spec, now())
            .unwrap()
            .update_id
    };
    let conn = Connection::open(&path).unwrap();
    store::migrate(&conn).unwrap();
    assert_eq!(store::read_priority(&conn).unwrap(), [20, 10]);
    assert_eq!(store::update_members(&conn, update_id).unwrap(), [1, 2, 3]);
    let own = store::client_overrides(&conn, 2, now()).unwrap();
    assert_eq!(own[&103].price, Cents(2000));
}

// ---- quotes ----

#[tokio::test]
async fn quote_prices_each_line_from_tier_with_retail_fallback() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[30, 20, 10], &TIERED);
    let ctx = f.ctx(&tiers);
    // Client 3 is staff: TOOL-1 has no staff price (retail 10.04), TOOL-2 staff 10.00.
    let request = json!({"client_id": 3, "lines": [
        {"sku": " tool-1 ", "quantity": 3},
        {"product_id": 102, "quantity": 2},
        {"sku": "Gift-Card", "quantity": 1},
    ]});
    let quote = quote::quote(
        &f.conn,
        &ctx,
        &serde_json::from_value(request).unwrap(),
        now(),
    )
    .unwrap();
    let lines: Vec<_> = quote
        .lines
        .iter()
        .map(|l| {
            (
                l.line,
                l.product_id,
                l.unit_price.0,
                l.source,
                l.line_total.0,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (0, 101, 1004, PriceSource::RetailFallback, 3012),
            (1, 102, 1000, PriceSource::Tier, 2000),
            (2, 103, 2500, PriceSource::RetailFallback, 2500),
        ]
    );
    assert_eq!((quote.tier, quote.total), (Staff, Cents(7512)));
    assert_eq!(
        serde_json::to_value(&quote).unwrap()["total"],
        json!("75.12")
    );
}

#[tokio::test]
async fn retail_clients_pay_retail() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[], &TIERED);
    let got = f.prices_at(&tiers, 7, &[101, 102], now());
    assert_eq!(
        got,
        [(1004, PriceSource::Retail), (1999, PriceSource::Retail)]
    );
}

#[track_caller]
fn check_quote_error(f: &Fixture, request: serde_json::Value, message: &str) {
    let tiers = f.assign(&[], &TIERED);
    let request: QuoteRequest = serde_json::from_value(request).unwrap();
    let error = quote::quote(&f.conn, &f.ctx(&tiers), &request, now()).unwrap_err();
    assert_eq!(error.to_string(), message);
    assert!(!error.is_internal());
}

#[tokio::test]
async fn quote_errors_name_the_client_or_the_lines() {
    let f = Fixture::new().await;
    let line = json!({"product_id": 101, "quantity": 1});
    check_quote_error(
        &f,
        json!({"client_id": 99, "lines": [line]}),
        "no live client with id 99",
    );
    check_quote_error(
        &f,
        json!({"client_id": 6, "lines": [line]}),
        "no live client with id 6",
    );
    check_quote_error(
        &f,
        json!({"client_id": 1, "lines": [line, {"product_id": 999, "quantity": 1}, {"sku": "NOPE", "quantity": 2}]}),
        "unknown product: $.lines[1]: no product with id 999, $.lines[2]: no product with SKU \"NOPE\"",
    );
    check_quote_error(
        &f,
        json!({"client_id": 1, "lines": []}),
        "$.lines: a quote needs at least one line",
    );
    for (quantity, shown) in [
        (json!(0), "0"),
        (json!(1.5), "1.5"),
        (json!("2"), "\"2\""),
        (json!(-1), "-1"),
    ] {
        let bad =
            json!({"client_id": 1, "lines": [line, {"product_id": 101, "quantity": quantity}]});
        let message = format!("$.lines[1].quantity: {shown} is not a positive whole number");
        check_quote_error(&f, bad, &message);
    }
    check_quote_error(
        &f,
        json!({"client_id": 1, "lines": [{"product_id": 101, "sku": "TOOL-1", "quantity": 1}]}),
        "$.lines[0]: give product_id or sku, not both",
    );
}

// ---- bulk price updates ----

#[test]
fn percent_changes_round_half_away_from_zero() {
    let cases = [
        // 10.04 * 12.5 % = 1.255 -> 1.26 up and down.
        (PriceChange::Percent(1250), 1004, 1130),
        (PriceChange::Percent(-1250), 1004, 878),
        // 19.99 * -12.5 % = -2.49875 -> -2.50.
        (PriceChange::Percent(-1250), 1999, 1749),
        // 0.01 * 50 % = 0.005 -> 0.01.
        (PriceChange::Percent(5000), 1, 2),
        (PriceChange::Percent(-5000), 1, 0),
        // The change is rounded, not the new price: 7.95 * -10 % = -0.795 -> -0.80, so
        // 7.15 (rounding 7.155 would give 7.16).
        (PriceChange::Percent(-1000), 795, 715),
        (PriceChange::Amount(Cents(-150)), 1004, 854),
        (PriceChange::Set(Cents(999)), 1004, 999),
    ];
    for (change, old, new) in cases {
        assert_eq!(
            change.apply(Cents(old)),
            Some(Cents(new)),
            "{change:?} of {old}"
        );
    }
}

#[test]
fn a_price_never_goes_below_zero() {
    assert_eq!(
        PriceChange::Amount(Cents(-5000)).apply(Cents(1004)),
        Some(Cents(0))
    );
    assert_eq!(
        PriceChange::Percent(-15000).apply(Cents(1004)),
        Some(Cents(0))
    );
    assert_eq!(PriceChange::Amount(Cents(1)).apply(Cents(i64::MAX)), None);
    let error =
        BulkSpec::from_json(&json!({"products": {"ids": [101]}, "change": {"set": "-0.01"}}));
    assert_eq!(
        error.unwrap_err().to_string(),
        "$.change.set: price -0.01 is below 0"
    );
}

#[test]
fn specs_read_back_what_they_write() {
    let json = json!({
        "products": {"skus": ["TOOL-1"]},
        "change": {"percent": -12.5},
        "ends_at": "2024-07-01T00:00:00Z",
    });
    let spec = BulkSpec::from_json(&json).unwrap();
    assert_eq!(spec.change, PriceChange::Percent(-1250));
    assert_eq!(spec.to_json()["change"], json!({"percent": "-12.50"}));
    assert_eq!(BulkSpec::from_json(&spec.to_json()).unwrap(), spec);
}

#[track_caller]
fn check_spec_error(json: serde_json::Value, message: &str) {
    assert_eq!(BulkSpec::from_json(&json).unwrap_err().to_string(), message);
}

#[test]
fn bad_specs_name_the_path() {
    let ids = json!({"ids": [101]});
    check_spec_error(
        json!({"products": ids, "change": {"set": "1.234"}}),
        "$.change.set: \"1.234\" has more than 2 decimal places",
    );
    check_spec_error(
        json!({"products": ids}),
        "$.change: missing; expected an object with exactly one of set, percent, amount",
    );
    check_spec_error(
        json!({"products": ids, "change": {"set": "1", "percent": "5"}}),
        "$.change: expected exactly one of set, percent, amount; found percent and set",
    );
    check_spec_error(
        json!({"products": ids, "change": {}}),
        "$.change: expected exactly one of set, percent, amount; found none",
    );
    check_spec_error(
        json!({"products": ids, "change": {"set": "1", "foo": 1}}),
        "$.change: unknown field \"foo\"; expected exactly one of set, percent, amount",
    );
    check_spec_error(
        json!({"products": {"ids": "101"}, "change": {"set": "1"}}),
        "$.products.ids: invalid type: string \"101\", expected a sequence",
    );
    check_spec_error(
        json!({"products": ["SKU-1"], "change": {"set": "1"}}),
        "$.products: expected an object with exactly one of ids, skus, category",
    );
    check_spec_error(
        json!({"products": ids, "change": {"set": 1}, "until": 1}),
        "$: unknown field \"until\"",
    );
    check_spec_error(
        json!({"products": ids, "change": {"set": true}}),
        "$.change.set: expected a decimal, found true",
    );
}

#[test]
fn percent_changes_are_bounded_to_minus_100_and_plus_1000() {
    let spec = |percent: serde_json::Value| json!({"products": {"ids": [101]}, "change": {"percent": percent}});
    for (percent, hundredths) in [(json!("-100"), -10_000), (json!(1000), 100_000)] {
        let read = BulkSpec::from_json(&spec(percent)).unwrap();
        assert_eq!(read.change, PriceChange::Percent(hundredths));
    }
    check_spec_error(
        spec(json!("99999999999999")),
        "$.change.percent: percent 99999999999999.00 is outside -100 to +1000",
    );
    check_spec_error(
        spec(json!(1000.01)),
        "$.change.percent: percent 1000.01 is outside -100 to +1000",
    );
    check_spec_error(
        spec(json!("-100.01")),
        "$.change.percent: percent -100.01 is outside -100 to +1000",
    );
}

#[tokio::test]
async fn a_percent_change_rounds_the_change_to_cents_not_the_new_price() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[], &TIERED);
    f.apply(
        &tiers,
        40,
        json!({"products": {"ids": [103]}, "change": {"set": "7.95"}}),
    );
    f.apply(
        &tiers,
        40,
        json!({"products": {"ids": [103]}, "change": {"percent": "-10"}}),
    );
    assert_eq!(
        f.prices_at(&tiers, 4, &[103], now()),
        [(715, PriceSource::Override)]
    );
}

#[track_caller]
fn check_apply_error(f: &Fixture, spec: serde_json::Value, message: &str) {
    let tiers = f.assign(&[], &TIERED);
    let spec = BulkSpec::from_json(&spec).unwrap();
    let error =
        bulk::apply(&f.conn, &f.ctx(&tiers), 10, &f.segments[&10], &spec, now()).unwrap_err();
    assert_eq!(error.to_string(), message);
    assert!(
        store::list_updates(&f.conn).unwrap().is_empty(),
        "nothing recorded"
    );
}

#[tokio::test]
async fn bulk_updates_refuse_unknown_products_and_past_end_dates() {
    let f = Fixture::new().await;
    let set = json!({"set": "1"});
    check_apply_error(
        &f,
        json!({"products": {"ids": [101, 5, 6]}, "change": set}),
        "unknown product: $.products.ids[1]: no product with id 5, $.products.ids[2]: no product with id 6",
    );
    check_apply_error(
        &f,
        json!({"products": {"category": "Garden"}, "change": set}),
        "$.products.category: no product in category \"Garden\"",
    );
    check_apply_error(
        &f,
        json!({"products": {"skus": []}, "change": set}),
        "$.products: names no product",
    );
    check_apply_error(
        &f,
        json!({"products": {"ids": [101]}, "change": set, "ends_at": "2024-06-01T12:00:00Z"}),
        "$.ends_at: 2024-06-01 12:00:00 UTC is not after now (2024-06-01 12:00:00 UTC)",
    );
    check_spec_error(
        json!({"products": {"ids": [101]}, "change": set, "ends_at": "+10000-01-01T00:00:00Z"}),
        "$.ends_at: \"+10000-01-01T00:00:00Z\" is not an RFC 3339 instant such as \
         2026-12-01T09:00:00Z",
    );
    check_spec_error(
        json!({"products": {"ids": [101]}, "change": set, "ends_at": "9999-12-31T23:59:59Z"}),
        "$.ends_at: \"9999-12-31T23:59:59Z\" is out of range; an instant must lie between \
         1000-01-02T00:00:00Z and 9999-12-30T23:59:59Z",
    );
    check_spec_error(
        json!({"products": {"ids": [101]}, "change": set, "ends_at": 20250101}),
        "$.ends_at: 20250101 is not an RFC 3339 instant in a string",
    );
}

#[tokio::test]
async fn an_apply_that_fails_half_way_writes_nothing() {
    let f = Fixture::new().await;
    // Client 1 gets 101 (10.04 + amount fits), then 103 (25.00 + amount overflows).
    let amount = Cents(i64::MAX - 2000).to_string();
    check_apply_error(
        &f,
        json!({"products": {"ids": [101, 103]}, "change": {"amount": amount}}),
        "client 1, product 103: amount too large to compute exactly",
    );
    let own = store::client_overrides(&f.conn, 1, now()).unwrap();
    assert!(own.is_empty());
}

#[tokio::test]
async fn dry_run_counts_and_samples_without_writing() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[20, 10, 30], &TIERED);
    let spec = BulkSpec::from_json(
        &json!({"products": {"category": "TOOLS"}, "change": {"percent": "-12.5"}}),
    )
    .unwrap();
    let preview = bulk::preview(
        &f.conn,
        &f.ctx(&tiers),
        30,
        &f.segments[&30],
        &spec,
        now(),
        3,
    )
    .unwrap();
    assert_eq!(
        (preview.clients, preview.products, preview.overrides),
        (3, 2, 6)
    );
    assert_eq!(preview.product_ids, [101, 102]);
    let sample: Vec<_> = preview
        .sample
        .iter()
        .map(|s| {
            (
                s.client_id,
                s.product_id,
                s.old_price.0,
                s.old_source,
                s.new_price.0,
            )
        })
        .collect();
    // Client 3 is wholesale (10 before 30): 101 at 8.00 -> 7.00; 102 has no wholesale
    // price, retail 19.99 -> 17.49. Client 4 is vip: 101 at 7.50 -> 6.5625 -> 6.56.
    assert_eq!(
        sample,
        [
            (3, 101, 800, PriceSource::Tier, 700),
            (3, 102, 1999, PriceSource::RetailFallback, 1749),
            (4, 101, 750, PriceSource::Tier, 656),
        ]
    );
    assert!(store::list_updates(&f.conn).unwrap().is_empty());
}

#[tokio::test]
async fn apply_writes_overrides_that_beat_the_tier_and_records_members() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[20, 10], &TIERED);
    let update = f.apply(
        &tiers,
        10,
        json!({"products": {"ids": [101, 102]}, "change": {"amount": "-1.00"}}),
    );
    assert_eq!((update.update_id, update.segment_id), (1, 10));
    assert_eq!((update.member_count, update.product_count), (3, 2));
    assert_eq!(update.product_ids, [101, 102]);
    assert_eq!(store::update_members(&f.conn, 1).unwrap(), [1, 2, 3]);
    // Client 1 wholesale: 8.00 - 1 = 7.00; 19.99 (fallback) - 1 = 18.99.
    // Client 2 vip: 7.50 - 1 = 6.50; 15.00 - 1 = 14.00. Client 4 is not a member.
    let o = PriceSource::Override;
    assert_eq!(
        f.prices_at(&tiers, 1, &[101, 102, 103], now()),
        [(700, o), (1899, o), (2500, PriceSource::RetailFallback)]
    );
    assert_eq!(
        f.prices_at(&tiers, 2, &[101, 102], now()),
        [(650, o), (1400, o)]
    );
    assert_eq!(
        f.prices_at(&tiers, 4, &[101], now()),
        [(750, PriceSource::Tier)]
    );
    assert_eq!(store::list_updates(&f.conn).unwrap(), [update]);
}

#[tokio::test]
async fn revert_restores_exactly_the_prices_from_before() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[30], &TIERED);
    let before = f.prices_at(&tiers, 3, &[101, 102], now());
    let update = f.apply(
        &tiers,
        30,
        json!({"products": {"category": "tools"}, "change": {"percent": 7}}),
    );
    // Client 3 staff: 10.04 * 1.07 = 10.7428 -> 10.74; 10.00 -> 10.70.
    let o = PriceSource::Override;
    assert_eq!(
        f.prices_at(&tiers, 3, &[101, 102], now()),
        [(1074, o), (1070, o)]
    );

    let later = now() + Duration::hours(1);
    let reverted = store::revert_update(&f.conn, update.update_id, later).unwrap();
    assert_eq!(reverted.reverted_at, Some(later));
    assert_eq!(f.prices_at(&tiers, 3, &[101, 102], later), before);
    assert_eq!(
        store::list_updates(&f.conn).unwrap()[0].reverted_at,
        Some(later)
    );

    let again = store::revert_update(&f.conn, update.update_id, later).unwrap_err();
    assert_eq!(
        again.to_string(),
        "price update 1 was already reverted at 2024-06-01T13:00:00Z"
    );
    let unknown = store::revert_update(&f.conn, 9, later).unwrap_err();
    assert_eq!(unknown.to_string(), "no price update with id 9");
}

/// Every override row as (client id, product id, price in cents, update id), sorted.
fn override_rows(conn: &Connection) -> Vec<(i64, i64, i64, i64)> {
    let mut stmt = conn
        .prepare(
            "SELECT client_id, product_id, price_cents, update_id FROM price_overrides
             ORDER BY client_id, product_id, update_id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap();
    rows.collect::<rusqlite::Result<_>>().unwrap()
}

#[track_caller]
fn check_revert_refused(f: &Fixture, update_id: i64, at: DateTime<Utc>, message: &str) {
    let updates = store::list_updates(&f.conn).unwrap();
    let overrides = override_rows(&f.conn);
    let error = store::revert_update(&f.conn, update_id, at).unwrap_err();
    assert_eq!(error.to_string(), message);
    assert_eq!(
        store::list_updates(&f.conn).unwrap(),
        updates,
        "no update changed"
    );
    assert_eq!(override_rows(&f.conn), overrides, "no override changed");
}

#[tokio::test]
async fn overlapping_updates_stack_and_revert_newest_first() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[20, 10], &TIERED);
    let o = PriceSource::Override;
    let clients = [1, 2, 3, 4];
    let before: Vec<_> = clients
        .iter()
        .map(|&c| f.prices_at(&tiers, c, &[101], now()))
        .collect();
    let first = f.apply(
        &tiers,
        10,
        json!({"products": {"ids": [101]}, "change": {"set": "9.00"}}),
    );
    let later = now() + Duration::minutes(5);
    let second = f.apply_at(
        &tiers,
        20,
        json!({"products": {"ids": [101]}, "change": {"percent": -10}}),
        later,
    );
    // Client 2 is in both: 9.00 - 10 % = 8.10. Client 4 only in 20: vip 7.50 -> 6.75.
    assert_eq!(f.prices_at(&tiers, 2, &[101], later), [(810, o)]);
    assert_eq!(f.prices_at(&tiers, 4, &[101], later), [(675, o)]);
    assert_eq!(f.prices_at(&tiers, 1, &[101], later), [(900, o)]);

    // The newer 8.10 was worked out from the older 9.00: the older cannot go first.
    check_revert_refused(
        &f,
        first.update_id,
        later,
        "price update 1 cannot be reverted while later updates 2 override the same prices; \
         revert them first",
    );
    assert_eq!(f.prices_at(&tiers, 2, &[101], later), [(810, o)]);

    // Newest first: each revert shows exactly the prices from before that update.
    store::revert_update(&f.conn, second.update_id, later).unwrap();
    assert_eq!(f.prices_at(&tiers, 2, &[101], later), [(900, o)]);
    assert_eq!(
        f.prices_at(&tiers, 4, &[101], later),
        [(750, PriceSource::Tier)]
    );
    store::revert_update(&f.conn, first.update_id, later).unwrap();
    let after: Vec<_> = clients
        .iter()
        .map(|&c| f.prices_at(&tiers, c, &[101], later))
        .collect();
    assert_eq!(after, before);
    assert_eq!(
        before,
        [
            [(800, PriceSource::Tier)],
            [(750, PriceSource::Tier)],
            [(800, PriceSource::Tier)],
            [(750, PriceSource::Tier)],
        ]
    );
    assert!(override_rows(&f.conn).is_empty());
}

#[tokio::test]
async fn reverting_an_update_under_a_later_one_is_refused_naming_every_later_one() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[10], &TIERED);
    let o = PriceSource::Override;
    let rise = json!({"products": {"ids": [101]}, "change": {"percent": 1000}});
    let cut = json!({"products": {"ids": [101]}, "change": {"percent": -10}});
    // Client 1 wholesale 8.00 -> 88.00, then -10 % -> 79.20 (segment 40) and -> 71.28
    // (segment 10, at the same instant: the higher id is the newer).
    let runaway = f.apply(&tiers, 10, rise);
    f.apply(&tiers, 40, cut.clone());
    f.apply(&tiers, 10, cut);
    assert_eq!(f.prices_at(&tiers, 1, &[101], now()), [(7128, o)]);

    check_revert_refused(
        &f,
        runaway.update_id,
        now(),
        "price update 1 cannot be reverted while later updates 2, 3 override the same \
         prices; revert them first",
    );
    check_revert_refused(
        &f,
        2,
        now(),
        "price update 2 cannot be reverted while later updates 3 override the same prices; \
         revert them first",
    );
    assert_eq!(f.prices_at(&tiers, 1, &[101], now()), [(7128, o)]);

    for update_id in [3, 2, 1] {
        store::revert_update(&f.conn, update_id, now()).unwrap();
    }
    assert_eq!(
        f.prices_at(&tiers, 1, &[101], now()),
        [(800, PriceSource::Tier)]
    );
}

#[tokio::test]
async fn later_updates_on_other_prices_or_already_ended_do_not_block_a_revert() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[10], &TIERED);
    let first = f.apply(
        &tiers,
        10,
        json!({"products": {"ids": [101]}, "change": {"set": "9.00"}}),
    );
    // Another product for the same clients, and the same product for other clients.
    f.apply(
        &tiers,
        10,
        json!({"products": {"ids": [102]}, "change": {"set": "1.00"}}),
    );
    f.apply(
        &tiers,
        50,
        json!({"products": {"ids": [101]}, "change": {"set": "2.00"}}),
    );
    // The same prices, but over by the time of the revert.
    let ends_at = now() + Duration::days(1);
    let ended = json!({"products": {"ids": [101]}, "change": {"amount": -1}, "ends_at": ends_at});
    f.apply(&tiers, 10, ended);

    store::revert_update(&f.conn, first.update_id, ends_at).unwrap();
    let o = PriceSource::Override;
    assert_eq!(
        f.prices_at(&tiers, 1, &[101, 102], ends_at),
        [(800, PriceSource::Tier), (100, o)]
    );
    assert_eq!(f.prices_at(&tiers, 5, &[101], ends_at), [(200, o)]);
}

#[tokio::test]
async fn reverting_the_newest_update_shows_the_older_override_again() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[20, 10], &TIERED);
    let o = PriceSource::Override;
    f.apply(
        &tiers,
        10,
        json!({"products": {"ids": [101]}, "change": {"set": "9.00"}}),
    );
    let second = f.apply(
        &tiers,
        20,
        json!({"products": {"ids": [101]}, "change": {"set": "5.55"}}),
    );
    // Same instant: the higher update id is the newer.
    assert_eq!(f.prices_at(&tiers, 2, &[101], now()), [(555, o)]);
    store::revert_update(&f.conn, second.update_id, now()).unwrap();
    assert_eq!(f.prices_at(&tiers, 2, &[101], now()), [(900, o)]);
}

#[tokio::test]
async fn overrides_stay_with_a_client_that_leaves_the_segment() {
    let mut f = Fixture::new().await;
    let tiers = f.assign(&[10], &TIERED);
    let update = f.apply(
        &tiers,
        10,
        json!({"products": {"ids": [103]}, "change": {"amount": "-5"}}),
    );

    // Client 3 leaves segment 10 and so the wholesale tier; client 7 joins.
    let joined = members(&f.snapshot, &[1, 2, 7]);
    f.segments.insert(10, joined);
    let tiers = f.assign(&[10], &TIERED);
    let o = PriceSource::Override;
    assert_eq!(f.prices_at(&tiers, 3, &[103], now()), [(2000, o)]);
    assert_eq!(
        f.prices_at(&tiers, 7, &[103], now()),
        [(2500, PriceSource::RetailFallback)]
    );
    assert_eq!(
        store::update_members(&f.conn, update.update_id).unwrap(),
        [1, 2, 3]
    );

    // Revert reaches the members it was applied to, wherever they are now.
    store::revert_update(&f.conn, update.update_id, now()).unwrap();
    assert_eq!(
        f.prices_at(&tiers, 3, &[103], now()),
        [(2500, PriceSource::RetailFallback)]
    );
}

#[tokio::test]
async fn deleted_members_get_no_override() {
    let mut f = Fixture::new().await;
    f.segments.insert(40, members(&f.snapshot, &[5, 6, 7]));
    let tiers = f.assign(&[], &TIERED);
    let update = f.apply(
        &tiers,
        40,
        json!({"products": {"ids": [103]}, "change": {"set": 1}}),
    );
    assert_eq!(
        store::update_members(&f.conn, update.update_id).unwrap(),
        [5, 7]
    );
}

#[tokio::test]
async fn expired_overrides_give_way_to_older_ones_and_the_tier() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[10], &TIERED);
    let o = PriceSource::Override;
    f.apply(
        &tiers,
        10,
        json!({"products": {"ids": [102]}, "change": {"set": "12.00"}}),
    );
    let ends_at = now() + Duration::days(7);
    f.apply(
        &tiers,
        10,
        json!({"products": {"ids": [101, 102]}, "change": {"set": "3.00"}, "ends_at": ends_at}),
    );

    let before_end = ends_at - Duration::seconds(1);
    assert_eq!(
        f.prices_at(&tiers, 1, &[101, 102], before_end),
        [(300, o), (300, o)]
    );
    assert_eq!(
        f.prices_at(&tiers, 1, &[101, 102], ends_at),
        [(800, PriceSource::Tier), (1200, o)]
    );
}

#[tokio::test]
async fn a_dry_run_prices_from_the_overrides_in_force() {
    let f = Fixture::new().await;
    let tiers = f.assign(&[10], &TIERED);
    f.apply(
        &tiers,
        10,
        json!({"products": {"ids": [101]}, "change": {"set": "9.99"}}),
    );
    let spec =
        BulkSpec::from_json(&json!({"products": {"ids": [101]}, "change": {"amount": "0.01"}}))
            .unwrap();
    let preview = bulk::preview(
        &f.conn,
        &f.ctx(&tiers),
        20,
        &f.segments[&20],
        &spec,
        now(),
        10,
    )
    .unwrap();
    let sample: Vec<_> = preview
        .sample
        .iter()
        .map(|s| (s.client_id, s.old_price.0, s.old_source, s.new_price.0))
        .collect();
    // Client 2 has the 9.99 override. Client 4 is only in 20, tiered and unlisted, so it
    // is vip: 7.50.
    assert_eq!(
        sample,
        [
            (2, 999, PriceSource::Override, 1000),
            (4, 750, PriceSource::Tier, 751)
        ]
    );
}

// ---- what-if ----

#[tokio::test]
async fn what_if_lists_the_clients_whose_tier_would_change() {
    let f = Fixture::new().await;
    let current = f.assign(&[20, 10, 30], &TIERED);
    let proposal: TierProposal = serde_json::from_value(json!({
        "priority": [30, 10, 20],
        "tiers": [{"segment_id": 50, "tier": null}, {"segment_id": 40, "tier": "vip"}],
    }))
    .unwrap();
    let order = proposal
        .effective_order(&[20, 10, 30], &TIERED, &SEGMENTS)
        .unwrap();
    assert_eq!(
        order,
        self::order(&[(30, Staff), (10, Wholesale), (20, Vip), (40, Vip)])
    );
    let proposed = TierAssignment::compute(&order, |id| f.segments.get(&id), &f.snapshot.universe);
    let effect = what_if(&current, &proposed, &f.snapshot.index, 3);
    // Before: 1 W, 2 V, 3 W, 4 V, 5 S, 7 R. After: 1 W, 2 W, 3 S, 4 S, 5 S, 7 R.
    assert_eq!(effect.counts_before, counts(1, 2, 2, 1));
    assert_eq!(effect.counts_after, counts(1, 2, 0, 3));
    assert_eq!(effect.changed_total, 3);
    let changed: Vec<_> = effect
        .changed
        .iter()
        .map(|c| (c.client_id, c.from, c.to))
        .collect();
    assert_eq!(
        changed,
        [(2, Vip, Wholesale), (3, Wholesale, Staff), (4, Vip, Staff)]
    );
    assert_eq!(
        what_if(&current, &proposed, &f.snapshot.index, 1)
            .changed
            .len(),
        1
    );
}

#[tokio::test]
async fn what_if_refuses_unknown_segments() {
    let proposal = TierProposal {
        priority: None,
        tiers: vec![ProposedTier {
            segment_id: 77,
            tier: Some(Vip),
        }],
    };
    let error = proposal
        .effective_order(&[], &TIERED, &SEGMENTS)
        .unwrap_err();
    assert_eq!(error.to_string(), "no segment with id 77");
}

#[tokio::test]
async fn overrides_are_written_in_full_batches_and_a_tail() {
    let f = Fixture::new().await;
    let stamp = store::OverrideStamp {
        update_id: 7,
        created_at: now(),
        expires_at: None,
    };
    // 10 rows, 4 to a statement: two full batches and a tail of 2.
    let rows = (1..=5).flat_map(|client| {
        [
            (client, 101, Cents(client * 100)),
            (client, 102, Cents(client)),
        ]
    });
    let written = store::write_overrides(&f.conn, stamp, rows.map(Ok), 4).unwrap();
    assert_eq!(written, 10);
    for client in 1..=5 {
        let own = store::client_overrides(&f.conn, client, now()).unwrap();
        let prices: Vec<_> = [101, 102]
            .iter()
            .map(|p| (own[p].price.0, own[p].update_id))
            .collect();
        assert_eq!(prices, [(client * 100, 7), (client, 7)], "client {client}");
    }
}
