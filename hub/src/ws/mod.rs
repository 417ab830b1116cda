//! The WebSockets: one for daemons (commands out; heartbeats, reports and terminal bytes in)
//! and one for consoles (live events and screens; session streams on demand).

pub mod console;
pub mod daemon;

use axum::http::{HeaderMap, header};

/// The bearer token of an upgrade request.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v))
}
