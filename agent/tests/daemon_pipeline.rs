//! The seven-task pipeline (docs/WORKFLOWS.md, workflow 6) with the real hub, two real daemons
//! (dev-backend with seven repos, dev-desktop with desktop-app) and scripted workers in real
//! tmux sessions: one manual assignment runs it to ALL DONE; T2, T3 and T4 run at once on
//! dev-backend; T7 runs on dev-desktop; T2's worker reads `api_schema` from its task file.

use std::path::PathBuf;

use orchestratia_testkit::agent::tmux_available;
use orchestratia_testkit::{Backend, DaemonOptions, TestDaemon, TestHub, eventually};
use serde_json::Value;

const PROJECT: &str = "E-Commerce Platform Rebuild";

fn pipeline() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/pipelines/ecommerce.yaml")
        .to_string_lossy()
        .into_owned()
}

fn events_of(v: &Value, name: &str) -> Vec<Value> {
    v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["event"] == name)
        .cloned()
        .collect()
}

fn at(e: &Value) -> i64 {
    e["at"]
        .as_str()
        .and_then(orchestratia_proto::time::parse_rfc3339)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ecommerce_pipeline_runs_to_all_done() {
    if !tmux_available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let Some(hub) = TestHub::start(Backend::Sqlite).await else {
        return;
    };
    hub.cli(&["project", "create", PROJECT]).await.ok();
    let backend = TestDaemon::start(
        &hub,
        DaemonOptions {
            project: PROJECT,
            name: "dev-backend",
            repos: &[
                "api-gateway",
                "core-service",
                "web-dashboard",
                "search-engine",
                "payment-service",
                "deploy-infra",
                "marketing-site",
            ],
            languages: &["rust", "ts"],
            git: true,
            ..Default::default()
        },
    )
    .await;
    let desktop = TestDaemon::start(
        &hub,
        DaemonOptions {
            project: PROJECT,
            name: "dev-desktop",
            repos: &["desktop-app"],
            languages: &["csharp"],
            git: true,
            ..Default::default()
        },
    )
    .await;
    eventually(20, "both servers online", || async {
        let s = hub.cli(&["server", "list", "--json"]).await.json();
        let online = s
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["status"] == "online")
            .count();
        (online == 2).then_some(())
    })
    .await;

    hub.cli(&["pipeline", "apply", &pipeline()]).await.ok();
    hub.cli(&["task", "assign", "T1", "--session", "dev-backend"])
        .await
        .ok();
    let waited = hub
        .cli(&[
            "task",
            "wait",
            "T5",
            "T6",
            "T7",
            "--timeout",
            "90s",
            "--json",
        ])
        .await;
    if waited.code != 0 {
        panic!(
            "the pipeline did not finish: {}\n{}\nbackend log:\n{}\ndesktop log:\n{}",
            waited.stderr,
            hub.cli(&["task", "list"]).await.stdout,
            backend.log(),
            desktop.log()
        );
    }
    let list = hub.cli(&["task", "list", "--json"]).await.json();
    let statuses: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        vec!["done"; 7],
        "{}",
        hub.cli(&["task", "list"]).await.stdout
    );
    let g = hub.cli(&["task", "graph", "--json"]).await.json();
    assert_eq!(g["all_done"], true);
    assert_eq!(g["phases"].as_array().map(Vec::len), Some(5));

    let view = |r: &'static str| {
        let hub = &hub;
        async move { hub.cli(&["task", "view", r, "--json"]).await.json() }
    };
    // T7 ran on dev-desktop, the rest on dev-backend.
    for (r, server) in [
        ("T1", "dev-backend"),
        ("T2", "dev-backend"),
        ("T6", "dev-backend"),
        ("T7", "dev-desktop"),
    ] {
        assert_eq!(view(r).await["server"], server, "{r}");
    }
    // T2, T3 and T4 ran at the same time: each started before any of them finished.
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    for r in ["T2", "T3", "T4"] {
        let v = view(r).await;
        starts.push(
            events_of(&v, "task_started")
                .first()
                .map(at)
                .unwrap_or(i64::MAX),
        );
        ends.push(events_of(&v, "task_completed").first().map(at).unwrap_or(0));
    }
    let last_start = starts.iter().copied().max().unwrap_or(i64::MAX);
    let first_end = ends.iter().copied().min().unwrap_or(0);
    assert!(
        last_start < first_end,
        "T2-T4 overlap: starts {starts:?}, ends {ends:?}"
    );
    // T2's worker read api_schema from its task file.
    let t2 = view("T2").await;
    let notes: Vec<&str> = t2["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["text"].as_str())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("input api_schema:") && n.contains("\"2.5\"")),
        "{notes:?}"
    );
    // Every session ended and left no tmux session behind.
    eventually(20, "sessions ended", || async {
        let s = hub.cli(&["session", "list", "--json"]).await.json();
        let open = s
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["status"] != "ended")
            .count();
        (open == 0 && backend.orc_sessions().is_empty() && desktop.orc_sessions().is_empty())
            .then_some(())
    })
    .await;
}
