//! The sales-lines import on real data: the complete UCI Online Retail file (541,909 rows).
//!
//! Every expected figure is computed here from the raw CSV with plain Rust, independently
//! of the importer, and then compared with the importer's summary and with what the loader
//! reads back from the written tenant. The rules mirrored here are the importer's
//! documented ones: order ids starting `A` are adjustments and rows with a negative price
//! are no sales (both set aside); order ids starting `C` are cancelled orders; a row without
//! a CustomerID is a guest sale; a line's total is quantity × unit price rounded half away
//! from zero to the cent; completed revenue is the sum over completed orders of their
//! totals, an order's revenue never below zero.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::PathBuf;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use flate2::read::GzDecoder;

use segments::facts::load_tenant;
use segments::import::sales_lines::{SalesLinesOptions, import_sales_lines};

fn dataset() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("../shared/datasets/online_retail.csv.gz");
    path.exists().then_some(path)
}

/// The figures the test expects, from the raw file.
#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    rows: u64,
    set_aside: u64,
    clients: usize,
    orders: usize,
    cancelled_orders: usize,
    guest_rows: u64,
    completed_revenue_cents: i64,
    /// Per client id: completed invoices, their countries, and whether a completed order
    /// held product `85123A`.
    per_client: HashMap<i64, ClientFigures>,
    /// Each invoice's client and total in cents.
    invoices: HashMap<String, (Option<i64>, i64)>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct ClientFigures {
    countries: HashSet<String>,
    bought_heart_holder: bool,
}

/// A decimal string in ten-thousandths, e.g. "2.55" is 25500 and "0.001" is 10.
fn ten_thousandths(text: &str) -> i64 {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let frac = format!("{frac:0<4}");
    assert!(frac.len() == 4, "unexpected price {text}");
    let value = whole.parse::<i64>().unwrap() * 10_000 + frac.parse::<i64>().unwrap();
    if negative { -value } else { value }
}

/// quantity × price, from ten-thousandths to cents, half away from zero.
fn line_cents(quantity: i64, price: i64) -> i64 {
    let exact = quantity * price;
    let (cents, rest) = (exact / 100, exact % 100);
    match rest.abs() >= 50 {
        true => cents + exact.signum(),
        false => cents,
    }
}

fn expected_from_raw_file(path: &PathBuf) -> Expected {
    let mut reader = csv::Reader::from_reader(GzDecoder::new(File::open(path).unwrap()));
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (invoice, quantity, price, customer) = (
        column("InvoiceNo"),
        column("Quantity"),
        column("UnitPrice"),
        column("CustomerID"),
    );
    let (country, stock_code) = (column("Country"), column("StockCode"));

    let mut expected = Expected::default();
    let mut clients = HashSet::new();
    let mut order_totals: HashMap<String, i64> = HashMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        expected.rows += 1;
        let unit_price = ten_thousandths(&record[price]);
        if record[invoice].starts_with('A') || unit_price < 0 {
            expected.set_aside += 1;
            continue;
        }
        let cents = line_cents(record[quantity].parse().unwrap(), unit_price);
        *order_totals.entry(record[invoice].to_string()).or_insert(0) += cents;
        let client = record[customer].parse::<i64>().ok();
        let entry = expected
            .invoices
            .entry(record[invoice].to_string())
            .or_insert((client, 0));
        entry.1 += cents;
        if let Some(client) = client {
            let figures = expected.per_client.entry(client).or_default();
            figures.countries.insert(record[country].to_string());
            let completed = !record[invoice].starts_with('C');
            figures.bought_heart_holder |= completed && &record[stock_code] == "85123A";
        }
        match &record[customer] {
            "" => expected.guest_rows += 1,
            id => _ = clients.insert(id.to_string()),
        }
    }
    expected.clients = clients.len();
    expected.orders = order_totals.len();
    expected.cancelled_orders = order_totals.keys().filter(|k| k.starts_with('C')).count();
    expected.completed_revenue_cents = order_totals
        .iter()
        .filter(|(k, _)| !k.starts_with('C'))
        .map(|(_, total)| (*total).max(0))
        .sum();
    expected
}

#[test]
fn online_retail_imports_with_independently_computed_figures() {
    let Some(path) = dataset() else {
        eprintln!("skipping: ../shared/datasets not present");
        return;
    };
    let expected = expected_from_raw_file(&path);
    // The dataset's published figures, as a check on the computation above.
    assert_eq!(expected.rows, 541_909);
    assert_eq!(expected.clients, 4_372);
    assert_eq!(expected.orders, 25_900 - 3);
    assert_eq!(expected.cancelled_orders, 3_836);
    assert_eq!(expected.guest_rows, 135_080 - 3);

    let dir = tempfile::tempdir().unwrap();
    let summary = import_sales_lines(&path, dir.path(), &SalesLinesOptions::default()).unwrap();

    assert_eq!(summary.rows_read, expected.rows);
    assert_eq!(summary.set_aside(), expected.set_aside);
    assert_eq!(summary.unparsable_rows, 0);
    assert_eq!(summary.built.clients as usize, expected.clients);
    assert_eq!(summary.built.orders as usize, expected.orders);
    assert_eq!(
        summary.built.cancelled_orders as usize,
        expected.cancelled_orders
    );
    assert_eq!(summary.guest_rows, expected.guest_rows);
    assert_eq!(
        summary.built.completed_revenue_cents,
        expected.completed_revenue_cents
    );
    assert_eq!(expected.completed_revenue_cents, 1_065_562_248);

    check_loaded_tenant(dir.path(), &expected);
    check_segments(dir.path(), &expected);
}

/// Completed orders and revenue per client, from the raw invoices.
fn client_orders(expected: &Expected) -> HashMap<i64, (usize, i64)> {
    let mut per_client: HashMap<i64, (usize, i64)> = HashMap::new();
    for (invoice, (client, total)) in &expected.invoices {
        if let (Some(client), false) = (client, invoice.starts_with('C')) {
            let entry = per_client.entry(*client).or_default();
            entry.0 += 1;
            entry.1 += (*total).max(0);
        }
    }
    per_client
}

fn members(snapshot: &segments::snapshot::Snapshot, rule: serde_json::Value) -> Vec<i64> {
    let rule = segments::rules::Rule::from_json(&rule, &snapshot.facts.custom_fields).unwrap();
    let now = chrono::Utc::now();
    let evaluation =
        segments::eval::evaluate(&rule, snapshot, now, &segments::eval::NoSegments).unwrap();
    snapshot.index.ids_of(&evaluation.members)
}

/// Segments on the imported tenant against the same segments computed from the raw file.
/// Country is compared on the clients whose rows all name one country, since a client
/// seen in two countries gets the more frequent one.
fn check_segments(dir: &std::path::Path, expected: &Expected) {
    use serde_json::json;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let snapshot = rt
        .block_on(segments::tenant::open_snapshot(dir, Some("UTC")))
        .unwrap();
    let orders = client_orders(expected);
    let sorted = |mut ids: Vec<i64>| {
        ids.sort_unstable();
        ids
    };

    let german_regulars = json!({"all": [
        {"field": "country", "op": "is", "value": "DE"},
        {"field": "lifetime_orders", "op": "gt", "value": 10},
    ]});
    let single_country = |id: &i64| expected.per_client[id].countries.len() == 1;
    let engine: Vec<i64> = members(&snapshot, german_regulars)
        .into_iter()
        .filter(single_country)
        .collect();
    let raw = expected.per_client.iter().filter(|(id, f)| {
        f.countries.len() == 1
            && f.countries.contains("Germany")
            && orders.get(id).is_some_and(|(n, _)| *n > 10)
    });
    let raw = sorted(raw.map(|(id, _)| *id).collect());
    assert!(!raw.is_empty());
    assert_eq!(engine, raw, "German clients with more than 10 orders");

    let big_spenders = json!({"field": "total_revenue", "op": "gte", "value": "5000"});
    let raw = orders
        .iter()
        .filter(|(_, (_, revenue))| *revenue >= 500_000);
    assert_eq!(
        members(&snapshot, big_spenders),
        sorted(raw.map(|(id, _)| *id).collect())
    );

    let heart_holder = json!({"field": "purchased_product", "op": "is", "value": "85123A"});
    let raw = expected
        .per_client
        .iter()
        .filter(|(_, f)| f.bought_heart_holder);
    assert_eq!(
        members(&snapshot, heart_holder),
        sorted(raw.map(|(id, _)| *id).collect())
    );
}

/// The loader reads the same figures back from the written tenant.
fn check_loaded_tenant(dir: &std::path::Path, expected: &Expected) {
    let facts = load_tenant(dir).unwrap();
    let orders = &facts.orders;
    let ids = orders
        .column_by_name("order_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let clients = orders
        .column_by_name("client_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let statuses = orders.column_by_name("status").unwrap().as_string::<i32>();
    let totals = orders
        .column_by_name("total_cents")
        .unwrap()
        .as_primitive::<Int64Type>();

    assert_eq!(facts.clients.num_rows(), expected.clients);
    assert_eq!(orders.num_rows(), expected.orders);
    let cancelled = statuses.iter().filter(|s| *s == Some("cancelled")).count();
    assert_eq!(cancelled, expected.cancelled_orders);
    let revenue: i64 = (0..orders.num_rows())
        .filter(|&i| statuses.value(i) == "completed")
        .map(|i| totals.value(i).max(0))
        .sum();
    assert_eq!(revenue, expected.completed_revenue_cents);

    let guest_orders: HashSet<i64> = (0..orders.num_rows())
        .filter(|&i| clients.is_null(i))
        .map(|i| ids.value(i))
        .collect();
    let line_orders = facts.order_lines.column_by_name("order_id").unwrap();
    let line_orders = line_orders.as_primitive::<Int64Type>();
    let guest_lines = line_orders
        .values()
        .iter()
        .filter(|o| guest_orders.contains(o))
        .count();
    assert_eq!(guest_lines as u64, expected.guest_rows);
}
