//! The command line's grammar: every command, subcommand, flag and its help text, as clap
//! parses them. What each command does is in the modules named after its group.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub(super) use super::policy_args::{BudgetArgs, PermissionCmd, PolicyCmd};

#[derive(Parser, Debug)]
#[command(
    name = "orchestratia",
    version,
    about = "Drive an Orchestratia hub: projects, servers, tasks, dependencies, and the questions, plans and permissions that wait for a human",
    after_help = "The hub comes from --hub, else ORCHESTRATIA_HUB, else ~/.config/orchestratia/admin.yaml or config.yaml, else http://127.0.0.1:8600.\n\
Each may list several URLs separated by commas (replicas of one hub): a replica that cannot be reached is passed over for the next.\n\
The token comes from --token, else ORCHESTRATIA_TOKEN, else those files.\n\
A task is named by its UUID, a unique prefix of it, or its number (T7 or 7).\n\
Exit codes: 0 success, 2 bad usage or input, 1 anything else."
)]
pub struct Cli {
    /// Hub URL, or several replicas' URLs separated by commas (tried in order).
    #[arg(long, global = true, value_name = "URL[,URL…]")]
    pub(super) hub: Option<String>,
    /// Token (admin, server key or session token).
    #[arg(long, global = true, value_name = "TOKEN")]
    pub(super) token: Option<String>,
    /// Print one JSON document on stdout and nothing else there.
    #[arg(long, global = true)]
    pub(super) json: bool,
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Subcommand, Debug)]
pub(super) enum Command {
    /// Projects: namespaces of servers and tasks.
    #[command(subcommand)]
    Project(ProjectCmd),
    /// Servers: registration tokens and the list of agent daemons.
    #[command(subcommand)]
    Server(ServerCmd),
    /// Admin tokens: list them, revoke one (new ones: `orchestratia-hub admin-token`).
    #[command(subcommand)]
    AdminToken(TokenCmd),
    /// Tasks: create, wire, assign, watch; and, inside a session, complete, fail, ask, plan.
    #[command(subcommand, disable_help_subcommand = true)]
    Task(Box<TaskCmd>),
    /// Sessions: agent processes in terminals on servers.
    #[command(subcommand)]
    Session(SessionCmd),
    /// Create a whole graph of tasks from a YAML file (idempotent by task name).
    #[command(subcommand)]
    Pipeline(PipelineCmd),
    /// Questions agents asked (interventions).
    #[command(subcommand)]
    Intervention(InterventionCmd),
    /// Plans waiting for approval.
    #[command(subcommand)]
    Plan(PlanCmd),
    /// Tool calls waiting for allow or deny.
    #[command(subcommand)]
    Permission(PermissionCmd),
    /// Permission rules: tool calls they allow or deny without a human.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Everything waiting for a human (plans, permissions, questions), what holds up the
    /// most work first.
    Inbox,
    /// Print the event log (optionally following it).
    Events(EventsArgs),
    /// Tasks' git worktrees on the servers: list them, prune the ones whose work is elsewhere.
    #[command(subcommand)]
    Workspace(WorkspaceCmd),
    /// The hub's version, the replica that answered, its database, and every replica sharing
    /// it (alive or not, daemons and consoles it holds, heartbeat p99, last seen).
    Status,
    /// Hooks for agents (run by the agent, not by people).
    #[command(subcommand)]
    Hook(HookCmd),
}

#[derive(Subcommand, Debug)]
pub(super) enum HookCmd {
    /// A Claude Code hook: reads the hook event on stdin, answers on stdout in Claude Code's
    /// format (permission prompts wait for an admin's decision in Orchestratia).
    ClaudeCode {
        /// Only report what the agent does (its session's state follows); decide nothing.
        #[arg(long)]
        report_only: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum ProjectCmd {
    /// Create a project.
    Create {
        name: String,
        /// A budget in US dollars: warned about at 80%, reached at 100%.
        #[arg(long, value_name = "USD", allow_negative_numbers = true)]
        budget_usd: Option<f64>,
        /// Hold the project's new assignments once the budget is reached.
        #[arg(long, requires = "budget_usd")]
        enforce_budget: bool,
    },
    /// List projects with what their tasks cost and their budget.
    List,
    /// Set or clear a project's budget.
    Budget(BudgetArgs),
}

#[derive(Subcommand, Debug)]
pub(super) enum ServerCmd {
    /// Create a one-time registration token and print the install commands; `list` and
    /// `revoke` manage the tokens made so far.
    #[command(args_conflicts_with_subcommands = true)]
    Token {
        #[command(subcommand)]
        action: Option<TokenCmd>,
        /// The project the server joins.
        #[arg(long)]
        project: Option<String>,
        /// How long the token works (e.g. 30m, 2h; default: the hub's, 1 h).
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        expires_in: Option<Duration>,
        /// Let the token replace the registered server of this name (a reinstalled machine):
        /// its old key is revoked and its daemon disconnected when the token is used.
        #[arg(long, value_name = "SERVER")]
        replace: Option<String>,
    },
    /// List servers with status, OS, repos and running sessions.
    List,
    /// Revoke a server's key (it is disconnected and cannot connect again).
    Revoke { name: String },
}

/// Managing tokens already made (the tokens themselves are never shown again, only ids).
#[derive(Subcommand, Debug)]
pub(super) enum TokenCmd {
    /// List tokens with their status (active, used, expired, revoked).
    List,
    /// Revoke a token by the id the list shows (or a unique start of it).
    Revoke { id: String },
}

#[derive(Args, Debug, Default)]
pub(super) struct CreateArgs {
    /// One-line title.
    #[arg(long)]
    pub(super) title: String,
    /// Project name or id (default: your project, or the only one).
    #[arg(long)]
    pub(super) project: Option<String>,
    /// Repository the task works in (a server must have it).
    #[arg(long)]
    pub(super) repo: Option<String>,
    /// The spec, as markdown text.
    #[arg(long, conflicts_with = "spec_file")]
    pub(super) spec: Option<String>,
    /// Read the spec from a file ('-' for stdin).
    #[arg(long, value_name = "FILE")]
    pub(super) spec_file: Option<PathBuf>,
    /// A structured spec (orchestratia/task-spec/v1) as a JSON file.
    #[arg(long, value_name = "FILE")]
    pub(super) structured_spec_file: Option<PathBuf>,
    /// low, medium, high or critical.
    #[arg(long)]
    pub(super) priority: Option<String>,
    /// A language the task needs (repeatable).
    #[arg(long = "lang", value_name = "L")]
    pub(super) languages: Vec<String>,
    /// Pin the task to this server.
    #[arg(long)]
    pub(super) agent: Option<String>,
    /// Required OS of the server (linux, macos, windows).
    #[arg(long)]
    pub(super) os: Option<String>,
    /// A task this one waits for (repeatable; becomes a `blocks` dependency).
    #[arg(long = "depends-on", value_name = "ID")]
    pub(super) depends_on: Vec<String>,
    /// The agent must submit a plan and have it approved before it works.
    #[arg(long)]
    pub(super) require_plan_approval: bool,
    /// Its session may create, assign, list and watch tasks of the project (an orchestrator agent).
    #[arg(long)]
    pub(super) orchestrator: bool,
    /// Keep the agent running after the task is closed, to go on talking to it (`session
    /// send`); by default a finished task's session ends.
    #[arg(long)]
    pub(super) keep_session: bool,
    /// What its git worktree starts from: a branch or commit, or `upstream` (the branch of the
    /// task it depends on). Default: the repo's current branch.
    #[arg(long, value_name = "BRANCH_OR_COMMIT", conflicts_with = "base_from")]
    pub(super) base: Option<String>,
    /// Start its worktree from this task's branch (also makes it wait for that task).
    #[arg(long, value_name = "TASK")]
    pub(super) base_from: Option<String>,
    /// Its branch name (default: orc/T7-title-slug).
    #[arg(long, value_name = "NAME")]
    pub(super) branch: Option<String>,
}

#[derive(Subcommand, Debug)]
pub(super) enum TaskCmd {
    /// Create a task; prints its id (or the task with --json).
    Create(CreateArgs),
    /// Dependencies between tasks.
    #[command(subcommand)]
    Deps(DepsCmd),
    /// Assign a task to a server by name; a session starts there.
    Assign {
        id: String,
        /// The server name.
        #[arg(long, visible_alias = "session")]
        server: String,
        #[arg(long)]
        project: Option<String>,
    },
    /// List tasks.
    List {
        /// A status (pending, assigned, planning, running, needs_human, done, failed, cancelled,
        /// or blocked); several separated by commas.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        project: Option<String>,
        /// Only tasks on this server.
        #[arg(long)]
        server: Option<String>,
    },
    /// Show a task: spec, dependencies, inputs, contracts, result and its timeline.
    View {
        id: Option<String>,
        #[arg(long)]
        project: Option<String>,
    },
    /// Wait until each task (or, with --any, one) is done, failed or needs a human.
    Wait {
        #[arg(required = true)]
        ids: Vec<String>,
        /// Return when the first task gets there.
        #[arg(long)]
        any: bool,
        /// Give up after this long (e.g. 10m).
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<Duration>,
        #[arg(long)]
        project: Option<String>,
    },
    /// Explain which servers may run a task and how each scores.
    Explain {
        id: String,
        #[arg(long)]
        project: Option<String>,
    },
    /// Print the project's DAG: layers, phases, edges, status per task.
    Graph {
        #[arg(long)]
        project: Option<String>,
    },
    /// Cancel a task (its session is stopped).
    Cancel {
        id: String,
        #[arg(long)]
        project: Option<String>,
    },
    /// Put a failed or cancelled task back to pending (it is reassigned when nothing blocks it).
    Retry {
        id: String,
        #[arg(long)]
        project: Option<String>,
    },
    /// Change a task's title, spec, priority, repo, languages or pinned agent.
    Update(UpdateArgs),
    /// Report the task done, with a summary and the contracts it publishes.
    Complete {
        /// The task (default: $ORCHESTRATIA_TASK_ID).
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        summary: String,
        #[arg(long)]
        changes: Option<String>,
        #[arg(long)]
        tests: Option<String>,
        /// KEY=@FILE or KEY=JSON: a contract's data (repeatable).
        #[arg(long = "contract", value_name = "KEY=@FILE|KEY=JSON")]
        contracts: Vec<String>,
    },
    /// Report the task failed.
    Fail {
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// Ask a human; blocks until the answer comes and prints it on stdout.
    Help {
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        question: String,
        /// Give up after this long.
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<Duration>,
    },
    /// Plans.
    #[command(subcommand)]
    Plan(TaskPlanCmd),
    /// Post a note on the task.
    Note {
        #[arg(long)]
        id: Option<String>,
        text: String,
    },
    /// Print the inputs this session's task received from upstream tasks (from
    /// $ORCHESTRATIA_TASK_FILE; no hub needed): all as JSON, or one KEY's data.
    Inputs { key: Option<String> },
    /// Show what a task changed on its branch against its base, coloured on a terminal.
    Diff {
        id: String,
        /// Only the files with lines added and removed, and a total.
        #[arg(long)]
        stat: bool,
        /// Only this file's diff.
        #[arg(long, value_name = "PATH")]
        file: Option<String>,
        #[arg(long)]
        project: Option<String>,
    },
    /// Merge a closed task's branch into its base (or --into BRANCH); its worktree and branch
    /// are removed. A conflict changes nothing and names the files.
    Merge {
        id: String,
        /// The branch to merge into (default: the branch the task started from).
        #[arg(long, value_name = "BRANCH")]
        into: Option<String>,
        /// One commit on the target instead of a merge commit.
        #[arg(long)]
        squash: bool,
        #[arg(long)]
        project: Option<String>,
    },
    /// Keep a closed task's branch and worktree for later (review state `kept`).
    Keep {
        id: String,
        #[arg(long)]
        project: Option<String>,
    },
    /// Throw a closed task's work away: its worktree is removed and its branch deleted.
    Discard {
        id: String,
        #[arg(long)]
        project: Option<String>,
    },
    /// Comment on a line of a task's diff; the agent gets it now if the task runs, else when
    /// it runs again (`task retry`).
    Review {
        id: String,
        /// Where: the file and line, e.g. src/lib.rs:12 (the line after the last colon).
        #[arg(long, value_name = "FILE:LINE")]
        comment: String,
        /// The comment ('-' reads it from stdin).
        text: String,
        #[arg(long)]
        project: Option<String>,
    },
    /// Ask the task's server to report its workspace now, and show it.
    Workspace {
        id: String,
        #[arg(long)]
        project: Option<String>,
    },
}

// The flags of `task update` (a struct of their own, as `task create`'s are).
#[derive(Args, Debug)]
pub(super) struct UpdateArgs {
    pub(super) id: String,
    #[arg(long)]
    pub(super) title: Option<String>,
    #[arg(long, conflicts_with = "spec_file")]
    pub(super) spec: Option<String>,
    #[arg(long, value_name = "FILE")]
    pub(super) spec_file: Option<PathBuf>,
    #[arg(long)]
    pub(super) priority: Option<String>,
    #[arg(long)]
    pub(super) repo: Option<String>,
    #[arg(long = "lang", value_name = "L")]
    pub(super) languages: Vec<String>,
    #[arg(long)]
    pub(super) agent: Option<String>,
    /// Keep the agent running after the task is closed (true or false).
    #[arg(long, value_name = "BOOL")]
    pub(super) keep_session: Option<bool>,
    #[arg(long)]
    pub(super) project: Option<String>,
}

#[derive(Subcommand, Debug)]
pub(super) enum DepsCmd {
    /// Make a task wait for another (`blocks`), or receive its contract (`input`).
    Add {
        id: String,
        #[arg(long = "depends-on", value_name = "ID")]
        depends_on: String,
        /// blocks (wait) or input (wait and receive the contract --contract-key).
        #[arg(long = "type", default_value = "blocks")]
        dep_type: String,
        #[arg(long)]
        contract_key: Option<String>,
        /// When a `blocks` dependency is met: `done` (the default) or `merged` (once the
        /// upstream's branch is merged).
        #[arg(long, value_name = "done|merged")]
        after: Option<String>,
        #[arg(long)]
        project: Option<String>,
    },
    /// Remove a dependency.
    Remove {
        id: String,
        #[arg(long = "depends-on", value_name = "ID")]
        depends_on: String,
        #[arg(long = "type")]
        dep_type: Option<String>,
        #[arg(long)]
        contract_key: Option<String>,
        #[arg(long)]
        project: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum TaskPlanCmd {
    /// Submit a plan; blocks until it is decided and prints "approved" or "rejected: FEEDBACK".
    Submit {
        #[arg(long)]
        id: Option<String>,
        /// The plan ('-' for stdin).
        #[arg(long)]
        file: PathBuf,
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<Duration>,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum SessionCmd {
    /// List sessions with the agent's state (starting, working, waiting_permission,
    /// waiting_input, idle, ended).
    List,
    /// Send a follow-up message to an idle agent: submitted as its next prompt, and checked
    /// that the agent took it.
    Send {
        /// The session: its name (orc-…) or id.
        id: String,
        /// The message ('-' reads it from stdin).
        text: String,
    },
    /// Stop a session whose task is closed (kept with --keep-session) or that has no task:
    /// its agent is asked to exit, then ended; the recording stays.
    Stop {
        /// The session: its name (orc-…) or id.
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Write a session's recording as an asciicast v2 file (asciinema's format) to share or
    /// replay with `asciinema play FILE`.
    Export {
        /// The session: its name (orc-…) or id.
        id: String,
        /// Where to write it (default: NAME.cast; `-` for stdout).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The terminal width in the file's header (sessions start at 120).
        #[arg(long, default_value_t = 120)]
        cols: u16,
        /// The terminal height in the file's header (sessions start at 40).
        #[arg(long, default_value_t = 40)]
        rows: u16,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum PipelineCmd {
    /// Create the tasks of a YAML pipeline that do not exist yet, with their dependencies.
    Apply {
        file: PathBuf,
        #[arg(long)]
        project: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum InterventionCmd {
    /// List questions (pending first).
    List {
        #[arg(long)]
        status: Option<String>,
    },
    /// Answer a question: by its id, a unique prefix, or a task with one pending question.
    Respond { id: String, text: String },
}

#[derive(Subcommand, Debug)]
pub(super) enum PlanCmd {
    /// Approve the plan waiting on a task.
    Approve { id: String },
    /// Reject the plan waiting on a task, with feedback for the agent.
    Reject {
        id: String,
        #[arg(long)]
        feedback: String,
    },
    /// List plans.
    List {
        #[arg(long)]
        status: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum WorkspaceCmd {
    /// List the tasks' worktrees: task, server, branch, review, what changed, path.
    List {
        /// Only this server's.
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        project: Option<String>,
        /// Also those whose worktree was removed (merged, discarded, pruned).
        #[arg(long)]
        all: bool,
    },
    /// Remove the worktrees whose work is merged or discarded, or whose closed task changed
    /// nothing; one holding work that is nowhere else is kept, saying why.
    Prune {
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Only this server's.
        #[arg(long)]
        server: Option<String>,
    },
}

#[derive(Args, Debug)]
pub(super) struct EventsArgs {
    /// Only events of these tasks (comma-separated).
    #[arg(long)]
    pub(super) task: Option<String>,
    #[arg(long)]
    pub(super) project: Option<String>,
    /// Only these event names (comma-separated).
    #[arg(long)]
    pub(super) kind: Option<String>,
    /// Start after this event id.
    #[arg(long)]
    pub(super) after: Option<i64>,
    /// Keep printing new events as they happen.
    #[arg(long, short)]
    pub(super) follow: bool,
}
