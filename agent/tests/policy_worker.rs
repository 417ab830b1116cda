//! Permission rules with a real daemon and a scripted worker in tmux: the worker asks, through
//! `orchestratia hook claude-code` as Claude Code would, to run `cargo test -p x` (a project
//! rule allows it: no human is asked, the timeline names the rule) and then `rm -rf build`
//! (no rule: it waits for the admin, who allows it once); the task then completes.

use orchestratia_proto::api::NewRule;
use orchestratia_proto::policy::RuleEffect;
use orchestratia_proto::{PermissionRequest, PermissionStatus};
use orchestratia_testkit::agent::tmux_available;
use orchestratia_testkit::{Backend, DaemonOptions, TestDaemon, TestHub, eventually, wait_online};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_lets_the_worker_run_without_a_human() {
    if !tmux_available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let Some(hub) = TestHub::start(Backend::Sqlite).await else {
        return;
    };
    let admin = hub.admin();
    hub.cli(&["project", "create", "P"]).await.ok();
    let d = TestDaemon::start(
        &hub,
        DaemonOptions {
            repos: &["app"],
            ..Default::default()
        },
    )
    .await;
    wait_online(&hub.admin(), "dev-01").await;
    let rule = admin
        .add_rule(&NewRule {
            scope: None,
            project: Some("P".into()),
            task: None,
            session: None,
            tool: "Bash".into(),
            pattern: "cargo test *".into(),
            effect: RuleEffect::Allow,
            expires_at: None,
            note: Some("tests are always fine".into()),
            force: false,
        })
        .await
        .expect("rule");
    hub.cli(&[
        "task",
        "create",
        "--title",
        "Test and clean",
        "--repo",
        "app",
        "--spec",
        "worker: permission cargo test -p x\nworker: permission rm -rf build",
    ])
    .await;
    hub.cli(&["task", "assign", "T1", "--session", "dev-01"])
        .await;

    // The worker reaches `rm -rf build`: the one request a human must decide.
    let all = |admin: &orchestratia_proto::client::HubClient| {
        let admin = admin.clone();
        async move { admin.permissions(None).await.unwrap_or_default() }
    };
    let asked: Vec<PermissionRequest> =
        eventually(60, "rm -rf build waits for a human", || async {
            let all = all(&admin).await;
            all.iter()
                .any(|p| p.status == PermissionStatus::Pending && p.input_text() == "rm -rf build")
                .then_some(all)
        })
        .await;
    let tests = asked
        .iter()
        .find(|p| p.input_text() == "cargo test -p x")
        .unwrap_or_else(|| panic!("cargo test was asked: {asked:?}\n{}", d.log()));
    assert_eq!(tests.status, PermissionStatus::Allowed);
    assert_eq!(tests.rule_id, Some(rule.id));
    assert_eq!(tests.decided_by.as_deref(), Some("policy"));
    assert_eq!(asked.len(), 2, "{asked:?}");
    let view = hub.cli(&["task", "view", "T1", "--json"]).await.json();
    let decided: Vec<&serde_json::Value> = view["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["event"] == "permission_decided")
        .collect();
    assert_eq!(decided.len(), 1, "{decided:?}");
    assert_eq!(decided[0]["details"]["auto"], true);
    assert_eq!(decided[0]["details"]["rule"]["pattern"], "cargo test *");

    // The admin allows the rest once; the worker finishes.
    let out = hub.cli(&["permission", "allow", "T1"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let done = hub
        .cli(&["task", "wait", "T1", "--timeout", "60s", "--json"])
        .await;
    assert_eq!(done.code, 0, "{}\n{}", done.stderr, d.log());
    let t = hub.cli(&["task", "view", "T1", "--json"]).await.json();
    assert_eq!(t["status"], "done", "{t}");
}
