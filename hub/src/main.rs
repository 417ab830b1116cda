//! `orchestratia-hub`: serve the hub, or print a fresh admin token.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use orchestratia_hub::config::{HubConfig, Limits};
use orchestratia_hub::store::{self, Store};

#[derive(Parser)]
#[command(
    name = "orchestratia-hub",
    version,
    about = "The Orchestratia hub: tasks, dependencies, contracts and live sessions across servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST and WebSocket API.
    Serve(Serve),
    /// Create and print a fresh admin token.
    AdminToken {
        /// Database URL (default: SQLite under the user's data dir).
        #[arg(long, env = "ORCHESTRATIA_DB")]
        db: Option<String>,
    },
}

#[derive(clap::Args)]
struct Serve {
    /// Database: a SQLite file path or sqlite:// URL, or postgres://… (default: SQLite under the user's data dir).
    #[arg(long, env = "ORCHESTRATIA_DB")]
    db: Option<String>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8600", env = "ORCHESTRATIA_LISTEN")]
    listen: SocketAddr,
    /// How often daemons send heartbeats.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    heartbeat_interval: Duration,
    /// A server with no heartbeat for this long goes offline.
    #[arg(long, default_value = "90s", value_parser = humantime::parse_duration)]
    offline_after: Duration,
    /// URL agents and install commands use to reach the hub (default: the listen address).
    #[arg(long, env = "ORCHESTRATIA_PUBLIC_URL")]
    public_url: Option<String>,
    /// Where to write the admin token (default: ~/.config/orchestratia/admin.yaml).
    #[arg(long)]
    admin_file: Option<PathBuf>,
    /// Do not write the admin token file.
    #[arg(long)]
    no_admin_file: bool,
    /// Largest stored terminal output per session, in MiB.
    #[arg(long, default_value_t = 64)]
    max_session_mib: u64,
}

fn db_url(db: Option<String>) -> String {
    db.unwrap_or_else(|| format!("sqlite://{}", store::default_sqlite_path().display()))
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::AdminToken { db } => {
            let url = db_url(db);
            let store = Store::open(&url)
                .await
                .with_context(|| format!("opening {}", store::redact(&url)))?;
            println!(
                "{}",
                orchestratia_hub::admin::create_admin_token(&store).await?
            );
            Ok(())
        }
        Command::Serve(s) => {
            if s.heartbeat_interval.is_zero() || s.offline_after <= s.heartbeat_interval {
                anyhow::bail!("--offline-after must be longer than --heartbeat-interval");
            }
            let url = db_url(s.db);
            let mut config = HubConfig::new(&url, s.listen);
            config.heartbeat_interval = s.heartbeat_interval;
            config.offline_after = s.offline_after;
            config.public_url = s.public_url;
            config.admin_file = s.admin_file;
            config.write_admin_file = !s.no_admin_file;
            config.limits = Limits {
                max_session_bytes: s.max_session_mib * 1024 * 1024,
                ..Limits::default()
            };
            let running = orchestratia_hub::start(config).await?;
            println!(
                "orchestratia-hub {} listening on {} (database {})",
                orchestratia_proto::VERSION,
                running.url(),
                store::redact(&url)
            );
            if let Some(f) = &running.admin_file {
                println!("admin token written to {}", f.display());
            }
            let hub_task = running;
            tokio::select! {
                _ = shutdown_signal() => {
                    eprintln!("shutting down");
                }
            }
            hub_task.shutdown().await;
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
