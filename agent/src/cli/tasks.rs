//! `orchestratia task …`: create, wire, assign, list, view, explain, graph, cancel, retry, update
//! (`task wait` is in `wait`; what an agent runs inside its session is in `work`).

use anyhow::Context;
use orchestratia_proto::api::{
    AddDependency, CreateTask, Explanation, RemoveDependency, TaskFilter, UpdateTask,
};
use orchestratia_proto::taskref::TaskRef;
use orchestratia_proto::{DepType, DependencyAfter, Priority};
use serde_json::Value;

use super::print;
use super::{CreateArgs, Ctx, DepsCmd, TaskCmd, UpdateArgs, usage};

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

/// `orchestratia task …`, the commands about tasks as a whole; the rest go to [`super::work`].
pub(crate) async fn task(ctx: &Ctx, cmd: TaskCmd) -> anyhow::Result<()> {
    match cmd {
        TaskCmd::Create(a) => create(ctx, a).await,
        TaskCmd::Deps(c) => deps(ctx, c).await,
        TaskCmd::Assign {
            id,
            server,
            project,
        } => assign(ctx, &id, &server, project.as_deref()).await,
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
        } => super::wait::wait(ctx, &ids, any, timeout, project.as_deref()).await,
        TaskCmd::Explain { id, project } => {
            let id = task_key(ctx, &id, project.as_deref()).await?;
            let e = ctx.client.explain(&id).await?;
            ctx.out(&e, print_explanation)
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
        TaskCmd::Retry { id, project } => retry(ctx, &id, project.as_deref()).await,
        TaskCmd::Update(a) => update(ctx, a).await,
        c @ (TaskCmd::Diff { .. }
        | TaskCmd::Merge { .. }
        | TaskCmd::Keep { .. }
        | TaskCmd::Discard { .. }
        | TaskCmd::Review { .. }
        | TaskCmd::Workspace { .. }) => super::workspace::task(ctx, c).await,
        other => super::work::worker(ctx, other).await,
    }
}

/// `task create`.
async fn create(ctx: &Ctx, a: CreateArgs) -> anyhow::Result<()> {
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
        base: a.base,
        base_from: a.base_from,
        branch: a.branch,
        pipeline_key: None,
    };
    let t = ctx.client.create_task(&body).await?;
    ctx.out(&t, |t| say!("{}", t.id))
}

/// The two ends of a dependency as the hub should get them: the task, and the one it depends
/// on.
async fn dep_ends(
    ctx: &Ctx,
    id: &str,
    depends_on: &str,
    project: Option<&str>,
) -> anyhow::Result<(String, String)> {
    let id = task_key(ctx, id, project).await?;
    let up = task_key(ctx, depends_on, project).await?;
    Ok((id, up))
}

/// `task deps add|remove`.
async fn deps(ctx: &Ctx, cmd: DepsCmd) -> anyhow::Result<()> {
    match cmd {
        DepsCmd::Add {
            id,
            depends_on,
            dep_type,
            contract_key,
            after,
            project,
        } => {
            let dep_type = dep_type
                .parse::<DepType>()
                .map_err(|e| usage(e.to_string()))?;
            let after = after
                .map(|a| {
                    a.parse::<DependencyAfter>()
                        .map_err(|e| usage(e.to_string()))
                })
                .transpose()?;
            if after == Some(DependencyAfter::Merged) && dep_type != DepType::Blocks {
                return Err(usage(
                    "--after merged is for a `blocks` dependency, not an `input`",
                ));
            }
            let (id, up) = dep_ends(ctx, &id, &depends_on, project.as_deref()).await?;
            let body = AddDependency {
                depends_on: up,
                dep_type,
                contract_key,
                after,
            };
            let v = ctx.client.add_dependency(&id, &body).await?;
            ctx.out(&v, |v| {
                let t = &v.task;
                let deps: Vec<String> = v
                    .depends_on
                    .iter()
                    .map(|d| match (&d.contract_key, d.after) {
                        (Some(k), _) => format!("{} (input:{k})", d.reference),
                        (None, DependencyAfter::Merged) => {
                            format!("{} (blocks, after merged)", d.reference)
                        }
                        (None, _) => format!("{} (blocks)", d.reference),
                    })
                    .collect();
                say!("{} now depends on {}", t.reference, deps.join(", "));
            })
        }
        DepsCmd::Remove {
            id,
            depends_on,
            dep_type,
            contract_key,
            project,
        } => {
            let dep_type = dep_type
                .map(|t| t.parse::<DepType>().map_err(|e| usage(e.to_string())))
                .transpose()?;
            let (id, up) = dep_ends(ctx, &id, &depends_on, project.as_deref()).await?;
            let body = RemoveDependency {
                depends_on: up,
                dep_type,
                contract_key,
            };
            let v = ctx.client.remove_dependency(&id, &body).await?;
            ctx.out(&v, |v| {
                say!(
                    "{}: {} dependencies left",
                    v.task.reference,
                    v.depends_on.len()
                )
            })
        }
    }
}

/// `task assign ID --server NAME`.
async fn assign(ctx: &Ctx, id: &str, server: &str, project: Option<&str>) -> anyhow::Result<()> {
    let id = task_key(ctx, id, project).await?;
    let t = ctx.client.assign(&id, server).await?;
    ctx.out(&t, |t| {
        say!(
            "{} assigned to {} ({})",
            t.reference,
            t.server.as_deref().unwrap_or("?"),
            t.status
        )
    })
}

/// `task explain` as text: the requirements, a row a server, and the verdict.
fn print_explanation(e: &Explanation) {
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
}

/// `task retry`.
async fn retry(ctx: &Ctx, id: &str, project: Option<&str>) -> anyhow::Result<()> {
    let id = task_key(ctx, id, project).await?;
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

/// `task update`.
async fn update(ctx: &Ctx, a: UpdateArgs) -> anyhow::Result<()> {
    let spec = match (a.spec, a.spec_file) {
        (Some(s), _) => Some(s),
        (None, Some(f)) => Some(read_text(&f)?),
        _ => None,
    };
    let languages = a.languages;
    let body = UpdateTask {
        title: a.title,
        spec,
        structured_spec: None,
        priority: priority(a.priority)?,
        repo: a.repo,
        languages: (!languages.is_empty()).then_some(languages),
        agent: a.agent,
        keep_session: a.keep_session,
    };
    let id = task_key(ctx, &a.id, a.project.as_deref()).await?;
    let t = ctx.client.update_task(&id, &body).await?;
    ctx.out(&t, |t| say!("{} updated", t.reference))
}
