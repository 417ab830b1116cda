//! The live parts over the real WebSockets: heartbeats and offline detection, the console
//! stream (keyframe first, then numbered chunks; input and resize back to the daemon), screens,
//! capability matching against an offline server, and an agent that exits without completing.

mod common;

use std::time::Duration;

use common::{create, task_id};
use futures_util::{SinkExt, StreamExt};
use orchestratia_proto::ws::{
    ConsoleToHub, DaemonToHub, Frame, FrameKind, HubToConsole, HubToDaemon,
};
use orchestratia_testkit::{Backend, HubOptions, SimDaemon, TestHub, eventually};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

async fn server_status(hub: &TestHub, name: &str) -> String {
    let list = hub.cli(&["server", "list", "--json"]).await.json();
    list.as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == name)
        .and_then(|s| s["status"].as_str().map(String::from))
        .unwrap_or_default()
}

async fn live(backend: Backend) {
    let Some(hub) = TestHub::start_with(HubOptions {
        backend,
        heartbeat: Duration::from_millis(200),
        offline_after: Duration::from_millis(1500),
        ..HubOptions::default()
    })
    .await
    else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    let admin = hub.admin();
    let d = SimDaemon::start(
        &admin,
        "P",
        "dev-backend",
        "linux",
        &["api-gateway"],
        &["rust"],
    )
    .await;
    let desk = SimDaemon::start(&admin, "P", "dev-desktop", "windows", &["desktop-app"], &[]).await;
    let hubsrv = SimDaemon::start(&admin, "P", "hub-server", "linux", &["infra"], &["rust"]).await;
    eventually(10, "online", || async {
        (server_status(&hub, "dev-backend").await == "online").then_some(())
    })
    .await;

    // Heartbeats keep it online past the offline bound; silence takes it offline.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(server_status(&hub, "dev-backend").await, "online");
    desk.disconnect().await;
    eventually(10, "dev-desktop offline", || async {
        (server_status(&hub, "dev-desktop").await == "offline").then_some(())
    })
    .await;
    // On PostgreSQL an event is listed once every transaction older than it has ended
    // (the commit-safe cursor), which may be a moment after the status changed.
    eventually(10, "server_offline listed", || async {
        let log = hub
            .cli(&["events", "--kind", "server_offline", "--json"])
            .await
            .json();
        (log["events"][0]["details"]["server"] == "dev-desktop").then_some(())
    })
    .await;

    // Workflow 5: the offline server and the one without the repo are disqualified, with
    // reasons.
    let t = create(
        &hub,
        &[
            "--title",
            "gateway",
            "--repo",
            "api-gateway",
            "--lang",
            "rust",
        ],
    )
    .await;
    let e = hub.cli(&["task", "explain", &t, "--json"]).await.json();
    assert_eq!(e["winner"], "dev-backend");
    let cand = |name: &str| {
        e["candidates"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["server"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        cand("dev-backend")["score"],
        255 - 5,
        "no recent successes yet"
    );
    assert_eq!(
        cand("dev-desktop")["disqualified"],
        "offline; missing repo api-gateway"
    );
    assert_eq!(
        cand("hub-server")["disqualified"],
        "missing repo api-gateway"
    );
    let text = hub.cli(&["task", "explain", &t]).await;
    assert!(
        text.ok().contains("WINNER") && text.ok().contains("DISQUALIFIED: offline"),
        "{}",
        text.stdout
    );
    drop(hubsrv);

    // A console watches the session: keyframe first, then the chunks after it.
    hub.cli(&["task", "assign", &t, "--session", "dev-backend"])
        .await
        .ok();
    let start = d.wait_start(10, task_id(&hub, &t).await).await;
    let sid = start.session_id;
    let mut console = orchestratia_testkit::connect_console(&hub.admin()).await;
    let hello = next_text(&mut console).await;
    assert!(matches!(hello, HubToConsole::Hello { .. }));
    let sub = serde_json::to_string(&ConsoleToHub::Subscribe { session_id: sid }).expect("json");
    console
        .send(Message::Text(sub.into()))
        .await
        .expect("subscribe");
    d.wait_for(
        5,
        "keyframe request",
        |m| matches!(m, HubToDaemon::KeyframeRequest { session_id } if *session_id == sid),
    )
    .await;
    let frame = |kind, seq, data: &str| Frame {
        kind,
        session_id: sid,
        seq,
        data: data.as_bytes().to_vec(),
    };
    d.send_frame(&frame(FrameKind::Output, 1, "before the keyframe"));
    d.send_frame(&frame(
        FrameKind::Keyframe,
        1,
        "\x1b[H\x1b[2Jscreen at seq 1",
    ));
    d.send_frame(&frame(FrameKind::Output, 2, "chunk two"));
    d.send_frame(&frame(FrameKind::Output, 3, "chunk three"));
    let mut got = Vec::new();
    while got.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(10), console.next())
            .await
            .expect("frames arrive")
        {
            Some(Ok(Message::Binary(b))) => got.push(Frame::decode(&b).expect("frame")),
            Some(Ok(_)) => {}
            other => panic!("console closed: {other:?}"),
        }
    }
    assert_eq!(
        got.iter().map(|f| (f.kind, f.seq)).collect::<Vec<_>>(),
        vec![
            (FrameKind::Keyframe, 1),
            (FrameKind::Output, 2),
            (FrameKind::Output, 3)
        ]
    );

    // Keys and resizes go back to the daemon.
    console
        .send(Message::Binary(
            frame(FrameKind::Input, 0, "ls\r").encode().into(),
        ))
        .await
        .expect("input");
    let resize = serde_json::to_string(&ConsoleToHub::Resize {
        session_id: sid,
        cols: 120,
        rows: 40,
    })
    .expect("json");
    console
        .send(Message::Text(resize.into()))
        .await
        .expect("resize");
    d.wait_for(5, "resize", |m| {
        matches!(
            m,
            HubToDaemon::SessionResize {
                cols: 120,
                rows: 40,
                ..
            }
        )
    })
    .await;
    eventually(5, "input frame", || async {
        d.frames()
            .iter()
            .find(|f| f.kind == FrameKind::Input && f.data == b"ls\r")
            .map(|_| ())
    })
    .await;

    // Screens and events reach the console as they happen.
    d.send(&DaemonToHub::SessionScreen {
        session_id: sid,
        lines: vec!["$ cargo test".into(), "12/12 pass".into()],
        cols: 80,
        rows: 24,
    });
    hub.cli(&["task", "note", "--id", &t, "watching"])
        .await
        .ok();
    let mut saw_screen = false;
    let mut saw_note = false;
    while !(saw_screen && saw_note) {
        match next_text(&mut console).await {
            HubToConsole::SessionScreen { lines, .. } => {
                saw_screen |= lines.iter().any(|l| l == "12/12 pass")
            }
            HubToConsole::Event { event } => saw_note |= event.event.as_str() == "task_note_added",
            _ => {}
        }
    }
    let bad = serde_json::to_string(&ConsoleToHub::Subscribe {
        session_id: uuid::Uuid::new_v4(),
    })
    .expect("json");
    console.send(Message::Text(bad.into())).await.expect("send");
    loop {
        if let HubToConsole::SessionUnavailable { reason, .. } = next_text(&mut console).await {
            assert_eq!(reason, "no such session");
            break;
        }
    }

    // The agent exits without completing: the task fails with the last screen as the reason.
    d.send(&DaemonToHub::SessionEnded {
        session_id: sid,
        exit_code: Some(3),
        last_screen: Some("panic: out of disk\n".into()),
        reason: None,
    });
    let v = eventually(10, "failed", || async {
        let v = hub.cli(&["task", "view", &t, "--json"]).await.json();
        (v["status"] == "failed").then_some(v)
    })
    .await;
    let reason = v["result"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("exited (code 3)") && reason.contains("panic: out of disk"),
        "{reason}"
    );
    let sessions = hub.cli(&["session", "list", "--json"]).await.json();
    assert_eq!(sessions[0]["status"], "ended");
    assert_eq!(sessions[0]["state"], "ended");
    let stale = hub.cli_as(&start.token, &[], &["task", "view", &t]).await;
    assert_eq!(
        stale.code, 1,
        "an ended session's token is revoked: {}",
        stale.stderr
    );

    // The OpenAPI document names the routes.
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", hub.url))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    for p in [
        "/tasks",
        "/tasks/{id}/complete",
        "/servers/register",
        "/interventions/{id}/respond",
        "/events",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from the OpenAPI document"
        );
    }
}

async fn next_text<S>(ws: &mut S) -> HubToConsole
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message arrives")
        {
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(t.as_str()).expect("console message");
            }
            Some(Ok(_)) => {}
            other => panic!("console closed: {other:?}"),
        }
    }
}

on_both_backends!(live);
