//! `orchestratia task …`: create, wire, assign, list, view, wait, explain, graph, cancel, retry.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use anyhow::Context;
use orchestratia_proto::api::{
    AddDependency, CreateTask, EventQuery, RemoveDependency, TaskFilter, UpdateTask,
};
use orchestratia_proto::taskref::TaskRef;
use orchestratia_proto::{DepType, Priority, Task, TaskStatus};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::print;
use super::{Ctx, DepsCmd, TaskCmd, usage};

/// Reads a text argument from a file, `-` meaning stdin.
pub(crate) fn read_text(path: &std::path::Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("reading stdin")?;
        Ok(s)
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))
    }
}

fn priority(p: Option<String>) -> anyhow::Result<Option<Priority>> {
    p.map(|p| p.parse::<Priority>().map_err(|e| usage(e.to_string())))
        .transpose()
}

/// A task reference as the hub should get it: with `--project`, a number is turned into the
/// task's id within that project.
pub(crate) async fn task_key(ctx: &Ctx, id: &str, project: Option<&str>) -> anyhow::Result<String> {
    let r = TaskRef::parse(id).map_err(|e| usage(e.to_string()))?;
    match (r, project) {
        (TaskRef::Number(n), Some(p)) => {
            let all = ctx
                .client
                .tasks(&TaskFilter {
                    project: Some(p.to_string()),
                    ..Default::default()
                })
                .await?;
            all.iter()
                .find(|t| t.number == n)
                .map(|t| t.id.to_string())
                .ok_or_else(|| usage(format!("task T{n} not found in project '{p}'")))
        }
        _ => Ok(id.to_string()),
    }
}

pub(crate) async fn task(ctx: &Ctx, cmd: TaskCmd) -> anyhow::Result<()> {
    match cmd {
        TaskCmd::Create(a) => {
            let spec = match (&a.spec, &a.spec_file) {
                (Some(s), _) => s.clone(),
                (None, Some(f)) => read_text(f)?,
                (None, None) => String::new(),
            };
            let structured_spec = match &a.structured_spec_file {
                Some(f) => Some(
                    serde_json::from_str::<Value>(&read_text(f)?)
                        .map_err(|e| usage(format!("{}: not valid JSON: {e}", f.display())))?,
                ),
                None => None,
            };
            let body = CreateTask {
                title: a.title,
                project: a.project,
                spec,
                structured_spec,
                priority: priority(a.priority)?,
                repo: a.repo,
                languages: a.languages,
                agent: a.agent,
                os: a.os,
                depends_on: a.depends_on,
                require_plan_approval: a.require_plan_approval,
                orchestrator: a.orchestrator,
                keep_session: a.keep_session,
                pipeline_key: None,
            };
            let t = ctx.client.create_task(&body).await?;
            ctx.out(&t, |t| say!("{}", t.id))
        }
        TaskCmd::Deps(DepsCmd::Add {
            id,
            depends_on,
            dep_type,
            contract_key,
            project,
        }) => {
            let dep_type = dep_type
                .parse::<DepType>()
                .map_err(|e| usage(e.to_string()))?;
            let id = task_key(ctx, &id, project.as_deref()).await?;
            let up = task_key(ctx, &depends_on, project.as_deref()).await?;
            let v = ctx
                .client
                .add_dependency(
                    &id,
                    &AddDependency {
                        depends_on: up,
                        dep_type,
                        contract_key,
                    },
                )
                .await?;
            ctx.out(&v, |v| {
                let t = &v.task;
                let deps: Vec<String> = v
                    .depends_on
                    .iter()
                    .map(|d| match &d.contract_key {
                        Some(k) => format!("{} (input:{k})", d.reference),
                        None => format!("{} (blocks)", d.reference),
                    })
                    .collect();
                say!("{} now depends on {}", t.reference, deps.join(", "));
            })
        }
        TaskCmd::Deps(DepsCmd::Remove {
            id,
            depends_on,
            dep_type,
            contract_key,
            project,
        }) => {
            let dep_type = dep_type
                .map(|t| t.parse::<DepType>().map_err(|e| usage(e.to_string())))
                .transpose()?;
            let id = task_key(ctx, &id, project.as_deref()).await?;
            let up = task_key(ctx, &depends_on, project.as_deref()).await?;
            let v = ctx
                .client
                .remove_dependency(
                    &id,
                    &RemoveDependency {
                        depends_on: up,
                        dep_type,
                        contract_key,
                    },
                )
                .await?;
            ctx.out(&v, |v| {
                say!(
                    "{}: {} dependencies left",
                    v.task.reference,
                    v.depends_on.len()
                )
            })
        }
        TaskCmd::Assign {
            id,
            session,
            project,
        } => {
            let id = task_key(ctx, &id, project.as_deref()).await?;
            let t = ctx.client.assign(&id, &session).await?;
            ctx.out(&t, |t| {
                say!(
                    "{} assigned to {} ({})",
                    t.reference,
                    t.server.as_deref().unwrap_or("?"),
                    t.status
                )
            })
        }
        TaskCmd::List {
            status,
            project,
            server,
        } => {
            let ts = ctx
                .client
                .tasks(&TaskFilter {
                    status,
                    project,
                    server,
                })
                .await?;
            ctx.out(&ts, |ts| say!("{}", print::tasks(ts)))
        }
        TaskCmd::View { id, project } => {
            let id = super::task_id(id)?;
            let id = task_key(ctx, &id, project.as_deref()).await?;
            let v = ctx.client.task(&id).await?;
            ctx.out(&v, |v| say!("{}", print::task_view(v)))
        }
        TaskCmd::Wait {
            ids,
            any,
            timeout,
            project,
        } => wait(ctx, &ids, any, timeout, project.as_deref()).await,
        TaskCmd::Explain { id, project } => {
            let id = task_key(ctx, &id, project.as_deref()).await?;
            let e = ctx.client.explain(&id).await?;
            ctx.out(&e, |e| {
                say!("{}: {}", e.task_reference, print::details(&e.requirements));
                let rows = e
                    .candidates
                    .iter()
                    .map(|c| {
                        vec![
                            c.server.clone(),
                            c.status.to_string().to_uppercase(),
                            c.score.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                            if c.winner {
                                "WINNER".to_string()
                            } else if let Some(d) = &c.disqualified {
                                format!("DISQUALIFIED: {d}")
                            } else {
                                "eligible".to_string()
                            },
                            c.breakdown.join(", "),
                        ]
                    })
                    .collect();
                say!(
                    "{}",
                    print::table(&["SERVER", "STATUS", "SCORE", "VERDICT", "HOW"], rows)
                );
                match &e.winner {
                    Some(w) => say!("→ {w} would run it"),
                    None => say!("→ no server can run it now"),
                }
            })
        }
        TaskCmd::Graph { project } => {
            let g = ctx.client.graph(project.as_deref()).await?;
            ctx.out(&g, |g| say!("{}", print::graph(g)))
        }
        TaskCmd::Cancel { id, project } => {
            let id = task_key(ctx, &id, project.as_deref()).await?;
            let t = ctx.client.cancel(&id).await?;
            ctx.out(&t, |t| say!("{} cancelled", t.reference))
        }
        TaskCmd::Retry { id, project } => {
            let id = task_key(ctx, &id, project.as_deref()).await?;
            let t = ctx.client.retry(&id).await?;
            ctx.out(&t, |t| {
                say!(
                    "{} is {}{}",
                    t.reference,
                    print::status_of(t),
                    match &t.server {
                        Some(s) => format!(" on {s}"),
                        None => String::new(),
                    }
                )
            })
        }
        TaskCmd::Update {
            id,
            title,
            spec,
            spec_file,
            priority: p,
            repo,
            languages,
            agent,
            keep_session,
            project,
        } => {
            let spec = match (spec, spec_file) {
                (Some(s), _) => Some(s),
                (None, Some(f)) => Some(read_text(&f)?),
                _ => None,
            };
            let body = UpdateTask {
                title,
                spec,
                structured_spec: None,
                priority: priority(p)?,
                repo,
                languages: (!languages.is_empty()).then_some(languages),
                agent,
                keep_session,
            };
            let id = task_key(ctx, &id, project.as_deref()).await?;
            let t = ctx.client.update_task(&id, &body).await?;
            ctx.out(&t, |t| say!("{} updated", t.reference))
        }
        other => super::work::worker(ctx, other).await,
    }
}

/// The statuses `task wait` stops at.
fn settled(s: TaskStatus) -> bool {
    matches!(
        s,
        TaskStatus::Done | TaskStatus::Failed | TaskStatus::NeedsHuman | TaskStatus::Cancelled
    )
}

/// `task wait`: follows `task_status_update` events until the tasks settle.
async fn wait(
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
    // The cursor first, then the statuses: a change after the cursor shows up as an event.
    let first = ctx
        .client
        .events(&EventQuery {
            task: Some(keys.join(",")),
            kind: Some("task_status_update".into()),
            limit: Some(10_000),
            ..Default::default()
        })
        .await?;
    let mut cursor = first.cursor;
    let mut tasks: BTreeMap<String, Task> = BTreeMap::new();
    for k in &keys {
        let v = ctx.client.task(k).await?;
        tasks.insert(v.task.id.to_string(), v.task);
    }
    let mut reported: HashSet<String> = HashSet::new();
    let mut updates: Vec<Value> = Vec::new();
    let report = |t: &Task, updates: &mut Vec<Value>, reported: &mut HashSet<String>| {
        let key = format!("{}:{}", t.id, t.status);
        if reported.insert(key) {
            updates.push(
                json!({"id": t.id, "ref": t.reference, "title": t.title, "status": t.status}),
            );
            if !ctx.json {
                say!("{} {} {}", t.reference, t.status, t.title);
            }
        }
    };
    for t in tasks.values() {
        if settled(t.status) {
            report(t, &mut updates, &mut reported);
        }
    }
    let done = |tasks: &BTreeMap<String, Task>| {
        if any {
            tasks.values().any(|t| settled(t.status))
        } else {
            tasks.values().all(|t| settled(t.status))
        }
    };
    while !done(&tasks) {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            let open: Vec<String> = tasks
                .values()
                .filter(|t| !settled(t.status))
                .map(|t| format!("{} ({})", t.reference, t.status))
                .collect();
            anyhow::bail!(
                "timed out after {} waiting for {}",
                humantime::format_duration(timeout.unwrap_or_default()),
                open.join(", ")
            );
        }
        let wait = left
            .unwrap_or(Duration::from_secs(25))
            .min(Duration::from_secs(25));
        let page = match ctx
            .client
            .events(&EventQuery {
                after: Some(cursor),
                task: Some(keys.join(",")),
                kind: Some("task_status_update".into()),
                wait: Some(format!("{}ms", wait.as_millis().max(1))),
                ..Default::default()
            })
            .await
        {
            Ok(p) => p,
            Err(e) if e.is_retryable() => {
                eprintln!(
                    "hub unreachable ({}); retrying",
                    orchestratia_proto::text::one_line(&e.to_string())
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        cursor = page.cursor;
        for e in page.events {
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
                    report(&at_event, &mut updates, &mut reported);
                }
            }
        }
    }
    if ctx.json {
        let out = json!({
            "tasks": tasks.values().map(|t| json!({"id": t.id, "ref": t.reference, "title": t.title, "status": t.status})).collect::<Vec<_>>(),
            "updates": updates,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}
