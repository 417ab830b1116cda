//! The chat's commands: each message is a reply (to a pattern prompt or a question), or a
//! command that shows a list or a card (`/sessions`, `/tasks`, `/task T7`, `/inbox`, `/help`);
//! following a session's screen lives in `focus`.

use teloxide::types::Message;

use super::{Bot, render};
use crate::auth::Principal;
use crate::service::TaskQuery;

impl Bot {
    /// A message from a chat: the answer to a question it replies to, else a command.
    pub(super) async fn on_message(&mut self, m: Message) {
        if !self.allowed(m.chat.id).await {
            return;
        }
        let Some(text) = m.text().map(str::to_string) else {
            return;
        };
        if self.pattern_reply(&m, &text).await || self.answer_reply(&m, &text).await {
            return;
        }
        let mut words = text.split_whitespace();
        let command = words.next().unwrap_or_default();
        // `/tasks@my_bot` in groups.
        let command = command.split('@').next().unwrap_or_default();
        let arg = words.collect::<Vec<_>>().join(" ");
        let reply = match command {
            "/start" | "/help" => render::HELP.to_string(),
            "/sessions" => self.cmd_sessions().await,
            "/focus" => self.cmd_focus(m.chat.id, &arg).await,
            "/unfocus" => self.cmd_unfocus(m.chat.id),
            "/tasks" => self.cmd_tasks().await,
            "/task" => self.cmd_task(&arg).await,
            "/inbox" => self.cmd_inbox().await,
            _ if command.starts_with('/') => render::unknown_command(command),
            _ => render::NOT_A_COMMAND.into(),
        };
        self.send(m.chat.id, reply, None).await;
    }

    /// `/sessions`.
    async fn cmd_sessions(&self) -> String {
        let sessions = self
            .hub
            .sessions(&Principal::Admin)
            .await
            .unwrap_or_default();
        let tasks = self
            .hub
            .list_tasks(&Principal::Admin, &TaskQuery::default())
            .await
            .unwrap_or_default();
        render::sessions(&sessions, &tasks)
    }

    /// `/tasks`.
    async fn cmd_tasks(&self) -> String {
        match self
            .hub
            .list_tasks(&Principal::Admin, &TaskQuery::default())
            .await
        {
            Ok(t) => render::tasks(&t),
            Err(e) => render::error(&e),
        }
    }

    /// `/task T7`.
    async fn cmd_task(&self, arg: &str) -> String {
        if arg.is_empty() {
            return render::WHICH_TASK.into();
        }
        match self.hub.view_task(&Principal::Admin, arg).await {
            Ok(v) => render::task(&v.task, &v.sessions, &v.events, v.workspace.as_ref()),
            Err(e) => render::error(&e),
        }
    }

    /// `/inbox`: the hub's one inbox, what holds up the most work first.
    async fn cmd_inbox(&self) -> String {
        match self.hub.inbox(&Principal::Admin).await {
            Ok(inbox) => render::inbox(&inbox, orchestratia_proto::time::now_ms()),
            Err(e) => render::error(&e),
        }
    }
}
