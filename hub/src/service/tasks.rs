//! Tasks as data: create, edit, list, view, dependencies, the graph and the matching explanation.

use std::collections::{BTreeSet, HashMap};

use orchestratia_proto::api::{
    AddDependency, CreateTask, Explanation, Graph, GraphEdge, GraphNode, RemoveDependency,
    TaskFilter, UpdateTask,
};
use orchestratia_proto::taskref::TaskRef;
use orchestratia_proto::time::now_ms;
use orchestratia_proto::{DepType, Dependency, EventKind, Task, TaskStatus, TaskView, task_ref};
use serde_json::json;
use uuid::Uuid;

use super::{Hub, Outbox, validate};
use crate::auth::Principal;
use crate::bad;
use crate::engine::deps::{
    AddDecision, DepFacts, blocked_reason, decide_add, is_met, validate_new,
};
use crate::engine::graph::{PhaseFacts, find_cycle, layers, phases};
use crate::engine::matching::{Requirements, ServerFacts, rank};
use crate::error::{HubError, HubResult};
use crate::store::deps::{DepRecord, NewDep};
use crate::store::tasks::TaskRecord;
use crate::store::{self, Conn};

/// A task's title is at most this many characters.
const MAX_TITLE: usize = 200;
/// A task may list at most this many `--depends-on` at creation.
const MAX_DEPENDS_ON: usize = 1000;

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

    /// The API shape of tasks, with their derived blocked state.
    pub(crate) async fn to_tasks(&self, c: &mut Conn, recs: &[TaskRecord]) -> HubResult<Vec<Task>> {
        let mut reasons = self.blocked_reasons(c, recs).await?;
        Ok(recs
            .iter()
            .map(|r| r.to_task(reasons.remove(&r.id)))
            .collect())
    }

    pub(crate) async fn to_task(&self, c: &mut Conn, rec: &TaskRecord) -> HubResult<Task> {
        Ok(self
            .to_tasks(c, std::slice::from_ref(rec))
            .await?
            .pop()
            .unwrap_or_else(|| rec.to_task(None)))
    }

    /// Creates a task (and its `blocks` dependencies) in one transaction.
    pub async fn create_task(&self, p: &Principal, body: &CreateTask) -> HubResult<Task> {
        let lim = &self.config.limits;
        let title = validate::line("title", &body.title, MAX_TITLE)?;
        if title.contains('\n') {
            return Err(bad!("title must be one line"));
        }
        let spec = validate::spec(&body.spec, lim.max_spec)?;
        let structured = body
            .structured_spec
            .as_ref()
            .filter(|v| !v.is_null())
            .map(|v| validate::structured_spec(v, lim.max_spec))
            .transpose()?;
        let repo = body
            .repo
            .as_deref()
            .map(|r| validate::name("repo", r))
            .transpose()?;
        let os = body
            .os
            .as_deref()
            .map(|o| validate::name("os", o).map(|o| o.to_ascii_lowercase()))
            .transpose()?;
        let mut languages: Vec<String> = Vec::new();
        let from_spec = structured
            .as_ref()
            .map(validate::spec_languages)
            .unwrap_or_default();
        for l in body.languages.iter().chain(from_spec.iter()) {
            let l = validate::name("language", l)?;
            if !languages.iter().any(|x| x.eq_ignore_ascii_case(&l)) {
                languages.push(l);
            }
        }
        let pipeline_key = body
            .pipeline_key
            .as_deref()
            .map(|k| validate::name("pipeline key", k))
            .transpose()?;
        if body.depends_on.len() > MAX_DEPENDS_ON {
            return Err(bad!("at most {MAX_DEPENDS_ON} --depends-on per task"));
        }
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
        if let Some(a) = &body.agent {
            let a = validate::name("agent", a)?;
            match store::servers::by_name(&mut tx, &a).await? {
                Some(s) if s.project_id == project.id => {}
                _ => {
                    return Err(bad!(
                        "unknown agent '{a}': no server of that name in project '{}'",
                        project.name
                    ));
                }
            }
        }
        if let Some(k) = &pipeline_key
            && let Some(existing) = store::tasks::by_pipeline_key(&mut tx, project.id, k).await?
        {
            return Err(HubError::Conflict(format!(
                "pipeline key '{k}' already names {} in project '{}'",
                existing.reference(),
                project.name
            )));
        }
        let mut upstreams: Vec<TaskRecord> = Vec::new();
        for d in &body.depends_on {
            let up = self.resolve_task(&mut tx, p, d, Some(project.id)).await?;
            if upstreams.iter().any(|u| u.id == up.id) {
                return Err(bad!("{} is given twice in --depends-on", up.reference()));
            }
            upstreams.push(up);
        }
        let now = now_ms();
        let number = store::projects::allocate_number(&mut tx, project.id).await?;
        let rec = TaskRecord {
            id: Uuid::new_v4(),
            project_id: project.id,
            number,
            title,
            spec,
            structured_spec: structured,
            priority: body
                .priority
                .unwrap_or(orchestratia_proto::Priority::Medium),
            repo,
            languages,
            agent: body.agent.as_ref().map(|a| a.trim().to_string()),
            os,
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
            pipeline_key,
            created_by: p.actor(),
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        store::tasks::insert(&mut tx, &rec).await?;
        let mut out = Outbox::default();
        let actor = p.actor();
        out.task_event(
            EventKind::TaskCreated,
            &actor,
            project.id,
            rec.id,
            json!({"title": rec.title, "priority": rec.priority, "repo": rec.repo,
                   "languages": rec.languages, "agent": rec.agent,
                   "depends_on": upstreams.iter().map(TaskRecord::reference).collect::<Vec<_>>(),
                   "type": if rec.orchestrator { "orchestrator" } else { "worker" }}),
        );
        let mut all_met = true;
        for up in &upstreams {
            let met = is_met(up.status, DepType::Blocks, false);
            all_met &= met;
            store::deps::insert(
                &mut tx,
                &NewDep {
                    id: Uuid::now_v7(),
                    upstream: up.id,
                    downstream: rec.id,
                    dep_type: DepType::Blocks,
                    contract_key: None,
                    resolved: met,
                    now,
                },
            )
            .await?;
            out.task_event(
                EventKind::DependencyAdded,
                &actor,
                project.id,
                rec.id,
                json!({"upstream": up.reference(), "type": "blocks", "resolved": met}),
            );
        }
        let released = !upstreams.is_empty() && all_met;
        if released {
            // It depends only on finished work: the cascade releases it now.
            self.release_and_assign(&mut tx, project.id, vec![rec.clone()], None, &mut out)
                .await?;
        }
        self.commit(tx, out).await?;
        if released {
            let mut c = self.read().await?;
            let rec = store::tasks::get(&mut c, rec.id)
                .await?
                .ok_or_else(|| HubError::Internal("task vanished after creation".into()))?;
            return self.to_task(&mut c, &rec).await;
        }
        let facts: Vec<DepFacts> = upstreams
            .iter()
            .map(|u| DepFacts {
                upstream_ref: u.reference(),
                upstream_status: u.status,
                dep_type: DepType::Blocks,
                contract_key: None,
                resolved: is_met(u.status, DepType::Blocks, false),
            })
            .collect();
        Ok(rec.to_task(blocked_reason(&facts)))
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
        let mut changed = Vec::new();
        if let Some(v) = &body.title {
            t.title = validate::line("title", v, MAX_TITLE)?;
            changed.push("title");
        }
        if let Some(v) = &body.spec {
            t.spec = validate::spec(v, lim.max_spec)?;
            changed.push("spec");
        }
        if let Some(v) = &body.structured_spec {
            t.structured_spec = if v.is_null() {
                None
            } else {
                Some(validate::structured_spec(v, lim.max_spec)?)
            };
            changed.push("structured_spec");
        }
        if let Some(v) = body.priority {
            t.priority = v;
            changed.push("priority");
        }
        if let Some(v) = &body.repo {
            t.repo = Some(validate::name("repo", v)?);
            changed.push("repo");
        }
        if let Some(v) = &body.languages {
            t.languages = v
                .iter()
                .map(|l| validate::name("language", l))
                .collect::<HubResult<_>>()?;
            changed.push("languages");
        }
        if let Some(v) = &body.agent {
            t.agent = Some(validate::name("agent", v)?);
            changed.push("agent");
        }
        if let Some(v) = body.keep_session {
            t.keep_session = v;
            changed.push("keep_session");
        }
        if changed.is_empty() {
            return Err(bad!("nothing to change: give at least one field"));
        }
        t.updated_at = now_ms();
        store::tasks::update_fields(&mut tx, &t).await?;
        let mut out = Outbox::default();
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
            let payload = super::flow::payload(&t, inputs.get(&t.id).cloned().unwrap_or_default());
            out.tell(
                server,
                orchestratia_proto::ws::HubToDaemon::TaskUpdated { task: payload },
            );
        }
        self.commit(tx, out).await?;
        let mut c = self.read().await?;
        self.to_task(&mut c, &t).await
    }

    /// Tasks the principal may see, filtered.
    pub async fn list_tasks(&self, p: &Principal, f: &TaskFilter) -> HubResult<Vec<Task>> {
        let mut want_blocked = false;
        let mut statuses: Vec<TaskStatus> = Vec::new();
        if let Some(s) = f.status.as_deref().filter(|s| !s.trim().is_empty()) {
            for word in s.split(',').map(str::trim) {
                if word == "blocked" {
                    want_blocked = true;
                    statuses.push(TaskStatus::Pending);
                } else {
                    statuses.push(
                        word.parse::<TaskStatus>()
                            .map_err(|e| bad!("{e}, blocked"))?,
                    );
                }
            }
        }
        let mut c = self.read().await?;
        let project = match &f.project {
            Some(n) => Some(self.resolve_project(&mut c, p, n).await?.id),
            None => p.project(),
        };
        let server = match &f.server {
            Some(n) => Some(self.resolve_server(&mut c, p, n).await?.id),
            None => None,
        };
        let recs = store::tasks::list(&mut c, project, &statuses, server).await?;
        let visible: Vec<TaskRecord> = recs.into_iter().filter(|t| p.can_see_task(t)).collect();
        let tasks = self.to_tasks(&mut c, &visible).await?;
        let explicit_pending = f
            .status
            .as_deref()
            .is_some_and(|s| s.split(',').any(|w| w.trim() == "pending"));
        Ok(if want_blocked && !explicit_pending {
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

    pub(crate) async fn task_view(&self, c: &mut Conn, t: &TaskRecord) -> HubResult<TaskView> {
        let ups = store::deps::of_downstream(c, t.id).await?;
        let downs = store::deps::of_upstream(c, t.id).await?;
        let task = {
            let facts = facts_of(&ups);
            t.to_task(if t.status == TaskStatus::Pending {
                blocked_reason(&facts)
            } else {
                None
            })
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
        };
        let inputs = store::contracts::inputs_of(c, &[t.id]).await?;
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
        })
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
        let mut tx = self.store.write().await?;
        let down = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_manager(down.project_id, "adding a dependency")?;
        tx.lock_project(down.project_id).await?;
        let up = self
            .resolve_task(&mut tx, p, &body.depends_on, Some(down.project_id))
            .await?;
        validate_new(up.id, down.id, body.dep_type, key).map_err(|e| bad!("{e}"))?;
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
            let edges: Vec<(Uuid, Uuid)> = store::deps::edges_of_project(&mut tx, down.project_id)
                .await?
                .into_iter()
                .map(|e| (e.upstream, e.downstream))
                .collect();
            if let Some(cycle) = find_cycle(&edges, up.id, down.id) {
                let ids: Vec<Uuid> = cycle.clone();
                let recs = store::tasks::many(&mut tx, &ids).await?;
                let name = |id: &Uuid| {
                    recs.iter()
                        .find(|r| r.id == *id)
                        .map(TaskRecord::reference)
                        .unwrap_or_else(|| id.to_string())
                };
                let path: Vec<String> = cycle.iter().map(name).collect();
                return Err(HubError::Conflict(format!(
                    "refused: making {} depend on {} would create a cycle (work would flow {})",
                    down.reference(),
                    up.reference(),
                    path.join(" → ")
                )));
            }
        }
        let has_key = match key {
            Some(k) => store::contracts::of_task(&mut tx, up.id)
                .await?
                .contains_key(k),
            None => false,
        };
        let met = is_met(up.status, body.dep_type, has_key);
        let now = now_ms();
        let upgraded = match decision {
            AddDecision::Insert => {
                store::deps::insert(
                    &mut tx,
                    &NewDep {
                        id: Uuid::now_v7(),
                        upstream: up.id,
                        downstream: down.id,
                        dep_type: body.dep_type,
                        contract_key: key.map(str::to_string),
                        resolved: met,
                        now,
                    },
                )
                .await?;
                false
            }
            AddDecision::UpgradeToInput { dep_id } => {
                store::deps::upgrade_to_input(&mut tx, dep_id, key.unwrap_or_default(), met, now)
                    .await?;
                true
            }
        };
        let mut out = Outbox::default();
        out.task_event(
            EventKind::DependencyAdded,
            &p.actor(),
            down.project_id,
            down.id,
            json!({"upstream": up.reference(), "type": body.dep_type, "contract_key": key,
                   "resolved": met, "upgraded_from_blocks": upgraded}),
        );
        self.release_if_ready(&mut tx, &down, &mut out).await?;
        self.commit(tx, out).await?;
        let mut c = self.read().await?;
        let down = store::tasks::get(&mut c, down.id)
            .await?
            .ok_or_else(|| HubError::NotFound("task vanished".into()))?;
        self.task_view(&mut c, &down).await
    }

    /// Removes dependencies of a task on one upstream (all, or the one of a type/key).
    pub async fn remove_dependency(
        &self,
        p: &Principal,
        reference: &str,
        body: &RemoveDependency,
    ) -> HubResult<TaskView> {
        let mut tx = self.store.write().await?;
        let down = self.resolve_task(&mut tx, p, reference, None).await?;
        p.require_manager(down.project_id, "removing a dependency")?;
        tx.lock_project(down.project_id).await?;
        let up = self
            .resolve_task(&mut tx, p, &body.depends_on, Some(down.project_id))
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
        let mut out = Outbox::default();
        out.task_event(
            EventKind::DependencyRemoved,
            &p.actor(),
            down.project_id,
            down.id,
            json!({"upstream": up.reference(), "removed": doomed.len()}),
        );
        self.release_if_ready(&mut tx, &down, &mut out).await?;
        self.commit(tx, out).await?;
        let mut c = self.read().await?;
        let down = store::tasks::get(&mut c, down.id)
            .await?
            .ok_or_else(|| HubError::NotFound("task vanished".into()))?;
        self.task_view(&mut c, &down).await
    }

    /// Releases a pending, never-released task whose dependencies are all met (and that has
    /// at least one): the cascade's rule applied after a dependency edit.
    async fn release_if_ready(
        &self,
        c: &mut Conn,
        t: &TaskRecord,
        out: &mut Outbox,
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

    /// The project's DAG: nodes with status, edges with type and key, layers and phases.
    pub async fn graph(&self, p: &Principal, project: Option<&str>) -> HubResult<Graph> {
        let mut c = self.read().await?;
        let project = self.default_project(&mut c, p, project).await?;
        if !matches!(p, Principal::Admin | Principal::Hub) {
            p.require_manager(project.id, "reading the graph")?;
        }
        let recs = store::tasks::list(&mut c, Some(project.id), &[], None).await?;
        let edges = store::deps::edges_of_project(&mut c, project.id).await?;
        let reasons = self.blocked_reasons(&mut c, &recs).await?;
        let ids: Vec<Uuid> = recs.iter().map(|r| r.id).collect();
        let pairs: Vec<(Uuid, Uuid)> = edges.iter().map(|e| (e.upstream, e.downstream)).collect();
        let layer = layers(&ids, &pairs);
        let with_dependents: BTreeSet<Uuid> = edges.iter().map(|e| e.upstream).collect();
        let facts: Vec<PhaseFacts> = recs
            .iter()
            .map(|r| PhaseFacts {
                reference: r.reference(),
                number: r.number,
                status: r.status,
                phase: r.phase,
                released_by: r.released_by.clone(),
                leaf: !with_dependents.contains(&r.id),
            })
            .collect();
        let (phases, all_done) = phases(&facts);
        let nodes: Vec<GraphNode> = recs
            .iter()
            .map(|r| {
                let task = r.to_task(reasons.get(&r.id).cloned());
                GraphNode {
                    id: r.id,
                    reference: r.reference(),
                    title: r.title.clone(),
                    status: r.status,
                    blocked: task.blocked,
                    blocked_reason: task.blocked_reason,
                    server: r.server_name.clone(),
                    repo: r.repo.clone(),
                    agent: r.agent.clone(),
                    languages: r.languages.clone(),
                    layer: layer.get(&r.id).copied().unwrap_or(0),
                    phase: r.phase,
                }
            })
            .collect();
        let max_layer = nodes
            .iter()
            .filter(|n| n.status == TaskStatus::Pending)
            .map(|n| n.layer)
            .max();
        let mut layers_out: Vec<Vec<String>> =
            vec![Vec::new(); max_layer.map(|m| m as usize + 1).unwrap_or(0)];
        for n in nodes.iter().filter(|n| n.status == TaskStatus::Pending) {
            layers_out[n.layer as usize].push(n.reference.clone());
        }
        Ok(Graph {
            project_id: project.id,
            project: project.name,
            nodes,
            edges: edges
                .into_iter()
                .map(|e| GraphEdge {
                    from: e.upstream,
                    to: e.downstream,
                    dep_type: e.dep_type,
                    contract_key: e.contract_key,
                    resolved: e.resolved,
                })
                .collect(),
            layers: layers_out,
            phases,
            all_done,
        })
    }

    /// Every candidate server for a task, with its score or why it is disqualified.
    pub async fn explain(&self, p: &Principal, reference: &str) -> HubResult<Explanation> {
        let mut c = self.read().await?;
        let t = self.resolve_task(&mut c, p, reference, None).await?;
        let req = requirements(&t);
        let (servers, _) = server_facts(&mut c, t.project_id).await?;
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

/// What a task asks of a server.
pub(crate) fn requirements(t: &TaskRecord) -> Requirements {
    Requirements {
        repo: t.repo.clone(),
        languages: t.languages.clone(),
        agent: t.agent.clone(),
        os: t.os.clone(),
    }
}

/// The servers of a project as the matcher sees them, and the servers themselves by id.
pub(crate) async fn server_facts(
    c: &mut Conn,
    project: Uuid,
) -> HubResult<(Vec<ServerFacts>, HashMap<Uuid, orchestratia_proto::Server>)> {
    let since = now_ms() - 24 * 3600 * 1000;
    let records = store::servers::candidates(c, project, since).await?;
    let facts = records
        .iter()
        .map(|r| ServerFacts {
            id: r.server.id,
            name: r.server.name.clone(),
            online: r.server.status == orchestratia_proto::ServerStatus::Online,
            revoked: r.server.revoked,
            os: r.server.os.clone(),
            repos: r.server.repos.keys().cloned().collect(),
            languages: r.server.languages.iter().cloned().collect(),
            running: r.server.sessions,
            recent_successes: r.recent_successes,
        })
        .collect();
    let servers = records
        .into_iter()
        .map(|r| (r.server.id, r.server))
        .collect();
    Ok((facts, servers))
}

/// Dependency facts for the blocked reason, from stored dependencies seen from downstream.
pub(crate) fn facts_of(deps: &[DepRecord]) -> Vec<DepFacts> {
    deps.iter()
        .map(|d| DepFacts {
            upstream_ref: task_ref(d.other_number),
            upstream_status: d.other_status,
            dep_type: d.dep_type,
            contract_key: d.contract_key.clone(),
            resolved: d.resolved,
        })
        .collect()
}

/// Groups dependencies by downstream task and derives each blocked reason.
fn reasons_from(deps: &[DepRecord]) -> HashMap<Uuid, String> {
    let mut by_task: HashMap<Uuid, Vec<DepRecord>> = HashMap::new();
    for d in deps {
        by_task.entry(d.downstream_id).or_default().push(d.clone());
    }
    by_task
        .into_iter()
        .filter_map(|(id, ds)| blocked_reason(&facts_of(&ds)).map(|r| (id, r)))
        .collect()
}
