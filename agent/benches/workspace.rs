//! What a workspace costs on a big repository: a repo of 10,000 files and 1,000 commits,
//! then the median time to make a task's worktree (and remove it), and to compute its report
//! after a small change.
//!
//! The repo is written by one `git fast-import` stream (one commit adding every file, then
//! 999 commits changing one file each), which takes a second or two rather than minutes of
//! `git add`/`git commit`.
//!
//! `cargo bench --workspace --bench workspace` (`-- --runs N`).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use orchestratia_agent::daemon::workspace::Workspaces;
use orchestratia_proto::workspace::{WorkspaceAnswer, WorkspaceOp, WorkspaceStart};
use uuid::Uuid;

const FILES: usize = 10_000;
const COMMITS: usize = 1_000;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@localhost")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@localhost")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn data(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(format!("data {}\n{text}\n", text.len()).as_bytes());
}

/// The fast-import stream: FILES files in 100 dirs, then COMMITS - 1 one-file changes.
fn stream() -> Vec<u8> {
    let mut s = Vec::new();
    let mut t = 1_700_000_000u64;
    let commit = |s: &mut Vec<u8>, msg: &str, t: &mut u64| {
        *t += 60;
        s.extend_from_slice(b"commit refs/heads/main\n");
        s.extend_from_slice(format!("committer Bench <bench@localhost> {t} +0000\n").as_bytes());
        data(s, msg);
    };
    commit(&mut s, "all the files", &mut t);
    for i in 0..FILES {
        s.extend_from_slice(format!("M 100644 inline src/d{}/f{i}.rs\n", i % 100).as_bytes());
        data(
            &mut s,
            &format!("// file {i}\nfn f{i}() -> u32 {{ {i} }}\n"),
        );
    }
    for c in 1..COMMITS {
        commit(&mut s, &format!("change {c}"), &mut t);
        let i = (c * 7919) % FILES;
        s.extend_from_slice(format!("M 100644 inline src/d{}/f{i}.rs\n", i % 100).as_bytes());
        data(
            &mut s,
            &format!("// file {i}, change {c}\nfn f{i}() -> u32 {{ {c} }}\n"),
        );
    }
    s
}

fn build(repo: &Path) {
    std::fs::create_dir_all(repo).expect("mkdir");
    git(repo, &["init", "-q", "-b", "main"]);
    let mut child = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("fast-import");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&stream())
        .expect("write");
    assert!(child.wait().expect("wait").success());
    git(repo, &["checkout", "-q", "-f", "main"]);
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let runs = argv
        .windows(2)
        .find(|w| w[0] == "--runs")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(5usize);
    let dir = tempfile::tempdir().expect("dir");
    let repo = dir.path().join("big");
    let t = Instant::now();
    build(&repo);
    println!(
        "repo: {FILES} files, {} commits, built in {}",
        git(&repo, &["rev-list", "--count", "HEAD"]),
        ms(t.elapsed())
    );
    let ws = Workspaces::new(&dir.path().join("worktrees"), &dir.path().join("state"));
    let start = |n: usize| WorkspaceStart {
        branch: format!("orc/T{n}-bench"),
        base: None,
        reference: format!("T{n}"),
    };
    let (mut create, mut remove) = (Vec::new(), Vec::new());
    for n in 0..runs {
        let task = Uuid::new_v4();
        let t = Instant::now();
        ws.create(task, Some("big"), &repo, &start(n))
            .expect("create")
            .expect("git repo");
        create.push(t.elapsed());
        let t = Instant::now();
        let a = ws.handle(task, WorkspaceOp::Discard);
        remove.push(t.elapsed());
        assert!(matches!(a, WorkspaceAnswer::Report { .. }), "{a:?}");
    }
    let task = Uuid::new_v4();
    let c = ws
        .create(task, Some("big"), &repo, &start(runs))
        .expect("create")
        .expect("git repo");
    let wt = &c.entry.path;
    std::fs::write(wt.join("src/d1/f1.rs"), "// changed\n").expect("write");
    git(wt, &["commit", "-qam", "a small change"]);
    std::fs::write(wt.join("src/d2/f2.rs"), "// not committed\n").expect("write");
    let mut report = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let a = ws.handle(task, WorkspaceOp::Report);
        report.push(t.elapsed());
        let WorkspaceAnswer::Report { report } = a else {
            panic!("{a:?}")
        };
        assert_eq!((report.files.len(), report.uncommitted.len()), (1, 1));
    }
    println!("median of {runs} runs:");
    println!("  create a worktree      {}", ms(median(create)));
    println!("  remove it (discard)    {}", ms(median(remove)));
    println!("  report after a change  {}", ms(median(report)));
}
