//! `orchestratia permission …` and `orchestratia inbox`: the tool calls that wait for allow
//! or deny (once, or as a rule for calls like them), and everything else that waits for a
//! human, ranked by the work it holds up.

use orchestratia_proto::PermissionRequest;
use orchestratia_proto::api::{AllowPermission, AllowScope, DenyPermission};
use orchestratia_proto::api::{Inbox, InboxItem};
use orchestratia_proto::policy::PermissionRule;
use orchestratia_proto::time::{ago, now_ms};

use super::policy_args::PermissionCmd;
use super::print::{clip, table};
use super::{Ctx, usage};
use orchestratia_proto::model::short_id;

/// `orchestratia permission …`.
pub(crate) async fn permission(ctx: &Ctx, cmd: PermissionCmd) -> anyhow::Result<()> {
    match cmd {
        PermissionCmd::List { status } => {
            let rs = ctx.client.permissions(status.as_deref()).await?;
            ctx.out(&rs, |rs| say!("{}", requests_table(rs)))
        }
        PermissionCmd::Allow {
            id,
            session,
            always,
            patterns,
        } => {
            let scope = match (session, always) {
                (true, _) => AllowScope::Session,
                (_, true) => AllowScope::Always,
                _ => AllowScope::Once,
            };
            if scope == AllowScope::Once && !patterns.is_empty() {
                return Err(usage(
                    "--pattern makes a rule: add --session or --always (or drop --pattern to allow once)",
                ));
            }
            let body = AllowPermission { scope, patterns };
            let r = ctx.client.allow_permission_with(&id, &body).await?;
            let made = if scope == AllowScope::Once {
                Vec::new()
            } else {
                rules_made(ctx, &r).await
            };
            ctx.out(&r, |r| {
                say!("allowed {} ({}) {}", r.tool_name, r.id, scope.as_str());
                print_made(&made);
            })
        }
        PermissionCmd::Deny {
            id,
            reason,
            rule,
            patterns,
        } => {
            if !rule && !patterns.is_empty() {
                return Err(usage(
                    "--pattern makes a rule: add --rule (or drop --pattern to deny once)",
                ));
            }
            let body = DenyPermission {
                reason,
                rule,
                patterns,
            };
            let r = ctx.client.deny_permission_with(&id, &body).await?;
            let made = if rule {
                rules_made(ctx, &r).await
            } else {
                Vec::new()
            };
            ctx.out(&r, |r| {
                say!("denied {} ({})", r.tool_name, r.id);
                print_made(&made);
            })
        }
    }
}

/// The rules a decision made (their note names the request), oldest first. Empty when the
/// rules cannot be read (the decision itself stands).
async fn rules_made(ctx: &Ctx, r: &PermissionRequest) -> Vec<PermissionRule> {
    let note = orchestratia_proto::policy::decision_note(r.id);
    let Ok(rules) = ctx.client.rules(false).await else {
        return Vec::new();
    };
    rules
        .into_iter()
        .filter(|x| x.note.as_deref() == Some(note.as_str()))
        .collect()
}

/// The rules a decision made, a line each.
fn print_made(made: &[PermissionRule]) {
    for m in made {
        say!("rule {}: {}", short_id(m.id), m.describe());
    }
}

/// Permission requests as a table; a pending one shows what `allow --always` would make, a
/// decided one the rule that decided it.
fn requests_table(rs: &[PermissionRequest]) -> String {
    if rs.is_empty() {
        return "no permission requests".to_string();
    }
    let now = now_ms();
    let rows = rs
        .iter()
        .map(|r| {
            let rule = match (r.rule_id, r.waits()) {
                (Some(id), _) => short_id(id),
                (None, true) if r.suggested.is_empty() => "suggest: (none: once only)".into(),
                (None, true) => format!("suggest: {}", r.suggested.join(" ; ")),
                (None, false) => "-".into(),
            };
            vec![
                short_id(r.id),
                r.task_reference.clone().unwrap_or_else(|| "-".into()),
                r.status.to_string(),
                ago(r.created_at, now),
                r.tool_name.clone(),
                r.input_text(),
                rule,
            ]
        })
        .collect();
    table(
        &["ID", "TASK", "STATUS", "AGE", "TOOL", "INPUT", "RULE"],
        rows,
    )
}

/// `orchestratia inbox`: what waits for a human, ranked.
pub(crate) async fn inbox(ctx: &Ctx) -> anyhow::Result<()> {
    if ctx.json {
        // The API's answer as it is, fields this CLI does not know included.
        let raw: serde_json::Value = ctx.client.get("/inbox").await?;
        println!("{}", serde_json::to_string_pretty(&raw)?);
        return Ok(());
    }
    let inbox = ctx.client.inbox().await?;
    say!("{}", inbox_table(&inbox));
    Ok(())
}

/// The inbox as a table: rank, kind, task, what, blocks, why, age.
fn inbox_table(inbox: &Inbox) -> String {
    if inbox.is_empty() {
        return "nothing waits for you".to_string();
    }
    let now = now_ms();
    let rows = inbox
        .items
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (kind, task, what, id) = match &e.item {
                InboxItem::Plan(p) => (
                    "plan",
                    p.task_reference.clone(),
                    p.content.lines().next().unwrap_or_default().to_string(),
                    p.id,
                ),
                InboxItem::Permission(p) => (
                    "permission",
                    p.task_reference.clone().unwrap_or_else(|| "-".into()),
                    format!("{}: {}", p.tool_name, p.input_text()),
                    p.id,
                ),
                InboxItem::Question(q) => (
                    "question",
                    q.task_reference.clone(),
                    q.question.clone(),
                    q.id,
                ),
            };
            vec![
                (i + 1).to_string(),
                kind.to_string(),
                short_id(id),
                task,
                clip(&what, 70),
                e.blocks.to_string(),
                e.why.clone(),
                ago(e.item.created_at(), now),
            ]
        })
        .collect();
    table(
        &["#", "KIND", "ID", "TASK", "WHAT", "BLOCKS", "WHY", "AGE"],
        rows,
    )
}
