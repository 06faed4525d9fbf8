//! The dashboard: widgets kept in the catalog, and their values on the published state.
//!
//! A dashboard's values depend only on the published state (facts and memberships, swapped
//! as a whole by every reload, refresh and segment delete), the widgets and today's local
//! date. Answers are kept with those three; while they are the same an answer is sent
//! again as is, already encoded, so a dashboard polled by many users costs one computation
//! per change, not one per request. A few days are kept side by side, so a request for
//! another day (`?now=`) does not evict today's answer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Connection;
use serde::Serialize;

use crate::catalog::segments;
use crate::reports::store::{self, NewWidget, StoreError};
use crate::reports::{ReportError, Widget, WidgetValue, widget_values};

use super::Service;
use super::error::{Result, ServiceError};
use super::state::TenantState;

/// Every widget's value, as computed once for one state, widget set and day.
#[derive(Debug, Serialize)]
pub struct Dashboard {
    pub widgets: Vec<WidgetValue>,
}

/// A dashboard encoded once as JSON, answered as long as nothing it depends on changed.
#[derive(Debug)]
pub struct DashboardAnswer {
    /// A [`Dashboard`] as JSON.
    pub json: Bytes,
    /// What the values were computed from. Weak, so an old state is freed at its swap and
    /// not kept alive until the next dashboard request; the allocation stays until this
    /// answer is dropped, so its address is never another state's.
    state: Weak<TenantState>,
    widgets_version: u64,
    today: NaiveDate,
}

impl DashboardAnswer {
    fn answers(&self, state: &Arc<TenantState>, widgets_version: u64, today: NaiveDate) -> bool {
        std::ptr::eq(self.state.as_ptr(), Arc::as_ptr(state))
            && self.widgets_version == widgets_version
            && self.today == today
    }
}

/// Days of answers kept for one state and widget set.
const DAYS_KEPT: usize = 4;

/// The dashboards answered lately, and what invalidates them.
#[derive(Debug, Default)]
pub(super) struct DashboardCache {
    /// Bumped after every widget change commits, before the change is answered.
    widgets_version: AtomicU64,
    /// At most [`DAYS_KEPT`] answers, each of a different day.
    answers: RwLock<Vec<Arc<DashboardAnswer>>>,
    /// Held while computing, so the requests that arrive after a change wait for one
    /// computation instead of each running their own.
    computing: tokio::sync::Mutex<()>,
}

impl DashboardCache {
    fn fresh(
        &self,
        state: &Arc<TenantState>,
        widgets_version: u64,
        today: NaiveDate,
    ) -> Option<Arc<DashboardAnswer>> {
        let answers = self.answers.read().unwrap_or_else(PoisonError::into_inner);
        let answer = answers
            .iter()
            .find(|answer| answer.answers(state, widgets_version, today))?;
        Some(Arc::clone(answer))
    }

    /// Keeps `answer`, dropping answers of other states or widget sets and, past
    /// [`DAYS_KEPT`], the one whose day is farthest from `current_day` (the real today), so
    /// the answer most users ask for stays.
    fn keep(&self, answer: Arc<DashboardAnswer>, current_day: NaiveDate) {
        let mut answers = self.answers.write().unwrap_or_else(PoisonError::into_inner);
        answers.retain(|kept| {
            std::ptr::eq(kept.state.as_ptr(), answer.state.as_ptr())
                && kept.widgets_version == answer.widgets_version
                && kept.today != answer.today
        });
        if answers.len() >= DAYS_KEPT {
            let distance = |kept: &Arc<DashboardAnswer>| (kept.today - current_day).abs();
            let farthest = (0..answers.len()).max_by_key(|i| distance(&answers[*i]));
            if let Some(i) = farthest {
                answers.swap_remove(i);
            }
        }
        answers.push(answer);
    }

    fn note_widgets_changed(&self) {
        self.widgets_version.fetch_add(1, Ordering::SeqCst);
    }
}

impl Service {
    /// Every widget's value as of `now`, with the value of the period before.
    ///
    /// # Errors
    /// A catalog fault, or a fault running a report query.
    pub async fn dashboard(self: &Arc<Self>, now: DateTime<Utc>) -> Result<Arc<DashboardAnswer>> {
        let cache = &self.dashboard;
        // The version is read before the widgets are, so a change racing this request is
        // seen by the next one.
        let key = || {
            let widgets_version = cache.widgets_version.load(Ordering::SeqCst);
            let state = self.state();
            let today = crate::time::today(now, state.snapshot.tz);
            (widgets_version, state, today)
        };
        let (widgets_version, state, today) = key();
        if let Some(answer) = cache.fresh(&state, widgets_version, today) {
            return Ok(answer);
        }
        let _turn = cache.computing.lock().await;
        // Read again: what changed while this request waited is what it must answer.
        let (widgets_version, state, today) = key();
        if let Some(answer) = cache.fresh(&state, widgets_version, today) {
            return Ok(answer);
        }
        let service = Arc::clone(self);
        let widgets = tokio::task::spawn_blocking(move || service.widgets()).await;
        let widgets = widgets.map_err(|e| ServiceError::internal(format!("widgets: {e}")))??;
        let values = widget_values(&state.reports, state.as_ref(), &widgets, now).await;
        let dashboard = Dashboard {
            widgets: values.map_err(report_failed)?,
        };
        let json = serde_json::to_vec(&dashboard).map_err(ServiceError::internal)?;
        let answer = Arc::new(DashboardAnswer {
            json: Bytes::from(json),
            state: Arc::downgrade(&state),
            widgets_version,
            today,
        });
        let current_day = crate::time::today(Utc::now(), state.snapshot.tz);
        cache.keep(Arc::clone(&answer), current_day);
        Ok(answer)
    }

    /// Every widget, in creation order.
    ///
    /// # Errors
    /// A catalog fault.
    pub fn widgets(&self) -> Result<Vec<Widget>> {
        self.widget_read(store::widgets)
    }

    /// The widget `id`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or a catalog fault.
    pub fn widget(&self, id: i64) -> Result<Widget> {
        self.widget_read(|conn| store::widget(conn, id))
    }

    /// Stores a widget. Its segment, when it names one, must exist; deleting the segment
    /// later deletes the widget.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming the field, or a catalog fault.
    pub fn create_widget(&self, new: &NewWidget) -> Result<Widget> {
        let inserted = self.catalog.with_tx(|tx| {
            // Checked in the transaction that inserts: a segment deleted meanwhile is either
            // gone here, or its delete comes after and takes this widget with it.
            if let Some(segment_id) = new.segment_id
                && segments::get(tx, segment_id)?.is_none()
            {
                let missing = format!("segment_id: segment {segment_id} does not exist");
                return Ok(Err(ServiceError::Invalid(missing)));
            }
            Ok(store::insert_widget(tx, new).map_err(store_refused))
        });
        let widget = inserted??;
        self.dashboard.note_widgets_changed();
        Ok(widget)
    }

    /// Deletes the widget `id`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or a catalog fault.
    pub fn delete_widget(&self, id: i64) -> Result<()> {
        self.widget_write(|conn| store::delete_widget(conn, id))?;
        self.dashboard.note_widgets_changed();
        Ok(())
    }

    fn widget_read<T>(&self, read: impl FnOnce(&Connection) -> store::Result<T>) -> Result<T> {
        let result = self.catalog.with_conn(|conn| Ok(read(conn)))?;
        result.map_err(store_refused)
    }

    /// Runs a widget store write in one catalog transaction.
    fn widget_write<T>(&self, write: impl FnOnce(&Connection) -> store::Result<T>) -> Result<T> {
        let result = self.catalog.with_tx(|tx| Ok(write(tx)))?;
        result.map_err(store_refused)
    }
}

fn store_refused(error: StoreError) -> ServiceError {
    match error {
        StoreError::NotFound { id } => ServiceError::NotFound { what: "widget", id },
        StoreError::Invalid { .. } => ServiceError::Invalid(error.to_string()),
        other => ServiceError::internal(other),
    }
}

/// Widget values report a refused widget (an unknown segment) in that widget's value, so
/// an error here is a fault of ours.
fn report_failed(error: ReportError) -> ServiceError {
    ServiceError::internal(error)
}
