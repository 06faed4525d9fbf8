//! The standard workloads of `segments bench` (W1–W6, defined in `src/bench/workloads.rs`)
//! on generated tenants of 100k and 1M clients (seed 1, history up to 2026-01-01, UTC,
//! evaluated as of 2026-01-01T00:00:00Z), once the tenant is loaded.
//!
//! The same definitions and result hashes as the command, so figures from here and from
//! `segments bench` compare. `SEGMENTS_BENCH_SIZES=100000` limits the sizes.

use std::path::Path;

use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

use segments::bench::{Workloads, generated_tenant, load};

fn sizes() -> Vec<u64> {
    let sizes = std::env::var("SEGMENTS_BENCH_SIZES").unwrap_or_else(|_| "100000,1000000".into());
    sizes
        .split(',')
        .map(|s| s.trim().parse().expect("SEGMENTS_BENCH_SIZES: numbers"))
        .collect()
}

fn bench_workloads(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-data");
    let mut group = c.benchmark_group("workloads");
    group.sample_size(10);
    for clients in sizes() {
        let dir = generated_tenant(&root, clients).expect("generate the bench tenant");
        let loaded = rt.block_on(load(&dir)).expect("load the bench tenant");
        let ctx = Workloads::prepare(&loaded.snapshot, &loaded.reports, now).expect("prepare");
        for workload in segments::bench::workloads() {
            let id = BenchmarkId::new(workload.name(), clients);
            group.bench_function(id, |b| {
                b.iter(|| rt.block_on(workload.run(&ctx)).expect("workload"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_workloads);
criterion_main!(benches);
