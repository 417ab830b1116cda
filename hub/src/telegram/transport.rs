//! Talking to Telegram: the bot's setup, the long-polling `getUpdates` loop, the main loop
//! that reads updates and the event bus, and every send or edit. All of them go through one
//! gate that escapes whatever a render forgot and waits out a 429's `retry_after`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use teloxide::RequestError;
use teloxide::payloads::{EditMessageTextSetters, GetUpdatesSetters, SendMessageSetters};
use teloxide::prelude::Requester;
use teloxide::types::{
    ChatId, InlineKeyboardMarkup, Message, MessageId, ParseMode, ReplyMarkup, Update, UpdateKind,
};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use super::{Bot, Tracked, render};
use crate::bus::BusMessage;
use crate::service::Hub;

/// How the bot is set up (`serve --telegram-*`).
#[derive(Clone)]
pub struct TelegramConfig {
    /// The bot's token from @BotFather (a secret).
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
    /// A bot on Telegram's own Bot API, obeying `chats`, with the default timings.
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

/// Starts the bot; it runs until the hub's process ends. Between hub replicas only one runs
/// it at a time, the holder of the `telegram` lease (Telegram serves one poller per bot, and
/// every replica sees every event): the others wait to take over when it dies.
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
    if hub.replica().is_none() {
        launch(hub, api, &cfg);
        return Ok(());
    }
    tokio::spawn(async move {
        loop {
            while !hub.holds_lease(LEASE).await {
                tokio::time::sleep(RENEW_EVERY).await;
            }
            let running = launch(hub.clone(), api.clone(), &cfg);
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                if !hub.holds_lease(LEASE).await {
                    break;
                }
            }
            tracing::error!("lost the telegram lease to another replica: stopping this bot");
            for task in running {
                task.abort();
            }
        }
    });
    Ok(())
}

/// The lease whose holder runs the bot between replicas.
const LEASE: &str = "telegram";

/// How often the bot's replica renews its lease (well inside the lease's life).
const RENEW_EVERY: Duration = Duration::from_secs(2);

/// Starts polling and the bot; their tasks.
fn launch(hub: Hub, api: teloxide::Bot, cfg: &TelegramConfig) -> [tokio::task::JoinHandle<()>; 2] {
    let (tx, rx) = mpsc::channel(256);
    let polling = tokio::spawn(poll(api.clone(), tx, cfg.poll_timeout));
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
        proposals: HashMap::new(),
        prompts: HashMap::new(),
        not_before: Instant::now(),
        screen_every: cfg.screen_every,
        unreachable: false,
    };
    let running = tokio::spawn(bot.run(rx, bus));
    tracing::info!(chats = ?cfg.chats, "telegram bot started");
    [polling, running]
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

impl Bot {
    /// Reads updates, the event bus, the screen tick and the reminder sweep until the hub's process ends.
    async fn run(
        mut self,
        mut updates: mpsc::Receiver<Update>,
        mut bus: broadcast::Receiver<BusMessage>,
    ) {
        let mut tick = tokio::time::interval(self.screen_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sweep =
            tokio::time::interval(super::reminders::sweep_every(self.hub.config.remind_after));
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                u = updates.recv() => match u {
                    Some(u) => self.on_update(u).await,
                    None => return,
                },
                m = bus.recv() => match m {
                    Ok(BusMessage::Event(e)) => self.on_event(&e).await,
                    Ok(BusMessage::Screen { session_id, lines, .. }) => {
                        self.on_screen(session_id, &lines);
                    }
                    Ok(BusMessage::State { .. }) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "telegram bot fell behind the event bus");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => self.flush_screens().await,
                _ = sweep.tick() => self.remind().await,
            }
        }
    }

    async fn on_update(&mut self, u: Update) {
        match u.kind {
            UpdateKind::Message(m) => self.on_message(m).await,
            UpdateKind::CallbackQuery(q) => self.on_callback(q).await,
            _ => {}
        }
    }

    /// Whether a chat is obeyed; a stranger gets one polite refusal, ever.
    pub(super) async fn allowed(&mut self, chat: ChatId) -> bool {
        if self.chats.contains(&chat.0) {
            return true;
        }
        if self.refused.insert(chat.0) {
            tracing::info!(
                chat = chat.0,
                "telegram: refused a chat that is not configured"
            );
            self.send(chat, render::REFUSAL.into(), None).await;
        }
        false
    }

    /// Waits out a 429, then runs a Telegram call; retries a 429 up to three times. A failure
    /// is logged once per outage and the call dropped.
    pub(super) async fn call<T, F, Fut>(&mut self, what: &str, f: F) -> Option<T>
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

    /// Sends a message (HTML), with buttons if any.
    pub(super) async fn send(
        &mut self,
        chat: ChatId,
        text: String,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> Option<Message> {
        self.send_markup(chat, text, keyboard.map(ReplyMarkup::InlineKeyboard))
            .await
    }

    /// Sends a message (HTML) with any reply markup (buttons, a forced reply).
    pub(super) async fn send_markup(
        &mut self,
        chat: ChatId,
        text: String,
        markup: Option<ReplyMarkup>,
    ) -> Option<Message> {
        // The last gate: whatever a render forgot to escape reaches the chat escaped.
        let text = orchestratia_proto::text::multi_line(&text).into_owned();
        self.call("sendMessage", |api| {
            let req = api
                .send_message(chat, text.clone())
                .parse_mode(ParseMode::Html);
            let req = match &markup {
                Some(k) => req.reply_markup(k.clone()),
                None => req,
            };
            async move { req.await }
        })
        .await
    }

    /// Replaces a message's text (its buttons go away); whether Telegram took it.
    pub(super) async fn edit(&mut self, chat: ChatId, message: MessageId, text: String) -> bool {
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

    /// Sends a message to every obeyed chat (in chat order); the messages that went out.
    pub(super) async fn send_to_all(
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
}
