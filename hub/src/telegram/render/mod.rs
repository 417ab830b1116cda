//! What the bot says, as pure functions of the hub's data (HTML for Telegram's `parse_mode`),
//! so every message is tested without Telegram. The texts and buttons of decisions (permission
//! requests, rule proposals, the inbox and its reminders) are in `decisions`.

mod decisions;

pub use decisions::*;

use orchestratia_proto::usage::Usage;
use orchestratia_proto::workspace::Workspace;
use orchestratia_proto::{
    Event, Intervention, PermissionRequest, Plan, Session, SessionStatus, Task, TaskStatus,
};
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, User};
use uuid::Uuid;

use super::decisions::Callback;

/// Telegram refuses texts over 4,096 characters.
pub const MESSAGE_LIMIT: usize = 4096;

/// Escapes text for Telegram's HTML parse mode, with control characters, bidirectional
/// overrides and zero-width characters shown escaped (`\x1b`, `\u{202e}`): what a worker
/// wrote cannot disguise what the admin approves.
pub fn esc(s: &str) -> String {
    orchestratia_proto::text::multi_line(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cuts a text to `max` characters, marking the cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub const HELP: &str = "Orchestratia bot. Commands:\n\
/sessions — active sessions\n\
/focus NAME|N — follow one session's screen live (one message, edited in place)\n\
/unfocus — stop following\n\
/tasks — tasks by status\n\
/task T7 — one task with its last events\n\
/inbox — what waits for a human\n\
/help — this list\n\
Permission requests and plans come with buttons (\"Allow always…\" proposes a rule you can \
edit before saving it); answer a question by replying to it.";

/// The one answer to a chat the bot does not obey.
pub const REFUSAL: &str = "Sorry, this bot answers only the admins of its Orchestratia hub.";

/// A message that is neither a command nor a reply to a question.
pub const NOT_A_COMMAND: &str =
    "Commands start with /. /help lists them; answer a question by replying to it.";

/// `/task` without a task.
pub const WHICH_TASK: &str = "Which task? /task T7";

/// `/focus` without a session.
pub const WHICH_SESSION: &str = "Which session? /focus orc-abc123 or /focus 1 (see /sessions)";

/// `/unfocus` when no session is followed.
pub const NOT_FOLLOWING: &str = "Not following any session.";

/// The toast when a button comes after its decision was made.
pub const ALREADY_DECIDED: &str = "already decided";

/// A command the bot does not know.
pub fn unknown_command(command: &str) -> String {
    format!("Unknown command {}. /help lists them.", esc(command))
}

/// What the hub refused, escaped.
pub fn error(e: &dyn std::fmt::Display) -> String {
    esc(&e.to_string())
}

/// `/focus` found no such session.
pub fn no_active_session(arg: &str) -> String {
    format!("No active session {} (see /sessions).", esc(arg))
}

/// `/focus` follows a session (`place`: its task's repository, else its server).
pub fn focused(name: &str, place: &str) -> String {
    format!(
        "Focused on {} ({}). Its screen follows in one message, edited in place; /unfocus stops.",
        esc(name),
        esc(place)
    )
}

/// `/unfocus` stopped following a session.
pub fn stopped_following(name: &str) -> String {
    format!("Stopped following {}.", esc(name))
}

/// How a Telegram user is named in decisions: @username, else the first name.
pub fn who(u: Option<&User>) -> String {
    match u {
        Some(User {
            username: Some(n), ..
        }) => format!("@{n}"),
        Some(u) => u.first_name.clone(),
        None => "someone".into(),
    }
}

/// A reply answered a question.
pub fn answer_sent(task_reference: &str, who: &str) -> String {
    esc(&format!("Answer sent to {task_reference} ({who})."))
}

/// A reply could not answer its question.
pub fn not_sent(e: &dyn std::fmt::Display) -> String {
    esc(&format!("Not sent: {e}"))
}

/// How a permission request ended.
pub fn permission_verdict(allowed: bool) -> &'static str {
    if allowed { "✅ allowed" } else { "⛔ denied" }
}

/// How a plan ended.
pub fn plan_verdict(approved: bool) -> &'static str {
    if approved {
        "✅ approved"
    } else {
        "⛔ rejected"
    }
}

/// The footer of a decided message: `✅ allowed by @ada`.
pub fn decided_by(verdict: &str, who: &str) -> String {
    format!("{verdict} by {who}")
}

/// The footer when a button lost the race (the decision was made elsewhere).
pub fn already_decided(e: &dyn std::fmt::Display) -> String {
    format!("already decided: {e}")
}

/// The reason the agent reads when a tool call is denied with a button.
pub fn denied_from_telegram(who: &str) -> String {
    format!("denied from Telegram by {who}")
}

/// The feedback the agent reads when a plan is rejected with a button.
pub fn rejected_from_telegram(who: &str) -> String {
    format!("rejected from Telegram by {who}")
}

/// The footer of an answered question.
pub fn answered(actor: &str, answer: &str) -> String {
    format!("answered by {actor}: {}", clip(answer, 500))
}

/// A decided message: its text, then how it ended in bold; the buttons go.
pub fn closed(text: &str, footer: &str) -> String {
    format!("{text}\n\n<b>{}</b>", esc(footer))
}

/// The buttons under a submitted plan.
pub fn plan_buttons(task: Uuid) -> InlineKeyboardMarkup {
    let button = |label: &str, approve| {
        InlineKeyboardButton::callback(label, Callback::Plan { task, approve }.encode())
    };
    InlineKeyboardMarkup::new(vec![vec![button("Approve", true), button("Reject", false)]])
}

/// `T7 Title`, escaped.
pub fn headline(t: &Task) -> String {
    esc(&format!("{} {}", t.reference, t.title))
}

/// A task failed (`head` is escaped already).
pub fn failed(head: &str, reason: &str) -> String {
    format!("❌ <b>{head}</b> failed: {}", esc(&clip(reason, 1000)))
}

/// The hub assigned a task by itself (`head` is escaped already).
pub fn auto_assigned(head: &str, server: &str) -> String {
    format!("➡️ <b>{head}</b> auto-assigned to {}", esc(server))
}

/// Every task of a project is done.
pub fn pipeline_finished(project: &str, tasks: usize) -> String {
    format!(
        "🏁 <b>Pipeline finished</b>: {} — all {tasks} tasks done.",
        esc(project)
    )
}

/// Sessions that have not ended, in the order `/focus N` counts them.
pub fn active_sessions(sessions: &[Session]) -> Vec<&Session> {
    let mut s: Vec<&Session> = sessions
        .iter()
        .filter(|s| s.status != SessionStatus::Ended)
        .collect();
    s.sort_by_key(|s| s.started_at);
    s
}

/// `/sessions`.
pub fn sessions(sessions: &[Session], tasks: &[Task]) -> String {
    let active = active_sessions(sessions);
    if active.is_empty() {
        return "No active sessions.".into();
    }
    let mut out = String::from("Active sessions:\n");
    for (i, s) in active.iter().enumerate() {
        let task = s.task_id.and_then(|t| tasks.iter().find(|x| x.id == t));
        let repo = task
            .and_then(|t| t.repo.clone())
            .unwrap_or_else(|| "-".into());
        let what = task
            .map(|t| format!(" — {} {}", t.reference, t.title))
            .unwrap_or_default();
        let waits = if s.waiting { " ⚑" } else { "" };
        out.push_str(&format!(
            "{}. {} ({}) on {}{} · agent {}{}\n",
            i + 1,
            esc(&s.name),
            esc(&repo),
            esc(&s.server),
            esc(&what),
            s.state,
            waits
        ));
    }
    out
}

/// `/tasks`: grouped by status, in lifecycle order.
pub fn tasks(tasks: &[Task]) -> String {
    if tasks.is_empty() {
        return "No tasks.".into();
    }
    let order = [
        TaskStatus::NeedsHuman,
        TaskStatus::Running,
        TaskStatus::Planning,
        TaskStatus::Assigned,
        TaskStatus::Pending,
        TaskStatus::Failed,
        TaskStatus::Done,
        TaskStatus::Cancelled,
    ];
    let mut out = String::new();
    for st in order {
        let group: Vec<&Task> = tasks.iter().filter(|t| t.status == st).collect();
        if group.is_empty() {
            continue;
        }
        out.push_str(&format!("<b>{}</b> ({})\n", st, group.len()));
        for t in group {
            let extra = match (&t.blocked_reason, &t.server) {
                (Some(r), _) if t.blocked => format!(" — blocked: {r}"),
                (_, Some(s)) => format!(" — {s}"),
                _ => String::new(),
            };
            let cost = t
                .usage
                .as_ref()
                .filter(|u| !u.is_empty())
                .map(|u| format!(" · {}", u.cost_text()))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {} {}{}{}\n",
                t.reference,
                esc(&t.title),
                esc(&extra),
                esc(&cost)
            ));
        }
    }
    clip(&out, MESSAGE_LIMIT)
}

/// `/task T7`: its status, agent, workspace (branch, stat, review) and last events.
pub fn task(
    t: &Task,
    sessions: &[Session],
    events: &[Event],
    workspace: Option<&Workspace>,
) -> String {
    let mut out = format!(
        "<b>{} {}</b>\nstatus: {}{}\npriority: {}\nserver: {}\n",
        t.reference,
        esc(&t.title),
        t.status,
        t.blocked_reason
            .as_deref()
            .map(|r| format!(" ({})", esc(r)))
            .unwrap_or_default(),
        t.priority,
        esc(t.server.as_deref().unwrap_or("-"))
    );
    if let Some(s) = sessions.iter().max_by_key(|s| s.started_at) {
        out.push_str(&format!("agent: {} ({})\n", s.state, esc(&s.name)));
    }
    if let Some(u) = t.usage.as_ref().filter(|u| !u.is_empty()) {
        out.push_str(&format!("cost: {}\n", cost_line(u)));
    }
    if let Some(w) = workspace {
        out.push_str(&format!("workspace: {}\n", workspace_line(w)));
    }
    let last: Vec<&Event> = events.iter().rev().take(8).collect();
    if !last.is_empty() {
        out.push_str("\nLast events:\n");
        for e in last.iter().rev() {
            let time = orchestratia_proto::time::format_ms(e.at);
            out.push_str(&format!(
                "{} {} ({})\n",
                time.get(11..19).unwrap_or(&time),
                e.event,
                esc(&e.actor)
            ));
        }
    }
    clip(&out, MESSAGE_LIMIT)
}

/// `$0.42 · 12.3k in · 4.1k out · … · 7 calls`, escaped.
pub fn cost_line(u: &Usage) -> String {
    esc(&format!(
        "{} · {} · {} calls",
        u.cost_text(),
        u.tokens_text(),
        u.calls
    ))
}

/// A project's spending passed the warning share of its budget.
pub fn budget_warning(project: &str, cost_usd: f64, budget_usd: f64) -> String {
    let share = if budget_usd > 0.0 {
        cost_usd / budget_usd * 100.0
    } else {
        0.0
    };
    format!(
        "💰 Project <b>{}</b> has spent ${cost_usd:.2} of its ${budget_usd:.2} budget ({share:.0}%).",
        esc(project)
    )
}

/// A project's spending reached its budget; with `enforce`, its new tasks wait.
pub fn budget_reached(project: &str, cost_usd: f64, budget_usd: f64, enforce: bool) -> String {
    let then = if enforce {
        "New tasks of it wait until the budget is raised or cleared."
    } else {
        "The budget is not enforced: tasks still start."
    };
    format!(
        "🛑 Project <b>{}</b> reached its budget: ${cost_usd:.2} of ${budget_usd:.2}. {then}",
        esc(project)
    )
}

/// `orc/T7-x · 3 files +12 -4 · review: unreviewed` (`merged into main` once merged), escaped.
pub fn workspace_line(w: &Workspace) -> String {
    esc(&format!(
        "{} · {} · review: {}",
        w.report.branch,
        w.report.stat_line(),
        w.review_words()
    ))
}

/// An agent that gave no sign of life: what the hub suspects, and the screen's last lines.
pub fn stalled(head: &str, reason: &str, screen: &str) -> String {
    let mut out = format!("⚠️ <b>{}</b>: {}", esc(head), esc(&clip(reason, 600)));
    if !screen.trim().is_empty() {
        out.push_str(&format!("\n<pre>{}</pre>", esc(&clip(screen, 1500))));
    }
    clip(&out, MESSAGE_LIMIT)
}

/// A permission request, with the tool's input shown whole (up to Telegram's limit).
pub fn permission(p: &PermissionRequest, task_title: Option<&str>) -> String {
    let head = format!(
        "🔐 <b>{} {}</b> wants to run <b>{}</b>:\n",
        esc(p.task_reference.as_deref().unwrap_or("-")),
        esc(task_title.unwrap_or("")),
        esc(&p.tool_name)
    );
    let room = MESSAGE_LIMIT.saturating_sub(head.chars().count() + 20);
    format!("{head}<pre>{}</pre>", esc(&clip(&p.input_text(), room / 2)))
}

/// A submitted plan.
pub fn plan(p: &Plan) -> String {
    let head = format!(
        "📝 <b>{} {}</b> submitted a plan:\n",
        esc(&p.task_reference),
        esc(&p.task_title)
    );
    let room = MESSAGE_LIMIT.saturating_sub(head.chars().count() + 20);
    format!("{head}<pre>{}</pre>", esc(&clip(&p.content, room / 2)))
}

/// A question; the answer is a reply to this message.
pub fn question(q: &Intervention) -> String {
    format!(
        "❓ <b>{} {}</b> asks:\n{}\n\n<i>Reply to this message to answer.</i>",
        esc(&q.task_reference),
        esc(&q.task_title),
        esc(&clip(&q.question, 3000))
    )
}

/// The focused session's screen: its last lines that fit, monospace.
pub fn screen(name: &str, lines: &[String]) -> String {
    let mut lines: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let head = format!("🖥 {}\n", esc(name));
    let budget = MESSAGE_LIMIT - head.len() - 20;
    let mut kept: Vec<String> = Vec::new();
    let mut used = 0;
    for l in lines.iter().rev() {
        let e = esc(l);
        if used + e.chars().count() + 1 > budget {
            break;
        }
        used += e.chars().count() + 1;
        kept.push(e);
    }
    kept.reverse();
    let body = if kept.is_empty() {
        "(blank screen)".to_string()
    } else {
        kept.join("\n")
    };
    format!("{head}<pre>{body}</pre>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_escaped_and_clipped() {
        assert_eq!(esc("a<b>&c"), "a&lt;b&gt;&amp;c");
        assert_eq!(
            esc("curl x | sh\rls -la \u{202e}\x1b[8m"),
            "curl x | sh\\rls -la \\u{202e}\\x1b[8m"
        );
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }

    #[test]
    fn a_screen_keeps_its_last_lines_within_the_limit() {
        let lines: Vec<String> = (0..2000).map(|i| format!("line {i} <x>")).collect();
        let s = screen("orc-abc", &lines);
        assert!(s.chars().count() <= MESSAGE_LIMIT, "{}", s.len());
        assert!(s.contains("line 1999 &lt;x&gt;"));
        assert!(!s.contains("line 0 "));
        assert_eq!(
            screen("orc-abc", &["".into()]),
            "🖥 orc-abc\n<pre>(blank screen)</pre>"
        );
    }

    #[test]
    fn sessions_show_the_agent_state_and_a_stall_says_why() {
        let s = Session {
            id: uuid::Uuid::nil(),
            name: "orc-abc123".into(),
            server_id: uuid::Uuid::nil(),
            server: "dev-01".into(),
            task_id: None,
            task: None,
            status: SessionStatus::Active,
            pid: None,
            tmux: None,
            working_dir: None,
            exit_code: None,
            state: orchestratia_proto::SessionState::WaitingPermission,
            state_since: 0,
            waiting: true,
            conversation_id: None,
            started_at: 0,
            ended_at: None,
        };
        let text = sessions(&[s], &[]);
        assert!(text.contains("agent waiting_permission ⚑"), "{text}");
        let stall = stalled(
            "T1 <x>",
            "no sign of life: a dialog?",
            "Accessing workspace <dir>",
        );
        assert!(
            stall.contains("T1 &lt;x&gt;")
                && stall.contains("<pre>Accessing workspace &lt;dir&gt;</pre>"),
            "{stall}"
        );
    }
    #[test]
    fn a_task_card_shows_its_workspace_escaped() {
        let t: Task = serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::nil(), "ref": "T7", "number": 7, "project_id": uuid::Uuid::nil(),
            "title": "Gateway <tests>", "spec": "", "structured_spec": null,
            "priority": "medium", "repo": "api", "languages": [], "agent": null, "os": null,
            "require_plan_approval": false, "orchestrator": false, "keep_session": false,
            "status": "done", "blocked": false, "blocked_reason": null, "server": "dev-01",
            "server_id": null, "phase": null, "result": null, "pipeline_key": null,
            "created_at": "2026-11-25T10:00:00Z", "updated_at": "2026-11-25T10:00:00Z",
        }))
        .expect("task");
        let mut w: Workspace = serde_json::from_value(serde_json::json!({
            "task_id": uuid::Uuid::nil(), "repo": "api", "path": "/w/api/T7",
            "branch": "orc/T7-<x>", "base": "main", "base_commit": "a", "head": "b",
            "ahead": 2, "behind": 0, "uncommitted": [],
            "files": [
                {"path": "a.rs", "insertions": 10, "deletions": 4},
                {"path": "b.rs", "insertions": 2, "deletions": 0},
                {"path": "logo.png", "insertions": null, "deletions": null},
            ],
            "ref": "T7", "server_id": uuid::Uuid::nil(), "server": "dev-01",
            "review": "unreviewed", "merged_into": null, "merge_commit": null,
            "reported_at": "2026-11-25T10:00:00Z",
        }))
        .expect("workspace");
        let card = task(&t, &[], &[], Some(&w));
        assert!(
            card.contains("workspace: orc/T7-&lt;x&gt; · 3 files +12 -4 · review: unreviewed\n"),
            "{card}"
        );
        assert!(card.contains("<b>T7 Gateway &lt;tests&gt;</b>"), "{card}");
        w.review = orchestratia_proto::ReviewState::Merged;
        w.merged_into = Some("main".into());
        assert!(workspace_line(&w).ends_with("review: merged into main"));
        assert!(!task(&t, &[], &[], None).contains("workspace:"));
        assert!(
            !task(&t, &[], &[], None).contains("cost:"),
            "no usage, no cost"
        );
    }

    #[test]
    fn a_task_card_shows_its_cost_and_budgets_are_told() {
        let mut t: Task = serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::nil(), "ref": "T7", "number": 7, "project_id": uuid::Uuid::nil(),
            "title": "Gateway", "spec": "", "structured_spec": null,
            "priority": "medium", "repo": "api", "languages": [], "agent": null, "os": null,
            "require_plan_approval": false, "orchestrator": false, "keep_session": false,
            "status": "running", "blocked": false, "blocked_reason": null, "server": "dev-01",
            "server_id": null, "phase": null, "result": null, "pipeline_key": null,
            "created_at": "2026-11-25T10:00:00Z", "updated_at": "2026-11-25T10:00:00Z",
        }))
        .expect("task");
        t.usage = Some(Usage {
            model: Some("claude-sonnet-4-5".into()),
            input_tokens: 12_300,
            output_tokens: 4_100,
            cache_read_tokens: 80_000,
            cache_write_tokens: 0,
            cost_usd: 0.42,
            calls: 7,
            unpriced_calls: 0,
        });
        let card = task(&t, &[], &[], None);
        assert!(
            card.contains(
                "cost: $0.42 · 12.3k in · 4.1k out · 80.0k cache read · 0 cache write · 7 calls\n"
            ),
            "{card}"
        );
        assert!(tasks(&[t]).contains("T7 Gateway — dev-01 · $0.42"));
        assert_eq!(
            budget_warning("demo <x>", 8.1, 10.0),
            "💰 Project <b>demo &lt;x&gt;</b> has spent $8.10 of its $10.00 budget (81%)."
        );
        assert!(budget_reached("demo", 10.2, 10.0, true).contains("New tasks of it wait"));
        assert!(budget_reached("demo", 10.2, 10.0, false).contains("not enforced"));
    }
}
