//! The CLI of cost and budgets against a real hub (docs/CLI.md, "Projects", "Usage"): bad
//! budgets refused with one line and exit 2, creating and changing nothing; a budget set,
//! shown and cleared; what a session's model calls cost shown on its task and project.

use orchestratia_proto::usage::Usage;
use orchestratia_proto::ws::DaemonToHub;
use orchestratia_testkit::{SimDaemon, TestHub, eventually};
use serde_json::{Value, json};

#[tokio::test]
async fn bad_budgets_are_refused_and_change_nothing() {
    let Some(hub) = TestHub::with_project("demo").await else {
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
}

// The tests below need the budget API and the hub's usage sums; they are written to the
// design.

#[tokio::test]
async fn budgets_are_set_shown_and_cleared() {
    let Some(hub) = TestHub::with_project("demo").await else {
        return;
    };
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
async fn a_sessions_cost_shows_on_its_task_and_project() {
    let Some(hub) = TestHub::with_project("demo").await else {
        return;
    };
    let admin = hub.admin();
    let d = SimDaemon::start(&admin, "demo", "dev-01", "linux", &["app"], &[]).await;
    let start = d.started(&admin, "demo", "build", false).await;
    d.send(&DaemonToHub::Usage {
        session_id: start.session_id,
        usage: Usage {
            model: Some("claude-sonnet-4-5".into()),
            input_tokens: 12_300,
            output_tokens: 4_100,
            cost_usd: 0.42,
            calls: 3,
            ..Usage::default()
        },
    });
    let v: Value = eventually(10, "the task's usage", || async {
        let v = hub.cli(&["task", "view", "T1", "--json"]).await.json();
        v["usage"].is_object().then_some(v)
    })
    .await;
    assert_eq!(v["usage"]["calls"], 3);
    let text = hub.cli(&["task", "view", "T1"]).await.ok().to_string();
    assert!(text.contains("$0.42"), "{text}");
    assert!(text.contains("12.3k in"), "{text}");
    assert!(text.contains("claude-sonnet-4-5"), "{text}");
    let list = hub.cli(&["task", "list"]).await.ok().to_string();
    assert!(list.contains("COST") && list.contains("$0.42"), "{list}");
    let projects = hub.cli(&["project", "list", "--json"]).await.json();
    assert_eq!(projects[0]["usage"]["calls"], json!(3));
    assert!(hub.cli(&["project", "list"]).await.ok().contains("$0.42"));
}
