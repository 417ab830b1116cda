//! Starting a hub replica and keeping it in step with the others: its identity lock, the
//! task that writes its envelopes as NOTIFYs, the listener that acts on the others', and the
//! report that tells `GET /status` (and the others) it is alive and what it holds.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use orchestratia_proto::time::now_ms;
use orchestratia_proto::ws::Frame;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::BusMessage;
use super::link::Link;
use super::wire::{CHANNEL, Cache, Envelope, Wire};
use crate::service::Hub;
use crate::store::replicas::{self, ALIVE_WITHIN_MS, ReplicaReport};
use crate::store::{self, BusListener, Notifier, ReplicaLock, Store};

/// How often a replica reports itself and looks for replicas that died.
pub const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Stored bus messages are kept this long (every replica has read them by then).
const PAYLOAD_KEPT_MS: i64 = 5 * 60 * 1000;

/// Checks that replica `id` can run on `store`: PostgreSQL, and no other process running as
/// `id` (waiting up to `wait` for one that just died to let go). Its lock, held for life.
pub async fn claim(store: &Store, id: &str, wait: Duration) -> anyhow::Result<ReplicaLock> {
    if store.backend() != store::Backend::Postgres {
        anyhow::bail!(
            "--replica-id needs PostgreSQL: replicas share one postgres:// database (SQLite serves one hub)"
        );
    }
    check_id(id)?;
    ReplicaLock::acquire(store, id, wait)
        .await
        .context("taking the replica's lock")?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "another process is already running as replica '{id}': give each replica its own --replica-id"
            )
        })
}

/// A replica id is a short name people type: letters, digits, `-`, `_` and `.`.
fn check_id(id: &str) -> anyhow::Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        anyhow::bail!("--replica-id must be 1 to 64 letters, digits, '-', '_' or '.' (got {id:?})");
    }
    Ok(())
}

/// Joins `hub` to the other replicas: listens first (so nothing said from now on is missed),
/// attaches the link to the bus and the connections, says it started, and keeps reporting.
pub async fn start(hub: &Hub, id: &str, lock: ReplicaLock) -> anyhow::Result<()> {
    let mut listener = BusListener::connect(&hub.store, CHANNEL)
        .await
        .context("listening for the other replicas")?;
    let (link, queue) = Link::new(id);
    let link = Arc::new(link);
    hub.bus.attach(link.clone());
    hub.daemons.attach(link.clone());
    hub.streams.attach(link.clone());
    report(hub, id, true)
        .await
        .context("reporting the replica")?;
    tokio::spawn(send_all(hub.store.clone(), queue));
    link.send(None, Wire::Started);
    let me = id.to_string();
    let h = hub.clone();
    tokio::spawn(async move {
        let mut stop = h.shutdown_flag();
        loop {
            let got = tokio::select! {
                got = listener.recv() => got,
                _ = stop.changed() => break,
            };
            match got {
                Ok(Some(text)) => receive(&h, &me, &text, &mut listener).await,
                Ok(None) => {
                    // The connection dropped (and reconnects): what was said meanwhile is
                    // lost. Ask the others what they hold; followers re-read the store.
                    tracing::warn!("lost the bus listener's connection; resyncing");
                    if let Some(link) = h.bus.link() {
                        link.send(None, Wire::Started);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "bus listener failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
    tokio::spawn(keep_reporting(hub.clone(), id.to_string(), lock));
    Ok(())
}

/// Envelopes sent in one statement at most.
const BATCH: usize = 64;

/// Writes queued envelopes as notifications, in order, a batch of what is queued at a time;
/// one too large goes by reference.
async fn send_all(store: Store, mut queue: mpsc::Receiver<Envelope>) {
    let mut notifier = Notifier::new(store.clone());
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let mut texts = Vec::with_capacity(batch.len());
        for env in batch.drain(..) {
            match encode(&mut notifier, &env).await {
                Ok(t) => texts.push(t),
                Err(e) => tracing::warn!(error = %e, "could not encode a bus message"),
            }
        }
        if let Err(e) = notifier.notify(CHANNEL, &texts).await {
            tracing::warn!(error = %e, lost = texts.len(), "could not tell the other replicas");
        }
    }
}

/// The text to notify: the envelope, or a reference to it once stored.
async fn encode(notifier: &mut Notifier, env: &Envelope) -> anyhow::Result<String> {
    if let Some(text) = env.encode()? {
        return Ok(text);
    }
    let body = env.to_json()?;
    let id = notifier.put_payload(&body, now_ms()).await?;
    env.by_reference(id)
        .encode()?
        .context("a reference always fits")
}

/// Reads one notification and acts on it (a stored one is fetched first).
async fn receive(hub: &Hub, me: &str, text: &str, listener: &mut BusListener) {
    let env = match Envelope::decode(text) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring a bus message");
            return;
        }
    };
    if !env.is_for(me) {
        return;
    }
    let env = match env.msg {
        Wire::Stored { id } => match stored(listener, id).await {
            Some(e) => e,
            None => return,
        },
        _ => env,
    };
    act(hub, me, env.from, env.msg);
}

/// A message sent by reference, read back; `None` (with a warning) when it cannot be.
async fn stored(listener: &mut BusListener, id: i64) -> Option<Envelope> {
    let body = match listener.payload(id).await {
        Ok(Some(body)) => body,
        Ok(None) => {
            tracing::warn!(id, "a stored bus message is gone");
            return None;
        }
        Err(e) => {
            tracing::warn!(error = %e, id, "could not read a stored bus message");
            return None;
        }
    };
    Envelope::decode(&body)
        .inspect_err(|e| tracing::warn!(error = %e, "ignoring a stored bus message"))
        .ok()
}

/// Does what another replica's message asks of this one.
fn act(hub: &Hub, me: &str, from: String, msg: Wire) {
    match msg {
        Wire::Events { events } => hub.bus.deliver_events(events),
        Wire::Screen {
            session_id,
            task_id,
            lines,
            cols,
            rows,
        } => hub.bus.deliver(BusMessage::Screen {
            session_id,
            task_id,
            lines: Arc::new(lines),
            cols,
            rows,
        }),
        Wire::State {
            session_id,
            task_id,
            state,
        } => hub.bus.deliver(BusMessage::State {
            session_id,
            task_id,
            state,
        }),
        Wire::Daemon { server, msg } => {
            hub.daemons.send_here(server, &msg);
        }
        Wire::DaemonFrame { server, frame } => {
            if let Some(bytes) = unbase64(&frame) {
                hub.daemons.send_frame_here(server, bytes);
            }
        }
        Wire::CloseDaemon { server, reason } => {
            hub.daemons.close_here(server, &reason);
        }
        Wire::Output { server, frame } => offer_output(hub, server, &frame),
        Wire::Watch { session_id, on } => hub.streams.watch_elsewhere(session_id, &from, on),
        Wire::DaemonUp { server } => hub.daemons.connected_elsewhere(server, &from),
        Wire::DaemonDown { server } => hub.daemons.disconnected_elsewhere(server, &from),
        Wire::Reply {
            server,
            request_id,
            answer,
        } => {
            hub.daemons.replies.complete(server, request_id, *answer);
        }
        Wire::Forget { cache, ack } => forget_for(hub, &from, cache, ack),
        Wire::Forgot { ack } => {
            if let Some(link) = hub.bus.link() {
                link.acked(ack, &from);
            }
        }
        Wire::Started => replica_started(hub, &from),
        Wire::Holding { daemons, watches } => replica_holds(hub, &from, daemons, watches),
        Wire::Stored { .. } => {
            tracing::debug!(replica = me, "a stored bus message pointing at another");
        }
    }
}

/// The bytes a frame was sent as (base64 on the bus); `None` for garbled text.
fn unbase64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// A session's output frame from the replica its daemon is connected to, for the consoles
/// watching here; asks that daemon for a keyframe when they cannot use it yet.
fn offer_output(hub: &Hub, server: Uuid, frame: &str) {
    let Some(raw) = unbase64(frame) else { return };
    let Some(f) = Frame::decode(&raw) else { return };
    if hub.streams.offer(&f, &raw).need_keyframe {
        hub.daemons.send(
            server,
            &orchestratia_proto::ws::HubToDaemon::KeyframeRequest {
                session_id: f.session_id,
            },
        );
    }
}

/// Drops `cache` here as replica `from` asks, then tells it so.
fn forget_for(hub: &Hub, from: &str, cache: Cache, ack: Uuid) {
    match cache {
        Cache::Tokens => hub.forget_tokens_here(),
    }
    if let Some(link) = hub.bus.link() {
        link.send(Some(from), Wire::Forgot { ack });
    }
}

/// Replica `from` (re)started: it holds nothing any more, and it is told what this one holds.
fn replica_started(hub: &Hub, from: &str) {
    hub.daemons.forget_replica(from);
    hub.streams.forget_replica(from);
    if let Some(link) = hub.bus.link() {
        link.send(
            Some(from),
            Wire::Holding {
                daemons: hub.daemons.here(),
                watches: hub.streams.watched_here(),
            },
        );
    }
}

/// What replica `from` holds: the daemons connected to it (unless connected here) and the
/// sessions its consoles watch.
fn replica_holds(hub: &Hub, from: &str, daemons: Vec<Uuid>, watches: Vec<Uuid>) {
    for server in daemons {
        if !hub.daemons.is_here(server) {
            hub.daemons.connected_elsewhere(server, from);
        }
    }
    for session in watches {
        hub.streams.watch_elsewhere(session, from, true);
    }
}

/// Drops `cache` here and on every live replica, waiting (a second at most) until each says
/// it did: once this returns, no replica trusts what the cache held.
pub async fn forget_everywhere(hub: &Hub, cache: Cache) {
    let Some(link) = hub.bus.link() else { return };
    let me = link.replica().to_string();
    let peers: Vec<String> = match hub.store.read().await {
        Ok(mut c) => replicas::list(&mut c, now_ms(), ALIVE_WITHIN_MS)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.id)
            .filter(|id| *id != me)
            .collect(),
        Err(_) => Vec::new(),
    };
    if !link
        .send_and_wait(|ack| Wire::Forget { cache, ack }, &peers, FORGET_WAIT)
        .await
    {
        tracing::warn!(
            ?cache,
            "not every replica confirmed dropping its cache in time"
        );
    }
}

/// How long a change waits for the other replicas to drop their caches.
const FORGET_WAIT: Duration = Duration::from_secs(1);

/// Writes this replica's row: alive now, what it holds, how fast heartbeats go.
async fn report(hub: &Hub, id: &str, started: bool) -> anyhow::Result<()> {
    let r = ReplicaReport {
        id: id.to_string(),
        url: hub.public_url.clone(),
        daemons: hub.daemons.count_here() as u64,
        consoles: hub.metrics.consoles(),
        heartbeat_p99_us: hub.metrics.heartbeat_p99_us(),
    };
    let mut c = hub.store.read().await?;
    replicas::report(&mut c, &r, started, now_ms()).await?;
    Ok(())
}

/// Every [`REPORT_EVERY`]: report, check the identity lock, forget what dead replicas held,
/// and (one replica at a time) prune old stored bus messages.
async fn keep_reporting(hub: Hub, id: String, mut lock: ReplicaLock) {
    let mut tick = tokio::time::interval(REPORT_EVERY);
    let mut stop = hub.shutdown_flag();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        if let Err(e) = report(&hub, &id, false).await {
            tracing::warn!(error = %e, "could not report the replica");
        }
        if let Err(e) = lock.check().await {
            tracing::error!(error = %e, "lost the replica's lock connection; taking it again");
            match claim(&hub.store, &id, Duration::from_secs(10)).await {
                Ok(l) => lock = l,
                Err(e) => tracing::error!(error = %e, "could not take the replica's lock again"),
            }
        }
        if let Err(e) = forget_the_dead(&hub).await {
            tracing::warn!(error = %e, "could not read the replicas");
        }
    }
}

/// Replicas that stopped reporting no longer hold daemons or watch sessions.
async fn forget_the_dead(hub: &Hub) -> anyhow::Result<()> {
    let now = now_ms();
    let mut c = hub.store.read().await?;
    let all = replicas::list(&mut c, now, i64::MAX / 2).await?;
    for r in all.iter().filter(|r| now - r.seen_at > ALIVE_WITHIN_MS) {
        hub.daemons.forget_replica(&r.id);
        hub.streams.forget_replica(&r.id);
    }
    if hub.holds_lease("bus-payloads").await {
        replicas::prune_payloads(&mut c, now - PAYLOAD_KEPT_MS).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_id;

    #[test]
    fn replica_ids_are_short_names() {
        for ok in ["r0", "hub-a.eu_1", &"x".repeat(64)] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65), "r0\n"] {
            let e = check_id(bad).expect_err(bad).to_string();
            assert!(e.contains("--replica-id"), "{e}");
        }
    }
}
