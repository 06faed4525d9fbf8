//! One client through its segments: profile, metrics, and why each rule holds or not.

use serde_json::Value;

use super::*;
use crate::facts::CustomKind;
use crate::facts::builder::CustomValue;
use crate::money::Cents;

fn facts() -> FactsBuilder {
    let a = ClientRow {
        name: "Ada".into(),
        tags: Some(vec!["VIP".into(), "north".into()]),
        custom: vec![("industry".into(), CustomValue::Text("Retail".into()))],
        ..client(1, Some(" us"))
    };
    let b = ClientRow {
        deleted_at: Some(micros("2024-02-01T00:00:00Z")),
        ..client(2, Some("US"))
    };
    FactsBuilder::new()
        .custom_field("industry", CustomKind::Text)
        .client(a)
        .client(b)
        .client(client(3, Some("DE")))
        .order(order(1, 1, "2024-03-01T10:00:00Z", 10_000))
        .order(order(2, 1, "2024-03-05T10:00:00Z", 5_001))
        .order(order(3, 3, "2024-03-06T10:00:00Z", 90_000))
}

#[track_caller]
fn check_nodes(segment: &ClientSegment, expected: &[(&str, bool, Option<Value>)]) {
    let nodes: Vec<(&str, bool, Option<Value>)> = segment
        .conditions
        .iter()
        .map(|n| (n.path.as_str(), n.held, n.client_value.clone()))
        .collect();
    assert_eq!(nodes, expected, "nodes of {}", segment.name);
}

#[tokio::test]
async fn a_client_shows_its_values_and_why_each_rule_holds() {
    let (_dir, service) = tenant(&facts()).await;
    let key = service.create_segment(listed("Key")).await.unwrap();
    service.add_members(key.id, &[1]).await.unwrap();
    let rule = json!({"all": [
        country_is("US"),
        {"field": "total_revenue", "op": "gt", "value": "200"},
        {"none": [{"field": "tag", "op": "has", "value": "vip"}]},
        {"field": "custom.industry", "op": "is_not", "value": "wholesale"},
        reads(key.id),
        {"field": "revenue_rank", "op": "top", "value": 1}
    ]});
    let dynamic_id = service
        .create_segment(dynamic("Mixed", rule))
        .await
        .unwrap()
        .id;
    let us = service
        .create_segment(dynamic("US", country_is("US")))
        .await
        .unwrap();

    let view = service.client(1, Some(at("2024-04-01T00:00:00Z"))).unwrap();
    let membership: Vec<(i64, bool, Option<bool>)> = view
        .segments
        .iter()
        .map(|s| (s.segment_id, s.member, s.holds))
        .collect();
    assert_eq!(
        membership,
        vec![
            (key.id, true, None),
            (dynamic_id, false, Some(false)),
            (us.id, true, Some(true))
        ]
    );
    check_nodes(
        &view.segments[1],
        &[
            ("$", false, None),
            ("$.all[0]", true, Some(json!("US"))),
            ("$.all[1]", false, Some(json!("150.01"))),
            ("$.all[2]", false, None),
            ("$.all[2].none[0]", true, Some(json!(["VIP", "north"]))),
            ("$.all[3]", true, Some(json!("Retail"))),
            ("$.all[4]", true, Some(json!(true))),
            ("$.all[5]", false, Some(json!(2))),
        ],
    );
    let first = &view.segments[1].conditions[1];
    assert_eq!(
        (first.field.as_deref(), first.op.as_str()),
        (Some("country"), "is")
    );
    assert_eq!(first.value, Some(json!("US")));
    assert_eq!(view.segments[1].conditions[0].op, "all");
}

#[tokio::test]
async fn a_client_shows_its_profile_and_metrics() {
    let (_dir, service) = tenant(&facts()).await;
    let view = service.client(1, None).unwrap();
    let client = &view.client;
    assert_eq!(
        (
            client.name.as_str(),
            client.country.as_deref(),
            client.tags.clone()
        ),
        (
            "Ada",
            Some("US"),
            vec!["VIP".to_string(), "north".to_string()]
        )
    );
    let expected_metrics = ClientMetricsView {
        total_revenue: Cents(15_001),
        lifetime_orders: 2,
        average_order_value: Some(Cents(7_501)),
        last_purchase_date: chrono::NaiveDate::from_ymd_opt(2024, 3, 5),
        outstanding_balance: Cents(0),
        revenue_rank: Some(2),
    };
    assert_eq!(view.metrics, expected_metrics);
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["metrics"]["average_order_value"], "75.01");
    assert_eq!(
        json["client"]["custom"][0],
        json!({"name": "industry", "value": "Retail"})
    );
}

#[tokio::test]
async fn a_deleted_client_is_in_no_segment_and_unknown_ids_are_not_found() {
    let (_dir, service) = tenant(&facts()).await;
    let us = service
        .create_segment(dynamic("US", country_is("US")))
        .await
        .unwrap();
    let everyone = service
        .create_segment(dynamic(
            "Not DE",
            json!({"field": "country", "op": "is_not", "value": "DE"}),
        ))
        .await
        .unwrap();
    let view = service.client(2, None).unwrap();
    assert!(view.client.deleted_at.is_some());
    assert_eq!(view.metrics.revenue_rank, None);
    let held: Vec<(i64, bool, Option<bool>)> = view
        .segments
        .iter()
        .map(|s| (s.segment_id, s.member, s.holds))
        .collect();
    assert_eq!(
        held,
        vec![
            (us.id, false, Some(false)),
            (everyone.id, false, Some(false))
        ]
    );
    let error = service.client(42, None).unwrap_err();
    assert_eq!(error.to_string(), "client 42 does not exist");
}
