//! A fake Telegram Bot API on loopback, for the bot's tests (Telegram's servers cannot be
//! reached here). It serves `getUpdates` (long-poll, from a queue the test fills),
//! `sendMessage`, `editMessageText` and `answerCallbackQuery`, keeps every message's current
//! text, records every call, and answers 429 with `retry_after` when told to.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// One call the bot made.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub params: Value,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    updates: Vec<Value>,
    next_update: i64,
    next_message: i64,
    calls: Vec<Call>,
    /// method → retry_after answers still to give.
    fail: HashMap<String, VecDeque<u64>>,
    /// (chat, message) → its current text.
    texts: HashMap<(i64, i64), String>,
}

type Shared = Arc<(Mutex<Inner>, Notify)>;

/// The fake server; dropped, it stops.
pub struct FakeTelegram {
    /// Pass as `--telegram-api-url`.
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn user(name: &str) -> Value {
    json!({"id": 7000 + name.len() as i64, "is_bot": false, "first_name": name, "username": name})
}

fn chat(id: i64) -> Value {
    json!({"id": id, "type": "private", "first_name": "chat"})
}

impl FakeTelegram {
    pub async fn start() -> FakeTelegram {
        let shared: Shared = Arc::new((
            Mutex::new(Inner {
                next_update: 1,
                next_message: 1000,
                ..Default::default()
            }),
            Notify::new(),
        ));
        let app = axum::Router::new()
            .route("/{bot}/{method}", post(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake telegram");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTelegram { url, shared, task }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, kind: &str, body: Value) {
        let mut i = self.inner();
        let id = i.next_update;
        i.next_update += 1;
        i.updates.push(json!({"update_id": id, kind: body}));
        drop(i);
        self.shared.1.notify_waiters();
    }

    fn message(&self, chat_id: i64, from: &str, text: &str, reply_to: Option<i64>) -> i64 {
        let id = {
            let mut i = self.inner();
            i.next_message += 1;
            i.next_message
        };
        let mut m = json!({
            "message_id": id, "date": 0, "chat": chat(chat_id), "from": user(from), "text": text,
        });
        if let Some(r) = reply_to {
            let original = self.text(chat_id, r).unwrap_or_default();
            m["reply_to_message"] = json!({
                "message_id": r, "date": 0, "chat": chat(chat_id),
                "from": {"id": 1, "is_bot": true, "first_name": "bot"}, "text": original,
            });
        }
        self.push("message", m);
        id
    }

    /// A user writes in a chat.
    pub fn say(&self, chat_id: i64, from: &str, text: &str) {
        self.message(chat_id, from, text, None);
    }

    /// A user replies to one of the bot's messages.
    pub fn reply(&self, chat_id: i64, from: &str, text: &str, to: i64) {
        self.message(chat_id, from, text, Some(to));
    }

    /// A user taps a button of one of the bot's messages.
    pub fn tap(&self, chat_id: i64, from: &str, message: i64, data: &str) {
        let n = self.inner().next_update;
        self.push(
            "callback_query",
            json!({
                "id": format!("cb-{n}"), "from": user(from), "chat_instance": "ci", "data": data,
                "message": {"message_id": message, "date": 0, "chat": chat(chat_id),
                            "text": self.text(chat_id, message).unwrap_or_default()},
            }),
        );
    }

    /// The next `count` calls of `method` are answered 429 with this `retry_after`.
    pub fn fail_next(&self, method: &str, count: usize, retry_after: u64) {
        let mut i = self.inner();
        let q = i.fail.entry(method.to_string()).or_default();
        for _ in 0..count {
            q.push_back(retry_after);
        }
    }

    /// Every call of `method` so far.
    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.inner()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// A message's current text.
    pub fn text(&self, chat_id: i64, message: i64) -> Option<String> {
        self.inner().texts.get(&(chat_id, message)).cloned()
    }

    /// The messages the bot sent to a chat, oldest first: (id, current text, buttons' data).
    pub fn sent(&self, chat_id: i64) -> Vec<(i64, String, Vec<String>)> {
        let i = self.inner();
        i.calls
            .iter()
            .filter(|c| c.method == "sendMessage" && c.params.get("_id").is_some())
            .filter(|c| chat_of(&c.params) == chat_id)
            .map(|c| {
                let id = c.params["_id"].as_i64().unwrap_or_default();
                let buttons = c.params["reply_markup"]["inline_keyboard"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|row| row.as_array().into_iter().flatten())
                    .filter_map(|b| b["callback_data"].as_str().map(str::to_string))
                    .collect();
                (
                    id,
                    i.texts.get(&(chat_id, id)).cloned().unwrap_or_default(),
                    buttons,
                )
            })
            .collect()
    }

    /// Waits until `f` finds what it looks for in the fake's state.
    pub async fn until<T>(
        &self,
        what: &str,
        secs: u64,
        f: impl Fn(&FakeTelegram) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn chat_of(params: &Value) -> i64 {
    match &params["chat_id"] {
        Value::Number(n) => n.as_i64().unwrap_or_default(),
        Value::String(s) => s.parse().unwrap_or_default(),
        _ => 0,
    }
}

fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

/// One Bot API call: a 429 if one is queued for its method, else its answer.
async fn handle(
    State(shared): State<Shared>,
    Path((_bot, method)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Response {
    let params = body.map(|b| b.0).unwrap_or(Value::Null);
    let method = documented_name(method);
    if let Some(after) = queued_retry(&shared, &method, &params) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({
                "ok": false, "error_code": 429,
                "description": format!("Too Many Requests: retry after {after}"),
                "parameters": {"retry_after": after},
            })),
        )
            .into_response();
    }
    match method.as_str() {
        "getUpdates" => get_updates(&shared, &params).await,
        "sendMessage" | "editMessageText" => message(&shared, method, params),
        _ => {
            let mut i = shared.0.lock().unwrap_or_else(|e| e.into_inner());
            i.calls.push(Call {
                method,
                params,
                at: Instant::now(),
            });
            ok(json!(true))
        }
    }
}

/// Method names are case-insensitive (teloxide sends `SendMessage`): they are recorded as the
/// Bot API documents them.
fn documented_name(method: String) -> String {
    match method.to_ascii_lowercase().as_str() {
        "getupdates" => "getUpdates".to_string(),
        "sendmessage" => "sendMessage".to_string(),
        "editmessagetext" => "editMessageText".to_string(),
        "answercallbackquery" => "answerCallbackQuery".to_string(),
        _ => method,
    }
}

/// The `retry_after` of a 429 the test queued for `method`, taken (the call is recorded as
/// `METHOD:429`).
fn queued_retry(shared: &Shared, method: &str, params: &Value) -> Option<u64> {
    let mut i = shared.0.lock().unwrap_or_else(|e| e.into_inner());
    let retry = i.fail.get_mut(method).and_then(|q| q.pop_front());
    if retry.is_some() {
        i.calls.push(Call {
            method: format!("{method}:429"),
            params: params.clone(),
            at: Instant::now(),
        });
    }
    retry
}

/// `getUpdates`: the updates from `offset` on, waiting (up to 1 s) for one if there is none.
async fn get_updates(shared: &Shared, params: &Value) -> Response {
    let offset = params["offset"].as_i64().unwrap_or(0);
    let wait = params["timeout"].as_u64().unwrap_or(0).min(1);
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        let notified = shared.1.notified();
        let ready: Vec<Value> = {
            let i = shared.0.lock().unwrap_or_else(|e| e.into_inner());
            i.updates
                .iter()
                .filter(|u| u["update_id"].as_i64().unwrap_or(0) >= offset)
                .cloned()
                .collect()
        };
        if !ready.is_empty() || Instant::now() >= deadline {
            return ok(Value::Array(ready));
        }
        let _ = tokio::time::timeout_at(deadline.into(), notified).await;
    }
}

/// `sendMessage` (a new message id) or `editMessageText`: the message's text is kept.
fn message(shared: &Shared, method: String, mut params: Value) -> Response {
    let mut i = shared.0.lock().unwrap_or_else(|e| e.into_inner());
    let chat_id = chat_of(&params);
    let id = if method == "sendMessage" {
        i.next_message += 1;
        params["_id"] = json!(i.next_message);
        i.next_message
    } else {
        params["message_id"].as_i64().unwrap_or_default()
    };
    let text = params["text"].as_str().unwrap_or_default().to_string();
    i.texts.insert((chat_id, id), text.clone());
    i.calls.push(Call {
        method,
        params,
        at: Instant::now(),
    });
    ok(
        json!({"message_id": id, "date": 0, "chat": chat(chat_id), "text": text,
              "from": {"id": 1, "is_bot": true, "first_name": "bot"}}),
    )
}
