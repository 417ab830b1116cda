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
    /// The output chunk number the console's screen reflects: chunks at or below it are
    /// duplicates (sent again after a failover) and skipped.
    last_seq: u64,
    /// The last keyframe delivered (its seq and a hash of its bytes), so the same keyframe
    /// sent again is skipped while a new one at the same seq (after a resize) still passes.
    last_keyframe: Option<(u64, u64)>,
}

impl Subscriber {
    /// Whether `frame` goes to this console: output once each and in order after a keyframe;
    /// a keyframe resets the screen, so one older than the output already shown never passes.
    fn wants(&self, frame: &Frame) -> bool {
        match frame.kind {
            FrameKind::Output => !self.awaiting_keyframe && frame.seq > self.last_seq,
            FrameKind::Keyframe => {
                frame.seq >= self.last_seq
                    && (self.awaiting_keyframe
                        || self.last_keyframe != Some((frame.seq, digest(&frame.data))))
            }
            FrameKind::Input => false,
        }
    }

    /// Notes `frame` as delivered.
    fn delivered(&mut self, frame: &Frame) {
        self.last_seq = self.last_seq.max(frame.seq);
        if frame.kind == FrameKind::Keyframe {
            self.awaiting_keyframe = false;
            self.last_keyframe = Some((frame.seq, digest(&frame.data)));
        }
    }
}

/// A hash of a keyframe's bytes, to recognise the same keyframe sent twice.
fn digest(data: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    h.finish()
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
            last_seq: 0,
            last_keyframe: None,
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
            if !s.wants(frame) {
                return true;
            }
            match s.tx.try_send(Outbound::Binary(encoded.to_vec())) {
                Ok(()) => {
                    s.delivered(frame);
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    // The dropped chunk counts as passed: only a keyframe from after it may
                    // restore the screen.
                    s.last_seq = s.last_seq.max(frame.seq);
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

    fn offer(streams: &Streams, kind: FrameKind, s: Uuid, seq: u64, data: &[u8]) {
        let f = Frame {
            kind,
            session_id: s,
            seq,
            data: data.to_vec(),
        };
        streams.offer(&f, &f.encode());
    }

    /// The (kind, seq) of every frame a console received so far.
    fn received(rx: &mut mpsc::Receiver<Outbound>) -> Vec<(FrameKind, u64)> {
        let mut got = Vec::new();
        while let Ok(m) = rx.try_recv() {
            if let Outbound::Binary(b) = m
                && let Some(f) = Frame::decode(&b)
            {
                got.push((f.kind, f.seq));
            }
        }
        got
    }

    #[test]
    fn output_sent_again_after_a_failover_is_skipped() {
        use FrameKind::{Keyframe, Output};
        let streams = Streams::default();
        let s = Uuid::new_v4();
        let (tx, mut rx) = mpsc::channel(64);
        streams.subscribe(s, 1, tx);
        offer(&streams, Keyframe, s, 2, b"screen");
        for seq in 1..=5 {
            offer(&streams, Output, s, seq, b"o");
        }
        // The daemon reconnects and sends its unacknowledged frames again, then new ones.
        for seq in 3..=8 {
            offer(&streams, Output, s, seq, b"o");
        }
        assert_eq!(
            received(&mut rx),
            vec![
                (Keyframe, 2),
                (Output, 3),
                (Output, 4),
                (Output, 5),
                (Output, 6),
                (Output, 7),
                (Output, 8)
            ]
        );
    }

    #[test]
    fn an_older_keyframe_never_follows_newer_output() {
        use FrameKind::{Keyframe, Output};
        let streams = Streams::default();
        let s = Uuid::new_v4();
        let (tx, mut rx) = mpsc::channel(64);
        streams.subscribe(s, 1, tx);
        offer(&streams, Keyframe, s, 4, b"at 4");
        offer(&streams, Output, s, 5, b"o");
        offer(&streams, Keyframe, s, 4, b"at 4");
        offer(&streams, Keyframe, s, 5, b"at 5");
        offer(&streams, Keyframe, s, 5, b"at 5");
        offer(&streams, Keyframe, s, 5, b"at 5, resized");
        offer(&streams, Output, s, 5, b"o");
        offer(&streams, Output, s, 6, b"o");
        assert_eq!(
            received(&mut rx),
            vec![
                (Keyframe, 4),
                (Output, 5),
                (Keyframe, 5),
                (Keyframe, 5),
                (Output, 6)
            ],
            "the same keyframe twice is skipped, a different one at the same seq passes"
        );
    }

    #[test]
    fn a_reset_console_waits_for_a_keyframe_after_what_it_missed() {
        use FrameKind::{Keyframe, Output};
        let streams = Streams::default();
        let s = Uuid::new_v4();
        let (tx, mut rx) = mpsc::channel(2);
        streams.subscribe(s, 1, tx);
        offer(&streams, Keyframe, s, 0, b"k");
        offer(&streams, Output, s, 1, b"o");
        offer(&streams, Output, s, 2, b"o");
        assert_eq!(received(&mut rx), vec![(Keyframe, 0), (Output, 1)]);
        offer(&streams, Keyframe, s, 1, b"stale");
        offer(&streams, Output, s, 3, b"o");
        assert!(
            received(&mut rx).is_empty(),
            "chunk 2 was missed: only a keyframe at 2 or later restores the screen"
        );
        offer(&streams, Keyframe, s, 3, b"k3");
        offer(&streams, Output, s, 4, b"o");
        assert_eq!(received(&mut rx), vec![(Keyframe, 3), (Output, 4)]);
    }
}
