//! The OpenAPI 3.1 document of the API, written by hand in `openapi.json` beside this file
//! and served at `GET /v1/openapi.json`.
//!
//! Invariant: every route of the router is documented, and every documented route exists.
//! `api::tests` sends a request to every documented operation and checks it is routed, and
//! checks the number of operations; a new route must be added here by hand.

use std::collections::HashSet;
use std::sync::OnceLock;

use axum::Json;
use axum::body::HttpBody;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// The document's text, compiled in.
const DOCUMENT: &str = include_str!("openapi.json");

/// The parsed document; the text is checked by the tests, so parsing cannot fail at run time.
pub fn document() -> &'static serde_json::Value {
    static PARSED: OnceLock<serde_json::Value> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON"))
}

/// `GET /v1/openapi.json`.
pub async fn serve() -> impl IntoResponse {
    Json(document())
}

/// The documented operations that take no query parameters, as (method, path).
fn parameterless() -> &'static HashSet<(String, String)> {
    static SET: OnceLock<HashSet<(String, String)>> = OnceLock::new();
    SET.get_or_init(|| {
        let takes_query = |(method, path): &(String, String)| {
            let item = &document()["paths"][path];
            let operation = &item[method.to_lowercase()];
            let listed = [&item["parameters"], &operation["parameters"]];
            let mut parameters = listed.into_iter().filter_map(|p| p.as_array()).flatten();
            parameters.any(|p| resolve(p)["in"] == "query")
        };
        operations()
            .into_iter()
            .filter(|o| !takes_query(o))
            .collect()
    })
}

/// A parameter, or the one a `$ref` names under `#/components/parameters`.
fn resolve(parameter: &serde_json::Value) -> &serde_json::Value {
    match parameter["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            &document()["components"]["parameters"][name]
        }
        None => parameter,
    }
}

/// Middleware: a query string on an operation under `/v1` the document gives no query
/// parameters answers 400, naming the parameters, as an unknown parameter does where there
/// are some. Otherwise `?limit=5` on a list that has no limit would pass unnoticed.
/// `/healthz` and `/metrics` let probes and scrapers add what they like.
pub async fn refuse_undocumented_query(request: Request, next: Next) -> Response {
    let query = request.uri().query().unwrap_or_default();
    let names: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| format!("`{}`", pair.split('=').next().unwrap_or_default()))
        .collect();
    // Most requests carry no query: the operation is looked up only for those that do.
    if !names.is_empty()
        && let Some(operation) = routed_in(&request, parameterless())
    {
        let detail = format!(
            "{operation} takes no query parameters; got {}",
            names.join(", ")
        );
        return bad_request("Invalid query string", detail);
    }
    next.run(request).await
}

/// The documented operations that take no request body, as (method, path).
fn bodiless() -> &'static HashSet<(String, String)> {
    static SET: OnceLock<HashSet<(String, String)>> = OnceLock::new();
    SET.get_or_init(|| {
        let takes_body = |(method, path): &(String, String)| {
            document()["paths"][path][method.to_lowercase()]
                .get("requestBody")
                .is_some()
        };
        operations()
            .into_iter()
            .filter(|o| !takes_body(o))
            .collect()
    })
}

/// Middleware: a body sent to an operation under `/v1` the document gives no request body
/// answers 400. Otherwise `POST /v1/refresh` with `{"as_of": ...}` would refresh as of now
/// and look as if it had done what was asked. An empty body passes; a body of unknown
/// length (chunked) is refused unread.
pub async fn refuse_undocumented_body(request: Request, next: Next) -> Response {
    let hint = request.body().size_hint();
    let sent = match (hint.lower(), hint.upper()) {
        (_, Some(0)) => None,
        (1, Some(1)) => Some("1 byte".to_string()),
        (bytes, Some(upper)) if bytes == upper => Some(format!("{bytes} bytes")),
        _ => Some("a body of unknown length".to_string()),
    };
    if let Some(sent) = sent
        && let Some(operation) = routed_in(&request, bodiless())
    {
        let detail = format!("{operation} takes no request body; got {sent}");
        return bad_request("Unexpected request body", detail);
    }
    next.run(request).await
}

/// The `/v1` operation `request` was routed to, as `"POST /v1/refresh"`, when it is one of
/// `operations`.
fn routed_in(request: &Request, operations: &HashSet<(String, String)>) -> Option<String> {
    let matched = request.extensions().get::<MatchedPath>()?;
    let operation = (request.method().to_string(), matched.as_str().to_owned());
    let (method, path) = &operation;
    let listed = path.starts_with("/v1/") && operations.contains(&operation);
    listed.then(|| format!("{method} {path}"))
}

fn bad_request(title: &'static str, detail: String) -> Response {
    let status = StatusCode::BAD_REQUEST;
    ApiError::Rejected {
        status,
        title,
        detail,
    }
    .into_response()
}

/// Every documented (method, path) pair, methods upper-case, paths as in the document.
pub fn operations() -> Vec<(String, String)> {
    let methods = ["get", "post", "put", "patch", "delete"];
    let paths = document()["paths"].as_object().expect("paths is an object");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in methods.iter().filter(|m| item.get(**m).is_some()) {
            operations.push((method.to_uppercase(), path.clone()));
        }
    }
    operations
}
