//! Screen fidelity: a real full-screen program (`less -R` on a coloured file) runs in a
//! session on a real daemon; the console's session screen — fed over the real console
//! WebSocket, keyframe then chunks, through the console's own `SessionScreen` — matches
//! `tmux capture-pane` of the same pane cell for cell (text, colours, bold), before and after a
//! resize and after paging.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use orchestratia_console::console::screen::SessionScreen;
use orchestratia_proto::SessionStatus;
use orchestratia_proto::api::CreateSession;
use orchestratia_proto::ws::{ConsoleToHub, Frame, FrameKind};
use orchestratia_testkit::agent::tmux_available;
use orchestratia_testkit::{Backend, DaemonOptions, TestDaemon, TestHub, eventually};
use tokio_tungstenite::tungstenite::Message;

/// The pane as tmux has it, with its escape sequences, drawn into a vt100 screen of the
/// same size, so both sides are compared as cells.
fn tmux_screen(socket: &std::path::Path, session: &str) -> (vt100::Parser, u16, u16) {
    let size = Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .args([
            "display-message",
            "-p",
            "-t",
            session,
            "#{pane_width} #{pane_height}",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("display-message");
    let size = String::from_utf8_lossy(&size.stdout);
    let mut it = size
        .split_whitespace()
        .map(|n| n.parse::<u16>().unwrap_or(1));
    let (cols, rows) = (it.next().unwrap_or(1), it.next().unwrap_or(1));
    let out = Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .args(["capture-pane", "-p", "-e", "-t", session])
        .stdin(Stdio::null())
        .output()
        .expect("capture-pane");
    let mut p = vt100::Parser::new(rows, cols, 0);
    let text = String::from_utf8_lossy(&out.stdout).replace('\n', "\r\n");
    // capture-pane ends every line with a newline: leave the last one out so nothing scrolls.
    p.process(text.trim_end_matches("\r\n").as_bytes());
    (p, cols, rows)
}

/// The cells that differ, as `row,col: console vs tmux` (empty when the screens match).
fn differences(console: &vt100::Screen, tmux: &vt100::Screen) -> Vec<String> {
    let (rows, cols) = tmux.size();
    let mut diffs = Vec::new();
    if console.size() != tmux.size() {
        diffs.push(format!(
            "size: console {:?} vs tmux {:?}",
            console.size(),
            tmux.size()
        ));
        return diffs;
    }
    for r in 0..rows {
        for c in 0..cols {
            let (a, b) = (console.cell(r, c), tmux.cell(r, c));
            let key = |x: Option<&vt100::Cell>| {
                x.map(|x| {
                    let text = x.contents();
                    let text = if text.is_empty() {
                        " ".to_string()
                    } else {
                        text.to_string()
                    };
                    (text, x.fgcolor(), x.bgcolor(), x.bold())
                })
            };
            if key(a) != key(b) {
                diffs.push(format!("{r},{c}: {:?} vs {:?}", key(a), key(b)));
            }
        }
    }
    diffs
}

fn coloured_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut text = String::new();
    for i in 1..=400 {
        let colour = 31 + (i % 6);
        text.push_str(&format!(
            "\x1b[{colour}mline {i:03}\x1b[0m plain text \x1b[1mbold {i}\x1b[0m \x1b[44mon blue\x1b[0m end\n"
        ));
    }
    let path = dir.join("coloured.txt");
    std::fs::write(&path, text).expect("file");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_screen_matches_tmux_cell_for_cell() {
    if !tmux_available() {
        assert!(std::env::var("CI").is_err(), "tmux is missing in CI");
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let Some(hub) = TestHub::start(Backend::Sqlite).await else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    let files = tempfile::tempdir().expect("temp dir");
    let file = coloured_file(files.path());
    let daemon = TestDaemon::start(
        &hub,
        DaemonOptions {
            agent_command: Some(format!("LESS= less -R '{}'", file.display())),
            ..Default::default()
        },
    )
    .await;
    let admin = hub.admin();
    eventually(20, "the daemon online", || async {
        let s = admin.servers().await.ok()?;
        s.iter()
            .any(|s| s.name == "dev-01" && s.status == orchestratia_proto::ServerStatus::Online)
            .then_some(())
    })
    .await;
    let session = admin
        .create_session(&CreateSession {
            server_id: "dev-01".into(),
            task_id: None,
            working_dir: None,
        })
        .await
        .expect("session");
    eventually(20, "the session active", || async {
        let s = admin.sessions().await.ok()?;
        s.iter()
            .any(|s| s.id == session.id && s.status == SessionStatus::Active)
            .then_some(())
    })
    .await;

    let ws = orchestratia_testkit::connect_console(&admin).await;
    let (mut sink, mut stream) = ws.split();
    let send = |m: ConsoleToHub| Message::Text(serde_json::to_string(&m).expect("json").into());
    let (mut cols, mut rows) = (100u16, 30u16);
    let mut screen = SessionScreen::new(rows, cols);
    sink.send(send(ConsoleToHub::Subscribe {
        session_id: session.id,
    }))
    .await
    .expect("subscribe");
    sink.send(send(ConsoleToHub::Resize {
        session_id: session.id,
        cols,
        rows,
    }))
    .await
    .expect("resize");

    let socket = daemon.socket();
    let name = session.name.clone();
    for step in ["start", "resize", "page"] {
        match step {
            "resize" => {
                (cols, rows) = (140, 36);
                screen.resize(rows, cols);
                sink.send(send(ConsoleToHub::Resize {
                    session_id: session.id,
                    cols,
                    rows,
                }))
                .await
                .expect("resize");
            }
            "page" => {
                let space = Frame {
                    kind: FrameKind::Input,
                    session_id: session.id,
                    seq: 0,
                    data: b" ".to_vec(),
                };
                sink.send(Message::Binary(space.encode().into()))
                    .await
                    .expect("key");
            }
            _ => {}
        }
        // Apply frames until the console's screen matches tmux's pane (the stream settles
        // within a moment of each change); fail with the cells that differ.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = Vec::new();
        loop {
            while let Ok(Some(Ok(m))) =
                tokio::time::timeout(Duration::from_millis(100), stream.next()).await
            {
                if let Message::Binary(b) = m
                    && let Some(f) = Frame::decode(&b)
                    && f.session_id == session.id
                {
                    screen.apply(&f);
                }
            }
            let (tmux, tc, tr) = tmux_screen(&socket, &name);
            if screen.synced && (tc, tr) == (cols, rows) {
                last = differences(screen.parser.screen(), tmux.screen());
                if last.is_empty() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "after {step}: the console's screen differs from tmux's in {} cells, first: {:?}\nconsole:\n{}\ntmux size {tc}x{tr}",
                last.len(),
                last.iter().take(5).collect::<Vec<_>>(),
                screen.parser.screen().contents(),
            );
        }
        let text = screen.parser.screen().contents();
        match step {
            "start" => assert!(text.contains("line 001"), "{text}"),
            "page" => assert!(!text.contains("line 001"), "less paged down: {text}"),
            _ => {}
        }
    }
    drop(daemon);
}
