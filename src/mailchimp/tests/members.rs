//! What happens to particular members: shared, invalid, forgotten, moved addresses.

use super::*;
use crate::mailchimp::plan::ConflictKind;
use crate::mailchimp::report::{Operation, RunStatus};
use crate::mailchimp::sync::dry_run;

#[tokio::test]
async fn duplicate_emails_give_one_member_and_a_conflict() {
    let w = world().await;
    let input = SyncInput {
        members: vec![
            member(1, Some("Dup@Example.com"), None),
            member(2, Some(" dup@example.com "), None),
        ],
        directory: vec![],
        segment_is_static: true,
    };
    let config = w.sync(Direction::OneWay);
    let report = w.run(&config, &input).await;
    assert_eq!(
        w.creates(),
        vec![vec![(
            "dup@example.com".to_string(),
            "subscribed".to_string()
        )]]
    );
    let conflicts = &report.details.conflicts;
    assert_eq!(conflicts.len(), 1);
    assert_eq!(
        (conflicts[0].kind, conflicts[0].client_ids.clone()),
        (ConflictKind::SharedEmail, vec![1, 2])
    );
    assert_eq!((report.counts.created, report.counts.tagged), (1, 1));
}

#[tokio::test]
async fn invalid_and_missing_emails_are_skipped_and_listed() {
    let w = world().await;
    let mut input = segment([1]);
    input.members.extend([
        member(2, None, None),
        member(3, Some("  "), None),
        member(4, Some("no-at-sign.example.com"), None),
        member(5, Some("ann@localhost"), None),
    ]);
    let config = w.sync(Direction::OneWay);
    let report = w.run(&config, &input).await;
    let expected = vec![
        (vec![2], SkipReason::MissingEmail),
        (vec![3], SkipReason::MissingEmail),
        (vec![4], SkipReason::InvalidEmail),
        (vec![5], SkipReason::InvalidEmail),
    ];
    assert_eq!(skipped_of(&report), expected);
    assert_eq!(
        report.details.skipped[2].email.as_deref(),
        Some("no-at-sign.example.com")
    );
    assert_eq!(w.fake.tagged(LIST, TAG), vec![email(1)]);
    let c = report.counts;
    assert_eq!(
        (report.status, c.tagged, c.skipped),
        (RunStatus::Success, 1, 4)
    );
}

#[tokio::test]
async fn a_forgotten_address_fails_alone() {
    let w = world().await;
    w.fake.forget(LIST, &email(2));
    let config = w.sync(Direction::OneWay);
    let report = w.run(&config, &segment([1, 2, 3])).await;
    assert_eq!(report.status, RunStatus::Partial);
    let failure = &report.details.failures[..];
    assert_eq!(failure.len(), 1);
    assert_eq!(
        (failure[0].email.clone(), failure[0].operation),
        (email(2), Operation::Create)
    );
    assert!(failure[0].error.contains("permanently deleted"));
    assert_eq!(w.fake.tagged(LIST, TAG), vec![email(1), email(3)]);
    let history = store::runs(&w.db.lock().unwrap(), config.id, 1).unwrap();
    assert_eq!(history[0].details.failures, report.details.failures);
    assert_eq!(history[0].counts.failed, 1);
}

#[tokio::test]
async fn a_changed_address_moves_the_tag() {
    let w = world().await;
    let config = w.sync(Direction::OneWay);
    w.run(&config, &segment([1])).await;
    let moved = SyncInput {
        members: vec![member(1, Some("new@example.com"), None)],
        ..segment([])
    };
    let report = w.run(&config, &moved).await;
    assert_eq!(
        w.fake.tagged(LIST, TAG),
        vec!["new@example.com".to_string()]
    );
    assert_eq!((report.counts.tagged, report.counts.untagged), (1, 1));
}

#[tokio::test]
async fn a_tag_deleted_in_mailchimp_is_recreated_and_refilled() {
    let w = world().await;
    let config = w.sync(Direction::OneWay);
    w.run(&config, &segment([1, 2])).await;
    w.fake.delete_tag(LIST, TAG);
    let report = w.run(&config, &segment([1, 2])).await;
    assert_eq!(w.fake.tagged(LIST, TAG), vec![email(1), email(2)]);
    assert_eq!(report.counts.tagged, 2);
}

#[tokio::test]
async fn dry_run_counts_and_samples_without_sending() {
    let w = world().await;
    let config = w.sync(Direction::OneWay);
    w.run(&config, &segment([1, 2, 3])).await;
    w.fake.clear_log();
    let mut input = segment([2, 3, 4, 5]);
    input.members.push(member(6, Some("bad"), None));
    let dry = dry_run(Some(&w.client), &w.db, &config, &input, 1)
        .await
        .unwrap();
    assert_eq!((dry.tag, dry.untag, dry.unchanged), (2, 1, 2));
    assert_eq!(dry.sample_untag, vec![email(1)]);
    assert_eq!(dry.sample_tag.len(), 1);
    assert_eq!(dry.skipped.len(), 1);
    assert_eq!(w.fake.requests(), vec![]);
}

#[tokio::test]
async fn input_comes_from_the_snapshot_columns() {
    use crate::facts::builder::{ClientRow, FactsBuilder};
    let row = |id, email: Option<&str>, consent| ClientRow {
        email: email.map(String::from),
        marketing_consent: consent,
        ..ClientRow::new(id)
    };
    let facts = FactsBuilder::new()
        .client(row(30, Some("c@example.com"), None))
        .client(row(10, Some("a@example.com"), Some(false)))
        .client(row(20, None, Some(true)))
        .build()
        .unwrap();
    let snapshot = crate::snapshot::Snapshot::build(facts, chrono_tz::UTC)
        .await
        .unwrap();
    let positions = roaring::RoaringBitmap::from_iter([0u32, 2]);
    let input = SyncInput::from_snapshot(&snapshot, &positions, false);
    let expected = vec![
        member(10, Some("a@example.com"), Some(false)),
        member(30, Some("c@example.com"), None),
    ];
    assert_eq!(input.members, expected);
    assert!(input.directory.is_empty());
    let with_directory = SyncInput::from_snapshot(&snapshot, &positions, true);
    assert_eq!(with_directory.directory.len(), 3);
}

#[tokio::test]
async fn a_member_archived_after_an_unanswered_tag_is_skipped_on_resume() {
    let w = world().await;
    w.fake
        .inject(crate::mailchimp::fake::Fault::hang("POST", "/segments/"));
    let config = w.sync(Direction::OneWay);
    let both = segment([1, 2]);
    tokio::select! {
        _ = w.run(&config, &both) => panic!("the run should hang"),
        () = w.fake.hung() => {}
    }
    // The tag landed but its answer was lost; then client 2 was archived and untagged.
    w.fake.put_member(LIST, &email(2), "archived");
    w.fake.untag_by_hand(LIST, TAG, &email(2));
    w.fake.clear_faults();
    let takeover = RunOptions {
        stale_lock_after: Duration::ZERO,
        ..RunOptions::default()
    };
    let report = w.run_with(&config, &both, &takeover).await;
    assert_eq!(skipped_of(&report), vec![(vec![2], SkipReason::Archived)]);
    assert_eq!(
        (report.status, report.counts.tagged),
        (RunStatus::Success, 1)
    );
    let state = store::load_state(&w.db.lock().unwrap(), config.id).unwrap();
    assert_eq!(state.len(), 1, "the archived member is no longer recorded");
    assert_eq!(w.fake.member(LIST, &email(2)).unwrap().status, "archived");
}
