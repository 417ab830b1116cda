//! The texts and buttons of decisions: a permission request's buttons, the rule an "always"
//! proposes (with its pattern prompt), how a decision ended, the ranked inbox, and the
//! reminder of what waits too long.

use orchestratia_proto::PermissionRequest;
use orchestratia_proto::api::{Inbox, InboxEntry, InboxItem};
use orchestratia_proto::policy::RuleEffect;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::{MESSAGE_LIMIT, clip, esc};
use crate::telegram::decisions::{Callback, ProposalAction};

/// The toast when "always" is tapped on a call no rule could match.
pub const CANNOT_BE_RULE: &str = "this call cannot be allowed by a rule; allow it once";

/// The toast when a proposal's button comes after the proposal is gone (saved, dropped, or
/// the hub restarted).
pub const PROPOSAL_GONE: &str = "this proposal is gone; tap the request's button again";

/// The toast when the hub refused a proposed rule (the reason follows in the chat).
pub const RULE_NOT_SAVED: &str = "rule not saved";

/// How a confirmation ends when the admin goes back: the request's own buttons still work.
pub const NOT_SAVED: &str = "not saved: the request's buttons above still work";

/// How a confirmation ends while its pattern is being edited.
pub const EDITING: &str = "editing the pattern (reply to the prompt below)";

/// How a permission request ended when allowed for its session.
pub const SESSION_VERDICT: &str = "✅ allowed for this session";

/// The buttons under a permission request: once, for the session, always (a rule proposal),
/// deny, deny always. A call no rule could match (nothing `suggested`) gets once and deny only.
pub fn permission_buttons(p: &PermissionRequest) -> InlineKeyboardMarkup {
    let id = p.id;
    let button = |label: &str, c: Callback| InlineKeyboardButton::callback(label, c.encode());
    let once = button("Allow once", Callback::Permission { id, allow: true });
    let deny = button("Deny", Callback::Permission { id, allow: false });
    if p.suggested.is_empty() {
        return InlineKeyboardMarkup::new(vec![vec![once, deny]]);
    }
    InlineKeyboardMarkup::new(vec![
        vec![once, button("Allow for session", Callback::Session { id })],
        vec![button(
            "Allow always…",
            Callback::Propose {
                id,
                effect: RuleEffect::Allow,
            },
        )],
        vec![
            deny,
            button(
                "Deny always…",
                Callback::Propose {
                    id,
                    effect: RuleEffect::Deny,
                },
            ),
        ],
    ])
}

/// The confirmation of a proposed rule: what it does, its patterns, where it applies (the
/// task's project), and the call it comes from.
pub fn proposal(
    effect: RuleEffect,
    tool: &str,
    patterns: &[String],
    project: Option<&str>,
    request: &PermissionRequest,
) -> String {
    let what = match effect {
        RuleEffect::Allow => "Allow always",
        RuleEffect::Deny => "Deny always",
    };
    let place = match project {
        Some(p) => format!("project {}", esc(p)),
        None => "the request's project".into(),
    };
    let mut out = format!("📜 <b>{what}</b>: a rule for {place}\n");
    for p in patterns {
        out.push_str(&format!(
            "{} {} <code>{}</code>\n",
            effect,
            esc(tool),
            esc(&clip(p, 500))
        ));
    }
    out.push_str(&format!(
        "From {} asking for <pre>{}</pre>\nSave it, edit the pattern, or go back.",
        esc(request.task_reference.as_deref().unwrap_or("-")),
        esc(&clip(&request.input_text(), 1000))
    ));
    clip(&out, MESSAGE_LIMIT)
}

/// The buttons under a proposed rule.
pub fn proposal_buttons(key: u64) -> InlineKeyboardMarkup {
    let button = |label: &str, action| {
        InlineKeyboardButton::callback(label, Callback::Proposal { key, action }.encode())
    };
    InlineKeyboardMarkup::new(vec![vec![
        button("Save rule", ProposalAction::Save),
        button("Edit pattern", ProposalAction::Edit),
        button("Back", ProposalAction::Back),
    ]])
}

/// The prompt whose reply replaces a proposal's patterns.
pub fn pattern_prompt(tool: &str, patterns: &[String]) -> String {
    let hint = if tool == "Bash" {
        "command words; a last * matches any further words"
    } else {
        "a glob"
    };
    format!(
        "✏️ Reply with the pattern for <b>{}</b> ({hint}), one per line. Now: <code>{}</code>",
        esc(tool),
        esc(&clip(&patterns.join(" | "), 1000))
    )
}

/// A reply that cannot be a pattern; the prompt still takes a reply.
pub fn pattern_refused(e: &str) -> String {
    format!(
        "Pattern refused: {}. Reply to the prompt again.",
        esc(&clip(e, 500))
    )
}

/// A rule the hub would not save; the proposal still stands.
pub fn rule_refused(e: &dyn std::fmt::Display) -> String {
    format!(
        "Rule not saved: {}. Edit the pattern or go back.",
        esc(&clip(&e.to_string(), 500))
    )
}

/// How a request ended when a rule was made from it: `✅ allowed always`.
pub fn always_verdict(effect: RuleEffect) -> &'static str {
    match effect {
        RuleEffect::Allow => "✅ allowed always",
        RuleEffect::Deny => "⛔ denied always",
    }
}

/// The footer of a request decided with a rule: who, and each rule made (its line).
pub fn rule_made(verdict: &str, who: &str, rules: &[String]) -> String {
    let mut out = format!("{verdict} by {who}");
    for r in rules {
        out.push_str(&format!("\nrule: {r}"));
    }
    out
}

/// The footer of a request a rule decided with no human: the hub's reason.
pub fn auto_decided(allowed: bool, reason: &str) -> String {
    format!(
        "{} — {}",
        super::permission_verdict(allowed),
        clip(reason, 500)
    )
}

/// The inbox item in a line: kind, task, what it asks.
fn inbox_what(item: &InboxItem) -> String {
    match item {
        InboxItem::Permission(p) => format!(
            "permission {}: {} <code>{}</code>",
            esc(p.task_reference.as_deref().unwrap_or("-")),
            esc(&p.tool_name),
            esc(&clip(&p.input_text(), 200))
        ),
        InboxItem::Plan(p) => format!(
            "plan {} {}",
            esc(&p.task_reference),
            esc(&clip(&p.task_title, 200))
        ),
        InboxItem::Question(q) => format!(
            "question {}: {}",
            esc(&q.task_reference),
            esc(&clip(&q.question, 200))
        ),
    }
}

/// `/inbox`: what waits for a human, what holds up the most work first, each with its rank,
/// what it blocks and why, and how long it has waited.
pub fn inbox(inbox: &Inbox, now: i64) -> String {
    if inbox.is_empty() {
        return "Nothing waits for a human.".into();
    }
    let mut out = String::from("Waiting for a human, what holds up the most work first:\n");
    for (i, InboxEntry { item, blocks, why }) in inbox.items.iter().enumerate() {
        out.push_str(&format!(
            "{}. {} — blocks {blocks}: {} · {}\n",
            i + 1,
            inbox_what(item),
            esc(why),
            orchestratia_proto::time::ago(item.created_at(), now)
        ));
    }
    clip(&out, MESSAGE_LIMIT)
}

/// A reminder: the waiting item's own message again (`original`, rendered already), with
/// how long it has waited.
pub fn reminder(original: &str, waited: &str) -> String {
    clip(
        &format!("⏰ <b>Still waiting</b> after {}:\n{original}", esc(waited)),
        MESSAGE_LIMIT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestratia_proto::PermissionStatus;
    use uuid::Uuid;

    fn request(suggested: &[&str]) -> PermissionRequest {
        PermissionRequest {
            id: Uuid::nil(),
            task_id: None,
            task_reference: Some("T3".into()),
            session_id: None,
            tool_name: "Bash".into(),
            tool_input: serde_json::json!({"command": "cargo test -p <x>"}),
            status: PermissionStatus::Pending,
            reason: None,
            decided_by: None,
            created_at: 0,
            decided_at: None,
            rule_id: None,
            suggested: suggested.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn labels(k: &InlineKeyboardMarkup) -> Vec<String> {
        k.inline_keyboard
            .iter()
            .flatten()
            .map(|b| b.text.clone())
            .collect()
    }

    #[test]
    fn a_request_no_rule_could_match_has_no_session_or_always_buttons() {
        assert_eq!(
            labels(&permission_buttons(&request(&[]))),
            ["Allow once", "Deny"]
        );
        assert_eq!(
            labels(&permission_buttons(&request(&["cargo test -p x"]))),
            [
                "Allow once",
                "Allow for session",
                "Allow always…",
                "Deny",
                "Deny always…"
            ]
        );
    }

    #[test]
    fn a_proposal_shows_its_patterns_and_scope_escaped() {
        let r = request(&["cargo test -p '<x>'"]);
        let text = proposal(
            RuleEffect::Allow,
            "Bash",
            &r.suggested,
            Some("demo <1>"),
            &r,
        );
        assert!(text.contains("a rule for project demo &lt;1&gt;"), "{text}");
        assert!(
            text.contains("allow Bash <code>cargo test -p '&lt;x&gt;'</code>"),
            "{text}"
        );
        assert!(text.contains("From T3"), "{text}");
        let footer = rule_made(
            always_verdict(RuleEffect::Deny),
            "@ada",
            &["deny Bash \"rm *\" (project demo)".into()],
        );
        assert_eq!(
            footer,
            "⛔ denied always by @ada\nrule: deny Bash \"rm *\" (project demo)"
        );
    }

    #[test]
    fn a_reminder_and_the_inbox_say_how_long_it_waited() {
        assert!(reminder("x", "12m").starts_with("⏰ <b>Still waiting</b> after 12m:\nx"));
        let mut r = request(&[]);
        r.created_at = 1_000;
        let inbox = Inbox {
            items: vec![InboxEntry {
                item: InboxItem::Permission(r),
                blocks: 2,
                why: "holds up 2 tasks downstream".into(),
            }],
        };
        assert_eq!(
            super::inbox(&inbox, 181_000),
            "Waiting for a human, what holds up the most work first:\n\
             1. permission T3: Bash <code>cargo test -p &lt;x&gt;</code> — blocks 2: \
             holds up 2 tasks downstream · 3m\n"
        );
    }
}
