//! Live connections: the daemon sockets (one per server) and the consoles watching sessions.
//! Messages for a socket go through a bounded channel to the task that owns the socket, so
//! senders never wait on the network and a client that stops reading pins little memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use orchestratia_proto::workspace::WorkspaceAnswer;
use orchestratia_proto::ws::{Frame, FrameKind, HubToDaemon};
use tokio::sync::{Notify, mpsc, oneshot};
use uuid::Uuid;

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
pub struct Daemons {
    conns: Mutex<HashMap<Uuid, DaemonConn>>,
    capacity: usize,
    /// Requests sent to daemons that wait for their answer.
    pub replies: Replies,
}

/// Requests to daemons waiting for an answer (`HubToDaemon::Workspace` →
/// `DaemonToHub::WorkspaceReply`), by request id, with the server that must answer.
#[derive(Default)]
pub struct Replies {
    waiting: Mutex<HashMap<Uuid, (Uuid, oneshot::Sender<WorkspaceAnswer>)>>,
}

impl Replies {
    /// A new request to `server`: its id, and where its answer arrives.
    pub fn open(&self, server: Uuid) -> (Uuid, oneshot::Receiver<WorkspaceAnswer>) {
        let id = Uuid::new_v4();
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, (server, tx));
        (id, rx)
    }

    /// Hands `answer` to the request `id` when `server` is the one it was sent to; false when
    /// nobody waits for it (unknown, another server's, or given up).
    pub fn complete(&self, server: Uuid, id: Uuid, answer: WorkspaceAnswer) -> bool {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        match waiting.get(&id) {
            Some((s, _)) if *s == server => {}
            _ => return false,
        }
        match waiting.remove(&id) {
            Some((_, tx)) => tx.send(answer).is_ok(),
            None => false,
        }
    }

    /// Gives up waiting for request `id`.
    pub fn forget(&self, id: Uuid) {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Fails every request to `server` at once (its connection ended).
    pub fn drop_server(&self, server: Uuid) {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, (s, _)| *s != server);
    }
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
            capacity: capacity.max(1),
            replies: Replies::default(),
        }
    }

    /// Registers a new connection for `server`, closing any older one of the same server.
    pub fn register(&self, server: Uuid) -> DaemonLink {
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

    /// Sends a control message; false when the daemon is not connected.
    pub fn send(&self, server: Uuid, msg: &HubToDaemon) -> bool {
        // Serialize only for a connected daemon: a cascade wave may address thousands.
        if !self.is_connected(server) {
            return false;
        }
        match serde_json::to_string(msg) {
            Ok(text) => self.push(server, Outbound::Text(text)),
            Err(_) => false,
        }
    }

    /// Sends a binary frame (terminal input).
    pub fn send_frame(&self, server: Uuid, frame: &Frame) -> bool {
        self.push(server, Outbound::Binary(frame.encode()))
    }

    /// Closes the daemon's connection.
    pub fn close(&self, server: Uuid, reason: &str) {
        self.push(server, Outbound::Close(reason.to_string()));
    }

    /// Whether the daemon of `server` is connected to this hub.
    pub fn is_connected(&self, server: Uuid) -> bool {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&server)
    }
}

struct Subscriber {
    console_id: u64,
    tx: mpsc::Sender<Outbound>,
    /// Chunks are held back until a keyframe arrives: a console never starts mid-stream.
    awaiting_keyframe: bool,
}

/// Which consoles watch which sessions.
#[derive(Default)]
pub struct Streams {
    subs: Mutex<HashMap<Uuid, Vec<Subscriber>>>,
}

/// What the caller must do after offering a frame to the subscribers.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fanout {
    /// A subscriber fell behind and was reset: ask the daemon for a fresh keyframe.
    pub need_keyframe: bool,
}

impl Streams {
    /// Adds a console to a session's watchers; it waits for the next keyframe.
    pub fn subscribe(&self, session: Uuid, console_id: u64, tx: mpsc::Sender<Outbound>) {
        let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
        let list = subs.entry(session).or_default();
        list.retain(|s| s.console_id != console_id);
        list.push(Subscriber {
            console_id,
            tx,
            awaiting_keyframe: true,
        });
    }

    pub fn unsubscribe(&self, session: Uuid, console_id: u64) {
        let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = subs.get_mut(&session) {
            list.retain(|s| s.console_id != console_id);
            if list.is_empty() {
                subs.remove(&session);
            }
        }
    }

    /// Drops every subscription of a console that went away.
    pub fn drop_console(&self, console_id: u64) {
        let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
        for list in subs.values_mut() {
            list.retain(|s| s.console_id != console_id);
        }
        subs.retain(|_, l| !l.is_empty());
    }

    /// Whether anyone watches `session`.
    pub fn watched(&self, session: Uuid) -> bool {
        self.subs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&session)
            .is_some_and(|l| !l.is_empty())
    }

    /// Offers an output chunk or keyframe to the session's watchers.
    pub fn offer(&self, frame: &Frame, encoded: &[u8]) -> Fanout {
        let mut out = Fanout::default();
        let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
        let Some(list) = subs.get_mut(&frame.session_id) else {
            return out;
        };
        list.retain_mut(|s| {
            let deliver = match frame.kind {
                FrameKind::Keyframe => true,
                FrameKind::Output => !s.awaiting_keyframe,
                FrameKind::Input => false,
            };
            if !deliver {
                return true;
            }
            match s.tx.try_send(Outbound::Binary(encoded.to_vec())) {
                Ok(()) => {
                    if frame.kind == FrameKind::Keyframe {
                        s.awaiting_keyframe = false;
                    }
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    s.awaiting_keyframe = true;
                    out.need_keyframe = true;
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: FrameKind, session: Uuid, seq: u64) -> Frame {
        Frame {
            kind,
            session_id: session,
            seq,
            data: vec![b'x'],
        }
    }

    #[tokio::test]
    async fn chunks_wait_for_a_keyframe() {
        let streams = Streams::default();
        let s = Uuid::new_v4();
        let (tx, mut rx) = mpsc::channel(8);
        streams.subscribe(s, 1, tx);
        let f1 = frame(FrameKind::Output, s, 1);
        streams.offer(&f1, &f1.encode());
        assert!(rx.try_recv().is_err(), "no chunk before the keyframe");
        let k = frame(FrameKind::Keyframe, s, 1);
        streams.offer(&k, &k.encode());
        let f2 = frame(FrameKind::Output, s, 2);
        streams.offer(&f2, &f2.encode());
        let got: Vec<u8> = match rx.recv().await {
            Some(Outbound::Binary(b)) => b,
            _ => Vec::new(),
        };
        assert_eq!(
            Frame::decode(&got).map(|f| f.kind),
            Some(FrameKind::Keyframe)
        );
        assert!(matches!(rx.recv().await, Some(Outbound::Binary(_))));
    }

    #[tokio::test]
    async fn a_slow_console_is_reset_to_a_keyframe() {
        let streams = Streams::default();
        let s = Uuid::new_v4();
        let (tx, _rx) = mpsc::channel(1);
        streams.subscribe(s, 1, tx);
        let k = frame(FrameKind::Keyframe, s, 0);
        assert_eq!(streams.offer(&k, &k.encode()), Fanout::default());
        let f = frame(FrameKind::Output, s, 1);
        assert!(streams.offer(&f, &f.encode()).need_keyframe);
    }

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
    async fn a_reply_reaches_only_the_request_of_its_server() {
        let r = Replies::default();
        let (server, other) = (Uuid::new_v4(), Uuid::new_v4());
        let (id, rx) = r.open(server);
        let answer = WorkspaceAnswer::Refused {
            reason: "no".into(),
            conflicts: Vec::new(),
        };
        assert!(
            !r.complete(other, id, answer.clone()),
            "another server's answer"
        );
        assert!(
            !r.complete(server, Uuid::new_v4(), answer.clone()),
            "unknown id"
        );
        assert!(r.complete(server, id, answer.clone()));
        assert_eq!(rx.await.ok(), Some(answer));
        let (_, rx) = r.open(server);
        r.drop_server(server);
        assert!(rx.await.is_err(), "a dropped server's requests fail");
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
