//! What hub replicas tell each other over PostgreSQL NOTIFY: one JSON envelope per message,
//! bounded in size; a larger message is stored in `bus_payloads` and sent by reference.

use orchestratia_proto::workspace::WorkspaceAnswer;
use orchestratia_proto::ws::HubToDaemon;
use orchestratia_proto::{Event, SessionState};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The channel every replica listens on.
pub const CHANNEL: &str = "orchestratia_bus";

/// Largest envelope sent inline. PostgreSQL refuses payloads of 8,000 bytes or more; larger
/// messages go by reference to a `bus_payloads` row.
pub const MAX_INLINE: usize = 7_900;

/// One message between replicas: who sent it, for whom (`None`: every replica), and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub from: String,
    /// The sender's running count: no two envelopes of one sender are identical (PostgreSQL
    /// delivers identical payloads of one statement once), and a gap shows a loss.
    #[serde(default)]
    pub n: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub msg: Wire,
}

/// What one replica tells the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Wire {
    /// Committed events, in order.
    Events { events: Vec<Event> },
    /// A session's rendered screen.
    Screen {
        session_id: Uuid,
        task_id: Option<Uuid>,
        lines: Vec<String>,
        cols: u16,
        rows: u16,
    },
    /// A session's agent state changed.
    State {
        session_id: Uuid,
        task_id: Option<Uuid>,
        state: SessionState,
    },
    /// A message for a server's daemon, delivered by the replica that holds its socket.
    Daemon { server: Uuid, msg: Box<HubToDaemon> },
    /// A binary frame for a server's daemon (terminal input), base64.
    DaemonFrame { server: Uuid, frame: String },
    /// Close a server's daemon socket (its key was revoked).
    CloseDaemon { server: Uuid, reason: String },
    /// An output frame of a session whose daemon `server` is connected to the sender, for
    /// replicas whose consoles watch it (base64 of the encoded frame).
    Output { server: Uuid, frame: String },
    /// The sender's consoles started (`on`) or stopped watching a session.
    Watch { session_id: Uuid, on: bool },
    /// A daemon connected to the sender (any older socket of it elsewhere is stale).
    DaemonUp { server: Uuid },
    /// A daemon's socket on the sender closed.
    DaemonDown { server: Uuid },
    /// A daemon's answer to a request another replica waits for.
    Reply {
        server: Uuid,
        request_id: Uuid,
        answer: Box<WorkspaceAnswer>,
    },
    /// A cache must be dropped (tokens were revoked, rules changed); answer `Forgot{ack}`
    /// once done, so the sender can answer its caller knowing no replica trusts the old.
    Forget { cache: Cache, ack: Uuid },
    /// The sender dropped the cache `Forget{ack}` named.
    Forgot { ack: Uuid },
    /// The sender (re)started: forget what it held before, and tell it what you hold.
    Started,
    /// What the sender holds: daemon sockets and sessions its consoles watch.
    Holding {
        daemons: Vec<Uuid>,
        watches: Vec<Uuid>,
    },
    /// The message is stored in `bus_payloads` under this id (it was too large to send).
    Stored { id: i64 },
}

/// A cache every replica keeps of what the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cache {
    /// Verified tokens. (The permission rules need no message: a rule change writes a new
    /// version, which every replica checks before it uses its cached rules.)
    Tokens,
}

/// Why a notification could not be read.
#[derive(Debug, thiserror::Error)]
#[error("unreadable bus message: {0}")]
pub struct Unreadable(String);

impl Envelope {
    /// The envelope as sent: its JSON when it fits in a notification, else `None` (store it
    /// and send [`Envelope::by_reference`]).
    pub fn encode(&self) -> Result<Option<String>, Unreadable> {
        let text = serde_json::to_string(self).map_err(|e| Unreadable(e.to_string()))?;
        Ok((text.len() <= MAX_INLINE).then_some(text))
    }

    /// The JSON of this envelope, whatever its size (to store it).
    pub fn to_json(&self) -> Result<String, Unreadable> {
        serde_json::to_string(self).map_err(|e| Unreadable(e.to_string()))
    }

    /// The small envelope pointing at the stored one.
    pub fn by_reference(&self, id: i64) -> Envelope {
        Envelope {
            from: self.from.clone(),
            n: self.n,
            to: self.to.clone(),
            msg: Wire::Stored { id },
        }
    }

    /// Reads a received notification (or a stored body).
    pub fn decode(text: &str) -> Result<Envelope, Unreadable> {
        if text.len() > 64 * 1024 * 1024 {
            return Err(Unreadable("too large".into()));
        }
        serde_json::from_str(text).map_err(|e| Unreadable(e.to_string()))
    }

    /// Whether replica `me` should act on it (not its own, and for it or for everyone).
    pub fn is_for(&self, me: &str) -> bool {
        self.from != me && self.to.as_deref().is_none_or(|t| t == me)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(msg: Wire) -> Envelope {
        Envelope {
            from: "a".into(),
            n: 1,
            to: None,
            msg,
        }
    }

    #[test]
    fn small_messages_go_inline_and_read_back() {
        let e = env(Wire::Watch {
            session_id: Uuid::new_v4(),
            on: true,
        });
        let text = e.encode().expect("encodes").expect("fits");
        assert!(text.len() < 200, "{text}");
        assert_eq!(Envelope::decode(&text).expect("decodes"), e);
    }

    #[test]
    fn a_message_over_the_limit_goes_by_reference() {
        let e = env(Wire::Screen {
            session_id: Uuid::new_v4(),
            task_id: None,
            lines: vec!["x".repeat(200); 60],
            cols: 200,
            rows: 60,
        });
        assert_eq!(
            e.encode().expect("encodes"),
            None,
            "too large to send inline"
        );
        let r = e.by_reference(42);
        let text = r.encode().expect("encodes").expect("a reference fits");
        assert!(text.len() < 100, "{text}");
        assert_eq!(
            Envelope::decode(&text).expect("decodes").msg,
            Wire::Stored { id: 42 }
        );
        let stored = e.to_json().expect("json");
        assert_eq!(Envelope::decode(&stored).expect("decodes"), e);
    }

    #[test]
    fn a_replica_ignores_its_own_and_others_messages() {
        let mut e = env(Wire::Forgot {
            ack: Uuid::new_v4(),
        });
        assert!(!e.is_for("a"), "its own");
        assert!(e.is_for("b"), "broadcast");
        e.to = Some("c".into());
        assert!(!e.is_for("b"), "for another");
        assert!(e.is_for("c"));
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        assert!(Envelope::decode("{\"from\":\"a\",\"msg\":{\"k\":\"nope\"}}").is_err());
        assert!(Envelope::decode("not json").is_err());
    }
}
