//! Output chunks exactly once across a daemon's reconnect: the hub acknowledges what it
//! stored (`output_stored`); chunks a daemon sends again after a reconnect (it had no word
//! of them yet) are stored once, and a watching console sees each once, in order.

mod common;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use orchestratia_proto::ws::{
    ConsoleToHub, Frame, FrameKind, HubToConsole, HubToDaemon, RunningSession,
};
use orchestratia_testkit::daemon::SimOptions;
use orchestratia_testkit::{Backend, ConsoleWs, HubOptions, SimDaemon, TestHub};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

/// Chunk `seq`'s bytes: each differs in content and length.
fn data(seq: u64) -> Vec<u8> {
    format!("chunk {seq}: {}\r\n", "x".repeat(seq as usize)).into_bytes()
}

fn output(session: Uuid, seq: u64) -> Frame {
    Frame {
        kind: FrameKind::Output,
        session_id: session,
        seq,
        data: data(seq),
    }
}

/// Reads the console's binary frames until output chunk `last` arrived.
async fn frames_until(console: &mut ConsoleWs, last: u64) -> Vec<(FrameKind, u64)> {
    let mut got = Vec::new();
    while !got.contains(&(FrameKind::Output, last)) {
        match tokio::time::timeout(Duration::from_secs(10), console.next())
            .await
            .expect("frames arrive")
        {
            Some(Ok(Message::Binary(b))) => {
                let f = Frame::decode(&b).expect("frame");
                got.push((f.kind, f.seq));
            }
            Some(Ok(_)) => {}
            other => panic!("console closed: {other:?}"),
        }
    }
    got
}

async fn chunks_once(backend: Backend) {
    let Some(hub) = TestHub::start_with(HubOptions {
        backend,
        ..HubOptions::default()
    })
    .await
    else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    let admin = hub.admin();
    let d = SimDaemon::start(&admin, "P", "dev", "linux", &["app"], &["rust"]).await;
    let sid = d.started(&admin, "P", "chunks", false).await.session_id;

    let mut console = orchestratia_testkit::connect_console(&admin).await;
    match console.next().await {
        Some(Ok(Message::Text(t))) => assert!(matches!(
            serde_json::from_str::<HubToConsole>(t.as_str()),
            Ok(HubToConsole::Hello { .. })
        )),
        other => panic!("no hello: {other:?}"),
    }
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
    d.send_frame(&Frame {
        kind: FrameKind::Keyframe,
        session_id: sid,
        seq: 0,
        data: b"\x1b[H\x1b[2J".to_vec(),
    });
    for seq in 1..=5 {
        d.send_frame(&output(sid, seq));
    }
    d.wait_stored(10, sid, 5).await;
    assert_eq!(d.stored(sid), Some(5), "nothing past what was sent");
    let first = frames_until(&mut console, 5).await;

    // The daemon reconnects and sends chunks 3..=5 again (as if their acknowledgement was
    // lost with the connection), then new ones.
    let (server_id, key) = (d.server_id, d.api_key.clone());
    d.disconnect().await;
    let running = vec![RunningSession {
        session_id: sid,
        tmux: None,
        pid: None,
    }];
    let d = SimDaemon::connect(
        admin.base(),
        "dev",
        server_id,
        &key,
        running,
        SimOptions::default(),
    )
    .await
    .expect("reconnect");
    for seq in 3..=8 {
        d.send_frame(&output(sid, seq));
    }
    d.wait_stored(10, sid, 8).await;
    let second = frames_until(&mut console, 8).await;

    let mut seen = first;
    seen.extend(second);
    let mut expected = vec![(FrameKind::Keyframe, 0)];
    expected.extend((1..=8).map(|s| (FrameKind::Output, s)));
    assert_eq!(seen, expected, "each chunk once, in order");

    let stored = admin
        .recording_all(&sid.to_string())
        .await
        .expect("recording");
    let outputs: Vec<_> = stored.iter().filter(|c| !c.keyframe).collect();
    assert_eq!(
        outputs.iter().map(|c| c.seq).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>(),
        "the recording holds each chunk once"
    );
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes: Vec<u8> = outputs
        .iter()
        .flat_map(|c| engine.decode(&c.data).expect("base64"))
        .collect();
    let expected: Vec<u8> = (1..=8).flat_map(data).collect();
    assert_eq!(bytes.len(), expected.len(), "the byte count matches");
    assert_eq!(bytes, expected);
}

on_both_backends!(chunks_once);
