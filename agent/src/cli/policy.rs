//! `orchestratia policy …`: the permission rules that allow or deny agents' tool calls without
//! a human: list them, add one, remove one, and test which rule would decide a call.

use orchestratia_proto::api::{NewRule, PolicyTest};
use orchestratia_proto::model::short_id;
use orchestratia_proto::policy::{PermissionRule, RuleEffect, RuleScope, Verdict, check_rule};
use orchestratia_proto::time::{format_ms, now_ms, parse_rfc3339};
use serde_json::{Value, json};
use uuid::Uuid;

use super::policy_args::{AddRuleArgs, PolicyCmd, TestArgs};
use super::print::table;
use super::{Ctx, usage};

/// `orchestratia policy …`.
pub(crate) async fn policy(ctx: &Ctx, cmd: PolicyCmd) -> anyhow::Result<()> {
    match cmd {
        PolicyCmd::List { all } => {
            let rules = ctx.client.rules(all).await?;
            ctx.out(&rules, |rs| say!("{}", rules_table(rs)))
        }
        PolicyCmd::Add(a) => add(ctx, a).await,
        PolicyCmd::Remove { id } => {
            let r = ctx.client.remove_rule(&id).await?;
            ctx.out(&r, |r| {
                say!("removed rule {}: {}", short_id(r.id), r.describe())
            })
        }
        PolicyCmd::Test(a) => test(ctx, a).await,
    }
}

/// Rules as a table: id, effect, tool, pattern, scope, who made it, expiry.
pub(crate) fn rules_table(rs: &[PermissionRule]) -> String {
    if rs.is_empty() {
        return "no rules".to_string();
    }
    let now = now_ms();
    let rows = rs
        .iter()
        .map(|r| {
            vec![
                short_id(r.id),
                r.effect.to_string(),
                r.tool.clone(),
                r.pattern.clone(),
                r.place(),
                r.created_by.clone(),
                match r.expires_at {
                    None => "-".to_string(),
                    Some(e) if e <= now => format!("expired {}", format_ms(e)),
                    Some(e) => format_ms(e),
                },
            ]
        })
        .collect();
    table(
        &["ID", "EFFECT", "TOOL", "PATTERN", "SCOPE", "BY", "EXPIRES"],
        rows,
    )
}

/// An expiry as the user wrote it (a duration from now, or an RFC 3339 time) in epoch
/// milliseconds; one in the past is refused.
pub(crate) fn parse_expiry(text: &str, now: i64) -> Result<i64, String> {
    let at = match humantime::parse_duration(text.trim()) {
        Ok(d) => now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        Err(_) => parse_rfc3339(text.trim()).ok_or_else(|| {
            format!(
                "invalid expiry '{}': expected a duration (30m, 2h, 7d) or an RFC 3339 time",
                orchestratia_proto::text::one_line(text)
            )
        })?,
    };
    if at <= now {
        return Err(format!(
            "the expiry {} is not in the future",
            orchestratia_proto::text::one_line(text)
        ));
    }
    Ok(at)
}

/// A session named by its id or its name (`orc-…`), as an id.
async fn session_id(ctx: &Ctx, key: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = key.parse::<Uuid>() {
        return Ok(id);
    }
    ctx.client
        .sessions()
        .await?
        .into_iter()
        .find(|s| s.name == key)
        .map(|s| s.id)
        .ok_or_else(|| {
            usage(format!(
                "no session '{key}' (see: orchestratia session list)"
            ))
        })
}

/// The session (`--session`, as an id) and the task (`--task`, as the hub's key) a rule or
/// a test names, each when given.
async fn session_and_task(
    ctx: &Ctx,
    session: &Option<String>,
    task: &Option<String>,
    project: Option<&str>,
) -> anyhow::Result<(Option<Uuid>, Option<String>)> {
    let session = match session {
        Some(s) => Some(session_id(ctx, s).await?),
        None => None,
    };
    let task = match task {
        Some(t) => Some(super::tasks::task_key(ctx, t, project).await?),
        None => None,
    };
    Ok((session, task))
}

/// `policy add`: checks the rule here first (the hub checks it again), then adds it.
async fn add(ctx: &Ctx, a: AddRuleArgs) -> anyhow::Result<()> {
    check_rule(&a.tool, &a.pattern, a.force).map_err(usage)?;
    let expires_at = a
        .expires
        .as_deref()
        .map(|e| parse_expiry(e, now_ms()))
        .transpose()
        .map_err(usage)?;
    let (session, task) = session_and_task(ctx, &a.session, &a.task, a.project.as_deref()).await?;
    let scope = if a.global {
        Some(RuleScope::Global)
    } else if task.is_some() {
        Some(RuleScope::Task)
    } else if session.is_some() {
        Some(RuleScope::Session)
    } else {
        None
    };
    let body = NewRule {
        scope,
        project: a.project.clone(),
        task,
        session,
        tool: a.tool.clone(),
        pattern: a.pattern.clone(),
        effect: if a.deny {
            RuleEffect::Deny
        } else {
            RuleEffect::Allow
        },
        expires_at,
        note: a.note.clone(),
        force: a.force,
    };
    let r = ctx.client.add_rule(&body).await?;
    ctx.out(&r, |r| {
        say!("added rule {}: {}", short_id(r.id), r.describe())
    })
}

/// A tool call's input as the user typed it for `tool`: Bash a command, file tools a path,
/// WebFetch a URL, WebSearch a query, anything else JSON.
pub(crate) fn tool_input(tool: &str, input: &str) -> Result<Value, String> {
    Ok(match tool {
        "Bash" => json!({ "command": input }),
        "Edit" | "MultiEdit" | "Write" | "Read" => json!({ "file_path": input }),
        "NotebookEdit" => json!({ "notebook_path": input }),
        "WebFetch" => json!({ "url": input }),
        "WebSearch" => json!({ "query": input }),
        _ => serde_json::from_str(input).map_err(|e| {
            format!("the input of a {tool} call is its JSON (e.g. '{{\"path\": \"x\"}}'): {e}")
        })?,
    })
}

/// `policy test`: which rule would decide the call, and why, per part.
async fn test(ctx: &Ctx, a: TestArgs) -> anyhow::Result<()> {
    let input = tool_input(&a.tool, &a.input).map_err(usage)?;
    let (session, task) = session_and_task(ctx, &a.session, &a.task, a.project.as_deref()).await?;
    let working_dir = match &a.dir {
        Some(d) => Some(
            std::path::absolute(d)
                .map_err(|e| usage(format!("--dir {}: {e}", d.display())))?
                .display()
                .to_string(),
        ),
        None => None,
    };
    let body = PolicyTest {
        tool: a.tool.clone(),
        input,
        project: a.project.clone(),
        task,
        session,
        working_dir,
    };
    let v = ctx.client.test_policy(&body).await?;
    ctx.out(&v, |v| say!("{}", verdict_text(v)))
}

/// A verdict for people: the decision and its reason, then a row per part.
pub(crate) fn verdict_text(v: &Verdict) -> String {
    let decision = match v.effect {
        Some(RuleEffect::Allow) => "ALLOW",
        Some(RuleEffect::Deny) => "DENY",
        None => "ASK (no rule decides: a human is asked)",
    };
    let mut out = format!("{decision}\n{}", v.reason);
    if !v.parts.is_empty() {
        let rows = v
            .parts
            .iter()
            .map(|p| {
                vec![
                    p.part.clone(),
                    p.effect
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "-".into()),
                    p.rule_id.map(short_id).unwrap_or_else(|| "-".into()),
                    p.why.clone(),
                ]
            })
            .collect();
        out.push_str("\n\n");
        out.push_str(&table(&["PART", "EFFECT", "RULE", "WHY"], rows));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_are_durations_or_times_in_the_future() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_expiry("2h", now), Ok(now + 7_200_000));
        assert_eq!(
            parse_expiry("2099-01-01T00:00:00Z", now),
            Ok(4_070_908_800_000)
        );
        let e = parse_expiry("2001-01-01T00:00:00Z", now).unwrap_err();
        assert!(e.contains("not in the future"), "{e}");
        let e = parse_expiry("soon", now).unwrap_err();
        assert!(e.contains("invalid expiry 'soon'"), "{e}");
        assert!(parse_expiry("0s", now).is_err());
    }

    #[test]
    fn inputs_follow_the_tool() {
        assert_eq!(
            tool_input("Bash", "ls -la"),
            Ok(json!({"command": "ls -la"}))
        );
        assert_eq!(
            tool_input("Edit", "src/a.rs"),
            Ok(json!({"file_path": "src/a.rs"}))
        );
        assert_eq!(
            tool_input("WebFetch", "https://x"),
            Ok(json!({"url": "https://x"}))
        );
        assert_eq!(
            tool_input("mcp__db__query", "{\"sql\": \"select 1\"}"),
            Ok(json!({"sql": "select 1"}))
        );
        let e = tool_input("mcp__db__query", "select 1").unwrap_err();
        assert!(e.contains("JSON"), "{e}");
    }
}
