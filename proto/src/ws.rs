//! The WebSocket protocols: daemon ⇄ hub (`/api/v1/daemon/ws`) and console ⇄ hub
//! (`/api/v1/console/ws`). Control messages are JSON text frames tagged by `type`; terminal
//! bytes travel in binary frames (see [`Frame`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::model::{Event, SessionState, TaskStatus};
use crate::workspace::{WorkspaceAnswer, WorkspaceOp, WorkspaceReport, WorkspaceStart};

/// Path of the daemon WebSocket.
pub const DAEMON_WS_PATH: &str = "/api/v1/daemon/ws";
/// Path of the console WebSocket.
pub const CONSOLE_WS_PATH: &str = "/api/v1/console/ws";

/// What a daemon is told to run: the task as the agent receives it (with its resolved inputs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskPayload {
    pub id: Uuid,
    #[serde(rename = "ref")]
    pub reference: String,
    pub title: String,
    pub spec: String,
    pub structured_spec: Option<Value>,
    pub priority: String,
    pub repo: Option<String>,
    pub languages: Vec<String>,
    pub require_plan_approval: bool,
    pub orchestrator: bool,
    pub resolved_inputs: BTreeMap<String, Value>,
    /// Review comments not yet delivered, as one message (a retried task's agent reads them
    /// in its prompt).
    #[serde(default)]
    pub review: Option<String>,
}

/// Everything a daemon needs to start a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStart {
    pub session_id: Uuid,
    /// `orc-xxxxxx`: the tmux session name too.
    pub name: String,
    pub task: Option<TaskPayload>,
    /// The repo's path on the server, when the task names a repo the server has.
    pub working_dir: Option<String>,
    /// A token scoped to this session's task (`ORCHESTRATIA_TOKEN`).
    pub token: String,
    /// The hub URL the agent should use (`ORCHESTRATIA_HUB`).
    pub hub_url: String,
    /// A worktree of its own, when `working_dir` is a git repository.
    #[serde(default)]
    pub workspace: Option<WorkspaceStart>,
}

/// A session the daemon is running, as it reports on connect and in heartbeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningSession {
    pub session_id: Uuid,
    pub tmux: Option<String>,
    pub pid: Option<i64>,
}

/// Hub → daemon control messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubToDaemon {
    /// First message after the upgrade.
    Welcome {
        server_id: Uuid,
        name: String,
        heartbeat_interval_ms: u64,
        offline_after_ms: u64,
    },
    /// A task was assigned to this server; a `session_start` follows.
    TaskAssigned { task: TaskPayload, session_id: Uuid },
    /// Start a session.
    SessionStart(SessionStart),
    /// Stop a session. The agent is asked to exit on its own (Claude Code: `/exit`), then its
    /// processes are ended after a grace period; the recording is kept. `finish`: its task is
    /// closed, so a turn in progress may end first, and a daemon set to keep finished sessions
    /// keeps it; otherwise (cancelled, reassigned, stopped by an admin) it stops now.
    SessionStop {
        session_id: Uuid,
        reason: String,
        #[serde(default)]
        finish: bool,
    },
    /// The agent's state changed (its hooks told the hub), and with it maybe its
    /// conversation id: the daemon waits for a turn to end before finishing a session, and
    /// resumes the newest conversation after a reboot.
    AgentState {
        session_id: Uuid,
        state: SessionState,
        conversation_id: Option<String>,
        /// The conversation's transcript, as the agent's hook reported it (sent when it is
        /// known and the state changed or a turn ended): the daemon reads usage from it.
        #[serde(default)]
        transcript_path: Option<String>,
    },
    /// Submit `text` to the agent as its next prompt (it is idle); its prompt hook confirms.
    SessionPrompt {
        session_id: Uuid,
        prompt_id: Uuid,
        text: String,
    },
    /// Resize a session's terminal.
    SessionResize {
        session_id: Uuid,
        cols: u16,
        rows: u16,
    },
    /// Send a keyframe of this session's screen (a console joined).
    KeyframeRequest { session_id: Uuid },
    /// The session's output chunks up to `seq` are stored: the daemon may forget them. Chunks
    /// sent but not yet acknowledged are sent again after a reconnect (the hub keeps one copy
    /// of each `seq`), so a hub replica that dies with chunks in memory loses none.
    OutputStored { session_id: Uuid, seq: u64 },
    /// A human answered a question.
    InterventionResponse {
        intervention_id: Uuid,
        task_id: Uuid,
        response: String,
    },
    /// A plan was approved or rejected.
    PlanDecision {
        plan_id: Uuid,
        task_id: Uuid,
        approved: bool,
        feedback: Option<String>,
    },
    /// A permission request was allowed or denied.
    PermissionDecision {
        request_id: Uuid,
        task_id: Option<Uuid>,
        allowed: bool,
        reason: Option<String>,
    },
    /// A task of an orchestrator session's project changed status.
    TaskStatusUpdate {
        session_id: Uuid,
        task_id: Uuid,
        #[serde(rename = "ref")]
        reference: String,
        status: TaskStatus,
    },
    /// A task's spec changed while it runs.
    TaskUpdated { task: TaskPayload },
    /// Answer to `hello` for each session the daemon still runs: the last output chunk the hub
    /// has, so numbering continues after it across a daemon restart, and the agent's state.
    Resume {
        session_id: Uuid,
        last_seq: u64,
        #[serde(default)]
        state: Option<SessionState>,
        #[serde(default)]
        conversation_id: Option<String>,
        /// An agent lost with its terminal (a reboot) may be started again on its
        /// conversation: its task is still open, or it has none. When false the daemon ends
        /// the session instead. Absent (an older hub): true.
        #[serde(default = "resume_by_default")]
        resume_agent: bool,
    },
    /// Do something with a task's workspace; answered by `DaemonToHub::WorkspaceReply`
    /// with the same `request_id`.
    Workspace {
        request_id: Uuid,
        task_id: Uuid,
        op: WorkspaceOp,
    },
    /// The hub refused a message.
    Error { error: String, detail: String },
}

/// An older hub's `resume` says nothing about the task: the agent resumes, as it did then.
fn resume_by_default() -> bool {
    true
}

/// Daemon → hub control messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DaemonToHub {
    /// First message: who we are and what still runs (for recovery after a restart).
    Hello {
        version: String,
        sessions: Vec<RunningSession>,
    },
    Heartbeat {
        sessions: Vec<RunningSession>,
    },
    /// The agent process runs. `hooks`: the agent reports its
    /// state through hooks (Claude Code), so it stays `starting` until the first one.
    SessionActive {
        session_id: Uuid,
        pid: Option<i64>,
        tmux: Option<String>,
        #[serde(default)]
        hooks: bool,
    },
    /// Came back to a session after a daemon restart (docs/WORKFLOWS.md, workflow 7):
    /// reattached to its tmux session, or, when that was lost (a reboot), the agent restarted
    /// on its own conversation; `how` says which.
    SessionRecovered {
        session_id: Uuid,
        tmux: String,
        #[serde(default)]
        how: Option<String>,
    },
    /// The agent process exited. `reason`: why it never started (the hub fails its task with
    /// this reason rather than the screen).
    SessionEnded {
        session_id: Uuid,
        exit_code: Option<i64>,
        last_screen: Option<String>,
        #[serde(default)]
        reason: Option<String>,
    },
    /// Something an admin should know about a session (it may stall: the daemon could not
    /// prepare Claude Code's config).
    SessionWarning {
        session_id: Uuid,
        message: String,
    },
    /// Rendered screen lines, every few seconds (previews, Telegram).
    SessionScreen {
        session_id: Uuid,
        lines: Vec<String>,
        cols: u16,
        rows: u16,
    },
    /// Output was dropped while the hub was away (the buffer's bound was hit).
    OutputLost {
        session_id: Uuid,
        bytes: u64,
    },
    /// A workspace as it is now: made, its session ended, or found again after a restart.
    WorkspaceReport {
        report: WorkspaceReport,
    },
    /// The answer to `HubToDaemon::Workspace`.
    WorkspaceReply {
        request_id: Uuid,
        answer: WorkspaceAnswer,
    },
    /// A session's model usage so far (totals, not an increment: sending it twice is
    /// harmless), read from its agent's transcript.
    Usage {
        session_id: Uuid,
        usage: crate::usage::Usage,
    },
}

/// Console → hub control messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConsoleToHub {
    /// Stream this session: a keyframe, then the chunks after it.
    Subscribe {
        session_id: Uuid,
    },
    Unsubscribe {
        session_id: Uuid,
    },
    Resize {
        session_id: Uuid,
        cols: u16,
        rows: u16,
    },
}

/// Hub → console control messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubToConsole {
    /// First message: the id of the newest event, to resume from.
    Hello {
        cursor: i64,
    },
    /// A new event of the timeline.
    Event {
        event: Event,
    },
    /// A session's rendered screen lines (previews).
    SessionScreen {
        session_id: Uuid,
        task_id: Option<Uuid>,
        lines: Vec<String>,
        cols: u16,
        rows: u16,
    },
    /// A session's agent state changed.
    SessionState {
        session_id: Uuid,
        task_id: Option<Uuid>,
        state: SessionState,
    },
    /// A subscribed session cannot stream (offline daemon, ended, unknown).
    SessionUnavailable {
        session_id: Uuid,
        reason: String,
    },
    /// The console fell behind and missed events: read the state again over REST.
    Resync {
        missed: u64,
    },
    Error {
        error: String,
        detail: String,
    },
}

/// Kinds of binary frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// Terminal output, numbered from 1 per session.
    Output = 1,
    /// Input for the terminal (console → hub → daemon).
    Input = 2,
    /// A keyframe: the screen as escape sequences, valid after output chunk `seq`.
    Keyframe = 3,
}

/// A binary frame: `[kind: u8][session id: 16 bytes][seq: u64 BE][payload]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    pub session_id: Uuid,
    pub seq: u64,
    pub data: Vec<u8>,
}

/// The header length of a binary frame.
pub const FRAME_HEADER: usize = 1 + 16 + 8;

impl Frame {
    /// Encodes the frame for a binary WebSocket message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FRAME_HEADER + self.data.len());
        out.push(self.kind as u8);
        out.extend_from_slice(self.session_id.as_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.data);
        out
    }

    /// Decodes a binary WebSocket message; `None` when it is not a frame.
    pub fn decode(bytes: &[u8]) -> Option<Frame> {
        if bytes.len() < FRAME_HEADER {
            return None;
        }
        let kind = match bytes[0] {
            1 => FrameKind::Output,
            2 => FrameKind::Input,
            3 => FrameKind::Keyframe,
            _ => return None,
        };
        let session_id = Uuid::from_slice(&bytes[1..17]).ok()?;
        let seq = u64::from_be_bytes(bytes[17..25].try_into().ok()?);
        Some(Frame {
            kind,
            session_id,
            seq,
            data: bytes[FRAME_HEADER..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let f = Frame {
            kind: FrameKind::Output,
            session_id: Uuid::new_v4(),
            seq: 42,
            data: b"hello\x1b[0m".to_vec(),
        };
        assert_eq!(Frame::decode(&f.encode()), Some(f));
        assert_eq!(Frame::decode(&[9; 30]), None);
        assert_eq!(Frame::decode(&[1; 5]), None);
    }

    #[test]
    fn messages_are_tagged() {
        let m = DaemonToHub::SessionActive {
            session_id: Uuid::nil(),
            pid: Some(7),
            tmux: Some("orc-abcdef".into()),
            hooks: false,
        };
        let v = serde_json::to_value(&m).unwrap_or_default();
        assert_eq!(v["type"], "session_active");
    }

    #[test]
    fn an_older_hubs_resume_lets_the_agent_resume() {
        let old =
            r#"{"type":"resume","session_id":"00000000-0000-0000-0000-000000000000","last_seq":3}"#;
        let m: Result<HubToDaemon, _> = serde_json::from_str(old);
        assert!(
            matches!(
                m,
                Ok(HubToDaemon::Resume {
                    resume_agent: true,
                    last_seq: 3,
                    ..
                })
            ),
            "{m:?}"
        );
    }
}
