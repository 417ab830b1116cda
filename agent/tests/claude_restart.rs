//! A daemon that runs Claude Code and is restarted mid-session (kill -9, a reboot), with a
//! stand-in for Claude Code (a shell script named `claude`): the settings file it hooked is
//! put back as it was before the task, and an agent lost with its terminal comes back only
//! to work on a task that is still open.

use std::path::{Path, PathBuf};
use std::time::Duration;

use orchestratia_testkit::agent::tmux_available;
use orchestratia_testkit::{Backend, DaemonOptions, HubOptions, TestDaemon, TestHub, eventually};
use serde_json::Value;

/// A hub with project P and the daemon dev-01 (online) running the stand-in `claude` made of
/// `body`, in repos app and web; `None` (and why) without tmux.
async fn rig(bin: &Path, body: &str) -> Option<(TestHub, TestDaemon)> {
    if !tmux_available() {
        eprintln!("skipping: tmux is not installed");
        return None;
    }
    let hub = TestHub::start_with(HubOptions {
        backend: Backend::Sqlite,
        heartbeat: Duration::from_millis(300),
        offline_after: Duration::from_secs(2),
        ..HubOptions::default()
    })
    .await?;
    hub.cli(&["project", "create", "P"]).await.ok();
    let claude = bin.join("claude");
    std::fs::write(&claude, format!("#!/bin/sh\n{body}")).expect("write claude");
    std::fs::set_permissions(&claude, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let d = TestDaemon::start(
        &hub,
        DaemonOptions {
            repos: &["app", "web"],
            agent_command: Some(claude.to_string_lossy().into_owned()),
            ..Default::default()
        },
    )
    .await;
    online(&hub).await;
    Some((hub, d))
}

async fn online(hub: &TestHub) {
    eventually(20, "dev-01 online", || async {
        let s = hub.cli(&["server", "list", "--json"]).await.json();
        (s[0]["status"] == "online").then_some(())
    })
    .await;
}

async fn offline(hub: &TestHub) {
    eventually(20, "dev-01 offline", || async {
        let s = hub.cli(&["server", "list", "--json"]).await.json();
        (s[0]["status"] == "offline").then_some(())
    })
    .await;
}

/// Creates a task in `repo` (with `args`) and assigns it to dev-01.
async fn run_task(hub: &TestHub, r: &str, repo: &str, args: &[&str]) {
    let mut create = vec!["task", "create", "--title", r, "--repo", repo];
    create.extend_from_slice(args);
    hub.cli(&create).await.ok();
    hub.cli(&["task", "assign", r, "--session", "dev-01"])
        .await
        .ok();
}

async fn task_where(hub: &TestHub, r: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    eventually(40, &format!("{r}: {what}"), || async {
        let v = hub.cli(&["task", "view", r, "--json"]).await.json();
        f(&v).then_some(v)
    })
    .await
}

/// The session of task `r` as `session list` shows it, once `f` holds for it.
async fn session_where(hub: &TestHub, r: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    eventually(40, &format!("{r}'s session {what}"), || async {
        let l = hub.cli(&["session", "list", "--json"]).await.json();
        l.as_array()
            .into_iter()
            .flatten()
            .find(|s| s["task"] == r && f(s))
            .cloned()
    })
    .await
}

fn noted(v: &Value) -> bool {
    v["notes"].as_array().is_some_and(|n| !n.is_empty())
}

/// The launches of the stand-in in `repo`, one line of arguments each.
fn launches(logs: &Path, repo: &str) -> Vec<String> {
    std::fs::read_to_string(logs.join(format!("{repo}.log")))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn records(d: &TestDaemon) -> Vec<PathBuf> {
    std::fs::read_dir(d.dir.path().join("config.state").join("claude-settings"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_settings_are_restored_after_a_daemon_killed_mid_session() {
    let bin = tempfile::tempdir().expect("dir");
    let go = bin.path().join("go");
    // It says it runs (the settings are in place by then), waits for the test, completes.
    let body = format!(
        "orchestratia task note running\nwhile [ ! -e '{}' ]; do sleep 0.2; done\n\
         orchestratia task complete --summary 'fake claude'\n",
        go.display()
    );
    let Some((hub, mut d)) = rig(bin.path(), &body).await else {
        return;
    };
    let settings = d.repo("app").join(".claude").join("settings.local.json");
    std::fs::create_dir_all(settings.parent().expect("parent")).expect("mkdir");
    let before = r#"{"permissions":{"defaultMode":"auto"},"hooks":{"PreToolUse":[{"matcher":"Bash","hooks":[{"type":"command","command":"my-own-hook"}]}]}}"#;
    std::fs::write(&settings, before).expect("write settings");
    run_task(&hub, "T1", "app", &[]).await;
    run_task(&hub, "T2", "web", &[]).await;
    task_where(&hub, "T1", "running", noted).await;
    task_where(&hub, "T2", "running", noted).await;
    assert!(
        std::fs::read_to_string(&settings)
            .unwrap_or_default()
            .contains("claude-code"),
        "the hooks are in while the agent runs"
    );

    d.kill9().await;
    offline(&hub).await;
    d.spawn();
    online(&hub).await;
    for r in ["T1", "T2"] {
        task_where(&hub, r, "recovered", |v| {
            v["events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["event"] == "session_recovered"))
        })
        .await;
    }
    std::fs::write(&go, "").expect("go");
    for r in ["T1", "T2"] {
        task_where(&hub, r, "done", |v| v["status"] == "done").await;
        session_where(&hub, r, "ended", |s| s["status"] == "ended").await;
    }
    eventually(15, "settings restored and no record left", || async {
        let now = std::fs::read_to_string(&settings).ok();
        let web = d.repo("web").join(".claude").exists();
        (now.as_deref() == Some(before) && !web && records(&d).is_empty()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_agent_resumes_only_when_its_task_is_still_open() {
    let bin = tempfile::tempdir().expect("dir");
    let (logs, go) = (bin.path().to_path_buf(), bin.path().join("go"));
    // Each launch is logged. In app it completes its kept task at once and then idles, as
    // Claude does at its prompt; in web it works until the test says go.
    let body = format!(
        "repo=$(basename \"$PWD\")\necho \"$1 $2\" >> '{logs}'/\"$repo.log\"\n\
         case \"$1\" in --resume) resumed=1 ;; esac\n\
         if [ \"$repo\" = app ] && [ -z \"$resumed\" ]; then orchestratia task complete --summary kept; fi\n\
         orchestratia task note running\n\
         while [ ! -e '{go}' ]; do sleep 0.2; done\n\
         [ \"$repo\" = web ] && orchestratia task complete --summary 'fake claude'\n",
        logs = logs.display(),
        go = go.display()
    );
    let Some((hub, mut d)) = rig(bin.path(), &body).await else {
        return;
    };
    run_task(&hub, "T1", "app", &["--keep-session"]).await;
    run_task(&hub, "T2", "web", &[]).await;
    task_where(&hub, "T1", "done, its agent kept", |v| {
        v["status"] == "done" && noted(v)
    })
    .await;
    task_where(&hub, "T2", "running", noted).await;
    session_where(&hub, "T1", "kept", |s| s["status"] != "ended").await;

    // A reboot: the daemon dies and tmux with both agents in it.
    d.kill9().await;
    orchestratia_testkit::tmux::kill_server(&d.socket());
    offline(&hub).await;
    d.spawn();
    online(&hub).await;

    session_where(&hub, "T1", "ended", |s| s["status"] == "ended").await;
    let t1 = hub.cli(&["task", "view", "T1", "--json"]).await.json();
    assert_eq!(t1["status"], "done", "the kept task stays done");
    task_where(&hub, "T2", "recovered", |v| {
        v["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["event"] == "session_recovered"))
    })
    .await;
    let web = eventually(20, "the open task's agent came back", || async {
        let web = launches(&logs, "web");
        (web.len() == 2).then_some(web)
    })
    .await;
    assert!(web[1].starts_with("--resume"), "{web:?}");
    std::fs::write(&go, "").expect("go");
    task_where(&hub, "T2", "done", |v| v["status"] == "done").await;
    let app = launches(&logs, "app");
    assert_eq!(
        app.len(),
        1,
        "the kept agent of a done task is not told to carry on: {app:?}"
    );
    eventually(15, "no tmux session left", || async {
        d.orc_sessions().is_empty().then_some(())
    })
    .await;
    eventually(15, "the settings put back and no record left", || async {
        let clean = ["app", "web"]
            .iter()
            .all(|r| !d.repo(r).join(".claude").exists());
        (clean && records(&d).is_empty()).then_some(())
    })
    .await;
}
