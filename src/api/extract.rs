//! Extractors that turn axum's rejections (malformed JSON, a wrong type, an unknown field,
//! a missing content type, an oversized body, a bad path or query) into problem answers
//! carrying serde's message.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::error::ApiError;

/// A JSON object request body; a body axum cannot read, or any JSON but an object, answers
/// a problem. (serde reads a struct from an array too, by field order: a body
/// `["Top", 3]` would silently become a title and a segment.)
pub struct Json<T>(pub T);

/// A JSON request body of any shape, for the arrays of rows an append takes.
pub struct JsonAny<T>(pub T);

/// Query parameters; unknown or ill-typed ones answer a problem.
pub struct Query<T>(pub T);

/// Path parameters; one of the wrong type (`/v1/segments/abc`) answers a problem.
pub struct Path<T>(pub T);

/// The raw body, for CSV uploads, under the same size limit.
pub struct Body(pub Bytes);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let Object(value) = read_json(request, state).await?;
        Ok(Json(value))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonAny<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        read_json(request, state).await.map(JsonAny)
    }
}

/// Reads a JSON body as `axum::Json` does, except that valid JSON of the wrong shape is
/// always a 422: serde_json calls a `null` or an array where an enum's name is expected
/// (`"kind": null`) a syntax error, which axum answers as malformed JSON.
async fn read_json<T: DeserializeOwned, S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<T, ApiError> {
    if !json_content_type(request.headers()) {
        return Err(rejected(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected a JSON body",
            "Expected request with `Content-Type: application/json`".to_string(),
        ));
    }
    let limit = request.extensions().get::<BodyLimit>().copied();
    let bytes = Bytes::from_request(request, state)
        .await
        .map_err(|rejection| bytes_rejected(&rejection, limit))?;
    match axum::Json::<T>::from_bytes(&bytes) {
        Ok(axum::Json(value)) => Ok(value),
        Err(JsonRejection::JsonSyntaxError(error))
            if serde_json::from_slice::<IgnoredAny>(&bytes).is_ok() =>
        {
            let detail = error
                .body_text()
                .replacen(
                    "Failed to parse the request body as JSON",
                    "Failed to deserialize the JSON body into the target type",
                    1,
                )
                .replacen(
                    ": expected value at",
                    ": expected a JSON string naming one of the field's values, at",
                    1,
                );
            Err(rejected(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid JSON body",
                detail,
            ))
        }
        Err(rejection) => Err(json_rejected(&rejection)),
    }
}

/// `application/json` or any `application/*+json`, parameters aside, as `axum::Json`
/// accepts.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    match essence.strip_prefix("application/") {
        Some(subtype) => subtype == "json" || subtype.ends_with("+json"),
        None => false,
    }
}

/// `T` read from a JSON object only.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Object<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Object)
    }
}

/// `#[serde(default, deserialize_with = "count::<_, { MAX }>")]` for a query parameter that
/// counts rows, such as `top` or `limit`: digits only, from 1 to `MAX`. Any other text is
/// refused with the range, not with the parser's complaint about one character.
pub fn count<'de, D: Deserializer<'de>, const MAX: usize>(d: D) -> Result<Option<usize>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<usize>() {
        Ok(n) if digits && (1..=MAX).contains(&n) => Ok(Some(n)),
        _ => Err(serde::de::Error::custom(format!(
            "{text:?} is not a whole number from 1 to {MAX}"
        ))),
    }
}

/// `#[serde(default, deserialize_with = "id")]` for a query parameter holding an id, such as
/// `segment_id` or a page's `cursor`: a whole number, else a message that says so rather
/// than the parser's complaint about one character.
pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    match text.parse::<i64>() {
        Ok(id) if !text.starts_with('+') => Ok(Some(id)),
        _ => Err(serde::de::Error::custom(format!(
            "{text:?} is not an id (a whole number)"
        ))),
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(query_rejected(&rejection)),
        }
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(path_rejected(&rejection)),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let limit = request.extensions().get::<BodyLimit>().copied();
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(rejection) => Err(bytes_rejected(&rejection, limit)),
        }
    }
}

/// A body that is not JSON (400) or JSON of the wrong shape (422); [`read_json`] checks the
/// content type and reads the bytes itself, so no other rejection reaches here.
fn json_rejected(rejection: &JsonRejection) -> ApiError {
    let title = match rejection {
        JsonRejection::JsonSyntaxError(_) => "Malformed JSON body",
        _ => "Invalid JSON body",
    };
    rejected(rejection.status(), title, rejection.body_text())
}

/// The server's body limit in bytes, set on every request so a 413 can say what it is.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

fn bytes_rejected(rejection: &BytesRejection, limit: Option<BodyLimit>) -> ApiError {
    let status = rejection.status();
    if status != StatusCode::PAYLOAD_TOO_LARGE {
        return rejected(status, "Unreadable request body", rejection.body_text());
    }
    let detail = match limit {
        Some(BodyLimit(bytes)) => {
            const MIB: usize = 1024 * 1024;
            let size = if bytes % MIB == 0 {
                format!("{} MiB", bytes / MIB)
            } else {
                format!("{bytes} bytes")
            };
            format!(
                "the request body is over this server's limit of {size} \
                 (`segments serve --body-limit-mb` sets it)"
            )
        }
        None => rejection.body_text(),
    };
    rejected(status, "Request body too large", detail)
}

fn query_rejected(rejection: &QueryRejection) -> ApiError {
    rejected(
        rejection.status(),
        "Invalid query string",
        rejection.body_text(),
    )
}

fn path_rejected(rejection: &PathRejection) -> ApiError {
    rejected(
        rejection.status(),
        "Invalid path parameter",
        rejection.body_text(),
    )
}

fn rejected(status: StatusCode, title: &'static str, detail: String) -> ApiError {
    ApiError::Rejected {
        status,
        title,
        detail,
    }
}
