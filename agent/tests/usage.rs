//! A session's model usage end to end: a real hub, a real daemon, and an agent whose `Stop`
//! hook (`orchestratia hook claude-code --report-only`) names its Claude Code transcript. The
//! hub tells the daemon the path, the daemon reads the transcript (each message once, priced
//! from its default table) and reports the totals, and the task shows them; a call appended
//! to the transcript later is picked up by the daemon's poll.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use orchestratia_proto::usage::Usage;
use orchestratia_testkit::{
    Backend, DaemonOptions, HubOptions, TestDaemon, TestHub, eventually, wait_online,
};

/// A transcript in Claude Code's shape: a prompt, a message whose usage repeats on two
/// content-block lines, a tool result, a second Sonnet message, a Haiku call, a snapshot.
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude-transcript.jsonl")
}

/// The fixture's sums, by hand from the default prices (USD per million tokens):
/// Sonnet 4.5 (3 in, 15 out, 3.75 cache write, 0.3 cache read): msg_01 3/95/2000/10000 and
/// msg_02 8/220/160/12000 → 33 + 4725 + 8100 + 6600 = 19458 µ$; Haiku 4.5 (1 in, 5 out):
/// msg_03 400/30 → 550 µ$.
fn expected() -> Usage {
    Usage {
        model: Some("claude-haiku-4-5-20251001".into()),
        input_tokens: 411,
        output_tokens: 345,
        cache_read_tokens: 22_000,
        cache_write_tokens: 2_160,
        cost_usd: 0.020_008,
        calls: 3,
        unpriced_calls: 0,
    }
}

/// An agent that copies the fixture where Claude Code keeps transcripts, reports a `Stop`
/// naming it, and stays up.
fn agent_script(dir: &Path, transcript: &Path) -> PathBuf {
    let script = dir.join("agent.sh");
    let text = format!(
        r#"set -u
mkdir -p '{parent}'
cp '{fixture}' '{transcript}'
printf '{{"session_id":"conv-1","transcript_path":"%s","cwd":"%s","hook_event_name":"Stop","stop_hook_active":false}}\n' '{transcript}' "$PWD" \
    | orchestratia hook claude-code --report-only
echo "reported the turn"
sleep 120
"#,
        parent = transcript.parent().expect("parent").display(),
        fixture = fixture().display(),
        transcript = transcript.display(),
    );
    std::fs::write(&script, text).expect("agent script");
    script
}

async fn task_usage(hub: &TestHub, id: &str) -> Option<Usage> {
    hub.admin().task(id).await.ok()?.task.usage
}

fn same(a: &Usage, b: &Usage) -> bool {
    (a.cost_usd - b.cost_usd).abs() < 1e-9
        && Usage {
            cost_usd: 0.0,
            ..a.clone()
        } == Usage {
            cost_usd: 0.0,
            ..b.clone()
        }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_transcript_becomes_its_tasks_usage() {
    let Some(hub) = TestHub::start_with(HubOptions {
        backend: Backend::Sqlite,
        heartbeat: Duration::from_millis(300),
        ..HubOptions::default()
    })
    .await
    else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    let tmp = tempfile::tempdir().expect("temp dir");
    let transcript = tmp.path().join("projects/-srv-app/conv-1.jsonl");
    let script = agent_script(tmp.path(), &transcript);
    let d = TestDaemon::start(
        &hub,
        DaemonOptions {
            repos: &["app"],
            runner: "pty",
            agent_command: Some(format!("sh {}", script.display())),
            ..Default::default()
        },
    )
    .await;
    wait_online(&hub.admin(), "dev-01").await;
    let v = hub
        .cli(&[
            "task", "create", "--title", "costly", "--repo", "app", "--json",
        ])
        .await
        .json();
    let id = v["id"].as_str().expect("task id").to_string();
    hub.cli(&["task", "assign", "T1", "--session", "dev-01"])
        .await
        .ok();

    let want = expected();
    let mut got = None;
    for _ in 0..300 {
        got = task_usage(&hub, &id)
            .await
            .filter(|u| u.calls >= want.calls);
        if got.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Some(got) = got else {
        panic!("no usage on the task; daemon log:\n{}", d.log());
    };
    assert!(same(&got, &want), "got {got:?}, want {want:?}");
    let listed = hub.admin().tasks(&Default::default()).await.expect("tasks");
    let t = listed
        .iter()
        .find(|t| t.id.to_string() == id)
        .expect("listed");
    assert!(t.usage.as_ref().is_some_and(|u| same(u, &want)), "{t:?}");
    let projects = hub.admin().projects().await.expect("projects");
    let p = projects[0].usage.as_ref().expect("project usage");
    assert!(same(p, &want), "{p:?}");

    // Another call lands in the transcript (a partial line first): the daemon's poll reads
    // it once it is complete, and repeats of counted messages add nothing.
    let extra = r#"{"type":"assistant","uuid":"a5","message":{"id":"msg_04","type":"message","role":"assistant","model":"claude-opus-4-5-20251101","content":[{"type":"text","text":"done"}],"usage":{"input_tokens":100,"output_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}"#;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .expect("open transcript");
    let (head, tail) = extra.split_at(40);
    f.write_all(head.as_bytes()).expect("append");
    f.flush().expect("flush");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let repeat = std::fs::read_to_string(fixture()).expect("fixture");
    let repeat = repeat.lines().nth(4).expect("msg_02 line");
    write!(f, "{tail}\n{repeat}\n").expect("append");
    drop(f);
    // Opus 4.5 (5 in, 25 out): 100/10 → 750 µ$.
    let want = Usage {
        model: Some("claude-opus-4-5-20251101".into()),
        input_tokens: 511,
        output_tokens: 355,
        cost_usd: 0.020_758,
        calls: 4,
        ..expected()
    };
    let got = eventually(30, "the appended call", || async {
        task_usage(&hub, &id).await.filter(|u| u.calls >= 4)
    })
    .await;
    assert!(same(&got, &want), "got {got:?}, want {want:?}");
}
