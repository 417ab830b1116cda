//! The event bus: events (after their transaction commits) and live screens fan out to the
//! console sockets, long-polls and, later, Telegram. One module so that crossing replicas over
//! PostgreSQL LISTEN/NOTIFY stays a local change.

use std::sync::Arc;

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
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<BusMessage>,
}

impl Default for EventBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(8192);
        EventBus { tx }
    }
}

impl EventBus {
    /// Publishes committed events in order.
    pub fn publish(&self, events: Vec<Event>) {
        for e in events {
            let _ = self.tx.send(BusMessage::Event(Arc::new(e)));
        }
    }

    /// Publishes a live screen or state: what is not an event.
    pub fn publish_live(&self, m: BusMessage) {
        let _ = self.tx.send(m);
    }

    /// A new subscription, seeing what is published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.tx.subscribe()
    }
}
