//! Closing tasks: completion (with its contracts and the cascade it sets off), failure and
//! cancellation share one [`Hub::close_task`]; and reopening a closed task (retry).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use orchestratia_proto::api::CompleteTask;
use orchestratia_proto::time::now_ms;
use orchestratia_proto::ws::HubToDaemon;
use orchestratia_proto::{DependencyAfter, EventKind, Task, TaskStatus};
use serde_json::{Value, json};
use uuid::Uuid;

use super::tasks::task_record;
use super::{Effects, Hub, StatusUpdate, validate};
use crate::auth::Principal;
use crate::engine::cascade::{CascadePlan, plan_completion};
use crate::engine::lifecycle::{Transition, next};
use crate::error::{HubError, HubResult};
use crate::store::events::NewEvent;
use crate::store::tasks::TaskRecord;
use crate::store::{self, Conn};

/// How a task is closed, with what each ending records.
pub(crate) enum Ending<'a> {
    /// Done: the stored result, and the keys of the contracts it publishes.
    Complete {
        result: &'a Value,
        contracts: Vec<&'a String>,
    },
    /// Failed, for a reason.
    Fail { reason: &'a str },
    /// Cancelled by a manager.
    Cancel,
}

impl Ending<'_> {
    /// The status the task ends in.
    fn status(&self) -> TaskStatus {
        match self {
            Ending::Complete { .. } => TaskStatus::Done,
            Ending::Fail { .. } => TaskStatus::Failed,
            Ending::Cancel => TaskStatus::Cancelled,
        }
    }

    /// The lifecycle step it takes.
    fn transition(&self) -> Transition {
        match self {
            Ending::Complete { .. } => Transition::Complete,
            Ending::Fail { .. } => Transition::Fail,
            Ending::Cancel => Transition::Cancel,
        }
    }

    /// The event that records it.
    fn event_kind(&self) -> EventKind {
        match self {
            Ending::Complete { .. } => EventKind::TaskCompleted,
            Ending::Fail { .. } => EventKind::TaskFailed,
            Ending::Cancel => EventKind::TaskCancelled,
        }
    }

    /// That event's details.
    fn details(&self, t: &TaskRecord) -> Value {
        match self {
            Ending::Complete { result, contracts } => {
                json!({"result": result, "contracts": contracts})
            }
            Ending::Fail { reason } => json!({"reason": reason}),
            Ending::Cancel => json!({"from": t.status}),
        }
    }

    /// How its sessions end, and the reason they are given: a done or failed task's agents
    /// are told to finish (they may end their turn); a cancelled task's are stopped at once.
    fn sessions_end(&self, p: &Principal, t: &TaskRecord) -> (SessionsEnd, String) {
        let by_admin = matches!(p, Principal::Admin);
        let why = match self {
            Ending::Complete { .. } if by_admin => {
                format!("{} was completed by an admin", t.reference())
            }
            Ending::Complete { .. } => format!("{} is done", t.reference()),
            Ending::Fail { .. } if by_admin => format!("{} was failed by an admin", t.reference()),
            Ending::Fail { .. } => format!("{} failed", t.reference()),
            Ending::Cancel => return (SessionsEnd::Stop, "the task was cancelled".into()),
        };
        (SessionsEnd::Finish, why)
    }
}

/// How the open sessions of a task end.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionsEnd {
    /// They end on the hub now and their daemons stop them (the task was cancelled,
    /// reassigned or retried); their tokens are revoked.
    Stop,
    /// The task is over (done or failed): its agents are told to finish (the turn in
    /// progress may end, then they exit), unless the task keeps its session. The sessions
    /// end when their daemons report the agents gone.
    Finish,
}

/// Refuses a lifecycle step `t` cannot take now (or `p` may not make), naming the task.
pub(crate) fn check_transition(t: &TaskRecord, step: Transition, p: &Principal) -> HubResult<()> {
    next(t.status, step, p.initiator())
        .map(|_| ())
        .map_err(|e| HubError::Conflict(format!("{}: {e}", t.reference())))
}

/// Every open status: where a task can be closed from.
fn open_statuses() -> Vec<TaskStatus> {
    TaskStatus::ALL
        .iter()
        .copied()
        .filter(|s| !s.is_terminal())
        .collect()
}

impl Hub {
    /// Completes a task, publishes its contracts and runs the cascade, all in one transaction.
    pub async fn complete_task(
        &self,
        p: &Principal,
        reference: &str,
        body: &CompleteTask,
    ) -> HubResult<Task> {
        let result = validate::completion(body, self.config.limits.max_contract)?;
        let mut tx = self.store.write().await?;
        let t = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_work_on(&t, "complete")?;
        tx.lock_project(t.project_id).await?;
        // Re-read under the lock: a concurrent completion must see the closed task.
        let t = task_record(&mut tx, t.id).await?;
        let mut out = Effects::default();
        let ending = Ending::Complete {
            result: &result,
            contracts: body.contracts.keys().collect(),
        };
        let now = self.close_task(&mut tx, p, &t, ending, &mut out).await?;
        store::contracts::insert(&mut tx, t.id, &body.contracts, now).await?;
        for k in body.contracts.keys() {
            out.task_event(
                EventKind::ContractFulfilled,
                "hub",
                t.project_id,
                t.id,
                json!({"key": k}),
            );
        }
        self.cascade(&mut tx, &t, &body.contracts, now, &mut out)
            .await?;
        self.commit(tx, out).await?;
        let mut done = t;
        done.status = TaskStatus::Done;
        done.result = Some(result);
        done.updated_at = now;
        done.completed_at = Some(now);
        Ok(done.to_task(None))
    }

    /// What finishing `t` sets off downstream: dependencies its completion (and the contracts
    /// it published) satisfy are resolved, and the tasks nothing blocks any more are released
    /// as one wave and assigned.
    async fn cascade(
        &self,
        c: &mut Conn,
        t: &TaskRecord,
        contracts: &BTreeMap<String, Value>,
        now: i64,
        out: &mut Effects,
    ) -> HubResult<()> {
        let published: BTreeSet<String> = contracts.keys().cloned().collect();
        let downstream = store::deps::downstream_of(c, t.id).await?;
        let waits_for_merge = downstream
            .iter()
            .flat_map(|d| &d.deps)
            .any(|d| d.upstream == t.id && !d.resolved && d.after == DependencyAfter::Merged);
        // The daemon reports a worktree before its agent starts, so a completed task with
        // no report has none: nothing will ever be merged.
        let has_workspace = !waits_for_merge || store::workspaces::get(c, t.id).await?.is_some();
        let plan = plan_completion(t.id, &published, has_workspace, &downstream);
        for r in plan.resolved.iter().filter(|r| r.note.is_some()) {
            tracing::info!(upstream = %t.reference(), downstream = %r.downstream_ref,
                "after: merged is met by the completion: the upstream has no workspace");
        }
        self.apply_cascade(c, t, &plan, now, out).await
    }

    /// Carries out a cascade plan of upstream `t` (a completion, or a merge of its branch):
    /// resolves the dependencies, records each step, and releases and assigns what is free.
    pub(crate) async fn apply_cascade(
        &self,
        c: &mut Conn,
        t: &TaskRecord,
        plan: &CascadePlan,
        now: i64,
        out: &mut Effects,
    ) -> HubResult<()> {
        let resolved_ids: Vec<Uuid> = plan.resolved.iter().map(|r| r.dep_id).collect();
        store::deps::resolve(c, &resolved_ids, now).await?;
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
                                "still_waiting": still.get(&r.downstream), "note": r.note}),
            });
        }
        let mut unblocked: HashMap<Uuid, TaskRecord> = store::tasks::many(c, &plan.unblocked)
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
        self.release_and_assign(c, t.project_id, ordered, Some(t), out)
            .await
    }

    /// Fails a task with a reason; its downstream stays blocked until it is retried.
    pub async fn fail_task(&self, p: &Principal, reference: &str, reason: &str) -> HubResult<Task> {
        let reason = validate::text("reason", reason, 20_000)?;
        let mut tx = self.store.write().await?;
        let t = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_work_on(&t, "fail")?;
        tx.lock_project(t.project_id).await?;
        let mut out = Effects::default();
        self.fail_in(&mut tx, p, &t, &reason, &mut out).await?;
        self.commit(tx, out).await?;
        self.reload_task(t.id).await
    }

    /// The failure itself, inside the caller's transaction (also used when an agent exits).
    pub(crate) async fn fail_in(
        &self,
        c: &mut Conn,
        p: &Principal,
        t: &TaskRecord,
        reason: &str,
        out: &mut Effects,
    ) -> HubResult<()> {
        let t = task_record(c, t.id).await?;
        self.close_task(c, p, &t, Ending::Fail { reason }, out)
            .await?;
        Ok(())
    }

    /// Cancels a task (from any open state, or failed) and stops its sessions.
    pub async fn cancel_task(&self, p: &Principal, reference: &str) -> HubResult<Task> {
        let mut tx = self.store.write().await?;
        let t = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_manager(t.project_id, "cancelling a task")?;
        tx.lock_project(t.project_id).await?;
        let mut out = Effects::default();
        self.close_task(&mut tx, p, &t, Ending::Cancel, &mut out)
            .await?;
        self.commit(tx, out).await?;
        self.reload_task(t.id).await
    }

    /// Closes `t` as `ending` says, inside the caller's transaction: the status (refused if
    /// the lifecycle forbids it or the task changed meanwhile), the questions and requests
    /// still waiting on it cancelled, its event and status update, and its sessions told to
    /// finish (done, failed) or stopped (cancelled). Answers when it closed.
    pub(crate) async fn close_task(
        &self,
        c: &mut Conn,
        p: &Principal,
        t: &TaskRecord,
        ending: Ending<'_>,
        out: &mut Effects,
    ) -> HubResult<i64> {
        check_transition(t, ending.transition(), p)?;
        let now = now_ms();
        let status = ending.status();
        let mut from = open_statuses();
        let changed = match &ending {
            Ending::Complete { result, .. } => {
                store::tasks::close(c, t.id, &from, status, result, now).await?
            }
            Ending::Fail { reason } => {
                let result = json!({"reason": reason});
                store::tasks::close(c, t.id, &from, status, &result, now).await?
            }
            Ending::Cancel => {
                from.push(TaskStatus::Failed);
                store::tasks::transition(c, t.id, &from, status, now).await?
            }
        };
        if !changed {
            return Err(HubError::Conflict(match ending {
                Ending::Cancel => format!("{} changed meanwhile; retry", t.reference()),
                _ => format!("{} was closed meanwhile", t.reference()),
            }));
        }
        store::humans::cancel_waiting_of_task(c, t.id, t.status, now).await?;
        out.task_event(
            ending.event_kind(),
            &p.actor(),
            t.project_id,
            t.id,
            ending.details(t),
        );
        self.status_update(t, status, out);
        let (how, why) = ending.sessions_end(p, t);
        self.end_task_sessions(c, t, how, &why, out).await?;
        Ok(now)
    }

    /// Puts a failed or cancelled task back to pending; if nothing blocks it, it is assigned
    /// again to the best server as a new cascade wave.
    pub async fn retry_task(&self, p: &Principal, reference: &str) -> HubResult<Task> {
        let mut tx = self.store.write().await?;
        let t = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_manager(t.project_id, "retrying a task")?;
        tx.lock_project(t.project_id).await?;
        check_transition(&t, Transition::Retry, p)?;
        // The first attempt's sessions end here and their tokens die with them: an agent of
        // an attempt that is over cannot act on the next one.
        let mut out = Effects::default();
        self.end_task_sessions(
            &mut tx,
            &t,
            SessionsEnd::Stop,
            "the task was retried",
            &mut out,
        )
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
        let fresh = task_record(&mut tx, t.id).await?;
        if self
            .blocked_reasons(&mut tx, std::slice::from_ref(&fresh))
            .await?
            .is_empty()
        {
            self.release_and_assign(&mut tx, t.project_id, vec![fresh], None, &mut out)
                .await?;
        }
        self.commit(tx, out).await?;
        self.reload_task(t.id).await
    }

    /// Ends the open sessions of task `t`, as `how` says.
    pub(crate) async fn end_task_sessions(
        &self,
        c: &mut Conn,
        t: &TaskRecord,
        how: SessionsEnd,
        reason: &str,
        out: &mut Effects,
    ) -> HubResult<()> {
        if how == SessionsEnd::Finish && t.keep_session {
            return Ok(());
        }
        for s in store::sessions::open_of_task(c, t.id).await? {
            match how {
                SessionsEnd::Stop => {
                    self.end_session(c, &s, Some(t.project_id), reason, out)
                        .await?
                }
                SessionsEnd::Finish => out.tell(
                    s.server_id,
                    HubToDaemon::SessionStop {
                        session_id: s.id,
                        reason: reason.to_string(),
                        finish: true,
                    },
                ),
            }
        }
        Ok(())
    }

    /// Emits `task_status_update` (done, failed, needs_human, cancelled); after the commit it
    /// is pushed to the open orchestrator sessions of the project.
    pub(crate) fn status_update(&self, t: &TaskRecord, status: TaskStatus, out: &mut Effects) {
        out.task_event(
            EventKind::TaskStatusUpdate,
            "hub",
            t.project_id,
            t.id,
            json!({"task": t.reference(), "title": t.title, "status": status}),
        );
        out.status_updates.push(StatusUpdate {
            project: t.project_id,
            task: t.id,
            reference: t.reference(),
            status,
        });
    }
}
