//! Permission rules, the ranked inbox and reminders from Telegram (docs/WORKFLOWS.md,
//! workflow 8), against a fake Bot API on loopback: the real hub binary runs the bot, a real
//! daemon runs scripted workers in tmux, and the test plays the admin's phone.

use std::time::Duration;

use orchestratia_testkit::agent::tmux_available;
use orchestratia_testkit::telegram::FakeTelegram;
use orchestratia_testkit::{
    Backend, DaemonOptions, HubOptions, TestDaemon, TestHub, eventually, wait_online,
};
use serde_json::Value;

const ADMIN_CHAT: i64 = 42;

/// A fake Telegram, a hub whose bot talks to it (with `extra` flags), project P, and a real
/// daemon dev-01 (repo `app`) online. `None` when tmux is missing.
async fn bot_and_daemon(extra: &[&str]) -> Option<(FakeTelegram, TestHub, TestDaemon)> {
    if !tmux_available() {
        eprintln!("skipping: tmux is not installed");
        return None;
    }
    let fake = FakeTelegram::start().await;
    let mut args: Vec<String> = [
        "--telegram-token",
        "123:TEST",
        "--telegram-chat",
        &ADMIN_CHAT.to_string(),
        "--telegram-api-url",
        &fake.url,
        "--telegram-poll-timeout",
        "1s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let hub = TestHub::start_with(HubOptions {
        backend: Backend::Sqlite,
        args,
        ..HubOptions::default()
    })
    .await?;
    hub.cli(&["project", "create", "P"]).await.ok();
    let d = TestDaemon::start(
        &hub,
        DaemonOptions {
            repos: &["app"],
            ..Default::default()
        },
    )
    .await;
    wait_online(&hub.admin(), "dev-01").await;
    Some((fake, hub, d))
}

/// Creates a task in repo `app` and assigns it to dev-01.
async fn run(hub: &TestHub, r: &str, title: &str, spec: &str, extra: &[&str]) {
    let mut args = vec![
        "task", "create", "--title", title, "--repo", "app", "--spec", spec,
    ];
    args.extend_from_slice(extra);
    hub.cli(&args).await.ok();
    hub.cli(&["task", "assign", r, "--session", "dev-01"])
        .await
        .ok();
}

async fn status_is(hub: &TestHub, r: &str, status: &str) -> Value {
    eventually(60, &format!("{r} {status}"), || async {
        let v = hub.cli(&["task", "view", r, "--json"]).await.json();
        (v["status"] == status).then_some(v)
    })
    .await
}

/// The bot's messages to the admin chat whose text contains every needle (id, text, buttons).
fn messages_with(fake: &FakeTelegram, needles: &[&str]) -> Vec<(i64, String, Vec<String>)> {
    fake.sent(ADMIN_CHAT)
        .into_iter()
        .filter(|(_, text, _)| needles.iter().all(|n| text.contains(n)))
        .collect()
}

/// The newest such message, once there is one.
async fn wait_message(
    fake: &FakeTelegram,
    what: &str,
    needles: &[&str],
) -> (i64, String, Vec<String>) {
    fake.until(what, 30, |f| messages_with(f, needles).pop())
        .await
}

/// The button whose callback data starts with `prefix`.
fn button(buttons: &[String], prefix: &str) -> String {
    buttons
        .iter()
        .find(|b| b.starts_with(prefix))
        .cloned()
        .unwrap_or_else(|| panic!("no {prefix} button in {buttons:?}"))
}

/// The permission request messages (not confirmations or reminders) about `command`.
fn requests_for(fake: &FakeTelegram, command: &str) -> usize {
    messages_with(fake, &["🔐", &format!("<pre>{command}</pre>")])
        .iter()
        .filter(|(_, t, _)| !t.contains("Still waiting"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_always_makes_a_rule_and_the_next_identical_call_asks_nobody() {
    let Some((fake, hub, _d)) = bot_and_daemon(&[]).await else {
        return;
    };
    run(
        &hub,
        "T1",
        "First",
        "worker: permission cargo test -p api",
        &[],
    )
    .await;
    let (msg, text, buttons) = wait_message(&fake, "the request", &["cargo test -p api"]).await;
    // Another task asks the same while the first waits.
    run(
        &hub,
        "T2",
        "Twin",
        "worker: permission cargo test -p api",
        &[],
    )
    .await;
    let (twin, _, _) = fake
        .until("the twin request", 20, |f| {
            messages_with(f, &["🔐", "T2 Twin", "<pre>cargo test -p api</pre>"]).pop()
        })
        .await;
    assert!(text.contains("wants to run <b>Bash</b>"), "{text}");
    assert_eq!(
        buttons.len(),
        5,
        "once, session, always, deny, deny always: {buttons:?}"
    );

    // [Back] drops a proposal: nothing decided, the request's buttons still work.
    fake.tap(ADMIN_CHAT, "ada", msg, &button(&buttons, "perm:always:"));
    let (dropped, _, dbuttons) = wait_message(&fake, "a proposal", &["📜"]).await;
    fake.tap(ADMIN_CHAT, "ada", dropped, &button(&dbuttons, "rule:back:"));
    fake.until("the proposal dropped", 10, |f| {
        f.text(ADMIN_CHAT, dropped)
            .filter(|t| t.contains("not saved"))
    })
    .await;

    fake.tap(ADMIN_CHAT, "ada", msg, &button(&buttons, "perm:always:"));
    let (_, proposal, pbuttons) = fake
        .until("the second proposal", 10, |f| {
            messages_with(f, &["📜", "Allow always"])
                .into_iter()
                .find(|(id, _, _)| *id != dropped)
        })
        .await;
    assert!(proposal.contains("a rule for project P"), "{proposal}");
    assert!(
        proposal.contains("allow Bash <code>cargo test -p api</code>"),
        "{proposal}"
    );
    assert_eq!(pbuttons.len(), 3, "{pbuttons:?}");
    assert!(hub.admin().rules(false).await.expect("rules").is_empty());
    // The proposal alone decides nothing.
    assert_eq!(
        hub.cli(&["task", "view", "T1", "--json"]).await.json()["status"],
        "running"
    );

    fake.tap(ADMIN_CHAT, "ada", msg, &button(&pbuttons, "rule:save:"));
    status_is(&hub, "T1", "done").await;
    let ended = fake
        .until("the request closed with its rule", 10, |f| {
            f.text(ADMIN_CHAT, msg)
                .filter(|t| t.contains("allowed always by @ada"))
        })
        .await;
    assert!(
        ended.contains("rule: allow Bash \"cargo test -p api\" (project P)"),
        "{ended}"
    );
    let rules = hub.admin().rules(false).await.expect("rules");
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].pattern, "cargo test -p api");
    assert_eq!(rules[0].created_by, "telegram:ada");
    // The new rule decided the twin too: its message says by which rule.
    status_is(&hub, "T2", "done").await;
    fake.until("the twin closed by the rule", 10, |f| {
        f.text(ADMIN_CHAT, twin)
            .filter(|t| t.contains("✅ allowed — allowed by rule"))
    })
    .await;

    // The same call from another task of the project is decided by the rule: no message.
    run(
        &hub,
        "T3",
        "Third",
        "worker: permission cargo test -p api",
        &[],
    )
    .await;
    status_is(&hub, "T3", "done").await;
    assert_eq!(
        requests_for(&fake, "cargo test -p api"),
        2,
        "T1's and T2's only"
    );
    // A stale proposal button after the decision changes nothing.
    let taps = fake.calls("answerCallbackQuery").len();
    fake.tap(ADMIN_CHAT, "ada", msg, &button(&pbuttons, "rule:save:"));
    fake.until("the late tap answered", 10, |f| {
        (f.calls("answerCallbackQuery").len() > taps).then_some(())
    })
    .await;
    assert_eq!(hub.admin().rules(false).await.expect("rules").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_for_session_then_a_pattern_edited_by_reply() {
    let Some((fake, hub, _d)) = bot_and_daemon(&[]).await else {
        return;
    };
    run(
        &hub,
        "T1",
        "Build",
        "worker: permission make build\nworker: permission make build\n\
         worker: permission cargo test -p web\nworker: permission rm -rf dist",
        &[],
    )
    .await;

    // For the session: the second identical call in the session asks nobody.
    let (msg, _, buttons) = wait_message(&fake, "make build", &["<pre>make build</pre>"]).await;
    fake.tap(ADMIN_CHAT, "ada", msg, &button(&buttons, "perm:session:"));
    fake.until("allowed for the session", 10, |f| {
        f.text(ADMIN_CHAT, msg)
            .filter(|t| t.contains("allowed for this session by @ada"))
    })
    .await;

    // Always, with the pattern edited by a reply to the prompt.
    let (msg, _, buttons) =
        wait_message(&fake, "cargo test", &["🔐", "<pre>cargo test -p web</pre>"]).await;
    assert_eq!(
        requests_for(&fake, "make build"),
        1,
        "the session rule decided the second"
    );
    fake.tap(ADMIN_CHAT, "ada", msg, &button(&buttons, "perm:always:"));
    let (confirm, _, pbuttons) = wait_message(&fake, "the proposal", &["📜"]).await;
    fake.tap(ADMIN_CHAT, "ada", confirm, &button(&pbuttons, "rule:edit:"));
    let (prompt, _, _) = wait_message(&fake, "the prompt", &["Reply with the pattern"]).await;
    let forced = fake
        .calls("sendMessage")
        .into_iter()
        .find(|c| c.params["_id"].as_i64() == Some(prompt))
        .expect("the prompt's call");
    assert_eq!(forced.params["reply_markup"]["force_reply"], true);
    fake.until("the confirmation closed", 10, |f| {
        f.text(ADMIN_CHAT, confirm)
            .filter(|t| t.contains("editing the pattern"))
    })
    .await;

    // A pattern that matches everything is refused; the prompt still takes a reply.
    fake.reply(ADMIN_CHAT, "ada", "*", prompt);
    wait_message(&fake, "the refusal", &["Pattern refused"]).await;
    fake.reply(ADMIN_CHAT, "ada", "cargo test *", prompt);
    let (reconfirm, edited, ebuttons) = wait_message(
        &fake,
        "the edited proposal",
        &["📜", "<code>cargo test *</code>"],
    )
    .await;
    assert!(edited.contains("a rule for project P"), "{edited}");
    fake.tap(
        ADMIN_CHAT,
        "ada",
        reconfirm,
        &button(&ebuttons, "rule:save:"),
    );
    fake.until("the request closed with its rule", 10, |f| {
        f.text(ADMIN_CHAT, msg)
            .filter(|t| t.contains("rule: allow Bash \"cargo test *\" (project P)"))
    })
    .await;

    // Deny always: the call is refused (the worker fails, as scripted) and a deny rule made.
    let (msg, _, buttons) = wait_message(&fake, "rm", &["🔐", "<pre>rm -rf dist</pre>"]).await;
    fake.tap(
        ADMIN_CHAT,
        "ada",
        msg,
        &button(&buttons, "perm:denyalways:"),
    );
    let (confirm, proposal, dbuttons) =
        wait_message(&fake, "the deny proposal", &["📜", "Deny always"]).await;
    assert!(
        proposal.contains("deny Bash <code>rm -rf dist</code>"),
        "{proposal}"
    );
    fake.tap(ADMIN_CHAT, "ada", confirm, &button(&dbuttons, "rule:save:"));
    status_is(&hub, "T1", "failed").await;
    let ended = fake
        .until("the request closed with its deny rule", 10, |f| {
            f.text(ADMIN_CHAT, msg)
                .filter(|t| t.contains("denied always by @ada"))
        })
        .await;
    assert!(
        ended.contains("rule: deny Bash \"rm -rf dist\" (project P)"),
        "{ended}"
    );
    let rules = hub.admin().rules(false).await.expect("rules");
    let patterns: Vec<&str> = rules.iter().map(|r| r.pattern.as_str()).collect();
    assert!(patterns.contains(&"cargo test *"), "{patterns:?}");
    assert!(patterns.contains(&"make build"), "{patterns:?}");
    assert!(!patterns.contains(&"*"), "{patterns:?}");
    assert!(
        rules
            .iter()
            .any(|r| r.pattern == "rm -rf dist" && r.effect.to_string() == "deny"),
        "{rules:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_ranks_what_blocks_most_first_and_reminds_once() {
    let Some((fake, hub, _d)) = bot_and_daemon(&["--remind-after", "3s"]).await else {
        return;
    };
    // T1 asks first but holds up nothing; T2 asks later and T3 waits for it.
    run(&hub, "T1", "Lonely", "worker: permission echo lonely", &[]).await;
    let (lonely, _, _) = wait_message(&fake, "T1's request", &["<pre>echo lonely</pre>"]).await;
    run(&hub, "T2", "Root", "worker: permission echo root", &[]).await;
    hub.cli(&["task", "create", "--title", "Child", "--depends-on", "T2"])
        .await
        .ok();
    wait_message(&fake, "T2's request", &["<pre>echo root</pre>"]).await;

    fake.say(ADMIN_CHAT, "ada", "/inbox");
    let (_, inbox, _) = wait_message(&fake, "/inbox", &["Waiting for a human"]).await;
    let root = inbox.find("echo root").expect("T2 listed");
    let alone = inbox.find("echo lonely").expect("T1 listed");
    assert!(root < alone, "what blocks more comes first: {inbox}");
    assert!(inbox.contains("1. permission T2"), "{inbox}");
    assert!(
        inbox.contains("blocks 1: holds up 1 task downstream"),
        "{inbox}"
    );
    assert!(inbox.contains("2. permission T1"), "{inbox}");

    // Each waiting request is reminded once after 3 s, with its buttons.
    let (reminder, text, buttons) = wait_message(
        &fake,
        "T1's reminder",
        &["Still waiting", "<pre>echo lonely</pre>"],
    )
    .await;
    assert!(text.contains("wants to run <b>Bash</b>"), "{text}");
    let sent_at = |id: i64| {
        fake.calls("sendMessage")
            .into_iter()
            .find(|c| c.params["_id"].as_i64() == Some(id))
            .map(|c| c.at)
            .expect("sent")
    };
    assert!(
        sent_at(reminder).duration_since(sent_at(lonely)) >= Duration::from_millis(2500),
        "not before the deadline"
    );
    wait_message(
        &fake,
        "T2's reminder",
        &["Still waiting", "<pre>echo root</pre>"],
    )
    .await;
    // Several sweeps later (one every 750 ms), still one reminder each.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for command in ["echo lonely", "echo root"] {
        let pre = format!("<pre>{command}</pre>");
        assert_eq!(
            messages_with(&fake, &["Still waiting", &pre]).len(),
            1,
            "{command} reminded once"
        );
    }
    // The reminder's button decides; every message of the request closes.
    fake.tap(
        ADMIN_CHAT,
        "ada",
        reminder,
        &button(&buttons, "perm:allow:"),
    );
    status_is(&hub, "T1", "done").await;
    fake.until("the first message closed too", 10, |f| {
        f.text(ADMIN_CHAT, lonely)
            .filter(|t| t.contains("allowed by @ada"))
    })
    .await;
}

#[tokio::test]
async fn remind_after_must_be_a_positive_duration() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (value, reason) in [("0s", "must be more than zero"), ("soon", "remind-after")] {
        let out = tokio::process::Command::new(orchestratia_testkit::bin("orchestratia-hub"))
            .args(["serve", "--listen", "127.0.0.1:0", "--no-admin-file"])
            .arg("--db")
            .arg(dir.path().join("hub.db"))
            .args(["--remind-after", value])
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{value}: {stderr}");
        assert!(stderr.contains(reason), "{value}: {stderr}");
    }
}
