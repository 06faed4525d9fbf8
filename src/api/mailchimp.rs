//! `/v1/mailchimp/syncs`: set up a segment's sync to an audience tag, run it now or dry, and
//! read its run history.
//!
//! Syncs can be set up without an API key; running them needs one (503 until the server is
//! configured). No answer ever carries the key: configurations and reports do not hold it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as JsonOut, Router};
use serde::Deserialize;

use super::extract::{Json, Path, Query, count, id};
use super::{ApiError, AppState, Problem};
use crate::mailchimp::{
    ConfigError, DryRun, RunReport, StoreError, SyncConfig, SyncError, SyncSpec,
};
use crate::service::mailchimp::{MailchimpError, MailchimpRuntime, RUNS_LIMIT_MAX, SyncPatch};

/// Runs a history request returns unless told otherwise.
const RUNS_LIMIT_DEFAULT: usize = 20;

pub fn routes() -> Router<AppState> {
    let one = "/v1/mailchimp/syncs/{id}";
    Router::new()
        .route("/v1/mailchimp/syncs", get(list).post(create))
        .route(one, get(read).patch(update).delete(remove))
        .route("/v1/mailchimp/syncs/{id}/run", post(run))
        .route("/v1/mailchimp/syncs/{id}/dry-run", post(dry_run))
        .route("/v1/mailchimp/syncs/{id}/runs", get(runs))
}

/// A Mailchimp request refused or failed, answered as problem+json like every error.
#[derive(Debug)]
pub struct Refused(MailchimpError);

impl From<MailchimpError> for Refused {
    fn from(error: MailchimpError) -> Refused {
        Refused(error)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self.0 {
            MailchimpError::Service(error) => ApiError::Service(error).into_response(),
            error => match status_of(&error) {
                Some((status, title)) => problem(status, title, error.to_string()),
                // Logged once there, answered without the cause.
                None => ApiError::Internal(error.to_string()).into_response(),
            },
        }
    }
}

/// The status and title of an expected error; `None` for a fault of ours.
fn status_of(error: &MailchimpError) -> Option<(StatusCode, &'static str)> {
    use MailchimpError as E;
    let answer = match error {
        E::NotConfigured => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Mailchimp is not configured",
        ),
        E::Config(ConfigError::TwoWayOnDynamic { .. })
        | E::Sync(SyncError::TwoWayOnDynamic { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Two-way sync needs a static segment",
        ),
        E::Config(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid Mailchimp sync"),
        // A query parameter, refused as every other bad query value is.
        E::BadLimit { .. } => (StatusCode::BAD_REQUEST, "Bad request"),
        E::Store(StoreError::NotFound { .. }) | E::Sync(SyncError::SegmentGone { .. }) => {
            (StatusCode::NOT_FOUND, "Not found")
        }
        E::Store(StoreError::TagTaken { .. }) => (StatusCode::CONFLICT, "Tag already synced"),
        E::Store(StoreError::Busy { .. }) => (StatusCode::CONFLICT, "Sync already running"),
        E::Sync(SyncError::Api(_)) => (StatusCode::BAD_GATEWAY, "Mailchimp request failed"),
        _ => return None,
    };
    Some(answer)
}

fn problem(status: StatusCode, title: &str, detail: String) -> Response {
    let problem = Problem {
        kind: "about:blank".into(),
        title: title.into(),
        status: status.as_u16(),
        detail,
        path: None,
        errors: Vec::new(),
    };
    problem.into_response()
}

/// The runtime, or 503 when the server runs without the Mailchimp sync.
fn runtime(state: &AppState) -> Result<std::sync::Arc<MailchimpRuntime>, Refused> {
    let runtime = state.mailchimp.clone();
    Ok(runtime.ok_or(MailchimpError::NotConfigured)?)
}

/// Runs a synchronous store call on the blocking pool.
async fn blocking<T, F>(state: &AppState, call: F) -> Result<T, Refused>
where
    T: Send + 'static,
    F: FnOnce(&MailchimpRuntime) -> Result<T, MailchimpError> + Send + 'static,
{
    let runtime = runtime(state)?;
    let joined = tokio::task::spawn_blocking(move || call(&runtime)).await;
    let failed = |e| MailchimpError::Internal(format!("Mailchimp store call failed: {e}"));
    Ok(joined.map_err(failed)??)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Only the syncs of this segment.
    #[serde(default, deserialize_with = "id")]
    segment_id: Option<i64>,
}

/// `GET /v1/mailchimp/syncs`: every sync by id, or those of `?segment_id=`.
async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<JsonOut<Vec<SyncConfig>>, Refused> {
    let syncs = blocking(&state, move |m| m.syncs(query.segment_id)).await?;
    Ok(JsonOut(syncs))
}

/// `POST /v1/mailchimp/syncs`: 201 with the new sync (due at once) and its `Location`.
async fn create(
    State(state): State<AppState>,
    Json(spec): Json<SyncSpec>,
) -> Result<Response, Refused> {
    let config = runtime(&state)?.create_sync(spec).await?;
    Ok(super::created(
        &format!("/v1/mailchimp/syncs/{}", config.id),
        config,
    ))
}

/// `GET /v1/mailchimp/syncs/{id}`.
async fn read(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<JsonOut<SyncConfig>, Refused> {
    let config = blocking(&state, move |m| m.sync(id)).await?;
    Ok(JsonOut(config))
}

/// `PATCH /v1/mailchimp/syncs/{id}`: absent fields stay; the result is checked as new.
async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(patch): Json<SyncPatch>,
) -> Result<JsonOut<SyncConfig>, Refused> {
    let config = runtime(&state)?.update_sync(id, patch).await?;
    Ok(JsonOut(config))
}

/// `DELETE /v1/mailchimp/syncs/{id}`: 204; the tag stays in Mailchimp.
async fn remove(State(state): State<AppState>, Path(id): Path<i64>) -> Result<StatusCode, Refused> {
    blocking(&state, move |m| m.delete_sync(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/mailchimp/syncs/{id}/run`: runs now and answers the run's report.
async fn run(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<JsonOut<RunReport>, Refused> {
    let report = runtime(&state)?.run_now(id).await?;
    Ok(JsonOut(report))
}

/// `POST /v1/mailchimp/syncs/{id}/dry-run`: what a run would send now, sending nothing.
async fn dry_run(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<JsonOut<DryRun>, Refused> {
    let planned = runtime(&state)?.dry_run(id).await?;
    Ok(JsonOut(planned))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunsQuery {
    #[serde(default, deserialize_with = "count::<_, { RUNS_LIMIT_MAX }>")]
    limit: Option<usize>,
}

/// `GET /v1/mailchimp/syncs/{id}/runs`: the latest runs, newest first.
async fn runs(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<RunsQuery>,
) -> Result<JsonOut<Vec<RunReport>>, Refused> {
    let limit = query.limit.unwrap_or(RUNS_LIMIT_DEFAULT);
    let runs = blocking(&state, move |m| m.runs(id, limit)).await?;
    Ok(JsonOut(runs))
}

#[cfg(test)]
#[path = "mailchimp_tests.rs"]
mod tests;
