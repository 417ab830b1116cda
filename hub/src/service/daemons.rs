//! A daemon's link to the hub: its hello when it connects (sessions it still runs are resumed
//! or stopped, sessions it never started are sent again), its heartbeats (online), and servers
//! gone silent (offline).

use std::collections::HashSet;

use orchestratia_proto::time::now_ms;
use orchestratia_proto::ws::{HubToDaemon, RunningSession};
use orchestratia_proto::{EventKind, SessionStatus, TaskStatus};
use serde_json::json;
use uuid::Uuid;

use super::close::SessionsEnd;
use super::{Effects, Hub};
use crate::error::{HubError, HubResult};
use crate::store::events::NewEvent;
use crate::store::{self, Conn};

/// Tells a daemon to stop a session the hub does not run (unknown, ended, or another server's).
fn stop_unknown(session_id: Uuid) -> HubToDaemon {
    HubToDaemon::SessionStop {
        session_id,
        reason: "the hub has ended this session".into(),
        finish: false,
    }
}

impl Hub {
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
        let mut out = Effects::default();
        let (listed, live) = self.sort_hello(server_id, running, &mut out).await?;
        let mut tx = self.store.write().await?;
        let server = store::servers::get(&mut tx, server_id)
            .await?
            .ok_or_else(|| HubError::NotFound("server vanished".into()))?;
        self.start_again(&mut tx, server_id, &listed, connected_at, &mut out)
            .await?;
        self.resume_live(&mut tx, server_id, live, &mut out).await?;
        self.commit(tx, out).await?;
        self.assign_waiting(server.project_id).await
    }

    /// Sorts the sessions a daemon's hello lists (on a read connection): the ids it lists,
    /// and those the hub still runs there; the others (unknown, ended, another server's) are
    /// told to stop in `out`.
    async fn sort_hello(
        &self,
        server_id: Uuid,
        running: &[RunningSession],
        out: &mut Effects,
    ) -> HubResult<(HashSet<Uuid>, Vec<Uuid>)> {
        let mut listed = HashSet::with_capacity(running.len());
        let mut live = Vec::new();
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
        Ok((listed, live))
    }

    /// Sends again the start of each task session of the server still starting that the
    /// hello does not list, unless it was made on this connection (after `connected_at`).
    async fn start_again(
        &self,
        tx: &mut Conn,
        server_id: Uuid,
        listed: &HashSet<Uuid>,
        connected_at: i64,
        out: &mut Effects,
    ) -> HubResult<()> {
        let now = now_ms();
        for s in
            store::sessions::of_server_with_status(tx, server_id, SessionStatus::Starting).await?
        {
            if listed.contains(&s.id) || s.started_at > connected_at {
                continue;
            }
            let Some(tid) = s.task_id else { continue };
            let Some(t) = store::tasks::get(tx, tid).await? else {
                continue;
            };
            // The old token may be lost with the old connection: issue a fresh one.
            store::tokens::revoke_session(tx, s.id, now).await?;
            out.revoked_tokens = true;
            let start = self.start_message(tx, &s, Some(&t), now).await?;
            out.tell(server_id, start);
        }
        Ok(())
    }

    /// Resumes each session the hello listed that the hub still runs there (re-read under the
    /// write lock: it may have ended since); one whose task closed meanwhile is told to finish,
    /// and its agent, if lost with its terminal, not to come back.
    async fn resume_live(
        &self,
        tx: &mut Conn,
        server_id: Uuid,
        live: Vec<Uuid>,
        out: &mut Effects,
    ) -> HubResult<()> {
        for id in live {
            let Some(s) = store::sessions::get(tx, id)
                .await?
                .filter(|s| s.status != SessionStatus::Ended && s.server_id == server_id)
            else {
                out.tell(server_id, stop_unknown(id));
                continue;
            };
            let last_seq = self.last_seq(tx, id).await?.max(0) as u64;
            let task = match s.task_id {
                Some(t) => store::tasks::get(tx, t).await?,
                None => None,
            };
            // An agent lost with its terminal comes back only to work on an open task (a kept
            // session of a finished one is not told to carry on with it).
            let resume_agent = task.as_ref().is_none_or(|t| !t.status.is_terminal());
            out.tell(
                server_id,
                HubToDaemon::Resume {
                    session_id: id,
                    last_seq,
                    state: Some(s.state),
                    conversation_id: s.conversation_id.clone(),
                    resume_agent,
                },
            );
            // Its task closed while the daemon was away: the agent finishes now.
            if let Some(t) =
                task.filter(|t| matches!(t.status, TaskStatus::Done | TaskStatus::Failed))
            {
                let reason = format!("{} is {}", t.reference(), t.status);
                self.end_task_sessions(tx, &t, SessionsEnd::Finish, &reason, out)
                    .await?;
            }
        }
        Ok(())
    }

    /// A heartbeat: the server is online now (and `server_online` is logged if it was not).
    pub async fn daemon_heartbeat(&self, server_id: Uuid) -> HubResult<()> {
        let mut tx = self.store.write().await?;
        let came_online = store::servers::heartbeat(&mut tx, server_id, now_ms()).await?;
        let mut out = Effects::default();
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
        let mut out = Effects::default();
        for server in gone {
            out.event(NewEvent {
                kind: EventKind::ServerOffline,
                actor: "hub".into(),
                project_id: Some(server.project_id),
                task_id: None,
                related_task_id: None,
                server_id: Some(server.id),
                session_id: None,
                details: json!({"server": server.name, "reason": format!("no heartbeat for {}s", self.config.offline_after.as_secs())}),
            });
        }
        self.commit(tx, out).await?;
        Ok(())
    }
}
