//! The agent inside a session, as the hub sees it, on SQLite and PostgreSQL with a simulated
//! daemon: its state from hook reports, a question or plan asked again waits on the same one,
//! a decision whose asker is gone goes to the idle agent as a prompt (and counts as delivered
//! once the agent took it), messages from an admin, finishing sessions when their task is
//! over (or keeping them), and an agent that never reports is said to be stalled.

mod common;

use std::time::Duration;

use common::{create, task_id};
use orchestratia_proto::api::AgentEvent;
use orchestratia_proto::client::HubClient;
use orchestratia_proto::ws::{DaemonToHub, HubToDaemon};
use orchestratia_proto::{HookEvent, SessionState};
use orchestratia_testkit::daemon::SimOptions;
use orchestratia_testkit::{Backend, HubOptions, SimDaemon, TestHub, eventually};
use serde_json::Value;

fn event(event: HookEvent) -> AgentEvent {
    AgentEvent {
        event,
        notification_type: None,
        source: None,
        tool_name: None,
        message: None,
        conversation_id: None,
        prompt: None,
        transcript_path: None,
    }
}

async fn state_of(hub: &TestHub, session: &str) -> String {
    let s = hub.cli(&["session", "list", "--json"]).await.json();
    s.as_array()
        .into_iter()
        .flatten()
        .find(|x| x["name"] == session)
        .and_then(|x| x["state"].as_str())
        .unwrap_or_default()
        .to_string()
}

async fn agents(backend: Backend) {
    let Some(hub) = TestHub::start_with(HubOptions {
        backend,
        args: vec![
            "--stall-after".into(),
            "1s".into(),
            "--late-answer-after".into(),
            "1s".into(),
        ],
        ..HubOptions::default()
    })
    .await
    else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    let d = SimDaemon::start(&hub.admin(), "P", "dev-01", "linux", &["app"], &[]).await;

    // A task whose agent asks for a plan's approval, finishes, and is then let go.
    let t1 = create(&hub, &["--title", "Plan it", "--repo", "app"]).await;
    hub.cli(&["task", "assign", &t1, "--session", "dev-01"])
        .await
        .ok();
    let start = d.wait_start(10, task_id(&hub, &t1).await).await;
    let agent = hub.client(Some(&start.token));
    let name = start.name.clone();
    eventually(10, "working", || async {
        (state_of(&hub, &name).await == "working").then_some(())
    })
    .await;
    let mut turn_end = event(HookEvent::Stop);
    turn_end.conversation_id = Some("conv-1".into());
    agent.agent_event(&name, &turn_end).await.expect("stop");
    assert_eq!(state_of(&hub, &name).await, "idle");

    // A plan submitted twice (the first call was killed) is one plan.
    let p1 = agent.submit_plan(&t1, "1. build").await.expect("plan");
    let p2 = agent
        .submit_plan(&t1, "1. build")
        .await
        .expect("plan again");
    assert_eq!(p1.id, p2.id);
    assert_eq!(state_of(&hub, &name).await, "waiting_input");
    // Nobody waits on it when it is approved: once the agent is idle, it comes as a prompt.
    agent
        .agent_event(&name, &event(HookEvent::Stop))
        .await
        .expect("stop");
    hub.cli(&["plan", "approve", &t1]).await.ok();
    let prompt = d
        .wait_for(
            10,
            "the decision as a prompt",
            |m| matches!(m, HubToDaemon::SessionPrompt { text, .. } if text.contains("approved")),
        )
        .await;
    let HubToDaemon::SessionPrompt { text, .. } = prompt else {
        unreachable!("matched a prompt")
    };
    let plan: Value = hub.cli(&["plan", "list", "--json"]).await.json();
    assert!(plan[0]["delivered_at"].is_null(), "not taken yet");
    let mut took = event(HookEvent::UserPromptSubmit);
    took.prompt = Some(text.clone());
    agent.agent_event(&name, &took).await.expect("prompt taken");
    let plan: Value = hub.cli(&["plan", "list", "--json"]).await.json();
    assert_eq!(plan[0]["delivered_via"], "prompt");
    assert_eq!(state_of(&hub, &name).await, "working");

    // An admin's message goes to an idle agent only, and is confirmed by its prompt hook.
    let busy = hub.cli(&["session", "send", &name, "hello"]).await.fails(2);
    assert!(busy.contains("working"), "{busy}");
    agent
        .agent_event(&name, &event(HookEvent::Stop))
        .await
        .expect("stop");
    let sending = {
        let admin = hub.admin();
        let name = name.clone();
        tokio::spawn(async move { admin.send_message(&name, "  Please also add tests  ").await })
    };
    let sent = d
        .wait_for(10, "the message", |m| {
            matches!(m, HubToDaemon::SessionPrompt { text, .. } if text == "Please also add tests")
        })
        .await;
    let HubToDaemon::SessionPrompt { text, .. } = sent else {
        unreachable!("matched a prompt")
    };
    let mut took = event(HookEvent::UserPromptSubmit);
    took.prompt = Some(text);
    agent.agent_event(&name, &took).await.expect("taken");
    let m = sending.await.expect("join").expect("sent");
    assert!(m.taken && m.kind == "admin", "{m:?}");
    let bad = hub
        .cli(&["session", "send", &name, "bad \u{1b}[201~ paste"])
        .await
        .fails(2);
    assert!(bad.contains("control characters"), "{bad}");

    // The task is done: its agent is told to finish; the session ends when the daemon says so.
    hub.cli_as(
        &start.token,
        &[],
        &["task", "complete", "--id", &t1, "--summary", "done"],
    )
    .await
    .ok();
    d.wait_for(10, "finish", |m| {
        matches!(m, HubToDaemon::SessionStop { session_id, finish: true, .. } if *session_id == start.session_id)
    })
    .await;
    assert_eq!(state_of(&hub, &name).await, "working", "not ended yet");
    d.send(&DaemonToHub::SessionEnded {
        session_id: start.session_id,
        exit_code: Some(0),
        last_screen: None,
        reason: None,
    });
    eventually(10, "ended", || async {
        (state_of(&hub, &name).await == "ended").then_some(())
    })
    .await;
    let view = hub.cli(&["task", "view", &t1, "--json"]).await.json();
    assert_eq!(
        view["status"], "done",
        "a finished session leaves its task done"
    );
    assert_eq!(view["sessions"][0]["conversation_id"], "conv-1");

    // A task that keeps its session: no finish; a session of an open task is not stopped by
    // hand; a closed task's is.
    let t2 = create(
        &hub,
        &["--title", "Keep it", "--repo", "app", "--keep-session"],
    )
    .await;
    hub.cli(&["task", "assign", &t2, "--session", "dev-01"])
        .await
        .ok();
    let s2 = d.wait_start(10, task_id(&hub, &t2).await).await;
    let open = hub.cli(&["session", "stop", &s2.name]).await.fails(2);
    assert!(open.contains("cancel"), "{open}");
    hub.cli(&["task", "complete", "--id", &t2, "--summary", "by hand"])
        .await
        .ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !d.received().iter().any(|m| matches!(m, HubToDaemon::SessionStop { session_id, .. } if *session_id == s2.session_id)),
        "a kept session is not stopped"
    );
    let stopped = hub
        .cli(&[
            "session",
            "stop",
            &s2.name,
            "--reason",
            "done talking",
            "--json",
        ])
        .await
        .json();
    assert_eq!(
        (stopped["status"].as_str(), stopped["state"].as_str()),
        (Some("ended"), Some("ended"))
    );
    d.wait_for(10, "stop", |m| {
        matches!(m, HubToDaemon::SessionStop { session_id, finish: false, .. } if *session_id == s2.session_id)
    })
    .await;
    let again = hub.cli(&["session", "stop", &s2.name]).await.fails(2);
    assert!(again.contains("ended"), "{again}");
    let unknown = hub.cli(&["session", "stop", "orc-nope00"]).await.fails(2);
    assert!(unknown.contains("not found"), "{unknown}");
}

async fn stalls(backend: Backend) {
    let Some(hub) = TestHub::start_with(HubOptions {
        backend,
        args: vec!["--stall-after".into(), "1s".into()],
        ..HubOptions::default()
    })
    .await
    else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    let opts = SimOptions {
        auto_active: false,
        heartbeats: true,
    };
    let d = SimDaemon::start_with(&hub.admin(), "P", "dev-01", &["app"], opts).await;
    let t = create(&hub, &["--title", "Silent", "--repo", "app"]).await;
    hub.cli(&["task", "assign", &t, "--session", "dev-01"])
        .await
        .ok();
    let start = d.wait_start(10, task_id(&hub, &t).await).await;
    // An agent that reports through hooks stays `starting` until its first report…
    d.send(&DaemonToHub::SessionActive {
        session_id: start.session_id,
        pid: Some(7),
        tmux: Some(start.name.clone()),
        hooks: true,
    });
    d.send(&DaemonToHub::SessionWarning {
        session_id: start.session_id,
        message: "could not mark /srv/app trusted: the session may stall".into(),
    });
    // …and one that never reports is said to be held by something.
    let v = eventually(15, "a stall", || async {
        let v = hub.cli(&["task", "view", &t, "--json"]).await.json();
        let names: Vec<String> = v["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["event"].as_str().map(str::to_string))
            .collect();
        names.contains(&"agent_stalled".to_string()).then_some(v)
    })
    .await;
    assert_eq!(v["status"], "running");
    assert_eq!(v["sessions"][0]["state"], "waiting_input");
    let warned = v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["event"] == "session_warning");
    assert!(warned, "the daemon's warning is on the timeline");
    // Its first hook report: it lives.
    let agent: HubClient = hub.client(Some(&start.token));
    let mut first = event(HookEvent::SessionStart);
    first.source = Some("startup".into());
    let s = agent
        .agent_event(&start.name, &first)
        .await
        .expect("report");
    assert_eq!(s.state, SessionState::Working);
    // A session that never started fails its task with the daemon's reason.
    d.send(&DaemonToHub::SessionEnded {
        session_id: start.session_id,
        exit_code: None,
        last_screen: Some("ignored".into()),
        reason: Some("the session could not start: 'claude' was not found".into()),
    });
    let v = eventually(10, "failed", || async {
        let v = hub.cli(&["task", "view", &t, "--json"]).await.json();
        (v["status"] == "failed").then_some(v)
    })
    .await;
    assert_eq!(
        v["result"]["reason"],
        "the session could not start: 'claude' was not found"
    );
}

on_both_backends!(agents, stalls);
