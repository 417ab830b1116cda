//! The real Claude Code CLI (from npm, pinned) as the agent, started by the real daemon in
//! tmux against a scripted fake of the Anthropic API: sessions start clean in repos Claude
//! never opened, the agent's state comes from its hooks, answers reach it however late they
//! come, finished sessions end, a session lost with its terminal resumes its conversation, and
//! an admin can talk to an idle agent.

use std::time::Duration;

use orchestratia_proto::{SessionState, TaskStatus};
use orchestratia_testkit::claude_rig::{ClaudeRig, RigOptions};
use orchestratia_testkit::model::Step;
use orchestratia_testkit::{DaemonOptions, TestDaemon, TestHub, eventually};
use serde_json::Value;
use uuid::Uuid;

fn bash(c: &str) -> Step {
    Step::Bash(c.to_string())
}

fn text(t: &str) -> Step {
    Step::Text(t.to_string())
}

fn names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| e["event"].as_str().map(str::to_string))
        .collect()
}

/// Whether `want` appears in `got` in order (other states may come between).
fn in_order(got: &[SessionState], want: &[SessionState]) -> bool {
    let mut i = 0;
    for s in got {
        if i < want.len() && *s == want[i] {
            i += 1;
        }
    }
    i == want.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contracts_flow_downstream_through_claude_and_finished_sessions_end() {
    let Some(rig) = ClaudeRig::start(RigOptions {
        repos: &["api", "web"],
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let states = rig.record_states().await;
    let allow = rig.allow_all();
    rig.model.script(
        "# T1:",
        vec![
            bash(r#"printf '%s' '{"endpoints":["/users","/users/{id}"]}' > schema.json"#),
            bash("orchestratia task complete --summary 'schema v1' --contract api_schema=@schema.json"),
            text("The schema is published."),
        ],
    );
    rig.model.script(
        "# T2:",
        vec![
            bash("orchestratia task inputs api_schema"),
            bash("orchestratia task complete --summary 'API implemented'"),
            text("Implemented."),
        ],
    );
    let h = &rig.hub;
    h.cli(&[
        "task",
        "create",
        "--title",
        "Design API schema",
        "--repo",
        "api",
    ])
    .await
    .ok();
    h.cli(&[
        "task",
        "create",
        "--title",
        "Implement API",
        "--repo",
        "web",
    ])
    .await
    .ok();
    h.cli(&[
        "task",
        "deps",
        "add",
        "T2",
        "--depends-on",
        "T1",
        "--type",
        "input",
        "--contract-key",
        "api_schema",
    ])
    .await
    .ok();
    h.cli(&["task", "assign", "T1", "--session", "dev-01"])
        .await
        .ok();

    // A repo Claude never opened: no dialog, the model is asked at once.
    let s1 = rig.session_of("T1").await;
    rig.status_is("T1", TaskStatus::Done, 90).await;
    let t2 = rig.status_is("T2", TaskStatus::Done, 120).await;
    assert_eq!(
        t2["resolved_inputs"]["api_schema"]["endpoints"][0],
        "/users"
    );
    let prompt = rig.model.user_texts("# T2:").join("\n");
    assert!(
        prompt.contains("/users/{id}") && prompt.contains("api_schema"),
        "T2's prompt carries the contract: {prompt}"
    );
    let results = rig.model.tool_results("# T2:").join("\n");
    assert!(results.contains("/users/{id}"), "{results}");
    let allowed = allow.allowed();
    assert_eq!(
        allowed.len(),
        4,
        "each Bash call went through the hub: {allowed:?}"
    );
    assert!(allowed.iter().any(|c| c.contains("--contract api_schema")));

    // Both sessions end: Claude exits, tmux closes, the settings are put back, the
    // recordings stay.
    rig.no_claude_left(60).await;
    eventually(30, "both sessions ended", || async {
        let l = h.cli(&["session", "list", "--json"]).await.json();
        let all = l.as_array().cloned().unwrap_or_default();
        (all.len() == 2
            && all
                .iter()
                .all(|s| s["status"] == "ended" && s["state"] == "ended"))
        .then_some(())
    })
    .await;
    assert!(rig.daemon.orc_sessions().is_empty());
    for repo in ["api", "web"] {
        assert!(
            !rig.daemon.repo(repo).join(".claude").exists(),
            "{repo}'s Claude settings were removed again"
        );
    }
    let name = s1["name"].as_str().unwrap_or_default();
    let rec = h.admin().recording_all(name).await.expect("recording");
    assert!(!rec.is_empty(), "the recording is kept");

    // Trust was added to the user's Claude config, everything else kept.
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(rig.home.config()).expect("config"))
            .expect("json");
    assert_eq!(config["hasCompletedOnboarding"], true);
    let api = rig.daemon.repo("api").to_string_lossy().into_owned();
    assert_eq!(config["projects"][&api]["hasTrustDialogAccepted"], true);

    // The agent's state, from its hooks, on the console socket.
    let id: Uuid = s1["id"].as_str().unwrap_or_default().parse().expect("id");
    let seen = states.of(id);
    assert!(
        in_order(
            &seen,
            &[
                SessionState::Working,
                SessionState::WaitingPermission,
                SessionState::Working,
                SessionState::Idle,
                SessionState::Ended
            ]
        ),
        "{seen:?}"
    );
    let t1 = rig.task("T1").await;
    assert!(t1["sessions"][0]["conversation_id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_plans_given_after_150s_reach_claude() {
    let Some(rig) = ClaudeRig::start(RigOptions::default()).await else {
        return;
    };
    let _allow = rig.allow_all();
    rig.model.script(
        "# T1:",
        vec![
            bash("orchestratia task help --question 'JWT or session cookies?'"),
            bash("orchestratia task complete --summary 'auth done'"),
            text("Done."),
        ],
    );
    rig.model.script(
        "# T2:",
        vec![
            bash("printf 'step 1: build it\\n' > plan.md && orchestratia task plan submit --file plan.md"),
            bash("orchestratia task complete --summary 'built'"),
            text("Done."),
        ],
    );
    let h = &rig.hub;
    rig.start_task(&["--title", "Auth", "--repo", "app"]).await;
    rig.start_task(&[
        "--title",
        "Build",
        "--repo",
        "app",
        "--require-plan-approval",
    ])
    .await;
    rig.status_is("T1", TaskStatus::NeedsHuman, 90).await;
    eventually(90, "T2's plan", || async {
        let l = h.cli(&["plan", "list", "--json"]).await.json();
        l.as_array().is_some_and(|a| !a.is_empty()).then_some(())
    })
    .await;
    rig.state_is("T1", SessionState::WaitingInput, 10).await;
    // Longer than Claude Code's default Bash timeout (120 s).
    tokio::time::sleep(Duration::from_secs(150)).await;
    h.cli(&[
        "intervention",
        "respond",
        "T1",
        "Use JWT with refresh tokens",
    ])
    .await
    .ok();
    h.cli(&["plan", "approve", "T2"]).await.ok();
    rig.status_is("T1", TaskStatus::Done, 90).await;
    rig.status_is("T2", TaskStatus::Done, 90).await;
    let r1 = rig.model.tool_results("# T1:").join("\n");
    assert!(r1.contains("Use JWT with refresh tokens"), "{r1}");
    let r2 = rig.model.tool_results("# T2:").join("\n");
    assert!(r2.contains("approved"), "{r2}");
    let i = h.cli(&["intervention", "list", "--json"]).await.json();
    assert_eq!(i[0]["delivered_via"], "caller");
    rig.no_claude_left(60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_outlives_the_command_that_asked() {
    let Some(rig) = ClaudeRig::start(RigOptions::default()).await else {
        return;
    };
    let _allow = rig.allow_all();
    rig.model.script(
        "# T1:",
        vec![
            // The first call is killed after 3 s (Claude Code moves a command that outlives
            // its own `timeout` to the background instead, so `timeout` kills it here); asked
            // again, it waits on the same question.
            bash("timeout 3 orchestratia task help --question 'Which port?'"),
            bash("orchestratia task help --question 'Which port?'"),
            // Killed again, and this time the turn ends: the answer comes as the next prompt.
            bash("timeout 3 orchestratia task help --question 'Which database?'"),
            text("I will wait for the answer."),
            bash("orchestratia task complete --summary 'configured'"),
            text("Done."),
        ],
    );
    let h = &rig.hub;
    rig.start_task(&["--title", "Configure", "--repo", "app"])
        .await;
    // The second call waits on the first question: one question for the human.
    eventually(90, "the question asked again", || async {
        (rig.model.requests("# T1:").len() >= 2).then_some(())
    })
    .await;
    rig.state_is("T1", SessionState::WaitingInput, 30).await;
    let qs = h.cli(&["intervention", "list", "--json"]).await.json();
    assert_eq!(qs.as_array().map(Vec::len), Some(1), "{qs}");
    h.cli(&["intervention", "respond", "T1", "8080"]).await.ok();
    eventually(60, "the answer in the tool result", || async {
        rig.model
            .tool_results("# T1:")
            .iter()
            .any(|r| r.contains("8080"))
            .then_some(())
    })
    .await;

    // The second question's command is gone when the answer comes.
    rig.state_is("T1", SessionState::Idle, 60).await;
    let pending = h
        .cli(&["intervention", "list", "--status", "pending", "--json"])
        .await
        .json();
    assert_eq!(pending[0]["question"], "Which database?");
    h.cli(&["intervention", "respond", "T1", "PostgreSQL 16"])
        .await
        .ok();
    rig.status_is("T1", TaskStatus::Done, 90).await;
    let prompts = rig.model.user_texts("# T1:").join("\n");
    assert!(
        prompts.contains("PostgreSQL 16") && prompts.contains("\"Which database?\""),
        "the late answer came as a prompt: {prompts}"
    );
    let all = h.cli(&["intervention", "list", "--json"]).await.json();
    let via: Vec<(&str, &str)> = all
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["question"].as_str().unwrap_or_default(),
                i["delivered_via"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(via.contains(&("Which port?", "caller")), "{via:?}");
    assert!(via.contains(&("Which database?", "prompt")), "{via:?}");
    assert!(names(&rig.events_of("T1").await).contains(&"agent_prompted".to_string()));
    rig.no_claude_left(60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_terminal_resumes_the_same_conversation() {
    let Some(mut rig) = ClaudeRig::start(RigOptions::default()).await else {
        return;
    };
    let _allow = rig.allow_all();
    rig.model.script(
        "# T1:",
        vec![
            text("Noted: the codeword is banana."),
            bash("orchestratia task complete --summary 'resumed and done'"),
            text("Done."),
        ],
    );
    rig.start_task(&["--title", "Remember", "--repo", "app"])
        .await;
    eventually(90, "the first turn", || async {
        (!rig.model.requests("# T1:").is_empty()).then_some(())
    })
    .await;
    let before = rig.state_is("T1", SessionState::Idle, 90).await;
    let conversation = before["conversation_id"]
        .as_str()
        .expect("conversation id")
        .to_string();
    // Claude Code writes its transcript after the turn's hooks: a reboot before that loses
    // the turn. Wait for it, as a reboot that keeps the conversation must.
    let transcripts = rig.home.dir.path().join(".claude/projects");
    let file = format!("{conversation}.jsonl");
    eventually(30, "the first turn in the transcript", || async {
        let dirs = std::fs::read_dir(&transcripts).ok()?;
        dirs.flatten()
            .map(|d| d.path().join(&file))
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .any(|t| t.contains("the codeword is banana"))
            .then_some(())
    })
    .await;
    // A reboot: the daemon dies and tmux with every agent in it.
    rig.daemon.kill9().await;
    orchestratia_testkit::tmux::kill_server(&rig.daemon.socket());
    rig.no_claude_left(30).await;
    rig.daemon.spawn();
    rig.status_is("T1", TaskStatus::Done, 120).await;
    let requests = rig.model.requests("# T1:");
    let resumed = requests
        .last()
        .expect("a request after the restart")
        .to_string();
    assert!(
        resumed.contains("the codeword is banana") && resumed.contains("conversation was resumed"),
        "the model sees the earlier messages and the resume prompt: {resumed}"
    );
    let events = rig.events_of("T1").await;
    let how = events
        .iter()
        .find(|e| e["event"] == "session_recovered")
        .map(|e| e["details"]["how"].to_string())
        .unwrap_or_default();
    assert!(
        how.contains("resuming its conversation") && how.contains(&conversation),
        "{how}"
    );
    let s = rig.session_of("T1").await;
    assert_eq!(s["conversation_id"].as_str(), Some(conversation.as_str()));
    rig.no_claude_left(60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_talks_to_an_idle_agent_and_stops_a_kept_session() {
    let Some(rig) = ClaudeRig::start(RigOptions::default()).await else {
        return;
    };
    rig.model.script(
        "# T1:",
        vec![
            bash("orchestratia task complete --summary 'first part'"),
            text("Done with the first part."),
            text("Summary: I completed the first part."),
        ],
    );
    let h = &rig.hub;
    rig.start_task(&["--title", "Talk", "--repo", "app", "--keep-session"])
        .await;
    let s = rig
        .state_is("T1", SessionState::WaitingPermission, 90)
        .await;
    let name = s["name"].as_str().unwrap_or_default().to_string();
    // Not idle: refused with why. An open task's session is not stopped by hand.
    let busy = h.cli(&["session", "send", &name, "hello"]).await.fails(2);
    assert!(
        busy.contains("waiting_permission") && busy.contains("idle"),
        "{busy}"
    );
    let open = h.cli(&["session", "stop", &name]).await.fails(2);
    assert!(open.contains("cancel"), "{open}");
    let unknown = h
        .cli(&["session", "send", "orc-nope00", "hello"])
        .await
        .fails(2);
    assert!(unknown.contains("not found"), "{unknown}");
    let empty = h.cli(&["session", "send", &name, "  "]).await.fails(2);
    assert!(empty.contains("empty"), "{empty}");
    h.cli(&["permission", "allow", "T1"]).await.ok();
    rig.status_is("T1", TaskStatus::Done, 60).await;

    // Kept: the finished task's agent stays, idle, and takes a follow-up.
    rig.state_is("T1", SessionState::Idle, 60).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(rig.claude_processes().len(), 1, "the kept agent runs");
    let sent = h
        .cli(&[
            "session",
            "send",
            &name,
            "Please summarize what you did",
            "--json",
        ])
        .await
        .json();
    assert_eq!(sent["taken"], true);
    eventually(30, "the message in the conversation", || async {
        rig.model
            .user_texts("# T1:")
            .iter()
            .any(|t| t == "Please summarize what you did")
            .then_some(())
    })
    .await;
    let before = rig.state_is("T1", SessionState::Idle, 60).await;

    // Someone at the terminal clears the conversation: its new id is the one kept, by the
    // hub and by the daemon (a reboot resumes that one).
    let old = before["conversation_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for keys in [["-l", "/clear"], ["Enter", ""]] {
        std::thread::sleep(Duration::from_millis(300));
        let mut tmux = std::process::Command::new("tmux");
        tmux.arg("-S").arg(rig.daemon.socket());
        tmux.args(["send-keys", "-t", &name]);
        tmux.args(keys.iter().filter(|k| !k.is_empty()));
        assert!(tmux.status().is_ok_and(|s| s.success()), "send-keys");
    }
    let new = eventually(30, "a new conversation id", || async {
        let s = rig.session_of("T1").await;
        s["conversation_id"]
            .as_str()
            .filter(|c| *c != old)
            .map(str::to_string)
    })
    .await;
    let state_file = rig
        .daemon
        .dir
        .path()
        .join("config.state/sessions")
        .join(&name)
        .join("state.json");
    eventually(30, "the daemon keeps the new id", || async {
        let text = std::fs::read_to_string(&state_file).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        (v["conversation_id"] == new.as_str()).then_some(())
    })
    .await;

    let stopped = h.cli(&["session", "stop", &name, "--json"]).await.json();
    assert_eq!(stopped["status"], "ended");
    rig.no_claude_left(60).await;
    let again = h.cli(&["session", "send", &name, "hello"]).await.fails(2);
    assert!(again.contains("ended"), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_claude_config_is_left_alone_and_the_stall_is_reported() {
    let corrupt = "{\"hasCompletedOnboarding\": true, \"projects\": {";
    let Some(rig) = ClaudeRig::start(RigOptions {
        claude_json: Some(corrupt),
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let h = &rig.hub;
    rig.start_task(&["--title", "Stalls", "--repo", "app"])
        .await;
    let s = rig.state_is("T1", SessionState::WaitingInput, 60).await;
    assert_eq!(s["status"], "active");
    let events = rig.events_of("T1").await;
    let warning = events
        .iter()
        .find(|e| e["event"] == "session_warning")
        .map(|e| e["details"]["message"].to_string())
        .unwrap_or_default();
    assert!(
        warning.contains("left it alone") && warning.contains("may stall"),
        "{warning}"
    );
    let stalled = events
        .iter()
        .find(|e| e["event"] == "agent_stalled")
        .map(|e| e["details"].to_string())
        .unwrap_or_default();
    assert!(stalled.contains("dialog"), "{stalled}");
    assert_eq!(
        std::fs::read_to_string(rig.home.config()).expect("config"),
        corrupt,
        "the user's file is untouched"
    );
    assert_eq!(rig.task("T1").await["status"], "running");
    h.cli(&["task", "cancel", "T1"]).await.ok();
    rig.no_claude_left(60).await;
    eventually(30, "no tmux session", || async {
        rig.daemon.orc_sessions().is_empty().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_claude_fails_the_task_at_once_with_the_reason() {
    if !orchestratia_testkit::tmux::available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let Some(hub) = TestHub::start(orchestratia_testkit::Backend::Sqlite).await else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    let empty = tempfile::tempdir().expect("dir");
    let d = TestDaemon::start(
        &hub,
        DaemonOptions {
            repos: &["app"],
            agent_command: Some("claude".into()),
            env: vec![
                (
                    "PATH".into(),
                    format!("{}:/usr/bin:/bin", empty.path().display()),
                ),
                ("HOME".into(), empty.path().to_string_lossy().into_owned()),
            ],
            ..Default::default()
        },
    )
    .await;
    eventually(30, "online", || async {
        let s = hub.cli(&["server", "list", "--json"]).await.json();
        (s[0]["status"] == "online").then_some(())
    })
    .await;
    hub.cli(&["task", "create", "--title", "No agent", "--repo", "app"])
        .await
        .ok();
    hub.cli(&["task", "assign", "T1", "--session", "dev-01"])
        .await
        .ok();
    let v = eventually(20, "failed", || async {
        let v = hub.cli(&["task", "view", "T1", "--json"]).await.json();
        (v["status"] == "failed").then_some(v)
    })
    .await;
    let reason = v["result"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("'claude' was not found") && reason.contains("dev-01"),
        "{reason}"
    );
    assert!(d.orc_sessions().is_empty(), "nothing was started");
}
