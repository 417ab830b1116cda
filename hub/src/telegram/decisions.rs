//! Decisions made from the chat: the buttons under a permission request (once, for the
//! session, deny; "always" proposes a rule, see `proposals`), the Approve/Reject buttons under
//! a plan, and replies that answer a question. Every message that
//! shows a decision is tracked, and edited to say how it ended whoever decided it (a button
//! here, the CLI, the console).

use teloxide::payloads::AnswerCallbackQuerySetters;
use teloxide::prelude::Requester;
use teloxide::types::{CallbackQuery, Message};
use uuid::Uuid;

use orchestratia_proto::api::{AllowPermission, AllowScope, DenyPermission};
use orchestratia_proto::policy::RuleEffect;

use super::{Bot, render};
use crate::auth::Principal;
use crate::error::HubResult;

/// Who decided, as the hub records it: `telegram:ada` for the Telegram user @ada.
pub(super) fn telegram_actor(who: &str) -> String {
    format!("telegram:{}", who.trim_start_matches('@'))
}

/// What a button does, carried as its callback data (at most 64 bytes). The strings the bot
/// has always sent (`perm:allow:ID`, `perm:deny:ID`, `plan:approve:TASK`, `plan:reject:TASK`)
/// keep their meaning, so buttons already in a chat keep working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// Allow once or deny a permission request.
    Permission { id: Uuid, allow: bool },
    /// Allow a permission request for the rest of its session (`perm:session:ID`).
    Session { id: Uuid },
    /// Propose a rule from a permission request: "Allow always…" (`perm:always:ID`) or
    /// "Deny always…" (`perm:denyalways:ID`).
    Propose { id: Uuid, effect: RuleEffect },
    /// A button under a proposed rule, by the proposal's short key (`rule:save:KEY`).
    Proposal { key: u64, action: ProposalAction },
    /// Approve or reject the plan waiting on a task.
    Plan { task: Uuid, approve: bool },
}

/// What a button under a proposed rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposalAction {
    /// Make the rule and decide the request with it.
    Save,
    /// Ask for another pattern (a reply to a prompt).
    Edit,
    /// Drop the proposal; the request's own buttons still work.
    Back,
}

impl ProposalAction {
    fn word(self) -> &'static str {
        match self {
            ProposalAction::Save => "save",
            ProposalAction::Edit => "edit",
            ProposalAction::Back => "back",
        }
    }
}

impl Callback {
    /// The callback data of a button.
    pub fn encode(&self) -> String {
        match self {
            Callback::Permission { id, allow } => {
                format!("perm:{}:{id}", if *allow { "allow" } else { "deny" })
            }
            Callback::Session { id } => format!("perm:session:{id}"),
            Callback::Propose { id, effect } => match effect {
                RuleEffect::Allow => format!("perm:always:{id}"),
                RuleEffect::Deny => format!("perm:denyalways:{id}"),
            },
            Callback::Proposal { key, action } => format!("rule:{}:{key:016x}", action.word()),
            Callback::Plan { task, approve } => {
                format!(
                    "plan:{}:{task}",
                    if *approve { "approve" } else { "reject" }
                )
            }
        }
    }

    /// The button a callback's data names; `None` for anything the bot did not send.
    pub fn parse(data: &str) -> Option<Callback> {
        let mut parts = data.splitn(3, ':');
        let (kind, verb, id) = (parts.next()?, parts.next()?, parts.next()?);
        if kind == "rule" {
            let action = match verb {
                "save" => ProposalAction::Save,
                "edit" => ProposalAction::Edit,
                "back" => ProposalAction::Back,
                _ => return None,
            };
            if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let key = u64::from_str_radix(id, 16).ok()?;
            return Some(Callback::Proposal { key, action });
        }
        let id = Uuid::parse_str(id).ok()?;
        match (kind, verb) {
            ("perm", "allow") => Some(Callback::Permission { id, allow: true }),
            ("perm", "deny") => Some(Callback::Permission { id, allow: false }),
            ("perm", "session") => Some(Callback::Session { id }),
            ("perm", "always") => Some(Callback::Propose {
                id,
                effect: RuleEffect::Allow,
            }),
            ("perm", "denyalways") => Some(Callback::Propose {
                id,
                effect: RuleEffect::Deny,
            }),
            ("plan", "approve") => Some(Callback::Plan {
                task: id,
                approve: true,
            }),
            ("plan", "reject") => Some(Callback::Plan {
                task: id,
                approve: false,
            }),
            _ => None,
        }
    }

    /// The decision the button settles, if it settles one at once.
    pub(super) fn decision(&self) -> Option<Decision> {
        match *self {
            Callback::Permission { id, .. } | Callback::Session { id } => {
                Some(Decision::Permission(id))
            }
            Callback::Plan { task, .. } => Some(Decision::Plan(task)),
            Callback::Propose { .. } | Callback::Proposal { .. } => None,
        }
    }
}

/// A decision waiting for a human, by which the bot finds the messages that show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Decision {
    /// A permission request, by its id.
    Permission(Uuid),
    /// The plan waiting on a task, by the task's id.
    Plan(Uuid),
    /// A question (intervention), by its id.
    Question(Uuid),
}

impl Bot {
    /// A button was pressed: decides (or proposes a rule), tells the presser in a toast,
    /// closes the decision.
    pub(super) async fn on_callback(&mut self, q: CallbackQuery) {
        let Some(chat) = q.message.as_ref().map(|m| m.chat().id) else {
            return;
        };
        if !self.allowed(chat).await {
            let _ = self.api.answer_callback_query(q.id.clone()).await;
            return;
        }
        let Some(callback) = q.data.as_deref().and_then(Callback::parse) else {
            let _ = self.api.answer_callback_query(q.id.clone()).await;
            return;
        };
        let who = render::who(Some(&q.from));
        let toast = match callback {
            Callback::Propose { id, effect } => self.propose(chat, id, effect).await,
            Callback::Proposal { key, action } => {
                let message = q.message.as_ref().map(|m| m.id());
                self.on_proposal(chat, message, key, action, &who).await
            }
            Callback::Permission { .. } | Callback::Session { .. } | Callback::Plan { .. } => {
                let (toast, footer) = match self.decide(callback, &who).await {
                    Ok(done) => (done.to_string(), render::decided_by(done, &who)),
                    Err(e) => (
                        render::ALREADY_DECIDED.to_string(),
                        render::already_decided(&e),
                    ),
                };
                if let Some(d) = callback.decision() {
                    self.close(d, &footer).await;
                }
                toast
            }
        };
        self.toast(&q, toast).await;
    }

    /// Answers a button's tap with a short toast (none when `text` is empty).
    pub(super) async fn toast(&mut self, q: &CallbackQuery, text: String) {
        let _ = self
            .call("answerCallbackQuery", |api| {
                let req = api.answer_callback_query(q.id.clone());
                let req = if text.is_empty() {
                    req
                } else {
                    req.text(text.clone())
                };
                async move { req.await }
            })
            .await;
    }

    /// Makes the decision a button names, as the admin; how it ended (`✅ allowed`).
    async fn decide(&self, callback: Callback, who: &str) -> HubResult<&'static str> {
        let a = Principal::Admin;
        let by = telegram_actor(who);
        match callback {
            Callback::Permission { id, allow: true } => {
                let body = AllowPermission::default();
                self.hub
                    .allow_permission(&a, &id.to_string(), &body, Some(&by))
                    .await
                    .map(|_| render::permission_verdict(true))
            }
            Callback::Permission { id, allow: false } => {
                let body = DenyPermission {
                    reason: Some(render::denied_from_telegram(who)),
                    ..DenyPermission::default()
                };
                self.hub
                    .deny_permission(&a, &id.to_string(), &body, Some(&by))
                    .await
                    .map(|_| render::permission_verdict(false))
            }
            Callback::Session { id } => {
                let body = AllowPermission {
                    scope: AllowScope::Session,
                    patterns: Vec::new(),
                };
                self.hub
                    .allow_permission(&a, &id.to_string(), &body, Some(&by))
                    .await
                    .map(|_| render::SESSION_VERDICT)
            }
            Callback::Plan { task, approve } => {
                let feedback = render::rejected_from_telegram(who);
                self.hub
                    .decide_plan(
                        &a,
                        &task.to_string(),
                        approve,
                        (!approve).then_some(feedback.as_str()),
                    )
                    .await
                    .map(|_| render::plan_verdict(approve))
            }
            Callback::Propose { .. } | Callback::Proposal { .. } => {
                Err(crate::bad!("a proposal decides nothing by itself"))
            }
        }
    }

    /// A reply to a question message answers that question; whether `m` was one.
    pub(super) async fn answer_reply(&mut self, m: &Message, text: &str) -> bool {
        let Some(id) = m
            .reply_to_message()
            .and_then(|replied| self.questions.get(&(m.chat.id.0, replied.id.0)))
            .copied()
        else {
            return false;
        };
        let who = render::who(m.from.as_ref());
        let reply = match self
            .hub
            .respond(&Principal::Admin, &id.to_string(), text)
            .await
        {
            Ok(i) => render::answer_sent(&i.task_reference, &who),
            Err(e) => render::not_sent(&e),
        };
        self.send(m.chat.id, reply, None).await;
        true
    }

    /// Edits every message of a decision to say how it ended; their buttons go away.
    pub(super) async fn close(&mut self, decision: Decision, footer: &str) {
        if let Decision::Permission(id) = decision {
            self.drop_proposals(id);
        }
        let Some(tracked) = self.decisions.remove(&decision) else {
            return;
        };
        for t in tracked {
            self.edit(t.chat, t.message, render::closed(&t.text, footer))
                .await;
            self.questions
                .retain(|(c, m), _| !(*c == t.chat.0 && *m == t.message.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_data_round_trips_as_the_bot_always_wrote_it() {
        let id = Uuid::parse_str("0b5f3d2e-6a1c-4c8e-9f00-123456789abc").expect("uuid");
        for (c, data) in [
            (
                Callback::Permission { id, allow: true },
                "perm:allow:0b5f3d2e-6a1c-4c8e-9f00-123456789abc",
            ),
            (
                Callback::Permission { id, allow: false },
                "perm:deny:0b5f3d2e-6a1c-4c8e-9f00-123456789abc",
            ),
            (
                Callback::Plan {
                    task: id,
                    approve: true,
                },
                "plan:approve:0b5f3d2e-6a1c-4c8e-9f00-123456789abc",
            ),
            (
                Callback::Plan {
                    task: id,
                    approve: false,
                },
                "plan:reject:0b5f3d2e-6a1c-4c8e-9f00-123456789abc",
            ),
        ] {
            assert_eq!(c.encode(), data);
            assert_eq!(Callback::parse(data), Some(c));
            assert!(c.encode().len() <= 64, "Telegram's limit on callback data");
        }
        assert_eq!(
            Callback::Plan {
                task: id,
                approve: false
            }
            .decision(),
            Some(Decision::Plan(id))
        );
        for c in [
            Callback::Session { id },
            Callback::Propose {
                id,
                effect: RuleEffect::Allow,
            },
            Callback::Propose {
                id,
                effect: RuleEffect::Deny,
            },
            Callback::Proposal {
                key: u64::MAX,
                action: ProposalAction::Save,
            },
            Callback::Proposal {
                key: 7,
                action: ProposalAction::Edit,
            },
            Callback::Proposal {
                key: 0,
                action: ProposalAction::Back,
            },
        ] {
            assert_eq!(Callback::parse(&c.encode()), Some(c), "{c:?}");
            assert!(c.encode().len() <= 64, "{c:?}: Telegram's limit");
        }
        assert_eq!(
            Callback::Proposal {
                key: 0xab,
                action: ProposalAction::Save
            }
            .encode(),
            "rule:save:00000000000000ab"
        );
    }

    #[test]
    fn unknown_or_garbled_callback_data_names_no_button() {
        for data in [
            "",
            "perm",
            "perm:allow",
            "perm:allow:",
            "perm:allow:not-a-uuid",
            "perm:maybe:0b5f3d2e-6a1c-4c8e-9f00-123456789abc",
            "plan:allow:0b5f3d2e-6a1c-4c8e-9f00-123456789abc",
            "int:answer:0b5f3d2e-6a1c-4c8e-9f00-123456789abc",
            "perm:allow:0b5f3d2e-6a1c-4c8e-9f00-123456789abc:extra",
            "\u{202e}perm:allow:0b5f3d2e-6a1c-4c8e-9f00-123456789abc",
            "perm:always:not-a-uuid",
            "rule:save:",
            "rule:save:00ab",
            "rule:save:+000000000000000",
            "rule:save:00000000000000zz",
            "rule:drop:00000000000000ab",
            "rule:save:00000000000000ab:x",
        ] {
            assert_eq!(Callback::parse(data), None, "{data:?}");
        }
    }
}
