//! Extractors that turn axum's rejections (malformed JSON, a wrong type, an unknown field,
//! a missing content type, an oversized body, a bad path or query) into problem answers
//! carrying serde's message.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
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
        match axum::Json::<Object<T>>::from_request(request, state).await {
            Ok(axum::Json(Object(value))) => Ok(Json(value)),
            Err(rejection) => Err(json_rejected(&rejection)),
        }
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonAny<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonAny(value)),
            Err(rejection) => Err(json_rejected(&rejection)),
        }
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
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(rejection) => Err(bytes_rejected(&rejection)),
        }
    }
}

fn json_rejected(rejection: &JsonRejection) -> ApiError {
    let title = match rejection {
        JsonRejection::JsonDataError(_) => "Invalid JSON body",
        JsonRejection::JsonSyntaxError(_) => "Malformed JSON body",
        JsonRejection::MissingJsonContentType(_) => "Expected a JSON body",
        JsonRejection::BytesRejection(bytes) => return bytes_rejected(bytes),
        _ => "Unreadable JSON body",
    };
    rejected(rejection.status(), title, rejection.body_text())
}

fn bytes_rejected(rejection: &BytesRejection) -> ApiError {
    let status = rejection.status();
    let title = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "Request body too large"
    } else {
        "Unreadable request body"
    };
    rejected(status, title, rejection.body_text())
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
