//! One agent session, as Buildkite's agent splits a job: its files and state (`files`), the
//! launch (`launch`: working dir, script, environment, Claude Code's preparations), the
//! terminal (`terminal`: PTY threads, tmux calls, signals) and the actor that streams it and
//! ends it (`actor`).
//!
//! The agent runs in its own tmux session (or, without tmux, directly in a PTY); a tmux client
//! attached through a PTY gives the daemon the rendered terminal, whose bytes go to the hub as
//! numbered chunks.

mod actor;
pub mod files;
pub mod launch;
pub mod terminal;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use orchestratia_proto::SessionState;
use orchestratia_proto::ws::{DaemonToHub, SessionStart, TaskPayload};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

pub use files::{Files, State};

use super::claude::{self, Conversation, Settings};
use super::config::AgentConfig;
use super::outbox::Outbox;
use super::tmux::Tmux;

/// Initial terminal size of a session (a console resizes it).
pub const COLS: u16 = 120;
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
    /// The agent's state changed (its hooks told the hub).
    AgentState {
        state: SessionState,
        conversation_id: Option<String>,
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

/// Starts a session the hub asked for. An error is why it could not (the manager reports it,
/// and the hub fails the task with it).
pub async fn start(env: Arc<Env>, s: SessionStart) -> anyhow::Result<Handle> {
    let files = Files::new(&env.state_dir, &s.name);
    let dir = launch::working_dir(&env, &s).map_err(anyhow::Error::msg)?;
    let is_claude = env.config.is_claude();
    if is_claude {
        launch::check_claude(&env).map_err(anyhow::Error::msg)?;
    }
    std::fs::create_dir_all(&files.dir)
        .with_context(|| format!("creating {}", files.dir.display()))?;
    let task: Option<&TaskPayload> = s.task.as_ref();
    if let Some(t) = task {
        std::fs::write(files.task(), serde_json::to_string_pretty(t)?)?;
        std::fs::write(files.prompt(), super::prompt::render(t))?;
    } else {
        std::fs::write(files.prompt(), "An interactive session.\n")?;
    }
    std::fs::write(files.resume_prompt(), claude::RESUME_PROMPT)?;
    let bin_dir = env.cli.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::write(
        files.script(),
        launch::script(&files, env.tmux.as_ref(), &s.name, &bin_dir),
    )?;
    let conversation = is_claude.then(|| Uuid::new_v4().to_string());
    let warnings = if is_claude {
        launch::prepare_claude(&env, &dir)
    } else {
        Vec::new()
    };
    let vars = launch::environment(
        &env,
        &s,
        &files,
        conversation.clone().map(Conversation::New).as_ref(),
    );
    let state = State {
        session_id: s.session_id,
        name: s.name.clone(),
        task_id: s.task.as_ref().map(|t| t.id),
        working_dir: dir,
        seq: 0,
        screen: Vec::new(),
        claude: is_claude,
        conversation_id: conversation,
        vars,
    };
    files.save_state(&state);
    warn(&env, &state, warnings);
    let (terminal, pid) = launch::spawn(&env, &files, &state).await?;
    env.outbox.control(DaemonToHub::SessionActive {
        session_id: s.session_id,
        pid,
        tmux: env.tmux.as_ref().map(|_| s.name.clone()),
        hooks: is_claude,
    });
    Ok(actor::spawn(env, files, state, terminal, pid, None, false))
}

/// Tells the admin (through the hub) what could not be prepared for a session.
fn warn(env: &Env, state: &State, warnings: Vec<String>) {
    for w in warnings {
        tracing::warn!(session = %state.name, "{w}");
        env.outbox.control(DaemonToHub::SessionWarning {
            session_id: state.session_id,
            message: w,
        });
    }
}

/// When a session that came back (reattached or resumed) turns active again.
pub(super) fn grace(env: &Env) -> Instant {
    Instant::now() + Duration::from_secs(env.config.recovery_grace_secs)
}

/// The actor of a session that came back: `recovering` for the grace period, its output held
/// until the hub says where numbering continues.
fn came_back(
    env: Arc<Env>,
    files: Files,
    state: State,
    terminal: terminal::Terminal,
    pid: Option<i64>,
) -> Handle {
    let until = grace(&env);
    actor::spawn(env, files, state, terminal, pid, Some(until), true)
}

/// Reattaches to a session that survived a daemon restart (Flow 7): it reports
/// `session_recovered`, waits for the hub's `resume`, and turns active after the grace period.
pub async fn recover(env: Arc<Env>, state: State) -> anyhow::Result<Handle> {
    let tmux = env.tmux.clone().context("recovery needs tmux")?;
    let files = Files::new(&env.state_dir, &state.name);
    if state.claude {
        warn(
            &env,
            &state,
            launch::prepare_claude(&env, &state.working_dir),
        );
    }
    // If the daemon died before letting the agent start, it starts now.
    let (terminal, pid) = launch::attach(&tmux, &state).await?;
    env.outbox.control(DaemonToHub::SessionRecovered {
        session_id: state.session_id,
        tmux: state.name.clone(),
        how: Some("reattached to its tmux session, which kept running".into()),
    });
    Ok(came_back(env, files, state, terminal, pid))
}

/// Whether a session lost with its terminal (a reboot, the tmux server killed) can have its
/// agent started again on its own conversation: Claude Code with a conversation id, which had
/// not exited by itself.
pub fn resumable(env: &Env, state: &State) -> bool {
    env.tmux.is_some()
        && state.claude
        && state.conversation_id.is_some()
        && !state.vars.is_empty()
        && Files::new(&env.state_dir, &state.name)
            .exit_code()
            .is_none()
}

/// Starts the agent of a session whose terminal was lost again, resuming its conversation in
/// the same working dir (`--resume ID` with a prompt to carry on); reports how. `install`:
/// this daemon process has not installed the session's hook settings yet (after a restart).
pub async fn resume(
    env: &Env,
    files: &Files,
    state: &mut State,
    install: bool,
) -> anyhow::Result<(terminal::Terminal, Option<i64>)> {
    let id = state
        .conversation_id
        .clone()
        .context("no conversation to resume")?;
    let command = launch::agent_command(env, Some(&Conversation::Resume(id.clone())));
    state.vars = launch::with_command(&state.vars, command);
    let warnings = if install {
        launch::prepare_claude(env, &state.working_dir)
    } else {
        launch::trust(&state.working_dir).into_iter().collect()
    };
    warn(env, state, warnings);
    files.save_state(state);
    let (terminal, pid) = launch::spawn(env, files, state).await?;
    env.outbox.control(DaemonToHub::SessionRecovered {
        session_id: state.session_id,
        tmux: state.name.clone(),
        how: Some(format!(
            "its terminal was gone (a reboot, or the tmux server ended): Claude Code was started again in {}, resuming its conversation {id}",
            state.working_dir.display()
        )),
    });
    Ok((terminal, pid))
}

/// After a restart, a session lost with its terminal: its agent starts again on its own
/// conversation.
pub async fn resume_lost(env: Arc<Env>, mut state: State) -> anyhow::Result<Handle> {
    let files = Files::new(&env.state_dir, &state.name);
    let (terminal, pid) = resume(&env, &files, &mut state, true).await?;
    Ok(came_back(env, files, state, terminal, pid))
}
