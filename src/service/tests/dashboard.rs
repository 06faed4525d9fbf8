//! Report views published with their snapshot, and the dashboard answered once per state,
//! widget set and day.

use crate::money::Cents;
use crate::reports::store::NewWidget;
use crate::reports::{Amount, Metric, WidgetPeriod};

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

/// Each widget's current value.
fn currents(answer: &DashboardAnswer) -> Vec<Option<Amount>> {
    let widgets = &answer.dashboard.widgets;
    widgets.iter().map(|value| value.current).collect()
}

fn money(cents: i64) -> Option<Amount> {
    Some(Amount::Money(Cents(cents)))
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
    assert_eq!(currents(&first), [money(16_000)]);
    let json: Value = serde_json::from_slice(&first.json).unwrap();
    assert_eq!(json["widgets"][0]["current"], "160.00");
    let again = service.dashboard(at("2024-05-03T23:59:00Z")).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "same state, widgets and day");

    service
        .create_widget(&revenue_last_7_days("All", None))
        .unwrap();
    let widened = service.dashboard(now).await.unwrap();
    assert_eq!(currents(&widened), [money(16_000), money(20_000)]);

    // 28 April to 4 May: the same orders, but another day's answer.
    let tomorrow = service.dashboard(at("2024-05-04T00:30:00Z")).await.unwrap();
    assert!(!Arc::ptr_eq(&tomorrow, &widened));
    assert_eq!(currents(&tomorrow), [money(16_000), money(20_000)]);

    // New facts: client 3 buys 5.00 more on 3 May.
    let grown = may_orders().order(order(13, 3, "2024-05-03T11:00:00Z", 500));
    write_tenant(dir.path(), &grown);
    service.reload().await.unwrap();
    let reloaded = service.dashboard(now).await.unwrap();
    assert_eq!(currents(&reloaded), [money(16_500), money(20_500)]);

    // A refreshed membership: the US segment becomes DE.
    let patch = SegmentPatch {
        rule: Some(country_is("DE")),
        ..SegmentPatch::default()
    };
    service.update_segment(us.id, patch).await.unwrap();
    let refreshed = service.dashboard(now).await.unwrap();
    assert_eq!(currents(&refreshed), [money(4_000), money(20_500)]);
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
    assert_eq!(
        service
            .dashboard(now)
            .await
            .unwrap()
            .dashboard
            .widgets
            .len(),
        2
    );
    service.delete_widget(gone.id).unwrap();
    let after = service.dashboard(now).await.unwrap();
    let ids: Vec<i64> = after
        .dashboard
        .widgets
        .iter()
        .map(|v| v.widget.id)
        .collect();
    assert_eq!(ids, [kept.id]);
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
