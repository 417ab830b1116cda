//! The task that owns a running session: it streams the terminal to the hub as numbered
//! chunks, follows the same bytes with a vt100 parser for screen snapshots (every 5 s) and
//! keyframes (on request, and every MiB so a stored recording can be cut at one), passes input
//! and resizes on, submits prompts, notices the agent's exit, starts a lost agent again on its
//! conversation, and ends the agent when told (asked to exit, then signalled).

use std::sync::Arc;
use std::time::Duration;

use orchestratia_proto::SessionState;
use orchestratia_proto::ws::{DaemonToHub, Frame, FrameKind};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use super::files::{Files, State};
use super::terminal::{Terminal, open_terminal, pty_size, signal_session, tmux_call};
use super::{COLS, Cmd, Env, Handle, ROWS};

/// The terminal's input (keys for the agent).
type Input = std::sync::mpsc::Sender<Vec<u8>>;

/// How often the rendered screen is sent, when it changed.
const SCREEN_EVERY: Duration = Duration::from_secs(5);
/// A keyframe goes into the recording after this much output.
const KEYFRAME_EVERY: usize = 1024 * 1024;
/// A reattached session waits this long for the hub's `resume` before numbering on its own.
const RESUME_WAIT: Duration = Duration::from_secs(5);
/// Between pasting a prompt and pressing Enter: a program reads a paste before the key.
const PASTE_SETTLE: Duration = Duration::from_millis(300);
/// After SIGTERM, how long before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// Where ending the agent has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Its task is over but a turn is in progress (or a program is on its way out): let it
    /// end, or the deadline pass.
    WaitTurn,
    /// Asked to exit on its own (Claude Code: `/exit`; any other program: SIGTERM).
    AskedToExit,
    /// Its processes got SIGTERM.
    Terminated,
    /// Its processes got SIGKILL and its tmux session was killed.
    Killed,
}

struct Ending {
    step: Step,
    until: Instant,
    reason: String,
}

/// Starts the actor of a session; `grace`: when a recovered session turns active; `hold`:
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
    let actor = Actor {
        parser: vt100::Parser::new(ROWS, COLS, 0),
        seq: state.seq,
        cols: COLS,
        rows: ROWS,
        held: hold.then(Vec::new),
        hold_until: Instant::now() + RESUME_WAIT,
        grace,
        since_keyframe: 0,
        last_screen: state.screen.clone(),
        final_screen: None,
        released: false,
        pid,
        agent: None,
        ending: None,
        env,
        files,
        state,
    };
    tokio::spawn(actor.run(terminal, rx));
    handle
}

struct Actor {
    env: Arc<Env>,
    files: Files,
    state: State,
    parser: vt100::Parser,
    /// The last chunk number used.
    seq: u64,
    cols: u16,
    rows: u16,
    /// Output held back until the hub says where numbering continues (after a reattach).
    held: Option<Vec<Vec<u8>>>,
    hold_until: Instant,
    /// When a recovered session turns active.
    grace: Option<Instant>,
    since_keyframe: usize,
    last_screen: Vec<String>,
    /// The pane's text when the agent exited (tmux).
    final_screen: Option<String>,
    /// The agent's script was let go after its exit.
    released: bool,
    /// The first process of the agent's terminal (its session leader).
    pid: Option<i64>,
    /// The agent's state, as its hooks told the hub.
    agent: Option<SessionState>,
    /// The agent is being ended.
    ending: Option<Ending>,
}

impl Actor {
    fn id(&self) -> Uuid {
        self.state.session_id
    }

    fn emit_output(&mut self, bytes: Vec<u8>) {
        self.seq += 1;
        self.parser.process(&bytes);
        self.since_keyframe += bytes.len();
        self.env.outbox.frame(Frame {
            kind: FrameKind::Output,
            session_id: self.id(),
            seq: self.seq,
            data: bytes,
        });
        if self.since_keyframe >= KEYFRAME_EVERY {
            self.keyframe();
        }
    }

    fn keyframe(&mut self) {
        self.since_keyframe = 0;
        self.env.outbox.frame(Frame {
            kind: FrameKind::Keyframe,
            session_id: self.id(),
            seq: self.seq,
            data: self.parser.screen().state_formatted(),
        });
    }

    fn screen_lines(&self) -> Vec<String> {
        self.parser
            .screen()
            .rows(0, self.cols)
            .map(|r| r.trim_end().to_string())
            .collect()
    }

    fn release_held(&mut self) {
        if let Some(held) = self.held.take() {
            for b in held {
                self.emit_output(b);
            }
            // Whatever the reattached client drew, the screen now starts a clean replay.
            self.keyframe();
        }
    }

    /// Every 5 s: the screen if it changed, and the recovery state.
    fn tick_screen(&mut self) {
        if self.held.is_some() {
            return;
        }
        let lines = self.screen_lines();
        if lines != self.last_screen {
            self.env.outbox.control(DaemonToHub::SessionScreen {
                session_id: self.id(),
                lines: lines.clone(),
                cols: self.cols,
                rows: self.rows,
            });
            self.last_screen = lines;
        }
        self.save();
    }

    fn save(&mut self) {
        self.state.seq = self.seq;
        self.state.screen = self.last_screen.clone();
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

    /// Types `text` into the agent's terminal: a bracketed paste (what a terminal sends when
    /// text is pasted), then Enter, so a multi-line message is submitted as one prompt. The
    /// agent's prompt hook tells the hub it was taken.
    async fn type_prompt(&mut self, id: Uuid, text: &str, input: &Input) {
        tracing::info!(session = %self.state.name, prompt = %id, "submitting a prompt");
        match self.env.tmux.clone() {
            Some(t) => {
                let file = self.files.paste();
                if let Err(e) = orchestratia_proto::files::write_private(&file, text) {
                    tracing::warn!(error = %e, "could not write the prompt");
                    return;
                }
                let (name, path) = (self.state.name.clone(), file.clone());
                let pasted = tmux_call(&t, move |t| t.paste_file(&name, &path)).await;
                let _ = std::fs::remove_file(&file);
                if let Ok(Err(e)) | Err(e) = pasted {
                    tracing::warn!(error = %e, "could not paste the prompt");
                    return;
                }
                tokio::time::sleep(PASTE_SETTLE).await;
                let name = self.state.name.clone();
                let _ = tmux_call(&t, move |t| t.send_keys(&name, "Enter", false)).await;
            }
            None => {
                let mut paste = b"\x1b[200~".to_vec();
                paste.extend_from_slice(text.as_bytes());
                paste.extend_from_slice(b"\x1b[201~");
                let _ = input.send(paste);
                tokio::time::sleep(PASTE_SETTLE).await;
                let _ = input.send(b"\r".to_vec());
            }
        }
    }

    /// Starts ending the agent (see [`Step`]). A task that is over lets a turn in progress
    /// end first; a daemon that keeps finished sessions keeps it.
    async fn stop(&mut self, reason: String, finish: bool, input: &Input) {
        if self.ending.is_some() {
            return;
        }
        if finish && self.env.config.keep_finished_sessions {
            tracing::info!(session = %self.state.name, %reason, "task over; the session is kept (keep_finished_sessions)");
            return;
        }
        if self.files.exit_code().is_some() {
            // The agent is already gone; the script is let go by `check_exit`.
            return;
        }
        tracing::info!(session = %self.state.name, %reason, finish, "ending the agent");
        let cfg = &self.env.config;
        // A task that is over lets the agent end on its own: Claude Code its turn in progress,
        // any other program its exit (it reported the task done and is about to leave).
        let wait = match (finish, self.state.claude) {
            (true, true) if self.agent == Some(SessionState::Working) => cfg.finish_wait_secs,
            (true, false) => cfg.stop_grace_secs,
            _ => 0,
        };
        self.ending = Some(Ending {
            step: Step::WaitTurn,
            until: Instant::now() + Duration::from_secs(wait),
            reason,
        });
        if wait == 0 {
            self.advance(input).await;
        }
    }

    /// The next step of ending the agent.
    async fn advance(&mut self, input: &Input) {
        let Some(e) = self.ending.as_mut() else {
            return;
        };
        let grace = Duration::from_secs(self.env.config.stop_grace_secs);
        let now = Instant::now();
        let leader = self.pid.unwrap_or(0);
        match e.step {
            Step::WaitTurn => {
                e.step = Step::AskedToExit;
                e.until = now + grace;
                let claude = self.state.claude;
                if claude {
                    self.ask_claude_to_exit(input).await;
                } else {
                    signal_session(leader, libc::SIGTERM);
                }
            }
            Step::AskedToExit => {
                e.step = Step::Terminated;
                e.until = now + TERM_GRACE;
                let n = signal_session(leader, libc::SIGTERM);
                tracing::info!(session = %self.state.name, processes = n, "the agent did not exit: SIGTERM");
            }
            Step::Terminated => {
                e.step = Step::Killed;
                e.until = now + TERM_GRACE;
                let n = signal_session(leader, libc::SIGKILL);
                tracing::warn!(session = %self.state.name, processes = n, reason = %e.reason, "the agent did not exit: SIGKILL");
                if let Some(t) = self.env.tmux.clone() {
                    let name = self.state.name.clone();
                    let _ = tmux_call(&t, move |t| t.kill_session(&name)).await;
                }
            }
            Step::Killed => {}
        }
    }

    /// Claude Code's own exit: `/exit` typed at its prompt.
    async fn ask_claude_to_exit(&mut self, input: &Input) {
        match self.env.tmux.clone() {
            Some(t) => {
                let name = self.state.name.clone();
                let _ = tmux_call(&t, move |t| {
                    t.send_keys(&name, "/exit", true)?;
                    std::thread::sleep(PASTE_SETTLE);
                    t.send_keys(&name, "Enter", false)
                })
                .await;
            }
            None => {
                let _ = input.send(b"/exit".to_vec());
                tokio::time::sleep(PASTE_SETTLE).await;
                let _ = input.send(b"\r".to_vec());
            }
        }
    }

    async fn run(mut self, mut terminal: Terminal, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
        let mut screen_tick = tokio::time::interval(SCREEN_EVERY);
        screen_tick.tick().await;
        let mut exit_poll = tokio::time::interval(Duration::from_millis(250));
        let far = || Instant::now() + Duration::from_secs(3600);
        loop {
            let grace = self.grace;
            let hold_until = self.hold_until;
            let holding = self.held.is_some();
            let ending_at = self
                .ending
                .as_ref()
                .filter(|e| e.step != Step::Killed)
                .map(|e| e.until);
            tokio::select! {
                out = terminal.output.recv() => match out {
                    Some(bytes) => match self.held.as_mut() {
                        Some(held) => held.push(bytes),
                        None => self.emit_output(bytes),
                    },
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
                    Some(Cmd::Input(bytes)) => {
                        let _ = terminal.input.send(bytes);
                    }
                    Some(Cmd::Resize { cols, rows }) => {
                        if terminal.master.resize(pty_size(cols, rows)).is_ok() {
                            self.cols = cols;
                            self.rows = rows;
                            self.parser.screen_mut().set_size(rows, cols);
                        }
                    }
                    Some(Cmd::Keyframe) => {
                        if self.held.is_none() {
                            self.keyframe();
                        }
                    }
                    Some(Cmd::Resume { last_seq, state, conversation_id }) => {
                        self.seq = self.seq.max(last_seq);
                        self.release_held();
                        if state.is_some() {
                            self.agent = state;
                        }
                        self.conversation(conversation_id);
                    }
                    Some(Cmd::AgentState { state, conversation_id }) => {
                        self.agent = Some(state);
                        self.conversation(conversation_id);
                        let turn_over = state != SessionState::Working;
                        if turn_over && self.ending.as_ref().is_some_and(|e| e.step == Step::WaitTurn) {
                            self.advance(&terminal.input.clone()).await;
                        }
                    }
                    Some(Cmd::Prompt { id, text }) => {
                        if self.ending.is_none() {
                            self.type_prompt(id, &text, &terminal.input.clone()).await;
                        }
                    }
                    Some(Cmd::Stop { reason, finish }) => {
                        self.stop(reason, finish, &terminal.input.clone()).await
                    }
                    None => {
                        // The daemon is shutting down: leave the agent running in tmux.
                        return;
                    }
                },
                _ = screen_tick.tick() => self.tick_screen(),
                _ = exit_poll.tick() => self.check_exit().await,
                _ = tokio::time::sleep_until(ending_at.unwrap_or_else(far)), if ending_at.is_some() => {
                    self.advance(&terminal.input.clone()).await;
                }
                _ = tokio::time::sleep_until(grace.unwrap_or_else(far)), if grace.is_some() => {
                    self.grace = None;
                    self.env.outbox.control(DaemonToHub::SessionActive {
                        session_id: self.id(),
                        pid: self.pid,
                        tmux: Some(self.state.name.clone()),
                        hooks: self.state.claude,
                    });
                }
                _ = tokio::time::sleep_until(hold_until), if holding => {
                    tracing::warn!(session = %self.state.name, "no resume from the hub; numbering from the saved state");
                    self.release_held();
                }
            }
        }
        self.finish(terminal).await;
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
        if alive {
            return match open_terminal(
                &t.attach_argv(&self.state.name),
                &self.state.working_dir,
                &[],
                self.cols,
                self.rows,
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
        if !super::resumable(&self.env, &self.state) {
            return false;
        }
        match super::resume(&self.env, &self.files, &mut self.state, false).await {
            Ok((term, pid)) => {
                tracing::info!(session = %self.state.name, "the terminal was lost; the agent resumes its conversation");
                *terminal = term;
                self.pid = pid;
                self.parser = vt100::Parser::new(self.rows, self.cols, 0);
                self.grace = Some(super::grace(&self.env));
                true
            }
            Err(e) => {
                tracing::warn!(session = %self.state.name, error = %e, "could not resume the agent");
                false
            }
        }
    }

    async fn finish(mut self, mut terminal: Terminal) {
        self.release_held();
        let exit_code = match self.env.tmux {
            Some(_) => self.files.exit_code(),
            None => {
                let mut child = std::mem::replace(&mut terminal.child, Box::new(Exited));
                tokio::task::spawn_blocking(move || child.wait().ok().map(|s| s.exit_code() as i64))
                    .await
                    .ok()
                    .flatten()
            }
        };
        let last_screen = self
            .final_screen
            .clone()
            .unwrap_or_else(|| self.screen_lines().join("\n"));
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

/// Stands in for a child already waited for.
#[derive(Debug)]
struct Exited;

impl portable_pty::ChildKiller for Exited {
    fn kill(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn clone_killer(&self) -> Box<dyn portable_pty::ChildKiller + Send + Sync> {
        Box::new(Exited)
    }
}

impl portable_pty::Child for Exited {
    fn try_wait(&mut self) -> std::io::Result<Option<portable_pty::ExitStatus>> {
        Ok(None)
    }
    fn wait(&mut self) -> std::io::Result<portable_pty::ExitStatus> {
        Ok(portable_pty::ExitStatus::with_exit_code(0))
    }
    fn process_id(&self) -> Option<u32> {
        None
    }
}
