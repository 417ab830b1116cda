//! Output chunks exactly once across a daemon's reconnect: the hub acknowledges what it
//! stored (`output_stored`); chunks a daemon sends again after a reconnect (it had no word
//! of them yet) are stored once, and a watching console sees each once, in order.

mod common;

use orchestratia_proto::client::HubClient;
use orchestratia_proto::ws::{Frame, FrameKind, HubToDaemon, RunningSession};
use orchestratia_testkit::daemon::SimOptions;
use orchestratia_testkit::{
    Backend, Console, ConsoleMsg, HubOptions, SimDaemon, TestCluster, TestHub,
};
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

/// Reads the console until output chunk `last` arrived.
async fn until_chunk(console: &mut Console, last: u64) {
    console
        .wait_for(10, &format!("output chunk {last}"), |m| {
            matches!(m, ConsoleMsg::Frame(f) if f.kind == FrameKind::Output && f.seq == last)
                .then_some(())
        })
        .await
}

/// A console (through `admin`'s hub) watching `sid`, and the keyframe it waits for sent.
async fn watch(admin: &HubClient, d: &SimDaemon, sid: Uuid) -> Console {
    let mut console = Console::connect(admin).await;
    console.subscribe(sid).await;
    d.wait_for(
        10,
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
    console
}

/// Chunks 1..=5 sent and acknowledged; the daemon reconnects (to `base`) and sends 3..=5
/// again (as if their acknowledgement was lost with the connection), then 6..=8. The console
/// sees each once, in order. The daemon, reconnected.
async fn send_again_after_reconnect(
    d: SimDaemon,
    console: &mut Console,
    sid: Uuid,
    base: &str,
) -> SimDaemon {
    for seq in 1..=5 {
        d.send_frame(&output(sid, seq));
    }
    d.wait_stored(10, sid, 5).await;
    assert_eq!(d.stored(sid), Some(5), "nothing past what was sent");
    until_chunk(console, 5).await;
    let d = reconnect(d, base, sid).await;
    for seq in 3..=8 {
        d.send_frame(&output(sid, seq));
    }
    d.wait_stored(10, sid, 8).await;
    until_chunk(console, 8).await;
    let seen: Vec<(FrameKind, u64)> = console
        .frames(sid)
        .iter()
        .map(|f| (f.kind, f.seq))
        .collect();
    assert_eq!(seen, once_in_order(8), "each chunk once, in order");
    d
}

/// The daemon's connection again (to `base`), still running `sid`.
async fn reconnect(d: SimDaemon, base: &str, sid: Uuid) -> SimDaemon {
    let (server_id, key, name) = (d.server_id, d.api_key.clone(), d.name.clone());
    d.disconnect().await;
    let running = vec![RunningSession {
        session_id: sid,
        tmux: None,
        pid: None,
    }];
    SimDaemon::connect(base, &name, server_id, &key, running, SimOptions::default())
        .await
        .expect("reconnect")
}

/// The stored recording holds output chunks 1..=`last` once each, with their bytes.
async fn recorded_once(admin: &HubClient, sid: Uuid, last: u64) {
    let stored = admin
        .recording_all(&sid.to_string())
        .await
        .expect("recording");
    let outputs: Vec<_> = stored.iter().filter(|c| !c.keyframe).collect();
    assert_eq!(
        outputs.iter().map(|c| c.seq).collect::<Vec<_>>(),
        (1..=last).collect::<Vec<_>>(),
        "the recording holds each chunk once"
    );
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes: Vec<u8> = outputs
        .iter()
        .flat_map(|c| engine.decode(&c.data).expect("base64"))
        .collect();
    let expected: Vec<u8> = (1..=last).flat_map(data).collect();
    assert_eq!(bytes.len(), expected.len(), "the byte count matches");
    assert_eq!(bytes, expected);
}

/// Each output chunk 1..=`last` once, in order, after the keyframe.
fn once_in_order(last: u64) -> Vec<(FrameKind, u64)> {
    let mut expected = vec![(FrameKind::Keyframe, 0)];
    expected.extend((1..=last).map(|s| (FrameKind::Output, s)));
    expected
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

    let mut console = watch(&admin, &d, sid).await;
    let _d = send_again_after_reconnect(d, &mut console, sid, admin.base()).await;
    recorded_once(&admin, sid, 8).await;
}

on_both_backends!(chunks_once);

/// Two replicas: the daemon on r0, the console on r1 (output passed between replicas); the
/// daemon moves to r1 and sends its last chunks again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_once_across_replicas() {
    let Some(cluster) = TestCluster::with_project(2, "P").await else {
        return;
    };
    let (a0, a1) = (cluster.admin(0), cluster.admin(1));
    let d = SimDaemon::start(&a0, "P", "dev", "linux", &["app"], &["rust"]).await;
    let sid = d.started(&a0, "P", "chunks", false).await.session_id;
    let mut console = watch(&a1, &d, sid).await;
    let _d = send_again_after_reconnect(d, &mut console, sid, a1.base()).await;
    recorded_once(&a1, sid, 8).await;
}
