//! The console's one App: which view is shown, what is selected, which mode has the keys,
//! and how each key becomes an `Action`. It does no I/O: the runtime (`console::runtime`)
//! carries the actions out and feeds back what the hub says, so keys and drawing are tested
//! without a hub.
//!
//! Its parts: `action` (what it asks for), `keys` (keys by mode), `decisions` (the inbox
//! keys and the prompts they open), `navigation` (selection, focus, opening, scrolling),
//! `review` (a task's diff: moving in it, merge/keep/discard, comments), `mouse`, and `hub`
//! (what the link says).

mod action;
mod decisions;
mod hub;
mod keys;
mod mouse;
mod navigation;
mod review;

use std::collections::HashMap;

use orchestratia_proto::TaskView;
use uuid::Uuid;

use super::forms::{AssignPicker, TaskForm};
use super::model::Model;
use super::screen::SessionScreen;

pub use action::Action;
pub use decisions::{PATTERN_JOIN, split_patterns};
pub use keys::key_bytes;
pub use review::{Confirm, DiffFocus, DiffView, PAGE};

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

    /// Its place in the tab order.
    pub fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
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
    /// `A` / `N` on a permission request: the patterns of a rule that allows (or denies)
    /// calls like it from now on, prefilled with the suggested ones.
    Rule {
        id: Uuid,
        allow: bool,
        tool: String,
        reference: String,
    },
    /// A review comment on a line of a task's diff.
    Comment {
        task: Uuid,
        reference: String,
        file: String,
        line: u64,
    },
}

/// A one-line text prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
}

/// What has the keys: exactly one mode at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// The views take the keys (the key table in `console::keymap`).
    Normal,
    /// `?`: the help box over the view.
    Help,
    /// A one-line prompt at the bottom of the screen.
    Prompt(Prompt),
    /// `c`: the create-task form.
    Form(TaskForm),
    /// `A`: the assign picker.
    Picker(AssignPicker),
    /// Keys go to the focused session (Ctrl-] detaches).
    Attached,
    /// A question answered with `y` (the action runs) or `n`/Esc (nothing happens).
    Confirm(Confirm),
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
    /// `d`: a task's diff, shown over the Tasks view (and its open task).
    pub diff: Option<DiffView>,
    /// Tasks view: show only this status (`blocked` for blocked pending tasks).
    pub filter: Option<String>,
    /// The session shown large in the Sessions view.
    pub focused: Option<Uuid>,
    pub screens: HashMap<Uuid, SessionScreen>,
    /// Which mode has the keys.
    pub mode: Mode,
    /// The last outcome or error, shown above the footer.
    pub status: Option<String>,
    /// The time views measure ages against (ms); the runtime sets it, tests fix it.
    pub now: i64,
    /// Colours on (off with NO_COLOR).
    pub color: bool,
    /// The size of the focused session's area, as last drawn (cols, rows).
    pub session_area: (u16, u16),
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
            diff: None,
            filter: None,
            focused: None,
            screens: HashMap::new(),
            mode: Mode::Normal,
            status: None,
            now: 0,
            color,
            session_area: (80, 20),
            quit: false,
        }
    }

    /// The open prompt, if a prompt has the keys.
    pub fn prompt(&self) -> Option<&Prompt> {
        match &self.mode {
            Mode::Prompt(p) => Some(p),
            _ => None,
        }
    }

    /// The create-task form, if it is open.
    pub fn form(&self) -> Option<&TaskForm> {
        match &self.mode {
            Mode::Form(f) => Some(f),
            _ => None,
        }
    }

    /// The assign picker, if it is open.
    pub fn picker(&self) -> Option<&AssignPicker> {
        match &self.mode {
            Mode::Picker(p) => Some(p),
            _ => None,
        }
    }

    /// The question waiting for `y`/`n`, if one is asked.
    pub fn confirm(&self) -> Option<&Confirm> {
        match &self.mode {
            Mode::Confirm(c) => Some(c),
            _ => None,
        }
    }

    /// Whether keys go to the focused session.
    pub fn attached(&self) -> bool {
        self.mode == Mode::Attached
    }

    /// Whether the help box is shown.
    pub fn help(&self) -> bool {
        self.mode == Mode::Help
    }

    /// Opens a prompt with nothing typed yet.
    fn open_prompt(&mut self, kind: PromptKind) {
        self.mode = Mode::Prompt(Prompt {
            kind,
            text: String::new(),
        });
    }
}
