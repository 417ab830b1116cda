//! The domain model as it travels over the API: projects, servers, tasks, dependencies,
//! contracts, sessions and events; interventions, plans, permission requests and notes live in
//! `humans` and are re-exported here.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::workspace::DependencyAfter;

pub use crate::humans::*;

/// Error for a word that is not one of an enum's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} '{got}': expected one of {}", expected.join(", "))]
pub struct UnknownWord {
    pub what: &'static str,
    pub got: String,
    pub expected: &'static [&'static str],
}

/// Declares a snake_case string enum with `as_str`, `Display`, `FromStr` and `ALL`, so the
/// same word is used in the store, the API and the CLI.
macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// The word for this value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;
            fn from_str(s: &str) -> Result<Self, UnknownWord> {
                match s {
                    $($s => Ok($name::$var),)+
                    _ => Err(UnknownWord {
                        what: $what,
                        got: s.to_string(),
                        expected: &[$($s),+],
                    }),
                }
            }
        }
    };
}

pub(crate) use word_enum;

word_enum!(
    /// Where a task is in its lifecycle (docs/ARCHITECTURE.md, Engine rules).
    TaskStatus, "status" {
        Pending = "pending",
        Assigned = "assigned",
        Planning = "planning",
        Running = "running",
        NeedsHuman = "needs_human",
        Done = "done",
        Failed = "failed",
        Cancelled = "cancelled",
    }
);

impl TaskStatus {
    /// Done, failed and cancelled tasks are closed; everything else is open.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Done | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

word_enum!(
    /// How urgent a task is.
    Priority, "priority" {
        Low = "low",
        Medium = "medium",
        High = "high",
        Critical = "critical",
    }
);

word_enum!(
    /// `blocks`: the downstream waits for the upstream to finish. `input`: it also receives the
    /// upstream's contract `contract_key`.
    DepType, "dependency type" {
        Blocks = "blocks",
        Input = "input",
    }
);

word_enum!(
    /// Whether a server's daemon is heard from.
    ServerStatus, "server status" {
        Online = "online",
        Offline = "offline",
    }
);

word_enum!(
    /// A terminal session's state on its server.
    SessionStatus, "session status" {
        Starting = "starting",
        Active = "active",
        Recovering = "recovering",
        Ended = "ended",
    }
);

word_enum!(
    /// What the agent in a session is doing, from its own hooks (Claude Code's `SessionStart`,
    /// `UserPromptSubmit`, `PreToolUse`/`PostToolUse`, `Notification`, `Stop`) and its CLI calls
    /// (a question, a plan, a permission request). One word per session, shown the same way
    /// everywhere; the screen is never read for it.
    SessionState, "session state" {
        /// Started, not heard from yet.
        Starting = "starting",
        /// Working on a turn.
        Working = "working",
        /// Waits for a permission decision.
        WaitingPermission = "waiting_permission",
        /// Waits for a human's answer (a question, a plan, or a dialog it cannot pass alone).
        WaitingInput = "waiting_input",
        /// Finished its turn and waits for a prompt.
        Idle = "idle",
        /// The agent process is gone.
        Ended = "ended",
    }
);

impl SessionState {
    /// Whether the agent waits for a human (a permission, an answer, a dialog).
    pub fn waits(self) -> bool {
        matches!(
            self,
            SessionState::WaitingPermission | SessionState::WaitingInput
        )
    }
}

word_enum!(
    /// A Claude Code hook event, as the hook reports it (`hook_event_name` in snake case).
    HookEvent, "hook event" {
        SessionStart = "session_start",
        UserPromptSubmit = "user_prompt_submit",
        PreToolUse = "pre_tool_use",
        PostToolUse = "post_tool_use",
        Notification = "notification",
        Stop = "stop",
    }
);

impl HookEvent {
    /// The event for Claude Code's `hook_event_name` (`PreToolUse` → `pre_tool_use`).
    pub fn from_claude(name: &str) -> Option<HookEvent> {
        Some(match name {
            "SessionStart" => HookEvent::SessionStart,
            "UserPromptSubmit" => HookEvent::UserPromptSubmit,
            "PreToolUse" => HookEvent::PreToolUse,
            "PostToolUse" => HookEvent::PostToolUse,
            "Notification" => HookEvent::Notification,
            "Stop" => HookEvent::Stop,
            _ => return None,
        })
    }
}

word_enum!(
    /// The event names of the timeline, one word each, the same in the store, the API, the CLI,
    /// the console and Telegram (docs/ARCHITECTURE.md, The model as stored).
    EventKind, "event" {
        TaskCreated = "task_created",
        TaskAssigned = "task_assigned",
        TaskPlanning = "task_planning",
        TaskPlanSubmitted = "task_plan_submitted",
        TaskPlanApproved = "task_plan_approved",
        TaskPlanRejected = "task_plan_rejected",
        TaskStarted = "task_started",
        SessionActive = "session_active",
        SessionOutput = "session_output",
        SessionScreen = "session_screen",
        TaskNeedsHuman = "task_needs_human",
        InterventionResponded = "intervention_responded",
        TaskNoteAdded = "task_note_added",
        TaskUpdated = "task_updated",
        TaskCompleted = "task_completed",
        TaskFailed = "task_failed",
        TaskCancelled = "task_cancelled",
        TaskStatusUpdate = "task_status_update",
        ContractFulfilled = "contract_fulfilled",
        DependencyResolved = "dependency_resolved",
        TaskUnblocked = "task_unblocked",
        TaskAutoAssigned = "task_auto_assigned",
        PermissionRequested = "permission_requested",
        PermissionDecided = "permission_decided",
        ServerOnline = "server_online",
        ServerOffline = "server_offline",
        SessionRecovered = "session_recovered",
        ServerRegistered = "server_registered",
        DependencyAdded = "dependency_added",
        DependencyRemoved = "dependency_removed",
        TaskRetried = "task_retried",
        SessionEnded = "session_ended",
        AgentWaiting = "agent_waiting",
        AgentIdle = "agent_idle",
        /// The agent gave no sign of life through its hooks after it started (a dialog?).
        AgentStalled = "agent_stalled",
        /// A message was submitted to the agent as its next prompt (by an admin, or a late
        /// answer whose asker was gone).
        AgentPrompted = "agent_prompted",
        /// Something about a session an admin should know (a config the daemon could not fix).
        SessionWarning = "session_warning",
        /// A task's git worktree was made (or found again for a retried task).
        WorkspaceCreated = "workspace_created",
        /// A task's branch was merged (details: into, commit, squash).
        WorkspaceMerged = "workspace_merged",
        /// A task's branch was kept for later.
        WorkspaceKept = "workspace_kept",
        /// A task's worktree and branch were thrown away.
        WorkspaceDiscarded = "workspace_discarded",
        /// A worktree was removed by a prune.
        WorkspacePruned = "workspace_pruned",
        /// An admin commented on a line of a task's diff (details: file, line, text).
        ReviewCommented = "review_commented",
        /// Review comments reached the agent as one message.
        ReviewDelivered = "review_delivered",
        /// A permission rule was added (details: the rule).
        PolicyRuleAdded = "policy_rule_added",
        /// A permission rule was removed (details: the rule).
        PolicyRuleRemoved = "policy_rule_removed",
        /// A project's spending passed 80% of its budget (details: cost, budget).
        BudgetWarning = "budget_warning",
        /// A project's spending reached its budget (details: cost, budget, enforce).
        BudgetReached = "budget_reached",
    }
);

/// An id as tables show it and commands accept it: its first 8 hex digits.
pub fn short_id(id: Uuid) -> String {
    id.simple().to_string()[..8].to_string()
}

/// A task's short reference, `T7`.
pub fn task_ref(number: i64) -> String {
    format!("T{number}")
}

/// A namespace of servers and tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    /// Its spending limit, if set.
    #[serde(default)]
    pub budget: Option<crate::usage::Budget>,
    /// What its tasks' model calls cost so far, once any was reported.
    #[serde(default)]
    pub usage: Option<crate::usage::Usage>,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// A registered agent daemon on one machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Server {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub status: ServerStatus,
    pub os: String,
    pub hostname: String,
    /// Repository names this server has (name → path on that machine).
    pub repos: BTreeMap<String, String>,
    pub languages: Vec<String>,
    /// Sessions not yet ended.
    pub sessions: i64,
    #[serde(with = "crate::time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_heartbeat: Option<i64>,
    /// Whether its keys were revoked (it can no longer connect).
    pub revoked: bool,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// The structured spec format `orchestratia/task-spec/v1`: requirements with must/should/could
/// and constraints. Stored and passed on as JSON; validated on the way in.
pub const TASK_SPEC_SCHEMA: &str = "orchestratia/task-spec/v1";

/// A task as listed: everything but the timeline and the data that flows between tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Task {
    pub id: Uuid,
    /// Short reference within its project, `T7`.
    #[serde(rename = "ref")]
    pub reference: String,
    pub number: i64,
    pub project_id: Uuid,
    pub title: String,
    pub spec: String,
    pub structured_spec: Option<Value>,
    pub priority: Priority,
    pub repo: Option<String>,
    pub languages: Vec<String>,
    /// Pinned server name: only this server may run it.
    pub agent: Option<String>,
    /// Required OS of the server (`linux`, `windows`, `macos`), if any.
    pub os: Option<String>,
    pub require_plan_approval: bool,
    /// Its session may create, assign and watch tasks of the project (an orchestrator agent).
    pub orchestrator: bool,
    /// Its agent keeps running after the task is closed (an admin wants to talk to it);
    /// otherwise a finished task's session ends.
    pub keep_session: bool,
    pub status: TaskStatus,
    /// Pending with at least one dependency not met.
    pub blocked: bool,
    /// Why it is blocked, or why a released task waits for a server.
    pub blocked_reason: Option<String>,
    pub server: Option<String>,
    pub server_id: Option<Uuid>,
    /// The cascade wave that released it (1 = first), once released.
    pub phase: Option<i64>,
    pub result: Option<Value>,
    /// Name of the task in the pipeline file that created it, if any.
    pub pipeline_key: Option<String>,
    /// What its git worktree starts from: a branch or commit, `upstream` (the branch of the
    /// task it `blocks`-depends on), or `None` (the repo's current branch).
    #[serde(default)]
    pub base: Option<String>,
    /// The task whose branch its worktree starts from (`--base-from T2`).
    #[serde(default)]
    pub base_from: Option<Uuid>,
    /// Its branch name when set (default: `orc/T7-title-slug`).
    #[serde(default)]
    pub branch: Option<String>,
    /// What its agents' model calls cost so far (the sum over its sessions), once any was
    /// reported.
    #[serde(default)]
    pub usage: Option<crate::usage::Usage>,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

/// One dependency of a task, seen from the downstream side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Dependency {
    pub id: Uuid,
    /// The upstream task.
    pub task_id: Uuid,
    #[serde(rename = "ref")]
    pub reference: String,
    pub title: String,
    pub status: TaskStatus,
    #[serde(rename = "type")]
    pub dep_type: DepType,
    pub contract_key: Option<String>,
    pub resolved: bool,
    /// `blocks` only: met when the upstream is done (default) or once its branch is merged.
    #[serde(default = "crate::model::after_done")]
    pub after: DependencyAfter,
}

/// The default condition of a dependency (serde).
pub fn after_done() -> DependencyAfter {
    DependencyAfter::Done
}

/// A contract a task published on completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contract {
    /// Always `fulfilled` once published.
    pub status: String,
    pub data: Value,
}

/// One row of a timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Monotonic: a client resumes after the last id it saw.
    pub id: i64,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: i64,
    pub event: EventKind,
    /// `admin`, `agent:NAME` or `hub`.
    pub actor: String,
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    /// The other task the event is about (the downstream task of a cascade step).
    pub related_task_id: Option<Uuid>,
    pub server_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub details: Value,
}

/// A task with everything around it: dependencies, inputs, contracts, sessions, timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskView {
    #[serde(flatten)]
    pub task: Task,
    pub depends_on: Vec<Dependency>,
    /// Tasks that wait for this one.
    pub dependents: Vec<Dependency>,
    /// Contract data received from upstream tasks, by key.
    pub resolved_inputs: BTreeMap<String, Value>,
    /// Contracts this task published, by key.
    pub contracts: BTreeMap<String, Contract>,
    pub sessions: Vec<Session>,
    pub interventions: Vec<Intervention>,
    pub plans: Vec<Plan>,
    pub notes: Vec<Note>,
    pub events: Vec<Event>,
    /// Its git worktree on its server, once one was made.
    #[serde(default)]
    pub workspace: Option<crate::workspace::Workspace>,
    /// Review comments on its diff, oldest first.
    #[serde(default)]
    pub review_comments: Vec<crate::workspace::StoredComment>,
}

/// One agent process in a terminal on a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub id: Uuid,
    /// `orc-` + 6 hex, also the tmux session name.
    pub name: String,
    pub server_id: Uuid,
    pub server: String,
    pub task_id: Option<Uuid>,
    pub task: Option<String>,
    pub status: SessionStatus,
    pub pid: Option<i64>,
    pub tmux: Option<String>,
    pub working_dir: Option<String>,
    pub exit_code: Option<i64>,
    /// What the agent is doing (from its hooks): starting, working, waiting_permission,
    /// waiting_input, idle, ended.
    pub state: SessionState,
    /// When `state` last changed.
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub state_since: i64,
    /// The agent waits for a human (`state` is waiting_permission or waiting_input).
    pub waiting: bool,
    /// The agent's own conversation id (Claude Code's session id), to resume it.
    pub conversation_id: Option<String>,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: i64,
    #[serde(with = "crate::time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for s in TaskStatus::ALL {
            assert_eq!(s.as_str().parse::<TaskStatus>(), Ok(*s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(Value::String(s.as_str().into()))
            );
        }
        for e in EventKind::ALL {
            assert_eq!(e.as_str().parse::<EventKind>(), Ok(*e));
        }
    }

    #[test]
    fn unknown_word_names_the_choices() {
        let err = "runing".parse::<TaskStatus>().unwrap_err();
        assert!(err.to_string().contains("invalid status 'runing'"));
        assert!(err.to_string().contains("needs_human"));
    }
}
