//! `orchestratia-agent`: the daemon that turns a development server into a worker of the hub.
//! Registration, the connection (with its outbox), the session manager and the session
//! runners (tmux, or a plain PTY) are separate parts, named by what they do.

pub mod claude;
pub mod config;
pub mod connection;
pub mod manager;
pub mod outbox;
pub mod prompt;
pub mod register;
pub mod session;
pub mod systemd;
pub mod tmux;
pub mod workspace;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::mpsc;

use config::{AgentConfig, RunnerKind};

/// Runs the daemon with the config at `config_path` until it is stopped.
pub async fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = AgentConfig::load(config_path)?;
    let state_dir = config.state_dir(config_path);
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let use_tmux = match config.runner {
        RunnerKind::Tmux => {
            anyhow::ensure!(tmux::available(), "runner: tmux, but tmux is not installed");
            true
        }
        RunnerKind::Pty => false,
        RunnerKind::Auto => tmux::available(),
    };
    if !use_tmux {
        tracing::warn!(
            "tmux is not installed: sessions run in plain PTYs and will not survive a daemon restart"
        );
    }
    let cli = config.cli_path.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("orchestratia")))
            .filter(|p| p.exists())
            .unwrap_or_else(|| "orchestratia".into())
    });
    let outbox = Arc::new(outbox::Outbox::new(
        (config.output_buffer_mib as usize) * 1024 * 1024,
    ));
    let (ended_tx, ended_rx) = mpsc::unbounded_channel();
    let workspaces = Arc::new(workspace::Workspaces::new(
        &config.worktree_dir(&state_dir),
        &state_dir,
    ));
    let claude = Arc::new(claude::Settings::new(&state_dir));
    let env = Arc::new(session::Env {
        outbox: outbox.clone(),
        tmux: use_tmux.then(|| tmux::Tmux::new(&state_dir.join("tmux.sock"))),
        state_dir,
        config: Arc::new(config.clone()),
        claude,
        cli,
        ended: ended_tx,
        workspaces,
    });
    let manager = manager::Manager::new(env, ended_rx);
    manager.recover().await;
    tracing::info!(server = %config.name, hub = %config.hub_url, "daemon running");
    connection::run(&config.hub_url, &config.api_key, manager, outbox).await
}
