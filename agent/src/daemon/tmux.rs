//! The daemon's tmux server, on a socket of its own (`-S <state>/tmux.sock`) so that two
//! daemons on one machine never see each other's sessions. Commands go through
//! tmux_interface; they run tmux synchronously, so callers use `spawn_blocking`, and stdin is
//! always null so a terminal is never handed to tmux.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use tmux_interface::{
    CapturePane, DisplayMessage, HasSession, KillServer, KillSession, ListSessions, LoadBuffer,
    NewSession, PasteBuffer, SendKeys, SetOption, StdIO, Tmux as TmuxCmd, TmuxCommand, WaitFor,
};

/// One tmux server.
#[derive(Debug, Clone)]
pub struct Tmux {
    socket: PathBuf,
}

/// Whether tmux is installed.
pub fn available() -> bool {
    std::process::Command::new("tmux")
        .arg("-V")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Tmux {
    /// The server on `socket`.
    pub fn new(socket: &Path) -> Tmux {
        Tmux {
            socket: socket.to_path_buf(),
        }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn run<'a>(
        &'a self,
        cmd: impl Into<TmuxCommand<'a>>,
    ) -> anyhow::Result<(bool, String, String)> {
        let out = TmuxCmd::new()
            .socket_path(self.socket.to_string_lossy().into_owned())
            .add_command(cmd)
            .stdin(Some(StdIO::Null))
            .stdout(Some(StdIO::Piped))
            .stderr(Some(StdIO::Piped))
            .output()
            .context("running tmux")?;
        let ok = out.success();
        let out = out.into_inner();
        Ok((
            ok,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }

    fn check<'a>(&'a self, what: &str, cmd: impl Into<TmuxCommand<'a>>) -> anyhow::Result<String> {
        let (ok, out, err) = self.run(cmd)?;
        if !ok {
            bail!("tmux {what}: {err}");
        }
        Ok(out)
    }

    /// Starts a detached session running `command` in `dir` with `env`, at `cols`×`rows`.
    pub fn new_session(
        &self,
        name: &str,
        dir: &Path,
        cols: u16,
        rows: u16,
        env: &[(String, String)],
        command: &str,
    ) -> anyhow::Result<()> {
        let mut cmd = NewSession::new()
            .detached()
            .session_name(name)
            .start_directory(dir.to_string_lossy().into_owned())
            .width(cols as usize)
            .height(rows as usize);
        for (k, v) in env {
            cmd = cmd.environment(k.as_str(), v.as_str());
        }
        let cmd = cmd.shell_command(command);
        // A server whose last session just closed is on its way out: a client that reaches it
        // then is told "server exited unexpectedly". Ask again; a new server starts.
        let mut attempt = 0;
        loop {
            match self.check("new-session", cmd.clone()) {
                Err(e) if attempt < 5 && e.to_string().contains("server exited unexpectedly") => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50 * attempt));
                }
                other => {
                    other?;
                    break;
                }
            }
        }
        // The stream is the pane alone: no status line; keep enough history for recovery.
        self.check(
            "set-option",
            SetOption::new()
                .target_pane(name)
                .option("status")
                .value("off"),
        )?;
        self.check(
            "set-option",
            SetOption::new()
                .target_pane(name)
                .option("history-limit")
                .value("10000"),
        )?;
        Ok(())
    }

    /// Whether a session exists.
    pub fn has_session(&self, name: &str) -> bool {
        self.run(HasSession::new().target_session(name))
            .map(|r| r.0)
            .unwrap_or(false)
    }

    /// Names of the sessions on this server (none when the server is not running).
    pub fn list_sessions(&self) -> Vec<String> {
        match self.run(ListSessions::new().format("#{session_name}")) {
            Ok((true, out, _)) => out.lines().map(str::to_string).collect(),
            _ => Vec::new(),
        }
    }

    /// Kills a session (its processes get SIGHUP).
    pub fn kill_session(&self, name: &str) -> anyhow::Result<()> {
        self.check("kill-session", KillSession::new().target_session(name))
            .map(|_| ())
    }

    /// Stops the whole server.
    pub fn kill_server(&self) {
        let _ = self.run(KillServer::new());
    }

    /// Wakes whoever waits on `channel` (or the next one to wait).
    pub fn signal(&self, channel: &str) -> anyhow::Result<()> {
        self.check("wait-for -S", WaitFor::new().woken().channel(channel))
            .map(|_| ())
    }

    /// The pane's text as it is on screen now.
    pub fn capture(&self, name: &str) -> anyhow::Result<String> {
        self.check(
            "capture-pane",
            CapturePane::new().stdout().target_pane(name),
        )
    }

    /// The pid of the pane's process.
    pub fn pane_pid(&self, name: &str) -> Option<i64> {
        let out = self
            .check(
                "display-message",
                DisplayMessage::new()
                    .print()
                    .target_pane(name)
                    .message("#{pane_pid}"),
            )
            .ok()?;
        out.trim().parse().ok()
    }

    /// Pastes the text in `file` into the session's pane as one bracketed paste (when the
    /// program asked for bracketed pastes), the way a terminal pastes.
    pub fn paste_file(&self, name: &str, file: &Path) -> anyhow::Result<()> {
        let buffer = format!("{name}-paste");
        self.check(
            "load-buffer",
            LoadBuffer::new()
                .buffer_name(buffer.as_str())
                .path(file.to_string_lossy().into_owned()),
        )?;
        self.check(
            "paste-buffer",
            PasteBuffer::new()
                .delete()
                .bracket_codes()
                .buffer_name(buffer.as_str())
                .target_pane(name),
        )
        .map(|_| ())
    }

    /// Types `text` into the session's pane, as keys (`literal`) or as key names (`Enter`).
    pub fn send_keys(&self, name: &str, text: &str, literal: bool) -> anyhow::Result<()> {
        let mut cmd = SendKeys::new().target_pane(name);
        if literal {
            cmd = cmd.disable_lookup();
        }
        self.check("send-keys", cmd.key(text)).map(|_| ())
    }

    /// The argv that attaches a client to `name` (run in a PTY by the daemon).
    pub fn attach_argv(&self, name: &str) -> Vec<String> {
        vec![
            "tmux".into(),
            "-S".into(),
            self.socket.to_string_lossy().into_owned(),
            "attach-session".into(),
            "-t".into(),
            name.into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_live_on_their_own_socket() {
        if !available() {
            eprintln!("skipping: tmux is not installed");
            return;
        }
        let dir = tempfile::tempdir().expect("dir");
        let t = Tmux::new(&dir.path().join("sock"));
        let other = Tmux::new(&dir.path().join("other"));
        t.new_session(
            "orc-test01",
            dir.path(),
            80,
            24,
            &[("ORC_X".into(), "1".into())],
            "sleep 30",
        )
        .expect("new session");
        assert!(t.has_session("orc-test01"));
        assert_eq!(t.list_sessions(), vec!["orc-test01"]);
        assert!(
            other.list_sessions().is_empty(),
            "another socket sees nothing"
        );
        assert!(t.pane_pid("orc-test01").is_some());
        t.kill_session("orc-test01").expect("kill");
        assert!(!t.has_session("orc-test01"));
        t.kill_server();
    }
}
