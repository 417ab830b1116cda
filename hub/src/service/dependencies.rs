//! Editing a pending task's dependencies: adding one (refusing cycles and duplicates, or
//! turning a `blocks` into an `input`), removing some, and releasing the task when that
//! leaves nothing unmet.

use orchestratia_proto::api::{AddDependency, RemoveDependency};
use orchestratia_proto::time::now_ms;
use orchestratia_proto::{DependencyAfter, EventKind, ReviewState, TaskStatus, TaskView};
use serde_json::json;
use uuid::Uuid;

use super::facts::facts_of;
use super::{Effects, Hub};
use crate::auth::Principal;
use crate::bad;
use crate::engine::deps::{AddDecision, blocked_reason, decide_add, is_met, validate_new};
use crate::engine::graph::find_cycle;
use crate::error::{HubError, HubResult};
use crate::store::deps::NewDep;
use crate::store::tasks::TaskRecord;
use crate::store::{self, Conn, Tx};

/// A dependency edit under way: its write transaction (the project locked) and its two ends,
/// both resolved in the downstream's project.
struct DependencyEdit {
    tx: Tx,
    /// The task whose dependencies change.
    down: TaskRecord,
    /// The task it depends on.
    up: TaskRecord,
}

/// Refuses a new edge `up → down` that would close a cycle, naming the path work would take.
async fn refuse_cycle(c: &mut Conn, up: &TaskRecord, down: &TaskRecord) -> HubResult<()> {
    let edges: Vec<(Uuid, Uuid)> = store::deps::edges_of_project(c, down.project_id)
        .await?
        .into_iter()
        .map(|e| (e.upstream, e.downstream))
        .collect();
    let Some(cycle) = find_cycle(&edges, up.id, down.id) else {
        return Ok(());
    };
    let recs = store::tasks::many(c, &cycle).await?;
    let name = |id: &Uuid| {
        recs.iter()
            .find(|r| r.id == *id)
            .map(TaskRecord::reference)
            .unwrap_or_else(|| id.to_string())
    };
    let path: Vec<String> = cycle.iter().map(name).collect();
    Err(HubError::Conflict(format!(
        "refused: making {} depend on {} would create a cycle (work would flow {})",
        down.reference(),
        up.reference(),
        path.join(" → ")
    )))
}

impl Hub {
    /// Starts a dependency edit: opens the write transaction, resolves the downstream task, checks
    /// the principal manages its project (`what` names the edit), locks the project, and
    /// resolves the upstream in the same project.
    async fn dependency_ends(
        &self,
        p: &Principal,
        reference: &str,
        depends_on: &str,
        what: &str,
    ) -> HubResult<DependencyEdit> {
        let mut tx = self.store.write().await?;
        let down = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_manager(down.project_id, what)?;
        tx.lock_project(down.project_id).await?;
        let up = self
            .resolve_task(&mut tx, p, depends_on, Some(down.project_id))
            .await?;
        Ok(DependencyEdit { tx, down, up })
    }

    /// Adds a dependency (or turns a `blocks` into `input` with a key), refusing cycles.
    pub async fn add_dependency(
        &self,
        p: &Principal,
        reference: &str,
        body: &AddDependency,
    ) -> HubResult<TaskView> {
        let key = body
            .contract_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let DependencyEdit { mut tx, down, up } = self
            .dependency_ends(p, reference, &body.depends_on, "adding a dependency")
            .await?;
        let after = body.after.unwrap_or(DependencyAfter::Done);
        validate_new(up.id, down.id, body.dep_type, key, after).map_err(|e| bad!("{e}"))?;
        if down.status != TaskStatus::Pending {
            return Err(HubError::Conflict(format!(
                "{} is {}; dependencies can only be added to pending tasks",
                down.reference(),
                down.status
            )));
        }
        let existing = store::deps::between(&mut tx, up.id, down.id).await?;
        let decision = decide_add(&existing, body.dep_type, key, &up.reference())
            .map_err(|e| HubError::Conflict(e.to_string()))?;
        if existing.is_empty() {
            refuse_cycle(&mut tx, &up, &down).await?;
        }
        let has_key = match key {
            Some(k) => store::contracts::of_task(&mut tx, up.id)
                .await?
                .contains_key(k),
            None => false,
        };
        let met = match after {
            DependencyAfter::Done => is_met(up.status, body.dep_type, has_key),
            // A done upstream with no workspace has nothing to merge: its completion meets it.
            DependencyAfter::Merged => match store::workspaces::get(&mut tx, up.id).await? {
                Some(w) => w.review == ReviewState::Merged,
                None => up.status == TaskStatus::Done,
            },
        };
        let now = now_ms();
        let upgraded = match decision {
            AddDecision::Insert => {
                let dep = NewDep {
                    id: Uuid::now_v7(),
                    upstream: up.id,
                    downstream: down.id,
                    dep_type: body.dep_type,
                    contract_key: key.map(str::to_string),
                    resolved: met,
                    after,
                    now,
                };
                store::deps::insert(&mut tx, &dep).await?;
                false
            }
            AddDecision::UpgradeToInput { dep_id } => {
                store::deps::upgrade_to_input(&mut tx, dep_id, key.unwrap_or_default(), met, now)
                    .await?;
                true
            }
        };
        let mut out = Effects::default();
        out.task_event(
            EventKind::DependencyAdded,
            &p.actor(),
            down.project_id,
            down.id,
            json!({"upstream": up.reference(), "type": body.dep_type, "contract_key": key,
                   "after": after, "resolved": met, "upgraded_from_blocks": upgraded}),
        );
        self.release_if_ready(&mut tx, &down, &mut out).await?;
        self.commit(tx, out).await?;
        self.reload_view(down.id).await
    }

    /// Removes dependencies of a task on one upstream (all, or the one of a type/key).
    pub async fn remove_dependency(
        &self,
        p: &Principal,
        reference: &str,
        body: &RemoveDependency,
    ) -> HubResult<TaskView> {
        let DependencyEdit { mut tx, down, up } = self
            .dependency_ends(p, reference, &body.depends_on, "removing a dependency")
            .await?;
        let existing = store::deps::between(&mut tx, up.id, down.id).await?;
        let doomed: Vec<Uuid> = existing
            .iter()
            .filter(|d| body.dep_type.is_none_or(|t| t == d.dep_type))
            .filter(|d| body.contract_key.is_none() || d.contract_key == body.contract_key)
            .map(|d| d.id)
            .collect();
        if doomed.is_empty() {
            return Err(HubError::NotFound(format!(
                "{} has no such dependency on {}",
                down.reference(),
                up.reference()
            )));
        }
        store::deps::delete(&mut tx, &doomed).await?;
        let mut out = Effects::default();
        out.task_event(
            EventKind::DependencyRemoved,
            &p.actor(),
            down.project_id,
            down.id,
            json!({"upstream": up.reference(), "removed": doomed.len()}),
        );
        self.release_if_ready(&mut tx, &down, &mut out).await?;
        self.commit(tx, out).await?;
        self.reload_view(down.id).await
    }

    /// Releases a pending, never-released task whose dependencies are all met (and that has
    /// at least one): the cascade's rule applied after a dependency edit.
    async fn release_if_ready(
        &self,
        c: &mut Conn,
        t: &TaskRecord,
        out: &mut Effects,
    ) -> HubResult<()> {
        if t.status != TaskStatus::Pending || t.server_id.is_some() {
            return Ok(());
        }
        let deps = store::deps::of_downstream(c, t.id).await?;
        if deps.is_empty() || blocked_reason(&facts_of(&deps)).is_some() {
            return Ok(());
        }
        self.release_and_assign(c, t.project_id, vec![t.clone()], None, out)
            .await
    }
}
