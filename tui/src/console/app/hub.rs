//! What the hub link says, taken into the app: connection changes, snapshots, agent states,
//! session frames and recordings, and the answers to the app's own reads.

use orchestratia_proto::api::RecordingChunk;
use orchestratia_proto::ws::{Frame, HubToConsole};
use uuid::Uuid;

use super::{Action, App, Mode, View};
use crate::console::link::Msg;
use crate::console::screen::SessionScreen;

impl App {
    /// Takes in what the hub link says; returns actions it calls for (a resubscription
    /// after a reconnect).
    pub fn on_msg(&mut self, msg: Msg) -> Vec<Action> {
        match msg.neutralised() {
            Msg::Connected => return self.on_connected(),
            Msg::Disconnected(reason) => {
                self.model.connected = Some(false);
                self.model.hub_error = Some(reason);
            }
            Msg::Replica(r) => self.model.replica = r,
            Msg::Hub(h) => self.on_hub(h),
            Msg::Frame(f) => self.on_frame(&f),
            Msg::Snapshot(s) => {
                self.model.set_snapshot(*s);
                if self.view == View::Sessions && self.focused.is_none() {
                    return self.after_move();
                }
            }
            Msg::Recording(session, chunks) => self.on_recording(session, &chunks),
            Msg::Explanation(e) => {
                if let Mode::Picker(p) = &mut self.mode
                    && p.task == e.task_id
                {
                    p.selected = e.candidates.iter().position(|c| c.winner).unwrap_or(0);
                    p.explanation = Some(*e);
                }
            }
            Msg::TaskView(v) => {
                if self.task_open == Some(v.task.id) {
                    self.task_view = Some(*v);
                }
            }
            Msg::Diff {
                task,
                diff,
                workspace,
            } => self.on_diff(task, diff.map(|d| *d), workspace.map(|w| *w)),
            Msg::Reviewed {
                task,
                said,
                workspace,
            } => self.on_reviewed(task, said, workspace.map(|w| *w)),
            Msg::Error(e) => self.status = Some(format!("error: {e}")),
            Msg::Done(s) => self.status = Some(s),
        }
        Vec::new()
    }

    /// The link is up: after an outage the focused stream resumes from a fresh keyframe.
    fn on_connected(&mut self) -> Vec<Action> {
        let was_down = self.model.connected == Some(false);
        self.model.connected = Some(true);
        self.model.hub_error = None;
        let Some(s) = self.focused.filter(|_| was_down) else {
            return Vec::new();
        };
        let (cols, rows) = self.session_area;
        self.screens.insert(s, SessionScreen::new(rows, cols));
        self.watch(s, None)
    }

    /// The console socket's own messages: screens, agent states, stream trouble, errors.
    fn on_hub(&mut self, h: HubToConsole) {
        match h {
            HubToConsole::SessionScreen {
                session_id, lines, ..
            } => {
                self.model.previews.insert(session_id, lines);
            }
            HubToConsole::SessionState {
                session_id, state, ..
            } => self.model.set_session_state(session_id, state),
            HubToConsole::SessionUnavailable { session_id, reason }
                if self.focused == Some(session_id) =>
            {
                self.status = Some(format!("session stream unavailable: {reason}"));
            }
            HubToConsole::Error { error, detail } => {
                self.status = Some(format!("hub: {error}: {detail}"));
            }
            _ => {}
        }
    }

    fn on_frame(&mut self, f: &Frame) {
        if let Some(s) = self.screens.get_mut(&f.session_id) {
            s.apply(f);
        }
    }

    /// A session's stored recording: the history above a live screen, or an ended session
    /// replayed.
    fn on_recording(&mut self, session: Uuid, chunks: &[RecordingChunk]) {
        let live = self.is_live(session);
        if let Some(sc) = self.screens.get_mut(&session) {
            if live && sc.synced {
                sc.set_history(chunks);
            } else {
                sc.replay(chunks);
            }
        }
    }

    /// The focused session's area changed size: resize its screen and ask the session too.
    pub fn set_session_area(&mut self, cols: u16, rows: u16) -> Vec<Action> {
        if (cols, rows) == self.session_area || cols < 2 || rows < 2 {
            return Vec::new();
        }
        self.session_area = (cols, rows);
        let Some(s) = self.focused else {
            return Vec::new();
        };
        if let Some(sc) = self.screens.get_mut(&s) {
            sc.resize(rows, cols);
        }
        vec![Action::Resize {
            session: s,
            cols,
            rows,
        }]
    }
}
