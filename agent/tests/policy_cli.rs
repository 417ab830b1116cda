//! The CLI of permission rules against a real hub (docs/CLI.md, "Permission rules",
//! "Pipelines"): rules added, listed, tested and removed; bad rules, bad expiries and unknown
//! ids refused with one line and exit 2, changing nothing; a pipeline's rules checked before
//! anything is created and not duplicated when it is applied again.

use orchestratia_testkit::TestHub;
use serde_json::{Value, json};

/// The rules the hub holds (expired ones too), as JSON.
async fn rules(hub: &TestHub) -> Vec<Value> {
    hub.cli(&["policy", "list", "--all", "--json"])
        .await
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn help_names_the_new_commands_and_flags() {
    let dir = tempfile::tempdir().expect("dir");
    let run = |args: &'static [&'static str]| {
        let home = dir.path().to_path_buf();
        async move {
            orchestratia_testkit::run_cli("http://127.0.0.1:1", "orcadm_x", &home, &[], args).await
        }
    };
    let top = run(&["--help"]).await.ok().to_string();
    assert!(top.contains("policy") && top.contains("inbox"), "{top}");
    let policy = run(&["policy", "--help"]).await.ok().to_string();
    for c in ["list", "add", "remove", "test"] {
        assert!(policy.contains(c), "policy {c} missing: {policy}");
    }
    let allow = run(&["permission", "allow", "--help"])
        .await
        .ok()
        .to_string();
    assert!(
        allow.contains("--always") && allow.contains("--session") && allow.contains("--pattern"),
        "{allow}"
    );
    let budget = run(&["project", "budget", "--help"]).await.ok().to_string();
    assert!(
        budget.contains("--budget-usd") && budget.contains("--clear"),
        "{budget}"
    );
}

#[tokio::test]
async fn rules_are_added_listed_and_removed() {
    let Some(hub) = TestHub::with_project("demo").await else {
        return;
    };
    let r = hub
        .cli(&[
            "policy",
            "add",
            "--tool",
            "Bash",
            "--pattern",
            "cargo test *",
            "--project",
            "demo",
            "--note",
            "tests are safe",
            "--json",
        ])
        .await
        .json();
    assert_eq!(r["tool"], "Bash");
    assert_eq!(r["pattern"], "cargo test *");
    assert_eq!(r["effect"], "allow");
    assert_eq!(r["scope"], "project");
    assert_eq!(r["note"], "tests are safe");
    let id = r["id"].as_str().unwrap_or_default().to_string();
    let deny = hub
        .cli(&[
            "policy",
            "add",
            "--tool",
            "Bash",
            "--pattern",
            "rm *",
            "--deny",
            "--expires",
            "2h",
            "--json",
        ])
        .await
        .json();
    assert_eq!(deny["effect"], "deny");
    assert!(deny["expires_at"].is_string(), "{deny}");

    let text = hub.cli(&["policy", "list"]).await.ok().to_string();
    assert!(
        text.contains(&id[..8]) && text.contains("cargo test *"),
        "{text}"
    );
    assert!(text.contains("project demo"), "{text}");
    assert_eq!(rules(&hub).await.len(), 2);

    let out = hub
        .cli(&["policy", "remove", &id[..8]])
        .await
        .ok()
        .to_string();
    assert!(
        out.contains("removed rule") && out.contains("cargo test *"),
        "{out}"
    );
    assert_eq!(rules(&hub).await.len(), 1);
    // Removing it again: unknown id, exit 2.
    hub.cli(&["policy", "remove", &id]).await.fails(2);
    hub.cli(&["policy", "remove", "ffffffff"]).await.fails(2);
    assert_eq!(rules(&hub).await.len(), 1);
}

#[tokio::test]
async fn bad_expiries_scopes_inputs_and_ids_are_refused_and_change_nothing() {
    let Some(hub) = TestHub::with_project("demo").await else {
        return;
    };
    let add = |tool: &'static str, pattern: &'static str, more: &'static [&'static str]| {
        let hub = &hub;
        async move {
            let mut args = vec!["policy", "add", "--tool", tool, "--pattern", pattern];
            args.extend_from_slice(more);
            hub.cli(&args).await
        }
    };
    let e = add("Bash", "ls", &["--expires", "2001-01-01T00:00:00Z"])
        .await
        .fails(2);
    assert!(e.contains("not in the future"), "{e}");
    let e = add("Bash", "ls", &["--expires", "soon"]).await.fails(2);
    assert!(e.contains("invalid expiry 'soon'"), "{e}");
    let e = add("Bash", "ls", &["--task", "T99", "--project", "demo"])
        .await
        .fails(2);
    assert!(e.contains("T99"), "{e}");
    // Two scopes at once: clap's usage error.
    assert_eq!(
        add("Bash", "ls", &["--global", "--project", "demo"])
            .await
            .code,
        2
    );
    assert!(rules(&hub).await.is_empty(), "a refused rule was saved");

    // policy test: a tool whose input must be JSON.
    let e = hub
        .cli(&[
            "policy",
            "test",
            "--tool",
            "mcp__db__query",
            "--input",
            "select 1",
        ])
        .await
        .fails(2);
    assert!(e.contains("JSON"), "{e}");
}

#[tokio::test]
async fn a_pipelines_rules_are_checked_first_and_applied_once() {
    let Some(hub) = TestHub::with_project("demo").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "project: demo\ntasks:\n  - name: build\n    title: Build\nrules:\n  - { tool: Bash, pattern: \"cargo test *\" }\n  - { tool: Edit, pattern: \"src/**\", task: ghost }\n",
    )
    .expect("write");
    let e = hub
        .cli(&["pipeline", "apply", bad.to_str().unwrap_or_default()])
        .await
        .fails(2);
    assert!(e.contains("bad.yaml:7") && e.contains("'ghost'"), "{e}");
    assert!(
        hub.cli(&["task", "list", "--json"]).await.json() == json!([]),
        "a refused pipeline created tasks"
    );
    assert!(rules(&hub).await.is_empty());

    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "project: demo\ntasks:\n  - name: build\n    title: Build\nrules:\n  - { tool: Bash, pattern: \"cargo test *\" }\n  - { tool: Edit, pattern: \"src/**\", task: build, note: only here }\n  - { tool: Bash, pattern: \"git push *\", effect: deny }\n",
    )
    .expect("write");
    let v = hub
        .cli(&[
            "pipeline",
            "apply",
            good.to_str().unwrap_or_default(),
            "--json",
        ])
        .await
        .json();
    let made = v["rules"].as_array().cloned().unwrap_or_default();
    assert_eq!(made.len(), 3, "{v}");
    assert!(made.iter().all(|r| r["created"] == true), "{v}");
    assert_eq!(made[1]["scope"], "task");
    assert_eq!(made[1]["task"], "T1");
    assert_eq!(made[2]["effect"], "deny");
    let v = hub
        .cli(&[
            "pipeline",
            "apply",
            good.to_str().unwrap_or_default(),
            "--json",
        ])
        .await
        .json();
    assert!(
        v["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|r| r["created"] == false),
        "{v}"
    );
    assert_eq!(
        rules(&hub).await.len(),
        3,
        "applying again duplicated a rule"
    );
}

#[tokio::test]
async fn policy_test_names_the_deciding_rule_per_part() {
    let Some(hub) = TestHub::with_project("demo").await else {
        return;
    };
    let r = hub
        .cli(&[
            "policy",
            "add",
            "--tool",
            "Bash",
            "--pattern",
            "cargo test *",
            "--json",
        ])
        .await
        .json();
    let id = r["id"].as_str().unwrap_or_default().to_string();
    hub.cli(&[
        "policy",
        "add",
        "--tool",
        "Bash",
        "--pattern",
        "rm *",
        "--deny",
    ])
    .await
    .ok();
    let v = hub
        .cli(&[
            "policy",
            "test",
            "--tool",
            "Bash",
            "--input",
            "cargo test -p x",
            "--project",
            "demo",
            "--json",
        ])
        .await
        .json();
    assert_eq!(v["effect"], "allow", "{v}");
    assert_eq!(v["rule"]["id"], id.as_str());
    let v = hub
        .cli(&[
            "policy",
            "test",
            "--tool",
            "Bash",
            "--input",
            "cargo test -p x && rm -rf build",
            "--project",
            "demo",
            "--json",
        ])
        .await
        .json();
    assert_eq!(v["effect"], "deny", "{v}");
    assert_eq!(v["parts"].as_array().map(Vec::len), Some(2), "{v}");
    let text = hub
        .cli(&[
            "policy",
            "test",
            "--tool",
            "Bash",
            "--input",
            "cargo build",
            "--project",
            "demo",
        ])
        .await
        .ok()
        .to_string();
    assert!(text.contains("no rule matches"), "{text}");
}

#[tokio::test]
async fn bad_patterns_and_tools_are_refused_and_change_nothing() {
    let Some(hub) = TestHub::with_project("demo").await else {
        return;
    };
    let add = |tool: &'static str, pattern: &'static str, more: &'static [&'static str]| {
        let hub = &hub;
        async move {
            let mut args = vec!["policy", "add", "--tool", tool, "--pattern", pattern];
            args.extend_from_slice(more);
            hub.cli(&args).await
        }
    };
    let e = add("Bash", "", &[]).await.fails(2);
    assert!(e.contains("empty"), "{e}");
    let e = add("Bsh", "ls", &[]).await.fails(2);
    assert!(e.contains("unknown tool 'Bsh'"), "{e}");
    let e = add("Bash", "*", &[]).await.fails(2);
    assert!(e.contains("--force"), "{e}");
    assert!(rules(&hub).await.is_empty(), "a refused rule was saved");

    // `*` alone is accepted when meant.
    let r = add("Bash", "*", &["--force", "--global", "--json"])
        .await
        .json();
    assert_eq!(r["scope"], "global");
    assert_eq!(rules(&hub).await.len(), 1);

    let dir = tempfile::tempdir().expect("dir");
    let unknown_tool = dir.path().join("tool.yaml");
    std::fs::write(
        &unknown_tool,
        "project: demo\ntasks:\n  - name: build\n    title: Build\nrules:\n  - { tool: Bsh, pattern: ls }\n",
    )
    .expect("write");
    let e = hub
        .cli(&[
            "pipeline",
            "apply",
            unknown_tool.to_str().unwrap_or_default(),
        ])
        .await
        .fails(2);
    assert!(
        e.contains("tool.yaml:6") && e.contains("unknown tool 'Bsh'"),
        "{e}"
    );
    assert_eq!(
        rules(&hub).await.len(),
        1,
        "a refused pipeline added a rule"
    );
    assert_eq!(hub.cli(&["task", "list", "--json"]).await.json(), json!([]));
}
