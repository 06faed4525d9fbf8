//! The OpenAPI 3.1 document of the API, written by hand in `openapi.json` beside this file
//! and served at `GET /v1/openapi.json`.
//!
//! Invariant: every route of the router is documented, and every documented route exists.
//! `api::tests` sends a request to every documented operation and checks it is routed, and
//! checks the number of operations; a new route must be added here by hand.

use std::sync::OnceLock;

use axum::Json;
use axum::response::IntoResponse;

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
