//! Loader tests over tiny tenant folders written in the test, in CSV and Parquet.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array,
    Int64Array, LargeStringArray, ListBuilder, StringArray, StringBuilder, StringDictionaryBuilder,
    TimestampMillisecondArray,
};
use arrow::datatypes::{Date32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate};
use parquet::arrow::ArrowWriter;
use tempfile::TempDir;

use super::{LoadError, load_tenant};
use crate::facts::schema::{self, CustomField, CustomKind};
use crate::facts::{Facts, TableReport};

// ---- Writing tenant folders ----

fn tenant() -> TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn write_csv(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn write_parquet(dir: &Path, name: &str, columns: Vec<(&str, ArrayRef)>) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut writer =
        ArrowWriter::try_new(fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn arc(array: impl Array + 'static) -> ArrayRef {
    Arc::new(array)
}

/// A valid minimal clients.csv and orders.csv, for tests that vary another table.
fn write_minimal(dir: &Path) {
    write_csv(
        dir,
        "clients.csv",
        "client_id,name,client_type,created_at\n1,Ann,retail,2024-01-01\n",
    );
    write_csv(
        dir,
        "orders.csv",
        "order_id,client_id,ordered_at,status,total\n10,1,2024-02-01,completed,5\n",
    );
}

fn load(dir: &Path) -> Facts {
    load_tenant(dir).unwrap_or_else(|e| panic!("load failed: {e}"))
}

/// Loads `dir`, expecting an error whose message holds every fragment.
#[track_caller]
fn check_error(dir: &Path, fragments: &[&str]) -> LoadError {
    let error = match load_tenant(dir) {
        Ok(_) => panic!("load succeeded, expected an error with {fragments:?}"),
        Err(error) => error,
    };
    let message = error.to_string();
    for fragment in fragments {
        assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
    }
    error
}

// ---- Reading canonical columns ----

fn micros(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_micros()
}

fn ints(batch: &RecordBatch, column: &str) -> Vec<Option<i64>> {
    batch[column].as_primitive::<Int64Type>().iter().collect()
}

fn texts(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let array = batch[column].as_string::<i32>();
    array.iter().map(|v| v.map(str::to_string)).collect()
}

fn times(batch: &RecordBatch, column: &str) -> Vec<Option<i64>> {
    batch[column]
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .collect()
}

fn dates(batch: &RecordBatch, column: &str) -> Vec<Option<NaiveDate>> {
    let array = batch[column].as_primitive::<Date32Type>();
    array
        .iter()
        .map(|d| d.and_then(Date32Type::to_naive_date_opt))
        .collect()
}

fn bools(batch: &RecordBatch, column: &str) -> Vec<Option<bool>> {
    batch[column].as_boolean().iter().collect()
}

fn tags(batch: &RecordBatch) -> Vec<Option<Vec<String>>> {
    let lists = batch["tags"].as_list::<i32>();
    let list = |i: usize| {
        let values = lists.value(i);
        values
            .as_string::<i32>()
            .iter()
            .map(|t| t.unwrap().to_string())
            .collect()
    };
    (0..lists.len())
        .map(|i| lists.is_valid(i).then(|| list(i)))
        .collect()
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

fn report<'a>(facts: &'a Facts, table: &str) -> &'a TableReport {
    facts
        .report
        .tables
        .iter()
        .find(|t| t.table == table)
        .unwrap()
}

// ---- Happy paths ----

#[test]
fn loads_all_five_tables_from_csv_into_canonical_values() {
    let dir = tenant();
    let d = dir.path();
    write_csv(
        d,
        "clients.csv",
        "client_id,name,email,client_type,country,city,created_at,tags,deleted_at,marketing_consent\n\
         1,Ann,ann@example.com,retail,DE,Berlin,2024-01-02T03:04:05Z, VIP ;late payer;;,,true\n\
         2,Bob,,wholesale,,,2024-01-02 10:00:00.5,,2024-06-01,FALSE\n\
         3,\"Cy, Jr.\",cy@example.com,distributor,us,,2024-03-01,,,\n",
    );
    write_csv(
        d,
        "orders.csv",
        "order_id,client_id,ordered_at,status,total,refunded_amount\n\
         10,1,2024-02-01T12:00:00+01:00, Completed ,1000.5,100\n\
         11,,2024-02-02,CANCELLED,0.07,\n\
         12,2,2024-02-03T08:30:00,refunded,-3,3.00\n",
    );
    write_csv(
        d,
        "order_lines.csv",
        "order_id,product_id,quantity,line_total\n10,7,2,999.99\n10,8,1,.51\n",
    );
    write_csv(
        d,
        "invoices.csv",
        "invoice_id,client_id,issued_at,due_at,total,paid,status\n\
         100,1,2024-02-01,2024-03-01,50,20.5,Open\n\
         101,2,2024-02-05T09:00:00Z,,10,10,PAID\n",
    );
    write_csv(
        d,
        "products.csv",
        "product_id,sku,name,category,retail_price,wholesale_price,vip_price,staff_price,colour\n\
         7,SKU-7,Mug,kitchen,12.5,10,,0.99,red\n\
         8,SKU-8,Tea,,3,,,,\n",
    );

    let facts = load(d);

    let clients = &facts.clients;
    assert_eq!(clients.schema(), schema::clients_schema(&[]));
    assert_eq!(ints(clients, "client_id"), [Some(1), Some(2), Some(3)]);
    assert_eq!(texts(clients, "name"), [s("Ann"), s("Bob"), s("Cy, Jr.")]);
    assert_eq!(
        texts(clients, "email"),
        [s("ann@example.com"), None, s("cy@example.com")]
    );
    assert_eq!(texts(clients, "country"), [s("DE"), None, s("us")]);
    assert_eq!(
        times(clients, "created_at"),
        [
            Some(micros("2024-01-02T03:04:05Z")),
            Some(micros("2024-01-02T10:00:00.5Z")),
            Some(micros("2024-03-01T00:00:00Z")),
        ]
    );
    let vip = vec!["VIP".to_string(), "late payer".to_string()];
    assert_eq!(tags(clients), [Some(vip), None, None]);
    assert_eq!(
        times(clients, "deleted_at"),
        [None, Some(micros("2024-06-01T00:00:00Z")), None]
    );
    assert_eq!(
        bools(clients, "marketing_consent"),
        [Some(true), Some(false), None]
    );
    assert!(facts.custom_fields.is_empty());

    let orders = &facts.orders;
    assert_eq!(orders.schema(), schema::orders_schema());
    assert_eq!(ints(orders, "client_id"), [Some(1), None, Some(2)]);
    assert_eq!(
        times(orders, "ordered_at"),
        [
            Some(micros("2024-02-01T11:00:00Z")),
            Some(micros("2024-02-02T00:00:00Z")),
            Some(micros("2024-02-03T08:30:00Z")),
        ]
    );
    assert_eq!(
        texts(orders, "status"),
        [s("completed"), s("cancelled"), s("refunded")]
    );
    assert_eq!(
        ints(orders, "total_cents"),
        [Some(100_050), Some(7), Some(-300)]
    );
    assert_eq!(
        ints(orders, "refunded_cents"),
        [Some(10_000), Some(0), Some(300)]
    );

    let lines = &facts.order_lines;
    assert_eq!(lines.schema(), schema::order_lines_schema());
    assert_eq!(ints(lines, "product_id"), [Some(7), Some(8)]);
    assert_eq!(ints(lines, "quantity"), [Some(2), Some(1)]);
    assert_eq!(ints(lines, "line_total_cents"), [Some(99_999), Some(51)]);

    let invoices = &facts.invoices;
    assert_eq!(invoices.schema(), schema::invoices_schema());
    assert_eq!(
        times(invoices, "issued_at")[1],
        Some(micros("2024-02-05T09:00:00Z"))
    );
    assert_eq!(dates(invoices, "due_at"), [Some(date("2024-03-01")), None]);
    assert_eq!(ints(invoices, "total_cents"), [Some(5_000), Some(1_000)]);
    assert_eq!(ints(invoices, "paid_cents"), [Some(2_050), Some(1_000)]);
    assert_eq!(texts(invoices, "status"), [s("open"), s("paid")]);

    let products = &facts.products;
    assert_eq!(products.schema(), schema::products_schema());
    assert_eq!(texts(products, "sku"), [s("SKU-7"), s("SKU-8")]);
    assert_eq!(texts(products, "category"), [s("kitchen"), None]);
    assert_eq!(
        ints(products, "retail_price_cents"),
        [Some(1_250), Some(300)]
    );
    assert_eq!(ints(products, "wholesale_price_cents"), [Some(1_000), None]);
    assert_eq!(ints(products, "vip_price_cents"), [None, None]);
    assert_eq!(ints(products, "staff_price_cents"), [Some(99), None]);

    let rows: Vec<(&str, usize)> = facts
        .report
        .tables
        .iter()
        .map(|t| (t.table.as_str(), t.rows))
        .collect();
    let expected = [
        ("clients", 3),
        ("orders", 3),
        ("order_lines", 2),
        ("invoices", 2),
        ("products", 2),
    ];
    assert_eq!(rows, expected);
}

#[test]
fn loads_parquet_decimals_timestamps_and_narrow_ids() {
    let dir = tenant();
    let d = dir.path();
    let mut tag_lists = ListBuilder::new(StringBuilder::new());
    tag_lists.append_value([Some("VIP")]);
    tag_lists.append_null();
    write_parquet(
        d,
        "clients.parquet",
        vec![
            ("client_id", arc(Int32Array::from(vec![1, 2]))),
            ("name", arc(LargeStringArray::from(vec!["Ann", "Bob"]))),
            ("client_type", arc(dictionary(&["retail", "retail"]))),
            ("created_at", arc(Date32Array::from(vec![19_723, 19_724]))), // 2024-01-01, -02
            ("tags", arc(tag_lists.finish())),
        ],
    );
    let ms = |t: &str| micros(t) / 1_000;
    let ordered_at = [
        ms("2024-05-01T10:00:00.123Z"),
        ms("2024-05-02T00:00:00Z"),
        ms("2024-05-03T23:59:59Z"),
    ];
    write_parquet(
        d,
        "orders.parquet",
        vec![
            ("order_id", arc(Int32Array::from(vec![10, 11, 12]))),
            (
                "client_id",
                arc(Int32Array::from(vec![Some(1), None, Some(2)])),
            ),
            (
                "ordered_at",
                arc(TimestampMillisecondArray::from(ordered_at.to_vec())),
            ),
            (
                "status",
                arc(StringArray::from(vec!["completed", "open", "Refunded"])),
            ),
            (
                "total",
                arc(decimals(vec![Some(123_456), Some(-1), Some(0)], 18, 2)),
            ),
            (
                "refunded_amount",
                arc(decimals(vec![Some(15_000), None, Some(1_000_000)], 10, 4)),
            ),
        ],
    );

    let facts = load(d);

    assert_eq!(ints(&facts.clients, "client_id"), [Some(1), Some(2)]);
    assert_eq!(
        texts(&facts.clients, "client_type"),
        [s("retail"), s("retail")]
    );
    assert_eq!(
        times(&facts.clients, "created_at"),
        [
            Some(micros("2024-01-01T00:00:00Z")),
            Some(micros("2024-01-02T00:00:00Z"))
        ]
    );
    assert_eq!(tags(&facts.clients), [Some(vec!["VIP".to_string()]), None]);
    assert_eq!(facts.clients.schema(), schema::clients_schema(&[]));

    let orders = &facts.orders;
    assert_eq!(orders.schema(), schema::orders_schema());
    assert_eq!(ints(orders, "order_id"), [Some(10), Some(11), Some(12)]);
    assert_eq!(ints(orders, "client_id"), [Some(1), None, Some(2)]);
    assert_eq!(
        times(orders, "ordered_at"),
        [
            Some(micros("2024-05-01T10:00:00.123Z")),
            Some(micros("2024-05-02T00:00:00Z")),
            Some(micros("2024-05-03T23:59:59Z")),
        ]
    );
    assert_eq!(
        texts(orders, "status"),
        [s("completed"), s("open"), s("refunded")]
    );
    // Decimal128(18,2): 1234.56, -0.01, 0; Decimal128(10,4): 1.5000, null, 100.0000.
    assert_eq!(
        ints(orders, "total_cents"),
        [Some(123_456), Some(-1), Some(0)]
    );
    assert_eq!(
        ints(orders, "refunded_cents"),
        [Some(150), Some(0), Some(10_000)]
    );
}

fn decimals(values: Vec<Option<i128>>, precision: u8, scale: i8) -> Decimal128Array {
    Decimal128Array::from(values)
        .with_precision_and_scale(precision, scale)
        .unwrap()
}

fn dictionary(values: &[&str]) -> arrow::array::DictionaryArray<Int32Type> {
    let mut builder = StringDictionaryBuilder::<Int32Type>::new();
    values.iter().for_each(|v| {
        builder.append_value(v);
    });
    builder.finish()
}

#[test]
fn loads_a_single_file_and_a_folder_of_parts_together() {
    let dir = tenant();
    let d = dir.path();
    write_csv(
        d,
        "clients.csv",
        "client_id,name,client_type,created_at\n1,Ann,retail,2024-01-01\n",
    );
    write_parquet(d, "clients/part-0001.parquet", clients_columns(vec![2, 3]));
    write_parquet(d, "orders.parquet", orders_columns(vec![10], vec![Some(1)]));
    write_parquet(
        d,
        "orders/part-0002.parquet",
        orders_columns(vec![12], vec![Some(3)]),
    );
    write_csv(
        d,
        "orders/part-0001.csv",
        "order_id,client_id,ordered_at,status,total\n11,2,2024-01-05,open,1\n",
    );
    // Staged or foreign files are not parts.
    write_csv(d, "orders/.part-0003.csv", "order_id\nnot read\n");
    write_csv(d, "orders/_SUCCESS", "");
    write_csv(d, "orders/part-0004.parquet.tmp", "not read");
    write_csv(d, "orders/notes.txt", "not read");

    let facts = load(d);

    assert_eq!(
        ints(&facts.clients, "client_id"),
        [Some(1), Some(2), Some(3)]
    );
    assert_eq!(
        ints(&facts.orders, "order_id"),
        [Some(10), Some(11), Some(12)]
    );
    assert_eq!(
        ints(&facts.orders, "client_id"),
        [Some(1), Some(2), Some(3)]
    );
    assert_eq!(report(&facts, "orders").rows, 3);
}

fn clients_columns(ids: Vec<i64>) -> Vec<(&'static str, ArrayRef)> {
    let n = ids.len();
    let created = micros("2024-01-01T00:00:00Z");
    vec![
        ("client_id", arc(Int64Array::from(ids))),
        ("name", arc(StringArray::from(vec!["Someone"; n]))),
        ("client_type", arc(StringArray::from(vec!["retail"; n]))),
        ("created_at", arc(micros_array(vec![created; n]))),
    ]
}

fn orders_columns(ids: Vec<i64>, clients: Vec<Option<i64>>) -> Vec<(&'static str, ArrayRef)> {
    let n = ids.len();
    let at = micros("2024-01-05T00:00:00Z");
    vec![
        ("order_id", arc(Int64Array::from(ids))),
        ("client_id", arc(Int64Array::from(clients))),
        ("ordered_at", arc(micros_array(vec![at; n]))),
        ("status", arc(StringArray::from(vec!["completed"; n]))),
        ("total", arc(decimals(vec![Some(100); n], 18, 2))),
    ]
}

fn micros_array(values: Vec<i64>) -> arrow::array::TimestampMicrosecondArray {
    arrow::array::TimestampMicrosecondArray::from(values).with_timezone("UTC")
}

// ---- Orphans and absent data ----

#[test]
fn leaves_out_and_counts_rows_that_point_nowhere() {
    let dir = tenant();
    let d = dir.path();
    write_csv(
        d,
        "clients.csv",
        "client_id,name,client_type,created_at,deleted_at\n1,Ann,retail,2024-01-01,\n2,Del,retail,2024-01-01,2024-02-01\n",
    );
    write_csv(
        d,
        "orders.csv",
        "order_id,client_id,ordered_at,status,total\n\
         10,1,2024-03-01,completed,1\n\
         11,99,2024-03-01,completed,1\n\
         12,,2024-03-01,completed,1\n\
         13,2,2024-03-01,completed,1\n\
         14,98,2024-03-01,completed,1\n",
    );
    write_csv(
        d,
        "order_lines.csv",
        "order_id,product_id,quantity,line_total\n10,1,1,1\n11,1,1,1\n11,2,1,1\n12,1,1,1\n77,1,1,1\n",
    );
    write_csv(
        d,
        "invoices.csv",
        "invoice_id,client_id,issued_at,due_at,total,paid,status\n\
         100,1,2024-03-01,,1,0,open\n101,55,2024-03-01,,1,0,open\n",
    );

    let facts = load(d);

    // Guest order 12 and order 13 of deleted client 2 are kept.
    assert_eq!(
        ints(&facts.orders, "order_id"),
        [Some(10), Some(12), Some(13)]
    );
    let orders = report(&facts, "orders");
    assert_eq!(
        (orders.rows, orders.orphans, orders.orphan_samples.clone()),
        (3, 2, vec![11, 14])
    );
    // Lines of the left-out order 11 go too, as does the line of the unknown order 77.
    assert_eq!(ints(&facts.order_lines, "order_id"), [Some(10), Some(12)]);
    let lines = report(&facts, "order_lines");
    assert_eq!(
        (lines.rows, lines.orphans, lines.orphan_samples.clone()),
        (2, 3, vec![11, 77])
    );
    assert_eq!(ints(&facts.invoices, "invoice_id"), [Some(100)]);
    let invoices = report(&facts, "invoices");
    assert_eq!(
        (invoices.orphans, invoices.orphan_samples.clone()),
        (1, vec![101])
    );
    assert_eq!(report(&facts, "clients").orphans, 0);
}

#[test]
fn absent_optional_tables_and_columns_load_empty_or_null() {
    let dir = tenant();
    write_minimal(dir.path());

    let facts = load(dir.path());

    assert_eq!(facts.order_lines.num_rows(), 0);
    assert_eq!(facts.order_lines.schema(), schema::order_lines_schema());
    assert_eq!(facts.invoices.num_rows(), 0);
    assert_eq!(facts.invoices.schema(), schema::invoices_schema());
    assert_eq!(facts.products.num_rows(), 0);
    assert_eq!(facts.products.schema(), schema::products_schema());
    assert_eq!(report(&facts, "products").rows, 0);
    for column in ["email", "country", "city"] {
        assert_eq!(texts(&facts.clients, column), [None], "{column}");
    }
    assert_eq!(tags(&facts.clients), [None]);
    assert_eq!(times(&facts.clients, "deleted_at"), [None]);
    assert_eq!(bools(&facts.clients, "marketing_consent"), [None]);
    assert_eq!(ints(&facts.orders, "refunded_cents"), [Some(0)]);
    assert_eq!(ints(&facts.orders, "total_cents"), [Some(500)]);
}

#[test]
fn counts_lines_of_products_not_listed_and_keeps_them() {
    let dir = tenant();
    write_minimal(dir.path());
    write_csv(
        dir.path(),
        "order_lines.csv",
        "order_id,product_id,quantity,line_total\n10,1,1,1\n10,9,1,1\n10,9,2,2\n10,7,1,1\n",
    );
    write_csv(
        dir.path(),
        "products.csv",
        "product_id,sku,name,retail_price\n1,A-1,Anvil,10\n",
    );

    let facts = load(dir.path());

    assert_eq!(facts.order_lines.num_rows(), 4);
    assert_eq!(facts.report.lines_of_unknown_products, 3);
    assert_eq!(facts.report.unknown_product_samples, [9, 7]);
}

#[test]
fn absent_optional_product_prices_are_null() {
    let dir = tenant();
    write_minimal(dir.path());
    write_parquet(
        dir.path(),
        "products.parquet",
        vec![
            ("product_id", arc(Int64Array::from(vec![7]))),
            ("sku", arc(StringArray::from(vec!["S7"]))),
            ("name", arc(StringArray::from(vec!["Mug"]))),
            ("retail_price", arc(decimals(vec![Some(250)], 18, 2))),
        ],
    );

    let products = load(dir.path()).products;

    assert_eq!(ints(&products, "retail_price_cents"), [Some(250)]);
    assert_eq!(texts(&products, "category"), [None]);
    for column in [
        "wholesale_price_cents",
        "vip_price_cents",
        "staff_price_cents",
    ] {
        assert_eq!(ints(&products, column), [None], "{column}");
    }
}

// ---- Custom fields ----

#[test]
fn infers_csv_custom_field_kinds_and_converts_their_values() {
    let dir = tenant();
    let d = dir.path();
    write_csv(
        d,
        "clients.csv",
        "client_id,name,client_type,created_at,zip,seats,score,credit_balance,newsletter,birthday,last_seen,industry,notes\n\
         1,Ann,retail,2024-01-01,01234,12,1.5,10.5,TRUE,1990-02-28,2024-05-01T10:00:00Z,Retail,\n\
         2,Bob,retail,2024-01-01,12345,-3,2,7,false,,2024-05-02,,\n",
    );
    write_csv(
        d,
        "orders.csv",
        "order_id,client_id,ordered_at,status,total\n",
    );

    let facts = load(d);

    let kinds: Vec<(&str, CustomKind)> = facts
        .custom_fields
        .iter()
        .map(|f| (f.name.as_str(), f.kind))
        .collect();
    use CustomKind::*;
    let expected = [
        ("zip", Text),
        ("seats", Integer),
        ("score", Float),
        ("credit_balance", Money),
        ("newsletter", Boolean),
        ("birthday", Date),
        ("last_seen", Timestamp),
        ("industry", Text),
        ("notes", Text),
    ];
    assert_eq!(kinds, expected);
    let c = &facts.clients;
    assert_eq!(c.schema(), schema::clients_schema(&facts.custom_fields));
    assert_eq!(texts(c, "zip"), [s("01234"), s("12345")]);
    assert_eq!(ints(c, "seats"), [Some(12), Some(-3)]);
    let scores: Vec<Option<f64>> = c["score"].as_primitive::<Float64Type>().iter().collect();
    assert_eq!(scores, [Some(1.5), Some(2.0)]);
    assert_eq!(ints(c, "credit_balance"), [Some(1_050), Some(700)]);
    assert_eq!(bools(c, "newsletter"), [Some(true), Some(false)]);
    assert_eq!(dates(c, "birthday"), [Some(date("1990-02-28")), None]);
    assert_eq!(
        times(c, "last_seen"),
        [
            Some(micros("2024-05-01T10:00:00Z")),
            Some(micros("2024-05-02T00:00:00Z"))
        ]
    );
    assert_eq!(texts(c, "industry"), [s("Retail"), None]);
    assert_eq!(texts(c, "notes"), [None, None]);
    assert_eq!(facts.orders.num_rows(), 0);
}

#[test]
fn takes_parquet_custom_field_kinds_from_types_and_widens_across_parts() {
    let dir = tenant();
    let d = dir.path();
    let mut first = clients_columns(vec![1]);
    first.extend([
        ("lifetime_value", arc(decimals(vec![Some(12_340)], 12, 3))), // 12.340
        ("vip", arc(BooleanArray::from(vec![true]))),
        ("rating", arc(Int32Array::from(vec![4]))),
        ("joined", arc(Date32Array::from(vec![19_723]))), // 2024-01-01
    ]);
    write_parquet(d, "clients.parquet", first);
    let mut second = clients_columns(vec![2]);
    second.extend([
        ("rating", arc(Float64Array::from(vec![4.5]))),
        (
            "joined",
            arc(micros_array(vec![micros("2024-01-02T06:00:00Z")])),
        ),
    ]);
    write_parquet(d, "clients/part-0001.parquet", second);
    write_csv(
        d,
        "orders.csv",
        "order_id,client_id,ordered_at,status,total\n",
    );

    let facts = load(d);

    let expected = [
        CustomField {
            name: "lifetime_value".into(),
            kind: CustomKind::Money,
        },
        CustomField {
            name: "vip".into(),
            kind: CustomKind::Boolean,
        },
        CustomField {
            name: "rating".into(),
            kind: CustomKind::Float,
        },
        CustomField {
            name: "joined".into(),
            kind: CustomKind::Timestamp,
        },
    ];
    assert_eq!(facts.custom_fields, expected);
    let c = &facts.clients;
    assert_eq!(ints(c, "lifetime_value"), [Some(1_234), None]);
    assert_eq!(bools(c, "vip"), [Some(true), None]);
    let ratings: Vec<Option<f64>> = c["rating"].as_primitive::<Float64Type>().iter().collect();
    assert_eq!(ratings, [Some(4.0), Some(4.5)]);
    assert_eq!(
        times(c, "joined"),
        [
            Some(micros("2024-01-01T00:00:00Z")),
            Some(micros("2024-01-02T06:00:00Z"))
        ]
    );
}

// ---- Errors name the file, the column and the row ----

#[test]
fn refuses_a_tenant_without_clients_or_orders() {
    let dir = tenant();
    let error = check_error(
        dir.path(),
        &["table `clients` is missing", "clients.parquet"],
    );
    assert!(matches!(
        error,
        LoadError::MissingTable {
            table: "clients",
            ..
        }
    ));
    let name = dir.path().display().to_string();
    assert!(error.to_string().starts_with(&name));

    write_csv(
        dir.path(),
        "clients.csv",
        "client_id,name,client_type,created_at\n",
    );
    let error = check_error(dir.path(), &["table `orders` is missing"]);
    assert!(matches!(
        error,
        LoadError::MissingTable {
            table: "orders",
            ..
        }
    ));

    let missing = dir.path().join("nowhere");
    assert!(matches!(
        load_tenant(&missing),
        Err(LoadError::NotAFolder { .. })
    ));
}

#[test]
fn names_a_missing_column() {
    let dir = tenant();
    write_minimal(dir.path());
    write_csv(
        dir.path(),
        "orders.csv",
        "order_id,client_id,ordered_at,status\n10,1,2024-01-01,open\n",
    );
    let error = check_error(
        dir.path(),
        &["orders.csv", "missing column `total`", "status"],
    );
    assert!(matches!(error, LoadError::MissingColumn { .. }));
}

#[test]
fn names_a_null_in_a_required_column() {
    let dir = tenant();
    write_minimal(dir.path());
    write_csv(
        dir.path(),
        "clients.csv",
        "client_id,name,client_type,created_at\n1,Ann,retail,2024-01-01\n2,,retail,2024-01-01\n",
    );
    let error = check_error(dir.path(), &["clients.csv", "column `name`", "row 2"]);
    assert!(matches!(error, LoadError::NullValue { row: 2, .. }));
}

#[test]
fn names_a_null_in_a_parquet_part_by_its_row_in_that_file() {
    let dir = tenant();
    write_minimal(dir.path());
    let mut columns = orders_columns(vec![20, 21, 22], vec![None, None, None]);
    columns[4] = ("total", arc(decimals(vec![Some(1), Some(2), None], 18, 2)));
    write_parquet(dir.path(), "orders/part-0001.parquet", columns);
    let error = check_error(
        dir.path(),
        &["part-0001.parquet", "column `total`", "row 3"],
    );
    assert!(matches!(error, LoadError::NullValue { row: 3, .. }));
}

#[test]
fn names_a_damaged_parquet_part_and_its_rows() {
    let dir = tenant();
    write_minimal(dir.path());
    let columns = orders_columns(vec![20, 21, 22], vec![None, None, None]);
    let path = dir.path().join("orders/part-0001.parquet");
    write_parquet(dir.path(), "orders/part-0001.parquet", columns);
    // Overwrite every page between the leading magic and the footer; the footer still reads.
    let mut bytes = fs::read(&path).unwrap();
    let footer_at = bytes.len() - 8;
    let footer_len = u32::from_le_bytes(bytes[footer_at..footer_at + 4].try_into().unwrap());
    let pages_end = footer_at - footer_len as usize;
    bytes[4..pages_end].fill(0xEE);
    fs::write(&path, bytes).unwrap();

    let error = check_error(
        dir.path(),
        &[
            "part-0001.parquet: cannot decode the Parquet data, rows 1 to 3; the file may be \
             damaged",
        ],
    );
    assert!(matches!(error, LoadError::Decode { .. }), "{error:?}");
}

#[test]
fn names_a_bad_value() {
    let dir = tenant();
    write_minimal(dir.path());
    write_csv(
        dir.path(),
        "orders.csv",
        "order_id,client_id,ordered_at,status,total\n10,1,2024-01-01,open,1\n11,1,01/02/2024,open,1\n",
    );
    let error = check_error(
        dir.path(),
        &[
            "orders.csv",
            "column `ordered_at`",
            "row 2",
            "\"01/02/2024\"",
        ],
    );
    assert!(matches!(error, LoadError::BadValue { row: 2, .. }));

    write_csv(
        dir.path(),
        "orders.csv",
        "order_id,client_id,ordered_at,status,total\n1x,1,2024-01-01,open,1\n",
    );
    check_error(
        dir.path(),
        &[
            "orders.csv",
            "column `order_id`",
            "row 1",
            "\"1x\"",
            "integer",
        ],
    );

    write_csv(
        dir.path(),
        "orders.csv",
        "order_id,client_id,ordered_at,status,total\n10,1,2024-01-01,open,12,50\n",
    );
    let error = check_error(dir.path(), &["orders.csv", "CSV"]);
    assert!(matches!(error, LoadError::Csv { .. }));
}

#[test]
fn names_money_with_more_than_two_decimals() {
    let dir = tenant();
    write_minimal(dir.path());
    write_csv(
        dir.path(),
        "order_lines.csv",
        "order_id,product_id,quantity,line_total\n10,1,1,1.5\n10,1,1,1.234\n",
    );
    let error = check_error(
        dir.path(),
        &["order_lines.csv", "column `line_total`", "row 2", "1.234"],
    );
    assert!(matches!(error, LoadError::TooPrecise { row: 2, .. }));

    let dir = tenant();
    write_minimal(dir.path());
    fs::remove_file(dir.path().join("orders.csv")).unwrap();
    let mut columns = orders_columns(vec![10, 11], vec![Some(1), Some(1)]);
    columns[4] = (
        "total",
        arc(decimals(vec![Some(15_000), Some(12_345)], 10, 4)),
    );
    write_parquet(dir.path(), "orders.parquet", columns);
    let error = check_error(
        dir.path(),
        &["orders.parquet", "column `total`", "row 2", "1.2345"],
    );
    assert!(matches!(error, LoadError::TooPrecise { .. }));

    // A custom column named as money is money: a third decimal is refused by row, not
    // silently read as a float.
    let dir = tenant();
    write_minimal(dir.path());
    write_csv(
        dir.path(),
        "clients.csv",
        "client_id,name,client_type,created_at,discount_amount\n\
         1,Ann,retail,2024-01-01,10.50\n2,Bob,retail,2024-01-01,10.505\n",
    );
    let error = check_error(
        dir.path(),
        &["clients.csv", "column `discount_amount`", "row 2", "10.505"],
    );
    assert!(matches!(error, LoadError::TooPrecise { row: 2, .. }));
}

#[test]
fn refuses_floating_point_money_and_parquet_text_where_a_type_is_due() {
    let dir = tenant();
    write_minimal(dir.path());
    fs::remove_file(dir.path().join("orders.csv")).unwrap();
    let mut columns = orders_columns(vec![10], vec![Some(1)]);
    columns[4] = ("total", arc(Float64Array::from(vec![1.5])));
    write_parquet(dir.path(), "orders.parquet", columns);
    let error = check_error(dir.path(), &["orders.parquet", "column `total`", "decimal"]);
    assert!(matches!(error, LoadError::FloatMoney { .. }));

    let mut columns = orders_columns(vec![10], vec![Some(1)]);
    columns[4] = ("total", arc(StringArray::from(vec!["1.50"])));
    write_parquet(dir.path(), "orders.parquet", columns);
    let error = check_error(
        dir.path(),
        &["orders.parquet", "column `total`", "type Utf8"],
    );
    assert!(matches!(error, LoadError::WrongType { .. }));
}

#[test]
fn names_an_unknown_status() {
    let dir = tenant();
    write_minimal(dir.path());
    write_csv(
        dir.path(),
        "invoices.csv",
        "invoice_id,client_id,issued_at,due_at,total,paid,status\n1,1,2024-01-01,,1,0, Void \n2,1,2024-01-01,,1,0,overdue\n",
    );
    let error = check_error(
        dir.path(),
        &[
            "invoices.csv",
            "column `status`",
            "row 2",
            "\"overdue\"",
            "open, paid, void",
        ],
    );
    assert!(matches!(error, LoadError::UnknownStatus { .. }));
}

#[test]
fn names_the_second_occurrence_of_a_duplicate_id_across_parts() {
    let dir = tenant();
    write_minimal(dir.path());
    write_parquet(
        dir.path(),
        "orders/part-0001.parquet",
        orders_columns(vec![20, 21, 10], vec![None; 3]),
    );
    let error = check_error(
        dir.path(),
        &[
            "part-0001.parquet",
            "column `order_id`",
            "row 3",
            "duplicate id 10",
        ],
    );
    assert!(matches!(
        error,
        LoadError::DuplicateId { id: 10, row: 3, .. }
    ));

    let dir = tenant();
    write_minimal(dir.path());
    write_csv(
        dir.path(),
        "products.csv",
        "product_id,sku,name,retail_price\n7,A,Mug,1\n7,B,Cup,1\n",
    );
    check_error(
        dir.path(),
        &[
            "products.csv",
            "column `product_id`",
            "row 2",
            "duplicate id 7",
        ],
    );
}

#[test]
fn names_a_repeated_column() {
    let dir = tenant();
    write_minimal(dir.path());
    write_csv(
        dir.path(),
        "clients.csv",
        "client_id,name,client_type,created_at,name\n1,A,r,2024-01-01,B\n",
    );
    let error = check_error(
        dir.path(),
        &["clients.csv", "column `name` appears more than once"],
    );
    assert!(matches!(error, LoadError::DuplicateColumn { .. }));
}

// ---- Conversion of every accepted input type ----

mod conversions {
    use arrow::array::{
        Date64Array, Decimal32Array, Decimal256Array, GenericListBuilder, Int8Array,
        LargeStringBuilder, StringViewArray, TimestampNanosecondArray, TimestampSecondArray,
        UInt32Array, UInt64Array,
    };
    use arrow::datatypes::i256;

    use super::super::convert::{Cells, convert};
    use super::super::spec::ValueKind;
    use super::*;

    fn cells(parse_text: bool) -> Cells<'static> {
        Cells {
            file: Path::new("part.parquet"),
            column: "c",
            rows_before: 10,
            parse_text,
        }
    }

    #[track_caller]
    fn check(input: ArrayRef, kind: ValueKind, expected: ArrayRef) {
        let converted = convert(&input, kind, &cells(false)).unwrap();
        assert_eq!(&converted, &expected, "{} as {kind:?}", input.data_type());
    }

    #[track_caller]
    fn check_error(input: ArrayRef, kind: ValueKind, fragments: &[&str]) {
        let message = convert(&input, kind, &cells(false))
            .unwrap_err()
            .to_string();
        for fragment in fragments {
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
    }

    fn int64(values: Vec<Option<i64>>) -> ArrayRef {
        arc(Int64Array::from(values))
    }

    #[test]
    fn reads_any_integer_that_fits() {
        check(
            arc(Int8Array::from(vec![Some(-5), None])),
            ValueKind::Int,
            int64(vec![Some(-5), None]),
        );
        check(
            arc(UInt32Array::from(vec![7])),
            ValueKind::Int,
            int64(vec![Some(7)]),
        );
        check(
            arc(UInt64Array::from(vec![7])),
            ValueKind::Int,
            int64(vec![Some(7)]),
        );
        let huge = arc(UInt64Array::from(vec![1, u64::MAX]));
        check_error(
            huge,
            ValueKind::Int,
            &[
                "part.parquet",
                "column `c`",
                "row 12",
                "18446744073709551615",
            ],
        );
    }

    #[test]
    fn reads_money_from_any_decimal_or_integer() {
        let money = ValueKind::Money;
        let d256 = Decimal256Array::from(vec![i256::from_i128(1_234_500), i256::from_i128(-10)]);
        let d256 = d256.with_precision_and_scale(40, 3).unwrap();
        check(arc(d256), money, int64(vec![Some(123_450), Some(-1)]));
        let d32 = Decimal32Array::from(vec![1_999])
            .with_precision_and_scale(9, 2)
            .unwrap();
        check(arc(d32), money, int64(vec![Some(1_999)]));
        let negative_scale = decimals(vec![Some(5)], 10, -2); // 500 units
        check(arc(negative_scale), money, int64(vec![Some(50_000)]));
        check(
            arc(Int32Array::from(vec![12])),
            money,
            int64(vec![Some(1_200)]),
        );
        let d256 = Decimal256Array::from(vec![i256::from_i128(1_234_567)]);
        let d256 = d256.with_precision_and_scale(40, 4).unwrap();
        check_error(
            arc(d256),
            money,
            &["column `c`", "row 11", "123.4567", "more than 2 decimal"],
        );
        let too_big = decimals(vec![Some(i128::MAX / 10)], 38, 2);
        check_error(
            arc(too_big),
            money,
            &["column `c`", "row 11", "is not an amount that fits"],
        );
    }

    #[test]
    fn reads_timestamps_of_any_unit_and_dates() {
        let ts = ValueKind::Timestamp;
        let expected = |t: &str| arc(micros_array(vec![micros(t)]));
        let seconds = TimestampSecondArray::from(vec![micros("2024-03-01T10:00:00Z") / 1_000_000]);
        check(arc(seconds), ts, expected("2024-03-01T10:00:00Z"));
        let nanos = micros("2024-03-01T10:00:00.000001Z") * 1_000 + 999;
        let nanos = TimestampNanosecondArray::from(vec![nanos]).with_timezone("+01:00");
        check(arc(nanos), ts, expected("2024-03-01T10:00:00.000001Z"));
        let date64 = Date64Array::from(vec![micros("2024-03-01T00:00:00Z") / 1_000]);
        check(arc(date64), ts, expected("2024-03-01T00:00:00Z"));
    }

    #[test]
    fn reads_dates_from_timestamps_as_their_utc_date() {
        let late = TimestampMillisecondArray::from(vec![micros("2024-03-01T23:30:00Z") / 1_000]);
        let day = Date32Type::from_naive_date(date("2024-03-01"));
        check(
            arc(late),
            ValueKind::Date,
            arc(Date32Array::from(vec![day])),
        );
    }

    #[test]
    fn reads_every_string_type_as_text() {
        let expected = arc(StringArray::from(vec![Some("a"), None]));
        check(
            arc(LargeStringArray::from(vec![Some("a"), None])),
            ValueKind::Text,
            expected.clone(),
        );
        check(
            arc(StringViewArray::from(vec![Some("a"), None])),
            ValueKind::Text,
            expected.clone(),
        );
        let mut builder = StringDictionaryBuilder::<Int32Type>::new();
        builder.append_value("a");
        builder.append_null();
        check(arc(builder.finish()), ValueKind::Text, expected);
        check(
            arc(Int64Array::from(vec![12])),
            ValueKind::AnyText,
            arc(StringArray::from(vec!["12"])),
        );
        check_error(
            arc(Int64Array::from(vec![12])),
            ValueKind::Text,
            &["type Int64", "expected text"],
        );
    }

    #[test]
    fn reads_large_lists_of_large_strings_as_tags() {
        let mut lists = GenericListBuilder::<i64, _>::new(LargeStringBuilder::new());
        lists.append_value([Some("vip"), Some("b2b")]);
        lists.append_null();
        let mut expected = ListBuilder::new(StringBuilder::new());
        expected.append_value([Some("vip"), Some("b2b")]);
        expected.append_null();
        check(arc(lists.finish()), ValueKind::Tags, arc(expected.finish()));
    }

    #[test]
    fn parses_csv_booleans_leniently() {
        let texts = arc(StringArray::from(vec![
            Some("Yes"),
            Some("0"),
            None,
            Some("TRUE"),
        ]));
        let converted = convert(&texts, ValueKind::Bool, &cells(true)).unwrap();
        let expected = BooleanArray::from(vec![Some(true), Some(false), None, Some(true)]);
        assert_eq!(converted.as_boolean(), &expected);
        let bad = arc(StringArray::from(vec!["maybe"]));
        let error = convert(&bad, ValueKind::Bool, &cells(true))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("row 11") && error.contains("\"maybe\""),
            "{error}"
        );
    }
}

#[test]
fn names_a_file_that_is_not_parquet() {
    let dir = tenant();
    write_minimal(dir.path());
    write_csv(
        dir.path(),
        "orders/part-0001.parquet",
        "this is not parquet",
    );
    let error = check_error(dir.path(), &["part-0001.parquet", "cannot read Parquet"]);
    assert!(matches!(error, LoadError::Parquet { .. }));
}
