//! The hub's events turned into messages to every obeyed chat: permission requests and plans
//! with buttons, questions to reply to, failures, auto-assignments, stalls, budgets, and the end
//! of a project's pipeline. A decision made anywhere closes the messages that show it; one a
//! rule made with no human sends nothing new.

use orchestratia_proto::{Event, EventKind, Task, TaskStatus};
use uuid::Uuid;

use super::decisions::Decision;
use super::{Bot, render};
use crate::auth::Principal;
use crate::service::TaskQuery;

/// A text detail of an event.
fn detail(e: &Event, key: &str) -> Option<String> {
    e.details
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// An id from an event's details (the nil id if it is not one: nothing is found by it).
fn parse(id: &str) -> Uuid {
    Uuid::parse_str(id).unwrap_or_default()
}

impl Bot {
    /// Tells the chats what an event means for them, if anything.
    pub(super) async fn on_event(&mut self, e: &Event) {
        match e.event {
            EventKind::PermissionRequested => self.permission_requested(e).await,
            EventKind::PermissionDecided => self.permission_decided(e).await,
            EventKind::TaskPlanSubmitted => self.plan_submitted(e).await,
            EventKind::TaskPlanApproved | EventKind::TaskPlanRejected => self.plan_decided(e).await,
            EventKind::TaskNeedsHuman => self.question_asked(e).await,
            EventKind::InterventionResponded => self.question_answered(e).await,
            EventKind::TaskFailed => self.task_failed(e).await,
            EventKind::TaskAutoAssigned => self.auto_assigned(e).await,
            EventKind::TaskCompleted => self.maybe_finished(e).await,
            EventKind::AgentStalled => self.stalled(e).await,
            EventKind::BudgetWarning | EventKind::BudgetReached => self.budget(e).await,
            _ => {}
        }
    }

    /// A permission request still waiting, with its buttons (a rule may have decided it
    /// already: then nothing is sent).
    async fn permission_requested(&mut self, e: &Event) {
        let Some(id) = detail(e, "request_id") else {
            return;
        };
        let Ok(p) = self.hub.permission(&Principal::Admin, parse(&id)).await else {
            return;
        };
        if !p.waits() {
            return;
        }
        let title = self.task(p.task_id).await.map(|t| t.title);
        let text = render::permission(&p, title.as_deref());
        let sent = self
            .send_to_all(text, Some(render::permission_buttons(&p)))
            .await;
        self.decisions
            .entry(Decision::Permission(p.id))
            .or_default()
            .extend(sent);
    }

    /// A decided request closes its messages; one a rule decided (`auto`) sends nothing new.
    async fn permission_decided(&mut self, e: &Event) {
        let Some(id) = detail(e, "request_id") else {
            return;
        };
        let flag = |key: &str| e.details.get(key).and_then(|v| v.as_bool());
        let allowed = flag("allowed").unwrap_or(false);
        let footer = if flag("auto").unwrap_or(false) {
            render::auto_decided(allowed, &detail(e, "reason").unwrap_or_default())
        } else {
            render::decided_by(render::permission_verdict(allowed), &e.actor)
        };
        self.close(Decision::Permission(parse(&id)), &footer).await;
    }

    /// A project's spending passed 80% of its budget, or reached it.
    async fn budget(&mut self, e: &Event) {
        let number = |key: &str| e.details.get(key).and_then(|v| v.as_f64()).unwrap_or(0.0);
        let (cost, budget) = (number("cost_usd"), number("budget_usd"));
        let project = match e.project_id {
            Some(id) => self
                .hub
                .projects(&Principal::Admin)
                .await
                .unwrap_or_default()
                .into_iter()
                .find(|p| p.id == id)
                .map(|p| p.name)
                .unwrap_or_else(|| id.to_string()),
            None => "-".into(),
        };
        let text = if e.event == EventKind::BudgetReached {
            let enforce = e
                .details
                .get("enforce")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            render::budget_reached(&project, cost, budget, enforce)
        } else {
            render::budget_warning(&project, cost, budget)
        };
        self.send_to_all(text, None).await;
    }

    /// A submitted plan, with Approve and Reject.
    async fn plan_submitted(&mut self, e: &Event) {
        let Some(task) = e.task_id else { return };
        let plans = self
            .hub
            .plans(
                &Principal::Admin,
                Some(orchestratia_proto::PlanStatus::Submitted),
            )
            .await
            .unwrap_or_default();
        let Some(p) = plans.into_iter().rev().find(|p| p.task_id == task) else {
            return;
        };
        let sent = self
            .send_to_all(render::plan(&p), Some(render::plan_buttons(task)))
            .await;
        self.decisions
            .entry(Decision::Plan(task))
            .or_default()
            .extend(sent);
    }

    async fn plan_decided(&mut self, e: &Event) {
        let Some(task) = e.task_id else { return };
        let verdict = render::plan_verdict(e.event == EventKind::TaskPlanApproved);
        self.close(Decision::Plan(task), &render::decided_by(verdict, &e.actor))
            .await;
    }

    /// A question; a reply to any of its messages answers it.
    async fn question_asked(&mut self, e: &Event) {
        let Some(id) = detail(e, "intervention_id") else {
            return;
        };
        let Ok(q) = self.hub.intervention(&Principal::Admin, parse(&id)).await else {
            return;
        };
        let sent = self.send_to_all(render::question(&q), None).await;
        for t in &sent {
            self.questions.insert((t.chat.0, t.message.0), q.id);
        }
        self.decisions
            .entry(Decision::Question(q.id))
            .or_default()
            .extend(sent);
    }

    async fn question_answered(&mut self, e: &Event) {
        let Some(id) = detail(e, "intervention_id") else {
            return;
        };
        let answer = detail(e, "response").unwrap_or_default();
        self.close(
            Decision::Question(parse(&id)),
            &render::answered(&e.actor, &answer),
        )
        .await;
    }

    async fn task_failed(&mut self, e: &Event) {
        let reason = detail(e, "reason").unwrap_or_default();
        let head = self.headline(e.task_id).await;
        self.send_to_all(render::failed(&head, &reason), None).await;
    }

    async fn auto_assigned(&mut self, e: &Event) {
        let head = self.headline(e.related_task_id.or(e.task_id)).await;
        let server = detail(e, "agent").unwrap_or_default();
        self.send_to_all(render::auto_assigned(&head, &server), None)
            .await;
    }

    async fn stalled(&mut self, e: &Event) {
        let head = self.headline(e.task_id).await;
        let reason = detail(e, "reason").unwrap_or_default();
        let screen = detail(e, "screen").unwrap_or_default();
        self.send_to_all(render::stalled(&head, &reason, &screen), None)
            .await;
    }

    /// "Pipeline finished" once, when the last task of a project is done.
    async fn maybe_finished(&mut self, e: &Event) {
        let Some(project) = e.project_id else { return };
        if self.finished.contains(&project) {
            return;
        }
        let filter = TaskQuery {
            project: Some(project.to_string()),
            ..Default::default()
        };
        let Ok(tasks) = self.hub.list_tasks(&Principal::Admin, &filter).await else {
            return;
        };
        if tasks.is_empty() || tasks.iter().any(|t| t.status != TaskStatus::Done) {
            return;
        }
        self.finished.insert(project);
        let name = self
            .hub
            .graph(&Principal::Admin, Some(&project.to_string()))
            .await
            .map(|g| g.project)
            .unwrap_or_default();
        self.send_to_all(render::pipeline_finished(&name, tasks.len()), None)
            .await;
    }

    pub(super) async fn task(&self, id: Option<Uuid>) -> Option<Task> {
        let id = id?;
        self.hub
            .view_task(&Principal::Admin, &id.to_string())
            .await
            .ok()
            .map(|v| v.task)
    }

    /// `T7 Title` for a task id, escaped.
    async fn headline(&self, id: Option<Uuid>) -> String {
        match self.task(id).await {
            Some(t) => render::headline(&t),
            None => id.map(|i| i.to_string()).unwrap_or_default(),
        }
    }
}
