//! The decision of a set of rules on one tool call.

use std::path::Path;

use serde_json::Value;
use uuid::Uuid;

use super::{PermissionRule, Verdict};

/// One tool call to decide, with where it comes from.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub tool: &'a str,
    pub input: &'a Value,
    /// The session's working dir: file paths and redirections are judged against it.
    pub working_dir: Option<&'a Path>,
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    /// Now, in milliseconds (expired rules decide nothing).
    pub now: i64,
}

/// Rules indexed for deciding fast.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<PermissionRule>,
}

impl RuleSet {
    pub fn new(rules: Vec<PermissionRule>) -> RuleSet {
        RuleSet { rules }
    }

    /// How many rules it holds.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules' decision on `req`.
    pub fn decide(&self, req: &Request<'_>) -> Verdict {
        let _ = req;
        Verdict {
            effect: None,
            rule: None,
            parts: Vec::new(),
            reason: "no rule matches".into(),
        }
    }
}

/// The narrowest patterns that would allow this call (one per distinct simple command of a
/// Bash chain), for "allow always" to propose.
pub fn suggest(tool: &str, input: &Value, working_dir: Option<&Path>) -> Vec<String> {
    let _ = (tool, input, working_dir);
    Vec::new()
}

/// Checks a rule's tool and pattern before it is saved: a known tool, a pattern that is not
/// empty and, for Bash, not one that matches everything (`*` alone) unless `force`.
pub fn check_rule(tool: &str, pattern: &str, force: bool) -> Result<(), String> {
    let _ = (tool, pattern, force);
    Ok(())
}
