//! The README's main command, headless: the real console binary starts an embedded hub, two
//! real daemons with scripted workers in tmux, runs the seven-task pipeline to ALL DONE,
//! approving the plan and answering the question itself, and cleans up after itself.

use std::process::Stdio;
use std::time::Duration;

use orchestratia_testkit::tmux;

/// A TMPDIR of the test's own: whatever the demo leaves there (tmux servers on their sockets)
/// is killed when the test ends, even when it fails.
struct Sandbox(tempfile::TempDir);

impl Drop for Sandbox {
    fn drop(&mut self) {
        tmux::kill_servers_under(self.0.path());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headless_demo_runs_the_pipeline_to_all_done() {
    if !tmux::available() {
        assert!(
            std::env::var("CI").is_err(),
            "tmux is missing in CI (.ci/run installs it)"
        );
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let sandbox = Sandbox(tempfile::tempdir().expect("temp dir"));
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_orchestratia-console"));
    cmd.args(["demo", "--headless", "--timeout", "120s"])
        .env("TMPDIR", sandbox.0.path())
        .env_remove("ORCHESTRATIA_HUB")
        .env_remove("ORCHESTRATIA_TOKEN")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .expect("the demo ends within its own time limit")
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );

    assert!(stdout.contains("ALL DONE: 7 tasks"), "{stdout}");
    assert!(
        stdout.contains("headless demo: approving T3's plan"),
        "{stdout}"
    );
    assert!(
        stdout.contains("headless demo: allowing T2's Bash `cargo test -p gateway"),
        "{stdout}"
    );
    assert!(
        stdout.contains("headless demo: answering T4's question"),
        "{stdout}"
    );
    // The answer reached the worker, which noted it on its task.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("task_note_added") && l.contains("answer: The ISO code")),
        "{stdout}"
    );
    // The timeline shows the cascade, the contract and T7 on dev-desktop.
    for needle in [
        "contract_fulfilled",
        "T1→T2   task_unblocked",
        "task_plan_approved",
        "intervention_responded",
        "permission_decided",
        "agent=dev-desktop",
    ] {
        assert!(stdout.contains(needle), "no {needle} in:\n{stdout}");
    }
    // The five phases of the seven-task cascade (docs/WORKFLOWS.md, workflow 6).
    for phase in [
        "phase 1   T1 ",
        "phase 2   T2 T3 T4 ",
        "phase 3   T5 T7 ",
        "phase 4   T6 ",
        "phase 5 ",
    ] {
        assert!(stdout.contains(phase), "no '{phase}' in:\n{stdout}");
    }
    the_branches_are_listed_and_t5_starts_from_t2(&stdout);
    // It cleaned up: its temp dir is gone and no tmux server of its own is left.
    let left: Vec<_> = std::fs::read_dir(sandbox.0.path())
        .expect("sandbox")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with("orchestratia-demo."))
        .collect();
    assert!(left.is_empty(), "the demo left {left:?}");
}

/// Every task's branch is listed for review with what its worker committed on it, the last
/// task's too (its session may still be ending when the pipeline is done); Gateway Tests
/// (`base: upstream`) starts from Gateway Integration's branch, the others from main.
fn the_branches_are_listed_and_t5_starts_from_t2(stdout: &str) {
    assert!(
        stdout.contains("workspaces to review (7 branches;"),
        "{stdout}"
    );
    for (task, branch, stat) in [
        ("T1", "orc/T1-update-api-schema-v2-5", "1 file +2 -0"),
        ("T2", "orc/T2-gateway-integration", "1 file +1 -0"),
        ("T3", "orc/T3-search-engine-v2", "1 file +1 -0"),
        ("T4", "orc/T4-web-dashboard", "1 file +1 -0"),
        ("T5", "orc/T5-gateway-tests", "1 file +1 -0"),
        ("T6", "orc/T6-staging-deploy", "1 file +1 -0"),
        ("T7", "orc/T7-desktop-app-update", "1 file +1 -0"),
    ] {
        let line = format!("  {task:<4} {branch:<44} {stat}");
        assert!(
            stdout.lines().any(|l| l == line),
            "no '{line}' in:\n{stdout}"
        );
    }
    let created: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("workspace_created"))
        .collect();
    assert_eq!(created.len(), 7, "{created:#?}");
    for l in &created {
        let base = if l.contains(" T5 ") {
            "base=orc/T2-gateway-integration branch=orc/T5-gateway-tests"
        } else {
            "base=main branch="
        };
        assert!(l.contains(base), "{l}");
    }
}

#[tokio::test]
async fn a_bad_flag_is_a_usage_error() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_orchestratia-console"))
        .args(["demo", "--timeout", "soon"])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--timeout"));
}
