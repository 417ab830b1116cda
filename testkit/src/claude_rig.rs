//! A hub, a scripted model and a real daemon that runs the real Claude Code: what the
//! end-to-end tests of the agent's lifecycle share. Helpers allow every permission request
//! as it comes (the admin's part), record the agent states the console socket carries, and
//! find the Claude processes a test started.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use orchestratia_proto::ws::HubToConsole;
use orchestratia_proto::{SessionState, TaskStatus};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::claude::ClaudeHome;
use crate::model::FakeModel;
use crate::{DaemonOptions, HubOptions, TestDaemon, TestHub, connect_console, eventually};

/// Everything a Claude Code test runs on; dropping it stops all of it.
pub struct ClaudeRig {
    pub hub: TestHub,
    pub model: FakeModel,
    pub home: ClaudeHome,
    pub daemon: TestDaemon,
    pub claude_bin: PathBuf,
}

/// How the rig is set up.
pub struct RigOptions<'a> {
    pub repos: &'a [&'a str],
    /// More config.yaml lines for the daemon.
    pub config: &'a str,
    /// More `serve` arguments for the hub.
    pub hub_args: &'a [&'a str],
    /// Write this as `~/.claude.json` instead of a working one (a corrupt file, say).
    pub claude_json: Option<&'a str>,
}

impl Default for RigOptions<'_> {
    fn default() -> Self {
        RigOptions {
            repos: &["app"],
            config: "",
            hub_args: &[],
            claude_json: None,
        }
    }
}

impl ClaudeRig {
    /// Starts the rig, or `None` (with the reason printed) where tmux or Claude Code is
    /// missing outside CI.
    pub async fn start(o: RigOptions<'_>) -> Option<ClaudeRig> {
        if !crate::have("tmux", crate::tmux::available()) {
            return None;
        }
        let claude_bin = crate::claude::bin_dir()?;
        let mut args: Vec<String> = vec![
            "--stall-after".into(),
            "8s".into(),
            "--late-answer-after".into(),
            "2s".into(),
        ];
        args.extend(o.hub_args.iter().map(|a| a.to_string()));
        let hub = TestHub::start_with(HubOptions {
            args,
            ..HubOptions::default()
        })
        .await?;
        hub.cli(&["project", "create", "P"]).await.ok();
        let model = FakeModel::start().await;
        let home = ClaudeHome::new();
        if let Some(text) = o.claude_json {
            std::fs::write(home.config(), text).expect("write ~/.claude.json");
        }
        let daemon = TestDaemon::start(
            &hub,
            DaemonOptions {
                repos: o.repos,
                agent_command: Some("claude".into()),
                config: o.config,
                env: home.env(&model, &claude_bin),
                ..Default::default()
            },
        )
        .await;
        let rig = ClaudeRig {
            hub,
            model,
            home,
            daemon,
            claude_bin,
        };
        rig.online().await;
        Some(rig)
    }

    /// Waits until the daemon is online.
    pub async fn online(&self) {
        eventually(30, "the daemon online", || async {
            let s = self.hub.cli(&["server", "list", "--json"]).await.json();
            s.as_array()
                .into_iter()
                .flatten()
                .any(|x| x["status"] == "online")
                .then_some(())
        })
        .await;
    }

    /// Creates a task (`task create` with `args`) and assigns it to the rig's server; returns
    /// its reference.
    pub async fn start_task(&self, args: &[&str]) -> String {
        let mut all = vec!["task", "create", "--json"];
        all.extend_from_slice(args);
        let v = self.hub.cli(&all).await.json();
        let r = v["ref"].as_str().expect("ref").to_string();
        self.hub
            .cli(&["task", "assign", &r, "--session", &self.daemon.name])
            .await
            .ok();
        r
    }

    /// A task as `task view --json` shows it.
    pub async fn task(&self, r: &str) -> Value {
        self.hub.cli(&["task", "view", r, "--json"]).await.json()
    }

    /// Waits until a task has `status`.
    pub async fn status_is(&self, r: &str, status: TaskStatus, secs: u64) -> Value {
        eventually(secs, &format!("{r} {status}"), || async {
            let v = self.task(r).await;
            (v["status"] == status.as_str()).then_some(v)
        })
        .await
    }

    /// The session of a task, from `session list --json`, once there is one.
    pub async fn session_of(&self, task: &str) -> Value {
        eventually(60, &format!("a session for {task}"), || async {
            let l = self.hub.cli(&["session", "list", "--json"]).await.json();
            l.as_array()
                .into_iter()
                .flatten()
                .find(|s| s["task"] == task)
                .cloned()
        })
        .await
    }

    /// Waits until the session of `task` is in `state`.
    pub async fn state_is(&self, task: &str, state: SessionState, secs: u64) -> Value {
        eventually(secs, &format!("{task}'s agent {state}"), || async {
            let l = self.hub.cli(&["session", "list", "--json"]).await.json();
            l.as_array()
                .into_iter()
                .flatten()
                .find(|s| s["task"] == task && s["state"] == state.as_str())
                .cloned()
        })
        .await
    }

    /// Allows every permission request as it comes, until dropped; counts them.
    pub fn allow_all(&self) -> Allower {
        let admin = self.hub.admin();
        let count = Arc::new(Mutex::new(Vec::new()));
        let seen = count.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Ok(pending) = admin.permissions(Some("pending")).await {
                    for p in pending {
                        if admin.allow_permission(&p.id.to_string()).await.is_ok() {
                            let input = p.input_text();
                            seen.lock().unwrap_or_else(|e| e.into_inner()).push(input);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Allower {
            task,
            allowed: count,
        }
    }

    /// Records the agent states the console socket carries.
    pub async fn record_states(&self) -> StateLog {
        let mut ws = connect_console(&self.hub.admin()).await;
        let log = Arc::new(Mutex::new(Vec::new()));
        let into = log.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Text(t) = m
                    && let Ok(HubToConsole::SessionState {
                        session_id, state, ..
                    }) = serde_json::from_str(t.as_str())
                {
                    into.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((session_id, state));
                }
            }
        });
        StateLog { task, log }
    }

    /// Processes the daemon started for its agents (found by the fake model's address in
    /// their environment): tmux, the agents' scripts, Claude Code and what it runs. Zombies
    /// are left out.
    pub fn agent_processes(&self) -> Vec<(u32, String)> {
        let needle = format!("ANTHROPIC_BASE_URL={}", self.model.url);
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
                let path = e.path();
                let live = std::fs::read_to_string(path.join("stat"))
                    .ok()?
                    .rsplit_once(')')
                    .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'));
                let env = std::fs::read(path.join("environ")).ok()?;
                let ours = env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes());
                let cmd = String::from_utf8_lossy(&std::fs::read(path.join("cmdline")).ok()?)
                    .replace('\0', " ");
                (live && ours && !cmd.contains("orchestratia-agent")).then_some((pid, cmd))
            })
            .collect()
    }

    /// Claude Code processes this rig started, still running.
    pub fn claude_processes(&self) -> Vec<u32> {
        self.agent_processes()
            .into_iter()
            .filter(|(_, cmd)| cmd.starts_with("claude"))
            .map(|(pid, _)| pid)
            .collect()
    }

    /// Waits until no Claude Code process of this rig is left.
    pub async fn no_claude_left(&self, secs: u64) {
        eventually(secs, "no Claude Code process left", || async {
            self.claude_processes().is_empty().then_some(())
        })
        .await;
    }

    /// The names of a task's events.
    pub async fn events_of(&self, r: &str) -> Vec<Value> {
        self.task(r).await["events"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for ClaudeRig {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.daemon.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- the daemon's log (last lines) ---");
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
            eprintln!("--- agent processes: {:?}", self.agent_processes());
            // What each agent's terminal shows: a dialog or a prompt that was never submitted.
            let socket = self.daemon.socket();
            let tmux = |args: &[&str]| {
                std::process::Command::new("tmux")
                    .arg("-S")
                    .arg(&socket)
                    .args(args)
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default()
            };
            for name in tmux(&["list-sessions", "-F", "#S"]).lines() {
                eprintln!("--- the screen of {name} ---");
                eprintln!("{}", tmux(&["capture-pane", "-p", "-t", name]).trim_end());
            }
        }
    }
}

/// Allows permission requests in the background (see [`ClaudeRig::allow_all`]).
pub struct Allower {
    task: JoinHandle<()>,
    allowed: Arc<Mutex<Vec<String>>>,
}

impl Allower {
    /// The tool inputs allowed so far.
    pub fn allowed(&self) -> Vec<String> {
        self.allowed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for Allower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Agent states seen on the console socket (see [`ClaudeRig::record_states`]).
pub struct StateLog {
    task: JoinHandle<()>,
    log: Arc<Mutex<Vec<(Uuid, SessionState)>>>,
}

impl StateLog {
    /// The states of one session, in the order they came.
    pub fn of(&self, session: Uuid) -> Vec<SessionState> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(s, _)| *s == session)
            .map(|(_, st)| *st)
            .collect()
    }
}

impl Drop for StateLog {
    fn drop(&mut self) {
        self.task.abort();
    }
}
