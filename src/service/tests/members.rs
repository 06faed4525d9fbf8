//! Static members in bulk and by CSV, member pages and export, deleted clients.

use super::*;
use crate::service::import::LISTED_MAX;

/// Clients 1..=4 of [`four_clients`] plus 5, deleted.
fn with_deleted() -> FactsBuilder {
    four_clients().client(ClientRow {
        deleted_at: Some(micros("2024-01-01T00:00:00Z")),
        ..client(5, Some("US"))
    })
}

#[tokio::test]
async fn adding_reports_unknown_deleted_and_repeated_ids() {
    let (_dir, service) = tenant(&with_deleted()).await;
    let key = service.create_segment(listed("Key")).await.unwrap();
    let change = service
        .add_members(key.id, &[3, 1, 99, 5, 3, 99])
        .await
        .unwrap();
    let expected = MemberChange {
        added: 2,
        removed: 0,
        unchanged: 2,
        unknown: vec![99],
        deleted: vec![5],
    };
    assert_eq!(change, expected);
    check_members(&service, key.id, &[1, 3]);
    let again = service.add_members(key.id, &[1, 2]).await.unwrap();
    assert_eq!((again.added, again.unchanged), (1, 1));
    check_members(&service, key.id, &[1, 2, 3]);
    assert_eq!(service.segment(key.id).unwrap().member_count, 3);
    // Neither unknown nor deleted ids were stored.
    assert_eq!(stored_rows(&service).1, 3);
}

#[tokio::test]
async fn removing_reports_what_was_not_a_member() {
    let (_dir, service) = tenant(&with_deleted()).await;
    let key = service.create_segment(listed("Key")).await.unwrap();
    service.add_members(key.id, &[1, 2, 3]).await.unwrap();
    let change = service
        .remove_members(key.id, &[2, 4, 99, 5, 2])
        .await
        .unwrap();
    let expected = MemberChange {
        added: 0,
        removed: 1,
        unchanged: 2,
        unknown: vec![99],
        deleted: vec![5],
    };
    assert_eq!(change, expected);
    check_members(&service, key.id, &[1, 3]);
    let history = service.history(key.id, None).unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.count, last.entered, last.left), (2, 0, 1));
    let changes = service.history_changes(key.id, last.at).unwrap();
    assert_eq!((changes.entered, changes.left), (vec![], vec![2]));
}

#[tokio::test]
async fn dynamic_segments_take_no_members_by_hand() {
    let (_dir, service) = tenant(&four_clients()).await;
    let us = service
        .create_segment(dynamic("US", country_is("US")))
        .await
        .unwrap();
    let error = service.add_members(us.id, &[2]).await.unwrap_err();
    assert!(
        matches!(&error, ServiceError::Conflict(m) if m.contains("is dynamic")),
        "{error}"
    );
    let error = service
        .import_members_csv(us.id, b"client_id\n2\n")
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::Conflict(_)), "{error}");
    let error = service.add_members(77, &[2]).await.unwrap_err();
    assert_eq!(error.to_string(), "segment 77 does not exist");
    check_members(&service, us.id, &[1, 3]);
}

#[tokio::test]
async fn h10_deleted_clients_leave_static_segments_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    write_tenant(dir.path(), &four_clients());
    let service = open(dir.path()).await;
    let key = service
        .create_segment(listed("Key accounts"))
        .await
        .unwrap();
    service.add_members(key.id, &[1, 2, 3]).await.unwrap();

    let mut facts = four_clients();
    facts.clients[1].deleted_at = Some(micros("2024-05-01T00:00:00Z"));
    write_tenant(dir.path(), &facts);
    let report = service.reload().await.unwrap();
    assert_eq!((report.clients, report.live_clients), (4, 3));
    check_members(&service, key.id, &[1, 3]);
    assert_eq!(service.segment(key.id).unwrap().member_count, 2);
    let last = service.history(key.id, None).unwrap().pop().unwrap();
    let changes = service.history_changes(key.id, last.at).unwrap();
    assert_eq!((changes.entered, changes.left), (vec![], vec![2]));
    // The id stays stored: the client would come back if the deletion were undone.
    assert_eq!(stored_rows(&service).1, 3);
}

#[tokio::test]
async fn member_pages_follow_client_ids() {
    let mut facts = FactsBuilder::new();
    for id in [10, 20, 30, 40, 50] {
        facts = facts.client(client(id, Some("us ")));
    }
    let (_dir, service) = tenant(&facts).await;
    let all = service
        .create_segment(dynamic("All", json!({"all": []})))
        .await
        .unwrap();
    let first = service.members_page(all.id, None, 2).unwrap();
    let ids = |page: &MembersPage| page.members.iter().map(|m| m.client_id).collect::<Vec<_>>();
    assert_eq!(
        (ids(&first), first.next_cursor, first.total),
        (vec![10, 20], Some(20), 5)
    );
    assert_eq!(
        first.members[0],
        MemberRow {
            client_id: 10,
            name: "Client 10".into(),
            email: Some("c10@example.com".into()),
            country: Some("US".into()),
        }
    );
    let second = service.members_page(all.id, first.next_cursor, 2).unwrap();
    assert_eq!((ids(&second), second.next_cursor), (vec![30, 40], Some(40)));
    let last = service.members_page(all.id, Some(40), 2).unwrap();
    assert_eq!((ids(&last), last.next_cursor), (vec![50], None));
    // A cursor between ids, or past the end, still means "after this id".
    assert_eq!(
        ids(&service.members_page(all.id, Some(25), 10).unwrap()),
        vec![30, 40, 50]
    );
    assert!(
        service
            .members_page(all.id, Some(50), 10)
            .unwrap()
            .members
            .is_empty()
    );
    let error = service.members_page(all.id, None, 0).unwrap_err();
    assert_eq!(error.to_string(), "limit 0: expected 1 to 1000");
    assert!(
        service
            .members_page(all.id, None, PAGE_LIMIT_MAX + 1)
            .is_err()
    );
    assert!(matches!(
        service.members_page(9, None, 1),
        Err(ServiceError::NotFound { .. })
    ));
}

#[tokio::test]
async fn members_export_as_csv() {
    let facts = FactsBuilder::new()
        .client(ClientRow {
            name: "Smith, Jane".into(),
            ..client(7, Some("de"))
        })
        .client(ClientRow {
            email: None,
            ..client(8, None)
        })
        .client(ClientRow {
            name: "=HYPERLINK(\"x\")".into(),
            ..client(9, None)
        });
    let (_dir, service) = tenant(&facts).await;
    let all = service
        .create_segment(dynamic("All", json!({"all": []})))
        .await
        .unwrap();
    let csv = service.export_members_csv(all.id).unwrap();
    assert_eq!(
        csv,
        "client_id,name,email,country\n7,\"Smith, Jane\",c7@example.com,DE\n8,Client 8,,\n\
         9,\"'=HYPERLINK(\"\"x\"\")\",c9@example.com,\n"
    );
    let empty = service.create_segment(listed("Empty")).await.unwrap();
    assert_eq!(
        service.export_members_csv(empty.id).unwrap(),
        "client_id,name,email,country\n"
    );
}

#[tokio::test]
async fn csv_imports_by_client_id() {
    let (_dir, service) = tenant(&with_deleted()).await;
    let key = service.create_segment(listed("Key")).await.unwrap();
    let csv = b"name,Client_ID\nA, 1\nB,2\n,\nA again,1\nX,99\nE,5\n";
    let summary = service.import_members_csv(key.id, csv).await.unwrap();
    let expected = ImportSummary {
        column: "client_id".into(),
        rows: 6,
        matched: 2,
        added: 2,
        duplicates: 1,
        blank: 1,
        unmatched: vec!["99".into()],
        unmatched_total: 1,
        deleted: vec![5],
        deleted_total: 1,
        ..ImportSummary::default()
    };
    assert_eq!(summary, expected);
    check_members(&service, key.id, &[1, 2]);
}

#[tokio::test]
async fn bad_csv_is_refused_and_nothing_stored() {
    let (_dir, service) = tenant(&four_clients()).await;
    let key = service.create_segment(listed("Key")).await.unwrap();
    let cases: [(&[u8], &str); 3] = [
        (
            b"id,mail\n1,a@b\n",
            "CSV header has neither a `client_id` nor an `email` column; found [\"id\", \"mail\"]",
        ),
        (
            b"client_id\n1\n2x\n",
            "CSV row 2, column client_id: \"2x\" is not an integer",
        ),
        (
            b"client_id\n1\n\xff\n",
            "CSV row 2: CSV parse error: record 2 (line 3, field: 0, byte: 12): invalid utf-8: \
            invalid UTF-8 in field 0 near byte index 0",
        ),
    ];
    for (csv, expected) in cases {
        let error = service.import_members_csv(key.id, csv).await.unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
    assert_eq!(stored_rows(&service).1, 0);
}

/// Clients 1..=n with e-mails `c<id>@example.com`.
fn many_clients(n: i64) -> FactsBuilder {
    let mut facts = FactsBuilder::new();
    facts.clients = (1..=n).map(|id| client(id, None)).collect();
    facts
}

/// CASES H11: 49,990 distinct clients, 5 repeats differing in case or spaces, 3 unknown,
/// 2 blank: 50,000 rows.
fn h11_csv() -> Vec<u8> {
    let mut csv = String::from("email\n");
    for id in 1..=49_990 {
        csv.push_str(&format!("c{id}@example.com\n"));
    }
    for id in [1, 2, 3, 4, 5] {
        csv.push_str(&format!("  C{id}@Example.COM \n"));
    }
    csv.push_str("nobody@example.com\nghost@example.com\nc49991@example.com\n \n\n");
    csv.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h11_large_csv_import_counts_every_row_and_is_idempotent() {
    let (_dir, service) = tenant(&many_clients(49_990)).await;
    let key = service.create_segment(listed("Newsletter")).await.unwrap();
    let csv = h11_csv();
    let summary = service.import_members_csv(key.id, &csv).await.unwrap();
    assert_eq!(
        (
            summary.rows,
            summary.matched,
            summary.added,
            summary.duplicates,
            summary.blank
        ),
        (50_000, 49_990, 49_990, 5, 2)
    );
    assert_eq!(
        summary.unmatched,
        vec![
            "nobody@example.com",
            "ghost@example.com",
            "c49991@example.com"
        ]
    );
    assert_eq!(service.segment(key.id).unwrap().member_count, 49_990);
    let again = service.import_members_csv(key.id, &csv).await.unwrap();
    assert_eq!((again.matched, again.added), (49_990, 0));

    // Two imports at once into a fresh segment still end at 49,990.
    let twice = service.create_segment(listed("Twice")).await.unwrap();
    let (a, b) = tokio::join!(
        service.import_members_csv(twice.id, &csv),
        service.import_members_csv(twice.id, &csv)
    );
    assert_eq!(a.unwrap().added + b.unwrap().added, 49_990);
    assert_eq!(service.segment(twice.id).unwrap().member_count, 49_990);
    assert_eq!(stored_rows(&service).1, 2 * 49_990);
}

#[tokio::test]
async fn emails_shared_by_several_clients_match_them_all() {
    let facts = four_clients().client(ClientRow {
        email: Some("C1@example.com ".into()),
        ..client(6, None)
    });
    let (_dir, service) = tenant(&facts).await;
    let key = service.create_segment(listed("Key")).await.unwrap();
    let summary = service
        .import_members_csv(key.id, b"\xEF\xBB\xBFEmail\nc1@example.com\n")
        .await
        .unwrap();
    assert_eq!((summary.matched, summary.added), (1, 2));
    assert_eq!(summary.ambiguous, vec!["c1@example.com"]);
    check_members(&service, key.id, &[1, 6]);
}

#[tokio::test]
async fn crlf_cr_bom_and_unterminated_csv_count_like_lf() {
    let (_dir, service) = tenant(&with_deleted()).await;
    let lines = ["client_id", "1", "", " 2 ", ",", "1", "99", "5"];
    let expected = ImportSummary {
        column: "client_id".into(),
        rows: 7,
        matched: 2,
        added: 2,
        duplicates: 1,
        blank: 2,
        unmatched: vec!["99".into()],
        unmatched_total: 1,
        deleted: vec![5],
        deleted_total: 1,
        ..ImportSummary::default()
    };
    let variants = [
        ("LF", "", "\n", "\n"),
        ("CRLF", "", "\r\n", "\r\n"),
        ("CR", "", "\r", "\r"),
        ("LF, no final newline", "", "\n", ""),
        ("CRLF, no final newline", "", "\r\n", ""),
        ("BOM, CRLF", "\u{feff}", "\r\n", "\r\n"),
    ];
    for (i, (name, bom, newline, last)) in variants.into_iter().enumerate() {
        let csv = format!("{bom}{}{last}", lines.join(newline));
        let key = service.create_segment(listed(&format!("Key {i}"))).await;
        let report = service.import_members_csv(key.unwrap().id, csv.as_bytes());
        assert_eq!(report.await.unwrap(), expected, "{name}");
    }

    // Two rows and no blank one, as with LF.
    let key = service.create_segment(listed("Twenty")).await.unwrap();
    let report = service
        .import_members_csv(key.id, b"client_id\r\n20\r\n21\r\n")
        .await
        .unwrap();
    assert_eq!(
        (report.rows, report.blank, report.unmatched_total),
        (2, 0, 2)
    );

    // A line break inside quotes belongs to its row; the empty line after it is blank.
    let csv = b"client_id,note\r\n3,\"two\r\nlines\"\r\n\r\n4\r\n";
    let report = service.import_members_csv(key.id, csv).await.unwrap();
    assert_eq!(
        (report.rows, report.blank, report.matched, report.added),
        (3, 1, 2, 2)
    );
    check_members(&service, key.id, &[3, 4]);
}

#[tokio::test]
async fn csv_import_reports_deleted_clients_as_adding_does() {
    // Client 6 is deleted and shares client 1's e-mail.
    let facts = with_deleted().client(ClientRow {
        deleted_at: Some(micros("2024-02-01T00:00:00Z")),
        email: Some("c1@example.com".into()),
        ..client(6, None)
    });
    let (_dir, service) = tenant(&facts).await;
    let added = service.create_segment(listed("Added")).await.unwrap();
    let change = service.add_members(added.id, &[5, 1, 5, 99]).await.unwrap();
    assert_eq!((change.deleted, change.unknown), (vec![5], vec![99]));

    let key = service.create_segment(listed("Key")).await.unwrap();
    let by_id = service
        .import_members_csv(key.id, b"client_id\n5\n1\n5\n99\n")
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&by_id).unwrap(),
        json!({
            "column": "client_id", "rows": 4, "matched": 1, "added": 1, "duplicates": 1,
            "blank": 0, "unmatched": ["99"], "unmatched_total": 1, "deleted": [5],
            "deleted_total": 1, "ambiguous": [], "ambiguous_total": 0,
        })
    );

    // By e-mail: client 5's address names only a deleted client; client 1's names a live
    // one too, which is matched alone.
    let csv = b"email\nC5@example.com\nc1@example.com\nc2@example.com\n";
    let by_email = service.import_members_csv(key.id, csv).await.unwrap();
    let expected = ImportSummary {
        column: "email".into(),
        rows: 3,
        matched: 2,
        added: 1,
        deleted: vec![5],
        deleted_total: 1,
        ..ImportSummary::default()
    };
    assert_eq!(by_email, expected);
    check_members(&service, key.id, &[1, 2]);
}

#[tokio::test]
async fn csv_import_lists_at_most_1000_values_of_each_kind() {
    // Clients 1..=100 live, 101..=1_200 deleted; 2_001..=4_002 share e-mails in pairs.
    let mut facts = FactsBuilder::new();
    for id in 1..=1_200 {
        let deleted_at = (id > 100).then(|| micros("2024-01-01T00:00:00Z"));
        facts = facts.client(ClientRow {
            deleted_at,
            ..client(id, None)
        });
    }
    for id in 2_001..=4_002 {
        let email = format!("s{}@example.com", (id - 1_999) / 2);
        facts = facts.client(ClientRow {
            email: Some(email),
            ..client(id, None)
        });
    }
    let (_dir, service) = tenant(&facts).await;
    let key = service.create_segment(listed("Key")).await.unwrap();
    assert_eq!(LISTED_MAX, 1_000);

    let ids: Vec<String> = (1..=1_200)
        .chain(5_001..=6_500)
        .map(|id| id.to_string())
        .collect();
    let csv = format!("client_id\n{}\n", ids.join("\n"));
    let by_id = service.import_members_csv(key.id, csv.as_bytes()).await;
    let expected = ImportSummary {
        column: "client_id".into(),
        rows: 2_700,
        matched: 100,
        added: 100,
        unmatched: (5_001..=6_000).map(|id: i64| id.to_string()).collect(),
        unmatched_total: 1_500,
        deleted: (101..=1_100).collect(),
        deleted_total: 1_100,
        ..ImportSummary::default()
    };
    assert_eq!(by_id.unwrap(), expected);

    let emails: Vec<String> = (1..=1_001).map(|k| format!("s{k}@example.com")).collect();
    let csv = format!("email\n{}\n", emails.join("\n"));
    let by_email = service.import_members_csv(key.id, csv.as_bytes()).await;
    let expected = ImportSummary {
        column: "email".into(),
        rows: 1_001,
        matched: 1_001,
        added: 2_002,
        ambiguous: emails[..1_000].to_vec(),
        ambiguous_total: 1_001,
        ..ImportSummary::default()
    };
    assert_eq!(by_email.unwrap(), expected);
    assert_eq!(service.segment(key.id).unwrap().member_count, 2_102);
}
