//! The console's one App: which view is shown, what is selected, the open prompt, and how
//! each key becomes an `Action`. It does no I/O: the runtime (`mod.rs`) carries the actions
//! out and feeds back what the hub says, so keys and drawing are tested without a hub.

use std::collections::HashMap;

use orchestratia_proto::ws::{Frame, HubToConsole};
use orchestratia_proto::{SessionState, SessionStatus, TaskView};
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use uuid::Uuid;

use super::forms::{AssignPicker, Outcome, TaskForm};
use super::link::Msg;
use super::model::{InboxItem, Model, graph_order};
use super::screen::SessionScreen;

/// The views, in tab order (number keys 1–5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Servers,
    Tasks,
    Graph,
    Sessions,
    Inbox,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Servers,
        View::Tasks,
        View::Graph,
        View::Sessions,
        View::Inbox,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Servers => "Servers",
            View::Tasks => "Tasks",
            View::Graph => "Graph",
            View::Sessions => "Sessions",
            View::Inbox => "Inbox",
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// What the app asks the runtime to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Quit,
    ApprovePlan {
        task: Uuid,
    },
    RejectPlan {
        task: Uuid,
        feedback: String,
    },
    Allow {
        id: Uuid,
    },
    Deny {
        id: Uuid,
    },
    Answer {
        id: Uuid,
        text: String,
    },
    /// Read a task's full view (spec, dependencies, inputs, contracts, timeline).
    OpenTask {
        task: Uuid,
    },
    /// Stream this session (and stop streaming the previous one).
    Watch {
        session: Uuid,
        previous: Option<Uuid>,
    },
    /// Draw an ended session from its stored recording (and stop streaming the previous one).
    Replay {
        session: Uuid,
        previous: Option<Uuid>,
    },
    /// Read a live session's stored recording, to scroll back through all of it.
    History {
        session: Uuid,
    },
    Input {
        session: Uuid,
        bytes: Vec<u8>,
    },
    CreateTask(Box<orchestratia_proto::api::CreateTask>),
    /// Read the hub's ranking of servers for a task (the assign picker shows it).
    Explain {
        task: Uuid,
    },
    Assign {
        task: Uuid,
        server: String,
    },
    Resize {
        session: Uuid,
        cols: u16,
        rows: u16,
    },
    /// A follow-up message for an idle agent, submitted as its next prompt.
    SendMessage {
        session: Uuid,
        name: String,
        text: String,
    },
}

/// What a prompt at the bottom of the screen is for.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptKind {
    RejectPlan {
        task: Uuid,
        reference: String,
    },
    Answer {
        id: Uuid,
        question: String,
    },
    /// A message for a session's idle agent.
    Message {
        session: Uuid,
        name: String,
    },
    Filter,
}

/// A one-line text prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
}

/// The console.
pub struct App {
    pub model: Model,
    pub view: View,
    /// The selected row of each view.
    pub selected: [usize; 5],
    /// The task opened with Enter (Tasks view), once read.
    pub task_open: Option<Uuid>,
    pub task_view: Option<TaskView>,
    /// How far the open task's detail is scrolled down (lines).
    pub detail_scroll: u16,
    /// Tasks view: show only this status (`blocked` for blocked pending tasks).
    pub filter: Option<String>,
    /// The session shown large in the Sessions view.
    pub focused: Option<Uuid>,
    pub screens: HashMap<Uuid, SessionScreen>,
    /// Keys go to the focused session (Ctrl-] detaches).
    pub attached: bool,
    pub prompt: Option<Prompt>,
    /// `c`: the create-task form.
    pub form: Option<TaskForm>,
    /// `A`: the assign picker.
    pub picker: Option<AssignPicker>,
    pub help: bool,
    /// The last outcome or error, shown above the footer.
    pub status: Option<String>,
    /// The time views measure ages against (ms); the runtime sets it, tests fix it.
    pub now: i64,
    /// Colours on (off with NO_COLOR).
    pub color: bool,
    /// The size of the focused session's area, as last drawn (cols, rows).
    pub session_area: (u16, u16),
    /// The focused session's area as just drawn; the runtime turns a change into a resize.
    pub pending_area: Option<(u16, u16)>,
    pub quit: bool,
}

impl App {
    pub fn new(color: bool) -> App {
        App {
            model: Model::default(),
            view: View::Graph,
            selected: [0; 5],
            task_open: None,
            task_view: None,
            detail_scroll: 0,
            filter: None,
            focused: None,
            screens: HashMap::new(),
            attached: false,
            prompt: None,
            form: None,
            picker: None,
            help: false,
            status: None,
            now: 0,
            color,
            session_area: (80, 20),
            pending_area: None,
            quit: false,
        }
    }

    fn sel(&self) -> usize {
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

    fn set_sel(&mut self, i: usize) {
        self.selected[self.view.index()] = i;
    }

    /// How many rows the current view lists (for moving the selection).
    fn rows(&self) -> usize {
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
    fn selected_task(&self) -> Option<Uuid> {
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
        self.model.inbox().into_iter().nth(self.selected[4])
    }

    /// The inbox item a decision key acts on: the selected one in the Inbox, or the first one
    /// of the open task elsewhere.
    fn decision_target(&self) -> Option<InboxItem> {
        if self.view == View::Inbox {
            return self.selected_inbox();
        }
        let task = self.task_open.or_else(|| match self.view {
            View::Tasks => self.visible_tasks().get(self.sel()).map(|t| t.id),
            View::Sessions => self
                .model
                .sessions_in_order()
                .get(self.sel())
                .and_then(|s| s.task_id),
            _ => None,
        })?;
        self.model
            .inbox()
            .into_iter()
            .find(|i| i.task_id() == Some(task))
    }

    /// Handles one key.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Action> {
        if let Some(form) = self.form.as_mut() {
            let outcome = form.on_key(key);
            return self.after_dialog(outcome, |app| app.form = None);
        }
        if let Some(picker) = self.picker.as_mut() {
            let outcome = picker.on_key(key);
            return self.after_dialog(outcome, |app| app.picker = None);
        }
        if self.prompt.is_some() {
            return self.on_prompt_key(key);
        }
        if self.attached {
            return self.on_attached_key(key);
        }
        if self.help {
            if matches!(
                key.code,
                KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q')
            ) {
                self.help = false;
            }
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => {
                self.quit = true;
                vec![Action::Quit]
            }
            KeyCode::Char('q') => {
                self.quit = true;
                vec![Action::Quit]
            }
            KeyCode::Char('?') => {
                self.help = true;
                Vec::new()
            }
            KeyCode::Char(c @ '1'..='5') => {
                let i = (c as usize) - ('1' as usize);
                self.switch(View::ALL[i])
            }
            KeyCode::Tab => self.switch(View::ALL[(self.view.index() + 1) % 5]),
            KeyCode::BackTab => self.switch(View::ALL[(self.view.index() + 4) % 5]),
            KeyCode::Esc => {
                self.task_open = None;
                self.task_view = None;
                self.status = None;
                Vec::new()
            }
            KeyCode::Down
            | KeyCode::Char('j')
            | KeyCode::PageDown
            | KeyCode::PageUp
            | KeyCode::Up
            | KeyCode::Char('k')
                if self.task_open.is_some() =>
            {
                let d: i32 = match key.code {
                    KeyCode::PageDown => 10,
                    KeyCode::PageUp => -10,
                    KeyCode::Down | KeyCode::Char('j') => 1,
                    _ => -1,
                };
                self.detail_scroll = (i32::from(self.detail_scroll) + d).clamp(0, 10_000) as u16;
                Vec::new()
            }
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Home | KeyCode::Char('g') => {
                self.set_sel(0);
                self.after_move()
            }
            KeyCode::End | KeyCode::Char('G') => {
                self.set_sel(self.rows().saturating_sub(1));
                self.after_move()
            }
            KeyCode::Enter => self.on_enter(),
            KeyCode::Char('/') if self.view == View::Tasks => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Filter,
                    text: self.filter.clone().unwrap_or_default(),
                });
                Vec::new()
            }
            KeyCode::PageUp | KeyCode::PageDown if self.view == View::Sessions => {
                self.scroll(key.code == KeyCode::PageUp)
            }
            KeyCode::Char(c @ ('a' | 'r' | 'y' | 'n' | 'i')) => self.decide(c),
            KeyCode::Char('m') if self.view == View::Sessions => self.message_prompt(),
            KeyCode::Char('c') => {
                let project = self.model.snap.graph.as_ref().map(|g| g.project.clone());
                self.form = Some(TaskForm::new(project));
                Vec::new()
            }
            KeyCode::Char('A') => {
                let Some(task) = self.task_open.or_else(|| self.selected_task()) else {
                    self.status = Some("select a task to assign (Tasks or Graph view)".into());
                    return Vec::new();
                };
                let reference = self
                    .model
                    .task(task)
                    .map(|t| t.reference.clone())
                    .unwrap_or_default();
                self.picker = Some(AssignPicker::new(task, reference));
                vec![Action::Explain { task }]
            }
            _ => Vec::new(),
        }
    }

    /// What a dialog's key came to: a reason in the status line, or the dialog closed
    /// (with its action, when it was done).
    fn after_dialog(&mut self, outcome: Outcome, close: impl FnOnce(&mut App)) -> Vec<Action> {
        match outcome {
            Outcome::Open => {
                self.status = None;
                Vec::new()
            }
            Outcome::Invalid(why) => {
                self.status = Some(why);
                Vec::new()
            }
            Outcome::Cancel => {
                close(self);
                Vec::new()
            }
            Outcome::Done(action) => {
                close(self);
                vec![action]
            }
        }
    }

    fn switch(&mut self, v: View) -> Vec<Action> {
        self.view = v;
        self.task_open = None;
        self.task_view = None;
        if v == View::Sessions {
            return self.after_move();
        }
        Vec::new()
    }

    fn move_by(&mut self, d: i64) -> Vec<Action> {
        let n = self.rows();
        if n == 0 {
            return Vec::new();
        }
        let i = (self.sel() as i64 + d).clamp(0, n as i64 - 1) as usize;
        self.set_sel(i);
        self.after_move()
    }

    /// In the Sessions view the selection is the focus: watch the newly selected session.
    fn after_move(&mut self) -> Vec<Action> {
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
        vec![
            Action::Watch {
                session: s,
                previous,
            },
            Action::Resize {
                session: s,
                cols,
                rows,
            },
        ]
    }

    /// Opens a task's detail in the Tasks view.
    fn open_task(&mut self, task: Uuid) -> Vec<Action> {
        self.view = View::Tasks;
        self.task_open = Some(task);
        self.detail_scroll = 0;
        vec![Action::OpenTask { task }]
    }

    fn on_enter(&mut self) -> Vec<Action> {
        match self.view {
            View::Tasks => {
                let Some(t) = self.visible_tasks().get(self.sel()).map(|t| t.id) else {
                    return Vec::new();
                };
                self.open_task(t)
            }
            View::Graph => {
                let Some(id) = self
                    .model
                    .snap
                    .graph
                    .as_ref()
                    .and_then(|g| graph_order(g).get(self.sel()).map(|n| n.id))
                else {
                    return Vec::new();
                };
                self.open_task(id)
            }
            View::Inbox => {
                let Some(t) = self.selected_inbox().and_then(|i| i.task_id()) else {
                    return Vec::new();
                };
                self.open_task(t)
            }
            View::Sessions => {
                let live = self
                    .focused
                    .and_then(|f| self.model.snap.sessions.iter().find(|s| s.id == f))
                    .is_some_and(|s| s.status != SessionStatus::Ended);
                if live {
                    self.attached = true;
                    self.status = Some("attached: keys go to the session; Ctrl-] detaches".into());
                } else {
                    self.status = Some("this session has ended: nothing to type into".into());
                }
                Vec::new()
            }
            View::Servers => Vec::new(),
        }
    }

    /// Handles the mouse: a click on a tab switches to it, a click on a row selects it, the
    /// wheel scrolls a session's screen or a task's detail, or moves the selection.
    pub fn on_mouse(&mut self, m: MouseEvent) -> Vec<Action> {
        if self.prompt.is_some() || self.form.is_some() || self.picker.is_some() || self.help {
            return Vec::new();
        }
        let up = matches!(m.kind, MouseEventKind::ScrollUp);
        match m.kind {
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                if self.view == View::Sessions {
                    self.scroll_lines(up, 3)
                } else if self.task_open.is_some() {
                    let d: i32 = if up { -3 } else { 3 };
                    self.detail_scroll =
                        (i32::from(self.detail_scroll) + d).clamp(0, 10_000) as u16;
                    Vec::new()
                } else {
                    self.move_by(if up { -1 } else { 1 })
                }
            }
            MouseEventKind::Down(MouseButton::Left) if !self.attached => {
                if m.row == 0 {
                    let mut x = 0u16;
                    for (v, label) in View::ALL.iter().zip(super::views::tab_labels(self)) {
                        let w = label.chars().count() as u16;
                        if m.column >= x && m.column < x + w {
                            return self.switch(*v);
                        }
                        x += w;
                    }
                    return Vec::new();
                }
                // Rows of the tables start under the tab bar, the banner, the title and the
                // header line.
                let banner = u16::from(self.model.connected == Some(false));
                let first = 3 + banner;
                let list_view = matches!(self.view, View::Servers | View::Inbox | View::Sessions)
                    || (self.view == View::Tasks && self.task_open.is_none());
                if !list_view || m.row < first {
                    return Vec::new();
                }
                if self.view == View::Sessions && m.column >= 26 {
                    return Vec::new();
                }
                let i = (m.row - first) as usize;
                if i >= self.rows() {
                    return Vec::new();
                }
                self.selected[self.view.index()] = i;
                self.after_move()
            }
            _ => Vec::new(),
        }
    }

    fn scroll(&mut self, up: bool) -> Vec<Action> {
        let rows = self.session_area.1.max(2) as usize / 2;
        self.scroll_lines(up, rows)
    }

    /// Scrolls the focused session; the first scroll back into a live session asks for its
    /// stored recording, so the whole history can be read, not only what streamed since.
    fn scroll_lines(&mut self, up: bool, rows: usize) -> Vec<Action> {
        let Some(session) = self.focused else {
            return Vec::new();
        };
        let live = self
            .model
            .snap
            .sessions
            .iter()
            .any(|s| s.id == session && s.status != SessionStatus::Ended);
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

    fn decide(&mut self, key: char) -> Vec<Action> {
        let Some(item) = self.decision_target() else {
            self.status = Some("nothing waits for a decision here".into());
            return Vec::new();
        };
        match (key, item) {
            ('a', InboxItem::Plan(p)) => vec![Action::ApprovePlan { task: p.task_id }],
            ('r', InboxItem::Plan(p)) => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::RejectPlan {
                        task: p.task_id,
                        reference: p.task_reference,
                    },
                    text: String::new(),
                });
                Vec::new()
            }
            ('y', InboxItem::Permission(p)) => vec![Action::Allow { id: p.id }],
            ('n', InboxItem::Permission(p)) => vec![Action::Deny { id: p.id }],
            ('i', InboxItem::Intervention(i)) => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Answer {
                        id: i.id,
                        question: i.question,
                    },
                    text: String::new(),
                });
                Vec::new()
            }
            (_, item) => {
                let hint = match item {
                    InboxItem::Plan(_) => "a plan: `a` approves, `r` rejects",
                    InboxItem::Permission(_) => "a permission: `y` allows, `n` denies",
                    InboxItem::Intervention(_) => "a question: `i` answers",
                };
                self.status = Some(hint.into());
                Vec::new()
            }
        }
    }

    /// `m` in Sessions: a message for the focused session's agent, which must be idle.
    fn message_prompt(&mut self) -> Vec<Action> {
        let Some(s) = self
            .focused
            .and_then(|id| self.model.snap.sessions.iter().find(|s| s.id == id))
        else {
            self.status = Some("focus a session first (j/k)".into());
            return Vec::new();
        };
        if s.state != SessionState::Idle {
            self.status = Some(format!(
                "{} is {}: a message goes to an idle agent",
                s.name, s.state
            ));
            return Vec::new();
        }
        self.prompt = Some(Prompt {
            kind: PromptKind::Message {
                session: s.id,
                name: s.name.clone(),
            },
            text: String::new(),
        });
        Vec::new()
    }

    fn on_prompt_key(&mut self, key: KeyEvent) -> Vec<Action> {
        let Some(p) = self.prompt.as_mut() else {
            return Vec::new();
        };
        match key.code {
            KeyCode::Esc => {
                self.prompt = None;
                Vec::new()
            }
            KeyCode::Backspace => {
                p.text.pop();
                Vec::new()
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                p.text.clear();
                Vec::new()
            }
            KeyCode::Char(c) => {
                p.text.push(c);
                Vec::new()
            }
            KeyCode::Enter => {
                let Some(p) = self.prompt.take() else {
                    return Vec::new();
                };
                let text = p.text.trim().to_string();
                match p.kind {
                    PromptKind::Filter => {
                        self.filter = (!text.is_empty()).then_some(text);
                        self.set_sel(0);
                        Vec::new()
                    }
                    _ if text.is_empty() => {
                        self.status = Some("empty: nothing sent (Esc cancels)".into());
                        self.prompt = Some(p);
                        Vec::new()
                    }
                    PromptKind::RejectPlan { task, .. } => vec![Action::RejectPlan {
                        task,
                        feedback: text,
                    }],
                    PromptKind::Answer { id, .. } => vec![Action::Answer { id, text }],
                    PromptKind::Message { session, name } => {
                        self.status = Some(format!("sending to {name}…"));
                        vec![Action::SendMessage {
                            session,
                            name,
                            text,
                        }]
                    }
                }
            }
            _ => Vec::new(),
        }
    }

    fn on_attached_key(&mut self, key: KeyEvent) -> Vec<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char(']') | KeyCode::Char('5')) {
            self.attached = false;
            self.status = Some("detached".into());
            return Vec::new();
        }
        let Some(session) = self.focused else {
            self.attached = false;
            return Vec::new();
        };
        match key_bytes(key) {
            Some(bytes) => vec![Action::Input { session, bytes }],
            None => Vec::new(),
        }
    }

    /// Takes in what the hub link says; returns actions it calls for (a resubscription
    /// after a reconnect).
    pub fn on_msg(&mut self, msg: Msg) -> Vec<Action> {
        match msg.neutralised() {
            Msg::Connected => {
                let was_down = self.model.connected == Some(false);
                self.model.connected = Some(true);
                self.model.hub_error = None;
                if was_down && let Some(s) = self.focused {
                    // Resume the stream from a fresh keyframe.
                    let (cols, rows) = self.session_area;
                    self.screens.insert(s, SessionScreen::new(rows, cols));
                    return vec![
                        Action::Watch {
                            session: s,
                            previous: None,
                        },
                        Action::Resize {
                            session: s,
                            cols,
                            rows,
                        },
                    ];
                }
            }
            Msg::Disconnected(reason) => {
                self.model.connected = Some(false);
                self.model.hub_error = Some(reason);
            }
            Msg::Hub(HubToConsole::SessionScreen {
                session_id, lines, ..
            }) => {
                self.model.previews.insert(session_id, lines);
            }
            Msg::Hub(HubToConsole::SessionState {
                session_id, state, ..
            }) => self.model.set_session_state(session_id, state),
            Msg::Hub(HubToConsole::SessionUnavailable { session_id, reason }) => {
                if self.focused == Some(session_id) {
                    self.status = Some(format!("session stream unavailable: {reason}"));
                }
            }
            Msg::Hub(HubToConsole::Error { error, detail }) => {
                self.status = Some(format!("hub: {error}: {detail}"));
            }
            Msg::Hub(_) => {}
            Msg::Frame(f) => self.on_frame(&f),
            Msg::Snapshot(s) => {
                self.model.set_snapshot(*s);
                if self.view == View::Sessions && self.focused.is_none() {
                    return self.after_move();
                }
            }
            Msg::Recording(session, chunks) => {
                let live = self
                    .model
                    .snap
                    .sessions
                    .iter()
                    .any(|s| s.id == session && s.status != SessionStatus::Ended);
                if let Some(sc) = self.screens.get_mut(&session) {
                    if live && sc.synced {
                        sc.set_history(&chunks);
                    } else {
                        sc.replay(&chunks);
                    }
                }
            }
            Msg::Explanation(e) => {
                if let Some(p) = self.picker.as_mut().filter(|p| p.task == e.task_id) {
                    p.selected = e.candidates.iter().position(|c| c.winner).unwrap_or(0);
                    p.explanation = Some(*e);
                }
            }
            Msg::TaskView(v) => {
                if self.task_open == Some(v.task.id) {
                    self.task_view = Some(*v);
                }
            }
            Msg::Error(e) => self.status = Some(format!("error: {e}")),
            Msg::Done(s) => self.status = Some(s),
        }
        Vec::new()
    }

    fn on_frame(&mut self, f: &Frame) {
        if let Some(s) = self.screens.get_mut(&f.session_id) {
            s.apply(f);
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

/// The bytes a terminal sends for a key.
pub fn key_bytes(key: KeyEvent) -> Option<Vec<u8>> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char(c) if ctrl && c.is_ascii_alphabetic() => {
            vec![(c.to_ascii_lowercase() as u8) & 0x1f]
        }
        KeyCode::Char(c) => c.to_string().into_bytes(),
        KeyCode::Enter => vec![b'\r'],
        KeyCode::Backspace => vec![0x7f],
        KeyCode::Tab => vec![b'\t'],
        KeyCode::BackTab => b"\x1b[Z".to_vec(),
        KeyCode::Esc => vec![0x1b],
        KeyCode::Up => b"\x1b[A".to_vec(),
        KeyCode::Down => b"\x1b[B".to_vec(),
        KeyCode::Right => b"\x1b[C".to_vec(),
        KeyCode::Left => b"\x1b[D".to_vec(),
        KeyCode::Home => b"\x1b[H".to_vec(),
        KeyCode::End => b"\x1b[F".to_vec(),
        KeyCode::PageUp => b"\x1b[5~".to_vec(),
        KeyCode::PageDown => b"\x1b[6~".to_vec(),
        KeyCode::Delete => b"\x1b[3~".to_vec(),
        _ => return None,
    })
}
