//! Everything the daemon sends to the hub goes through one bounded queue, so sessions never
//! wait on the network and nothing is lost while the hub is away — up to a bound: past it the
//! oldest terminal output is dropped (control messages never are), counted per session, and
//! reported (`output_lost`) on reconnect, followed by a fresh keyframe.
//!
//! Terminal output sent is kept until the hub says it is stored (`output_stored`): after a
//! reconnect (perhaps to another hub replica) it is sent again first, so a hub that dies with
//! chunks not yet stored loses none. It counts against the same bound.

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
    /// Frames sent and not yet acknowledged, oldest first.
    unacked: VecDeque<Frame>,
    /// The bytes of terminal output held: queued and unacknowledged.
    frame_bytes: usize,
    lost: BTreeMap<Uuid, u64>,
}

impl Inner {
    /// Drops the oldest output (unacknowledged first, then queued) until under `max`.
    fn shed(&mut self, max: usize) {
        while self.frame_bytes > max {
            let old = match self.unacked.pop_front() {
                Some(f) => f,
                None => {
                    let Some(pos) = self.queue.iter().position(|o| matches!(o, Out::Frame(_)))
                    else {
                        break;
                    };
                    match self.queue.remove(pos) {
                        Some(Out::Frame(f)) => f,
                        _ => break,
                    }
                }
            };
            self.frame_bytes -= old.data.len();
            *self.lost.entry(old.session_id).or_default() += old.data.len() as u64;
        }
    }
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
        g.shed(self.max_frame_bytes);
        drop(g);
        self.notify.notify_one();
    }

    /// The next message to send. A frame is kept as sent but unacknowledged (see
    /// [`Outbox::ack`]).
    pub fn pop(&self) -> Option<Out> {
        let mut g = self.lock();
        let out = g.queue.pop_front();
        if let Some(Out::Frame(f)) = &out {
            g.unacked.push_back(f.clone());
        }
        out
    }

    /// Puts back a message that could not be sent.
    pub fn unpop(&self, out: Out) {
        let mut g = self.lock();
        if let Out::Frame(f) = &out {
            if g.unacked.back() != Some(f) {
                // Dropped meanwhile to stay under the bound (and counted as lost).
                return;
            }
            g.unacked.pop_back();
        }
        g.queue.push_front(out);
    }

    /// The hub stored `session`'s output up to `seq`: frames numbered up to it are forgotten.
    pub fn ack(&self, session: Uuid, seq: u64) {
        let mut g = self.lock();
        let mut freed = 0;
        g.unacked.retain(|f| {
            let done = f.session_id == session && f.seq <= seq;
            if done {
                freed += f.data.len();
            }
            !done
        });
        g.frame_bytes -= freed;
    }

    /// After a reconnect: the frames sent but not acknowledged go first again, in order.
    pub fn resend_unacked(&self) {
        let mut g = self.lock();
        let unacked = std::mem::take(&mut g.unacked);
        for f in unacked.into_iter().rev() {
            g.queue.push_front(Out::Frame(f));
        }
        drop(g);
        self.notify.notify_one();
    }

    /// Frames sent and not yet acknowledged.
    pub fn unacked(&self) -> usize {
        self.lock().unacked.len()
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

    fn seqs(o: &Outbox) -> Vec<u64> {
        std::iter::from_fn(|| o.pop())
            .filter_map(|m| match m {
                Out::Frame(f) => Some(f.seq),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn unacknowledged_frames_go_first_again_after_a_reconnect() {
        let o = Outbox::new(1000);
        let s = Uuid::new_v4();
        for seq in 1..=5 {
            o.frame(frame(s, seq, 1));
        }
        assert_eq!(seqs(&o), vec![1, 2, 3, 4, 5]);
        o.ack(s, 2);
        assert_eq!(o.unacked(), 3);
        o.frame(frame(s, 6, 1));
        o.resend_unacked();
        assert_eq!(o.unacked(), 0);
        assert_eq!(
            seqs(&o),
            vec![3, 4, 5, 6],
            "in order, before anything newer"
        );
        o.ack(s, 6);
        assert_eq!(o.unacked(), 0);
        o.resend_unacked();
        assert!(o.is_empty(), "nothing acknowledged is sent again");
    }

    #[test]
    fn an_ack_forgets_only_its_session_up_to_its_seq() {
        let o = Outbox::new(1000);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        o.frame(frame(a, 1, 1));
        o.frame(frame(b, 1, 1));
        o.frame(frame(a, 2, 1));
        o.frame(Frame {
            kind: FrameKind::Keyframe,
            ..frame(a, 2, 1)
        });
        o.frame(frame(a, 3, 1));
        assert_eq!(seqs(&o).len(), 5);
        o.ack(a, 2);
        o.resend_unacked();
        let left: Vec<(Uuid, u64)> = std::iter::from_fn(|| o.pop())
            .filter_map(|m| match m {
                Out::Frame(f) => Some((f.session_id, f.seq)),
                _ => None,
            })
            .collect();
        assert_eq!(left, vec![(b, 1), (a, 3)]);
    }

    #[test]
    fn unacknowledged_output_counts_against_the_bound() {
        let o = Outbox::new(25);
        let s = Uuid::new_v4();
        o.frame(frame(s, 1, 10));
        o.frame(frame(s, 2, 10));
        assert_eq!(seqs(&o), vec![1, 2]);
        o.frame(frame(s, 3, 10));
        assert_eq!(
            o.take_lost().get(&s),
            Some(&10),
            "the oldest unacknowledged went"
        );
        o.resend_unacked();
        assert_eq!(seqs(&o), vec![2, 3]);
        o.ack(s, 3);
        o.frame(frame(s, 4, 20));
        assert!(
            o.take_lost().is_empty(),
            "acknowledged output frees the bound"
        );
    }

    #[test]
    fn a_frame_that_could_not_be_sent_is_not_kept_twice() {
        let o = Outbox::new(100);
        let s = Uuid::new_v4();
        o.frame(frame(s, 1, 1));
        let f = o.pop().expect("frame");
        o.unpop(f);
        assert_eq!(o.unacked(), 0);
        o.resend_unacked();
        assert_eq!(seqs(&o), vec![1]);
    }
}
