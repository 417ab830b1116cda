//! Workspaces end to end (docs/WORKFLOWS.md, "Workspaces: review and merge") with the real
//! hub, a real daemon whose repo is a git repository, and scripted workers that edit and
//! commit in real tmux sessions: two tasks at once in separate worktrees, a task based on
//! another's branch, the diff, merge/keep/discard, `after: merged`, prune that keeps unmerged
//! work, and a daemon restart that finds its worktrees.

mod common;

use common::{Rig, at, events_of, file_paths, path_of, text, under};
use orchestratia_testkit::{eventually, git};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tasks_on_one_repo_run_at_once_in_their_own_worktrees() {
    let Some(rig) = Rig::start(&["app"]).await else {
        return;
    };
    let repo = rig.repo("app");
    let main_before = git::head(&repo);
    let t1 = rig
        .create(
            "Add a",
            "app",
            &["edit a.txt from T1", "commit T1 change", "sleep 3"],
            &[],
        )
        .await;
    let t2 = rig
        .create(
            "Add b",
            "app",
            &["edit b.txt from T2", "commit T2 change", "sleep 3"],
            &[],
        )
        .await;
    rig.assign(&t1).await;
    rig.assign(&t2).await;
    let v1 = rig.done_with_workspace(&t1, "app").await;
    let v2 = rig.done_with_workspace(&t2, "app").await;
    let (w1, w2) = (&v1["workspace"], &v2["workspace"]);

    // Separate worktrees under the daemon's worktree dir, on branches named after the tasks.
    assert_ne!(w1["path"], w2["path"]);
    for w in [w1, w2] {
        assert!(under(&path_of(w), &rig.daemon.worktree_dir()), "{w}");
        assert_eq!(w["base"], "main");
        assert_eq!(w["ahead"], 1, "{w}");
        assert_eq!(w["review"], "unreviewed");
        assert_eq!(w["server"], "dev-01");
    }
    assert!(text(&w1["branch"]).starts_with("orc/T1-add-a"), "{w1}");
    assert!(text(&w2["branch"]).starts_with("orc/T2-add-b"), "{w2}");
    assert_eq!(file_paths(w1), vec!["a.txt"]);
    assert_eq!(file_paths(w2), vec!["b.txt"]);
    // Each branch has its own commit, and only its own.
    let b1 = text(&w1["branch"]);
    let b2 = text(&w2["branch"]);
    assert_eq!(git::log(&repo, &b1), vec!["T1 change", "first commit"]);
    assert_eq!(git::log(&repo, &b2), vec!["T2 change", "first commit"]);
    assert_eq!(git::show(&repo, &b1, "a.txt").as_deref(), Some("from T1\n"));
    let listed: Vec<String> = git::worktrees(&repo)
        .iter()
        .filter_map(|w| w.branch.clone())
        .collect();
    assert!(listed.contains(&b1) && listed.contains(&b2), "{listed:?}");
    // The main checkout is untouched.
    assert_eq!(git::head(&repo), main_before);
    assert!(git::is_clean(&repo));
    assert_eq!(git::files(&repo, "main"), vec!["README.md"]);
    // They ran at the same time: each started before the other finished.
    let start = |v: &Value| events_of(v, "task_started").first().map(at).unwrap_or(0);
    let end = |v: &Value| {
        events_of(v, "task_completed")
            .first()
            .map(at)
            .unwrap_or(i64::MAX)
    };
    assert!(start(&v1) < end(&v2) && start(&v2) < end(&v1));
    assert_eq!(events_of(&v1, "workspace_created").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_based_on_another_starts_from_its_branch() {
    let Some(rig) = Rig::start(&["app"]).await else {
        return;
    };
    let repo = rig.repo("app");
    let t1 = rig
        .create(
            "Schema",
            "app",
            &["edit schema.txt v2.5", "commit schema v2.5"],
            &[],
        )
        .await;
    // T2 names T1's branch as its base; T3 takes the branch of its blocks upstream.
    let t2 = rig
        .create(
            "Gateway",
            "app",
            &["edit gateway.txt routes", "commit gateway routes"],
            &["--base-from", &t1],
        )
        .await;
    let t3 = rig
        .create(
            "Search",
            "app",
            &["edit search.txt index", "commit search index"],
            &["--base", "upstream", "--depends-on", &t1],
        )
        .await;
    rig.assign(&t1).await;
    let w1 = rig.done_with_workspace(&t1, "app").await["workspace"].clone();
    let w2 = rig.done_with_workspace(&t2, "app").await["workspace"].clone();
    let w3 = rig.done_with_workspace(&t3, "app").await["workspace"].clone();
    let b1 = text(&w1["branch"]);
    for (w, own) in [(&w2, "gateway routes"), (&w3, "search index")] {
        assert_eq!(w["base"], b1.as_str(), "{w}");
        let b = text(&w["branch"]);
        assert_eq!(
            git::log(&repo, &b),
            vec![own, "schema v2.5", "first commit"]
        );
        assert_eq!(
            git::show(&repo, &b, "schema.txt").as_deref(),
            Some("v2.5\n")
        );
        // Its diff is its own change, not T1's.
        assert_eq!(file_paths(w).len(), 1, "{w}");
    }
    assert_eq!(git::files(&repo, "main"), vec!["README.md"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_diff_then_merge_keep_and_discard() {
    let Some(rig) = Rig::start(&["app"]).await else {
        return;
    };
    let repo = rig.repo("app");
    let mut refs = Vec::new();
    for name in ["one", "two", "three"] {
        let edit = format!("edit src/{name}.rs pub fn {name}() {{}}");
        let commit = format!("commit add {name}");
        let r = rig
            .create(&format!("Add {name}"), "app", &[&edit, &commit], &[])
            .await;
        rig.assign(&r).await;
        refs.push(r);
    }
    for r in &refs {
        rig.done_with_workspace(r, "app").await;
    }
    let (t1, t2, t3) = (&refs[0], &refs[1], &refs[2]);

    // The diff is exactly the worker's change.
    let d = rig.hub.cli(&["task", "diff", t1, "--json"]).await.json();
    assert_eq!(file_paths(&d), vec!["src/one.rs"]);
    assert_eq!(d["files"][0]["insertions"], 1);
    assert_eq!(d["files"][0]["deletions"], 0);
    assert_eq!(d["truncated"], false);
    let diff = text(&d["diff"]);
    assert!(diff.contains("+pub fn one() {}"), "{diff}");
    assert_eq!(diff.matches("diff --git").count(), 1, "{diff}");
    let s = rig
        .hub
        .cli(&["task", "diff", t1, "--stat", "--json"])
        .await
        .json();
    assert_eq!(s["diff"], "");
    assert_eq!(file_paths(&s), vec!["src/one.rs"]);
    let plain = rig
        .hub
        .cli(&["task", "diff", t1, "--file", "src/one.rs"])
        .await;
    assert!(plain.ok().contains("+pub fn one() {}"), "{}", plain.stdout);
    assert!(!plain.stdout.contains('\u{1b}'), "piped output is plain");
    let e = rig
        .hub
        .cli(&["task", "diff", t1, "--file", "README.md"])
        .await
        .fails(2);
    assert!(e.contains("README.md is not changed"), "{e}");

    // Merge: main gets the commit; the worktree and branch are gone.
    let w1 = rig.workspace(t1).await;
    let b1 = text(&w1["branch"]);
    let m = rig.hub.cli(&["task", "merge", t1, "--json"]).await.json();
    assert_eq!(m["into"], "main");
    assert_eq!(m["removed"], true);
    assert_eq!(git::branch_head(&repo, "main"), Some(text(&m["commit"])));
    assert!(git::log(&repo, "main").contains(&"add one".to_string()));
    assert_eq!(
        git::show(&repo, "main", "src/one.rs").as_deref(),
        Some("pub fn one() {}\n")
    );
    assert!(git::is_clean(&repo), "the main checkout follows the merge");
    assert_eq!(git::branch_head(&repo, &b1), None);
    assert!(!path_of(&w1).exists());
    let v1 = rig.view(t1).await;
    assert_eq!(v1["workspace"]["review"], "merged");
    assert_eq!(v1["workspace"]["merged_into"], "main");
    assert_eq!(v1["workspace"]["removed"], true);
    let merged = events_of(&v1, "workspace_merged");
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0]["details"]["into"], "main");
    let again = rig.hub.cli(&["task", "merge", t1]).await.fails(2);
    assert!(again.contains("already merged into main"), "{again}");

    // Keep: the branch and worktree stay, marked kept.
    let w2 = rig.workspace(t2).await;
    let k = rig.hub.cli(&["task", "keep", t2, "--json"]).await.json();
    assert_eq!(k["review"], "kept");
    assert!(git::branch_head(&repo, &text(&w2["branch"])).is_some());
    assert!(path_of(&w2).exists());
    assert_eq!(events_of(&rig.view(t2).await, "workspace_kept").len(), 1);

    // Discard: worktree and branch gone, main unchanged.
    let main_now = git::head(&repo);
    let w3 = rig.workspace(t3).await;
    let x = rig.hub.cli(&["task", "discard", t3, "--json"]).await.json();
    assert_eq!(x["review"], "discarded");
    assert_eq!(x["removed"], true);
    assert_eq!(git::branch_head(&repo, &text(&w3["branch"])), None);
    assert!(!path_of(&w3).exists());
    assert_eq!(git::head(&repo), main_now);
    let v3 = rig.view(t3).await;
    assert_eq!(events_of(&v3, "workspace_discarded").len(), 1);
    // A discarded branch cannot be merged.
    rig.hub.cli(&["task", "merge", t3]).await.fails(2);
    // A merged or discarded workspace is listed only with --all.
    let list = rig.hub.cli(&["workspace", "list", "--json"]).await.json();
    let listed: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| text(&w["ref"]))
        .collect();
    assert_eq!(listed, vec![t2.clone()]);
    let all = rig
        .hub
        .cli(&["workspace", "list", "--all", "--json"])
        .await
        .json();
    assert_eq!(all.as_array().map(Vec::len), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_merge_changes_nothing() {
    let Some(rig) = Rig::start(&["app"]).await else {
        return;
    };
    let repo = rig.repo("app");
    let t1 = rig
        .create(
            "Edit readme",
            "app",
            &["edit README.md from the worker", "commit worker readme"],
            &[],
        )
        .await;
    rig.assign(&t1).await;
    let w = rig.done_with_workspace(&t1, "app").await["workspace"].clone();
    git::commit_file(&repo, "README.md", "# app\nfrom main\n", "main readme");
    let main_before = git::head(&repo);
    let wt_before = git::head(&path_of(&w));

    let out = rig.hub.cli(&["task", "merge", &t1]).await;
    let e = out.fails(2);
    assert!(e.contains("conflicts in README.md"), "{e}");
    assert!(e.contains("nothing was changed"), "{e}");
    assert_eq!(git::head(&repo), main_before);
    assert!(git::is_clean(&repo));
    assert_eq!(git::head(&path_of(&w)), wt_before);
    assert!(git::is_clean(&path_of(&w)));
    let v = rig.view(&t1).await;
    assert_eq!(v["workspace"]["review"], "unreviewed");
    assert!(events_of(&v, "workspace_merged").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_merged_waits_for_the_merge_not_the_completion() {
    let Some(rig) = Rig::start(&["app"]).await else {
        return;
    };
    let repo = rig.repo("app");
    let file = rig.hub.dir.path().join("pipeline.yaml");
    std::fs::write(
        &file,
        "project: P
tasks:
  - name: one
    title: First change
    repo: app
    spec: |
      worker: edit one.txt one
      worker: commit one
  - name: two
    title: Second change
    repo: app
    spec: |
      worker: edit two.txt two
      worker: commit two
    depends_on:
      - { task: one, after: merged }
",
    )
    .expect("write pipeline");
    rig.hub
        .cli(&["pipeline", "apply", &file.to_string_lossy()])
        .await
        .ok();
    rig.assign("T1").await;
    rig.done_with_workspace("T1", "app").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let v2 = rig.view("T2").await;
    assert_eq!(v2["status"], "pending", "T2 waits for the merge: {v2}");
    assert!(v2["workspace"].is_null());

    rig.hub.cli(&["task", "merge", "T1"]).await.ok();
    let w2 = rig.done_with_workspace("T2", "app").await["workspace"].clone();
    // T2 started from main after the merge: it has T1's commit.
    assert_eq!(w2["base"], "main");
    let log = git::log(&repo, &text(&w2["branch"]));
    assert_eq!(log.first().map(String::as_str), Some("two"), "{log:?}");
    assert!(log.contains(&"one".to_string()), "{log:?}");
    assert_eq!(
        git::show(&repo, &text(&w2["branch"]), "one.txt").as_deref(),
        Some("one\n")
    );
}

/// The merge deletes T1's branch: T2 (`base: upstream`, `after: merged`) starts from the
/// branch T1 was merged into, which holds T1's commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_based_on_a_merged_upstream_starts_where_it_was_merged() {
    let Some(rig) = Rig::start(&["app"]).await else {
        return;
    };
    let repo = rig.repo("app");
    let file = rig.hub.dir.path().join("pipeline.yaml");
    std::fs::write(
        &file,
        "project: P
tasks:
  - name: one
    title: First change
    repo: app
    spec: |
      worker: edit one.txt one
      worker: commit one
  - name: two
    title: Second change
    repo: app
    base: upstream
    spec: |
      worker: edit two.txt two
      worker: commit two
    depends_on:
      - { task: one, after: merged }
",
    )
    .expect("write pipeline");
    rig.hub
        .cli(&["pipeline", "apply", &file.to_string_lossy()])
        .await
        .ok();
    rig.assign("T1").await;
    let b1 = text(&rig.done_with_workspace("T1", "app").await["workspace"]["branch"]);
    rig.hub.cli(&["task", "merge", "T1"]).await.ok();
    assert!(
        !git::branches(&repo).contains(&b1),
        "the merge deletes {b1}"
    );

    let w2 = rig.done_with_workspace("T2", "app").await["workspace"].clone();
    assert_eq!(w2["base"], "main", "{w2}");
    let log = git::log(&repo, &text(&w2["branch"]));
    assert_eq!(log.first().map(String::as_str), Some("two"), "{log:?}");
    assert!(log.contains(&"one".to_string()), "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_never_removes_unmerged_work() {
    let Some(rig) = Rig::start(&["app"]).await else {
        return;
    };
    // T1: committed work, unreviewed. T2: no commits but an uncommitted file. T3: nothing.
    let t1 = rig
        .create("Work", "app", &["edit w.txt work", "commit work"], &[])
        .await;
    let t2 = rig.create("Scratch", "app", &["say nothing"], &[]).await;
    let t3 = rig.create("Empty", "app", &["say nothing"], &[]).await;
    for r in [&t1, &t2, &t3] {
        rig.assign(r).await;
    }
    let mut paths = Vec::new();
    for r in [&t1, &t2, &t3] {
        paths.push(path_of(
            &rig.done_with_workspace(r, "app").await["workspace"],
        ));
    }
    std::fs::write(paths[1].join("notes.txt"), "not committed\n").expect("write");

    let action = |items: &Value, r: &str| -> (String, String) {
        let item = items
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["ref"] == r)
            .cloned()
            .unwrap_or_default();
        (text(&item["action"]), text(&item["why"]))
    };
    let dry = rig
        .hub
        .cli(&["workspace", "prune", "--dry-run", "--json"])
        .await
        .json();
    assert_eq!(action(&dry, &t3).0, "would_remove", "{dry}");
    assert_eq!(action(&dry, &t1).0, "kept", "{dry}");
    assert_eq!(action(&dry, &t2).0, "kept", "{dry}");
    assert!(
        paths.iter().all(|p| p.exists()),
        "a dry run removes nothing"
    );

    let done = rig.hub.cli(&["workspace", "prune", "--json"]).await.json();
    let (a1, why1) = action(&done, &t1);
    assert_eq!(a1, "kept");
    assert!(why1.contains("not merged"), "{why1}");
    let (a2, why2) = action(&done, &t2);
    assert_eq!(a2, "kept");
    assert!(why2.contains("uncommitted changes: notes.txt"), "{why2}");
    assert_eq!(action(&done, &t3).0, "removed", "{done}");
    assert!(paths[0].exists() && paths[1].exists());
    assert!(!paths[2].exists());
    let v3 = rig.view(&t3).await;
    assert_eq!(v3["workspace"]["removed"], true);
    assert_eq!(events_of(&v3, "workspace_pruned").len(), 1);
    assert_eq!(
        std::fs::read_to_string(paths[1].join("notes.txt")).ok(),
        Some("not committed\n".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_daemon_finds_its_worktrees() {
    let Some(mut rig) = Rig::start(&["app"]).await else {
        return;
    };
    let t1 = rig
        .create("Work", "app", &["edit w.txt work", "commit work"], &[])
        .await;
    rig.assign(&t1).await;
    let w = rig.done_with_workspace(&t1, "app").await["workspace"].clone();

    rig.daemon.kill9().await;
    rig.daemon.spawn();
    rig.online().await;
    let d = eventually(30, "the diff after the restart", || async {
        let out = rig.hub.cli(&["task", "diff", &t1, "--json"]).await;
        (out.code == 0).then(|| out.json())
    })
    .await;
    assert!(text(&d["diff"]).contains("+work"), "{d}");
    let list = rig.hub.cli(&["workspace", "list", "--json"]).await.json();
    let listed = list.as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 1, "{list}");
    assert_eq!(listed[0]["path"], w["path"]);
    assert_eq!(listed[0]["branch"], w["branch"]);
    let fresh = rig
        .hub
        .cli(&["task", "workspace", &t1, "--json"])
        .await
        .json();
    assert_eq!(fresh["head"], w["head"]);
    assert!(path_of(&w).exists());
}
