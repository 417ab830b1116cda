//! Which consoles watch which sessions, and the fan-out of output frames to them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use orchestratia_proto::ws::{Frame, FrameKind};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Outbound;
use crate::bus::Link;
use crate::bus::wire::Wire;

struct Subscriber {
    console_id: u64,
    tx: mpsc::Sender<Outbound>,
    /// Chunks are held back until a keyframe arrives: a console never starts mid-stream.
    awaiting_keyframe: bool,
}

/// Which consoles watch which sessions: here, and (between replicas) which other replicas
/// have consoles watching, so output reaching this replica is passed on to them.
#[derive(Default)]
pub struct Streams {
    subs: Mutex<HashMap<Uuid, Vec<Subscriber>>>,
    /// Sessions watched on other replicas: session → replicas.
    remote: Mutex<HashMap<Uuid, HashSet<String>>>,
    link: OnceLock<Arc<Link>>,
}

/// What the caller must do after offering a frame to the subscribers.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fanout {
    /// A subscriber fell behind and was reset: ask the daemon for a fresh keyframe.
    pub need_keyframe: bool,
}

impl Streams {
    /// Joins the other replicas (once, when a replica starts).
    pub fn attach(&self, link: Arc<Link>) {
        let _ = self.link.set(link);
    }

    /// Tells the other replicas that this one started or stopped watching `session`.
    fn announce(&self, session: Uuid, on: bool) {
        if let Some(link) = self.link.get() {
            link.send(
                None,
                Wire::Watch {
                    session_id: session,
                    on,
                },
            );
        }
    }

    /// Adds a console to a session's watchers; it waits for the next keyframe.
    pub fn subscribe(&self, session: Uuid, console_id: u64, tx: mpsc::Sender<Outbound>) {
        let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
        if !subs.contains_key(&session) {
            self.announce(session, true);
        }
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
                self.announce(session, false);
            }
        }
    }

    /// Drops every subscription of a console that went away.
    pub fn drop_console(&self, console_id: u64) {
        let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
        for list in subs.values_mut() {
            list.retain(|s| s.console_id != console_id);
        }
        subs.retain(|session, l| {
            if l.is_empty() {
                self.announce(*session, false);
            }
            !l.is_empty()
        });
    }

    /// The sessions watched on this replica.
    pub fn watched_here(&self) -> Vec<Uuid> {
        self.subs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect()
    }

    /// Whether consoles on another replica watch `session`.
    pub fn watched_elsewhere(&self, session: Uuid) -> bool {
        self.remote
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&session)
            .is_some_and(|r| !r.is_empty())
    }

    /// Replica `replica` started (`on`) or stopped watching `session`.
    pub fn watch_elsewhere(&self, session: Uuid, replica: &str, on: bool) {
        let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        if on {
            remote
                .entry(session)
                .or_default()
                .insert(replica.to_string());
        } else if let Some(set) = remote.get_mut(&session) {
            set.remove(replica);
            if set.is_empty() {
                remote.remove(&session);
            }
        }
    }

    /// Forgets what replica `replica` watched (it restarted or died).
    pub fn forget_replica(&self, replica: &str) {
        let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        for set in remote.values_mut() {
            set.remove(replica);
        }
        remote.retain(|_, set| !set.is_empty());
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
}
