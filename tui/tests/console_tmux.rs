//! The real console in a real terminal: `orchestratia-console demo` runs in a tmux pane (its
//! embedded hub, two real daemons and scripted workers in their own tmux servers), and the
//! test drives it as a person would — send-keys to focus a session, allow a permission with
//! `y`, approve a plan with `a`, answer a question with `i` — reading the screen with
//! capture-pane after each step.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use orchestratia_testkit::tmux::{self, TmuxServer};

/// A tmux server of the test's own plus a TMPDIR for the demo; both are torn down on drop,
/// with every tmux server the demo started under that TMPDIR, even when the test fails.
struct Pane {
    dir: tempfile::TempDir,
    server: TmuxServer,
}

impl Pane {
    fn start(cols: u16, rows: u16) -> Pane {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = TmuxServer::new(dir.path().join("console-test.sock"));
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("tmp");
        let cmd = format!(
            "env TMPDIR='{}' TERM=xterm-256color '{}' demo; echo CONSOLE-EXITED $?; sleep 600",
            tmp.display(),
            env!("CARGO_BIN_EXE_orchestratia-console"),
        );
        assert!(
            server.new_session("console", cols, rows, &cmd),
            "tmux starts the console"
        );
        Pane { dir, server }
    }

    fn tmux(&self) -> Command {
        let mut c = self.server.cmd();
        c.stderr(Stdio::null());
        c
    }

    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", "console"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let ok = self
            .tmux()
            .args(["send-keys", "-t", "console"])
            .args(keys)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "send-keys {keys:?}");
    }

    fn escape(&self) {
        self.keys(&["Escape"]);
        std::thread::sleep(Duration::from_millis(300));
    }

    fn text(&self, text: &str) {
        let ok = self
            .tmux()
            .args(["send-keys", "-t", "console", "-l", text])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "send-keys -l {text}");
    }

    /// Waits until the screen satisfies `f`; fails with the screen.
    fn until(&self, what: &str, secs: u64, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if f(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        tmux::kill_servers_under(self.dir.path());
    }
}

/// The Inbox count on the tab bar (0 when there is no badge).
fn inbox_count(screen: &str) -> usize {
    let first = screen.lines().next().unwrap_or_default();
    first
        .split("Inbox (")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_console_drives_the_demo_from_the_keyboard() {
    if !tmux::available() {
        assert!(std::env::var("CI").is_err(), "tmux is missing in CI");
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let pane = Pane::start(120, 40);

    // The console opens on the graph; the permission, the plan and the question arrive.
    pane.until("the graph", 60, |s| {
        s.contains("E-Commerce Platform Rebuild")
    });
    pane.until("three items in the inbox", 60, |s| inbox_count(s) == 3);

    // Sessions: the focused one shows its live terminal, drawn from the stream.
    pane.keys(&["4"]);
    pane.until("a focused session's screen", 20, |s| {
        s.contains("· active on dev-backend") && s.contains("scripted worker in orc-")
    });

    // The Inbox: decide each item with its key, newest first, whatever the order.
    pane.keys(&["5"]);
    for left in (0..3).rev() {
        let s = pane.until("an inbox item", 10, |s| {
            s.contains("wants to run") || s.contains("plan — a approves") || s.contains("asks — i")
        });
        if s.contains("wants to run") {
            assert!(
                s.contains("cargo test -p gateway -- --include-ignored"),
                "{s}"
            );
            pane.keys(&["y"]);
            pane.until("allowed", 10, |s| s.contains("allowed"));
        } else if s.contains("plan — a approves") {
            pane.keys(&["a"]);
            pane.until("approved", 10, |s| s.contains("approved T3's plan"));
        } else {
            pane.keys(&["i"]);
            pane.until("the answer prompt", 10, |s| s.contains("answer: "));
            pane.text("ISO codes, please");
            pane.keys(&["Enter"]);
            pane.until("answer sent", 10, |s| s.contains("answer sent"));
        }
        pane.until("one item fewer", 10, |s| inbox_count(s) == left);
    }

    // With every human decision made, the cascade runs to the end.
    pane.keys(&["3"]);
    pane.until("ALL DONE", 90, |s| s.contains("ALL DONE"));
    let s = pane.screen();
    for phase in ["1  T1  assigned by hand", "2  T2 T3 T4  released by T1"] {
        assert!(s.contains(phase), "no '{phase}' in:\n{s}");
    }

    // The task view shows the answer that reached T4's worker, noted on its timeline; the
    // detail scrolls (the spec goes off the top) to bring it into view.
    pane.keys(&["2"]);
    pane.until("the tasks table", 10, |s| s.contains("tasks (7)"));
    pane.keys(&["g", "j", "j", "j", "Enter"]);
    pane.until("T4's detail", 10, |s| {
        s.contains("T4 Web Dashboard") && s.contains("Show the v2.5 fields")
    });
    let mut found = false;
    for _ in 0..4 {
        pane.keys(&["PageDown"]);
        std::thread::sleep(Duration::from_millis(400));
        let s = pane.screen();
        if !s.contains("Show the v2.5 fields") && s.contains("text=answer: ISO") {
            found = true;
            break;
        }
    }
    assert!(
        found,
        "no answer on T4's scrolled timeline:\n{}",
        pane.screen()
    );

    // `?` shows the keys; q quits and gives the terminal back.
    // (Escape goes alone: followed at once by a key, a terminal reads the pair as Alt+key.)
    pane.escape();
    pane.keys(&["?"]);
    pane.until("the help", 10, |s| s.contains("keys (? or Esc closes)"));
    pane.escape();
    pane.keys(&["q"]);
    pane.until("the console exits", 30, |s| s.contains("CONSOLE-EXITED 0"));
}
