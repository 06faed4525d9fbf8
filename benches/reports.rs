//! Reports at scale: 1M clients (1 % deleted) and 20M orders spread uniformly over
//! 2022-2024 (90 % completed, 5 % guest sales), zone Europe/Berlin, built from seeded
//! random arrays. Two random segments of 10 % of the live clients each.
//!
//! - `sales_over_time/monthly_2024/{two_segments,unfiltered}`: revenue, orders, average
//!   order value and distinct clients per month of 2024 (about 6M completed orders in
//!   range), filtered by the union of the two segments, and unfiltered.
//! - `widget_values/ten`: ten widgets (last 7/30/90 days, month and year to date, fixed
//!   dates; half on a segment), each with the period before.
//! - `member_selection/*`: the selection kernel alone over 5M random positions, a dense
//!   mask against roaring `contains` per row.
//! - `dashboard_http` (printed, not a criterion id): the same tenant served by the API
//!   from Parquet, ten widgets on two dynamic segments, `GET /v1/dashboard` from 200
//!   concurrent clients on their own connections: the first answer's time and the
//!   latency percentiles.
//!
//! Run with `cargo bench --bench reports`; building and writing the tenant take a while.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    ArrayRef, BooleanArray, Int64Array, ListArray, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt32Array,
};
use arrow::datatypes::Field;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use criterion::{BenchmarkId, Criterion};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use roaring::RoaringBitmap;
use segments::api::{ApiConfig, AppState, Metrics, nodelay, router};
use segments::facts::builder::FactsBuilder;
use segments::facts::schema::{clients_schema, orders_schema};
use segments::facts::write::write_tenant_settings;
use segments::facts::{Facts, LoadReport};
use segments::reports::{
    DateRange, Granularity, MemberMask, Metric, ReportFacts, SegmentFilter, Widget, WidgetPeriod,
    resolve, sales_over_time, widget_values,
};
use segments::service::{Service, ServiceOptions};
use segments::snapshot::Snapshot;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

const CLIENTS: i64 = 1_000_000;
const ORDERS: i64 = 20_000_000;
const SEED: u64 = 20_240_101;
const ZONE: &str = "Europe/Berlin";
/// The instant every widget is valued at: 31 December 2024 in Berlin.
macro_rules! now {
    () => {
        "2024-12-31T12:00:00Z"
    };
}
const NOW: &str = now!();

fn micros(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_micros()
}

fn clients(rng: &mut ChaCha8Rng) -> RecordBatch {
    let n = CLIENTS as usize;
    let countries = ["DE", "FR", "US", "GB", "ES", "IT", "NL", "PL"];
    let created = micros("2020-01-01T00:00:00Z");
    let deleted = micros("2024-06-01T00:00:00Z");
    let tags_field = Arc::new(Field::new("item", arrow::datatypes::DataType::Utf8, true));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(1..=CLIENTS)),
        Arc::new(StringArray::from_iter_values(
            (1..=CLIENTS).map(|i| format!("Client {i}")),
        )),
        Arc::new(StringArray::new_null(n)),
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            "retail", n,
        ))),
        Arc::new(StringArray::from_iter_values(
            (0..n).map(|_| countries[rng.random_range(0..countries.len())]),
        )),
        Arc::new(StringArray::new_null(n)),
        Arc::new(TimestampMicrosecondArray::from(vec![created; n]).with_timezone("UTC")),
        Arc::new(ListArray::new_null(tags_field, n)),
        Arc::new(
            (0..n)
                .map(|_| rng.random_bool(0.01).then_some(deleted))
                .collect::<TimestampMicrosecondArray>()
                .with_timezone("UTC"),
        ),
        Arc::new(BooleanArray::new_null(n)),
    ];
    RecordBatch::try_new(clients_schema(&[]), columns).unwrap()
}

fn orders(rng: &mut ChaCha8Rng) -> RecordBatch {
    let n = ORDERS as usize;
    let (start, end) = (
        micros("2022-01-01T00:00:00Z"),
        micros("2025-01-01T00:00:00Z"),
    );
    let others = ["cancelled", "refunded", "open"];
    let status = |r: f64| {
        if r < 0.9 {
            "completed"
        } else {
            others[(r * 1e6) as usize % 3]
        }
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(1..=ORDERS)),
        Arc::new(
            (0..n)
                .map(|_| (!rng.random_bool(0.05)).then(|| rng.random_range(1..=CLIENTS)))
                .collect::<Int64Array>(),
        ),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                (0..n).map(|_| rng.random_range(start..end)),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter_values(
            (0..n).map(|_| status(rng.random())),
        )),
        Arc::new(Int64Array::from_iter_values(
            (0..n).map(|_| rng.random_range(100..50_000)),
        )),
        Arc::new(Int64Array::from_iter_values((0..n).map(|_| {
            if rng.random_bool(0.02) {
                rng.random_range(0..5_000)
            } else {
                0
            }
        }))),
    ];
    RecordBatch::try_new(orders_schema(), columns).unwrap()
}

/// Two random segments of 10 % of the live clients each.
fn segments(snapshot: &Snapshot, rng: &mut ChaCha8Rng) -> HashMap<i64, Arc<RoaringBitmap>> {
    let mut pick = || -> RoaringBitmap {
        snapshot
            .universe
            .iter()
            .filter(|_| rng.random_bool(0.1))
            .collect()
    };
    HashMap::from([(1, Arc::new(pick())), (2, Arc::new(pick()))])
}

/// The synthetic tenant, also written to `dir` as contract Parquet for the HTTP run.
async fn tenant(dir: &Path) -> (ReportFacts, HashMap<i64, Arc<RoaringBitmap>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let empty = FactsBuilder::new().build().unwrap();
    let facts = Facts {
        clients: clients(&mut rng),
        orders: orders(&mut rng),
        custom_fields: Vec::new(),
        report: LoadReport::default(),
        ..empty
    };
    write_tenant(&facts, dir);
    let snapshot = Snapshot::build(facts, ZONE.parse().unwrap()).await.unwrap();
    let segments = segments(&snapshot, &mut rng);
    (ReportFacts::build(snapshot).unwrap(), segments)
}

fn write_tenant(facts: &Facts, dir: &Path) {
    segments::facts::builder::write_tenant(facts, dir).unwrap();
    write_tenant_settings(dir, ZONE).unwrap();
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// Ten widgets: last 7/30/90 days, month and year to date and fixed dates in turn; the odd
/// ones on segment `first` or `second` in turn, the even ones on all clients.
fn ten_widgets(first: i64, second: i64) -> Vec<Widget> {
    let fixed = WidgetPeriod::Fixed {
        from: date("2024-04-01"),
        to: date("2024-06-30"),
    };
    let periods = [
        WidgetPeriod::Last7Days,
        WidgetPeriod::Last30Days,
        WidgetPeriod::Last90Days,
        WidgetPeriod::MonthToDate,
        WidgetPeriod::YearToDate,
    ];
    let mut widgets = Vec::new();
    for (i, period) in periods
        .into_iter()
        .chain([fixed])
        .cycle()
        .take(10)
        .enumerate()
    {
        widgets.push(Widget {
            id: i as i64 + 1,
            title: format!("widget {i}"),
            segment_id: (i % 2 == 1).then_some(if (i / 2) % 2 == 0 { first } else { second }),
            metric: if i % 3 == 0 {
                Metric::OrderCount
            } else {
                Metric::Revenue
            },
            period,
        });
    }
    widgets
}

fn bench_reports(
    c: &mut Criterion,
    runtime: &Runtime,
    facts: &ReportFacts,
    segments: &HashMap<i64, Arc<RoaringBitmap>>,
) {
    let lookup = |id: i64| segments.get(&id).cloned();
    let filter = SegmentFilter {
        include: vec![1, 2],
        exclude: Vec::new(),
    };
    let universe = &facts.snapshot().universe;
    let members = resolve(&filter, universe, lookup).unwrap();
    let year = DateRange::new(date("2024-01-01"), date("2024-12-31")).unwrap();

    let mut group = c.benchmark_group("sales_over_time");
    group.sample_size(20);
    for (name, members) in [("two_segments", members.as_ref()), ("unfiltered", None)] {
        group.bench_function(BenchmarkId::new("monthly_2024", name), |b| {
            b.iter(|| runtime.block_on(sales_over_time(facts, year, Granularity::Month, members)))
        });
    }
    group.finish();

    let widgets = ten_widgets(1, 2);
    let now: DateTime<Utc> = NOW.parse().unwrap();
    let mut group = c.benchmark_group("widget_values");
    group.sample_size(20);
    group.bench_function("ten", |b| {
        b.iter(|| runtime.block_on(widget_values(facts, &lookup, &widgets, now)))
    });
    group.finish();

    bench_selection(c, facts, members.as_ref().unwrap());
}

/// The selection kernel alone: 5M positions tested against the two-segment union.
fn bench_selection(c: &mut Criterion, facts: &ReportFacts, members: &RoaringBitmap) {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let n = facts.snapshot().index.len() as u32;
    let positions = UInt32Array::from_iter_values((0..5_000_000).map(|_| rng.random_range(0..n)));
    let mut group = c.benchmark_group("member_selection");
    group.sample_size(20);
    group.bench_function("dense_mask", |b| {
        b.iter(|| MemberMask::from_bitmap(members, n as usize).select(&positions))
    });
    group.bench_function("roaring_contains", |b| {
        b.iter(|| {
            let hits = positions
                .values()
                .iter()
                .map(|p| Some(members.contains(*p)));
            hits.collect::<BooleanArray>()
        })
    });
    group.finish();
}

/// Clients of the HTTP run.
const HTTP_CLIENTS: usize = 200;

/// Requests each client sends: 100, or `SEGMENTS_BENCH_HTTP_REQUESTS` (a longer run to
/// profile the server under load).
fn http_requests_each() -> usize {
    let asked = std::env::var("SEGMENTS_BENCH_HTTP_REQUESTS").ok();
    asked.and_then(|n| n.parse().ok()).unwrap_or(100)
}

/// `GET /v1/dashboard` over real sockets. The service opens the same tenant from its Parquet
/// files; two dynamic segments (country DE, country FR) and ten widgets are created through
/// the API. Then 200 clients, each on its own keep-alive connection as a browser tab polling
/// the dashboard holds one, send requests back to back; a request's latency runs from
/// sending it to having read the whole answer.
///
/// Server and clients share one runtime with a worker per core, as `segments serve` has:
/// the clients' work delays the server's, but no thread preempts another. (With the clients
/// on a thread of their own, three busy threads share two cores and the scheduler's time
/// slices show up in the tail.)
fn dashboard_over_http(dir: &Path) {
    let runtime = Runtime::new().unwrap();
    let dir = dir.to_path_buf();
    let run = async move {
        let service = Service::open(ServiceOptions::new(dir)).await.unwrap();
        let state = AppState::new(service, Arc::new(Metrics::new()), ApiConfig::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(nodelay(listener), router(state)).await });
        let base = format!("http://{address}");
        let client = reqwest::Client::new();
        let de = create_segment(&client, &base, "DE").await;
        let fr = create_segment(&client, &base, "FR").await;
        for widget in ten_widgets(de, fr) {
            let body = json!({"title": widget.title, "segment_id": widget.segment_id,
                              "metric": widget.metric, "period": widget.period});
            let created = client
                .post(format!("{base}/v1/dashboard/widgets"))
                .json(&body);
            assert!(created.send().await.unwrap().status().is_success());
        }
        let first = Instant::now();
        let answer = client.get(format!("{base}{DASHBOARD}")).send().await;
        assert!(answer.unwrap().status().is_success());
        eprintln!(
            "dashboard_http/first_answer: {:.1} ms",
            millis(first.elapsed())
        );
        print_latencies(concurrent_gets(address).await);
    };
    // Spawned, so that it runs on the workers rather than on this thread.
    runtime.block_on(async { tokio::spawn(run).await.unwrap() });
}

/// The dashboard as of [`NOW`].
const DASHBOARD: &str = concat!("/v1/dashboard?now=", now!());

fn print_latencies(mut latencies: Vec<Duration>) {
    latencies.sort();
    let at = |q: f64| millis(latencies[((latencies.len() - 1) as f64 * q) as usize]);
    eprintln!(
        "dashboard_http/{HTTP_CLIENTS}_clients: {} requests, p50 {:.2} ms, p90 {:.2} ms, \
         p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

async fn create_segment(client: &reqwest::Client, base: &str, country: &str) -> i64 {
    let rule = json!({"field": "country", "op": "is", "value": country});
    let body = json!({"name": country, "kind": "dynamic", "rule": rule});
    let created = client
        .post(format!("{base}/v1/segments"))
        .json(&body)
        .send()
        .await;
    let created: Value = created.unwrap().json().await.unwrap();
    created["id"].as_i64().unwrap()
}

/// The latency of every request of [`HTTP_CLIENTS`] clients, each on its own connection
/// (opened and used once before timing starts) and sending [`http_requests_each`] requests
/// in a loop.
async fn concurrent_gets(address: SocketAddr) -> Vec<Duration> {
    let mut connections = Vec::with_capacity(HTTP_CLIENTS);
    for _ in 0..HTTP_CLIENTS {
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        get_dashboard(&mut sender).await;
        connections.push(sender);
    }
    let requests = http_requests_each();
    let tasks = connections.into_iter().map(|mut sender| {
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(requests);
            for _ in 0..requests {
                let started = Instant::now();
                get_dashboard(&mut sender).await;
                latencies.push(started.elapsed());
            }
            latencies
        })
    });
    let all = futures::future::join_all(tasks).await;
    all.into_iter().flat_map(|l| l.unwrap()).collect()
}

/// Sends one `GET` of the dashboard and reads its whole answer.
async fn get_dashboard(sender: &mut http1::SendRequest<Empty<Bytes>>) {
    let request = hyper::Request::get(DASHBOARD)
        .header(hyper::header::HOST, "localhost")
        .body(Empty::new())
        .unwrap();
    let answer = sender.send_request(request).await.unwrap();
    assert!(answer.status().is_success());
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(b"{\"widgets\":"));
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

fn main() {
    let runtime = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (facts, segments) = runtime.block_on(tenant(dir.path()));
    let mut criterion = Criterion::default().configure_from_args();
    bench_reports(&mut criterion, &runtime, &facts, &segments);
    // The service loads its own copy of the tenant: free this one first.
    drop(facts);
    drop(runtime);
    dashboard_over_http(dir.path());
    criterion.final_summary();
}
