//! The daemon socket: after the upgrade the hub sends `welcome`, the daemon answers `hello`
//! with the sessions it still runs, then heartbeats and session reports flow in and commands
//! flow out. Terminal output arrives as binary frames.

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
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
    let (mut sink, mut stream) = socket.split();
    let link = hub.daemons.register(server_id);
    // Session starts of sessions made after this reached this connection: a hello does not
    // send them again (see `Hub::daemon_connected`).
    let connected_at = orchestratia_proto::time::now_ms();
    let (conn_id, mut outbox) = (link.conn_id, link.outbox);
    // Every write is bounded: a daemon that stops reading is dropped, not waited for.
    let send_timeout = hub.config.limits.ws_send_timeout;
    tracing::info!(server = %name, "daemon connected");
    let welcome = HubToDaemon::Welcome {
        server_id,
        name: name.clone(),
        heartbeat_interval_ms: hub.config.heartbeat_interval.as_millis() as u64,
        offline_after_ms: hub.config.offline_after.as_millis() as u64,
    };
    if let Ok(text) = serde_json::to_string(&welcome)
        && !matches!(
            tokio::time::timeout(send_timeout, sink.send(Message::Text(text.into()))).await,
            Ok(Ok(()))
        )
    {
        hub.daemons.unregister(server_id, conn_id);
        return;
    }
    let mut known_sessions: HashSet<Uuid> = HashSet::new();
    loop {
        tokio::select! {
            _ = hub.shutting_down() => {
                let _ = tokio::time::timeout(super::CLOSE_TIMEOUT, sink.send(super::restarting())).await;
                break;
            }
            () = link.overflow.notified() => {
                let close = Message::Close(Some(CloseFrame { code: 4002, reason: "message queue full: reconnect".into() }));
                let _ = tokio::time::timeout(super::CLOSE_TIMEOUT, sink.send(close)).await;
                break;
            }
            out = outbox.recv() => {
                let msg = match out {
                    Some(Outbound::Text(t)) => Message::Text(t.into()),
                    Some(Outbound::Binary(b)) => Message::Binary(b.into()),
                    Some(Outbound::Close(reason)) => {
                        let close = Message::Close(Some(CloseFrame { code: 4001, reason: close_reason(&reason) }));
                        let _ = tokio::time::timeout(send_timeout, sink.send(close)).await;
                        break;
                    }
                    None => break,
                };
                match tokio::time::timeout(send_timeout, sink.send(msg)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break,
                    Err(_) => {
                        tracing::warn!(server = %name, "daemon stopped reading: dropping the connection");
                        break;
                    }
                }
            }
            incoming = stream.next() => {
                let Some(Ok(msg)) = incoming else { break };
                let mut hello = false;
                let result = match msg {
                    Message::Text(t) => match serde_json::from_str::<DaemonToHub>(t.as_str()) {
                        Ok(m) => {
                            hello = matches!(m, DaemonToHub::Hello { .. });
                            handle(&hub, server_id, connected_at, m).await
                        }
                        Err(e) => Err(HubError::BadRequest(format!("unreadable message: {e}"))),
                    },
                    Message::Binary(b) => match Frame::decode(&b) {
                        Some(f) if f.kind == FrameKind::Output || f.kind == FrameKind::Keyframe => {
                            hub.session_frame(server_id, f, &b, &mut known_sessions).await
                        }
                        _ => Err(HubError::BadRequest("unreadable binary frame".into())),
                    },
                    Message::Close(_) => break,
                    _ => Ok(()),
                };
                if let Err(e) = result {
                    tracing::warn!(server = %name, error = %e, "daemon message refused");
                    let err = HubToDaemon::Error { error: e.word().into(), detail: e.to_string() };
                    if let Ok(text) = serde_json::to_string(&err) {
                        let send = sink.send(Message::Text(text.into()));
                        if tokio::time::timeout(Duration::from_secs(5), send).await.is_err() {
                            break;
                        }
                    }
                    // A refused hello leaves the daemon out of sync: close, it reconnects.
                    if hello {
                        let close = Message::Close(Some(CloseFrame { code: 1008, reason: close_reason(&e.to_string()) }));
                        let _ = tokio::time::timeout(Duration::from_secs(5), sink.send(close)).await;
                        break;
                    }
                }
            }
        }
    }
    hub.daemons.unregister(server_id, conn_id);
    tracing::info!(server = %name, "daemon disconnected");
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
        DaemonToHub::Heartbeat { .. } => hub.daemon_heartbeat(server).await,
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
    }
}
