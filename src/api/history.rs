//! `/v1/segments/{id}/history`: the refreshes of a segment, and who entered and left at one.

use axum::extract::State;
use axum::routing::get;
use axum::{Json as JsonOut, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::extract::{Path, Query};
use super::{ApiError, AppState, blocking};
use crate::service::{HistoryChanges, HistoryEntry};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/segments/{id}/history", get(list))
        .route("/v1/segments/{id}/history/{at}", get(changes))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    since: Option<DateTime<Utc>>,
}

/// `GET /v1/segments/{id}/history?since=`: refreshes, oldest first.
async fn list(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<HistoryQuery>,
) -> Result<JsonOut<Vec<HistoryEntry>>, ApiError> {
    let since = query.since;
    let entries = blocking(&state, move |s| s.history(id, since)).await?;
    Ok(JsonOut(entries))
}

/// `GET /v1/segments/{id}/history/{at}`: `at` is the RFC 3339 instant of one refresh.
async fn changes(
    State(state): State<AppState>,
    Path((id, at)): Path<(i64, String)>,
) -> Result<JsonOut<HistoryChanges>, ApiError> {
    let at = parse_instant(&at)?;
    let changes = blocking(&state, move |s| s.history_changes(id, at)).await?;
    Ok(JsonOut(changes))
}

/// An RFC 3339 instant from a path segment.
fn parse_instant(text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| {
            ApiError::BadRequest(format!(
                "{text:?} is not an RFC 3339 instant such as 2024-09-01T12:00:00Z: {e}"
            ))
        })
}
