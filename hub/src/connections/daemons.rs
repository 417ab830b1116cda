//! The connected daemons, by server id, each behind a bounded queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use orchestratia_proto::workspace::WorkspaceAnswer;
use orchestratia_proto::ws::{Frame, HubToDaemon};
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use super::{DAEMON_QUEUE, Outbound, Replies, next_conn_id};
use crate::bus::Link;
use crate::bus::wire::Wire;

struct DaemonConn {
    conn_id: u64,
    tx: mpsc::Sender<Outbound>,
    overflow: Arc<Notify>,
}

/// What the socket task of a new daemon connection reads from.
pub struct DaemonLink {
    pub conn_id: u64,
    /// The messages to write, in order.
    pub outgoing: mpsc::Receiver<Outbound>,
    /// Notified when the queue overflowed: the task closes the connection.
    pub overflow: Arc<Notify>,
}

/// The connected daemons, by server id. Each has a bounded queue; a sender never waits.
/// Between replicas, a message for a daemon connected to another replica goes over the bus
/// to the one that holds its socket.
pub struct Daemons {
    conns: Mutex<HashMap<Uuid, DaemonConn>>,
    /// Daemons connected to other replicas: server → replica.
    remote: Mutex<HashMap<Uuid, String>>,
    link: OnceLock<Arc<Link>>,
    capacity: usize,
    /// Requests sent to daemons that wait for their answer.
    pub replies: Replies,
}

impl Default for Daemons {
    fn default() -> Self {
        Daemons::new(DAEMON_QUEUE)
    }
}

impl Daemons {
    /// No daemons yet; each connection will queue at most `capacity` messages.
    pub fn new(capacity: usize) -> Daemons {
        Daemons {
            conns: Mutex::default(),
            remote: Mutex::default(),
            link: OnceLock::new(),
            capacity: capacity.max(1),
            replies: Replies::default(),
        }
    }

    /// Joins the other replicas (once, when a replica starts).
    pub fn attach(&self, link: Arc<Link>) {
        let _ = self.link.set(link);
    }

    /// Registers a new connection for `server`, closing any older one of the same server
    /// (here, and on another replica through the bus).
    pub fn register(&self, server: Uuid) -> DaemonLink {
        self.remote
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&server);
        if let Some(link) = self.link.get() {
            link.send(None, Wire::DaemonUp { server });
        }
        let (tx, outgoing) = mpsc::channel(self.capacity);
        let overflow = Arc::new(Notify::new());
        let conn_id = next_conn_id();
        let old = self.conns.lock().unwrap_or_else(|e| e.into_inner()).insert(
            server,
            DaemonConn {
                conn_id,
                tx,
                overflow: overflow.clone(),
            },
        );
        if let Some(old) = old
            && old
                .tx
                .try_send(Outbound::Close("replaced by a newer connection".into()))
                .is_err()
        {
            old.overflow.notify_one();
        }
        DaemonLink {
            conn_id,
            outgoing,
            overflow,
        }
    }

    /// Forgets a connection, unless a newer one already replaced it. True when it was current.
    pub fn unregister(&self, server: Uuid, conn_id: u64) -> bool {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if conns.get(&server).map(|c| c.conn_id) == Some(conn_id) {
            conns.remove(&server);
            if let Some(link) = self.link.get() {
                link.send(None, Wire::DaemonDown { server });
            }
            true
        } else {
            false
        }
    }

    fn push(&self, server: Uuid, out: Outbound) -> bool {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        let Some(c) = conns.get(&server) else {
            return false;
        };
        match c.tx.try_send(out) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
            Err(mpsc::error::TrySendError::Full(_)) => {
                // The daemon does not keep up (or stopped reading). Closing the connection is
                // the safe answer: the daemon reconnects, and its `hello` makes the hub send
                // again what matters (session starts, resumes with the agent state, stops).
                // What the queue held beyond that (keystrokes, task status notes) is dropped.
                tracing::warn!(%server, "daemon queue full: closing the connection");
                c.overflow.notify_one();
                conns.remove(&server);
                false
            }
        }
    }

    /// Sends a control message to the daemon, here or through the replica holding its
    /// socket; false when it is connected nowhere this replica knows of.
    pub fn send(&self, server: Uuid, msg: &HubToDaemon) -> bool {
        if self.is_here(server) {
            return self.send_here(server, msg);
        }
        self.forward(server, || Wire::Daemon {
            server,
            msg: Box::new(msg.clone()),
        })
    }

    /// Sends a control message to the daemon's socket on this replica only.
    pub fn send_here(&self, server: Uuid, msg: &HubToDaemon) -> bool {
        // Serialize only for a connected daemon: a cascade wave may address thousands.
        if !self.is_here(server) {
            return false;
        }
        match serde_json::to_string(msg) {
            Ok(text) => self.push(server, Outbound::Text(text)),
            Err(_) => false,
        }
    }

    /// Sends a binary frame (terminal input), here or through the replica holding the socket.
    pub fn send_frame(&self, server: Uuid, frame: &Frame) -> bool {
        if self.is_here(server) {
            return self.push(server, Outbound::Binary(frame.encode()));
        }
        self.forward(server, || {
            use base64::Engine;
            Wire::DaemonFrame {
                server,
                frame: base64::engine::general_purpose::STANDARD.encode(frame.encode()),
            }
        })
    }

    /// Writes an encoded frame to the daemon's socket on this replica only.
    pub fn send_frame_here(&self, server: Uuid, encoded: Vec<u8>) -> bool {
        self.push(server, Outbound::Binary(encoded))
    }

    /// Closes the daemon's connection, wherever it is.
    pub fn close(&self, server: Uuid, reason: &str) {
        if !self.close_here(server, reason) {
            self.forward(server, || Wire::CloseDaemon {
                server,
                reason: reason.to_string(),
            });
        }
    }

    /// Closes the daemon's connection on this replica; false when it has none here.
    pub fn close_here(&self, server: Uuid, reason: &str) -> bool {
        self.push(server, Outbound::Close(reason.to_string()))
    }

    /// Sends `msg` to the replica that holds `server`'s socket (to every replica when that
    /// is not known yet). True when a replica is known to hold it.
    fn forward(&self, server: Uuid, msg: impl FnOnce() -> Wire) -> bool {
        let Some(link) = self.link.get() else {
            return false;
        };
        let holder = self
            .remote
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&server)
            .cloned();
        link.send(holder.as_deref(), msg());
        holder.is_some()
    }

    /// Whether the daemon of `server` is connected to this hub or, between replicas, to
    /// another replica.
    pub fn is_connected(&self, server: Uuid) -> bool {
        self.is_here(server)
            || self
                .remote
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&server)
    }

    /// A daemon's answer to request `id`: handed to the operation waiting here, or (between
    /// replicas) passed on to the replica that waits for it. False when nobody here waits.
    pub fn answer(&self, server: Uuid, id: Uuid, answer: WorkspaceAnswer) -> bool {
        match self.link.get() {
            Some(link) => {
                if self.replies.complete(server, id, answer.clone()) {
                    return true;
                }
                link.send(
                    None,
                    Wire::Reply {
                        server,
                        request_id: id,
                        answer: Box::new(answer),
                    },
                );
                false
            }
            None => self.replies.complete(server, id, answer),
        }
    }

    /// Whether a message for `server` may reach its daemon now: connected here or elsewhere,
    /// or (between replicas) possibly connected to a replica not heard from yet — a replica
    /// that just started learns where daemons are from the others' answers.
    pub fn may_reach(&self, server: Uuid) -> bool {
        self.is_connected(server) || self.link.get().is_some()
    }

    /// Whether the daemon of `server` is connected to this replica.
    pub fn is_here(&self, server: Uuid) -> bool {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&server)
    }

    /// The servers whose daemons are connected here.
    pub fn here(&self) -> Vec<Uuid> {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect()
    }

    /// Daemon sockets open on this replica.
    pub fn count_here(&self) -> usize {
        self.conns.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Replica `replica` says the daemon of `server` connected to it: a socket of it here is
    /// stale and is closed.
    pub fn connected_elsewhere(&self, server: Uuid, replica: &str) {
        let stale = self
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&server);
        if let Some(old) = stale
            && old
                .tx
                .try_send(Outbound::Close("connected to another hub replica".into()))
                .is_err()
        {
            old.overflow.notify_one();
        }
        self.remote
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(server, replica.to_string());
    }

    /// Replica `replica` says the daemon of `server` left it.
    pub fn disconnected_elsewhere(&self, server: Uuid, replica: &str) {
        let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        if remote.get(&server).is_some_and(|r| r == replica) {
            remote.remove(&server);
        }
    }

    /// Forgets every daemon replica `replica` held (it restarted or died).
    pub fn forget_replica(&self, replica: &str) {
        self.remote
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, r| r != replica);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_daemon_connection_replaces_the_old() {
        let d = Daemons::default();
        let server = Uuid::new_v4();
        let mut l1 = d.register(server);
        let l2 = d.register(server);
        assert!(matches!(l1.outgoing.try_recv(), Ok(Outbound::Close(_))));
        assert!(!d.unregister(server, l1.conn_id));
        assert!(d.is_connected(server));
        assert!(d.unregister(server, l2.conn_id));
        assert!(!d.is_connected(server));
    }

    #[tokio::test]
    async fn a_daemon_whose_queue_overflows_is_disconnected() {
        let d = Daemons::new(2);
        let server = Uuid::new_v4();
        let link = d.register(server);
        let ping = HubToDaemon::KeyframeRequest {
            session_id: Uuid::new_v4(),
        };
        assert!(d.send(server, &ping));
        assert!(d.send(server, &ping));
        assert!(!d.send(server, &ping), "a full queue refuses");
        assert!(!d.is_connected(server));
        // The socket task is told to close.
        tokio::time::timeout(std::time::Duration::from_secs(1), link.overflow.notified())
            .await
            .expect("overflow notified");
    }
}
