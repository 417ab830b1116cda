//! `orchestratia-hub`: serve the hub, or print a fresh admin token.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use orchestratia_hub::config::{HubConfig, Limits};
use orchestratia_hub::store::{self, Store};
use orchestratia_hub::telegram::TelegramConfig;

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
    Serve(Box<Serve>),
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
    /// Run as one of several replicas sharing one PostgreSQL database, under this name
    /// (unique among them): events, daemon commands and watched output then cross replicas.
    #[arg(long, env = "ORCHESTRATIA_REPLICA_ID")]
    replica_id: Option<String>,
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
    /// An agent that reports through hooks (Claude Code) but has not this long after it
    /// started is reported stalled: a dialog probably holds it.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    stall_after: Duration,
    /// An answer (or plan decision) its asker has not picked up this long after it was given
    /// is submitted to the agent as its next prompt.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    late_answer_after: Duration,
    /// How long a registration token works unless its creator says otherwise
    /// (`orchestratia server token --expires-in`); at most 30 days.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    registration_token_ttl: Duration,
    /// Largest stored terminal output per session, in MiB.
    #[arg(long, default_value_t = 64)]
    max_session_mib: u64,
    /// A WebSocket write (to a daemon or a console) not done within this drops the client:
    /// it stopped reading, and its messages would pile up in the hub's memory.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, env = "ORCHESTRATIA_WS_SEND_TIMEOUT")]
    ws_send_timeout: Duration,
    /// Most sessions a daemon's hello may list; a longer hello is refused and its socket
    /// closed (a daemon runs tens of sessions).
    #[arg(
        long,
        default_value_t = 10_000,
        env = "ORCHESTRATIA_MAX_HELLO_SESSIONS"
    )]
    max_hello_sessions: usize,
    /// Messages queued for one daemon; a daemon whose queue overflows is disconnected and
    /// resyncs when it reconnects. Must exceed --max-hello-sessions.
    #[arg(long, default_value_t = orchestratia_hub::connections::DAEMON_QUEUE, env = "ORCHESTRATIA_DAEMON_QUEUE")]
    daemon_queue: usize,
    /// Disconnect a client that has not sent a request's full headers this long after it
    /// connected or after its previous response (0s: never).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    header_timeout: Duration,
    /// Most connections open at once; above it, new connections get `/health` only and 503
    /// for everything else. Lowered to what the open-file limit allows.
    #[arg(long, default_value_t = 20_000)]
    max_connections: usize,
    /// Most connections open at once from one client address (same treatment above it).
    /// Behind a reverse proxy all clients share its address: raise it to --max-connections.
    #[arg(long, default_value_t = 1_000)]
    max_connections_per_address: usize,
    /// On SIGTERM/SIGINT, long-polls are answered at once; other open requests get this long
    /// to finish before the hub exits anyway.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    shutdown_grace: Duration,
    /// What waits for a human longer than this is announced again on Telegram, once.
    #[arg(long, default_value = "10m", value_parser = positive_duration)]
    remind_after: Duration,
    /// Telegram bot token (from @BotFather): the bot follows the pipeline and takes decisions.
    #[arg(long, env = "ORCHESTRATIA_TELEGRAM_TOKEN", hide_env_values = true)]
    telegram_token: Option<String>,
    /// A chat the bot obeys (repeatable; the variable takes them comma-separated).
    #[arg(
        long = "telegram-chat",
        env = "ORCHESTRATIA_TELEGRAM_CHATS",
        value_delimiter = ',',
        value_name = "ID"
    )]
    telegram_chats: Vec<i64>,
    /// The Bot API's URL (default: Telegram's; a fake server in tests).
    #[arg(long, env = "ORCHESTRATIA_TELEGRAM_API_URL")]
    telegram_api_url: Option<String>,
    /// How often the bot edits a live screen message, at most.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    telegram_screen_every: Duration,
    /// How long one getUpdates long-poll waits.
    #[arg(long, default_value = "25s", value_parser = humantime::parse_duration, hide = true)]
    telegram_poll_timeout: Duration,
}

/// A duration of more than zero (`90s`, `10m`).
fn positive_duration(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => Err("must be more than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
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
        Command::AdminToken { db } => print_admin_token(db).await,
        Command::Serve(s) => serve(*s).await,
    }
}

/// `admin-token`: creates an admin token in the database and prints it.
async fn print_admin_token(db: Option<String>) -> anyhow::Result<()> {
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

/// `serve`: runs the hub until SIGTERM or SIGINT, then shuts it down.
async fn serve(mut s: Serve) -> anyhow::Result<()> {
    let url = db_url(s.db.take());
    let config = hub_config(&url, s)?;
    orchestratia_hub::listener::raise_open_file_limit();
    let running = orchestratia_hub::start(config).await?;
    let replica = match running.hub.replica() {
        Some(r) => format!(", replica {r}"),
        None => String::new(),
    };
    println!(
        "orchestratia-hub {} listening on {} (database {}{replica})",
        orchestratia_proto::VERSION,
        running.url(),
        store::redact(&url)
    );
    if let Some(f) = &running.admin_file {
        println!("admin token written to {}", f.display());
    }
    shutdown_signal().await;
    eprintln!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Refuses settings that would disable a guard, before anything is opened.
fn check_settings(s: &Serve) -> anyhow::Result<()> {
    if s.heartbeat_interval.is_zero() || s.offline_after <= s.heartbeat_interval {
        anyhow::bail!("--offline-after must be longer than --heartbeat-interval");
    }
    if s.ws_send_timeout.is_zero() {
        anyhow::bail!("--ws-send-timeout must be longer than zero");
    }
    if s.daemon_queue <= s.max_hello_sessions {
        anyhow::bail!(
            "--daemon-queue must exceed --max-hello-sessions: the replies to a hello are queued at once"
        );
    }
    if s.max_connections == 0 || s.max_connections_per_address == 0 {
        anyhow::bail!("--max-connections and --max-connections-per-address must be at least 1");
    }
    if s.registration_token_ttl.as_secs() == 0
        || s.registration_token_ttl > Duration::from_secs(30 * 24 * 3600)
    {
        anyhow::bail!("--registration-token-ttl must be between 1s and 30 days");
    }
    Ok(())
}

/// The hub's configuration from the `serve` flags, once they are checked.
fn hub_config(url: &str, s: Serve) -> anyhow::Result<HubConfig> {
    check_settings(&s)?;
    if s.replica_id.is_some() && !url.starts_with("postgres") {
        anyhow::bail!(
            "--replica-id needs PostgreSQL: replicas share one postgres:// database (SQLite serves one hub)"
        );
    }
    let mut config = HubConfig::new(url, s.listen);
    config.heartbeat_interval = s.heartbeat_interval;
    config.offline_after = s.offline_after;
    config.stall_after = s.stall_after;
    config.late_answer_after = s.late_answer_after;
    config.registration_token_ttl = s.registration_token_ttl;
    config.shutdown_grace = s.shutdown_grace;
    config.remind_after = s.remind_after;
    config.replica_id = s.replica_id.clone();
    config.limits = Limits {
        max_session_bytes: s.max_session_mib * 1024 * 1024,
        ws_send_timeout: s.ws_send_timeout,
        max_hello_sessions: s.max_hello_sessions,
        daemon_queue: s.daemon_queue,
        header_timeout: s.header_timeout,
        max_connections: s.max_connections,
        max_connections_per_address: s.max_connections_per_address,
        ..Limits::default()
    };
    config.telegram = telegram_config(&s)?;
    config.public_url = s.public_url;
    config.admin_file = s.admin_file;
    config.write_admin_file = !s.no_admin_file;
    Ok(config)
}

/// The Telegram bot's settings: none without a token, and a token needs the chats it obeys.
fn telegram_config(s: &Serve) -> anyhow::Result<Option<TelegramConfig>> {
    match (&s.telegram_token, s.telegram_chats.is_empty()) {
        (Some(token), false) => {
            let mut t = TelegramConfig::new(token, s.telegram_chats.clone());
            t.api_url = s.telegram_api_url.clone();
            t.screen_every = s.telegram_screen_every;
            t.poll_timeout = s.telegram_poll_timeout;
            Ok(Some(t))
        }
        (Some(_), true) => anyhow::bail!(
            "--telegram-token needs at least one --telegram-chat (the chats the bot obeys)"
        ),
        (None, false) => anyhow::bail!("--telegram-chat needs --telegram-token"),
        (None, true) => Ok(None),
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
