//! Workspaces: the git worktree a task works in on its server, what changed there, and the
//! review that ends it (merge, keep, discard). The daemon owns the worktrees and runs git; the
//! hub stores the last report of each, decides who may do what, and relays requests
//! (`HubToDaemon::Workspace`) to the daemon that holds the worktree, which answers with
//! `DaemonToHub::WorkspaceReply`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use std::fmt;
use std::str::FromStr;

use crate::model::{UnknownWord, word_enum};

/// `base:` value that means "the branch of the upstream task this one `blocks`-depends on".
pub const BASE_UPSTREAM: &str = "upstream";

/// Default bound of a diff's text, in bytes (a diff larger than this is cut, with a note).
pub const DEFAULT_DIFF_LIMIT: u64 = 1024 * 1024;

word_enum!(
    /// Where the review of a task's workspace stands.
    ReviewState, "review state" {
        /// Not decided yet.
        Unreviewed = "unreviewed",
        /// Merged into a branch (its worktree and branch are removed).
        Merged = "merged",
        /// Kept as a branch for later (its worktree stays until pruned by hand).
        Kept = "kept",
        /// Thrown away (worktree and branch removed).
        Discarded = "discarded",
    }
);

word_enum!(
    /// When a `blocks` dependency is met: when the upstream task is done (default), or only
    /// once its workspace branch is merged.
    DependencyAfter, "dependency condition" {
        Done = "done",
        Merged = "merged",
    }
);

/// What a daemon needs to give a session its own worktree (in `SessionStart`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkspaceStart {
    /// The branch to create (`orc/T7-gateway-tests`), or to reuse when this task's worktree
    /// exists already (a retried task).
    pub branch: String,
    /// The branch or commit to start from; `None`: the repo's current branch.
    pub base: Option<String>,
    /// Task reference (`T7`), for the worktree's directory name.
    #[serde(rename = "ref")]
    pub reference: String,
}

/// One file changed on a workspace branch, against its base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileChange {
    pub path: String,
    /// Lines added; `None` for a binary file.
    pub insertions: Option<u64>,
    /// Lines removed; `None` for a binary file.
    pub deletions: Option<u64>,
}

/// A workspace as its daemon reports it (at creation, when its session ends, on request,
/// and after a daemon restart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkspaceReport {
    pub task_id: Uuid,
    /// The repo's name on the server.
    pub repo: String,
    /// The worktree's directory on the server.
    pub path: String,
    pub branch: String,
    /// The base branch (or commit) it started from.
    pub base: String,
    /// The merge base of the branch and its base (the commit diffs are taken against).
    pub base_commit: String,
    /// The branch's head commit.
    pub head: String,
    /// Commits on the branch that the base does not have.
    pub ahead: u64,
    /// Commits on the base that the branch does not have.
    pub behind: u64,
    /// Files changed by the branch's commits (base_commit..head).
    pub files: Vec<FileChange>,
    /// Paths with changes not committed (tracked and untracked), as `git status` lists them.
    pub uncommitted: Vec<String>,
    /// The worktree is gone from disk (removed by a merge, a discard or a prune).
    #[serde(default)]
    pub removed: bool,
}

/// `3 files +12 -4` (and `, 2 uncommitted` when there are): the one stat every display shows.
pub fn stat(files: &[FileChange], uncommitted: usize) -> String {
    let (a, d) = files.iter().fold((0, 0), |(a, d), f| {
        (a + f.insertions.unwrap_or(0), d + f.deletions.unwrap_or(0))
    });
    let n = files.len();
    let mut s = format!("{n} file{} +{a} -{d}", if n == 1 { "" } else { "s" });
    if uncommitted > 0 {
        s.push_str(&format!(", {uncommitted} uncommitted"));
    }
    s
}

impl WorkspaceReport {
    /// Its [`stat`].
    pub fn stat_line(&self) -> String {
        stat(&self.files, self.uncommitted.len())
    }
}

impl Workspace {
    /// Its review in words: `unreviewed`, `kept`, `merged into main as abc1234`.
    pub fn review_words(&self) -> String {
        match (self.review, &self.merged_into) {
            (ReviewState::Merged, Some(into)) => match &self.merge_commit {
                Some(c) => format!("merged into {into} as {}", c.get(..7).unwrap_or(c)),
                None => format!("merged into {into}"),
            },
            (r, _) => r.to_string(),
        }
    }
}

/// A task's workspace as the hub holds it: the last report, where it is, and its review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Workspace {
    #[serde(flatten)]
    pub report: WorkspaceReport,
    /// Task reference, `T7`.
    #[serde(rename = "ref")]
    pub reference: String,
    pub server_id: Uuid,
    pub server: String,
    pub review: ReviewState,
    /// The branch it was merged into, once merged.
    pub merged_into: Option<String>,
    /// The commit the merge made on `merged_into`.
    pub merge_commit: Option<String>,
    /// When the daemon last reported it.
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub reported_at: i64,
}

/// What `GET /tasks/{id}/diff` answers: the stat, and the unified diff unless `stat` was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkspaceDiff {
    pub task_id: Uuid,
    pub branch: String,
    pub base: String,
    pub base_commit: String,
    pub head: String,
    pub files: Vec<FileChange>,
    /// The unified diff of base_commit..head (only `file` when one was named); empty with
    /// `stat`.
    pub diff: String,
    /// The diff was cut at the bound.
    pub truncated: bool,
    /// Why the diff is not the whole story (cut at the bound; uncommitted changes not in it).
    pub note: Option<String>,
    pub uncommitted: Vec<String>,
}

/// Query of `GET /tasks/{id}/diff`.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, utoipa::IntoParams,
)]
pub struct DiffQuery {
    /// Only the stat (files with +/- counts).
    #[serde(default)]
    pub stat: bool,
    /// Only this file's diff.
    pub file: Option<String>,
}

/// Body of `POST /tasks/{id}/merge`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MergeWorkspace {
    /// Branch to merge into (default: the workspace's base branch).
    pub into: Option<String>,
    /// One commit on the target instead of a merge commit.
    #[serde(default)]
    pub squash: bool,
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Merged {
    pub into: String,
    /// The new commit on `into`.
    pub commit: String,
    pub squash: bool,
    /// The worktree and branch were removed (not when the worktree has uncommitted changes).
    pub removed: bool,
    pub note: Option<String>,
}

/// Body of `POST /tasks/{id}/review`: a comment on a line of the task's diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReviewComment {
    pub file: String,
    pub line: u64,
    pub text: String,
}

/// A stored review comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredComment {
    pub id: Uuid,
    pub task_id: Uuid,
    pub file: String,
    pub line: u64,
    pub text: String,
    pub author: String,
    #[serde(with = "crate::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// When it reached the agent (as a prompt of a running session, or with a retried task's
    /// start); `None`: waiting for the task to run again.
    #[serde(with = "crate::time::rfc3339::option", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<i64>,
}

/// Renders review comments as the one message an agent receives.
pub fn comments_message(reference: &str, comments: &[StoredComment]) -> String {
    let mut s = format!(
        "Review comments on {reference} ({} comment{}). Address each, commit, then report as before.\n",
        comments.len(),
        if comments.len() == 1 { "" } else { "s" }
    );
    for c in comments {
        s.push_str(&format!("review: {}:{}: {}\n", c.file, c.line, c.text));
    }
    s
}

/// Body of `POST /workspaces/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PruneWorkspaces {
    /// Only say what would be removed.
    #[serde(default)]
    pub dry_run: bool,
    /// Only this server's worktrees (name or id).
    pub server: Option<String>,
}

/// One worktree a prune looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PruneItem {
    pub task_id: Uuid,
    #[serde(rename = "ref")]
    pub reference: String,
    pub server: String,
    pub path: String,
    pub branch: String,
    /// `removed`, `would_remove` (dry run) or `kept`.
    pub action: String,
    /// Why it was kept or removed.
    pub why: String,
}

/// Query of `GET /workspaces`.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, utoipa::IntoParams,
)]
pub struct WorkspaceFilter {
    /// Project id or name.
    pub project: Option<String>,
    /// Server name.
    pub server: Option<String>,
    /// Include workspaces whose worktree was removed.
    #[serde(default)]
    pub all: bool,
}

/// What the hub asks the daemon holding a workspace to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WorkspaceOp {
    /// Report it now (`WorkspaceAnswer::Report`).
    Report,
    /// The diff against its base (`WorkspaceAnswer::Diff`), bounded to `limit` bytes.
    Diff {
        file: Option<String>,
        stat: bool,
        limit: u64,
    },
    /// Merge its branch into `into` (default: its base). Changes nothing on a conflict, a
    /// dirty checkout of `into`, or uncommitted changes in the worktree. On success removes
    /// the worktree and the branch (`WorkspaceAnswer::Merged`).
    Merge {
        into: Option<String>,
        squash: bool,
        message: String,
    },
    /// Remove the worktree and delete the branch (`WorkspaceAnswer::Report`, removed).
    Discard,
    /// Look at every worktree of the daemon and remove those `removable` names that hold no
    /// work that is not elsewhere (`WorkspaceAnswer::Pruned`).
    Prune {
        dry_run: bool,
        /// Tasks whose worktrees may go: merged (with the commit their work is in) or
        /// discarded, or closed with nothing to review.
        removable: Vec<PruneCandidate>,
    },
}

/// A worktree the hub says may be removed, if it holds no work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneCandidate {
    pub task_id: Uuid,
    pub review: ReviewState,
    /// For a merged task: the commit its branch was merged as (a squash's commits are not
    /// ancestors of the target, so the head recorded at the merge is what proves it is in).
    pub merged_head: Option<String>,
}

/// The daemon's answer to a `WorkspaceOp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum WorkspaceAnswer {
    Report {
        report: WorkspaceReport,
    },
    Diff {
        diff: WorkspaceDiff,
    },
    Merged {
        merged: Merged,
        report: WorkspaceReport,
    },
    Pruned {
        items: Vec<PrunedWorktree>,
    },
    /// The op was refused; nothing changed. `conflicts`: files a merge conflicts in.
    Refused {
        reason: String,
        #[serde(default)]
        conflicts: Vec<String>,
    },
}

/// One worktree a daemon's prune looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrunedWorktree {
    pub task_id: Uuid,
    pub path: String,
    pub branch: String,
    /// `removed`, `would_remove` or `kept`.
    pub action: String,
    pub why: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> WorkspaceReport {
        WorkspaceReport {
            task_id: Uuid::nil(),
            repo: "api".into(),
            path: "/w/api/T7".into(),
            branch: "orc/T7-x".into(),
            base: "main".into(),
            base_commit: "a".into(),
            head: "b".into(),
            ahead: 1,
            behind: 0,
            files: vec![
                FileChange {
                    path: "a.rs".into(),
                    insertions: Some(10),
                    deletions: Some(2),
                },
                FileChange {
                    path: "logo.png".into(),
                    insertions: None,
                    deletions: None,
                },
            ],
            uncommitted: vec!["notes.txt".into()],
            removed: false,
        }
    }

    #[test]
    fn the_stat_line_counts_files_and_lines() {
        assert_eq!(report().stat_line(), "2 files +10 -2, 1 uncommitted");
    }

    #[test]
    fn ops_and_answers_are_tagged() {
        let v = serde_json::to_value(WorkspaceOp::Diff {
            file: None,
            stat: true,
            limit: 10,
        })
        .unwrap_or_default();
        assert_eq!(v["op"], "diff");
        let a = WorkspaceAnswer::Refused {
            reason: "r".into(),
            conflicts: vec!["a".into()],
        };
        let v = serde_json::to_value(&a).unwrap_or_default();
        assert_eq!(v["answer"], "refused");
    }

    #[test]
    fn comments_become_one_message() {
        let m = comments_message(
            "T7",
            &[StoredComment {
                id: Uuid::nil(),
                task_id: Uuid::nil(),
                file: "src/a.rs".into(),
                line: 12,
                text: "use a constant".into(),
                author: "admin".into(),
                created_at: 0,
                delivered_at: None,
            }],
        );
        assert!(m.contains("review: src/a.rs:12: use a constant"));
        assert!(m.starts_with("Review comments on T7 (1 comment)"));
    }
}
