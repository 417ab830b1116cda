//! The hub's operations: each one checks who asks, validates the input, loads what it needs
//! from the store, asks the engine, writes the result in one transaction, and only after the
//! commit publishes events and tells daemons. Routes and sockets are thin wrappers over these.

mod agent_watch;
mod agents;
mod assign;
mod close;
pub(crate) mod console;
mod create;
pub(crate) mod credentials;
mod daemons;
mod dependencies;
mod facts;
mod graph;
mod humans;
mod inbox;
mod lookup;
mod merge_release;
mod permission_decisions;
mod permissions;
mod policy;
mod projects;
mod recording;
mod registration;
mod review;
mod sessions;
mod status;
mod tasks;
mod usage;
mod validate;
mod watch;
mod workspace_start;
mod workspaces;

use std::sync::Arc;

use orchestratia_proto::EventKind;
use orchestratia_proto::ws::HubToDaemon;
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

pub use recording::{ChunkWriter, Incoming};
pub use tasks::TaskQuery;
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
    /// Sockets held and heartbeat timings, for `GET /status`.
    pub metrics: crate::metrics::Metrics,
    pub config: HubConfig,
    /// The URL agents use to reach this hub.
    pub public_url: String,
    /// When this process started (milliseconds).
    pub started_at: i64,
    chunks: mpsc::Sender<recording::Incoming>,
    /// The last output chunk number received per session (ahead of the batched writer).
    last_seqs: std::sync::Mutex<std::collections::HashMap<Uuid, i64>>,
    /// Recently verified tokens (hash → who, token expiry, when verified). Cleared whenever a
    /// token is revoked, so a revocation takes effect at once on this hub.
    tokens: std::sync::Mutex<std::collections::HashMap<String, VerifiedToken>>,
    /// True once the hub shuts down: long-polls answer at once, sockets close, the HTTP server
    /// stops accepting.
    shutdown: tokio::sync::watch::Sender<bool>,
    /// The permission rules, indexed, as last read from the store, with the version they are
    /// of: used only while the store's version is still that one.
    rules: std::sync::Mutex<Option<(String, Arc<orchestratia_proto::policy::RuleSet>)>>,
}

/// A verified token, cached so the next request need not read the store.
#[derive(Clone)]
struct VerifiedToken {
    principal: Principal,
    /// When the token expires (milliseconds), if ever.
    expires_at: Option<i64>,
    /// When it was verified.
    verified: std::time::Instant,
}

/// How long a lease lasts unless renewed: its holder renews it every few seconds at most
/// (see [`Hub::holds_lease`]); another replica takes it once it ran out.
pub const LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(6);

/// How long a verified token is trusted without reading the store again.
const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

impl std::ops::Deref for Hub {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Events and daemon messages an operation produces; written and sent after its commit.
#[derive(Default)]
pub(crate) struct Effects {
    pub events: Vec<NewEvent>,
    pub daemon: Vec<(Uuid, HubToDaemon)>,
    /// Task status changes to push to the project's orchestrator sessions.
    pub status_updates: Vec<StatusUpdate>,
    /// Tokens were revoked: forget the verified ones.
    pub revoked_tokens: bool,
    /// Agent states that changed: published live and told to the session's daemon.
    pub states: Vec<StateChange>,
}

/// A task's new status, told to the open orchestrator sessions of its project.
pub(crate) struct StatusUpdate {
    pub project: Uuid,
    pub task: Uuid,
    /// The task's reference (`T7`).
    pub reference: String,
    pub status: orchestratia_proto::TaskStatus,
}

/// A session's agent state after a change, for the bus and the daemon.
pub(crate) struct StateChange {
    pub session: Uuid,
    pub server: Uuid,
    pub task: Option<Uuid>,
    pub state: orchestratia_proto::SessionState,
    pub conversation_id: Option<String>,
    /// The conversation's transcript, when the agent's hook just reported it.
    pub transcript_path: Option<String>,
}

impl StateChange {
    /// `s` now in `state` (its conversation id as it knows it).
    pub fn of(s: &orchestratia_proto::Session, state: orchestratia_proto::SessionState) -> Self {
        StateChange {
            session: s.id,
            server: s.server_id,
            task: s.task_id,
            state,
            conversation_id: s.conversation_id.clone(),
            transcript_path: None,
        }
    }
}

impl Effects {
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
            daemons: Daemons::new(config.limits.daemon_queue),
            streams: Streams::default(),
            metrics: Default::default(),
            config,
            public_url,
            started_at: orchestratia_proto::time::now_ms(),
            chunks,
            last_seqs: Default::default(),
            tokens: Default::default(),
            shutdown: tokio::sync::watch::Sender::new(false),
            rules: Default::default(),
        }));
        ChunkWriter::spawn(
            hub.store.clone(),
            rx,
            hub.config.limits.max_session_bytes,
            Arc::downgrade(&hub.0),
        );
        hub
    }

    /// Begins shutting down: waiting long-polls answer with what they have (the client asks
    /// again, as after a timeout), WebSockets are closed, the HTTP server stops accepting.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Resolves once shutdown has begun.
    pub async fn shutting_down(&self) {
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|s| *s).await.map(|_| ());
    }

    /// The shutdown flag, for tasks that stop with the hub.
    pub fn shutdown_flag(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Writes the effects' events in `tx`, commits, then publishes and tells daemons.
    pub(crate) async fn commit(&self, mut tx: Tx, out: Effects) -> HubResult<()> {
        let now = orchestratia_proto::time::now_ms();
        let events = store::events::insert(&mut tx, out.events, now).await?;
        tx.commit().await?;
        self.bus.publish(events);
        for (server, msg) in out.daemon {
            if !self.daemons.send(server, &msg) {
                tracing::debug!(%server, "daemon not connected; message not delivered now");
            }
        }
        if out.revoked_tokens {
            self.forget_tokens().await;
        }
        for c in out.states {
            self.bus.publish_live(crate::bus::BusMessage::State {
                session_id: c.session,
                task_id: c.task,
                state: c.state,
            });
            self.daemons.send(
                c.server,
                &HubToDaemon::AgentState {
                    session_id: c.session,
                    state: c.state,
                    conversation_id: c.conversation_id,
                    transcript_path: c.transcript_path,
                },
            );
        }
        if !out.status_updates.is_empty() {
            self.push_status_updates(out.status_updates).await;
        }
        Ok(())
    }

    /// Tells the open orchestrator sessions of each project about status changes (best effort:
    /// the events are stored, so `task wait` sees them regardless).
    async fn push_status_updates(&self, updates: Vec<StatusUpdate>) {
        let Ok(mut c) = self.store.read().await else {
            return;
        };
        let mut projects: Vec<Uuid> = updates.iter().map(|u| u.project).collect();
        projects.dedup();
        for project in projects {
            let Ok(sessions) = store::sessions::orchestrator_sessions(&mut c, project).await else {
                continue;
            };
            for s in sessions {
                for u in updates.iter().filter(|u| u.project == project) {
                    if s.task_id == Some(u.task) {
                        continue;
                    }
                    self.daemons.send(
                        s.server_id,
                        &HubToDaemon::TaskStatusUpdate {
                            session_id: s.id,
                            task_id: u.task,
                            reference: u.reference.clone(),
                            status: u.status,
                        },
                    );
                }
            }
        }
    }

    /// Resolves a bearer token to who presents it.
    pub async fn authenticate(&self, token: Option<&str>) -> HubResult<Principal> {
        let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
            return Err(HubError::Unauthorized(
                "missing token: pass --token, set ORCHESTRATIA_TOKEN, or send 'Authorization: Bearer …'"
                    .into(),
            ));
        };
        let hash = hash_token(token);
        let now = orchestratia_proto::time::now_ms();
        if let Some(v) = self.tokens.lock().ok().and_then(|m| m.get(&hash).cloned())
            && v.verified.elapsed() < TOKEN_CACHE_TTL
            && v.expires_at.is_none_or(|e| e > now)
        {
            return Ok(v.principal);
        }
        let mut c = self.store.read().await?;
        let Some(t) = store::tokens::lookup(&mut c, &hash).await? else {
            return Err(HubError::Unauthorized("invalid token".into()));
        };
        if t.revoked_at.is_some() {
            return Err(HubError::Unauthorized("this token was revoked".into()));
        }
        if t.expires_at.is_some_and(|e| e <= now) {
            return Err(HubError::Unauthorized("this token has expired".into()));
        }
        let corrupt = || HubError::Internal("token record is incomplete".into());
        let principal = match t.kind {
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
        }?;
        if let Ok(mut m) = self.tokens.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(
                hash,
                VerifiedToken {
                    principal: principal.clone(),
                    expires_at: t.expires_at,
                    verified: std::time::Instant::now(),
                },
            );
        }
        Ok(principal)
    }

    /// Forgets every verified token (after a revocation), here and on the other replicas
    /// (waiting until they confirm, so a revoked token works nowhere once this returns).
    pub(crate) async fn forget_tokens(&self) {
        self.forget_tokens_here();
        crate::bus::replica::forget_everywhere(self, crate::bus::wire::Cache::Tokens).await;
    }

    /// Forgets every verified token this replica holds (another replica revoked one).
    pub(crate) fn forget_tokens_here(&self) {
        if let Ok(mut m) = self.tokens.lock() {
            m.clear();
        }
    }

    /// This hub's `--replica-id`, when it is one of several replicas.
    pub fn replica(&self) -> Option<&str> {
        self.config.replica_id.as_deref()
    }

    /// Whether this hub may do the work named `lease` now: always for a single hub; between
    /// replicas, when it holds (or just took) the lease in the database, which passes to
    /// another replica a few seconds after its holder stops renewing it.
    pub async fn holds_lease(&self, lease: &str) -> bool {
        let Some(me) = self.replica() else {
            return true;
        };
        let Ok(mut c) = self.store.read().await else {
            return false;
        };
        let ttl = LEASE_TTL.as_millis() as i64;
        store::replicas::take_lease(&mut c, lease, me, orchestratia_proto::time::now_ms(), ttl)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, lease, "could not take a lease");
                false
            })
    }

    /// A read connection.
    pub(crate) async fn read(&self) -> HubResult<store::Conn> {
        Ok(self.store.read().await?)
    }
}
