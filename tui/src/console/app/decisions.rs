//! Decisions and the dialogs that lead to actions: the inbox keys (`a`/`r` a plan,
//! `y`/`s`/`A`/`n`/`N` a permission, `i` a question) on the item in front of the operator,
//! the prompts they open, a message for an idle agent, the status filter, the create form and
//! the assign picker.

use orchestratia_proto::api::AllowScope;
use orchestratia_proto::{PermissionRequest, SessionState};
use uuid::Uuid;

use super::{Action, App, Mode, Prompt, PromptKind, View};
use crate::console::forms::{AssignPicker, TaskForm};
use crate::console::model::InboxItem;

/// Between the patterns of a Bash rule in its prompt (one per simple command of the call).
pub const PATTERN_JOIN: &str = " && ";

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
            .map(|e| e.item)
            .find(|i| i.task_id() == Some(task))
    }

    /// `a`/`r` a plan, `y`/`s`/`A`/`n`/`N` a permission, `i` a question: on the item
    /// `decision_target` finds; a key that does not fit it says which keys do.
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
            ('y', InboxItem::Permission(p)) => vec![Action::Allow {
                id: p.id,
                scope: AllowScope::Once,
                patterns: Vec::new(),
            }],
            ('s', InboxItem::Permission(p)) => {
                if self.no_rule_for(&p, "`y` allows it once") {
                    return Vec::new();
                }
                vec![Action::Allow {
                    id: p.id,
                    scope: AllowScope::Session,
                    patterns: p.suggested,
                }]
            }
            ('A', InboxItem::Permission(p)) => {
                if !self.no_rule_for(&p, "`y` allows it once") {
                    self.rule_prompt(p, true);
                }
                Vec::new()
            }
            ('n', InboxItem::Permission(p)) => vec![Action::Deny {
                id: p.id,
                rule: false,
                patterns: Vec::new(),
            }],
            ('N', InboxItem::Permission(p)) => {
                if !self.no_rule_for(&p, "`n` denies it once") {
                    self.rule_prompt(p, false);
                }
                Vec::new()
            }
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
                    InboxItem::Permission(_) => {
                        "a permission: `y` allows once, `s` for its session, `A` always, \
                         `n` denies, `N` denies always"
                    }
                    InboxItem::Question(_) => "a question: `i` answers",
                };
                self.status = Some(hint.into());
                Vec::new()
            }
        }
    }

    /// Whether no rule can be made of this request (it has no suggested pattern: the hub
    /// refuses a rule for it); if so the status line says why and what to do instead.
    fn no_rule_for(&mut self, p: &PermissionRequest, instead: &str) -> bool {
        if !p.suggested.is_empty() {
            return false;
        }
        let why = if p.tool_name == "Bash" {
            "part of the command is never matched by a rule (a substitution, an expansion, \
             sudo, a redirection out of the working dir, …)"
        } else {
            "nothing in it can be matched by a rule (a file outside the working dir?)"
        };
        self.status = Some(format!(
            "this call cannot be decided by a rule: {why}; {instead}"
        ));
        true
    }

    /// `A` / `N`: the prompt for an allow or deny rule, holding the request's suggested
    /// patterns (a Bash chain's joined by ` && `) for the operator to widen or keep.
    fn rule_prompt(&mut self, p: PermissionRequest, allow: bool) {
        let text = if p.tool_name == "Bash" {
            p.suggested.join(PATTERN_JOIN)
        } else {
            p.suggested.into_iter().next().unwrap_or_default()
        };
        self.mode = Mode::Prompt(Prompt {
            kind: PromptKind::Rule {
                id: p.id,
                allow,
                tool: p.tool_name,
                reference: p.task_reference.unwrap_or_else(|| "-".into()),
            },
            text,
        });
    }

    /// Enter in a rule prompt: the patterns typed (a Bash rule's split on ` && ` outside
    /// quotes), each checked as the hub checks it; a bad one keeps the prompt open and says why.
    pub(crate) fn submit_rule(
        &mut self,
        prompt: Prompt,
        id: Uuid,
        allow: bool,
        tool: &str,
    ) -> Vec<Action> {
        let patterns: Vec<String> = if tool == "Bash" {
            split_patterns(&prompt.text)
        } else {
            vec![prompt.text.trim().to_string()]
        };
        let bad = patterns
            .iter()
            .find_map(|p| orchestratia_proto::policy::check_rule(tool, p, false).err());
        if let Some(why) = bad.or_else(|| patterns.is_empty().then(|| "no pattern".into())) {
            self.status = Some(format!("not saved: {why} (Esc cancels)"));
            self.mode = Mode::Prompt(prompt);
            return Vec::new();
        }
        self.status = None;
        if allow {
            vec![Action::Allow {
                id,
                scope: AllowScope::Always,
                patterns,
            }]
        } else {
            vec![Action::Deny {
                id,
                rule: true,
                patterns,
            }]
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

/// A rule prompt's text as patterns: split on ` && ` where it stands outside quotes (a
/// backslash escapes the next character outside single quotes), each trimmed, empty ones
/// dropped.
pub fn split_patterns(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    // Where `current` may next split: not before an escaped character.
    let mut protected = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (Some('"') | None, '\\') => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                protected = current.len();
                continue;
            }
            _ => {}
        }
        current.push(c);
        if quote.is_none()
            && current.ends_with(PATTERN_JOIN)
            && current.len() - PATTERN_JOIN.len() >= protected
        {
            current.truncate(current.len() - PATTERN_JOIN.len());
            parts.push(std::mem::take(&mut current));
            protected = 0;
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}
