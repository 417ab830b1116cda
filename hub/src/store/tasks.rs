//! Tasks: the rows of the graph, their status, assignment, phase and result.

use orchestratia_proto::taskref::TaskRef;
use orchestratia_proto::{Priority, Task, TaskStatus, task_ref};
use serde_json::Value;
use uuid::Uuid;

use super::{BATCH, Conn, Param, Result, Row, placeholders};
use crate::params;

/// A stored task, with the name of its server.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    pub id: Uuid,
    pub project_id: Uuid,
    pub number: i64,
    pub title: String,
    pub spec: String,
    pub structured_spec: Option<Value>,
    pub priority: Priority,
    pub repo: Option<String>,
    pub languages: Vec<String>,
    pub agent: Option<String>,
    pub os: Option<String>,
    pub require_plan_approval: bool,
    pub orchestrator: bool,
    pub keep_session: bool,
    pub status: TaskStatus,
    pub server_id: Option<Uuid>,
    pub server_name: Option<String>,
    pub phase: Option<i64>,
    /// Reference of the task whose completion released this one.
    pub released_by: Option<String>,
    /// Why a released task has no server yet.
    pub wait_reason: Option<String>,
    pub result: Option<Value>,
    pub pipeline_key: Option<String>,
    /// What its worktree starts from (a branch, a commit, `upstream`).
    pub base: Option<String>,
    /// The task whose branch its worktree starts from.
    pub base_from: Option<Uuid>,
    /// Its branch name when set.
    pub branch: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
}

impl TaskRecord {
    /// `T7`.
    pub fn reference(&self) -> String {
        task_ref(self.number)
    }

    /// The API shape, with the derived blocked state.
    pub fn to_task(&self, blocked_reason: Option<String>) -> Task {
        let blocked = self.status == TaskStatus::Pending && blocked_reason.is_some();
        let reason = if blocked {
            blocked_reason
        } else if self.status == TaskStatus::Pending {
            self.wait_reason.clone()
        } else {
            None
        };
        Task {
            id: self.id,
            reference: self.reference(),
            number: self.number,
            project_id: self.project_id,
            title: self.title.clone(),
            spec: self.spec.clone(),
            structured_spec: self.structured_spec.clone(),
            priority: self.priority,
            repo: self.repo.clone(),
            languages: self.languages.clone(),
            agent: self.agent.clone(),
            os: self.os.clone(),
            require_plan_approval: self.require_plan_approval,
            orchestrator: self.orchestrator,
            keep_session: self.keep_session,
            status: self.status,
            blocked,
            blocked_reason: reason,
            server: self.server_name.clone(),
            server_id: self.server_id,
            phase: self.phase,
            result: self.result.clone(),
            pipeline_key: self.pipeline_key.clone(),
            base: self.base.clone(),
            base_from: self.base_from,
            branch: self.branch.clone(),
            usage: None,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

fn record(r: &Row) -> Result<TaskRecord> {
    Ok(TaskRecord {
        id: r.uuid("id")?,
        project_id: r.uuid("project_id")?,
        number: r.int("number")?,
        title: r.text("title")?,
        spec: r.text("spec")?,
        structured_spec: r.opt_json("structured_spec")?,
        priority: r.word::<Priority>("priority")?,
        repo: r.opt_text("repo")?,
        languages: r.json("languages")?,
        agent: r.opt_text("agent")?,
        os: r.opt_text("os")?,
        require_plan_approval: r.flag("require_plan_approval")?,
        orchestrator: r.flag("orchestrator")?,
        keep_session: r.flag("keep_session")?,
        status: r.word::<TaskStatus>("status")?,
        server_id: r.opt_uuid("server_id")?,
        server_name: r.opt_text("server_name")?,
        phase: r.opt_int("phase")?,
        released_by: r.opt_text("released_by")?,
        wait_reason: r.opt_text("wait_reason")?,
        result: r.opt_json("result")?,
        pipeline_key: r.opt_text("pipeline_key")?,
        base: r.opt_text("base")?,
        base_from: r.opt_uuid("base_from")?,
        branch: r.opt_text("branch")?,
        created_by: r.text("created_by")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        completed_at: r.opt_int("completed_at")?,
    })
}

const SELECT: &str = "SELECT t.id, t.project_id, t.number, t.title, t.spec, t.structured_spec,
        t.priority, t.repo, t.languages, t.agent, t.os, t.require_plan_approval, t.orchestrator,
        t.keep_session, t.status, t.server_id, s.name AS server_name, t.phase, t.released_by, t.wait_reason,
        t.result, t.pipeline_key, t.base, t.base_from, t.branch, t.created_by, t.created_at, t.updated_at, t.completed_at
    FROM tasks t LEFT JOIN servers s ON s.id = t.server_id";

fn records(rows: Vec<Row>) -> Result<Vec<TaskRecord>> {
    rows.iter().map(record).collect()
}

pub async fn insert(c: &mut Conn, t: &TaskRecord) -> Result<()> {
    c.execute(
        "INSERT INTO tasks (id, project_id, number, title, spec, structured_spec, priority, repo,
                            languages, agent, os, require_plan_approval, orchestrator, status,
                            server_id, phase, released_by, wait_reason, result, pipeline_key,
                            created_by, created_at, updated_at, completed_at, keep_session,
                            base, base_from, branch)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                 $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)",
        &[
            &params![t.id, t.project_id, t.number][..],
            &editable(t),
            &params![
                &t.os,
                t.require_plan_approval,
                t.orchestrator,
                t.status.as_str(),
                t.server_id,
                t.phase,
                &t.released_by,
                &t.wait_reason,
                t.result.as_ref().map(Value::to_string),
                &t.pipeline_key,
                &t.created_by,
                t.created_at,
                t.updated_at,
                t.completed_at,
                t.keep_session,
                &t.base,
                t.base_from,
                &t.branch
            ],
        ]
        .concat(),
    )
    .await?;
    Ok(())
}

/// The fields an edit may change, as the parameters of consecutive placeholders: title, spec,
/// structured spec, priority, repo, languages, agent.
fn editable(t: &TaskRecord) -> [Param; 7] {
    params![
        &t.title,
        &t.spec,
        t.structured_spec.as_ref().map(Value::to_string),
        t.priority.as_str(),
        &t.repo,
        serde_json::to_string(&t.languages).unwrap_or_default(),
        &t.agent
    ]
}

pub async fn get(c: &mut Conn, id: Uuid) -> Result<Option<TaskRecord>> {
    let sql = format!("{SELECT} WHERE t.id = $1");
    c.fetch_optional(&sql, &params![id])
        .await?
        .as_ref()
        .map(record)
        .transpose()
}

/// Tasks matching a reference (up to 3, enough to tell "unique" from "ambiguous"), within a
/// project when one is given.
pub async fn find(c: &mut Conn, project: Option<Uuid>, r: &TaskRef) -> Result<Vec<TaskRecord>> {
    let (cond, arg): (&str, Param) = match r {
        TaskRef::Id(id) => ("t.id = $1", (*id).into()),
        TaskRef::Prefix(p) => ("t.id LIKE $1", format!("{p}%").into()),
        TaskRef::Number(n) => ("t.number = $1", (*n).into()),
    };
    let (sql, args) = match project {
        Some(p) => (
            format!("{SELECT} WHERE {cond} AND t.project_id = $2 ORDER BY t.created_at LIMIT 3"),
            vec![arg, p.into()],
        ),
        None => (
            format!("{SELECT} WHERE {cond} ORDER BY t.created_at LIMIT 3"),
            vec![arg],
        ),
    };
    records(c.fetch(&sql, &args).await?)
}

pub async fn by_pipeline_key(c: &mut Conn, project: Uuid, key: &str) -> Result<Option<TaskRecord>> {
    let sql = format!("{SELECT} WHERE t.project_id = $1 AND t.pipeline_key = $2");
    c.fetch_optional(&sql, &params![project, key])
        .await?
        .as_ref()
        .map(record)
        .transpose()
}

/// Tasks filtered by project, statuses (any of) and server, ordered by project and number.
pub async fn list(
    c: &mut Conn,
    project: Option<Uuid>,
    statuses: &[TaskStatus],
    server: Option<Uuid>,
) -> Result<Vec<TaskRecord>> {
    let mut conds = Vec::new();
    let mut args: Vec<Param> = Vec::new();
    if let Some(p) = project {
        args.push(p.into());
        conds.push(format!("t.project_id = ${}", args.len()));
    }
    if let Some(s) = server {
        args.push(s.into());
        conds.push(format!("t.server_id = ${}", args.len()));
    }
    if !statuses.is_empty() {
        let start = args.len() + 1;
        args.extend(statuses.iter().map(|s| Param::from(s.as_str())));
        conds.push(format!(
            "t.status IN ({})",
            placeholders(start, statuses.len())
        ));
    }
    let filter = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    let sql = format!("{SELECT} {filter} ORDER BY t.project_id, t.number");
    records(c.fetch(&sql, &args).await?)
}

/// Several tasks by id (any order).
pub async fn many(c: &mut Conn, ids: &[Uuid]) -> Result<Vec<TaskRecord>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH) {
        let sql = format!("{SELECT} WHERE t.id IN ({})", placeholders(1, chunk.len()));
        let args: Vec<Param> = chunk.iter().map(|id| Param::from(*id)).collect();
        out.extend(records(c.fetch(&sql, &args).await?)?);
    }
    Ok(out)
}

fn statuses(from: &[TaskStatus]) -> impl Iterator<Item = Param> + '_ {
    from.iter().map(|s| Param::from(s.as_str()))
}

/// Moves a task to `to` if it is in one of `from`; false when it was not.
pub async fn transition(
    c: &mut Conn,
    id: Uuid,
    from: &[TaskStatus],
    to: TaskStatus,
    now: i64,
) -> Result<bool> {
    let sql = format!(
        "UPDATE tasks SET status = $2, updated_at = $3 WHERE id = $1 AND status IN ({})",
        placeholders(4, from.len())
    );
    let mut args = params![id, to.as_str(), now].to_vec();
    args.extend(statuses(from));
    Ok(c.execute(&sql, &args).await? == 1)
}

/// Gives tasks to a server with status `to` (assigned or planning), each only if it is in one
/// of `from`; returns how many changed.
pub async fn assign_many(
    c: &mut Conn,
    ids: &[Uuid],
    from: &[TaskStatus],
    server: Uuid,
    to: TaskStatus,
    now: i64,
) -> Result<u64> {
    let mut changed = 0;
    for chunk in ids.chunks(BATCH) {
        let base = 4 + from.len();
        let sql = format!(
            "UPDATE tasks SET status = $1, server_id = $2, wait_reason = NULL, updated_at = $3
             WHERE status IN ({}) AND id IN ({})",
            placeholders(4, from.len()),
            placeholders(base, chunk.len())
        );
        let mut args = params![to.as_str(), server, now].to_vec();
        args.extend(statuses(from));
        args.extend(chunk.iter().map(|id| Param::from(*id)));
        changed += c.execute(&sql, &args).await?;
    }
    Ok(changed)
}

/// Records that a cascade wave (or a manual assignment) released these tasks.
pub async fn release(
    c: &mut Conn,
    ids: &[Uuid],
    phase: i64,
    released_by: Option<&str>,
    now: i64,
) -> Result<()> {
    for chunk in ids.chunks(BATCH) {
        let sql = format!(
            "UPDATE tasks SET phase = $1, released_by = $2, updated_at = $3 WHERE id IN ({})",
            placeholders(4, chunk.len())
        );
        let mut args = params![phase, released_by, now].to_vec();
        args.extend(chunk.iter().map(|id| Param::from(*id)));
        c.execute(&sql, &args).await?;
    }
    Ok(())
}

/// Notes why a released task still has no server.
pub async fn set_wait_reason(c: &mut Conn, id: Uuid, reason: Option<&str>) -> Result<()> {
    c.execute(
        "UPDATE tasks SET wait_reason = $2 WHERE id = $1",
        &params![id, reason],
    )
    .await?;
    Ok(())
}

/// Closes a task as done or failed with its result, if it is in one of `from`.
pub async fn close(
    c: &mut Conn,
    id: Uuid,
    from: &[TaskStatus],
    to: TaskStatus,
    result: &Value,
    now: i64,
) -> Result<bool> {
    let sql = format!(
        "UPDATE tasks SET status = $2, result = $3, updated_at = $4, completed_at = $4
         WHERE id = $1 AND status IN ({})",
        placeholders(5, from.len())
    );
    let mut args = params![id, to.as_str(), result.to_string(), now].to_vec();
    args.extend(statuses(from));
    Ok(c.execute(&sql, &args).await? == 1)
}

/// Puts a failed or cancelled task back to pending, clearing its server and result.
pub async fn reset_for_retry(c: &mut Conn, id: Uuid, now: i64) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE tasks SET status = 'pending', server_id = NULL, result = NULL, wait_reason = NULL,
                              completed_at = NULL, updated_at = $2
             WHERE id = $1 AND status IN ('failed', 'cancelled')",
            &params![id, now],
        )
        .await?;
    Ok(n == 1)
}

/// Writes the editable fields of a task.
pub async fn update_fields(c: &mut Conn, t: &TaskRecord) -> Result<()> {
    c.execute(
        "UPDATE tasks SET title = $2, spec = $3, structured_spec = $4, priority = $5, repo = $6,
                          languages = $7, agent = $8, updated_at = $9, keep_session = $10
         WHERE id = $1",
        &[
            &params![t.id][..],
            &editable(t),
            &params![t.updated_at, t.keep_session],
        ]
        .concat(),
    )
    .await?;
    Ok(())
}

/// Released pending tasks of a project still waiting for a server, by number.
pub async fn waiting_for_server(c: &mut Conn, project: Uuid) -> Result<Vec<TaskRecord>> {
    let sql = format!(
        "{SELECT} WHERE t.project_id = $1 AND t.status = 'pending' AND t.phase IS NOT NULL
                  AND t.server_id IS NULL ORDER BY t.number"
    );
    records(c.fetch(&sql, &params![project]).await?)
}
