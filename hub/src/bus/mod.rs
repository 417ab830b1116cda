//! The event bus: events (after their transaction commits) and live screens fan out to the
//! console sockets, long-polls and the Telegram bot.
//!
//! A single hub (SQLite, or PostgreSQL without `--replica-id`) keeps it all in the process.
//! Hub replicas sharing one PostgreSQL database also pass what they publish, the messages for
//! daemons connected elsewhere and the output watched elsewhere to each other over
//! LISTEN/NOTIFY:
//!
//! - `wire`: the messages between replicas and their size bound;
//! - `link`: the sending end every part of the hub holds;
//! - `replica`: starting a replica (its identity lock, the listener, its reports) and acting
//!   on what the others say.

pub mod link;
pub mod replica;
pub mod wire;

use std::sync::{Arc, OnceLock};

pub use link::Link;

use orchestratia_proto::{Event, SessionState};
use tokio::sync::broadcast;
use uuid::Uuid;

/// Something subscribers may want to know about.
#[derive(Debug, Clone)]
pub enum BusMessage {
    /// A new row of the timeline.
    Event(Arc<Event>),
    /// A session's rendered screen (not stored as an event: it comes every few seconds).
    Screen {
        session_id: Uuid,
        task_id: Option<Uuid>,
        lines: Arc<Vec<String>>,
        cols: u16,
        rows: u16,
    },
    /// A session's agent state changed (not stored as an event: it changes on every turn).
    State {
        session_id: Uuid,
        task_id: Option<Uuid>,
        state: SessionState,
    },
}

/// Broadcasts bus messages to every subscriber; slow subscribers lag and re-read the store.
/// With a [`Link`], what is published here also reaches the other replicas' subscribers.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<BusMessage>,
    link: Arc<OnceLock<Arc<Link>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(8192);
        EventBus {
            tx,
            link: Arc::default(),
        }
    }
}

impl EventBus {
    /// Joins the bus to the other replicas' (once, when a replica starts).
    pub fn attach(&self, link: Arc<Link>) {
        let _ = self.link.set(link);
    }

    /// The link to the other replicas, when this hub is one of several.
    pub fn link(&self) -> Option<&Arc<Link>> {
        self.link.get()
    }

    /// Publishes committed events in order, here and on the other replicas.
    pub fn publish(&self, events: Vec<Event>) {
        if let Some(link) = self.link()
            && !events.is_empty()
        {
            link.send(
                None,
                wire::Wire::Events {
                    events: events.clone(),
                },
            );
        }
        self.deliver_events(events);
    }

    /// Publishes events another replica committed, to this replica's subscribers only.
    pub fn deliver_events(&self, events: Vec<Event>) {
        for e in events {
            let _ = self.tx.send(BusMessage::Event(Arc::new(e)));
        }
    }

    /// Publishes a live screen or state (what is not an event), here and on the other replicas.
    pub fn publish_live(&self, m: BusMessage) {
        if let Some(link) = self.link() {
            let msg = match &m {
                BusMessage::Screen {
                    session_id,
                    task_id,
                    lines,
                    cols,
                    rows,
                } => Some(wire::Wire::Screen {
                    session_id: *session_id,
                    task_id: *task_id,
                    lines: lines.to_vec(),
                    cols: *cols,
                    rows: *rows,
                }),
                BusMessage::State {
                    session_id,
                    task_id,
                    state,
                } => Some(wire::Wire::State {
                    session_id: *session_id,
                    task_id: *task_id,
                    state: *state,
                }),
                BusMessage::Event(_) => None,
            };
            if let Some(msg) = msg {
                link.send(None, msg);
            }
        }
        self.deliver(m);
    }

    /// Hands a message to this replica's subscribers only.
    pub fn deliver(&self, m: BusMessage) {
        let _ = self.tx.send(m);
    }

    /// A new subscription, seeing what is published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.tx.subscribe()
    }
}
