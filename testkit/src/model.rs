//! A scripted fake of the Anthropic Messages API on loopback, for running the real Claude Code
//! CLI with no network: `ANTHROPIC_BASE_URL` points at it. Each conversation follows a script
//! chosen by a key its prompt contains (a task's `# T1:` heading, say); the reply to a request
//! is the script's step numbered by how many assistant turns the conversation already has, so
//! a resumed conversation carries on where it stopped. Replies stream as Server-Sent Events,
//! as the real API's do. Every request is recorded for the test to read.
//!
//! Claude Code also asks, once per session and with no tools, for a title: that gets a short
//! JSON text and is no step of any script.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// One reply of the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A Bash tool call (`stop_reason: tool_use`).
    Bash(String),
    /// Text that ends the turn (`stop_reason: end_turn`).
    Text(String),
}

#[derive(Default)]
struct Inner {
    scripts: Vec<(String, Vec<Step>)>,
    requests: Vec<Value>,
}

/// The fake API server; stopped when dropped.
pub struct FakeModel {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    task: JoinHandle<()>,
}

impl FakeModel {
    /// Starts the server on a free loopback port.
    pub async fn start() -> FakeModel {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/", get(|| async { "fake Anthropic API" }))
            .route("/v1/messages", post(post_messages))
            .route("/v1/messages/count_tokens", post(count_tokens))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake model");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeModel { url, inner, task }
    }

    /// The conversation whose messages contain `key` follows `steps`.
    pub fn script(&self, key: &str, steps: Vec<Step>) {
        self.lock().scripts.push((key.to_string(), steps));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every conversation request (with tools) whose messages contain `key`, in order.
    pub fn requests(&self, key: &str) -> Vec<Value> {
        self.lock()
            .requests
            .iter()
            .filter(|r| has_tools(r) && conversation_text(r).contains(key))
            .cloned()
            .collect()
    }

    /// The texts the model received from tools (`tool_result` content) in the conversation
    /// with `key`, from its latest request.
    pub fn tool_results(&self, key: &str) -> Vec<String> {
        self.requests(key)
            .last()
            .map(|r| blocks(r, "tool_result"))
            .unwrap_or_default()
    }

    /// The user texts (prompts) of the conversation with `key`, from its latest request.
    pub fn user_texts(&self, key: &str) -> Vec<String> {
        self.requests(key)
            .last()
            .map(|r| {
                messages(r)
                    .iter()
                    .filter(|m| m["role"] == "user")
                    .flat_map(|m| match &m["content"] {
                        Value::String(s) => vec![s.clone()],
                        Value::Array(a) => a
                            .iter()
                            .filter(|b| b["type"] == "text")
                            .filter_map(|b| b["text"].as_str().map(str::to_string))
                            .collect(),
                        _ => Vec::new(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn has_tools(r: &Value) -> bool {
    r["tools"].as_array().is_some_and(|t| !t.is_empty())
}

fn messages(r: &Value) -> Vec<Value> {
    r["messages"].as_array().cloned().unwrap_or_default()
}

/// All text of a request's messages (for matching a script's key).
fn conversation_text(r: &Value) -> String {
    messages(r)
        .iter()
        .map(|m| m["content"].to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text of every block of `kind` in a request's messages.
fn blocks(r: &Value, kind: &str) -> Vec<String> {
    messages(r)
        .iter()
        .filter_map(|m| m["content"].as_array().cloned())
        .flatten()
        .filter(|b| b["type"] == kind)
        .map(|b| match &b["content"] {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            other => other.to_string(),
        })
        .collect()
}

async fn count_tokens() -> axum::Json<Value> {
    axum::Json(json!({"input_tokens": 100}))
}

fn messages_reply(inner: &Mutex<Inner>, body: &Value) -> (Vec<Value>, &'static str) {
    let mut g = inner.lock().unwrap_or_else(|e| e.into_inner());
    g.requests.push(body.clone());
    if !has_tools(body) {
        let title = json!({"title": "Orchestratia task"}).to_string();
        return (vec![json!({"type": "text", "text": title})], "end_turn");
    }
    let text = conversation_text(body);
    let turn = messages(body)
        .iter()
        .filter(|m| m["role"] == "assistant")
        .count();
    let step = g
        .scripts
        .iter()
        .find(|(key, _)| text.contains(key.as_str()))
        .and_then(|(_, steps)| steps.get(turn).cloned())
        .unwrap_or_else(|| Step::Text("Nothing more to do.".into()));
    let id = format!("toolu_{turn:02}_{}", uuid::Uuid::new_v4().simple());
    match step {
        Step::Bash(command) => (
            vec![
                json!({"type": "tool_use", "id": id, "name": "Bash", "input": {"command": command, "description": "run a command"}}),
            ],
            "tool_use",
        ),
        Step::Text(t) => (vec![json!({"type": "text", "text": t})], "end_turn"),
    }
}

/// `POST /v1/messages`: the script's next step, streamed as the real API streams.
async fn post_messages(
    State(inner): State<Arc<Mutex<Inner>>>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body(Body::from(
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"not JSON"}}"#,
            ))
            .unwrap_or_default();
    };
    let (content, stop) = messages_reply(&inner, &req);
    let model = req["model"].as_str().unwrap_or("claude-fake").to_string();
    let mut sse = String::new();
    let mut event = |name: &str, data: Value| {
        sse.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    };
    event(
        "message_start",
        json!({"type": "message_start", "message": {"id": format!("msg_{}", uuid::Uuid::new_v4().simple()),
            "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 120, "output_tokens": 1, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}}}),
    );
    for (i, block) in content.iter().enumerate() {
        if block["type"] == "text" {
            event(
                "content_block_start",
                json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}),
            );
            event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": block["text"]}}),
            );
        } else {
            event(
                "content_block_start",
                json!({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}),
            );
            event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": block["input"].to_string()}}),
            );
        }
        event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": i}),
        );
    }
    event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 12}}),
    );
    event("message_stop", json!({"type": "message_stop"}));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from(sse))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn steps_follow_the_conversation() {
        let m = FakeModel::start().await;
        m.script(
            "# T1:",
            vec![Step::Bash("ls".into()), Step::Text("done".into())],
        );
        let http = reqwest_like(&m.url).await;
        assert!(http.contains("fake Anthropic API"));
        let first = json!({"model": "x", "tools": [{"name": "Bash"}], "messages": [
            {"role": "user", "content": "# T1: do it"}]});
        let (c, stop) = messages_reply(&m.inner, &first);
        assert_eq!((c[0]["name"].as_str(), stop), (Some("Bash"), "tool_use"));
        let second = json!({"model": "x", "tools": [{"name": "Bash"}], "messages": [
            {"role": "user", "content": "# T1: do it"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "file.txt"}]}]});
        let (c, stop) = messages_reply(&m.inner, &second);
        assert_eq!((c[0]["text"].as_str(), stop), (Some("done"), "end_turn"));
        let (c, _) = messages_reply(&m.inner, &json!({"messages": []}));
        assert!(c[0]["text"].as_str().unwrap_or_default().contains("title"));
        assert_eq!(m.tool_results("# T1:"), vec!["file.txt"]);
        assert_eq!(m.user_texts("# T1:"), vec!["# T1: do it"]);
        assert_eq!(
            m.requests("# T1:").len(),
            2,
            "the title request is not a step"
        );
    }

    /// `GET /` over a plain TCP connection (the testkit has no HTTP client of its own).
    async fn reqwest_like(url: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = url.trim_start_matches("http://");
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    }
}
