//! The Telegram bot (seed Flow 8): the admin follows the pipeline from a phone and answers what
//! waits for a human. It runs in the hub's process on tasks of its own: a poller that
//! long-polls `getUpdates`, and the bot, which reads updates and the hub's event bus. Telegram
//! being slow or away never holds up the hub: the bus is a broadcast the bot may lag behind,
//! and every call to Telegram retries with backoff (honouring 429's `retry_after`).
//!
//! Only the configured chats are obeyed; any other chat gets one polite refusal.

pub mod render;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use orchestratia_proto::{Event, EventKind, InterventionStatus, Task, TaskStatus};
use teloxide::RequestError;
use teloxide::payloads::{
    AnswerCallbackQuerySetters, EditMessageTextSetters, GetUpdatesSetters, SendMessageSetters,
};
use teloxide::prelude::Requester;
use teloxide::types::{
    CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageId,
    ParseMode, Update, UpdateKind,
};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use uuid::Uuid;

use crate::auth::Principal;
use crate::bus::BusMessage;
use crate::service::{Hub, TaskQuery};

/// How the bot is set up (`serve --telegram-*`).
#[derive(Clone)]
pub struct TelegramConfig {
    pub token: String,
    /// The chats it obeys.
    pub chats: Vec<i64>,
    /// Telegram's Bot API by default; a fake server in tests.
    pub api_url: Option<String>,
    /// The live screen message is edited at most this often.
    pub screen_every: Duration,
    /// How long one `getUpdates` waits for news.
    pub poll_timeout: Duration,
}

/// The token is a secret: it never reaches a log.
impl std::fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("token", &"<redacted>")
            .field("chats", &self.chats)
            .field("api_url", &self.api_url)
            .field("screen_every", &self.screen_every)
            .field("poll_timeout", &self.poll_timeout)
            .finish()
    }
}

impl TelegramConfig {
    pub fn new(token: &str, chats: Vec<i64>) -> TelegramConfig {
        TelegramConfig {
            token: token.to_string(),
            chats,
            api_url: None,
            screen_every: Duration::from_secs(3),
            poll_timeout: Duration::from_secs(25),
        }
    }
}

/// Starts the bot; it runs until the hub's process ends.
pub fn spawn(hub: Hub, cfg: TelegramConfig) -> anyhow::Result<()> {
    let mut api = teloxide::Bot::new(&cfg.token);
    if let Some(url) = &cfg.api_url {
        let url = reqwest::Url::parse(url)
            .map_err(|e| anyhow::anyhow!("--telegram-api-url {url}: {e}"))?;
        api = api.set_api_url(url);
    }
    anyhow::ensure!(
        !cfg.chats.is_empty(),
        "--telegram-chat: name at least one chat the bot obeys"
    );
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(poll(api.clone(), tx, cfg.poll_timeout));
    let bus = hub.bus.subscribe();
    let bot = Bot {
        hub,
        api,
        chats: cfg.chats.iter().copied().collect(),
        refused: HashSet::new(),
        focus: HashMap::new(),
        questions: HashMap::new(),
        decisions: HashMap::new(),
        finished: HashSet::new(),
        not_before: Instant::now(),
        screen_every: cfg.screen_every,
        unreachable: false,
    };
    tokio::spawn(bot.run(rx, bus));
    tracing::info!(chats = ?cfg.chats, "telegram bot started");
    Ok(())
}

/// Long-polls `getUpdates` and hands updates over; retries with backoff, logging an outage
/// once.
async fn poll(api: teloxide::Bot, tx: mpsc::Sender<Update>, timeout: Duration) {
    let mut offset: i32 = 0;
    let mut backoff = Duration::from_secs(1);
    let mut down = false;
    loop {
        let r = api
            .get_updates()
            .offset(offset)
            .timeout(timeout.as_secs() as u32)
            .await;
        match r {
            Ok(updates) => {
                if down {
                    tracing::info!("telegram reachable again");
                    down = false;
                }
                backoff = Duration::from_secs(1);
                for u in updates {
                    offset = offset.max(u.id.0 as i32 + 1);
                    if tx.send(u).await.is_err() {
                        return;
                    }
                }
            }
            Err(RequestError::RetryAfter(s)) => tokio::time::sleep(s.duration()).await,
            Err(e) => {
                if !down {
                    tracing::warn!(error = %e, "telegram unreachable; retrying with backoff");
                    down = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// A chat following one session's screen.
struct Focus {
    session: Uuid,
    name: String,
    /// The live screen message, once sent.
    message: Option<MessageId>,
    /// What the message shows now, and what it should show.
    shown: String,
    latest: Option<String>,
}

/// A message with buttons (or a question), kept to update when the decision is made.
struct Tracked {
    chat: ChatId,
    message: MessageId,
    text: String,
}

struct Bot {
    hub: Hub,
    api: teloxide::Bot,
    chats: HashSet<i64>,
    refused: HashSet<i64>,
    focus: HashMap<i64, Focus>,
    /// Question messages (chat, message) → the intervention a reply answers.
    questions: HashMap<(i64, i32), Uuid>,
    /// `perm:ID`, `plan:TASK`, `int:ID` → the messages that show it.
    decisions: HashMap<String, Vec<Tracked>>,
    /// Projects whose "pipeline finished" went out.
    finished: HashSet<Uuid>,
    /// No call to Telegram before this (a 429's `retry_after`).
    not_before: Instant,
    screen_every: Duration,
    unreachable: bool,
}

impl Bot {
    async fn run(
        mut self,
        mut updates: mpsc::Receiver<Update>,
        mut bus: broadcast::Receiver<BusMessage>,
    ) {
        let mut tick = tokio::time::interval(self.screen_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                u = updates.recv() => match u {
                    Some(u) => self.on_update(u).await,
                    None => return,
                },
                m = bus.recv() => match m {
                    Ok(BusMessage::Event(e)) => self.on_event(&e).await,
                    Ok(BusMessage::Screen { session_id, lines, .. }) => {
                        for f in self.focus.values_mut().filter(|f| f.session == session_id) {
                            f.latest = Some(render::screen(&f.name, &lines));
                        }
                    }
                    Ok(BusMessage::State { .. }) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "telegram bot fell behind the event bus");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => self.flush_screens().await,
            }
        }
    }

    /// Waits out a 429, then runs a Telegram call; retries a 429 up to three times. A failure
    /// is logged once per outage and the call dropped.
    async fn call<T, F, Fut>(&mut self, what: &str, f: F) -> Option<T>
    where
        F: Fn(teloxide::Bot) -> Fut,
        Fut: std::future::Future<Output = Result<T, RequestError>>,
    {
        for _ in 0..3 {
            tokio::time::sleep_until(self.not_before).await;
            match f(self.api.clone()).await {
                Ok(m) => {
                    self.unreachable = false;
                    return Some(m);
                }
                Err(RequestError::RetryAfter(s)) => {
                    self.not_before = Instant::now() + s.duration();
                }
                Err(e) => {
                    if !self.unreachable {
                        tracing::warn!(error = %e, what, "telegram call failed");
                        self.unreachable = true;
                    }
                    return None;
                }
            }
        }
        None
    }

    async fn send(
        &mut self,
        chat: ChatId,
        text: String,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> Option<Message> {
        // The last gate: whatever a render forgot to escape reaches the chat escaped.
        let text = orchestratia_proto::text::multi_line(&text).into_owned();
        self.call("sendMessage", |api| {
            let req = api
                .send_message(chat, text.clone())
                .parse_mode(ParseMode::Html);
            let req = match &keyboard {
                Some(k) => req.reply_markup(k.clone()),
                None => req,
            };
            async move { req.await }
        })
        .await
    }

    async fn edit(&mut self, chat: ChatId, message: MessageId, text: String) -> bool {
        let text = orchestratia_proto::text::multi_line(&text).into_owned();
        self.call("editMessageText", |api| {
            let req = api
                .edit_message_text(chat, message, text.clone())
                .parse_mode(ParseMode::Html);
            async move { req.await }
        })
        .await
        .is_some()
    }

    async fn send_to_all(
        &mut self,
        text: String,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> Vec<Tracked> {
        let mut out = Vec::new();
        let mut chats: Vec<i64> = self.chats.iter().copied().collect();
        chats.sort_unstable();
        for c in chats {
            if let Some(m) = self.send(ChatId(c), text.clone(), keyboard.clone()).await {
                out.push(Tracked {
                    chat: ChatId(c),
                    message: m.id,
                    text: text.clone(),
                });
            }
        }
        out
    }

    async fn on_update(&mut self, u: Update) {
        match u.kind {
            UpdateKind::Message(m) => self.on_message(m).await,
            UpdateKind::CallbackQuery(q) => self.on_callback(q).await,
            _ => {}
        }
    }

    /// Whether a chat is obeyed; a stranger gets one polite refusal, ever.
    async fn allowed(&mut self, chat: ChatId) -> bool {
        if self.chats.contains(&chat.0) {
            return true;
        }
        if self.refused.insert(chat.0) {
            tracing::info!(
                chat = chat.0,
                "telegram: refused a chat that is not configured"
            );
            self.send(
                chat,
                "Sorry, this bot answers only the admins of its Orchestratia hub.".into(),
                None,
            )
            .await;
        }
        false
    }

    async fn on_message(&mut self, m: Message) {
        if !self.allowed(m.chat.id).await {
            return;
        }
        let Some(text) = m.text().map(str::to_string) else {
            return;
        };
        if let Some(replied) = m.reply_to_message()
            && let Some(id) = self.questions.get(&(m.chat.id.0, replied.id.0)).copied()
        {
            let who = m.from.as_ref().map(who).unwrap_or_else(|| "someone".into());
            let reply = match self
                .hub
                .respond(&Principal::Admin, &id.to_string(), &text)
                .await
            {
                Ok(i) => format!("Answer sent to {} ({who}).", i.task_reference),
                Err(e) => format!("Not sent: {e}"),
            };
            self.send(m.chat.id, render::esc(&reply), None).await;
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
            "/unfocus" => match self.focus.remove(&m.chat.id.0) {
                Some(f) => format!("Stopped following {}.", render::esc(&f.name)),
                None => "Not following any session.".into(),
            },
            "/tasks" => match self
                .hub
                .list_tasks(&Principal::Admin, &TaskQuery::default())
                .await
            {
                Ok(t) => render::tasks(&t),
                Err(e) => render::esc(&e.to_string()),
            },
            "/task" if arg.is_empty() => "Which task? /task T7".into(),
            "/task" => match self.hub.view_task(&Principal::Admin, &arg).await {
                Ok(v) => render::task(&v.task, &v.sessions, &v.events),
                Err(e) => render::esc(&e.to_string()),
            },
            "/inbox" => self.cmd_inbox().await,
            _ if command.starts_with('/') => {
                format!(
                    "Unknown command {}. /help lists them.",
                    render::esc(command)
                )
            }
            _ => "Commands start with /. /help lists them; answer a question by replying to it."
                .into(),
        };
        self.send(m.chat.id, reply, None).await;
    }

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

    async fn cmd_focus(&mut self, chat: ChatId, arg: &str) -> String {
        if arg.is_empty() {
            return "Which session? /focus orc-abc123 or /focus 1 (see /sessions)".into();
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
            return format!("No active session {} (see /sessions).", render::esc(arg));
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
        format!(
            "Focused on {} ({}). Its screen follows in one message, edited in place; /unfocus stops.",
            render::esc(&s.name),
            render::esc(repo.as_deref().unwrap_or(&s.server))
        )
    }

    async fn cmd_inbox(&self) -> String {
        let a = Principal::Admin;
        let plans = self
            .hub
            .plans(&a, Some("submitted"))
            .await
            .unwrap_or_default();
        let perms = self
            .hub
            .permissions(&a, Some("pending"))
            .await
            .unwrap_or_default();
        let questions = self
            .hub
            .interventions(&a, Some(InterventionStatus::Pending.as_str()))
            .await
            .unwrap_or_default();
        render::inbox(&plans, &perms, &questions)
    }

    /// Sends or edits each focused chat's screen message: only when its text changed, and
    /// no more often than the tick.
    async fn flush_screens(&mut self) {
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

    async fn on_callback(&mut self, q: CallbackQuery) {
        let Some(chat) = q.message.as_ref().map(|m| m.chat().id) else {
            return;
        };
        if !self.allowed(chat).await {
            let _ = self.api.answer_callback_query(q.id.clone()).await;
            return;
        }
        let data = q.data.clone().unwrap_or_default();
        let who = who(&q.from);
        let parts: Vec<&str> = data.splitn(3, ':').collect();
        let a = Principal::Admin;
        let (key, outcome) = match parts.as_slice() {
            ["perm", verb @ ("allow" | "deny"), id] => {
                let allow = *verb == "allow";
                let reason = format!("denied from Telegram by {who}");
                let r = self
                    .hub
                    .decide_permission(&a, id, allow, (!allow).then_some(reason.as_str()))
                    .await;
                (
                    format!("perm:{id}"),
                    r.map(|_| if allow { "✅ allowed" } else { "⛔ denied" }),
                )
            }
            ["plan", verb @ ("approve" | "reject"), task] => {
                let approve = *verb == "approve";
                let feedback = format!("rejected from Telegram by {who}");
                let r = self
                    .hub
                    .decide_plan(&a, task, approve, (!approve).then_some(feedback.as_str()))
                    .await;
                (
                    format!("plan:{task}"),
                    r.map(|_| {
                        if approve {
                            "✅ approved"
                        } else {
                            "⛔ rejected"
                        }
                    }),
                )
            }
            _ => {
                let _ = self.api.answer_callback_query(q.id.clone()).await;
                return;
            }
        };
        let (toast, footer) = match outcome {
            Ok(done) => (done.to_string(), format!("{done} by {who}")),
            Err(e) => (
                "already decided".to_string(),
                format!("already decided: {e}"),
            ),
        };
        let _ = self
            .call("answerCallbackQuery", |api| {
                let req = api.answer_callback_query(q.id.clone()).text(toast.clone());
                async move { req.await }
            })
            .await;
        self.close(&key, &footer).await;
    }

    /// Edits every message of a decision to say how it ended; their buttons go away.
    async fn close(&mut self, key: &str, footer: &str) {
        let Some(tracked) = self.decisions.remove(key) else {
            return;
        };
        for t in tracked {
            let text = format!("{}\n\n<b>{}</b>", t.text, render::esc(footer));
            self.edit(t.chat, t.message, text).await;
            self.questions
                .retain(|(c, m), _| !(*c == t.chat.0 && *m == t.message.0));
        }
    }

    async fn on_event(&mut self, e: &Event) {
        let a = Principal::Admin;
        let detail = |k: &str| {
            e.details
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        match e.event {
            EventKind::PermissionRequested => {
                let Some(id) = detail("request_id") else {
                    return;
                };
                let Ok(p) = self.hub.permission(&a, parse(&id)).await else {
                    return;
                };
                let title = self.task(p.task_id).await.map(|t| t.title);
                let text = render::permission(&p, title.as_deref());
                let keyboard = InlineKeyboardMarkup::new(vec![vec![
                    InlineKeyboardButton::callback("Allow", format!("perm:allow:{}", p.id)),
                    InlineKeyboardButton::callback("Deny", format!("perm:deny:{}", p.id)),
                ]]);
                let sent = self.send_to_all(text, Some(keyboard)).await;
                self.decisions.insert(format!("perm:{}", p.id), sent);
            }
            EventKind::PermissionDecided => {
                let Some(id) = detail("request_id") else {
                    return;
                };
                let allowed = e
                    .details
                    .get("allowed")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                let footer = format!(
                    "{} by {}",
                    if allowed { "✅ allowed" } else { "⛔ denied" },
                    e.actor
                );
                self.close(&format!("perm:{id}"), &footer).await;
            }
            EventKind::TaskPlanSubmitted => {
                let Some(task) = e.task_id else { return };
                let plans = self
                    .hub
                    .plans(&a, Some("submitted"))
                    .await
                    .unwrap_or_default();
                let Some(p) = plans.into_iter().rev().find(|p| p.task_id == task) else {
                    return;
                };
                let keyboard = InlineKeyboardMarkup::new(vec![vec![
                    InlineKeyboardButton::callback("Approve", format!("plan:approve:{task}")),
                    InlineKeyboardButton::callback("Reject", format!("plan:reject:{task}")),
                ]]);
                let sent = self.send_to_all(render::plan(&p), Some(keyboard)).await;
                self.decisions.insert(format!("plan:{task}"), sent);
            }
            EventKind::TaskPlanApproved | EventKind::TaskPlanRejected => {
                let Some(task) = e.task_id else { return };
                let verb = if e.event == EventKind::TaskPlanApproved {
                    "✅ approved"
                } else {
                    "⛔ rejected"
                };
                self.close(&format!("plan:{task}"), &format!("{verb} by {}", e.actor))
                    .await;
            }
            EventKind::TaskNeedsHuman => {
                let Some(id) = detail("intervention_id") else {
                    return;
                };
                let Ok(q) = self.hub.intervention(&a, parse(&id)).await else {
                    return;
                };
                let sent = self.send_to_all(render::question(&q), None).await;
                for t in &sent {
                    self.questions.insert((t.chat.0, t.message.0), q.id);
                }
                self.decisions.insert(format!("int:{}", q.id), sent);
            }
            EventKind::InterventionResponded => {
                let Some(id) = detail("intervention_id") else {
                    return;
                };
                let answer = detail("response").unwrap_or_default();
                self.close(
                    &format!("int:{id}"),
                    &format!("answered by {}: {}", e.actor, render::clip(&answer, 500)),
                )
                .await;
            }
            EventKind::TaskFailed => {
                let reason = detail("reason").unwrap_or_default();
                let head = self.headline(e.task_id).await;
                self.send_to_all(
                    format!(
                        "❌ <b>{head}</b> failed: {}",
                        render::esc(&render::clip(&reason, 1000))
                    ),
                    None,
                )
                .await;
            }
            EventKind::TaskAutoAssigned => {
                let head = self.headline(e.related_task_id.or(e.task_id)).await;
                let server = detail("agent").unwrap_or_default();
                self.send_to_all(
                    format!("➡️ <b>{head}</b> auto-assigned to {}", render::esc(&server)),
                    None,
                )
                .await;
            }
            EventKind::TaskCompleted => self.maybe_finished(e).await,
            EventKind::AgentStalled => {
                let head = self.headline(e.task_id).await;
                let reason = detail("reason").unwrap_or_default();
                let screen = detail("screen").unwrap_or_default();
                self.send_to_all(render::stalled(&head, &reason, &screen), None)
                    .await;
            }
            _ => {}
        }
    }

    /// "Pipeline finished" once, when the last task of a project is done.
    async fn maybe_finished(&mut self, e: &Event) {
        let Some(project) = e.project_id else { return };
        if self.finished.contains(&project) {
            return;
        }
        let filter = TaskQuery {
            project: Some(project.to_string()),
            ..Default::default()
        };
        let Ok(tasks) = self.hub.list_tasks(&Principal::Admin, &filter).await else {
            return;
        };
        if tasks.is_empty() || tasks.iter().any(|t| t.status != TaskStatus::Done) {
            return;
        }
        self.finished.insert(project);
        let name = self
            .hub
            .graph(&Principal::Admin, Some(&project.to_string()))
            .await
            .map(|g| g.project)
            .unwrap_or_default();
        self.send_to_all(
            format!(
                "🏁 <b>Pipeline finished</b>: {} — all {} tasks done.",
                render::esc(&name),
                tasks.len()
            ),
            None,
        )
        .await;
    }

    async fn task(&self, id: Option<Uuid>) -> Option<Task> {
        let id = id?;
        self.hub
            .view_task(&Principal::Admin, &id.to_string())
            .await
            .ok()
            .map(|v| v.task)
    }

    /// `T7 Title` for a task id, escaped.
    async fn headline(&self, id: Option<Uuid>) -> String {
        match self.task(id).await {
            Some(t) => render::esc(&format!("{} {}", t.reference, t.title)),
            None => id.map(|i| i.to_string()).unwrap_or_default(),
        }
    }
}

fn parse(id: &str) -> Uuid {
    Uuid::parse_str(id).unwrap_or_default()
}

/// How a Telegram user is named in decisions: @username, else the first name.
fn who(u: &teloxide::types::User) -> String {
    match &u.username {
        Some(n) => format!("@{n}"),
        None => u.first_name.clone(),
    }
}
