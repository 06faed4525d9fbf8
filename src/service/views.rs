//! What the service takes in and hands out: request shapes (`Deserialize`) and views
//! (`Serialize`) the API returns as JSON as they are. Ids are `i64`, instants RFC 3339,
//! money decimal strings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::catalog::history::HistoryEntry;
use crate::catalog::segments::SegmentKind;
use crate::eval::NodeCount;
use crate::facts::LoadReport;
use crate::rules::Warning;

/// A segment to create.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSegment {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `#rrggbb`.
    #[serde(default, alias = "color")]
    pub colour: Option<String>,
    pub kind: SegmentKind,
    /// The rule of a dynamic segment; a static one has none.
    #[serde(default)]
    pub rule: Option<serde_json::Value>,
    /// `retail`, `wholesale`, `vip` or `staff`.
    #[serde(default)]
    pub tier: Option<String>,
}

/// Changes to a segment: an absent field stays as it is; `null` clears an optional one and
/// is refused for a required one (`name`, `kind`, `rule`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentPatch {
    #[serde(default, deserialize_with = "required")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    #[serde(default, alias = "color", deserialize_with = "present")]
    pub colour: Option<Option<String>>,
    /// Accepted only when it repeats the segment's kind: a kind never changes.
    #[serde(default, deserialize_with = "required")]
    pub kind: Option<SegmentKind>,
    #[serde(default, deserialize_with = "required")]
    pub rule: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "present")]
    pub tier: Option<Option<String>>,
}

/// Tells a field given as `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A field that may be absent but never `null`: `null` reaches `T`, which refuses it (a
/// rule, read as any JSON value, refuses it by hand).
pub(super) fn required<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    if value.is_null() {
        return Err(serde::de::Error::custom("may be left out but not null"));
    }
    T::deserialize(value)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A segment with its current size and last refresh.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentView {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub colour: Option<String>,
    pub kind: SegmentKind,
    pub rule: Option<serde_json::Value>,
    pub tier: Option<String>,
    pub rule_version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Members in the published membership.
    pub member_count: u64,
    pub last_refresh: Option<HistoryEntry>,
    /// The rule's warnings (empty groups and lists), each with its JSON path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// The outcome of adding or removing static members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemberChange {
    pub added: u64,
    pub removed: u64,
    /// Ids that needed no change: already members (add) or not members (remove), and
    /// repeats within the request.
    pub unchanged: u64,
    /// Ids that are not clients, in request order, each once.
    pub unknown: Vec<i64>,
    /// Ids of deleted clients, which are never added, in request order, each once.
    pub deleted: Vec<i64>,
}

/// The outcome of a CSV import into a static segment.
///
/// Every data row is counted once: `rows` is `blank + duplicates + matched +
/// unmatched_total` plus the rows naming only deleted clients.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// `client_id` or `email`: the column that was read.
    pub column: String,
    /// Data rows read (header not counted).
    pub rows: u64,
    /// Rows naming a live client not named by an earlier row.
    pub matched: u64,
    /// Matched clients that were not members yet.
    pub added: u64,
    /// Rows naming a client an earlier row named (after trimming and case folding).
    pub duplicates: u64,
    /// Rows whose value is empty or blank.
    pub blank: u64,
    /// Values naming no client, as written in the file, in file order: the first
    /// [`LISTED_MAX`](super::import::LISTED_MAX).
    pub unmatched: Vec<String>,
    /// Rows naming no client, all of them.
    pub unmatched_total: u64,
    /// Ids of deleted clients the file names, which are never added, in file order, each
    /// once: the first [`LISTED_MAX`](super::import::LISTED_MAX). An e-mail counts here only when no live client has
    /// it.
    pub deleted: Vec<i64>,
    /// Deleted clients the file names, all of them.
    pub deleted_total: u64,
    /// E-mails shared by several live clients, every one of them matched: the first
    /// [`LISTED_MAX`](super::import::LISTED_MAX).
    pub ambiguous: Vec<String>,
    /// E-mails shared by several live clients, all of them.
    pub ambiguous_total: u64,
}

/// An unsaved rule evaluated now or as of a given instant. Nothing is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    pub count: u64,
    pub nodes: Vec<NodeCount>,
    /// The first members by client id, at most [`SAMPLE_SIZE`](super::SAMPLE_SIZE).
    pub sample: Vec<SampleMember>,
    pub warnings: Vec<Warning>,
    pub elapsed_ms: u64,
    pub as_of: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SampleMember {
    pub client_id: i64,
    pub name: String,
}

/// One page of a segment's members, by ascending client id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MembersPage {
    pub members: Vec<MemberRow>,
    /// The client id to pass as `after` for the next page; `None` on the last page.
    pub next_cursor: Option<i64>,
    /// Members in the whole published membership.
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberRow {
    pub client_id: i64,
    pub name: String,
    pub email: Option<String>,
    /// Upper-case, as country codes are shown.
    pub country: Option<String>,
}

/// The outcome of a refresh round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RefreshReport {
    /// Segments whose new membership was published.
    pub refreshed: Vec<i64>,
    /// Segments whose result was thrown away: their rule (or one they read) changed, or the
    /// facts were reloaded, while the round ran.
    pub stale: Vec<i64>,
    /// Segments that could not be evaluated; they keep their previous members.
    pub failed: Vec<RefreshFailure>,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefreshFailure {
    pub segment_id: i64,
    pub error: String,
}

/// The outcome of a reload of the tenant folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    pub clients: usize,
    pub live_clients: u64,
    pub load: LoadReport,
    pub refresh: RefreshReport,
    pub elapsed_ms: u64,
}
