//! What running Claude Code unattended needs: its hook settings in the working dir (status,
//! permission prompts, the permission mode pinned), the working dir trusted in the user's
//! Claude config (no first-run dialog), its command line (a conversation id the daemon
//! chooses, or the one it resumes) and its environment (Bash timeouts long enough for a human
//! to answer).

pub mod prices;
pub mod settings;
pub mod transcript;
pub mod trust;

use std::path::{Path, PathBuf};

pub use settings::Settings;

/// Claude Code's permission modes (`permissions.defaultMode`); `default` asks for every
/// prompt, so every prompt is mediated by the hub.
pub const PERMISSION_MODES: &[&str] = &[
    "default",
    "acceptEdits",
    "plan",
    "auto",
    "dontAsk",
    "bypassPermissions",
];

/// The prompt a resumed conversation gets (the session was lost with its terminal).
pub const RESUME_PROMPT: &str = "Your terminal session was lost (the server restarted or its terminal went away) and this conversation was resumed in the same working directory. Carry on with your task where you left off.";

/// How the agent command starts Claude: a fresh conversation with this id, or one resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conversation {
    New(String),
    Resume(String),
}

/// `cmd` (the configured agent command, `claude …`) with the conversation flag and the
/// prompt read from `prompt_var` (an environment variable naming a file). A command that picks
/// its own conversation (`--session-id`, `--resume`, `--continue`) or reads the prompt file
/// itself is left as it is.
pub fn command_line(cmd: &str, conversation: &Conversation, prompt_var: &str) -> String {
    let cmd = cmd.trim();
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let own = words
        .iter()
        .any(|w| matches!(*w, "--session-id" | "--resume" | "-r" | "--continue" | "-c"));
    let mut line = cmd.to_string();
    if !own {
        match conversation {
            Conversation::New(id) => line.push_str(&format!(" --session-id {id}")),
            Conversation::Resume(id) => line.push_str(&format!(" --resume {id}")),
        }
    }
    if !cmd.contains(prompt_var) {
        line.push_str(&format!(" \"$(cat \"${prompt_var}\")\""));
    }
    line
}

/// Environment for a Claude session: Bash commands (a blocking `orchestratia task help`)
/// may run as long as a human may take to answer.
pub fn environment(human_wait_secs: u64) -> Vec<(String, String)> {
    let ms = human_wait_secs.saturating_mul(1000).to_string();
    vec![
        ("BASH_DEFAULT_TIMEOUT_MS".to_string(), ms.clone()),
        ("BASH_MAX_TIMEOUT_MS".to_string(), ms),
    ]
}

/// Finds `program` on `path` (a PATH value); a program given with a slash is checked as is.
pub fn find_program(program: &str, path: &str) -> Option<PathBuf> {
    let is_exec = |p: &Path| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        }
        #[cfg(not(unix))]
        {
            p.is_file()
        }
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_exec(&p).then_some(p);
    }
    std::env::split_paths(path)
        .map(|d| d.join(program))
        .find(|p| is_exec(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_carries_the_conversation_and_the_prompt() {
        let id = "0b6c0a54-2f7b-4c3e-9c8a-1d2e3f4a5b6c".to_string();
        assert_eq!(
            command_line("claude", &Conversation::New(id.clone()), "P"),
            format!("claude --session-id {id} \"$(cat \"$P\")\"")
        );
        assert_eq!(
            command_line("claude --model x", &Conversation::Resume(id.clone()), "P"),
            format!("claude --model x --resume {id} \"$(cat \"$P\")\"")
        );
        assert_eq!(
            command_line("claude --continue", &Conversation::New(id.clone()), "P"),
            "claude --continue \"$(cat \"$P\")\""
        );
        assert_eq!(
            command_line(
                "claude --model x \"$(cat \"$P\")\"",
                &Conversation::New(id.clone()),
                "P"
            ),
            format!("claude --model x \"$(cat \"$P\")\" --session-id {id}")
        );
    }

    #[test]
    fn bash_may_wait_for_a_human() {
        let env = environment(86_400);
        assert!(env.contains(&("BASH_DEFAULT_TIMEOUT_MS".into(), "86400000".into())));
        assert!(env.contains(&("BASH_MAX_TIMEOUT_MS".into(), "86400000".into())));
    }

    #[test]
    fn programs_are_found_on_the_path() {
        assert!(find_program("sh", "/usr/bin:/bin").is_some());
        assert!(find_program("no-such-program-here", "/usr/bin:/bin").is_none());
        assert!(find_program("/bin/sh", "").is_some());
        assert!(find_program("/nonexistent/claude", "/bin").is_none());
    }
}
