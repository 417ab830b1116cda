//! Bad input gets a clear one-line error and changes nothing already stored.

mod common;

use std::time::Duration;

use common::{as_worker, create, task_id};
use orchestratia_proto::api::{CreateRegistrationToken, CreateTask, RegisterServer};
use orchestratia_proto::client::ClientError;
use orchestratia_testkit::{Backend, SimDaemon, TestHub, eventually};
use serde_json::Value;

/// Everything a refused request must leave untouched: the tasks and the event log.
async fn snapshot(hub: &TestHub) -> (Value, usize) {
    let tasks = hub.cli(&["task", "list", "--json"]).await.json();
    let events = hub.cli(&["events", "--json"]).await.json()["events"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    (tasks, events)
}

/// Runs a CLI call that must fail with exit 2 and a message containing `needle`, and checks
/// that nothing changed.
async fn refused(hub: &TestHub, args: &[&str], needle: &str) {
    let before = snapshot(hub).await;
    let out = hub.cli(args).await;
    let msg = out.fails(2);
    assert!(
        msg.contains(needle),
        "{args:?}: expected '{needle}' in: {msg}"
    );
    let after = snapshot(hub).await;
    assert_eq!(after.1, before.1, "{args:?} added events");
    assert_eq!(after, before, "{args:?} changed stored state");
}

async fn bad_input(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    let admin = hub.admin();
    let a = SimDaemon::start(&admin, "P", "server-a", "linux", &["r1"], &["rust"]).await;
    let _b = SimDaemon::start(&admin, "P", "server-b", "linux", &["r1"], &["rust"]).await;
    let t1 = create(&hub, &["--title", "one", "--repo", "r1"]).await;
    let t2 = create(
        &hub,
        &["--title", "two", "--repo", "r1", "--depends-on", &t1],
    )
    .await;

    refused(&hub, &["task", "view", "T99"], "task T99 not found").await;
    refused(
        &hub,
        &["task", "deps", "add", &t1, "--depends-on", &t2],
        "making T1 depend on T2 would create a cycle",
    )
    .await;
    refused(
        &hub,
        &["task", "deps", "add", &t1, "--depends-on", &t1],
        "cannot depend on itself",
    )
    .await;
    refused(
        &hub,
        &["task", "deps", "add", &t2, "--depends-on", &t1],
        "duplicate dependency",
    )
    .await;
    refused(
        &hub,
        &[
            "task",
            "deps",
            "add",
            &t2,
            "--depends-on",
            &t1,
            "--type",
            "input",
        ],
        "--contract-key",
    )
    .await;
    refused(
        &hub,
        &[
            "task",
            "deps",
            "add",
            &t2,
            "--depends-on",
            &t1,
            "--type",
            "inptu",
        ],
        "invalid dependency type",
    )
    .await;
    refused(
        &hub,
        &["task", "list", "--status", "runing"],
        "invalid status 'runing'",
    )
    .await;
    // The lists of what waits for a human name the statuses they know.
    for (list, what) in [
        ("plan", "plan status"),
        ("permission", "permission status"),
        ("intervention", "intervention status"),
    ] {
        refused(
            &hub,
            &[list, "list", "--status", "bogus"],
            &format!("invalid {what} 'bogus'"),
        )
        .await;
    }
    refused(
        &hub,
        &["task", "create", "--title", "  "],
        "title must not be empty",
    )
    .await;
    refused(
        &hub,
        &["task", "create", "--title", "x", "--priority", "urgent"],
        "invalid priority",
    )
    .await;
    refused(
        &hub,
        &["task", "create", "--title", "x", "--agent", "nobody"],
        "unknown agent 'nobody'",
    )
    .await;
    refused(
        &hub,
        &["task", "create", "--title", "x", "--depends-on", "T42"],
        "task T42 not found",
    )
    .await;
    refused(
        &hub,
        &["task", "assign", &t2, "--session", "server-a"],
        "T2 is blocked",
    )
    .await;
    refused(
        &hub,
        &["task", "assign", &t1, "--session", "nowhere"],
        "server 'nowhere' not found",
    )
    .await;
    refused(
        &hub,
        &["task", "assign", &t1, "--server", "nowhere"],
        "server 'nowhere' not found",
    )
    .await;
    refused(
        &hub,
        &["task", "view", "'; drop table tasks"],
        "invalid task reference",
    )
    .await;
    refused(&hub, &["project", "create", "P"], "already exists").await;
    refused(
        &hub,
        &["intervention", "respond", "T1", "hello"],
        "no pending question",
    )
    .await;
    refused(&hub, &["plan", "approve", "T1"], "no plan waiting").await;

    // An oversized spec.
    let big = hub.dir.path().join("big.md");
    std::fs::write(&big, "x".repeat(150_000)).expect("write");
    refused(
        &hub,
        &[
            "task",
            "create",
            "--title",
            "big",
            "--spec-file",
            big.to_str().unwrap_or_default(),
        ],
        "the limit is 100000",
    )
    .await;

    // Invalid JSON, straight to the API.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/tasks", hub.url))
        .bearer_auth(&hub.admin_token)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json error");
    assert_eq!(body["error"], "bad_request");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("invalid JSON"),
        "{body}"
    );
    let r = http
        .post(format!("{}/api/v1/tasks", hub.url))
        .bearer_auth(&hub.admin_token)
        .json(&serde_json::json!({"title": 7}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    let r = http
        .get(format!("{}/api/v1/nope", hub.url))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "not_found");

    // Completing a task twice, and another server's task.
    hub.cli(&["task", "assign", &t1, "--session", "server-a"])
        .await
        .ok();
    let id1 = task_id(&hub, &t1).await;
    let start = a.wait_start(10, id1).await;
    let t3 = create(&hub, &["--title", "three", "--repo", "r1"]).await;
    hub.cli(&["task", "assign", &t3, "--session", "server-b"])
        .await
        .ok();
    // Let both sessions report active before taking the snapshot.
    for t in [&t1, &t3] {
        eventually(10, "running", || async {
            (hub.cli(&["task", "view", t, "--json"]).await.json()["status"] == "running")
                .then_some(())
        })
        .await;
    }
    let before = snapshot(&hub).await;
    let out = hub
        .cli_as(
            &a.api_key,
            &[],
            &["task", "complete", "--id", &t3, "--summary", "not mine"],
        )
        .await;
    let msg = out.fails(2);
    assert!(msg.contains("task T3 not found"), "{msg}");
    let out = as_worker(
        &hub,
        &start,
        &["task", "complete", "--id", &t3, "--summary", "not mine"],
    )
    .await;
    assert!(out.fails(2).contains("task T3 not found"));
    assert_eq!(snapshot(&hub).await, before);
    as_worker(&hub, &start, &["task", "complete", "--summary", "done"])
        .await
        .ok();
    // T1's completion released T2; let its session report in before the snapshot.
    eventually(10, "T2 running", || async {
        (hub.cli(&["task", "view", &t2, "--json"]).await.json()["status"] == "running")
            .then_some(())
    })
    .await;
    let before = snapshot(&hub).await;
    let out = as_worker(&hub, &start, &["task", "complete", "--summary", "again"]).await;
    assert!(out.fails(2).contains("already closed"), "{}", out.stderr);
    let out = hub
        .cli(&["task", "complete", "--id", &t1, "--summary", "again"])
        .await;
    assert!(out.fails(2).contains("already closed"));
    let after = snapshot(&hub).await;
    if after.1 != before.1 {
        let log = hub.cli(&["events", "--json"]).await.json();
        panic!(
            "events added: {:?}",
            &log["events"].as_array().map(|a| a[before.1..].to_vec())
        );
    }
    assert_eq!(after, before);
    let bad_contract = as_worker(
        &hub,
        &start,
        &[
            "task",
            "complete",
            "--summary",
            "x",
            "--contract",
            "k=not json",
        ],
    )
    .await;
    assert!(bad_contract.fails(2).contains("not valid JSON"));

    // Registration tokens: expired, reused, unknown; nothing is registered by a refusal.
    let short = admin
        .post::<_, orchestratia_proto::api::RegistrationToken>(
            "/servers/tokens",
            &CreateRegistrationToken {
                project: "P".into(),
                expires_in_secs: Some(1),
                ..Default::default()
            },
        )
        .await
        .expect("token");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let servers_before = admin.servers().await.expect("servers").len();
    let reg = |token: String, name: &str| RegisterServer {
        token,
        name: name.into(),
        ..Default::default()
    };
    let e = admin
        .register(&reg(short.token, "late"))
        .await
        .expect_err("expired");
    assert_eq!(e.status(), Some(401));
    assert!(e.to_string().contains("expired"), "{e}");
    let once = admin.registration_token("P").await.expect("token");
    let e = admin
        .register(&reg(once.token.clone(), "bad name!"))
        .await
        .expect_err("bad name");
    assert_eq!(e.status(), Some(400));
    admin
        .register(&reg(once.token.clone(), "first"))
        .await
        .expect("first use");
    let e = admin
        .register(&reg(once.token, "second"))
        .await
        .expect_err("reuse");
    assert!(e.to_string().contains("already used"), "{e}");
    let e = admin
        .register(&reg("orcreg_0000".into(), "x"))
        .await
        .expect_err("unknown");
    assert_eq!(e.status(), Some(401));
    assert_eq!(
        admin.servers().await.expect("servers").len(),
        servers_before + 1
    );

    // A revoked key stops working at once.
    hub.cli(&["server", "revoke", "server-a"]).await.ok();
    let e = hub
        .client(Some(&a.api_key))
        .whoami()
        .await
        .expect_err("revoked");
    assert_eq!(e.status(), Some(401));
    assert!(e.to_string().contains("revoked"), "{e}");
    let out = as_worker(&hub, &start, &["task", "note", "still here?"]).await;
    assert_eq!(
        out.code, 1,
        "a revoked server's session tokens are revoked too: {}",
        out.stderr
    );
}

/// A pipeline key names one task in a project: a second create with it is refused with 409
/// naming the first and stores nothing; another project may use the same key.
async fn pipeline_keys(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    hub.cli(&["project", "create", "Q"]).await.ok();
    let admin = hub.admin();
    let keyed = |title: &str, project: &str| CreateTask {
        title: title.into(),
        project: Some(project.into()),
        pipeline_key: Some("api-schema".into()),
        ..Default::default()
    };
    create(&hub, &["--title", "unkeyed", "--project", "P"]).await;
    let first = admin
        .create_task(&keyed("Update the schema", "P"))
        .await
        .expect("the first keyed task");
    assert_eq!(first.reference, "T2");
    assert_eq!(first.pipeline_key.as_deref(), Some("api-schema"));

    let before = snapshot(&hub).await;
    match admin.create_task(&keyed("Schema again", "P")).await {
        Err(ClientError::Api {
            status: 409,
            error,
            detail,
        }) => {
            assert_eq!(error, "conflict");
            assert_eq!(
                detail,
                "pipeline key 'api-schema' already names T2 in project 'P'"
            );
        }
        other => panic!("a second task with the key: expected 409, got {other:?}"),
    }
    assert_eq!(snapshot(&hub).await, before, "the refusal changed nothing");

    let other = admin
        .create_task(&keyed("Schema elsewhere", "Q"))
        .await
        .expect("the same key in another project");
    assert_eq!(other.reference, "T1");
}

on_both_backends!(bad_input, pipeline_keys);
