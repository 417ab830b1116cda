//! The terminal a session is read through: a PTY (a tmux client attached to the session, or
//! the agent itself without tmux) whose output arrives on a channel and whose input goes
//! through a writer thread; blocking tmux calls off the async threads; typing a prompt or a
//! command into it; and signals for every process of an agent's terminal.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};
use tokio::sync::mpsc;

use crate::daemon::tmux::Tmux;

/// The terminal's input (keys for the agent).
pub type Input = std::sync::mpsc::Sender<Vec<u8>>;

/// A PTY master, its output as a channel, its input as a writer thread.
pub struct Terminal {
    pub master: Box<dyn MasterPty + Send>,
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    pub output: mpsc::Receiver<Vec<u8>>,
    pub input: Input,
}

impl Terminal {
    /// Waits for the terminal's first process to exit (the agent, in a plain PTY) and answers
    /// its exit status.
    pub async fn wait_child(&mut self) -> Option<i64> {
        let mut child = std::mem::replace(&mut self.child, Box::new(Exited));
        tokio::task::spawn_blocking(move || child.wait().ok().map(|s| s.exit_code() as i64))
            .await
            .ok()
            .flatten()
    }
}

/// The size of a terminal of `cols`×`rows`.
pub fn pty_size(cols: u16, rows: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

/// Runs `argv` in a new PTY of `cols`×`rows` in `cwd` with `vars`.
pub fn open_terminal(
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
pub async fn tmux_call<T: Send + 'static>(
    t: &Tmux,
    f: impl FnOnce(&Tmux) -> T + Send + 'static,
) -> anyhow::Result<T> {
    let t = t.clone();
    tokio::task::spawn_blocking(move || f(&t))
        .await
        .context("tmux call")
}

/// Between pasting text and pressing Enter: a program reads a paste before the key.
const PASTE_SETTLE: Duration = Duration::from_millis(300);

/// Types `text` into the agent's terminal: a bracketed paste (what a terminal sends when text
/// is pasted), then Enter, so a multi-line message is submitted as one prompt. With tmux the
/// text goes through the file `paste_file` (removed after).
pub async fn paste_and_enter(
    tmux: Option<&Tmux>,
    name: &str,
    paste_file: &Path,
    text: &str,
    input: &Input,
) {
    match tmux {
        Some(t) => {
            if let Err(e) = orchestratia_proto::files::write_private(paste_file, text) {
                tracing::warn!(error = %e, "could not write the prompt");
                return;
            }
            let (pane, path) = (name.to_string(), paste_file.to_path_buf());
            let pasted = tmux_call(t, move |t| t.paste_file(&pane, &path)).await;
            let _ = std::fs::remove_file(paste_file);
            if let Ok(Err(e)) | Err(e) = pasted {
                tracing::warn!(error = %e, "could not paste the prompt");
                return;
            }
            tokio::time::sleep(PASTE_SETTLE).await;
            let name = name.to_string();
            let _ = tmux_call(t, move |t| t.send_keys(&name, "Enter", false)).await;
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

/// Types `line` (a command such as `/exit`) at the agent's prompt, then Enter.
pub async fn type_line(tmux: Option<&Tmux>, name: &str, line: &str, input: &Input) {
    match tmux {
        Some(t) => {
            let (name, line) = (name.to_string(), line.to_string());
            let _ = tmux_call(t, move |t| {
                t.send_keys(&name, &line, true)?;
                std::thread::sleep(PASTE_SETTLE);
                t.send_keys(&name, "Enter", false)
            })
            .await;
        }
        None => {
            let _ = input.send(line.as_bytes().to_vec());
            tokio::time::sleep(PASTE_SETTLE).await;
            let _ = input.send(b"\r".to_vec());
        }
    }
}

/// Sends `signal` to every process of the terminal session led by `leader` (the pane's or the
/// PTY's first process: both start a session of their own), so an agent's children go with it.
/// Returns how many processes were signalled.
pub fn signal_session(leader: i64, signal: i32) -> usize {
    if leader <= 1 {
        return 0;
    }
    let members = session_members(leader);
    let mut n = 0;
    for pid in members {
        // SAFETY: kill(2) with a pid read from /proc and a valid signal number has no
        // memory-safety implications; a process that exited meanwhile gives ESRCH.
        if unsafe { libc::kill(pid as libc::pid_t, signal) } == 0 {
            n += 1;
        }
    }
    n
}

/// The live processes whose session id is `sid` (the leader included; zombies are gone
/// already, whoever reaps them).
#[cfg(target_os = "linux")]
fn session_members(sid: i64) -> Vec<i64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![sid];
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i64>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp session …`: comm may hold spaces and parentheses.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().take(4).collect();
        let zombie = fields.first() == Some(&"Z");
        if !zombie && fields.get(3).and_then(|s| s.parse::<i64>().ok()) == Some(sid) {
            out.push(pid);
        }
    }
    out
}

/// Elsewhere, the leader's process group.
#[cfg(not(target_os = "linux"))]
fn session_members(sid: i64) -> Vec<i64> {
    vec![-sid]
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
    fn signals_reach_every_process_of_a_terminal_session() {
        // A shell in a session of its own with a child: both get the signal.
        let mut child = std::process::Command::new("setsid")
            .args(["sh", "-c", "sleep 30 & sleep 30; wait"])
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("setsid");
        let leader = child.id() as i64;
        std::thread::sleep(std::time::Duration::from_millis(300));
        let members = session_members(leader);
        assert!(members.len() >= 3, "sh and two sleeps: {members:?}");
        assert!(signal_session(leader, libc::SIGKILL) >= 3);
        let _ = child.wait();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(session_members(leader).is_empty(), "nothing is left");
    }
}
