//! Decisions made from the chat: the Allow/Deny buttons under a permission request, the
//! Approve/Reject buttons under a plan, and replies that answer a question. Every message that
//! shows a decision is tracked, and edited to say how it ended whoever decided it (a button
//! here, the CLI, the console).

use teloxide::payloads::AnswerCallbackQuerySetters;
use teloxide::prelude::Requester;
use teloxide::types::{CallbackQuery, Message};
use uuid::Uuid;

use super::{Bot, render};
use crate::auth::Principal;
use crate::error::HubResult;

/// What a button does, carried as its callback data. The encoded strings (`perm:allow:ID`,
/// `perm:deny:ID`, `plan:approve:TASK`, `plan:reject:TASK`) are those the bot has always
/// sent, so buttons already in a chat keep working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// Allow or deny a permission request.
    Permission { id: Uuid, allow: bool },
    /// Approve or reject the plan waiting on a task.
    Plan { task: Uuid, approve: bool },
}

impl Callback {
    /// The callback data of a button.
    pub fn encode(&self) -> String {
        match self {
            Callback::Permission { id, allow } => {
                format!("perm:{}:{id}", if *allow { "allow" } else { "deny" })
            }
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
        let id = Uuid::parse_str(id).ok()?;
        match (kind, verb) {
            ("perm", "allow") => Some(Callback::Permission { id, allow: true }),
            ("perm", "deny") => Some(Callback::Permission { id, allow: false }),
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

    /// The decision the button settles.
    pub(super) fn decision(&self) -> Decision {
        match *self {
            Callback::Permission { id, .. } => Decision::Permission(id),
            Callback::Plan { task, .. } => Decision::Plan(task),
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
    /// A button was pressed: decides, tells the presser in a toast, closes the decision.
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
        let (toast, footer) = match self.decide(callback, &who).await {
            Ok(done) => (done.to_string(), render::decided_by(done, &who)),
            Err(e) => (
                render::ALREADY_DECIDED.to_string(),
                render::already_decided(&e),
            ),
        };
        let _ = self
            .call("answerCallbackQuery", |api| {
                let req = api.answer_callback_query(q.id.clone()).text(toast.clone());
                async move { req.await }
            })
            .await;
        self.close(callback.decision(), &footer).await;
    }

    /// Makes the decision a button names, as the admin; how it ended (`✅ allowed`).
    async fn decide(&self, callback: Callback, who: &str) -> HubResult<&'static str> {
        let a = Principal::Admin;
        match callback {
            Callback::Permission { id, allow } => {
                let reason = render::denied_from_telegram(who);
                self.hub
                    .decide_permission(
                        &a,
                        &id.to_string(),
                        allow,
                        (!allow).then_some(reason.as_str()),
                    )
                    .await
                    .map(|_| render::permission_verdict(allow))
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
            Decision::Plan(id)
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
        ] {
            assert_eq!(Callback::parse(data), None, "{data:?}");
        }
    }
}
