//! Extractors whose rejections are JSON `{error, detail}` answers like every other error.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::auth::Principal;
use crate::error::HubError;
use crate::service::Hub;

/// The caller, from `Authorization: Bearer TOKEN`.
pub struct Auth(pub Principal);

impl FromRequestParts<Hub> for Auth {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, hub: &Hub) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v));
        hub.authenticate(token).await.map(Auth)
    }
}

/// A JSON body; a malformed or oversized one is refused with a one-line reason.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = HubError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

fn json_rejection(e: JsonRejection) -> HubError {
    match e {
        JsonRejection::JsonDataError(e) => {
            HubError::BadRequest(format!("invalid request body: {}", e.body_text()))
        }
        JsonRejection::JsonSyntaxError(e) => {
            HubError::BadRequest(format!("invalid JSON: {}", e.body_text()))
        }
        JsonRejection::MissingJsonContentType(_) => HubError::BadRequest(
            "the body must be JSON with 'Content-Type: application/json'".into(),
        ),
        JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            HubError::TooLarge("the request body is larger than the hub accepts".into())
        }
        other => HubError::BadRequest(other.body_text()),
    }
}

/// Query parameters; malformed ones are refused with a one-line reason.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(HubError::BadRequest(
                format!("invalid query: {}", e.body_text()),
            )),
            Err(e) => Err(HubError::BadRequest(e.body_text())),
        }
    }
}

/// Parses a UUID path segment.
pub fn uuid(what: &str, s: &str) -> Result<uuid::Uuid, HubError> {
    uuid::Uuid::parse_str(s.trim())
        .map_err(|_| HubError::BadRequest(format!("invalid {what} id '{s}'")))
}
