//! Live connections: the daemon sockets (one per server) and the consoles watching sessions.
//! Messages for a socket go through a channel to the task that owns the socket, so senders
//! never wait on the network.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use orchestratia_proto::ws::{Frame, FrameKind, HubToDaemon};
use tokio::sync::mpsc;
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

/// A process-unique connection number.
pub fn next_conn_id() -> u64 {
    NEXT_CONN.fetch_add(1, Ordering::Relaxed)
}

struct DaemonConn {
    conn_id: u64,
    tx: mpsc::UnboundedSender<Outbound>,
}

/// The connected daemons, by server id.
#[derive(Default)]
pub struct Daemons {
    conns: Mutex<HashMap<Uuid, DaemonConn>>,
}

impl Daemons {
    /// Registers a new connection for `server`, closing any older one of the same server.
    pub fn register(&self, server: Uuid) -> (u64, mpsc::UnboundedReceiver<Outbound>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let conn_id = next_conn_id();
        let old = self
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(server, DaemonConn { conn_id, tx });
        if let Some(old) = old {
            let _ = old
                .tx
                .send(Outbound::Close("replaced by a newer connection".into()));
        }
        (conn_id, rx)
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
        let conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        match conns.get(&server) {
            Some(c) => c.tx.send(out).is_ok(),
            None => false,
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
        let (c1, mut rx1) = d.register(server);
        let (c2, _rx2) = d.register(server);
        assert!(matches!(rx1.try_recv(), Ok(Outbound::Close(_))));
        assert!(!d.unregister(server, c1));
        assert!(d.is_connected(server));
        assert!(d.unregister(server, c2));
        assert!(!d.is_connected(server));
    }
}
