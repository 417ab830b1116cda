//! Restarting the hub loses nothing: tasks, events and pending questions survive a kill -9, a
//! worker blocked in `task help` gets its answer across the restart, and a completion is never
//! applied twice, even when two arrive at once.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{as_worker, create, task_id};
use orchestratia_proto::api::{CompleteTask, TaskResult};
use orchestratia_testkit::{Backend, SimDaemon, TestHub, bin, eventually};
use serde_json::{Value, json};
use tokio::process::Command;

async fn restart(backend: Backend) {
    let Some(mut hub) = TestHub::start(backend).await else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    let admin = hub.admin();
    let d = SimDaemon::start(&admin, "P", "dev-01", "linux", &["app"], &[]).await;
    let t1 = create(&hub, &["--title", "first", "--repo", "app"]).await;
    let t2 = create(
        &hub,
        &["--title", "second", "--repo", "app", "--depends-on", &t1],
    )
    .await;
    hub.cli(&["task", "assign", &t1, "--session", "dev-01"])
        .await
        .ok();
    let s1 = d.wait_start(10, task_id(&hub, &t1).await).await;
    eventually(10, "running", || async {
        (hub.cli(&["task", "view", &t1, "--json"]).await.json()["status"] == "running")
            .then_some(())
    })
    .await;

    // A worker blocks on a question; the hub dies and comes back on the same port.
    let task = s1
        .task
        .as_ref()
        .map(|t| t.id.to_string())
        .unwrap_or_default();
    let asking = Command::new(bin("orchestratia"))
        .args(["task", "help", "--question", "Which region?"])
        .env("ORCHESTRATIA_HUB", &hub.url)
        .env("ORCHESTRATIA_TOKEN", &s1.token)
        .env("ORCHESTRATIA_TASK_ID", &task)
        .env("XDG_CONFIG_HOME", hub.dir.path().join("w"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    eventually(10, "needs_human", || async {
        (hub.cli(&["task", "view", &t1, "--json"]).await.json()["status"] == "needs_human")
            .then_some(())
    })
    .await;
    let before_tasks = hub.cli(&["task", "list", "--json"]).await.json();
    let before_events = hub.cli(&["events", "--json"]).await.json()["events"].clone();
    let (server_id, key) = (d.server_id, d.api_key.clone());
    drop(d);
    hub.restart().await;
    let after_tasks = hub.cli(&["task", "list", "--json"]).await.json();
    assert_eq!(after_tasks, before_tasks, "tasks survive the restart");
    let after_events = hub.cli(&["events", "--json"]).await.json()["events"].clone();
    let n = before_events.as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(
        after_events.as_array().map(|a| a[..n].to_vec()),
        before_events.as_array().cloned(),
        "events survive"
    );
    let pending = hub
        .cli(&["intervention", "list", "--status", "pending", "--json"])
        .await
        .json();
    assert_eq!(pending[0]["question"], "Which region?");

    hub.cli(&["intervention", "respond", &t1, "eu-west-1"])
        .await
        .ok();
    let out = tokio::time::timeout(Duration::from_secs(30), asking.wait_with_output())
        .await
        .expect("the worker kept waiting")
        .expect("output");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "eu-west-1");

    // The daemon comes back with the same key; the session's token still works.
    let d = SimDaemon::connect(
        &hub.url,
        "dev-01",
        server_id,
        &key,
        Vec::new(),
        Default::default(),
    )
    .await
    .expect("reconnect");

    // Two completions at once: exactly one is applied, and the cascade runs once.
    let worker = hub.client(Some(&s1.token));
    let body = CompleteTask {
        result: TaskResult {
            summary: "done".into(),
            ..Default::default()
        },
        contracts: [("k".to_string(), json!({"n": 1}))].into_iter().collect(),
    };
    let (a, b) = tokio::join!(worker.complete(&task, &body), worker.complete(&task, &body));
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one completion succeeds: {a:?} / {b:?}"
    );
    let loser = a.err().or(b.err()).expect("one failed");
    assert_eq!(loser.status(), Some(409));
    let v = hub.cli(&["task", "view", &t1, "--json"]).await.json();
    let count = |name: &str| {
        v["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["event"] == name)
            .count()
    };
    assert_eq!(
        (
            count("task_completed"),
            count("contract_fulfilled"),
            count("task_unblocked")
        ),
        (1, 1, 1)
    );
    let t2_id = task_id(&hub, &t2).await;
    d.wait_start(10, t2_id).await;
    let again = as_worker(&hub, &s1, &["task", "complete", "--summary", "again"]).await;
    assert!(again.fails(2).contains("already closed"));

    // And the second restart still has all of it.
    hub.restart().await;
    let v: Value = hub.cli(&["task", "view", &t1, "--json"]).await.json();
    assert_eq!(v["status"], "done");
    assert_eq!(v["contracts"]["k"]["data"], json!({"n": 1}));
    assert_eq!(v["interventions"][0]["response"], "eu-west-1");
}

on_both_backends!(restart);
