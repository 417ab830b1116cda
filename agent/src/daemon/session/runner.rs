//! The task that runs a session once its agent is started: it feeds the terminal's output to
//! the [`Recorder`], passes input and resizes on, submits prompts, notices the agent's exit,
//! attaches again to a tmux session whose client ended (or starts a lost agent again on its
//! conversation), ends the agent when told (see `stop`), reads the agent's usage from its
//! transcript (when its hook reported one, then every few seconds while it runs), and reports
//! the session ended.

use std::sync::Arc;
use std::time::Duration;

use orchestratia_proto::SessionState;
use orchestratia_proto::usage::Usage;
use orchestratia_proto::ws::DaemonToHub;
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use super::super::claude::prices::Prices;
use super::super::claude::transcript::{SessionUsage, transcript_path};
use super::files::{Files, State};
use super::recorder::Recorder;
use super::stop::Ending;
use super::terminal::{Terminal, open_terminal, paste_and_enter, pty_size, tmux_call};
use super::{Cmd, Env, Handle, start};

/// How often the rendered screen is sent, when it changed.
const SCREEN_EVERY: Duration = Duration::from_secs(5);
/// A reattached session waits this long for the hub's `resume` before numbering on its own.
const RESUME_WAIT: Duration = Duration::from_secs(5);
/// How often the agent's transcript is read for new model calls, once it is known.
const USAGE_EVERY: Duration = Duration::from_secs(10);

/// Starts the runner of a session; `grace`: when a recovered session turns active; `hold`:
/// output waits for the hub's `resume` (after a reattach).
pub fn spawn(
    env: Arc<Env>,
    files: Files,
    state: State,
    terminal: Terminal,
    pid: Option<i64>,
    grace: Option<Instant>,
    hold: bool,
) -> Handle {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = Handle {
        id: state.session_id,
        name: state.name.clone(),
        tmux: env.tmux.as_ref().map(|_| state.name.clone()),
        pid,
        tx,
    };
    let runner = Runner {
        recorder: Recorder::new(env.outbox.clone(), &state, hold),
        hold_until: Instant::now() + RESUME_WAIT,
        grace,
        final_screen: None,
        released: false,
        pid,
        agent: None,
        ending: None,
        usage: Some(SessionUsage::default()),
        usage_sent: Usage::default(),
        prices: Arc::new(Prices::new(&env.config.prices)),
        env,
        files,
        state,
    };
    tokio::spawn(runner.run(terminal, rx));
    handle
}

/// One running session (see the module comment).
pub(super) struct Runner {
    pub(super) env: Arc<Env>,
    pub(super) files: Files,
    pub(super) state: State,
    recorder: Recorder,
    hold_until: Instant,
    /// When a recovered session turns active.
    grace: Option<Instant>,
    /// The pane's text when the agent exited (tmux).
    final_screen: Option<String>,
    /// The agent's script was let go after its exit.
    released: bool,
    /// The first process of the agent's terminal (its session leader).
    pub(super) pid: Option<i64>,
    /// The agent's state, as its hooks told the hub.
    pub(super) agent: Option<SessionState>,
    /// The agent is being ended.
    pub(super) ending: Option<Ending>,
    /// The agent's usage read from its transcripts (`None` only while being read).
    usage: Option<SessionUsage>,
    /// The usage last sent to the hub.
    usage_sent: Usage,
    prices: Arc<Prices>,
}

impl Runner {
    fn id(&self) -> Uuid {
        self.state.session_id
    }

    async fn run(mut self, mut terminal: Terminal, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
        let mut screen_tick = tokio::time::interval(SCREEN_EVERY);
        screen_tick.tick().await;
        let mut exit_poll = tokio::time::interval(Duration::from_millis(250));
        let mut usage_poll = tokio::time::interval(USAGE_EVERY);
        usage_poll.tick().await;
        let far = || Instant::now() + Duration::from_secs(3600);
        loop {
            let grace = self.grace;
            let hold_until = self.hold_until;
            let holding = self.recorder.holding();
            let ending_at = self.ending.as_ref().and_then(Ending::deadline);
            tokio::select! {
                out = terminal.output.recv() => match out {
                    Some(bytes) => self.recorder.output(bytes),
                    None => {
                        // The client is gone. If the agent still runs in tmux, attach again;
                        // if tmux lost it, start it again on its conversation.
                        if self.ending.is_none() && self.come_back(&mut terminal).await {
                            continue;
                        }
                        break;
                    }
                },
                cmd = cmds.recv() => match cmd {
                    Some(cmd) => self.command(cmd, &mut terminal).await,
                    None => {
                        // The daemon is shutting down: leave the agent running in tmux.
                        return;
                    }
                },
                _ = screen_tick.tick() => self.tick_screen(),
                _ = exit_poll.tick() => self.check_exit().await,
                _ = usage_poll.tick() => self.read_usage().await,
                _ = tokio::time::sleep_until(ending_at.unwrap_or_else(far)), if ending_at.is_some() => {
                    self.advance(&terminal.input.clone()).await;
                }
                _ = tokio::time::sleep_until(grace.unwrap_or_else(far)), if grace.is_some() => {
                    self.turn_active();
                }
                _ = tokio::time::sleep_until(hold_until), if holding => {
                    tracing::warn!(session = %self.state.name, "no resume from the hub; numbering from the saved state");
                    self.recorder.release_held();
                }
            }
        }
        self.finish(terminal).await;
    }

    /// What the daemon told the session.
    async fn command(&mut self, cmd: Cmd, terminal: &mut Terminal) {
        match cmd {
            Cmd::Input(bytes) => {
                let _ = terminal.input.send(bytes);
            }
            Cmd::Resize { cols, rows } => {
                if terminal.master.resize(pty_size(cols, rows)).is_ok() {
                    self.recorder.resize(cols, rows);
                }
            }
            Cmd::Keyframe => self.recorder.keyframe_requested(),
            Cmd::Resume {
                last_seq,
                state,
                conversation_id,
            } => {
                self.recorder.resume(last_seq);
                if state.is_some() {
                    self.agent = state;
                }
                self.conversation(conversation_id);
            }
            Cmd::AgentState {
                state,
                conversation_id,
                transcript_path,
            } => {
                self.agent = Some(state);
                self.conversation(conversation_id);
                if let Some(raw) = transcript_path {
                    self.follow_transcript(&raw).await;
                }
                let turn_over = state != SessionState::Working;
                if turn_over && self.ending.as_ref().is_some_and(Ending::waits_for_turn) {
                    self.advance(&terminal.input.clone()).await;
                }
            }
            Cmd::Prompt { id, text } => {
                if self.ending.is_none() {
                    tracing::info!(session = %self.state.name, prompt = %id, "submitting a prompt");
                    let file = self.files.paste();
                    let input = terminal.input.clone();
                    paste_and_enter(
                        self.env.tmux.as_ref(),
                        &self.state.name,
                        &file,
                        &text,
                        &input,
                    )
                    .await;
                }
            }
            Cmd::Stop { reason, finish } => {
                self.stop(reason, finish, &terminal.input.clone()).await
            }
        }
    }

    /// A recovered session's grace period is over: it is active again.
    fn turn_active(&mut self) {
        self.grace = None;
        self.env.outbox.control(DaemonToHub::SessionActive {
            session_id: self.id(),
            pid: self.pid,
            tmux: Some(self.state.name.clone()),
            hooks: self.state.claude,
        });
    }

    /// Every 5 s: the screen if it changed, and the recovery state.
    fn tick_screen(&mut self) {
        if self.recorder.send_screen() {
            self.save();
        }
    }

    fn save(&mut self) {
        self.recorder.save_to(&mut self.state);
        self.files.save_state(&self.state);
    }

    /// The agent exited (its status is in the exit file): read the final screen, let the
    /// script end (which ends the tmux session and the attached client).
    async fn check_exit(&mut self) {
        if self.released || self.files.exit_code().is_none() {
            return;
        }
        let Some(t) = self.env.tmux.clone() else {
            return;
        };
        let name = self.state.name.clone();
        if let Ok(Ok(screen)) = tmux_call(&t, move |t| t.capture(&name)).await {
            self.final_screen = Some(screen);
        }
        let release = format!("{}-release", self.state.name);
        let _ = tmux_call(&t, move |t| t.signal(&release)).await;
        self.released = true;
    }

    /// The agent's hook reported its transcript: read it (it may be a new conversation's).
    async fn follow_transcript(&mut self, raw: &str) {
        let Some(path) = transcript_path(raw) else {
            tracing::warn!(session = %self.state.name, path = raw, "not a Claude Code transcript (expected …/projects/<dir>/<id>.jsonl); usage not read from it");
            return;
        };
        if let Some(u) = self.usage.as_mut() {
            u.follow(path);
        }
        self.read_usage().await;
    }

    /// Reads what the agent's transcript gained (off the async threads) and sends the
    /// session's totals to the hub when they changed.
    async fn read_usage(&mut self) {
        let Some(mut usage) = self.usage.take() else {
            return;
        };
        if usage.current().is_none() {
            self.usage = Some(usage);
            return;
        }
        let prices = self.prices.clone();
        let read = tokio::task::spawn_blocking(move || {
            usage.read(&prices);
            usage
        })
        .await;
        let usage = match read {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(session = %self.state.name, error = %e, "reading the transcript failed; usage starts over");
                SessionUsage::default()
            }
        };
        let totals = usage.totals().clone();
        self.usage = Some(usage);
        if totals != self.usage_sent && !totals.is_empty() {
            self.env.outbox.control(DaemonToHub::Usage {
                session_id: self.id(),
                usage: totals.clone(),
            });
            self.usage_sent = totals;
        }
    }

    /// A new conversation id from the agent's hooks: the one to resume after a reboot.
    fn conversation(&mut self, id: Option<String>) {
        if id.is_some() && id != self.state.conversation_id {
            self.state.conversation_id = id;
            self.save();
        }
    }

    /// After the client ended while the agent had not exited: attach again when the tmux
    /// session still runs; when tmux lost it, start the agent again on its conversation.
    async fn come_back(&mut self, terminal: &mut Terminal) -> bool {
        let Some(t) = self.env.tmux.clone() else {
            return false;
        };
        if self.files.exit_code().is_some() {
            return false;
        }
        let name = self.state.name.clone();
        let alive = tmux_call(&t, move |t| t.has_session(&name))
            .await
            .unwrap_or(false);
        let (cols, rows) = self.recorder.size();
        if alive {
            return match open_terminal(
                &t.attach_argv(&self.state.name),
                &self.state.working_dir,
                &[],
                cols,
                rows,
            ) {
                Ok(term) => {
                    *terminal = term;
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not reattach");
                    false
                }
            };
        }
        if !start::resumable(&self.env, &self.state) {
            return false;
        }
        match start::resume(&self.env, &self.files, &mut self.state, false).await {
            Ok((term, pid)) => {
                tracing::info!(session = %self.state.name, "the terminal was lost; the agent resumes its conversation");
                *terminal = term;
                self.pid = pid;
                self.recorder.restart_screen();
                self.grace = Some(start::grace(&self.env));
                true
            }
            Err(e) => {
                tracing::warn!(session = %self.state.name, error = %e, "could not resume the agent");
                false
            }
        }
    }

    /// The session is over: its exit status and last screen go to the hub, its files go.
    async fn finish(mut self, mut terminal: Terminal) {
        self.recorder.release_held();
        let exit_code = match self.env.tmux {
            Some(_) => self.files.exit_code(),
            None => terminal.wait_child().await,
        };
        let last_screen = self
            .final_screen
            .clone()
            .unwrap_or_else(|| self.recorder.screen_lines().join("\n"));
        if let Some(task_id) = self.state.task_id {
            start::report_workspace(&self.env, task_id).await;
        }
        self.read_usage().await;
        self.env.outbox.control(DaemonToHub::SessionEnded {
            session_id: self.id(),
            exit_code,
            last_screen: Some(last_screen),
            reason: None,
        });
        if self.state.claude {
            self.env.claude.release(&self.state.working_dir);
        }
        let _ = std::fs::remove_dir_all(&self.files.dir);
        let _ = self.env.ended.send(self.id());
    }
}
