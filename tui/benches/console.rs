//! The console's costs, on this machine:
//! - the time to apply a 1 MB output chunk to a 200×50 session screen (vt100) and to draw a
//!   full console frame with it (the Sessions view, 226×56), median of 20;
//! - the real console's CPU use (from /proc) while idle, and while four sessions stream
//!   output (a real hub, a real daemon with tmux, the console in a tmux pane on the Sessions
//!   view: one session drawn live, three as previews).
//!
//! `cargo bench -p orchestratia-console --bench console` (`-- --secs N` to measure longer).

use std::path::Path;
use std::time::{Duration, Instant};

use orchestratia_agent::daemon::register::{Registration, register};
use orchestratia_console::console::app::App;
use orchestratia_console::console::link::Msg;
use orchestratia_console::console::model::Snapshot;
use orchestratia_console::console::screen::SessionScreen;
use orchestratia_console::console::views;
use orchestratia_proto::api::CreateSession;
use orchestratia_proto::client::HubClient;
use orchestratia_proto::ws::{Frame, FrameKind};
use orchestratia_proto::{ServerStatus, SessionStatus};
use orchestratia_testkit::tmux::{self, TmuxServer};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::json;
use uuid::Uuid;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// 1 MB of what agents print: coloured words, line by line, a progress bar redrawn in place.
fn megabyte() -> Vec<u8> {
    let mut out = Vec::with_capacity(1_100_000);
    let mut i = 0u64;
    while out.len() < 1_000_000 {
        out.extend_from_slice(
            format!(
                "\x1b[32m   Compiling\x1b[0m crate-{i} v0.{}.0 (/srv/app/crates/crate-{i}) \x1b[1mwarning\x1b[0m: unused `x`\r\n",
                i % 40
            )
            .as_bytes(),
        );
        if i.is_multiple_of(10) {
            out.extend_from_slice(
                format!(
                    "\x1b[2K\r[{:=>width$}>{:width2$}] {i}\r",
                    "",
                    "",
                    width = (i % 50) as usize,
                    width2 = 50 - (i % 50) as usize
                )
                .as_bytes(),
            );
        }
        i += 1;
    }
    out
}

fn screen_and_frame() -> (f64, f64) {
    let session = Uuid::new_v4();
    let snap: Snapshot = Snapshot {
        sessions: serde_json::from_value(json!([{
            "id": session, "name": "orc-bench0", "server_id": Uuid::nil(), "server": "dev",
            "task_id": null, "task": null, "status": "active", "pid": 1, "tmux": "orc-bench0",
            "working_dir": null, "exit_code": null, "waiting": false,
            "started_at": "2026-11-25T10:00:00.000Z", "ended_at": null,
        }]))
        .expect("session"),
        ..Default::default()
    };
    let data = megabyte();
    let (mut apply, mut draw) = (Vec::new(), Vec::new());
    for round in 0..20u64 {
        let mut app = App::new(true);
        app.on_msg(Msg::Snapshot(Box::new(snap.clone())));
        app.session_area = (200, 50);
        app.on_key(KeyEvent::new(KeyCode::Char('4'), KeyModifiers::NONE));
        app.screens.insert(session, SessionScreen::new(50, 200));
        let frame = |kind, seq, data: Vec<u8>| {
            Msg::Frame(Frame {
                kind,
                session_id: session,
                seq,
                data,
            })
        };
        app.on_msg(frame(FrameKind::Keyframe, 0, b"\x1b[H\x1b[2J".to_vec()));
        let t = Instant::now();
        app.on_msg(frame(FrameKind::Output, 1 + round, data.clone()));
        apply.push(t.elapsed().as_secs_f64() * 1000.0);
        // 26 columns of list + 200 of screen + borders; 50 rows + tabs, borders, footer.
        let mut term = Terminal::new(TestBackend::new(228, 54)).expect("terminal");
        let t = Instant::now();
        term.draw(|f| views::draw(f, &app)).expect("draw");
        draw.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    (median(apply), median(draw))
}

/// CPU seconds a process used so far (user + system), from /proc.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    // SAFETY: sysconf only reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks / if hz > 0 { hz as f64 } else { 100.0 }
}

async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn console_pid(t: &TmuxServer) -> u32 {
    let out = t
        .cmd()
        .args(["list-panes", "-t", "console", "-F", "#{pane_pid}"])
        .output()
        .expect("list-panes");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("pane pid")
}

async fn measure(pid: u32, secs: u64) -> f64 {
    let before = cpu_secs(pid);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    (cpu_secs(pid) - before) / secs as f64 * 100.0
}

async fn cpu(dir: &Path, secs: u64) -> (f64, f64, u64) {
    let db = format!("sqlite://{}", dir.join("hub.db").display());
    let (hub, token) =
        orchestratia_hub::start_with_admin(orchestratia_hub::HubConfig::embedded(&db))
            .await
            .expect("hub");
    let admin = HubClient::new(&hub.url(), Some(token.clone()));
    admin.create_project("bench").await.expect("project");
    let reg = admin.registration_token("bench").await.expect("reg").token;
    let config_path = dir.join("agent").join("config.yaml");
    // Each session prints a coloured line every 10 ms, forever.
    let stream = "i=0; while :; do i=$((i+1)); printf '\\033[36m%s\\033[0m line %s of a long log\\n' \"$(date +%T)\" $i; sleep 0.01; done";
    register(
        Registration {
            token: &reg,
            hub: &hub.url(),
            name: "bench-01",
            repos: &[],
            languages: &[],
            agent_command: Some(stream),
            runner: None,
        },
        &config_path,
    )
    .await
    .expect("register");
    let daemon_socket = dir.join("agent").join("config.state").join("tmux.sock");
    let cp = config_path.clone();
    let daemon = tokio::spawn(async move { orchestratia_agent::daemon::run(&cp).await });
    until("the daemon online", || async {
        admin.servers().await.is_ok_and(|s| {
            s.iter()
                .any(|s| s.name == "bench-01" && s.status == ServerStatus::Online)
        })
    })
    .await;

    // Both tmux servers (the console's and the daemon's) go when these drop.
    let daemon_tmux = TmuxServer::new(daemon_socket);
    let t = TmuxServer::new(dir.join("console.sock"));
    let cmd = format!(
        "TERM=xterm-256color '{}' --hub '{}' --token '{}'",
        env!("CARGO_BIN_EXE_orchestratia-console"),
        hub.url(),
        token
    );
    let ok = t.new_session("console", 160, 48, &cmd);
    assert!(ok, "the console starts in tmux");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid = console_pid(&t);
    let idle = measure(pid, secs).await;

    for _ in 0..4 {
        admin
            .create_session(&CreateSession {
                server_id: "bench-01".into(),
                task_id: None,
                working_dir: None,
            })
            .await
            .expect("session");
    }
    until("four sessions active", || async {
        admin.sessions().await.is_ok_and(|s| {
            s.iter()
                .filter(|s| s.status == SessionStatus::Active)
                .count()
                == 4
        })
    })
    .await;
    let _ = t.cmd().args(["send-keys", "-t", "console", "4"]).status();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let chunks_before = chunks(&admin).await;
    let streaming = measure(pid, secs).await;
    let chunks = chunks(&admin).await.saturating_sub(chunks_before);
    let _ = t.cmd().args(["send-keys", "-t", "console", "q"]).status();
    drop(t);
    drop(daemon_tmux);
    daemon.abort();
    hub.shutdown().await;
    (idle, streaming, chunks)
}

/// Output chunks stored so far across the sessions (how much was streamed).
async fn chunks(admin: &HubClient) -> u64 {
    let mut n = 0;
    for s in admin.sessions().await.unwrap_or_default() {
        if let Ok(r) = admin.recording(&s.id.to_string(), 0, 5000).await {
            n += r.chunks.len() as u64;
        }
    }
    n
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let secs = argv
        .windows(2)
        .find(|w| w[0] == "--secs")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(10u64);

    let (apply, draw) = screen_and_frame();
    println!("console rendering (median of 20):");
    println!("  apply a 1 MB output chunk to a 200x50 vt100 screen: {apply:7.2} ms");
    println!("  draw a full console frame with that screen (228x54): {draw:7.2} ms");
    println!(
        "  => one core keeps up with {:.0} MB/s of session output drawn at every chunk",
        1000.0 / (apply + draw)
    );

    if !tmux::available() {
        println!("console CPU: skipped (tmux is not installed)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (idle, streaming, n) = cpu(dir.path(), secs).await;
    println!("console CPU, {secs} s each, the real binary in a 160x48 tmux pane:");
    println!(
        "  idle (Graph view, hub connected):                  {idle:5.2} % of a core (target < 1 %)"
    );
    println!("  four sessions streaming (Sessions view, {n} chunks): {streaming:5.2} % of a core");
}
