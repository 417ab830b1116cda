//! One agent session: the agent runs in its own tmux session (or, without tmux, directly in a
//! PTY); a tmux client attached through a PTY gives the daemon the rendered terminal, whose
//! bytes go to the hub as numbered chunks. A vt100 parser follows the same bytes for screen
//! snapshots (every 5 s) and keyframes (on request, and every MiB so a stored recording can be
//! cut at one).
//!
//! The agent is started by a small script that waits for the daemon's client to attach (so no
//! output is missed), runs the agent command, records its exit status in a file, and then
//! waits again so the daemon can read the final screen before the tmux session goes away. Both
//! waits are tmux `wait-for` channels, which remember a signal sent before anyone waits — so a
//! daemon that crashes at any point finds the session where it left it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use orchestratia_proto::ws::{DaemonToHub, Frame, FrameKind, SessionStart, TaskPayload};
use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use super::claude::Settings;
use super::config::AgentConfig;
use super::outbox::Outbox;
use super::tmux::Tmux;

/// Initial terminal size of a session (a console resizes it).
pub const COLS: u16 = 120;
pub const ROWS: u16 = 40;
/// How often the rendered screen is sent, when it changed.
const SCREEN_EVERY: Duration = Duration::from_secs(5);
/// A keyframe goes into the recording after this much output.
const KEYFRAME_EVERY: usize = 1024 * 1024;
/// A reattached session waits this long for the hub's `resume` before numbering on its own.
const RESUME_WAIT: Duration = Duration::from_secs(5);

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
    Stop(String),
    /// The hub's last stored chunk: continue numbering after it.
    Resume(u64),
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

/// What survives a daemon crash, in `sessions/<name>/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub session_id: Uuid,
    pub name: String,
    pub task_id: Option<Uuid>,
    pub working_dir: PathBuf,
    /// The last chunk number sent.
    pub seq: u64,
    /// The last rendered screen.
    pub screen: Vec<String>,
    /// Claude Code hook settings were installed in the working dir.
    pub claude: bool,
}

/// The files of one session.
pub struct Files {
    pub dir: PathBuf,
}

impl Files {
    pub fn new(state_dir: &Path, name: &str) -> Files {
        Files {
            dir: state_dir.join("sessions").join(name),
        }
    }
    pub fn task(&self) -> PathBuf {
        self.dir.join("task.json")
    }
    pub fn prompt(&self) -> PathBuf {
        self.dir.join("prompt.md")
    }
    pub fn script(&self) -> PathBuf {
        self.dir.join("run.sh")
    }
    pub fn exit(&self) -> PathBuf {
        self.dir.join("exit")
    }
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The agent's exit status, once it exited.
    pub fn exit_code(&self) -> Option<i64> {
        std::fs::read_to_string(self.exit())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn save_state(&self, s: &State) {
        if let Ok(text) = serde_json::to_string(s) {
            let tmp = self.dir.join("state.json.tmp");
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, self.state());
            }
        }
    }

    pub fn load_state(&self) -> Option<State> {
        serde_json::from_str(&std::fs::read_to_string(self.state()).ok()?).ok()
    }
}

/// Quotes a string for `sh`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The script that runs the agent (see the module comment). `bin_dir` (where `orchestratia`
/// is) goes first on PATH here: tmux gives a new session the PATH of the client that made it,
/// whatever `-e PATH=…` says.
fn script(files: &Files, tmux: Option<&Tmux>, name: &str, bin_dir: &Path) -> String {
    let exit = sh_quote(&files.exit().to_string_lossy());
    let exit_tmp = sh_quote(&format!("{}.tmp", files.exit().to_string_lossy()));
    let mut s = format!("#!/bin/sh\n# Orchestratia session {name}.\n");
    s.push_str(&format!(
        "PATH={}:\"$PATH\"; export PATH\n",
        sh_quote(&bin_dir.to_string_lossy())
    ));
    if let Some(t) = tmux {
        let sock = sh_quote(&t.socket().to_string_lossy());
        s.push_str(&format!(
            "tmux -S {sock} wait-for {}\n",
            sh_quote(&format!("{name}-go"))
        ));
    }
    s.push_str("sh -c \"$ORCHESTRATIA_AGENT_COMMAND\"\ncode=$?\n");
    s.push_str(&format!(
        "printf '%s\\n' \"$code\" > {exit_tmp} && mv {exit_tmp} {exit}\n"
    ));
    if let Some(t) = tmux {
        let sock = sh_quote(&t.socket().to_string_lossy());
        s.push_str(&format!(
            "tmux -S {sock} wait-for {}\n",
            sh_quote(&format!("{name}-release"))
        ));
    }
    s.push_str("exit $code\n");
    s
}

/// The agent command; Claude Code gets the task's prompt as its argument.
fn agent_command(config: &AgentConfig) -> String {
    let cmd = config.agent_command.trim();
    if config.is_claude() && !cmd.contains("ORCHESTRATIA_PROMPT_FILE") {
        format!("{cmd} \"$(cat \"$ORCHESTRATIA_PROMPT_FILE\")\"")
    } else {
        cmd.to_string()
    }
}

/// The agent's environment (DESIGN.md, Agents inside sessions).
fn environment(env: &Env, s: &SessionStart, files: &Files) -> Vec<(String, String)> {
    let mut vars = vec![
        ("ORCHESTRATIA_HUB".to_string(), s.hub_url.clone()),
        ("ORCHESTRATIA_TOKEN".to_string(), s.token.clone()),
        ("ORCHESTRATIA_SESSION".to_string(), s.name.clone()),
        (
            "ORCHESTRATIA_TASK_FILE".to_string(),
            files.task().to_string_lossy().into_owned(),
        ),
        (
            "ORCHESTRATIA_PROMPT_FILE".to_string(),
            files.prompt().to_string_lossy().into_owned(),
        ),
        (
            "ORCHESTRATIA_AGENT_COMMAND".to_string(),
            agent_command(&env.config),
        ),
    ];
    if let Some(t) = &s.task {
        vars.push(("ORCHESTRATIA_TASK_ID".to_string(), t.id.to_string()));
    }
    vars
}

/// Where the session works: the repo's path, else the configured default, else home.
fn working_dir(env: &Env, s: &SessionStart) -> Result<PathBuf, String> {
    if let Some(dir) = &s.working_dir {
        let p = PathBuf::from(dir);
        return if p.is_dir() {
            Ok(p)
        } else {
            Err(format!(
                "the working directory {dir} does not exist on {}",
                env.config.name
            ))
        };
    }
    Ok(env
        .config
        .default_dir
        .clone()
        .or_else(dirs::home_dir)
        .unwrap_or_else(|| PathBuf::from("/")))
}

fn pty_size(cols: u16, rows: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

/// The terminal: a PTY master, its output as a channel, its input as a writer thread.
struct Terminal {
    master: Box<dyn MasterPty + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    output: mpsc::Receiver<Vec<u8>>,
    input: std::sync::mpsc::Sender<Vec<u8>>,
}

fn open_terminal(
    argv: &[String],
    cwd: &Path,
    vars: &[(String, String)],
    cols: u16,
    rows: u16,
) -> anyhow::Result<Terminal> {
    let pair = native_pty_system()
        .openpty(pty_size(cols, rows))
        .context("opening a PTY")?;
    let mut cmd = CommandBuilder::new(&argv[0]);
    cmd.args(&argv[1..]);
    cmd.cwd(cwd);
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("TMUX");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let child = pair
        .slave
        .spawn_command(cmd)
        .context("starting the terminal's process")?;
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().context("PTY reader")?;
    let mut writer = pair.master.take_writer().context("PTY writer")?;
    let (out_tx, output) = mpsc::channel::<Vec<u8>>(64);
    // portable-pty is blocking: one reader thread per PTY feeding a tokio channel.
    std::thread::Builder::new()
        .name("pty-read".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if out_tx.blocking_send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        })
        .context("starting the PTY reader")?;
    let (input, in_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::Builder::new()
        .name("pty-write".into())
        .spawn(move || {
            while let Ok(bytes) = in_rx.recv() {
                if writer
                    .write_all(&bytes)
                    .and_then(|_| writer.flush())
                    .is_err()
                {
                    break;
                }
            }
        })
        .context("starting the PTY writer")?;
    Ok(Terminal {
        master: pair.master,
        child,
        output,
        input,
    })
}

/// Runs a blocking tmux call off the async threads.
async fn tmux_call<T: Send + 'static>(
    t: &Tmux,
    f: impl FnOnce(&Tmux) -> T + Send + 'static,
) -> anyhow::Result<T> {
    let t = t.clone();
    tokio::task::spawn_blocking(move || f(&t))
        .await
        .context("tmux call")
}

/// Starts a session the hub asked for.
pub async fn start(env: Arc<Env>, s: SessionStart) -> anyhow::Result<Handle> {
    let files = Files::new(&env.state_dir, &s.name);
    let dir = match working_dir(&env, &s) {
        Ok(d) => d,
        Err(reason) => {
            env.outbox.control(DaemonToHub::SessionEnded {
                session_id: s.session_id,
                exit_code: None,
                last_screen: Some(reason.clone()),
            });
            anyhow::bail!(reason);
        }
    };
    std::fs::create_dir_all(&files.dir)
        .with_context(|| format!("creating {}", files.dir.display()))?;
    let task: Option<&TaskPayload> = s.task.as_ref();
    if let Some(t) = task {
        std::fs::write(files.task(), serde_json::to_string_pretty(t)?)?;
        std::fs::write(files.prompt(), super::prompt::render(t))?;
    } else {
        std::fs::write(files.prompt(), "An interactive session.\n")?;
    }
    let bin_dir = env.cli.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::write(
        files.script(),
        script(&files, env.tmux.as_ref(), &s.name, &bin_dir),
    )?;
    let claude = env.config.is_claude();
    if claude {
        let command = format!("{} hook claude-code", sh_quote(&env.cli.to_string_lossy()));
        if let Err(e) = env.claude.acquire(&dir, &command) {
            tracing::warn!(error = %e, "Claude Code hooks not installed; permission prompts stay local");
        }
    }
    let vars = environment(&env, &s, &files);
    let script_cmd = format!("sh {}", sh_quote(&files.script().to_string_lossy()));
    let state = State {
        session_id: s.session_id,
        name: s.name.clone(),
        task_id: s.task.as_ref().map(|t| t.id),
        working_dir: dir.clone(),
        seq: 0,
        screen: Vec::new(),
        claude,
    };
    files.save_state(&state);
    let (terminal, pid) = match &env.tmux {
        Some(t) => {
            let (name, dir2, vars2, cmd) = (
                s.name.clone(),
                dir.clone(),
                vars.clone(),
                script_cmd.clone(),
            );
            tmux_call(t, move |t| {
                t.new_session(&name, &dir2, COLS, ROWS, &vars2, &cmd)
            })
            .await??;
            let term = open_terminal(&t.attach_argv(&s.name), &dir, &[], COLS, ROWS)?;
            let go = format!("{}-go", s.name);
            tmux_call(t, move |t| t.signal(&go)).await??;
            let name = s.name.clone();
            let pid = tmux_call(t, move |t| t.pane_pid(&name)).await?;
            (term, pid)
        }
        None => {
            let argv = vec![
                "sh".to_string(),
                files.script().to_string_lossy().into_owned(),
            ];
            let term = open_terminal(&argv, &dir, &vars, COLS, ROWS)?;
            let pid = term.child.process_id().map(i64::from);
            (term, pid)
        }
    };
    let tmux_name = env.tmux.as_ref().map(|_| s.name.clone());
    env.outbox.control(DaemonToHub::SessionActive {
        session_id: s.session_id,
        pid,
        tmux: tmux_name.clone(),
    });
    Ok(spawn_actor(env, files, state, terminal, pid, None, false))
}

/// Reattaches to a session that survived a daemon restart (Flow 7): it reports
/// `session_recovered`, waits for the hub's `resume`, and turns active after the grace period.
pub async fn recover(env: Arc<Env>, state: State) -> anyhow::Result<Handle> {
    let tmux = env.tmux.clone().context("recovery needs tmux")?;
    let files = Files::new(&env.state_dir, &state.name);
    if state.claude {
        let command = format!("{} hook claude-code", sh_quote(&env.cli.to_string_lossy()));
        let _ = env.claude.acquire(&state.working_dir, &command);
    }
    let terminal = open_terminal(
        &tmux.attach_argv(&state.name),
        &state.working_dir,
        &[],
        COLS,
        ROWS,
    )?;
    // If the daemon died before letting the agent start, let it start now.
    let go = format!("{}-go", state.name);
    tmux_call(&tmux, move |t| t.signal(&go)).await??;
    let name = state.name.clone();
    let pid = tmux_call(&tmux, move |t| t.pane_pid(&name)).await?;
    env.outbox.control(DaemonToHub::SessionRecovered {
        session_id: state.session_id,
        tmux: state.name.clone(),
    });
    let grace = Instant::now() + Duration::from_secs(env.config.recovery_grace_secs);
    Ok(spawn_actor(
        env,
        files,
        state,
        terminal,
        pid,
        Some(grace),
        true,
    ))
}

fn spawn_actor(
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
    pid: Option<i64>,
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

    async fn stop(&mut self, reason: &str, terminal: &mut Terminal) {
        tracing::info!(session = %self.state.name, %reason, "stopping session");
        match self.env.tmux.clone() {
            Some(t) => {
                let name = self.state.name.clone();
                let _ = tmux_call(&t, move |t| t.kill_session(&name)).await;
            }
            None => {
                let _ = terminal.child.kill();
            }
        }
    }

    async fn run(mut self, mut terminal: Terminal, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
        let mut screen_tick = tokio::time::interval(SCREEN_EVERY);
        screen_tick.tick().await;
        let mut exit_poll = tokio::time::interval(Duration::from_millis(250));
        let mut stopped = false;
        loop {
            let grace = self.grace;
            let hold_until = self.hold_until;
            let holding = self.held.is_some();
            tokio::select! {
                out = terminal.output.recv() => match out {
                    Some(bytes) => match self.held.as_mut() {
                        Some(held) => held.push(bytes),
                        None => self.emit_output(bytes),
                    },
                    None => {
                        // The client is gone. If the agent still runs in tmux, attach again.
                        if !stopped && self.reattach(&mut terminal).await {
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
                    Some(Cmd::Resume(last)) => {
                        self.seq = self.seq.max(last);
                        self.release_held();
                    }
                    Some(Cmd::Stop(reason)) => {
                        stopped = true;
                        self.stop(&reason, &mut terminal).await;
                    }
                    None => {
                        // The daemon is shutting down: leave the agent running in tmux.
                        return;
                    }
                },
                _ = screen_tick.tick() => self.tick_screen(),
                _ = exit_poll.tick() => self.check_exit().await,
                _ = tokio::time::sleep_until(grace.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))), if grace.is_some() => {
                    self.grace = None;
                    self.env.outbox.control(DaemonToHub::SessionActive {
                        session_id: self.id(),
                        pid: self.pid,
                        tmux: Some(self.state.name.clone()),
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

    /// After the client ended while the tmux session (and the agent) still run: attach again.
    async fn reattach(&mut self, terminal: &mut Terminal) -> bool {
        let Some(t) = self.env.tmux.clone() else {
            return false;
        };
        if self.files.exit_code().is_some() && self.released {
            return false;
        }
        let name = self.state.name.clone();
        if !tmux_call(&t, move |t| t.has_session(&name))
            .await
            .unwrap_or(false)
        {
            return false;
        }
        match open_terminal(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_sh() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn claude_gets_the_prompt_as_argument() {
        let mut c = AgentConfig::new("http://h", "k", "n");
        assert_eq!(
            agent_command(&c),
            "claude \"$(cat \"$ORCHESTRATIA_PROMPT_FILE\")\""
        );
        c.agent_command = "sh worker.sh".into();
        assert_eq!(agent_command(&c), "sh worker.sh");
    }

    #[test]
    fn the_script_gates_records_and_waits() {
        let dir = tempfile::tempdir().expect("dir");
        let files = Files::new(dir.path(), "orc-abc123");
        let t = Tmux::new(&dir.path().join("tmux.sock"));
        let s = script(&files, Some(&t), "orc-abc123", Path::new("/opt/orc/bin"));
        assert!(s.contains("PATH='/opt/orc/bin':\"$PATH\""));
        let go = s.find("orc-abc123-go").expect("go");
        let run = s.find("ORCHESTRATIA_AGENT_COMMAND").expect("run");
        let release = s.find("orc-abc123-release").expect("release");
        assert!(go < run && run < release);
        assert!(!script(&files, None, "x", Path::new("/b")).contains("tmux"));
    }
}
