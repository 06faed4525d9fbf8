//! Every field and op on a small tenant whose metrics are worked out by hand below.

use std::sync::Arc;

use arrow::array::BooleanArray;
use chrono::{DateTime, NaiveDate, Utc};
use roaring::RoaringBitmap;
use serde_json::{Value, json};

use super::*;
use crate::facts::OrderStatus;
use crate::facts::builder::{
    ClientRow, CustomValue, FactsBuilder, InvoiceRow, OrderRow, ProductRow, micros,
};
use crate::facts::schema::CustomKind;
use crate::rules::RuleError;
use crate::time::parse_zone;

pub(super) async fn tenant(facts: FactsBuilder, tz: &str) -> Arc<Snapshot> {
    let facts = facts.build().expect("test facts");
    Snapshot::build(facts, parse_zone(tz).unwrap())
        .await
        .expect("snapshot")
}

pub(super) fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

pub(super) fn completed(order_id: i64, client_id: i64, at: &str, cents: i64) -> OrderRow {
    OrderRow::completed(order_id, client_id, at, cents)
}

fn run(
    snapshot: &Snapshot,
    now: DateTime<Utc>,
    rule: &Value,
    lookup: &dyn SegmentLookup,
) -> Evaluation {
    let rule = Rule::from_json(rule, &snapshot.facts.custom_fields).expect("valid rule");
    evaluate(&rule, snapshot, now, lookup).expect("evaluation")
}

#[track_caller]
pub(super) fn check(snapshot: &Snapshot, now: DateTime<Utc>, rule: Value, expected: &[i64]) {
    let evaluation = run(snapshot, now, &rule, &NoSegments);
    let members = snapshot.index.ids_of(&evaluation.members);
    assert_eq!(members, expected, "rule {rule}");
    assert_eq!(
        evaluation.nodes[0].count,
        expected.len() as u64,
        "root count of {rule}"
    );
}

#[track_caller]
pub(super) fn check_warned(
    snapshot: &Snapshot,
    now: DateTime<Utc>,
    rule: Value,
    expected: &[i64],
    warning_paths: &[&str],
) {
    let evaluation = run(snapshot, now, &rule, &NoSegments);
    assert_eq!(
        snapshot.index.ids_of(&evaluation.members),
        expected,
        "rule {rule}"
    );
    let paths: Vec<&str> = evaluation
        .warnings
        .iter()
        .map(|w| w.path.as_str())
        .collect();
    assert_eq!(paths, warning_paths, "warnings of {rule}");
}

fn cond(field: &str, op: &str, value: Value) -> Value {
    json!({"field": field, "op": op, "value": value})
}

/// Client 1: wholesale, DE, Berlin, created 2021-03-10, tags vip and Newsletter; orders of
/// 150.00 (product 42) and 50.00 less a 10.00 refund, a cancelled 999.00; invoices leaving
/// 60.00 open and a void one. Revenue 190.00, 2 orders, last 2024-05-20, balance 60.00.
/// Client 2: retail, "us", " new york ", created 2023-11-05; one order of 1000.00 on
/// 2023-12-31; a paid invoice. Client 3: distributor, nothing else, created 2024-06-01.
/// Client 4: retail, FR, blank city, created 2019-01-01, tag blocked; an open order and a
/// 30.00 open invoice. Client 5 is deleted and would match most conditions.
fn fixture() -> FactsBuilder {
    let custom = |values: Vec<(&str, CustomValue)>| {
        values
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect()
    };
    let date = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
    let invoice = |invoice_id, client_id, total_cents, paid_cents, status: &str| InvoiceRow {
        invoice_id,
        client_id,
        issued_at: micros("2024-01-01T00:00:00Z"),
        due_at: None,
        total_cents,
        paid_cents,
        status: status.into(),
    };
    FactsBuilder::new()
        .custom_field("industry", CustomKind::Text)
        .custom_field("employees", CustomKind::Integer)
        .custom_field("credit_limit", CustomKind::Money)
        .custom_field("score", CustomKind::Float)
        .custom_field("newsletter", CustomKind::Boolean)
        .custom_field("contract_end", CustomKind::Date)
        .client(ClientRow {
            client_type: "Wholesale".into(),
            country: Some("DE".into()),
            city: Some("Berlin".into()),
            created_at: micros("2021-03-10T08:00:00Z"),
            tags: Some(vec!["vip".into(), "Newsletter".into()]),
            custom: custom(vec![
                ("industry", CustomValue::Text("Retail".into())),
                ("employees", CustomValue::Integer(50)),
                ("credit_limit", CustomValue::Money(100_000)),
                ("score", CustomValue::Float(0.5)),
                ("newsletter", CustomValue::Boolean(true)),
                ("contract_end", CustomValue::Date(date("2025-01-31"))),
            ]),
            ..ClientRow::new(1)
        })
        .client(ClientRow {
            country: Some("us".into()),
            city: Some(" new york ".into()),
            created_at: micros("2023-11-05T10:00:00Z"),
            tags: Some(vec![]),
            custom: custom(vec![
                ("industry", CustomValue::Text("  retail ".into())),
                ("employees", CustomValue::Integer(5)),
                ("credit_limit", CustomValue::Money(0)),
                ("newsletter", CustomValue::Boolean(false)),
            ]),
            ..ClientRow::new(2)
        })
        .client(ClientRow {
            client_type: "distributor".into(),
            created_at: micros("2024-06-01T23:30:00Z"),
            ..ClientRow::new(3)
        })
        .client(ClientRow {
            country: Some("FR".into()),
            city: Some("".into()),
            created_at: micros("2019-01-01T00:00:00Z"),
            tags: Some(vec!["blocked".into()]),
            ..ClientRow::new(4)
        })
        .client(ClientRow {
            country: Some("DE".into()),
            tags: Some(vec!["vip".into()]),
            deleted_at: Some(micros("2024-01-01T00:00:00Z")),
            ..ClientRow::new(5)
        })
        .order(completed(100, 1, "2024-05-01T10:00:00Z", 15_000))
        .order(OrderRow {
            refunded_cents: 1_000,
            ..completed(101, 1, "2024-05-20T10:00:00Z", 5_000)
        })
        .order(OrderRow {
            status: OrderStatus::Cancelled,
            ..completed(102, 1, "2024-05-25T10:00:00Z", 99_900)
        })
        .order(completed(200, 2, "2023-12-31T23:59:59Z", 100_000))
        .order(OrderRow {
            status: OrderStatus::Open,
            ..completed(400, 4, "2024-04-01T10:00:00Z", 1_000)
        })
        .order(completed(500, 5, "2024-05-30T10:00:00Z", 500_000))
        .order(OrderRow {
            client_id: None,
            ..completed(900, 0, "2024-05-30T10:00:00Z", 7_700)
        })
        .line(100, 42, 1, 15_000)
        .line(500, 42, 1, 500_000)
        .line(900, 42, 1, 7_700)
        .invoice(invoice(1, 1, 10_000, 4_000, "open"))
        .invoice(invoice(2, 1, 50_000, 0, "void"))
        .invoice(invoice(3, 2, 20_000, 20_000, "paid"))
        .invoice(invoice(4, 4, 3_000, 0, "open"))
        .product(ProductRow {
            product_id: 42,
            sku: "SKU-42".into(),
            name: "Widget".into(),
            retail_price_cents: 15_000,
            ..ProductRow::default()
        })
}

fn now() -> DateTime<Utc> {
    utc("2024-06-15T12:00:00Z")
}

#[tokio::test]
async fn text_fields_and_every_text_op() {
    let s = tenant(fixture(), "UTC").await;
    check(
        &s,
        now(),
        cond("client_type", "is", json!("wholesale")),
        &[1],
    );
    check(
        &s,
        now(),
        cond("client_type", "is_not", json!("Retail ")),
        &[1, 3],
    );
    check(
        &s,
        now(),
        cond("client_type", "in", json!(["retail", "DISTRIBUTOR"])),
        &[2, 3, 4],
    );
    check(
        &s,
        now(),
        cond("client_type", "not_in", json!(["retail"])),
        &[1, 3],
    );
    check(
        &s,
        now(),
        json!({"field": "client_type", "op": "is_empty"}),
        &[],
    );
    check(
        &s,
        now(),
        json!({"field": "client_type", "op": "is_not_empty"}),
        &[1, 2, 3, 4],
    );
    check(&s, now(), cond("city", "is", json!("New York")), &[2]);
    check(
        &s,
        now(),
        json!({"field": "city", "op": "is_empty"}),
        &[3, 4],
    );
    check(
        &s,
        now(),
        cond("country", "in", json!(["de", "FR"])),
        &[1, 4],
    );
    check(
        &s,
        now(),
        cond("custom.industry", "is", json!("retail")),
        &[1, 2],
    );
    check(
        &s,
        now(),
        cond("custom.industry", "in", json!(["RETAIL", "x"])),
        &[1, 2],
    );
    check(
        &s,
        now(),
        json!({"field": "custom.industry", "op": "is_not_empty"}),
        &[1, 2],
    );
}

#[tokio::test]
async fn date_fields_fixed_and_relative() {
    let s = tenant(fixture(), "UTC").await;
    check(
        &s,
        now(),
        cond("created_at", "before", json!("2021-03-10")),
        &[4],
    );
    check(
        &s,
        now(),
        cond("created_at", "after", json!("2023-11-05")),
        &[3],
    );
    check(
        &s,
        now(),
        cond("created_at", "on", json!("2024-06-01")),
        &[3],
    );
    check(
        &s,
        now(),
        cond("created_at", "between", json!(["2021-03-10", "2023-11-05"])),
        &[1, 2],
    );
    check(
        &s,
        now(),
        cond("created_at", "within_last", json!({"months": 1})),
        &[3],
    );
    check(
        &s,
        now(),
        cond("created_at", "not_within_last", json!({"days": 14})),
        &[1, 2, 4],
    );
    check(
        &s,
        now(),
        cond("last_purchase_date", "after", json!({"days_ago": 30})),
        &[1],
    );
    check(
        &s,
        now(),
        cond("last_purchase_date", "before", json!({"months_ago": 5})),
        &[2],
    );
    let range = json!(["2023-12-31", "2024-05-19"]);
    check(
        &s,
        now(),
        cond("last_purchase_date", "between", range),
        &[2],
    );
    check(
        &s,
        now(),
        cond("last_purchase_date", "on", json!("2024-05-20")),
        &[1],
    );
    check(
        &s,
        now(),
        cond("last_purchase_date", "not_within_last", json!({"days": 30})),
        &[2, 3, 4],
    );
    check(
        &s,
        now(),
        cond("custom.contract_end", "before", json!("2025-02-01")),
        &[1],
    );
    // A future date is "on or after today minus N days", so it is within the last N days.
    check(
        &s,
        now(),
        cond("custom.contract_end", "not_within_last", json!({"days": 1})),
        &[2, 3, 4],
    );
}

#[tokio::test]
async fn money_and_count_fields() {
    let s = tenant(fixture(), "UTC").await;
    check(&s, now(), cond("total_revenue", "gt", json!(190)), &[2]);
    check(
        &s,
        now(),
        cond("total_revenue", "gte", json!("190")),
        &[1, 2],
    );
    check(
        &s,
        now(),
        cond("total_revenue", "lte", json!("190.00")),
        &[1, 3, 4],
    );
    check(&s, now(), cond("total_revenue", "eq", json!(0)), &[3, 4]);
    check(
        &s,
        now(),
        cond("total_revenue", "between", json!([100, 1000])),
        &[1, 2],
    );
    check(
        &s,
        now(),
        cond("average_order_value", "eq", json!(95)),
        &[1],
    );
    check(
        &s,
        now(),
        cond("average_order_value", "gt", json!("95")),
        &[2],
    );
    check(
        &s,
        now(),
        cond("average_order_value", "lte", json!(1000)),
        &[1, 2],
    );
    check(
        &s,
        now(),
        cond("average_order_value", "between", json!(["95.01", "999.99"])),
        &[],
    );
    check(
        &s,
        now(),
        cond("outstanding_balance", "gt", json!(0)),
        &[1, 4],
    );
    check(
        &s,
        now(),
        cond("outstanding_balance", "eq", json!(0)),
        &[2, 3],
    );
    check(
        &s,
        now(),
        cond("outstanding_balance", "lt", json!(30)),
        &[2, 3],
    );
    check(
        &s,
        now(),
        cond("outstanding_balance", "between", json!([30, 60])),
        &[1, 4],
    );
    check(&s, now(), cond("lifetime_orders", "gte", json!(1)), &[1, 2]);
    check(&s, now(), cond("lifetime_orders", "eq", json!(2)), &[1]);
    check(&s, now(), cond("lifetime_orders", "lt", json!(1)), &[3, 4]);
    check(
        &s,
        now(),
        cond("lifetime_orders", "between", json!([1, 1])),
        &[2],
    );
    check(&s, now(), cond("custom.employees", "gt", json!(10)), &[1]);
    check(
        &s,
        now(),
        cond("custom.employees", "lte", json!(50)),
        &[1, 2],
    );
    check(
        &s,
        now(),
        cond("custom.credit_limit", "gte", json!("1000")),
        &[1],
    );
    check(&s, now(), cond("custom.credit_limit", "eq", json!(0)), &[2]);
    check(&s, now(), cond("custom.score", "lt", json!(1.0)), &[1]);
}

#[tokio::test]
async fn products_tags_flags_and_ranking() {
    let s = tenant(fixture(), "UTC").await;
    check(&s, now(), cond("purchased_product", "is", json!(42)), &[1]);
    check(
        &s,
        now(),
        cond("purchased_product", "is", json!("SKU-42")),
        &[1],
    );
    check(
        &s,
        now(),
        cond("purchased_product", "is", json!({"sku": "sku-42"})),
        &[1],
    );
    check(
        &s,
        now(),
        cond("purchased_product", "is_not", json!(42)),
        &[2, 3, 4],
    );
    check(&s, now(), cond("tag", "has", json!("NEWSLETTER")), &[1]);
    check(&s, now(), cond("tag", "has_not", json!("vip")), &[2, 3, 4]);
    check(&s, now(), cond("tag", "has", json!("blocked")), &[4]);
    check(
        &s,
        now(),
        cond("custom.newsletter", "is", json!(true)),
        &[1],
    );
    check(
        &s,
        now(),
        cond("custom.newsletter", "is", json!(false)),
        &[2],
    );
    check(&s, now(), cond("revenue_rank", "top", json!(0)), &[]);
    check(&s, now(), cond("revenue_rank", "top", json!(1)), &[2]);
    check(&s, now(), cond("revenue_rank", "top", json!(2)), &[1, 2]);
    check(&s, now(), cond("revenue_rank", "top", json!(3)), &[1, 2, 3]);
    check(
        &s,
        now(),
        cond("revenue_rank", "top", json!(100)),
        &[1, 2, 3, 4],
    );
}

#[tokio::test]
async fn segments_are_read_through_the_lookup() {
    let s = tenant(fixture(), "UTC").await;
    // Positions 0..=4 are clients 1..=5; the deleted client 5 must be cut away.
    let lookup = |id: i64| (id == 7).then(|| Arc::new(RoaringBitmap::from_iter([1u32, 4])));
    let members = |rule: Value| s.index.ids_of(&run(&s, now(), &rule, &lookup).members);
    assert_eq!(members(cond("segment", "is", json!(7))), [2]);
    assert_eq!(members(cond("segment", "is_not", json!(7))), [1, 3, 4]);

    let rule = Rule::from_json(&cond("segment", "is", json!(8)), &[]).unwrap();
    let error = evaluate(&rule, &s, now(), &lookup).unwrap_err();
    assert_eq!(error.to_string(), "$.value: segment 8 does not exist");
}

#[tokio::test]
async fn every_node_is_counted_parents_first() {
    let s = tenant(fixture(), "UTC").await;
    let rule = json!({"all": [
        cond("lifetime_orders", "gte", json!(1)),
        {"any": [cond("country", "is", json!("DE")), cond("tag", "has", json!("blocked"))]},
    ]});
    let evaluation = run(&s, now(), &rule, &NoSegments);
    let counts: Vec<(&str, u64)> = evaluation
        .nodes
        .iter()
        .map(|n| (n.path.as_str(), n.count))
        .collect();
    assert_eq!(
        counts,
        [
            ("$", 1),
            ("$.all[0]", 2),
            ("$.all[1]", 2),
            ("$.all[1].any[0]", 1),
            ("$.all[1].any[1]", 1)
        ]
    );
}

#[tokio::test]
async fn unknown_products_are_an_error_by_sku_and_a_warning_by_id() {
    let s = tenant(fixture(), "UTC").await;
    let rule = Rule::from_json(
        &json!({"all": [cond("purchased_product", "is", json!("NOPE"))]}),
        &[],
    )
    .unwrap();
    let error = evaluate(&rule, &s, now(), &NoSegments).unwrap_err();
    assert!(
        matches!(&error, EvalError::Rule(RuleError::UnknownProduct { path, .. }) if path == "$.all[0].value"),
        "{error}"
    );
    check_warned(
        &s,
        now(),
        cond("purchased_product", "is", json!(77)),
        &[],
        &["$"],
    );
}

#[tokio::test]
async fn explain_shows_each_access_path() {
    let s = tenant(fixture(), "UTC").await;
    let rule = json!({"all": [
        cond("last_purchase_date", "before", json!({"days_ago": 90})),
        cond("tag", "has_not", json!("VIP")),
        cond("average_order_value", "gt", json!(10)),
    ]});
    let rule = Rule::from_json(&rule, &[]).unwrap();
    let plan = crate::plan::plan(&rule, &s, now()).unwrap();
    insta::assert_snapshot!(plan.explain(), @r#"
    $: all
      $.all[0]: scan metrics where last_purchase_date < Date32("2024-03-17")
      $.all[1]: universe minus index tag = "vip"
      $.all[2]: scan metrics where lifetime_orders > Int64(0) AND total_revenue_cents > Int64(1000) * lifetime_orders
    "#);
}

#[test]
fn filter_results_become_bitmaps_with_nulls_as_false() {
    // 70,003 values cross a container boundary and end in a partial byte; the slice starts
    // at a bit offset that is not a whole byte.
    let values: Vec<Option<bool>> = (0..70_010u32)
        .map(|i| match i % 7 {
            0 => None,
            1 | 4 => Some(true),
            _ => Some(i % 11 == 0),
        })
        .collect();
    let array = BooleanArray::from(values.clone()).slice(7, 70_003);
    let expected: RoaringBitmap = values[7..]
        .iter()
        .enumerate()
        .filter(|(_, v)| **v == Some(true))
        .map(|(i, _)| i as u32)
        .collect();
    assert_eq!(true_positions(&array), expected);
}
