//! `/v1/segments/{id}/history`: the refreshes of a segment, and who entered and left at one.

use axum::extract::State;
use axum::routing::get;
use axum::{Json as JsonOut, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::extract::{Path, Query};
use super::{ApiError, AppState, blocking};
use crate::service::{HistoryChanges, HistoryEntry};
use crate::time::{deserialize_request_instant, parse_request_instant};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/segments/{id}/history", get(list))
        .route("/v1/segments/{id}/history/{at}", get(changes))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    #[serde(default, deserialize_with = "deserialize_request_instant")]
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
    let at = parse_request_instant(&at).map_err(ApiError::BadRequest)?;
    let changes = blocking(&state, move |s| s.history_changes(id, at)).await?;
    Ok(JsonOut(changes))
}
