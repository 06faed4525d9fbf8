//! Limits and failures: chunks, requests in flight, 429, 5xx, a crash half-way.

use super::*;
use std::collections::BTreeSet;

use crate::mailchimp::address::subscriber_hash;
use crate::mailchimp::fake::Fault;
use crate::mailchimp::report::RunStatus;
use crate::mailchimp::store::StoreError;
use crate::mailchimp::sync::SyncError;

#[tokio::test]
async fn members_are_sent_in_chunks_of_500() {
    let w = world().await;
    let config = w.sync(Direction::OneWay);
    let report = w.run(&config, &segment(1..=1203)).await;
    let sizes = |lists: Vec<usize>| lists;
    assert_eq!(
        sizes(w.creates().iter().map(Vec::len).collect()),
        vec![500, 500, 203]
    );
    let tags = w.tag_requests();
    assert_eq!(
        sizes(tags.iter().map(|(add, _)| add.len()).collect()),
        vec![500, 500, 203]
    );
    assert_eq!(w.fake.tagged(LIST, TAG).len(), 1203);
    let c = report.counts;
    assert_eq!(
        (report.status, c.created, c.tagged, c.failed),
        (RunStatus::Success, 1203, 1203, 0)
    );
    assert!(w.fake.peak_in_flight() <= 10);
}

#[tokio::test]
async fn no_more_than_10_requests_are_in_flight() {
    let w = world().await;
    w.fake.set_latency(Duration::from_millis(20));
    let config = w.sync(Direction::OneWay);
    w.run(&config, &segment(1..=60)).await;
    let peak = w.fake.peak_in_flight();
    assert!((2..=10).contains(&peak), "peak {peak}");
    assert!(w.fake.requests().iter().all(|r| r.status != 429));
}

#[tokio::test]
async fn the_fake_answers_429_past_10_requests_and_the_client_recovers() {
    let mut options = fast_options();
    options.in_flight_max = 30;
    options.retry.attempts_max = 50;
    let w = world_with(options).await;
    w.fake.set_latency(Duration::from_millis(30));
    w.fake.put_member(LIST, &email(1), "subscribed");
    let hash = subscriber_hash(&email(1));
    let lookups = (0..30).map(|_| w.client.member(LIST, &hash));
    let found = futures::future::join_all(lookups).await;
    assert!(found.iter().all(|m| matches!(m, Ok(Some(_)))));
    assert!(w.fake.requests().iter().any(|r| r.status == 429));
    assert!(w.fake.peak_in_flight() > 10);
}

#[tokio::test]
async fn a_429_storm_is_retried_until_everything_lands() {
    let mut options = fast_options();
    options.retry.attempts_max = 40;
    let w = world_with(options).await;
    let storm = Fault {
        path_contains: Some("/members/".into()),
        ..Fault::storm(40)
    };
    w.fake.inject(storm);
    w.fake
        .inject(Fault::status("POST", "/segments/", 503).times(3));
    let config = w.sync(Direction::OneWay);
    let report = w.run(&config, &segment(1..=30)).await;
    let statuses: Vec<u16> = w.fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 40);
    assert_eq!(statuses.iter().filter(|s| **s == 503).count(), 3);
    assert_eq!(
        (report.status, report.counts.tagged),
        (RunStatus::Success, 30)
    );
    assert_eq!(w.fake.tagged(LIST, TAG).len(), 30);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let w = world().await;
    w.fake
        .inject(Fault::status("POST", "/segments/", 429).retry_after(1));
    let config = w.sync(Direction::OneWay);
    let report = w.run(&config, &segment([1])).await;
    assert_eq!(report.status, RunStatus::Success);
    let tags: Vec<LoggedRequest> = w
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/segments/"))
        .collect();
    assert_eq!(
        tags.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![429, 200]
    );
    let waited = tags[1].at - tags[0].at;
    assert!(waited >= Duration::from_secs(1), "waited {waited:?}");
}

#[tokio::test]
async fn a_server_error_half_way_is_retried() {
    let w = world().await;
    w.fake
        .inject(Fault::status("POST", "/segments/", 500).after(1));
    let config = w.sync(Direction::OneWay);
    let report = w.run(&config, &segment(1..=1203)).await;
    assert_eq!(report.status, RunStatus::Success);
    let tag_statuses: Vec<u16> = w
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("/segments/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(tag_statuses, vec![200, 500, 200, 200]);
    assert_eq!(w.fake.tagged(LIST, TAG).len(), 1203);
}

#[tokio::test]
async fn a_server_down_half_way_ends_partial_and_the_next_run_completes() {
    let w = world().await;
    w.fake.inject(
        Fault::status("POST", "/segments/", 500)
            .after(1)
            .times(1000),
    );
    let config = w.sync(Direction::OneWay);
    let report = w.run(&config, &segment(1..=1203)).await;
    assert_eq!(report.status, RunStatus::Partial);
    assert!(report.error.as_deref().unwrap().contains("HTTP 500"));
    assert_eq!((report.counts.tagged, report.counts.failed), (500, 703));
    let first_chunk: BTreeSet<String> = w.tag_requests()[0].0.iter().cloned().collect();
    let state = store::load_state(&w.db.lock().unwrap(), config.id).unwrap();
    let confirmed = state.values().filter(|e| e.confirmed).count();
    let sent = state.values().filter(|e| !e.confirmed).count();
    assert_eq!(
        (confirmed, sent),
        (500, 500),
        "chunk 1 confirmed, chunk 2 maybe landed"
    );

    w.fake.clear_faults();
    w.fake.clear_log();
    let report = w.run(&config, &segment(1..=1203)).await;
    assert_eq!(report.status, RunStatus::Success);
    let resent = w.tag_requests().into_iter().flat_map(|(add, _)| add);
    assert_eq!(resent.filter(|e| first_chunk.contains(e)).count(), 0);
    assert_eq!(w.fake.tagged(LIST, TAG).len(), 1203);
}

#[tokio::test]
async fn a_crash_half_way_resumes_without_resending_or_losing_a_removal() {
    let w = world().await;
    w.fake.inject(Fault::hang("POST", "/segments/").after(1));
    let config = w.sync(Direction::OneWay);
    let all = segment(1..=1203);
    tokio::select! {
        _ = w.run(&config, &all) => panic!("the run should hang"),
        () = w.fake.hung() => {}
    }
    // The second tag chunk landed, unconfirmed; the process died.
    let tags = w.tag_requests();
    let confirmed: BTreeSet<String> = tags[0].0.iter().cloned().collect();
    let in_doubt = tags[1].0.clone();
    let created: BTreeSet<String> = w.creates().concat().into_iter().map(|(e, _)| e).collect();
    let busy = run_sync(&w.client, &w.db, &config, &all, &RunOptions::default()).await;
    assert!(matches!(
        busy,
        Err(SyncError::Store(StoreError::Busy { .. }))
    ));

    // One member of the chunk in doubt leaves the segment before the resume.
    let leaver = in_doubt[0].clone();
    let mut input = all.clone();
    input
        .members
        .retain(|m| m.email.as_deref() != Some(leaver.as_str()));
    w.fake.clear_faults();
    w.fake.clear_log();
    let takeover = RunOptions {
        stale_lock_after: Duration::ZERO,
        ..RunOptions::default()
    };
    let report = w.run_with(&config, &input, &takeover).await;

    assert_eq!(report.status, RunStatus::Success);
    let resent_tags: Vec<String> = w
        .tag_requests()
        .into_iter()
        .flat_map(|(add, _)| add)
        .collect();
    assert!(
        resent_tags.iter().all(|e| !confirmed.contains(e)),
        "confirmed tags are not resent"
    );
    let resent_creates = w.creates().concat();
    assert!(
        resent_creates.iter().all(|(e, _)| !created.contains(e)),
        "created members are not recreated"
    );
    let removals: Vec<String> = w
        .tag_requests()
        .into_iter()
        .flat_map(|(_, remove)| remove)
        .collect();
    assert_eq!(removals, vec![leaver.clone()], "the removal is not lost");
    let tagged = w.fake.tagged(LIST, TAG);
    assert_eq!(tagged.len(), 1202);
    assert!(!tagged.contains(&leaver));
    let history = store::runs(&w.db.lock().unwrap(), config.id, 10).unwrap();
    let statuses: Vec<RunStatus> = history.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![RunStatus::Success, RunStatus::Failed]);
    assert!(
        history[1]
            .error
            .as_deref()
            .unwrap()
            .starts_with("interrupted")
    );
}
