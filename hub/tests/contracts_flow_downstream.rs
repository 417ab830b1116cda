//! Contracts flow downstream, end to end (docs/WORKFLOWS.md, workflow 3): A publishes
//! `api_schema`; B and C receive it in `resolved_inputs`; C starts only after B. Real hub, real
//! CLI, simulated daemons over the real WebSocket.

mod common;

use common::{as_worker, create, task_id};
use orchestratia_testkit::{Backend, SimDaemon, TestHub};
use serde_json::json;

async fn contracts_flow_downstream(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    hub.cli(&["project", "create", "API Rebuild"]).await.ok();
    let admin = hub.admin();
    let backend_d = SimDaemon::start(
        &admin,
        "API Rebuild",
        "dev-backend",
        "linux",
        &["api"],
        &["python"],
    )
    .await;
    let frontend_d = SimDaemon::start(
        &admin,
        "API Rebuild",
        "dev-frontend",
        "linux",
        &["web"],
        &["ts"],
    )
    .await;

    let a = create(&hub, &["--title", "Design API Schema", "--repo", "api"]).await;
    let b = create(
        &hub,
        &[
            "--title",
            "Implement API",
            "--repo",
            "api",
            "--depends-on",
            &a,
        ],
    )
    .await;
    let c = create(
        &hub,
        &[
            "--title",
            "Build Frontend",
            "--repo",
            "web",
            "--depends-on",
            &a,
            "--depends-on",
            &b,
        ],
    )
    .await;
    assert_eq!((a.as_str(), b.as_str(), c.as_str()), ("T1", "T2", "T3"));
    // An orchestrator's pattern (workflow 9): a `blocks` from --depends-on becomes `input`
    // with the key.
    for t in [&b, &c] {
        hub.cli(&[
            "task",
            "deps",
            "add",
            t,
            "--depends-on",
            &a,
            "--type",
            "input",
            "--contract-key",
            "api_schema",
        ])
        .await
        .ok();
    }
    let view = hub.cli(&["task", "view", &c, "--json"]).await.json();
    let deps = view["depends_on"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        deps.len(),
        2,
        "C depends on A (input) and B (blocks): {deps:?}"
    );
    assert!(
        deps.iter()
            .any(|d| d["ref"] == "T1" && d["type"] == "input" && d["contract_key"] == "api_schema")
    );
    assert!(
        deps.iter()
            .any(|d| d["ref"] == "T2" && d["type"] == "blocks")
    );

    hub.cli(&["task", "assign", &a, "--session", "dev-backend"])
        .await
        .ok();
    let a_id = task_id(&hub, &a).await;
    let start_a = backend_d.wait_start(10, a_id).await;
    assert!(
        start_a
            .task
            .as_ref()
            .is_some_and(|t| t.resolved_inputs.is_empty())
    );

    let schema = json!({"endpoints": [{"path": "/users", "method": "GET", "response": "User[]"}],
                        "types": {"User": {"id": "uuid", "name": "string", "email": "string"}}});
    let file = hub.dir.path().join("schema.json");
    std::fs::write(&file, schema.to_string()).expect("write schema");
    let contract = format!("api_schema=@{}", file.display());
    as_worker(
        &hub,
        &start_a,
        &[
            "task",
            "complete",
            "--summary",
            "schema designed",
            "--contract",
            &contract,
        ],
    )
    .await
    .ok();

    // B is released to dev-backend with A's contract; C still waits for B.
    let b_id = task_id(&hub, &b).await;
    let start_b = backend_d.wait_start(10, b_id).await;
    assert_eq!(
        start_b
            .task
            .as_ref()
            .map(|t| t.resolved_inputs["api_schema"].clone()),
        Some(schema.clone())
    );
    let c_view = hub.cli(&["task", "view", &c, "--json"]).await.json();
    assert_eq!(c_view["status"], "pending");
    assert_eq!(c_view["blocked"], true);
    assert!(
        c_view["blocked_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("waiting for T2"),
        "{c_view}"
    );
    assert_eq!(
        c_view["resolved_inputs"]["api_schema"], schema,
        "C already holds A's contract"
    );
    let c_id = task_id(&hub, &c).await;
    assert!(
        frontend_d.start_for(c_id).is_none(),
        "C must not start before B completes"
    );

    as_worker(
        &hub,
        &start_b,
        &["task", "complete", "--summary", "API implemented"],
    )
    .await
    .ok();
    let start_c = frontend_d.wait_start(10, c_id).await;
    assert_eq!(
        start_c
            .task
            .as_ref()
            .map(|t| t.resolved_inputs["api_schema"].clone()),
        Some(schema)
    );
    as_worker(
        &hub,
        &start_c,
        &["task", "complete", "--summary", "frontend built"],
    )
    .await
    .ok();

    let list = hub.cli(&["task", "list", "--json"]).await.json();
    let statuses: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["status"].as_str())
        .collect();
    assert_eq!(statuses, vec!["done", "done", "done"]);
    let servers: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["server"].as_str())
        .collect();
    assert_eq!(servers, vec!["dev-backend", "dev-backend", "dev-frontend"]);

    // A's timeline carries the cascade in its documented order (workflow 10).
    let a_view = hub.cli(&["task", "view", &a, "--json"]).await.json();
    let names: Vec<&str> = a_view["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"].as_str())
        .collect();
    let tail: Vec<&str> = names
        .iter()
        .skip_while(|n| **n != "task_completed")
        .copied()
        .collect();
    assert_eq!(
        &tail[..7],
        &[
            "task_completed",
            "task_status_update",
            "contract_fulfilled",
            "dependency_resolved",
            "dependency_resolved",
            "task_unblocked",
            "task_auto_assigned"
        ],
        "{names:?}"
    );
    let text = hub.cli(&["task", "view", &a]).await;
    assert!(
        text.ok().contains("TIME") && text.ok().contains("task_auto_assigned"),
        "{}",
        text.stdout
    );
}

on_both_backends!(contracts_flow_downstream);
