//! Request observation: a tracing span per request, and the counters and histograms that
//! `/metrics` renders in the Prometheus text format (requests and latencies by route,
//! refresh durations, load times, segment sizes).
//!
//! Routes are labelled by their template (`/v1/segments/{id}`), never the raw path, so the
//! number of series stays bounded; a request that matched no route is labelled `unmatched`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::AppState;
use crate::service::MetricsReport;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS_SECS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A cumulative-on-render latency histogram.
#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Observations per bucket, plus one past the last bound (`+Inf`).
    counts: [u64; BUCKETS_SECS.len() + 1],
    sum_secs: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS_SECS.iter().position(|bound| secs <= *bound);
        self.counts[bucket.unwrap_or(BUCKETS_SECS.len())] += 1;
        self.sum_secs += secs;
        self.count += 1;
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines of one labelled series.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, count) in BUCKETS_SECS.iter().zip(&self.counts) {
            cumulative += count;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum_secs);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// Everything the server counts. Shared by all requests; each lock is held for one update.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests by route, then method: keyed so that a request of a route seen before is
    /// counted without allocating.
    routes: Mutex<BTreeMap<String, BTreeMap<String, RouteSeries>>>,
    /// Refresh durations by scope (`segment`, `all`).
    refreshes: Mutex<BTreeMap<&'static str, Histogram>>,
    /// Facts load durations by kind (`open`, `reload`, `append`).
    // TODO: reloads the scheduler runs (on `--reload-interval`, after appends) are counted
    // by the service's counters but not timed here: `MetricsReport` keeps no reload
    // durations, and the API only sees the reloads it is asked for.
    loads: Mutex<BTreeMap<&'static str, Histogram>>,
    next_request_id: AtomicU64,
}

/// What is counted of one method on one route.
#[derive(Debug, Default)]
struct RouteSeries {
    /// Answers by status.
    statuses: BTreeMap<u16, u64>,
    latency: Histogram,
}

/// One segment's current size, for the `segments_segment_members` gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSize {
    pub segment_id: i64,
    pub members: u64,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Counts one answered request.
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let methods = match routes.get_mut(route) {
            Some(methods) => methods,
            None => routes.entry(route.to_owned()).or_default(),
        };
        let series = match methods.get_mut(method) {
            Some(series) => series,
            None => methods.entry(method.to_owned()).or_default(),
        };
        *series.statuses.entry(status).or_default() += 1;
        series.latency.observe(elapsed);
    }

    /// Records how long a refresh of `scope` (`segment` or `all`) took.
    pub fn record_refresh(&self, scope: &'static str, elapsed: Duration) {
        let mut refreshes = self.refreshes.lock().unwrap_or_else(|e| e.into_inner());
        refreshes.entry(scope).or_default().observe(elapsed);
    }

    /// Records how long loading facts took (`open`, `reload` or `append`).
    pub fn record_load(&self, kind: &'static str, elapsed: Duration) {
        let mut loads = self.loads.lock().unwrap_or_else(|e| e.into_inner());
        loads.entry(kind).or_default().observe(elapsed);
    }

    /// The Prometheus text exposition of every series: the API's own, the service's
    /// counters (`service`, which include scheduled refreshes), and the given gauges.
    pub fn render(
        &self,
        service: &MetricsReport,
        sizes: &[SegmentSize],
        clients_live: u64,
    ) -> String {
        let mut out = String::new();
        self.render_requests(&mut out);
        self.render_latencies(&mut out);
        render_scoped(&mut out, &self.refreshes, REFRESH, "scope");
        render_scoped(&mut out, &self.loads, LOAD, "kind");
        render_service(&mut out, service);
        render_gauges(&mut out, sizes, clients_live);
        out
    }

    fn render_requests(&self, out: &mut String) {
        header(
            out,
            REQUESTS,
            "HTTP requests answered, by method, route and status.",
            "counter",
        );
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        for (route, methods) in routes.iter() {
            for (method, series) in methods {
                let (method, route) = (escape(method), escape(route));
                for (status, count) in &series.statuses {
                    let labels =
                        format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
                    let _ = writeln!(out, "{REQUESTS}{{{labels}}} {count}");
                }
            }
        }
    }

    fn render_latencies(&self, out: &mut String) {
        header(
            out,
            LATENCY,
            "HTTP request latency, by method and route.",
            "histogram",
        );
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        for (route, methods) in routes.iter() {
            for (method, series) in methods {
                let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
                series.latency.render(out, LATENCY, &labels);
            }
        }
    }

    fn request_id(&self) -> u64 {
        self.next_request_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}

const REQUESTS: &str = "segments_http_requests_total";
const LATENCY: &str = "segments_http_request_duration_seconds";
const REFRESH: &str = "segments_refresh_duration_seconds";
const LOAD: &str = "segments_facts_load_duration_seconds";
const MEMBERS: &str = "segments_segment_members";
const CLIENTS: &str = "segments_clients_live";

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn render_scoped(
    out: &mut String,
    series: &Mutex<BTreeMap<&'static str, Histogram>>,
    name: &str,
    label: &str,
) {
    let help = match name {
        REFRESH => "Segment refreshes asked through the API, by scope.",
        _ => "Loading the tenant's facts, by kind.",
    };
    header(out, name, help, "histogram");
    let series = series.lock().unwrap_or_else(|e| e.into_inner());
    for (value, histogram) in series.iter() {
        histogram.render(out, name, &format!("{label}=\"{value}\""));
    }
}

/// The service's counters: refresh rounds (scheduled ones too), reloads and appends.
fn render_service(out: &mut String, report: &MetricsReport) {
    let rounds = "segments_refresh_rounds_total";
    header(
        out,
        rounds,
        "Refresh rounds run, scheduled or asked for.",
        "counter",
    );
    let _ = writeln!(out, "{rounds} {}", report.refresh_rounds);
    let seconds = "segments_refresh_rounds_seconds_total";
    header(out, seconds, "Time spent in refresh rounds.", "counter");
    let _ = writeln!(
        out,
        "{seconds} {}",
        report.refresh_rounds_ms_total as f64 / 1000.0
    );
    let last = "segments_refresh_round_last_seconds";
    header(out, last, "Duration of the last refresh round.", "gauge");
    let last_ms = report.recent_rounds_ms.last().copied().unwrap_or(0);
    let _ = writeln!(out, "{last} {}", last_ms as f64 / 1000.0);
    let outcomes = "segments_refresh_segments_total";
    header(
        out,
        outcomes,
        "Segment results of refresh rounds, by outcome.",
        "counter",
    );
    for (outcome, count) in [
        ("refreshed", report.segments_refreshed),
        ("stale", report.segments_stale),
        ("failed", report.segments_failed),
    ] {
        let _ = writeln!(out, "{outcomes}{{outcome=\"{outcome}\"}} {count}");
    }
    let reloads = "segments_facts_reloads_total";
    header(
        out,
        reloads,
        "Reloads of the tenant folder, by outcome.",
        "counter",
    );
    let _ = writeln!(out, "{reloads}{{outcome=\"ok\"}} {}", report.reloads);
    let _ = writeln!(
        out,
        "{reloads}{{outcome=\"failed\"}} {}",
        report.reload_failures
    );
    let appended = "segments_facts_rows_appended_total";
    header(
        out,
        appended,
        "Rows appended to fact tables through the API.",
        "counter",
    );
    let _ = writeln!(out, "{appended} {}", report.rows_appended);
}

fn render_gauges(out: &mut String, sizes: &[SegmentSize], clients_live: u64) {
    header(
        out,
        MEMBERS,
        "Members of each segment's published membership.",
        "gauge",
    );
    for size in sizes {
        let _ = writeln!(
            out,
            "{MEMBERS}{{segment_id=\"{}\"}} {}",
            size.segment_id, size.members
        );
    }
    header(
        out,
        CLIENTS,
        "Live (not deleted) clients in the current snapshot.",
        "gauge",
    );
    let _ = writeln!(out, "{CLIENTS} {clients_live}");
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: runs the request inside a span and counts it by route and status.
pub async fn observe(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let request_id = state.metrics.request_id();
    let span = tracing::info_span!("request", request_id, %method, %route);
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    state
        .metrics
        .record_request(method.as_str(), route, status, elapsed);
    let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    span.in_scope(|| tracing::debug!(status, elapsed_ms, "answered"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, line: &str) {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }

    #[test]
    fn renders_requests_and_cumulative_buckets() {
        let metrics = Metrics::new();
        let route = "/v1/segments/{id}";
        metrics.record_request("GET", route, 200, Duration::from_millis(250));
        metrics.record_request("GET", route, 200, Duration::from_millis(500));
        metrics.record_request("GET", route, 404, Duration::from_secs(90));
        let text = metrics.render(&MetricsReport::default(), &[], 0);
        let labels = "method=\"GET\",route=\"/v1/segments/{id}\"";
        check(&text, &format!("{REQUESTS}{{{labels},status=\"200\"}} 2"));
        check(&text, &format!("{REQUESTS}{{{labels},status=\"404\"}} 1"));
        check(
            &text,
            &format!("{LATENCY}_bucket{{{labels},le=\"0.001\"}} 0"),
        );
        check(&text, &format!("{LATENCY}_bucket{{{labels},le=\"0.1\"}} 0"));
        check(
            &text,
            &format!("{LATENCY}_bucket{{{labels},le=\"0.25\"}} 1"),
        );
        check(&text, &format!("{LATENCY}_bucket{{{labels},le=\"0.5\"}} 2"));
        check(&text, &format!("{LATENCY}_bucket{{{labels},le=\"60\"}} 2"));
        check(
            &text,
            &format!("{LATENCY}_bucket{{{labels},le=\"+Inf\"}} 3"),
        );
        check(&text, &format!("{LATENCY}_sum{{{labels}}} 90.75"));
        check(&text, &format!("{LATENCY}_count{{{labels}}} 3"));
    }

    #[test]
    fn renders_refreshes_loads_and_gauges() {
        let metrics = Metrics::new();
        metrics.record_refresh("segment", Duration::from_millis(20));
        metrics.record_load("reload", Duration::from_secs(2));
        let sizes = [SegmentSize {
            segment_id: 7,
            members: 41,
        }];
        let report = MetricsReport {
            refresh_rounds: 3,
            refresh_rounds_ms_total: 1_500,
            segments_refreshed: 5,
            segments_failed: 1,
            reloads: 2,
            rows_appended: 10,
            recent_rounds_ms: vec![1_000, 250],
            ..MetricsReport::default()
        };
        let text = metrics.render(&report, &sizes, 1234);
        check(&text, "# TYPE segments_refresh_duration_seconds histogram");
        check(
            &text,
            "segments_refresh_duration_seconds_bucket{scope=\"segment\",le=\"0.025\"} 1",
        );
        check(
            &text,
            "segments_refresh_duration_seconds_bucket{scope=\"segment\",le=\"0.01\"} 0",
        );
        check(
            &text,
            "segments_facts_load_duration_seconds_count{kind=\"reload\"} 1",
        );
        check(
            &text,
            "segments_facts_load_duration_seconds_bucket{kind=\"reload\",le=\"1\"} 0",
        );
        check(
            &text,
            "segments_facts_load_duration_seconds_bucket{kind=\"reload\",le=\"2.5\"} 1",
        );
        check(&text, "segments_segment_members{segment_id=\"7\"} 41");
        check(&text, "segments_clients_live 1234");
        check(&text, "segments_refresh_rounds_total 3");
        check(&text, "segments_refresh_rounds_seconds_total 1.5");
        check(&text, "segments_refresh_round_last_seconds 0.25");
        check(
            &text,
            "segments_refresh_segments_total{outcome=\"refreshed\"} 5",
        );
        check(
            &text,
            "segments_refresh_segments_total{outcome=\"stale\"} 0",
        );
        check(
            &text,
            "segments_refresh_segments_total{outcome=\"failed\"} 1",
        );
        check(&text, "segments_facts_reloads_total{outcome=\"ok\"} 2");
        check(&text, "segments_facts_reloads_total{outcome=\"failed\"} 0");
        check(&text, "segments_facts_rows_appended_total 10");
    }

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
