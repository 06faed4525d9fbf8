//! The catalog on real files: migrations, segment rows, static members, history, the id
//! set encoding, transactions, and durability under `kill -9`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use chrono::{DateTime, Duration, Utc};
use rusqlite::params;
use serde_json::json;

use super::history::{self, HistoryEntry, Refresh};
use super::segments::{self, SegmentDraft, SegmentKind};
use super::*;

fn open(dir: &tempfile::TempDir) -> Catalog {
    Catalog::open(&dir.path().join(FILE_NAME), &[]).expect("catalog opens")
}

fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

fn draft(name: &str, kind: SegmentKind) -> SegmentDraft {
    let rule = (kind == SegmentKind::Dynamic)
        .then(|| json!({"field": "country", "op": "is", "value": "US"}));
    SegmentDraft {
        name: name.into(),
        description: None,
        colour: None,
        kind,
        rule,
        tier: None,
        refs: Vec::new(),
    }
}

fn insert(catalog: &Catalog, draft: &SegmentDraft) -> Result<i64> {
    catalog.with_tx(|tx| Ok(segments::insert(tx, draft, utc("2024-01-01T00:00:00Z"))?.id))
}

#[track_caller]
fn check_ids(ids: &[i64], tag: u8) {
    let bytes = ids::encode(ids);
    assert_eq!(bytes[0], tag, "tag of {ids:?}");
    let mut expected = ids.to_vec();
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(ids::decode(&bytes).unwrap(), expected);
}

#[test]
fn id_sets_round_trip_in_the_smallest_encoding() {
    check_ids(&[], 1);
    check_ids(&[3, 1, 2, 2], 1);
    check_ids(&[0, i64::from(u32::MAX)], 1);
    check_ids(&[i64::from(u32::MAX) + 1, 5], 2);
    check_ids(&[-7, 4, i64::MIN, i64::MAX], 2);
}

#[test]
fn corrupt_id_sets_are_refused() {
    assert_eq!(ids::decode(&[]).unwrap_err(), "empty id set");
    assert_eq!(ids::decode(&[9, 1]).unwrap_err(), "unknown id set tag 9");
    assert!(
        ids::decode(&[1, 1, 2])
            .unwrap_err()
            .starts_with("bad bitmap")
    );
}

#[test]
fn migrations_apply_once_and_record_their_version() {
    let dir = tempfile::tempdir().unwrap();
    let extra = [
        Migration {
            module: "widgets",
            version: 1,
            sql: "CREATE TABLE widgets (id INTEGER PRIMARY KEY)",
        },
        Migration {
            module: "widgets",
            version: 2,
            sql: "ALTER TABLE widgets ADD COLUMN title TEXT",
        },
    ];
    let path = dir.path().join(FILE_NAME);
    drop(Catalog::open(&path, &extra[..1]).unwrap());
    // Reopening runs only what is new; a repeated CREATE TABLE would fail.
    let catalog = Catalog::open(&path, &extra).unwrap();
    catalog.migrate(&extra).unwrap();
    let versions: Vec<(String, u32)> = catalog
        .with_conn(|conn| {
            let mut statement =
                conn.prepare("SELECT module, version FROM schema_version ORDER BY 1, 2")?;
            let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .unwrap();
    let expected = [("segments", 1), ("widgets", 1), ("widgets", 2)];
    let expected: Vec<(String, u32)> = expected.iter().map(|(m, v)| (m.to_string(), *v)).collect();
    assert_eq!(versions, expected);
}

#[test]
fn migrations_out_of_order_or_from_the_future_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let gap = [Migration {
        module: "x",
        version: 2,
        sql: "SELECT 1",
    }];
    let error = Catalog::open(&path, &gap).unwrap_err();
    assert!(
        matches!(
            error,
            CatalogError::MigrationOrder {
                module: "x",
                version: 2
            }
        ),
        "{error}"
    );
    let catalog = open(&dir);
    catalog
        .with_tx(|tx| {
            let sql = "INSERT INTO schema_version VALUES ('segments', 2, 0)";
            tx.execute(sql, [])?;
            Ok(())
        })
        .unwrap();
    drop(catalog);
    let error = Catalog::open(&path, &[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the catalog holds segments schema v2, newer than v1 known to this program; run a \
         newer version"
    );
}

#[test]
fn a_failing_migration_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let broken = [Migration {
        module: "broken",
        version: 1,
        sql: "CREATE TABLE half (id INTEGER); CREATE TABLE oops (",
    }];
    let error = Catalog::open(&path, &broken).unwrap_err();
    assert!(matches!(
        error,
        CatalogError::Migration {
            module: "broken",
            version: 1,
            ..
        }
    ));
    let catalog = open(&dir);
    let tables: i64 = catalog
        .with_conn(|conn| {
            let sql = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'";
            Ok(conn.query_row(sql, [], |row| row.get(0))?)
        })
        .unwrap();
    assert_eq!(tables, 0);
}

#[test]
fn the_catalog_runs_in_wal_mode_with_full_sync_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(&dir);
    let pragmas = catalog
        .with_tx(|tx| {
            let mode: String = tx.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            let sync: i64 = tx.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
            let keys: i64 = tx.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
            Ok((mode, sync, keys))
        })
        .unwrap();
    assert_eq!(pragmas, ("wal".to_string(), 2, 1));
}

#[test]
fn segments_are_stored_updated_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(&dir);
    let mut vip = draft("VIP", SegmentKind::Dynamic);
    vip.colour = Some("#aabbcc".into());
    vip.tier = Some("vip".into());
    let id = insert(&catalog, &vip).unwrap();
    let stored = catalog
        .with_conn(|c| segments::get(c, id))
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            stored.name.as_str(),
            stored.rule_version,
            stored.rule.clone(),
            stored.tier.as_deref()
        ),
        ("VIP", 1, vip.rule.clone(), Some("vip"))
    );

    let later = utc("2024-02-01T00:00:00Z");
    vip.rule = Some(json!({"all": []}));
    let updated = catalog
        .with_tx(|tx| segments::update(tx, id, &vip, true, later))
        .unwrap()
        .unwrap();
    assert_eq!((updated.rule_version, updated.updated_at), (2, later));
    assert_eq!(updated.created_at, utc("2024-01-01T00:00:00Z"));
    let renamed = SegmentDraft {
        name: "Very important".into(),
        ..vip.clone()
    };
    let renamed = catalog
        .with_tx(|tx| segments::update(tx, id, &renamed, false, later))
        .unwrap()
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.rule_version),
        ("Very important", 2)
    );
    assert_eq!(
        catalog
            .with_tx(|tx| segments::update(tx, 99, &vip, true, later))
            .unwrap(),
        None
    );

    assert!(catalog.with_tx(|tx| segments::delete(tx, id)).unwrap());
    assert!(!catalog.with_tx(|tx| segments::delete(tx, id)).unwrap());
    assert_eq!(catalog.with_conn(segments::count).unwrap(), 0);
}

#[test]
fn names_are_unique_after_trimming_and_case_folding() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(&dir);
    insert(&catalog, &draft("VIP", SegmentKind::Static)).unwrap();
    let error = insert(&catalog, &draft(" vip", SegmentKind::Static)).unwrap_err();
    assert!(
        matches!(&error, CatalogError::DuplicateName { name } if name == " vip"),
        "{error}"
    );
    assert_eq!(
        catalog
            .with_conn(|c| segments::id_by_name(c, "  Vip "))
            .unwrap(),
        Some(1)
    );
    assert_eq!(catalog.with_conn(segments::count).unwrap(), 1);
}

#[test]
fn a_segment_read_by_another_rule_cannot_be_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(&dir);
    let base = insert(&catalog, &draft("Base", SegmentKind::Static)).unwrap();
    let mut reader = draft("Reader", SegmentKind::Dynamic);
    reader.refs = vec![base];
    let reader_id = insert(&catalog, &reader).unwrap();
    assert_eq!(
        catalog.with_conn(segments::refs).unwrap(),
        vec![(reader_id, base)]
    );
    let error = catalog
        .with_tx(|tx| segments::delete(tx, base))
        .unwrap_err();
    assert!(error.to_string().contains("FOREIGN KEY"), "{error}");
    // Deleting the reader first frees the base.
    assert!(
        catalog
            .with_tx(|tx| segments::delete(tx, reader_id))
            .unwrap()
    );
    assert!(catalog.with_tx(|tx| segments::delete(tx, base)).unwrap());
}

#[test]
fn static_members_report_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(&dir);
    let id = insert(&catalog, &draft("Key accounts", SegmentKind::Static)).unwrap();
    let added = catalog
        .with_tx(|tx| members::add(tx, id, &[3, 1, 3, 2]))
        .unwrap();
    assert_eq!(added, vec![3, 1, 2]);
    let added = catalog.with_tx(|tx| members::add(tx, id, &[2, 4])).unwrap();
    assert_eq!(added, vec![4]);
    let removed = catalog
        .with_tx(|tx| members::remove(tx, id, &[1, 9]))
        .unwrap();
    assert_eq!(removed, vec![1]);
    assert_eq!(
        catalog.with_conn(|c| members::ids(c, id)).unwrap(),
        vec![2, 3, 4]
    );
    let all = catalog.with_conn(members::all_ids).unwrap();
    assert_eq!(all.get(&id), Some(&vec![2, 3, 4]));
}

#[test]
fn a_failed_transaction_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(&dir);
    let id = insert(&catalog, &draft("Key accounts", SegmentKind::Static)).unwrap();
    let result: Result<()> = catalog.with_tx(|tx| {
        members::add(tx, id, &[1, 2, 3])?;
        segments::insert(tx, &draft("key ACCOUNTS", SegmentKind::Static), Utc::now())?;
        Ok(())
    });
    assert!(matches!(result, Err(CatalogError::DuplicateName { .. })));
    assert_eq!(
        catalog.with_conn(|c| members::ids(c, id)).unwrap(),
        Vec::<i64>::new()
    );
}

fn refresh(segment_id: i64, at: &str, members: &[i64], entered: &[i64], left: &[i64]) -> Refresh {
    Refresh {
        segment_id,
        at: utc(at),
        rule_version: 1,
        members: members.to_vec(),
        entered: entered.to_vec(),
        left: left.to_vec(),
    }
}

#[test]
fn history_keeps_every_refresh_and_the_last_members() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(&dir);
    let id = insert(&catalog, &draft("US", SegmentKind::Dynamic)).unwrap();
    let first = refresh(id, "2024-03-01T10:00:00Z", &[1, 2], &[1, 2], &[]);
    let second = refresh(id, "2024-03-01T11:00:00.000123Z", &[2, 3], &[3], &[1]);
    for r in [&first, &second] {
        catalog.with_tx(|tx| history::record(tx, r)).unwrap();
    }
    let entries = catalog.with_conn(|c| history::list(c, id, None)).unwrap();
    let entry = |at: &str, count, entered, left| HistoryEntry {
        at: utc(at),
        rule_version: 1,
        count,
        entered,
        left,
    };
    assert_eq!(
        entries,
        vec![
            entry("2024-03-01T10:00:00Z", 2, 2, 0),
            entry("2024-03-01T11:00:00.000123Z", 2, 1, 1)
        ]
    );
    let since = utc("2024-03-01T10:30:00Z");
    assert_eq!(
        catalog
            .with_conn(|c| history::list(c, id, Some(since)))
            .unwrap()
            .len(),
        1
    );
    let changes = catalog
        .with_conn(|c| history::changes(c, id, second.at))
        .unwrap()
        .unwrap();
    assert_eq!((changes.entered, changes.left), (vec![3], vec![1]));
    let missing = utc("2024-03-01T10:00:00.000001Z");
    assert_eq!(
        catalog
            .with_conn(|c| history::changes(c, id, missing))
            .unwrap(),
        None
    );
    let last = catalog.with_conn(|c| history::last(c, id)).unwrap();
    assert_eq!(last, Some(entry("2024-03-01T11:00:00.000123Z", 2, 1, 1)));
    let members = catalog.with_conn(history::last_members_all).unwrap();
    assert_eq!(members.get(&id), Some(&vec![2, 3]));
}

#[test]
fn history_older_than_the_cutoff_is_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(&dir);
    let id = insert(&catalog, &draft("US", SegmentKind::Dynamic)).unwrap();
    let now = utc("2024-06-01T00:00:00Z");
    let old = now - Duration::days(history::HISTORY_DAYS + 1);
    let recent = now - Duration::days(history::HISTORY_DAYS - 1);
    for at in [old, recent] {
        let r = refresh(id, &at.to_rfc3339(), &[1], &[], &[]);
        catalog.with_tx(|tx| history::record(tx, &r)).unwrap();
    }
    let cutoff = now - Duration::days(history::HISTORY_DAYS);
    assert_eq!(catalog.with_tx(|tx| history::prune(tx, cutoff)).unwrap(), 1);
    let entries = catalog.with_conn(|c| history::list(c, id, None)).unwrap();
    assert_eq!(
        entries.iter().map(|e| e.at).collect::<Vec<_>>(),
        vec![recent]
    );
}

#[test]
fn deleting_a_segment_deletes_its_members_state_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(&dir);
    let id = insert(&catalog, &draft("Key", SegmentKind::Static)).unwrap();
    catalog.with_tx(|tx| members::add(tx, id, &[1, 2])).unwrap();
    let r = refresh(id, "2024-03-01T10:00:00Z", &[1, 2], &[1, 2], &[]);
    catalog.with_tx(|tx| history::record(tx, &r)).unwrap();
    catalog.with_tx(|tx| segments::delete(tx, id)).unwrap();
    let rows: i64 = catalog
        .with_conn(|c| {
            let sql = "SELECT (SELECT COUNT(*) FROM static_members) \
                + (SELECT COUNT(*) FROM segment_state) + (SELECT COUNT(*) FROM segment_history)";
            Ok(c.query_row(sql, [], |row| row.get(0))?)
        })
        .unwrap();
    assert_eq!(rows, 0);
}

/// Where the kill test's child writes; set only in the child process.
const CHILD_ENV: &str = "SEGMENTS_CATALOG_KILL_TEST_DB";

/// The child of [`acknowledged_writes_survive_kill_9`]: writes segments with members as
/// fast as it can, printing `ack <id>` after each commit, until it is killed.
#[test]
#[ignore = "run as a child process by acknowledged_writes_survive_kill_9"]
fn kill_test_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let catalog = Catalog::open(Path::new(&path), &[]).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0..1_000_000_i64 {
        let id = catalog
            .with_tx(|tx| {
                let id = segments::insert(
                    tx,
                    &draft(&format!("s{i}"), SegmentKind::Static),
                    Utc::now(),
                )?
                .id;
                members::add(tx, id, &[i, i + 1])?;
                Ok(id)
            })
            .unwrap();
        writeln!(out, "ack {id}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "catalog::tests::kill_test_child",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    // Kill it in the middle of its burst, then read what it acknowledged before dying.
    while acked.len() < 150 {
        let Some(line) = lines.next() else { break };
        acked.extend(
            line.unwrap()
                .strip_prefix("ack ")
                .map(|id| id.parse::<i64>().unwrap()),
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for line in lines {
        acked.extend(
            line.unwrap()
                .strip_prefix("ack ")
                .map(|id| id.parse::<i64>().unwrap()),
        );
    }
    assert!(
        acked.len() >= 150,
        "the child acknowledged only {} writes",
        acked.len()
    );

    let catalog = Catalog::open(&path, &[]).unwrap();
    for id in &acked {
        let stored = catalog.with_conn(|c| segments::get(c, *id)).unwrap();
        assert!(stored.is_some(), "acknowledged segment {id} is gone");
        let members = catalog.with_conn(|c| members::ids(c, *id)).unwrap();
        assert_eq!(members.len(), 2, "members of acknowledged segment {id}");
    }
    // Nothing half-written: every stored segment has both of its members.
    let incomplete: i64 = catalog
        .with_conn(|c| {
            let sql = "SELECT COUNT(*) FROM segments s WHERE (SELECT COUNT(*) FROM \
                static_members m WHERE m.segment_id = s.id) <> 2";
            Ok(c.query_row(sql, params![], |row| row.get(0))?)
        })
        .unwrap();
    assert_eq!(incomplete, 0);
}
