//! Tasks: the rows of the graph, their status, assignment, phase and result.

use orchestratia_proto::taskref::TaskRef;
use orchestratia_proto::{Priority, Task, TaskStatus, task_ref};
use serde_json::Value;
use sqlx::FromRow;
use uuid::Uuid;

use super::{BATCH, Conn, Result, json, placeholders, uuid, uuid_opt, word};

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
            status: self.status,
            blocked,
            blocked_reason: reason,
            server: self.server_name.clone(),
            server_id: self.server_id,
            phase: self.phase,
            result: self.result.clone(),
            pipeline_key: self.pipeline_key.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(FromRow)]
struct Row {
    id: String,
    project_id: String,
    number: i64,
    title: String,
    spec: String,
    structured_spec: Option<String>,
    priority: String,
    repo: Option<String>,
    languages: String,
    agent: Option<String>,
    os: Option<String>,
    require_plan_approval: i64,
    orchestrator: i64,
    status: String,
    server_id: Option<String>,
    server_name: Option<String>,
    phase: Option<i64>,
    released_by: Option<String>,
    wait_reason: Option<String>,
    result: Option<String>,
    pipeline_key: Option<String>,
    created_by: String,
    created_at: i64,
    updated_at: i64,
    completed_at: Option<i64>,
}

impl Row {
    fn into_record(self) -> Result<TaskRecord> {
        Ok(TaskRecord {
            id: uuid(&self.id)?,
            project_id: uuid(&self.project_id)?,
            number: self.number,
            title: self.title,
            spec: self.spec,
            structured_spec: self.structured_spec.as_deref().map(json).transpose()?,
            priority: word(&self.priority)?,
            repo: self.repo,
            languages: json(&self.languages)?,
            agent: self.agent,
            os: self.os,
            require_plan_approval: self.require_plan_approval != 0,
            orchestrator: self.orchestrator != 0,
            status: word(&self.status)?,
            server_id: uuid_opt(&self.server_id)?,
            server_name: self.server_name,
            phase: self.phase,
            released_by: self.released_by,
            wait_reason: self.wait_reason,
            result: self.result.as_deref().map(json).transpose()?,
            pipeline_key: self.pipeline_key,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            completed_at: self.completed_at,
        })
    }
}

const SELECT: &str = "SELECT t.id, t.project_id, t.number, t.title, t.spec, t.structured_spec,
        t.priority, t.repo, t.languages, t.agent, t.os, t.require_plan_approval, t.orchestrator,
        t.status, t.server_id, s.name AS server_name, t.phase, t.released_by, t.wait_reason,
        t.result, t.pipeline_key, t.created_by, t.created_at, t.updated_at, t.completed_at
    FROM tasks t LEFT JOIN servers s ON s.id = t.server_id";

fn records(rows: Vec<Row>) -> Result<Vec<TaskRecord>> {
    rows.into_iter().map(Row::into_record).collect()
}

pub async fn insert(c: &mut Conn, t: &TaskRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO tasks (id, project_id, number, title, spec, structured_spec, priority, repo,
                            languages, agent, os, require_plan_approval, orchestrator, status,
                            server_id, phase, released_by, wait_reason, result, pipeline_key,
                            created_by, created_at, updated_at, completed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                 $19, $20, $21, $22, $23, $24)",
    )
    .bind(t.id.to_string())
    .bind(t.project_id.to_string())
    .bind(t.number)
    .bind(&t.title)
    .bind(&t.spec)
    .bind(t.structured_spec.as_ref().map(Value::to_string))
    .bind(t.priority.as_str())
    .bind(&t.repo)
    .bind(serde_json::to_string(&t.languages).unwrap_or_default())
    .bind(&t.agent)
    .bind(&t.os)
    .bind(t.require_plan_approval as i64)
    .bind(t.orchestrator as i64)
    .bind(t.status.as_str())
    .bind(t.server_id.map(|u| u.to_string()))
    .bind(t.phase)
    .bind(&t.released_by)
    .bind(&t.wait_reason)
    .bind(t.result.as_ref().map(Value::to_string))
    .bind(&t.pipeline_key)
    .bind(&t.created_by)
    .bind(t.created_at)
    .bind(t.updated_at)
    .bind(t.completed_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn get(c: &mut Conn, id: Uuid) -> Result<Option<TaskRecord>> {
    let sql = format!("{SELECT} WHERE t.id = $1");
    let row = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(c)
        .await?;
    row.map(Row::into_record).transpose()
}

/// Tasks matching a reference (up to 3, enough to tell "unique" from "ambiguous"), within a
/// project when one is given.
pub async fn find(c: &mut Conn, project: Option<Uuid>, r: &TaskRef) -> Result<Vec<TaskRecord>> {
    let (cond, arg): (&str, String) = match r {
        TaskRef::Id(id) => ("t.id = $1", id.to_string()),
        TaskRef::Prefix(p) => ("t.id LIKE $1", format!("{p}%")),
        TaskRef::Number(n) => ("t.number = CAST($1 AS BIGINT)", n.to_string()),
    };
    let sql = match project {
        Some(_) => {
            format!("{SELECT} WHERE {cond} AND t.project_id = $2 ORDER BY t.created_at LIMIT 3")
        }
        None => format!("{SELECT} WHERE {cond} ORDER BY t.created_at LIMIT 3"),
    };
    let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).bind(arg);
    if let Some(p) = project {
        q = q.bind(p.to_string());
    }
    records(q.fetch_all(c).await?)
}

pub async fn by_pipeline_key(c: &mut Conn, project: Uuid, key: &str) -> Result<Option<TaskRecord>> {
    let sql = format!("{SELECT} WHERE t.project_id = $1 AND t.pipeline_key = $2");
    let row = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
        .bind(project.to_string())
        .bind(key)
        .fetch_optional(c)
        .await?;
    row.map(Row::into_record).transpose()
}

/// Tasks filtered by project, statuses (any of) and server, ordered by project and number.
pub async fn list(
    c: &mut Conn,
    project: Option<Uuid>,
    statuses: &[TaskStatus],
    server: Option<Uuid>,
) -> Result<Vec<TaskRecord>> {
    let mut conds = Vec::new();
    let mut args: Vec<String> = Vec::new();
    if let Some(p) = project {
        args.push(p.to_string());
        conds.push(format!("t.project_id = ${}", args.len()));
    }
    if let Some(s) = server {
        args.push(s.to_string());
        conds.push(format!("t.server_id = ${}", args.len()));
    }
    if !statuses.is_empty() {
        let start = args.len() + 1;
        args.extend(statuses.iter().map(|s| s.as_str().to_string()));
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
    let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql));
    for a in args {
        q = q.bind(a);
    }
    records(q.fetch_all(c).await?)
}

/// Several tasks by id (any order).
pub async fn many(c: &mut Conn, ids: &[Uuid]) -> Result<Vec<TaskRecord>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH) {
        let sql = format!("{SELECT} WHERE t.id IN ({})", placeholders(1, chunk.len()));
        let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(id.to_string());
        }
        out.extend(records(q.fetch_all(&mut *c).await?)?);
    }
    Ok(out)
}

fn status_list(from: &[TaskStatus], start: usize) -> String {
    placeholders(start, from.len())
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
        status_list(from, 4)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .bind(to.as_str())
        .bind(now);
    for s in from {
        q = q.bind(s.as_str());
    }
    Ok(q.execute(c).await?.rows_affected() == 1)
}

/// Gives a task to a server with status `to` (assigned or planning), if it is in one of `from`.
pub async fn assign(
    c: &mut Conn,
    id: Uuid,
    from: &[TaskStatus],
    server: Uuid,
    to: TaskStatus,
    now: i64,
) -> Result<bool> {
    let sql = format!(
        "UPDATE tasks SET status = $2, server_id = $3, wait_reason = NULL, updated_at = $4
         WHERE id = $1 AND status IN ({})",
        status_list(from, 5)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .bind(to.as_str())
        .bind(server.to_string())
        .bind(now);
    for s in from {
        q = q.bind(s.as_str());
    }
    Ok(q.execute(c).await?.rows_affected() == 1)
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
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(phase)
            .bind(released_by)
            .bind(now);
        for id in chunk {
            q = q.bind(id.to_string());
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// Notes why a released task still has no server.
pub async fn set_wait_reason(c: &mut Conn, id: Uuid, reason: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE tasks SET wait_reason = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(reason)
        .execute(c)
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
        status_list(from, 5)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .bind(to.as_str())
        .bind(result.to_string())
        .bind(now);
    for s in from {
        q = q.bind(s.as_str());
    }
    Ok(q.execute(c).await?.rows_affected() == 1)
}

/// Puts a failed or cancelled task back to pending, clearing its server and result.
pub async fn reset_for_retry(c: &mut Conn, id: Uuid, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE tasks SET status = 'pending', server_id = NULL, result = NULL, wait_reason = NULL,
                          completed_at = NULL, updated_at = $2
         WHERE id = $1 AND status IN ('failed', 'cancelled')",
    )
    .bind(id.to_string())
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Writes the editable fields of a task.
pub async fn update_fields(c: &mut Conn, t: &TaskRecord) -> Result<()> {
    sqlx::query(
        "UPDATE tasks SET title = $2, spec = $3, structured_spec = $4, priority = $5, repo = $6,
                          languages = $7, agent = $8, updated_at = $9
         WHERE id = $1",
    )
    .bind(t.id.to_string())
    .bind(&t.title)
    .bind(&t.spec)
    .bind(t.structured_spec.as_ref().map(Value::to_string))
    .bind(t.priority.as_str())
    .bind(&t.repo)
    .bind(serde_json::to_string(&t.languages).unwrap_or_default())
    .bind(&t.agent)
    .bind(t.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Released pending tasks of a project still waiting for a server, by priority then number.
pub async fn waiting_for_server(c: &mut Conn, project: Uuid) -> Result<Vec<TaskRecord>> {
    let sql = format!(
        "{SELECT} WHERE t.project_id = $1 AND t.status = 'pending' AND t.phase IS NOT NULL
                  AND t.server_id IS NULL ORDER BY t.number"
    );
    let rows = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
        .bind(project.to_string())
        .fetch_all(c)
        .await?;
    records(rows)
}
