//! Every view drawn on ratatui's TestBackend at 80×24 and 160×48, from a fixed picture of the
//! seven-task pipeline in mid-run (T1 done, T2 running with a permission request, T3 waiting for
//! its plan's approval, T4 asking a question, T5–T7 blocked), compared with insta snapshots;
//! and the keys and clicks on each view. This file holds the fixture; one file per view.

mod cost;
mod diff;
mod frame;
mod graph;
mod inbox;
mod permissions;
mod servers;
mod sessions;
mod tasks;

use orchestratia_proto::ws::{Frame, FrameKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::console::app::{Action, App, View};
use crate::console::link::Msg;
use crate::console::model::Snapshot;

const NOW: &str = "2026-11-25T10:00:30.000Z";
const PROJECT: &str = "00000000-0000-0000-0000-0000000000aa";
const BACKEND: &str = "00000000-0000-0000-0000-0000000000b1";
const DESKTOP: &str = "00000000-0000-0000-0000-0000000000b2";

fn id(n: u32) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

fn at(sec: u32) -> String {
    format!("2026-11-25T10:00:{sec:02}.000Z")
}

fn task(n: u32, title: &str, status: &str, blocked: Option<&str>, server: Option<&str>) -> Value {
    json!({
        "id": id(n), "ref": format!("T{n}"), "number": n, "project_id": PROJECT,
        "title": title, "spec": format!("Do {title}."), "structured_spec": null,
        "priority": "medium", "repo": "api-gateway", "languages": ["rust"], "agent": null,
        "os": null, "require_plan_approval": false, "orchestrator": false, "keep_session": false,
        "status": status,
        "blocked": blocked.is_some(), "blocked_reason": blocked, "server": server,
        "server_id": server.map(|_| BACKEND), "phase": null, "result": null,
        "pipeline_key": null, "created_at": at(n), "updated_at": at(n),
    })
}

fn node(
    n: u32,
    title: &str,
    status: &str,
    blocked: bool,
    layer: i64,
    server: Option<&str>,
) -> Value {
    json!({
        "id": id(n), "ref": format!("T{n}"), "title": title, "status": status,
        "blocked": blocked, "blocked_reason": null, "server": server, "repo": null,
        "agent": null, "languages": [], "layer": layer, "phase": null,
    })
}

fn edge(from: u32, to: u32, key: Option<&str>, resolved: bool) -> Value {
    json!({
        "from": id(from), "to": id(to), "type": if key.is_some() { "input" } else { "blocks" },
        "contract_key": key, "resolved": resolved,
    })
}

fn session(n: u32, task: u32, status: &str, state: &str) -> Value {
    json!({
        "id": id(100 + n), "name": format!("orc-00000{n}"), "server_id": BACKEND,
        "server": "dev-backend", "task_id": id(task), "task": format!("T{task}"),
        "status": status, "pid": 4000 + n, "tmux": format!("orc-00000{n}"),
        "working_dir": "/srv/api-gateway", "exit_code": null, "state": state,
        "state_since": at(n), "waiting": state.starts_with("waiting"),
        "conversation_id": null, "started_at": at(n), "ended_at": null,
    })
}

fn snapshot() -> Snapshot {
    let server = |sid: &str, name: &str, status: &str, repos: Value, sessions: i64| {
        json!({
            "id": sid, "project_id": PROJECT, "name": name, "status": status, "os": "linux",
            "hostname": name, "repos": repos, "languages": ["rust"], "sessions": sessions,
            "last_heartbeat": at(20), "revoked": false, "created_at": at(0),
        })
    };
    let snap = json!({
        "projects": [{
            "id": PROJECT, "name": "E-Commerce Platform Rebuild", "budget": null, "usage": null,
            "created_at": at(0),
        }],
        "servers": [
            server(BACKEND, "dev-backend", "online",
                json!({"api-gateway": "/srv/a", "core-service": "/srv/c", "search-engine": "/srv/s"}), 3),
            server(DESKTOP, "dev-desktop", "offline", json!({"desktop-app": "/srv/d"}), 0),
        ],
        "tasks": [
            task(1, "Update API Schema v2.5", "done", None, Some("dev-backend")),
            task(2, "Gateway Integration", "running", None, Some("dev-backend")),
            task(3, "Search Engine v2", "planning", None, Some("dev-backend")),
            task(4, "Web Dashboard", "needs_human", None, Some("dev-backend")),
            task(5, "Gateway Tests", "pending", Some("waiting for T2 (running)"), None),
            task(6, "Staging Deploy", "pending", Some("waiting for T2 (running)"), None),
            task(7, "Desktop App Update", "pending", Some("waiting for T2 (running)"), None),
        ],
        "sessions": [
            session(1, 1, "ended", "ended"),
            session(2, 2, "active", "working"),
            session(3, 3, "active", "idle"),
            session(4, 4, "active", "waiting_permission"),
        ],
        "plans": [{
            "id": id(201), "task_id": id(3), "task_ref": "T3", "task_title": "Search Engine v2",
            "content": "1. Add the Order type to the index mapping.\n2. Reindex.", "status": "submitted",
            "feedback": null, "decided_by": null, "created_at": at(24), "decided_at": null,
            "delivered_at": null, "delivered_via": null,
        }],
        "permissions": [{
            "id": id(301), "task_id": id(2), "task_ref": "T2", "session_id": id(102),
            "tool_name": "Bash", "tool_input": {"command": "cargo test --workspace -- --nocapture"},
            "status": "pending", "reason": null, "decided_by": null, "created_at": at(26),
            "decided_at": null, "suggested": ["cargo test --workspace -- --nocapture"],
        }],
        "interventions": [{
            "id": id(401), "task_id": id(4), "task_ref": "T4", "task_title": "Web Dashboard",
            "question": "Currency symbol or ISO code?", "status": "pending", "response": null,
            "answered_by": null, "created_at": at(25), "answered_at": null,
            "delivered_at": null, "delivered_via": null,
        }],
        "graph": {
            "project_id": PROJECT, "project": "E-Commerce Platform Rebuild",
            "nodes": [
                node(1, "Update API Schema v2.5", "done", false, 0, Some("dev-backend")),
                node(2, "Gateway Integration", "running", false, 1, Some("dev-backend")),
                node(3, "Search Engine v2", "planning", false, 1, Some("dev-backend")),
                node(4, "Web Dashboard", "needs_human", false, 1, Some("dev-backend")),
                node(5, "Gateway Tests", "pending", true, 2, None),
                node(6, "Staging Deploy", "pending", true, 2, None),
                node(7, "Desktop App Update", "pending", true, 2, None),
            ],
            "edges": [
                edge(1, 2, Some("api_schema"), true), edge(1, 3, Some("api_schema"), true),
                edge(1, 4, Some("api_schema"), true), edge(2, 5, None, false),
                edge(2, 6, None, false), edge(3, 6, None, false), edge(4, 6, None, false),
                edge(2, 7, None, false),
            ],
            "layers": [],
            "phases": [
                {"phase": 1, "released": ["T1"], "trigger": "manual", "released_by": null, "completed": []},
                {"phase": 2, "released": ["T2", "T3", "T4"], "trigger": "cascade", "released_by": "T1", "completed": []},
            ],
            "all_done": false,
        },
    });
    let get = |k: &str| snap[k].clone();
    Snapshot {
        projects: serde_json::from_value(get("projects")).expect("projects"),
        servers: serde_json::from_value(get("servers")).expect("servers"),
        tasks: serde_json::from_value(get("tasks")).expect("tasks"),
        sessions: serde_json::from_value(get("sessions")).expect("sessions"),
        plans: serde_json::from_value(get("plans")).expect("plans"),
        permissions: serde_json::from_value(get("permissions")).expect("permissions"),
        interventions: serde_json::from_value(get("interventions")).expect("interventions"),
        graph: Some(serde_json::from_value(get("graph")).expect("graph")),
    }
}

fn app() -> App {
    let mut a = App::new(false);
    a.now = orchestratia_proto::time::parse_rfc3339(NOW).expect("now");
    a.on_msg(Msg::Connected);
    a.on_msg(Msg::Snapshot(Box::new(snapshot())));
    a
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| super::draw(f, app)).expect("draw");
    t
}

/// The terminal's text, a line per row.
fn text(t: &Terminal<TestBackend>) -> String {
    let b = t.backend().buffer();
    (0..b.area.height)
        .map(|y| {
            (0..b.area.width)
                .map(|x| b[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn snap_view(view: View, name: &str) {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = app();
        a.on_key(key(KeyCode::Char(
            (b'1' + View::ALL.iter().position(|v| *v == view).unwrap_or(0) as u8) as char,
        )));
        let t = render(&a, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}
