//! Creating a task: its checked fields, its number, its `blocks` dependencies given with
//! `--depends-on`, and its release at once when it depends only on finished work.

use orchestratia_proto::api::CreateTask;
use orchestratia_proto::time::now_ms;
use orchestratia_proto::{
    DepType, DependencyAfter, EventKind, Priority, Project, Task, TaskStatus,
};
use serde_json::json;
use uuid::Uuid;

use super::validate::NewTask;
use super::{Effects, Hub, validate};
use crate::auth::Principal;
use crate::bad;
use crate::engine::deps::{DepFacts, blocked_reason, is_met};
use crate::error::{HubError, HubResult};
use crate::store::deps::NewDep;
use crate::store::tasks::TaskRecord;
use crate::store::{self, Conn};

/// The stored record of a new task, numbered `number` in `project`.
fn new_record(
    fields: NewTask,
    body: &CreateTask,
    p: &Principal,
    project: Uuid,
    number: i64,
    now: i64,
) -> TaskRecord {
    TaskRecord {
        id: Uuid::new_v4(),
        project_id: project,
        number,
        title: fields.title,
        spec: fields.spec,
        structured_spec: fields.structured_spec,
        priority: body.priority.unwrap_or(Priority::Medium),
        repo: fields.repo,
        languages: fields.languages,
        agent: body.agent.as_ref().map(|a| a.trim().to_string()),
        os: fields.os,
        require_plan_approval: body.require_plan_approval,
        orchestrator: body.orchestrator,
        keep_session: body.keep_session,
        status: TaskStatus::Pending,
        server_id: None,
        server_name: None,
        phase: None,
        released_by: None,
        wait_reason: None,
        result: None,
        pipeline_key: fields.pipeline_key,
        base: fields.base,
        base_from: None,
        branch: fields.branch,
        created_by: p.actor(),
        created_at: now,
        updated_at: now,
        completed_at: None,
    }
}

/// Refuses an agent that names no server of the project.
async fn check_agent(c: &mut Conn, project: &Project, agent: Option<&String>) -> HubResult<()> {
    let Some(a) = agent else {
        return Ok(());
    };
    let a = validate::name("agent", a)?;
    match store::servers::by_name(c, &a).await? {
        Some(s) if s.project_id == project.id => Ok(()),
        _ => Err(bad!(
            "unknown agent '{a}': no server of that name in project '{}'",
            project.name
        )),
    }
}

/// Refuses a pipeline key that already names a task of the project.
async fn check_pipeline_key(c: &mut Conn, project: &Project, key: Option<&str>) -> HubResult<()> {
    if let Some(k) = key
        && let Some(existing) = store::tasks::by_pipeline_key(c, project.id, k).await?
    {
        return Err(HubError::Conflict(format!(
            "pipeline key '{k}' already names {} in project '{}'",
            existing.reference(),
            project.name
        )));
    }
    Ok(())
}

/// Stores a `blocks` dependency of `rec` on each upstream, with its event; answers whether
/// all of them are already met.
async fn insert_blocks(
    c: &mut Conn,
    rec: &TaskRecord,
    upstreams: &[TaskRecord],
    actor: &str,
    out: &mut Effects,
) -> HubResult<bool> {
    let mut all_met = true;
    for up in upstreams {
        let met = is_met(up.status, DepType::Blocks, false);
        all_met &= met;
        store::deps::insert(
            c,
            &NewDep {
                id: Uuid::now_v7(),
                upstream: up.id,
                downstream: rec.id,
                dep_type: DepType::Blocks,
                contract_key: None,
                resolved: met,
                after: DependencyAfter::Done,
                now: rec.created_at,
            },
        )
        .await?;
        out.task_event(
            EventKind::DependencyAdded,
            actor,
            rec.project_id,
            rec.id,
            json!({"upstream": up.reference(), "type": "blocks", "resolved": met}),
        );
    }
    Ok(all_met)
}

/// Why a task just created with these upstreams is blocked, if it is.
fn blocked_by(upstreams: &[TaskRecord]) -> Option<String> {
    let facts: Vec<DepFacts> = upstreams
        .iter()
        .map(|u| DepFacts {
            upstream_ref: u.reference(),
            upstream_status: u.status,
            dep_type: DepType::Blocks,
            contract_key: None,
            resolved: is_met(u.status, DepType::Blocks, false),
            after: DependencyAfter::Done,
        })
        .collect();
    blocked_reason(&facts)
}

impl Hub {
    /// Creates a task (and its `blocks` dependencies) in one transaction.
    pub async fn create_task(&self, p: &Principal, body: &CreateTask) -> HubResult<Task> {
        let fields = validate::new_task(body, self.config.limits.max_spec)?;
        if body.orchestrator && !matches!(p, Principal::Admin) {
            return Err(HubError::Forbidden(
                "only an admin may create an orchestrator task".into(),
            ));
        }
        let mut tx = self.store.write().await?;
        let project = self
            .default_project(&mut tx, p, body.project.as_deref())
            .await?;
        p.require_manager(project.id, "creating a task")?;
        tx.lock_project(project.id).await?;
        check_agent(&mut tx, &project, body.agent.as_ref()).await?;
        check_pipeline_key(&mut tx, &project, fields.pipeline_key.as_deref()).await?;
        let mut upstreams = self
            .resolve_upstreams(&mut tx, p, project.id, &body.depends_on)
            .await?;
        // Starting from another task's branch means waiting for that task.
        let base_from = match body.base_from.as_deref() {
            Some(r) => {
                let up = self.resolve_task(&mut tx, p, r, Some(project.id)).await?;
                if !upstreams.iter().any(|u| u.id == up.id) {
                    upstreams.push(up.clone());
                }
                Some(up.id)
            }
            None => None,
        };
        let now = now_ms();
        let number = store::projects::allocate_number(&mut tx, project.id).await?;
        let mut rec = new_record(fields, body, p, project.id, number, now);
        rec.base_from = base_from;
        store::tasks::insert(&mut tx, &rec).await?;
        let mut out = Effects::default();
        let actor = p.actor();
        out.task_event(
            EventKind::TaskCreated,
            &actor,
            project.id,
            rec.id,
            json!({"title": rec.title, "priority": rec.priority, "repo": rec.repo,
                   "languages": rec.languages, "agent": rec.agent,
                   "base": rec.base, "branch": rec.branch,
                   "depends_on": upstreams.iter().map(TaskRecord::reference).collect::<Vec<_>>(),
                   "type": if rec.orchestrator { "orchestrator" } else { "worker" }}),
        );
        let all_met = insert_blocks(&mut tx, &rec, &upstreams, &actor, &mut out).await?;
        let released = !upstreams.is_empty() && all_met;
        if released {
            // It depends only on finished work: the cascade releases it now.
            self.release_and_assign(&mut tx, project.id, vec![rec.clone()], None, &mut out)
                .await?;
        }
        self.commit(tx, out).await?;
        if released {
            return self.reload_task(rec.id).await;
        }
        Ok(rec.to_task(blocked_by(&upstreams)))
    }

    /// The tasks `--depends-on` names, in `project`; refuses one given twice.
    async fn resolve_upstreams(
        &self,
        c: &mut Conn,
        p: &Principal,
        project: Uuid,
        depends_on: &[String],
    ) -> HubResult<Vec<TaskRecord>> {
        let mut upstreams: Vec<TaskRecord> = Vec::new();
        for d in depends_on {
            let up = self.resolve_task(c, p, d, Some(project)).await?;
            if upstreams.iter().any(|u| u.id == up.id) {
                return Err(bad!("{} is given twice in --depends-on", up.reference()));
            }
            upstreams.push(up);
        }
        Ok(upstreams)
    }
}
