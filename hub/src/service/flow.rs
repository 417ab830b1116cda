//! Tasks in motion: assignment (by hand and by the cascade), completion with its cascade,
//! failure, cancellation and retry.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use orchestratia_proto::api::CompleteTask;
use orchestratia_proto::time::now_ms;
use orchestratia_proto::ws::{HubToDaemon, SessionStart, TaskPayload};
use orchestratia_proto::{
    EventKind, SESSION_TOKEN_PREFIX, Server, Session, SessionStatus, Task, TaskStatus,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::tasks::{requirements, server_facts};
use super::{Hub, Outbox, validate};
use crate::auth::{Principal, new_token, new_tokens, random_hex};
use crate::bad;
use crate::engine::cascade::plan_completion;
use crate::engine::deps::validate_contract_key;
use crate::engine::lifecycle::{Transition, next};
use crate::engine::matching::{evaluate, no_winner_reason, rank};
use crate::error::{HubError, HubResult};
use crate::store::events::NewEvent;
use crate::store::tasks::TaskRecord;
use crate::store::tokens::{Token, TokenKind};
use crate::store::{self, Conn};

/// The task as a daemon (and the agent) receives it.
pub(crate) fn payload(t: &TaskRecord, resolved_inputs: BTreeMap<String, Value>) -> TaskPayload {
    TaskPayload {
        id: t.id,
        reference: t.reference(),
        title: t.title.clone(),
        spec: t.spec.clone(),
        structured_spec: t.structured_spec.clone(),
        priority: t.priority.to_string(),
        repo: t.repo.clone(),
        languages: t.languages.clone(),
        require_plan_approval: t.require_plan_approval,
        orchestrator: t.orchestrator,
        resolved_inputs,
    }
}

/// A task to give to a server, with its resolved inputs and, when the cascade chose the
/// server, its score.
pub(crate) type Assignment = (
    TaskRecord,
    Arc<Server>,
    BTreeMap<String, Value>,
    Option<i64>,
);

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
        next(t.status, Transition::Assign, p.lifecycle_actor())
            .map_err(|e| HubError::Conflict(format!("{}: {e}", t.reference())))?;
        if let Some(reason) = self
            .blocked_reasons(&mut tx, std::slice::from_ref(&t))
            .await?
            .remove(&t.id)
        {
            return Err(HubError::Conflict(format!(
                "{} is blocked: {reason}",
                t.reference()
            )));
        }
        let (facts, _) = server_facts(&mut tx, t.project_id).await?;
        let Some(f) = facts.iter().find(|f| f.id == server.id) else {
            return Err(HubError::NotFound(format!(
                "server '{}' not found",
                server.name
            )));
        };
        let cand = evaluate(&requirements(&t), f);
        if let Some(why) = cand.disqualified {
            return Err(HubError::Conflict(format!(
                "cannot assign {} to {}: {why}",
                t.reference(),
                server.name
            )));
        }
        let mut out = Outbox::default();
        // Reassignment: the old session stops.
        self.stop_sessions(&mut tx, &t, "the task was reassigned", &mut out)
            .await?;
        if t.phase.is_none() || t.status == TaskStatus::Pending {
            let phase = store::projects::allocate_phase(&mut tx, t.project_id).await?;
            store::tasks::release(&mut tx, &[t.id], phase, None, now_ms()).await?;
        }
        let inputs = store::contracts::inputs_of(&mut tx, &[t.id]).await?;
        self.assign_to(
            &mut tx,
            &t,
            &server,
            inputs.get(&t.id).cloned().unwrap_or_default(),
            &p.actor(),
            None,
            &mut out,
        )
        .await?;
        self.commit(tx, out).await?;
        let mut c = self.read().await?;
        let t = store::tasks::get(&mut c, t.id)
            .await?
            .ok_or_else(|| HubError::NotFound("task vanished".into()))?;
        self.to_task(&mut c, &t).await
    }

    /// Gives `t` to `server` (see [`Hub::assign_batch`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn assign_to(
        &self,
        c: &mut Conn,
        t: &TaskRecord,
        server: &Server,
        inputs: BTreeMap<String, Value>,
        actor: &str,
        auto: Option<(Option<&TaskRecord>, i64)>,
        out: &mut Outbox,
    ) -> HubResult<Session> {
        let cause = auto.and_then(|(c, _)| c);
        let score = auto.map(|(_, s)| s);
        let mut started = self
            .assign_batch(
                c,
                vec![(t.clone(), Arc::new(server.clone()), inputs, score)],
                actor,
                cause,
                out,
            )
            .await?;
        started
            .pop()
            .ok_or_else(|| HubError::Internal("no session was started".into()))
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
        out: &mut Outbox,
    ) -> HubResult<Vec<Session>> {
        let now = now_ms();
        let mut groups: BTreeMap<(Uuid, bool), Vec<Uuid>> = BTreeMap::new();
        for (t, s, ..) in &items {
            groups
                .entry((s.id, t.require_plan_approval))
                .or_default()
                .push(t.id);
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
        let names = self.session_names(c, items.len()).await?;
        let mut sessions = Vec::with_capacity(items.len());
        let mut tokens = Vec::with_capacity(items.len());
        let mut plain = Vec::with_capacity(items.len());
        let fresh = new_tokens(SESSION_TOKEN_PREFIX, items.len());
        for (((t, server, _, _), name), (token, hash)) in items.iter().zip(names).zip(fresh) {
            let session = Session {
                id: Uuid::now_v7(),
                name,
                server_id: server.id,
                server: server.name.clone(),
                task_id: Some(t.id),
                task: Some(t.reference()),
                status: SessionStatus::Starting,
                pid: None,
                tmux: None,
                working_dir: t.repo.as_ref().and_then(|r| server.repos.get(r).cloned()),
                exit_code: None,
                state: orchestratia_proto::SessionState::Starting,
                state_since: now,
                waiting: false,
                conversation_id: None,
                started_at: now,
                ended_at: None,
            };
            tokens.push(token_record(t, &session, hash, now));
            plain.push(token);
            sessions.push(session);
        }
        store::sessions::insert_many(c, &sessions).await?;
        store::tokens::insert_many(c, &tokens).await?;
        for (((t, server, inputs, score), session), token) in
            items.into_iter().zip(&sessions).zip(plain)
        {
            if let Some(score) = score {
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
            // A daemon that is not connected gets its starting sessions again when it
            // connects (`daemon_connected`): build messages only for connected ones.
            if !self.daemons.is_connected(server.id) {
                continue;
            }
            let task = payload(&t, inputs);
            out.tell(
                server.id,
                HubToDaemon::TaskAssigned {
                    task: task.clone(),
                    session_id: session.id,
                },
            );
            out.tell(
                server.id,
                HubToDaemon::SessionStart(SessionStart {
                    session_id: session.id,
                    name: session.name.clone(),
                    task: Some(task),
                    working_dir: session.working_dir.clone(),
                    token,
                    hub_url: self.public_url.clone(),
                }),
            );
        }
        Ok(sessions)
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
        out: &mut Outbox,
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
        out: &mut Outbox,
    ) -> HubResult<()> {
        tasks.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.number.cmp(&b.number)));
        let tasks = std::mem::take(tasks);
        let (mut facts, servers) = server_facts(c, project).await?;
        let servers: HashMap<Uuid, Arc<Server>> = servers
            .into_iter()
            .map(|(id, s)| (id, Arc::new(s)))
            .collect();
        let ids: Vec<Uuid> = tasks.iter().map(|t| t.id).collect();
        let mut inputs = store::contracts::inputs_of(c, &ids).await?;
        let mut batch = Vec::new();
        for t in tasks {
            let ranked = rank(&requirements(&t), &facts);
            match ranked.iter().find(|c| c.winner) {
                Some(win) => {
                    let Some(server) = servers.get(&win.server_id) else {
                        continue;
                    };
                    let inputs = inputs.remove(&t.id).unwrap_or_default();
                    batch.push((t, server.clone(), inputs, win.score));
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
    pub(crate) async fn assign_waiting(&self, project: Uuid) -> HubResult<()> {
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
        let mut out = Outbox::default();
        self.assign_released(&mut tx, project, &mut ready, None, &mut out)
            .await?;
        self.commit(tx, out).await?;
        Ok(())
    }

    /// Completes a task, publishes its contracts and runs the cascade, all in one transaction.
    pub async fn complete_task(
        &self,
        p: &Principal,
        reference: &str,
        body: &CompleteTask,
    ) -> HubResult<Task> {
        let lim = &self.config.limits;
        let summary = validate::text("summary", &body.result.summary, 20_000)?;
        let changes = body
            .result
            .changes
            .as_deref()
            .map(|v| validate::optional_text("changes", v, 100_000))
            .transpose()?;
        let tests = body
            .result
            .tests
            .as_deref()
            .map(|v| validate::optional_text("tests", v, 100_000))
            .transpose()?;
        if body.contracts.len() > 100 {
            return Err(bad!("at most 100 contracts per completion"));
        }
        for (k, v) in &body.contracts {
            validate_contract_key(k).map_err(|e| bad!("{e}"))?;
            let size = v.to_string().len();
            if size > lim.max_contract {
                return Err(HubError::TooLarge(format!(
                    "contract '{k}' is {size} bytes; the limit is {}",
                    lim.max_contract
                )));
            }
        }
        let mut tx = self.store.write().await?;
        let t = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_work_on(&t, "complete")?;
        tx.lock_project(t.project_id).await?;
        // Re-read under the lock: a concurrent completion must see the closed task.
        let t = store::tasks::get(&mut tx, t.id)
            .await?
            .ok_or_else(|| HubError::NotFound("task vanished".into()))?;
        next(t.status, Transition::Complete, p.lifecycle_actor())
            .map_err(|e| HubError::Conflict(format!("{}: {e}", t.reference())))?;
        let now = now_ms();
        let result = json!({"summary": summary, "changes": changes, "tests": tests,
                            "contracts": body.contracts.keys().collect::<Vec<_>>()});
        let from: Vec<TaskStatus> = TaskStatus::ALL
            .iter()
            .copied()
            .filter(|s| !s.is_terminal())
            .collect();
        if !store::tasks::close(&mut tx, t.id, &from, TaskStatus::Done, &result, now).await? {
            return Err(HubError::Conflict(format!(
                "{} was closed meanwhile",
                t.reference()
            )));
        }
        store::contracts::insert(&mut tx, t.id, &body.contracts, now).await?;
        store::humans::cancel_waiting_of_task(&mut tx, t.id, t.status, now).await?;
        let actor = p.actor();
        let mut out = Outbox::default();
        out.task_event(
            EventKind::TaskCompleted,
            &actor,
            t.project_id,
            t.id,
            json!({"result": result, "contracts": body.contracts.keys().collect::<Vec<_>>()}),
        );
        self.status_update(&t, TaskStatus::Done, &mut out);
        for k in body.contracts.keys() {
            out.task_event(
                EventKind::ContractFulfilled,
                "hub",
                t.project_id,
                t.id,
                json!({"key": k}),
            );
        }
        let why = match p {
            Principal::Admin => format!("{} was completed by an admin", t.reference()),
            _ => format!("{} is done", t.reference()),
        };
        self.finish_sessions(&mut tx, &t, &why, &mut out).await?;
        // The cascade.
        let published: BTreeSet<String> = body.contracts.keys().cloned().collect();
        let downstream = store::deps::downstream_of(&mut tx, t.id).await?;
        let plan = plan_completion(t.id, &published, &downstream);
        let resolved_ids: Vec<Uuid> = plan.resolved.iter().map(|r| r.dep_id).collect();
        store::deps::resolve(&mut tx, &resolved_ids, now).await?;
        let still: HashMap<Uuid, &String> =
            plan.still_blocked.iter().map(|(id, r)| (*id, r)).collect();
        for r in &plan.resolved {
            out.event(NewEvent {
                kind: EventKind::DependencyResolved,
                actor: "hub".into(),
                project_id: Some(t.project_id),
                task_id: Some(t.id),
                related_task_id: Some(r.downstream),
                server_id: None,
                session_id: None,
                details: json!({"downstream": r.downstream_ref, "upstream": t.reference(),
                                "type": r.dep_type, "contract_key": r.contract_key,
                                "still_waiting": still.get(&r.downstream)}),
            });
        }
        let mut unblocked: HashMap<Uuid, TaskRecord> = store::tasks::many(&mut tx, &plan.unblocked)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let mut ordered: Vec<TaskRecord> = plan
            .unblocked
            .iter()
            .filter_map(|id| unblocked.remove(id))
            .collect();
        ordered.retain(|u| u.status == TaskStatus::Pending && u.server_id.is_none());
        self.release_and_assign(&mut tx, t.project_id, ordered, Some(&t), &mut out)
            .await?;
        self.commit(tx, out).await?;
        let mut done = t;
        done.status = TaskStatus::Done;
        done.result = Some(result);
        done.updated_at = now;
        done.completed_at = Some(now);
        Ok(done.to_task(None))
    }

    /// Fails a task with a reason; its downstream stays blocked until it is retried.
    pub async fn fail_task(&self, p: &Principal, reference: &str, reason: &str) -> HubResult<Task> {
        let reason = validate::text("reason", reason, 20_000)?;
        let mut tx = self.store.write().await?;
        let t = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_work_on(&t, "fail")?;
        tx.lock_project(t.project_id).await?;
        let mut out = Outbox::default();
        self.fail_in(&mut tx, p, &t, &reason, &mut out).await?;
        self.commit(tx, out).await?;
        let mut c = self.read().await?;
        let t = store::tasks::get(&mut c, t.id)
            .await?
            .ok_or_else(|| HubError::NotFound("task vanished".into()))?;
        self.to_task(&mut c, &t).await
    }

    /// The failure itself, inside the caller's transaction (also used when an agent exits).
    pub(crate) async fn fail_in(
        &self,
        c: &mut Conn,
        p: &Principal,
        t: &TaskRecord,
        reason: &str,
        out: &mut Outbox,
    ) -> HubResult<()> {
        let t = store::tasks::get(c, t.id)
            .await?
            .ok_or_else(|| HubError::NotFound("task vanished".into()))?;
        next(t.status, Transition::Fail, p.lifecycle_actor())
            .map_err(|e| HubError::Conflict(format!("{}: {e}", t.reference())))?;
        let now = now_ms();
        let from: Vec<TaskStatus> = TaskStatus::ALL
            .iter()
            .copied()
            .filter(|s| !s.is_terminal())
            .collect();
        let result = json!({"reason": reason});
        if !store::tasks::close(c, t.id, &from, TaskStatus::Failed, &result, now).await? {
            return Err(HubError::Conflict(format!(
                "{} was closed meanwhile",
                t.reference()
            )));
        }
        store::humans::cancel_waiting_of_task(c, t.id, t.status, now).await?;
        out.task_event(
            EventKind::TaskFailed,
            &p.actor(),
            t.project_id,
            t.id,
            json!({"reason": reason}),
        );
        self.status_update(&t, TaskStatus::Failed, out);
        let why = match p {
            Principal::Admin => format!("{} was failed by an admin", t.reference()),
            _ => format!("{} failed", t.reference()),
        };
        self.finish_sessions(c, &t, &why, out).await?;
        Ok(())
    }

    /// Cancels a task (from any open state, or failed) and stops its sessions.
    pub async fn cancel_task(&self, p: &Principal, reference: &str) -> HubResult<Task> {
        let mut tx = self.store.write().await?;
        let t = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_manager(t.project_id, "cancelling a task")?;
        tx.lock_project(t.project_id).await?;
        next(t.status, Transition::Cancel, p.lifecycle_actor())
            .map_err(|e| HubError::Conflict(format!("{}: {e}", t.reference())))?;
        let now = now_ms();
        let mut from: Vec<TaskStatus> = TaskStatus::ALL
            .iter()
            .copied()
            .filter(|s| !s.is_terminal())
            .collect();
        from.push(TaskStatus::Failed);
        if !store::tasks::transition(&mut tx, t.id, &from, TaskStatus::Cancelled, now).await? {
            return Err(HubError::Conflict(format!(
                "{} changed meanwhile; retry",
                t.reference()
            )));
        }
        store::humans::cancel_waiting_of_task(&mut tx, t.id, t.status, now).await?;
        let mut out = Outbox::default();
        out.task_event(
            EventKind::TaskCancelled,
            &p.actor(),
            t.project_id,
            t.id,
            json!({"from": t.status}),
        );
        self.status_update(&t, TaskStatus::Cancelled, &mut out);
        self.stop_sessions(&mut tx, &t, "the task was cancelled", &mut out)
            .await?;
        self.commit(tx, out).await?;
        let mut c = self.read().await?;
        let t = store::tasks::get(&mut c, t.id)
            .await?
            .ok_or_else(|| HubError::NotFound("task vanished".into()))?;
        self.to_task(&mut c, &t).await
    }

    /// Puts a failed or cancelled task back to pending; if nothing blocks it, it is assigned
    /// again to the best server as a new cascade wave.
    pub async fn retry_task(&self, p: &Principal, reference: &str) -> HubResult<Task> {
        let mut tx = self.store.write().await?;
        let t = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_manager(t.project_id, "retrying a task")?;
        tx.lock_project(t.project_id).await?;
        next(t.status, Transition::Retry, p.lifecycle_actor())
            .map_err(|e| HubError::Conflict(format!("{}: {e}", t.reference())))?;
        // The first attempt's sessions end here and their tokens die with them: an agent of
        // an attempt that is over cannot act on the next one.
        let mut out = Outbox::default();
        self.stop_sessions(&mut tx, &t, "the task was retried", &mut out)
            .await?;
        let now = now_ms();
        if !store::tasks::reset_for_retry(&mut tx, t.id, now).await? {
            return Err(HubError::Conflict(format!(
                "{} changed meanwhile; retry",
                t.reference()
            )));
        }
        out.task_event(
            EventKind::TaskRetried,
            &p.actor(),
            t.project_id,
            t.id,
            json!({"from": t.status}),
        );
        let fresh = store::tasks::get(&mut tx, t.id)
            .await?
            .ok_or_else(|| HubError::NotFound("task vanished".into()))?;
        if self
            .blocked_reasons(&mut tx, std::slice::from_ref(&fresh))
            .await?
            .is_empty()
        {
            self.release_and_assign(&mut tx, t.project_id, vec![fresh], None, &mut out)
                .await?;
        }
        self.commit(tx, out).await?;
        let mut c = self.read().await?;
        let t = store::tasks::get(&mut c, t.id)
            .await?
            .ok_or_else(|| HubError::NotFound("task vanished".into()))?;
        self.to_task(&mut c, &t).await
    }

    /// Ends the open sessions of a task now and tells their daemons to stop them (cancelled,
    /// reassigned).
    pub(crate) async fn stop_sessions(
        &self,
        c: &mut Conn,
        t: &TaskRecord,
        reason: &str,
        out: &mut Outbox,
    ) -> HubResult<()> {
        for s in store::sessions::open_of_task(c, t.id).await? {
            self.end_session(c, &s, Some(t.project_id), reason, out)
                .await?;
        }
        Ok(())
    }

    /// Emits `task_status_update` (done, failed, needs_human, cancelled); after the commit it
    /// is pushed to the open orchestrator sessions of the project (Flow 9).
    pub(crate) fn status_update(&self, t: &TaskRecord, status: TaskStatus, out: &mut Outbox) {
        out.task_event(
            EventKind::TaskStatusUpdate,
            "hub",
            t.project_id,
            t.id,
            json!({"task": t.reference(), "title": t.title, "status": status}),
        );
        out.status_updates
            .push((t.project_id, t.id, t.reference(), status));
    }
}
