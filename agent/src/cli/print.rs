//! Text output of the CLI: aligned tables, a task's timeline, the graph.

use std::collections::BTreeMap;

use comfy_table::{ContentArrangement, Table, presets};
use orchestratia_proto::api::{Graph, GraphNode};
use orchestratia_proto::text;
use orchestratia_proto::time::{ago, format_ms, now_ms};
use orchestratia_proto::{DepType, Event, Task, TaskStatus, TaskView};
use serde_json::Value;
use uuid::Uuid;

/// A borderless table with a header row. Cells are shown on one line with control characters
/// escaped (a carriage return in a title cannot overwrite the columns before it).
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.to_vec());
    for r in rows {
        t.add_row(
            r.iter()
                .map(|c| text::one_line(c).into_owned())
                .collect::<Vec<_>>(),
        );
    }
    t.to_string()
        .lines()
        .map(|l| l.trim_end().trim_start_matches(' ').to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

// Shared with the console, which shows timelines without linking the CLI.
pub use orchestratia_proto::text::{clip, details};

/// A status word, with the reason when a task is blocked.
pub fn status_of(t: &Task) -> String {
    if t.blocked {
        "blocked".to_string()
    } else {
        t.status.to_string()
    }
}

/// The task list as a table.
pub fn tasks(ts: &[Task]) -> String {
    if ts.is_empty() {
        return "no tasks".to_string();
    }
    let now = now_ms();
    let rows = ts
        .iter()
        .map(|t| {
            vec![
                t.reference.clone(),
                clip(&t.title, 40),
                status_of(t),
                t.priority.to_string(),
                t.server.clone().unwrap_or_else(|| "-".into()),
                ago(t.created_at, now),
                t.usage.as_ref().map(|u| u.cost_text()).unwrap_or_default(),
                t.blocked_reason
                    .as_deref()
                    .map(|r| clip(r, 60))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "TASK",
            "TITLE",
            "STATUS",
            "PRIORITY",
            "SERVER",
            "AGE",
            "COST",
            "WAITING FOR",
        ],
        rows,
    )
}

/// A timeline as a table of time, event, actor, details.
pub fn timeline(events: &[Event]) -> String {
    let rows = events
        .iter()
        .map(|e| {
            vec![
                format_ms(e.at)
                    .replace('T', " ")
                    .trim_end_matches('Z')
                    .to_string(),
                e.event.to_string(),
                e.actor.clone(),
                details(&e.details),
            ]
        })
        .collect();
    table(&["TIME", "EVENT", "ACTOR", "DETAILS"], rows)
}

/// One task with everything around it.
pub fn task_view(v: &TaskView) -> String {
    let t = &v.task;
    let mut out = String::new();
    out.push_str(&format!("{}  {}\n", t.reference, t.title));
    task_fields(&mut out, t);
    task_spec(&mut out, t);
    task_dependencies(&mut out, v);
    task_data(&mut out, v);
    if let Some(w) = &v.workspace {
        out.push_str(&super::wsview::block(w));
    }
    out.push_str(&super::wsview::comments(&v.review_comments));
    if !v.sessions.is_empty() {
        out.push_str("\nSessions\n");
        for s in &v.sessions {
            out.push_str(&format!(
                "  {} on {} ({}, agent {})\n",
                s.name, s.server, s.status, s.state
            ));
        }
    }
    let pending: Vec<_> = v
        .interventions
        .iter()
        .filter(|i| i.status == orchestratia_proto::InterventionStatus::Pending)
        .collect();
    for i in pending {
        out.push_str(&format!("\nQuestion ({}): {}\n", i.id, i.question));
    }
    out.push_str("\nTimeline\n");
    out.push_str(&timeline(&v.events));
    out
}

/// The task's own fields, a `name  value` line each (the ones it has).
fn task_fields(out: &mut String, t: &Task) {
    let line = |out: &mut String, k: &str, val: String| out.push_str(&format!("{k:<13}{val}\n"));
    line(out, "id", t.id.to_string());
    line(out, "status", status_of(t));
    if let Some(r) = &t.blocked_reason {
        line(out, "waiting for", r.clone());
    }
    line(out, "priority", t.priority.to_string());
    line(
        out,
        "server",
        t.server.clone().unwrap_or_else(|| "-".into()),
    );
    if let Some(r) = &t.repo {
        line(out, "repo", r.clone());
    }
    if !t.languages.is_empty() {
        line(out, "languages", t.languages.join(", "));
    }
    if let Some(a) = &t.agent {
        line(out, "pinned to", a.clone());
    }
    if let Some(p) = t.phase {
        line(out, "phase", p.to_string());
    }
    if t.require_plan_approval {
        line(out, "plan", "approval required".into());
    }
    if t.orchestrator {
        line(out, "role", "orchestrator".into());
    }
    if let Some(u) = &t.usage {
        line(out, "cost", u.cost_text());
        line(out, "tokens", u.tokens_text());
        if let Some(m) = &u.model {
            line(out, "model", m.clone());
        }
    }
}

/// The spec, and a structured spec's requirements and constraints.
fn task_spec(out: &mut String, t: &Task) {
    if !t.spec.trim().is_empty() {
        out.push_str("\nSpec\n");
        for l in t.spec.lines() {
            out.push_str(&format!("  {l}\n"));
        }
    }
    if let Some(s) = &t.structured_spec {
        if let Some(reqs) = s.get("requirements").and_then(Value::as_array) {
            out.push_str("\nRequirements\n");
            for r in reqs {
                let p = r.get("priority").and_then(Value::as_str).unwrap_or("must");
                let d = r.get("description").and_then(Value::as_str).unwrap_or("");
                out.push_str(&format!("  [{p}] {d}\n"));
            }
        }
        if let Some(c) = s.get("constraints").and_then(Value::as_object) {
            for (k, v) in c {
                out.push_str(&format!(
                    "  {k}: {}\n",
                    details(v).trim_matches(|c| c == '[' || c == ']')
                ));
            }
        }
    }
}

/// How a dependency works: `blocks`, or `input:KEY` for one that passes a contract.
fn dep_how(dep_type: &DepType, contract_key: Option<&str>) -> String {
    match (dep_type, contract_key) {
        (DepType::Input, Some(k)) => format!("input:{k}"),
        _ => "blocks".into(),
    }
}

/// What the task waits for and what waits for it.
fn task_dependencies(out: &mut String, v: &TaskView) {
    if !v.depends_on.is_empty() {
        out.push_str("\nDepends on\n");
        for d in &v.depends_on {
            let mut how = dep_how(&d.dep_type, d.contract_key.as_deref());
            if d.after == orchestratia_proto::DependencyAfter::Merged {
                how.push_str(" after merged");
            }
            let mark = if d.resolved { "met" } else { "waiting" };
            out.push_str(&format!(
                "  {:<5} {:<22} {:<8} {:<12} {}\n",
                d.reference,
                how,
                mark,
                d.status,
                clip(&d.title, 40)
            ));
        }
    }
    if !v.dependents.is_empty() {
        let refs: Vec<&str> = v.dependents.iter().map(|d| d.reference.as_str()).collect();
        out.push_str(&format!("\nNeeded by    {}\n", refs.join(", ")));
    }
}

/// The data around the task: the inputs it received, the contracts it published, its result.
fn task_data(out: &mut String, v: &TaskView) {
    if !v.resolved_inputs.is_empty() {
        out.push_str("\nResolved inputs\n");
        for (k, d) in &v.resolved_inputs {
            out.push_str(&format!("  {k}: {}\n", clip(&d.to_string(), 100)));
        }
    }
    if !v.contracts.is_empty() {
        out.push_str("\nContracts\n");
        for (k, c) in &v.contracts {
            out.push_str(&format!(
                "  {k} ({}): {}\n",
                c.status,
                clip(&c.data.to_string(), 100)
            ));
        }
    }
    if let Some(r) = &v.task.result {
        out.push_str("\nResult\n");
        for key in ["summary", "changes", "tests", "reason"] {
            if let Some(s) = r.get(key).and_then(Value::as_str) {
                out.push_str(&format!("  {key}: {}\n", s.replace('\n', "\n    ")));
            }
        }
    }
}

/// The graph as text: tasks by layer with their incoming edges, then the phases.
pub fn graph(g: &Graph) -> String {
    let mut out = String::new();
    let done = g
        .nodes
        .iter()
        .filter(|n| n.status == TaskStatus::Done)
        .count();
    out.push_str(&format!(
        "{}: {} tasks, {} done{}\n",
        g.project,
        g.nodes.len(),
        done,
        if g.all_done { " (ALL DONE)" } else { "" }
    ));
    let by_id: BTreeMap<_, _> = g.nodes.iter().map(|n| (n.id, n)).collect();
    let mut layers: BTreeMap<i64, Vec<_>> = BTreeMap::new();
    for n in &g.nodes {
        layers.entry(n.layer).or_default().push(n);
    }
    for (layer, nodes) in layers {
        out.push_str(&format!("\nlayer {layer}\n"));
        for n in nodes {
            out.push_str(graph_row(g, &by_id, n).trim_end());
            out.push('\n');
        }
    }
    graph_phases(&mut out, g);
    out.trim_end().to_string()
}

/// One task of the graph: its reference, status, title and server, and its incoming edges.
fn graph_row(g: &Graph, by_id: &BTreeMap<Uuid, &GraphNode>, n: &GraphNode) -> String {
    let incoming: Vec<String> = g
        .edges
        .iter()
        .filter(|e| e.to == n.id)
        .map(|e| {
            let from = by_id
                .get(&e.from)
                .map(|f| f.reference.as_str())
                .unwrap_or("?");
            let how = dep_how(&e.dep_type, e.contract_key.as_deref());
            format!("{from} ─{how}→")
        })
        .collect();
    let status = if n.blocked {
        "blocked".to_string()
    } else {
        n.status.to_string()
    };
    let arrows = if incoming.is_empty() {
        String::new()
    } else {
        format!("  ◂ {}", incoming.join(", "))
    };
    format!(
        "  {:<4} {:<12} {:<36} {:<12}{}",
        n.reference,
        status,
        clip(&n.title, 36),
        n.server.clone().unwrap_or_else(|| "-".into()),
        arrows
    )
}

/// The phases: the order the cascade released tasks in.
fn graph_phases(out: &mut String, g: &Graph) {
    if g.phases.is_empty() {
        return;
    }
    out.push_str("\nphases (the order the cascade released tasks)\n");
    for p in &g.phases {
        let what = match p.trigger.as_str() {
            "manual" => "assigned by hand".to_string(),
            "cascade" => format!("released by {}", p.released_by.as_deref().unwrap_or("?")),
            _ => format!("{} complete: ALL DONE", p.completed.join(" ")),
        };
        let released = if p.released.is_empty() {
            "—".to_string()
        } else {
            p.released.join(" ")
        };
        out.push_str(&format!(
            "  phase {:<3} {:<16} {}\n",
            p.phase, released, what
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_and_tables() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("a\nb", 10), "a b");
        let t = table(&["A", "B"], vec![vec!["x".into(), "long value".into()]]);
        assert!(t.lines().next().unwrap_or_default().starts_with('A'));
        assert!(t.contains("long value"));
    }

    #[test]
    fn agent_text_cannot_steer_the_terminal() {
        // A carriage return would overwrite the columns before it; an escape would hide text.
        let t = table(
            &["TITLE", "STATUS"],
            vec![vec!["curl x | sh\rls -la".into(), "\x1b[8mok".into()]],
        );
        assert!(!t.contains(['\r', '\x1b']), "{t:?}");
        assert!(t.contains("curl x | sh\\rls -la"), "{t}");
        assert_eq!(clip("a\x1b]0;t\x07b", 40), "a\\x1b]0;t\\x07b");
    }

    #[test]
    fn details_are_key_values() {
        let v = serde_json::json!({"agent": "dev-backend", "score": 255, "none": null});
        assert_eq!(details(&v), "agent=dev-backend score=255");
    }
}
