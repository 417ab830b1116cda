//! Removing the worktrees the hub says may go, but only those that hold no work that is not
//! elsewhere: no uncommitted changes, and a head that is in the base branch (or is the head a
//! merge recorded).

use orchestratia_proto::workspace::{PruneCandidate, PrunedWorktree};

use super::git::{Git, GitError};
use super::list;
use super::merge::remove;
use super::registry::{Entry, Registry};
use super::report::head;

/// Looks at each registered worktree the hub named; removes (or, on a dry run, would remove)
/// those whose work is safe.
pub fn prune(
    registry: &Registry,
    dry_run: bool,
    removable: &[PruneCandidate],
) -> Vec<PrunedWorktree> {
    let mut items = Vec::new();
    for c in removable {
        let Some(e) = registry.get(c.task_id) else {
            continue;
        };
        let (action, why) = match verdict(&e, c) {
            Ok(Ok(why)) if dry_run => ("would_remove", why),
            Ok(Ok(why)) => match remove(registry, &e, false) {
                Ok(()) => ("removed", why),
                Err(err) => ("kept", format!("could not remove it: {err}")),
            },
            Ok(Err(why)) => ("kept", why),
            Err(err) => ("kept", format!("could not look at it: {err}")),
        };
        items.push(PrunedWorktree {
            task_id: e.task_id,
            path: e.path.display().to_string(),
            branch: e.branch.clone(),
            action: action.to_string(),
            why,
        });
    }
    items
}

/// `Ok(why)`: it may go; `Err(why)`: it is kept.
fn verdict(e: &Entry, c: &PruneCandidate) -> Result<Result<String, String>, GitError> {
    let repo = Git::new(&e.repo_path);
    if e.path.is_dir() {
        let dirty = Git::new(&e.path).uncommitted(false)?;
        if !dirty.is_empty() {
            return Ok(Err(format!("uncommitted changes: {}", list(&dirty))));
        }
    }
    let head = head(e)?;
    if let Some(m) = &c.merged_head
        && (m == &head
            || repo
                .yes(&["merge-base", "--is-ancestor", &head, m])
                .unwrap_or(false))
    {
        return Ok(Ok(format!("clean, and merged as {}", short(m))));
    }
    if let Some(base) = repo.commit_of(&e.base)? {
        if repo.yes(&["merge-base", "--is-ancestor", &head, &base])? {
            return Ok(Ok(format!("clean, and its commits are in {}", e.base)));
        }
        let n = repo.text(&["rev-list", "--count", &format!("{base}..{head}")])?;
        return Ok(Err(format!(
            "{n} commit{} not merged anywhere",
            if n == "1" { "" } else { "s" }
        )));
    }
    if head == e.base_commit {
        return Ok(Ok("clean, with no commits of its own".to_string()));
    }
    Ok(Err(format!(
        "its base {} is gone and it has commits of its own",
        e.base
    )))
}

fn short(c: &str) -> &str {
    c.get(..12).unwrap_or(c)
}
