//! Sales-lines import over small handwritten files, read back through the loader.

use std::io::Write;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, TimestampMicrosecondType};

use super::*;
use crate::facts::{Facts, load_tenant};

const ONLINE_RETAIL: &str = "\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom
536365,71053,WHITE LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom
536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850,United Kingdom
536367,85123A,,2,2010-12-01 08:34:00,2.95,13047,France
536368,22633,HAND WARMER,3,2010-12-01 09:00:00,1.85,,United Kingdom
C536369,71053,WHITE LANTERN,-2,2010-12-02 10:00:00,3.39,17850,United Kingdom
536370,PADS,PADS TO MATCH,5,2010-12-03 10:00:00,0.001,13047,EIRE
536371,22633,HAND WARMER,x,2010-12-03 11:00:00,1.85,13047,France
536372,22633,HAND WARMER,1,yesterday,1.85,13047,France
A563185,B,Adjust bad debt,1,2011-08-12 14:50:00,11062.06,,United Kingdom
A563186,B,Adjust bad debt,1,2011-08-12 14:51:00,-11062.06,,United Kingdom
536373,M,Manual,1,2010-12-04 10:00:00,-5.00,13047,France
536374,22633,HAND WARMER,1,2010-12-04 10:00:00,0,13047,Channel Islands
";

/// Imports `csv` with `options` into a fresh folder; returns the summary and the facts
/// the loader reads back.
fn import(csv: &str, options: &SalesLinesOptions) -> (SalesLinesSummary, Facts) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sales.csv");
    std::fs::write(&file, csv).unwrap();
    let out = dir.path().join("tenant");
    let summary = import_sales_lines(&file, &out, options).unwrap();
    (summary, load_tenant(&out).unwrap())
}

fn ints(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

fn texts(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let column = batch.column_by_name(name).unwrap().as_string::<i32>();
    column.iter().map(|s| s.map(str::to_string)).collect()
}

fn some<T: Clone>(values: &[T]) -> Vec<Option<T>> {
    values.iter().cloned().map(Some).collect()
}

#[test]
fn counts_rows_kept_set_aside_and_guest() {
    let (summary, _) = import(ONLINE_RETAIL, &SalesLinesOptions::default());

    assert_eq!(summary.rows_read, 13);
    assert_eq!(summary.rows_kept, 8);
    assert_eq!(summary.guest_rows, 1);
    assert_eq!(summary.unparsable_rows, 2);
    assert_eq!(summary.adjustment_rows, 3);
    assert_eq!(summary.sub_cent_rows, 1);
    let examples: Vec<String> = summary
        .unparsable_examples
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        examples,
        [
            "line 9, column Quantity: \"x\" is not a whole number",
            "line 10, column InvoiceDate: \"yesterday\" is not a date-time \
             (YYYY-MM-DD HH:MM:SS or RFC 3339)",
        ]
    );
    let adjustments: Vec<u64> = summary.adjustment_examples.iter().map(|e| e.line).collect();
    assert_eq!(adjustments, [11, 12, 13]);
}

#[test]
fn orders_keep_the_file_ids_with_exact_totals_and_prefix_cancellations() {
    let (summary, facts) = import(ONLINE_RETAIL, &SalesLinesOptions::default());

    let ids = [536365, 536366, 536367, 536368, 536369, 536370, 536374];
    assert_eq!(ints(&facts.orders, "order_id"), some(&ids));
    let clients = [
        Some(17850),
        Some(17850),
        Some(13047),
        None,
        Some(17850),
        Some(13047),
        Some(13047),
    ];
    assert_eq!(ints(&facts.orders, "client_id"), clients);
    // 6 × 2.55 + 6 × 3.39; the cancelled credit note shows the 6.78 it cancelled; 5 × 0.001
    // rounds to a cent.
    assert_eq!(
        ints(&facts.orders, "total_cents"),
        some(&[3564, 1110, 590, 555, 678, 1, 0])
    );
    let statuses = texts(&facts.orders, "status");
    assert_eq!(
        statuses
            .iter()
            .filter(|s| s.as_deref() == Some("cancelled"))
            .count(),
        1
    );
    assert_eq!(statuses[4].as_deref(), Some("cancelled"));
    assert_eq!(summary.built.orders, 7);
    assert_eq!(summary.built.cancelled_orders, 1);
    assert_eq!(
        summary.built.completed_revenue_cents,
        3564 + 1110 + 590 + 555 + 1
    );
    assert!(!summary.built.order_ids_numbered);
}

#[test]
fn clients_take_their_first_order_and_most_named_known_country() {
    let (summary, facts) = import(ONLINE_RETAIL, &SalesLinesOptions::default());

    assert_eq!(ints(&facts.clients, "client_id"), some(&[13047, 17850]));
    assert_eq!(
        texts(&facts.clients, "name"),
        some(&["Customer 13047".to_string(), "Customer 17850".to_string()])
    );
    // 13047: France once, EIRE once (a tie, FR sorts first), Channel Islands has no code.
    assert_eq!(
        texts(&facts.clients, "country"),
        some(&["FR".to_string(), "GB".to_string()])
    );
    let created = facts
        .clients
        .column_by_name("created_at")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    let first_order = |text| DateFormat::default().parse_micros(text).unwrap();
    assert_eq!(
        created.values().to_vec(),
        [
            first_order("2010-12-01 08:34:00"),
            first_order("2010-12-01 08:26:00")
        ]
    );
    assert_eq!(
        summary
            .built
            .unmapped_countries
            .into_iter()
            .collect::<Vec<_>>(),
        [("Channel Islands".to_string(), 1)]
    );
}

#[test]
fn products_are_numbered_by_sorted_code_with_last_name_and_price() {
    let (_, facts) = import(ONLINE_RETAIL, &SalesLinesOptions::default());

    assert_eq!(ints(&facts.products, "product_id"), some(&[1, 2, 3, 4]));
    let skus = ["22633", "71053", "85123A", "PADS"].map(String::from);
    assert_eq!(texts(&facts.products, "sku"), some(&skus));
    let names = [
        "HAND WARMER",
        "WHITE LANTERN",
        "WHITE HEART",
        "PADS TO MATCH",
    ]
    .map(String::from);
    assert_eq!(texts(&facts.products, "name"), some(&names));
    // 22633's free line (price 0) keeps 1.85; 0.001 rounds to 0.00.
    assert_eq!(
        ints(&facts.products, "retail_price_cents"),
        some(&[185, 339, 295, 0])
    );
    assert_eq!(
        ints(&facts.order_lines, "product_id"),
        some(&[3, 2, 1, 3, 1, 2, 4, 1])
    );
    assert_eq!(
        ints(&facts.order_lines, "quantity"),
        some(&[6, 6, 6, 2, 3, 2, 5, 1])
    );
}

const NEGATIVES: &str = "\
Order,Date,Customer,Sku,Qty,Price
1001,2024-01-02T10:00:00Z,7,A,2,10.00
1002,2024-01-03T10:00:00Z,7,A,-2,10.00
1003,2024-01-04T10:00:00Z,8,B,3,1.50
1003,2024-01-04T10:00:00Z,8,A,-1,10.00
C1004,2024-01-05T10:00:00Z,8,B,1,1.50
";

#[test]
fn negative_rule_cancels_orders_of_only_negative_lines() {
    let options = SalesLinesOptions {
        mappings: vec!["order_id=Order".parse().unwrap()],
        cancel: CancelRule::Negative,
        ..SalesLinesOptions::default()
    };

    let (summary, facts) = import(NEGATIVES, &options);

    // C1004 is no number without a prefix rule, so the orders are numbered in time order.
    assert!(summary.built.order_ids_numbered);
    assert_eq!(ints(&facts.orders, "order_id"), some(&[1, 2, 3, 4]));
    let statuses = ["completed", "cancelled", "completed", "completed"].map(String::from);
    assert_eq!(texts(&facts.orders, "status"), some(&statuses));
    // The mixed order keeps its return as a negative line: 4.50 - 10.00.
    assert_eq!(
        ints(&facts.orders, "total_cents"),
        some(&[2000, 2000, -550, 150])
    );
    assert_eq!(summary.built.completed_revenue_cents, 2000 + 150);
    assert_eq!(summary.built.cancelled_orders, 1);
}

#[test]
fn prefix_rule_with_a_custom_prefix_and_no_adjustments() {
    let csv = "Invoice,InvoiceDate,Customer ID,StockCode,Quantity,Price\n\
               X1,2024-01-02 10:00,7,A,-1,2.00\n\
               A2,2024-01-02 11:00,7,A,1,2.00\n";
    let options = SalesLinesOptions {
        cancel: CancelRule::Prefix("X".into()),
        adjust_prefix: None,
        ..SalesLinesOptions::default()
    };

    let (summary, facts) = import(csv, &options);

    assert_eq!(summary.adjustment_rows, 0);
    // "A2" is no number, so orders are numbered in time order: X1 first.
    assert_eq!(
        texts(&facts.orders, "status"),
        some(&["cancelled".to_string(), "completed".to_string()])
    );
    assert_eq!(ints(&facts.orders, "total_cents"), some(&[200, 200]));
}

#[test]
fn reads_gzip_by_its_magic_bytes_and_a_custom_date_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.dat");
    let csv = "Invoice,InvoiceDate,StockCode,Quantity,Price\n1,12/31/2010 23:59,A,1,2.50\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(csv.as_bytes()).unwrap();
    std::fs::write(&file, gz.finish().unwrap()).unwrap();
    let options = SalesLinesOptions {
        dates: DateFormat {
            format: Some("%m/%d/%Y %H:%M".into()),
        },
        ..SalesLinesOptions::default()
    };

    let summary = import_sales_lines(&file, &dir.path().join("t"), &options).unwrap();

    assert_eq!(
        (summary.rows_kept, summary.guest_rows, summary.built.clients),
        (1, 1, 0)
    );
    assert_eq!(summary.built.completed_revenue_cents, 250);
}

#[test]
fn a_file_with_nothing_to_keep_says_why_its_rows_were_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sales.csv");
    let csv = "\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536371,22633,HAND WARMER,x,2010-12-03 11:00:00,1.85,13047,France
536372,22633,HAND WARMER,1,yesterday,1.85,13047,France
A563185,B,Adjust bad debt,1,2011-08-12 14:50:00,11062.06,,United Kingdom
";
    std::fs::write(&file, csv).unwrap();
    let out = dir.path().join("tenant");

    let error = import_sales_lines(&file, &out, &SalesLinesOptions::default()).unwrap_err();

    assert_eq!(
        error.to_string(),
        format!(
            "{}: no sales rows were kept (3 set aside)\n  \
             line 2, column Quantity: \"x\" is not a whole number\n  \
             line 3, column InvoiceDate: \"yesterday\" is not a date-time \
             (YYYY-MM-DD HH:MM:SS or RFC 3339)\n  \
             line 4, column InvoiceNo: \"A563185\" is an adjustment, not a sale",
            file.display()
        )
    );
    assert!(!out.exists(), "nothing written");
}

#[test]
fn short_rows_are_set_aside_and_a_missing_column_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.csv");
    std::fs::write(
        &file,
        "Invoice,InvoiceDate,StockCode,Quantity,Price\n1,2024-01-01,A,1,2\n2,2024-01-01\n",
    )
    .unwrap();
    let summary =
        import_sales_lines(&file, &dir.path().join("t"), &SalesLinesOptions::default()).unwrap();
    std::fs::write(
        &file,
        "Invoice,InvoiceDate,StockCode,Quantity\n1,2024-01-01,A,1\n",
    )
    .unwrap();
    let missing = import_sales_lines(&file, &dir.path().join("u"), &SalesLinesOptions::default());

    assert_eq!(
        summary.unparsable_examples[0].to_string(),
        "line 3: has 2 fields, the header has 5"
    );
    let message = missing.unwrap_err().to_string();
    assert!(
        message.contains("s.csv") && message.contains("unit_price"),
        "{message}"
    );
}
