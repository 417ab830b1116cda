//! One agent session, laid out as Buildkite's agent splits its job runner:
//!
//! - `files`: the session's files and the state that survives a daemon restart;
//! - `launch`: the launch: working dir, script, environment, Claude Code's preparations, and
//!   the terminal it runs in;
//! - `start`: starting a session, and bringing one back after a restart;
//! - `terminal`: the terminal: PTY threads, tmux calls, typing into it, signals;
//! - `recorder`: the recording: numbered output chunks, screens and keyframes;
//! - `runner`: the task that runs a started session, from its commands to its end;
//! - `stop`: ending the agent step by step (asked to exit, SIGTERM, SIGKILL).
//!
//! The agent runs in its own tmux session (or, without tmux, directly in a PTY); a tmux client
//! attached through a PTY gives the daemon the rendered terminal, whose bytes go to the hub as
//! numbered chunks.

pub mod files;
pub mod launch;
mod recorder;
mod runner;
mod start;
mod stop;
pub mod terminal;

use std::path::PathBuf;
use std::sync::Arc;

use orchestratia_proto::SessionState;
use tokio::sync::mpsc;
use uuid::Uuid;

pub use files::{Files, State};
pub use start::{recover, resumable, resume_lost, start};

use super::claude::Settings;
use super::config::AgentConfig;
use super::outbox::Outbox;
use super::tmux::Tmux;
use super::workspace::Workspaces;

/// Initial terminal width of a session (a console resizes it).
pub const COLS: u16 = 120;
/// Initial terminal height of a session.
pub const ROWS: u16 = 40;

/// What every session needs from the daemon.
pub struct Env {
    pub outbox: Arc<Outbox>,
    /// `None`: the plain PTY runner.
    pub tmux: Option<Tmux>,
    pub state_dir: PathBuf,
    pub config: Arc<AgentConfig>,
    pub claude: Arc<Settings>,
    /// The `orchestratia` CLI next to this daemon (put first on the agent's PATH).
    pub cli: PathBuf,
    /// Sessions tell the manager here when they end.
    pub ended: mpsc::UnboundedSender<Uuid>,
    /// Tasks' git worktrees.
    pub workspaces: Arc<Workspaces>,
}

/// What a session is told by the daemon.
#[derive(Debug)]
pub enum Cmd {
    Input(Vec<u8>),
    Resize {
        cols: u16,
        rows: u16,
    },
    Keyframe,
    /// End the agent: asked to exit, then signalled (see [`HubToDaemon::SessionStop`]).
    ///
    /// [`HubToDaemon::SessionStop`]: orchestratia_proto::ws::HubToDaemon::SessionStop
    Stop {
        reason: String,
        finish: bool,
    },
    /// The hub's last stored chunk (continue numbering after it), and the agent's state.
    Resume {
        last_seq: u64,
        state: Option<SessionState>,
        conversation_id: Option<String>,
    },
    /// The agent's state changed (its hooks told the hub); with the conversation's
    /// transcript when the hook reported it (its usage is read from it).
    AgentState {
        state: SessionState,
        conversation_id: Option<String>,
        transcript_path: Option<String>,
    },
    /// Submit text to the agent as its next prompt.
    Prompt {
        id: Uuid,
        text: String,
    },
}

/// A running session, as the manager holds it.
#[derive(Debug, Clone)]
pub struct Handle {
    pub id: Uuid,
    pub name: String,
    pub tmux: Option<String>,
    pub pid: Option<i64>,
    pub tx: mpsc::UnboundedSender<Cmd>,
}
