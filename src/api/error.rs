//! The one error type of the HTTP edge, and how it becomes an `application/problem+json`
//! answer (RFC 9457).
//!
//! Expected errors (a bad rule, an unknown id, a malformed body) carry their message to the
//! client. Internal ones answer a generic 500 and are logged once, here, with their cause:
//! nothing internal ever reaches the client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::eval::EvalError;
use crate::rules::RuleError;
use crate::service::ServiceError;

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// What the client reads when the server failed: nothing about the cause.
const INTERNAL_DETAIL: &str = "the server failed to answer this request; the cause is logged";

/// Why a request was not answered with data.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The service refused or failed the operation.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// axum could not read the request: its status, a title and serde's message.
    #[error("{title}: {detail}")]
    Rejected {
        status: StatusCode,
        title: &'static str,
        detail: String,
    },
    /// A query parameter or path segment the handler itself refused.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("no route for {method} {path}")]
    NoRoute { method: String, path: String },
    #[error("no fact table {name:?} takes rows; expected one of {known}")]
    NoTable { name: String, known: String },
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("the request took longer than the limit of {limit_secs} s")]
    TimedOut { limit_secs: u64 },
    /// A fault of ours: the cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A problem document: what every 4xx and 5xx answer carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The JSON path of the node at fault, for a refused rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl Problem {
    fn new(status: StatusCode, title: &str, detail: String) -> Problem {
        Problem {
            kind: "about:blank".into(),
            title: title.into(),
            status: status.as_u16(),
            detail,
            path: None,
            errors: Vec::new(),
        }
    }

    fn with_path(mut self, path: &str) -> Problem {
        self.path = Some(path.into());
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self)).into_response();
        let value = HeaderValue::from_static(PROBLEM_JSON);
        response.headers_mut().insert(header::CONTENT_TYPE, value);
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        if problem.status == 500 {
            tracing::error!(cause = %self, "request failed");
        }
        let mut response = problem.into_response();
        if matches!(self, ApiError::Unauthorized(_)) {
            let challenge = HeaderValue::from_static("Bearer");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

impl ApiError {
    /// The problem document the client receives.
    pub fn problem(&self) -> Problem {
        match self {
            ApiError::Service(error) => service_problem(error),
            ApiError::Rejected {
                status,
                title,
                detail,
            } => Problem::new(*status, title, detail.clone()),
            ApiError::BadRequest(detail) => {
                Problem::new(StatusCode::BAD_REQUEST, "Bad request", detail.clone())
            }
            ApiError::UnsupportedMediaType(detail) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
                detail.clone(),
            ),
            ApiError::NoRoute { .. } | ApiError::NoTable { .. } => {
                Problem::new(StatusCode::NOT_FOUND, "Not found", self.to_string())
            }
            ApiError::MethodNotAllowed { .. } => Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                self.to_string(),
            ),
            ApiError::Unauthorized(detail) => {
                Problem::new(StatusCode::UNAUTHORIZED, "Unauthorized", (*detail).into())
            }
            ApiError::TimedOut { .. } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Request timed out",
                self.to_string(),
            ),
            ApiError::Internal(_) => internal(),
        }
    }
}

fn internal() -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal server error",
        INTERNAL_DETAIL.into(),
    )
}

/// Maps each service error onto a status; only expected errors keep their message.
fn service_problem(error: &ServiceError) -> Problem {
    if error.is_internal() {
        return internal();
    }
    match error {
        ServiceError::NotFound { .. } => {
            Problem::new(StatusCode::NOT_FOUND, "Not found", error.to_string())
        }
        ServiceError::BadRule(rule) => rule_problem(rule),
        ServiceError::Eval(eval) => eval_problem(eval),
        ServiceError::Invalid(detail) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request",
            detail.clone(),
        ),
        ServiceError::Load(load) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Facts could not be loaded",
            load.to_string(),
        ),
        // A duplicate name, a loop of segments, a delete of a segment still read.
        _ => Problem::new(StatusCode::CONFLICT, "Conflict", error.to_string()),
    }
}

fn rule_problem(error: &RuleError) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid rule",
        error.to_string(),
    )
    .with_path(error.path())
}

fn eval_problem(error: &EvalError) -> Problem {
    match error {
        EvalError::Rule(rule) => rule_problem(rule),
        EvalError::UnknownSegment { path, .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid rule",
            error.to_string(),
        )
        .with_path(path),
        EvalError::Internal(_) => internal(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(error: ApiError, status: u16, title: &str, detail: &str, path: Option<&str>) {
        let problem = error.problem();
        assert_eq!(problem.status, status, "{problem:?}");
        assert_eq!(problem.title, title);
        assert_eq!(problem.detail, detail);
        assert_eq!(problem.path.as_deref(), path);
        assert_eq!(problem.kind, "about:blank");
    }

    #[test]
    fn service_errors_map_to_statuses() {
        let not_found = ServiceError::NotFound {
            what: "segment",
            id: 9,
        };
        check(
            not_found.into(),
            404,
            "Not found",
            "segment 9 does not exist",
            None,
        );
        let conflict = ServiceError::Conflict("segment 2 reads segment 1".into());
        check(
            conflict.into(),
            409,
            "Conflict",
            "segment 2 reads segment 1",
            None,
        );
        let invalid = ServiceError::Invalid("colour \"red\": expected #rrggbb".into());
        let detail = "colour \"red\": expected #rrggbb";
        check(invalid.into(), 422, "Invalid request", detail, None);
        let rule = RuleError::TooDeep {
            path: "$.all[0]".into(),
            limit: 32,
        };
        let detail = "$.all[0]: groups nest deeper than the limit of 32";
        check(
            ServiceError::BadRule(rule).into(),
            422,
            "Invalid rule",
            detail,
            Some("$.all[0]"),
        );
        let segment = EvalError::UnknownSegment {
            path: "$.any[1].value".into(),
            id: 5,
        };
        let detail = "$.any[1].value: segment 5 does not exist";
        let path = Some("$.any[1].value");
        check(
            ServiceError::Eval(segment).into(),
            422,
            "Invalid rule",
            detail,
            path,
        );
    }

    #[test]
    fn internal_errors_tell_nothing() {
        let title = "Internal server error";
        let secret = ServiceError::Internal("/srv/tenant/catalog.sqlite is locked".into());
        check(secret.into(), 500, title, INTERNAL_DETAIL, None);
        let sql = ServiceError::Catalog(crate::catalog::CatalogError::Sql(
            rusqlite::Error::InvalidQuery,
        ));
        check(sql.into(), 500, title, INTERNAL_DETAIL, None);
        check(
            ApiError::Internal("panic".into()),
            500,
            title,
            INTERNAL_DETAIL,
            None,
        );
    }

    #[test]
    fn problems_are_served_as_problem_json() {
        let response = ApiError::Unauthorized("no token").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
