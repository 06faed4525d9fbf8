//! What a run did: its status, counts, and every member skipped, failed or in conflict.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::plan::{Conflict, Skipped};

/// How a run ended. `Running` only shows in the history while a run is under way (or was
/// cut off before it could say how it ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Everything planned was confirmed by Mailchimp (skipped members aside).
    Success,
    /// Some members failed; they are listed, and the next run tries them again.
    Partial,
    /// The run could not do its work: the key, the audience, or every request failed.
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<RunStatus> {
        [Self::Running, Self::Success, Self::Partial, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Manual,
    Schedule,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
        }
    }

    pub fn parse(text: &str) -> Option<Trigger> {
        [Self::Manual, Self::Schedule]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

/// Members per outcome. `failed` counts members, not requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub created: u64,
    pub tagged: u64,
    pub untagged: u64,
    pub skipped: u64,
    pub failed: u64,
}

/// The request a member failed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Lookup,
    Create,
    Tag,
    Untag,
}

/// A member Mailchimp refused, or whose request failed after every retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub email: String,
    pub operation: Operation,
    pub error: String,
}

/// Membership changes made in Mailchimp, for the caller to apply to the static segment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentChanges {
    /// Client ids to add.
    pub add: Vec<i64>,
    /// Client ids to remove.
    pub remove: Vec<i64>,
}

impl SegmentChanges {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// The lists of a run, stored with it as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Details {
    pub skipped: Vec<Skipped>,
    pub failures: Vec<Failure>,
    pub conflicts: Vec<Conflict>,
    /// Addresses tagged in Mailchimp that match no live client (two-way).
    pub unmatched: Vec<String>,
    /// Two-way only: what the caller must apply to the static segment.
    pub segment_changes: Option<SegmentChanges>,
}

/// One run, as returned by a run and as kept in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    pub run_id: i64,
    pub sync_id: i64,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub counts: Counts,
    /// Why the run failed, when it did.
    pub error: Option<String>,
    #[serde(flatten)]
    pub details: Details,
}
