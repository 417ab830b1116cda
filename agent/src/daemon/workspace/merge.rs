//! Merging a worktree's branch into another branch without touching any checkout but the
//! target's own (`merge-tree --write-tree`, `commit-tree`, then a fast-forward or a
//! compare-and-swap `update-ref`), and discarding a worktree.

use std::path::PathBuf;

use orchestratia_proto::workspace::{Merged, WorkspaceAnswer, WorkspaceReport};

use super::git::{Git, GitError, with_identity};
use super::registry::{Entry, Registry};
use super::report::{head, report};
use super::{list, refused};

/// The checkout (main or linked worktree) that has `branch` checked out, if any.
fn checkout_of(repo: &Git, branch: &str) -> Result<Option<PathBuf>, GitError> {
    let out = repo.bytes(&["worktree", "list", "--porcelain", "-z"])?;
    let want = format!("branch refs/heads/{branch}");
    let mut path: Option<PathBuf> = None;
    for field in out.split(|b| *b == 0) {
        let f = String::from_utf8_lossy(field);
        if let Some(p) = f.strip_prefix("worktree ") {
            path = Some(PathBuf::from(p));
        } else if f == want {
            return Ok(path);
        }
    }
    Ok(None)
}

/// Merges `e`'s branch into `into` (default: its base). Changes nothing when it is refused.
pub fn merge(
    registry: &Registry,
    e: &Entry,
    into: Option<&str>,
    squash: bool,
    message: &str,
) -> Result<WorkspaceAnswer, GitError> {
    let repo = Git::new(&e.repo_path);
    let into = into.unwrap_or(&e.base).to_string();
    if let Some(why) = refusal(&repo, e, &into)? {
        return Ok(refused(why));
    }
    let target = format!("refs/heads/{into}");
    let old = repo
        .commit_of(&target)?
        .unwrap_or_else(|| e.base_commit.clone());
    let head = head(e)?;
    let mut before = report(e)?;
    let (commit, note) = if repo.yes(&["merge-base", "--is-ancestor", &head, &old])? {
        (
            old.clone(),
            Some(format!("{into} already has every commit of {}", e.branch)),
        )
    } else {
        match commit_merge(&repo, e, &into, &old, &head, squash, message)? {
            Ok(new) => (new, None),
            Err(refusal) => return Ok(refusal),
        }
    };
    let (removed, note) = remove_merged(registry, e, note);
    before.removed = removed;
    Ok(WorkspaceAnswer::Merged {
        merged: Merged {
            into,
            commit,
            squash,
            removed,
            note,
        },
        report: before,
    })
}

/// Why `e` cannot be merged into `into` as things stand: its worktree is gone or has
/// uncommitted changes, or `into` is not a branch.
fn refusal(repo: &Git, e: &Entry, into: &str) -> Result<Option<String>, GitError> {
    if !e.path.is_dir() {
        return Ok(Some(format!(
            "{}'s worktree {} is gone; nothing was merged",
            name(e),
            e.path.display()
        )));
    }
    let dirty = Git::new(&e.path).uncommitted(false)?;
    if !dirty.is_empty() {
        return Ok(Some(format!(
            "{}'s worktree has uncommitted changes ({}): commit or discard them first; nothing was merged",
            name(e),
            list(&dirty)
        )));
    }
    if into.starts_with('-') || !repo.has_branch(into)? {
        return Ok(Some(format!(
            "'{into}' is not a branch in {}; nothing was merged",
            e.repo_path.display()
        )));
    }
    Ok(None)
}

/// Writes the merge of `head` into `old` as a commit (one parent when `squash`) and moves
/// `into` to it: `Ok(commit)`, or `Err(answer)` refusing it (conflicts, or `into` could not
/// move) with nothing changed.
fn commit_merge(
    repo: &Git,
    e: &Entry,
    into: &str,
    old: &str,
    head: &str,
    squash: bool,
    message: &str,
) -> Result<Result<String, WorkspaceAnswer>, GitError> {
    let tree = match merged_tree(repo, e, into, old, head)? {
        Ok(tree) => tree,
        Err(conflicts) => return Ok(Err(conflicts)),
    };
    let message = if message.trim().is_empty() {
        format!("Merge {} ({}) into {into}", e.branch, name(e))
    } else {
        message.to_string()
    };
    let mut args = vec!["commit-tree", tree.as_str(), "-p", old];
    if !squash {
        args.extend(["-p", head]);
    }
    args.extend(["-m", message.as_str()]);
    let new = with_identity(repo.clone()).text(&args)?;
    if let Some(why) = move_branch(repo, into, &new, old)? {
        return Ok(Err(refused(why)));
    }
    Ok(Ok(new))
}

/// The tree of `head` merged into `old`, written without a checkout: `Ok(tree)`, or
/// `Err(answer)` naming the conflicting files.
fn merged_tree(
    repo: &Git,
    e: &Entry,
    into: &str,
    old: &str,
    head: &str,
) -> Result<Result<String, WorkspaceAnswer>, GitError> {
    let r = repo.ran(&[
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        old,
        head,
    ])?;
    let out = String::from_utf8_lossy(&r.stdout).into_owned();
    let mut lines = out.lines();
    let tree = lines.next().unwrap_or_default().to_string();
    match r.code {
        Some(0) => Ok(Ok(tree)),
        Some(1) => {
            let mut conflicts: Vec<String> = lines
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            conflicts.dedup();
            Ok(Err(WorkspaceAnswer::Refused {
                reason: format!(
                    "merging {} into {into} conflicts in {}; nothing was changed",
                    name(e),
                    list(&conflicts)
                ),
                conflicts,
            }))
        }
        _ => Err(repo.failed(&["merge-tree"], &r)),
    }
}

/// Removes a merged worktree: whether it was, and the merge's note with why it was kept
/// added when it was not.
fn remove_merged(registry: &Registry, e: &Entry, note: Option<String>) -> (bool, Option<String>) {
    match remove(registry, e, false) {
        Ok(()) => (true, note),
        Err(why) => (
            false,
            Some(
                note.map(|n| format!("{n}; ")).unwrap_or_default()
                    + &format!("the worktree was kept: {why}"),
            ),
        ),
    }
}

/// Moves `into` from `old` to `new`: its checkout fast-forwards when it has one (which must
/// be clean), else the ref is swapped if it still is `old`. `Some(why)` when refused.
pub(super) fn move_branch(
    repo: &Git,
    into: &str,
    new: &str,
    old: &str,
) -> Result<Option<String>, GitError> {
    if let Some(dir) = checkout_of(repo, into)? {
        let co = Git::new(&dir);
        let dirty = co.uncommitted(true)?;
        if !dirty.is_empty() {
            return Ok(Some(format!(
                "the checkout of {into} at {} has uncommitted changes ({}); nothing was merged",
                dir.display(),
                list(&dirty)
            )));
        }
        let r = co.ran(&["merge", "--ff-only", "--quiet", "--no-edit", new])?;
        if r.code != Some(0) {
            let why = r
                .stderr
                .lines()
                .last()
                .unwrap_or("")
                .trim_start_matches("fatal: ");
            return Ok(Some(format!(
                "the checkout of {into} at {} could not move to the merge ({why}); nothing was merged",
                dir.display()
            )));
        }
        return Ok(None);
    }
    let target = format!("refs/heads/{into}");
    let r = repo.ran(&["update-ref", &target, new, old])?;
    if r.code != Some(0) {
        return Ok(Some(format!(
            "{into} moved while merging; nothing was merged"
        )));
    }
    Ok(None)
}

/// Removes a worktree and deletes its branch, then forgets it (`force`: even with changes).
pub(super) fn remove(registry: &Registry, e: &Entry, force: bool) -> Result<(), String> {
    let repo = Git::new(&e.repo_path);
    if e.path.exists() {
        let path = e.path.to_string_lossy().into_owned();
        let mut args = vec!["worktree", "remove", path.as_str()];
        if force {
            args.extend(["--force", "--force"]);
        }
        repo.bytes(&args).map_err(|err| err.to_string())?;
    }
    let _ = repo.ran(&["worktree", "prune"]);
    if repo.has_branch(&e.branch).unwrap_or(false) {
        repo.bytes(&["branch", "-D", &e.branch])
            .map_err(|err| err.to_string())?;
    }
    registry.remove(e.task_id);
    Ok(())
}

/// Removes a worktree with whatever it holds and deletes its branch.
pub fn discard(registry: &Registry, e: &Entry) -> Result<WorkspaceReport, GitError> {
    let mut r = report(e)?;
    if let Err(why) = remove(registry, e, true) {
        return Err(GitError::Failed {
            args: "worktree remove".into(),
            dir: e.repo_path.display().to_string(),
            message: why,
        });
    }
    r.removed = true;
    r.uncommitted.clear();
    Ok(r)
}

/// `T7` (or the branch, for an entry written without its reference).
pub(super) fn name(e: &Entry) -> &str {
    if e.reference.is_empty() {
        &e.branch
    } else {
        &e.reference
    }
}
