//! Generator tests: determinism and the shapes the contract and the user guide rely on.

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{Decimal128Type, Int64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;

fn options(clients: u64, threads: usize) -> GenOptions {
    let now = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    GenOptions {
        orders_per_part: 5_000,
        threads,
        ..GenOptions::new(clients, 7, now)
    }
}

fn generate_into(options: &GenOptions, out: &Path) -> GenSummary {
    generate(options, out, false, &|_| {}).unwrap()
}

/// Every file of a tenant folder, by relative path, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                found.push((name, fs::read(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}

fn read(path: &Path) -> RecordBatch {
    let paths: Vec<_> = match path.is_dir() {
        true => {
            let mut parts: Vec<_> = fs::read_dir(path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            parts.sort();
            parts
        }
        false => vec![path.to_path_buf()],
    };
    let batches: Vec<RecordBatch> = paths
        .iter()
        .flat_map(|p| {
            let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(p).unwrap()).unwrap();
            builder.build().unwrap().map(|b| b.unwrap())
        })
        .collect();
    concat_batches(&batches[0].schema(), &batches).unwrap()
}

fn ints(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let column = batch.column_by_name(name).unwrap().as_string::<i32>();
    column.iter().map(|s| s.map(str::to_string)).collect()
}

#[test]
fn same_seed_gives_the_same_bytes_whatever_the_threads() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let first = generate_into(&options(1500, 1), one.path());
    let second = generate_into(&options(1500, 2), two.path());

    assert_eq!(
        GenSummary {
            elapsed: first.elapsed,
            ..second.clone()
        },
        first
    );
    assert!(
        first.parts >= 2,
        "the test should cover several parts: {first:?}"
    );
    assert_eq!(files(one.path()), files(two.path()));
}

#[test]
fn another_seed_gives_other_clients() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate_into(&options(50, 2), one.path());
    generate_into(
        &GenOptions {
            seed: 8,
            ..options(50, 2)
        },
        two.path(),
    );

    let names = |dir: &Path| strings(&read(&dir.join("clients.parquet")), "name");
    assert_ne!(names(one.path()), names(two.path()));
}

/// One generated tenant of 2000 clients, read back, shared by the shape tests.
struct Sample {
    _dir: tempfile::TempDir,
    summary: GenSummary,
    clients: RecordBatch,
    orders: RecordBatch,
    lines: RecordBatch,
    invoices: RecordBatch,
    products: RecordBatch,
}

fn sample() -> &'static Sample {
    static SAMPLE: std::sync::OnceLock<Sample> = std::sync::OnceLock::new();
    SAMPLE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let summary = generate_into(&options(2000, 2), dir.path());
        let table = |name: &str| read(&dir.path().join(name));
        Sample {
            summary,
            clients: table("clients.parquet"),
            orders: table("orders"),
            lines: table("order_lines"),
            invoices: table("invoices.parquet"),
            products: table("products.parquet"),
            _dir: dir,
        }
    })
}

fn id_set(batch: &RecordBatch, name: &str) -> HashSet<i64> {
    ints(batch, name).into_iter().flatten().collect()
}

#[test]
fn every_reference_points_to_an_existing_row() {
    let sample = sample();
    let clients = id_set(&sample.clients, "client_id");
    let products = id_set(&sample.products, "product_id");
    let orders: Vec<i64> = ints(&sample.orders, "order_id")
        .into_iter()
        .flatten()
        .collect();
    let order_set: HashSet<i64> = orders.iter().copied().collect();

    assert_eq!(clients.len(), 2000);
    assert_eq!(
        orders,
        (1..=sample.summary.orders as i64).collect::<Vec<_>>()
    );
    assert!(id_set(&sample.orders, "client_id").is_subset(&clients));
    assert!(id_set(&sample.lines, "order_id").is_subset(&order_set));
    assert!(id_set(&sample.lines, "product_id").is_subset(&products));
    assert!(id_set(&sample.invoices, "client_id").is_subset(&clients));
    assert!(products.contains(&42));
}

#[test]
fn volumes_are_about_twenty_orders_a_client_and_two_and_a_half_lines_an_order() {
    let sample = sample();
    let orders = sample.orders.num_rows();
    let guests = sample
        .orders
        .column_by_name("client_id")
        .unwrap()
        .null_count();

    let per_client = orders as f64 / 2000.0;
    let per_order = sample.lines.num_rows() as f64 / orders as f64;
    assert!((15.0..25.0).contains(&per_client), "{per_client}");
    assert!((2.2..2.8).contains(&per_order), "{per_order}");
    assert!(guests > 0 && guests < orders / 50, "{guests}");
    assert_eq!(sample.summary.invoices as usize, sample.invoices.num_rows());
    assert!(
        id_set(&sample.orders, "client_id").len() < 1900,
        "some clients never buy"
    );
}

#[test]
fn statuses_are_valid_and_refunds_never_exceed_totals() {
    let sample = sample();
    let statuses = strings(&sample.orders, "status");
    let count = |s: &str| statuses.iter().filter(|x| x.as_deref() == Some(s)).count();
    let total = decimals(&sample.orders, "total");
    let refunded = decimals(&sample.orders, "refunded_amount");

    let known = ["completed", "cancelled", "refunded", "open"].map(count);
    assert_eq!(known.iter().sum::<usize>(), statuses.len());
    let not_sold = (count("cancelled") + count("refunded")) as f64 / statuses.len() as f64;
    assert!((0.03..0.08).contains(&not_sold), "{not_sold}");
    assert!(count("open") > 0);
    assert!(total.iter().zip(&refunded).all(|(t, r)| 0 <= *r && r <= t));
    assert!(
        refunded.iter().zip(&total).any(|(r, t)| 0 < *r && r < t),
        "partial refunds"
    );
    let invoice_states: HashSet<_> = strings(&sample.invoices, "status")
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(
        invoice_states,
        ["open", "paid", "void"].map(String::from).into()
    );
}

#[test]
fn money_is_written_as_contract_decimals() {
    let sample = sample();
    let money = write::money_type();
    let type_of =
        |batch: &RecordBatch, name: &str| batch.column_by_name(name).unwrap().data_type().clone();

    assert_eq!(type_of(&sample.orders, "total"), money);
    assert_eq!(type_of(&sample.lines, "line_total"), money);
    assert_eq!(type_of(&sample.invoices, "paid"), money);
    assert_eq!(type_of(&sample.products, "vip_price"), money);
    assert_eq!(type_of(&sample.clients, "credit_limit"), money);
}

#[test]
fn tags_are_zero_to_four_with_careless_spellings() {
    let tags = sample()
        .clients
        .column_by_name("tags")
        .unwrap()
        .as_list::<i32>();
    let all: HashSet<String> = (0..tags.len())
        .flat_map(|i| strings_of(&tags.value(i)))
        .collect();

    assert!((0..tags.len()).all(|i| tags.value_length(i) <= 4));
    assert!(["vip", "blocked", "staff"].iter().all(|t| all.contains(*t)));
    assert!(
        all.iter()
            .any(|t| t != "vip" && t.trim().eq_ignore_ascii_case("vip"))
    );
}

#[test]
fn profiles_miss_some_values_and_share_a_few_emails() {
    let clients = &sample().clients;
    let emails = strings(clients, "email");
    let missing = emails.iter().filter(|e| e.is_none()).count();
    let folded: Vec<String> = emails.iter().flatten().map(|e| e.to_lowercase()).collect();
    let distinct: HashSet<&String> = folded.iter().collect();
    let nulls = |name: &str| clients.column_by_name(name).unwrap().null_count();

    assert!((50..150).contains(&missing), "{missing}");
    assert!(distinct.len() < folded.len(), "a few deliberate duplicates");
    assert!(distinct.len() > folded.len() - 20);
    assert!((1..100).contains(&nulls("country")));
    assert!((1..60).contains(&(2000 - nulls("deleted_at"))));
    let types: HashSet<_> = strings(clients, "client_type")
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(types.len(), 5);
}

fn decimals(batch: &RecordBatch, name: &str) -> Vec<i128> {
    let column = batch.column_by_name(name).unwrap();
    column.as_primitive::<Decimal128Type>().values().to_vec()
}

fn strings_of(array: &dyn Array) -> Vec<String> {
    array
        .as_string::<i32>()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect()
}

#[test]
fn refuses_a_folder_holding_a_tenant_unless_told_to_replace_it() {
    let dir = tempfile::tempdir().unwrap();
    generate_into(&options(30, 1), dir.path());

    let again = generate(&options(30, 1), dir.path(), false, &|_| {});
    let replaced = generate(&options(30, 1), dir.path(), true, &|_| {});

    assert!(
        matches!(again, Err(GenError::Write(WriteError::NotEmpty { .. }))),
        "{again:?}"
    );
    assert!(replaced.is_ok(), "{replaced:?}");
}

#[test]
fn refuses_now_before_the_history_starts() {
    let dir = tempfile::tempdir().unwrap();
    let day_before = NOW_EARLIEST.pred_opt().unwrap();
    let early = GenOptions::new(10, 1, day_before);

    let error = generate(&early, dir.path(), false, &|_| {}).unwrap_err();

    assert_eq!(
        error.to_string(),
        "--now 2019-01-02 is too early: the generated history starts on 2019-01-01, so --now \
         must be 2019-01-03 or later"
    );
    let earliest = GenOptions::new(10, 1, NOW_EARLIEST);
    assert!(generate(&earliest, dir.path(), false, &|_| {}).is_ok());
}

#[test]
fn progress_adds_up_to_the_clients() {
    let dir = tempfile::tempdir().unwrap();
    let done = std::sync::atomic::AtomicU64::new(0);

    generate(&options(3000, 2), dir.path(), false, &|n| {
        done.fetch_add(n, Ordering::Relaxed);
    })
    .unwrap();

    assert_eq!(done.load(Ordering::Relaxed), 3000);
}

#[test]
fn the_loader_reads_the_generated_tenant_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate_into(&options(1500, 2), dir.path());

    let facts = crate::facts::load_tenant(dir.path()).unwrap();

    assert_eq!(facts.clients.num_rows() as u64, summary.clients);
    assert_eq!(facts.orders.num_rows() as u64, summary.orders);
    assert_eq!(facts.order_lines.num_rows() as u64, summary.order_lines);
    assert_eq!(facts.invoices.num_rows() as u64, summary.invoices);
    assert_eq!(facts.products.num_rows() as u64, summary.products);
    assert!(
        facts.report.tables.iter().all(|t| t.orphans == 0),
        "{:?}",
        facts.report
    );
    let kinds: Vec<_> = facts
        .custom_fields
        .iter()
        .map(|c| (c.name.as_str(), c.kind))
        .collect();
    let expected: Vec<_> = clients::custom_fields()
        .into_iter()
        .map(|c| (c.name, c.kind))
        .collect();
    assert_eq!(
        kinds,
        expected
            .iter()
            .map(|(n, k)| (n.as_str(), *k))
            .collect::<Vec<_>>()
    );
}
