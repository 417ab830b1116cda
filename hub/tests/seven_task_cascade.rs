//! The seven-task cascade end to end (docs/WORKFLOWS.md, workflow 6): the 7-task, 5-phase
//! e-commerce pipeline on two servers. After the manual assignment of T1 everything cascades;
//! T7 lands on dev-desktop; T6 waits for T2, T3 and T4; the event log shows each step; `task
//! graph` shows the five phases.

mod common;

use std::path::PathBuf;

use common::{as_worker, task_id};
use orchestratia_testkit::{Backend, SimDaemon, TestHub, eventually};
use serde_json::{Value, json};

/// A phase as the test compares it: number, released, trigger, released by, completed.
type Phase = (i64, Vec<String>, String, Option<String>, Vec<String>);

const PROJECT: &str = "E-Commerce Platform Rebuild";
const BACKEND_REPOS: &[&str] = &[
    "api-gateway",
    "core-service",
    "web-dashboard",
    "search-engine",
    "payment-service",
    "deploy-infra",
    "marketing-site",
];

fn pipeline_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/pipelines/ecommerce.yaml")
}

async fn status(hub: &TestHub, r: &str) -> Value {
    hub.cli(&["task", "view", r, "--json"]).await.json()
}

async fn complete(hub: &TestHub, d: &SimDaemon, r: &str, contract: Option<&str>) {
    let id = task_id(hub, r).await;
    let start = d.wait_start(10, id).await;
    let mut args = vec!["task", "complete", "--summary", "done"];
    if let Some(c) = contract {
        args.extend(["--contract", c]);
    }
    as_worker(hub, &start, &args).await.ok();
}

async fn seven_tasks_cascade_in_five_phases(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    hub.cli(&["project", "create", PROJECT]).await.ok();
    let admin = hub.admin();
    let be = SimDaemon::start(
        &admin,
        PROJECT,
        "dev-backend",
        "linux",
        BACKEND_REPOS,
        &["rust", "ts"],
    )
    .await;
    let desk = SimDaemon::start(
        &admin,
        PROJECT,
        "dev-desktop",
        "windows",
        &["desktop-app"],
        &["csharp"],
    )
    .await;

    let file = pipeline_file();
    let file = file.to_str().expect("path");
    let applied = hub.cli(&["pipeline", "apply", file, "--json"]).await.json();
    let created: Vec<bool> = applied["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t["created"] == true)
        .collect();
    assert_eq!(created, vec![true; 7]);
    let events_before = hub.cli(&["events", "--json"]).await.json()["events"]
        .as_array()
        .map(Vec::len);
    let again = hub.cli(&["pipeline", "apply", file, "--json"]).await.json();
    assert!(
        again["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|t| t["created"] == false),
        "{again}"
    );
    let events_after = hub.cli(&["events", "--json"]).await.json()["events"]
        .as_array()
        .map(Vec::len);
    assert_eq!(
        events_before, events_after,
        "applying the same file again changes nothing"
    );

    let g = hub.cli(&["task", "graph", "--json"]).await.json();
    assert_eq!(
        g["layers"],
        json!([["T1"], ["T2", "T3", "T4"], ["T5", "T6", "T7"]])
    );
    assert_eq!(g["edges"].as_array().map(Vec::len), Some(8));

    // Phase 1: T1 by hand.
    hub.cli(&["task", "assign", "T1", "--session", "dev-backend"])
        .await
        .ok();
    complete(
        &hub,
        &be,
        "T1",
        Some(r#"api_schema={"version":"2.5","endpoints":["/orders"]}"#),
    )
    .await;

    // Phase 2: T2, T3, T4 all released to dev-backend and running at once.
    for r in ["T2", "T3", "T4"] {
        let id = task_id(&hub, r).await;
        let s = be.wait_start(10, id).await;
        assert_eq!(
            s.task
                .as_ref()
                .map(|t| t.resolved_inputs["api_schema"]["version"].clone()),
            Some(json!("2.5"))
        );
    }
    for r in ["T2", "T3", "T4"] {
        let v = eventually(10, "running", || async {
            let v = status(&hub, r).await;
            (v["status"] == "running").then_some(v)
        })
        .await;
        assert_eq!(v["server"], "dev-backend", "{r}: {v}");
    }
    let t6 = status(&hub, "T6").await;
    let reason = t6["blocked_reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains("T2") && reason.contains("T3") && reason.contains("T4"),
        "{reason}"
    );

    // Phase 3: T2 completes → T5 on dev-backend, T7 on dev-desktop; T6 still waits.
    complete(&hub, &be, "T2", None).await;
    let t7 = task_id(&hub, "T7").await;
    desk.wait_start(10, t7).await;
    let t5 = task_id(&hub, "T5").await;
    be.wait_start(10, t5).await;
    assert_eq!(status(&hub, "T7").await["server"], "dev-desktop");
    let reason = status(&hub, "T6").await["blocked_reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !reason.contains("T2") && reason.contains("T3") && reason.contains("T4"),
        "{reason}"
    );

    // Phase 4: T3 then T4 complete → T6 released.
    complete(&hub, &be, "T3", None).await;
    assert_eq!(status(&hub, "T6").await["blocked"], true);
    complete(&hub, &be, "T4", None).await;
    let t6_id = task_id(&hub, "T6").await;
    be.wait_start(10, t6_id).await;

    // Phase 5: the rest completes.
    complete(&hub, &be, "T5", None).await;
    complete(&hub, &be, "T6", None).await;
    complete(&hub, &desk, "T7", None).await;

    let g = hub.cli(&["task", "graph", "--json"]).await.json();
    assert_eq!(g["all_done"], true);
    let phases: Vec<Phase> = g["phases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let list = |k: &str| {
                p[k].as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            };
            (
                p["phase"].as_i64().unwrap_or_default(),
                list("released"),
                p["trigger"].as_str().unwrap_or_default().to_string(),
                p["released_by"].as_str().map(String::from),
                list("completed"),
            )
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        phases,
        vec![
            (1, s(&["T1"]), "manual".into(), None, vec![]),
            (
                2,
                s(&["T2", "T3", "T4"]),
                "cascade".into(),
                Some("T1".into()),
                vec![]
            ),
            (
                3,
                s(&["T5", "T7"]),
                "cascade".into(),
                Some("T2".into()),
                vec![]
            ),
            (4, s(&["T6"]), "cascade".into(), Some("T4".into()), vec![]),
            (5, vec![], "done".into(), None, s(&["T5", "T6", "T7"])),
        ]
    );
    let text = hub.cli(&["task", "graph"]).await;
    let text = text.ok();
    assert!(
        text.contains("phase 5") && text.contains("ALL DONE") && text.contains("input:api_schema"),
        "{text}"
    );

    // T7's placement is explained: only dev-desktop qualifies.
    let e = hub.cli(&["task", "explain", "T7", "--json"]).await.json();
    assert_eq!(e["winner"], "dev-desktop");
    let be_cand = e["candidates"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["server"] == "dev-backend")
        .cloned();
    let why = be_cand
        .map(|c| c["disqualified"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    assert!(
        why.contains("missing repo desktop-app") && why.contains("pinned to dev-desktop"),
        "{why}"
    );

    // The event log shows every step of a task's timeline (workflow 10).
    let log = hub.cli(&["events", "--json"]).await.json();
    let names: Vec<&str> = log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"].as_str())
        .collect();
    for step in [
        "task_created",
        "dependency_added",
        "task_assigned",
        "session_active",
        "task_started",
        "task_completed",
        "task_status_update",
        "contract_fulfilled",
        "dependency_resolved",
        "task_unblocked",
        "task_auto_assigned",
        "server_registered",
        "server_online",
    ] {
        assert!(names.contains(&step), "missing {step} in the event log");
    }
    let auto = names.iter().filter(|n| **n == "task_auto_assigned").count();
    assert_eq!(auto, 6, "T2..T7 were each auto-assigned once");
}

on_both_backends!(seven_tasks_cascade_in_five_phases);
