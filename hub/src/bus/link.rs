//! The sending end of the bus between replicas: every part of the hub that must reach another
//! replica (events, daemon messages, watched output, cache invalidations) queues an envelope
//! here; one task writes them to PostgreSQL in order (see [`super::replica`]).

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::wire::{Envelope, Wire};

/// Envelopes queued for sending; past this the newest are dropped with a warning (PostgreSQL
/// is not keeping up, and the receivers resync from the store).
pub const QUEUE: usize = 65_536;

/// This replica's way to the others.
#[derive(Debug)]
pub struct Link {
    replica: String,
    tx: mpsc::Sender<Envelope>,
    sent: AtomicU64,
}

impl Link {
    /// A link for replica `replica`, and the queue its sender task reads.
    pub fn new(replica: &str) -> (Link, mpsc::Receiver<Envelope>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (
            Link {
                replica: replica.to_string(),
                tx,
                sent: AtomicU64::new(0),
            },
            rx,
        )
    }

    /// This replica's id.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Queues `msg` for replica `to` (`None`: every other replica). Never waits.
    pub fn send(&self, to: Option<&str>, msg: Wire) {
        let env = Envelope {
            from: self.replica.clone(),
            n: self.sent.fetch_add(1, Ordering::Relaxed) + 1,
            to: to.map(str::to_string),
            msg,
        };
        if let Err(e) = self.tx.try_send(env) {
            tracing::warn!(error = %e, "bus to other replicas is full: message dropped");
        }
    }
}
