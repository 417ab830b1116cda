//! `orchestratia task wait`: follows the tasks' `task_status_update` events until each (or,
//! with `--any`, one) is done, failed, cancelled or needs a human, printing each status it
//! stops at once; rides out a hub that cannot be reached.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use orchestratia_proto::api::EventQuery;
use orchestratia_proto::{Event, Task, TaskStatus};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::Ctx;
use super::tasks::task_key;

/// The longest one long-poll of the event log waits.
const POLL: Duration = Duration::from_secs(25);

/// The statuses `task wait` stops at.
fn settled(s: TaskStatus) -> bool {
    matches!(
        s,
        TaskStatus::Done | TaskStatus::Failed | TaskStatus::NeedsHuman | TaskStatus::Cancelled
    )
}

/// A task as `task wait --json` lists it.
fn task_json(t: &Task) -> Value {
    json!({"id": t.id, "ref": t.reference, "title": t.title, "status": t.status})
}

/// The settled statuses reported so far (each task and status once), in order.
#[derive(Default)]
struct Updates {
    seen: HashSet<String>,
    list: Vec<Value>,
}

impl Updates {
    /// Reports `t`'s status (printed unless `json`) if it was not reported yet.
    fn report(&mut self, t: &Task, json: bool) {
        let key = format!("{}:{}", t.id, t.status);
        if self.seen.insert(key) {
            self.list.push(task_json(t));
            if !json {
                say!("{} {} {}", t.reference, t.status, t.title);
            }
        }
    }
}

/// `task wait`: follows `task_status_update` events until the tasks settle.
pub(crate) async fn wait(
    ctx: &Ctx,
    ids: &[String],
    any: bool,
    timeout: Option<Duration>,
    project: Option<&str>,
) -> anyhow::Result<()> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut keys = Vec::new();
    for id in ids {
        keys.push(task_key(ctx, id, project).await?);
    }
    let query = EventQuery {
        task: Some(keys.join(",")),
        kind: Some("task_status_update".into()),
        ..Default::default()
    };
    // The cursor first, then the statuses: a change after the cursor shows up as an event.
    let first = ctx
        .client
        .events(&EventQuery {
            limit: Some(10_000),
            ..query.clone()
        })
        .await?;
    let mut cursor = first.cursor;
    let mut tasks: BTreeMap<String, Task> = BTreeMap::new();
    for k in &keys {
        let v = ctx.client.task(k).await?;
        tasks.insert(v.task.id.to_string(), v.task);
    }
    let mut updates = Updates::default();
    for t in tasks.values() {
        if settled(t.status) {
            updates.report(t, ctx.json);
        }
    }
    while !done(&tasks, any) {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            return Err(timed_out(&tasks, timeout));
        }
        let wait = left.unwrap_or(POLL).min(POLL);
        let page = match ctx
            .client
            .events(&EventQuery {
                after: Some(cursor),
                wait: Some(format!("{}ms", wait.as_millis().max(1))),
                ..query.clone()
            })
            .await
        {
            Ok(p) => p,
            Err(e) if e.is_retryable() => {
                super::pause_while_unreachable(&e).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        cursor = page.cursor;
        follow(ctx, &page.events, &mut tasks, &mut updates).await?;
    }
    if ctx.json {
        let out = json!({
            "tasks": tasks.values().map(task_json).collect::<Vec<_>>(),
            "updates": updates.list,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

/// Whether the wait is over: every task settled, or with `any` one of them.
fn done(tasks: &BTreeMap<String, Task>, any: bool) -> bool {
    if any {
        tasks.values().any(|t| settled(t.status))
    } else {
        tasks.values().all(|t| settled(t.status))
    }
}

/// The error of a wait that ran out of time, naming the tasks still open.
fn timed_out(tasks: &BTreeMap<String, Task>, timeout: Option<Duration>) -> anyhow::Error {
    let open: Vec<String> = tasks
        .values()
        .filter(|t| !settled(t.status))
        .map(|t| format!("{} ({})", t.reference, t.status))
        .collect();
    anyhow::anyhow!(
        "timed out after {} waiting for {}",
        humantime::format_duration(timeout.unwrap_or_default()),
        open.join(", ")
    )
}

/// Takes in a page of status events: each task they name is read again, and the status the
/// event reports is reported (even if the task has moved on since).
async fn follow(
    ctx: &Ctx,
    events: &[Event],
    tasks: &mut BTreeMap<String, Task>,
    updates: &mut Updates,
) -> anyhow::Result<()> {
    for e in events {
        let Some(id) = e.task_id.map(|i| i.to_string()) else {
            continue;
        };
        if let Some(t) = tasks.get_mut(&id) {
            let v = ctx.client.task(&id).await?;
            *t = v.task;
            if let Some(s) = e
                .details
                .get("status")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
            {
                let mut at_event = t.clone();
                at_event.status = s;
                updates.report(&at_event, ctx.json);
            }
        }
    }
    Ok(())
}
