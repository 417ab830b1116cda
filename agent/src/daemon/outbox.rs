//! Everything the daemon sends to the hub goes through one bounded queue, so sessions never
//! wait on the network and nothing is lost while the hub is away — up to a bound: past it the
//! oldest terminal output is dropped (control messages never are), counted per session, and
//! reported (`output_lost`) on reconnect, followed by a fresh keyframe.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use orchestratia_proto::ws::{DaemonToHub, Frame};
use tokio::sync::Notify;
use uuid::Uuid;

/// A message waiting to be sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Control(Box<DaemonToHub>),
    Frame(Frame),
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Out>,
    frame_bytes: usize,
    lost: BTreeMap<Uuid, u64>,
}

/// The queue.
pub struct Outbox {
    inner: Mutex<Inner>,
    notify: Notify,
    max_frame_bytes: usize,
}

impl Outbox {
    /// A queue keeping at most `max_frame_bytes` of terminal output.
    pub fn new(max_frame_bytes: usize) -> Outbox {
        Outbox {
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
            max_frame_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a control message.
    pub fn control(&self, m: DaemonToHub) {
        self.lock().queue.push_back(Out::Control(Box::new(m)));
        self.notify.notify_one();
    }

    /// Queues a frame, dropping the oldest frames if the bound is passed.
    pub fn frame(&self, f: Frame) {
        let mut g = self.lock();
        g.frame_bytes += f.data.len();
        g.queue.push_back(Out::Frame(f));
        while g.frame_bytes > self.max_frame_bytes {
            let Some(pos) = g.queue.iter().position(|o| matches!(o, Out::Frame(_))) else {
                break;
            };
            if let Some(Out::Frame(old)) = g.queue.remove(pos) {
                g.frame_bytes -= old.data.len();
                *g.lost.entry(old.session_id).or_default() += old.data.len() as u64;
            }
        }
        drop(g);
        self.notify.notify_one();
    }

    /// The next message to send.
    pub fn pop(&self) -> Option<Out> {
        let mut g = self.lock();
        let out = g.queue.pop_front();
        if let Some(Out::Frame(f)) = &out {
            g.frame_bytes -= f.data.len();
        }
        out
    }

    /// Puts back a message that could not be sent.
    pub fn unpop(&self, out: Out) {
        let mut g = self.lock();
        if let Out::Frame(f) = &out {
            g.frame_bytes += f.data.len();
        }
        g.queue.push_front(out);
    }

    /// Waits until something is queued.
    pub async fn ready(&self) {
        if !self.lock().queue.is_empty() {
            return;
        }
        self.notify.notified().await;
    }

    /// Output dropped since the last call, by session.
    pub fn take_lost(&self) -> BTreeMap<Uuid, u64> {
        std::mem::take(&mut self.lock().lost)
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestratia_proto::ws::FrameKind;

    fn frame(s: Uuid, seq: u64, n: usize) -> Frame {
        Frame {
            kind: FrameKind::Output,
            session_id: s,
            seq,
            data: vec![b'x'; n],
        }
    }

    #[test]
    fn keeps_order_and_drops_the_oldest_output_past_the_bound() {
        let o = Outbox::new(25);
        let s = Uuid::new_v4();
        o.control(DaemonToHub::Heartbeat { sessions: vec![] });
        o.frame(frame(s, 1, 10));
        o.frame(frame(s, 2, 10));
        o.frame(frame(s, 3, 10));
        assert_eq!(o.take_lost().get(&s), Some(&10));
        assert!(
            matches!(o.pop(), Some(Out::Control(_))),
            "control messages are never dropped"
        );
        let seqs: Vec<u64> = std::iter::from_fn(|| o.pop())
            .filter_map(|m| match m {
                Out::Frame(f) => Some(f.seq),
                _ => None,
            })
            .collect();
        assert_eq!(seqs, vec![2, 3]);
        assert!(o.take_lost().is_empty());
    }

    #[test]
    fn unpop_puts_back_in_front() {
        let o = Outbox::new(100);
        let s = Uuid::new_v4();
        o.frame(frame(s, 1, 1));
        o.frame(frame(s, 2, 1));
        let first = o.pop().expect("first");
        o.unpop(first.clone());
        assert_eq!(o.pop(), Some(first));
    }
}
