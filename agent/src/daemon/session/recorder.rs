//! A session's recording: the terminal's bytes go to the hub as numbered output chunks, and a
//! vt100 parser follows the same bytes for screen snapshots (sent when the screen changed) and
//! keyframes (on request, and every MiB so a stored recording can be cut at one). After a
//! reattach the output is held until the hub says where numbering continues.

use std::sync::Arc;

use orchestratia_proto::ws::{DaemonToHub, Frame, FrameKind};
use uuid::Uuid;

use super::files::State;
use super::{COLS, ROWS};
use crate::daemon::outbox::Outbox;

/// A keyframe goes into the recording after this much output.
const KEYFRAME_EVERY: usize = 1024 * 1024;

/// The numbered output of one session and the screen it draws.
pub struct Recorder {
    outbox: Arc<Outbox>,
    session_id: Uuid,
    parser: vt100::Parser,
    /// The last chunk number used.
    seq: u64,
    cols: u16,
    rows: u16,
    /// Output held back until the hub says where numbering continues (after a reattach).
    held: Option<Vec<Vec<u8>>>,
    since_keyframe: usize,
    last_screen: Vec<String>,
}

impl Recorder {
    /// A recorder that continues `state`'s numbering and screen; `hold`: output waits for the
    /// hub's `resume`.
    pub fn new(outbox: Arc<Outbox>, state: &State, hold: bool) -> Recorder {
        Recorder {
            outbox,
            session_id: state.session_id,
            parser: vt100::Parser::new(ROWS, COLS, 0),
            seq: state.seq,
            cols: COLS,
            rows: ROWS,
            held: hold.then(Vec::new),
            since_keyframe: 0,
            last_screen: state.screen.clone(),
        }
    }

    /// The terminal's size as the recording knows it.
    pub fn size(&self) -> (u16, u16) {
        (self.cols, self.rows)
    }

    /// Output is held until the hub's `resume`.
    pub fn holding(&self) -> bool {
        self.held.is_some()
    }

    /// Bytes from the terminal: recorded, or held.
    pub fn output(&mut self, bytes: Vec<u8>) {
        match self.held.as_mut() {
            Some(held) => held.push(bytes),
            None => self.emit_output(bytes),
        }
    }

    fn emit_output(&mut self, bytes: Vec<u8>) {
        self.seq += 1;
        self.parser.process(&bytes);
        self.since_keyframe += bytes.len();
        self.outbox.frame(Frame {
            kind: FrameKind::Output,
            session_id: self.session_id,
            seq: self.seq,
            data: bytes,
        });
        if self.since_keyframe >= KEYFRAME_EVERY {
            self.keyframe();
        }
    }

    fn keyframe(&mut self) {
        self.since_keyframe = 0;
        self.outbox.frame(Frame {
            kind: FrameKind::Keyframe,
            session_id: self.session_id,
            seq: self.seq,
            data: self.parser.screen().state_formatted(),
        });
    }

    /// A keyframe the hub asked for (none while output is held).
    pub fn keyframe_requested(&mut self) {
        if self.held.is_none() {
            self.keyframe();
        }
    }

    /// The rendered screen, a line a row.
    pub fn screen_lines(&self) -> Vec<String> {
        self.parser
            .screen()
            .rows(0, self.cols)
            .map(|r| r.trim_end().to_string())
            .collect()
    }

    /// Records the held output, if any, and a keyframe after it.
    pub fn release_held(&mut self) {
        if let Some(held) = self.held.take() {
            for b in held {
                self.emit_output(b);
            }
            // Whatever the reattached client drew, the screen now starts a clean replay.
            self.keyframe();
        }
    }

    /// The hub's `resume`: numbering continues after its last stored chunk.
    pub fn resume(&mut self, last_seq: u64) {
        self.seq = self.seq.max(last_seq);
        self.release_held();
    }

    /// The terminal was resized.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.cols = cols;
        self.rows = rows;
        self.parser.screen_mut().set_size(rows, cols);
    }

    /// A new terminal (the agent was started again): the screen starts blank.
    pub fn restart_screen(&mut self) {
        self.parser = vt100::Parser::new(self.rows, self.cols, 0);
    }

    /// Sends the screen if it changed since it was last sent; false (nothing done) while the
    /// output is held.
    pub fn send_screen(&mut self) -> bool {
        if self.held.is_some() {
            return false;
        }
        let lines = self.screen_lines();
        if lines != self.last_screen {
            self.outbox.control(DaemonToHub::SessionScreen {
                session_id: self.session_id,
                lines: lines.clone(),
                cols: self.cols,
                rows: self.rows,
            });
            self.last_screen = lines;
        }
        true
    }

    /// Puts the numbering and the last screen sent into `state` (to be saved).
    pub fn save_to(&self, state: &mut State) {
        state.seq = self.seq;
        state.screen = self.last_screen.clone();
    }
}
