//! `POST /v1/segments/preview`: how many clients an unsaved rule matches, and a sample.

use axum::extract::State;
use axum::routing::post;
use axum::{Json as JsonOut, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::extract::Json;
use super::{ApiError, AppState, blocking};
use crate::service::Preview;
use crate::time::deserialize_request_instant;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/segments/preview", post(preview))
}

/// `{"rule": ..., "as_of": "2024-09-01T00:00:00Z"}`; `as_of` defaults to now.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewRequest {
    rule: serde_json::Value,
    #[serde(default, deserialize_with = "deserialize_request_instant")]
    as_of: Option<DateTime<Utc>>,
}

async fn preview(
    State(state): State<AppState>,
    Json(request): Json<PreviewRequest>,
) -> Result<JsonOut<Preview>, ApiError> {
    let PreviewRequest { rule, as_of } = request;
    let preview = blocking(&state, move |s| s.preview(&rule, as_of)).await?;
    Ok(JsonOut(preview))
}
