//! The Telegram bot end to end (docs/WORKFLOWS.md, workflow 8), against a fake Bot API on
//! loopback: the real hub binary runs the bot, a real daemon runs scripted workers in tmux (or a
//! simulated daemon reports an agent's state, a workspace and usage), and the test plays the
//! admin's phone through the fake's updates.

use std::time::Duration;

use orchestratia_proto::HookEvent;
use orchestratia_proto::api::{AgentEvent, CreateTask, SetBudget};
use orchestratia_proto::usage::Usage;
use orchestratia_proto::ws::{DaemonToHub, SessionStart};
use orchestratia_testkit::agent::tmux_available;
use orchestratia_testkit::daemon::sample_workspace;
use orchestratia_testkit::telegram::FakeTelegram;
use orchestratia_testkit::{
    Backend, DaemonOptions, HubOptions, SimDaemon, TestDaemon, TestHub, eventually, wait_online,
};
use serde_json::Value;

const ADMIN_CHAT: i64 = 42;
const STRANGER: i64 = 99;

/// A hub whose bot talks to the Bot API at `api_url`, with project P.
async fn hub_with_bot(api_url: &str) -> Option<TestHub> {
    let hub = TestHub::start_with(HubOptions {
        backend: Backend::Sqlite,
        args: vec![
            "--telegram-token".into(),
            "123:TEST".into(),
            "--telegram-chat".into(),
            ADMIN_CHAT.to_string(),
            "--telegram-api-url".into(),
            api_url.into(),
            "--telegram-screen-every".into(),
            "300ms".into(),
            "--telegram-poll-timeout".into(),
            "1s".into(),
        ],
        ..HubOptions::default()
    })
    .await?;
    hub.cli(&["project", "create", "P"]).await.ok();
    Some(hub)
}

/// A fake Telegram, a hub whose bot talks to it, and a real daemon dev-01 (repo `app`) online.
async fn bot_and_daemon() -> Option<(FakeTelegram, TestHub, TestDaemon)> {
    let fake = FakeTelegram::start().await;
    let hub = hub_with_bot(&fake.url).await?;
    let d = TestDaemon::start(
        &hub,
        DaemonOptions {
            repos: &["app"],
            ..Default::default()
        },
    )
    .await;
    online(&hub).await;
    Some((fake, hub, d))
}

async fn online(hub: &TestHub) {
    wait_online(&hub.admin(), "dev-01").await;
}

async fn task(hub: &TestHub, title: &str, spec: &str, extra: &[&str]) {
    let mut args = vec![
        "task", "create", "--title", title, "--repo", "app", "--spec", spec,
    ];
    args.extend_from_slice(extra);
    hub.cli(&args).await.ok();
}

async fn status_is(hub: &TestHub, r: &str, status: &str) -> Value {
    eventually(60, &format!("{r} {status}"), || async {
        let v = hub.cli(&["task", "view", r, "--json"]).await.json();
        (v["status"] == status).then_some(v)
    })
    .await
}

/// The bot's message to the admin chat whose text contains `needle` (id, text, buttons).
fn message_with(fake: &FakeTelegram, needle: &str) -> Option<(i64, String, Vec<String>)> {
    fake.sent(ADMIN_CHAT)
        .into_iter()
        .find(|(_, text, _)| text.contains(needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_a_live_screen_edited_in_place_strangers_and_429() {
    if !tmux_available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let Some((fake, hub, _d)) = bot_and_daemon().await else {
        return;
    };
    task(&hub, "Long build", "worker: ticks 70", &[]).await;
    hub.cli(&["task", "assign", "T1", "--session", "dev-01"])
        .await
        .ok();
    status_is(&hub, "T1", "running").await;

    // A stranger gets one polite refusal and nothing else.
    fake.say(STRANGER, "eve", "/tasks");
    fake.say(STRANGER, "eve", "/sessions");
    fake.until("the refusal", 10, |f| {
        f.sent(STRANGER)
            .iter()
            .any(|(_, t, _)| t.contains("Sorry"))
            .then_some(())
    })
    .await;

    fake.say(ADMIN_CHAT, "ada", "/sessions");
    let (_, text, _) = fake
        .until("/sessions", 10, |f| message_with(f, "Active sessions:"))
        .await;
    assert!(text.contains("1. orc-"), "{text}");
    assert!(text.contains("(app) on dev-01"), "{text}");
    assert!(text.contains("T1 Long build"), "{text}");

    fake.say(ADMIN_CHAT, "ada", "/focus 1");
    fake.until("focused", 10, |f| message_with(f, "Focused on orc-"))
        .await;
    let (screen_id, _, _) = fake
        .until("the live screen", 20, |f| message_with(f, "🖥 orc-"))
        .await;
    // The screen changes (a tick every half second; the daemon sends screens every 5 s):
    // the same message is edited, never sent again.
    let edits = fake
        .until("two edits of the screen", 30, |f| {
            let e: Vec<_> = f
                .calls("editMessageText")
                .into_iter()
                .filter(|c| c.params["message_id"].as_i64() == Some(screen_id))
                .collect();
            (e.len() >= 2).then_some(e)
        })
        .await;
    assert_ne!(edits[0].params["text"], edits[1].params["text"]);
    assert!(
        fake.text(ADMIN_CHAT, screen_id)
            .is_some_and(|t| t.contains("tick ")),
        "the screen shows the worker's output"
    );

    // 429: the bot waits as long as it is told before it edits again.
    fake.fail_next("editMessageText", 1, 2);
    let refused_at = fake
        .until("a 429", 30, |f| {
            f.calls("editMessageText:429").first().map(|c| c.at)
        })
        .await;
    let next = fake
        .until("the edit after the 429", 30, |f| {
            f.calls("editMessageText")
                .into_iter()
                .find(|c| c.at > refused_at)
                .map(|c| c.at)
        })
        .await;
    assert!(
        next.duration_since(refused_at) >= Duration::from_millis(1900),
        "retry_after honoured: {:?}",
        next.duration_since(refused_at)
    );

    fake.say(ADMIN_CHAT, "ada", "/unfocus");
    fake.until("unfocused", 10, |f| {
        message_with(f, "Stopped following orc-")
    })
    .await;
    fake.say(ADMIN_CHAT, "ada", "/tasks");
    fake.until("/tasks", 10, |f| message_with(f, "T1 Long build"))
        .await;
    fake.say(ADMIN_CHAT, "ada", "/task T1");
    fake.until("/task", 10, |f| message_with(f, "Last events:"))
        .await;
    fake.say(ADMIN_CHAT, "ada", "/inbox");
    fake.until("/inbox", 10, |f| {
        message_with(f, "Nothing waits for a human.")
    })
    .await;
    fake.say(ADMIN_CHAT, "ada", "/focus 9");
    fake.until("an unknown session", 10, |f| {
        message_with(f, "No active session 9")
    })
    .await;
    fake.say(ADMIN_CHAT, "ada", "/task T99");
    fake.until("an unknown task", 10, |f| {
        message_with(f, "task T99 not found")
    })
    .await;
    fake.say(ADMIN_CHAT, "ada", "/frobnicate");
    fake.until("an unknown command", 10, |f| {
        message_with(f, "Unknown command /frobnicate")
    })
    .await;
    fake.say(ADMIN_CHAT, "ada", "/help");
    fake.until("/help", 10, |f| message_with(f, "/focus NAME|N"))
        .await;

    // The pipeline finishing is announced once.
    status_is(&hub, "T1", "done").await;
    fake.until("pipeline finished", 20, |f| {
        message_with(f, "Pipeline finished")
    })
    .await;
    // The stranger still got only the one refusal.
    assert_eq!(fake.sent(STRANGER).len(), 1, "{:?}", fake.sent(STRANGER));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_from_buttons_and_replies_reach_the_workers() {
    if !tmux_available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let Some((fake, hub, _d)) = bot_and_daemon().await else {
        return;
    };
    task(
        &hub,
        "Clean build",
        "worker: permission rm -rf /tmp/build",
        &[],
    )
    .await;
    task(&hub, "Wipe disk", "worker: permission rm -rf /", &[]).await;
    task(
        &hub,
        "Pick a port",
        "worker: help Which port should the API listen on?",
        &[],
    )
    .await;
    task(
        &hub,
        "Planned work",
        "worker: plan 1. read 2. write",
        &["--require-plan-approval"],
    )
    .await;
    task(
        &hub,
        "Planned elsewhere",
        "worker: plan 1. think",
        &["--require-plan-approval"],
    )
    .await;
    for t in ["T1", "T2", "T3", "T4", "T5"] {
        hub.cli(&["task", "assign", t, "--session", "dev-01"])
            .await
            .ok();
    }

    // [Allow]: the worker's command goes through; the message says who decided.
    let (allow_msg, text, buttons) = fake
        .until("the first permission", 20, |f| {
            message_with(f, "rm -rf /tmp/build")
        })
        .await;
    assert!(text.contains("wants to run <b>Bash</b>"), "{text}");
    assert_eq!(
        buttons.len(),
        5,
        "once, for the session, always, deny, deny always: {buttons:?}"
    );
    let allow = buttons
        .iter()
        .find(|b| b.starts_with("perm:allow:"))
        .cloned();
    fake.tap(
        ADMIN_CHAT,
        "ada",
        allow_msg,
        &allow.expect("an Allow button"),
    );
    status_is(&hub, "T1", "done").await;
    fake.until("the decision shown", 10, |f| {
        f.text(ADMIN_CHAT, allow_msg)
            .filter(|t| t.contains("allowed by @ada"))
    })
    .await;
    assert!(
        !fake.calls("answerCallbackQuery").is_empty(),
        "the tap is answered"
    );

    // [Deny]: the worker is refused (and fails its task, as scripted).
    let (deny_msg, _, buttons) = fake
        .until("the second permission", 20, |f| {
            message_with(f, "rm -rf /</pre>")
        })
        .await;
    let deny = buttons
        .iter()
        .find(|b| b.starts_with("perm:deny:"))
        .cloned();
    fake.tap(ADMIN_CHAT, "ada", deny_msg, &deny.expect("a Deny button"));
    let v = status_is(&hub, "T2", "failed").await;
    assert!(v["result"].to_string().contains("permission denied"), "{v}");
    fake.until("the failure notified", 10, |f| {
        message_with(f, "T2 Wipe disk</b> failed")
    })
    .await;

    // A reply answers the question; the worker prints the answer and notes it.
    let (question, _, _) = fake
        .until("the question", 20, |f| {
            message_with(f, "Which port should the API listen on?")
        })
        .await;
    fake.reply(ADMIN_CHAT, "ada", "8080, as the others", question);
    let v = status_is(&hub, "T3", "done").await;
    assert!(
        v["notes"]
            .to_string()
            .contains("answer: 8080, as the others"),
        "{v}"
    );
    fake.until("the answer confirmed", 10, |f| {
        message_with(f, "Answer sent to T3")
    })
    .await;

    // [Approve] on a plan.
    let (plan_msg, _, buttons) = fake
        .until("the plan", 20, |f| message_with(f, "1. read 2. write"))
        .await;
    fake.tap(ADMIN_CHAT, "ada", plan_msg, &buttons[0]);
    status_is(&hub, "T4", "done").await;

    // Decided elsewhere (the CLI): the message says so and its buttons do nothing.
    let (other_msg, _, buttons) = fake
        .until("the other plan", 20, |f| message_with(f, "1. think"))
        .await;
    hub.cli(&["plan", "approve", "T5"]).await.ok();
    fake.until("the message updated", 10, |f| {
        f.text(ADMIN_CHAT, other_msg)
            .filter(|t| t.contains("approved by admin"))
    })
    .await;
    let taps_before = fake.calls("answerCallbackQuery").len();
    fake.tap(ADMIN_CHAT, "ada", other_msg, &buttons[1]);
    fake.until("the late tap answered", 10, |f| {
        let calls = f.calls("answerCallbackQuery");
        (calls.len() > taps_before).then(|| calls.last().cloned())?
    })
    .await;
    status_is(&hub, "T5", "done").await;
    let events = hub.cli(&["task", "view", "T5", "--json"]).await.json();
    assert!(
        !events["events"].to_string().contains("task_plan_rejected"),
        "the late [Reject] changed nothing"
    );
}

/// Usage of `cost` dollars over `calls` model calls.
fn usage(cost: f64, calls: u64) -> Usage {
    Usage {
        model: Some("claude-sonnet-4-5".into()),
        input_tokens: 100 * calls,
        output_tokens: 10 * calls,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cost_usd: cost,
        calls,
        unpriced_calls: 0,
    }
}

/// The hook report of an agent that finished its turn.
fn turn_end() -> AgentEvent {
    AgentEvent {
        event: HookEvent::Stop,
        notification_type: None,
        source: None,
        tool_name: None,
        message: None,
        conversation_id: None,
        prompt: None,
        transcript_path: None,
    }
}

/// The bot's messages to the admin chat that contain `needle`.
fn count_with(fake: &FakeTelegram, needle: &str) -> usize {
    fake.sent(ADMIN_CHAT)
        .iter()
        .filter(|(_, text, _)| text.contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_card_shows_its_agent_and_workspace_and_budgets_are_told_once() {
    let fake = FakeTelegram::start().await;
    let Some(hub) = hub_with_bot(&fake.url).await else {
        return;
    };
    let admin = hub.admin();
    admin
        .set_budget(
            "P",
            &SetBudget {
                budget_usd: Some(1.0),
                enforce: false,
            },
        )
        .await
        .expect("budget");
    let d = SimDaemon::start(&admin, "P", "dev-01", "linux", &["app"], &[]).await;
    let t1 = admin
        .create_task(&CreateTask {
            title: "Build it".into(),
            project: Some("P".into()),
            repo: Some("app".into()),
            ..Default::default()
        })
        .await
        .expect("T1");
    let id = t1.id.to_string();
    admin.assign(&id, "dev-01").await.expect("assign");
    let start = d.wait_start(10, t1.id).await;

    // The agent finished its turn: the card says so, with the session's name.
    hub.client(Some(&start.token))
        .agent_event(&start.name, &turn_end())
        .await
        .expect("stop");
    // Its workspace was made: the card names the branch, what changed and its review.
    d.report_workspace(&sample_workspace(t1.id, "T1"));
    eventually(10, "the workspace stored", || async {
        admin.task(&id).await.ok()?.workspace.map(|_| ())
    })
    .await;
    fake.say(ADMIN_CHAT, "ada", "/task T1");
    let (_, card, _) = fake
        .until("the card", 10, |f| message_with(f, "<b>T1 Build it</b>"))
        .await;
    assert!(
        card.contains(&format!("\nagent: idle ({})\n", start.name)),
        "{card}"
    );
    assert!(
        card.contains("\nworkspace: orc/T1-work · 1 file +3 -1 · review: unreviewed\n"),
        "{card}"
    );
    budget_notices_are_sent_once(&fake, &hub, &d, &start).await;
}

/// Usage reports of `start`'s session past 80% and past 100% of project P's $1 budget: one
/// message each, whatever comes after.
async fn budget_notices_are_sent_once(
    fake: &FakeTelegram,
    hub: &TestHub,
    d: &SimDaemon,
    start: &SessionStart,
) {
    let admin = hub.admin();
    let id = start
        .task
        .as_ref()
        .map(|t| t.id.to_string())
        .expect("a task");
    // 85% of the budget: one warning; 90% says nothing new; 120% reaches it: one notice.
    for (cost, calls) in [(0.85, 3), (0.9, 4), (1.2, 5), (1.3, 6)] {
        d.send(&DaemonToHub::Usage {
            session_id: start.session_id,
            usage: usage(cost, calls),
        });
        let warned = if cost < 1.0 { "💰" } else { "🛑" };
        fake.until("the budget notice", 10, |f| {
            (count_with(f, warned) > 0).then_some(())
        })
        .await;
        eventually(10, "the usage stored", || async {
            let u = admin.task(&id).await.ok()?.task.usage?;
            (u.calls == calls).then_some(())
        })
        .await;
    }
    // A later event's message comes after any the budget could still cause.
    hub.client(Some(&start.token))
        .fail(&id, "out of ideas")
        .await
        .expect("fail");
    fake.until("the failure", 10, |f| {
        message_with(f, "T1 Build it</b> failed")
    })
    .await;
    assert_eq!(count_with(fake, "💰"), 1, "{:?}", fake.sent(ADMIN_CHAT));
    assert_eq!(count_with(fake, "🛑"), 1, "{:?}", fake.sent(ADMIN_CHAT));
    let (_, warning, _) = message_with(fake, "💰").expect("the warning");
    assert!(
        warning.contains("Project <b>P</b> has spent $0.85 of its $1.00 budget (85%)."),
        "{warning}"
    );
    let (_, reached, _) = message_with(fake, "🛑").expect("the notice");
    assert!(
        reached.contains(
            "Project <b>P</b> reached its budget: $1.20 of $1.00. \
             The budget is not enforced: tasks still start."
        ),
        "{reached}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_telegram_never_holds_up_the_hub() {
    // Nothing listens on port 9 of loopback: every call to "Telegram" fails at once.
    let Some(hub) = hub_with_bot("http://127.0.0.1:9").await else {
        return;
    };
    for i in 0..20 {
        hub.cli(&["task", "create", "--title", &format!("t{i}")])
            .await
            .ok();
    }
    let tasks = hub.cli(&["task", "list", "--json"]).await.json();
    assert_eq!(tasks.as_array().map(Vec::len), Some(20));
}

#[tokio::test]
async fn telegram_flags_are_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let serve = |flags: &[&str]| {
        let mut c = tokio::process::Command::new(orchestratia_testkit::bin("orchestratia-hub"));
        c.args(["serve", "--listen", "127.0.0.1:0", "--no-admin-file"])
            .arg("--db")
            .arg(dir.path().join("hub.db"))
            .args(flags)
            .env_remove("ORCHESTRATIA_TELEGRAM_TOKEN")
            .env_remove("ORCHESTRATIA_TELEGRAM_CHATS")
            .stdin(std::process::Stdio::null());
        c
    };
    for (flags, reason) in [
        (
            &["--telegram-token", "123:TEST"][..],
            "needs at least one --telegram-chat",
        ),
        (
            &["--telegram-chat", "42"][..],
            "--telegram-chat needs --telegram-token",
        ),
        (
            &[
                "--telegram-token",
                "123:TEST",
                "--telegram-chat",
                "42",
                "--telegram-api-url",
                "not a url",
            ][..],
            "--telegram-api-url not a url",
        ),
    ] {
        let out = serve(flags).output().await.expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {stderr}");
        assert!(stderr.contains(reason), "{flags:?}: {stderr}");
    }
    let out = serve(&["--telegram-chat", "forty-two"])
        .output()
        .await
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "a chat is a number");
}
