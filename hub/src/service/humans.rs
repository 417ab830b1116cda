//! What waits for a human: questions (interventions) and plans (permission requests are in
//! `permissions.rs`); notes. Agents' calls that wait (`task help`, `task plan submit`) create
//! the request here and then long-poll it (see `watch.rs`).

use orchestratia_proto::taskref::TaskRef;
use orchestratia_proto::time::now_ms;
use orchestratia_proto::ws::HubToDaemon;
use orchestratia_proto::{
    EventKind, Intervention, InterventionStatus, Note, Plan, PlanStatus, TaskStatus,
};
use serde_json::json;
use uuid::Uuid;

use super::lookup::{exactly_one, with_id_prefix};
use super::{Effects, Hub, validate};
use crate::auth::Principal;
use crate::bad;
use crate::engine::agent_state::Signal;
use crate::engine::lifecycle::{Transition, next};
use crate::error::{HubError, HubResult};
use crate::store::humans::InterventionRecord;
use crate::store::tasks::TaskRecord;
use crate::store::{self, Conn};

/// Longest question, answer, plan or note, in characters.
const MAX_TEXT: usize = 100_000;

/// The feedback on a plan decision: required (possibly empty) with a rejection, optional
/// with an approval.
fn plan_feedback(approve: bool, feedback: Option<&str>) -> HubResult<Option<String>> {
    Ok(match (approve, feedback) {
        (false, f) => Some(validate::text("feedback", f.unwrap_or_default(), MAX_TEXT)?),
        (true, Some(f)) if !f.trim().is_empty() => Some(validate::text("feedback", f, MAX_TEXT)?),
        _ => None,
    })
}

impl Hub {
    /// An agent asks a question: the task becomes `needs_human` until someone answers.
    pub async fn ask_help(
        &self,
        p: &Principal,
        reference: &str,
        question: &str,
    ) -> HubResult<Intervention> {
        let question = validate::text("question", question, MAX_TEXT)?;
        let mut tx = self.store.write().await?;
        let t = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_work_on(&t, "ask for help on")?;
        // Asked again (the first call was killed by the agent's command timeout): wait on the
        // same question, or take its answer if it came meanwhile.
        if let Some(open) = store::humans::open_intervention_for(&mut tx, t.id, &question).await? {
            if open.intervention.status == InterventionStatus::Pending {
                let mut out = Effects::default();
                self.signal_task(&mut tx, t.id, Signal::Asked, &mut out)
                    .await?;
                self.commit(tx, out).await?;
            }
            return Ok(open.intervention);
        }
        next(t.status, Transition::AskHuman, p.initiator())
            .map_err(|e| HubError::Conflict(format!("{}: {e}", t.reference())))?;
        let resume = if t.status == TaskStatus::NeedsHuman {
            store::humans::pending_interventions_of_task(&mut tx, t.id)
                .await?
                .first()
                .map(|i| i.resume_status)
                .unwrap_or(TaskStatus::Running)
        } else if t.status == TaskStatus::Assigned {
            TaskStatus::Running
        } else {
            t.status
        };
        let now = now_ms();
        let id = Uuid::new_v4();
        store::humans::insert_intervention(&mut tx, id, t.id, &question, resume, now).await?;
        if t.status != TaskStatus::NeedsHuman
            && !store::tasks::transition(&mut tx, t.id, &[t.status], TaskStatus::NeedsHuman, now)
                .await?
        {
            return Err(HubError::Conflict(format!(
                "{} changed meanwhile; retry",
                t.reference()
            )));
        }
        let mut out = Effects::default();
        self.signal_task(&mut tx, t.id, Signal::Asked, &mut out)
            .await?;
        out.task_event(
            EventKind::TaskNeedsHuman,
            &p.actor(),
            t.project_id,
            t.id,
            json!({"question": question, "intervention_id": id}),
        );
        self.status_update(&t, TaskStatus::NeedsHuman, &mut out);
        self.commit(tx, out).await?;
        let mut c = self.read().await?;
        Ok(self.intervention_record(&mut c, id).await?.intervention)
    }

    async fn intervention_record(&self, c: &mut Conn, id: Uuid) -> HubResult<InterventionRecord> {
        store::humans::intervention(c, id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("intervention {id} not found")))
    }

    /// An intervention the principal may see.
    pub async fn intervention(&self, p: &Principal, id: Uuid) -> HubResult<Intervention> {
        let mut c = self.read().await?;
        let rec = self.intervention_record(&mut c, id).await?;
        let t = store::tasks::get(&mut c, rec.intervention.task_id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("intervention {id} not found")))?;
        if !p.can_see_task(&t) {
            return Err(HubError::NotFound(format!("intervention {id} not found")));
        }
        Ok(rec.intervention)
    }

    /// Interventions the principal may see, newest first, with `status` when given.
    pub async fn interventions(
        &self,
        p: &Principal,
        status: Option<InterventionStatus>,
    ) -> HubResult<Vec<Intervention>> {
        let mut c = self.read().await?;
        let recs = store::humans::interventions(&mut c, status, None, p.project()).await?;
        let mut out = Vec::new();
        for r in recs {
            if matches!(p, Principal::Admin | Principal::Hub) {
                out.push(r.intervention);
            } else if let Some(t) = store::tasks::get(&mut c, r.intervention.task_id).await?
                && p.can_see_task(&t)
            {
                out.push(r.intervention);
            }
        }
        Ok(out)
    }

    /// Resolves what a human names when answering: an intervention id (or a unique prefix), or
    /// a task reference with exactly one pending question.
    async fn resolve_intervention(
        &self,
        c: &mut Conn,
        p: &Principal,
        key: &str,
    ) -> HubResult<InterventionRecord> {
        let key = key.trim();
        if let Ok(id) = Uuid::parse_str(key) {
            return self.intervention_record(c, id).await;
        }
        if let Ok(r @ TaskRef::Number(_)) = TaskRef::parse(key)
            && let Some(t) = self.task_or_id_prefix(c, p, key, &r).await?
        {
            let pending = store::humans::pending_interventions_of_task(c, t.id).await?;
            return exactly_one(
                pending,
                || HubError::NotFound(format!("{} has no pending question", t.reference())),
                |n| {
                    bad!(
                        "{} has {n} pending questions; answer one by its id",
                        t.reference()
                    )
                },
            );
        }
        let all = store::humans::interventions(c, None, None, p.project()).await?;
        exactly_one(
            with_id_prefix(all, key, |i| i.intervention.id),
            || HubError::NotFound(format!("intervention '{key}' not found")),
            |_| bad!("'{key}' matches several interventions; give more characters"),
        )
    }

    /// A human answers: the answer reaches the agent and the task resumes where it was.
    pub async fn respond(
        &self,
        p: &Principal,
        key: &str,
        response: &str,
    ) -> HubResult<Intervention> {
        p.require_admin("answering an intervention")?;
        let response = validate::text("response", response, MAX_TEXT)?;
        let mut tx = self.store.write().await?;
        let rec = self.resolve_intervention(&mut tx, p, key).await?;
        let i = &rec.intervention;
        if i.status != InterventionStatus::Pending {
            return Err(HubError::Conflict(format!(
                "intervention {} is already {}",
                i.id, i.status
            )));
        }
        let now = now_ms();
        let actor = p.actor();
        if !store::humans::answer_intervention(&mut tx, i.id, &response, &actor, now).await? {
            return Err(HubError::Conflict(format!(
                "intervention {} was answered meanwhile",
                i.id
            )));
        }
        let t = store::tasks::get(&mut tx, i.task_id)
            .await?
            .ok_or_else(|| HubError::NotFound("task vanished".into()))?;
        let still_pending = !store::humans::pending_interventions_of_task(&mut tx, t.id)
            .await?
            .is_empty();
        let mut resumed = None;
        if t.status == TaskStatus::NeedsHuman && !still_pending {
            let to = next(
                t.status,
                Transition::Answer {
                    resume: rec.resume_status,
                },
                p.initiator(),
            )
            .map_err(|e| HubError::Conflict(e.to_string()))?;
            store::tasks::transition(&mut tx, t.id, &[TaskStatus::NeedsHuman], to, now).await?;
            resumed = Some(to);
        }
        let mut out = Effects::default();
        if !still_pending {
            self.signal_task(&mut tx, t.id, Signal::Answered, &mut out)
                .await?;
        }
        out.task_event(
            EventKind::InterventionResponded,
            &actor,
            t.project_id,
            t.id,
            json!({"intervention_id": i.id, "response": response, "status": resumed}),
        );
        if let Some(server) = t.server_id {
            out.tell(
                server,
                HubToDaemon::InterventionResponse {
                    intervention_id: i.id,
                    task_id: t.id,
                    response: response.clone(),
                },
            );
        }
        self.commit(tx, out).await?;
        let mut c = self.read().await?;
        Ok(self.intervention_record(&mut c, i.id).await?.intervention)
    }

    /// An agent submits a plan; the task waits in `planning` until it is approved.
    pub async fn submit_plan(
        &self,
        p: &Principal,
        reference: &str,
        content: &str,
    ) -> HubResult<Plan> {
        let content = validate::text("plan", content, MAX_TEXT)?;
        let mut tx = self.store.write().await?;
        let t = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_work_on(&t, "submit a plan for")?;
        // Submitted again (the first call was killed): wait on the same plan, or take its
        // decision if it came meanwhile.
        if let Some(open) = store::humans::open_plan_for(&mut tx, t.id, &content).await? {
            if open.status == PlanStatus::Submitted {
                let mut out = Effects::default();
                self.signal_task(&mut tx, t.id, Signal::Asked, &mut out)
                    .await?;
                self.commit(tx, out).await?;
            }
            return Ok(open);
        }
        if !matches!(
            t.status,
            TaskStatus::Assigned | TaskStatus::Planning | TaskStatus::Running
        ) {
            return Err(HubError::Conflict(format!(
                "{} is {}; a plan can be submitted while it is assigned, planning or running",
                t.reference(),
                t.status
            )));
        }
        let now = now_ms();
        let mut out = Effects::default();
        if t.status != TaskStatus::Planning {
            store::tasks::transition(&mut tx, t.id, &[t.status], TaskStatus::Planning, now).await?;
            out.task_event(
                EventKind::TaskPlanning,
                &p.actor(),
                t.project_id,
                t.id,
                json!({"reason": "plan submitted"}),
            );
        }
        // A new plan replaces one still waiting.
        for old in
            store::humans::plans(&mut tx, Some(PlanStatus::Submitted), Some(t.id), None).await?
        {
            store::humans::decide_plan(
                &mut tx,
                old.id,
                PlanStatus::Cancelled,
                Some("superseded"),
                "hub",
                now,
            )
            .await?;
        }
        let id = Uuid::new_v4();
        store::humans::insert_plan(&mut tx, id, t.id, &content, now).await?;
        self.signal_task(&mut tx, t.id, Signal::Asked, &mut out)
            .await?;
        let preview: String = content.chars().take(300).collect();
        out.task_event(
            EventKind::TaskPlanSubmitted,
            &p.actor(),
            t.project_id,
            t.id,
            json!({"plan_id": id, "preview": preview}),
        );
        self.commit(tx, out).await?;
        self.stored_plan(id).await
    }

    /// A plan the principal may see.
    pub async fn plan(&self, p: &Principal, id: Uuid) -> HubResult<Plan> {
        let mut c = self.read().await?;
        let plan = store::humans::plan(&mut c, id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("plan {id} not found")))?;
        let t = store::tasks::get(&mut c, plan.task_id).await?;
        if !t.is_some_and(|t| p.can_see_task(&t)) {
            return Err(HubError::NotFound(format!("plan {id} not found")));
        }
        Ok(plan)
    }

    /// Plans (admin), newest first, with `status` when given.
    pub async fn plans(&self, p: &Principal, status: Option<PlanStatus>) -> HubResult<Vec<Plan>> {
        p.require_admin("listing plans")?;
        let mut c = self.read().await?;
        Ok(store::humans::plans(&mut c, status, None, None).await?)
    }

    /// Approves (or rejects with feedback) the plan waiting on a task.
    pub async fn decide_plan(
        &self,
        p: &Principal,
        reference: &str,
        approve: bool,
        feedback: Option<&str>,
    ) -> HubResult<Plan> {
        p.require_admin(if approve {
            "approving a plan"
        } else {
            "rejecting a plan"
        })?;
        let feedback = plan_feedback(approve, feedback)?;
        let mut tx = self.store.write().await?;
        let t = self.resolve_task(&mut tx, p, reference, None).await?;
        let waiting =
            store::humans::plans(&mut tx, Some(PlanStatus::Submitted), Some(t.id), None).await?;
        let Some(plan) = waiting.into_iter().next() else {
            return Err(HubError::NotFound(format!(
                "{} has no plan waiting for a decision",
                t.reference()
            )));
        };
        let now = now_ms();
        let actor = p.actor();
        let status = if approve {
            PlanStatus::Approved
        } else {
            PlanStatus::Rejected
        };
        if !store::humans::decide_plan(&mut tx, plan.id, status, feedback.as_deref(), &actor, now)
            .await?
        {
            return Err(HubError::Conflict(format!(
                "the plan of {} was decided meanwhile",
                t.reference()
            )));
        }
        let mut out = Effects::default();
        self.signal_task(&mut tx, t.id, Signal::Answered, &mut out)
            .await?;
        let kind = if approve {
            EventKind::TaskPlanApproved
        } else {
            EventKind::TaskPlanRejected
        };
        out.task_event(
            kind,
            &actor,
            t.project_id,
            t.id,
            json!({"plan_id": plan.id, "feedback": feedback}),
        );
        if approve && t.status == TaskStatus::Planning {
            self.start_after_plan(&mut tx, p, &t, now, &mut out).await?;
        }
        if let Some(server) = t.server_id {
            out.tell(
                server,
                HubToDaemon::PlanDecision {
                    plan_id: plan.id,
                    task_id: t.id,
                    approved: approve,
                    feedback: feedback.clone(),
                },
            );
        }
        self.commit(tx, out).await?;
        self.stored_plan(plan.id).await
    }

    /// A task in `planning` whose plan was approved starts running.
    async fn start_after_plan(
        &self,
        c: &mut Conn,
        p: &Principal,
        t: &TaskRecord,
        now: i64,
        out: &mut Effects,
    ) -> HubResult<()> {
        let to = next(t.status, Transition::ApprovePlan, p.initiator())
            .map_err(|e| HubError::Conflict(e.to_string()))?;
        store::tasks::transition(c, t.id, &[TaskStatus::Planning], to, now).await?;
        let agent = t.server_name.clone().unwrap_or_default();
        out.task_event(
            EventKind::TaskStarted,
            "hub",
            t.project_id,
            t.id,
            json!({"agent": agent, "after": "plan approved"}),
        );
        Ok(())
    }

    /// A plan as stored now (read again after a commit).
    async fn stored_plan(&self, id: Uuid) -> HubResult<Plan> {
        let mut c = self.read().await?;
        store::humans::plan(&mut c, id)
            .await?
            .ok_or_else(|| HubError::NotFound("plan vanished".into()))
    }

    /// Posts a note on a task.
    pub async fn add_note(&self, p: &Principal, reference: &str, text: &str) -> HubResult<Note> {
        let text = validate::text("note", text, MAX_TEXT)?;
        let mut tx = self.store.write().await?;
        let t = self.resolve_task(&mut tx, p, reference, None).await?;
        if !matches!(p, Principal::Admin) {
            p.require_work_on(&t, "add a note to")?;
        }
        let note = Note {
            id: Uuid::new_v4(),
            task_id: t.id,
            actor: p.actor(),
            text,
            created_at: now_ms(),
        };
        store::humans::insert_note(&mut tx, &note).await?;
        let mut out = Effects::default();
        out.task_event(
            EventKind::TaskNoteAdded,
            &p.actor(),
            t.project_id,
            t.id,
            json!({"note_id": note.id, "text": note.text}),
        );
        self.commit(tx, out).await?;
        Ok(note)
    }
}
