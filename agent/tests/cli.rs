//! The CLI on its own: help, usage errors, an unreachable hub, and pipeline files refused
//! before anything is sent.

use orchestratia_testkit::run_cli;

async fn run(args: &[&str]) -> orchestratia_testkit::CliOutput {
    let dir = tempfile::tempdir().expect("dir");
    // Port 1 on loopback: nothing listens there.
    run_cli("http://127.0.0.1:1", "orcadm_x", dir.path(), &[], args).await
}

#[tokio::test]
async fn help_lists_the_commands() {
    let out = run(&["--help"]).await;
    let text = out.ok();
    for c in [
        "project",
        "server",
        "task",
        "session",
        "pipeline",
        "intervention",
        "plan",
        "permission",
    ] {
        assert!(text.contains(c), "{c} missing from --help");
    }
    let out = run(&["task", "--help"]).await;
    for c in [
        "create", "deps", "assign", "wait", "explain", "graph", "complete", "help", "plan", "note",
    ] {
        assert!(out.ok().contains(c), "task {c} missing from task --help");
    }
}

#[tokio::test]
async fn task_assign_names_the_server_with_server_or_its_alias_session() {
    let help = run(&["task", "assign", "--help"]).await;
    let text = help.ok();
    assert!(text.contains("--server <SERVER>"), "{text}");
    assert!(text.contains("--session"), "{text}");
    // Both spellings parse (the unreachable hub is the next thing to fail); neither is usage.
    for flag in ["--server", "--session"] {
        let out = run(&["task", "assign", "T1", flag, "dev-01"]).await;
        assert!(
            out.fails(1).contains("cannot reach the hub"),
            "{flag} was not accepted"
        );
    }
    let out = run(&["task", "assign", "T1"]).await;
    assert_eq!(out.code, 2, "the server is required");
    assert!(out.stderr.contains("--server"), "{}", out.stderr);
}

#[tokio::test]
async fn usage_errors_exit_2() {
    assert_eq!(run(&["task", "create"]).await.code, 2, "missing --title");
    assert_eq!(run(&["task", "frobnicate"]).await.code, 2);
    let out = run(&["task", "complete", "--summary", "x"]).await;
    assert!(out.fails(2).contains("ORCHESTRATIA_TASK_ID"));
    let out = run(&[
        "task",
        "complete",
        "--id",
        "T1",
        "--summary",
        "x",
        "--contract",
        "nokey",
    ])
    .await;
    assert!(out.fails(2).contains("KEY=@FILE or KEY=JSON"));
    let out = run(&["task", "view", "not a ref"]).await;
    assert!(out.fails(2).contains("invalid task reference"));
    let out = run(&["session", "export", "orc-abc123", "--cols", "0"]).await;
    assert!(
        out.fails(2)
            .contains("--cols and --rows must be at least 1")
    );
}

#[tokio::test]
async fn an_unreachable_hub_is_one_line_and_exit_1() {
    let out = run(&["task", "list"]).await;
    let msg = out.fails(1);
    assert!(
        msg.contains("cannot reach the hub at http://127.0.0.1:1"),
        "{msg}"
    );
}

#[tokio::test]
async fn pipeline_files_are_refused_whole_with_the_line() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "project: P\ntasks:\n  - name: a\n    title: A\n  - name: b\n    title: B\n    depends_on: [a, ghost]\n",
    )
    .expect("write");
    let out = run(&["pipeline", "apply", bad.to_str().unwrap_or_default()]).await;
    let msg = out.fails(2);
    assert!(
        msg.contains("bad.yaml:7") && msg.contains("unknown task 'ghost'"),
        "{msg}"
    );
    let cyc = dir.path().join("cycle.yaml");
    std::fs::write(
        &cyc,
        "project: P\ntasks:\n  - name: a\n    title: A\n    depends_on: [b]\n  - name: b\n    title: B\n    depends_on: [a]\n",
    )
    .expect("write");
    let msg = run(&["pipeline", "apply", cyc.to_str().unwrap_or_default()])
        .await
        .fails(2);
    assert!(
        msg.contains("cycle") && msg.contains("cycle.yaml:3"),
        "{msg}"
    );
    let syntax = dir.path().join("syntax.yaml");
    std::fs::write(&syntax, "tasks:\n  - name: a\n    title: [unclosed\n").expect("write");
    let msg = run(&["pipeline", "apply", syntax.to_str().unwrap_or_default()])
        .await
        .fails(2);
    assert!(msg.contains("syntax.yaml") && msg.contains("line"), "{msg}");
}

#[tokio::test]
async fn workspace_commands_are_listed_and_parse() {
    let out = run(&["task", "--help"]).await;
    for c in ["diff", "merge", "keep", "discard", "review", "workspace"] {
        assert!(out.ok().contains(c), "task {c} missing from task --help");
    }
    let out = run(&["workspace", "--help"]).await;
    assert!(out.ok().contains("list") && out.ok().contains("prune"));
    let out = run(&["task", "create", "--help"]).await;
    for f in [
        "--base <BRANCH_OR_COMMIT>",
        "--base-from <TASK>",
        "--branch <NAME>",
    ] {
        assert!(out.ok().contains(f), "{f} missing from task create --help");
    }
    // Well-formed: the unreachable hub is the next thing to fail, never usage.
    for args in [
        &["task", "diff", "T7", "--stat"][..],
        &["task", "diff", "T7", "--file", "src/a.rs"],
        &["task", "merge", "T7", "--into", "main", "--squash"],
        &["task", "keep", "T7"],
        &["task", "discard", "T7"],
        &["task", "workspace", "T7"],
        &[
            "task",
            "review",
            "T7",
            "--comment",
            "src/a:b.rs:12",
            "use a constant",
        ],
        &["workspace", "list", "--server", "dev-01", "--all"],
        &["workspace", "prune", "--dry-run", "--server", "dev-01"],
        &[
            "task",
            "deps",
            "add",
            "T2",
            "--depends-on",
            "T1",
            "--after",
            "merged",
        ],
        &[
            "task", "create", "--title", "x", "--base", "upstream", "--branch", "feat/x",
        ],
    ] {
        let out = run(args).await;
        assert!(
            out.fails(1).contains("cannot reach the hub"),
            "{args:?} was not accepted"
        );
    }
}

#[tokio::test]
async fn bad_review_comments_and_workspace_flags_exit_2_before_the_hub() {
    for (loc, says) in [
        ("src/a.rs", "--comment wants FILE:LINE"),
        ("src/a.rs:0", "not a positive integer"),
        ("src/a.rs:twelve", "not a positive integer"),
        (":12", "the file is missing"),
    ] {
        let out = run(&["task", "review", "T7", "--comment", loc, "text"]).await;
        let msg = out.fails(2);
        assert!(msg.contains(says), "{loc}: {msg}");
    }
    let out = run(&["task", "review", "T7", "--comment", "a.rs:3", "  "]).await;
    assert!(out.fails(2).contains("the comment is empty"));
    let out = run(&["task", "review", "T7", "a comment"]).await;
    assert_eq!(out.code, 2, "the location is required");
    assert!(out.stderr.contains("--comment"), "{}", out.stderr);
    let out = run(&[
        "task",
        "deps",
        "add",
        "T2",
        "--depends-on",
        "T1",
        "--after",
        "later",
    ])
    .await;
    assert!(out.fails(2).contains("later"));
    let out = run(&[
        "task",
        "deps",
        "add",
        "T2",
        "--depends-on",
        "T1",
        "--type",
        "input",
        "--contract-key",
        "k",
        "--after",
        "merged",
    ])
    .await;
    assert!(
        out.fails(2)
            .contains("--after merged is for a `blocks` dependency")
    );
    let out = run(&[
        "task",
        "create",
        "--title",
        "x",
        "--base",
        "main",
        "--base-from",
        "T1",
    ])
    .await;
    assert_eq!(out.code, 2, "--base and --base-from exclude each other");
}

#[tokio::test]
async fn a_pipeline_after_that_is_not_done_or_merged_names_the_line() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("after.yaml");
    std::fs::write(
        &bad,
        "project: P\ntasks:\n  - name: a\n    title: A\n    branch: feat/a\n  - name: b\n    title: B\n    base: upstream\n    depends_on:\n      - { task: a, after: someday }\n",
    )
    .expect("write");
    let msg = run(&["pipeline", "apply", bad.to_str().unwrap_or_default()])
        .await
        .fails(2);
    assert!(
        msg.contains("after.yaml:10") && msg.contains("'someday' is neither done nor merged"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_pipeline_base_upstream_without_a_dependency_names_the_line() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("base.yaml");
    std::fs::write(
        &bad,
        "project: P\ntasks:\n  - name: a\n    title: A\n  - name: b\n    title: B\n    base: upstream\n",
    )
    .expect("write");
    let msg = run(&["pipeline", "apply", bad.to_str().unwrap_or_default()])
        .await
        .fails(2);
    assert!(
        msg.contains("base.yaml:7") && msg.contains("base: upstream needs a dependency"),
        "{msg}"
    );
}
