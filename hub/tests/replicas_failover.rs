//! A replica dies (SIGKILL) in the middle of the work: a real daemon streaming a session moves
//! to the next replica of its URL list with no line lost or repeated, for the console watching
//! on a third replica and in the stored recording; and a worker blocked on a question moves
//! to the next replica of its list and gets the answer given there. Skipped (with a reason)
//! where PostgreSQL or tmux is missing, except in CI.

use std::process::Stdio;
use std::time::Duration;

use orchestratia_proto::api::CreateTask;
use orchestratia_proto::ws::FrameKind;
use orchestratia_proto::{SessionStatus, TaskStatus};
use orchestratia_testkit::agent::tmux_available;
use orchestratia_testkit::{
    CliOutput, Console, ConsoleMsg, DaemonOptions, SimDaemon, TestCluster, TestDaemon, bin,
    eventually, have, wait_online,
};
use tokio::process::Command;

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

/// How many numbered lines the worker prints (one every half second).
const TICKS: u64 = 24;

/// Three replicas (heartbeat 300 ms, offline after 3 s) with project P, or `None` to skip.
async fn cluster() -> Option<TestCluster> {
    TestCluster::with_project(3, "P").await
}

/// The numbers of the `tick N` lines in `text`, in order (a line ends with `\r` or `\n`).
fn ticks(text: &str) -> Vec<u64> {
    text.split("tick ")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let ended = rest[digits.len()..].starts_with(['\r', '\n']);
            (ended && !digits.is_empty())
                .then(|| digits.parse().ok())
                .flatten()
        })
        .collect()
}

/// Kill -9 of the replica a real daemon streams to: it moves on, and the stream watched on
/// another replica, like the stored recording, has every line exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_daemon_moves_on_when_its_replica_dies() {
    if !have("tmux", tmux_available()) {
        return;
    }
    let Some(mut cluster) = cluster().await else {
        return;
    };
    let c = cluster.admin(C);
    let daemon = TestDaemon::start_at(
        &cluster.urls_of(&[A, B]),
        &cluster.admin(A),
        DaemonOptions {
            repos: &["app"],
            ..Default::default()
        },
    )
    .await;
    wait_online(&c, "dev-01").await;
    let t = c
        .create_task(&CreateTask {
            title: "counting".into(),
            project: Some("P".into()),
            repo: Some("app".into()),
            spec: format!("worker: ticks {TICKS}"),
            ..Default::default()
        })
        .await
        .expect("create task");
    c.assign(&t.id.to_string(), "dev-01").await.expect("assign");
    let session = eventually(20, "the session running", || async {
        let v = c.task(&t.id.to_string()).await.ok()?;
        v.sessions
            .iter()
            .find(|s| s.status == SessionStatus::Active)
            .map(|s| (s.id, s.name.clone()))
    })
    .await;
    let (sid, name) = session;

    let mut console = Console::connect(&c).await;
    console.subscribe(sid).await;
    let seen_tick = |console: &Console, n: u64| ticks(&console.output_text(sid)).contains(&n);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !seen_tick(&console, 3) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "tick 3 never reached the console on C: {:?}\n{}",
            console.summary(),
            daemon.log()
        );
        console.next(Duration::from_millis(200)).await;
    }

    cluster.kill(A).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !seen_tick(&console, TICKS) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream stopped after A died: {:?}\n{}",
            console.summary(),
            daemon.log()
        );
        console.next(Duration::from_millis(200)).await;
    }
    console.drain(Duration::from_secs(1)).await;
    // The daemon is held by B now (each replica reports what it holds every second).
    eventually(10, "B holding the daemon", || async {
        let status = c.status().await.ok()?;
        status
            .replicas
            .iter()
            .any(|r| r.id == "r1" && r.alive && r.daemons == 1)
            .then_some(())
    })
    .await;

    // On the console: output numbered without gaps or repeats, and every line once, with
    // the lines before the first output in the keyframe.
    let frames = console.frames(sid);
    let seqs: Vec<u64> = frames
        .iter()
        .skip_while(|f| f.kind != FrameKind::Keyframe)
        .filter(|f| f.kind == FrameKind::Output)
        .map(|f| f.seq)
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "output seqs without gap or repeat: {seqs:?}"
    );
    let shown = ticks(&console.output_text(sid));
    let first = shown.first().copied().unwrap_or(1);
    let expected: Vec<u64> = (first..=TICKS).collect();
    assert_eq!(shown, expected, "every line after the keyframe, once");
    let in_keyframe = frames
        .iter()
        .find(|f| f.kind == FrameKind::Keyframe)
        .map(|f| ticks(&String::from_utf8_lossy(&f.data)))
        .unwrap_or_default();
    let before = in_keyframe.iter().max().copied().unwrap_or(0);
    assert!(
        first <= before + 1,
        "the keyframe shows up to tick {before}, the output starts at tick {first}"
    );

    // In the recording: every chunk once, every line once.
    cluster.wait_status(C, t.id, TaskStatus::Done, 60).await;
    let chunks = c.recording_all(&name).await.expect("recording");
    let out: Vec<_> = chunks.iter().filter(|ch| !ch.keyframe).collect();
    let numbers: Vec<u64> = out.iter().map(|ch| ch.seq).collect();
    let expected: Vec<u64> = (1..=numbers.len() as u64).collect();
    assert_eq!(numbers, expected, "no chunk lost or stored twice");
    let text: String = out
        .iter()
        .map(|ch| String::from_utf8_lossy(&ch.bytes()).into_owned())
        .collect();
    let expected: Vec<u64> = (1..=TICKS).collect();
    assert_eq!(ticks(&text), expected, "every line once in the recording");
    assert!(
        !console
            .seen
            .iter()
            .any(|m| matches!(m, ConsoleMsg::Frame(f) if f.session_id != sid)),
        "only the watched session streams"
    );
}

/// A worker blocked on a question through A (its list "A,C") gets the answer given on C
/// after A died.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_question_survives_its_replica() {
    let Some(mut cluster) = cluster().await else {
        return;
    };
    let b = cluster.admin(B);
    let d = SimDaemon::start(&b, "P", "dev-01", "linux", &["app"], &["rust"]).await;
    let s = d.started(&b, "P", "asking", false).await;
    let task = s.task.as_ref().expect("task");
    let asking = Command::new(bin("orchestratia"))
        .args(["task", "help", "--question", "JWT or cookies?"])
        .env("ORCHESTRATIA_HUB", cluster.urls_of(&[A, C]))
        .env("ORCHESTRATIA_TOKEN", &s.token)
        .env("ORCHESTRATIA_TASK_ID", task.id.to_string())
        .env("XDG_CONFIG_HOME", cluster.hubs[B].dir.path().join("worker"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn orchestratia");
    cluster
        .wait_status(C, task.id, TaskStatus::NeedsHuman, 15)
        .await;
    cluster.kill(A).await;
    cluster
        .cli_at(
            &cluster.urls_of(&[C]),
            &["intervention", "respond", &task.reference, "JWT"],
        )
        .await
        .ok();
    let out = tokio::time::timeout(Duration::from_secs(60), asking.wait_with_output())
        .await
        .expect("the question was answered")
        .expect("CLI output");
    let out = CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(out.ok().trim(), "JWT");
}

#[test]
fn tick_lines_are_read_from_terminal_bytes() {
    assert_eq!(ticks("tick 1\r\ntick 2\r\ntick 1"), vec![1, 2]);
    assert_eq!(ticks("\x1b[Htick 9\ntick x\r\n"), vec![9]);
}
