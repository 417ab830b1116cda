//! The terminal a session is read through: a PTY (a tmux client attached to the session, or
//! the agent itself without tmux) whose output arrives on a channel and whose input goes
//! through a writer thread; blocking tmux calls off the async threads; and signals for every
//! process of an agent's terminal.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context;
use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};
use tokio::sync::mpsc;

use crate::daemon::tmux::Tmux;

/// A PTY master, its output as a channel, its input as a writer thread.
pub struct Terminal {
    pub master: Box<dyn MasterPty + Send>,
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    pub output: mpsc::Receiver<Vec<u8>>,
    pub input: std::sync::mpsc::Sender<Vec<u8>>,
}

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
