//! Starting a session's agent: where it works, the script that runs it, its environment and
//! command line, Claude Code's preparations (folder trust, hook settings, the conversation),
//! and the terminal it runs in (a tmux session with a client attached, or a plain PTY).
//!
//! The agent is started by a small script that waits for the daemon's client to attach (so no
//! output is missed), runs the agent command, records its exit status in a file, and then
//! waits again so the daemon can read the final screen before the tmux session goes away. Both
//! waits are tmux `wait-for` channels, which remember a signal sent before anyone waits — so a
//! daemon that crashes at any point finds the session where it left it.

use std::path::{Path, PathBuf};

use orchestratia_proto::ws::SessionStart;

use super::files::{Files, State};
use super::terminal::{Terminal, open_terminal, tmux_call};
use super::{COLS, Env, ROWS};
use crate::daemon::claude::{self, Conversation, trust};
use crate::daemon::tmux::Tmux;

/// Quotes a string for `sh`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The environment variable naming the file the agent's prompt is read from.
const PROMPT_VAR: &str = "ORCHESTRATIA_PROMPT_FILE";
/// The same for a resumed conversation's prompt.
const RESUME_VAR: &str = "ORCHESTRATIA_RESUME_FILE";

/// The script that runs the agent (see the module comment). `bin_dir` (where `orchestratia`
/// is) goes first on PATH here: tmux gives a new session the PATH of the client that made it,
/// whatever `-e PATH=…` says.
pub fn script(files: &Files, tmux: Option<&Tmux>, name: &str, bin_dir: &Path) -> String {
    let exit = sh_quote(&files.exit().to_string_lossy());
    let exit_tmp = sh_quote(&format!("{}.tmp", files.exit().to_string_lossy()));
    let mut s = format!("#!/bin/sh\n# Orchestratia session {name}.\n");
    s.push_str(&format!(
        "PATH={}:\"$PATH\"; export PATH\n",
        sh_quote(&bin_dir.to_string_lossy())
    ));
    if let Some(t) = tmux {
        let sock = sh_quote(&t.socket().to_string_lossy());
        s.push_str(&format!(
            "tmux -S {sock} wait-for {}\n",
            sh_quote(&format!("{name}-go"))
        ));
    }
    s.push_str("sh -c \"$ORCHESTRATIA_AGENT_COMMAND\"\ncode=$?\n");
    s.push_str(&format!(
        "printf '%s\\n' \"$code\" > {exit_tmp} && mv {exit_tmp} {exit}\n"
    ));
    if let Some(t) = tmux {
        let sock = sh_quote(&t.socket().to_string_lossy());
        s.push_str(&format!(
            "tmux -S {sock} wait-for {}\n",
            sh_quote(&format!("{name}-release"))
        ));
    }
    s.push_str("exit $code\n");
    s
}

/// The agent command as run: Claude Code gets its conversation and the prompt as arguments.
pub fn agent_command(env: &Env, conversation: Option<&Conversation>) -> String {
    let cmd = env.config.agent_command.trim();
    match conversation {
        Some(c @ Conversation::New(_)) => claude::command_line(cmd, c, PROMPT_VAR),
        Some(c @ Conversation::Resume(_)) => claude::command_line(cmd, c, RESUME_VAR),
        None => cmd.to_string(),
    }
}

/// The hub URLs an agent's CLI calls use: the one the hub names first, then the daemon's own
/// (between replicas the daemon knows them all, so the agent's calls fail over too).
fn hub_urls(from_hub: &str, daemon: &str) -> String {
    let mut all = orchestratia_proto::client::parse_bases(from_hub);
    for u in orchestratia_proto::client::parse_bases(daemon) {
        if !all.contains(&u) {
            all.push(u);
        }
    }
    all.join(",")
}

/// The agent's environment: the ORCHESTRATIA_* variables (hub, token, task, prompt files),
/// and for Claude Code Bash timeouts a human's answer fits in.
pub fn environment(
    env: &Env,
    s: &SessionStart,
    files: &Files,
    conversation: Option<&Conversation>,
) -> Vec<(String, String)> {
    let mut vars = vec![
        (
            "ORCHESTRATIA_HUB".to_string(),
            hub_urls(&s.hub_url, &env.config.hub_url),
        ),
        ("ORCHESTRATIA_TOKEN".to_string(), s.token.clone()),
        ("ORCHESTRATIA_SESSION".to_string(), s.name.clone()),
        (
            "ORCHESTRATIA_TASK_FILE".to_string(),
            files.task().to_string_lossy().into_owned(),
        ),
        (
            PROMPT_VAR.to_string(),
            files.prompt().to_string_lossy().into_owned(),
        ),
        (
            RESUME_VAR.to_string(),
            files.resume_prompt().to_string_lossy().into_owned(),
        ),
        (
            "ORCHESTRATIA_AGENT_COMMAND".to_string(),
            agent_command(env, conversation),
        ),
    ];
    if let Some(t) = &s.task {
        vars.push(("ORCHESTRATIA_TASK_ID".to_string(), t.id.to_string()));
    }
    if conversation.is_some() {
        vars.extend(claude::environment(env.config.human_wait_secs));
    }
    vars
}

/// `vars` with the agent command replaced (to resume a conversation).
pub fn with_command(vars: &[(String, String)], command: String) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vars
        .iter()
        .filter(|(k, _)| k != "ORCHESTRATIA_AGENT_COMMAND")
        .cloned()
        .collect();
    out.push(("ORCHESTRATIA_AGENT_COMMAND".to_string(), command));
    out
}

/// Where the session works: the repo's path, else the configured default, else home.
pub fn working_dir(env: &Env, s: &SessionStart) -> Result<PathBuf, String> {
    if let Some(dir) = &s.working_dir {
        let p = PathBuf::from(dir);
        return if p.is_dir() {
            Ok(p)
        } else {
            Err(format!(
                "the working directory {dir} does not exist on {}",
                env.config.name
            ))
        };
    }
    Ok(env
        .config
        .default_dir
        .clone()
        .or_else(dirs::home_dir)
        .unwrap_or_else(|| PathBuf::from("/")))
}

/// Claude Code is installed where the agent will look for it (the daemon's PATH, with the
/// CLI's directory first), or the reason it cannot start.
pub fn check_claude(env: &Env) -> Result<(), String> {
    let program = env
        .config
        .agent_command
        .split_whitespace()
        .next()
        .unwrap_or("claude");
    let bin_dir = env.cli.parent().map(Path::to_path_buf).unwrap_or_default();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin_dir];
    dirs.extend(std::env::split_paths(&path));
    let joined = std::env::join_paths(dirs).unwrap_or_default();
    match claude::find_program(program, &joined.to_string_lossy()) {
        Some(_) => Ok(()),
        None => Err(format!(
            "the agent command '{program}' was not found on {} (PATH: {}): install Claude Code (npm install -g @anthropic-ai/claude-code) or set agent_command in the daemon's config.yaml",
            env.config.name,
            path.to_string_lossy()
        )),
    }
}

/// Prepares a working dir for Claude Code: trusted in the user's Claude config (no first-run
/// dialog), hook settings installed with the permission mode pinned. Returns warnings for the
/// admin: what could not be done, and so how the session may stall.
pub fn prepare_claude(env: &Env, dir: &Path) -> Vec<String> {
    let mut warnings: Vec<String> = trust(dir).into_iter().collect();
    let command = format!("{} hook claude-code", sh_quote(&env.cli.to_string_lossy()));
    if let Err(e) = env
        .claude
        .acquire(dir, &command, &env.config.permission_mode)
    {
        warnings.push(format!(
            "Claude Code hooks not installed ({e:#}): permission prompts stay in the terminal and the agent's state is not reported"
        ));
    }
    warnings
}

/// Marks `dir` trusted in the user's Claude config; a warning when it could not.
pub fn trust(dir: &Path) -> Option<String> {
    match trust::config_path().and_then(|c| trust::ensure_trusted(&c, dir)) {
        Ok(t) => {
            tracing::debug!(dir = %dir.display(), trust = ?t, "folder trust");
            None
        }
        Err(e) => Some(format!(
            "could not mark {} trusted for Claude Code: {e}; the session may stall on Claude's folder-trust dialog (attach to it to answer)",
            dir.display()
        )),
    }
}

/// Runs the session's script in its terminal: a new tmux session with the daemon's client
/// attached (then the script is let go), or a plain PTY. Returns the terminal and the pid of
/// its first process.
pub async fn spawn(
    env: &Env,
    files: &Files,
    state: &State,
) -> anyhow::Result<(Terminal, Option<i64>)> {
    let script_cmd = format!("sh {}", sh_quote(&files.script().to_string_lossy()));
    match &env.tmux {
        Some(t) => {
            let (name, dir, vars) = (
                state.name.clone(),
                state.working_dir.clone(),
                state.vars.clone(),
            );
            tmux_call(t, move |t| {
                t.new_session(&name, &dir, COLS, ROWS, &vars, &script_cmd)
            })
            .await??;
            attach(t, state).await
        }
        None => {
            let argv = vec![
                "sh".to_string(),
                files.script().to_string_lossy().into_owned(),
            ];
            let term = open_terminal(&argv, &state.working_dir, &state.vars, COLS, ROWS)?;
            let pid = term.child.process_id().map(i64::from);
            Ok((term, pid))
        }
    }
}

/// Attaches the daemon's client to a session's tmux session and lets its script go (it waits
/// for the client, so no output is missed; a signal sent twice is harmless). Returns the
/// terminal and the pane's pid.
pub async fn attach(t: &Tmux, state: &State) -> anyhow::Result<(Terminal, Option<i64>)> {
    let term = open_terminal(
        &t.attach_argv(&state.name),
        &state.working_dir,
        &[],
        COLS,
        ROWS,
    )?;
    let go = format!("{}-go", state.name);
    tmux_call(t, move |t| t.signal(&go)).await??;
    let name = state.name.clone();
    let pid = tmux_call(t, move |t| t.pane_pid(&name)).await?;
    Ok((term, pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_sh() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_script_gates_records_and_waits() {
        let dir = tempfile::tempdir().expect("dir");
        let files = Files::new(dir.path(), "orc-abc123");
        let t = Tmux::new(&dir.path().join("tmux.sock"));
        let s = script(&files, Some(&t), "orc-abc123", Path::new("/opt/orc/bin"));
        assert!(s.contains("PATH='/opt/orc/bin':\"$PATH\""));
        let go = s.find("orc-abc123-go").expect("go");
        let run = s.find("ORCHESTRATIA_AGENT_COMMAND").expect("run");
        let release = s.find("orc-abc123-release").expect("release");
        assert!(go < run && run < release);
        assert!(!script(&files, None, "x", Path::new("/b")).contains("tmux"));
    }

    #[test]
    fn resuming_replaces_only_the_command() {
        let vars = vec![
            ("ORCHESTRATIA_TOKEN".to_string(), "t".to_string()),
            (
                "ORCHESTRATIA_AGENT_COMMAND".to_string(),
                "claude --session-id x".to_string(),
            ),
        ];
        let v = with_command(&vars, "claude --resume x".into());
        assert_eq!(v.len(), 2);
        assert!(v.contains(&("ORCHESTRATIA_TOKEN".into(), "t".into())));
        assert!(v.contains(&(
            "ORCHESTRATIA_AGENT_COMMAND".into(),
            "claude --resume x".into()
        )));
    }
}
