//! Workspaces against real git repositories.

use orchestratia_proto::workspace::{PruneCandidate, ReviewState, WorkspaceAnswer, WorkspaceOp};
use uuid::Uuid;

use super::Workspaces;
use super::git::Git;
use super::report::{bound, human};
use super::testing::{Rig, commit, git, refusal, write};

fn report(rig: &Rig, task: Uuid) -> orchestratia_proto::workspace::WorkspaceReport {
    match rig.op(task, WorkspaceOp::Report) {
        WorkspaceAnswer::Report { report } => report,
        other => panic!("{other:?}"),
    }
}

fn merge(into: Option<&str>, squash: bool) -> WorkspaceOp {
    WorkspaceOp::Merge {
        into: into.map(str::to_string),
        squash,
        message: String::new(),
    }
}

#[test]
fn creates_from_the_current_branch_and_reuses_on_retry() {
    let rig = Rig::new();
    let task = Uuid::new_v4();
    let c = rig.create(task, "orc/T7-x");
    assert!(!c.reused && c.warning.is_none());
    assert!(c.entry.path.starts_with(rig.root.join("api")));
    assert!(
        c.entry
            .path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("T7-"))
    );
    assert_eq!(c.entry.base, "main");
    assert_eq!(
        git(&c.working_dir, &["branch", "--show-current"]),
        "orc/T7-x"
    );
    let again = rig.create(task, "orc/T7-x");
    assert!(again.reused);
    assert_eq!(again.entry.path, c.entry.path);
}

#[test]
fn a_subdir_runs_in_the_same_subdir_and_a_dirty_checkout_warns() {
    let rig = Rig::new();
    commit(&rig.repo, "svc/a.txt", "a\n", "svc");
    write(&rig.repo, "README", "changed\n");
    let c = rig
        .ws
        .create(
            Uuid::new_v4(),
            Some("api"),
            &rig.repo.join("svc"),
            &Rig::start("b1", None),
        )
        .expect("create")
        .expect("git");
    assert_eq!(c.working_dir, c.entry.path.join("svc"));
    let w = c.warning.expect("warning");
    assert!(
        w.contains("has uncommitted changes; T7's worktree starts from the last commit"),
        "{w}"
    );
}

#[test]
fn an_explicit_base_a_missing_base_and_a_taken_branch() {
    let rig = Rig::new();
    git(&rig.repo, &["branch", "dev"]);
    commit(&rig.repo, "main.txt", "m\n", "on main");
    let c = rig
        .ws
        .create(
            Uuid::new_v4(),
            Some("api"),
            &rig.repo,
            &Rig::start("b1", Some("dev")),
        )
        .expect("create")
        .expect("git");
    assert_eq!(c.entry.base, "dev");
    assert!(!c.entry.path.join("main.txt").exists());
    let err = rig
        .ws
        .create(
            Uuid::new_v4(),
            Some("api"),
            &rig.repo,
            &Rig::start("b2", Some("nope")),
        )
        .expect_err("no base");
    assert!(
        err.contains("base branch 'nope' does not exist in"),
        "{err}"
    );
    let err = rig
        .ws
        .create(
            Uuid::new_v4(),
            Some("api"),
            &rig.repo,
            &Rig::start("dev", None),
        )
        .expect_err("taken");
    assert!(
        err.contains("branch dev already exists in") && err.contains("--branch"),
        "{err}"
    );
}

#[test]
fn a_plain_directory_has_no_workspace() {
    let rig = Rig::new();
    let plain = rig.state.join("plain");
    std::fs::create_dir_all(&plain).expect("mkdir");
    let r = rig
        .ws
        .create(Uuid::new_v4(), None, &plain, &Rig::start("b", None));
    assert!(matches!(r, Ok(None)), "{r:?}");
}

#[test]
fn the_report_counts_commits_files_and_uncommitted() {
    let rig = Rig::new();
    let task = Uuid::new_v4();
    let c = rig.create(task, "orc/T7-x");
    let wt = &c.entry.path;
    commit(wt, "a.txt", "1\n2\n3\n", "a");
    commit(wt, "README", "bye\n", "b");
    std::fs::write(wt.join("logo.bin"), [0u8, 1, 2, 0, 255]).expect("bin");
    git(wt, &["add", "logo.bin"]);
    git(wt, &["commit", "-q", "-m", "bin"]);
    commit(&rig.repo, "other.txt", "o\n", "main moves");
    write(wt, "new/untracked.txt", "u\n");
    let r = report(&rig, task);
    assert_eq!((r.ahead, r.behind), (3, 1));
    let a = r.files.iter().find(|f| f.path == "a.txt").expect("a");
    assert_eq!((a.insertions, a.deletions), (Some(3), Some(0)));
    let readme = r.files.iter().find(|f| f.path == "README").expect("readme");
    assert_eq!((readme.insertions, readme.deletions), (Some(1), Some(1)));
    let bin = r.files.iter().find(|f| f.path == "logo.bin").expect("bin");
    assert_eq!((bin.insertions, bin.deletions), (None, None));
    assert_eq!(r.files.len(), 3);
    assert_eq!(r.uncommitted, vec!["new/untracked.txt".to_string()]);
    assert!(!r.removed);
    assert_eq!(r.head, git(wt, &["rev-parse", "HEAD"]));
}

#[test]
fn diffs_whole_one_file_refused_and_cut() {
    let rig = Rig::new();
    let task = Uuid::new_v4();
    let wt = rig.create(task, "orc/T7-x").entry.path;
    let long: String = (0..200).map(|i| format!("line {i}\n")).collect();
    commit(&wt, "a.txt", &long, "a");
    commit(&wt, "b.txt", "b\n", "b");
    write(&wt, "c.txt", "dirty\n");
    let d = |file: Option<&str>, limit| {
        rig.op(
            task,
            WorkspaceOp::Diff {
                file: file.map(str::to_string),
                stat: false,
                limit,
            },
        )
    };
    let WorkspaceAnswer::Diff { diff } = d(None, 1 << 20) else {
        panic!()
    };
    assert!(diff.diff.contains("+line 199") && diff.diff.contains("+++ b/b.txt"));
    assert!(!diff.truncated);
    assert!(
        diff.note
            .as_deref()
            .is_some_and(|n| n.contains("1 uncommitted file is not in this diff"))
    );
    let WorkspaceAnswer::Diff { diff } = d(Some("b.txt"), 1 << 20) else {
        panic!()
    };
    assert!(diff.diff.contains("b.txt") && !diff.diff.contains("a.txt"));
    let (why, _) = refusal(d(Some("README"), 1 << 20));
    assert_eq!(why, "README is not changed on orc/T7-x");
    let WorkspaceAnswer::Diff { diff } = d(None, 500) else {
        panic!()
    };
    assert!(diff.truncated && diff.diff.len() <= 500 && diff.diff.ends_with('\n'));
    let note = diff.note.expect("note");
    assert!(
        note.contains("cut at 500 bytes of") && note.contains("task diff T7 --file PATH"),
        "{note}"
    );
    let WorkspaceAnswer::Diff { diff } = rig.op(
        task,
        WorkspaceOp::Diff {
            file: None,
            stat: true,
            limit: 10,
        },
    ) else {
        panic!()
    };
    assert!(diff.diff.is_empty() && diff.files.len() == 2);
}

#[test]
fn bounds_and_sizes() {
    assert_eq!(bound(b"ab\ncd\nef", 7), (&b"ab\ncd\n"[..], true));
    assert_eq!(bound(b"abcdef", 3), (&b""[..], true));
    assert_eq!(bound(b"ab\n", 3), (&b"ab\n"[..], false));
    assert_eq!(human(1 << 20), "1 MiB");
    assert_eq!(human(2048), "2 KiB");
    assert_eq!(human(500), "500 bytes");
}

#[test]
fn a_clean_merge_commits_on_main_and_removes_the_worktree() {
    let rig = Rig::new();
    let task = Uuid::new_v4();
    let wt = rig.create(task, "orc/T7-x").entry.path;
    let head = commit(&wt, "a.txt", "a\n", "a");
    // main is checked out in the repo and clean: its checkout moves too.
    let old = rig.main_head();
    let WorkspaceAnswer::Merged { merged, report } = rig.op(task, merge(None, false)) else {
        panic!()
    };
    assert_eq!(merged.into, "main");
    assert!(merged.removed && report.removed && !merged.squash);
    assert_eq!(rig.main_head(), merged.commit);
    let parents = git(&rig.repo, &["rev-list", "--parents", "-n", "1", "main"]);
    assert_eq!(parents, format!("{} {old} {head}", merged.commit));
    assert!(rig.repo.join("a.txt").exists(), "main's checkout moved");
    assert_eq!(git(&rig.repo, &["status", "--porcelain"]), "");
    assert!(!wt.exists());
    assert_eq!(git(&rig.repo, &["branch", "--list", "orc/T7-x"]), "");
    assert!(rig.ws.registry().get(task).is_none());
}

#[test]
fn a_squash_merge_has_one_parent_into_a_branch_not_checked_out() {
    let rig = Rig::new();
    git(&rig.repo, &["branch", "release"]);
    let task = Uuid::new_v4();
    let wt = rig.create(task, "orc/T7-x").entry.path;
    commit(&wt, "a.txt", "a\n", "a");
    commit(&wt, "b.txt", "b\n", "b");
    let old = git(&rig.repo, &["rev-parse", "release"]);
    let WorkspaceAnswer::Merged { merged, .. } = rig.op(task, merge(Some("release"), true)) else {
        panic!()
    };
    assert!(merged.squash);
    let parents = git(&rig.repo, &["rev-list", "--parents", "-n", "1", "release"]);
    assert_eq!(parents, format!("{} {old}", merged.commit));
    assert_eq!(git(&rig.repo, &["show", "release:b.txt"]), "b");
    assert!(
        !rig.repo.join("a.txt").exists(),
        "main's checkout is untouched"
    );
}

#[test]
fn a_conflict_is_refused_with_its_files_and_changes_nothing() {
    let rig = Rig::new();
    let task = Uuid::new_v4();
    let wt = rig.create(task, "orc/T7-x").entry.path;
    commit(&wt, "README", "theirs\n", "a");
    commit(&rig.repo, "README", "ours\n", "b");
    let (old, wt_head) = (rig.main_head(), git(&wt, &["rev-parse", "HEAD"]));
    let (why, conflicts) = refusal(rig.op(task, merge(None, false)));
    assert_eq!(conflicts, vec!["README".to_string()]);
    assert!(
        why.contains("merging T7 into main conflicts in README; nothing was changed"),
        "{why}"
    );
    assert_eq!(rig.main_head(), old);
    assert_eq!(git(&wt, &["rev-parse", "HEAD"]), wt_head);
    assert!(wt.exists() && rig.ws.registry().get(task).is_some());
}

#[test]
fn merge_refusals_change_nothing() {
    let rig = Rig::new();
    let task = Uuid::new_v4();
    let wt = rig.create(task, "orc/T7-x").entry.path;
    commit(&wt, "a.txt", "a\n", "a");
    let old = rig.main_head();
    write(&rig.repo, "README", "dirty\n");
    let (why, _) = refusal(rig.op(task, merge(None, false)));
    assert!(
        why.starts_with("the checkout of main at ")
            && why.contains("uncommitted changes (README); nothing was merged"),
        "{why}"
    );
    assert_eq!(rig.main_head(), old);
    assert_eq!(
        std::fs::read_to_string(rig.repo.join("README")).expect("r"),
        "dirty\n"
    );
    let (why, _) = refusal(rig.op(task, merge(Some("nope"), false)));
    assert!(why.contains("'nope' is not a branch"), "{why}");
    write(&wt, "a.txt", "changed\n");
    let (why, _) = refusal(rig.op(task, merge(Some("main"), false)));
    assert!(
        why.contains("T7's worktree has uncommitted changes (a.txt)"),
        "{why}"
    );
    assert_eq!(rig.main_head(), old);
    assert!(wt.exists() && git(&rig.repo, &["branch", "--list", "orc/T7-x"]).contains("orc/T7-x"));
}

#[test]
fn discard_removes_the_worktree_and_branch() {
    let rig = Rig::new();
    let task = Uuid::new_v4();
    let wt = rig.create(task, "orc/T7-x").entry.path;
    commit(&wt, "a.txt", "a\n", "a");
    write(&wt, "junk.txt", "x\n");
    let WorkspaceAnswer::Report { report } = rig.op(task, WorkspaceOp::Discard) else {
        panic!()
    };
    assert!(report.removed && !wt.exists());
    assert_eq!(git(&rig.repo, &["branch", "--list", "orc/T7-x"]), "");
    let (why, _) = refusal(rig.op(task, WorkspaceOp::Report));
    assert!(why.contains("no worktree"), "{why}");
}

fn candidate(task: Uuid) -> PruneCandidate {
    PruneCandidate {
        task_id: task,
        review: ReviewState::Unreviewed,
        merged_head: None,
    }
}

#[test]
fn prune_removes_only_what_holds_no_work() {
    let rig = Rig::new();
    let (clean, dirty, ahead, kept) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let wt_clean = rig.create(clean, "c").entry.path;
    let wt_dirty = rig.create(dirty, "d").entry.path;
    let wt_ahead = rig.create(ahead, "a").entry.path;
    rig.create(kept, "k");
    write(&wt_dirty, "x.txt", "x\n");
    commit(&wt_ahead, "1.txt", "1\n", "1");
    commit(&wt_ahead, "2.txt", "2\n", "2");
    let all = [candidate(clean), candidate(dirty), candidate(ahead)];
    let run = |dry| match rig.op(
        Uuid::nil(),
        WorkspaceOp::Prune {
            dry_run: dry,
            removable: all.to_vec(),
        },
    ) {
        WorkspaceAnswer::Pruned { items } => items,
        other => panic!("{other:?}"),
    };
    let items = run(true);
    assert_eq!(items.len(), 3);
    let by = |t: Uuid| items.iter().find(|i| i.task_id == t).expect("item").clone();
    assert_eq!(by(clean).action, "would_remove");
    assert_eq!(
        (by(dirty).action.as_str(), by(dirty).why.as_str()),
        ("kept", "uncommitted changes: x.txt")
    );
    assert_eq!(
        (by(ahead).action.as_str(), by(ahead).why.as_str()),
        ("kept", "2 commits not merged anywhere")
    );
    assert!(wt_clean.exists(), "a dry run removes nothing");
    let items = run(false);
    assert_eq!(items.iter().filter(|i| i.action == "removed").count(), 1);
    assert!(!wt_clean.exists() && wt_dirty.exists() && wt_ahead.exists());
    // Merged (squash) as a commit its head is in: it may go.
    let squashed = git(&wt_ahead, &["rev-parse", "HEAD"]);
    let c = PruneCandidate {
        task_id: ahead,
        review: ReviewState::Merged,
        merged_head: Some(squashed),
    };
    let WorkspaceAnswer::Pruned { items } = rig.op(
        Uuid::nil(),
        WorkspaceOp::Prune {
            dry_run: false,
            removable: vec![c],
        },
    ) else {
        panic!()
    };
    assert_eq!(items[0].action, "removed");
    assert_eq!(rig.ws.registry().all().len(), 2);
}

#[test]
fn a_new_handle_finds_the_worktrees_again() {
    let rig = Rig::new();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    rig.create(a, "a");
    let gone = rig.create(b, "b").entry.path;
    std::fs::remove_dir_all(&gone).expect("rm");
    let after = Workspaces::new(&rig.root, &rig.state);
    let reports = after.reports();
    assert_eq!(reports.len(), 2);
    let r = |t| reports.iter().find(|r| r.task_id == t).expect("report");
    assert!(!r(a).removed && r(b).removed);
    // Retried after its directory went: its branch is checked out again.
    let c = after
        .create(b, Some("api"), &rig.repo, &Rig::start("b", None))
        .expect("create")
        .expect("git");
    assert!(c.reused && gone.exists());
}

#[test]
fn a_target_that_moved_meanwhile_is_not_moved_again() {
    let rig = Rig::new();
    git(&rig.repo, &["branch", "dev"]);
    let old = git(&rig.repo, &["rev-parse", "refs/heads/dev"]);
    let merge = git(
        &rig.repo,
        &["commit-tree", "HEAD^{tree}", "-p", &old, "-m", "merge"],
    );
    // Someone moves dev after the merge was computed from `old`.
    let other = git(
        &rig.repo,
        &["commit-tree", "HEAD^{tree}", "-p", &old, "-m", "other"],
    );
    git(&rig.repo, &["update-ref", "refs/heads/dev", &other]);
    let why = super::merge::move_branch(&Git::new(&rig.repo), "dev", &merge, &old)
        .expect("git")
        .expect("refused");
    assert_eq!(why, "dev moved while merging; nothing was merged");
    assert_eq!(git(&rig.repo, &["rev-parse", "refs/heads/dev"]), other);
    // Unmoved, it moves.
    let merge = git(
        &rig.repo,
        &["commit-tree", "HEAD^{tree}", "-p", &other, "-m", "merge"],
    );
    assert_eq!(
        super::merge::move_branch(&Git::new(&rig.repo), "dev", &merge, &other).expect("git"),
        None
    );
    assert_eq!(git(&rig.repo, &["rev-parse", "refs/heads/dev"]), merge);
}
