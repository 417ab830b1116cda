//! A real `orchestratia-agent` daemon for end-to-end tests: registered with a fresh token, its
//! repos in a temp dir, its tmux server on a socket of its own. Dropping it kills the daemon
//! and its tmux server (and with it every agent it ran), also when a test fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use orchestratia_proto::client::HubClient;

use crate::{TestHub, bin};

/// The scripted worker (examples/workers/scripted.sh).
pub fn scripted_worker() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/workers/scripted.sh")
}

pub use crate::tmux::available as tmux_available;

/// A daemon and its files.
pub struct TestDaemon {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub name: String,
    pub config: PathBuf,
    /// Environment the daemon process runs with (and so its agents).
    pub env: Vec<(String, String)>,
}

/// How a test daemon is set up.
pub struct DaemonOptions<'a> {
    pub project: &'a str,
    pub name: &'a str,
    pub repos: &'a [&'a str],
    pub languages: &'a [&'a str],
    /// Default: the scripted worker.
    pub agent_command: Option<String>,
    /// `tmux` or `pty`.
    pub runner: &'a str,
    pub recovery_grace_secs: u64,
    /// More config.yaml lines (`permission_mode: default`, say).
    pub config: &'a str,
    /// Environment of the daemon process (a home for Claude Code, the fake model's URL).
    pub env: Vec<(String, String)>,
    /// Make each repo a git repository (`git::init_repo`: branch main, one commit), so its
    /// tasks get worktrees.
    pub git: bool,
}

impl Default for DaemonOptions<'_> {
    fn default() -> Self {
        DaemonOptions {
            project: "P",
            name: "dev-01",
            repos: &[],
            languages: &[],
            agent_command: None,
            runner: "tmux",
            recovery_grace_secs: 2,
            config: "",
            env: Vec::new(),
            git: false,
        }
    }
}

impl TestDaemon {
    /// Registers (with the real `--register`) and starts a daemon.
    pub async fn start(hub: &TestHub, o: DaemonOptions<'_>) -> TestDaemon {
        Self::start_at(&hub.url, &hub.admin(), o).await
    }

    /// Registers and starts a daemon against any hub (`admin` holds an admin token), such as
    /// one running in the same process as a benchmark.
    pub async fn start_at(url: &str, admin: &HubClient, o: DaemonOptions<'_>) -> TestDaemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("config.yaml");
        let token = admin
            .registration_token(o.project)
            .await
            .expect("token")
            .token;
        let mut args: Vec<String> = vec![
            "--register".into(),
            token,
            "--hub".into(),
            url.to_string(),
            "--name".into(),
            o.name.into(),
            "--config".into(),
            config.to_string_lossy().into_owned(),
            "--runner".into(),
            o.runner.into(),
            "--agent-command".into(),
            o.agent_command
                .unwrap_or_else(|| format!("sh {}", scripted_worker().display())),
        ];
        for r in o.repos {
            let path = dir.path().join("repos").join(r);
            std::fs::create_dir_all(&path).expect("repo dir");
            if o.git {
                crate::git::init_repo(&path);
            }
            args.push("--repo".into());
            args.push(format!("{r}={}", path.display()));
        }
        for l in o.languages {
            args.push("--lang".into());
            args.push((*l).into());
        }
        let out = Command::new(bin("orchestratia-agent"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run orchestratia-agent --register");
        assert!(
            out.status.success(),
            "registration failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Tests do not wait 15 s for a recovered session to turn active; `o.config`'s keys
        // replace the registered ones.
        let text = std::fs::read_to_string(&config).expect("config");
        let mut doc: yaml_serde::Mapping = yaml_serde::from_str(&text).expect("config yaml");
        doc.insert(
            "recovery_grace_secs".into(),
            yaml_serde::Value::from(o.recovery_grace_secs),
        );
        if !o.config.trim().is_empty() {
            let extra: yaml_serde::Mapping =
                yaml_serde::from_str(o.config).expect("extra config yaml");
            doc.extend(extra);
        }
        let text = yaml_serde::to_string(&doc).expect("config yaml");
        std::fs::write(&config, text).expect("write config");
        let mut d = TestDaemon {
            child: None,
            dir,
            name: o.name.to_string(),
            config,
            env: o.env,
        };
        d.spawn();
        d
    }

    /// A repo's path.
    pub fn repo(&self, name: &str) -> PathBuf {
        self.dir.path().join("repos").join(name)
    }

    /// Where the daemon puts its worktrees by default (`<state_dir>/worktrees`).
    pub fn worktree_dir(&self) -> PathBuf {
        self.dir.path().join("config.state").join("worktrees")
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// The daemon's tmux socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("config.state").join("tmux.sock")
    }

    /// Starts the daemon process (again).
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .expect("log file");
        let child = Command::new(bin("orchestratia-agent"))
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start orchestratia-agent");
        self.child = Some(child);
    }

    /// Kills the daemon with SIGKILL (its tmux sessions keep running).
    pub async fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
    }

    /// The tmux sessions on this daemon's server.
    pub fn tmux_sessions(&self) -> Vec<String> {
        tmux_sessions(&self.socket())
    }

    /// The tmux sessions whose names start with `orc-`.
    pub fn orc_sessions(&self) -> Vec<String> {
        self.tmux_sessions()
            .into_iter()
            .filter(|s| s.starts_with("orc-"))
            .collect()
    }
}

fn tmux_sessions(socket: &Path) -> Vec<String> {
    let out = std::process::Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .args(["list-sessions", "-F", "#{session_name}"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.start_kill();
        }
        crate::tmux::kill_server(&self.socket());
        std::thread::sleep(Duration::from_millis(50));
    }
}
