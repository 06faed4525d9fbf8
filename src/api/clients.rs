//! `GET /v1/clients/{id}`: one client's profile, metrics and segments.

use axum::extract::State;
use axum::routing::get;
use axum::{Json as JsonOut, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::extract::{Path, Query};
use super::{ApiError, AppState, blocking};
use crate::service::ClientView;
use crate::time::deserialize_request_instant;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/clients/{id}", get(client))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientQuery {
    #[serde(default, deserialize_with = "deserialize_request_instant")]
    as_of: Option<DateTime<Utc>>,
}

/// `GET /v1/clients/{id}?as_of=`: `as_of` defaults to now.
async fn client(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<ClientQuery>,
) -> Result<JsonOut<ClientView>, ApiError> {
    let as_of = query.as_of;
    let view = blocking(&state, move |s| s.client(id, as_of)).await?;
    Ok(JsonOut(view))
}
