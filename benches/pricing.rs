//! Pricing on synthetic memberships of 1M clients (ids 1 to 1M at positions 0 to 999,999),
//! built directly as bitmaps: no tenant, no snapshot.
//!
//! - `one_client/walk` and `one_client/assigned`: one client's tier, by walking five tiered
//!   segments ([`client_pricing`], with deciding and losing segments) and by looking it up
//!   in a computed assignment ([`TierAssignment::tier_of`]).
//! - `all_clients/1000000`: every client's tier ([`TierAssignment::compute`]) from five
//!   tiered segments: a 500k range, every 5th client (200k), every 10th (100k), a 50k range
//!   and 10k scattered clients.
//! - `bulk_apply/100000x10`: applying a -12.5 % update over 10 products to a 100k-member
//!   segment (every 10th client): 1M overrides written in one transaction into a fresh
//!   SQLite file in WAL mode with `synchronous = FULL`, as the catalog keeps it.

use std::collections::HashMap;
use std::hint::black_box;

use arrow::array::Int64Array;
use chrono::{DateTime, Utc};
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use roaring::RoaringBitmap;
use rusqlite::Connection;

use segments::money::Cents;
use segments::pricing::{
    BulkSpec, PriceChange, PriceList, PricingContext, Product, ProductSelector, Tier,
    TierAssignment, TieredSegment, bulk, client_pricing, store,
};
use segments::snapshot::ClientIndex;

const CLIENTS: u32 = 1_000_000;

fn every(step: u32, offset: u32) -> RoaringBitmap {
    (offset..CLIENTS).step_by(step as usize).collect()
}

/// 10k positions spread by a fixed linear congruential sequence.
fn scattered(count: usize) -> RoaringBitmap {
    let mut x: u64 = 12_345;
    (0..count)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((x >> 33) % u64::from(CLIENTS)) as u32
        })
        .collect()
}

fn segments() -> (Vec<TieredSegment>, HashMap<i64, RoaringBitmap>) {
    let shapes = [
        (1, Tier::Wholesale, (0..500_000).collect()),
        (2, Tier::Vip, every(5, 0)),
        (3, Tier::Staff, every(10, 3)),
        (4, Tier::Wholesale, (700_000..750_000).collect()),
        (5, Tier::Vip, scattered(10_000)),
    ];
    let order = shapes
        .iter()
        .map(|(segment_id, tier, _)| TieredSegment {
            segment_id: *segment_id,
            tier: *tier,
        })
        .collect();
    (
        order,
        shapes
            .into_iter()
            .map(|(id, _, members)| (id, members))
            .collect(),
    )
}

fn universe() -> RoaringBitmap {
    (0..CLIENTS).collect()
}

fn tiers(c: &mut Criterion) {
    let (order, members) = segments();
    let universe = universe();
    let assignment = TierAssignment::compute(&order, |id| members.get(&id), &universe);

    let mut one = c.benchmark_group("one_client");
    // Client 3 (position 3) is in segments 1 and 3: it decides at the first and loses at
    // the third, and the walk looks at all five.
    one.bench_function("walk", |b| {
        b.iter(|| client_pricing(black_box(3), &order, |id| members.get(&id)))
    });
    one.bench_function("assigned", |b| {
        b.iter(|| assignment.tier_of(black_box(999_993)))
    });
    one.finish();

    let mut all = c.benchmark_group("all_clients");
    all.bench_with_input(
        BenchmarkId::from_parameter(CLIENTS),
        &universe,
        |b, universe| b.iter(|| TierAssignment::compute(&order, |id| members.get(&id), universe)),
    );
    all.finish();
}

fn products() -> PriceList {
    let product = |i: i64| Product {
        product_id: 100 + i,
        sku: format!("SKU-{i}"),
        name: format!("Product {i}"),
        category: Some("Tools".into()),
        retail: Cents(1_000 + 137 * i),
        wholesale: (i % 2 == 0).then_some(Cents(800 + 111 * i)),
        vip: (i % 3 == 0).then_some(Cents(700 + 97 * i)),
        staff: None,
    };
    PriceList::new((0..10).map(product).collect())
}

/// A fresh catalog file with the pricing tables, in the catalog's journal mode.
fn fresh_store(dir: &tempfile::TempDir, run: &mut u32) -> Connection {
    // Each run writes 1M rows: drop the previous run's files first.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("catalog-{run}.db{suffix}")));
    }
    *run += 1;
    let conn = Connection::open(dir.path().join(format!("catalog-{run}.db"))).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
        .unwrap();
    store::migrate(&conn).unwrap();
    conn
}

fn bulk_apply(c: &mut Criterion) {
    let (order, members) = segments();
    let ids = Int64Array::from_iter_values(1..=i64::from(CLIENTS));
    let clients = ClientIndex::from_sorted(&ids);
    let assignment = TierAssignment::compute(&order, |id| members.get(&id), &universe());
    let prices = products();
    let ctx = PricingContext {
        clients: &clients,
        prices: &prices,
        tiers: &assignment,
    };
    let segment = every(10, 7);
    let spec = BulkSpec {
        products: ProductSelector::Category("tools".into()),
        change: PriceChange::Percent(-1_250),
        ends_at: None,
    };
    let now: DateTime<Utc> = "2024-06-01T12:00:00Z".parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut run = 0;

    let mut group = c.benchmark_group("bulk_apply");
    group.sample_size(10);
    group.bench_function(BenchmarkId::from_parameter("100000x10"), |b| {
        b.iter_batched(
            || fresh_store(&dir, &mut run),
            // The connection is returned so that closing it is not timed.
            |conn| {
                bulk::apply(&conn, &ctx, 9, &segment, &spec, now).unwrap();
                conn
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, tiers, bulk_apply);
criterion_main!(benches);
