//! The console socket (admin): live events and screens as they happen; on `subscribe`, a
//! session's keyframe then its output chunks; keyboard input (binary frames) and resizes go
//! back to the session's daemon.

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use orchestratia_proto::ws::{ConsoleToHub, Frame, FrameKind, HubToConsole};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::bus::BusMessage;
use crate::connections::{CONSOLE_QUEUE, Outbound, next_conn_id};
use crate::error::HubError;
use crate::service::Hub;
use crate::service::console::ConsoleRefusal;

/// The initial read buffer of a console socket, in bytes.
const CONSOLE_READ_BUFFER: usize = 4 * 1024;
/// Bytes gathered before a console socket writes (each message is flushed anyway).
const CONSOLE_WRITE_BUFFER: usize = 8 * 1024;
/// Largest message a console may send, in bytes (keystrokes, pastes, commands).
const CONSOLE_MAX_MESSAGE: usize = 1024 * 1024;

/// Upgrades a request with an admin token to the console protocol.
pub async fn upgrade(
    State(hub): State<Hub>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match hub.authenticate(super::bearer(&headers)).await {
        Ok(p) => {
            if let Err(e) = p.require_admin("the console socket") {
                return e.into_response();
            }
        }
        Err(e) => return e.into_response(),
    }
    match ws {
        // An idle console should cost little: a small read buffer (it grows for a larger
        // message) instead of 128 KiB each, and input messages are keystrokes and commands.
        Ok(ws) => ws
            .read_buffer_size(CONSOLE_READ_BUFFER)
            .write_buffer_size(CONSOLE_WRITE_BUFFER)
            .max_message_size(CONSOLE_MAX_MESSAGE)
            .read_buffer_size(super::READ_BUFFER)
            .write_buffer_size(0)
            .on_upgrade(move |socket| async move { run(hub, socket).await }),
        Err(e) => HubError::BadRequest(format!("not a WebSocket upgrade: {}", e.body_text()))
            .into_response(),
    }
}

fn text(m: &HubToConsole) -> Option<Message> {
    serde_json::to_string(m)
        .ok()
        .map(|t| Message::Text(t.into()))
}

async fn run(hub: Hub, socket: WebSocket) {
    let console_id = next_conn_id();
    hub.metrics.console_opened();
    // Counted closed however this function returns.
    struct Closed<'a>(&'a Hub);
    impl Drop for Closed<'_> {
        fn drop(&mut self) {
            self.0.metrics.console_closed();
        }
    }
    let _closed = Closed(&hub);
    let (mut sink, mut stream) = socket.split();
    let (tx, mut frames) = mpsc::channel::<Outbound>(CONSOLE_QUEUE);
    // Every write is bounded: a console that stops reading is dropped, not waited for.
    let send_timeout = hub.config.limits.ws_send_timeout;
    let mut bus = hub.bus.subscribe();
    let cursor = hub.console_cursor().await;
    if let Some(m) = text(&HubToConsole::Hello { cursor })
        && !matches!(
            tokio::time::timeout(send_timeout, sink.send(m)).await,
            Ok(Ok(()))
        )
    {
        return;
    }
    loop {
        let out: Option<Message> = tokio::select! {
            _ = hub.shutting_down() => {
                let _ = tokio::time::timeout(super::CLOSE_TIMEOUT, sink.send(super::restarting())).await;
                break;
            }
            m = bus.recv() => match m {
                Ok(BusMessage::Event(e)) => text(&HubToConsole::Event { event: (*e).clone() }),
                Ok(BusMessage::Screen { session_id, task_id, lines, cols, rows }) => text(&HubToConsole::SessionScreen {
                    session_id, task_id, lines: (*lines).clone(), cols, rows,
                }),
                Ok(BusMessage::State { session_id, task_id, state }) => text(&HubToConsole::SessionState { session_id, task_id, state }),
                Err(RecvError::Lagged(missed)) => text(&HubToConsole::Resync { missed }),
                Err(RecvError::Closed) => break,
            },
            f = frames.recv() => match f {
                Some(Outbound::Binary(b)) => Some(Message::Binary(b.into())),
                Some(Outbound::Text(t)) => Some(Message::Text(t.into())),
                Some(Outbound::Close(_)) | None => break,
            },
            incoming = stream.next() => {
                let Some(Ok(msg)) = incoming else { break };
                match msg {
                    Message::Text(t) => match serde_json::from_str::<ConsoleToHub>(t.as_str()) {
                        Ok(m) => command(&hub, console_id, &tx, m).await,
                        Err(e) => text(&HubToConsole::Error { error: "bad_request".into(), detail: format!("unreadable message: {e}") }),
                    },
                    Message::Binary(b) => input(&hub, &b).await,
                    Message::Close(_) => break,
                    _ => None,
                }
            }
        };
        if let Some(m) = out {
            match tokio::time::timeout(send_timeout, sink.send(m)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    tracing::warn!("console stopped reading: dropping the connection");
                    break;
                }
            }
        }
    }
    hub.streams.drop_console(console_id);
}

async fn command(
    hub: &Hub,
    console_id: u64,
    tx: &mpsc::Sender<Outbound>,
    m: ConsoleToHub,
) -> Option<Message> {
    match m {
        ConsoleToHub::Subscribe { session_id } => {
            match hub.watch_session(console_id, tx, session_id).await {
                Ok(()) => None,
                Err(reason) => text(&HubToConsole::SessionUnavailable { session_id, reason }),
            }
        }
        ConsoleToHub::Unsubscribe { session_id } => {
            hub.streams.unsubscribe(session_id, console_id);
            None
        }
        ConsoleToHub::Resize {
            session_id,
            cols,
            rows,
        } => match hub.resize_session(session_id, cols, rows).await {
            Ok(()) => None,
            Err(ConsoleRefusal::Invalid(e)) => text(&HubToConsole::Error {
                error: e.word().into(),
                detail: e.to_string(),
            }),
            Err(ConsoleRefusal::Unavailable(reason)) => {
                text(&HubToConsole::SessionUnavailable { session_id, reason })
            }
        },
    }
}

/// Keyboard input for a session, passed on to its daemon.
async fn input(hub: &Hub, raw: &[u8]) -> Option<Message> {
    let Some(frame) = Frame::decode(raw).filter(|f| f.kind == FrameKind::Input) else {
        return text(&HubToConsole::Error {
            error: "bad_request".into(),
            detail: "unreadable binary frame".into(),
        });
    };
    match hub.type_into_session(&frame).await {
        Ok(()) => None,
        Err(reason) => text(&HubToConsole::SessionUnavailable {
            session_id: frame.session_id,
            reason,
        }),
    }
}
