//! `/v1/segments`: list, create, read, change and delete segments, and refresh them.

use std::time::Instant;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json as JsonOut, Router};

use super::extract::{Json, Path};
use super::{ApiError, AppState, blocking};
use crate::service::{NewSegment, RefreshReport, SegmentPatch, SegmentRemoval, SegmentView};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/segments", get(list).post(create))
        .route("/v1/segments/{id}", get(read).patch(update).delete(remove))
        .route("/v1/segments/{id}/refresh", post(refresh_one))
        .route("/v1/refresh", post(refresh_all))
}

/// `GET /v1/segments`: every segment, by id.
async fn list(State(state): State<AppState>) -> Result<JsonOut<Vec<SegmentView>>, ApiError> {
    let segments = blocking(&state, |service| service.segments()).await?;
    Ok(JsonOut(segments))
}

/// `POST /v1/segments`: 201 with the new segment and its `Location`.
async fn create(
    State(state): State<AppState>,
    Json(new): Json<NewSegment>,
) -> Result<Response, ApiError> {
    let view = state.service.create_segment(new).await?;
    Ok(super::created(&format!("/v1/segments/{}", view.id), view))
}

/// `GET /v1/segments/{id}`.
async fn read(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<JsonOut<SegmentView>, ApiError> {
    let view = blocking(&state, move |service| service.segment(id)).await?;
    Ok(JsonOut(view))
}

/// `PATCH /v1/segments/{id}`: absent fields stay, `null` clears an optional one.
async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(patch): Json<SegmentPatch>,
) -> Result<JsonOut<SegmentView>, ApiError> {
    let view = state.service.update_segment(id, patch).await?;
    Ok(JsonOut(view))
}

/// `DELETE /v1/segments/{id}`: what went with the segment (widgets, syncs, its place in
/// the pricing priority list).
async fn remove(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<JsonOut<SegmentRemoval>, ApiError> {
    let removal = state.service.delete_segment(id).await?;
    Ok(JsonOut(removal))
}

/// `POST /v1/segments/{id}/refresh`: re-evaluates one segment now.
async fn refresh_one(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<JsonOut<SegmentView>, ApiError> {
    let started = Instant::now();
    let view = state.service.refresh_segment(id).await?;
    state.metrics.record_refresh("segment", started.elapsed());
    Ok(JsonOut(view))
}

/// `POST /v1/refresh`: re-evaluates every dynamic segment now.
async fn refresh_all(State(state): State<AppState>) -> Result<JsonOut<RefreshReport>, ApiError> {
    let started = Instant::now();
    let report = state.service.refresh_all().await?;
    state.metrics.record_refresh("all", started.elapsed());
    Ok(JsonOut(report))
}
