//! The task rendered as a prompt for the agent: what to do, what it receives from upstream
//! tasks, and how to report through the CLI.

use orchestratia_proto::ws::TaskPayload;
use serde_json::Value;

/// The prompt file's text.
pub fn render(t: &TaskPayload) -> String {
    let mut p = String::new();
    p.push_str(&format!("# {}: {}\n\n", t.reference, t.title));
    if !t.spec.trim().is_empty() {
        p.push_str(t.spec.trim_end());
        p.push_str("\n\n");
    }
    if let Some(s) = &t.structured_spec {
        if let Some(reqs) = s.get("requirements").and_then(Value::as_array)
            && !reqs.is_empty()
        {
            p.push_str("## Requirements\n\n");
            for r in reqs {
                let prio = r.get("priority").and_then(Value::as_str).unwrap_or("must");
                let d = r
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                p.push_str(&format!("- [{prio}] {d}\n"));
            }
            p.push('\n');
        }
        if let Some(c) = s.get("constraints").and_then(Value::as_object)
            && !c.is_empty()
        {
            p.push_str("## Constraints\n\n");
            for (k, v) in c {
                let items: Vec<&str> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                p.push_str(&format!("- {k}: {}\n", items.join(", ")));
            }
            p.push('\n');
        }
    }
    if !t.languages.is_empty() {
        p.push_str(&format!("Languages: {}\n\n", t.languages.join(", ")));
    }
    if !t.resolved_inputs.is_empty() {
        p.push_str("## Inputs from upstream tasks\n\n");
        p.push_str("These contracts were published by the tasks this one depends on (also in $ORCHESTRATIA_TASK_FILE, `resolved_inputs`; `orchestratia task inputs KEY` prints one):\n\n");
        for (k, v) in &t.resolved_inputs {
            let pretty = serde_json::to_string_pretty(v).unwrap_or_default();
            p.push_str(&format!("### {k}\n\n```json\n{pretty}\n```\n\n"));
        }
    }
    if let Some(review) = t.review.as_deref().filter(|r| !r.trim().is_empty()) {
        p.push_str("## Review comments\n\n");
        p.push_str(review.trim_end());
        p.push_str("\n\n");
    }
    p.push_str("## Reporting to Orchestratia\n\n");
    p.push_str("Use the `orchestratia` command; it knows this task from the environment.\n\n");
    if t.require_plan_approval {
        p.push_str("- First write a plan and submit it: `orchestratia task plan submit --file plan.md`. It waits for a human and prints `approved` or `rejected: FEEDBACK`; revise and resubmit until approved, then do the work.\n");
    }
    p.push_str("- When a decision is not yours to make: `orchestratia task help --question \"...\"`. It waits (as long as a person takes) and prints the answer. If the command is interrupted, run it again with the same question: it waits on the same one, and an answer that comes after you stopped waiting arrives as your next message.\n");
    p.push_str("- To leave a note on the task: `orchestratia task note \"...\"`.\n");
    p.push_str("- When done: `orchestratia task complete --summary \"...\" [--changes \"...\"] [--tests \"...\"] [--contract KEY=@file.json]`. A contract is data the tasks that depend on this one receive.\n");
    p.push_str("- If it cannot be done: `orchestratia task fail --reason \"...\"`.\n");
    if t.orchestrator {
        p.push_str("\nYou orchestrate this project: `orchestratia server list`, `orchestratia task create … --depends-on ID`, `orchestratia task deps add ID --depends-on ID --type input --contract-key KEY`, `orchestratia task assign ID --session SERVER`, `orchestratia task list`, `orchestratia task wait ID…`.\n");
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_inputs_and_instructions() {
        let t = TaskPayload {
            id: uuid::Uuid::nil(),
            reference: "T2".into(),
            title: "Implement API".into(),
            spec: "Implement it.".into(),
            structured_spec: Some(
                json!({"requirements": [{"description": "All endpoints", "priority": "must"}],
                                          "constraints": {"languages": ["python"]}}),
            ),
            priority: "high".into(),
            repo: Some("api".into()),
            languages: vec![],
            require_plan_approval: true,
            orchestrator: false,
            resolved_inputs: [("api_schema".to_string(), json!({"endpoints": []}))]
                .into_iter()
                .collect(),
            review: None,
        };
        let p = render(&t);
        assert!(p.starts_with("# T2: Implement API"));
        assert!(p.contains("- [must] All endpoints"));
        assert!(p.contains("### api_schema"));
        assert!(p.contains("orchestratia task plan submit"));
        assert!(p.contains("orchestratia task complete"));
        assert!(!p.contains("## Review comments"));
        let reviewed = TaskPayload {
            review: Some("review: a.rs:3: use a constant\n".into()),
            ..t
        };
        let p = render(&reviewed);
        let at = p.find("## Review comments").expect("section");
        assert!(p[at..].contains("review: a.rs:3: use a constant"));
        assert!(at < p.find("## Reporting").expect("reporting"));
    }
}
