//! Permission policy: rules that decide an agent's tool calls without a human, and the pure
//! matcher that applies them.
//!
//! - this module: the rule as stored and shown, its scope and effect, and the verdict;
//! - `shell`: a Bash command split into simple commands, with what makes one unmatchable by an
//!   allow rule (command substitution, a redirection outside the working dir, `sudo`);
//! - `pattern`: a rule's pattern on a tool's input (command words for Bash, a path glob for
//!   file tools, a URL glob for `WebFetch`, a glob on the JSON input for any other tool);
//! - `matcher`: a set of rules indexed for speed, the decision on one request (deny wins,
//!   the most specific scope wins among equals), and the narrowest pattern to propose.
//!
//! It lives in `proto` so that the hub decides with it and every client (CLI, console,
//! Telegram) shows the same patterns and explanations.

pub mod matcher;
pub mod pattern;
pub mod requests;
pub mod shell;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use std::fmt;
use std::str::FromStr;

use crate::model::{UnknownWord, short_id, word_enum};

pub use matcher::{Request, RuleSet, check_rule, check_tool, suggest};

word_enum!(
    /// Where a rule applies, from the widest to the narrowest: every project, one project,
    /// one task, one session. Among rules of one effect the narrowest scope decides.
    RuleScope, "rule scope" {
        Global = "global",
        Project = "project",
        Task = "task",
        Session = "session",
    }
);

word_enum!(
    /// What a rule does with a tool call it matches. Deny wins over allow.
    RuleEffect, "rule effect" {
        Allow = "allow",
        Deny = "deny",
    }
);

/// The tools a rule may name besides `*` and MCP tools (`mcp__server__tool`).
pub const KNOWN_TOOLS: &[&str] = &[
    "Bash",
    "Edit",
    "MultiEdit",
    "Write",
    "Read",
    "NotebookEdit",
    "WebFetch",
    "WebSearch",
    "Glob",
    "Grep",
    "Task",
    "TodoWrite",
];

/// A permission rule: for tool calls in its scope whose input matches its pattern, allow or
/// deny at once, with no human.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PermissionRule {
    pub id: Uuid,
    pub scope: RuleScope,
    /// The project of a project, task or session rule.
    pub project_id: Option<Uuid>,
    /// The project's name, for display.
    #[serde(default)]
    pub project: Option<String>,
    /// The task of a task rule (also set on a session rule whose session has a task).
    pub task_id: Option<Uuid>,
    #[serde(rename = "task_ref", default)]
    pub task_reference: Option<String>,
    /// The session of a session rule.
    pub session_id: Option<Uuid>,
    /// `Bash`, `Edit`, `Write`, `WebFetch`, an MCP tool name, or `*` (any tool).
    pub tool: String,
    /// For Bash, command words (`cargo test *`: `*` last matches any further words); for
    /// file tools, a path glob relative to the working dir (`src/**`); for `WebFetch`, a URL
    /// glob; for other tools, a glob on the input as compact JSON.
    pub pattern: String,
    pub effect: RuleEffect,
    /// Who made it: `admin`, `telegram:<user>`, `pipeline`, …
    pub created_by: String,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// After this it decides nothing (it stays listed until removed).
    #[serde(with = "crate::time::rfc3339::option", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<i64>,
    /// Why it exists, as its maker said.
    #[serde(default)]
    pub note: Option<String>,
}

impl PermissionRule {
    /// Whether it still decides at `now` (milliseconds).
    pub fn live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }

    /// Where it applies, in a few words: `every project`, `project demo`, `task T3`,
    /// `session 1a2b3c4d`.
    pub fn place(&self) -> String {
        match self.scope {
            RuleScope::Global => "every project".to_string(),
            RuleScope::Project => format!("project {}", self.project.as_deref().unwrap_or("?")),
            RuleScope::Task => format!("task {}", self.task_reference.as_deref().unwrap_or("?")),
            RuleScope::Session => match self.session_id {
                Some(s) => format!("session {}", short_id(s)),
                None => "session ?".into(),
            },
        }
    }

    /// One line for people: `allow Bash "cargo test *" (project demo)`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} \"{}\" ({})",
            self.effect,
            self.tool,
            self.pattern,
            self.place()
        )
    }
}

/// The note of a rule a person made while deciding `request` (allow for the session, allow
/// always, deny as a rule): how clients find the rules a decision made.
pub fn decision_note(request: Uuid) -> String {
    format!("made deciding permission request {request}")
}

/// How one part of a request was decided: a simple command of a Bash chain, or the whole
/// input of another tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PartVerdict {
    /// The simple command (Bash) or the input as shown.
    pub part: String,
    /// `None`: no rule decides it.
    pub effect: Option<RuleEffect>,
    /// The rule that decides it.
    pub rule_id: Option<Uuid>,
    /// Why, in a few words: `allowed by …`, `no rule matches`, `command substitution is never
    /// allowed by a rule`, …
    pub why: String,
}

/// The rules' decision on one tool call: allow, deny, or `None` (a human decides).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Verdict {
    pub effect: Option<RuleEffect>,
    /// The rule that decides (for a deny, the deny rule; for an allow of a chain, the rule of
    /// its first part); every rule involved is in `parts`.
    pub rule: Option<PermissionRule>,
    pub parts: Vec<PartVerdict>,
    /// One line saying which rule decides and why, or why none does.
    pub reason: String,
}

impl Verdict {
    /// The ids of every rule that took part in the decision.
    pub fn rule_ids(&self) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self.parts.iter().filter_map(|p| p.rule_id).collect();
        ids.dedup();
        ids
    }
}
