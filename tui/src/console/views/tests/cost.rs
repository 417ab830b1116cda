//! What tasks cost: a task's usage in its detail, the project's total and budget in the
//! Tasks and Graph headers.

use super::*;

/// Usage of `cost` dollars over a few calls of `model`.
fn usage(cost: f64, model: &str) -> Value {
    json!({
        "model": model, "input_tokens": 12_300, "output_tokens": 4_100,
        "cache_read_tokens": 80_000, "cache_write_tokens": 2_000, "cost_usd": cost,
        "calls": 7, "unpriced_calls": 0,
    })
}

/// The fixture with T2 and T3 costing $1.25 and $0.50, and the project's budget.
fn costly(budget: Value, project_usage: Value) -> App {
    let mut s = snapshot();
    for (t, cost) in [(1, 1.25), (2, 0.5)] {
        s.tasks[t].usage = serde_json::from_value(usage(cost, "claude-sonnet-4-5")).ok();
    }
    s.projects[0].budget = serde_json::from_value(budget).expect("budget");
    s.projects[0].usage = serde_json::from_value(project_usage).expect("usage");
    let mut a = App::new(false);
    a.now = orchestratia_proto::time::parse_rfc3339(NOW).expect("now");
    a.on_msg(Msg::Snapshot(Box::new(s)));
    a
}

#[test]
fn the_task_detail_shows_what_it_cost() {
    let mut a = costly(Value::Null, Value::Null);
    a.on_key(key(KeyCode::Char('2')));
    a.on_key(key(KeyCode::Char('j')));
    let opened = a.on_key(key(KeyCode::Enter));
    let t2 = Uuid::parse_str(&id(2)).expect("uuid");
    assert_eq!(opened, vec![Action::OpenTask { task: t2 }]);
    let mut v = serde_json::to_value(&a.model.snap.tasks[1]).expect("task");
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
    a.on_msg(Msg::TaskView(Box::new(
        serde_json::from_value(v).expect("task view"),
    )));
    let s = text(&render(&a, 160, 24));
    assert!(
        s.contains(
            "cost $1.25 · 12.3k in · 4.1k out · 80.0k cache read · 2.0k cache write · 7 calls \
             · model claude-sonnet-4-5"
        ),
        "{s}"
    );

    // A task nothing was reported for says so.
    let mut a = app();
    a.on_key(key(KeyCode::Char('2')));
    a.on_key(key(KeyCode::Enter));
    let mut v = serde_json::to_value(&a.model.snap.tasks[0]).expect("task");
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
    a.on_msg(Msg::TaskView(Box::new(
        serde_json::from_value(v).expect("task view"),
    )));
    let s = text(&render(&a, 160, 24));
    assert!(s.contains("cost: nothing reported yet"), "{s}");
}

#[test]
fn the_headers_show_the_project_total_and_its_budget() {
    // No project total from the hub: the sum of its tasks; 88% of the budget.
    let mut a = costly(json!({"usd": 2.0, "enforce": true}), Value::Null);
    a.on_key(key(KeyCode::Char('3')));
    let graph = text(&render(&a, 160, 48));
    assert!(
        graph.contains(
            "E-Commerce Platform Rebuild 7 tasks, 1 done · cost $1.75 of $2.00 budget (88%, enforced)"
        ),
        "{graph}"
    );
    a.on_key(key(KeyCode::Char('2')));
    let tasks = text(&render(&a, 160, 48));
    assert!(
        tasks.contains(
            "tasks (7) · E-Commerce Platform Rebuild: cost $1.75 of $2.00 budget (88%, enforced)"
        ),
        "{tasks}"
    );

    // The hub's project total wins; no budget: the cost alone.
    let mut a = costly(Value::Null, usage(3.5, "claude-opus-4"));
    a.on_key(key(KeyCode::Char('2')));
    let tasks = text(&render(&a, 160, 48));
    assert!(
        tasks.contains("tasks (7) · E-Commerce Platform Rebuild: cost $3.50 "),
        "{tasks}"
    );
    assert!(!tasks.contains("budget"), "{tasks}");

    // Nothing reported and no budget: the headers say nothing of cost.
    let mut a = app();
    a.on_key(key(KeyCode::Char('3')));
    assert!(!text(&render(&a, 160, 48)).contains("cost"));
}
