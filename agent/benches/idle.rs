//! What finished tasks cost a server: N tasks run by the real Claude Code (against the
//! scripted fake model) to done, then the memory and CPU of every process the daemon still
//! keeps for them, measured over a window. Twice: as before (the agents kept, which is what
//! `keep_finished_sessions: true` still does on request) and as now (finished sessions end;
//! only their recordings remain, on the hub).
//!
//! `cargo bench -p orchestratia-agent --bench idle` (`-- --tasks N`, `-- --window SECS`).

use std::time::Duration;

use orchestratia_proto::{SessionState, TaskStatus};
use orchestratia_testkit::claude_rig::{ClaudeRig, RigOptions};
use orchestratia_testkit::model::Step;

struct Args {
    tasks: usize,
    window: u64,
}

fn args() -> Args {
    let mut a = Args {
        tasks: 4,
        window: 10,
    };
    let argv: Vec<String> = std::env::args().collect();
    for w in argv.windows(2) {
        match w[0].as_str() {
            "--tasks" => a.tasks = w[1].parse().unwrap_or(a.tasks),
            "--window" => a.window = w[1].parse().unwrap_or(a.window),
            _ => {}
        }
    }
    a
}

/// Resident memory of a process, in KiB (0 when it is gone).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time a process used so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            // After the command: state(0) … utime(11) stime(12).
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

struct Figures {
    processes: usize,
    claude: usize,
    rss_mib: f64,
    cpu_pct: f64,
}

/// Runs `n` tasks to done on a daemon with `config`, lets things settle, and measures what
/// the daemon's agents still hold.
async fn scenario(n: usize, window: u64, config: &str, sessions_end: bool) -> Option<Figures> {
    let rig = ClaudeRig::start(RigOptions {
        config,
        ..Default::default()
    })
    .await?;
    let _allow = rig.allow_all();
    for i in 1..=n {
        rig.model.script(
            &format!("# T{i}:"),
            vec![
                Step::Bash(format!(
                    "orchestratia task complete --summary 'task {i} done'"
                )),
                Step::Text("Done.".into()),
            ],
        );
        rig.hub
            .cli(&[
                "task",
                "create",
                "--title",
                &format!("task {i}"),
                "--repo",
                "app",
            ])
            .await
            .ok();
        rig.hub
            .cli(&["task", "assign", &format!("T{i}"), "--session", "dev-01"])
            .await
            .ok();
    }
    for i in 1..=n {
        rig.status_is(&format!("T{i}"), TaskStatus::Done, 180).await;
        if !sessions_end {
            rig.state_is(&format!("T{i}"), SessionState::Idle, 60).await;
        }
    }
    if sessions_end {
        rig.no_claude_left(120).await;
    }
    // Let the last turns and exits settle before measuring.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let procs = rig.agent_processes();
    let ticks_before: u64 = procs.iter().map(|(p, _)| cpu_ticks(*p)).sum();
    tokio::time::sleep(Duration::from_secs(window)).await;
    let procs_after = rig.agent_processes();
    let ticks_after: u64 = procs_after.iter().map(|(p, _)| cpu_ticks(*p)).sum();
    // SAFETY: sysconf with a valid name has no memory-safety implications.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let rss: u64 = procs_after.iter().map(|(p, _)| rss_kib(*p)).sum();
    Some(Figures {
        processes: procs_after.len(),
        claude: procs_after
            .iter()
            .filter(|(_, c)| c.starts_with("claude"))
            .count(),
        rss_mib: rss as f64 / 1024.0,
        cpu_pct: ticks_after.saturating_sub(ticks_before) as f64 / hz / window as f64 * 100.0,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    println!(
        "{} finished tasks on one server, measured over {} s after they settled\n",
        a.tasks, a.window
    );
    let Some(before) = scenario(a.tasks, a.window, "keep_finished_sessions: true\n", false).await
    else {
        return;
    };
    let Some(after) = scenario(a.tasks, a.window, "", true).await else {
        return;
    };
    println!(
        "{:<38} {:>9} {:>7} {:>10} {:>12}",
        "", "processes", "claude", "RSS (MiB)", "CPU (% core)"
    );
    for (name, f) in [
        ("before: finished agents linger", &before),
        ("now: finished sessions end", &after),
    ] {
        println!(
            "{name:<38} {:>9} {:>7} {:>10.1} {:>12.2}",
            f.processes, f.claude, f.rss_mib, f.cpu_pct
        );
    }
    println!(
        "\nper finished task: {:.1} MiB and {:.2} % of a core before; {:.1} MiB and {:.2} % now",
        before.rss_mib / a.tasks as f64,
        before.cpu_pct / a.tasks as f64,
        after.rss_mib / a.tasks as f64,
        after.cpu_pct / a.tasks as f64
    );
}
