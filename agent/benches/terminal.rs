//! Terminal streaming on loopback, through the real daemon, a real tmux and a real hub:
//! - throughput: a session prints 100 MB as fast as it can; the time until a console-side
//!   WebSocket client sees the end of it, against the same output through a local tmux pane read
//!   by a local tmux client (the ratio of the two is the figure; target at least 0.5);
//! - keystroke round trip: a key sent by the console until its echo comes back, p50/p99 (target
//!   p99 under 20 ms), with the local tmux pane's round trip beside it.
//!
//! `cargo bench -p orchestratia-agent --bench terminal` (`-- --mb N` for another size,
//! `-- --keys N` for another number of keystrokes).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use orchestratia_proto::api::CreateSession;
use orchestratia_proto::client::HubClient;
use orchestratia_proto::ws::{ConsoleToHub, Frame, FrameKind};
use orchestratia_proto::{ServerStatus, SessionStatus};
use orchestratia_testkit::agent::tmux_available;
use orchestratia_testkit::tmux::TmuxServer;
use orchestratia_testkit::{DaemonOptions, TestDaemon};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use tokio_tungstenite::tungstenite::Message;

/// Printed by the session after the data (written as `BENCH-%s` so no command line matches).
const MARKER: &[u8] = b"BENCH-END";
const COLS: u16 = 120;
const ROWS: u16 = 40;
const WAIT: Duration = Duration::from_secs(120);

struct Args {
    mb: usize,
    keys: usize,
}

fn args() -> Args {
    let mut a = Args { mb: 100, keys: 500 };
    let argv: Vec<String> = std::env::args().collect();
    for w in argv.windows(2) {
        match w[0].as_str() {
            "--mb" => a.mb = w[1].parse().unwrap_or(a.mb),
            "--keys" => a.keys = w[1].parse().unwrap_or(a.keys),
            _ => {}
        }
    }
    a
}

/// `mb` megabytes of 100-column lines (no wrapping at 120 columns), none containing the marker.
fn write_data(path: &Path, mb: usize) -> u64 {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("data file"));
    let total = mb * 1_000_000;
    let mut written = 0usize;
    let mut i = 0u64;
    while written < total {
        let line = format!(
            "{i:010} the quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGH\n"
        );
        f.write_all(line.as_bytes()).expect("write data");
        written += line.len();
        i += 1;
    }
    f.flush().expect("flush data");
    written as u64
}

/// The session: waits for `go`, prints the data and the marker, then echoes keys (no line
/// buffering) until it is killed.
fn write_script(dir: &Path) -> PathBuf {
    let path = dir.join("session.sh");
    std::fs::write(
        &path,
        "#!/bin/sh\nwhile [ ! -e \"$1/go\" ]; do sleep 0.01; done\ncat \"$2\"\nprintf 'BENCH-%s\\n' END\nstty -icanon\ncat > /dev/null\n",
    )
    .expect("script");
    path
}

/// Finds the marker across chunk boundaries.
struct Scanner {
    tail: Vec<u8>,
}

impl Scanner {
    fn new() -> Scanner {
        Scanner { tail: Vec::new() }
    }

    fn feed(&mut self, data: &[u8]) -> bool {
        let mut buf = std::mem::take(&mut self.tail);
        buf.extend_from_slice(data);
        let found = buf.windows(MARKER.len()).any(|w| w == MARKER);
        let keep = buf.len().saturating_sub(MARKER.len());
        self.tail = buf.split_off(keep);
        found
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn key(i: usize) -> u8 {
    b'a' + (i % 26) as u8
}

struct LocalFigures {
    secs: f64,
    rtt_ms: Vec<f64>,
}

/// The same output through a local tmux pane, read by a tmux client in a PTY.
fn local(dir: &Path, script: &Path, data: &Path, keys: usize) -> LocalFigures {
    let gate = dir.join("local");
    std::fs::create_dir_all(&gate).expect("gate dir");
    let t = TmuxServer::new(dir.join("local.sock"));
    let cmd = format!(
        "sh '{}' '{}' '{}'",
        script.display(),
        gate.display(),
        data.display()
    );
    let ok = t.new_session("bench", COLS, ROWS, &cmd);
    assert!(ok, "local tmux session starts");
    let _ = t.cmd().args(["set-option", "-g", "status", "off"]).status();

    let pair = native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("pty");
    let mut c = CommandBuilder::new("tmux");
    c.arg("-S");
    c.arg(&t.socket);
    c.args(["attach-session", "-t", "bench"]);
    c.env("TERM", "xterm-256color");
    c.env_remove("TMUX");
    let mut child = pair.slave.spawn_command(c).expect("tmux client");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let mut writer = pair.master.take_writer().expect("writer");
    let (tx, rx) = std_mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    // Let the client attach and draw, then drop what it drew.
    std::thread::sleep(Duration::from_millis(500));
    while rx.try_recv().is_ok() {}

    std::fs::write(gate.join("go"), "").expect("go");
    let t0 = Instant::now();
    let mut scan = Scanner::new();
    loop {
        let chunk = rx.recv_timeout(WAIT).expect("local output");
        if scan.feed(&chunk) {
            break;
        }
    }
    let secs = t0.elapsed().as_secs_f64();

    std::thread::sleep(Duration::from_millis(500));
    while rx.try_recv().is_ok() {}
    let mut rtt_ms = Vec::with_capacity(keys);
    for i in 0..keys {
        let k = key(i);
        let t0 = Instant::now();
        writer.write_all(&[k]).expect("key");
        writer.flush().expect("flush");
        loop {
            let chunk = rx.recv_timeout(Duration::from_secs(10)).expect("echo");
            if chunk.contains(&k) {
                break;
            }
        }
        rtt_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = child.kill();
    LocalFigures { secs, rtt_ms }
}

struct RemoteFigures {
    secs: f64,
    bytes: u64,
    frames: u64,
    keyframes: u64,
    rtt_ms: Vec<f64>,
}

async fn start_hub(dir: &Path) -> (orchestratia_hub::RunningHub, HubClient) {
    let db = format!("sqlite://{}", dir.join("hub.db").display());
    let (running, token) =
        orchestratia_hub::start_with_admin(orchestratia_hub::HubConfig::embedded(&db))
            .await
            .expect("hub starts");
    let client = HubClient::new(&running.url(), Some(token));
    (running, client)
}

async fn until<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The same output through the daemon (tmux client in a PTY) → hub → console WebSocket.
async fn remote(dir: &Path, script: &Path, data: &Path, keys: usize) -> RemoteFigures {
    let gate = dir.join("remote");
    std::fs::create_dir_all(&gate).expect("gate dir");
    let (hub, admin) = start_hub(dir).await;
    admin.create_project("bench").await.expect("project");
    let daemon = TestDaemon::start_at(
        &hub.url(),
        &admin,
        DaemonOptions {
            project: "bench",
            name: "bench-01",
            agent_command: Some(format!(
                "sh '{}' '{}' '{}'",
                script.display(),
                gate.display(),
                data.display()
            )),
            ..Default::default()
        },
    )
    .await;
    until("the daemon online", || async {
        let s = admin.servers().await.ok()?;
        s.iter()
            .any(|s| s.name == "bench-01" && s.status == ServerStatus::Online)
            .then_some(())
    })
    .await;
    let session = admin
        .create_session(&CreateSession {
            server_id: "bench-01".into(),
            task_id: None,
            working_dir: None,
        })
        .await
        .expect("session");
    let sid = session.id;
    until("the session active", || async {
        let s = admin.sessions().await.ok()?;
        s.iter()
            .any(|s| s.id == sid && s.status == SessionStatus::Active)
            .then_some(())
    })
    .await;

    let ws = orchestratia_testkit::connect_console(&admin).await;
    let (mut sink, mut stream) = ws.split();
    let sub = serde_json::to_string(&ConsoleToHub::Subscribe { session_id: sid }).expect("json");
    sink.send(Message::Text(sub.into()))
        .await
        .expect("subscribe");
    let mut next_frame = async || -> Frame {
        loop {
            match tokio::time::timeout(WAIT, stream.next()).await {
                Ok(Some(Ok(Message::Binary(b)))) => {
                    if let Some(f) = Frame::decode(&b) {
                        return f;
                    }
                }
                Ok(Some(Ok(_))) => {}
                other => panic!("console stream ended: {other:?}"),
            }
        }
    };
    // The stream is live once the keyframe arrived.
    while next_frame().await.kind != FrameKind::Keyframe {}

    std::fs::write(gate.join("go"), "").expect("go");
    let t0 = Instant::now();
    let (mut bytes, mut frames, mut keyframes) = (0u64, 0u64, 0u64);
    let mut scan = Scanner::new();
    loop {
        let f = next_frame().await;
        frames += 1;
        bytes += f.data.len() as u64;
        if f.kind == FrameKind::Keyframe {
            keyframes += 1;
            scan = Scanner::new();
        }
        if scan.feed(&f.data) {
            break;
        }
    }
    let secs = t0.elapsed().as_secs_f64();

    // Let the stream settle, then type.
    let settle = Instant::now() + Duration::from_millis(800);
    while Instant::now() < settle {
        let _ = tokio::time::timeout(Duration::from_millis(100), next_frame()).await;
    }
    let mut rtt_ms = Vec::with_capacity(keys);
    for i in 0..keys {
        let k = key(i);
        let input = Frame {
            kind: FrameKind::Input,
            session_id: sid,
            seq: 0,
            data: vec![k],
        };
        let t0 = Instant::now();
        sink.send(Message::Binary(input.encode().into()))
            .await
            .expect("key");
        loop {
            let f = next_frame().await;
            if f.kind == FrameKind::Output && f.data.contains(&k) {
                break;
            }
        }
        rtt_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    drop(daemon);
    hub.shutdown().await;
    RemoteFigures {
        secs,
        bytes,
        frames,
        keyframes,
        rtt_ms,
    }
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !tmux_available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let a = args();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data.txt");
    let size = write_data(&data, a.mb);
    let script = write_script(dir.path());
    let mb = size as f64 / 1e6;
    println!(
        "terminal streaming on loopback: {mb:.0} MB of 100-column lines into a {COLS}x{ROWS} tmux pane"
    );

    let (d, s, dt) = (dir.path().to_path_buf(), script.clone(), data.clone());
    let keys = a.keys;
    let local = tokio::task::spawn_blocking(move || local(&d, &s, &dt, keys))
        .await
        .expect("local run");
    let remote = remote(dir.path(), &script, &data, a.keys).await;

    let ratio = local.secs / remote.secs;
    println!(
        "  local tmux pane (tmux client in a PTY):          {:7.2} s  {:7.1} MB/s",
        local.secs,
        mb / local.secs
    );
    println!(
        "  daemon -> hub -> console WebSocket client:       {:7.2} s  {:7.1} MB/s",
        remote.secs,
        mb / remote.secs
    );
    println!("  throughput ratio (remote/local): {ratio:.2}  (target >= 0.50)");
    println!(
        "  the console received {:.1} MB of terminal updates in {} frames ({} keyframes)",
        remote.bytes as f64 / 1e6,
        remote.frames,
        remote.keyframes
    );
    let r = sorted(remote.rtt_ms);
    let l = sorted(local.rtt_ms);
    println!(
        "keystroke round trip, {} keys (console -> hub -> daemon -> tmux -> echo -> console):",
        r.len()
    );
    println!(
        "  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (target p99 < 20 ms)",
        percentile(&r, 0.5),
        percentile(&r, 0.99),
        r.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "  local tmux pane: p50 {:.2} ms  p99 {:.2} ms",
        percentile(&l, 0.5),
        percentile(&l, 0.99)
    );
}
