//! `orchestratia-console demo`: the whole system on this machine with no LLM. An embedded hub
//! (SQLite in a temp dir), two real daemons named dev-backend and dev-desktop running
//! scripted workers in their own tmux servers, the seven-task e-commerce pipeline with its
//! contracts (plus a plan to approve and a question to answer), and T1 assigned by hand.
//! Every repo is a git repository with a first commit, so each task works in its own worktree
//! and its diff can be read, merged or discarded from the console (`d`, `m`).
//!
//! The daemons run in this process, and the workers call the `orchestratia` CLI through a link
//! to this very binary (see `main.rs`), so `cargo run -p orchestratia-console -- demo` needs
//! nothing else built.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use orchestratia_agent::cli::{Ctx, pipeline};
use orchestratia_agent::daemon::config::AgentConfig;
use orchestratia_agent::daemon::register::{Registration, register};
use orchestratia_hub::{HubConfig, RunningHub};
use orchestratia_proto::ServerStatus;
use orchestratia_proto::client::HubClient;
use tokio::task::JoinHandle;

/// The project the demo's pipeline creates.
pub const PROJECT: &str = "E-Commerce Platform Rebuild";
/// The pipeline: the seven-task graph (docs/WORKFLOWS.md workflow 6) with a plan approval
/// (T3) and a question (T4).
const PIPELINE: &str = include_str!("../../examples/pipelines/ecommerce-demo.yaml");
/// The scripted worker every session runs.
const WORKER: &str = include_str!("../../examples/workers/scripted.sh");

/// One of the demo's servers.
struct ServerSpec {
    name: &'static str,
    repos: &'static [&'static str],
    languages: &'static [&'static str],
}

const SERVERS: [ServerSpec; 2] = [
    ServerSpec {
        name: "dev-backend",
        repos: &[
            "api-gateway",
            "core-service",
            "web-dashboard",
            "search-engine",
            "payment-service",
            "deploy-infra",
            "marketing-site",
        ],
        languages: &["rust", "ts"],
    },
    ServerSpec {
        name: "dev-desktop",
        repos: &["desktop-app"],
        languages: &["csharp"],
    },
];

/// A daemon running in this process, and its tmux socket (killed at the end).
struct LocalDaemon {
    task: JoinHandle<anyhow::Result<()>>,
    tmux_socket: PathBuf,
}

/// The running demo. `stop` tears it down; dropping it does too, less politely.
pub struct Demo {
    pub hub: Option<RunningHub>,
    /// An admin client of the embedded hub.
    pub admin: HubClient,
    daemons: Vec<LocalDaemon>,
    /// The temp dir with the database, the daemons' configs, repos and tmux sockets.
    pub dir: tempfile::TempDir,
}

impl Demo {
    /// Starts everything and assigns T1, reporting each step through `say`.
    pub async fn start(say: &dyn Fn(&str)) -> anyhow::Result<Demo> {
        let dir = tempfile::Builder::new()
            .prefix("orchestratia-demo.")
            .tempdir()
            .context("creating the demo's temp dir")?;
        let cli = link_cli(dir.path())?;
        let worker = dir.path().join("scripted.sh");
        std::fs::write(&worker, WORKER).context("writing the scripted worker")?;

        let db = format!("sqlite://{}", dir.path().join("hub.db").display());
        let (hub, token) = orchestratia_hub::start_with_admin(HubConfig::embedded(&db))
            .await
            .context("starting the embedded hub")?;
        let admin = HubClient::new(&hub.url(), Some(token));
        say(&format!(
            "hub: {} (SQLite in {})",
            hub.url(),
            dir.path().display()
        ));

        let mut demo = Demo {
            hub: Some(hub),
            admin,
            daemons: Vec::new(),
            dir,
        };
        demo.admin.create_project(PROJECT).await?;
        let git = git_available();
        if !git {
            say("git: not found, so the tasks run without worktrees (no diffs to review)");
        }
        for spec in &SERVERS {
            let d = demo.start_daemon(spec, &cli, &worker, git).await?;
            demo.daemons.push(d);
            say(&format!(
                "daemon: {} with {} (scripted workers in tmux)",
                spec.name,
                spec.repos.join(", ")
            ));
        }
        demo.wait_online().await?;

        let file = demo.dir.path().join("ecommerce.yaml");
        std::fs::write(&file, PIPELINE)?;
        say("pipeline: applying the seven-task e-commerce pipeline");
        let ctx = Ctx {
            client: demo.admin.clone(),
            json: false,
        };
        pipeline::apply(&ctx, &file, None).await?;
        let t1 = demo.admin.assign("T1", "dev-backend").await?;
        say(&format!(
            "assigned {} {} to dev-backend by hand; the rest cascades",
            t1.reference, t1.title
        ));
        Ok(demo)
    }

    /// Registers a server with a one-time token (the real `--register` path) and runs its
    /// daemon in this process.
    async fn start_daemon(
        &self,
        spec: &ServerSpec,
        cli: &Path,
        worker: &Path,
        git: bool,
    ) -> anyhow::Result<LocalDaemon> {
        let home = self.dir.path().join(spec.name);
        let mut repos = Vec::new();
        for r in spec.repos {
            let path = home.join("repos").join(r);
            std::fs::create_dir_all(&path)?;
            if git {
                init_git_repo(&path, r)?;
            }
            repos.push(format!("{r}={}", path.display()));
        }
        let languages: Vec<String> = spec.languages.iter().map(|s| s.to_string()).collect();
        let token = self.admin.registration_token(PROJECT).await?.token;
        let config_path = home.join("config.yaml");
        let command = format!("sh '{}'", worker.display());
        let hub_url = self.admin.base().to_string();
        register(
            Registration {
                token: &token,
                hub: &hub_url,
                name: spec.name,
                repos: &repos,
                languages: &languages,
                agent_command: Some(&command),
                runner: None,
            },
            &config_path,
        )
        .await
        .with_context(|| format!("registering {}", spec.name))?;
        let mut config = AgentConfig::load(&config_path)?;
        config.cli_path = Some(cli.to_path_buf());
        config.save(&config_path)?;
        let tmux_socket = config.state_dir(&config_path).join("tmux.sock");
        let task = tokio::spawn(async move { orchestratia_agent::daemon::run(&config_path).await });
        Ok(LocalDaemon { task, tmux_socket })
    }

    async fn wait_online(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let servers = self.admin.servers().await?;
            let online = servers
                .iter()
                .filter(|s| s.status == ServerStatus::Online)
                .count();
            if online == SERVERS.len() {
                return Ok(());
            }
            if let Some(d) = self.daemons.iter().find(|d| d.task.is_finished()) {
                anyhow::bail!(
                    "a daemon stopped before it came online (tmux socket {})",
                    d.tmux_socket.display()
                );
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the daemons did not come online within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the daemons, their tmux servers (and the workers in them) and the hub.
    pub async fn stop(mut self) {
        self.kill_daemons();
        if let Some(hub) = self.hub.take() {
            hub.shutdown().await;
        }
    }

    fn kill_daemons(&mut self) {
        for d in self.daemons.drain(..) {
            d.task.abort();
            let _ = std::process::Command::new("tmux")
                .arg("-S")
                .arg(&d.tmux_socket)
                .arg("kill-server")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.kill_daemons();
    }
}

/// Whether a `git` binary answers.
fn git_available() -> bool {
    std::process::Command::new("git")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes `path` a git repository on `main` with a local identity and a first commit (a
/// README), so the demo's tasks get worktrees and branches to review.
fn init_git_repo(path: &Path, name: &str) -> anyhow::Result<()> {
    std::fs::write(
        path.join("README.md"),
        format!("# {name}\n\nA repository of the Orchestratia demo.\n"),
    )?;
    let steps: [&[&str]; 6] = [
        &["init", "-q", "-b", "main"],
        &["config", "user.name", "Orchestratia Demo"],
        &["config", "user.email", "demo@localhost"],
        &["config", "commit.gpgsign", "false"],
        &["add", "README.md"],
        &["commit", "-q", "-m", "first commit"],
    ];
    for args in steps {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(path)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running git {} in {}", args.join(" "), path.display()))?;
        anyhow::ensure!(
            out.status.success(),
            "git {} in {} failed: {}",
            args.join(" "),
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `<dir>/bin/orchestratia`, a link to this binary, which acts as the CLI when called by that
/// name: the workers in the demo's sessions find it first on their PATH.
fn link_cli(dir: &Path) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this binary")?;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    let link = bin.join("orchestratia");
    std::os::unix::fs::symlink(&exe, &link)
        .with_context(|| format!("linking {}", link.display()))?;
    Ok(link)
}

#[cfg(test)]
mod tests {
    use orchestratia_testkit::git;

    use super::*;

    #[test]
    fn a_demo_repo_is_a_clean_git_repository_with_one_commit() {
        if !orchestratia_testkit::have("git", git_available()) {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        init_git_repo(dir.path(), "api-gateway").expect("init");
        assert_eq!(git::log(dir.path(), "main"), vec!["first commit"]);
        assert_eq!(git::branches(dir.path()), vec!["main"]);
        assert!(git::is_clean(dir.path()));
        assert!(init_git_repo(&dir.path().join("missing"), "x").is_err());
    }
}
