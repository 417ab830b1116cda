//! A session's terminal as the console draws it: a vt100 parser fed by a keyframe and then
//! the numbered output chunks after it. A chunk from before the keyframe, or one seen already,
//! is skipped, so a resubscription (after a reconnect) starts clean and repeats nothing. An
//! ended session is drawn from its stored recording instead, its whole history scrollable.

use orchestratia_proto::api::RecordingChunk;
use orchestratia_proto::ws::{Frame, FrameKind};

/// Scrollback lines kept for PgUp/PgDn.
const SCROLLBACK: usize = 5_000;

/// One session's screen.
pub struct SessionScreen {
    pub parser: vt100::Parser,
    /// The last output chunk applied (the keyframe's when it came last).
    pub last_seq: u64,
    /// Whether a keyframe arrived: until then the screen is not trustworthy.
    pub synced: bool,
    /// While a live session is scrolled back: its stored recording, replayed (the whole
    /// history, not only what streamed since the console focused it).
    pub history: Option<vt100::Parser>,
    /// The stored recording was asked for.
    pub history_requested: bool,
    /// How far back the user asked to scroll (the live screen may hold less).
    wanted: usize,
}

impl SessionScreen {
    /// An empty screen of this size.
    pub fn new(rows: u16, cols: u16) -> SessionScreen {
        SessionScreen {
            parser: vt100::Parser::new(rows.max(1), cols.max(1), SCROLLBACK),
            last_seq: 0,
            synced: false,
            history: None,
            history_requested: false,
            wanted: 0,
        }
    }

    /// The screen to draw: the history while scrolled back into it, else the live one.
    pub fn view(&self) -> &vt100::Screen {
        match &self.history {
            Some(h) => h.screen(),
            None => self.parser.screen(),
        }
    }

    /// Takes a live session's stored recording as the history to scroll through, at the
    /// offset already scrolled to.
    pub fn set_history(&mut self, chunks: &[RecordingChunk]) {
        let at = self.wanted;
        if at == 0 {
            return;
        }
        let (mut h, _) = self.replayed(chunks);
        h.screen_mut().set_scrollback(at);
        self.history = Some(h);
    }

    /// Applies a frame of this session; returns whether the screen changed.
    pub fn apply(&mut self, f: &Frame) -> bool {
        match f.kind {
            FrameKind::Keyframe => {
                let (rows, cols) = self.parser.screen().size();
                self.parser = vt100::Parser::new(rows, cols, SCROLLBACK);
                self.parser.process(&f.data);
                self.last_seq = f.seq;
                self.synced = true;
                true
            }
            FrameKind::Output if self.synced && f.seq > self.last_seq => {
                self.parser.process(&f.data);
                self.last_seq = f.seq;
                true
            }
            _ => false,
        }
    }

    /// Replays a stored recording (in replay order: the first chunk is output 1 or, when the
    /// recording was trimmed, a keyframe; later keyframes repeat what the output drew).
    /// The whole history lands in the scrollback.
    pub fn replay(&mut self, chunks: &[RecordingChunk]) {
        let (parser, last_seq) = self.replayed(chunks);
        self.parser = parser;
        self.last_seq = last_seq;
        self.synced = true;
    }

    /// A new parser of this screen's size fed a recording, and its last chunk's number.
    fn replayed(&self, chunks: &[RecordingChunk]) -> (vt100::Parser, u64) {
        let (rows, cols) = self.parser.screen().size();
        let mut parser = vt100::Parser::new(rows, cols, SCROLLBACK);
        let mut last_seq = 0;
        for c in RecordingChunk::to_replay(chunks) {
            parser.process(&c.bytes());
            last_seq = c.seq;
        }
        (parser, last_seq)
    }

    /// Resizes the screen (the session is asked to resize too, and sends a keyframe).
    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.parser.screen_mut().set_size(rows.max(1), cols.max(1));
        if let Some(h) = self.history.as_mut() {
            h.screen_mut().set_size(rows.max(1), cols.max(1));
        }
    }

    /// Scrolls back `lines` from the bottom (0: live again).
    pub fn scroll_to(&mut self, lines: usize) {
        match self.history.as_mut() {
            Some(_) if lines == 0 => {
                self.history = None;
                self.history_requested = false;
                self.parser.screen_mut().set_scrollback(0);
            }
            Some(h) => h.screen_mut().set_scrollback(lines),
            None => {
                self.wanted = lines;
                self.parser.screen_mut().set_scrollback(lines);
            }
        }
    }

    /// How far back the view is scrolled.
    pub fn scrollback(&self) -> usize {
        self.view().scrollback()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn frame(kind: FrameKind, seq: u64, data: &str) -> Frame {
        Frame {
            kind,
            session_id: Uuid::nil(),
            seq,
            data: data.as_bytes().to_vec(),
        }
    }

    fn row(s: &SessionScreen, r: u16) -> String {
        s.parser
            .screen()
            .rows(0, 20)
            .nth(r as usize)
            .unwrap_or_default()
    }

    #[test]
    fn output_before_a_keyframe_is_ignored_and_duplicates_are_skipped() {
        let mut s = SessionScreen::new(4, 20);
        assert!(!s.apply(&frame(FrameKind::Output, 1, "early")));
        assert!(s.apply(&frame(FrameKind::Keyframe, 1, "\x1b[H\x1b[2Jhello")));
        assert!(s.apply(&frame(FrameKind::Output, 2, " world")));
        assert!(!s.apply(&frame(FrameKind::Output, 2, " again")));
        assert_eq!(row(&s, 0), "hello world");
        // A new keyframe replaces the screen whole.
        assert!(s.apply(&frame(FrameKind::Keyframe, 2, "\x1b[H\x1b[2Jfresh")));
        assert_eq!(row(&s, 0), "fresh");
    }

    #[test]
    fn a_recording_replays_with_its_history_in_the_scrollback() {
        use base64::Engine;
        let enc = |d: &str| base64::engine::general_purpose::STANDARD.encode(d);
        let chunk = |seq, keyframe, d: &str| orchestratia_proto::api::RecordingChunk {
            seq,
            keyframe,
            data: enc(d),
            at: 0,
        };
        let mut s = SessionScreen::new(2, 20);
        let lines: String = (1..=5).map(|i| format!("line {i}\r\n")).collect();
        s.replay(&[
            chunk(1, false, &lines),
            chunk(1, true, "\x1b[H\x1b[2Jkeyframe"),
            chunk(2, false, "end"),
        ]);
        assert!(s.synced);
        assert_eq!(s.last_seq, 2);
        assert_eq!(row(&s, 1), "end");
        s.scroll_to(3);
        assert_eq!(row(&s, 0), "line 2", "the history scrolls back");
    }
}
