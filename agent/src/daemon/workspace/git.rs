//! Running `git` with a clean environment and clear errors.
//!
//! The CLI rather than libgit2 (`git2`): libgit2 has no `merge-tree --write-tree` and only
//! partial worktree support, and `git` is on every development server the daemon runs on, so
//! the worktrees it makes behave exactly as the ones a developer makes by hand.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Why a git command failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// `git` could not be started at all.
    #[error("git could not be run ({0}): is git installed?")]
    Spawn(#[from] std::io::Error),
    /// `git` ran and exited with an error.
    #[error("git {args} failed in {dir}: {message}")]
    Failed {
        args: String,
        dir: String,
        message: String,
    },
}

/// `git` run in one directory.
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
    /// Extra environment (the commit identity, when git has none).
    env: Vec<(String, String)>,
}

/// The outcome of a command whose exit status means something (1: no, conflicts).
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Git {
    /// Git in `dir` (a work tree or any directory inside one).
    pub fn new(dir: impl Into<PathBuf>) -> Git {
        Git {
            dir: dir.into(),
            env: Vec::new(),
        }
    }

    /// The same, with an extra environment variable.
    pub fn with_env(mut self, key: &str, value: &str) -> Git {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The directory git runs in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A command that asks nothing on a terminal, speaks C, uses no pager, and ignores the
    /// repository the daemon's own environment may point at.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.arg("--no-pager")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .env("GIT_PAGER", "cat")
            .env("PAGER", "cat")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_COMMON_DIR")
            .env_remove("GIT_OBJECT_DIRECTORY")
            .env_remove("GIT_NAMESPACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs a command whatever its exit status.
    pub fn ran(&self, args: &[&str]) -> Result<Ran, GitError> {
        let Output {
            status,
            stdout,
            stderr,
        } = self.command(args).output()?;
        Ok(Ran {
            code: status.code(),
            stdout,
            stderr: String::from_utf8_lossy(&stderr).trim().to_string(),
        })
    }

    /// Runs a command; its stdout, or an error with git's message.
    pub fn bytes(&self, args: &[&str]) -> Result<Vec<u8>, GitError> {
        let r = self.ran(args)?;
        if r.code == Some(0) {
            Ok(r.stdout)
        } else {
            Err(self.failed(args, &r))
        }
    }

    /// Runs a command; its stdout as text, trimmed.
    pub fn text(&self, args: &[&str]) -> Result<String, GitError> {
        Ok(String::from_utf8_lossy(&self.bytes(args)?)
            .trim()
            .to_string())
    }

    /// Runs a command whose exit status 1 means "no" (`merge-base --is-ancestor`).
    pub fn yes(&self, args: &[&str]) -> Result<bool, GitError> {
        let r = self.ran(args)?;
        match r.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(self.failed(args, &r)),
        }
    }

    /// The error for a command that failed.
    pub fn failed(&self, args: &[&str], r: &Ran) -> GitError {
        let message = match (r.stderr.lines().last(), r.code) {
            (Some(l), _) => l.trim_start_matches("fatal: ").to_string(),
            (None, Some(c)) => format!("exit status {c}"),
            (None, None) => "killed by a signal".to_string(),
        };
        GitError::Failed {
            args: args.join(" "),
            dir: self.dir.display().to_string(),
            message,
        }
    }

    /// The commit a revision names, or `None` when there is none.
    pub fn commit_of(&self, rev: &str) -> Result<Option<String>, GitError> {
        let spec = format!("{rev}^{{commit}}");
        let r = self.ran(&["rev-parse", "--verify", "--quiet", &spec])?;
        Ok((r.code == Some(0)).then(|| String::from_utf8_lossy(&r.stdout).trim().to_string()))
    }

    /// Whether `refs/heads/NAME` exists.
    pub fn has_branch(&self, name: &str) -> Result<bool, GitError> {
        let full = format!("refs/heads/{name}");
        self.yes(&["show-ref", "--verify", "--quiet", &full])
    }

    /// Paths with uncommitted changes (tracked, and untracked unless `tracked_only`).
    pub fn uncommitted(&self, tracked_only: bool) -> Result<Vec<String>, GitError> {
        let untracked = if tracked_only {
            "--untracked-files=no"
        } else {
            "--untracked-files=all"
        };
        let out = self.bytes(&["status", "--porcelain", "-z", "--no-renames", untracked])?;
        Ok(out
            .split(|b| *b == 0)
            .filter(|r| r.len() > 3)
            .map(|r| String::from_utf8_lossy(&r[3..]).into_owned())
            .collect())
    }
}

/// Where a directory sits in a git work tree: the top and the subdir (`""` at the top);
/// `None` when it is not in one (or git is missing: then there is nothing to do either).
pub fn locate(dir: &Path) -> Option<(PathBuf, String)> {
    let r = Git::new(dir)
        .ran(&["rev-parse", "--show-toplevel", "--show-prefix"])
        .ok()?;
    if r.code != Some(0) {
        return None;
    }
    let text = String::from_utf8_lossy(&r.stdout).into_owned();
    let mut lines = text.lines();
    let top = lines.next().filter(|l| !l.is_empty())?;
    let prefix = lines.next().unwrap_or("").trim_end_matches('/').to_string();
    Some((PathBuf::from(top), prefix))
}

/// The identity commits are made with: git's own, else Orchestratia's.
pub fn with_identity(git: Git) -> Git {
    let has = |k: &str| {
        git.text(&["config", "--get", k])
            .map(|v| !v.is_empty())
            .unwrap_or(false)
    };
    if has("user.name") && has("user.email") {
        return git;
    }
    git.with_env("GIT_AUTHOR_NAME", "Orchestratia")
        .with_env("GIT_AUTHOR_EMAIL", "orchestratia@localhost")
        .with_env("GIT_COMMITTER_NAME", "Orchestratia")
        .with_env("GIT_COMMITTER_EMAIL", "orchestratia@localhost")
}
