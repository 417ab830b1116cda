//! Sessions: listing and starting them, and what daemons report about them (becoming active,
//! recovered, ended, a warning). A daemon's connection and heartbeats are in `daemons.rs`;
//! session output is in `recording.rs`.

use orchestratia_proto::api::CreateSession;
use orchestratia_proto::time::now_ms;
use orchestratia_proto::ws::{HubToDaemon, SessionStart};
use orchestratia_proto::{EventKind, Server, Session, SessionState, SessionStatus, TaskStatus};
use serde_json::json;
use uuid::Uuid;

use super::assign::starting_session;
use super::{Effects, Hub, validate};
use crate::auth::Principal;
use crate::bad;
use crate::engine::agent_state::Signal;
use crate::engine::lifecycle::{Transition, next};
use crate::error::{HubError, HubResult};
use crate::store::events::NewEvent;
use crate::store::tasks::TaskRecord;
use crate::store::{self, Conn};

/// Longest last screen kept as a failure reason, in characters.
const MAX_SCREEN_REASON: usize = 4000;

/// The open session of task `t` on `server`, if it has one.
async fn open_session_on(c: &mut Conn, t: &TaskRecord, server: Uuid) -> HubResult<Option<Session>> {
    Ok(store::sessions::open_of_task(c, t.id)
        .await?
        .into_iter()
        .find(|s| s.server_id == server))
}

/// A session for task `t` may start on `server` only once the task is assigned there.
fn require_assigned_to(t: &TaskRecord, server: &Server) -> HubResult<()> {
    if t.server_id != Some(server.id) || t.status.is_terminal() || t.status == TaskStatus::Pending {
        return Err(HubError::Conflict(format!(
            "{} is not assigned to {}: assign it first (orchestratia task assign {} --session {})",
            t.reference(),
            server.name,
            t.reference(),
            server.name
        )));
    }
    Ok(())
}

/// A request about a session that has ended is refused.
pub(super) fn require_open(s: &Session) -> HubResult<()> {
    if s.status == SessionStatus::Ended {
        return Err(HubError::Conflict(format!("session {} has ended", s.name)));
    }
    Ok(())
}

/// Why a task fails when its agent exited without completing it: the daemon's reason, else
/// the exit code with the last screen (its non-empty lines, the last characters kept).
fn failure_reason(
    reason: Option<String>,
    exit_code: Option<i64>,
    last_screen: Option<&str>,
) -> String {
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
    if let Some(r) = reason {
        r
    } else if screen.is_empty() {
        format!("the agent exited (code {code}) without completing the task")
    } else {
        format!(
            "the agent exited (code {code}) without completing the task; last screen:\n{screen}"
        )
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

    /// A session by id or name, among those the principal may see.
    pub async fn session(&self, p: &Principal, key: &str) -> HubResult<Session> {
        let visible = self.sessions(p).await?;
        visible
            .into_iter()
            .find(|s| s.id.to_string() == key || s.name == key)
            .ok_or_else(|| HubError::NotFound(format!("session '{key}' not found")))
    }

    /// Starts a session on a server (`POST /sessions`). For a task that already has an open
    /// session there (assignment starts one), that session is returned.
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
            if let Some(s) = open_session_on(&mut tx, t, server.id).await? {
                return Ok(s);
            }
            require_assigned_to(t, &server)?;
        }
        let now = now_ms();
        let name = self
            .session_names(&mut tx, 1)
            .await?
            .pop()
            .unwrap_or_default();
        let session = starting_session(name, &server, task.as_ref(), working_dir, now);
        store::sessions::insert(&mut tx, &session).await?;
        let mut out = Effects::default();
        let start = self
            .start_message(&mut tx, &session, task.as_ref(), now)
            .await?;
        out.tell(server.id, start);
        self.commit(tx, out).await?;
        Ok(session)
    }

    /// The message that tells a daemon to start session `s`: for a task, with a fresh session
    /// token and the task (its inputs resolved).
    pub(super) async fn start_message(
        &self,
        c: &mut Conn,
        s: &Session,
        task: Option<&TaskRecord>,
        now: i64,
    ) -> HubResult<HubToDaemon> {
        let (token, payload, workspace) = match task {
            Some(t) => {
                let token = self.session_token(c, t, s, now).await?;
                let inputs = store::contracts::inputs_of(c, &[t.id]).await?;
                let inputs = inputs.get(&t.id).cloned().unwrap_or_default();
                let workspace = self.workspace_start(c, t).await?;
                (token, Some(super::facts::payload(t, inputs)), workspace)
            }
            None => (String::new(), None, None),
        };
        Ok(HubToDaemon::SessionStart(SessionStart {
            session_id: s.id,
            name: s.name.clone(),
            task: payload,
            working_dir: s.working_dir.clone(),
            token,
            hub_url: self.public_url.clone(),
            workspace,
        }))
    }

    /// A session as stored now (read again after a commit).
    pub(super) async fn stored_session(&self, id: Uuid) -> HubResult<Session> {
        let mut c = self.read().await?;
        store::sessions::get(&mut c, id)
            .await?
            .ok_or_else(|| HubError::NotFound("session vanished".into()))
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

    /// [`Self::own_session`] for a write that may touch its task: its task's project is locked
    /// first, the order every task write takes (project, task, session), so a report racing a
    /// cancel waits for it instead of deadlocking with it on PostgreSQL. The session is read
    /// again under the lock.
    async fn own_session_locked(
        &self,
        c: &mut store::Conn,
        server: Uuid,
        session: Uuid,
    ) -> HubResult<Session> {
        let s = self.own_session(c, server, session).await?;
        let Some(project) = self.project_of(c, &s).await? else {
            return Ok(s);
        };
        c.lock_project(project).await?;
        self.own_session(c, server, session).await
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
        let s = self.own_session_locked(&mut tx, server, session).await?;
        require_open(&s)?;
        store::sessions::set_active(&mut tx, s.id, pid, tmux, hooks, now_ms()).await?;
        let mut out = Effects::default();
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
                crate::engine::lifecycle::Initiator::Hub,
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

    /// The daemon reattached to a session that survived its restart (docs/WORKFLOWS.md, workflow 7).
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
        require_open(&s)?;
        store::sessions::set_status(&mut tx, s.id, SessionStatus::Recovering).await?;
        let project = self.project_of(&mut tx, &s).await?;
        let mut out = Effects::default();
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
        let s = self.own_session_locked(&mut tx, server, session).await?;
        let now = now_ms();
        if !store::sessions::set_ended(&mut tx, s.id, exit_code, last_screen, now).await? {
            return Ok(());
        }
        store::tokens::revoke_session(&mut tx, s.id, now).await?;
        let task = match s.task_id {
            Some(t) => store::tasks::get(&mut tx, t).await?,
            None => None,
        };
        let mut out = Effects {
            revoked_tokens: true,
            ..Effects::default()
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
            let reason = failure_reason(reason, exit_code, last_screen);
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
        let mut out = Effects::default();
        out.event(session_event(
            EventKind::SessionWarning,
            &s,
            project,
            json!({"session": s.name, "message": validate::bounded(message, 2000)}),
        ));
        self.commit(tx, out).await
    }
}
