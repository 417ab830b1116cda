//! The CLI of what waits for a human against a real hub (docs/CLI.md, "What waits for a
//! human"): the inbox ranked by the work each item holds up, as JSON and as a table; a
//! permission allowed for the session or always, or denied as a rule, with the rule it made
//! named; a pattern with no rule scope refused.

use orchestratia_proto::api::RequestPermission;
use orchestratia_proto::client::HubClient;
use orchestratia_proto::ws::SessionStart;
use orchestratia_testkit::{SimDaemon, TestHub};
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

/// Creates a task in `demo`, assigns it to the daemon, and waits until its session is active.
async fn started(admin: &HubClient, d: &SimDaemon, title: &str) -> SessionStart {
    d.started(admin, "demo", title, false).await
}

#[tokio::test]
async fn the_inbox_is_ranked_json_and_a_table() {
    let Some(hub) = TestHub::with_project("demo").await else {
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
        .request_permission(&RequestPermission::bash("cargo build --release"))
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
async fn allow_for_the_session_with_a_pattern_makes_that_rule_and_says_so() {
    let Some(hub) = TestHub::with_project("demo").await else {
        return;
    };
    let admin = hub.admin();
    let d = SimDaemon::start(&admin, "demo", "dev-01", "linux", &["app"], &[]).await;
    let s = started(&admin, &d, "build").await;
    let p = hub
        .client(Some(&s.token))
        .request_permission(&RequestPermission::bash("cargo build --release"))
        .await
        .expect("permission request");
    let out = hub
        .cli(&[
            "permission",
            "allow",
            &p.id.to_string()[..8],
            "--session",
            "--pattern",
            "cargo build *",
        ])
        .await
        .ok()
        .to_string();
    assert!(
        out.contains("allowed Bash") && out.contains("session"),
        "{out}"
    );
    assert!(
        out.contains("rule ") && out.contains("\"cargo build *\""),
        "{out}"
    );
    let rs = rules(&hub).await;
    assert_eq!(rs.len(), 1, "{rs:?}");
    assert_eq!(rs[0]["scope"], "session");
    assert_eq!(rs[0]["session_id"], s.session_id.to_string());
    let v = hub.cli(&["permission", "list", "--json"]).await.json();
    assert_eq!(v[0]["status"], "allowed", "{v}");
    // Decided: a second decision is refused, and nothing more is made.
    hub.cli(&["permission", "deny", &p.id.to_string(), "--rule"])
        .await
        .fails(2);
    assert_eq!(rules(&hub).await.len(), 1);
}

#[tokio::test]
async fn allow_always_makes_the_suggested_rule_and_says_so() {
    let Some(hub) = TestHub::with_project("demo").await else {
        return;
    };
    let admin = hub.admin();
    let d = SimDaemon::start(&admin, "demo", "dev-01", "linux", &["app"], &[]).await;
    let s = started(&admin, &d, "build").await;
    let p = hub
        .client(Some(&s.token))
        .request_permission(&RequestPermission::bash("cargo build --release"))
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
async fn deny_as_a_rule_denies_and_makes_a_project_deny_rule() {
    let Some(hub) = TestHub::with_project("demo").await else {
        return;
    };
    let admin = hub.admin();
    let d = SimDaemon::start(&admin, "demo", "dev-01", "linux", &["app"], &[]).await;
    let s = started(&admin, &d, "clean").await;
    let agent = hub.client(Some(&s.token));
    let ask = |command: &'static str| {
        let agent = agent.clone();
        async move {
            agent
                .request_permission(&RequestPermission::bash(command))
                .await
                .expect("permission request")
        }
    };
    // With a pattern: that pattern is the rule.
    let p = ask("rm -rf build").await;
    let out = hub
        .cli(&[
            "permission",
            "deny",
            &p.id.to_string(),
            "--rule",
            "--pattern",
            "rm -rf *",
        ])
        .await
        .ok()
        .to_string();
    assert!(out.contains("denied Bash"), "{out}");
    assert!(
        out.contains("rule ") && out.contains("deny Bash \"rm -rf *\""),
        "{out}"
    );
    let v = hub.cli(&["permission", "list", "--json"]).await.json();
    assert_eq!(v[0]["id"], p.id.to_string(), "{v}");
    assert_eq!(v[0]["status"], "denied", "{v}");
    let rs = hub.cli(&["policy", "list", "--json"]).await.json();
    let rs = rs.as_array().cloned().unwrap_or_default();
    assert_eq!(rs.len(), 1, "{rs:?}");
    assert_eq!(
        (&rs[0]["scope"], &rs[0]["effect"], &rs[0]["tool"]),
        (&json!("project"), &json!("deny"), &json!("Bash"))
    );
    assert_eq!(rs[0]["pattern"], "rm -rf *");
    assert_eq!(rs[0]["project"], "demo");
    // The rule denies the next such call at once.
    let next = ask("rm -rf target").await;
    assert_eq!(next.status.to_string(), "denied");

    // Without a pattern: the suggested one, the command itself.
    let q = ask("git push --force").await;
    let out = hub
        .cli(&["permission", "deny", &q.id.to_string(), "--rule"])
        .await
        .ok()
        .to_string();
    assert!(out.contains("deny Bash \"git push --force\""), "{out}");
    let rs = rules(&hub).await;
    assert!(
        rs.iter()
            .any(|r| r["pattern"] == "git push --force" && r["effect"] == "deny"),
        "{rs:?}"
    );
}
