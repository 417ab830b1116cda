//! What waits for a human: questions (interventions), plans and permission requests, with
//! their statuses, and the notes posted on tasks. Re-exported from [`crate::model`], where the
//! rest of the domain model lives.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{UnknownWord, word_enum};

word_enum!(
    /// A question from an agent to a human.
    InterventionStatus, "intervention status" {
        Pending = "pending",
        Answered = "answered",
        Cancelled = "cancelled",
    }
);

word_enum!(
    /// A plan waiting for approval, or decided.
    PlanStatus, "plan status" {
        Submitted = "submitted",
        Approved = "approved",
        Rejected = "rejected",
        Cancelled = "cancelled",
    }
);

word_enum!(
    /// A tool call waiting for allow/deny, or decided.
    PermissionStatus, "permission status" {
        Pending = "pending",
        Allowed = "allowed",
        Denied = "denied",
        Cancelled = "cancelled",
    }
);

/// A question from an agent that pauses its task until a human answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Intervention {
    pub id: Uuid,
    pub task_id: Uuid,
    #[serde(rename = "task_ref")]
    pub task_reference: String,
    pub task_title: String,
    pub question: String,
    pub status: InterventionStatus,
    pub response: Option<String>,
    pub answered_by: Option<String>,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "crate::time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub answered_at: Option<i64>,
    /// When the answer reached the agent: its waiting `task help` got it (`caller`), or it was
    /// submitted as the agent's next prompt because the caller was gone (`prompt`).
    #[serde(with = "crate::time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<i64>,
    pub delivered_via: Option<String>,
}

/// A plan an agent submitted for approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Plan {
    pub id: Uuid,
    pub task_id: Uuid,
    #[serde(rename = "task_ref")]
    pub task_reference: String,
    pub task_title: String,
    pub content: String,
    pub status: PlanStatus,
    pub feedback: Option<String>,
    pub decided_by: Option<String>,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "crate::time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<i64>,
    /// When the decision reached the agent (see [`Intervention::delivered_at`]).
    #[serde(with = "crate::time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<i64>,
    pub delivered_via: Option<String>,
}

/// A tool call an agent wants to make, waiting for allow or deny.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PermissionRequest {
    pub id: Uuid,
    pub task_id: Option<Uuid>,
    #[serde(rename = "task_ref")]
    pub task_reference: Option<String>,
    pub session_id: Option<Uuid>,
    pub tool_name: String,
    pub tool_input: Value,
    pub status: PermissionStatus,
    pub reason: Option<String>,
    pub decided_by: Option<String>,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "crate::time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<i64>,
    /// The permission rule that decided it, when no human did.
    #[serde(default)]
    pub rule_id: Option<Uuid>,
    /// The narrowest rule patterns that would allow it (one per simple command of a Bash
    /// chain): what "allow always" proposes. Filled in by the hub when it answers.
    #[serde(default)]
    pub suggested: Vec<String>,
}

impl PermissionRequest {
    /// The tool's input as a person reads it: a Bash command whole, a file path or URL,
    /// else the JSON.
    pub fn input_text(&self) -> String {
        for key in ["command", "file_path", "path", "url"] {
            if let Some(s) = self.tool_input.get(key).and_then(|s| s.as_str()) {
                return s.to_string();
            }
        }
        self.tool_input.to_string()
    }
}

/// A note posted on a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Note {
    pub id: Uuid,
    pub task_id: Uuid,
    pub actor: String,
    pub text: String,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}
