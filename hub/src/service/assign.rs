//! Giving tasks to servers: by hand (`task assign`), as a cascade wave released by the hub, and
//! to waiting tasks when a server comes online; the sessions and scoped tokens each assignment
//! starts; and the matching explanation (`task explain`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use orchestratia_proto::api::Explanation;
use orchestratia_proto::time::now_ms;
use orchestratia_proto::workspace::WorkspaceStart;
use orchestratia_proto::ws::{HubToDaemon, SessionStart};
use orchestratia_proto::{
    EventKind, SESSION_TOKEN_PREFIX, Server, Session, SessionState, SessionStatus, Task, TaskStatus,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::close::{SessionsEnd, check_transition};
use super::facts::{payload, server_facts};
use super::{Effects, Hub};
use crate::auth::{Principal, new_token, new_tokens, random_hex};
use crate::bad;
use crate::engine::lifecycle::Transition;
use crate::engine::matching::{evaluate, no_winner_reason, rank};
use crate::error::{HubError, HubResult};
use crate::store::events::NewEvent;
use crate::store::tasks::TaskRecord;
use crate::store::tokens::{Token, TokenKind};
use crate::store::{self, Conn};

/// A task to give to a server.
pub(crate) struct Assignment {
    /// The task.
    pub task: TaskRecord,
    /// The server that takes it.
    pub server: Arc<Server>,
    /// The contracts of its upstreams it receives, by key.
    pub inputs: BTreeMap<String, Value>,
    /// The server's score when the cascade chose it (then `task_auto_assigned` is recorded);
    /// `None` for an assignment by hand.
    pub score: Option<i64>,
}

/// What a session start carries besides the task: its worktree, and the review comments
/// its agent has not seen.
struct Started {
    workspace: Option<WorkspaceStart>,
    review: Option<String>,
}

/// The stored record of a token scoped to one session's task.
fn token_record(t: &TaskRecord, s: &Session, hash: String, now: i64) -> Token {
    Token {
        hash,
        kind: TokenKind::Session,
        project_id: Some(t.project_id),
        server_id: None,
        task_id: Some(t.id),
        session_id: Some(s.id),
        orchestrator: t.orchestrator,
        created_at: now,
        expires_at: None,
        used_at: None,
        revoked_at: None,
        server_name: None,
    }
}

/// A session starting now on `server`, named `name`, for `task` if any. It works in
/// `working_dir`, or else in the server's checkout of the task's repository.
pub(crate) fn starting_session(
    name: String,
    server: &Server,
    task: Option<&TaskRecord>,
    working_dir: Option<String>,
    now: i64,
) -> Session {
    Session {
        id: Uuid::now_v7(),
        name,
        server_id: server.id,
        server: server.name.clone(),
        task_id: task.map(|t| t.id),
        task: task.map(|t| t.reference()),
        status: SessionStatus::Starting,
        pid: None,
        tmux: None,
        working_dir: working_dir.or_else(|| {
            task.and_then(|t| t.repo.as_ref())
                .and_then(|r| server.repos.get(r).cloned())
        }),
        exit_code: None,
        state: SessionState::Starting,
        state_since: now,
        waiting: false,
        conversation_id: None,
        started_at: now,
        ended_at: None,
    }
}

/// Moves the tasks to assigned (or planning when a plan must be approved) on their servers,
/// a statement per server and target status; refuses if any of them changed meanwhile.
async fn mark_assigned(c: &mut Conn, items: &[Assignment], now: i64) -> HubResult<()> {
    let mut groups: BTreeMap<(Uuid, bool), Vec<Uuid>> = BTreeMap::new();
    for a in items {
        groups
            .entry((a.server.id, a.task.require_plan_approval))
            .or_default()
            .push(a.task.id);
    }
    for ((server, planning), ids) in &groups {
        let target = if *planning {
            TaskStatus::Planning
        } else {
            TaskStatus::Assigned
        };
        let changed = store::tasks::assign_many(
            c,
            ids,
            &[TaskStatus::Pending, TaskStatus::Assigned],
            *server,
            target,
            now,
        )
        .await?;
        if changed != ids.len() as u64 {
            return Err(HubError::Conflict(
                "a task changed while being assigned; retry".into(),
            ));
        }
    }
    Ok(())
}

/// Queues the events of one assignment: `task_auto_assigned` when the cascade chose the
/// server (caused by `cause`), `task_assigned`, and `task_planning` when a plan must be
/// approved first.
fn assignment_events(
    a: &Assignment,
    session: &Session,
    actor: &str,
    cause: Option<&TaskRecord>,
    out: &mut Effects,
) {
    let (t, server) = (&a.task, &a.server);
    if let Some(score) = a.score {
        let mut e = NewEvent {
            kind: EventKind::TaskAutoAssigned,
            actor: "hub".into(),
            project_id: Some(t.project_id),
            task_id: Some(t.id),
            related_task_id: None,
            server_id: Some(server.id),
            session_id: Some(session.id),
            details: json!({"task": t.reference(), "agent": server.name, "score": score}),
        };
        if let Some(cause) = cause {
            e.task_id = Some(cause.id);
            e.related_task_id = Some(t.id);
        }
        out.event(e);
    }
    out.event(NewEvent {
        kind: EventKind::TaskAssigned,
        actor: actor.to_string(),
        project_id: Some(t.project_id),
        task_id: Some(t.id),
        related_task_id: None,
        server_id: Some(server.id),
        session_id: Some(session.id),
        details: json!({"agent": server.name, "session": session.name}),
    });
    if t.require_plan_approval {
        out.task_event(
            EventKind::TaskPlanning,
            "hub",
            t.project_id,
            t.id,
            json!({"agent": server.name, "reason": "require_plan_approval"}),
        );
    }
}

impl Hub {
    /// Assigns a task to a server by hand (`task assign ID --session NAME`); a session starts there.
    pub async fn assign_task(
        &self,
        p: &Principal,
        reference: &str,
        server_key: &str,
    ) -> HubResult<Task> {
        let mut tx = self.store.write().await?;
        let t = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_manager(t.project_id, "assigning a task")?;
        tx.lock_project(t.project_id).await?;
        let server = self.resolve_server(&mut tx, p, server_key).await?;
        if server.project_id != t.project_id {
            return Err(bad!(
                "server '{}' belongs to another project than {}",
                server.name,
                t.reference()
            ));
        }
        check_transition(&t, Transition::Assign, p)?;
        self.check_assignable(&mut tx, &t, &server).await?;
        if let Some(budget) = self.budget_hold(&mut tx, t.project_id).await? {
            return Err(HubError::Conflict(format!(
                "cannot assign {}: {} (enforced); raise or clear the budget first",
                t.reference(),
                super::usage::held_reason(&budget)
            )));
        }
        let mut out = Effects::default();
        // Reassignment: the old session stops.
        let how = SessionsEnd::Stop;
        self.end_task_sessions(&mut tx, &t, how, "the task was reassigned", &mut out)
            .await?;
        if t.phase.is_none() || t.status == TaskStatus::Pending {
            let phase = store::projects::allocate_phase(&mut tx, t.project_id).await?;
            store::tasks::release(&mut tx, &[t.id], phase, None, now_ms()).await?;
        }
        let mut inputs = store::contracts::inputs_of(&mut tx, &[t.id]).await?;
        let id = t.id;
        let item = Assignment {
            inputs: inputs.remove(&id).unwrap_or_default(),
            task: t,
            server: Arc::new(server),
            score: None,
        };
        self.assign_batch(&mut tx, vec![item], &p.actor(), None, &mut out)
            .await?;
        self.commit(tx, out).await?;
        self.reload_task(id).await
    }

    /// Refuses to assign `t` by hand while it is blocked, or to a server the matcher
    /// disqualifies (with the reason).
    async fn check_assignable(
        &self,
        c: &mut Conn,
        t: &TaskRecord,
        server: &Server,
    ) -> HubResult<()> {
        if let Some(reason) = self
            .blocked_reasons(c, std::slice::from_ref(t))
            .await?
            .remove(&t.id)
        {
            return Err(HubError::Conflict(format!(
                "{} is blocked: {reason}",
                t.reference()
            )));
        }
        let candidates = server_facts(c, t.project_id).await?;
        let Some(f) = candidates.facts.iter().find(|f| f.id == server.id) else {
            return Err(HubError::NotFound(format!(
                "server '{}' not found",
                server.name
            )));
        };
        let cand = evaluate(&self.requirements_of(c, t).await?, f);
        if let Some(why) = cand.disqualified {
            return Err(HubError::Conflict(format!(
                "cannot assign {} to {}: {why}",
                t.reference(),
                server.name
            )));
        }
        Ok(())
    }

    /// Gives tasks to servers in a few statements whatever their number: the status (assigned,
    /// or planning when a plan must be approved), one session each with its scoped token, the
    /// events, and the `task_assigned` + `session_start` messages for the daemons. A `score`
    /// marks an assignment the cascade chose (`task_auto_assigned`, caused by `cause`).
    pub(crate) async fn assign_batch(
        &self,
        c: &mut Conn,
        items: Vec<Assignment>,
        actor: &str,
        cause: Option<&TaskRecord>,
        out: &mut Effects,
    ) -> HubResult<Vec<Session>> {
        let now = now_ms();
        mark_assigned(c, &items, now).await?;
        let names = self.session_names(c, items.len()).await?;
        let mut sessions = Vec::with_capacity(items.len());
        let mut tokens = Vec::with_capacity(items.len());
        let mut plain = Vec::with_capacity(items.len());
        let fresh = new_tokens(SESSION_TOKEN_PREFIX, items.len());
        for ((a, name), (token, hash)) in items.iter().zip(names).zip(fresh) {
            let session = starting_session(name, &a.server, Some(&a.task), None, now);
            tokens.push(token_record(&a.task, &session, hash, now));
            plain.push(token);
            sessions.push(session);
        }
        store::sessions::insert_many(c, &sessions).await?;
        store::tokens::insert_many(c, &tokens).await?;
        let starting: Vec<(&TaskRecord, &Session)> = items
            .iter()
            .zip(&sessions)
            .map(|(a, s)| (&a.task, s))
            .collect();
        let mut reviews = self.take_reviews(c, &starting, now, out).await?;
        for ((a, session), token) in items.into_iter().zip(&sessions).zip(plain) {
            assignment_events(&a, session, actor, cause, out);
            let workspace = self.workspace_start(c, &a.task).await?;
            let review = reviews.remove(&a.task.id);
            // A daemon that is not connected gets its starting sessions again when it
            // connects (`daemon_connected`): build messages only for reachable ones.
            if self.daemons.may_reach(a.server.id) {
                self.tell_started(a, session, token, Started { workspace, review }, out);
            }
        }
        Ok(sessions)
    }

    /// Queues `task_assigned` and `session_start` (with the session's token) for the daemon
    /// of an assignment's server.
    fn tell_started(
        &self,
        a: Assignment,
        session: &Session,
        token: String,
        extra: Started,
        out: &mut Effects,
    ) {
        let mut task = payload(&a.task, a.inputs);
        task.review = extra.review;
        out.tell(
            a.server.id,
            HubToDaemon::TaskAssigned {
                task: task.clone(),
                session_id: session.id,
            },
        );
        out.tell(
            a.server.id,
            HubToDaemon::SessionStart(SessionStart {
                session_id: session.id,
                name: session.name.clone(),
                task: Some(task),
                working_dir: session.working_dir.clone(),
                token,
                hub_url: self.public_url.clone(),
                workspace: extra.workspace,
            }),
        );
    }

    /// `n` new session names (`orc-` + 6 hex), none of them taken: with 16.7 million names,
    /// collisions are rare but certain over a long-lived hub's history.
    pub(crate) async fn session_names(&self, c: &mut Conn, n: usize) -> HubResult<Vec<String>> {
        let mut names: Vec<String> = Vec::with_capacity(n);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10 {
            while names.len() < n {
                for hex in random_hex(6, n - names.len()) {
                    let name = format!("orc-{hex}");
                    if seen.insert(name.clone()) {
                        names.push(name);
                    }
                }
            }
            let taken = store::sessions::names_taken(c, &names).await?;
            if taken.is_empty() {
                return Ok(names);
            }
            names.retain(|n| !taken.contains(n));
        }
        Err(HubError::Internal(
            "could not find free session names".into(),
        ))
    }

    /// A fresh token scoped to one session's task, stored.
    pub(crate) async fn session_token(
        &self,
        c: &mut Conn,
        t: &TaskRecord,
        s: &Session,
        now: i64,
    ) -> HubResult<String> {
        let (token, hash) = new_token(SESSION_TOKEN_PREFIX);
        store::tokens::insert(c, &token_record(t, s, hash, now)).await?;
        Ok(token)
    }

    /// Releases tasks as one cascade wave and assigns each to its best server, by priority
    /// then number; a task with no eligible server waits, with the reason, for one to appear.
    pub(crate) async fn release_and_assign(
        &self,
        c: &mut Conn,
        project: Uuid,
        mut tasks: Vec<TaskRecord>,
        cause: Option<&TaskRecord>,
        out: &mut Effects,
    ) -> HubResult<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let phase = store::projects::allocate_phase(c, project).await?;
        let ids: Vec<Uuid> = tasks.iter().map(|t| t.id).collect();
        let released_by = cause.map(TaskRecord::reference);
        store::tasks::release(c, &ids, phase, released_by.as_deref(), now).await?;
        for t in &tasks {
            let mut e = NewEvent {
                kind: EventKind::TaskUnblocked,
                actor: "hub".into(),
                project_id: Some(project),
                task_id: Some(t.id),
                related_task_id: None,
                server_id: None,
                session_id: None,
                details: json!({"task": t.reference(), "phase": phase, "released_by": released_by}),
            };
            if let Some(cause) = cause {
                e.task_id = Some(cause.id);
                e.related_task_id = Some(t.id);
            }
            out.event(e);
        }
        self.assign_released(c, project, &mut tasks, cause, out)
            .await
    }

    /// Assigns released tasks to their best servers (see [`Hub::release_and_assign`]).
    async fn assign_released(
        &self,
        c: &mut Conn,
        project: Uuid,
        tasks: &mut Vec<TaskRecord>,
        cause: Option<&TaskRecord>,
        out: &mut Effects,
    ) -> HubResult<()> {
        tasks.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.number.cmp(&b.number)));
        let tasks = std::mem::take(tasks);
        if let Some(budget) = self.budget_hold(c, project).await? {
            let why = super::usage::held_reason(&budget);
            for t in &tasks {
                store::tasks::set_wait_reason(c, t.id, Some(&why)).await?;
            }
            return Ok(());
        }
        let candidates = server_facts(c, project).await?;
        let mut facts = candidates.facts;
        let servers: HashMap<Uuid, Arc<Server>> = candidates
            .servers
            .into_iter()
            .map(|(id, s)| (id, Arc::new(s)))
            .collect();
        let ids: Vec<Uuid> = tasks.iter().map(|t| t.id).collect();
        let mut inputs = store::contracts::inputs_of(c, &ids).await?;
        let mut batch = Vec::new();
        for t in tasks {
            let ranked = rank(&self.requirements_of(c, &t).await?, &facts);
            match ranked.iter().find(|c| c.winner) {
                Some(win) => {
                    let Some(server) = servers.get(&win.server_id) else {
                        continue;
                    };
                    batch.push(Assignment {
                        inputs: inputs.remove(&t.id).unwrap_or_default(),
                        task: t,
                        server: server.clone(),
                        score: win.score,
                    });
                    // Later tasks of the same wave see this server's new load.
                    if let Some(f) = facts.iter_mut().find(|f| f.id == server.id) {
                        f.running += 1;
                    }
                }
                None => {
                    let why = no_winner_reason(&ranked);
                    store::tasks::set_wait_reason(
                        c,
                        t.id,
                        Some(&format!("waiting for a server: {why}")),
                    )
                    .await?;
                }
            }
        }
        if !batch.is_empty() {
            self.assign_batch(c, batch, "hub", cause, out).await?;
        }
        Ok(())
    }

    /// Assigns the released tasks of a project still waiting for a server (a server came online).
    /// Looks first without the project's lock (a fleet of daemons connecting at once must not
    /// queue on it when nothing waits), then again under it.
    pub(crate) async fn assign_waiting(&self, project: Uuid) -> HubResult<()> {
        {
            let mut c = self.read().await?;
            if store::tasks::waiting_for_server(&mut c, project)
                .await?
                .is_empty()
            {
                return Ok(());
            }
        }
        let mut tx = self.store.write().await?;
        tx.lock_project(project).await?;
        let waiting = store::tasks::waiting_for_server(&mut tx, project).await?;
        if waiting.is_empty() {
            return Ok(());
        }
        let reasons = self.blocked_reasons(&mut tx, &waiting).await?;
        let mut ready: Vec<TaskRecord> = waiting
            .into_iter()
            .filter(|t| !reasons.contains_key(&t.id))
            .collect();
        let mut out = Effects::default();
        self.assign_released(&mut tx, project, &mut ready, None, &mut out)
            .await?;
        self.commit(tx, out).await?;
        Ok(())
    }

    /// Every candidate server for a task, with its score or why it is disqualified.
    pub async fn explain(&self, p: &Principal, reference: &str) -> HubResult<Explanation> {
        let mut c = self.read().await?;
        let t = self.resolve_task(&mut c, p, reference, None).await?;
        let req = self.requirements_of(&mut c, &t).await?;
        let servers = server_facts(&mut c, t.project_id).await?.facts;
        let candidates = rank(&req, &servers);
        Ok(Explanation {
            task_id: t.id,
            task_reference: t.reference(),
            requirements: json!({"repo": req.repo, "languages": req.languages, "agent": req.agent, "os": req.os}),
            winner: candidates
                .iter()
                .find(|c| c.winner)
                .map(|c| c.server.clone()),
            candidates,
        })
    }
}
