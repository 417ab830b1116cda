//! Roles on every route: no token, a registration token, a server key reaching past its own
//! tasks, a session token reaching past its own task, an orchestrator session confined to its
//! project. Every refusal is a JSON `{error, detail}`.

mod common;

use common::{create, task_id};
use orchestratia_proto::ws::SessionStart;
use orchestratia_testkit::{Backend, SimDaemon, TestHub};
use reqwest::Method;
use serde_json::{Value, json};

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn refused(what: &str, (status, body): (u16, Value), want: u16) {
    assert_eq!(status, want, "{what}: {body}");
    assert!(
        body["error"].is_string() && body["detail"].is_string(),
        "{what}: not a JSON error: {body}"
    );
}

async fn roles(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    let api = Api {
        http: reqwest::Client::new(),
        base: hub.url.clone(),
    };
    hub.cli(&["project", "create", "P1"]).await.ok();
    hub.cli(&["project", "create", "P2"]).await.ok();
    let admin = hub.admin();
    let a = SimDaemon::start(&admin, "P1", "server-a", "linux", &["r"], &[]).await;
    let b = SimDaemon::start(&admin, "P1", "server-b", "linux", &["r"], &[]).await;
    let c = SimDaemon::start(&admin, "P2", "server-c", "linux", &["r"], &[]).await;
    let t1 = create(&hub, &["--project", "P1", "--title", "mine", "--repo", "r"]).await;
    let t2 = create(
        &hub,
        &["--project", "P1", "--title", "theirs", "--repo", "r"],
    )
    .await;
    let orch = create(
        &hub,
        &[
            "--project",
            "P1",
            "--title",
            "orchestrate",
            "--orchestrator",
        ],
    )
    .await;
    let other = create(
        &hub,
        &["--project", "P2", "--title", "elsewhere", "--repo", "r"],
    )
    .await;
    hub.cli(&[
        "task",
        "assign",
        &t1,
        "--session",
        "server-a",
        "--project",
        "P1",
    ])
    .await
    .ok();
    hub.cli(&[
        "task",
        "assign",
        &t2,
        "--session",
        "server-b",
        "--project",
        "P1",
    ])
    .await
    .ok();
    hub.cli(&[
        "task",
        "assign",
        &orch,
        "--session",
        "server-a",
        "--project",
        "P1",
    ])
    .await
    .ok();
    hub.cli(&[
        "task",
        "assign",
        &other,
        "--session",
        "server-c",
        "--project",
        "P2",
    ])
    .await
    .ok();
    let id = |r: &str, p: &str| {
        let hub = &hub;
        let (r, p) = (r.to_string(), p.to_string());
        async move {
            let v = hub
                .cli(&["task", "view", &r, "--project", &p, "--json"])
                .await
                .json();
            v["id"].as_str().map(str::to_string).unwrap_or_default()
        }
    };
    let (t1_id, t2_id, orch_id, other_id) = (
        id(&t1, "P1").await,
        id(&t2, "P1").await,
        id(&orch, "P1").await,
        id(&other, "P2").await,
    );
    let start = |d: &SimDaemon, task: &str| {
        let task: uuid::Uuid = task.parse().expect("uuid");
        d.start_for(task)
    };
    let _ = task_id;
    a.wait_for(10, "two session starts", |_| a.session_starts().len() >= 2)
        .await;
    let s1: SessionStart = start(&a, &t1_id).expect("T1 session");
    let so: SessionStart = start(&a, &orch_id).expect("orchestrator session");
    b.wait_for(10, "session start", |_| !b.session_starts().is_empty())
        .await;
    c.wait_for(10, "session start", |_| !c.session_starts().is_empty())
        .await;
    let reg = admin.registration_token("P1").await.expect("token").token;

    // No token, or a registration token, on every route of the OpenAPI document.
    let doc: Value = api.call(Method::GET, "/openapi.json", None, None).await.1;
    let public = ["/health", "/servers/register"];
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "patch", "delete"] {
            if item.get(method).is_none() || public.contains(&path.as_str()) {
                continue;
            }
            let concrete = path.replace("{id}", "00000000-0000-4000-8000-000000000000");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            refused(
                &format!("{method} {path} without a token"),
                api.call(m.clone(), &concrete, None, Some(json!({}))).await,
                401,
            );
            refused(
                &format!("{method} {path} with a registration token"),
                api.call(m, &concrete, Some(&reg), Some(json!({}))).await,
                401,
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 35,
        "only {checked} routes in the OpenAPI document"
    );
    for ws in ["/daemon/ws", "/console/ws"] {
        refused(ws, api.call(Method::GET, ws, None, None).await, 401);
    }

    // A server key sees only the tasks assigned to it.
    let ka = Some(a.api_key.as_str());
    assert_eq!(
        api.call(Method::GET, &format!("/tasks/{t1_id}"), ka, None)
            .await
            .0,
        200
    );
    refused(
        "server reads another server's task",
        api.call(Method::GET, &format!("/tasks/{t2_id}"), ka, None)
            .await,
        404,
    );
    refused(
        "server completes another server's task",
        api.call(
            Method::POST,
            &format!("/tasks/{t2_id}/complete"),
            ka,
            Some(json!({"result": {"summary": "x"}})),
        )
        .await,
        404,
    );
    refused(
        "server reads another project's task",
        api.call(Method::GET, &format!("/tasks/{other_id}"), ka, None)
            .await,
        404,
    );
    refused(
        "server creates a task",
        api.call(Method::POST, "/tasks", ka, Some(json!({"title": "x"})))
            .await,
        403,
    );
    refused(
        "server creates a project",
        api.call(Method::POST, "/projects", ka, Some(json!({"name": "x"})))
            .await,
        403,
    );
    refused(
        "server uses the console socket",
        api.call(Method::GET, "/console/ws", ka, None).await,
        403,
    );
    let listed = api.call(Method::GET, "/tasks", ka, None).await.1;
    let refs: Vec<&str> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["ref"].as_str())
        .collect();
    assert_eq!(refs, vec!["T1", "T3"], "server-a lists only its own tasks");

    // A session token acts on its own task only.
    let st = Some(s1.token.as_str());
    assert_eq!(
        api.call(Method::GET, &format!("/tasks/{t1_id}"), st, None)
            .await
            .0,
        200
    );
    refused(
        "session reads another task",
        api.call(Method::GET, &format!("/tasks/{t2_id}"), st, None)
            .await,
        404,
    );
    refused(
        "session completes another task",
        api.call(
            Method::POST,
            &format!("/tasks/{t2_id}/complete"),
            st,
            Some(json!({"result": {"summary": "x"}})),
        )
        .await,
        404,
    );
    refused(
        "session fails another task",
        api.call(
            Method::POST,
            &format!("/tasks/{t2_id}/fail"),
            st,
            Some(json!({"reason": "x"})),
        )
        .await,
        404,
    );
    refused(
        "session asks help on another task",
        api.call(
            Method::POST,
            &format!("/tasks/{t2_id}/help"),
            st,
            Some(json!({"question": "x"})),
        )
        .await,
        404,
    );
    for (m, path, body) in [
        (Method::POST, "/tasks".to_string(), json!({"title": "x"})),
        (
            Method::POST,
            format!("/tasks/{t1_id}/assign"),
            json!({"session": "server-b"}),
        ),
        (Method::POST, format!("/tasks/{t1_id}/cancel"), json!(null)),
        (Method::GET, "/servers".to_string(), json!(null)),
        (Method::POST, "/projects".to_string(), json!({"name": "x"})),
        (
            Method::POST,
            "/servers/tokens".to_string(),
            json!({"project": "P1"}),
        ),
        (
            Method::POST,
            "/servers/server-b/revoke".to_string(),
            json!(null),
        ),
        (
            Method::POST,
            format!("/tasks/{t1_id}/plan/approve"),
            json!(null),
        ),
        (
            Method::POST,
            "/interventions/T1/respond".to_string(),
            json!({"response": "x"}),
        ),
        (
            Method::POST,
            "/permissions/T1/allow".to_string(),
            json!(null),
        ),
        (Method::GET, "/permissions".to_string(), json!(null)),
        (
            Method::POST,
            "/sessions".to_string(),
            json!({"server_id": "server-a"}),
        ),
        (Method::GET, "/console/ws".to_string(), json!(null)),
    ] {
        refused(
            &format!("session token: {m} {path}"),
            api.call(m.clone(), &path, st, Some(body)).await,
            403,
        );
    }

    // An orchestrator session manages its own project, and nothing beyond it.
    let so_t = so.token.as_str();
    let env = [("ORCHESTRATIA_TASK_ID", orch_id.as_str())];
    let servers = hub
        .cli_as(so_t, &env, &["server", "list", "--json"])
        .await
        .json();
    let names: Vec<&str> = servers
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, vec!["server-a", "server-b"]);
    let made = hub
        .cli_as(
            so_t,
            &env,
            &[
                "task",
                "create",
                "--title",
                "by orchestrator",
                "--repo",
                "r",
                "--json",
            ],
        )
        .await
        .json();
    assert_eq!(made["project_id"], servers[0]["project_id"]);
    let out = hub
        .cli_as(
            so_t,
            &env,
            &["task", "create", "--title", "x", "--project", "P2"],
        )
        .await;
    assert!(out.fails(2).contains("project 'P2' not found"));
    refused(
        "orchestrator reads another project's task",
        api.call(Method::GET, &format!("/tasks/{other_id}"), Some(so_t), None)
            .await,
        404,
    );
    refused(
        "orchestrator approves a plan",
        api.call(
            Method::POST,
            &format!("/tasks/{t1_id}/plan/approve"),
            Some(so_t),
            None,
        )
        .await,
        403,
    );
    refused(
        "orchestrator creates an orchestrator",
        api.call(
            Method::POST,
            "/tasks",
            Some(so_t),
            Some(json!({"title": "o", "orchestrator": true})),
        )
        .await,
        403,
    );
    let listed = hub
        .cli_as(so_t, &env, &["task", "list", "--json"])
        .await
        .json();
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(4),
        "T1..T4 of P1 only: {listed}"
    );

    // A key of another project sees nothing of P1.
    refused(
        "other project's server",
        api.call(
            Method::GET,
            &format!("/tasks/{t1_id}"),
            Some(&c.api_key),
            None,
        )
        .await,
        404,
    );
}

on_both_backends!(roles);
