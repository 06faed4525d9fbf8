//! Rule evaluation on generated tenants of 100k and 1M clients (`segments gen`, seed 1,
//! history up to 2026-01-01), once the snapshot (facts, metrics, indexes) is built.
//!
//! Measures the user guide's "at-risk" rule (three metric scans) and rules answered only
//! from bitmap indexes (tags, country, product). Tenants are generated on first use under
//! `bench-data/` (ignored by git); `SEGMENTS_BENCH_SIZES=100000` limits the sizes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

use segments::eval::{NoSegments, evaluate};
use segments::rules::Rule;
use segments::snapshot::Snapshot;

fn sizes() -> Vec<u64> {
    let sizes = std::env::var("SEGMENTS_BENCH_SIZES").unwrap_or_else(|_| "100000,1000000".into());
    sizes
        .split(',')
        .map(|s| s.trim().parse().expect("SEGMENTS_BENCH_SIZES: numbers"))
        .collect()
}

/// The tenant of `clients` clients, generated once and kept for later runs.
fn tenant_dir(clients: u64) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-data");
    segments::bench::generated_tenant(&root, clients).expect("generate the bench tenant")
}

fn snapshot(rt: &tokio::runtime::Runtime, clients: u64) -> Arc<Snapshot> {
    let dir = tenant_dir(clients);
    rt.block_on(segments::tenant::open_snapshot(&dir, Some("UTC")))
        .expect("open tenant")
}

fn cond(field: &str, op: &str, value: Value) -> Value {
    json!({"field": field, "op": op, "value": value})
}

fn rules() -> Vec<(&'static str, Value)> {
    vec![
        (
            "at_risk",
            json!({"all": [
                cond("last_purchase_date", "before", json!({"days_ago": 90})),
                cond("total_revenue", "gt", json!("1000")),
                cond("outstanding_balance", "eq", json!("0")),
            ]}),
        ),
        ("index_tag", cond("tag", "has", json!("vip"))),
        ("index_country", cond("country", "is", json!("DE"))),
        ("index_product", cond("purchased_product", "is", json!(42))),
        (
            "index_nested",
            json!({"all": [
                cond("country", "in", json!(["DE", "FR", "AT"])),
                {"any": [cond("tag", "has", json!("vip")), cond("purchased_product", "is", json!(42))]},
                {"none": [cond("tag", "has", json!("blocked"))]},
            ]}),
        ),
    ]
}

fn bench_rules(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let as_of: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut group = c.benchmark_group("rules");
    for clients in sizes() {
        let snapshot = snapshot(&rt, clients);
        for (name, json) in rules() {
            let rule = Rule::from_json(&json, &snapshot.facts.custom_fields).expect("rule");
            group.bench_with_input(BenchmarkId::new(name, clients), &rule, |b, rule| {
                b.iter(|| evaluate(rule, &snapshot, as_of, &NoSegments).expect("evaluate"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_rules);
criterion_main!(benches);
