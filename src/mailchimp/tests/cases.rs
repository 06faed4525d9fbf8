//! The cases of `CASES.md` (H13-H15) and the rest of two-way sync.

use super::*;
use std::collections::BTreeSet;

use futures::future::BoxFuture;

use crate::mailchimp::address::subscriber_hash;
use crate::mailchimp::config::ConfigError;
use crate::mailchimp::report::{RunStatus, SegmentChanges};
use crate::mailchimp::scheduler::{SegmentSource, run_and_apply};
use crate::mailchimp::sync::SyncError;

#[tokio::test]
async fn h13_consent_and_compliance_states() {
    let w = world().await;
    let [a, b, c, d, e] = [1, 2, 3, 4, 5].map(email);
    w.fake.put_member(LIST, &a, "unsubscribed");
    w.fake.put_member(LIST, &b, "cleaned");
    w.fake.put_member(LIST, &c, "archived");
    let mut input = segment([1, 2, 3, 4]);
    input.members.push(member(5, Some(&e), Some(false)));
    let config = w.sync(Direction::OneWay);

    let report = w.run(&config, &input).await;

    // D: one create with status_if_new subscribed; nothing else is ever created.
    assert_eq!(
        w.creates(),
        vec![vec![(d.clone(), "subscribed".to_string())]]
    );
    let statuses_sent = w.fake.requests().into_iter().filter(|r| {
        let body = r.body.to_string();
        [&a, &b, &c].iter().any(|x| body.contains(x.as_str()))
            && (body.contains("subscribed") || body.contains("pending"))
    });
    assert_eq!(
        statuses_sent.count(),
        0,
        "no request sets A, B or C to a status"
    );
    assert_eq!(w.fake.member(LIST, &a).unwrap().status, "unsubscribed");
    assert_eq!(w.fake.member(LIST, &b).unwrap().status, "cleaned");
    assert_eq!(w.fake.member(LIST, &c).unwrap().status, "archived");
    assert_eq!(w.fake.member(LIST, &e), None, "E is not created at all");
    assert_eq!(w.fake.tagged(LIST, TAG), vec![a.clone(), d.clone()]);
    let expected = vec![
        (vec![2], SkipReason::Cleaned),
        (vec![3], SkipReason::Archived),
        (vec![5], SkipReason::NoConsent),
    ];
    let mut skipped = skipped_of(&report);
    skipped.sort_by_key(|(ids, _)| ids.clone());
    assert_eq!(skipped, expected);
    assert_eq!(report.status, RunStatus::Success);
    let c = report.counts;
    assert_eq!(
        (c.created, c.tagged, c.untagged, c.skipped, c.failed),
        (1, 2, 0, 3, 0)
    );
}

#[tokio::test]
async fn h14_leaving_untags_only_what_the_sync_tagged() {
    let w = world().await;
    let [a, b, e] = [1, 2, 5].map(email);
    for x in [&a, &b, &e] {
        w.fake.put_member(LIST, x, "subscribed");
    }
    let config = w.sync(Direction::OneWay);
    w.run(&config, &segment([1, 2])).await;
    w.fake.tag_by_hand(LIST, TAG, &e);
    w.fake.clear_log();

    let report = w.run(&config, &segment([1])).await;

    let writes = w.writes();
    assert_eq!(writes.len(), 1, "one change: {writes:?}");
    assert_eq!(w.tag_requests(), vec![(vec![], vec![b.clone()])]);
    let mentions = |x: &str| {
        let hash = subscriber_hash(x);
        let requests = w.fake.requests();
        requests
            .iter()
            .any(|r| r.body.to_string().contains(x) || r.path.contains(&hash))
    };
    assert!(!mentions(&a) && !mentions(&e), "nothing for A or E");
    assert_eq!(w.fake.member(LIST, &b).unwrap().status, "subscribed");
    assert_eq!(w.fake.tagged(LIST, TAG), vec![a, e]);
    assert_eq!(
        (report.status, report.counts.untagged),
        (RunStatus::Success, 1)
    );
}

/// A static segment held in memory, changed by two-way runs through [`run_and_apply`].
struct StaticSegment(Mutex<BTreeSet<i64>>);

impl SegmentSource for StaticSegment {
    fn input(&self, _segment_id: i64) -> Option<SyncInput> {
        let ids = self.0.lock().unwrap().clone();
        let mut input = segment(ids);
        input.directory = segment(1..=9).members;
        Some(input)
    }

    fn apply<'a>(
        &'a self,
        _segment_id: i64,
        changes: &'a SegmentChanges,
    ) -> BoxFuture<'a, Result<(), String>> {
        let mut ids = self.0.lock().unwrap();
        ids.extend(&changes.add);
        ids.retain(|id| !changes.remove.contains(id));
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn h15_two_way_without_echo() {
    let w = world().await;
    let [a, c] = [1, 3].map(email);
    w.fake.put_member(LIST, &a, "subscribed");
    w.fake.put_member(LIST, &c, "subscribed");
    let config = w.sync(Direction::TwoWay);
    let source = StaticSegment(Mutex::new(BTreeSet::from([3])));
    let options = RunOptions::default();
    let run = || run_and_apply(&w.client, &w.db, &source, &config, &options);
    run().await.unwrap();

    // A is added here: one tag request.
    source.0.lock().unwrap().insert(1);
    w.fake.clear_log();
    let report = run().await.unwrap();
    assert_eq!(w.writes().len(), 1);
    assert_eq!(w.tag_requests(), vec![(vec![a.clone()], vec![])]);
    assert_eq!(
        report.details.segment_changes,
        Some(SegmentChanges::default())
    );

    // The next run reads the tag's members, sees A, and sends nothing.
    w.fake.clear_log();
    run().await.unwrap();
    assert_eq!(w.writes(), vec![]);

    // The tag is removed from C in Mailchimp: C leaves, and no request is sent for C.
    w.fake.untag_by_hand(LIST, TAG, &c);
    w.fake.clear_log();
    let report = run().await.unwrap();
    let expected = SegmentChanges {
        add: vec![],
        remove: vec![3],
    };
    assert_eq!(report.details.segment_changes, Some(expected));
    assert_eq!(*source.0.lock().unwrap(), BTreeSet::from([1]));
    assert_eq!(w.writes(), vec![]);
    let hash = subscriber_hash(&c);
    assert!(
        !w.fake
            .requests()
            .iter()
            .any(|r| r.path.contains(&hash) || r.body.to_string().contains(&c))
    );

    // And it does not come back.
    w.fake.clear_log();
    let report = run().await.unwrap();
    assert_eq!(w.writes(), vec![]);
    assert_eq!(
        report.details.segment_changes,
        Some(SegmentChanges::default())
    );
    assert_eq!(w.fake.tagged(LIST, TAG), vec![a]);
}

#[tokio::test]
async fn two_way_brings_members_tagged_in_mailchimp_into_the_segment() {
    let w = world().await;
    w.fake.put_member(LIST, &email(4), "subscribed");
    w.fake
        .put_member(LIST, "stranger@example.com", "subscribed");
    w.fake.tag_by_hand(LIST, TAG, &email(4));
    w.fake.tag_by_hand(LIST, TAG, "stranger@example.com");
    let config = w.sync(Direction::TwoWay);
    let mut input = segment([]);
    input.directory = segment(1..=5).members;
    let report = w.run(&config, &input).await;
    let changes = report.details.segment_changes.unwrap();
    assert_eq!(changes.add, vec![4]);
    assert_eq!(
        report.details.unmatched,
        vec!["stranger@example.com".to_string()]
    );
    assert_eq!(w.writes(), vec![], "nothing goes back to Mailchimp");
}

#[tokio::test]
async fn two_way_is_refused_for_a_dynamic_segment() {
    let w = world().await;
    let config = w.sync(Direction::TwoWay);
    let mut input = segment([1]);
    input.segment_is_static = false;
    let refused = run_sync(&w.client, &w.db, &config, &input, &RunOptions::default()).await;
    assert!(matches!(
        refused,
        Err(SyncError::TwoWayOnDynamic { segment_id: 1, .. })
    ));
    assert_eq!(w.fake.requests(), vec![]);
    let dynamic = spec(2, "Other", Direction::TwoWay).validate(false);
    assert_eq!(
        dynamic.unwrap_err(),
        ConfigError::TwoWayOnDynamic { segment_id: 2 }
    );
}
