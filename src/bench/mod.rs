//! `segments bench`: the standard workloads W1–W6 on one tenant, timed and hashed so that
//! other engines (DuckDB, Polars) running the same definitions on the same Parquet files can
//! be compared line by line.
//!
//! Each workload returns its result as text lines (each ending in a newline); the hash is
//! the lower-case hex SHA-256 of that text. Workloads read memberships computed once after
//! the load (W4 and W6 reuse W2's and W3's members), so each times only its own work.

mod workloads;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::r#gen::{GenError, GenOptions, generate};
use crate::reports::ReportFacts;
use crate::snapshot::Snapshot;
use crate::tenant::{TenantError, open_snapshot};

pub use workloads::{Outcome, Workload, Workloads, all as workloads};

/// Why the bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Tenant(#[from] TenantError),
    #[error("workload {name}: {message}")]
    Workload { name: &'static str, message: String },
}

/// The first line: how long loading took (facts, snapshot, report views) and peak memory.
#[derive(Debug, Serialize)]
pub struct LoadLine {
    pub name: &'static str,
    pub seconds: f64,
    pub peak_rss_bytes: u64,
}

/// One line per workload.
#[derive(Debug, Serialize)]
pub struct WorkloadLine {
    pub name: &'static str,
    pub seconds_median: f64,
    pub seconds_min: f64,
    pub count: u64,
    pub hash: String,
}

/// A loaded tenant ready for the workloads.
pub struct Loaded {
    pub snapshot: Arc<Snapshot>,
    pub reports: ReportFacts,
    pub line: LoadLine,
}

/// Loads the tenant in UTC, as every workload is defined in UTC.
///
/// # Errors
/// A tenant that cannot be loaded, or a fault building the report views.
pub async fn load(dir: &Path) -> Result<Loaded, BenchError> {
    let started = Instant::now();
    let snapshot = open_snapshot(dir, Some("UTC")).await?;
    let reports = ReportFacts::build(snapshot.clone()).map_err(|e| BenchError::Workload {
        name: "load",
        message: e.to_string(),
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let line = LoadLine {
        name: "load",
        seconds,
        peak_rss_bytes: peak_rss_bytes(),
    };
    Ok(Loaded {
        snapshot,
        reports,
        line,
    })
}

/// Runs `workload` once to warm up, then `runs` times, and summarises.
///
/// # Errors
/// The workload's own failure.
pub async fn measure(
    workload: &dyn Workload,
    ctx: &Workloads<'_>,
    runs: usize,
) -> Result<WorkloadLine, BenchError> {
    let name = workload.name();
    let fail = |message: String| BenchError::Workload { name, message };
    let outcome = workload.run(ctx).await.map_err(fail)?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        workload.run(ctx).await.map_err(fail)?;
        times.push(started.elapsed());
    }
    Ok(summarise(name, &outcome, &mut times))
}

fn summarise(name: &'static str, outcome: &Outcome, times: &mut [Duration]) -> WorkloadLine {
    times.sort_unstable();
    WorkloadLine {
        name,
        seconds_median: median(times).as_secs_f64(),
        seconds_min: times[0].as_secs_f64(),
        count: outcome.count,
        hash: sha256_hex(&outcome.text),
    }
}

fn median(sorted: &[Duration]) -> Duration {
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2
    } else {
        sorted[mid]
    }
}

/// Lower-case hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The process's peak resident set size, from `/proc/self/status` (0 where unavailable).
pub fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Runs every workload and returns the lines to print, load first.
///
/// # Errors
/// A tenant that cannot be loaded, or a failing workload.
pub async fn run(dir: &Path, now: DateTime<Utc>, runs: usize) -> Result<Vec<String>, BenchError> {
    let loaded = load(dir).await?;
    let mut lines = vec![to_json(&loaded.line)];
    let ctx = Workloads::prepare(&loaded.snapshot, &loaded.reports, now).map_err(|message| {
        BenchError::Workload {
            name: "prepare",
            message,
        }
    })?;
    for workload in workloads::all() {
        let line = measure(workload.as_ref(), &ctx, runs).await?;
        tracing::info!(
            name = line.name,
            seconds_median = line.seconds_median,
            "workload measured"
        );
        lines.push(to_json(&line));
    }
    Ok(lines)
}

/// The end of the history of the generated bench tenants.
pub const GENERATED_HISTORY_END: &str = "2026-01-01";

/// A tenant of `clients` clients generated with seed 1 under `root`, made on first use and
/// kept for later runs (`root/tenant-<clients>-seed1-<end>`).
///
/// # Errors
/// The generator's, when the tenant has to be made and cannot be.
pub fn generated_tenant(root: &Path, clients: u64) -> Result<std::path::PathBuf, GenError> {
    let name = format!("tenant-{clients}-seed1-{GENERATED_HISTORY_END}");
    let dir = root.join(name);
    if !dir.join("clients.parquet").exists() {
        let now = chrono::NaiveDate::parse_from_str(GENERATED_HISTORY_END, "%Y-%m-%d")
            .expect("a valid date");
        generate(&GenOptions::new(clients, 1, now), &dir, true, &|_| {})?;
    }
    Ok(dir)
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

#[cfg(test)]
mod tests;
