//! Admin commands: projects, servers, sessions, and what waits for a human.

use orchestratia_proto::api::{CreateProject, CreateRegistrationToken, EventQuery, SetBudget};
use orchestratia_proto::model::short_id;
use orchestratia_proto::time::{ago, format_ms, now_ms};
use orchestratia_proto::{Project, Server};

use super::print::{self, clip, table};
use super::{Ctx, EventsArgs, InterventionCmd, PlanCmd, ProjectCmd, ServerCmd, TokenCmd, usage};

pub(crate) async fn project(ctx: &Ctx, cmd: ProjectCmd) -> anyhow::Result<()> {
    match cmd {
        ProjectCmd::Create {
            name,
            budget_usd,
            enforce_budget,
        } => {
            if let Some(b) = budget_usd {
                check_budget(b)?;
            }
            let body = CreateProject {
                name,
                budget_usd,
                enforce_budget,
            };
            let p = ctx.client.create_project_with(&body).await?;
            ctx.out(&p, |p| say!("{}", p.id))
        }
        ProjectCmd::List => {
            let ps = ctx.client.projects().await?;
            ctx.out(&ps, |ps| say!("{}", projects_table(ps)))
        }
        ProjectCmd::Budget(a) => {
            if let Some(b) = a.budget_usd {
                check_budget(b)?;
            }
            let body = SetBudget {
                budget_usd: a.budget_usd,
                enforce: a.enforce,
            };
            let p = ctx.client.set_budget(&a.name, &body).await?;
            ctx.out(&p, |p| match &p.budget {
                Some(b) => say!("{}: budget {}", p.name, budget_text(b)),
                None => say!("{}: no budget", p.name),
            })
        }
    }
}

/// A budget must be a number of dollars above zero.
fn check_budget(usd: f64) -> anyhow::Result<()> {
    if !usd.is_finite() || usd <= 0.0 {
        return Err(usage(format!(
            "--budget-usd must be a number of US dollars above zero, not {usd}"
        )));
    }
    Ok(())
}

/// A budget as people read it: `$50.00 (enforced)`.
fn budget_text(b: &orchestratia_proto::usage::Budget) -> String {
    format!(
        "${:.2}{}",
        b.usd,
        if b.enforce { " (enforced)" } else { "" }
    )
}

/// `project list` as text: name, id, cost so far, budget.
fn projects_table(ps: &[Project]) -> String {
    let rows = ps
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.id.to_string(),
                p.usage.as_ref().map(|u| u.cost_text()).unwrap_or_default(),
                p.budget.as_ref().map(budget_text).unwrap_or_default(),
            ]
        })
        .collect();
    table(&["PROJECT", "ID", "COST", "BUDGET"], rows)
}

pub(crate) async fn server(ctx: &Ctx, cmd: ServerCmd) -> anyhow::Result<()> {
    match cmd {
        ServerCmd::Token {
            action: Some(action),
            ..
        } => tokens(ctx, TokenKind::Registration, action).await,
        ServerCmd::Token {
            action: None,
            project,
            expires_in,
            replace,
        } => {
            let project = project.ok_or_else(|| {
                usage("server token needs --project (or 'server token list|revoke ID')")
            })?;
            let body = CreateRegistrationToken {
                project,
                expires_in_secs: expires_in.map(|d| d.as_secs().max(1)),
                replace,
            };
            let t = ctx.client.create_registration_token(&body).await?;
            ctx.out(&t, |t| {
                say!("{}", t.token);
                say!();
                say!("{}", t.install);
            })
        }
        ServerCmd::List => {
            let ss = ctx.client.servers().await?;
            ctx.out(&ss, |ss| print_servers(ss))
        }
        ServerCmd::Revoke { name } => {
            let s = ctx.client.revoke_server(&name).await?;
            ctx.out(&s, |s| say!("{} revoked", s.name))
        }
    }
}

/// `server list` as text: a row a server, or how to register the first.
fn print_servers(ss: &[Server]) {
    if ss.is_empty() {
        say!("no servers: register one with 'orchestratia server token --project NAME'");
        return;
    }
    let now = now_ms();
    let rows = ss
        .iter()
        .map(|s| {
            let seen = s
                .last_heartbeat
                .map(|h| format!("{} ago", ago(h, now)))
                .unwrap_or_else(|| "never".into());
            vec![
                s.name.clone(),
                if s.revoked {
                    "REVOKED".into()
                } else {
                    s.status.to_string().to_uppercase()
                },
                seen,
                if s.os.is_empty() {
                    "-".into()
                } else {
                    s.os.clone()
                },
                s.repos.keys().cloned().collect::<Vec<_>>().join(","),
                s.languages.join(","),
                s.sessions.to_string(),
            ]
        })
        .collect();
    say!(
        "{}",
        table(
            &[
                "SERVER",
                "STATUS",
                "HEARD",
                "OS",
                "REPOS",
                "LANGUAGES",
                "SESSIONS"
            ],
            rows
        )
    );
}

pub(crate) async fn sessions(ctx: &Ctx) -> anyhow::Result<()> {
    let ss = ctx.client.sessions().await?;
    ctx.out(&ss, |ss| {
        if ss.is_empty() {
            say!("no sessions");
            return;
        }
        let now = now_ms();
        let rows = ss
            .iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    s.server.clone(),
                    s.task.clone().unwrap_or_else(|| "-".into()),
                    s.status.to_string(),
                    format!("{} {}", s.state, ago(s.state_since, now)),
                    s.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                    s.tmux.clone().unwrap_or_else(|| "-".into()),
                    ago(s.started_at, now),
                ]
            })
            .collect();
        say!(
            "{}",
            table(
                &[
                    "SESSION", "SERVER", "TASK", "STATUS", "STATE", "PID", "TMUX", "AGE"
                ],
                rows
            )
        );
    })
}

/// `session send`: a message for an idle agent; fails unless the agent took it.
pub(crate) async fn send(ctx: &Ctx, session: &str, text: &str) -> anyhow::Result<()> {
    let text = if text == "-" {
        super::tasks::read_text(std::path::Path::new("-"))?
    } else {
        text.to_string()
    };
    let m = ctx.client.send_message(session, &text).await?;
    if !m.taken {
        anyhow::bail!(
            "{} did not take the message within 20s (it stays queued; see the session's screen)",
            m.session
        );
    }
    ctx.out(&m, |m| say!("{} took the message", m.session))
}

/// `session stop`: ends a session whose task is closed.
pub(crate) async fn stop_session(
    ctx: &Ctx,
    session: &str,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    let s = ctx.client.stop_session(session, reason).await?;
    ctx.out(&s, |s| say!("{} stopped", s.name))
}

pub(crate) async fn intervention(ctx: &Ctx, cmd: InterventionCmd) -> anyhow::Result<()> {
    match cmd {
        InterventionCmd::List { status } => {
            let is = ctx.client.interventions(status.as_deref()).await?;
            ctx.out(&is, |is| {
                if is.is_empty() {
                    say!("no questions");
                    return;
                }
                let now = now_ms();
                let rows = is
                    .iter()
                    .map(|i| {
                        vec![
                            short_id(i.id),
                            i.task_reference.clone(),
                            i.status.to_string(),
                            ago(i.created_at, now),
                            clip(&i.question, 60),
                            i.response
                                .as_deref()
                                .map(|r| clip(r, 40))
                                .unwrap_or_default(),
                        ]
                    })
                    .collect();
                say!(
                    "{}",
                    table(&["ID", "TASK", "STATUS", "AGE", "QUESTION", "ANSWER"], rows)
                );
            })
        }
        InterventionCmd::Respond { id, text } => {
            let i = ctx.client.respond(&id, &text).await?;
            ctx.out(&i, |i| say!("answered {} ({})", i.task_reference, i.id))
        }
    }
}

pub(crate) async fn plan(ctx: &Ctx, cmd: PlanCmd) -> anyhow::Result<()> {
    match cmd {
        PlanCmd::Approve { id } => {
            let p = ctx.client.approve_plan(&id).await?;
            ctx.out(&p, |p| say!("approved the plan of {}", p.task_reference))
        }
        PlanCmd::Reject { id, feedback } => {
            let p = ctx.client.reject_plan(&id, &feedback).await?;
            ctx.out(&p, |p| say!("rejected the plan of {}", p.task_reference))
        }
        PlanCmd::List { status } => {
            let ps = ctx.client.plans(status.as_deref()).await?;
            ctx.out(&ps, |ps| {
                if ps.is_empty() {
                    say!("no plans");
                    return;
                }
                let now = now_ms();
                let rows = ps
                    .iter()
                    .map(|p| {
                        vec![
                            p.task_reference.clone(),
                            p.status.to_string(),
                            ago(p.created_at, now),
                            clip(&p.content, 70),
                        ]
                    })
                    .collect();
                say!("{}", table(&["TASK", "STATUS", "AGE", "PLAN"], rows));
            })
        }
    }
}

/// Writes a session's recording as asciicast v2.
pub(crate) async fn export_session(
    ctx: &Ctx,
    id: &str,
    output: Option<std::path::PathBuf>,
    cols: u16,
    rows: u16,
) -> anyhow::Result<()> {
    if cols == 0 || rows == 0 {
        return Err(super::usage("--cols and --rows must be at least 1"));
    }
    let session = ctx
        .client
        .sessions()
        .await?
        .into_iter()
        .find(|s| s.name == id || s.id.to_string() == id)
        .ok_or_else(|| {
            super::usage(format!(
                "no session '{id}' (see: orchestratia session list)"
            ))
        })?;
    let chunks = ctx.client.recording_all(&session.id.to_string()).await?;
    let title = format!(
        "{} ({} on {})",
        session.name,
        session.task.as_deref().unwrap_or("interactive"),
        session.server
    );
    let cast = super::cast::asciicast(
        &chunks,
        &super::cast::CastInfo {
            cols,
            rows,
            title: &title,
        },
    );
    let path = output.unwrap_or_else(|| format!("{}.cast", session.name).into());
    let events = cast.lines().count().saturating_sub(1);
    if path.as_os_str() == "-" {
        print!("{cast}");
        return Ok(());
    }
    std::fs::write(&path, &cast)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    let summary = serde_json::json!({
        "session": session.name,
        "file": path.display().to_string(),
        "events": events,
        "bytes": cast.len(),
    });
    ctx.out(&summary, |_| {
        say!(
            "wrote {} ({events} output events); replay: asciinema play {}",
            path.display(),
            path.display()
        )
    })
}

/// Prints the event log; with --follow keeps printing as events happen.
pub(crate) async fn events(ctx: &Ctx, a: EventsArgs) -> anyhow::Result<()> {
    if a.follow && ctx.json {
        return Err(super::usage(
            "--follow prints lines as they come; it cannot be combined with --json",
        ));
    }
    let mut q = EventQuery {
        after: a.after,
        task: a.task,
        project: a.project,
        kind: a.kind,
        limit: Some(1000),
        wait: None,
    };
    loop {
        let page = match ctx.client.events(&q).await {
            Ok(p) => p,
            Err(e) if a.follow && e.is_retryable() => {
                super::pause_while_unreachable(&e).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if ctx.json {
            println!("{}", serde_json::to_string_pretty(&page)?);
            return Ok(());
        }
        for e in &page.events {
            say!(
                "{:>6}  {}  {:<22} {:<18} {}",
                e.id,
                format_ms(e.at),
                e.event.to_string(),
                e.actor,
                print::details(&e.details)
            );
        }
        if !a.follow {
            return Ok(());
        }
        q.after = Some(page.cursor);
        q.wait = Some("25s".into());
    }
}

/// Which tokens a `list` / `revoke` is about.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TokenKind {
    Admin,
    Registration,
}

/// `server token list|revoke` and `admin-token list|revoke`.
pub(crate) async fn tokens(ctx: &Ctx, kind: TokenKind, cmd: TokenCmd) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::List => {
            let ts = match kind {
                TokenKind::Admin => ctx.client.admin_tokens().await?,
                TokenKind::Registration => ctx.client.registration_tokens().await?,
            };
            ctx.out(&ts, |ts| {
                if ts.is_empty() {
                    say!("no tokens");
                    return;
                }
                let now = now_ms();
                let rows = ts
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.clone(),
                            t.status.clone(),
                            ago(t.created_at, now),
                            t.expires_at.map(format_ms).unwrap_or_else(|| "-".into()),
                            t.replaces.clone().unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                say!(
                    "{}",
                    table(&["ID", "STATUS", "CREATED", "EXPIRES", "REPLACES"], rows)
                );
            })
        }
        TokenCmd::Revoke { id } => {
            let t = match kind {
                TokenKind::Admin => ctx.client.revoke_admin_token(&id).await?,
                TokenKind::Registration => ctx.client.revoke_registration_token(&id).await?,
            };
            ctx.out(&t, |t| say!("{} token {} revoked", t.kind, t.id))
        }
    }
}
