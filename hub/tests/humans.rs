//! What waits for a human, end to end with the real CLI: a question (docs/WORKFLOWS.md,
//! workflow 4), a plan with a rejection then an approval, permission requests allowed and
//! denied, and an orchestrator session that creates, assigns and waits on tasks of its project
//! (workflow 9).

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{as_worker, create, task_id};
use orchestratia_proto::api::RequestPermission;
use orchestratia_proto::ws::{HubToDaemon, SessionStart};
use orchestratia_proto::{PermissionStatus, TaskStatus};
use orchestratia_testkit::{Backend, CliOutput, SimDaemon, TestHub, bin, eventually};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// Starts a blocking worker command (`task help`, `task plan submit`) in the background.
fn spawn_worker(hub: &TestHub, s: &SessionStart, args: &[&str]) -> Child {
    let task = s
        .task
        .as_ref()
        .map(|t| t.id.to_string())
        .unwrap_or_default();
    Command::new(bin("orchestratia"))
        .args(args)
        .env("ORCHESTRATIA_HUB", &hub.url)
        .env("ORCHESTRATIA_TOKEN", &s.token)
        .env("ORCHESTRATIA_TASK_ID", task)
        .env("XDG_CONFIG_HOME", hub.dir.path().join("worker-config"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn worker")
}

async fn finish(child: Child) -> CliOutput {
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the worker did not finish")
        .expect("worker output");
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn view(hub: &TestHub, r: &str) -> Value {
    hub.cli(&["task", "view", r, "--json"]).await.json()
}

async fn wait_status(hub: &TestHub, r: &str, status: &str) -> Value {
    eventually(15, &format!("{r} {status}"), || async {
        let v = view(hub, r).await;
        (v["status"] == status).then_some(v)
    })
    .await
}

fn event_names(v: &Value) -> Vec<String> {
    v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect()
}

async fn humans(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    let admin = hub.admin();
    let d = SimDaemon::start(&admin, "P", "dev-01", "linux", &["app"], &["rust"]).await;

    // Workflow 4: a question pauses the task until a human answers; the answer reaches the worker.
    let t1 = create(
        &hub,
        &["--title", "auth", "--repo", "app", "--priority", "high"],
    )
    .await;
    hub.cli(&["task", "assign", &t1, "--session", "dev-01"])
        .await
        .ok();
    let s1 = d.wait_start(10, task_id(&hub, &t1).await).await;
    wait_status(&hub, &t1, "running").await;
    let asking = spawn_worker(
        &hub,
        &s1,
        &["task", "help", "--question", "JWT or session cookies?"],
    );
    wait_status(&hub, &t1, "needs_human").await;
    let listed = hub.cli(&["intervention", "list", "--json"]).await.json();
    assert_eq!(listed[0]["question"], "JWT or session cookies?");
    assert_eq!(listed[0]["status"], "pending");
    assert!(
        hub.cli(&["intervention", "list"])
            .await
            .ok()
            .contains("JWT or session cookies?")
    );
    let sessions = hub.cli(&["session", "list", "--json"]).await.json();
    assert_eq!(
        sessions[0]["waiting"], true,
        "the session shows it waits for a human"
    );
    hub.cli(&[
        "intervention",
        "respond",
        &t1,
        "Use JWT with refresh tokens",
    ])
    .await
    .ok();
    let answered = finish(asking).await;
    assert_eq!(answered.ok().trim(), "Use JWT with refresh tokens");
    let v = wait_status(&hub, &t1, "running").await;
    let names = event_names(&v);
    for e in [
        "task_needs_human",
        "intervention_responded",
        "task_status_update",
    ] {
        assert!(names.contains(&e.to_string()), "{e} missing: {names:?}");
    }
    d.wait_for(5, "intervention_response", |m| {
        matches!(m, HubToDaemon::InterventionResponse { response, .. } if response == "Use JWT with refresh tokens")
    })
    .await;
    let again = hub
        .cli(&[
            "intervention",
            "respond",
            listed[0]["id"].as_str().unwrap_or_default(),
            "twice",
        ])
        .await;
    assert!(again.fails(2).contains("already answered"));

    // Permission requests: the whole command is shown; allow and deny reach the agent.
    let worker = hub.client(Some(&s1.token));
    let req = worker
        .request_permission(&RequestPermission::bash(
            "rm -rf /tmp/build && cargo build --release",
        ))
        .await
        .expect("permission request");
    let listed = hub.cli(&["permission", "list", "--json"]).await.json();
    assert_eq!(
        listed[0]["tool_input"]["command"],
        "rm -rf /tmp/build && cargo build --release"
    );
    assert!(
        hub.cli(&["permission", "list"])
            .await
            .ok()
            .contains("rm -rf /tmp/build && cargo build --release")
    );
    let waiter = tokio::spawn({
        let worker = worker.clone();
        async move {
            worker
                .permission(req.id, Some(Duration::from_secs(20)))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Bare digits are a task number only when that task exists, else the start of an id
    // (an id's first eight hex digits may all be decimal digits).
    let err = hub.cli(&["permission", "allow", "98765432"]).await;
    assert_eq!(err.code, 2);
    assert!(
        err.stderr.contains("permission request") && !err.stderr.contains("task T98765432"),
        "{}",
        err.stderr
    );
    hub.cli(&["permission", "allow", &req.id.to_string()[..8]])
        .await
        .ok();
    let decided = waiter.await.expect("join").expect("decision");
    assert_eq!(decided.status, PermissionStatus::Allowed);
    d.wait_for(5, "permission decision", |m| {
        matches!(m, HubToDaemon::PermissionDecision { allowed: true, .. })
    })
    .await;
    let req2 = worker
        .request_permission(&RequestPermission {
            task: None,
            tool_name: "Write".into(),
            tool_input: json!({"file_path": "/etc/passwd"}),
        })
        .await
        .expect("second request");
    hub.cli(&["permission", "deny", &t1, "--reason", "not that file"])
        .await
        .ok();
    let denied = worker.permission(req2.id, None).await.expect("read");
    assert_eq!(
        (denied.status, denied.reason.as_deref()),
        (PermissionStatus::Denied, Some("not that file"))
    );
    let names = event_names(&view(&hub, &t1).await);
    assert_eq!(
        names
            .iter()
            .filter(|n| *n == "permission_requested")
            .count(),
        2
    );
    assert_eq!(
        names.iter().filter(|n| *n == "permission_decided").count(),
        2
    );
    as_worker(&hub, &s1, &["task", "note", "halfway there"])
        .await
        .ok();
    as_worker(
        &hub,
        &s1,
        &["task", "complete", "--summary", "JWT in place"],
    )
    .await
    .ok();

    // A plan: rejected with feedback, then approved; the worker sees each decision.
    let t2 = create(
        &hub,
        &[
            "--title",
            "migrate",
            "--repo",
            "app",
            "--require-plan-approval",
        ],
    )
    .await;
    hub.cli(&["task", "assign", &t2, "--session", "dev-01"])
        .await
        .ok();
    let s2 = d.wait_start(10, task_id(&hub, &t2).await).await;
    let v = view(&hub, &t2).await;
    assert_eq!(v["status"], "planning");
    let plan = hub.dir.path().join("plan.md");
    std::fs::write(&plan, "1. dump\n2. migrate\n3. verify").expect("plan");
    let plan = plan.to_str().unwrap_or_default().to_string();
    let submitting = spawn_worker(&hub, &s2, &["task", "plan", "submit", "--file", &plan]);
    eventually(10, "plan submitted", || async {
        let l = hub
            .cli(&["plan", "list", "--status", "submitted", "--json"])
            .await
            .json();
        (l.as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await;
    let out = as_worker(
        &hub,
        &s2,
        &["task", "complete", "--summary", "skipping the plan"],
    )
    .await;
    assert!(
        out.fails(2).contains("plan is not approved"),
        "{}",
        out.stderr
    );
    hub.cli(&["plan", "reject", &t2, "--feedback", "add a rollback step"])
        .await
        .ok();
    assert_eq!(
        finish(submitting).await.ok().trim(),
        "rejected: add a rollback step"
    );
    assert_eq!(view(&hub, &t2).await["status"], "planning");
    let submitting = spawn_worker(&hub, &s2, &["task", "plan", "submit", "--file", &plan]);
    eventually(10, "plan resubmitted", || async {
        let l = hub
            .cli(&["plan", "list", "--status", "submitted", "--json"])
            .await
            .json();
        (l.as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await;
    hub.cli(&["plan", "approve", &t2]).await.ok();
    assert_eq!(finish(submitting).await.ok().trim(), "approved");
    let v = view(&hub, &t2).await;
    assert_eq!(v["status"], "running");
    let names = event_names(&v);
    let order: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| n.starts_with("task_plan") || *n == "task_planning" || *n == "task_started")
        .collect();
    assert_eq!(
        order,
        vec![
            "task_planning",
            "task_plan_submitted",
            "task_plan_rejected",
            "task_plan_submitted",
            "task_plan_approved",
            "task_started"
        ]
    );
    d.wait_for(5, "plan decision", |m| {
        matches!(m, HubToDaemon::PlanDecision { approved: true, .. })
    })
    .await;
    as_worker(&hub, &s2, &["task", "complete", "--summary", "migrated"])
        .await
        .ok();

    // Workflow 9: an orchestrator session creates, wires, assigns and waits, and hears of updates.
    let o = create(
        &hub,
        &["--title", "orchestrate the rebuild", "--orchestrator"],
    )
    .await;
    hub.cli(&["task", "assign", &o, "--session", "dev-01"])
        .await
        .ok();
    let so = d.wait_start(10, task_id(&hub, &o).await).await;
    let env_id = so
        .task
        .as_ref()
        .map(|t| t.id.to_string())
        .unwrap_or_default();
    let env = [("ORCHESTRATIA_TASK_ID", env_id.as_str())];
    let orch = |args: &'static [&'static str]| {
        let (hub, token, env) = (&hub, so.token.clone(), env);
        async move { hub.cli_as(&token, &env, args).await }
    };
    assert!(orch(&["server", "list"]).await.ok().contains("dev-01"));
    let design = orch(&[
        "task",
        "create",
        "--title",
        "Design API schema",
        "--repo",
        "app",
    ])
    .await;
    let design_id = design.ok().trim().to_string();
    let gw = hub
        .cli_as(
            &so.token,
            &env,
            &[
                "task",
                "create",
                "--title",
                "Gateway routes",
                "--repo",
                "app",
                "--depends-on",
                &design_id,
                "--json",
            ],
        )
        .await
        .json();
    let gw_ref = gw["ref"].as_str().unwrap_or_default().to_string();
    hub.cli_as(
        &so.token,
        &env,
        &[
            "task",
            "deps",
            "add",
            &gw_ref,
            "--depends-on",
            &design_id,
            "--type",
            "input",
            "--contract-key",
            "api_schema",
        ],
    )
    .await
    .ok();
    hub.cli_as(
        &so.token,
        &env,
        &["task", "assign", &design_id, "--session", "dev-01"],
    )
    .await
    .ok();
    let running = orch(&["task", "list", "--status", "running", "--json"])
        .await
        .json();
    assert!(running.as_array().is_some_and(|l| !l.is_empty()));
    let waiting = {
        let mut c = Command::new(bin("orchestratia"));
        c.args(["task", "wait", &gw_ref, "--timeout", "30s", "--json"])
            .env("ORCHESTRATIA_HUB", &hub.url)
            .env("ORCHESTRATIA_TOKEN", &so.token)
            .env("XDG_CONFIG_HOME", hub.dir.path().join("orch-config"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c.spawn().expect("spawn wait")
    };
    let sd = d.wait_start(10, design_id.parse().expect("uuid")).await;
    as_worker(
        &hub,
        &sd,
        &[
            "task",
            "complete",
            "--summary",
            "schema",
            "--contract",
            r#"api_schema={"v":1}"#,
        ],
    )
    .await
    .ok();
    let sg = d
        .wait_start(
            10,
            gw["id"].as_str().and_then(|s| s.parse().ok()).expect("id"),
        )
        .await;
    assert_eq!(
        sg.task
            .as_ref()
            .map(|t| t.resolved_inputs["api_schema"].clone()),
        Some(json!({"v": 1}))
    );
    as_worker(&hub, &sg, &["task", "complete", "--summary", "routes"])
        .await
        .ok();
    let waited = finish(waiting).await.json();
    assert_eq!(waited["tasks"][0]["status"], "done");
    d.wait_for(5, "task_status_update for the orchestrator", |m| {
        matches!(m, HubToDaemon::TaskStatusUpdate { session_id, status: TaskStatus::Done, .. } if *session_id == so.session_id)
    })
    .await;
    let timeout = orch(&["task", "wait", "T1", "T3", "--any", "--json"]).await;
    assert_eq!(timeout.code, 0, "{}", timeout.stderr);
}

on_both_backends!(humans);
