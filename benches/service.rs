//! The service behind the API on a generated tenant of 1M clients (`segments gen`, seed 1,
//! history up to 2026-01-01, the same `bench-data/` folder as `benches/rules.rs`), its
//! Parquet files copied into a temporary folder so the catalog the service creates stays
//! out of `bench-data/`. The targets of the catalog/API work: preview over HTTP p50 under
//! 10 ms, 200 concurrent previews without an error, a refresh of 50 dynamic segments under
//! 2 s.
//!
//! - `preview_http/<clients>`: one `POST /v1/segments/preview` of the user guide's "at-risk"
//!   rule (three metric scans) over a real loopback socket, one request at a time. A
//!   separate timed loop of 200 requests prints p50/p99.
//! - `preview_http_200_concurrent/<clients>`: 200 previews sent at once (five rules in
//!   turn: at-risk, country, tag, product, nested groups); every answer must be 200. Prints
//!   the total time and p50/p99 of one extra round.
//! - `refresh_50_dynamic/<clients>`: 50 dynamic segments (country, tags, revenue, dates,
//!   products, order counts, revenue rank, nested groups, a few reading other segments)
//!   created beforehand, then one `Service::refresh_all`.
//!
//! Server and clients share the machine. `SEGMENTS_BENCH_SIZES=100000` picks other tenant
//! sizes (default 1000000); a missing tenant is generated on first use.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use segments::api::{ApiConfig, AppState, Metrics, nodelay, router};
use segments::service::{NewSegment, SegmentKind, Service, ServiceOptions};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

/// Every preview is evaluated as of the end of the generated history.
const AS_OF: &str = "2026-01-01T00:00:00Z";
/// Previews sent at once.
const CONCURRENT: usize = 200;
/// Requests of the sequential latency loop.
const SEQUENTIAL: usize = 200;
/// Dynamic segments refreshed.
const DYNAMIC: usize = 50;

fn sizes() -> Vec<u64> {
    let sizes = std::env::var("SEGMENTS_BENCH_SIZES").unwrap_or_else(|_| "1000000".into());
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

/// Copies the tenant's facts and settings (Parquet files, partition folders, `tenant.json`)
/// into `to`, leaving out any catalog.
fn copy_tenant(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (path, name) = (entry.path(), entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tenant(&path, &to.join(&name));
        } else {
            let name_text = name.to_string_lossy();
            if name_text.ends_with(".parquet") || name_text == "tenant.json" {
                std::fs::copy(&path, to.join(&name)).unwrap();
            }
        }
    }
}

fn cond(field: &str, op: &str, value: Value) -> Value {
    json!({"field": field, "op": op, "value": value})
}

fn at_risk() -> Value {
    json!({"all": [
        cond("last_purchase_date", "before", json!({"days_ago": 90})),
        cond("total_revenue", "gt", json!("1000")),
        cond("outstanding_balance", "eq", json!("0")),
    ]})
}

/// The rules of the concurrent previews, sent in turn.
fn preview_rules() -> Vec<Value> {
    vec![
        at_risk(),
        cond("country", "is", json!("DE")),
        cond("tag", "has", json!("vip")),
        cond("purchased_product", "is", json!(42)),
        json!({"all": [
            cond("country", "in", json!(["DE", "FR", "AT"])),
            {"any": [cond("tag", "has", json!("vip")), cond("purchased_product", "is", json!(42))]},
            {"none": [cond("tag", "has", json!("blocked"))]},
        ]}),
    ]
}

/// Fifty varied dynamic rules; `earlier` are ids of segments already created, which the
/// last rules read.
fn dynamic_rule(i: usize, earlier: &[i64]) -> Value {
    let countries = ["DE", "US", "GB", "FR", "NL", "AT", "ES", "IT", "PL", "CH"];
    let tags = [
        "vip",
        "newsletter",
        "b2b",
        "loyalty",
        "black-friday",
        "eco",
        "churn-risk",
        "premium",
    ];
    let country = countries[i % countries.len()];
    let tag = tags[i % tags.len()];
    let product = json!(1 + (i * 37) % 100);
    let revenue = json!((100 * (1 + i % 20)).to_string());
    match i % 10 {
        0 => cond("country", "is", json!(country)),
        1 => cond("tag", "has", json!(tag)),
        2 => cond("total_revenue", "gte", revenue),
        3 => cond(
            "last_purchase_date",
            "within_last",
            json!({"days": 30 + i * 7}),
        ),
        4 => cond("purchased_product", "is", product),
        5 => json!({"all": [
            cond("last_purchase_date", "before", json!({"days_ago": 60 + i})),
            cond("total_revenue", "gt", revenue),
            cond("outstanding_balance", "eq", json!("0")),
        ]}),
        6 => json!({"all": [
            cond("country", "in", json!([country, "FR", "AT"])),
            {"any": [cond("tag", "has", json!(tag)), cond("purchased_product", "is", product)]},
            {"none": [cond("tag", "has", json!("blocked"))]},
        ]}),
        7 => json!({"any": [
            cond("lifetime_orders", "gte", json!(3 + i % 5)),
            {"all": [
                cond("created_at", "after", json!("2024-01-01")),
                cond("average_order_value", "gt", json!("50")),
            ]},
        ]}),
        8 => match earlier.get(i % earlier.len().max(1)) {
            Some(id) => json!({"all": [
                cond("segment", "is", json!(id)),
                cond("tag", "has_not", json!(tag)),
            ]}),
            None => cond("country", "is_not", json!(country)),
        },
        _ => json!({"all": [
            cond("revenue_rank", "top", json!(1_000 * (1 + i % 10))),
            cond("country", "is", json!(country)),
        ]}),
    }
}

/// The service over the copied tenant, served on 127.0.0.1; returns the base URI.
async fn serve(dir: &Path) -> (Arc<Service>, String) {
    let service = Service::open(ServiceOptions::new(dir)).await.unwrap();
    let state = AppState::new(
        Arc::clone(&service),
        Arc::new(Metrics::new()),
        ApiConfig::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(nodelay(listener), router(state)).await });
    (service, base)
}

/// One preview; panics unless the answer is 200. Returns its latency.
async fn preview(client: &reqwest::Client, uri: &str, rule: &Value) -> Duration {
    let started = Instant::now();
    let body = json!({"rule": rule, "as_of": AS_OF});
    let answer = client.post(uri).json(&body).send().await.unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    assert_eq!(status, 200, "preview answered {status}: {text}");
    started.elapsed()
}

/// [`CONCURRENT`] previews at once, the rules in turn; every latency.
async fn concurrent_previews(client: &reqwest::Client, uri: &str) -> Vec<Duration> {
    let rules = preview_rules();
    let tasks = (0..CONCURRENT).map(|i| {
        let (client, uri) = (client.clone(), uri.to_string());
        let rule = rules[i % rules.len()].clone();
        tokio::spawn(async move { preview(&client, &uri, &rule).await })
    });
    let all = futures::future::join_all(tasks).await;
    all.into_iter().map(|l| l.unwrap()).collect()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// p50, p99 and max of `latencies`, printed under `name`.
fn print_percentiles(name: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    let at = |q: f64| millis(latencies[((latencies.len() - 1) as f64 * q) as usize]);
    eprintln!(
        "{name}: {} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

fn bench_size(c: &mut Criterion, runtime: &Runtime, clients: u64) {
    let source = tenant_dir(clients);
    let dir = tempfile::tempdir().unwrap();
    copy_tenant(&source, dir.path());
    let opened = Instant::now();
    let (service, base) = runtime.block_on(serve(dir.path()));
    eprintln!(
        "service/{clients}: opened in {:.1} s",
        opened.elapsed().as_secs_f64()
    );
    let client = reqwest::Client::new();
    let uri = format!("{base}/v1/segments/preview");
    let rule = at_risk();

    let mut latencies = Vec::with_capacity(SEQUENTIAL);
    runtime.block_on(async {
        for _ in 0..SEQUENTIAL {
            latencies.push(preview(&client, &uri, &rule).await);
        }
    });
    print_percentiles(&format!("preview_http/{clients}/sequential"), latencies);

    let mut group = c.benchmark_group("preview_http");
    group.bench_function(BenchmarkId::from_parameter(clients), |b| {
        b.iter(|| runtime.block_on(preview(&client, &uri, &rule)))
    });
    group.finish();

    let started = Instant::now();
    let latencies = runtime.block_on(concurrent_previews(&client, &uri));
    eprintln!(
        "preview_http_200_concurrent/{clients}: all {CONCURRENT} answered 200 in {:.1} ms",
        millis(started.elapsed())
    );
    print_percentiles(
        &format!("preview_http_200_concurrent/{clients}/latency"),
        latencies,
    );
    let mut group = c.benchmark_group("preview_http_200_concurrent");
    group.sample_size(10);
    group.bench_function(BenchmarkId::from_parameter(clients), |b| {
        b.iter(|| runtime.block_on(concurrent_previews(&client, &uri)))
    });
    group.finish();

    let mut ids = Vec::with_capacity(DYNAMIC);
    for i in 0..DYNAMIC {
        let new = NewSegment {
            name: format!("dynamic {i}"),
            description: None,
            colour: None,
            kind: SegmentKind::Dynamic,
            rule: Some(dynamic_rule(i, &ids)),
            tier: None,
        };
        let created = runtime.block_on(service.create_segment(new));
        ids.push(created.unwrap_or_else(|e| panic!("segment {i}: {e}")).id);
    }
    let report = runtime.block_on(service.refresh_all()).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    eprintln!(
        "refresh_50_dynamic/{clients}: {} refreshed, {} stale, round {} ms",
        report.refreshed.len(),
        report.stale.len(),
        report.elapsed_ms
    );
    let mut group = c.benchmark_group("refresh_50_dynamic");
    group.sample_size(10);
    group.bench_function(BenchmarkId::from_parameter(clients), |b| {
        b.iter(|| {
            let report = runtime.block_on(service.refresh_all()).unwrap();
            assert!(report.failed.is_empty());
            report
        })
    });
    group.finish();
}

fn main() {
    let runtime = Runtime::new().unwrap();
    let mut criterion = Criterion::default().configure_from_args();
    for clients in sizes() {
        bench_size(&mut criterion, &runtime, clients);
    }
    criterion.final_summary();
}
