//! tmux servers of a test's (or a benchmark's) own, on sockets of their own, so nothing they
//! start outlives them, also when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether tmux is installed (tests that need it say so and stop where it is not).
pub fn available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Kills the tmux server on `socket` and every session in it (nothing if none runs).
pub fn kill_server(socket: &Path) {
    let _ = Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .arg("kill-server")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Kills the tmux server of every `*.sock` below `dir` (what a process that was given `dir`
/// as its TMPDIR or state dir may have left running).
pub fn kill_servers_under(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            kill_servers_under(&p);
        } else if p.extension().is_some_and(|x| x == "sock") {
            kill_server(&p);
        }
    }
}

/// A tmux server on its own socket, killed on drop.
pub struct TmuxServer {
    pub socket: PathBuf,
}

impl TmuxServer {
    pub fn new(socket: impl Into<PathBuf>) -> TmuxServer {
        TmuxServer {
            socket: socket.into(),
        }
    }

    /// `tmux -S SOCKET`, with stdin null so no terminal is handed to tmux.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket).stdin(Stdio::null());
        c
    }

    /// Starts a detached session `name` of this size running `command` (no config file).
    pub fn new_session(&self, name: &str, cols: u16, rows: u16, command: &str) -> bool {
        self.cmd()
            .args(["-f", "/dev/null", "new-session", "-d", "-s", name, "-x"])
            .arg(cols.to_string())
            .arg("-y")
            .arg(rows.to_string())
            .arg(command)
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        kill_server(&self.socket);
    }
}
