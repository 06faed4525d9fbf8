//! Every workload on a tenant small enough to work out by hand.

use chrono::{DateTime, Utc};

use super::*;
use crate::facts::builder::write_tenant;
use crate::facts::builder::{ClientRow, FactsBuilder, OrderRow, micros};
use crate::facts::{Facts, OrderStatus};

/// 1: DE, vip; 2,000.00 in March 2025: at risk, and nested by country and tag.
/// 2: wholesale with 11 orders (10 × 10.00 in June 2025, 30.00 on 2026-01-10): nested.
/// 3: bought product 42 but is blocked. 4: distributor tagged staff, one order, one
/// cancelled. 5: no orders. 6: deleted, would be at risk.
fn tenant() -> Facts {
    let client = |id, client_type: &str, country: Option<&str>, tags: &[&str]| ClientRow {
        client_type: client_type.into(),
        country: country.map(Into::into),
        tags: Some(tags.iter().map(|t| t.to_string()).collect()),
        ..ClientRow::new(id)
    };
    let mut facts = FactsBuilder::new()
        .client(client(1, "retail", Some("DE"), &["VIP"]))
        .client(client(2, "Wholesale", Some("FR"), &[]))
        .client(client(3, "retail", Some("DE"), &["blocked"]))
        .client(client(4, "distributor", None, &["staff"]))
        .client(client(5, "retail", None, &[]))
        .client(ClientRow {
            deleted_at: Some(micros("2025-06-01T00:00:00Z")),
            ..client(6, "retail", None, &[])
        })
        .order(OrderRow::completed(1, 1, "2025-03-10T10:00:00Z", 150_000))
        .order(OrderRow::completed(2, 1, "2025-03-20T10:00:00Z", 50_000))
        .order(OrderRow::completed(3, 2, "2026-01-10T10:00:00Z", 3_000))
        .order(OrderRow::completed(4, 3, "2026-01-05T10:00:00Z", 10_000))
        .order(OrderRow::completed(5, 4, "2025-12-20T10:00:00Z", 5_000))
        .order(OrderRow {
            status: OrderStatus::Cancelled,
            ..OrderRow::completed(6, 4, "2025-12-25T10:00:00Z", 9_000)
        })
        .order(OrderRow::completed(7, 6, "2025-01-10T10:00:00Z", 500_000))
        .line(4, 42, 1, 10_000);
    for day in 1..=10 {
        let at = format!("2025-06-{day:02}T10:00:00Z");
        facts = facts.order(OrderRow::completed(100 + day, 2, &at, 1_000));
    }
    facts.build().unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-01-15T00:00:00Z".parse().unwrap()
}

#[tokio::test]
async fn every_workload_gives_the_hand_worked_result() {
    let dir = tempfile::tempdir().unwrap();
    write_tenant(&tenant(), dir.path()).unwrap();
    let loaded = load(dir.path()).await.unwrap();
    let ctx = Workloads::prepare(&loaded.snapshot, &loaded.reports, now()).unwrap();
    let expected = [
        ("W1_metrics", 4, "1\n2\n3\n4\n"),
        ("W2_at_risk", 1, "1\n"),
        ("W3_nested", 2, "1\n2\n"),
        ("W4_report", 2, "2025-03,2000.00\n2025-06,100.00\n"),
        ("W5_widget", 1, "30.00\n"),
        ("W6_tiers", 3, "retail,2\nvip,2\nwholesale,1\n"),
    ];
    let workloads = workloads::all();
    assert_eq!(workloads.len(), expected.len());
    for (workload, (name, count, text)) in workloads.iter().zip(expected) {
        let outcome = workload.run(&ctx).await.unwrap();
        assert_eq!(workload.name(), name);
        assert_eq!(
            outcome,
            Outcome {
                count,
                text: text.to_string()
            },
            "{name}"
        );
    }
}

#[test]
fn hashes_are_lower_case_sha256_of_the_text() {
    // sha256("1\n"), computed with coreutils' sha256sum.
    assert_eq!(
        sha256_hex("1\n"),
        "4355a46b19d348dc2f57c046f8ef63d4538ebb936000f3c9ee954a27460dd865"
    );
}

#[tokio::test]
async fn run_prints_load_then_one_line_per_workload() {
    let dir = tempfile::tempdir().unwrap();
    write_tenant(&tenant(), dir.path()).unwrap();
    let lines = run(dir.path(), now(), 1).await.unwrap();
    let names: Vec<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "load",
            "W1_metrics",
            "W2_at_risk",
            "W3_nested",
            "W4_report",
            "W5_widget",
            "W6_tiers"
        ]
    );
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert!(first["peak_rss_bytes"].as_u64().unwrap() > 0);
}
