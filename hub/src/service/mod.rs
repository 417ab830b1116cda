//! The hub's operations: each one checks who asks, validates the input, loads what it needs
//! from the store, asks the engine, writes the result in one transaction, and only after the
//! commit publishes events and tells daemons. Routes and sockets are thin wrappers over these.

mod flow;
mod humans;
mod projects;
mod sessions;
mod tasks;
mod validate;
mod watch;

use std::sync::Arc;

use orchestratia_proto::ws::HubToDaemon;
use orchestratia_proto::{Event, EventKind};
use serde_json::Value;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::auth::{Principal, hash_token};
use crate::bus::EventBus;
use crate::config::HubConfig;
use crate::connections::{Daemons, Streams};
use crate::error::{HubError, HubResult};
use crate::store::events::NewEvent;
use crate::store::tokens::TokenKind;
use crate::store::{self, Store, Tx};

pub use sessions::ChunkWriter;
pub use validate::parse_wait;

/// The hub: store, bus and live connections behind one cheap-to-clone handle.
#[derive(Clone)]
pub struct Hub(Arc<Inner>);

/// What the hub holds.
pub struct Inner {
    pub store: Store,
    pub bus: EventBus,
    pub daemons: Daemons,
    pub streams: Streams,
    pub config: HubConfig,
    /// The URL agents use to reach this hub.
    pub public_url: String,
    chunks: mpsc::Sender<store::sessions::Chunk>,
}

impl std::ops::Deref for Hub {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Events and daemon messages an operation produces; written and sent after its commit.
#[derive(Default)]
pub(crate) struct Outbox {
    pub events: Vec<NewEvent>,
    pub daemon: Vec<(Uuid, HubToDaemon)>,
}

impl Outbox {
    /// Queues an event about a task.
    pub fn task_event(
        &mut self,
        kind: EventKind,
        actor: &str,
        project: Uuid,
        task: Uuid,
        details: Value,
    ) {
        self.events.push(NewEvent {
            kind,
            actor: actor.to_string(),
            project_id: Some(project),
            task_id: Some(task),
            related_task_id: None,
            server_id: None,
            session_id: None,
            details,
        });
    }

    /// Queues an event, fully specified.
    pub fn event(&mut self, e: NewEvent) {
        self.events.push(e);
    }

    /// Queues a message for a server's daemon.
    pub fn tell(&mut self, server: Uuid, msg: HubToDaemon) {
        self.daemon.push((server, msg));
    }
}

impl Hub {
    /// A hub over an open store. `public_url` is how agents reach it.
    pub fn new(store: Store, config: HubConfig, public_url: String) -> Hub {
        let (chunks, rx) = mpsc::channel(4096);
        let hub = Hub(Arc::new(Inner {
            store,
            bus: EventBus::default(),
            daemons: Daemons::default(),
            streams: Streams::default(),
            config,
            public_url,
            chunks,
        }));
        ChunkWriter::spawn(hub.store.clone(), rx);
        hub
    }

    /// Writes the outbox's events in `tx`, commits, then publishes and tells daemons.
    pub(crate) async fn commit(&self, mut tx: Tx, out: Outbox) -> HubResult<Vec<Event>> {
        let now = orchestratia_proto::time::now_ms();
        let events = store::events::insert(&mut tx, &out.events, now).await?;
        tx.commit().await?;
        self.bus.publish(events.clone());
        for (server, msg) in out.daemon {
            if !self.daemons.send(server, &msg) {
                tracing::debug!(%server, "daemon not connected; message not delivered now");
            }
        }
        Ok(events)
    }

    /// Resolves a bearer token to who presents it.
    pub async fn authenticate(&self, token: Option<&str>) -> HubResult<Principal> {
        let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
            return Err(HubError::Unauthorized(
                "missing token: pass --token, set ORCHESTRATIA_TOKEN, or send 'Authorization: Bearer …'"
                    .into(),
            ));
        };
        let mut c = self.store.read().await?;
        let Some(t) = store::tokens::lookup(&mut c, &hash_token(token)).await? else {
            return Err(HubError::Unauthorized("invalid token".into()));
        };
        let now = orchestratia_proto::time::now_ms();
        if t.revoked_at.is_some() {
            return Err(HubError::Unauthorized("this token was revoked".into()));
        }
        if t.expires_at.is_some_and(|e| e <= now) {
            return Err(HubError::Unauthorized("this token has expired".into()));
        }
        let corrupt = || HubError::Internal("token record is incomplete".into());
        match t.kind {
            TokenKind::Admin => Ok(Principal::Admin),
            TokenKind::Server => Ok(Principal::Server {
                server_id: t.server_id.ok_or_else(corrupt)?,
                project_id: t.project_id.ok_or_else(corrupt)?,
                name: t.server_name.unwrap_or_default(),
            }),
            TokenKind::Session => Ok(Principal::Session {
                task_id: t.task_id,
                project_id: t.project_id.ok_or_else(corrupt)?,
                session_id: t.session_id,
                orchestrator: t.orchestrator,
                server_name: t.server_name,
            }),
            TokenKind::Registration => Err(HubError::Unauthorized(
                "a registration token can only register a server (POST /servers/register)".into(),
            )),
        }
    }

    /// A read connection.
    pub(crate) async fn read(&self) -> HubResult<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.store.read().await?)
    }
}
