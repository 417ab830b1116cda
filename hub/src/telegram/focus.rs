//! Following one session's screen live: `/focus` picks the session, its screen arrives in one
//! message that is edited in place (only when it changed, at most once per tick), `/unfocus`
//! stops.

use teloxide::types::{ChatId, MessageId};
use tokio::time::Instant;
use uuid::Uuid;

use super::{Bot, Focus, render};
use crate::auth::Principal;

impl Bot {
    /// `/focus NAME|N`: follows an active session by name or by its number in `/sessions`.
    pub(super) async fn cmd_focus(&mut self, chat: ChatId, arg: &str) -> String {
        if arg.is_empty() {
            return render::WHICH_SESSION.into();
        }
        let sessions = self
            .hub
            .sessions(&Principal::Admin)
            .await
            .unwrap_or_default();
        let active = render::active_sessions(&sessions);
        let found = match arg.parse::<usize>() {
            Ok(n) if n >= 1 => active.get(n - 1).copied(),
            _ => active.iter().copied().find(|s| s.name == arg),
        };
        let Some(s) = found else {
            return render::no_active_session(arg);
        };
        let repo = match s.task_id {
            Some(t) => self
                .hub
                .view_task(&Principal::Admin, &t.to_string())
                .await
                .ok()
                .and_then(|v| v.task.repo),
            None => None,
        };
        let latest = self
            .hub
            .last_screen(&Principal::Admin, &s.id.to_string())
            .await
            .ok()
            .flatten()
            .map(|text| {
                let lines: Vec<String> = text.lines().map(str::to_string).collect();
                render::screen(&s.name, &lines)
            });
        self.focus.insert(
            chat.0,
            Focus {
                session: s.id,
                name: s.name.clone(),
                message: None,
                shown: String::new(),
                latest,
            },
        );
        render::focused(&s.name, repo.as_deref().unwrap_or(&s.server))
    }

    /// `/unfocus`.
    pub(super) fn cmd_unfocus(&mut self, chat: ChatId) -> String {
        match self.focus.remove(&chat.0) {
            Some(f) => render::stopped_following(&f.name),
            None => render::NOT_FOLLOWING.into(),
        }
    }

    /// A session's new screen: what the chats following it should show next.
    pub(super) fn on_screen(&mut self, session: Uuid, lines: &[String]) {
        for f in self.focus.values_mut().filter(|f| f.session == session) {
            f.latest = Some(render::screen(&f.name, lines));
        }
    }

    /// Sends or edits each focused chat's screen message: only when its text changed, and
    /// no more often than the tick.
    pub(super) async fn flush_screens(&mut self) {
        if Instant::now() < self.not_before {
            return;
        }
        let due: Vec<(i64, String, Option<MessageId>)> = self
            .focus
            .iter()
            .filter_map(|(chat, f)| {
                let text = f.latest.clone()?;
                (text != f.shown).then_some((*chat, text, f.message))
            })
            .collect();
        for (chat, text, message) in due {
            let done = match message {
                Some(id) => self
                    .edit(ChatId(chat), id, text.clone())
                    .await
                    .then_some(id),
                None => self
                    .send(ChatId(chat), text.clone(), None)
                    .await
                    .map(|m| m.id),
            };
            if let (Some(id), Some(f)) = (done, self.focus.get_mut(&chat)) {
                f.message = Some(id);
                f.shown = text;
            }
        }
    }
}
