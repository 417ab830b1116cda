//! Permissions in the Inbox: ranked by the work they hold up, and decided once, for the
//! session, or as a rule (`A`/`N` open a prompt holding the suggested patterns).

use orchestratia_proto::api::AllowScope;

use super::*;
use crate::console::app::{Mode, split_patterns};

/// A pending permission request of task `task`, made at second `sec`, suggesting `suggested`.
fn request(n: u32, task: u32, sec: u32, tool: &str, input: Value, suggested: &[&str]) -> Value {
    json!({
        "id": id(n), "task_id": id(task), "task_ref": format!("T{task}"), "session_id": null,
        "tool_name": tool, "tool_input": input, "status": "pending", "reason": null,
        "decided_by": null, "created_at": at(sec), "decided_at": null, "suggested": suggested,
    })
}

/// The fixture with only these permission requests waiting (no plan, no question).
fn app_with(requests: Vec<Value>) -> App {
    let mut s = snapshot();
    s.plans.clear();
    s.interventions.clear();
    s.permissions = serde_json::from_value(Value::Array(requests)).expect("requests");
    let mut a = App::new(false);
    a.now = orchestratia_proto::time::parse_rfc3339(NOW).expect("now");
    a.on_msg(Msg::Connected);
    a.on_msg(Msg::Snapshot(Box::new(s)));
    a.on_key(key(KeyCode::Char('5')));
    a
}

fn uuid(n: u32) -> Uuid {
    Uuid::parse_str(&id(n)).expect("uuid")
}

fn type_in(a: &mut App, s: &str) {
    for c in s.chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
}

#[test]
fn the_request_that_holds_up_more_work_comes_first() {
    let mut s = snapshot();
    // T2 → T4, T5, T8 → T6 (via T4), T7 (via T5), T9 (via T8): six open tasks downstream, and
    // T1 (done) downstream too, which waits for nothing. T3 holds up nothing.
    let g = s.graph.as_mut().expect("graph");
    g.edges = serde_json::from_value(json!([
        edge(2, 4, None, false),
        edge(2, 5, None, false),
        edge(2, 8, None, false),
        edge(4, 6, None, false),
        edge(5, 7, None, false),
        edge(8, 9, None, false),
        edge(2, 1, None, false),
    ]))
    .expect("edges");
    for (n, title) in [(8, "Load Tests"), (9, "Release Notes")] {
        s.tasks.push(
            serde_json::from_value(task(n, title, "pending", Some("waiting"), None)).expect("task"),
        );
    }
    s.plans.clear();
    s.interventions.clear();
    // The request holding up nothing is the older one.
    s.permissions = serde_json::from_value(json!([
        request(310, 3, 5, "Bash", json!({"command": "ls"}), &["ls"]),
        request(
            320,
            2,
            26,
            "Bash",
            json!({"command": "cargo build"}),
            &["cargo build"]
        ),
    ]))
    .expect("requests");
    let mut a = App::new(false);
    a.now = orchestratia_proto::time::parse_rfc3339(NOW).expect("now");
    a.on_msg(Msg::Snapshot(Box::new(s)));
    a.on_key(key(KeyCode::Char('5')));

    let entries = a.model.inbox();
    let ranked: Vec<(Option<Uuid>, usize)> = entries
        .iter()
        .map(|e| (e.item.task_id(), e.blocks))
        .collect();
    assert_eq!(ranked, vec![(Some(uuid(2)), 6), (Some(uuid(3)), 0)]);

    let wide = text(&render(&a, 160, 48));
    let rows: Vec<&str> = wide.lines().filter(|l| l.contains("permission")).collect();
    assert_eq!(rows.len(), 2, "{wide}");
    for (row, want) in [
        "permission T2    6      4s   holds up 6 tasks downstream  Bash: cargo build",
        "permission T3    0      25s  holds up no other task       Bash: ls",
    ]
    .iter()
    .enumerate()
    {
        let rank = (row + 1).to_string();
        assert!(rows[row].trim_start().starts_with(&rank), "{:?}", rows[row]);
        assert!(rows[row].contains(want), "row {row}: {:?}", rows[row]);
    }
    // Narrow, the selected one says why in its detail.
    let narrow = text(&render(&a, 80, 24));
    let detail: Vec<&str> = narrow
        .lines()
        .map(str::trim_end)
        .skip_while(|l| !l.starts_with("#1"))
        .take(2)
        .collect();
    assert_eq!(
        detail,
        [
            "#1: holds up 6 tasks downstream",
            "T2: Bash wants to run — y/s/A allow (once, session, always), n/N deny"
        ],
        "{narrow}"
    );
    // `y` acts on the first: the one holding up six.
    assert_eq!(
        a.on_key(key(KeyCode::Char('y'))),
        vec![Action::Allow {
            id: uuid(320),
            scope: AllowScope::Once,
            patterns: Vec::new()
        }]
    );
}

#[test]
fn allow_always_opens_the_suggested_rule_for_editing() {
    let suggested = ["cargo build", "cargo test --workspace"];
    let input = json!({"command": "cargo build && cargo test --workspace"});
    let mut a = app_with(vec![request(330, 2, 20, "Bash", input, &suggested)]);

    // Esc cancels: nothing sent.
    assert!(a.on_key(key(KeyCode::Char('A'))).is_empty());
    assert!(a.on_key(key(KeyCode::Esc)).is_empty());
    assert_eq!(a.mode, Mode::Normal);

    assert!(a.on_key(key(KeyCode::Char('A'))).is_empty());
    assert_eq!(
        a.prompt().map(|p| p.text.as_str()),
        Some("cargo build && cargo test --workspace")
    );
    let drawn = text(&render(&a, 80, 24));
    assert!(
        drawn.contains("allow always: cargo build && cargo test --workspace█"),
        "{drawn}"
    );
    assert!(
        drawn.contains("Allow Bash calls like T2's from now on"),
        "{drawn}"
    );
    // Widen the second pattern: `cargo test *`.
    for _ in 0.."--workspace".len() {
        a.on_key(key(KeyCode::Backspace));
    }
    type_in(&mut a, "*");
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::Allow {
            id: uuid(330),
            scope: AllowScope::Always,
            patterns: vec!["cargo build".into(), "cargo test *".into()]
        }]
    );
    assert_eq!(a.mode, Mode::Normal);

    // An emptied prompt sends nothing and stays open.
    a.on_key(key(KeyCode::Char('A')));
    a.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    assert!(a.prompt().is_some());
    assert!(a.status.as_deref().is_some_and(|s| s.starts_with("empty")));
}

#[test]
fn each_permission_key_sends_its_decision() {
    let input = json!({"command": "cargo test -p hub"});
    let mut a = app_with(vec![request(
        340,
        2,
        20,
        "Bash",
        input,
        &["cargo test -p hub"],
    )]);
    let id = uuid(340);
    let exact = vec!["cargo test -p hub".to_string()];
    assert_eq!(
        a.on_key(key(KeyCode::Char('y'))),
        vec![Action::Allow {
            id,
            scope: AllowScope::Once,
            patterns: Vec::new()
        }]
    );
    assert_eq!(
        a.on_key(key(KeyCode::Char('s'))),
        vec![Action::Allow {
            id,
            scope: AllowScope::Session,
            patterns: exact.clone()
        }]
    );
    a.on_key(key(KeyCode::Char('A')));
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::Allow {
            id,
            scope: AllowScope::Always,
            patterns: exact.clone()
        }]
    );
    assert_eq!(
        a.on_key(key(KeyCode::Char('n'))),
        vec![Action::Deny {
            id,
            rule: false,
            patterns: Vec::new()
        }]
    );
    a.on_key(key(KeyCode::Char('N')));
    let drawn = text(&render(&a, 80, 24));
    assert!(drawn.contains("deny always: cargo test -p hub"), "{drawn}");
    assert!(drawn.contains("Deny Bash calls like T2's"), "{drawn}");
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::Deny {
            id,
            rule: true,
            patterns: exact
        }]
    );

    // A file tool's rule is its one path pattern, not split.
    let input = json!({"file_path": "/srv/api-gateway/src/a && b.rs"});
    let mut a = app_with(vec![request(350, 2, 20, "Edit", input, &["src/a && b.rs"])]);
    a.on_key(key(KeyCode::Char('A')));
    assert_eq!(a.prompt().map(|p| p.text.as_str()), Some("src/a && b.rs"));
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::Allow {
            id: uuid(350),
            scope: AllowScope::Always,
            patterns: vec!["src/a && b.rs".into()]
        }]
    );
}

#[test]
fn a_call_no_rule_can_match_is_decided_once_only() {
    let input = json!({"command": "curl $(cat url)"});
    let mut a = app_with(vec![request(360, 2, 20, "Bash", input, &[])]);
    for c in ['s', 'A', 'N'] {
        a.status = None;
        assert!(a.on_key(key(KeyCode::Char(c))).is_empty(), "{c}");
        assert_eq!(a.mode, Mode::Normal, "{c} opened a prompt");
        let said = a.status.clone().unwrap_or_default();
        assert!(
            said.starts_with("this call cannot be decided by a rule"),
            "{c}: {said}"
        );
    }
    assert!(
        a.status
            .as_deref()
            .is_some_and(|s| s.ends_with("`n` denies it once"))
    );
    let drawn = text(&render(&a, 80, 24));
    assert!(
        drawn.contains("no rule can decide calls like it"),
        "{drawn}"
    );
    assert_eq!(
        a.on_key(key(KeyCode::Char('y'))),
        vec![Action::Allow {
            id: uuid(360),
            scope: AllowScope::Once,
            patterns: Vec::new()
        }]
    );
}

#[test]
fn a_rule_prompt_splits_on_and_outside_quotes() {
    assert_eq!(
        split_patterns("  git status &&  cargo test * && "),
        ["git status", "cargo test *"]
    );
    assert_eq!(
        split_patterns("echo 'a && b' && printf \"c && d\" && x\\ && y"),
        ["echo 'a && b'", "printf \"c && d\"", "x\\ && y"]
    );
    assert!(split_patterns(" && ").is_empty());
}
