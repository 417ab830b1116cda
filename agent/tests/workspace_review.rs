//! Workspaces end to end, the review and the bad cases (docs/WORKFLOWS.md, "Workspaces:
//! review and merge"): a review comment reaches a running worker at once and a failed task's
//! worker when it is retried; a repo that is not a git repository, a base that does not
//! exist, a branch name already taken, a dirty main checkout and a diff over the bound each
//! end with a clear reason and change nothing.

mod common;

use common::{Rig, events_of, notes, path_of, text};
use orchestratia_testkit::{eventually, git};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_comment_reaches_the_running_worker() {
    let Some(rig) = Rig::start(&["app"]).await else {
        return;
    };
    let t1 = rig
        .create(
            "Limits",
            "app",
            &[
                "edit src/limits.rs let max = 10;",
                "commit limits",
                "await-review",
                "edit src/limits.rs const MAX: u32 = 10;",
                "commit address the review",
            ],
            &[],
        )
        .await;
    rig.assign(&t1).await;
    eventually(30, "T1's workspace while it waits for review", || async {
        let v = rig.view(&t1).await;
        (v["status"] == "running" && v["workspace"].is_object()).then_some(())
    })
    .await;
    let c = rig
        .hub
        .cli(&[
            "task",
            "review",
            &t1,
            "--comment",
            "src/limits.rs:1",
            "use a constant",
            "--json",
        ])
        .await
        .json();
    assert_eq!(c["file"], "src/limits.rs");
    assert_eq!(c["line"], 1);

    let v = rig.done_with_workspace(&t1, "app").await;
    let n = notes(&v);
    assert!(
        n.iter()
            .any(|n| n.starts_with("review:") && n.contains("src/limits.rs:1: use a constant")),
        "{n:?}"
    );
    let comments = v["review_comments"].as_array().cloned().unwrap_or_default();
    assert_eq!(comments.len(), 1, "{v}");
    assert_eq!(comments[0]["text"], "use a constant");
    assert!(comments[0]["delivered_at"].is_string(), "{v}");
    assert_eq!(events_of(&v, "review_commented").len(), 1);
    assert_eq!(events_of(&v, "review_delivered").len(), 1);
    let log = git::log(&rig.repo("app"), &text(&v["workspace"]["branch"]));
    assert_eq!(log[..2], ["address the review", "limits"]);

    // Bad comments are refused (exit 2) and stored nowhere.
    for (at, body) in [
        ("src/limits.rs:0", "x"),
        ("src/limits.rs", "x"),
        (":3", "x"),
        ("src/limits.rs:2", ""),
    ] {
        let out = rig
            .hub
            .cli(&["task", "review", &t1, "--comment", at, body])
            .await;
        assert_eq!(out.code, 2, "{at} {body:?}: {}", out.stderr);
    }
    assert_eq!(
        rig.view(&t1).await["review_comments"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_on_a_closed_task_waits_for_its_retry() {
    let Some(rig) = Rig::start(&["app"]).await else {
        return;
    };
    let t1 = rig
        .create(
            "Rename",
            "app",
            &["edit b.txt first", "commit b", "fail not good enough"],
            &[],
        )
        .await;
    rig.assign(&t1).await;
    rig.status_is(&t1, "failed", 30).await;
    let w = eventually(20, "T1's workspace", || async {
        let v = rig.view(&t1).await;
        v["workspace"].is_object().then(|| v["workspace"].clone())
    })
    .await;
    rig.hub
        .cli(&["task", "review", &t1, "--comment", "b.txt:1", "rename it"])
        .await
        .ok();
    let v = rig.view(&t1).await;
    assert!(v["review_comments"][0]["delivered_at"].is_null(), "{v}");
    assert!(events_of(&v, "review_delivered").is_empty());

    rig.hub.cli(&["task", "retry", &t1]).await.ok();
    let v = eventually(30, "the comment noted by the retried worker", || async {
        let v = rig.view(&t1).await;
        notes(&v)
            .iter()
            .any(|n| n.starts_with("review:") && n.contains("b.txt:1: rename it"))
            .then_some(v)
    })
    .await;
    assert!(v["review_comments"][0]["delivered_at"].is_string(), "{v}");
    // The retry reused the worktree and its branch.
    let v = rig.status_is(&t1, "failed", 30).await;
    assert_eq!(v["workspace"]["path"], w["path"]);
    assert_eq!(v["workspace"]["branch"], w["branch"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repo_that_is_not_git_runs_as_before_without_a_workspace() {
    let Some(rig) = Rig::start_with(&["plain"], false).await else {
        return;
    };
    let t1 = rig.create("Plain", "plain", &["say hello"], &[]).await;
    rig.assign(&t1).await;
    let v = rig.status_is(&t1, "done", 30).await;
    assert!(v["workspace"].is_null(), "{v}");
    let e = rig.hub.cli(&["task", "diff", &t1]).await.fails(2);
    assert!(e.contains("has no workspace"), "{e}");
    assert!(e.contains("not a git repository"), "{e}");
    let list = rig.hub.cli(&["workspace", "list", "--json"]).await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_base_or_a_taken_branch_fails_the_task_with_the_reason() {
    let Some(rig) = Rig::start(&["app"]).await else {
        return;
    };
    let repo = rig.repo("app");
    git::git(&repo, &["branch", "feature/taken"]);
    let branches_before = git::branches(&repo);
    let t1 = rig
        .create("No base", "app", &["say hi"], &["--base", "nope"])
        .await;
    let t2 = rig
        .create("Taken", "app", &["say hi"], &["--branch", "feature/taken"])
        .await;
    rig.assign(&t1).await;
    rig.assign(&t2).await;
    let v1 = rig.status_is(&t1, "failed", 30).await;
    let s1 = v1.to_string();
    assert!(s1.contains("base branch 'nope' does not exist"), "{s1}");
    let v2 = rig.status_is(&t2, "failed", 30).await;
    let s2 = v2.to_string();
    assert!(s2.contains("branch feature/taken already exists"), "{s2}");
    assert!(s2.contains("--branch"), "{s2}");
    // Nothing was made: no worktree, no branch.
    assert_eq!(git::branches(&repo), branches_before);
    assert_eq!(git::worktrees(&repo).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_into_a_dirty_checkout_is_refused() {
    let Some(rig) = Rig::start(&["app"]).await else {
        return;
    };
    let repo = rig.repo("app");
    let t1 = rig
        .create("Work", "app", &["edit w.txt work", "commit work"], &[])
        .await;
    rig.assign(&t1).await;
    let w = rig.done_with_workspace(&t1, "app").await["workspace"].clone();
    std::fs::write(repo.join("README.md"), "# app\nediting by hand\n").expect("write");
    let main_before = git::head(&repo);

    let e = rig.hub.cli(&["task", "merge", &t1]).await.fails(2);
    assert!(e.contains("uncommitted changes (README.md)"), "{e}");
    assert!(e.contains("nothing was merged"), "{e}");
    assert_eq!(git::head(&repo), main_before);
    assert_eq!(
        std::fs::read_to_string(repo.join("README.md")).ok(),
        Some("# app\nediting by hand\n".into())
    );
    assert!(path_of(&w).exists());
    assert!(git::branch_head(&repo, &text(&w["branch"])).is_some());
    assert_eq!(rig.view(&t1).await["workspace"]["review"], "unreviewed");

    // A task that starts while the checkout is dirty is warned, and runs from the last commit.
    let t2 = rig
        .create("Later", "app", &["edit l.txt later", "commit later"], &[])
        .await;
    rig.assign(&t2).await;
    let v2 = rig.done_with_workspace(&t2, "app").await;
    assert!(
        v2.to_string().contains("has uncommitted changes"),
        "a session warning names the dirty checkout: {v2}"
    );
    assert_eq!(
        git::show(&repo, &text(&v2["workspace"]["branch"]), "README.md").as_deref(),
        Some("# app\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diff_over_the_bound_is_cut_with_a_note() {
    let Some(rig) = Rig::start(&["app"]).await else {
        return;
    };
    let t1 = rig
        .create("Big", "app", &["edit small.txt small", "commit small"], &[])
        .await;
    rig.assign(&t1).await;
    let w = rig.done_with_workspace(&t1, "app").await["workspace"].clone();
    // 2 MiB of lines committed on the task's branch.
    let line = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
    let big = line.repeat(2 * 1024 * 1024 / line.len());
    git::commit_file(&path_of(&w), "big.txt", &big, "big file");

    let d = rig.hub.cli(&["task", "diff", &t1, "--json"]).await.json();
    assert_eq!(d["truncated"], true, "{}", d["note"]);
    let note = text(&d["note"]);
    assert!(note.contains("cut at 1 MiB"), "{note}");
    assert!(note.contains("--file"), "{note}");
    let diff = text(&d["diff"]);
    assert!(diff.len() as u64 <= orchestratia_proto::workspace::DEFAULT_DIFF_LIMIT);
    assert!(diff.ends_with('\n'), "cut at a line boundary");
    let plain = rig.hub.cli(&["task", "diff", &t1]).await;
    plain.ok();
    assert!(plain.stderr.contains("cut at 1 MiB"), "{}", plain.stderr);
    // One file's diff is whole.
    let one = rig
        .hub
        .cli(&["task", "diff", &t1, "--file", "small.txt", "--json"])
        .await
        .json();
    assert_eq!(one["truncated"], false);
    assert!(text(&one["diff"]).contains("+small"));
}
