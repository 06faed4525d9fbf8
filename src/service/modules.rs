//! The catalog tables of the modules that segments drive: pricing, report widgets and the
//! Mailchimp sync, opened together with the segment catalog, and what a segment delete
//! removes from them.

use rusqlite::Connection;
use serde::Serialize;

use crate::catalog::{CatalogError, Migration};
use crate::{pricing, reports};

/// Every module's migrations. Pricing and reports keep plain lists of statements that only
/// ever grow at the end, so statement `i` is that module's version `i + 1`.
pub fn migrations() -> Vec<Migration> {
    let numbered = |module: &'static str, list: &'static [&'static str]| {
        list.iter().enumerate().map(move |(i, sql)| Migration {
            module,
            version: i as u32 + 1,
            sql,
        })
    };
    numbered("pricing", crate::pricing::store::MIGRATIONS)
        .chain(numbered("reports", crate::reports::store::MIGRATIONS))
        .chain(crate::mailchimp::store::CATALOG_MIGRATIONS.iter().copied())
        .collect()
}

/// What went with a deleted segment, so that the one who deleted it sees that widgets or
/// syncs went too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentRemoval {
    /// The deleted segment.
    pub deleted: i64,
    /// Whether it had a place in the pricing priority list.
    pub removed_from_pricing: bool,
    /// How many dashboard widgets showed it.
    pub widgets_deleted: usize,
    /// How many Mailchimp syncs pushed it.
    pub mailchimp_syncs_deleted: usize,
    /// Its price updates whose overrides stay in force: they belong to the clients, so the
    /// delete does not revert them (`POST /v1/price-updates/{id}/revert` does).
    pub price_updates_kept: Vec<i64>,
}

/// Removes what the modules keep about a segment being deleted, in the delete's transaction:
/// its place in the pricing priority list, its dashboard widgets, and its Mailchimp syncs
/// with their state and run history. Price overrides its updates wrote stay (they belong to
/// the clients), and Mailchimp keeps the tag on its members.
///
/// # Errors
/// A database failure; the caller's transaction then rolls the delete back.
pub fn on_segment_deleted(
    conn: &Connection,
    segment_id: i64,
) -> crate::catalog::Result<SegmentRemoval> {
    let prioritised = pricing::store::remove_segment(conn, segment_id)
        .map_err(|e| pricing_fault(segment_id, e))?;
    let widgets = reports::store::delete_segment_widgets(conn, segment_id)
        .map_err(|e| widget_fault(segment_id, e))?;
    let syncs = super::mailchimp::delete_segment_syncs(conn, segment_id)?;
    let kept = pricing::store::updates_in_force(conn, segment_id, super::now())
        .map_err(|e| pricing_fault(segment_id, e))?;
    tracing::info!(
        segment_id,
        prioritised,
        widgets,
        syncs,
        "segment removed from pricing, dashboards and Mailchimp"
    );
    Ok(SegmentRemoval {
        deleted: segment_id,
        removed_from_pricing: prioritised,
        widgets_deleted: widgets,
        mailchimp_syncs_deleted: syncs,
        price_updates_kept: kept,
    })
}

/// Both stores fail here only in SQLite; anything else is reported as unreadable data.
fn pricing_fault(segment_id: i64, error: pricing::PricingError) -> CatalogError {
    match error {
        pricing::PricingError::Store(sql) => CatalogError::Sql(sql),
        other => CatalogError::Corrupt {
            segment_id,
            what: "pricing priority",
            detail: other.to_string(),
        },
    }
}

fn widget_fault(segment_id: i64, error: reports::store::StoreError) -> CatalogError {
    match error {
        reports::store::StoreError::Sqlite(sql) => CatalogError::Sql(sql),
        other => CatalogError::Corrupt {
            segment_id,
            what: "dashboard widgets",
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::catalog::Catalog;
    use crate::mailchimp;
    use crate::service::mailchimp::MailchimpRuntime;
    use crate::service::mailchimp::tests::{segments, tenant};

    #[test]
    fn a_new_catalog_gets_every_module_table() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("catalog.sqlite"), &migrations()).unwrap();
        let tables: Vec<String> = catalog
            .with_conn(|conn| {
                let mut statement =
                    conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
                let names = statement.query_map([], |row| row.get(0))?;
                Ok(names.collect::<Result<_, _>>()?)
            })
            .unwrap();
        for table in [
            "pricing_priority",
            "price_updates",
            "dashboard_widgets",
            "mailchimp_syncs",
        ] {
            assert!(
                tables.iter().any(|t| t == table),
                "{table} missing from {tables:?}"
            );
        }
    }

    /// Per module, the segments it still knows: priority list, widget segments, sync
    /// segments, and how many runs are stored.
    fn left(service: &crate::service::Service) -> (Vec<i64>, Vec<Option<i64>>, Vec<i64>, i64) {
        let catalog = service.catalog();
        let priority = catalog.with_conn(|c| Ok(pricing::store::read_priority(c).unwrap()));
        let widgets = catalog.with_conn(|c| Ok(reports::store::widgets(c).unwrap()));
        let widgets = widgets.unwrap().iter().map(|w| w.segment_id).collect();
        let syncs = catalog.with_conn(|c| Ok(mailchimp::store::list_syncs(c).unwrap()));
        let syncs = syncs.unwrap().iter().map(|s| s.segment_id).collect();
        let count = "SELECT COUNT(*) FROM mailchimp_runs";
        let runs = catalog.with_conn(|c| Ok(c.query_row(count, [], |row| row.get(0))?));
        (priority.unwrap(), widgets, syncs, runs.unwrap())
    }

    #[tokio::test]
    async fn deleting_a_segment_removes_its_priority_widgets_and_syncs() {
        let (_dir, service) = tenant().await;
        let (listed, germany) = segments(&service).await;
        let runtime = MailchimpRuntime::open(std::sync::Arc::clone(&service), None).unwrap();
        let mut syncs = Vec::new();
        for (segment_id, tag) in [(listed, "Listed"), (germany, "Germany")] {
            let spec = json!({"segment_id": segment_id, "list_id": "aud1", "tag": tag});
            let spec = serde_json::from_value(spec).unwrap();
            syncs.push(runtime.create_sync(spec).await.unwrap());
        }
        let both = [listed, germany];
        let widget = |segment_id| reports::store::NewWidget {
            title: format!("Revenue of {segment_id}"),
            segment_id: Some(segment_id),
            metric: reports::Metric::Revenue,
            period: reports::WidgetPeriod::Last30Days,
        };
        let stored = service.catalog().with_tx(|tx| {
            pricing::store::replace_priority(tx, &both, &both).unwrap();
            for segment_id in both {
                reports::store::insert_widget(tx, &widget(segment_id)).unwrap();
            }
            Ok(())
        });
        stored.unwrap();
        let conn = mailchimp::store::open(service.catalog().path()).unwrap();
        let five_minutes = std::time::Duration::from_secs(300);
        for sync in &syncs {
            let manual = mailchimp::Trigger::Manual;
            mailchimp::store::begin_run(&conn, sync.id, manual, Utc::now(), five_minutes).unwrap();
        }
        let before = (
            both.to_vec(),
            vec![Some(listed), Some(germany)],
            both.to_vec(),
            2,
        );
        assert_eq!(left(&service), before);

        let removal = service.delete_segment(listed).await.unwrap();
        let expected = SegmentRemoval {
            deleted: listed,
            removed_from_pricing: true,
            widgets_deleted: 1,
            mailchimp_syncs_deleted: 1,
            price_updates_kept: Vec::new(),
        };
        assert_eq!(removal, expected);
        assert_eq!(
            left(&service),
            (vec![germany], vec![Some(germany)], vec![germany], 1)
        );
    }
}
