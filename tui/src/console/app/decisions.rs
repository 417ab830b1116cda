//! Decisions and the dialogs that lead to actions: the inbox keys (`a`/`r`/`y`/`n`/`i`) on the
//! item in front of the operator, the prompts they open, a message for an idle agent, the
//! status filter, the create form and the assign picker.

use orchestratia_proto::SessionState;

use super::{Action, App, Mode, Prompt, PromptKind, View};
use crate::console::forms::{AssignPicker, TaskForm};
use crate::console::model::InboxItem;

impl App {
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

    /// `a`/`r` a plan, `y`/`n` a permission, `i` a question: on the item `decision_target`
    /// finds; a key that does not fit it says which keys do.
    pub(crate) fn decide(&mut self, key: char) -> Vec<Action> {
        let Some(item) = self.decision_target() else {
            self.status = Some("nothing waits for a decision here".into());
            return Vec::new();
        };
        match (key, item) {
            ('a', InboxItem::Plan(p)) => vec![Action::ApprovePlan { task: p.task_id }],
            ('r', InboxItem::Plan(p)) => {
                self.open_prompt(PromptKind::RejectPlan {
                    task: p.task_id,
                    reference: p.task_reference,
                });
                Vec::new()
            }
            ('y', InboxItem::Permission(p)) => vec![Action::Allow { id: p.id }],
            ('n', InboxItem::Permission(p)) => vec![Action::Deny { id: p.id }],
            ('i', InboxItem::Question(i)) => {
                self.open_prompt(PromptKind::Answer {
                    id: i.id,
                    question: i.question,
                });
                Vec::new()
            }
            (_, item) => {
                let hint = match item {
                    InboxItem::Plan(_) => "a plan: `a` approves, `r` rejects",
                    InboxItem::Permission(_) => "a permission: `y` allows, `n` denies",
                    InboxItem::Question(_) => "a question: `i` answers",
                };
                self.status = Some(hint.into());
                Vec::new()
            }
        }
    }

    /// `m` in Sessions: a message for the focused session's agent, which must be idle.
    pub(crate) fn message_prompt(&mut self) -> Vec<Action> {
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
        let kind = PromptKind::Message {
            session: s.id,
            name: s.name.clone(),
        };
        self.open_prompt(kind);
        Vec::new()
    }

    /// `/` in Tasks: a prompt for the status filter, holding the current one.
    pub(crate) fn filter_prompt(&mut self) -> Vec<Action> {
        self.mode = Mode::Prompt(Prompt {
            kind: PromptKind::Filter,
            text: self.filter.clone().unwrap_or_default(),
        });
        Vec::new()
    }

    /// `c`: the create-task form, for the project the console shows.
    pub(crate) fn create_form(&mut self) -> Vec<Action> {
        let project = self.model.snap.graph.as_ref().map(|g| g.project.clone());
        self.mode = Mode::Form(TaskForm::new(project));
        Vec::new()
    }

    /// `A`: the assign picker for the open or selected task; it asks the hub for its ranking.
    pub(crate) fn assign_picker(&mut self) -> Vec<Action> {
        let Some(task) = self.task_open.or_else(|| self.selected_task()) else {
            self.status = Some("select a task to assign (Tasks or Graph view)".into());
            return Vec::new();
        };
        let reference = self
            .model
            .task(task)
            .map(|t| t.reference.clone())
            .unwrap_or_default();
        self.mode = Mode::Picker(AssignPicker::new(task, reference));
        vec![Action::Explain { task }]
    }
}
