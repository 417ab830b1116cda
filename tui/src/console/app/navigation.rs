//! Selection and navigation: which row each view has selected, moving it, switching views,
//! focusing (and so watching) a session, opening a task, and scrolling a session's screen.

use orchestratia_proto::SessionStatus;
use uuid::Uuid;

use super::{Action, App, Mode, View};
use crate::console::model::{InboxItem, graph_order};
use crate::console::screen::SessionScreen;

impl App {
    pub(crate) fn sel(&self) -> usize {
        if self.view == View::Sessions {
            return self.session_index();
        }
        self.selected[self.view.index()]
    }

    /// The row of the focused session (the list re-sorts as sessions start and end).
    pub fn session_index(&self) -> usize {
        self.focused
            .and_then(|f| {
                self.model
                    .sessions_in_order()
                    .iter()
                    .position(|s| s.id == f)
            })
            .unwrap_or(self.selected[3])
    }

    pub(crate) fn set_sel(&mut self, i: usize) {
        self.selected[self.view.index()] = i;
    }

    /// How many rows the current view lists (for moving the selection).
    pub(crate) fn rows(&self) -> usize {
        match self.view {
            View::Servers => self.model.snap.servers.len(),
            View::Tasks => self.visible_tasks().len(),
            View::Graph => self.model.snap.graph.as_ref().map_or(0, |g| g.nodes.len()),
            View::Sessions => self.model.snap.sessions.len(),
            View::Inbox => self.model.inbox_len(),
        }
    }

    /// Tasks after the status filter, newest number last.
    pub fn visible_tasks(&self) -> Vec<&orchestratia_proto::Task> {
        let mut t: Vec<_> = self
            .model
            .snap
            .tasks
            .iter()
            .filter(|t| match self.filter.as_deref() {
                None | Some("") => true,
                Some("blocked") => t.blocked,
                Some(f) => t.status.as_str() == f,
            })
            .collect();
        t.sort_by_key(|t| (t.project_id, t.number));
        t
    }

    /// The task selected in the Tasks or Graph view.
    pub(crate) fn selected_task(&self) -> Option<Uuid> {
        match self.view {
            View::Tasks => self.visible_tasks().get(self.sel()).map(|t| t.id),
            View::Graph => self
                .model
                .snap
                .graph
                .as_ref()
                .and_then(|g| graph_order(g).get(self.sel()).map(|n| n.id)),
            _ => None,
        }
    }

    /// The selected Inbox item.
    pub fn selected_inbox(&self) -> Option<InboxItem> {
        self.model
            .inbox()
            .into_iter()
            .nth(self.selected[4])
            .map(|e| e.item)
    }

    pub(crate) fn switch(&mut self, v: View) -> Vec<Action> {
        self.view = v;
        self.task_open = None;
        self.task_view = None;
        self.diff = None;
        if v == View::Sessions {
            return self.after_move();
        }
        Vec::new()
    }

    pub(crate) fn move_by(&mut self, d: i64) -> Vec<Action> {
        let n = self.rows();
        if n == 0 {
            return Vec::new();
        }
        let i = (self.sel() as i64 + d).clamp(0, n as i64 - 1) as usize;
        self.set_sel(i);
        self.after_move()
    }

    /// In the Sessions view the selection is the focus: watch the newly selected session.
    pub(crate) fn after_move(&mut self) -> Vec<Action> {
        if self.view != View::Sessions {
            return Vec::new();
        }
        // The row just chosen (not the focused one's, which `sel` gives).
        let Some((s, ended)) = self
            .model
            .sessions_in_order()
            .get(self.selected[3])
            .map(|s| (s.id, s.status == SessionStatus::Ended))
        else {
            return Vec::new();
        };
        if self.focused == Some(s) {
            return Vec::new();
        }
        let previous = self.focused.replace(s);
        let (cols, rows) = self.session_area;
        self.screens.insert(s, SessionScreen::new(rows, cols));
        if let Some(p) = previous {
            self.screens.remove(&p);
        }
        if ended {
            // Nothing streams from an ended session: replay its stored recording.
            return vec![Action::Replay {
                session: s,
                previous,
            }];
        }
        self.watch(s, previous)
    }

    /// Streams `session` (dropping `previous`) at the size of the session area.
    pub(crate) fn watch(&self, session: Uuid, previous: Option<Uuid>) -> Vec<Action> {
        let (cols, rows) = self.session_area;
        vec![
            Action::Watch { session, previous },
            Action::Resize {
                session,
                cols,
                rows,
            },
        ]
    }

    /// Whether `session` is known and has not ended.
    pub(crate) fn is_live(&self, session: Uuid) -> bool {
        self.model
            .snap
            .sessions
            .iter()
            .any(|s| s.id == session && s.status != SessionStatus::Ended)
    }

    /// Opens a task's detail in the Tasks view.
    pub(crate) fn open_task(&mut self, task: Uuid) -> Vec<Action> {
        self.view = View::Tasks;
        self.task_open = Some(task);
        self.detail_scroll = 0;
        vec![Action::OpenTask { task }]
    }

    /// Enter: opens the selected task (Tasks, Graph) or the selected item's task (Inbox), or
    /// attaches to the focused session (Sessions).
    pub(crate) fn on_enter(&mut self) -> Vec<Action> {
        let task = match self.view {
            View::Tasks | View::Graph => self.selected_task(),
            View::Inbox => self.selected_inbox().and_then(|i| i.task_id()),
            View::Sessions => return self.attach(),
            View::Servers => None,
        };
        match task {
            Some(t) => self.open_task(t),
            None => Vec::new(),
        }
    }

    /// Enter in Sessions: keys go to the focused session, if it is live.
    fn attach(&mut self) -> Vec<Action> {
        let live = self
            .focused
            .and_then(|f| self.model.snap.sessions.iter().find(|s| s.id == f))
            .is_some_and(|s| s.status != SessionStatus::Ended);
        if live {
            self.mode = Mode::Attached;
            self.status = Some("attached: keys go to the session; Ctrl-] detaches".into());
        } else {
            self.status = Some("this session has ended: nothing to type into".into());
        }
        Vec::new()
    }

    /// Scrolls the open task's detail by `d` lines (up when negative).
    pub(crate) fn scroll_task(&mut self, d: i32) -> Vec<Action> {
        self.detail_scroll = (i32::from(self.detail_scroll) + d).clamp(0, 10_000) as u16;
        Vec::new()
    }

    pub(crate) fn scroll(&mut self, up: bool) -> Vec<Action> {
        let rows = self.session_area.1.max(2) as usize / 2;
        self.scroll_lines(up, rows)
    }

    /// Scrolls the focused session; the first scroll back into a live session asks for its
    /// stored recording, so the whole history can be read, not only what streamed since.
    pub(crate) fn scroll_lines(&mut self, up: bool, rows: usize) -> Vec<Action> {
        let Some(session) = self.focused else {
            return Vec::new();
        };
        let live = self.is_live(session);
        let Some(s) = self.screens.get_mut(&session) else {
            return Vec::new();
        };
        let now = s.scrollback();
        let next = if up {
            now + rows
        } else {
            now.saturating_sub(rows)
        };
        s.scroll_to(next);
        if live && up && !s.history_requested {
            s.history_requested = true;
            return vec![Action::History { session }];
        }
        Vec::new()
    }
}
