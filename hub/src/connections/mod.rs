//! Live connections: the daemon sockets (one per server) and the consoles watching sessions.
//! Messages for a socket go through a bounded channel to the task that owns the socket, so
//! senders never wait on the network and a client that stops reading pins little memory.
//!
//! - `daemons`: the daemon sockets by server, and (between hub replicas) where the others are.
//! - `replies`: requests sent to daemons that wait for their answer.
//! - `streams`: which consoles watch which sessions' terminals.

mod daemons;
mod replies;
mod streams;

pub use daemons::{DaemonLink, Daemons};
pub use replies::Replies;
pub use streams::{Fanout, Streams};

use std::sync::atomic::{AtomicU64, Ordering};

/// Something to write on a socket.
#[derive(Debug, Clone)]
pub enum Outbound {
    Text(String),
    Binary(Vec<u8>),
    /// Close the socket (the server's key was revoked, or a newer connection replaced it).
    Close(String),
}

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// Messages queued for one daemon by default: room for the replies to the largest `hello`
/// (see [`crate::config::Limits::max_hello_sessions`]) plus ordinary traffic.
pub const DAEMON_QUEUE: usize = 16_384;

/// Messages queued for one console. A console that falls behind is not closed: its session
/// streams restart at the next keyframe (see [`Streams::offer`]).
pub const CONSOLE_QUEUE: usize = 256;

/// A process-unique connection number.
pub fn next_conn_id() -> u64 {
    NEXT_CONN.fetch_add(1, Ordering::Relaxed)
}
