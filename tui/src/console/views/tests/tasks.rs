//! The Tasks view: the table, the status filter, the create form and the assign picker.

use super::*;

#[test]
fn tasks_view() {
    snap_view(View::Tasks, "tasks");
}

#[test]
fn tasks_filter_and_attach() {
    let mut a = app();
    a.on_key(key(KeyCode::Char('2')));
    a.on_key(key(KeyCode::Char('/')));
    for c in "blocked".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    a.on_key(key(KeyCode::Enter));
    let refs: Vec<_> = a
        .visible_tasks()
        .iter()
        .map(|t| t.reference.clone())
        .collect();
    assert_eq!(refs, ["T5", "T6", "T7"]);
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::OpenTask {
            task: Uuid::parse_str(&id(5)).expect("uuid")
        }]
    );

    // Attached, keys go to the session; Ctrl-] detaches; `q` then quits.
    a.on_key(key(KeyCode::Char('4')));
    let focused = a.focused.expect("focused");
    a.on_key(key(KeyCode::Enter));
    assert!(a.attached());
    assert_eq!(
        a.on_key(key(KeyCode::Char('q'))),
        vec![Action::Input {
            session: focused,
            bytes: b"q".to_vec()
        }]
    );
    assert_eq!(
        a.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        vec![Action::Input {
            session: focused,
            bytes: vec![3]
        }]
    );
    a.on_key(KeyEvent::new(KeyCode::Char(']'), KeyModifiers::CONTROL));
    assert!(!a.attached());
    assert_eq!(a.on_key(key(KeyCode::Char('q'))), vec![Action::Quit]);
}

#[test]
fn the_create_form_sends_a_task_and_refuses_bad_input() {
    let mut a = app();
    a.on_key(key(KeyCode::Char('2')));
    a.on_key(key(KeyCode::Char('c')));
    assert!(a.form().is_some());
    // No title: refused, the form stays.
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    assert_eq!(a.status.as_deref(), Some("a task needs a title"));
    let type_in = |a: &mut App, s: &str| {
        for c in s.chars() {
            a.on_key(key(KeyCode::Char(c)));
        }
    };
    type_in(&mut a, "Payment retries");
    a.on_key(key(KeyCode::Tab));
    type_in(&mut a, "payment-service");
    a.on_key(key(KeyCode::Tab));
    type_in(&mut a, "Retry failed charges.");
    a.on_key(key(KeyCode::Tab));
    a.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    type_in(&mut a, "urgent");
    a.on_key(key(KeyCode::Tab));
    type_in(&mut a, "T1, T2");
    let t = render(&a, 80, 24);
    insta::assert_snapshot!("create_form_80x24", t.backend());
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    assert!(
        a.status
            .as_deref()
            .is_some_and(|s| s.contains("low, medium, high, critical"))
    );
    a.on_key(key(KeyCode::Up));
    a.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    type_in(&mut a, "high");
    let actions = a.on_key(key(KeyCode::Enter));
    let [Action::CreateTask(body)] = actions.as_slice() else {
        panic!("no create action: {actions:?}");
    };
    assert_eq!(body.title, "Payment retries");
    assert_eq!(body.repo.as_deref(), Some("payment-service"));
    assert_eq!(body.spec, "Retry failed charges.");
    assert_eq!(body.priority, Some(orchestratia_proto::Priority::High));
    assert_eq!(body.depends_on, ["T1", "T2"]);
    assert_eq!(body.project.as_deref(), Some("E-Commerce Platform Rebuild"));
    assert!(a.form().is_none());
}

#[test]
fn the_assign_picker_shows_scores_and_reasons() {
    let mut a = app();
    a.on_key(key(KeyCode::Char('2')));
    for _ in 0..4 {
        a.on_key(key(KeyCode::Char('j')));
    }
    let t5 = Uuid::parse_str(&id(5)).expect("uuid");
    assert_eq!(
        a.on_key(key(KeyCode::Char('A'))),
        vec![Action::Explain { task: t5 }]
    );
    let explanation = json!({
        "task_id": t5, "task_ref": "T5", "requirements": {"repo": "api-gateway"},
        "candidates": [
            {"server_id": BACKEND, "server": "dev-backend", "status": "online", "score": 221,
             "disqualified": null, "breakdown": ["+100 repo api-gateway", "+100 languages rust", "+21 load"],
             "winner": true},
            {"server_id": DESKTOP, "server": "dev-desktop", "status": "offline", "score": null,
             "disqualified": "offline", "breakdown": [], "winner": false},
        ],
        "winner": "dev-backend",
    });
    a.on_msg(Msg::Explanation(Box::new(
        serde_json::from_value(explanation).expect("explanation"),
    )));
    let t = render(&a, 80, 24);
    insta::assert_snapshot!("assign_picker_80x24", t.backend());
    a.on_key(key(KeyCode::Char('j')));
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    assert!(
        a.status
            .as_deref()
            .is_some_and(|s| s.contains("dev-desktop cannot take it: offline"))
    );
    a.on_key(key(KeyCode::Char('k')));
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::Assign {
            task: t5,
            server: "dev-backend".into()
        }]
    );
    assert!(a.picker().is_none());
}

/// T`n`'s view as the hub answered it, with `sessions` and nothing else around it.
fn task_view(a: &App, n: usize, sessions: Value) -> Msg {
    let mut v = serde_json::to_value(&a.model.snap.tasks[n - 1]).expect("task");
    for k in [
        "depends_on",
        "dependents",
        "interventions",
        "plans",
        "notes",
        "events",
    ] {
        v[k] = json!([]);
    }
    v["sessions"] = sessions;
    v["resolved_inputs"] = json!({});
    v["contracts"] = json!({});
    Msg::TaskView(Box::new(serde_json::from_value(v).expect("task view")))
}

#[test]
fn the_task_detail_shows_its_newest_agents_live_state() {
    use orchestratia_proto::SessionState;
    use orchestratia_proto::ws::HubToConsole;
    let mut a = app();
    a.on_key(key(KeyCode::Char('2')));
    a.on_key(key(KeyCode::Char('j')));
    let t2 = Uuid::parse_str(&id(2)).expect("uuid");
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Action::OpenTask { task: t2 }]
    );
    // The view was read while T2's agent was starting, after an earlier attempt's agent ended.
    let mut earlier = session(10, 2, "ended", "ended");
    earlier["started_at"] = json!(at(0));
    a.on_msg(task_view(
        &a,
        2,
        json!([earlier, session(2, 2, "active", "starting")]),
    ));
    // The newest agent, in the state the snapshot holds now (fresher than the view).
    let s = text(&render(&a, 160, 24));
    assert!(
        s.contains(
            "T2 Gateway Integration  running  priority medium  server dev-backend  \
             repo api-gateway  orc-000002 agent working"
        ),
        "{s}"
    );
    assert!(!s.contains("orc-000010"), "{s}");

    // The console socket says it waits for a permission: the open detail follows.
    a.on_msg(Msg::Hub(HubToConsole::SessionState {
        session_id: Uuid::parse_str(&id(102)).expect("uuid"),
        task_id: Some(t2),
        state: SessionState::WaitingPermission,
    }));
    let s = text(&render(&a, 160, 24));
    assert!(s.contains("orc-000002 agent waiting_permission"), "{s}");

    // A task that never had a session shows no agent.
    a.on_key(key(KeyCode::Esc));
    for _ in 0..3 {
        a.on_key(key(KeyCode::Char('j')));
    }
    a.on_key(key(KeyCode::Enter));
    a.on_msg(task_view(&a, 5, json!([])));
    let s = text(&render(&a, 160, 24));
    assert!(s.contains("T5 Gateway Tests  pending"), "{s}");
    assert!(!s.contains(" agent "), "{s}");
}
