//! Extractors whose rejections are JSON `{error, detail}` answers like every other error.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
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
        if !json_content_type(req.headers()) {
            return Err(HubError::BadRequest(
                "the body must be JSON with 'Content-Type: application/json'".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                HubError::TooLarge("the request body is larger than the hub accepts".into())
            } else {
                HubError::BadRequest(e.body_text())
            }
        })?;
        refuse_nul_in_json(&bytes)?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

/// `application/json` or `application/…+json`, as axum's `Json` accepts.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
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

/// Refuses a request whose path or query, percent-decoded, holds a NUL or is not UTF-8: text
/// the database cannot store (PostgreSQL refuses NUL in text) is a 400 here, on every route and
/// both backends, before any handler reads it.
pub async fn refuse_invalid_text(req: Request, next: axum::middleware::Next) -> Response {
    let uri = req.uri();
    let checked = check_text("the path", uri.path().as_bytes())
        .and_then(|()| check_text("the query", uri.query().unwrap_or("").as_bytes()));
    match checked {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Percent-decodes `raw` and checks that it is text the hub can store.
fn check_text(what: &str, raw: &[u8]) -> Result<(), HubError> {
    let decoded: Vec<u8> = percent_encoding::percent_decode(raw).collect();
    if decoded.contains(&0) {
        return Err(HubError::BadRequest(format!(
            "{what} holds a NUL character (%00), which no text may contain"
        )));
    }
    if std::str::from_utf8(&decoded).is_err() {
        return Err(HubError::BadRequest(format!(
            "{what} is not valid UTF-8 once percent-decoded"
        )));
    }
    Ok(())
}

/// Refuses a JSON text holding a NUL character, raw or escaped (`\u0000`): no text stored by
/// the hub may contain one (PostgreSQL's text and jsonb refuse it). A backslash outside a
/// string is a syntax error anyway, so every escape is found by one pass.
fn refuse_nul_in_json(body: &[u8]) -> Result<(), HubError> {
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            0 => break,
            b'\\' if body.get(i + 1) == Some(&b'u') => {
                if body.get(i + 2..i + 6) == Some(b"0000".as_slice()) {
                    break;
                }
                i += 6;
            }
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    if i < body.len() {
        return Err(HubError::BadRequest(
            "the body holds a NUL character (\\u0000), which no text may contain".into(),
        ));
    }
    Ok(())
}
