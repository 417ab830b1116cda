//! The one error type of the hub's operations; it becomes a JSON `{error, detail}` answer.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use orchestratia_proto::api::ErrorBody;

use crate::store::StoreError;

/// Why an operation was refused or failed, with a one-line reason for the caller.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Internal(String),
}

/// Shorthand for hub results.
pub type HubResult<T> = Result<T, HubError>;

impl HubError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            HubError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HubError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            HubError::Forbidden(_) => StatusCode::FORBIDDEN,
            HubError::NotFound(_) => StatusCode::NOT_FOUND,
            HubError::Conflict(_) => StatusCode::CONFLICT,
            HubError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HubError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine word of this error.
    pub fn word(&self) -> &'static str {
        match self {
            HubError::BadRequest(_) => "bad_request",
            HubError::Unauthorized(_) => "unauthorized",
            HubError::Forbidden(_) => "forbidden",
            HubError::NotFound(_) => "not_found",
            HubError::Conflict(_) => "conflict",
            HubError::TooLarge(_) => "too_large",
            HubError::Internal(_) => "internal",
        }
    }

    /// The body sent to the caller.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.word().to_string(),
            detail: self.to_string(),
        }
    }
}

impl From<StoreError> for HubError {
    fn from(e: StoreError) -> Self {
        if e.is_unique_violation() {
            tracing::warn!(error = %e, "unique constraint refused a write");
            return HubError::Conflict("a concurrent request created the same thing; retry".into());
        }
        if matches!(e, StoreError::Nul) {
            return HubError::BadRequest(e.to_string());
        }
        // The database's own words stay in the hub's log: they can name tables, values and
        // settings the caller has no business seeing.
        tracing::error!(error = %e, "store error");
        HubError::Internal("internal error: the hub's database failed (its log says why)".into())
    }
}

impl From<sqlx::Error> for HubError {
    fn from(e: sqlx::Error) -> Self {
        HubError::from(StoreError::Db(e))
    }
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

/// `BadRequest` with a formatted reason.
#[macro_export]
macro_rules! bad {
    ($($t:tt)*) => { $crate::error::HubError::BadRequest(format!($($t)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_error_is_a_500_without_the_database_text() {
        let e = HubError::from(StoreError::Db(sqlx::Error::Protocol(
            "relation \"secret_table\" violates something".into(),
        )));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = e.body();
        assert_eq!(body.error, "internal");
        assert!(body.detail.starts_with("internal error"), "{}", body.detail);
        assert!(!body.detail.contains("secret_table"), "{}", body.detail);
        let e = HubError::from(StoreError::Corrupt("column x: expected text".into()));
        assert!(!e.body().detail.contains("column x"));
    }

    #[test]
    fn nul_in_text_is_a_bad_request() {
        assert_eq!(
            HubError::from(StoreError::Nul).status(),
            StatusCode::BAD_REQUEST
        );
    }
}
