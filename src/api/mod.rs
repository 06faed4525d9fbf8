//! The HTTP API: axum routes under `/v1` over the [`Service`], JSON in and out, every error
//! as `application/problem+json`.
//!
//! Each resource file exposes `routes()`, merged here into one router; later resources
//! (pricing, reports, dashboards, Mailchimp) add a file and one `merge` line. Around every
//! route, from the outside in: a span and metrics per request ([`metrics::observe`]), a net
//! for panics, the request time limit, bearer-token auth, and the body size limit.
//!
//! Invariant: handlers never call a blocking service method on the async runtime; reads
//! that evaluate or query SQLite go through [`blocking`].

pub mod auth;
mod clients;
pub mod error;
mod extract;
mod facts;
mod history;
pub mod limits;
mod mailchimp;
mod members;
pub mod metrics;
pub mod openapi;
mod preview;
mod pricing;
mod reports;
mod segments;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, Uri, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::{ListenerExt, TapIo};
use axum::{Extension, Router};
use tokio::net::{TcpListener, TcpStream};

use crate::service::mailchimp::MailchimpRuntime;
use crate::service::{Service, ServiceError};

pub use auth::Tokens;
pub use error::{ApiError, Problem};
pub use metrics::Metrics;

/// How the API guards itself.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Bearer tokens; none means the API is open (loopback only, `serve` enforces it).
    pub tokens: Tokens,
    /// The largest request body accepted; larger ones get 413.
    pub body_limit_bytes: usize,
    /// How long one request may run before it is answered 503.
    pub request_timeout: Duration,
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            tokens: Tokens::none(),
            body_limit_bytes: limits::BODY_LIMIT_BYTES_DEFAULT,
            request_timeout: limits::REQUEST_TIMEOUT_DEFAULT,
        }
    }
}

/// What every handler reads. Cloned for every request by each guard and handler, so it is
/// one pointer: a clone is one atomic increment, not one per field.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

/// The parts of [`AppState`], reached through it.
#[derive(Clone)]
pub struct Shared {
    pub service: Arc<Service>,
    pub metrics: Arc<Metrics>,
    pub config: Arc<ApiConfig>,
    /// The Mailchimp sync; without it its routes answer 503.
    pub mailchimp: Option<Arc<MailchimpRuntime>>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.inner
    }
}

impl AppState {
    pub fn new(service: Arc<Service>, metrics: Arc<Metrics>, config: ApiConfig) -> AppState {
        let shared = Shared {
            service,
            metrics,
            config: Arc::new(config),
            mailchimp: None,
        };
        AppState {
            inner: Arc::new(shared),
        }
    }

    /// The same state with the Mailchimp sync.
    pub fn with_mailchimp(self, mailchimp: Arc<MailchimpRuntime>) -> AppState {
        let shared = Shared {
            mailchimp: Some(mailchimp),
            ..Shared::clone(&self.inner)
        };
        AppState {
            inner: Arc::new(shared),
        }
    }
}

/// `listener` with `TCP_NODELAY` on every connection it accepts: answers are written whole,
/// and a small one must leave at once rather than wait for the peer's delayed ACK.
pub fn nodelay(listener: TcpListener) -> TapIo<TcpListener, fn(&mut TcpStream)> {
    listener.tap_io(|stream: &mut TcpStream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set on a connection");
        }
    })
}

/// The whole application: every route, its guards and the fallbacks.
pub fn router(state: AppState) -> Router {
    guard(resources(), state)
}

/// Every resource's routes. A new resource adds its `merge` here.
fn resources() -> Router<AppState> {
    Router::new()
        .merge(segments::routes())
        .merge(members::routes())
        .merge(preview::routes())
        .merge(history::routes())
        .merge(clients::routes())
        .merge(facts::routes())
        .merge(reports::routes())
        .merge(mailchimp::routes())
        .merge(pricing::routes())
        .merge(operations())
}

/// Adds the problem fallbacks and the guards around `routes`, from the outside in: span and
/// metrics, time limit and panic net, auth (when tokens are set), body limit, then the
/// query strings and bodies the API document does not provide for.
fn guard(routes: Router<AppState>, state: AppState) -> Router {
    let routes = routes
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn(openapi::refuse_undocumented_query))
        .layer(from_fn(openapi::refuse_undocumented_body))
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(Extension(extract::BodyLimit(state.config.body_limit_bytes)));
    // Tokens are set at start; without any, the API is open and needs no check.
    let routes = if state.config.tokens.required() {
        routes.layer(from_fn_with_state(state.clone(), auth::require_token))
    } else {
        routes
    };
    routes
        .layer(from_fn_with_state(state.clone(), limits::guard))
        .layer(from_fn_with_state(state.clone(), metrics::observe))
        .with_state(state)
}

/// Liveness, metrics and the API's own description.
fn operations() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(prometheus))
        .route("/v1/openapi.json", get(openapi::serve))
}

/// `GET /healthz`: the process is up and answers. Never needs a token, shows no data.
async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// `GET /metrics`: the Prometheus text exposition.
async fn prometheus(State(state): State<AppState>) -> impl IntoResponse {
    let tenant = state.service.state();
    let mut sizes: Vec<metrics::SegmentSize> = tenant
        .memberships
        .values()
        .map(|m| metrics::SegmentSize {
            segment_id: m.segment_id,
            members: m.members.len(),
        })
        .collect();
    sizes.sort_by_key(|s| s.segment_id);
    let report = state.service.metrics().report();
    let text = state
        .metrics
        .render(&report, &sizes, tenant.snapshot.universe.len());
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], text)
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

/// Runs a synchronous service call on the blocking pool, so evaluation and SQLite reads
/// never stall the runtime.
///
/// # Errors
/// The call's own error, or an internal error if it panicked.
pub(crate) async fn blocking<T, F>(state: &AppState, call: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Service) -> Result<T, ServiceError> + Send + 'static,
{
    let service = Arc::clone(&state.service);
    let joined = tokio::task::spawn_blocking(move || call(&service)).await;
    let result = joined.map_err(|e| ApiError::Internal(format!("service call failed: {e}")))?;
    Ok(result?)
}

/// A 201 answer with `body` and a `Location` header pointing at the new resource.
pub(crate) fn created(location: &str, body: impl serde::Serialize) -> axum::response::Response {
    let mut response = (axum::http::StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
