//! The `orchestratia` command line: what orchestrator and worker agents use to create, assign,
//! complete, ask for help and submit plans, and what admins use for everything else. The
//! commands and JSON fields are a public interface (docs/CLI.md).

/// Prints a line of human-readable output with every control character that came from an
/// agent or the API shown escaped (line breaks kept). JSON output goes through `println!`.
macro_rules! say {
    () => {
        println!()
    };
    ($($arg:tt)*) => {
        println!("{}", orchestratia_proto::text::multi_line(&format!($($arg)*)))
    };
}

mod admin;
mod args;
pub mod cast;
mod diff;
pub mod hook;
mod permissions;
pub mod pipeline;
mod pipeline_rules;
mod policy;
mod policy_args;
pub mod print;
mod status;
mod tasks;
mod wait;
mod work;
mod workspace;
mod wsview;

use admin::TokenKind;
use args::{
    Command, CreateArgs, DepsCmd, EventsArgs, HookCmd, InterventionCmd, PipelineCmd, PlanCmd,
    ProjectCmd, ServerCmd, SessionCmd, TaskCmd, TaskPlanCmd, TokenCmd, UpdateArgs,
};
use clap::Parser;
use orchestratia_proto::client::{ClientError, HubClient, discover};

pub use args::Cli;

/// Exit code for bad usage or input.
pub const EXIT_USAGE: i32 = 2;
/// Exit code for everything else that fails.
pub const EXIT_FAILURE: i32 = 1;

/// An error in what the user typed (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Shorthand for a usage error.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// What every command needs: the client and how to print.
pub struct Ctx {
    pub client: HubClient,
    pub json: bool,
}

impl Ctx {
    /// Prints `v` as JSON when --json, else runs `text`.
    pub fn out<T: serde::Serialize>(&self, v: &T, text: impl FnOnce(&T)) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(v)?);
        } else {
            text(v);
        }
        Ok(())
    }
}

/// The task id inside a session: the flag, else `ORCHESTRATIA_TASK_ID`.
fn task_id(flag: Option<String>) -> anyhow::Result<String> {
    flag.or_else(|| {
        std::env::var("ORCHESTRATIA_TASK_ID")
            .ok()
            .filter(|v| !v.is_empty())
    })
    .ok_or_else(|| usage("no task: pass --id, or run inside a session (ORCHESTRATIA_TASK_ID)"))
}

/// Says on stderr that the hub cannot be reached, then waits 2 s before the caller asks again.
async fn pause_while_unreachable(e: &ClientError) {
    eprintln!(
        "hub unreachable ({}); retrying",
        orchestratia_proto::text::one_line(&e.to_string())
    );
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
}

/// Runs the command line and returns the process exit code.
pub async fn main() -> i32 {
    let cli = Cli::parse();
    let (hub, token) = discover(cli.hub.as_deref(), cli.token.as_deref());
    let ctx = Ctx {
        client: HubClient::new(&hub, token),
        json: cli.json,
    };
    match run(&ctx, cli.command).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "error: {}",
                orchestratia_proto::text::one_line(&one_line(&e))
            );
            exit_code(&e)
        }
    }
}

/// An error as one line.
fn one_line(e: &anyhow::Error) -> String {
    let msg = format!("{e:#}");
    msg.lines().next().unwrap_or_default().to_string()
}

/// 2 for bad usage or input (including what the hub refused as such), 1 otherwise.
fn exit_code(e: &anyhow::Error) -> i32 {
    if e.downcast_ref::<UsageError>().is_some() {
        return EXIT_USAGE;
    }
    match e.downcast_ref::<ClientError>() {
        Some(ClientError::Api {
            status: 400 | 404 | 409 | 413 | 422,
            ..
        }) => EXIT_USAGE,
        _ => EXIT_FAILURE,
    }
}

async fn run(ctx: &Ctx, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Project(c) => admin::project(ctx, c).await,
        Command::Server(c) => admin::server(ctx, c).await,
        Command::AdminToken(c) => admin::tokens(ctx, TokenKind::Admin, c).await,
        Command::Task(c) => tasks::task(ctx, *c).await,
        Command::Session(SessionCmd::List) => admin::sessions(ctx).await,
        Command::Session(SessionCmd::Send { id, text }) => admin::send(ctx, &id, &text).await,
        Command::Session(SessionCmd::Stop { id, reason }) => {
            admin::stop_session(ctx, &id, reason.as_deref()).await
        }
        Command::Session(SessionCmd::Export {
            id,
            output,
            cols,
            rows,
        }) => admin::export_session(ctx, &id, output, cols, rows).await,
        Command::Pipeline(PipelineCmd::Apply { file, project }) => {
            pipeline::apply(ctx, &file, project.as_deref()).await
        }
        Command::Intervention(c) => admin::intervention(ctx, c).await,
        Command::Plan(c) => admin::plan(ctx, c).await,
        Command::Permission(c) => permissions::permission(ctx, c).await,
        Command::Policy(c) => policy::policy(ctx, c).await,
        Command::Inbox => permissions::inbox(ctx).await,
        Command::Events(a) => admin::events(ctx, a).await,
        Command::Workspace(c) => workspace::workspaces(ctx, c).await,
        Command::Status => status::status(ctx).await,
        Command::Hook(HookCmd::ClaudeCode { report_only }) => {
            let input = hook::read_stdin();
            if let Some(out) = hook::claude_code(&ctx.client, &input, report_only).await {
                // JSON for Claude Code, not for a terminal.
                println!("{out}");
            }
            Ok(())
        }
    }
}
