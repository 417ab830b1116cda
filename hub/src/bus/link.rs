//! The sending end of the bus between replicas: every part of the hub that must reach another
//! replica (events, daemon messages, watched output, cache invalidations) queues an envelope
//! here; one task writes them to PostgreSQL in order (see [`super::replica`]).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;

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
    /// Messages waiting for answers: ack id → where the answering replicas' ids go.
    acks: Mutex<HashMap<Uuid, mpsc::UnboundedSender<String>>>,
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
                acks: Mutex::default(),
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

    /// Sends the message `make(ack)` to every replica and waits (up to `wait`) until each of
    /// `peers` answered `ack`; false when some did not in time.
    pub async fn send_and_wait(
        &self,
        make: impl FnOnce(Uuid) -> Wire,
        peers: &[String],
        wait: Duration,
    ) -> bool {
        let ack = Uuid::new_v4();
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ack, tx);
        self.send(None, make(ack));
        let mut missing: HashSet<&str> = peers.iter().map(String::as_str).collect();
        let done = tokio::time::timeout(wait, async {
            while !missing.is_empty() {
                match rx.recv().await {
                    Some(from) => {
                        missing.remove(from.as_str());
                    }
                    None => break,
                }
            }
        })
        .await
        .is_ok();
        self.acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ack);
        done && missing.is_empty()
    }

    /// Replica `from` answered `ack`.
    pub fn acked(&self, ack: Uuid, from: &str) {
        if let Some(tx) = self
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&ack)
        {
            let _ = tx.send(from.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_change_waits_for_every_peer_and_no_longer() {
        let (link, mut queue) = Link::new("a");
        let link = std::sync::Arc::new(link);
        // Replica b answers every Forget; c never does.
        let answering = link.clone();
        tokio::spawn(async move {
            while let Some(env) = queue.recv().await {
                if let Wire::Forget { ack, .. } = env.msg {
                    answering.acked(ack, "b");
                }
            }
        });
        let forget = |ack| Wire::Forget {
            cache: super::super::wire::Cache::Tokens,
            ack,
        };
        let wait = Duration::from_millis(200);
        assert!(link.send_and_wait(forget, &["b".into()], wait).await);
        assert!(
            !link
                .send_and_wait(forget, &["b".into(), "c".into()], wait)
                .await,
            "c never answered"
        );
        assert!(
            link.send_and_wait(forget, &[], wait).await,
            "nobody to wait for"
        );
        assert!(
            link.acks.lock().expect("acks").is_empty(),
            "nothing left waiting"
        );
    }
}
