//! The WebSockets: one for daemons (commands out; heartbeats, reports and terminal bytes in)
//! and one for consoles (live events and screens; session streams on demand).

pub mod console;
pub mod daemon;

use axum::extract::ws::{CloseFrame, Message};
use axum::http::{HeaderMap, header};

/// How long a closing socket may take to take its close frame when the hub shuts down.
pub(crate) const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// The close frame sockets get when the hub shuts down: 1012 "service restart" (the daemon
/// and the console connect again).
pub(crate) fn restarting() -> Message {
    Message::Close(Some(CloseFrame {
        code: 1012,
        reason: "the hub is shutting down".into(),
    }))
}

/// The bearer token of an upgrade request.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v))
}

/// Each socket's read buffer to start with. The WebSocket library's default (128 KiB, filled
/// on the first read) costs 1.25 GB for 10,000 idle daemons; a larger message still arrives
/// whole, as the buffer grows for it.
pub(crate) const READ_BUFFER: usize = 4 * 1024;
