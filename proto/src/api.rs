//! Request and response bodies of the REST API under `/api/v1`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::model::*;
use crate::workspace::DependencyAfter;

/// Every error answer: a machine word and a one-line reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// `bad_request`, `not_found`, `conflict`, `unauthorized`, `forbidden`, `too_large`, `internal`.
    pub error: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// `GET /status`: which hub answers, on which database, and every replica sharing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HubStatus {
    /// The hub's version.
    pub version: String,
    /// The replica that answered (its `--replica-id`); `None` for a single hub.
    pub replica: Option<String>,
    /// `sqlite` or `postgresql`.
    pub database: String,
    /// Every replica seen recently (a single hub lists itself), the answering one first.
    pub replicas: Vec<ReplicaStatus>,
}

/// One hub replica as the database last heard of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReplicaStatus {
    /// Its `--replica-id` (`main` for a single hub).
    pub id: String,
    /// The URL it serves on.
    pub url: String,
    pub version: String,
    /// When it started and when it last reported (milliseconds since the epoch).
    pub started_at: i64,
    pub seen_at: i64,
    /// Whether it reported within the last few seconds.
    pub alive: bool,
    /// Daemon and console sockets it holds.
    pub daemons: u64,
    pub consoles: u64,
    /// Heartbeat processing time, 99th percentile over its recent heartbeats (microseconds).
    pub heartbeat_p99_us: Option<u64>,
}

/// Who the presented token belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// `admin`, `server` or `session`.
    pub role: String,
    pub project_id: Option<Uuid>,
    pub server_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub orchestrator: bool,
    /// The actor name written in events.
    pub actor: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateProject {
    pub name: String,
    /// A spending limit in US dollars (see [`SetBudget`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enforce_budget: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateRegistrationToken {
    /// Project id or name.
    pub project: String,
    /// Seconds until it expires (default: the hub's `--registration-token-ttl`, 1 h).
    pub expires_in_secs: Option<u64>,
    /// The name of a registered server this token may replace (a reinstalled machine): its
    /// old key is revoked and its daemon disconnected when the token is used. Without it, a
    /// registration under an existing name is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<String>,
}

/// A credential as an admin sees it: never the token itself, only a short id (the first 12
/// hex digits of its SHA-256) to revoke it by.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct TokenInfo {
    pub id: String,
    /// `admin` or `registration`.
    pub kind: String,
    /// The project a registration token registers into.
    pub project_id: Option<Uuid>,
    /// The server a registration token may replace.
    pub replaces: Option<String>,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "crate::time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<i64>,
    #[serde(with = "crate::time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub used_at: Option<i64>,
    #[serde(with = "crate::time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<i64>,
    /// `active`, `used`, `expired` or `revoked`.
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegistrationToken {
    pub token: String,
    pub project_id: Uuid,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: i64,
    /// Commands to paste on the development server.
    pub install: String,
    /// The token's id in `server token list` (to revoke it by).
    #[serde(default)]
    pub id: String,
    /// The server it may replace, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RegisterServer {
    /// The one-time `orcreg_` token.
    pub token: String,
    pub name: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub hostname: String,
    /// Repository name → path on that machine.
    #[serde(default)]
    pub repos: BTreeMap<String, String>,
    #[serde(default)]
    pub languages: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    pub server_id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    /// The server's `orc_` key. Shown once.
    pub api_key: String,
}

/// Body of `POST /tasks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreateTask {
    pub title: String,
    /// Project id or name; defaults to the caller's project or the only project.
    pub project: Option<String>,
    #[serde(default)]
    pub spec: String,
    pub structured_spec: Option<Value>,
    pub priority: Option<Priority>,
    pub repo: Option<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    /// Pinned server name.
    pub agent: Option<String>,
    pub os: Option<String>,
    /// Task references; each becomes a `blocks` dependency.
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub require_plan_approval: bool,
    #[serde(default)]
    pub orchestrator: bool,
    /// Keep the agent running after the task is closed (default: its session ends).
    #[serde(default)]
    pub keep_session: bool,
    /// Name in a pipeline file (1–64 of letters, digits, `_ - . + #`), unique in a project:
    /// a create with a key that already names a task is refused with 409 and names that task
    /// (`pipeline apply` looks its keys up first, so applying a file twice creates nothing).
    pub pipeline_key: Option<String>,
    /// What its worktree starts from: a branch or commit, or `upstream` (the branch of the
    /// task it `blocks`-depends on). Default: the repo's current branch.
    pub base: Option<String>,
    /// Start from this task's branch (a task reference); implies a `blocks` dependency on it.
    pub base_from: Option<String>,
    /// Its branch name (default `orc/T7-title-slug`).
    pub branch: Option<String>,
}

/// Body of `PATCH /tasks/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateTask {
    pub title: Option<String>,
    pub spec: Option<String>,
    pub structured_spec: Option<Value>,
    pub priority: Option<Priority>,
    pub repo: Option<String>,
    pub languages: Option<Vec<String>>,
    pub agent: Option<String>,
    /// Keep the agent running after the task is closed.
    pub keep_session: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
pub struct TaskFilter {
    /// One status, or several separated by commas; `blocked` selects blocked pending tasks.
    pub status: Option<String>,
    /// Project id or name.
    pub project: Option<String>,
    /// Server name.
    pub server: Option<String>,
}

/// Body of `POST /tasks/{id}/dependencies`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddDependency {
    /// The upstream task reference.
    pub depends_on: String,
    #[serde(rename = "type", default = "default_dep_type")]
    pub dep_type: DepType,
    pub contract_key: Option<String>,
    /// `blocks` only: `merged` holds the downstream until the upstream's branch is merged.
    #[serde(default)]
    pub after: Option<DependencyAfter>,
}

fn default_dep_type() -> DepType {
    DepType::Blocks
}

/// Body of `POST /tasks/{id}/dependencies/remove`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RemoveDependency {
    pub depends_on: String,
    #[serde(rename = "type")]
    pub dep_type: Option<DepType>,
    pub contract_key: Option<String>,
}

/// Body of `POST /tasks/{id}/assign`. `session` is a server name (a session starts there),
/// as in docs/WORKFLOWS.md workflow 2.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AssignTask {
    pub session: Option<String>,
    /// Server id or name, same as `session`.
    pub server: Option<String>,
}

/// The result an agent reports on completion.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct TaskResult {
    #[serde(default)]
    pub summary: String,
    pub changes: Option<String>,
    pub tests: Option<String>,
}

/// Body of `POST /tasks/{id}/complete`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CompleteTask {
    pub result: TaskResult,
    /// Contract key → data; published as `{status: fulfilled, data}`.
    #[serde(default)]
    pub contracts: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FailTask {
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AskHelp {
    pub question: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Respond {
    pub response: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubmitPlan {
    pub content: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RejectPlan {
    pub feedback: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddNote {
    pub text: String,
}

/// Body of `POST /permissions`: a tool call the agent wants to make.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestPermission {
    /// Task reference; defaults to the session token's task.
    pub task: Option<String>,
    pub tool_name: String,
    #[serde(default)]
    pub tool_input: Value,
}

impl RequestPermission {
    /// A request to run `command` with the Bash tool (what Claude Code's hook asks most).
    pub fn bash(command: impl Into<String>) -> RequestPermission {
        RequestPermission {
            task: None,
            tool_name: "Bash".into(),
            tool_input: serde_json::json!({ "command": command.into() }),
        }
    }
}

/// Body of `POST /sessions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateSession {
    /// Server id or name.
    pub server_id: String,
    /// Task reference; without one the session is interactive.
    pub task_id: Option<String>,
    pub working_dir: Option<String>,
}

/// Long-poll parameter: wait up to this long (e.g. `30s`) for a change before answering.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
pub struct WaitParam {
    pub wait: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
pub struct StatusFilter {
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
pub struct EventQuery {
    /// Only events after this one: 0, or the `cursor` of the previous page. Pages follow the
    /// order events became readable in, which on PostgreSQL is not always the id order.
    pub after: Option<i64>,
    /// Task references, comma-separated.
    pub task: Option<String>,
    /// Project id or name.
    pub project: Option<String>,
    /// Event names, comma-separated.
    pub kind: Option<String>,
    pub limit: Option<i64>,
    /// Wait up to this long (e.g. `25s`) for a first matching event.
    pub wait: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Pass as `after` to continue: the id of the page's last event (not the largest id).
    pub cursor: i64,
}

/// One server considered for a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Candidate {
    pub server_id: Uuid,
    pub server: String,
    pub status: ServerStatus,
    /// Present when eligible.
    pub score: Option<i64>,
    /// Present when disqualified.
    pub disqualified: Option<String>,
    /// How the score was made, one line per part.
    pub breakdown: Vec<String>,
    pub winner: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Explanation {
    pub task_id: Uuid,
    #[serde(rename = "task_ref")]
    pub task_reference: String,
    pub requirements: Value,
    pub candidates: Vec<Candidate>,
    pub winner: Option<String>,
}

/// A node of the graph read model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GraphNode {
    pub id: Uuid,
    #[serde(rename = "ref")]
    pub reference: String,
    pub title: String,
    pub status: TaskStatus,
    pub blocked: bool,
    pub blocked_reason: Option<String>,
    pub server: Option<String>,
    pub repo: Option<String>,
    pub agent: Option<String>,
    pub languages: Vec<String>,
    /// Longest path from a root; given for every node, meaningful for pending ones.
    pub layer: i64,
    /// The cascade wave that released it.
    pub phase: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GraphEdge {
    pub from: Uuid,
    pub to: Uuid,
    #[serde(rename = "type")]
    pub dep_type: DepType,
    pub contract_key: Option<String>,
    pub resolved: bool,
    /// `merged`: the edge is met only once the upstream's branch is merged.
    #[serde(default = "crate::model::after_done")]
    pub after: DependencyAfter,
}

/// One wave of the cascade: the tasks it released and what released them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GraphPhase {
    pub phase: i64,
    /// Task refs released in this wave (empty for the closing "all done" phase).
    pub released: Vec<String>,
    /// `manual` (an assignment by hand), `cascade` or `done`.
    pub trigger: String,
    /// The completed task whose cascade released them.
    pub released_by: Option<String>,
    /// Tasks that completed in this wave (only for the closing phase).
    pub completed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Graph {
    pub project_id: Uuid,
    pub project: String,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    /// Pending tasks grouped by layer.
    pub layers: Vec<Vec<String>>,
    pub phases: Vec<GraphPhase>,
    pub all_done: bool,
}

/// Body of `POST /sessions/{id}/agent-event`: what an agent's hook saw. The hub turns it
/// into the session's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentEvent {
    pub event: HookEvent,
    /// `Notification`: `permission_prompt`, `idle_prompt`, …
    #[serde(default)]
    pub notification_type: Option<String>,
    /// `SessionStart`: `startup`, `resume`, `clear` or `compact`.
    #[serde(default)]
    pub source: Option<String>,
    /// `PreToolUse` / `PostToolUse`: the tool.
    #[serde(default)]
    pub tool_name: Option<String>,
    /// What the agent said (a notification's message, the last message of a turn).
    #[serde(default)]
    pub message: Option<String>,
    /// The agent's conversation id (Claude Code's `session_id`); it changes on `/clear`.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// `UserPromptSubmit`: the prompt the agent took.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Claude Code's transcript of the conversation (JSON lines): the daemon reads the
    /// session's token usage from it.
    #[serde(default)]
    pub transcript_path: Option<String>,
}

/// Body of `POST /sessions/{id}/message`: text for an idle agent, submitted as its prompt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SendMessage {
    pub text: String,
}

/// A message submitted to an agent as a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentMessage {
    pub id: Uuid,
    pub session_id: Uuid,
    pub session: String,
    pub text: String,
    /// `admin` (sent by a person) or `answer` / `plan` (a late answer, delivered for a caller
    /// that was gone).
    pub kind: String,
    /// Whether the agent took it (its prompt hook saw it).
    pub taken: bool,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// Body of `POST /sessions/{id}/stop`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StopSession {
    #[serde(default)]
    pub reason: Option<String>,
}

/// One piece of a session's recording: output chunk `seq`, or the keyframe valid after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordingChunk {
    pub seq: u64,
    pub keyframe: bool,
    /// The bytes, base64 (standard alphabet).
    pub data: String,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: i64,
}

impl RecordingChunk {
    /// A recording (in replay order) as a terminal is to be fed: its first chunk (output 1,
    /// or the keyframe a trimmed recording starts with), then output only; later keyframes
    /// repeat what the output already drew.
    pub fn to_replay(chunks: &[RecordingChunk]) -> impl Iterator<Item = &RecordingChunk> {
        chunks
            .iter()
            .enumerate()
            .filter(|(i, c)| *i == 0 || !c.keyframe)
            .map(|(_, c)| c)
    }

    /// The decoded bytes.
    pub fn bytes(&self) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(&self.data)
            .unwrap_or_default()
    }
}

/// A page of a session's recording, in replay order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Recording {
    pub session_id: Uuid,
    pub chunks: Vec<RecordingChunk>,
    /// Pass as `after` for the next page (`None`: this was the last).
    pub next_after: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
pub struct RecordingQuery {
    /// Only what follows output chunk `after`.
    pub after: Option<u64>,
    pub limit: Option<i64>,
}

/// What waits for a human (`GET /inbox`), built from the three lists by one pure function.
pub use crate::inbox::{Inbox, InboxEntry, InboxItem, downstream_counts};
pub use crate::policy::requests::{
    AllowPermission, AllowScope, DenyPermission, NewRule, PolicyTest, RulesFilter,
};
pub use crate::usage::SetBudget;
