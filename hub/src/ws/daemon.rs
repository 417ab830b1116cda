//! The daemon socket: after the upgrade the hub sends `welcome`, the daemon answers `hello`
//! with the sessions it still runs, then heartbeats and session reports flow in and commands
//! flow out. Terminal output arrives as binary frames.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use orchestratia_proto::ws::{DaemonToHub, Frame, FrameKind, HubToDaemon};
use uuid::Uuid;

use crate::auth::Principal;
use crate::connections::Outbound;
use crate::error::HubError;
use crate::service::Hub;

/// Upgrades a request with a server key to the daemon protocol.
pub async fn upgrade(
    State(hub): State<Hub>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let p = match hub.authenticate(super::bearer(&headers)).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Principal::Server {
        server_id, name, ..
    } = p
    else {
        return HubError::Forbidden("the daemon socket needs a server key (orc_…)".into())
            .into_response();
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            return HubError::BadRequest(format!("not a WebSocket upgrade: {}", e.body_text()))
                .into_response();
        }
    };
    ws.max_message_size(16 * 1024 * 1024)
        .read_buffer_size(super::READ_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move { run(hub, server_id, name, socket).await })
}

/// A close frame's reason is at most 123 bytes: cut at a character boundary below that.
fn close_reason(text: &str) -> Utf8Bytes {
    let mut end = text.len().min(120);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Utf8Bytes::from(&text[..end])
}

async fn run(hub: Hub, server_id: Uuid, name: String, socket: WebSocket) {
    let (sink, mut stream) = socket.split();
    let link = hub.daemons.register(server_id);
    // Session starts of sessions made after this reached this connection: a hello does not
    // send them again (see `Hub::daemon_connected`).
    let connected_at = orchestratia_proto::time::now_ms();
    let (conn_id, mut outgoing) = (link.conn_id, link.outgoing);
    tracing::info!(server = %name, "daemon connected");
    let mut conn = DaemonSocket {
        hub: &hub,
        server_id,
        name,
        connected_at,
        // Every write is bounded: a daemon that stops reading is dropped, not waited for.
        send_timeout: hub.config.limits.ws_send_timeout,
        known_sessions: HashSet::new(),
        sink,
    };
    if !conn.send_welcome().await {
        hub.daemons.unregister(server_id, conn_id);
        return;
    }
    loop {
        let step = tokio::select! {
            _ = hub.shutting_down() => conn.close(super::restarting(), super::CLOSE_TIMEOUT).await,
            () = link.overflow.notified() => {
                let close = Message::Close(Some(CloseFrame { code: 4002, reason: "message queue full: reconnect".into() }));
                conn.close(close, super::CLOSE_TIMEOUT).await
            }
            out = outgoing.recv() => conn.forward(out).await,
            incoming = stream.next() => conn.receive(incoming).await,
        };
        if step.is_break() {
            break;
        }
    }
    if hub.daemons.unregister(server_id, conn_id) {
        // Requests it was asked fail now, not after their wait.
        hub.daemons.replies.drop_server(server_id);
    }
    tracing::info!(server = %conn.name, "daemon disconnected");
}

/// One daemon's socket as the hub writes to it, with what it knows of the daemon.
struct DaemonSocket<'a> {
    hub: &'a Hub,
    server_id: Uuid,
    name: String,
    connected_at: i64,
    send_timeout: Duration,
    /// Sessions this connection's binary frames named and the hub found (see
    /// `Hub::session_frame`).
    known_sessions: HashSet<Uuid>,
    sink: SplitSink<WebSocket, Message>,
}

impl DaemonSocket<'_> {
    /// Sends `welcome` with the heartbeat timing; false when the daemon did not take it.
    async fn send_welcome(&mut self) -> bool {
        let welcome = HubToDaemon::Welcome {
            server_id: self.server_id,
            name: self.name.clone(),
            heartbeat_interval_ms: self.hub.config.heartbeat_interval.as_millis() as u64,
            offline_after_ms: self.hub.config.offline_after.as_millis() as u64,
        };
        let Ok(text) = serde_json::to_string(&welcome) else {
            return true;
        };
        matches!(
            tokio::time::timeout(
                self.send_timeout,
                self.sink.send(Message::Text(text.into()))
            )
            .await,
            Ok(Ok(()))
        )
    }

    /// Sends a close frame (waiting at most `wait`); the connection ends.
    async fn close(&mut self, close: Message, wait: Duration) -> ControlFlow<()> {
        let _ = tokio::time::timeout(wait, self.sink.send(close)).await;
        ControlFlow::Break(())
    }

    /// Writes one queued message to the daemon; stops when the queue closed, asked to close
    /// the socket, or the daemon does not take the message in time.
    async fn forward(&mut self, out: Option<Outbound>) -> ControlFlow<()> {
        let msg = match out {
            Some(Outbound::Text(t)) => Message::Text(t.into()),
            Some(Outbound::Binary(b)) => Message::Binary(b.into()),
            Some(Outbound::Close(reason)) => {
                let close = Message::Close(Some(CloseFrame {
                    code: 4001,
                    reason: close_reason(&reason),
                }));
                return self.close(close, self.send_timeout).await;
            }
            None => return ControlFlow::Break(()),
        };
        match tokio::time::timeout(self.send_timeout, self.sink.send(msg)).await {
            Ok(Ok(())) => ControlFlow::Continue(()),
            Ok(Err(_)) => ControlFlow::Break(()),
            Err(_) => {
                tracing::warn!(server = %self.name, "daemon stopped reading: dropping the connection");
                ControlFlow::Break(())
            }
        }
    }

    /// Handles one message from the daemon: a JSON report or a terminal output frame.
    async fn receive(&mut self, incoming: Option<Result<Message, axum::Error>>) -> ControlFlow<()> {
        let Some(Ok(msg)) = incoming else {
            return ControlFlow::Break(());
        };
        let mut hello = false;
        let result = match msg {
            Message::Text(t) => match serde_json::from_str::<DaemonToHub>(t.as_str()) {
                Ok(m) => {
                    hello = matches!(m, DaemonToHub::Hello { .. });
                    handle(self.hub, self.server_id, self.connected_at, m).await
                }
                Err(e) => Err(HubError::BadRequest(format!("unreadable message: {e}"))),
            },
            Message::Binary(b) => match Frame::decode(&b) {
                Some(f) if f.kind == FrameKind::Output || f.kind == FrameKind::Keyframe => {
                    self.hub
                        .session_frame(self.server_id, f, &b, &mut self.known_sessions)
                        .await
                }
                _ => Err(HubError::BadRequest("unreadable binary frame".into())),
            },
            Message::Close(_) => return ControlFlow::Break(()),
            _ => Ok(()),
        };
        match result {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => self.refuse(e, hello).await,
        }
    }

    /// Tells the daemon why its message was refused. A refused hello leaves the daemon out of
    /// sync: the socket closes and the daemon reconnects.
    async fn refuse(&mut self, e: HubError, hello: bool) -> ControlFlow<()> {
        tracing::warn!(server = %self.name, error = %e, "daemon message refused");
        let err = HubToDaemon::Error {
            error: e.word().into(),
            detail: e.to_string(),
        };
        if let Ok(text) = serde_json::to_string(&err) {
            let send = self.sink.send(Message::Text(text.into()));
            if tokio::time::timeout(Duration::from_secs(5), send)
                .await
                .is_err()
            {
                return ControlFlow::Break(());
            }
        }
        if hello {
            let close = Message::Close(Some(CloseFrame {
                code: 1008,
                reason: close_reason(&e.to_string()),
            }));
            return self.close(close, Duration::from_secs(5)).await;
        }
        ControlFlow::Continue(())
    }
}

async fn handle(
    hub: &Hub,
    server: Uuid,
    connected_at: i64,
    m: DaemonToHub,
) -> Result<(), HubError> {
    match m {
        DaemonToHub::Hello { sessions, .. } => {
            hub.daemon_connected(server, &sessions, connected_at).await
        }
        DaemonToHub::Heartbeat { .. } => {
            let started = std::time::Instant::now();
            let done = hub.daemon_heartbeat(server).await;
            hub.metrics.heartbeat(started.elapsed());
            done
        }
        DaemonToHub::SessionActive {
            session_id,
            pid,
            tmux,
            hooks,
        } => {
            hub.session_active(server, session_id, pid, tmux.as_deref(), hooks)
                .await
        }
        DaemonToHub::SessionRecovered {
            session_id,
            tmux,
            how,
        } => {
            hub.session_recovered(server, session_id, &tmux, how.as_deref())
                .await
        }
        DaemonToHub::SessionEnded {
            session_id,
            exit_code,
            last_screen,
            reason,
        } => {
            hub.session_ended(
                server,
                session_id,
                exit_code,
                last_screen.as_deref(),
                reason.as_deref(),
            )
            .await
        }
        DaemonToHub::SessionWarning {
            session_id,
            message,
        } => hub.session_warning(server, session_id, &message).await,
        DaemonToHub::SessionScreen {
            session_id,
            lines,
            cols,
            rows,
        } => {
            hub.session_screen(server, session_id, lines, cols, rows)
                .await
        }
        DaemonToHub::OutputLost { session_id, bytes } => {
            tracing::warn!(%session_id, bytes, "daemon dropped output while the hub was away");
            Ok(())
        }
        DaemonToHub::WorkspaceReport { report } => hub.workspace_reported(server, &report).await,
        DaemonToHub::WorkspaceReply { request_id, answer } => {
            hub.workspace_reply(server, request_id, answer);
            Ok(())
        }
        DaemonToHub::Usage { session_id, usage } => {
            hub.record_usage(server, session_id, &usage).await
        }
    }
}
