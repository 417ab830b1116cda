//! Three real hub replicas on one PostgreSQL database, end to end: a daemon on one replica
//! gets its work from another and is watched from a third; completions racing on two
//! replicas count once; a question asked on one is answered on another; revocations and rules
//! take effect on every replica; the offline sweep survives the death of its lease holder;
//! and bad replica setups are refused. Skipped (with a reason) where PostgreSQL is missing,
//! except in CI.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use orchestratia_hub::store::{Store, replicas};
use orchestratia_proto::api::{CompleteTask, CreateTask, NewRule, RequestPermission, TaskResult};
use orchestratia_proto::client::{ClientError, HubClient};
use orchestratia_proto::policy::RuleEffect;
use orchestratia_proto::ws::{DaemonToHub, Frame, FrameKind, HubToConsole, HubToDaemon};
use orchestratia_proto::{PermissionStatus, ServerStatus, TaskStatus};
use orchestratia_testkit::daemon::{SimOptions, register};
use orchestratia_testkit::{
    CliOutput, Console, ConsoleMsg, SimDaemon, TestCluster, bin, eventually, wait_online,
};
use tokio::process::{Child, Command};
use uuid::Uuid;

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

/// Three replicas (heartbeat 300 ms, offline after 3 s) with project P, or `None` to skip.
async fn cluster() -> Option<TestCluster> {
    TestCluster::with_project(3, "P").await
}

/// Starts the real CLI in the background against `urls` with `token` (a blocking command).
fn spawn_cli(urls: &str, token: &str, task: Uuid, home: &Path, args: &[&str]) -> Child {
    Command::new(bin("orchestratia"))
        .args(args)
        .env("ORCHESTRATIA_HUB", urls)
        .env("ORCHESTRATIA_TOKEN", token)
        .env("ORCHESTRATIA_TASK_ID", task.to_string())
        .env("XDG_CONFIG_HOME", home.join("worker-config"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn orchestratia")
}

/// Waits up to `secs` for a background CLI and returns what it printed.
async fn finish(child: Child, secs: u64) -> CliOutput {
    let out = tokio::time::timeout(Duration::from_secs(secs), child.wait_with_output())
        .await
        .expect("the CLI did not finish")
        .expect("CLI output");
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn frame(kind: FrameKind, session: Uuid, seq: u64, data: &str) -> Frame {
    Frame {
        kind,
        session_id: session,
        seq,
        data: data.as_bytes().to_vec(),
    }
}

/// Tests 1–4 and the large screen of 7: one session's life spread over three replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_across_three_replicas() {
    let Some(cluster) = cluster().await else {
        return;
    };
    let (a, b, c) = (cluster.admin(A), cluster.admin(B), cluster.admin(C));
    // The daemon's socket is on A.
    let d = SimDaemon::start(&a, "P", "dev-01", "linux", &["app"], &["rust"]).await;
    wait_online(&b, "dev-01").await;

    // 1. A task created and assigned through B starts on the daemon held by A.
    let s = d.started(&b, "P", "watched", false).await;
    let sid = s.session_id;
    let task = s.task.as_ref().expect("task").id;

    // 2. A console on C watches the session: the keyframe request reaches the daemon on A,
    // and the frames sent on A reach C in order.
    let mut console = Console::connect(&c).await;
    console.subscribe(sid).await;
    d.wait_for(
        10,
        "keyframe request from C",
        |m| matches!(m, HubToDaemon::KeyframeRequest { session_id } if *session_id == sid),
    )
    .await;
    d.send_frame(&frame(FrameKind::Keyframe, sid, 0, "\x1b[H\x1b[2Jready"));
    d.send_frame(&frame(FrameKind::Output, sid, 1, "one "));
    d.send_frame(&frame(FrameKind::Output, sid, 2, "two "));
    d.send_frame(&frame(FrameKind::Output, sid, 3, "three"));
    console
        .wait_for(10, "output 3 on C", |m| {
            matches!(m, ConsoleMsg::Frame(f) if f.kind == FrameKind::Output && f.seq == 3)
                .then_some(())
        })
        .await;
    let got: Vec<(FrameKind, u64)> = console
        .frames(sid)
        .iter()
        .map(|f| (f.kind, f.seq))
        .collect();
    assert_eq!(
        got,
        vec![
            (FrameKind::Keyframe, 0),
            (FrameKind::Output, 1),
            (FrameKind::Output, 2),
            (FrameKind::Output, 3)
        ]
    );
    assert_eq!(console.output_text(sid), "one two three");
    // Events of the task, made on A and on B, reach C; one larger than a NOTIFY payload
    // (7) too, whole.
    let long = format!("from A {}", "y".repeat(9_000));
    a.note(&task.to_string(), &long).await.expect("note on A");
    b.note(&task.to_string(), "from B")
        .await
        .expect("note on B");
    eventually_console(&mut console, "two notes on C", |c| {
        c.events("task_note_added", Some(task)) >= 2
    })
    .await;
    let texts: Vec<String> = console
        .seen
        .iter()
        .filter_map(|m| match m {
            ConsoleMsg::Text(HubToConsole::Event { event }) => {
                event.details["text"].as_str().map(str::to_string)
            }
            _ => None,
        })
        .collect();
    assert!(texts.contains(&long), "the long note arrived whole");
    assert!(texts.iter().any(|t| t == "from B"));

    // 7. A screen larger than a NOTIFY payload, sent on A, reaches C (by reference).
    let lines: Vec<String> = (0..60)
        .map(|i| format!("{i:02}{}", "x".repeat(198)))
        .collect();
    d.send(&DaemonToHub::SessionScreen {
        session_id: sid,
        lines: lines.clone(),
        cols: 200,
        rows: 60,
    });
    let screen = console
        .wait_for(10, "the large screen on C", |m| match m {
            ConsoleMsg::Text(HubToConsole::SessionScreen {
                session_id, lines, ..
            }) if *session_id == sid => Some(lines.clone()),
            _ => None,
        })
        .await;
    assert_eq!(screen, lines, "the whole screen arrived");

    // 3. The same completion through A and through B at once: one wins, the other is a 409;
    // the downstream task is released and assigned once.
    let down = b
        .create_task(&CreateTask {
            title: "downstream".into(),
            project: Some("P".into()),
            repo: Some("app".into()),
            depends_on: vec![task.to_string()],
            ..Default::default()
        })
        .await
        .expect("downstream task");
    let body = |who: &str| CompleteTask {
        result: TaskResult {
            summary: format!("done through {who}"),
            ..Default::default()
        },
        ..Default::default()
    };
    let on_a = HubClient::new(&cluster.hubs[A].url, Some(s.token.clone()));
    let on_b = HubClient::new(&cluster.hubs[B].url, Some(s.token.clone()));
    let id = task.to_string();
    let (via_a, via_b) = (body("A"), body("B"));
    let (ra, rb) = tokio::join!(on_a.complete(&id, &via_a), on_b.complete(&id, &via_b));
    let (won, lost) = match (&ra, &rb) {
        (Ok(t), Err(e)) | (Err(e), Ok(t)) => (t, e),
        _ => panic!("exactly one completion succeeds: A {ra:?}, B {rb:?}"),
    };
    assert_eq!(won.status, TaskStatus::Done);
    match lost {
        ClientError::Api { status, detail, .. } => {
            assert_eq!(*status, 409, "the loser gets a conflict: {detail}");
            assert!(!detail.trim().is_empty(), "the conflict says why");
        }
        other => panic!("the loser gets a 409, not {other:?}"),
    }
    let start = d.wait_start(10, down.id).await;
    cluster
        .wait_status(C, down.id, TaskStatus::Running, 15)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let starts = d
        .session_starts()
        .iter()
        .filter(|s| s.task.as_ref().is_some_and(|t| t.id == down.id))
        .count();
    assert_eq!(starts, 1, "the downstream task started once");
    let events = c
        .events(&orchestratia_proto::api::EventQuery {
            task: Some(down.id.to_string()),
            ..Default::default()
        })
        .await
        .expect("events")
        .events;
    let count = |name: &str| events.iter().filter(|e| e.event.as_str() == name).count();
    assert_eq!(count("task_auto_assigned"), 1, "{events:?}");
    assert_eq!(count("task_unblocked"), 1, "{events:?}");
    let done_events = c
        .events(&orchestratia_proto::api::EventQuery {
            task: Some(id.clone()),
            kind: Some("task_completed".into()),
            ..Default::default()
        })
        .await
        .expect("events")
        .events;
    assert_eq!(done_events.len(), 1, "one completion: {done_events:?}");
    eventually_console(&mut console, "the downstream assignment on C", |c| {
        c.events("task_auto_assigned", Some(down.id)) >= 1
    })
    .await;
    console.drain(Duration::from_millis(500)).await;
    assert_eq!(console.events("task_completed", Some(task)), 1);
    assert_eq!(console.events("task_auto_assigned", Some(down.id)), 1);

    // 4. `task help` blocking on A is answered through C: the CLI prints the answer.
    let asking = spawn_cli(
        &cluster.hubs[A].url,
        &start.token,
        down.id,
        cluster.hubs[A].dir.path(),
        &["task", "help", "--question", "JWT or cookies?"],
    );
    cluster
        .wait_status(C, down.id, TaskStatus::NeedsHuman, 15)
        .await;
    let reference = start.task.as_ref().expect("task").reference.clone();
    cluster
        .cli_at(
            &cluster.urls_of(&[C]),
            &["intervention", "respond", &reference, "JWT"],
        )
        .await
        .ok();
    let answered = finish(asking, 30).await;
    assert_eq!(answered.ok().trim(), "JWT");
    cluster
        .wait_status(A, down.id, TaskStatus::Running, 15)
        .await;
}

/// Reads the console until `done` holds of what it received, for up to 10 s.
async fn eventually_console(console: &mut Console, what: &str, done: impl Fn(&Console) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(console) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "console: timed out waiting for {what}; got {:?}",
            console.summary()
        );
        console.next(Duration::from_millis(200)).await;
    }
}

/// Test 5: a revocation and a new rule made through A take effect on B at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_and_rules_cross_replicas() {
    let Some(cluster) = cluster().await else {
        return;
    };
    let a = cluster.admin(A);

    // B verifies a server's key (and caches it); A revokes it; B refuses it at once. Several
    // times over, as the answer from A and B's next check may race.
    for i in 0..5 {
        let name = format!("spare-{i}");
        let reg = register(&a, "P", &name, "linux", &[], &[]).await;
        let key_on_b = cluster.hubs[B].client(Some(&reg.api_key));
        key_on_b.whoami().await.expect("the key works on B");
        a.revoke_server(&name).await.expect("revoke through A");
        match key_on_b.whoami().await {
            Err(ClientError::Api { status: 401, .. }) => {}
            other => panic!("B still accepts {name}'s key, revoked through A: {other:?}"),
        }
    }

    // B decides a request with no rule (so it holds the rule set); A adds a rule; B's next
    // request is decided by it. Several times over, as above.
    let d = SimDaemon::start(&a, "P", "dev-01", "linux", &["app"], &["rust"]).await;
    let s = d.started(&a, "P", "build", false).await;
    let agent_on_b = cluster.hubs[B].client(Some(&s.token));
    let ask = |command: String| {
        let agent = agent_on_b.clone();
        async move {
            agent
                .request_permission(&RequestPermission::bash(command))
                .await
                .expect("request permission")
        }
    };
    for i in 0..10 {
        let tool = format!("tool{i}");
        let first = ask(format!("{tool} --first")).await;
        assert_eq!(first.status, PermissionStatus::Pending, "no rule yet");
        let rule = a
            .add_rule(&NewRule {
                scope: None,
                project: Some("P".into()),
                task: None,
                session: None,
                tool: "Bash".into(),
                pattern: format!("{tool} *"),
                effect: RuleEffect::Allow,
                expires_at: None,
                note: None,
                force: false,
            })
            .await
            .expect("add a rule through A");
        let next = ask(format!("{tool} --next")).await;
        assert_eq!(
            (next.status, next.rule_id),
            (PermissionStatus::Allowed, Some(rule.id)),
            "rule {i}, added through A, decides B's next request: {next:?}"
        );
    }
}

/// Test 6: the offline sweep goes on when the replica holding the `monitor` lease dies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_lease_moves_when_its_holder_dies() {
    let Some(mut cluster) = cluster().await else {
        return;
    };
    let store = Store::open(&cluster.db.url).await.expect("open the store");
    let holder = eventually(15, "a monitor lease holder", || async {
        let mut c = store.read().await.ok()?;
        let now = orchestratia_proto::time::now_ms();
        replicas::lease_holder(&mut c, "monitor", now)
            .await
            .ok()
            .flatten()
    })
    .await;
    let dead: usize = holder
        .strip_prefix('r')
        .and_then(|n| n.parse().ok())
        .expect("replica ids are rN");
    let alive = (dead + 1) % 3;
    cluster.kill(dead).await;

    // A daemon on a live replica that never beats after its hello goes offline all the same.
    let admin = cluster.admin(alive);
    let reg = register(&admin, "P", "quiet", "linux", &[], &[]).await;
    let _quiet = SimDaemon::connect(
        &cluster.hubs[alive].url,
        "quiet",
        reg.server_id,
        &reg.api_key,
        Vec::new(),
        SimOptions {
            auto_active: true,
            heartbeats: false,
        },
    )
    .await
    .expect("connect");
    wait_online(&admin, "quiet").await;
    eventually(30, "quiet marked offline", || async {
        let servers = admin.servers().await.ok()?;
        servers
            .iter()
            .any(|s| s.name == "quiet" && s.status == ServerStatus::Offline)
            .then_some(())
    })
    .await;
    let mut c = store.read().await.expect("read");
    let now = orchestratia_proto::time::now_ms();
    let next = replicas::lease_holder(&mut c, "monitor", now)
        .await
        .expect("lease");
    assert!(
        next.as_ref().is_some_and(|n| *n != holder),
        "another replica took the lease from {holder}: {next:?}"
    );
}

/// Runs `orchestratia-hub serve` with `args` and waits for it to exit (it must, refused).
async fn refused_serve(db: &str, args: &[&str]) -> CliOutput {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(bin("orchestratia-hub"))
        .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
        .arg("--admin-file")
        .arg(dir.path().join("admin.yaml"))
        .args(args)
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("the refused hub exits")
        .expect("run orchestratia-hub");
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Test 7: a second process with a replica id in use, and replicas on SQLite, are refused
/// with one clear line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_replica_setups_are_refused() {
    let Some(cluster) = cluster().await else {
        return;
    };
    let twice = refused_serve(&cluster.db.url, &["--replica-id", "r0"]).await;
    let line = twice.fails(1);
    assert!(
        line.contains("'r0'") && line.contains("already running"),
        "{line}"
    );
    // The running r0 is untouched.
    cluster.admin(A).status().await.expect("r0 still answers");

    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!("sqlite://{}", dir.path().join("hub.db").display());
    let line = refused_serve(&sqlite, &["--replica-id", "x"])
        .await
        .fails(1);
    assert!(line.contains("PostgreSQL"), "{line}");
}
