//! Reloads, appends, restarts and seeding.

use std::path::Path;

use super::*;

/// The files in `dir/<table>/`, sorted.
fn parts(dir: &Path, table: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join(table)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_bad_folder_leaves_the_old_state_serving() {
    let (dir, service) = tenant(&four_clients()).await;
    let us = service
        .create_segment(dynamic("US", country_is("US")))
        .await
        .unwrap();
    let before = service.state();
    std::fs::write(dir.path().join("orders.parquet"), b"not parquet").unwrap();
    let error = service.reload().await.unwrap_err();
    assert!(matches!(error, ServiceError::Load(_)), "{error}");
    assert!(error.to_string().contains("orders.parquet"), "{error}");
    assert!(Arc::ptr_eq(&before, &service.state()));
    check_members(&service, us.id, &[1, 3]);
    assert_eq!(service.metrics().report().reload_failures, 1);
}

#[tokio::test]
async fn appended_rows_are_on_disk_at_once_and_count_from_the_next_refresh() {
    let facts = four_clients().order(order(1, 1, "2024-01-01T00:00:00Z", 10_000));
    let (dir, service) = tenant(&facts).await;
    let big = json!({"field": "total_revenue", "op": "gte", "value": "150"});
    let spenders = service
        .create_segment(dynamic("Spenders", big))
        .await
        .unwrap();
    check_members(&service, spenders.id, &[]);

    let rows = vec![
        json!({"client_id": 9, "name": "Nine", "client_type": "retail",
        "country": "DE", "created_at": "2024-02-01", "tags": "a; b"}),
    ];
    let report = service.append(AppendTable::Clients, rows).await.unwrap();
    assert_eq!(
        (report.rows, report.file.as_str()),
        (1, "clients/part-0001.parquet")
    );
    assert_eq!(parts(dir.path(), "clients"), vec!["part-0001.parquet"]);
    let orders = vec![
        json!({"order_id": 2, "client_id": 1, "ordered_at": "2024-03-01T10:00:00Z",
            "status": " Completed", "total": 60}),
        json!({"order_id": 3, "client_id": 9, "ordered_at": "2024-03-02T10:00:00+01:00",
            "status": "completed", "total": "200.50", "refunded_amount": "0.50"}),
    ];
    service.append(AppendTable::Orders, orders).await.unwrap();
    let lines = vec![json!({"order_id": 3, "product_id": 7, "quantity": 2, "line_total": 200.5})];
    service
        .append(AppendTable::OrderLines, lines)
        .await
        .unwrap();
    let invoices = vec![
        json!({"invoice_id": 1, "client_id": 9, "issued_at": "2024-03-02",
        "due_at": "2024-04-01", "total": "10", "paid": "0", "status": "OPEN"}),
    ];
    service
        .append(AppendTable::Invoices, invoices)
        .await
        .unwrap();
    // Not visible before a refresh.
    assert_eq!(service.state().snapshot.index.len(), 4);
    check_members(&service, spenders.id, &[]);

    let report = service.refresh_all().await.unwrap();
    assert_eq!(report.refreshed, vec![spenders.id]);
    check_members(&service, spenders.id, &[1, 9]);
    let nine = service.client(9, None).unwrap();
    assert_eq!(nine.client.tags, vec!["a", "b"]);
    assert_eq!(nine.metrics.total_revenue, crate::money::Cents(20_000));
    assert_eq!(nine.metrics.outstanding_balance, crate::money::Cents(1_000));
    assert_eq!(service.metrics().report().rows_appended, 5);
    // Once loaded, ids are checked against the loaded facts.
    let again = vec![
        json!({"order_id": 3, "client_id": 1, "ordered_at": "2024-03-01",
        "status": "open", "total": 1}),
    ];
    let error = service
        .append(AppendTable::Orders, again)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "rows[0].order_id: 3 exists already; appends only add new rows"
    );
}

#[track_caller]
fn check_append_refused(result: Result<AppendReport>, expected: &str) {
    let error = result.expect_err("refused");
    assert!(matches!(error, ServiceError::Invalid(_)), "{error:?}");
    assert_eq!(error.to_string(), expected);
}

fn client_row(extra: Value) -> Value {
    let mut row = json!({"client_id": 10, "name": "Ten", "client_type": "retail",
        "created_at": "2024-01-01T00:00:00Z"});
    row.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    row
}

/// Refused appends and their messages.
fn bad_appends() -> Vec<(AppendTable, Vec<Value>, &'static str)> {
    use AppendTable::*;
    let order = |extra: Value| {
        let mut row = json!({"order_id": 5, "ordered_at": "2024-01-01", "status": "open",
            "total": "1"});
        row.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        vec![row]
    };
    vec![
        (
            Clients,
            vec![client_row(json!({})), json!([1])],
            "rows[1]: expected an object, found an array of 1 items",
        ),
        (
            Clients,
            vec![client_row(json!({"name": null}))],
            "rows[0].name: expected a string, found null",
        ),
        (
            Clients,
            vec![client_row(json!({"created_at": "yesterday"}))],
            "rows[0].created_at: expected an RFC 3339 instant or a date \"YYYY-MM-DD\", found the string \"yesterday\"",
        ),
        (
            Orders,
            order(json!({"ordered_at": "9999-12-31T10:00:00Z"})),
            "rows[0].ordered_at: expected an instant from 1000-01-02T00:00:00Z to 9999-12-30T23:59:59Z, found the string \"9999-12-31T10:00:00Z\"",
        ),
        (
            Clients,
            vec![client_row(json!({"created_at": "0999-06-01"}))],
            "rows[0].created_at: expected an instant from 1000-01-02T00:00:00Z to 9999-12-30T23:59:59Z, found the string \"0999-06-01\"",
        ),
        (
            Clients,
            vec![client_row(json!({"colour": "red"}))],
            "rows[0].colour: unknown field; expected one of client_id, name, email, client_type, country, city, created_at, tags, deleted_at, marketing_consent",
        ),
        (
            Clients,
            vec![client_row(json!({"client_id": 2}))],
            "rows[0].client_id: 2 exists already; appends only add new rows",
        ),
        (
            Clients,
            vec![client_row(json!({})), client_row(json!({}))],
            "rows[1].client_id: 10 repeats an earlier row's",
        ),
        (
            Orders,
            order(json!({"client_id": 77})),
            "rows[0].client_id: client 77 does not exist",
        ),
        (
            Orders,
            order(json!({"status": "shipped"})),
            "rows[0].status: expected one of completed, cancelled, refunded, open, found the string \"shipped\"",
        ),
        (
            Orders,
            order(json!({"total": "1.005"})),
            "rows[0].total: expected a decimal amount with at most 2 decimal places, found the string \"1.005\"",
        ),
        (
            Orders,
            order(json!({"total": "99999999999999999999999999999999999.00"})),
            "rows[0].total: expected an amount of at most 92233720368547758.07 either way, found the string \"99999999999999999999999999999999999.00\"",
        ),
        (
            Orders,
            order(json!({"order_id": 1})),
            "rows[0].order_id: 1 exists already; appends only add new rows",
        ),
        (
            OrderLines,
            vec![json!({"order_id": 8, "product_id": 1, "quantity": 1, "line_total": 1})],
            "rows[0].order_id: order 8 does not exist",
        ),
        (
            Invoices,
            vec![
                json!({"invoice_id": 1, "client_id": 1, "issued_at": "2024-01-01", "total": 1, "paid": 0, "status": "late"}),
            ],
            "rows[0].status: expected one of open, paid, void, found the string \"late\"",
        ),
        (Orders, vec![], "rows: nothing to append"),
    ]
}

#[tokio::test]
async fn bad_appends_name_row_and_field_and_write_nothing() {
    let facts = four_clients().order(order(1, 1, "2024-01-01T00:00:00Z", 100));
    let (dir, service) = tenant(&facts).await;
    for (table, rows, expected) in bad_appends() {
        check_append_refused(service.append(table, rows).await, expected);
    }
    for table in AppendTable::ALL {
        assert_eq!(
            parts(dir.path(), table.name()),
            Vec::<String>::new(),
            "{table:?}"
        );
    }
    assert_eq!(service.metrics().report().rows_appended, 0);
}

#[tokio::test]
async fn appends_not_yet_loaded_are_known_to_later_appends() {
    let (_dir, service) = tenant(&four_clients()).await;
    let row = json!({"client_id": 10, "name": "Ten", "client_type": "retail",
        "created_at": "2024-01-01"});
    service
        .append(AppendTable::Clients, vec![row.clone()])
        .await
        .unwrap();
    let error = service
        .append(AppendTable::Clients, vec![row])
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "rows[0].client_id: 10 exists already; appends only add new rows"
    );
    let order = json!({"order_id": 1, "client_id": 10, "ordered_at": "2024-01-01",
        "status": "completed", "total": 5});
    let report = service
        .append(AppendTable::Orders, vec![order])
        .await
        .unwrap();
    assert_eq!(report.file, "orders/part-0001.parquet");
    let reload = service.reload().await.unwrap();
    assert_eq!(reload.clients, 5);
    assert_eq!(service.client(10, None).unwrap().metrics.lifetime_orders, 1);
}

#[tokio::test]
async fn a_restart_restores_segments_members_and_history() {
    let dir = tempfile::tempdir().unwrap();
    write_tenant(dir.path(), &four_clients());
    let service = open(dir.path()).await;
    let key = service.create_segment(listed("Key")).await.unwrap();
    service.add_members(key.id, &[2, 4]).await.unwrap();
    let us = service
        .create_segment(dynamic("US", country_is("US")))
        .await
        .unwrap();
    let v2 = SegmentPatch {
        rule: Some(json!({"any": [country_is("US"), reads(key.id)]})),
        tier: Some(Some("vip".into())),
        ..SegmentPatch::default()
    };
    service.update_segment(us.id, v2).await.unwrap();
    let segments_before = service.segments().unwrap();
    let history_before = service.history(us.id, None).unwrap();
    drop(service);

    let service = open(dir.path()).await;
    let mut segments_after = service.segments().unwrap();
    // Opening refreshes every segment once more; everything else is as it was.
    for (after, before) in segments_after.iter_mut().zip(&segments_before) {
        let last = after.last_refresh.as_ref().unwrap();
        assert_eq!((last.entered, last.left), (0, 0));
        after.last_refresh = before.last_refresh.clone();
    }
    assert_eq!(segments_after, segments_before);
    check_members(&service, key.id, &[2, 4]);
    check_members(&service, us.id, &[1, 2, 3, 4]);
    assert_eq!(service.state().membership(us.id).unwrap().rule_version, 2);
    let history_after = service.history(us.id, None).unwrap();
    assert_eq!(history_after[..history_before.len()], history_before[..]);
    assert_eq!(history_after.len(), history_before.len() + 1);
}

#[tokio::test]
async fn a_restart_notes_who_left_while_the_service_was_down() {
    let dir = tempfile::tempdir().unwrap();
    write_tenant(dir.path(), &four_clients());
    let service = open(dir.path()).await;
    let us = service
        .create_segment(dynamic("US", country_is("US")))
        .await
        .unwrap();
    drop(service);
    let mut facts = four_clients();
    facts.clients[0].deleted_at = Some(micros("2024-05-01T00:00:00Z"));
    write_tenant(dir.path(), &facts);
    let service = open(dir.path()).await;
    check_members(&service, us.id, &[3]);
    let last = service.history(us.id, None).unwrap().pop().unwrap();
    let changes = service.history_changes(us.id, last.at).unwrap();
    assert_eq!((changes.entered, changes.left), (vec![], vec![1]));
}

#[tokio::test]
async fn a_seed_file_fills_an_empty_catalog_once() {
    let (dir, service) = tenant(&four_clients()).await;
    let path = dir.path().join("segments.json");
    let seed = json!([
        {"name": "Key accounts", "kind": "static", "colour": "#112233", "client_ids": [1, 3, 99]},
        {"name": "US", "kind": "dynamic", "rule": country_is("US"), "tier": "wholesale",
         "description": "Clients in the US"},
        {"name": "Key in US", "kind": "dynamic", "rule": {"all": [reads(1), reads(2)]}}
    ]);
    std::fs::write(&path, seed.to_string()).unwrap();
    assert_eq!(service.seed_from_file(&path).await.unwrap(), 3);
    let names: Vec<String> = service
        .segments()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["Key accounts", "US", "Key in US"]);
    check_members(&service, 1, &[1, 3]);
    check_members(&service, 3, &[1, 3]);
    assert_eq!(
        service.segment(2).unwrap().tier.as_deref(),
        Some("wholesale")
    );
    assert_eq!(service.seed_from_file(&path).await.unwrap(), 0);
}

#[tokio::test]
async fn a_bad_seed_file_creates_nothing() {
    let (dir, service) = tenant(&four_clients()).await;
    let path = dir.path().join("segments.json");
    let seed = json!([
        {"name": "Fine", "kind": "static"},
        {"name": "Bad colour", "kind": "static", "colour": "blue"}
    ]);
    std::fs::write(&path, seed.to_string()).unwrap();
    let error = service.seed_from_file(&path).await.unwrap_err();
    let expected = format!(
        "{}: entry 1 (\"Bad colour\"): colour \"blue\": expected #rrggbb, six hexadecimal \
         digits after '#'",
        path.display()
    );
    assert_eq!(error.to_string(), expected);
    let repeated = json!([{"name": "A", "kind": "static"}, {"name": " a", "kind": "static"}]);
    std::fs::write(&path, repeated.to_string()).unwrap();
    assert!(service.seed_from_file(&path).await.is_err());
    std::fs::write(&path, "[{\"name\": 1}]").unwrap();
    assert!(service.seed_from_file(&path).await.is_err());
    assert_eq!(stored_rows(&service), (0, 0, 0));
}
