//! The CLI of permission rules, the inbox and budgets against a real hub (docs/CLI.md,
//! "Permission rules", "The inbox", "Projects"): rules added, listed, tested and removed;
//! bad rules, bad expiries, bad budgets and unknown ids refused with one line and exit 2,
//! changing nothing; the ranked inbox as JSON; a pipeline's rules checked before anything is
//! created and not duplicated when it is applied again.

use orchestratia_proto::TaskStatus;
use orchestratia_proto::api::{CreateTask, RequestPermission};
use orchestratia_proto::client::HubClient;
use orchestratia_proto::ws::SessionStart;
use orchestratia_testkit::{Backend, SimDaemon, TestHub};
use serde_json::{Value, json};

async fn hub_with_project() -> Option<TestHub> {
    let hub = TestHub::start(Backend::Sqlite).await?;
    hub.cli(&["project", "create", "demo"]).await.ok();
    Some(hub)
}

/// The rules the hub holds (expired ones too), as JSON.
async fn rules(hub: &TestHub) -> Vec<Value> {
    hub.cli(&["policy", "list", "--all", "--json"])
        .await
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Creates a task in `demo`, assigns it to the daemon, and waits until its session is active.
async fn started(admin: &HubClient, d: &SimDaemon, title: &str) -> SessionStart {
    let t = admin
        .create_task(&CreateTask {
            title: title.into(),
            project: Some("demo".into()),
            repo: Some("app".into()),
            ..Default::default()
        })
        .await
        .expect("create task");
    admin
        .assign(&t.id.to_string(), &d.name)
        .await
        .expect("assign");
    let start = d.wait_start(10, t.id).await;
    for _ in 0..100 {
        let v = admin.task(&t.id.to_string()).await.expect("view task");
        if v.task.status != TaskStatus::Assigned {
            return start;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{title} stayed assigned: its session never became active");
}

#[tokio::test]
async fn rules_are_added_listed_tested_and_removed() {
    let Some(hub) = hub_with_project().await else {
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
async fn bad_rules_are_refused_with_one_line_and_change_nothing() {
    let Some(hub) = hub_with_project().await else {
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

    // `*` alone is accepted when meant.
    let r = add("Bash", "*", &["--force", "--global", "--json"])
        .await
        .json();
    assert_eq!(r["scope"], "global");
    assert_eq!(rules(&hub).await.len(), 1);

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
async fn the_inbox_is_ranked_json_and_a_table() {
    let Some(hub) = hub_with_project().await else {
        return;
    };
    let admin = hub.admin();
    let d = SimDaemon::start(&admin, "demo", "dev-01", "linux", &["app"], &[]).await;
    let empty = hub.cli(&["inbox", "--json"]).await.json();
    assert_eq!(empty, json!({"items": []}));
    assert!(hub.cli(&["inbox"]).await.ok().contains("nothing waits"));

    let s1 = started(&admin, &d, "auth").await;
    let t1 = s1.task.as_ref().expect("task").id.to_string();
    hub.client(Some(&s1.token))
        .ask_help(&t1, "JWT or cookies?")
        .await
        .expect("ask");
    let s2 = started(&admin, &d, "deploy").await;
    let p = hub
        .client(Some(&s2.token))
        .request_permission(&RequestPermission {
            task: None,
            tool_name: "Bash".into(),
            tool_input: json!({"command": "cargo build --release"}),
        })
        .await
        .expect("permission request");
    // Two tasks wait on the deploy task: its request ranks first though it is newer.
    for title in ["smoke", "announce"] {
        hub.cli(&[
            "task",
            "create",
            "--title",
            title,
            "--project",
            "demo",
            "--depends-on",
            &s2.task.as_ref().expect("task").id.to_string(),
        ])
        .await
        .ok();
    }

    let v = hub.cli(&["inbox", "--json"]).await.json();
    let items = v["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{v}");
    assert_eq!(items[0]["kind"], "permission");
    assert_eq!(items[0]["id"], p.id.to_string());
    assert_eq!(items[0]["blocks"], 2);
    assert_eq!(items[0]["why"], "holds up 2 tasks downstream");
    assert_eq!(items[0]["tool_input"]["command"], "cargo build --release");
    assert_eq!(items[1]["kind"], "question");
    assert_eq!(items[1]["question"], "JWT or cookies?");
    assert_eq!(items[1]["blocks"], 0);

    let text = hub.cli(&["inbox"]).await.ok().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("BLOCKS") && lines[0].contains("WHY"),
        "{text}"
    );
    assert!(
        lines[1].starts_with('1') && lines[1].contains("cargo build --release"),
        "{text}"
    );
    assert!(lines[2].contains("JWT or cookies?"), "{text}");

    // The request's row names what `allow --always` would make; a pattern needs a scope.
    let text = hub.cli(&["permission", "list"]).await.ok().to_string();
    assert!(text.contains("RULE") && text.contains("suggest:"), "{text}");
    let e = hub
        .cli(&[
            "permission",
            "allow",
            &p.id.to_string(),
            "--pattern",
            "cargo *",
        ])
        .await
        .fails(2);
    assert!(e.contains("--always"), "{e}");
    let e = hub
        .cli(&[
            "permission",
            "deny",
            &p.id.to_string(),
            "--pattern",
            "cargo *",
        ])
        .await
        .fails(2);
    assert!(e.contains("--rule"), "{e}");
    assert_eq!(
        hub.cli(&["inbox", "--json"]).await.json()["items"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn allow_always_makes_a_rule_and_says_so() {
    let Some(hub) = hub_with_project().await else {
        return;
    };
    let admin = hub.admin();
    let d = SimDaemon::start(&admin, "demo", "dev-01", "linux", &["app"], &[]).await;
    let s = started(&admin, &d, "build").await;
    let p = hub
        .client(Some(&s.token))
        .request_permission(&RequestPermission {
            task: None,
            tool_name: "Bash".into(),
            tool_input: json!({"command": "cargo build --release"}),
        })
        .await
        .expect("permission request");
    let out = hub
        .cli(&["permission", "allow", &p.id.to_string(), "--always"])
        .await
        .ok()
        .to_string();
    assert!(out.contains("allowed Bash"), "{out}");
    assert!(out.contains("\"cargo build --release\""), "{out}");
    let rs = rules(&hub).await;
    assert_eq!(rs.len(), 1, "{rs:?}");
    assert_eq!(rs[0]["pattern"], "cargo build --release");
    assert_eq!(rs[0]["effect"], "allow");
}

#[tokio::test]
async fn budgets_refuse_bad_values_and_show_in_the_list() {
    let Some(hub) = hub_with_project().await else {
        return;
    };
    for bad in ["0", "-5", "NaN", "inf"] {
        let e = hub
            .cli(&["project", "create", "shop", "--budget-usd", bad])
            .await
            .fails(2);
        assert!(e.contains("above zero"), "{bad}: {e}");
        let e = hub
            .cli(&["project", "budget", "demo", "--budget-usd", bad])
            .await
            .fails(2);
        assert!(e.contains("above zero"), "{bad}: {e}");
    }
    // Neither a budget nor --clear; --enforce without a budget: clap's usage errors.
    assert_eq!(hub.cli(&["project", "budget", "demo"]).await.code, 2);
    assert_eq!(
        hub.cli(&["project", "budget", "demo", "--enforce"])
            .await
            .code,
        2
    );
    assert_eq!(
        hub.cli(&["project", "budget", "demo", "--budget-usd", "5", "--clear"])
            .await
            .code,
        2
    );
    let names: Vec<Value> = hub
        .cli(&["project", "list", "--json"])
        .await
        .json()
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("demo")], "a refused project was created");
    let text = hub.cli(&["project", "list"]).await.ok().to_string();
    assert!(text.contains("COST") && text.contains("BUDGET"), "{text}");
    assert!(hub.cli(&["task", "list"]).await.ok().contains("no tasks"));
    hub.cli(&["task", "create", "--title", "x", "--project", "demo"])
        .await
        .ok();
    assert!(hub.cli(&["task", "list"]).await.ok().contains("COST"));

    // A budget set, shown, and cleared.
    let p = hub
        .cli(&[
            "project",
            "budget",
            "demo",
            "--budget-usd",
            "50",
            "--enforce",
            "--json",
        ])
        .await
        .json();
    assert_eq!(p["budget"], json!({"usd": 50.0, "enforce": true}));
    let text = hub.cli(&["project", "list"]).await.ok().to_string();
    assert!(text.contains("$50.00 (enforced)"), "{text}");
    let p = hub
        .cli(&["project", "budget", "demo", "--clear", "--json"])
        .await
        .json();
    assert!(p["budget"].is_null(), "{p}");
    let p = hub
        .cli(&["project", "create", "shop", "--budget-usd", "20", "--json"])
        .await
        .json();
    assert_eq!(p["budget"]["usd"], 20.0);
}

#[tokio::test]
async fn a_pipelines_rules_are_checked_first_and_applied_once() {
    let Some(hub) = hub_with_project().await else {
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
