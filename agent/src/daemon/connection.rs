//! The daemon's connection to the hub: connect with the server key, say hello (with the
//! sessions that still run), heartbeat at the interval the hub asks for, send what the
//! outbox holds, act on what the hub says; when the hub goes away, reconnect with a jittered
//! backoff, losing and duplicating nothing. With several hub URLs (replicas, comma-separated)
//! a failed or lost connection moves to the next one at once; the backoff starts after a
//! full round failed.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use orchestratia_proto::client::HubClient;
use orchestratia_proto::ws::{DAEMON_WS_PATH, DaemonToHub, Frame, HubToDaemon};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

use super::manager::Manager;
use super::outbox::{Out, Outbox};

/// The hub refused the server's key: retrying will not help.
#[derive(Debug, thiserror::Error)]
#[error("the hub refused this server's key ({0}); it may have been revoked: register again")]
pub struct KeyRefused(pub String);

/// A delay around `base`, between half and one and a half of it, so daemons that lost the same
/// hub do not all come back at once.
pub fn jittered(base: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let r = u16::from_le_bytes(b) as f64 / u16::MAX as f64;
    base.mul_f64(0.5 + r)
}

/// A connection shorter than this counts as a failed attempt: a hub that accepts and drops
/// daemons at once is not retried without a pause.
const STEADY: Duration = Duration::from_secs(5);

/// Runs until the key is refused (or the process stops). `hub_url` may list several URLs
/// separated by commas.
pub async fn run(
    hub_url: &str,
    api_key: &str,
    manager: Arc<Manager>,
    outbox: Arc<Outbox>,
) -> anyhow::Result<()> {
    let client = HubClient::new(hub_url, Some(api_key.to_string()));
    let urls = client.bases().len();
    let mut backoff = Duration::from_millis(500);
    let mut failing = false;
    // Attempts that failed in a row since the last steady connection.
    let mut failed = 0usize;
    loop {
        let hub = client.base().to_string();
        match connect(&client.ws_url(DAEMON_WS_PATH), api_key).await {
            Ok(ws) => {
                if failing {
                    tracing::info!(%hub, "connected again");
                } else {
                    tracing::info!(%hub, "connected");
                }
                failing = false;
                let since = tokio::time::Instant::now();
                serve(ws, &manager, &outbox).await;
                tracing::warn!(%hub, "lost the hub; reconnecting");
                if since.elapsed() >= STEADY {
                    failed = 0;
                    backoff = Duration::from_millis(500);
                }
            }
            Err(ConnectError::Refused(why)) => return Err(KeyRefused(why).into()),
            Err(ConnectError::Other(why)) => {
                if !failing {
                    tracing::warn!(%hub, error = %why, "cannot reach the hub; retrying");
                    failing = true;
                } else {
                    tracing::debug!(%hub, error = %why, "still cannot reach the hub");
                }
            }
        }
        failed += 1;
        client.rotate_from(&hub);
        if !failed.is_multiple_of(urls.max(1)) {
            continue;
        }
        tokio::time::sleep(jittered(backoff)).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

enum ConnectError {
    Refused(String),
    Other(String),
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, api_key: &str) -> Result<Ws, ConnectError> {
    let mut req = url
        .into_client_request()
        .map_err(|e| ConnectError::Other(e.to_string()))?;
    let auth = format!("Bearer {api_key}")
        .parse()
        .map_err(|_| ConnectError::Refused("the key is not a valid header".into()))?;
    req.headers_mut().insert("Authorization", auth);
    let connecting = tokio_tungstenite::connect_async(req);
    match tokio::time::timeout(Duration::from_secs(15), connecting).await {
        Err(_) => Err(ConnectError::Other("timed out".into())),
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(tungstenite::Error::Http(resp))) if resp.status() == 401 || resp.status() == 403 => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err(ConnectError::Refused(format!(
                "HTTP {}: {body}",
                resp.status()
            )))
        }
        Ok(Err(e)) => Err(ConnectError::Other(e.to_string())),
    }
}

fn text(m: &DaemonToHub) -> Message {
    Message::Text(serde_json::to_string(m).unwrap_or_default().into())
}

fn encode(out: &Out) -> Message {
    match out {
        Out::Control(m) => text(m),
        Out::Frame(f) => Message::Binary(f.encode().into()),
    }
}

async fn serve(ws: Ws, manager: &Arc<Manager>, outbox: &Arc<Outbox>) {
    let (mut sink, mut stream) = ws.split();
    let hello = DaemonToHub::Hello {
        version: orchestratia_proto::VERSION.into(),
        sessions: manager.running(),
    };
    if sink.send(text(&hello)).await.is_err() {
        return;
    }
    // Output the last hub did not confirm stored goes first, in order.
    outbox.resend_unacked();
    manager.report_workspaces();
    for (session_id, bytes) in outbox.take_lost() {
        tracing::warn!(%session_id, bytes, "output dropped while the hub was away");
        outbox.control(DaemonToHub::OutputLost { session_id, bytes });
        manager.keyframe(session_id);
    }
    let mut beat = tokio::time::interval(Duration::from_secs(30));
    beat.tick().await;
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let Some(Ok(msg)) = incoming else { return };
                match msg {
                    Message::Text(t) => match serde_json::from_str::<HubToDaemon>(t.as_str()) {
                        Ok(HubToDaemon::Welcome { heartbeat_interval_ms, name, .. }) => {
                            tracing::info!(server = %name, every_ms = heartbeat_interval_ms, "welcomed");
                            beat = tokio::time::interval(Duration::from_millis(heartbeat_interval_ms.max(100)));
                            beat.tick().await;
                        }
                        Ok(m) => manager.dispatch(m),
                        Err(e) => tracing::warn!(error = %e, "unreadable message from the hub"),
                    },
                    Message::Binary(b) => {
                        if let Some(f) = Frame::decode(&b) {
                            manager.input(f);
                        }
                    }
                    Message::Close(_) => return,
                    _ => {}
                }
            }
            _ = outbox.ready() => {
                while let Some(out) = outbox.pop() {
                    if sink.send(encode(&out)).await.is_err() {
                        outbox.unpop(out);
                        return;
                    }
                }
            }
            _ = beat.tick() => {
                let hb = DaemonToHub::Heartbeat { sessions: manager.running() };
                if sink.send(text(&hb)).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_around_the_base() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(2));
            assert!(
                d >= Duration::from_secs(1) && d <= Duration::from_secs(3),
                "{d:?}"
            );
        }
    }
}
