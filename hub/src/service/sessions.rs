//! Sessions and what daemons report about them: connection and heartbeats (online/offline),
//! sessions becoming active, recovered or ended. Their output is in `recording.rs`.

use orchestratia_proto::api::CreateSession;
use orchestratia_proto::time::now_ms;
use orchestratia_proto::ws::{HubToDaemon, RunningSession, SessionStart};
use orchestratia_proto::{EventKind, Session, SessionState, SessionStatus, TaskStatus};
use serde_json::json;
use uuid::Uuid;

use super::assign::starting_session;
use super::close::SessionsEnd;
use super::{Hub, Outbox, validate};
use crate::auth::Principal;
use crate::bad;
use crate::engine::agent_state::Signal;
use crate::engine::lifecycle::{Transition, next};
use crate::error::{HubError, HubResult};
use crate::store;
use crate::store::events::NewEvent;

/// Longest last screen kept as a failure reason, in characters.
const MAX_SCREEN_REASON: usize = 4000;

/// Tells a daemon to stop a session the hub does not run (unknown, ended, or another server's).
fn stop_unknown(session_id: Uuid) -> HubToDaemon {
    HubToDaemon::SessionStop {
        session_id,
        reason: "the hub has ended this session".into(),
        finish: false,
    }
}

/// An event about a session, by the hub.
pub(super) fn session_event(
    kind: EventKind,
    s: &Session,
    project: Option<Uuid>,
    details: serde_json::Value,
) -> NewEvent {
    NewEvent {
        kind,
        actor: "hub".into(),
        project_id: project,
        task_id: s.task_id,
        related_task_id: None,
        server_id: Some(s.server_id),
        session_id: Some(s.id),
        details,
    }
}

impl Hub {
    /// Sessions the principal may see, newest first.
    pub async fn sessions(&self, p: &Principal) -> HubResult<Vec<Session>> {
        let mut c = self.read().await?;
        Ok(match p {
            Principal::Admin | Principal::Hub => store::sessions::list(&mut c, None, None).await?,
            Principal::Server { server_id, .. } => {
                store::sessions::list(&mut c, Some(*server_id), None).await?
            }
            Principal::Session {
                orchestrator: true,
                project_id,
                ..
            } => store::sessions::list(&mut c, None, Some(*project_id)).await?,
            Principal::Session { task_id, .. } => match task_id {
                Some(t) => store::sessions::of_task(&mut c, *t).await?,
                None => Vec::new(),
            },
        })
    }

    pub async fn session(&self, p: &Principal, key: &str) -> HubResult<Session> {
        let visible = self.sessions(p).await?;
        visible
            .into_iter()
            .find(|s| s.id.to_string() == key || s.name == key)
            .ok_or_else(|| HubError::NotFound(format!("session '{key}' not found")))
    }

    /// Starts a session on a server (seed Flow 2 `POST /sessions`). For a task that already
    /// has an open session there (assignment starts one), that session is returned.
    pub async fn create_session(&self, p: &Principal, body: &CreateSession) -> HubResult<Session> {
        p.require_admin("starting a session")?;
        let working_dir = body
            .working_dir
            .as_deref()
            .map(|w| validate::text("working_dir", w, 4096))
            .transpose()?;
        let mut tx = self.store.write().await?;
        let server = self.resolve_server(&mut tx, p, &body.server_id).await?;
        if server.revoked {
            return Err(HubError::Conflict(format!(
                "server '{}' is revoked",
                server.name
            )));
        }
        let task = match &body.task_id {
            Some(r) => Some(
                self.resolve_task(&mut tx, p, r, Some(server.project_id))
                    .await?,
            ),
            None => None,
        };
        if let Some(t) = &task {
            if let Some(s) = store::sessions::open_of_task(&mut tx, t.id)
                .await?
                .into_iter()
                .find(|s| s.server_id == server.id)
            {
                return Ok(s);
            }
            if t.server_id != Some(server.id)
                || t.status.is_terminal()
                || t.status == TaskStatus::Pending
            {
                return Err(HubError::Conflict(format!(
                    "{} is not assigned to {}: assign it first (orchestratia task assign {} --session {})",
                    t.reference(),
                    server.name,
                    t.reference(),
                    server.name
                )));
            }
        }
        let now = now_ms();
        let name = self
            .session_names(&mut tx, 1)
            .await?
            .pop()
            .unwrap_or_default();
        let session = starting_session(name, &server, task.as_ref(), working_dir, now);
        store::sessions::insert(&mut tx, &session).await?;
        let mut out = Outbox::default();
        let (token, payload) = match &task {
            Some(t) => {
                let token = self.session_token(&mut tx, t, &session, now).await?;
                let inputs = store::contracts::inputs_of(&mut tx, &[t.id]).await?;
                (
                    token,
                    Some(super::facts::payload(
                        t,
                        inputs.get(&t.id).cloned().unwrap_or_default(),
                    )),
                )
            }
            None => (String::new(), None),
        };
        out.tell(
            server.id,
            HubToDaemon::SessionStart(SessionStart {
                session_id: session.id,
                name: session.name.clone(),
                task: payload,
                working_dir: session.working_dir.clone(),
                token,
                hub_url: self.public_url.clone(),
            }),
        );
        self.commit(tx, out).await?;
        Ok(session)
    }

    /// A daemon connected: it is online; sessions it should run but never started are sent
    /// again; sessions it still runs that the hub ended are stopped; waiting tasks may now
    /// find a server. Its list is looked up on a read connection first, so a long one does
    /// not hold the write lock; only the sessions the hub still runs there are re-read under it.
    ///
    /// `connected_at` is when this connection was registered: a session made after it had its
    /// start sent on this connection, so it is not sent again (with a new token, which would
    /// revoke the one the daemon is starting the agent with) when the daemon's hello, written
    /// before that start arrived, does not list it.
    pub async fn daemon_connected(
        &self,
        server_id: Uuid,
        running: &[RunningSession],
        connected_at: i64,
    ) -> HubResult<()> {
        let max = self.config.limits.max_hello_sessions;
        if running.len() > max {
            return Err(HubError::TooLarge(format!(
                "a hello may list at most {max} sessions; this one lists {}",
                running.len()
            )));
        }
        self.daemon_heartbeat(server_id).await?;
        let mut out = Outbox::default();
        let mut listed = std::collections::HashSet::with_capacity(running.len());
        let mut live = Vec::new();
        {
            let mut c = self.read().await?;
            for r in running {
                if !listed.insert(r.session_id) {
                    continue;
                }
                match store::sessions::get(&mut c, r.session_id).await? {
                    Some(s) if s.status != SessionStatus::Ended && s.server_id == server_id => {
                        live.push(s.id)
                    }
                    // Unknown, ended or another server's: an ended session never comes back
                    // and a session never changes server, so this answer cannot go stale.
                    _ => out.tell(server_id, stop_unknown(r.session_id)),
                }
            }
        }
        let mut tx = self.store.write().await?;
        let server = store::servers::get(&mut tx, server_id)
            .await?
            .ok_or_else(|| HubError::NotFound("server vanished".into()))?;
        let now = now_ms();
        for s in store::sessions::of_server_with_status(&mut tx, server_id, SessionStatus::Starting)
            .await?
        {
            if listed.contains(&s.id) || s.started_at > connected_at {
                continue;
            }
            let Some(tid) = s.task_id else { continue };
            let Some(t) = store::tasks::get(&mut tx, tid).await? else {
                continue;
            };
            // The old token may be lost with the old connection: issue a fresh one.
            store::tokens::revoke_session(&mut tx, s.id, now).await?;
            out.revoked_tokens = true;
            let token = self.session_token(&mut tx, &t, &s, now).await?;
            let inputs = store::contracts::inputs_of(&mut tx, &[t.id]).await?;
            out.tell(
                server_id,
                HubToDaemon::SessionStart(SessionStart {
                    session_id: s.id,
                    name: s.name.clone(),
                    task: Some(super::facts::payload(
                        &t,
                        inputs.get(&t.id).cloned().unwrap_or_default(),
                    )),
                    working_dir: s.working_dir.clone(),
                    token,
                    hub_url: self.public_url.clone(),
                }),
            );
        }
        for id in live {
            // Re-read under the write lock: it may have ended since the lookup.
            let Some(s) = store::sessions::get(&mut tx, id)
                .await?
                .filter(|s| s.status != SessionStatus::Ended && s.server_id == server_id)
            else {
                out.tell(server_id, stop_unknown(id));
                continue;
            };
            let last_seq = self.last_seq(id).await?.max(0) as u64;
            out.tell(
                server_id,
                HubToDaemon::Resume {
                    session_id: id,
                    last_seq,
                    state: Some(s.state),
                    conversation_id: s.conversation_id.clone(),
                },
            );
            // Its task closed while the daemon was away: the agent finishes now.
            if let Some(t) = s.task_id {
                let task = store::tasks::get(&mut tx, t).await?;
                if let Some(t) =
                    task.filter(|t| matches!(t.status, TaskStatus::Done | TaskStatus::Failed))
                {
                    let reason = format!("{} is {}", t.reference(), t.status);
                    let how = SessionsEnd::Finish;
                    self.end_task_sessions(&mut tx, &t, how, &reason, &mut out)
                        .await?;
                }
            }
        }
        self.commit(tx, out).await?;
        self.assign_waiting(server.project_id).await
    }

    /// A heartbeat: the server is online now (and `server_online` is logged if it was not).
    pub async fn daemon_heartbeat(&self, server_id: Uuid) -> HubResult<()> {
        let mut tx = self.store.write().await?;
        let came_online = store::servers::heartbeat(&mut tx, server_id, now_ms()).await?;
        let mut out = Outbox::default();
        let mut project = None;
        if came_online && let Some(s) = store::servers::get(&mut tx, server_id).await? {
            project = Some(s.project_id);
            out.event(NewEvent {
                kind: EventKind::ServerOnline,
                actor: format!("agent:{}", s.name),
                project_id: Some(s.project_id),
                task_id: None,
                related_task_id: None,
                server_id: Some(server_id),
                session_id: None,
                details: json!({"server": s.name}),
            });
        }
        self.commit(tx, out).await?;
        if let Some(p) = project {
            self.assign_waiting(p).await?;
        }
        Ok(())
    }

    /// Marks offline every server not heard from within `offline_after`.
    pub async fn mark_stale_offline(&self) -> HubResult<()> {
        let cutoff = now_ms() - self.config.offline_after.as_millis() as i64;
        let mut tx = self.store.write().await?;
        let gone = store::servers::mark_stale_offline(&mut tx, cutoff).await?;
        if gone.is_empty() {
            return Ok(());
        }
        let mut out = Outbox::default();
        for (id, project, name) in gone {
            out.event(NewEvent {
                kind: EventKind::ServerOffline,
                actor: "hub".into(),
                project_id: Some(project),
                task_id: None,
                related_task_id: None,
                server_id: Some(id),
                session_id: None,
                details: json!({"server": name, "reason": format!("no heartbeat for {}s", self.config.offline_after.as_secs())}),
            });
        }
        self.commit(tx, out).await?;
        Ok(())
    }

    /// The project of a session's task (none for a session without a task).
    pub(super) async fn project_of(
        &self,
        c: &mut store::Conn,
        s: &Session,
    ) -> HubResult<Option<Uuid>> {
        Ok(match s.task_id {
            Some(t) => store::tasks::get(c, t).await?.map(|t| t.project_id),
            None => None,
        })
    }

    /// A session of `server` as reported by its daemon; a daemon may only report its own.
    pub(super) async fn own_session(
        &self,
        c: &mut store::Conn,
        server: Uuid,
        session: Uuid,
    ) -> HubResult<Session> {
        match store::sessions::get(c, session).await? {
            Some(s) if s.server_id == server => Ok(s),
            _ => Err(bad!("session {session} is not a session of this server")),
        }
    }

    /// The agent process runs: the session is active and its task running.
    pub async fn session_active(
        &self,
        server: Uuid,
        session: Uuid,
        pid: Option<i64>,
        tmux: Option<&str>,
        hooks: bool,
    ) -> HubResult<()> {
        let mut tx = self.store.write().await?;
        let s = self.own_session(&mut tx, server, session).await?;
        if s.status == SessionStatus::Ended {
            return Err(HubError::Conflict(format!("session {} has ended", s.name)));
        }
        store::sessions::set_active(&mut tx, s.id, pid, tmux, hooks, now_ms()).await?;
        let mut out = Outbox::default();
        self.signal(&mut tx, &s, Signal::Active { hooks }, &mut out)
            .await?;
        let task = match s.task_id {
            Some(t) => store::tasks::get(&mut tx, t).await?,
            None => None,
        };
        let project = task.as_ref().map(|t| t.project_id);
        if let Some(t) = &task
            && t.status == TaskStatus::Assigned
            && t.server_id == Some(server)
            && let Ok(to) = next(
                t.status,
                Transition::Start,
                crate::engine::lifecycle::Actor::Hub,
            )
        {
            store::tasks::transition(&mut tx, t.id, &[TaskStatus::Assigned], to, now_ms()).await?;
            out.task_event(
                EventKind::TaskStarted,
                &format!("agent:{}", s.server),
                t.project_id,
                t.id,
                json!({"agent": s.server}),
            );
        }
        let recovered = s.status == SessionStatus::Recovering;
        out.event(session_event(
            EventKind::SessionActive,
            &s,
            project,
            json!({"pid": pid, "tmux": tmux, "session": s.name, "after_recovery": recovered}),
        ));
        self.commit(tx, out).await?;
        Ok(())
    }

    /// The daemon reattached to a session that survived its restart (Flow 7).
    pub async fn session_recovered(
        &self,
        server: Uuid,
        session: Uuid,
        tmux: &str,
        how: Option<&str>,
    ) -> HubResult<()> {
        let how = how
            .map(|h| validate::bounded(h, 1000))
            .unwrap_or_else(|| "reattached to its tmux session".into());
        let mut tx = self.store.write().await?;
        let s = self.own_session(&mut tx, server, session).await?;
        if s.status == SessionStatus::Ended {
            return Err(HubError::Conflict(format!("session {} has ended", s.name)));
        }
        store::sessions::set_status(&mut tx, s.id, SessionStatus::Recovering).await?;
        let project = self.project_of(&mut tx, &s).await?;
        let mut out = Outbox::default();
        out.event(session_event(
            EventKind::SessionRecovered,
            &s,
            project,
            json!({"tmux": tmux, "session": s.name, "how": how}),
        ));
        self.commit(tx, out).await?;
        Ok(())
    }

    /// The agent process exited. A task it leaves open fails with the last screen as reason.
    pub async fn session_ended(
        &self,
        server: Uuid,
        session: Uuid,
        exit_code: Option<i64>,
        last_screen: Option<&str>,
        reason: Option<&str>,
    ) -> HubResult<()> {
        let mut tx = self.store.write().await?;
        let s = self.own_session(&mut tx, server, session).await?;
        let now = now_ms();
        if !store::sessions::set_ended(&mut tx, s.id, exit_code, last_screen, now).await? {
            return Ok(());
        }
        store::tokens::revoke_session(&mut tx, s.id, now).await?;
        let task = match s.task_id {
            Some(t) => store::tasks::get(&mut tx, t).await?,
            None => None,
        };
        let mut out = Outbox {
            revoked_tokens: true,
            ..Outbox::default()
        };
        out.states
            .push(super::StateChange::of(&s, SessionState::Ended));
        let reason = reason.map(|r| validate::bounded(r, MAX_SCREEN_REASON));
        out.event(session_event(
            EventKind::SessionEnded,
            &s,
            task.as_ref().map(|t| t.project_id),
            json!({"session": s.name, "exit_code": exit_code, "reason": reason}),
        ));
        if let Some(t) = task
            && !t.status.is_terminal()
            && t.server_id == Some(server)
            && t.status != TaskStatus::Pending
        {
            tx.lock_project(t.project_id).await?;
            let screen: String = last_screen
                .map(|s| {
                    let lines: Vec<&str> = s
                        .lines()
                        .map(str::trim_end)
                        .filter(|l| !l.is_empty())
                        .collect();
                    let text = lines.join("\n");
                    let skip = text.chars().count().saturating_sub(MAX_SCREEN_REASON);
                    text.chars().skip(skip).collect()
                })
                .unwrap_or_default();
            let code = exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "unknown".into());
            let reason = if let Some(r) = reason {
                r
            } else if screen.is_empty() {
                format!("the agent exited (code {code}) without completing the task")
            } else {
                format!(
                    "the agent exited (code {code}) without completing the task; last screen:\n{screen}"
                )
            };
            self.fail_in(&mut tx, &Principal::Hub, &t, &reason, &mut out)
                .await?;
        }
        self.commit(tx, out).await?;
        Ok(())
    }

    /// Something an admin should know about a session, from its daemon (it may stall).
    pub async fn session_warning(
        &self,
        server: Uuid,
        session: Uuid,
        message: &str,
    ) -> HubResult<()> {
        let mut tx = self.store.write().await?;
        let s = self.own_session(&mut tx, server, session).await?;
        let project = self.project_of(&mut tx, &s).await?;
        let mut out = Outbox::default();
        out.event(session_event(
            EventKind::SessionWarning,
            &s,
            project,
            json!({"session": s.name, "message": validate::bounded(message, 2000)}),
        ));
        self.commit(tx, out).await
    }
}
