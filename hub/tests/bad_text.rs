//! Text the database cannot store (a NUL character, invalid UTF-8) is refused at the edge with
//! a 400 wherever it comes in (path segment, query parameter, JSON body), on both backends,
//! and nothing is stored.

mod common;

use orchestratia_testkit::{Backend, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The tasks and the event log as the admin sees them.
async fn snapshot(http: &reqwest::Client, hub: &TestHub) -> (Value, Value) {
    let get = |path: &str| {
        http.get(format!("{}/api/v1{path}", hub.url))
            .bearer_auth(&hub.admin_token)
            .send()
    };
    let tasks = get("/tasks")
        .await
        .expect("tasks")
        .json()
        .await
        .expect("json");
    let events = get("/events?limit=10000")
        .await
        .expect("events")
        .json::<Value>()
        .await
        .expect("json")["events"]
        .clone();
    (tasks, events)
}

async fn bad_text(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    hub.cli(&["task", "create", "--title", "one"]).await.ok();
    let http = reqwest::Client::new();
    let nul = "\u{0}";
    let cases: Vec<(&str, Method, String, Option<Value>)> = vec![
        (
            "project name",
            Method::POST,
            "/projects".into(),
            Some(json!({"name": format!("Q{nul}")})),
        ),
        (
            "task title",
            Method::POST,
            "/tasks".into(),
            Some(json!({"title": format!("t{nul}"), "project": "P"})),
        ),
        (
            "spec",
            Method::POST,
            "/tasks".into(),
            Some(json!({"title": "t", "project": "P", "spec": format!("a{nul}b")})),
        ),
        (
            "structured spec",
            Method::POST,
            "/tasks".into(),
            Some(json!({"title": "t", "project": "P", "structured_spec": {"k": nul}})),
        ),
        (
            "key in JSON",
            Method::POST,
            "/tasks".into(),
            Some(json!({"title": "t", "project": "P", "structured_spec": {nul: 1}})),
        ),
        (
            "task update",
            Method::PATCH,
            "/tasks/T1".into(),
            Some(json!({"title": format!("x{nul}")})),
        ),
        (
            "assign target",
            Method::POST,
            "/tasks/T1/assign".into(),
            Some(json!({"server": format!("a{nul}")})),
        ),
        (
            "note",
            Method::POST,
            "/tasks/T1/notes".into(),
            Some(json!({"text": format!("n{nul}")})),
        ),
        (
            "contract data",
            Method::POST,
            "/tasks/T1/complete".into(),
            Some(json!({"result": {"summary": "s"}, "contracts": {"k": {"x": nul}}})),
        ),
        ("path segment", Method::GET, "/tasks/T1%00".into(), None),
        (
            "path segment (project)",
            Method::GET,
            "/projects/P%00/graph".into(),
            None,
        ),
        (
            "path segment (cancel)",
            Method::POST,
            "/tasks/T1%00/cancel".into(),
            None,
        ),
        (
            "query parameter",
            Method::GET,
            "/events?task=T1%00".into(),
            None,
        ),
        (
            "query parameter (project)",
            Method::GET,
            "/tasks?project=P%00".into(),
            None,
        ),
        (
            "invalid UTF-8 path",
            Method::GET,
            "/projects/%FF%FE".into(),
            None,
        ),
        (
            "invalid UTF-8 query",
            Method::GET,
            "/events?project=%C3%28".into(),
            None,
        ),
    ];
    let before = snapshot(&http, &hub).await;
    for (what, method, path, body) in cases {
        let mut req = http
            .request(method, format!("{}/api/v1{path}", hub.url))
            .bearer_auth(&hub.admin_token);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: {text}"));
        assert_eq!(v["error"], "bad_request", "{what}: {text}");
        assert_eq!(
            snapshot(&http, &hub).await,
            before,
            "{what} changed stored state"
        );
    }
    // The six characters `\u0000` (an escaped backslash) are text like any other.
    let resp = http
        .post(format!("{}/api/v1/tasks", hub.url))
        .bearer_auth(&hub.admin_token)
        .json(&json!({"title": "literal \\u0000", "project": "P"}))
        .send()
        .await
        .expect("send");
    assert!(
        resp.status().is_success(),
        "{}",
        resp.text().await.unwrap_or_default()
    );
}

on_both_backends!(bad_text);
