//! Starting a session the hub asked for (its files, script and environment written, its
//! terminal opened, its runner spawned), and bringing a session back after a daemon restart:
//! reattached to its tmux session, or its agent started again on its conversation when the
//! terminal was lost.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use orchestratia_proto::ws::{DaemonToHub, SessionStart, TaskPayload};
use tokio::time::Instant;
use uuid::Uuid;

use super::files::{Files, State};
use super::terminal::Terminal;
use super::{Env, Handle, launch, runner};
use crate::daemon::claude::{self, Conversation};

/// Starts a session the hub asked for. An error is why it could not (the manager reports it,
/// and the hub fails the task with it).
pub async fn start(env: Arc<Env>, s: SessionStart) -> anyhow::Result<Handle> {
    let files = Files::new(&env.state_dir, &s.name);
    let mut dir = launch::working_dir(&env, &s).map_err(anyhow::Error::msg)?;
    let workspace = workspace(&env, &s, &dir).await?;
    if let Some(c) = &workspace {
        dir = c.working_dir.clone();
    }
    let is_claude = env.config.is_claude();
    if is_claude {
        launch::check_claude(&env).map_err(anyhow::Error::msg)?;
    }
    std::fs::create_dir_all(&files.dir)
        .with_context(|| format!("creating {}", files.dir.display()))?;
    let task: Option<&TaskPayload> = s.task.as_ref();
    if let Some(t) = task {
        std::fs::write(files.task(), serde_json::to_string_pretty(t)?)?;
        std::fs::write(files.prompt(), crate::daemon::prompt::render(t))?;
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
    if let Some(c) = workspace {
        warn(&env, &state, c.warning.into_iter().collect());
        report_workspace(&env, c.entry.task_id).await;
    }
    let (terminal, pid) = launch::spawn(&env, &files, &state).await?;
    env.outbox.control(DaemonToHub::SessionActive {
        session_id: s.session_id,
        pid,
        tmux: env.tmux.as_ref().map(|_| s.name.clone()),
        hooks: is_claude,
    });
    Ok(runner::spawn(env, files, state, terminal, pid, None, false))
}

/// Makes (or finds again) the task's worktree when the hub asked for one and the repo is a
/// git repository; `None` otherwise (the agent works in the repo itself, as before).
async fn workspace(
    env: &Env,
    s: &SessionStart,
    dir: &Path,
) -> anyhow::Result<Option<crate::daemon::workspace::Created>> {
    let (Some(w), Some(t), Some(_)) = (&s.workspace, &s.task, &s.working_dir) else {
        return Ok(None);
    };
    let (ws, w, task_id, repo, dir) = (
        env.workspaces.clone(),
        w.clone(),
        t.id,
        t.repo.clone(),
        dir.to_path_buf(),
    );
    let made = tokio::task::spawn_blocking(move || ws.create(task_id, repo.as_deref(), &dir, &w))
        .await
        .context("the worktree could not be made")?
        .map_err(anyhow::Error::msg)?;
    if let Some(c) = &made {
        tracing::info!(
            task = %c.entry.reference,
            path = %c.entry.path.display(),
            reused = c.reused,
            "worktree ready"
        );
    }
    Ok(made)
}

/// Sends the hub the report of a task's worktree, when this daemon has one.
pub(super) async fn report_workspace(env: &Env, task_id: Uuid) {
    let ws = env.workspaces.clone();
    if let Ok(Some(report)) = tokio::task::spawn_blocking(move || ws.report(task_id)).await {
        env.outbox.control(DaemonToHub::WorkspaceReport { report });
    }
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

/// The runner of a session that came back: `recovering` for the grace period, its output held
/// until the hub says where numbering continues.
fn came_back(
    env: Arc<Env>,
    files: Files,
    state: State,
    terminal: Terminal,
    pid: Option<i64>,
) -> Handle {
    let until = grace(&env);
    runner::spawn(env, files, state, terminal, pid, Some(until), true)
}

/// Reattaches to a session that survived a daemon restart: it reports
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
) -> anyhow::Result<(Terminal, Option<i64>)> {
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
