//! The grammar of the commands about what waits for a human and what decides without one:
//! permission rules (`policy`), permission requests (`permission`) and project budgets, as
//! clap parses them. What they do is in `policy.rs`, `permissions.rs` and `admin.rs`.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};

#[derive(Subcommand, Debug)]
pub(super) enum PolicyCmd {
    /// List the permission rules (live ones; --all: expired ones too).
    List {
        /// Also the rules whose expiry has passed.
        #[arg(long)]
        all: bool,
    },
    /// Add a rule that allows (or, with --deny, denies) matching tool calls without a human.
    Add(AddRuleArgs),
    /// Remove a rule by its id or a unique start of it.
    Remove { id: String },
    /// Say which rule would decide a tool call and why (per part of a Bash chain); nothing
    /// is filed or decided.
    Test(TestArgs),
}

/// `policy add`'s flags.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("scope").args(["task", "session", "global"])))]
pub(super) struct AddRuleArgs {
    /// Bash, Edit, MultiEdit, Write, Read, NotebookEdit, WebFetch, WebSearch, …, an MCP tool
    /// (mcp__server__tool), or * (any tool).
    #[arg(long)]
    pub(super) tool: String,
    /// Bash: command words (`cargo test *`: a last `*` matches any further words); file
    /// tools: a path glob inside the working dir (`src/**`); WebFetch: a URL glob.
    #[arg(long)]
    pub(super) pattern: String,
    /// Deny matching calls instead of allowing them.
    #[arg(long)]
    pub(super) deny: bool,
    /// A project rule (default: the only project, when there is one); with --task, the
    /// project its number is in.
    #[arg(long)]
    pub(super) project: Option<String>,
    /// A task rule: calls of this task's sessions (T7, a number, an id).
    #[arg(long)]
    pub(super) task: Option<String>,
    /// A session rule: calls of this session (its id).
    #[arg(long)]
    pub(super) session: Option<String>,
    /// A rule for every project.
    #[arg(long, conflicts_with = "project")]
    pub(super) global: bool,
    /// When it stops deciding: a duration from now (30m, 2h, 7d) or an RFC 3339 time.
    #[arg(long, value_name = "DURATION|TIME")]
    pub(super) expires: Option<String>,
    /// Why the rule exists.
    #[arg(long)]
    pub(super) note: Option<String>,
    /// Accept a Bash pattern that matches every command (`*`).
    #[arg(long)]
    pub(super) force: bool,
}

/// `policy test`'s flags.
#[derive(Args, Debug)]
pub(super) struct TestArgs {
    /// The tool of the call.
    #[arg(long)]
    pub(super) tool: String,
    /// The call's input: Bash, a command; file tools, a path; WebFetch, a URL; WebSearch, a
    /// query; any other tool, its input as JSON.
    #[arg(long)]
    pub(super) input: String,
    /// As if the call came from this project.
    #[arg(long)]
    pub(super) project: Option<String>,
    /// As if the call came from this task's session.
    #[arg(long)]
    pub(super) task: Option<String>,
    /// As if the call came from this session (its id; its working dir is the default --dir).
    #[arg(long)]
    pub(super) session: Option<String>,
    /// The working dir paths and redirections are judged against.
    #[arg(long, value_name = "DIR")]
    pub(super) dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub(super) enum PermissionCmd {
    /// List permission requests: the rule that decided each, and for pending ones the
    /// narrowest patterns that would allow them.
    List {
        #[arg(long)]
        status: Option<String>,
    },
    /// Allow a tool call (by id, prefix, or a task with one pending request): once, or with
    /// --session / --always also as a rule for calls like it.
    Allow {
        id: String,
        /// Also allow calls like it for the rest of its session (a session rule).
        #[arg(long, conflicts_with = "always")]
        session: bool,
        /// Also allow calls like it from now on (a project rule).
        #[arg(long)]
        always: bool,
        /// The rule's pattern (repeatable; default: the request's suggested ones).
        #[arg(long = "pattern", value_name = "P")]
        patterns: Vec<String>,
    },
    /// Deny a tool call; with --rule also deny calls like it from now on (a project rule).
    Deny {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        /// Also make a project rule that denies calls like it.
        #[arg(long)]
        rule: bool,
        /// The deny rule's pattern (repeatable; default: the request's suggested ones).
        #[arg(long = "pattern", value_name = "P")]
        patterns: Vec<String>,
    },
}

/// `project budget`'s flags: a new budget, or none.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("budget").args(["budget_usd", "clear"]).required(true)))]
pub(super) struct BudgetArgs {
    /// The project's name or id.
    pub(super) name: String,
    /// The budget in US dollars (more than zero).
    #[arg(long, value_name = "USD", allow_negative_numbers = true)]
    pub(super) budget_usd: Option<f64>,
    /// Hold the project's new assignments once the budget is reached (otherwise only warn).
    #[arg(long, requires = "budget_usd")]
    pub(super) enforce: bool,
    /// Remove the budget.
    #[arg(long)]
    pub(super) clear: bool,
}
