//! The commands an agent runs inside its session: complete, fail, help, plan submit, note.
//! `help` and `plan submit` block until a human answers, riding out hub restarts.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use orchestratia_proto::api::{CompleteTask, TaskResult};
use orchestratia_proto::client::ClientError;
use orchestratia_proto::{InterventionStatus, PlanStatus};
use serde_json::Value;
use tokio::time::Instant;

use super::tasks::read_text;
use super::{Ctx, TaskCmd, TaskPlanCmd, task_id, usage};

/// Parses `KEY=@FILE` or `KEY=JSON` into a contract.
pub(crate) fn parse_contract(arg: &str) -> anyhow::Result<(String, Value)> {
    let (key, value) = arg.split_once('=').ok_or_else(|| {
        usage(format!(
            "--contract '{arg}': expected KEY=@FILE or KEY=JSON"
        ))
    })?;
    let key = key.trim();
    if key.is_empty() {
        return Err(usage(format!("--contract '{arg}': the key is empty")));
    }
    let (text, source) = match value.strip_prefix('@') {
        Some(path) => (read_text(Path::new(path))?, path.to_string()),
        None => (value.to_string(), "the value".to_string()),
    };
    let data = serde_json::from_str::<Value>(&text).map_err(|e| {
        usage(format!(
            "--contract {key}: {source} is not valid JSON ({e}); a plain string must be quoted, e.g. {key}='\"text\"'"
        ))
    })?;
    Ok((key.to_string(), data))
}

/// How long one long-poll asks the hub to wait.
const POLL: Duration = Duration::from_secs(25);

/// Calls `poll` until `done` says so, printing a line to stderr while the hub is unreachable
/// and retrying with a growing pause; gives up after `timeout`.
async fn wait_for<T, F, Fut>(
    timeout: Option<Duration>,
    what: &str,
    mut poll: F,
    done: impl Fn(&T) -> bool,
) -> anyhow::Result<T>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut pause = Duration::from_millis(500);
    let mut warned = false;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            anyhow::bail!(
                "timed out after {} waiting for {what}",
                humantime::format_duration(timeout.unwrap_or_default())
            );
        }
        match poll(left.unwrap_or(POLL).min(POLL)).await {
            Ok(v) if done(&v) => return Ok(v),
            Ok(_) => {
                pause = Duration::from_millis(500);
                warned = false;
            }
            Err(e) if e.is_retryable() => {
                if !warned {
                    eprintln!(
                        "the hub is unreachable ({}); still waiting for {what}",
                        orchestratia_proto::text::one_line(&e.to_string())
                    );
                    warned = true;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The `task` commands an agent runs inside its session.
pub(crate) async fn worker(ctx: &Ctx, cmd: TaskCmd) -> anyhow::Result<()> {
    match cmd {
        TaskCmd::Complete {
            id,
            summary,
            changes,
            tests,
            contracts,
        } => {
            let result = TaskResult {
                summary,
                changes,
                tests,
            };
            complete(ctx, id, result, &contracts).await
        }
        TaskCmd::Fail { id, reason } => {
            let id = task_id(id)?;
            let t = ctx.client.fail(&id, &reason).await?;
            ctx.out(&t, |t| say!("{} failed", t.reference))
        }
        TaskCmd::Note { id, text } => {
            let id = task_id(id)?;
            let n = ctx.client.note(&id, &text).await?;
            ctx.out(&n, |_| say!("noted"))
        }
        TaskCmd::Help {
            id,
            question,
            timeout,
        } => help(ctx, id, &question, timeout).await,
        TaskCmd::Plan(TaskPlanCmd::Submit { id, file, timeout }) => {
            submit_plan(ctx, id, &file, timeout).await
        }
        TaskCmd::Inputs { key } => inputs(key),
        other => Err(usage(format!("unexpected command {other:?}"))),
    }
}

/// `task complete`: the result, with the contracts given as `KEY=@FILE` or `KEY=JSON`.
async fn complete(
    ctx: &Ctx,
    id: Option<String>,
    result: TaskResult,
    contracts: &[String],
) -> anyhow::Result<()> {
    let id = task_id(id)?;
    let mut map = BTreeMap::new();
    for c in contracts {
        let (k, v) = parse_contract(c)?;
        if map.insert(k.clone(), v).is_some() {
            return Err(usage(format!("--contract {k} is given twice")));
        }
    }
    let body = CompleteTask {
        result,
        contracts: map,
    };
    let t = ctx.client.complete(&id, &body).await?;
    ctx.out(&t, |t| say!("{} done", t.reference))
}

/// `task help`: asks a human and waits for the answer.
async fn help(
    ctx: &Ctx,
    id: Option<String>,
    question: &str,
    timeout: Option<Duration>,
) -> anyhow::Result<()> {
    let id = task_id(id)?;
    let i = ctx.client.ask_help(&id, question).await?;
    eprintln!("asked ({}); waiting for a human's answer…", i.id);
    let answered = wait_for(
        timeout,
        "an answer",
        |w| ctx.client.intervention(i.id, Some(w)),
        |i| i.status != InterventionStatus::Pending,
    )
    .await?;
    if answered.status == InterventionStatus::Cancelled {
        anyhow::bail!("the question was cancelled (the task closed)");
    }
    ctx.out(&answered, |a| {
        say!("{}", a.response.as_deref().unwrap_or_default())
    })
}

/// `task plan submit`: submits the plan and waits for the decision.
async fn submit_plan(
    ctx: &Ctx,
    id: Option<String>,
    file: &Path,
    timeout: Option<Duration>,
) -> anyhow::Result<()> {
    let id = task_id(id)?;
    let content = read_text(file)?;
    let p = ctx.client.submit_plan(&id, &content).await?;
    eprintln!("plan submitted ({}); waiting for approval…", p.id);
    let decided = wait_for(
        timeout,
        "a decision on the plan",
        |w| ctx.client.plan(p.id, Some(w)),
        |p| p.status != PlanStatus::Submitted,
    )
    .await?;
    ctx.out(&decided, |d| match d.status {
        PlanStatus::Approved => say!("approved"),
        PlanStatus::Rejected => {
            say!("rejected: {}", d.feedback.as_deref().unwrap_or_default())
        }
        other => say!("{other}"),
    })
}

/// `task inputs`: what the session's task received, from its task file (no hub needed).
fn inputs(key: Option<String>) -> anyhow::Result<()> {
    let path = std::env::var("ORCHESTRATIA_TASK_FILE")
        .map_err(|_| usage("no task file: run inside a session (ORCHESTRATIA_TASK_FILE)"))?;
    let text =
        std::fs::read_to_string(&path).map_err(|e| usage(format!("cannot read {path}: {e}")))?;
    let task: Value = serde_json::from_str(&text).map_err(|e| usage(format!("{path}: {e}")))?;
    let inputs = task.get("resolved_inputs").cloned().unwrap_or(Value::Null);
    let out = match key {
        Some(k) => inputs.get(&k).cloned().ok_or_else(|| {
            usage(format!(
                "no input '{k}' (this task received: {})",
                keys_of(&inputs)
            ))
        })?,
        None => inputs,
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn keys_of(v: &Value) -> String {
    let keys: Vec<&str> = v
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    if keys.is_empty() {
        "none".into()
    } else {
        keys.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contracts_parse() {
        let (k, v) = parse_contract(r#"api_schema={"endpoints":[]}"#).unwrap();
        assert_eq!(k, "api_schema");
        assert_eq!(v["endpoints"], serde_json::json!([]));
        assert!(parse_contract("noequals").is_err());
        assert!(parse_contract("k=not json").is_err());
        assert!(parse_contract("=1").is_err());
        assert_eq!(
            parse_contract("k=\"text\"").unwrap().1,
            Value::String("text".into())
        );
    }
}
