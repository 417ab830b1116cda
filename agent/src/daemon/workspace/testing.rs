//! Real git repositories in temp dirs, for the tests.

use std::path::{Path, PathBuf};

use orchestratia_proto::workspace::{WorkspaceAnswer, WorkspaceOp, WorkspaceStart};
use uuid::Uuid;

use super::git::Git;
use super::{Created, Workspaces};

/// A repo with one commit on `main`, a daemon state dir and a worktree root.
pub struct Rig {
    pub _dir: tempfile::TempDir,
    pub repo: PathBuf,
    pub state: PathBuf,
    pub root: PathBuf,
    pub ws: Workspaces,
}

/// Runs git in `dir` (the test fails with git's message when it fails).
pub fn git(dir: &Path, args: &[&str]) -> String {
    Git::new(dir)
        .with_env("GIT_AUTHOR_NAME", "T")
        .with_env("GIT_AUTHOR_EMAIL", "t@x")
        .with_env("GIT_COMMITTER_NAME", "T")
        .with_env("GIT_COMMITTER_EMAIL", "t@x")
        .text(args)
        .unwrap_or_else(|e| panic!("git {args:?}: {e}"))
}

/// Writes a file (making dirs) in `dir`.
pub fn write(dir: &Path, file: &str, text: &str) {
    let p = dir.join(file);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(p, text).expect("write");
}

/// Writes a file and commits it.
pub fn commit(dir: &Path, file: &str, text: &str, msg: &str) -> String {
    write(dir, file, text);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}

impl Rig {
    pub fn new() -> Rig {
        let dir = tempfile::tempdir().expect("dir");
        let repo = dir.path().join("api");
        std::fs::create_dir_all(&repo).expect("mkdir");
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["config", "user.name", "Dev"]);
        git(&repo, &["config", "user.email", "dev@x"]);
        commit(&repo, "README", "hello\n", "first");
        let state = dir.path().join("state");
        let root = dir.path().join("worktrees");
        let ws = Workspaces::new(&root, &state);
        Rig {
            _dir: dir,
            repo,
            state,
            root,
            ws,
        }
    }

    pub fn start(branch: &str, base: Option<&str>) -> WorkspaceStart {
        WorkspaceStart {
            branch: branch.into(),
            base: base.map(str::to_string),
            reference: "T7".into(),
        }
    }

    /// Makes a task's worktree from `main`.
    pub fn create(&self, task: Uuid, branch: &str) -> Created {
        self.ws
            .create(task, Some("api"), &self.repo, &Rig::start(branch, None))
            .expect("create")
            .expect("a git repo")
    }

    pub fn op(&self, task: Uuid, op: WorkspaceOp) -> WorkspaceAnswer {
        self.ws.handle(task, op)
    }

    pub fn main_head(&self) -> String {
        git(&self.repo, &["rev-parse", "refs/heads/main"])
    }
}

/// The reason of a refusal (the test fails on any other answer).
pub fn refusal(a: WorkspaceAnswer) -> (String, Vec<String>) {
    match a {
        WorkspaceAnswer::Refused { reason, conflicts } => (reason, conflicts),
        other => panic!("expected a refusal, got {other:?}"),
    }
}
