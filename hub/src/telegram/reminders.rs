//! Reminders: every few seconds the bot sweeps the inbox, and each item (plan, permission
//! request, question) waiting longer than the hub's `remind_after` is announced again, once,
//! with its buttons. The store marks what was reminded, so a restart or a second sweep does
//! not remind twice.

use std::time::Duration;

use orchestratia_proto::api::InboxItem;
use teloxide::types::InlineKeyboardMarkup;
use uuid::Uuid;

use super::decisions::Decision;
use super::{Bot, render};
use crate::auth::Principal;

/// How often the inbox is swept: a quarter of the wait, between 100 ms and 5 s, so a
/// reminder is at most a little late.
pub(super) fn sweep_every(remind_after: Duration) -> Duration {
    (remind_after / 4).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

impl Bot {
    /// Reminds of each inbox item waiting longer than `remind_after` and not reminded yet.
    pub(super) async fn remind(&mut self) {
        let now = orchestratia_proto::time::now_ms();
        let after = i64::try_from(self.hub.config.remind_after.as_millis()).unwrap_or(i64::MAX);
        let Ok(inbox) = self.hub.inbox(&Principal::Admin).await else {
            return;
        };
        for entry in inbox.items {
            let item = entry.item;
            if now.saturating_sub(item.created_at()) < after {
                continue;
            }
            let id = item_id(&item);
            if !self.mark(id, now).await {
                continue;
            }
            let (text, buttons, decision) = self.reminded(&item).await;
            let waited = orchestratia_proto::time::ago(item.created_at(), now);
            let sent = self
                .send_to_all(render::reminder(&text, &waited), buttons)
                .await;
            if let Decision::Question(q) = decision {
                for t in &sent {
                    self.questions.insert((t.chat.0, t.message.0), q);
                }
            }
            self.decisions.entry(decision).or_default().extend(sent);
        }
    }

    /// Marks an item reminded; false when it already was (or the store failed: no reminder
    /// rather than many).
    async fn mark(&self, id: Uuid, now: i64) -> bool {
        self.hub
            .mark_reminded(id, now)
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "telegram: marking a reminder failed"))
            .unwrap_or(false)
    }

    /// The item's own message, its buttons, and the decision it waits for.
    async fn reminded(&self, item: &InboxItem) -> (String, Option<InlineKeyboardMarkup>, Decision) {
        match item {
            InboxItem::Permission(p) => {
                let title = self.task(p.task_id).await.map(|t| t.title);
                (
                    render::permission(p, title.as_deref()),
                    Some(render::permission_buttons(p)),
                    Decision::Permission(p.id),
                )
            }
            InboxItem::Plan(p) => (
                render::plan(p),
                Some(render::plan_buttons(p.task_id)),
                Decision::Plan(p.task_id),
            ),
            InboxItem::Question(q) => (render::question(q), None, Decision::Question(q.id)),
        }
    }
}

/// The id an item is marked reminded by.
fn item_id(item: &InboxItem) -> Uuid {
    match item {
        InboxItem::Plan(p) => p.id,
        InboxItem::Permission(p) => p.id,
        InboxItem::Question(q) => q.id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_is_frequent_enough_and_not_busy() {
        assert_eq!(
            sweep_every(Duration::from_secs(600)),
            Duration::from_secs(5)
        );
        assert_eq!(
            sweep_every(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(
            sweep_every(Duration::from_millis(1)),
            Duration::from_millis(100)
        );
    }
}
