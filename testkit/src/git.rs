//! Real git for end-to-end tests of workspaces: make a repository with a first commit, commit
//! files, read branch heads, logs and worktrees. Every helper runs the `git` CLI and panics
//! with git's own message when it fails, so a broken setup names its cause.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The identity tests commit as (set locally in each repository made by [`init_repo`]).
pub const TEST_NAME: &str = "Test Author";
/// The e-mail tests commit as.
pub const TEST_EMAIL: &str = "test@localhost";

/// Whether a `git` binary answers (tests of workspaces skip without one).
pub fn available() -> bool {
    Command::new("git")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `git ARGS` in `dir` and returns its stdout; panics with stderr when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run git {args:?} in {}: {e}", dir.display()));
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes `path` (created when missing) a git repository on branch `main` with a local
/// identity and a first commit holding `README.md`.
pub fn init_repo(path: &Path) {
    std::fs::create_dir_all(path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    git(path, &["init", "-q", "-b", "main"]);
    git(path, &["config", "user.name", TEST_NAME]);
    git(path, &["config", "user.email", TEST_EMAIL]);
    git(path, &["config", "commit.gpgsign", "false"]);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::fs::write(path.join("README.md"), format!("# {name}\n"))
        .unwrap_or_else(|e| panic!("cannot write README.md in {}: {e}", path.display()));
    git(path, &["add", "README.md"]);
    git(path, &["commit", "-q", "-m", "first commit"]);
}

/// Writes `text` to `file` (relative to `repo`, dirs made), stages it and commits with `msg`;
/// returns the new commit's hash.
pub fn commit_file(repo: &Path, file: &str, text: &str, msg: &str) -> String {
    let path = repo.join(file);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    }
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    git(repo, &["add", "--", file]);
    git(repo, &["commit", "-q", "-m", msg]);
    head(repo)
}

/// The commit checked out in `repo` (a worktree or the main checkout).
pub fn head(repo: &Path) -> String {
    git(repo, &["rev-parse", "HEAD"]).trim().to_string()
}

/// The commit `branch` points at, or `None` when there is no such branch.
pub fn branch_head(repo: &Path, branch: &str) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("refs/heads/{branch}"))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run git rev-parse in {}: {e}", repo.display()));
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The branches of `repo` (short names), sorted.
pub fn branches(repo: &Path) -> Vec<String> {
    let mut b: Vec<String> = git(
        repo,
        &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
    )
    .lines()
    .map(str::to_string)
    .collect();
    b.sort();
    b
}

/// The subjects of the commits reachable from `branch`, newest first.
pub fn log(repo: &Path, branch: &str) -> Vec<String> {
    git(repo, &["log", "--format=%s", branch, "--"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// The files `branch`'s tree holds (paths relative to the repository), sorted.
pub fn files(repo: &Path, branch: &str) -> Vec<String> {
    let mut f: Vec<String> = git(repo, &["ls-tree", "-r", "--name-only", branch])
        .lines()
        .map(str::to_string)
        .collect();
    f.sort();
    f
}

/// A file's text at `branch`, or `None` when the branch has no such file.
pub fn show(repo: &Path, branch: &str, file: &str) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .arg("show")
        .arg(format!("{branch}:{file}"))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run git show in {}: {e}", repo.display()));
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether the checkout at `dir` has no uncommitted changes (tracked or untracked).
pub fn is_clean(dir: &Path) -> bool {
    git(dir, &["status", "--porcelain", "--untracked-files=all"])
        .trim()
        .is_empty()
}

/// One entry of `git worktree list --porcelain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    pub path: PathBuf,
    /// The commit checked out (`None` for a bare repository).
    pub head: Option<String>,
    /// The branch's short name (`None` when detached or bare).
    pub branch: Option<String>,
}

/// The worktrees of `repo`, the main checkout first.
pub fn worktrees(repo: &Path) -> Vec<Worktree> {
    parse_worktrees(&git(repo, &["worktree", "list", "--porcelain"]))
}

/// Parses `git worktree list --porcelain` (blocks separated by blank lines).
pub fn parse_worktrees(text: &str) -> Vec<Worktree> {
    let mut list = Vec::new();
    let mut current: Option<Worktree> = None;
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("worktree ") {
            list.extend(current.take());
            current = Some(Worktree {
                path: PathBuf::from(p),
                head: None,
                branch: None,
            });
        } else if let Some(w) = current.as_mut() {
            if let Some(h) = line.strip_prefix("HEAD ") {
                w.head = Some(h.to_string());
            } else if let Some(b) = line.strip_prefix("branch ") {
                w.branch = Some(b.strip_prefix("refs/heads/").unwrap_or(b).to_string());
            }
        }
    }
    list.extend(current);
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_repo_has_main_with_a_readme_and_is_clean() {
        if !crate::have("git", available()) {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path().join("app");
        init_repo(&repo);
        assert_eq!(branches(&repo), vec!["main"]);
        assert_eq!(log(&repo, "main"), vec!["first commit"]);
        assert_eq!(files(&repo, "main"), vec!["README.md"]);
        assert_eq!(show(&repo, "main", "README.md").as_deref(), Some("# app\n"));
        assert!(is_clean(&repo));
        assert_eq!(branch_head(&repo, "main"), Some(head(&repo)));
        assert_eq!(branch_head(&repo, "nope"), None);
    }

    #[test]
    fn commits_move_the_branch_and_dirt_is_seen() {
        if !crate::have("git", available()) {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path().join("app");
        init_repo(&repo);
        let c = commit_file(&repo, "src/a.txt", "one\n", "add a");
        assert_eq!(branch_head(&repo, "main").as_deref(), Some(c.as_str()));
        assert_eq!(log(&repo, "main"), vec!["add a", "first commit"]);
        assert_eq!(show(&repo, "main", "src/a.txt").as_deref(), Some("one\n"));
        std::fs::write(repo.join("loose.txt"), "x").expect("write");
        assert!(!is_clean(&repo));
    }

    #[test]
    fn worktrees_are_listed_with_their_branches() {
        if !crate::have("git", available()) {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path().join("app");
        init_repo(&repo);
        let wt = dir.path().join("wt");
        git(
            &repo,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "orc/T1-x",
                &wt.to_string_lossy(),
            ],
        );
        let list = worktrees(&repo);
        assert_eq!(list.len(), 2, "{list:?}");
        assert_eq!(list[0].branch.as_deref(), Some("main"));
        assert_eq!(list[1].branch.as_deref(), Some("orc/T1-x"));
        assert_eq!(list[1].head, Some(head(&repo)));
        assert!(list[1].path.ends_with("wt"), "{list:?}");
    }

    #[test]
    fn detached_and_bare_entries_parse() {
        let text = "worktree /r\nbare\n\nworktree /w\nHEAD abc\ndetached\n\n";
        let list = parse_worktrees(text);
        assert_eq!(
            list,
            vec![
                Worktree {
                    path: "/r".into(),
                    head: None,
                    branch: None
                },
                Worktree {
                    path: "/w".into(),
                    head: Some("abc".into()),
                    branch: None
                },
            ]
        );
    }

    #[test]
    #[should_panic(expected = "failed")]
    fn a_failing_git_command_panics_with_its_message() {
        let dir = tempfile::tempdir().expect("temp dir");
        git(dir.path(), &["rev-parse", "HEAD"]);
    }
}
