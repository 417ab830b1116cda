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

/// See [`Workspaces::create`]: the task's recorded worktree when it can serve again, else a
/// new one on a new branch from the base.
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
    let main = Git::new(&top);
    if let Some(entry) = ws.registry.get(task_id)
        && entry.branch == start.branch
        && let Some(again) = reuse(&main, entry, &prefix)?
    {
        return Ok(Some(again));
    }
    let repo_name = repo
        .map(str::to_string)
        .or_else(|| top.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "repo".to_string());
    let repo_shown = top.display().to_string();
    check_branch_name(&main, start)?;
    let base = resolve_base(&main, start, &repo_shown)?;
    if main.has_branch(&start.branch).map_err(git_err)? {
        return Err(format!(
            "branch {} already exists in {repo_shown}; set another with --branch",
            start.branch
        ));
    }
    let dir = new_dir(ws, &repo_name, task_id, start)?;
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
        &base.commit,
    ])
    .map_err(git_err)?;
    let warning = uncommitted_warning(&main, &base, &repo_shown, start);
    let entry = Entry {
        task_id,
        reference: start.reference.clone(),
        repo: repo_name,
        repo_path: top,
        path: dir.clone(),
        branch: start.branch.clone(),
        base: base.name,
        base_commit: base.commit,
    };
    if let Err(e) = ws.registry.save(&entry) {
        let _ = main.ran(&["worktree", "remove", "--force", &path]);
        let _ = main.ran(&["branch", "-D", &start.branch]);
        return Err(format!("cannot record the worktree: {e}"));
    }
    Ok(Some(Created {
        working_dir: within(&dir, &prefix),
        entry,
        reused: false,
        warning,
    }))
}

/// `dir`, or the subdir `prefix` of it: where the agent works in a worktree when the session
/// started in a subdir of the repo.
fn within(dir: &Path, prefix: &str) -> PathBuf {
    if prefix.is_empty() {
        dir.to_path_buf()
    } else {
        dir.join(prefix)
    }
}

/// The task's recorded worktree, when it still is one or its branch can be checked out
/// again (its directory is gone, its work is not). `None`: make a new one.
fn reuse(main: &Git, entry: Entry, prefix: &str) -> Result<Option<Created>, String> {
    let again = |entry: Entry| Created {
        working_dir: within(&entry.path, prefix),
        entry,
        reused: true,
        warning: None,
    };
    if locate(&entry.path).is_some_and(|(t, _)| same(&t, &entry.path)) {
        return Ok(Some(again(entry)));
    }
    if main.has_branch(&entry.branch).map_err(git_err)? && !entry.path.exists() {
        let _ = main.ran(&["worktree", "prune"]);
        let path = entry.path.to_string_lossy().into_owned();
        main.bytes(&["-c", PARALLEL, "worktree", "add", &path, &entry.branch])
            .map_err(git_err)?;
        return Ok(Some(again(entry)));
    }
    Ok(None)
}

/// Refuses a branch name git would not take (or would read as an option).
fn check_branch_name(main: &Git, start: &WorkspaceStart) -> Result<(), String> {
    let check = main.ran(&["check-ref-format", "--branch", &start.branch]);
    if !check.is_ok_and(|r| r.code == Some(0)) || start.branch.starts_with('-') {
        return Err(format!(
            "'{}' is not a valid branch name; set another with --branch",
            start.branch
        ));
    }
    Ok(())
}

/// The base a new worktree starts from.
struct Base {
    /// The branch named (or the commit, when that was a detached `HEAD`).
    name: String,
    commit: String,
    /// It is what the main checkout has out, so that checkout's changes are worth a warning.
    from_checkout: bool,
}

/// The base asked for, else the main checkout's branch, else its `HEAD`; refused when it
/// names no commit.
fn resolve_base(main: &Git, start: &WorkspaceStart, repo_shown: &str) -> Result<Base, String> {
    let current = main
        .text(&["symbolic-ref", "--quiet", "--short", "HEAD"])
        .ok();
    let base = match (&start.base, &current) {
        (Some(b), _) => b.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => "HEAD".to_string(),
    };
    let Some(commit) = (if base.starts_with('-') {
        None
    } else {
        main.commit_of(&base).map_err(git_err)?
    }) else {
        return Err(format!(
            "base branch '{base}' does not exist in {repo_shown}"
        ));
    };
    let from_checkout = current.as_deref() == Some(base.as_str()) || base == "HEAD";
    let name = if base == "HEAD" { commit.clone() } else { base };
    Ok(Base {
        name,
        commit,
        from_checkout,
    })
}

/// The new worktree's directory, `<root>/<repo>/<reference>-<task id's first 8>`, with its
/// parent made; refused when something is there already.
fn new_dir(
    ws: &Workspaces,
    repo_name: &str,
    task_id: Uuid,
    start: &WorkspaceStart,
) -> Result<PathBuf, String> {
    let short: String = task_id.simple().to_string().chars().take(8).collect();
    let dir = ws
        .root
        .join(sanitize(repo_name))
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
    Ok(dir)
}

/// For the admin, when the worktree starts from the main checkout's commit while that
/// checkout has changes the worktree will not see.
fn uncommitted_warning(
    main: &Git,
    base: &Base,
    repo_shown: &str,
    start: &WorkspaceStart,
) -> Option<String> {
    match main.uncommitted(false) {
        Ok(dirty) if base.from_checkout && !dirty.is_empty() => Some(format!(
            "{repo_shown} has uncommitted changes; {}'s worktree starts from the last commit and does not see them",
            start.reference
        )),
        _ => None,
    }
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
