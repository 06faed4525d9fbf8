//! A segment's refresh history: its size over time and who entered or left at each refresh.

use chrono::{DateTime, Utc};

use crate::catalog::history::{self, HistoryChanges, HistoryEntry};

use super::Service;
use super::error::{Result, ServiceError};

impl Service {
    /// The segment's refreshes since `since` (all kept ones by default), oldest first.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or a catalog fault.
    pub fn history(&self, id: i64, since: Option<DateTime<Utc>>) -> Result<Vec<HistoryEntry>> {
        self.record(id)?;
        Ok(self
            .catalog
            .with_conn(|conn| history::list(conn, id, since))?)
    }

    /// Who entered and who left at the refresh at `at` (an instant from [`Service::history`]).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for an unknown segment or a time with no refresh.
    pub fn history_changes(&self, id: i64, at: DateTime<Utc>) -> Result<HistoryChanges> {
        self.record(id)?;
        let changes = self
            .catalog
            .with_conn(|conn| history::changes(conn, id, at))?;
        changes.ok_or(ServiceError::NotFound {
            what: "refresh at that time of segment",
            id,
        })
    }
}
