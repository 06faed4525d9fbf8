//! `/v1/segments/{id}/members`: pages of members, static member changes, CSV import and
//! export.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as JsonOut, Router};
use serde::Deserialize;

use super::extract::{Body, Json, Path, Query, count, id};
use super::{ApiError, AppState, blocking};
use crate::service::{ImportSummary, MemberChange, MembersPage, PAGE_LIMIT_MAX};

/// Members per page when `limit` is not given.
pub const PAGE_LIMIT_DEFAULT: usize = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/segments/{id}/members",
            get(page).post(add).delete(remove),
        )
        .route("/v1/segments/{id}/members/remove", post(remove))
        .route("/v1/segments/{id}/members/import", post(import))
        .route("/v1/segments/{id}/members.csv", get(export))
}

/// The body of an add or remove.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientIds {
    client_ids: Vec<i64>,
}

/// `?cursor=&limit=` of a members page.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    /// The `next_cursor` of the previous page: the last client id it showed.
    #[serde(default, deserialize_with = "id")]
    cursor: Option<i64>,
    #[serde(default, deserialize_with = "count::<_, { PAGE_LIMIT_MAX }>")]
    limit: Option<usize>,
}

/// `GET /v1/segments/{id}/members?cursor=&limit=`: members by ascending client id.
async fn page(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<PageQuery>,
) -> Result<JsonOut<MembersPage>, ApiError> {
    let limit = query.limit.unwrap_or(PAGE_LIMIT_DEFAULT);
    let cursor = query.cursor;
    let page = blocking(&state, move |s| s.members_page(id, cursor, limit)).await?;
    Ok(JsonOut(page))
}

/// `POST /v1/segments/{id}/members`: adds clients to a static segment.
async fn add(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(body): Json<ClientIds>,
) -> Result<JsonOut<MemberChange>, ApiError> {
    let change = state.service.add_members(id, &body.client_ids).await?;
    Ok(JsonOut(change))
}

/// `DELETE /v1/segments/{id}/members` and `POST .../members/remove`.
async fn remove(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(body): Json<ClientIds>,
) -> Result<JsonOut<MemberChange>, ApiError> {
    let change = state.service.remove_members(id, &body.client_ids).await?;
    Ok(JsonOut(change))
}

/// `POST /v1/segments/{id}/members/import`: a `text/csv` body with a `client_id` or
/// `email` column. The answer counts every row and lists at most 1,000 values per kind.
async fn import(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Body(csv): Body,
) -> Result<JsonOut<ImportSummary>, ApiError> {
    require_csv(&headers)?;
    let summary = state.service.import_members_csv(id, &csv).await?;
    Ok(JsonOut(summary))
}

/// Refuses a body that says it is something other than CSV (or plain text).
fn require_csv(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let essence = content_type.map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    match essence.as_deref() {
        Some("text/csv" | "text/plain") => Ok(()),
        Some(other) => Err(ApiError::UnsupportedMediaType(format!(
            "content type {other:?} is not accepted; send the file as text/csv"
        ))),
        None => Err(ApiError::UnsupportedMediaType(
            "the content type is missing; send the file as text/csv".into(),
        )),
    }
}

/// `GET /v1/segments/{id}/members.csv`: every member as CSV.
async fn export(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let csv = blocking(&state, move |s| s.export_members_csv(id)).await?;
    let disposition = format!("attachment; filename=\"segment-{id}-members.csv\"");
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::body::Body as HttpBody;
    use axum::http::{Request, header};
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use crate::api::{ApiConfig, AppState, Metrics, router};
    use crate::facts::builder::{ClientRow, FactsBuilder, micros, write_tenant};
    use crate::service::{Service, ServiceOptions};

    /// The JSON answer to a POST of `body` as `content_type`, which must succeed.
    async fn post(app: &Router, uri: &str, content_type: &str, body: &str) -> Value {
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, content_type)
            .body(HttpBody::from(body.to_owned()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert!(
            response.status().is_success(),
            "{uri}: {}",
            response.status()
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn crlf_import_lists_deleted_clients_as_adding_does() {
        let deleted = ClientRow {
            deleted_at: Some(micros("2024-01-01T00:00:00Z")),
            ..ClientRow::new(2)
        };
        let facts = FactsBuilder::new()
            .client(ClientRow::new(1))
            .client(deleted);
        let dir = tempfile::tempdir().unwrap();
        write_tenant(&facts.build().unwrap(), dir.path()).unwrap();
        let service = Service::open(ServiceOptions::new(dir.path())).await;
        let state = AppState::new(
            service.unwrap(),
            Arc::new(Metrics::new()),
            ApiConfig::default(),
        );
        let app = router(state);
        let segment = json!({"name": "Key", "kind": "static"}).to_string();
        post(&app, "/v1/segments", "application/json", &segment).await;

        let ids = json!({"client_ids": [2, 1, 3]}).to_string();
        let added = post(&app, "/v1/segments/1/members", "application/json", &ids).await;
        assert_eq!(
            added,
            json!({"added": 1, "removed": 0, "unchanged": 0, "unknown": [3], "deleted": [2]})
        );
        let csv = "client_id\r\n2\r\n1\r\n3\r\n";
        let imported = post(&app, "/v1/segments/1/members/import", "text/csv", csv).await;
        let expected = json!({
            "column": "client_id", "rows": 3, "matched": 1, "added": 0, "duplicates": 0,
            "blank": 0, "unmatched": ["3"], "unmatched_total": 1, "deleted": [2],
            "deleted_total": 1, "ambiguous": [], "ambiguous_total": 0,
        });
        assert_eq!(imported, expected);
    }
}
