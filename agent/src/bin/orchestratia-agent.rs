//! `orchestratia-agent`: register this server with a hub, or run the daemon that runs agents
//! for it, or print a systemd unit for the daemon.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use orchestratia_agent::cli::UsageError;
use orchestratia_agent::daemon::config::{self, RunnerKind};
use orchestratia_agent::daemon::connection::KeyRefused;
use orchestratia_agent::daemon::register::{self, Registration, register};
use orchestratia_agent::daemon::{self, systemd};

#[derive(Parser)]
#[command(
    name = "orchestratia-agent",
    version,
    about = "The Orchestratia agent daemon: runs AI coding agents for a hub, each in a terminal that survives a daemon crash",
    after_help = "Register once with a token from `orchestratia server token --project NAME`, then run the daemon:\n  \
orchestratia-agent --register orcreg_… --hub http://hub:8600 --name dev-backend --repo api=/srv/api --lang rust\n  \
orchestratia-agent"
)]
struct Cli {
    /// The config file (default: ~/.config/orchestratia/config.yaml).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Register with this one-time token (orcreg_…), write the config, and exit.
    #[arg(long, value_name = "TOKEN", requires_all = ["hub", "name"])]
    register: Option<String>,
    /// The hub's URL, or its replicas' URLs separated by commas, tried in order (with
    /// --register; kept in the config as `hub_url`).
    #[arg(long, value_name = "URL[,URL…]")]
    hub: Option<String>,
    /// This server's name (with --register).
    #[arg(long)]
    name: Option<String>,
    /// A repository on this machine, NAME=PATH (repeatable; with --register).
    #[arg(long = "repo", value_name = "NAME=PATH")]
    repos: Vec<String>,
    /// A language this server works in (repeatable; with --register).
    #[arg(long = "lang", value_name = "L")]
    languages: Vec<String>,
    /// The agent command, run by `sh -c` in the repo (default: claude; with --register).
    #[arg(long, value_name = "CMD")]
    agent_command: Option<String>,
    /// How sessions run: auto (tmux when installed), tmux or pty (with --register).
    #[arg(long, value_parser = parse_runner)]
    runner: Option<RunnerKind>,
    /// Where tasks' git worktrees go (default: beside the config, in its state dir; with
    /// --register).
    #[arg(long, value_name = "DIR")]
    worktree_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print a systemd unit that runs this daemon.
    Service {
        /// The user the daemon runs as (default: the current user).
        #[arg(long)]
        user: Option<String>,
    },
}

fn parse_runner(s: &str) -> Result<RunnerKind, String> {
    match s {
        "auto" => Ok(RunnerKind::Auto),
        "tmux" => Ok(RunnerKind::Tmux),
        "pty" => Ok(RunnerKind::Pty),
        _ => Err(format!("'{s}': expected auto, tmux or pty")),
    }
}

#[tokio::main]
async fn main() {
    orchestratia_agent::restore_sigpipe();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let code = match run(cli).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                2
            } else if e.downcast_ref::<KeyRefused>().is_some() {
                78
            } else {
                1
            }
        }
    };
    std::process::exit(code);
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config_path = match cli.config {
        Some(p) => p,
        None => config::default_path()?,
    };
    if let Some(Command::Service { user }) = cli.command {
        let exe = std::env::current_exe()?;
        let config_path = std::path::absolute(&config_path)?;
        let user = user
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "root".into());
        print!("{}", systemd::unit(&exe, &config_path, &user));
        return Ok(());
    }
    if let Some(token) = cli.register {
        let (Some(hub), Some(name)) = (cli.hub, cli.name) else {
            return Err(UsageError("--register needs --hub and --name".into()).into());
        };
        let worktree_dir = cli
            .worktree_dir
            .as_deref()
            .map(register::worktree_dir)
            .transpose()?;
        let mut c = register(
            Registration {
                token: &token,
                hub: &hub,
                name: &name,
                repos: &cli.repos,
                languages: &cli.languages,
                agent_command: cli.agent_command.as_deref(),
                runner: cli.runner,
            },
            &config_path,
        )
        .await?;
        if worktree_dir.is_some() {
            c.worktree_dir = worktree_dir;
            c.save(&config_path)?;
        }
        println!("{}", c.name);
        eprintln!(
            "registered {} with {}; config written to {} (mode 0600). Start the daemon: orchestratia-agent --config {}",
            c.name,
            c.hub_url,
            config_path.display(),
            config_path.display()
        );
        return Ok(());
    }
    if cli.hub.is_some()
        || cli.name.is_some()
        || !cli.repos.is_empty()
        || !cli.languages.is_empty()
        || cli.worktree_dir.is_some()
    {
        return Err(UsageError(
            "--hub, --name, --repo, --lang and --worktree-dir go with --register".into(),
        )
        .into());
    }
    daemon::run(&config_path).await
}
