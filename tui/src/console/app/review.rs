//! A task's diff (`d`): its state (the diff read, the parsed lines, the cursor, which pane
//! has the keys), moving in it, and the review it leads to: merge and discard after a `y`,
//! keep, and a comment on the line under the cursor.

use orchestratia_proto::workspace::{ReviewComment, Workspace, WorkspaceDiff};
use uuid::Uuid;

use super::{Action, App, Mode, PromptKind, View};
use crate::console::diff::{self, Parsed};

/// Lines PgUp/PgDn move the diff's cursor by.
pub const PAGE: i64 = 20;

/// The longest review comment the hub takes (characters).
pub const COMMENT_MAX: usize = 4000;

/// Which pane of the diff view has the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffFocus {
    Files,
    Diff,
}

/// A task's diff as the view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffView {
    pub task: Uuid,
    pub reference: String,
    /// The diff, once read.
    pub diff: Option<WorkspaceDiff>,
    /// Its lines, read (kinds for the colours, files and lines for comments).
    pub parsed: Parsed,
    /// The task's workspace (its review state), when the hub had one.
    pub workspace: Option<Workspace>,
    /// Why the diff could not be read.
    pub error: Option<String>,
    /// The diff line the cursor is on.
    pub cursor: usize,
    /// The selected row of the files list.
    pub file: usize,
    pub focus: DiffFocus,
}

impl DiffView {
    /// A diff view of a task, waiting for the diff.
    pub fn new(task: Uuid, reference: String) -> DiffView {
        DiffView {
            task,
            reference,
            diff: None,
            parsed: Parsed::default(),
            workspace: None,
            error: None,
            cursor: 0,
            file: 0,
            focus: DiffFocus::Diff,
        }
    }

    /// Takes a diff read (or why it could not be), keeping the cursor where it was.
    pub fn set(&mut self, d: Result<WorkspaceDiff, String>, w: Option<Workspace>) {
        match d {
            Ok(d) => {
                self.parsed = diff::parse(&d.diff);
                self.diff = Some(d);
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
        if w.is_some() {
            self.workspace = w;
        }
        self.cursor = self.cursor.min(self.parsed.lines.len().saturating_sub(1));
        self.file = self.file.min(self.files_len().saturating_sub(1));
    }

    fn files_len(&self) -> usize {
        self.diff.as_ref().map_or(0, |d| d.files.len())
    }

    /// Moves the focused pane's selection by `d` rows (the files list follows the cursor).
    pub fn move_by(&mut self, d: i64) {
        let clamp = |at: usize, n: usize| (at as i64 + d).clamp(0, n.saturating_sub(1) as i64);
        match self.focus {
            DiffFocus::Files => self.file = clamp(self.file, self.files_len()) as usize,
            DiffFocus::Diff => {
                self.cursor = clamp(self.cursor, self.parsed.lines.len()) as usize;
                self.follow_cursor();
            }
        }
    }

    /// The files list selects the file the cursor is in.
    fn follow_cursor(&mut self) {
        let Some(path) = self.parsed.file_of(self.cursor) else {
            return;
        };
        if let Some(i) = self
            .diff
            .as_ref()
            .and_then(|d| d.files.iter().position(|f| f.path == path))
        {
            self.file = i;
        }
    }

    /// Enter on a file: the cursor goes to its first hunk, and the diff has the keys.
    pub fn jump(&mut self) {
        let Some(path) = self
            .diff
            .as_ref()
            .and_then(|d| d.files.get(self.file))
            .map(|f| f.path.clone())
        else {
            return;
        };
        if let Some(i) = self.parsed.jump(&path) {
            self.cursor = i;
        }
        self.focus = DiffFocus::Diff;
    }

    /// The branch and the base it is compared with, as the diff (or the workspace) says.
    pub fn branch(&self) -> Option<(&str, &str)> {
        match (&self.diff, &self.workspace) {
            (Some(d), _) => Some((&d.branch, &d.base)),
            (None, Some(w)) => Some((&w.report.branch, &w.report.base)),
            _ => None,
        }
    }
}

/// A question put before an action that cannot be undone.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub question: String,
    /// What `y` does.
    pub action: Action,
}

impl App {
    /// `d`: the diff of the open task, or of the one selected in the Tasks view.
    pub(crate) fn open_diff(&mut self) -> Vec<Action> {
        let task = self.task_open.or_else(|| match self.view {
            View::Tasks => self.selected_task(),
            _ => None,
        });
        let Some(task) = task else {
            self.status = Some("select a task to see its diff".into());
            return Vec::new();
        };
        let reference = self
            .model
            .task(task)
            .map(|t| t.reference.clone())
            .unwrap_or_else(|| "the task".into());
        self.view = View::Tasks;
        self.diff = Some(DiffView::new(task, reference));
        self.status = None;
        vec![Action::OpenDiff { task }]
    }

    /// The diff view's state, with the task it shows.
    fn diff_task(&self) -> Option<(Uuid, String)> {
        self.diff.as_ref().map(|d| (d.task, d.reference.clone()))
    }

    /// `r`: reads the diff again (the cursor stays where it is).
    pub(crate) fn reload_diff(&mut self) -> Vec<Action> {
        match self.diff_task() {
            Some((task, r)) => {
                self.status = Some(format!("reading {r}'s diff…"));
                vec![Action::OpenDiff { task }]
            }
            None => Vec::new(),
        }
    }

    /// `m`: asks before merging the branch into its base.
    pub(crate) fn confirm_merge(&mut self) -> Vec<Action> {
        let Some((task, r)) = self.diff_task() else {
            return Vec::new();
        };
        let what = match self.diff.as_ref().and_then(DiffView::branch) {
            Some((branch, base)) => format!("{branch} into {base}"),
            None => "its branch into its base".into(),
        };
        self.mode = Mode::Confirm(Confirm {
            question: format!("merge {r}: {what}? y/n"),
            action: Action::Merge { task },
        });
        Vec::new()
    }

    /// `X`: asks before throwing the worktree and the branch away.
    pub(crate) fn confirm_discard(&mut self) -> Vec<Action> {
        let Some((task, r)) = self.diff_task() else {
            return Vec::new();
        };
        let branch = self
            .diff
            .as_ref()
            .and_then(DiffView::branch)
            .map_or("its branch".into(), |(b, _)| b.to_string());
        self.mode = Mode::Confirm(Confirm {
            question: format!("discard {r}: remove its worktree and delete {branch}? y/n"),
            action: Action::Discard { task },
        });
        Vec::new()
    }

    /// `K`: keeps the branch for later.
    pub(crate) fn keep(&mut self) -> Vec<Action> {
        match self.diff_task() {
            Some((task, _)) => vec![Action::Keep { task }],
            None => Vec::new(),
        }
    }

    /// `c`: a prompt for a comment on the line under the cursor (its file and new-file line).
    pub(crate) fn comment_prompt(&mut self) -> Vec<Action> {
        let Some(d) = &self.diff else {
            return Vec::new();
        };
        let at = (d.focus == DiffFocus::Diff)
            .then(|| d.parsed.at(d.cursor))
            .flatten();
        let Some((file, line)) = at else {
            self.status = Some(
                "put the cursor on a line of a hunk (Tab to the diff, j/k) to comment on it".into(),
            );
            return Vec::new();
        };
        let kind = PromptKind::Comment {
            task: d.task,
            reference: d.reference.clone(),
            file,
            line,
        };
        self.open_prompt(kind);
        Vec::new()
    }

    /// Enter in a comment prompt: the comment, unless it is too long.
    pub(crate) fn comment(
        &mut self,
        task: Uuid,
        file: String,
        line: u64,
        text: String,
    ) -> Vec<Action> {
        if text.chars().count() > COMMENT_MAX {
            self.status = Some(format!(
                "a comment is at most {COMMENT_MAX} characters: nothing sent"
            ));
            return Vec::new();
        }
        self.status = Some(format!("sending the comment on {file}:{line}…"));
        vec![Action::Comment {
            task,
            body: ReviewComment { file, line, text },
        }]
    }

    /// A diff read for the diff view (or why it could not be).
    pub(crate) fn on_diff(
        &mut self,
        task: Uuid,
        d: Result<WorkspaceDiff, String>,
        w: Option<Workspace>,
    ) {
        let Some(view) = self.diff.as_mut().filter(|v| v.task == task) else {
            return;
        };
        match &d {
            Err(e) => self.status = Some(format!("error: {e}")),
            Ok(_) if self.status.as_deref().is_some_and(|s| s.ends_with("diff…")) => {
                self.status = None;
            }
            Ok(_) => {}
        }
        view.set(d, w);
    }

    /// A merge, keep or discard went through: said in the status line, and the review state
    /// in the diff view's title follows.
    pub(crate) fn on_reviewed(&mut self, task: Uuid, said: String, w: Option<Workspace>) {
        self.status = Some(said);
        if let Some(view) = self.diff.as_mut().filter(|v| v.task == task)
            && w.is_some()
        {
            view.workspace = w;
        }
    }
}
