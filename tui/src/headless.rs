//! `orchestratia-console demo --headless`: the demo with no screen. It prints the event
//! timeline as it happens, and where the console would wait for a human it answers through
//! the same API (and says so): the permission is allowed, the plan approved, the question
//! answered. It ends when every task is done (Ok), listing each task's branch and what changed
//! on it, or with the reason it cannot get there (a failed task, the time limit).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use orchestratia_agent::cli::print::details;
use orchestratia_proto::api::{EventQuery, TaskFilter};
use orchestratia_proto::client::HubClient;
use orchestratia_proto::text::multi_line;
use orchestratia_proto::workspace::WorkspaceFilter;
use orchestratia_proto::{Event, EventKind, Task, TaskStatus};
use uuid::Uuid;

use crate::demo::PROJECT;

/// What the headless demo answers when a worker asks its question.
pub const ANSWER: &str = "The ISO code (EUR, USD): the dashboard is used across countries.";

/// How the headless run ended well.
#[derive(Debug)]
pub struct Outcome {
    pub tasks: usize,
    pub elapsed: Duration,
}

/// Follows the project's events until every task is done, answering for the human.
pub async fn run(admin: &HubClient, timeout: Duration) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut cursor = 0i64;
    loop {
        let page = admin
            .events(&EventQuery {
                after: Some(cursor),
                project: Some(PROJECT.into()),
                limit: Some(500),
                wait: Some("2s".into()),
                ..Default::default()
            })
            .await?;
        cursor = page.cursor;
        // Read after the page, the tasks name every task its events mention, and show the
        // state they left.
        let all = tasks(admin).await?;
        let refs: HashMap<Uuid, String> = all.iter().map(|t| (t.id, t.reference.clone())).collect();
        for e in &page.events {
            println!("{}", multi_line(&line(e, &refs)));
            act(admin, e, &refs).await?;
        }
        if let Some(failed) = all.iter().find(|t| t.status == TaskStatus::Failed) {
            anyhow::bail!(
                "{} {} failed: {}",
                failed.reference,
                failed.title,
                failed.result.as_ref().map(details).unwrap_or_default()
            );
        }
        if !all.is_empty() && all.iter().all(|t| t.status == TaskStatus::Done) {
            for l in workspace_lines(admin).await {
                say(&l);
            }
            return Ok(Outcome {
                tasks: all.len(),
                elapsed: started.elapsed(),
            });
        }
        if Instant::now() >= deadline {
            let open: Vec<String> = all
                .iter()
                .filter(|t| t.status != TaskStatus::Done)
                .map(|t| format!("{} ({})", t.reference, t.status))
                .collect();
            anyhow::bail!(
                "not done after {}: {}",
                humantime::format_duration(timeout),
                open.join(", ")
            );
        }
    }
}

async fn tasks(admin: &HubClient) -> anyhow::Result<Vec<Task>> {
    Ok(admin
        .tasks(&TaskFilter {
            project: Some(PROJECT.into()),
            ..Default::default()
        })
        .await?)
}

/// The tasks' branches and what changed on each, to review with `task diff` and `task merge`
/// (nothing when the repos are not git repositories or the hub cannot say).
async fn workspace_lines(admin: &HubClient) -> Vec<String> {
    let filter = WorkspaceFilter {
        project: Some(PROJECT.into()),
        ..Default::default()
    };
    let Ok(listed) = admin.workspaces(&filter).await else {
        return Vec::new();
    };
    if listed.is_empty() {
        return Vec::new();
    }
    // The last task's session may still be ending, its final report not sent yet: ask each
    // daemon what its worktree holds now (the stored report if it cannot say).
    let mut list = Vec::with_capacity(listed.len());
    for w in listed {
        let task = w.report.task_id.to_string();
        list.push(admin.refresh_workspace(&task).await.unwrap_or(w));
    }
    list.sort_by_key(|w| {
        w.reference
            .trim_start_matches('T')
            .parse::<u64>()
            .unwrap_or(0)
    });
    let mut lines = vec![format!(
        "workspaces to review ({} branches; `orchestratia task diff T2` shows one, `task merge T2` merges it; `d` and `m` in the console):",
        list.len()
    )];
    for w in &list {
        lines.push(format!(
            "  {:<4} {:<44} {}",
            w.reference,
            w.report.branch,
            w.report.stat_line()
        ));
    }
    lines
}

/// One timeline line: time, task, event, actor, details.
fn line(e: &Event, refs: &HashMap<Uuid, String>) -> String {
    let time = orchestratia_proto::time::format_ms(e.at);
    let time = time.get(11..23).unwrap_or(&time).to_string();
    let task = |id: Option<Uuid>| {
        id.and_then(|t| refs.get(&t).cloned())
            .unwrap_or_else(|| "-".into())
    };
    let mut subject = task(e.task_id);
    if e.related_task_id.is_some() {
        subject = format!("{subject}→{}", task(e.related_task_id));
    }
    format!(
        "{time}  {subject:<7} {:<20} {:<18} {}",
        e.event.to_string(),
        e.actor,
        details(&e.details)
    )
}

/// Prints a line of the demo's log with what agents wrote shown escaped.
fn say(text: &str) {
    println!("{}", multi_line(text));
}

/// Where the console would wait for a human, answer through the API: what waits is read from
/// the hub's inbox, as the console and the Telegram bot see it.
async fn act(admin: &HubClient, e: &Event, refs: &HashMap<Uuid, String>) -> anyhow::Result<()> {
    let Some(task) = e.task_id else {
        return Ok(());
    };
    let reference = refs.get(&task).cloned().unwrap_or_else(|| task.to_string());
    match e.event {
        EventKind::TaskPlanSubmitted => {
            say(&format!(
                "  >> headless demo: approving {reference}'s plan (in the console: `a` in the Inbox)"
            ));
            admin.approve_plan(&task.to_string()).await?;
        }
        EventKind::PermissionRequested => {
            let inbox = admin.inbox().await?;
            for p in inbox.permissions().filter(|p| p.task_id == Some(task)) {
                say(&format!(
                    "  >> headless demo: allowing {reference}'s {} `{}` (in the console: `y`)",
                    p.tool_name,
                    p.input_text()
                ));
                admin.allow_permission(&p.id.to_string()).await?;
            }
        }
        EventKind::TaskNeedsHuman => {
            let inbox = admin.inbox().await?;
            for i in inbox.questions().filter(|i| i.task_id == task) {
                say(&format!(
                    "  >> headless demo: answering {reference}'s question \"{}\" with \"{ANSWER}\" (in the console: `i`)",
                    i.question
                ));
                admin.respond(&i.id.to_string(), ANSWER).await?;
            }
        }
        _ => {}
    }
    Ok(())
}
