//! Tasks as data: finding one by reference, reading them back (one, a view with everything
//! around it, or a filtered list), and editing an open task's fields.

use orchestratia_proto::api::UpdateTask;
use orchestratia_proto::taskref::TaskRef;
use orchestratia_proto::time::now_ms;
use orchestratia_proto::ws::HubToDaemon;
use orchestratia_proto::{Dependency, EventKind, Task, TaskStatus, TaskView, task_ref};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

use super::facts::{facts_of, payload, reasons_from};
use super::{Effects, Hub, validate};
use crate::auth::Principal;
use crate::bad;
use crate::engine::deps::blocked_reason;
use crate::error::{HubError, HubResult};
use crate::store::deps::DepRecord;
use crate::store::tasks::TaskRecord;
use crate::store::{self, Conn};

/// Which tasks `task list` shows; the API parses the words of its query into this.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    /// Only tasks in these statuses (all when empty).
    pub statuses: Vec<TaskStatus>,
    /// Pending tasks are shown only when blocked (`blocked` asked for, `pending` not).
    pub blocked_only: bool,
    /// Project id or name.
    pub project: Option<String>,
    /// Server name.
    pub server: Option<String>,
}

/// The stored task `id`, or not found (it vanished meanwhile).
pub(crate) async fn task_record(c: &mut Conn, id: Uuid) -> HubResult<TaskRecord> {
    store::tasks::get(c, id)
        .await?
        .ok_or_else(|| HubError::NotFound("task vanished".into()))
}

impl Hub {
    /// Finds the task a reference names, within the principal's project (or `project`).
    pub(crate) async fn resolve_task(
        &self,
        c: &mut Conn,
        p: &Principal,
        reference: &str,
        project: Option<Uuid>,
    ) -> HubResult<TaskRecord> {
        let r = TaskRef::parse(reference).map_err(|e| bad!("{e}"))?;
        let scope = project.or(p.project());
        let mut found = store::tasks::find(c, scope, &r).await?;
        match found.len() {
            0 => Err(HubError::NotFound(format!("task {r} not found"))),
            1 => {
                let t = found.remove(0);
                p.require_see_task(&t)?;
                Ok(t)
            }
            _ => match r {
                TaskRef::Number(_) => Err(bad!(
                    "{r} exists in several projects; name one with --project or use the task's id"
                )),
                _ => Err(bad!(
                    "'{r}' matches several tasks; give more characters of the id"
                )),
            },
        }
    }

    /// The blocked reason of each pending task among `tasks` that has unmet dependencies.
    pub(crate) async fn blocked_reasons(
        &self,
        c: &mut Conn,
        tasks: &[TaskRecord],
    ) -> HubResult<HashMap<Uuid, String>> {
        let pending: Vec<Uuid> = tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Pending)
            .map(|t| t.id)
            .collect();
        if pending.is_empty() {
            return Ok(HashMap::new());
        }
        let deps = store::deps::of_downstreams(c, &pending).await?;
        Ok(reasons_from(&deps))
    }

    /// The API shape of tasks, with their derived blocked state and their usage so far.
    pub(crate) async fn to_tasks(&self, c: &mut Conn, recs: &[TaskRecord]) -> HubResult<Vec<Task>> {
        let mut reasons = self.blocked_reasons(c, recs).await?;
        let ids: Vec<Uuid> = recs.iter().map(|r| r.id).collect();
        let mut usage = store::usage::of_tasks(c, &ids).await?;
        Ok(recs
            .iter()
            .map(|r| Task {
                usage: usage.remove(&r.id),
                ..r.to_task(reasons.remove(&r.id))
            })
            .collect())
    }

    /// The API shape of one task, with its derived blocked state.
    pub(crate) async fn to_task(&self, c: &mut Conn, rec: &TaskRecord) -> HubResult<Task> {
        Ok(self
            .to_tasks(c, std::slice::from_ref(rec))
            .await?
            .pop()
            .unwrap_or_else(|| rec.to_task(None)))
    }

    /// Task `id` read again after an operation's commit, in its API shape.
    pub(crate) async fn reload_task(&self, id: Uuid) -> HubResult<Task> {
        let mut c = self.read().await?;
        let t = task_record(&mut c, id).await?;
        self.to_task(&mut c, &t).await
    }

    /// Task `id` read again after an operation's commit, with everything around it.
    pub(crate) async fn reload_view(&self, id: Uuid) -> HubResult<TaskView> {
        let mut c = self.read().await?;
        let t = task_record(&mut c, id).await?;
        self.task_view(&mut c, &t).await
    }

    /// Changes the editable fields of an open task.
    pub async fn update_task(
        &self,
        p: &Principal,
        reference: &str,
        body: &UpdateTask,
    ) -> HubResult<Task> {
        let lim = &self.config.limits;
        let mut tx = self.store.write().await?;
        let mut t = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_manager(t.project_id, "editing a task")?;
        if t.status.is_terminal() {
            return Err(HubError::Conflict(format!(
                "{} is {}; closed tasks cannot be edited",
                t.reference(),
                t.status
            )));
        }
        let changed = validate::task_edits(&mut t, body, lim.max_spec)?;
        if changed.is_empty() {
            return Err(bad!("nothing to change: give at least one field"));
        }
        t.updated_at = now_ms();
        store::tasks::update_fields(&mut tx, &t).await?;
        let mut out = Effects::default();
        out.task_event(
            EventKind::TaskUpdated,
            &p.actor(),
            t.project_id,
            t.id,
            json!({"fields": changed}),
        );
        if let Some(server) = t.server_id
            && matches!(
                t.status,
                TaskStatus::Assigned
                    | TaskStatus::Planning
                    | TaskStatus::Running
                    | TaskStatus::NeedsHuman
            )
        {
            let inputs = store::contracts::inputs_of(&mut tx, &[t.id]).await?;
            let task = payload(&t, inputs.get(&t.id).cloned().unwrap_or_default());
            out.tell(server, HubToDaemon::TaskUpdated { task });
        }
        self.commit(tx, out).await?;
        let mut c = self.read().await?;
        self.to_task(&mut c, &t).await
    }

    /// Tasks the principal may see, filtered.
    pub async fn list_tasks(&self, p: &Principal, f: &TaskQuery) -> HubResult<Vec<Task>> {
        let mut c = self.read().await?;
        let project = match &f.project {
            Some(n) => Some(self.resolve_project(&mut c, p, n).await?.id),
            None => p.project(),
        };
        let server = match &f.server {
            Some(n) => Some(self.resolve_server(&mut c, p, n).await?.id),
            None => None,
        };
        let recs = store::tasks::list(&mut c, project, &f.statuses, server).await?;
        let visible: Vec<TaskRecord> = recs.into_iter().filter(|t| p.can_see_task(t)).collect();
        let tasks = self.to_tasks(&mut c, &visible).await?;
        Ok(if f.blocked_only {
            tasks
                .into_iter()
                .filter(|t| t.status != TaskStatus::Pending || t.blocked)
                .collect()
        } else {
            tasks
        })
    }

    /// A task with everything around it.
    pub async fn view_task(&self, p: &Principal, reference: &str) -> HubResult<TaskView> {
        let mut c = self.read().await?;
        let t = self.resolve_task(&mut c, p, reference, None).await?;
        self.task_view(&mut c, &t).await
    }

    /// A task with its dependencies, inputs, contracts, sessions, questions, plans, notes
    /// and timeline.
    pub(crate) async fn task_view(&self, c: &mut Conn, t: &TaskRecord) -> HubResult<TaskView> {
        let ups = store::deps::of_downstream(c, t.id).await?;
        let downs = store::deps::of_upstream(c, t.id).await?;
        let task = {
            let facts = facts_of(&ups);
            Task {
                usage: store::usage::of_tasks(c, &[t.id]).await?.remove(&t.id),
                ..t.to_task(if t.status == TaskStatus::Pending {
                    blocked_reason(&facts)
                } else {
                    None
                })
            }
        };
        let dep = |d: &DepRecord, other: Uuid| Dependency {
            id: d.id,
            task_id: other,
            reference: task_ref(d.other_number),
            title: d.other_title.clone(),
            status: d.other_status,
            dep_type: d.dep_type,
            contract_key: d.contract_key.clone(),
            resolved: d.resolved,
            after: d.after,
        };
        let inputs = store::contracts::inputs_of(c, &[t.id]).await?;
        let (workspace, review_comments) = self.workspace_of(c, t.id).await?;
        Ok(TaskView {
            task,
            depends_on: ups.iter().map(|d| dep(d, d.upstream_id)).collect(),
            dependents: downs.iter().map(|d| dep(d, d.downstream_id)).collect(),
            resolved_inputs: inputs.get(&t.id).cloned().unwrap_or_default(),
            contracts: store::contracts::of_task(c, t.id).await?,
            sessions: store::sessions::of_task(c, t.id).await?,
            interventions: store::humans::interventions(c, None, Some(t.id), None)
                .await?
                .into_iter()
                .map(|r| r.intervention)
                .collect(),
            plans: store::humans::plans(c, None, Some(t.id), None).await?,
            notes: store::humans::notes_of_task(c, t.id).await?,
            events: store::events::of_task(c, t.id).await?,
            workspace,
            review_comments,
        })
    }
}
