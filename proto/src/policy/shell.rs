//! A Bash command split into simple commands (a chain `a && b; c | d` has four), with what
//! makes each unmatchable by an allow rule.
//!
//! This is not a shell: it reads just enough of Bash's grammar (quotes, escapes, operators,
//! redirections, substitutions) to know the words each simple command will run with, and to
//! refuse to vouch for a command whose words are only known when it runs (`$VAR`, `$(…)`),
//! that escalates (`sudo`), writes outside the working dir, or hides commands in a structure
//! (subshells, loops). The commands inside substitutions and subshells are parsed too, so
//! that deny rules see them.

mod parser;

use std::fmt;
use std::path::{Component, Path, PathBuf};

use parser::Parser;

/// Why an allow rule can never match a simple command: its words or its effect are not known
/// from its text alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmatchable {
    /// `$(…)` or backticks.
    CommandSubstitution,
    /// `<(…)` or `>(…)`.
    ProcessSubstitution,
    /// `$VAR`, `${…}`, `$((…))`, `$'…'` outside single quotes.
    Expansion,
    /// `sudo`, also after `env`, `command`, `exec`, `nohup` or `time`.
    Sudo,
    /// A redirection whose target is outside the working dir (or no working dir is known).
    RedirectionOutside(String),
    /// A here-document (`<<`, `<<-`) or here-string (`<<<`).
    HereDoc,
    /// A subshell `( … )` or a group `{ …; }`.
    Subshell,
    /// A control-flow keyword (`if`, `for`, `while`, `case`, `until`, `function`, …).
    ControlFlow(String),
    /// A quote, backtick or parenthesis that is never closed.
    UnbalancedQuotes,
}

impl fmt::Display for Unmatchable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unmatchable::CommandSubstitution => f.write_str("command substitution"),
            Unmatchable::ProcessSubstitution => f.write_str("process substitution"),
            Unmatchable::Expansion => f.write_str("a $ expansion"),
            Unmatchable::Sudo => f.write_str("sudo"),
            Unmatchable::RedirectionOutside(t) => {
                write!(f, "a redirection outside the working dir ({t})")
            }
            Unmatchable::HereDoc => f.write_str("a here-document"),
            Unmatchable::Subshell => f.write_str("a subshell or group"),
            Unmatchable::ControlFlow(k) => write!(f, "the control-flow keyword '{k}'"),
            Unmatchable::UnbalancedQuotes => f.write_str("unbalanced quotes"),
        }
    }
}

/// One simple command of a chain: what it runs, and whether an allow rule may vouch for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleCommand {
    /// The command as written (for people).
    pub text: String,
    /// Its words after quote removal, without the redirections that are fine (inside the
    /// working dir, `/dev/null`, fd duplications).
    pub words: Vec<String>,
    /// Why no allow rule may match it, if so (the first reason found).
    pub unmatchable: Option<Unmatchable>,
    /// Whether it sits inside a substitution or subshell of another command: only deny rules
    /// look at those.
    pub nested: bool,
}

/// Keywords that make a simple command part of a compound command: an allow rule never
/// vouches for it.
const CONTROL_KEYWORDS: &[&str] = &[
    "if", "then", "elif", "else", "fi", "for", "while", "until", "do", "done", "case", "esac",
    "function", "select", "coproc",
];

/// Keywords stripped from the front of a command before deny rules look at it
/// (`if rm -rf x` runs `rm -rf x`).
const LEADING_KEYWORDS: &[&str] = &[
    "if", "then", "elif", "else", "while", "until", "do", "!", "{",
];

/// How deep substitutions may nest before the rest is taken as one unmatchable command.
const MAX_DEPTH: usize = 32;

/// Splits `command` into its simple commands: first the top-level ones in order, then the
/// ones nested in substitutions and subshells (`nested`). Redirections are judged against
/// `working_dir` (none known: every file target is outside).
pub fn split(command: &str, working_dir: Option<&Path>) -> Vec<SimpleCommand> {
    let wd = working_dir.map(normalize);
    let mut parser = Parser::new(command, wd.as_deref(), 0);
    let mut parts = parser.list(false, false);
    parts.append(&mut parser.nested);
    parts
}

/// `path` with `.` and `..` resolved lexically (no file system access, symlinks not
/// followed); `..` at the root stays at the root.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            c => out.push(c),
        }
    }
    out.iter().collect()
}

/// Where `path` (absolute, or relative to `working_dir`) lands, resolved lexically; `None`
/// when it cannot be known (relative with no working dir, or starting with `~`).
pub fn resolve(path: &str, working_dir: Option<&Path>) -> Option<PathBuf> {
    if path.starts_with('~') {
        return None;
    }
    let p = Path::new(path);
    if p.is_absolute() {
        Some(normalize(p))
    } else {
        working_dir.map(|wd| normalize(&wd.join(p)))
    }
}

/// The indexes where the real command of `words` may start once leading keywords,
/// assignments (`A=1`) and wrappers (`env`, `command`, `exec`, `nohup`, `time`, `sudo`, with
/// their options) are skipped: `[0, …]`. Deny rules look at every such suffix. Also says
/// whether `sudo` was passed on the way.
pub fn command_starts(words: &[String], keywords: bool) -> (Vec<usize>, bool) {
    let mut starts = vec![0];
    let mut sudo = false;
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        if (keywords && LEADING_KEYWORDS.contains(&w)) || is_assignment(w) {
            i += 1;
        } else {
            let with_arg: &[&str] = match basename(w) {
                "sudo" => {
                    sudo = true;
                    &["-u", "-g", "-C", "-D", "-p", "-r", "-t", "-U", "-h"]
                }
                "env" => &["-u", "--unset", "-C", "--chdir", "-S", "--split-string"],
                "exec" => &["-a"],
                "command" | "nohup" | "time" => &[],
                _ => break,
            };
            i += 1;
            while let Some(opt) = words.get(i).filter(|o| o.starts_with('-')) {
                i += if with_arg.contains(&opt.as_str()) {
                    2
                } else {
                    1
                };
            }
        }
        if i < words.len() && starts.last() != Some(&i) {
            starts.push(i);
        }
    }
    (starts, sudo)
}

/// The last path component of a command word (`/usr/bin/sudo` → `sudo`).
pub fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// Whether `word` is a variable assignment `NAME=value`.
fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            let mut chars = name.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests;
