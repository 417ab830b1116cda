//! Making a task's worktree at its session's start, or finding it again (a retried task).

use std::path::{Path, PathBuf};

use orchestratia_proto::workspace::WorkspaceStart;
use uuid::Uuid;

use super::Workspaces;
use super::git::{Git, GitError, locate};
use super::registry::Entry;

/// A worktree ready for a session.
#[derive(Debug, Clone)]
pub struct Created {
    pub entry: Entry,
    /// Where the agent works: the worktree, or the same subdir the repo path named.
    pub working_dir: PathBuf,
    /// It existed already (a retry).
    pub reused: bool,
    /// For the admin: the main checkout has changes the worktree does not see.
    pub warning: Option<String>,
}

/// Check a worktree's files out on every core (git ≥ 2.32; older ones ignore it): writing
/// 10,000 files is the whole cost of a new worktree, and on a busy disk it takes a third as
/// long in parallel (measured: 1.7 s against 5.5 s on this project's 2-core machine).
const PARALLEL: &str = "checkout.workers=0";

fn git_err(e: GitError) -> String {
    e.to_string()
}

/// See [`Workspaces::create`].
pub(super) fn create(
    ws: &Workspaces,
    task_id: Uuid,
    repo: Option<&str>,
    working_dir: &Path,
    start: &WorkspaceStart,
) -> Result<Option<Created>, String> {
    let Some((top, prefix)) = locate(working_dir) else {
        return Ok(None);
    };
    let repo_name = repo
        .map(str::to_string)
        .or_else(|| top.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "repo".to_string());
    let main = Git::new(&top);
    let at = |dir: &Path| {
        if prefix.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(&prefix)
        }
    };
    if let Some(entry) = ws.registry.get(task_id)
        && entry.branch == start.branch
    {
        if locate(&entry.path).is_some_and(|(t, _)| same(&t, &entry.path)) {
            return Ok(Some(Created {
                working_dir: at(&entry.path),
                entry,
                reused: true,
                warning: None,
            }));
        }
        // Its directory is gone but its branch (and so its work) is not: check it out again.
        if main.has_branch(&entry.branch).map_err(git_err)? && !entry.path.exists() {
            let _ = main.ran(&["worktree", "prune"]);
            let path = entry.path.to_string_lossy().into_owned();
            main.bytes(&["-c", PARALLEL, "worktree", "add", &path, &entry.branch])
                .map_err(git_err)?;
            return Ok(Some(Created {
                working_dir: at(&entry.path),
                entry,
                reused: true,
                warning: None,
            }));
        }
    }
    let repo_shown = top.display().to_string();
    let check = main.ran(&["check-ref-format", "--branch", &start.branch]);
    if !check.is_ok_and(|r| r.code == Some(0)) || start.branch.starts_with('-') {
        return Err(format!(
            "'{}' is not a valid branch name; set another with --branch",
            start.branch
        ));
    }
    let current = main
        .text(&["symbolic-ref", "--quiet", "--short", "HEAD"])
        .ok();
    let base = match (&start.base, &current) {
        (Some(b), _) => b.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => "HEAD".to_string(),
    };
    let Some(base_commit) = (if base.starts_with('-') {
        None
    } else {
        main.commit_of(&base).map_err(git_err)?
    }) else {
        return Err(format!(
            "base branch '{base}' does not exist in {repo_shown}"
        ));
    };
    if main.has_branch(&start.branch).map_err(git_err)? {
        return Err(format!(
            "branch {} already exists in {repo_shown}; set another with --branch",
            start.branch
        ));
    }
    let short: String = task_id.simple().to_string().chars().take(8).collect();
    let dir = ws
        .root
        .join(sanitize(&repo_name))
        .join(format!("{}-{short}", sanitize(&start.reference)));
    if dir.exists() {
        return Err(format!(
            "{} exists already and is not {}'s worktree: remove it, or set worktree_dir",
            dir.display(),
            start.reference
        ));
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let path = dir.to_string_lossy().into_owned();
    main.bytes(&[
        "-c",
        PARALLEL,
        "worktree",
        "add",
        "--quiet",
        "-b",
        &start.branch,
        &path,
        &base_commit,
    ])
    .map_err(git_err)?;
    let from_checkout = current.as_deref() == Some(base.as_str()) || base == "HEAD";
    let base = if base == "HEAD" {
        base_commit.clone()
    } else {
        base
    };
    let warning = match main.uncommitted(false) {
        Ok(dirty) if from_checkout && !dirty.is_empty() => Some(format!(
            "{repo_shown} has uncommitted changes; {}'s worktree starts from the last commit and does not see them",
            start.reference
        )),
        _ => None,
    };
    let entry = Entry {
        task_id,
        reference: start.reference.clone(),
        repo: repo_name,
        repo_path: top,
        path: dir.clone(),
        branch: start.branch.clone(),
        base,
        base_commit,
    };
    if let Err(e) = ws.registry.save(&entry) {
        let _ = main.ran(&["worktree", "remove", "--force", &path]);
        let _ = main.ran(&["branch", "-D", &start.branch]);
        return Err(format!("cannot record the worktree: {e}"));
    }
    Ok(Some(Created {
        working_dir: at(&dir),
        entry,
        reused: false,
        warning,
    }))
}

/// Two paths name the same directory.
fn same(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A name safe as one path component.
fn sanitize(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() { "repo".to_string() } else { s }
}
