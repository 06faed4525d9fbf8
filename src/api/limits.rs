//! Guards around every handler: a time limit per request and a net for panics.
//!
//! The body size limit is axum's `DefaultBodyLimit`, set in the router; an oversized body is
//! refused by the extractors with 413 (see `extract`).

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;

use super::AppState;
use super::error::ApiError;

/// The body limit when none is configured: room for a million client ids in JSON.
pub const BODY_LIMIT_BYTES_DEFAULT: usize = 16 * 1024 * 1024;

/// The request time limit when none is configured.
pub const REQUEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

/// Middleware: a request that runs past the time limit is answered 503 and its handler
/// dropped; a handler that panics is answered a generic 500 instead of dropping the
/// connection. One layer for both, as each layer costs every request an allocation.
///
/// A write the service has already committed stays committed when the limit strikes; the
/// client was simply not told, exactly as if the connection had dropped.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.config.request_timeout;
    let handled = AssertUnwindSafe(next.run(request)).catch_unwind();
    match tokio::time::timeout(limit, handled).await {
        Ok(Ok(response)) => response,
        Ok(Err(payload)) => {
            let cause = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            ApiError::Internal(format!("handler panicked: {cause}")).into_response()
        }
        Err(_) => {
            tracing::warn!(limit_secs = limit.as_secs(), "request timed out");
            ApiError::TimedOut {
                limit_secs: limit.as_secs(),
            }
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_body_limit_holds_a_million_client_ids() {
        let ids: Vec<i64> = (10_000_000..11_000_000).collect();
        let body = serde_json::json!({ "client_ids": ids }).to_string();
        // 8 digits per id, 999,999 commas, `{"client_ids":[` and `]}`.
        assert_eq!(body.len(), 8_000_000 + 999_999 + 15 + 2);
        assert!(body.len() < BODY_LIMIT_BYTES_DEFAULT);
    }
}
