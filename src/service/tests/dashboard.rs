//! Report views published with their snapshot, and the dashboard answered once per state,
//! widget set and day.

use crate::reports::store::NewWidget;
use crate::reports::{Metric, WidgetPeriod};

use super::*;

/// Client 1 (US) 150.00 on 1 May, client 2 (DE) 40.00 on 2 May, client 3 (US) 10.00 on
/// 3 May 2024, all completed; the zone is UTC.
fn may_orders() -> FactsBuilder {
    four_clients()
        .order(order(10, 1, "2024-05-01T10:00:00Z", 15_000))
        .order(order(11, 2, "2024-05-02T10:00:00Z", 4_000))
        .order(order(12, 3, "2024-05-03T10:00:00Z", 1_000))
}

fn revenue_last_7_days(title: &str, segment_id: Option<i64>) -> NewWidget {
    NewWidget {
        title: title.into(),
        segment_id,
        metric: Metric::Revenue,
        period: WidgetPeriod::Last7Days,
    }
}

/// The widgets of an answer, as sent.
fn widgets(answer: &DashboardAnswer) -> Vec<Value> {
    let json: Value = serde_json::from_slice(&answer.json).unwrap();
    json["widgets"].as_array().unwrap().clone()
}

/// Each widget's current value, as sent.
fn currents(answer: &DashboardAnswer) -> Vec<Value> {
    widgets(answer)
        .iter()
        .map(|w| w["current"].clone())
        .collect()
}

fn money(amount: &str) -> Value {
    Value::String(amount.into())
}

#[tokio::test]
async fn report_views_are_published_with_their_snapshot() {
    let (_dir, service) = tenant(&may_orders()).await;
    let opened = service.state();
    assert!(Arc::ptr_eq(opened.reports.snapshot(), &opened.snapshot));
    service
        .create_segment(dynamic("US", country_is("US")))
        .await
        .unwrap();
    let edited = service.state();
    assert!(
        !Arc::ptr_eq(&edited, &opened),
        "an edit publishes a new state"
    );
    assert!(
        Arc::ptr_eq(&edited.reports, &opened.reports),
        "the same snapshot keeps its views"
    );
    service.reload().await.unwrap();
    let reloaded = service.state();
    assert!(!Arc::ptr_eq(&reloaded.reports, &opened.reports));
    assert!(Arc::ptr_eq(reloaded.reports.snapshot(), &reloaded.snapshot));
}

#[tokio::test]
async fn the_dashboard_is_computed_once_per_state_widgets_and_day() {
    let (dir, service) = tenant(&may_orders()).await;
    let us = service
        .create_segment(dynamic("US", country_is("US")))
        .await
        .unwrap();
    service
        .create_widget(&revenue_last_7_days("US", Some(us.id)))
        .unwrap();
    let now = at("2024-05-03T12:00:00Z");
    let first = service.dashboard(now).await.unwrap();
    // 27 April to 3 May: clients 1 and 3.
    assert_eq!(currents(&first), [money("160.00")]);
    let again = service.dashboard(at("2024-05-03T23:59:00Z")).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "same state, widgets and day");

    service
        .create_widget(&revenue_last_7_days("All", None))
        .unwrap();
    let widened = service.dashboard(now).await.unwrap();
    assert_eq!(currents(&widened), [money("160.00"), money("200.00")]);

    // 28 April to 4 May: the same orders, but another day's answer.
    let tomorrow = service.dashboard(at("2024-05-04T00:30:00Z")).await.unwrap();
    assert!(!Arc::ptr_eq(&tomorrow, &widened));
    assert_eq!(currents(&tomorrow), [money("160.00"), money("200.00")]);

    // New facts: client 3 buys 5.00 more on 3 May.
    let grown = may_orders().order(order(13, 3, "2024-05-03T11:00:00Z", 500));
    write_tenant(dir.path(), &grown);
    service.reload().await.unwrap();
    let reloaded = service.dashboard(now).await.unwrap();
    assert_eq!(currents(&reloaded), [money("165.00"), money("205.00")]);

    // A refreshed membership: the US segment becomes DE.
    let patch = SegmentPatch {
        rule: Some(country_is("DE")),
        ..SegmentPatch::default()
    };
    service.update_segment(us.id, patch).await.unwrap();
    let refreshed = service.dashboard(now).await.unwrap();
    assert_eq!(currents(&refreshed), [money("40.00"), money("205.00")]);
}

#[tokio::test]
async fn answers_for_other_days_do_not_evict_each_other() {
    let (_dir, service) = tenant(&may_orders()).await;
    service
        .create_widget(&revenue_last_7_days("All", None))
        .unwrap();
    let day = |d: u32| at(&format!("2024-05-{d:02}T12:00:00Z"));
    let first = service.dashboard(day(3)).await.unwrap();
    let second = service.dashboard(day(4)).await.unwrap();
    assert_eq!(currents(&second), [money("200.00")]);
    let again = service.dashboard(day(3)).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "3 May is kept beside 4 May");

    // Four days are kept. A fifth evicts the one farthest from the real today, which is
    // long after May 2024: 3 May goes, 4 May stays.
    for d in [5, 6, 1] {
        service.dashboard(day(d)).await.unwrap();
    }
    let kept = service.dashboard(day(4)).await.unwrap();
    assert!(Arc::ptr_eq(&second, &kept), "4 May is kept");
    let recomputed = service.dashboard(day(3)).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &recomputed), "3 May was evicted");
    assert_eq!(currents(&recomputed), [money("200.00")]);
}

#[tokio::test]
async fn deleting_a_widget_changes_the_dashboard_and_unknown_ids_are_named() {
    let (_dir, service) = tenant(&may_orders()).await;
    let kept = service
        .create_widget(&revenue_last_7_days("kept", None))
        .unwrap();
    let gone = service
        .create_widget(&revenue_last_7_days("gone", None))
        .unwrap();
    let now = at("2024-05-03T12:00:00Z");
    let before = service.dashboard(now).await.unwrap();
    assert_eq!(widgets(&before).len(), 2);
    service.delete_widget(gone.id).unwrap();
    let after = service.dashboard(now).await.unwrap();
    let ids: Vec<Value> = widgets(&after)
        .iter()
        .map(|w| w["widget"]["id"].clone())
        .collect();
    assert_eq!(ids, [json!(kept.id)]);
    let error = service.delete_widget(gone.id).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("widget {} does not exist", gone.id)
    );
    let error = service
        .create_widget(&revenue_last_7_days("orphan", Some(77)))
        .unwrap_err();
    assert_eq!(error.to_string(), "segment_id: segment 77 does not exist");
}
