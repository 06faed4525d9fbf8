//! Refresh rounds, stale results (H12), history, preview, the scheduler and metrics.

use tokio::sync::oneshot;

use super::*;
use crate::service::round::Gate;

/// Arms the pause between computing and publishing the next refresh round.
fn arm_gate(service: &Service) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
    let (reached_tx, reached_rx) = oneshot::channel();
    let (proceed_tx, proceed_rx) = oneshot::channel();
    let gate = Gate {
        reached: reached_tx,
        proceed: proceed_rx,
    };
    *service.gate.lock().unwrap() = Some(gate);
    (reached_rx, proceed_tx)
}

#[tokio::test]
async fn h12_a_refresh_computed_from_an_older_rule_is_never_published() {
    let (_dir, service) = tenant(&four_clients()).await;
    let segment = service
        .create_segment(dynamic("Region", country_is("US")))
        .await
        .unwrap();
    check_members(&service, segment.id, &[1, 3]);

    // A refresh on v1 computes {A, C}, then waits before publishing.
    let (reached, proceed) = arm_gate(&service);
    let round = tokio::spawn({
        let service = Arc::clone(&service);
        async move { service.refresh_all().await }
    });
    reached.await.unwrap();

    // v2 is saved while the v1 refresh waits.
    let v2 = SegmentPatch {
        rule: Some(country_is("DE")),
        ..SegmentPatch::default()
    };
    assert_eq!(
        service
            .update_segment(segment.id, v2)
            .await
            .unwrap()
            .rule_version,
        2
    );
    check_members(&service, segment.id, &[2]);

    proceed.send(()).unwrap();
    let report = round.await.unwrap().unwrap();
    assert_eq!((report.stale, report.refreshed), (vec![segment.id], vec![]));
    let published = service.state().membership(segment.id).cloned().unwrap();
    assert_eq!((published.rule_version, published.members.len()), (2, 1));
    check_members(&service, segment.id, &[2]);
    // {A, C} was never published after the save: the history ends with the save.
    let history = service.history(segment.id, None).unwrap();
    let versions: Vec<(i64, u64)> = history.iter().map(|h| (h.rule_version, h.count)).collect();
    assert_eq!(versions, vec![(1, 2), (2, 1)]);
}

#[tokio::test]
async fn a_stale_static_list_and_what_reads_it_are_not_published() {
    let (_dir, service) = tenant(&four_clients()).await;
    let key = service.create_segment(listed("Key")).await.unwrap();
    let reader = service
        .create_segment(dynamic("Reader", reads(key.id)))
        .await
        .unwrap();
    let (reached, proceed) = arm_gate(&service);
    let round = tokio::spawn({
        let service = Arc::clone(&service);
        async move { service.refresh_all().await }
    });
    reached.await.unwrap();
    service.add_members(key.id, &[4]).await.unwrap();
    proceed.send(()).unwrap();
    let report = round.await.unwrap().unwrap();
    assert_eq!(report.stale, vec![key.id, reader.id]);
    check_members(&service, key.id, &[4]);
    check_members(&service, reader.id, &[4]);
}

#[tokio::test]
async fn a_refresh_round_records_who_entered_and_left() {
    let dir = tempfile::tempdir().unwrap();
    write_tenant(dir.path(), &four_clients());
    let service = open(dir.path()).await;
    let us = service
        .create_segment(dynamic("US", country_is("US")))
        .await
        .unwrap();
    let mut facts = four_clients();
    facts.clients[1].country = Some("US".into());
    facts.clients[2].country = Some("FR".into());
    write_tenant(dir.path(), &facts);
    let report = service.reload().await.unwrap();
    assert_eq!(report.refresh.refreshed, vec![us.id]);
    check_members(&service, us.id, &[1, 2]);
    let history = service.history(us.id, None).unwrap();
    assert_eq!(history.len(), 2);
    let last = &history[1];
    assert_eq!(
        (last.count, last.entered, last.left, last.rule_version),
        (2, 1, 1, 1)
    );
    let changes = service.history_changes(us.id, last.at).unwrap();
    assert_eq!((changes.entered, changes.left), (vec![2], vec![3]));
    let view = service.segment(us.id).unwrap().last_refresh.unwrap();
    assert_eq!(view, *last);
    // A plain round with nothing changed records an entry with no movement.
    let round = service.refresh_all().await.unwrap();
    assert_eq!((round.refreshed, round.stale), (vec![us.id], vec![]));
    let entries = service.history(us.id, Some(last.at)).unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.entered, e.left))
            .collect::<Vec<_>>(),
        vec![(1, 1), (0, 0)]
    );
    let error = service
        .history_changes(us.id, at("2020-01-01T00:00:00Z"))
        .unwrap_err();
    assert!(matches!(error, ServiceError::NotFound { .. }), "{error}");
    assert!(matches!(
        service.history(99, None),
        Err(ServiceError::NotFound { .. })
    ));
}

#[tokio::test]
async fn refreshing_one_segment_uses_the_stored_rule() {
    let (_dir, service) = tenant(&four_clients()).await;
    let us = service
        .create_segment(dynamic("US", country_is("US")))
        .await
        .unwrap();
    let view = service.refresh_segment(us.id).await.unwrap();
    assert_eq!((view.member_count, view.rule_version), (2, 1));
    assert_eq!(service.history(us.id, None).unwrap().len(), 2);
    assert!(matches!(
        service.refresh_segment(5).await,
        Err(ServiceError::NotFound { .. })
    ));
}

#[tokio::test]
async fn previews_count_sample_and_warn_without_storing() {
    let mut facts = FactsBuilder::new();
    for id in 1..=25 {
        facts = facts.client(client(id, Some(if id % 5 == 0 { "DE" } else { "US" })));
    }
    facts = facts.order(order(1, 3, "2024-01-10T12:00:00Z", 5_000));
    let (_dir, service) = tenant(&facts).await;
    let rule = json!({"all": [country_is("US"), {"any": []}, {"none": []}]});
    let preview = service
        .preview(&json!({"any": [rule, country_is("US")]}), None)
        .unwrap();
    assert_eq!(preview.count, 20);
    assert_eq!(preview.sample.len(), SAMPLE_SIZE);
    assert_eq!(
        preview.sample[..2],
        [
            SampleMember {
                client_id: 1,
                name: "Client 1".into()
            },
            SampleMember {
                client_id: 2,
                name: "Client 2".into()
            }
        ]
    );
    assert_eq!(preview.sample.last().unwrap().client_id, 24);
    let counts: Vec<(&str, u64)> = preview
        .nodes
        .iter()
        .map(|n| (n.path.as_str(), n.count))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("$", 20),
            ("$.any[0]", 0),
            ("$.any[0].all[0]", 20),
            ("$.any[0].all[1]", 0),
            ("$.any[0].all[2]", 25),
            ("$.any[1]", 20)
        ]
    );
    let paths: Vec<&str> = preview.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, vec!["$.any[0].all[1]", "$.any[0].all[2]"]);

    // as_of moves "today".
    let recent = json!({"field": "last_purchase_date", "op": "within_last", "value": {"days": 30}});
    let in_january = service
        .preview(&recent, Some(at("2024-01-20T00:00:00Z")))
        .unwrap();
    let in_june = service
        .preview(&recent, Some(at("2024-06-20T00:00:00Z")))
        .unwrap();
    assert_eq!((in_january.count, in_june.count), (1, 0));
    assert_eq!(in_january.as_of, at("2024-01-20T00:00:00Z"));

    let error = service.preview(&json!({"field": "colour", "op": "is", "value": 1}), None);
    assert!(matches!(error, Err(ServiceError::BadRule(_))));
    assert_eq!(stored_rows(&service), (0, 0, 0));
}

#[tokio::test]
async fn the_scheduler_refreshes_until_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    write_tenant(dir.path(), &four_clients());
    let mut options = ServiceOptions::new(dir.path());
    options.refresh_interval = std::time::Duration::from_millis(20);
    let service = Service::open(options).await.unwrap();
    let rounds_at_open = service.metrics().report().refresh_rounds;
    let handle = service.start_scheduler();
    let mut signal = service.shutdown_signal();
    for _ in 0..500 {
        if service.metrics().report().refresh_rounds >= rounds_at_open + 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(service.metrics().report().refresh_rounds >= rounds_at_open + 2);
    service.shutdown();
    tokio::time::timeout(std::time::Duration::from_secs(10), handle)
        .await
        .expect("the scheduler stops")
        .unwrap();
    signal.changed().await.unwrap();
    assert!(*signal.borrow());
}

#[tokio::test]
async fn metrics_count_rounds_sizes_and_appends() {
    let (_dir, service) = tenant(&four_clients()).await;
    let us = service
        .create_segment(dynamic("US", country_is("US")))
        .await
        .unwrap();
    service.refresh_all().await.unwrap();
    let report = service.metrics().report();
    assert_eq!((report.refresh_rounds, report.segments_refreshed), (2, 1));
    assert_eq!(report.recent_rounds_ms.len(), 2);
    assert_eq!(report.segment_sizes.get(&us.id), Some(&2));
    service.delete_segment(us.id).await.unwrap();
    assert!(service.metrics().report().segment_sizes.is_empty());
}

#[tokio::test]
async fn a_preview_as_of_evaluates_the_segments_it_reads_as_of_then_too() {
    // Client 1 buys on 1 May 2024, client 2 on 2 May, client 3 on 3 May.
    let facts = four_clients()
        .order(order(10, 1, "2024-05-01T10:00:00Z", 1_000))
        .order(order(11, 2, "2024-05-02T10:00:00Z", 1_000))
        .order(order(12, 3, "2024-05-03T10:00:00Z", 1_000));
    let (_dir, service) = tenant(&facts).await;
    let week = json!({"field": "last_purchase_date", "op": "within_last", "value": {"days": 7}});
    // Published now, long after May 2024: nobody bought in the last week.
    let recent = service
        .create_segment(dynamic("Recent", week))
        .await
        .unwrap();
    let in_us =
        json!({"all": [{"field": "segment", "op": "is", "value": recent.id}, country_is("US")]});
    let recent_us = service
        .create_segment(dynamic("Recent US", in_us))
        .await
        .unwrap();
    let reads = json!({"field": "segment", "op": "is", "value": recent_us.id});

    let now = service.preview(&reads, None).unwrap();
    assert_eq!(now.count, 0, "the published memberships are empty");
    // As of 9 May, within the last 7 days is on or after 2 May: clients 2 and 3 bought,
    // client 3 is in the US, through two levels of segments.
    let then = service
        .preview(&reads, Some(at("2024-05-09T12:00:00Z")))
        .unwrap();
    let ids: Vec<i64> = then.sample.iter().map(|m| m.client_id).collect();
    assert_eq!((then.count, ids), (1, vec![3]));
    // As of 4 May, on or after 27 April: all three bought; clients 1 and 3 are in the US.
    let earlier = service
        .preview(&reads, Some(at("2024-05-04T12:00:00Z")))
        .unwrap();
    let ids: Vec<i64> = earlier.sample.iter().map(|m| m.client_id).collect();
    assert_eq!(ids, [1, 3]);
}
