//! The API's request bodies about permission rules and decisions: a new rule, a policy test,
//! how far an allow reaches, a deny that may make a rule (re-exported from `api`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// How far an "allow" reaches: this call only, the rest of the asking session, or always
/// (a project rule).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AllowScope {
    #[default]
    Once,
    Session,
    Always,
}

impl AllowScope {
    /// The word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            AllowScope::Once => "once",
            AllowScope::Session => "session",
            AllowScope::Always => "always",
        }
    }
}

/// Body of `POST /permissions/{id}/allow` (optional: an empty body allows once).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AllowPermission {
    #[serde(default)]
    pub scope: AllowScope,
    /// For `session` and `always`: the rule patterns (default: the request's suggested ones,
    /// the narrowest that allow it).
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// Body of `POST /permissions/{id}/deny` (optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct DenyPermission {
    pub reason: Option<String>,
    /// Also make a project rule that denies calls like it from now on.
    #[serde(default)]
    pub rule: bool,
    /// The deny rule's patterns (default: the request's suggested ones).
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// Body of `POST /policy/rules`: a new permission rule.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewRule {
    /// Default: `task` when `task` is given, `session` when `session` is, else `project`.
    #[serde(default)]
    pub scope: Option<super::RuleScope>,
    /// Project id or name (a project rule; default: the only project, when there is one).
    #[serde(default)]
    pub project: Option<String>,
    /// Task reference (a task rule).
    #[serde(default)]
    pub task: Option<String>,
    /// Session id (a session rule).
    #[serde(default)]
    pub session: Option<Uuid>,
    pub tool: String,
    pub pattern: String,
    pub effect: super::RuleEffect,
    /// When it stops deciding (must be in the future).
    #[serde(with = "crate::time::rfc3339::option", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub note: Option<String>,
    /// Accept a Bash pattern that matches every command (`*` alone).
    #[serde(default)]
    pub force: bool,
}

/// Body of `POST /policy/test`: which rule would decide this tool call, and why.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PolicyTest {
    pub tool: String,
    /// The tool's input; for Bash a string is taken as the command.
    #[serde(default)]
    pub input: Value,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub task: Option<String>,
    #[serde(default)]
    pub session: Option<Uuid>,
    /// The working dir to judge paths against (default: the session's, else none).
    #[serde(default)]
    pub working_dir: Option<String>,
}

/// `GET /policy/rules?all=true`: expired rules too.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
pub struct RulesFilter {
    #[serde(default)]
    pub all: Option<bool>,
}
