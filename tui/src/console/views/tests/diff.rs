//! A task's diff: drawn with its files and colours, its keys (moving, jumping to a file,
//! comments on a line), the `y`/`n` before a merge or a discard, and what the hub answers.

use orchestratia_proto::workspace::{ReviewComment, Workspace, WorkspaceDiff};
use ratatui::style::Color;

use super::*;
use crate::console::app::{DiffFocus, Mode};
use crate::console::keymap::Place;

const DIFF: &str = "\
diff --git a/src/gateway.rs b/src/gateway.rs
index 1111111..2222222 100644
--- a/src/gateway.rs
+++ b/src/gateway.rs
@@ -10,3 +10,4 @@ fn route() {
     let a = 1;
-    let b = 2;
+    let b = 3;
+    let c = \x1b[31mred\x1b[0m;
 }
diff --git a/tests/gateway.rs b/tests/gateway.rs
new file mode 100644
--- /dev/null
+++ b/tests/gateway.rs
@@ -0,0 +1,2 @@
+#[test]
+fn routes() {}
";

fn t1() -> Uuid {
    Uuid::parse_str(&id(1)).expect("uuid")
}

fn diff(note: Option<&str>, uncommitted: &[&str]) -> WorkspaceDiff {
    serde_json::from_value(json!({
        "task_id": id(1), "branch": "orc/T1-schema", "base": "main", "base_commit": "aaaa",
        "head": "bbbb", "diff": DIFF, "truncated": note.is_some(), "note": note,
        "uncommitted": uncommitted,
        "files": [
            {"path": "src/gateway.rs", "insertions": 2, "deletions": 1},
            {"path": "tests/gateway.rs", "insertions": 2, "deletions": 0},
        ],
    }))
    .expect("diff")
}

fn workspace(review: &str) -> Workspace {
    serde_json::from_value(json!({
        "task_id": id(1), "repo": "api-gateway", "path": "/w/api-gateway/T1",
        "branch": "orc/T1-schema", "base": "main", "base_commit": "aaaa", "head": "bbbb",
        "ahead": 1, "behind": 0, "uncommitted": [],
        "files": [
            {"path": "src/gateway.rs", "insertions": 2, "deletions": 1},
            {"path": "tests/gateway.rs", "insertions": 2, "deletions": 0},
        ],
        "ref": "T1", "server_id": BACKEND, "server": "dev-backend", "review": review,
        "merged_into": if review == "merged" { json!("main") } else { json!(null) },
        "merge_commit": null, "reported_at": at(29),
    }))
    .expect("workspace")
}

/// The Tasks view with T1's diff open and read.
fn diff_app(d: WorkspaceDiff) -> App {
    let mut a = app();
    a.on_key(key(KeyCode::Char('2')));
    assert_eq!(
        a.on_key(key(KeyCode::Char('d'))),
        vec![Action::OpenDiff { task: t1() }]
    );
    assert_eq!(a.place(), Place::Diff);
    a.on_msg(Msg::Diff {
        task: t1(),
        diff: Ok(Box::new(d)),
        workspace: Some(Box::new(workspace("unreviewed"))),
    });
    a
}

/// The colour of the first cell of the row that shows `s`.
fn colour_of(t: &Terminal<TestBackend>, s: &str) -> Option<Color> {
    let b = t.backend().buffer();
    let all = text(t);
    let (y, row) = all.lines().enumerate().find(|(_, l)| l.contains(s))?;
    let x = row[..row.find(s)?].chars().count() + 1;
    Some(b[(x as u16, y as u16)].fg)
}

#[test]
fn a_diff_renders_its_files_and_colours() {
    let mut a = diff_app(diff(None, &["notes.txt"]));
    let t = render(&a, 80, 24);
    insta::assert_snapshot!("diff_80x24", t.backend());
    let s = text(&t);
    assert!(
        s.contains("T1 diff · orc/T1-schema → main · 2 files +4 -1 · review: unreviewed"),
        "{s}"
    );
    assert!(
        s.contains("note: 1 uncommitted file is not in this diff"),
        "{s}"
    );
    assert!(s.contains("src/gateway.rs") && s.contains("+2 -1"), "{s}");
    // What the agent wrote is shown escaped.
    assert!(s.contains("\\x1b[31mred\\x1b[0m"), "{s}");

    a.color = true;
    let t = render(&a, 100, 30);
    assert_eq!(colour_of(&t, "+    let b = 3;"), Some(Color::Green));
    assert_eq!(colour_of(&t, "-    let b = 2;"), Some(Color::Red));
    assert_eq!(colour_of(&t, "@@ -10,3 +10,4 @@"), Some(Color::Cyan));
    let b = t.backend().buffer();
    let y = text(&t)
        .lines()
        .position(|l| l.contains("diff --git a/src"))
        .expect("header") as u16;
    let bold = (0..100).any(|x| b[(x, y)].modifier.contains(ratatui::style::Modifier::BOLD));
    assert!(bold, "headers are bold");
}

#[test]
fn a_cut_diff_says_so_and_an_error_shows_in_the_view() {
    let a = diff_app(diff(Some("cut at 1 MiB of 3 MiB"), &[]));
    let s = text(&render(&a, 100, 30));
    assert!(s.contains("note: cut at 1 MiB of 3 MiB"), "{s}");

    let mut a = app();
    a.on_key(key(KeyCode::Char('2')));
    a.on_key(key(KeyCode::Char('d')));
    assert!(text(&render(&a, 80, 24)).contains("reading T1's diff…"));
    a.on_msg(Msg::Diff {
        task: t1(),
        diff: Err("T1 has no workspace (its repo is not a git repository)".into()),
        workspace: None,
    });
    let s = text(&render(&a, 100, 24));
    assert!(s.contains("T1 has no workspace"), "{s}");
    assert!(
        a.status
            .as_deref()
            .is_some_and(|s| s.starts_with("error: T1 has no"))
    );
    // Another task's diff does not land here.
    a.on_msg(Msg::Diff {
        task: Uuid::nil(),
        diff: Ok(Box::new(diff(None, &[]))),
        workspace: None,
    });
    assert!(a.diff.as_ref().is_some_and(|d| d.diff.is_none()));
}

#[test]
fn moving_jumping_and_commenting_on_a_line() {
    let mut a = diff_app(diff(None, &[]));
    // The cursor starts on the first line: a header, nothing to comment on.
    assert!(a.on_key(key(KeyCode::Char('c'))).is_empty());
    assert!(a.prompt().is_none());
    assert!(
        a.status
            .as_deref()
            .is_some_and(|s| s.contains("put the cursor"))
    );
    // Down to `+    let b = 3;` (line 7 of the diff, new line 11).
    for _ in 0..7 {
        a.on_key(key(KeyCode::Char('j')));
    }
    assert_eq!(a.diff.as_ref().map(|d| d.cursor), Some(7));
    a.on_key(key(KeyCode::Char('c')));
    assert!(a.prompt().is_some());
    assert_eq!(a.place(), Place::Prompt);
    let t = render(&a, 80, 24);
    assert!(text(&t).contains("A review comment on src/gateway.rs:11 of T1"));
    for ch in "use a constant".chars() {
        a.on_key(key(KeyCode::Char(ch)));
    }
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::Comment {
            task: t1(),
            body: ReviewComment {
                file: "src/gateway.rs".into(),
                line: 11,
                text: "use a constant".into()
            }
        }]
    );

    // Tab to the files, down to the second, Enter: the cursor is on its hunk.
    a.on_key(key(KeyCode::Tab));
    assert_eq!(a.diff.as_ref().map(|d| d.focus), Some(DiffFocus::Files));
    a.on_key(key(KeyCode::Char('j')));
    a.on_key(key(KeyCode::Enter));
    let d = a.diff.as_ref().expect("diff");
    assert_eq!((d.cursor, d.focus), (14, DiffFocus::Diff));
    // g/G: first and last line; the files list follows the cursor.
    a.on_key(key(KeyCode::Char('g')));
    assert_eq!(a.diff.as_ref().map(|d| (d.cursor, d.file)), Some((0, 0)));
    a.on_key(key(KeyCode::Char('G')));
    assert_eq!(a.diff.as_ref().map(|d| (d.cursor, d.file)), Some((16, 1)));
    a.on_key(key(KeyCode::PageUp));
    assert_eq!(a.diff.as_ref().map(|d| d.cursor), Some(0));
    // A comment longer than the hub takes is refused here.
    a.on_key(key(KeyCode::PageDown));
    a.on_key(key(KeyCode::Char('k')));
    a.on_key(key(KeyCode::Char('c')));
    if let Mode::Prompt(p) = &mut a.mode {
        p.text = "x".repeat(4001);
    }
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    assert!(
        a.status
            .as_deref()
            .is_some_and(|s| s.contains("at most 4000"))
    );

    // `r` reads again; Esc goes back to the list.
    assert_eq!(
        a.on_key(key(KeyCode::Char('r'))),
        vec![Action::OpenDiff { task: t1() }]
    );
    a.on_key(key(KeyCode::Esc));
    assert!(a.diff.is_none());
    assert_eq!(a.place(), Place::Tasks);
}

#[test]
fn merge_and_discard_ask_first_and_keep_does_not() {
    let mut a = diff_app(diff(None, &[]));
    assert!(a.on_key(key(KeyCode::Char('m'))).is_empty());
    assert_eq!(a.place(), Place::Confirm);
    let t = render(&a, 80, 24);
    let s = text(&t);
    assert!(s.contains("merge T1: orc/T1-schema into main? y/n"), "{s}");
    assert!(s.contains("y yes · n/Esc no"), "{s}");
    // Other keys change nothing; `n` cancels.
    assert!(a.on_key(key(KeyCode::Char('x'))).is_empty());
    assert!(a.on_key(key(KeyCode::Char('n'))).is_empty());
    assert_eq!(a.place(), Place::Diff);
    assert!(
        a.status
            .as_deref()
            .is_some_and(|s| s.contains("nothing changed"))
    );
    a.on_key(key(KeyCode::Char('m')));
    assert_eq!(
        a.on_key(key(KeyCode::Char('y'))),
        vec![Action::Merge { task: t1() }]
    );

    a.on_key(key(KeyCode::Char('X')));
    assert!(
        a.confirm()
            .is_some_and(|c| c.question.contains("delete orc/T1-schema"))
    );
    assert!(a.on_key(key(KeyCode::Esc)).is_empty());
    a.on_key(key(KeyCode::Char('X')));
    assert_eq!(
        a.on_key(key(KeyCode::Char('y'))),
        vec![Action::Discard { task: t1() }]
    );
    assert_eq!(
        a.on_key(key(KeyCode::Char('K'))),
        vec![Action::Keep { task: t1() }]
    );

    // The hub's answer: said in the status line, and the review state in the title.
    a.on_msg(Msg::Reviewed {
        task: t1(),
        said: "merged T1 into main as 0123456789".into(),
        workspace: Some(Box::new(workspace("merged"))),
    });
    assert_eq!(
        a.status.as_deref(),
        Some("merged T1 into main as 0123456789")
    );
    let s = text(&render(&a, 120, 24));
    assert!(s.contains("review: merged into main"), "{s}");
}

#[test]
fn the_diff_opens_from_an_open_task_and_goes_back_to_it() {
    let mut a = app();
    a.on_key(key(KeyCode::Char('2')));
    a.on_key(key(KeyCode::Enter));
    assert_eq!(a.place(), Place::TaskOpen);
    assert_eq!(
        a.on_key(key(KeyCode::Char('d'))),
        vec![Action::OpenDiff { task: t1() }]
    );
    assert_eq!(a.place(), Place::Diff);
    a.on_key(key(KeyCode::Esc));
    assert_eq!(a.place(), Place::TaskOpen);
    // Switching views closes it.
    a.on_key(key(KeyCode::Char('d')));
    a.on_key(key(KeyCode::Char('?')));
    a.on_key(key(KeyCode::Esc));
    assert_eq!(a.place(), Place::Diff);
    a.switch(View::Graph);
    assert!(a.diff.is_none());
}

#[test]
fn an_open_task_shows_its_workspace() {
    let mut a = app();
    a.on_key(key(KeyCode::Char('2')));
    a.on_key(key(KeyCode::Enter));
    let snap = snapshot();
    let mut v = serde_json::to_value(&snap.tasks[0]).expect("task");
    for k in [
        "depends_on",
        "dependents",
        "sessions",
        "interventions",
        "plans",
        "notes",
        "events",
    ] {
        v[k] = json!([]);
    }
    v["resolved_inputs"] = json!({});
    v["contracts"] = json!({});
    v["workspace"] = serde_json::to_value(workspace("kept")).expect("workspace");
    a.on_msg(Msg::TaskView(Box::new(
        serde_json::from_value(v).expect("task view"),
    )));
    let s = text(&render(&a, 120, 24));
    assert!(
        s.contains(
            "workspace orc/T1-schema on dev-backend · 2 files +4 -1 · review: kept (d diff)"
        ),
        "{s}"
    );
}
