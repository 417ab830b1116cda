//! The Telegram bot: the admin follows the pipeline from a phone and answers what waits for a
//! human. It runs in the hub's process on tasks of its own: a poller that long-polls
//! `getUpdates`, and the bot, which reads updates and the hub's event bus. Telegram being slow
//! or away never holds up the hub: the bus is a broadcast the bot may lag behind, and every
//! call to Telegram retries with backoff (honouring 429's `retry_after`).
//!
//! Only the configured chats are obeyed; any other chat gets one polite refusal.
//!
//! - `transport`: the setup, the Bot API client, the `getUpdates` loop, the bot's main loop
//!   and every send or edit (through the escaping gate and the 429 wait).
//! - `screens`: the commands that show lists and cards (`/sessions`, `/tasks`, `/task`,
//!   `/inbox`, `/help`).
//! - `focus`: following one session's screen live (`/focus`, `/unfocus`).
//! - `decisions`: the buttons that allow/deny a tool call and approve/reject a plan (their
//!   typed callback data), replies that answer a question, and closing a decided message.
//! - `proposals`: "allow always…"/"deny always…": a rule proposed from a request, its
//!   pattern edited by a reply, then saved.
//! - `reminders`: what waits for a human too long is announced again, once.
//! - `notifications`: the hub's events turned into messages.
//! - `render`: every text the bot sends, as pure functions of the hub's data.

mod decisions;
mod focus;
mod notifications;
mod proposals;
mod reminders;
pub mod render;
mod screens;
mod transport;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use teloxide::types::{ChatId, MessageId};
use tokio::time::Instant;
use uuid::Uuid;

use crate::service::Hub;

pub use transport::{TelegramConfig, spawn};

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

/// The bot's state: the hub it serves, the chats it obeys, and what its messages show.
struct Bot {
    hub: Hub,
    api: teloxide::Bot,
    chats: HashSet<i64>,
    refused: HashSet<i64>,
    focus: HashMap<i64, Focus>,
    /// Question messages (chat, message) → the intervention a reply answers.
    questions: HashMap<(i64, i32), Uuid>,
    /// A decision waiting for a human → the messages that show it.
    decisions: HashMap<decisions::Decision, Vec<Tracked>>,
    /// Rules proposed from permission requests, not saved yet, by their short key.
    proposals: HashMap<u64, proposals::Proposal>,
    /// Pattern prompts (chat, message) → the proposal a reply edits.
    prompts: HashMap<(i64, i32), u64>,
    /// Projects whose "pipeline finished" went out.
    finished: HashSet<Uuid>,
    /// No call to Telegram before this (a 429's `retry_after`).
    not_before: Instant,
    screen_every: Duration,
    unreachable: bool,
}
