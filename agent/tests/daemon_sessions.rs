//! Real daemons running sessions end to end: a question answered through the CLI reaches the
//! worker (docs/WORKFLOWS.md, workflow 4), kill -9 mid-task with recovery and nothing lost or
//! duplicated (workflow 7), the plain PTY runner, Claude Code's settings in a working dir that
//! already had hooks, and a hub outage mid-session.

use std::time::Duration;

use orchestratia_proto::api::RecordingChunk;
use orchestratia_testkit::agent::tmux_available;
use orchestratia_testkit::{Backend, DaemonOptions, HubOptions, TestDaemon, TestHub, eventually};
use serde_json::Value;

async fn hub_with_project(offline_after: Duration) -> Option<TestHub> {
    let hub = TestHub::start_with(HubOptions {
        backend: Backend::Sqlite,
        heartbeat: Duration::from_millis(300),
        offline_after,
        ..HubOptions::default()
    })
    .await?;
    hub.cli(&["project", "create", "P"]).await.ok();
    Some(hub)
}

async fn online(hub: &TestHub, name: &str) {
    eventually(20, &format!("{name} online"), || async {
        let s = hub.cli(&["server", "list", "--json"]).await.json();
        s.as_array()
            .into_iter()
            .flatten()
            .any(|x| x["name"] == name && x["status"] == "online")
            .then_some(())
    })
    .await;
}

async fn task(hub: &TestHub, r: &str) -> Value {
    hub.cli(&["task", "view", r, "--json"]).await.json()
}

async fn status_is(hub: &TestHub, r: &str, status: &str, secs: u64) -> Value {
    eventually(secs, &format!("{r} {status}"), || async {
        let v = task(hub, r).await;
        (v["status"] == status).then_some(v)
    })
    .await
}

/// The session's recording as text (output and keyframes, in replay order).
async fn recording(hub: &TestHub, session: &str) -> (Vec<RecordingChunk>, String) {
    let chunks = hub.admin().recording_all(session).await.expect("recording");
    let text = chunks
        .iter()
        .map(|c| String::from_utf8_lossy(&c.bytes()).into_owned())
        .collect::<String>();
    (chunks, text)
}

fn session_of(v: &Value) -> String {
    v["sessions"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_reaches_a_human_and_the_answer_reaches_the_worker() {
    if !tmux_available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let Some(hub) = hub_with_project(Duration::from_secs(5)).await else {
        return;
    };
    let d = TestDaemon::start(
        &hub,
        DaemonOptions {
            repos: &["app"],
            ..Default::default()
        },
    )
    .await;
    online(&hub, "dev-01").await;
    hub.cli(&[
        "task",
        "create",
        "--title",
        "auth",
        "--repo",
        "app",
        "--spec",
        "worker: help JWT or session cookies?",
    ])
    .await
    .ok();
    hub.cli(&["task", "assign", "T1", "--session", "dev-01"])
        .await
        .ok();
    status_is(&hub, "T1", "needs_human", 20).await;
    let q = hub.cli(&["intervention", "list", "--json"]).await.json();
    assert_eq!(q[0]["question"], "JWT or session cookies?");
    hub.cli(&[
        "intervention",
        "respond",
        "T1",
        "Use JWT with refresh tokens",
    ])
    .await
    .ok();
    let v = status_is(&hub, "T1", "done", 20).await;
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["text"].as_str())
        .collect();
    assert_eq!(notes, vec!["answer: Use JWT with refresh tokens"]);
    let (_, text) = recording(&hub, &session_of(&v)).await;
    assert!(
        text.contains("answer: Use JWT with refresh tokens"),
        "the worker printed the answer: {text}"
    );
    // The recording exports as asciicast v2.
    let dir = tempfile::tempdir().expect("temp dir");
    let cast = dir.path().join("s.cast");
    let name = session_of(&v);
    let out = hub
        .cli(&[
            "session",
            "export",
            &name,
            "-o",
            &cast.to_string_lossy(),
            "--json",
        ])
        .await
        .json();
    assert_eq!(out["session"], name.as_str());
    let text = std::fs::read_to_string(&cast).expect("cast file");
    let header: Value =
        serde_json::from_str(text.lines().next().unwrap_or_default()).expect("header");
    assert_eq!(header["version"], 2);
    let played: String = text
        .lines()
        .skip(1)
        .map(|l| {
            let e: Value = serde_json::from_str(l).expect("event line");
            assert_eq!(e[1], "o");
            e[2].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert!(
        played.contains("answer: Use JWT with refresh tokens"),
        "{played}"
    );
    let missing = hub.cli(&["session", "export", "orc-nope00"]).await;
    assert_eq!(missing.code, 2, "an unknown session is a usage error");
    eventually(10, "no tmux session left", || async {
        d.orc_sessions().is_empty().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_daemon_comes_back_to_a_session_that_kept_running() {
    if !tmux_available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let Some(hub) = hub_with_project(Duration::from_secs(2)).await else {
        return;
    };
    let mut d = TestDaemon::start(
        &hub,
        DaemonOptions {
            repos: &["app"],
            ..Default::default()
        },
    )
    .await;
    online(&hub, "dev-01").await;
    hub.cli(&[
        "task",
        "create",
        "--title",
        "long",
        "--repo",
        "app",
        "--spec",
        "worker: ticks 24",
    ])
    .await
    .ok();
    hub.cli(&["task", "assign", "T1", "--session", "dev-01"])
        .await
        .ok();
    let v = status_is(&hub, "T1", "running", 20).await;
    let session = session_of(&v);
    eventually(20, "some output", || async {
        recording(&hub, &session)
            .await
            .1
            .contains("tick 3")
            .then_some(())
    })
    .await;

    d.kill9().await;
    assert_eq!(
        d.orc_sessions(),
        vec![session.clone()],
        "the agent keeps running in tmux"
    );
    eventually(20, "dev-01 offline", || async {
        let s = hub.cli(&["server", "list", "--json"]).await.json();
        (s[0]["status"] == "offline").then_some(())
    })
    .await;
    assert_eq!(
        task(&hub, "T1").await["status"],
        "running",
        "the task stays running"
    );

    d.spawn();
    online(&hub, "dev-01").await;
    let v = eventually(20, "recovered then active", || async {
        let v = task(&hub, "T1").await;
        let names: Vec<String> = v["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["event"].as_str().map(String::from))
            .collect();
        let recovered = names.iter().position(|n| n == "session_recovered")?;
        names[recovered..]
            .iter()
            .any(|n| n == "session_active")
            .then_some(v)
    })
    .await;
    assert_eq!(v["status"], "running");
    status_is(&hub, "T1", "done", 40).await;

    let (chunks, text) = recording(&hub, &session).await;
    let seqs: Vec<u64> = chunks
        .iter()
        .filter(|c| !c.keyframe)
        .map(|c| c.seq)
        .collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(
        seqs, expected,
        "output chunks are numbered without a gap or a repeat across the restart"
    );
    for i in 1..=24 {
        assert!(
            text.contains(&format!("tick {i}")),
            "tick {i} is in the recording"
        );
    }
    assert!(
        chunks.iter().any(|c| c.keyframe),
        "the reattach starts with a keyframe"
    );
    eventually(10, "no tmux session left", || async {
        d.orc_sessions().is_empty().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plain_pty_runner_runs_a_session_without_tmux() {
    let Some(hub) = hub_with_project(Duration::from_secs(5)).await else {
        return;
    };
    let d = TestDaemon::start(
        &hub,
        DaemonOptions {
            repos: &["app"],
            runner: "pty",
            ..Default::default()
        },
    )
    .await;
    online(&hub, "dev-01").await;
    hub.cli(&[
        "task",
        "create",
        "--title",
        "quick",
        "--repo",
        "app",
        "--spec",
        "worker: ticks 3\nworker: contract k=1",
    ])
    .await
    .ok();
    hub.cli(&["task", "assign", "T1", "--session", "dev-01"])
        .await
        .ok();
    let v = status_is(&hub, "T1", "done", 30).await;
    assert_eq!(v["contracts"]["k"]["data"], 1);
    assert!(v["sessions"][0]["tmux"].is_null(), "no tmux session");
    let session = session_of(&v);
    eventually(10, "the worker's last words recorded", || async {
        let (_, text) = recording(&hub, &session).await;
        (text.contains("tick 3") && text.contains("completed")).then_some(())
    })
    .await;
    assert!(d.tmux_sessions().is_empty());
    // A worker that exits without reporting fails its task with the screen as the reason.
    hub.cli(&[
        "task",
        "create",
        "--title",
        "crash",
        "--repo",
        "app",
        "--spec",
        "worker: say about to crash\nworker: exit 3",
    ])
    .await
    .ok();
    hub.cli(&["task", "assign", "T2", "--session", "dev-01"])
        .await
        .ok();
    let v = status_is(&hub, "T2", "failed", 30).await;
    let reason = v["result"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("code 3") && reason.contains("about to crash"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_settings_are_merged_and_restored() {
    if !tmux_available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let Some(hub) = hub_with_project(Duration::from_secs(5)).await else {
        return;
    };
    // A stand-in for Claude Code: it reports the settings it finds, then completes.
    let bin = tempfile::tempdir().expect("dir");
    let claude = bin.path().join("claude");
    std::fs::write(
        &claude,
        "#!/bin/sh\norchestratia task note \"settings: $(tr -d '\\n ' < .claude/settings.local.json)\"\n\
         orchestratia task complete --summary 'fake claude'\n",
    )
    .expect("write");
    std::fs::set_permissions(&claude, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let d = TestDaemon::start(
        &hub,
        DaemonOptions {
            repos: &["app"],
            agent_command: Some(claude.to_string_lossy().into_owned()),
            ..Default::default()
        },
    )
    .await;
    let settings = d.repo("app").join(".claude").join("settings.local.json");
    std::fs::create_dir_all(settings.parent().expect("parent")).expect("mkdir");
    let before = r#"{"hooks":{"PreToolUse":[{"matcher":"Bash","hooks":[{"type":"command","command":"my-own-hook"}]}]}}"#;
    std::fs::write(&settings, before).expect("write settings");
    online(&hub, "dev-01").await;
    hub.cli(&["task", "create", "--title", "claude", "--repo", "app"])
        .await
        .ok();
    hub.cli(&["task", "assign", "T1", "--session", "dev-01"])
        .await
        .ok();
    let v = status_is(&hub, "T1", "done", 30).await;
    let note = v["notes"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        note.contains("my-own-hook"),
        "the existing hook is kept: {note}"
    );
    assert!(
        note.contains("hookclaude-code") && note.contains("PermissionRequest"),
        "{note}"
    );
    assert!(note.contains("\"timeout\":86400"), "{note}");
    eventually(15, "settings restored", || async {
        (std::fs::read_to_string(&settings).ok().as_deref() == Some(before)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_that_goes_away_and_comes_back_loses_and_repeats_nothing() {
    if !tmux_available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let Some(mut hub) = hub_with_project(Duration::from_secs(5)).await else {
        return;
    };
    let d = TestDaemon::start(
        &hub,
        DaemonOptions {
            repos: &["app"],
            ..Default::default()
        },
    )
    .await;
    online(&hub, "dev-01").await;
    hub.cli(&[
        "task",
        "create",
        "--title",
        "long",
        "--repo",
        "app",
        "--spec",
        "worker: ticks 16",
    ])
    .await
    .ok();
    hub.cli(&["task", "assign", "T1", "--session", "dev-01"])
        .await
        .ok();
    let v = status_is(&hub, "T1", "running", 20).await;
    let session = session_of(&v);
    eventually(20, "some output", || async {
        recording(&hub, &session)
            .await
            .1
            .contains("tick 2")
            .then_some(())
    })
    .await;

    hub.kill().await;
    // The worker keeps printing while the hub is away; the daemon buffers it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    hub.restart().await;
    online(&hub, "dev-01").await;
    status_is(&hub, "T1", "done", 40).await;

    let (chunks, text) = recording(&hub, &session).await;
    let seqs: Vec<u64> = chunks
        .iter()
        .filter(|c| !c.keyframe)
        .map(|c| c.seq)
        .collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(
        seqs, expected,
        "no chunk lost or repeated across the outage"
    );
    for i in 1..=16 {
        assert_eq!(
            text.matches(&format!("tick {i}\r\n")).count(),
            1,
            "tick {i} is in the recording exactly once:\n{text}"
        );
    }
    eventually(10, "no tmux session left", || async {
        d.orc_sessions().is_empty().then_some(())
    })
    .await;
}
