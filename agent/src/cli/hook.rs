//! `orchestratia hook claude-code`: Claude Code runs this on its hook events (settings written
//! by the daemon). A permission prompt (`PermissionRequest`, or `PreToolUse` where a policy
//! mediates every tool call) becomes a permission request on the hub; the hook waits for the
//! admin's decision and answers in Claude Code's format. With `--report-only` (the daemon
//! installs it for `SessionStart`, `UserPromptSubmit`, `PreToolUse`, `PostToolUse`,
//! `Notification` and `Stop`) it only tells the hub what the agent does, which the session's
//! state follows from, and never decides anything.
//!
//! It never fails open by accident: Claude Code lets a tool run when a hook exits with an error,
//! so every failure on a permission event is answered as a deny with the reason, exit 0.

use std::io::Read;
use std::time::Duration;

use orchestratia_proto::api::{AgentEvent, RequestPermission};
use orchestratia_proto::client::HubClient;
use orchestratia_proto::{HookEvent, PermissionRequest, PermissionStatus};
use serde_json::{Value, json};

/// The largest hook event read from stdin.
const MAX_INPUT: u64 = 4 * 1024 * 1024;
/// How long the hub may stay unreachable while a decision is awaited.
const UNREACHABLE_FOR: Duration = Duration::from_secs(120);

/// The answer for a permission event: `allow` or `deny` with a reason.
pub fn answer(event: &str, allow: bool, reason: &str) -> Value {
    match event {
        "PreToolUse" => json!({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": if allow { "allow" } else { "deny" },
            "permissionDecisionReason": reason,
        }}),
        _ => {
            let decision = if allow {
                json!({"behavior": "allow"})
            } else {
                json!({"behavior": "deny", "message": reason})
            };
            json!({"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}})
        }
    }
}

/// Longest agent text passed on (a notification, the last message of a turn), in characters.
const MAX_SAID: usize = 2_000;
/// Longest prompt passed on (to confirm a message sent to the agent), in characters.
const MAX_PROMPT: usize = 100_000;

/// Runs the hook; returns what to print on stdout (nothing for events that need no answer).
/// `report_only`: tell the hub what happened, decide nothing.
pub async fn claude_code(client: &HubClient, input: &str, report_only: bool) -> Option<Value> {
    let event: Value = match serde_json::from_str(input) {
        Ok(v) => v,
        Err(_) if report_only => return None,
        Err(e) => {
            // Without knowing the event, deny in the PermissionRequest shape (the default hook).
            return Some(answer(
                "PermissionRequest",
                false,
                &format!("orchestratia: unreadable hook input: {e}"),
            ));
        }
    };
    let name = event
        .get("hook_event_name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match name {
        "PermissionRequest" | "PreToolUse" if !report_only => {
            let task = std::env::var("ORCHESTRATIA_TASK_ID")
                .ok()
                .filter(|t| !t.is_empty());
            let (allow, reason) = decide(client, &event, task).await;
            Some(answer(name, allow, &reason))
        }
        _ => {
            if report_only || matches!(name, "Notification" | "Stop") {
                report(client, name, &event).await;
            }
            None
        }
    }
}

/// Tells the hub what the agent's hook saw (its session's state follows from it). Failures
/// are printed on stderr and never hold the agent up.
async fn report(client: &HubClient, name: &str, event: &Value) {
    let Some(kind) = HookEvent::from_claude(name) else {
        return;
    };
    let Some(session) = std::env::var("ORCHESTRATIA_SESSION")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        return;
    };
    let text = |key: &str, max: usize| {
        event
            .get(key)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(max).collect::<String>())
    };
    let body = AgentEvent {
        event: kind,
        notification_type: text("notification_type", 100),
        source: text("source", 100),
        tool_name: text("tool_name", 200),
        message: text("message", MAX_SAID).or_else(|| text("last_assistant_message", MAX_SAID)),
        conversation_id: text("session_id", 200),
        prompt: text("prompt", MAX_PROMPT),
        transcript_path: text("transcript_path", 4096),
    };
    if let Err(e) = client.agent_event(&session, &body).await {
        eprintln!("orchestratia: could not report the agent's state: {e}");
    }
}

/// Files the request and waits for the decision; any failure is a deny with its reason.
async fn decide(client: &HubClient, event: &Value, task: Option<String>) -> (bool, String) {
    let tool_name = event
        .get("tool_name")
        .and_then(Value::as_str)
        .unwrap_or("unknown tool")
        .to_string();
    let tool_input = event.get("tool_input").cloned().unwrap_or(Value::Null);
    let req = RequestPermission {
        task,
        tool_name,
        tool_input,
    };
    let filed = match client.request_permission(&req).await {
        Ok(r) => r,
        Err(e) => {
            return (
                false,
                format!("denied: the Orchestratia hub could not be asked ({e})"),
            );
        }
    };
    // A rule on the hub may have decided it already: then nobody is asked.
    if let Some(answer) = decided(&filed) {
        return answer;
    }
    let mut unreachable_since: Option<tokio::time::Instant> = None;
    loop {
        match client
            .permission(filed.id, Some(Duration::from_secs(25)))
            .await
        {
            Ok(r) => {
                unreachable_since = None;
                match decided(&r) {
                    Some(answer) => return answer,
                    None => continue,
                }
            }
            Err(e) if e.is_retryable() => {
                let since = *unreachable_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() > UNREACHABLE_FOR {
                    return (
                        false,
                        format!("denied: the Orchestratia hub stopped answering ({e})"),
                    );
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return (false, format!("denied: {e}")),
        }
    }
}

/// The answer for a decided request (`None` while it is pending).
fn decided(r: &PermissionRequest) -> Option<(bool, String)> {
    Some(match r.status {
        PermissionStatus::Pending => return None,
        PermissionStatus::Allowed if r.rule_id.is_some() => (
            true,
            format!(
                "allowed by a rule in Orchestratia: {}",
                r.reason.as_deref().unwrap_or("a permission rule")
            ),
        ),
        PermissionStatus::Allowed => {
            let who = r.decided_by.as_deref().unwrap_or("an admin");
            (true, format!("allowed by {who} in Orchestratia"))
        }
        PermissionStatus::Denied => {
            let why = r.reason.as_deref().unwrap_or("no reason given");
            (false, format!("denied in Orchestratia: {why}"))
        }
        PermissionStatus::Cancelled => {
            let why = r.reason.as_deref().unwrap_or("cancelled");
            (
                false,
                format!("the permission request was cancelled: {why}"),
            )
        }
    })
}

/// Reads the event from stdin (bounded).
pub fn read_stdin() -> String {
    let mut s = String::new();
    let _ = std::io::stdin().take(MAX_INPUT).read_to_string(&mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_in_claude_codes_format() {
        let a = answer("PermissionRequest", true, "ok");
        assert_eq!(a["hookSpecificOutput"]["decision"]["behavior"], "allow");
        let d = answer("PermissionRequest", false, "no");
        assert_eq!(
            d["hookSpecificOutput"]["decision"],
            json!({"behavior": "deny", "message": "no"})
        );
        let p = answer("PreToolUse", false, "no");
        assert_eq!(p["hookSpecificOutput"]["permissionDecision"], "deny");
        assert_eq!(p["hookSpecificOutput"]["permissionDecisionReason"], "no");
        assert_eq!(p["hookSpecificOutput"]["hookEventName"], "PreToolUse");
    }
}
