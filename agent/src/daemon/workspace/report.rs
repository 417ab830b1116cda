//! What changed in a worktree (the report), and its diff against the base, bounded.

use orchestratia_proto::workspace::{FileChange, WorkspaceAnswer, WorkspaceDiff, WorkspaceReport};

use super::git::{Git, GitError};
use super::registry::Entry;
use super::{list, refused};

/// The head of a worktree: its checkout's, else its branch's, else where it started.
pub(super) fn head(e: &Entry) -> Result<String, GitError> {
    if e.path.is_dir()
        && let Some(h) = Git::new(&e.path).commit_of("HEAD")?
    {
        return Ok(h);
    }
    let branch = format!("refs/heads/{}", e.branch);
    Ok(Git::new(&e.repo_path)
        .commit_of(&branch)?
        .unwrap_or_else(|| e.base_commit.clone()))
}

/// The report of a worktree as it is now (`removed` when its directory is gone).
pub fn report(e: &Entry) -> Result<WorkspaceReport, GitError> {
    let repo = Git::new(&e.repo_path);
    let removed = !e.path.is_dir();
    let head = head(e)?;
    let base_now = repo.commit_of(&e.base)?;
    let base_commit = match &base_now {
        Some(b) => repo
            .text(&["merge-base", b, &head])
            .unwrap_or_else(|_| e.base_commit.clone()),
        None => e.base_commit.clone(),
    };
    let (behind, ahead) = match &base_now {
        Some(b) => {
            let range = format!("{b}...{head}");
            let t = repo.text(&["rev-list", "--left-right", "--count", &range])?;
            let mut n = t.split_whitespace().map(|x| x.parse::<u64>().unwrap_or(0));
            (n.next().unwrap_or(0), n.next().unwrap_or(0))
        }
        None => {
            let range = format!("{base_commit}..{head}");
            (
                0,
                repo.text(&["rev-list", "--count", &range])?
                    .parse()
                    .unwrap_or(0),
            )
        }
    };
    let numstat = repo.bytes(&[
        "diff",
        "--numstat",
        "-z",
        "--no-renames",
        &base_commit,
        &head,
    ])?;
    let uncommitted = if removed {
        Vec::new()
    } else {
        Git::new(&e.path).uncommitted(false)?
    };
    Ok(WorkspaceReport {
        task_id: e.task_id,
        repo: e.repo.clone(),
        path: e.path.display().to_string(),
        branch: e.branch.clone(),
        base: e.base.clone(),
        base_commit,
        head,
        ahead,
        behind,
        files: parse_numstat(&numstat),
        uncommitted,
        removed,
    })
}

/// `git diff --numstat -z --no-renames`: `ADDED\tREMOVED\tPATH\0` per file, `-` for binary.
pub(super) fn parse_numstat(out: &[u8]) -> Vec<FileChange> {
    out.split(|b| *b == 0)
        .filter_map(|rec| {
            let rec = String::from_utf8_lossy(rec);
            let rec = rec.trim_start_matches('\n');
            let mut parts = rec.splitn(3, '\t');
            let (a, d, path) = (parts.next()?, parts.next()?, parts.next()?);
            Some(FileChange {
                path: path.to_string(),
                insertions: a.parse().ok(),
                deletions: d.parse().ok(),
            })
        })
        .collect()
}

/// The diff of a worktree's branch against its base (one file's when named), cut at `limit`
/// bytes at a line boundary; only the stat with `stat`.
pub fn diff(
    e: &Entry,
    file: Option<&str>,
    stat: bool,
    limit: u64,
) -> Result<WorkspaceAnswer, GitError> {
    let r = report(e)?;
    if let Some(f) = file
        && !r.files.iter().any(|c| c.path == f)
    {
        return Ok(refused(format!("{f} is not changed on {}", e.branch)));
    }
    let mut notes = Vec::new();
    let (mut text, mut truncated) = (String::new(), false);
    if !stat {
        let pathspec = file.map(|f| format!(":(literal){f}"));
        let mut args = vec![
            "diff",
            "--no-color",
            "--no-renames",
            "--no-ext-diff",
            r.base_commit.as_str(),
            r.head.as_str(),
        ];
        if let Some(p) = &pathspec {
            args.extend(["--", p.as_str()]);
        }
        let bytes = Git::new(&e.repo_path).bytes(&args)?;
        let (cut, was_cut) = bound(&bytes, limit);
        if was_cut {
            truncated = true;
            notes.push(format!(
                "cut at {} of {} bytes; `task diff {} --file PATH` shows one file",
                human(limit),
                bytes.len(),
                if e.reference.is_empty() {
                    "ID"
                } else {
                    &e.reference
                }
            ));
        }
        text = String::from_utf8_lossy(cut).into_owned();
    }
    if !r.uncommitted.is_empty() {
        let n = r.uncommitted.len();
        notes.push(format!(
            "{n} uncommitted file{} {} not in this diff ({})",
            if n == 1 { "" } else { "s" },
            if n == 1 { "is" } else { "are" },
            list(&r.uncommitted)
        ));
    }
    Ok(WorkspaceAnswer::Diff {
        diff: WorkspaceDiff {
            task_id: e.task_id,
            branch: r.branch,
            base: r.base,
            base_commit: r.base_commit,
            head: r.head,
            files: r.files,
            diff: text,
            truncated,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
            uncommitted: r.uncommitted,
        },
    })
}

/// The bytes up to `limit`, ending at a line's end; whether they were cut.
pub(super) fn bound(bytes: &[u8], limit: u64) -> (&[u8], bool) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if bytes.len() <= limit {
        return (bytes, false);
    }
    let end = bytes[..limit]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    (&bytes[..end], true)
}

/// `1 MiB`, `512 KiB`, `100 bytes`.
pub(super) fn human(n: u64) -> String {
    const K: u64 = 1024;
    if n >= K * K && n.is_multiple_of(K * K) {
        format!("{} MiB", n / (K * K))
    } else if n >= K && n.is_multiple_of(K) {
        format!("{} KiB", n / K)
    } else {
        format!("{n} bytes")
    }
}
