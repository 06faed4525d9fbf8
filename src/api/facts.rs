//! `/v1/facts`: reload the tenant folder, and append rows to one of its tables.

use std::time::Instant;

use axum::extract::State;
use axum::routing::post;
use axum::{Json as JsonOut, Router};

use super::extract::{JsonAny, Path};
use super::{ApiError, AppState};
use crate::service::{AppendReport, AppendTable, ReloadReport};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/facts/reload", post(reload))
        .route("/v1/facts/{table}", post(append))
}

/// `POST /v1/facts/reload`: reads the folder again and refreshes every segment on it.
async fn reload(State(state): State<AppState>) -> Result<JsonOut<ReloadReport>, ApiError> {
    let started = Instant::now();
    let report = state.service.reload().await?;
    state.metrics.record_load("reload", started.elapsed());
    Ok(JsonOut(report))
}

/// `POST /v1/facts/{table}`: a JSON array of rows in the contract's columns.
async fn append(
    State(state): State<AppState>,
    Path(table): Path<String>,
    JsonAny(rows): JsonAny<Vec<serde_json::Value>>,
) -> Result<JsonOut<AppendReport>, ApiError> {
    let table = append_table(&table)?;
    let started = Instant::now();
    let report = state.service.append(table, rows).await?;
    state.metrics.record_load("append", started.elapsed());
    Ok(JsonOut(report))
}

/// The table named in the path, or a 404 naming the tables that take rows.
fn append_table(name: &str) -> Result<AppendTable, ApiError> {
    AppendTable::parse(name).ok_or_else(|| {
        let known: Vec<&str> = AppendTable::ALL.iter().map(|t| t.name()).collect();
        ApiError::NoTable {
            name: name.to_owned(),
            known: known.join(", "),
        }
    })
}
