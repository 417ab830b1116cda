//! Clients that stop reading cannot pin the hub's memory: a daemon's `hello` may list only so
//! many sessions, a daemon's outgoing queue is bounded (overflowing it drops the connection),
//! and a socket whose writes do not complete within the send timeout is dropped — while the
//! hub keeps answering REST. Settings reach the hub through its environment.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use orchestratia_proto::api::CreateSession;
use orchestratia_proto::ws::{
    ConsoleToHub, DAEMON_WS_PATH, DaemonToHub, Frame, FrameKind, HubToDaemon, RunningSession,
};
use orchestratia_testkit::{
    Backend, ConsoleWs, HubOptions, SimDaemon, TestHub, connect_console, daemon,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

/// A 64 KiB frame payload: a flood of these outgrows the loopback socket buffers quickly.
const BIG: usize = 64 * 1024;

async fn hub_with(env: &[(&str, &str)], offline_after: Duration) -> TestHub {
    TestHub::start_with(HubOptions {
        backend: Backend::Sqlite,
        offline_after,
        args: vec!["--max-session-mib".into(), "4".into()],
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..HubOptions::default()
    })
    .await
    .expect("hub starts")
}

/// A daemon socket played by hand (it reads only when the test says so); returns its server id.
async fn raw_daemon(hub: &TestHub, name: &str) -> (Uuid, ConsoleWs) {
    let admin = hub.admin();
    let reg = daemon::register(&admin, "P", name, "linux", &[], &[]).await;
    let client = hub.client(Some(&reg.api_key));
    let mut req = client
        .ws_url(DAEMON_WS_PATH)
        .into_client_request()
        .expect("request");
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", reg.api_key).parse().expect("header"),
    );
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("daemon connects");
    (reg.server_id, ws)
}

async fn send_hello(ws: &mut ConsoleWs, sessions: usize) {
    let hello = DaemonToHub::Hello {
        version: "test".into(),
        sessions: (0..sessions)
            .map(|_| RunningSession {
                session_id: Uuid::now_v7(),
                tmux: None,
                pid: None,
            })
            .collect(),
    };
    let text = serde_json::to_string(&hello).expect("json");
    ws.send(Message::Text(text.into())).await.expect("hello");
}

/// Reads everything the socket still holds; true when the hub ended the connection within
/// `secs` seconds (a close frame, an error or the end of the stream), false when it stays open.
async fn ends_within(ws: &mut ConsoleWs, secs: u64) -> bool {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .is_ok()
}

async fn create_session(hub: &TestHub, server: &str) -> Uuid {
    hub.admin()
        .create_session(&CreateSession {
            server_id: server.into(),
            task_id: None,
            working_dir: None,
        })
        .await
        .expect("session")
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hello_listing_too_many_sessions_is_refused() {
    let hub = hub_with(
        &[("ORCHESTRATIA_MAX_HELLO_SESSIONS", "100")],
        Duration::from_secs(3),
    )
    .await;
    hub.cli(&["project", "create", "P"]).await.ok();
    let (_, mut ws) = raw_daemon(&hub, "greedy").await;
    send_hello(&mut ws, 101).await;
    let mut refusal = None;
    let mut close = None;
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = ws.next().await {
            match m {
                Message::Text(t) => {
                    if let Ok(HubToDaemon::Error { error, detail }) =
                        serde_json::from_str::<HubToDaemon>(t.as_str())
                    {
                        refusal = Some((error, detail));
                    }
                }
                Message::Close(f) => {
                    close = Some(f.map(|f| f.reason.to_string()).unwrap_or_default());
                    break;
                }
                _ => {}
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the hub kept the over-long hello's socket open"
    );
    let (error, detail) = refusal.expect("an error message before the close");
    assert_eq!(error, "too_large");
    assert!(
        detail.contains("101") && detail.contains("100"),
        "the error says how many and the bound: {detail}"
    );
    let close = close.expect("a close frame");
    assert!(close.contains("100"), "the close reason: {close}");

    // At the bound it is accepted: each unknown session is told to stop, and it stays connected.
    let (_, mut ws) = raw_daemon(&hub, "modest").await;
    send_hello(&mut ws, 100).await;
    let mut stops = 0;
    while stops < 100 {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("replies to the hello");
        match m {
            Some(Ok(Message::Text(t))) => {
                if matches!(
                    serde_json::from_str::<HubToDaemon>(t.as_str()),
                    Ok(HubToDaemon::SessionStop { .. })
                ) {
                    stops += 1;
                }
            }
            other => panic!("the hub closed an acceptable hello: {other:?}"),
        }
    }
    assert!(hub.admin().servers().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_that_stops_reading_is_dropped_after_the_send_timeout() {
    let hub = hub_with(
        &[("ORCHESTRATIA_WS_SEND_TIMEOUT", "1s")],
        Duration::from_secs(3),
    )
    .await;
    hub.cli(&["project", "create", "P"]).await.ok();
    let admin = hub.admin();
    let d = SimDaemon::start(&admin, "P", "busy", "linux", &[], &[]).await;
    let sid = create_session(&hub, "busy").await;
    let mut console = connect_console(&admin).await;
    let sub = serde_json::to_string(&ConsoleToHub::Subscribe { session_id: sid }).expect("json");
    console
        .send(Message::Text(sub.into()))
        .await
        .expect("subscribe");
    d.wait_for(
        10,
        "keyframe request",
        |m| matches!(m, HubToDaemon::KeyframeRequest { session_id } if *session_id == sid),
    )
    .await;
    // The console never reads while the session floods it with screens.
    for seq in 0..480u64 {
        d.send_frame(&Frame {
            kind: FrameKind::Keyframe,
            session_id: sid,
            seq,
            data: vec![b'x'; BIG],
        });
        if seq % 32 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(admin.servers().await.is_ok(), "the hub answers REST");
    assert!(
        ends_within(&mut console, 30).await,
        "a console that did not read for longer than the send timeout is still connected"
    );
    assert!(admin.servers().await.is_ok(), "the hub answers REST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_whose_queue_overflows_is_dropped() {
    // A long send timeout: only the bounded queue can drop this daemon within the test.
    let hub = hub_with(
        &[
            ("ORCHESTRATIA_DAEMON_QUEUE", "64"),
            ("ORCHESTRATIA_MAX_HELLO_SESSIONS", "16"),
            ("ORCHESTRATIA_WS_SEND_TIMEOUT", "10min"),
        ],
        Duration::from_secs(600),
    )
    .await;
    hub.cli(&["project", "create", "P"]).await.ok();
    let (_, mut daemon_ws) = raw_daemon(&hub, "deaf").await;
    send_hello(&mut daemon_ws, 0).await;
    let admin = hub.admin();
    orchestratia_testkit::wait_online(&admin, "deaf").await;
    let sid = create_session(&hub, "deaf").await;
    // A console types into the session faster than the daemon (which never reads) takes it.
    let mut console = connect_console(&admin).await;
    for seq in 0..480u64 {
        let f = Frame {
            kind: FrameKind::Input,
            session_id: sid,
            seq,
            data: vec![b'y'; BIG],
        };
        console
            .send(Message::Binary(f.encode().into()))
            .await
            .expect("input");
    }
    assert!(admin.servers().await.is_ok(), "the hub answers REST");
    assert!(
        ends_within(&mut daemon_ws, 30).await,
        "a daemon whose queue overflowed is still connected"
    );
    assert!(admin.servers().await.is_ok(), "the hub answers REST");
}
