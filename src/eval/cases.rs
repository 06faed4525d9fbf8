//! CASES.md H01–H10: the rule cases real engines got wrong, each with its exact members.

use serde_json::json;

use super::tests::{check, check_warned, completed, tenant, utc};
use crate::facts::OrderStatus;
use crate::facts::builder::{ClientRow, CustomValue, FactsBuilder, OrderRow, micros};
use crate::facts::schema::CustomKind;

fn cond(field: &str, op: &str, value: serde_json::Value) -> serde_json::Value {
    json!({"field": field, "op": op, "value": value})
}

fn client(id: i64, country: Option<&str>) -> ClientRow {
    ClientRow {
        country: country.map(Into::into),
        ..ClientRow::new(id)
    }
}

const A: i64 = 1;
const B: i64 = 2;
const C: i64 = 3;
const D: i64 = 4;

#[tokio::test]
async fn h01_day_boundary_in_the_tenant_zone() {
    let facts = FactsBuilder::new()
        .client(ClientRow::new(A))
        .client(ClientRow::new(B))
        .order(completed(10, A, "2024-02-29T22:30:00Z", 1000))
        .order(completed(11, B, "2024-02-29T23:30:00Z", 1000));
    let snapshot = tenant(facts, "Europe/Berlin").await;
    let now = utc("2024-06-01T00:00:00Z");
    check(
        &snapshot,
        now,
        cond("last_purchase_date", "before", json!("2024-03-01")),
        &[A],
    );
    check(
        &snapshot,
        now,
        cond("last_purchase_date", "on", json!("2024-03-01")),
        &[B],
    );
}

#[tokio::test]
async fn h02_not_purchased_within_near_midnight() {
    let facts = FactsBuilder::new()
        .client(ClientRow::new(A))
        .client(ClientRow::new(B))
        .client(ClientRow::new(C))
        .client(ClientRow::new(D))
        .order(completed(10, A, "2024-06-15T17:00:00Z", 1000))
        .order(completed(11, B, "2024-06-15T06:00:00Z", 1000))
        .order(completed(12, C, "2024-06-16T01:00:00Z", 1000))
        .order(completed(13, D, "2024-05-20T00:00:00Z", 1000));
    let snapshot = tenant(facts, "America/Los_Angeles").await;
    let now = utc("2024-07-16T01:30:00Z");
    let days = json!({"days": 30});
    check(
        &snapshot,
        now,
        cond("last_purchase_date", "not_within_last", days.clone()),
        &[B, D],
    );
    check(
        &snapshot,
        now,
        cond("last_purchase_date", "within_last", days),
        &[A, C],
    );
}

#[tokio::test]
async fn h03_missing_values_under_negation() {
    let industry = |row: ClientRow, value: Option<&str>| ClientRow {
        custom: value
            .map(|v| ("industry".to_string(), CustomValue::Text(v.into())))
            .into_iter()
            .collect(),
        ..row
    };
    let facts = FactsBuilder::new()
        .custom_field("industry", CustomKind::Text)
        .client(industry(client(A, Some("US")), Some("Retail")))
        .client(industry(client(B, Some("DE")), None))
        .client(industry(client(C, None), Some("")))
        .client(industry(client(D, Some("")), Some("Wholesale")));
    let snapshot = tenant(facts, "UTC").await;
    let now = utc("2024-06-01T00:00:00Z");
    check(&snapshot, now, cond("country", "is", json!("US")), &[A]);
    check(
        &snapshot,
        now,
        cond("country", "is_not", json!("US")),
        &[B, C, D],
    );
    check(
        &snapshot,
        now,
        json!({"none": [cond("country", "is", json!("US"))]}),
        &[B, C, D],
    );
    check(
        &snapshot,
        now,
        json!({"field": "country", "op": "is_empty"}),
        &[C, D],
    );
    check(
        &snapshot,
        now,
        json!({"field": "country", "op": "is_not_empty"}),
        &[A, B],
    );
    check(
        &snapshot,
        now,
        cond("custom.industry", "is_not", json!("Retail")),
        &[B, C, D],
    );
    check(
        &snapshot,
        now,
        json!({"field": "custom.industry", "op": "is_empty"}),
        &[B, C],
    );
}

#[tokio::test]
async fn h04_not_purchased_product_with_guest_sales() {
    const P: i64 = 100;
    const Q: i64 = 200;
    let guest = OrderRow {
        client_id: None,
        ..completed(11, 0, "2024-01-02T00:00:00Z", 500)
    };
    let facts = FactsBuilder::new()
        .client(ClientRow::new(A))
        .client(ClientRow::new(B))
        .client(ClientRow::new(C))
        .order(completed(10, A, "2024-01-01T00:00:00Z", 500))
        .order(guest)
        .order(completed(12, B, "2024-01-03T00:00:00Z", 500))
        .line(10, P, 1, 500)
        .line(11, P, 1, 500)
        .line(12, Q, 1, 500);
    let snapshot = tenant(facts, "UTC").await;
    let now = utc("2024-06-01T00:00:00Z");
    check(
        &snapshot,
        now,
        cond("purchased_product", "is_not", json!(P)),
        &[B, C],
    );
}

#[tokio::test]
async fn h05_clients_with_no_orders() {
    const P: i64 = 100;
    let facts = FactsBuilder::new()
        .client(ClientRow::new(A))
        .client(ClientRow::new(B))
        .client(ClientRow::new(C))
        .order(completed(10, A, "2024-05-24T12:00:00Z", 4000))
        .order(completed(11, B, "2024-08-27T12:00:00Z", 8000))
        .line(11, P, 1, 8000);
    let snapshot = tenant(facts, "UTC").await;
    let now = utc("2024-09-01T00:00:00Z");
    let days = json!({"days": 30});
    check(
        &snapshot,
        now,
        cond("last_purchase_date", "not_within_last", days),
        &[A, C],
    );
    check(
        &snapshot,
        now,
        cond("last_purchase_date", "before", json!("2024-08-02")),
        &[A],
    );
    check(
        &snapshot,
        now,
        cond("lifetime_orders", "eq", json!(0)),
        &[C],
    );
    check(
        &snapshot,
        now,
        cond("total_revenue", "lt", json!(50)),
        &[A, C],
    );
    check(
        &snapshot,
        now,
        cond("average_order_value", "lt", json!(50)),
        &[A],
    );
}

#[tokio::test]
async fn h06_only_completed_orders_count() {
    const P: i64 = 100;
    let order = |id, client, status, cents| OrderRow {
        status,
        ..completed(id, client, "2024-01-01T00:00:00Z", cents)
    };
    let facts = FactsBuilder::new()
        .client(ClientRow::new(A))
        .client(ClientRow::new(B))
        .client(ClientRow::new(C))
        .client(ClientRow::new(D))
        .order(order(10, A, OrderStatus::Cancelled, 50_000))
        .order(order(11, B, OrderStatus::Completed, 30_000))
        .order(order(12, B, OrderStatus::Completed, 30_000))
        .order(order(13, C, OrderStatus::Open, 70_000))
        .order(order(14, C, OrderStatus::Completed, 35_000))
        .order(order(15, D, OrderStatus::Open, 40_000))
        .line(15, P, 1, 40_000);
    let snapshot = tenant(facts, "UTC").await;
    let now = utc("2024-06-01T00:00:00Z");
    check(
        &snapshot,
        now,
        cond("total_revenue", "gte", json!(500)),
        &[B],
    );
    check(
        &snapshot,
        now,
        cond("lifetime_orders", "gte", json!(1)),
        &[B, C],
    );
    check(
        &snapshot,
        now,
        cond("purchased_product", "is", json!(P)),
        &[],
    );
    check(
        &snapshot,
        now,
        cond("average_order_value", "gte", json!(400)),
        &[],
    );
}

#[tokio::test]
async fn h07_refunds() {
    let refunded = OrderRow {
        status: OrderStatus::Refunded,
        ..completed(10, A, "2024-01-01T00:00:00Z", 20_000)
    };
    let partial = OrderRow {
        refunded_cents: 10_000,
        ..completed(11, B, "2024-01-01T00:00:00Z", 100_000)
    };
    let facts = FactsBuilder::new()
        .client(ClientRow::new(A))
        .client(ClientRow::new(B))
        .client(ClientRow::new(C))
        .order(refunded)
        .order(partial);
    let snapshot = tenant(facts, "UTC").await;
    let now = utc("2024-06-01T00:00:00Z");
    check(
        &snapshot,
        now,
        cond("total_revenue", "gte", json!(1000)),
        &[],
    );
    check(
        &snapshot,
        now,
        cond("total_revenue", "eq", json!(0)),
        &[A, C],
    );
    check(
        &snapshot,
        now,
        cond("lifetime_orders", "gte", json!(1)),
        &[B],
    );
}

#[tokio::test]
async fn h08_case_and_whitespace() {
    let tagged = |id, tag: &str, country: &str| ClientRow {
        tags: Some(vec![tag.into()]),
        ..client(id, Some(country))
    };
    let facts = FactsBuilder::new()
        .client(tagged(A, "VIP", "US"))
        .client(tagged(B, "vip ", "us"))
        .client(tagged(C, "VIP-Gold", " US"))
        .client(tagged(D, "Vip", "DE"));
    let snapshot = tenant(facts, "UTC").await;
    let now = utc("2024-06-01T00:00:00Z");
    check(&snapshot, now, cond("tag", "has", json!("vip")), &[A, B, D]);
    check(
        &snapshot,
        now,
        cond("country", "is", json!("US")),
        &[A, B, C],
    );
    check(&snapshot, now, cond("country", "is_not", json!("US")), &[D]);
}

#[tokio::test]
async fn h09_empty_groups() {
    let facts = FactsBuilder::new()
        .client(client(A, Some("US")))
        .client(client(B, Some("DE")))
        .client(client(C, None));
    let snapshot = tenant(facts, "UTC").await;
    let now = utc("2024-06-01T00:00:00Z");
    let us = || cond("country", "is", json!("US"));
    check_warned(&snapshot, now, json!({"all": []}), &[A, B, C], &["$"]);
    check_warned(&snapshot, now, json!({"any": []}), &[], &["$"]);
    check_warned(
        &snapshot,
        now,
        json!({"none": [{"all": []}]}),
        &[],
        &["$.none[0]"],
    );
    check_warned(
        &snapshot,
        now,
        json!({"none": [{"any": []}]}),
        &[A, B, C],
        &["$.none[0]"],
    );
    check_warned(
        &snapshot,
        now,
        json!({"all": [us(), {"any": []}]}),
        &[],
        &["$.all[1]"],
    );
    check_warned(
        &snapshot,
        now,
        json!({"any": [us(), {"all": []}]}),
        &[A, B, C],
        &["$.any[1]"],
    );
    check_warned(
        &snapshot,
        now,
        cond("country", "in", json!([])),
        &[],
        &["$"],
    );
    check_warned(
        &snapshot,
        now,
        cond("country", "not_in", json!([])),
        &[A, B, C],
        &["$"],
    );
}

#[tokio::test]
async fn h10_deleted_clients_and_products() {
    const P: i64 = 100;
    let deleted = ClientRow {
        deleted_at: Some(micros("2024-03-01T00:00:00Z")),
        ..ClientRow::new(B)
    };
    let facts = FactsBuilder::new()
        .client(ClientRow::new(A))
        .client(deleted)
        .client(ClientRow::new(C))
        .order(completed(10, A, "2024-01-01T00:00:00Z", 500))
        .order(completed(11, B, "2024-01-01T00:00:00Z", 500))
        .line(10, P, 1, 500)
        .line(11, P, 1, 500);
    let snapshot = tenant(facts, "UTC").await;
    let now = utc("2024-06-01T00:00:00Z");
    check(
        &snapshot,
        now,
        cond("purchased_product", "is", json!(P)),
        &[A],
    );
    check(&snapshot, now, json!({"all": []}), &[A, C]);
    check(
        &snapshot,
        now,
        cond("purchased_product", "is_not", json!(P)),
        &[C],
    );
}
