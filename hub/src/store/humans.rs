//! What waits for a human: interventions (questions), plans, permission requests; and notes.

use orchestratia_proto::{
    Intervention, InterventionStatus, Note, PermissionRequest, PermissionStatus, Plan, PlanStatus,
    TaskStatus, task_ref,
};
use sqlx::FromRow;
use uuid::Uuid;

use super::{Conn, Result, json, uuid, uuid_opt, word};

// ---- interventions ------------------------------------------------------------------------

#[derive(FromRow)]
struct InterventionRow {
    id: String,
    task_id: String,
    task_number: i64,
    task_title: String,
    question: String,
    status: String,
    resume_status: String,
    response: Option<String>,
    answered_by: Option<String>,
    created_at: i64,
    answered_at: Option<i64>,
}

/// An intervention with the status its task resumes when answered.
#[derive(Debug, Clone)]
pub struct InterventionRecord {
    pub intervention: Intervention,
    pub resume_status: TaskStatus,
}

impl InterventionRow {
    fn into_record(self) -> Result<InterventionRecord> {
        Ok(InterventionRecord {
            resume_status: word(&self.resume_status)?,
            intervention: Intervention {
                id: uuid(&self.id)?,
                task_id: uuid(&self.task_id)?,
                task_reference: task_ref(self.task_number),
                task_title: self.task_title,
                question: self.question,
                status: word::<InterventionStatus>(&self.status)?,
                response: self.response,
                answered_by: self.answered_by,
                created_at: self.created_at,
                answered_at: self.answered_at,
            },
        })
    }
}

const SELECT_INTERVENTION: &str = "SELECT i.id, i.task_id, t.number AS task_number,
        t.title AS task_title, i.question, i.status, i.resume_status, i.response, i.answered_by,
        i.created_at, i.answered_at
    FROM interventions i JOIN tasks t ON t.id = i.task_id";

pub async fn insert_intervention(
    c: &mut Conn,
    id: Uuid,
    task: Uuid,
    question: &str,
    resume: TaskStatus,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO interventions (id, task_id, question, status, resume_status, created_at)
         VALUES ($1, $2, $3, 'pending', $4, $5)",
    )
    .bind(id.to_string())
    .bind(task.to_string())
    .bind(question)
    .bind(resume.as_str())
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn intervention(c: &mut Conn, id: Uuid) -> Result<Option<InterventionRecord>> {
    let sql = format!("{SELECT_INTERVENTION} WHERE i.id = $1");
    let row = sqlx::query_as::<_, InterventionRow>(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(c)
        .await?;
    row.map(InterventionRow::into_record).transpose()
}

/// Interventions, newest first, optionally of one status, one task or one project.
pub async fn interventions(
    c: &mut Conn,
    status: Option<InterventionStatus>,
    task: Option<Uuid>,
    project: Option<Uuid>,
) -> Result<Vec<InterventionRecord>> {
    let sql = format!(
        "{SELECT_INTERVENTION} WHERE ($1 IS NULL OR i.status = $1) AND ($2 IS NULL OR i.task_id = $2)
            AND ($3 IS NULL OR t.project_id = $3)
         ORDER BY i.created_at DESC"
    );
    let rows = sqlx::query_as::<_, InterventionRow>(sqlx::AssertSqlSafe(sql))
        .bind(status.map(|s| s.as_str()))
        .bind(task.map(|t| t.to_string()))
        .bind(project.map(|p| p.to_string()))
        .fetch_all(c)
        .await?;
    rows.into_iter().map(InterventionRow::into_record).collect()
}

/// Answers a pending intervention; false when it was not pending.
pub async fn answer_intervention(
    c: &mut Conn,
    id: Uuid,
    response: &str,
    by: &str,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE interventions SET status = 'answered', response = $2, answered_by = $3, answered_at = $4
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id.to_string())
    .bind(response)
    .bind(by)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Pending interventions of a task, oldest first.
pub async fn pending_interventions_of_task(
    c: &mut Conn,
    task: Uuid,
) -> Result<Vec<InterventionRecord>> {
    let sql = format!(
        "{SELECT_INTERVENTION} WHERE i.task_id = $1 AND i.status = 'pending' ORDER BY i.created_at"
    );
    let rows = sqlx::query_as::<_, InterventionRow>(sqlx::AssertSqlSafe(sql))
        .bind(task.to_string())
        .fetch_all(c)
        .await?;
    rows.into_iter().map(InterventionRow::into_record).collect()
}

// ---- plans --------------------------------------------------------------------------------

#[derive(FromRow)]
struct PlanRow {
    id: String,
    task_id: String,
    task_number: i64,
    task_title: String,
    content: String,
    status: String,
    feedback: Option<String>,
    decided_by: Option<String>,
    created_at: i64,
    decided_at: Option<i64>,
}

impl PlanRow {
    fn into_plan(self) -> Result<Plan> {
        Ok(Plan {
            id: uuid(&self.id)?,
            task_id: uuid(&self.task_id)?,
            task_reference: task_ref(self.task_number),
            task_title: self.task_title,
            content: self.content,
            status: word::<PlanStatus>(&self.status)?,
            feedback: self.feedback,
            decided_by: self.decided_by,
            created_at: self.created_at,
            decided_at: self.decided_at,
        })
    }
}

const SELECT_PLAN: &str = "SELECT p.id, p.task_id, t.number AS task_number, t.title AS task_title,
        p.content, p.status, p.feedback, p.decided_by, p.created_at, p.decided_at
    FROM plans p JOIN tasks t ON t.id = p.task_id";

pub async fn insert_plan(
    c: &mut Conn,
    id: Uuid,
    task: Uuid,
    content: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO plans (id, task_id, content, status, created_at) VALUES ($1, $2, $3, 'submitted', $4)",
    )
    .bind(id.to_string())
    .bind(task.to_string())
    .bind(content)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn plan(c: &mut Conn, id: Uuid) -> Result<Option<Plan>> {
    let sql = format!("{SELECT_PLAN} WHERE p.id = $1");
    let row = sqlx::query_as::<_, PlanRow>(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(c)
        .await?;
    row.map(PlanRow::into_plan).transpose()
}

/// Plans, newest first, optionally of one status, one task or one project.
pub async fn plans(
    c: &mut Conn,
    status: Option<PlanStatus>,
    task: Option<Uuid>,
    project: Option<Uuid>,
) -> Result<Vec<Plan>> {
    let sql = format!(
        "{SELECT_PLAN} WHERE ($1 IS NULL OR p.status = $1) AND ($2 IS NULL OR p.task_id = $2)
            AND ($3 IS NULL OR t.project_id = $3)
         ORDER BY p.created_at DESC"
    );
    let rows = sqlx::query_as::<_, PlanRow>(sqlx::AssertSqlSafe(sql))
        .bind(status.map(|s| s.as_str()))
        .bind(task.map(|t| t.to_string()))
        .bind(project.map(|p| p.to_string()))
        .fetch_all(c)
        .await?;
    rows.into_iter().map(PlanRow::into_plan).collect()
}

/// Decides a submitted plan; false when it was not waiting.
pub async fn decide_plan(
    c: &mut Conn,
    id: Uuid,
    status: PlanStatus,
    feedback: Option<&str>,
    by: &str,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE plans SET status = $2, feedback = $3, decided_by = $4, decided_at = $5
         WHERE id = $1 AND status = 'submitted'",
    )
    .bind(id.to_string())
    .bind(status.as_str())
    .bind(feedback)
    .bind(by)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

// ---- permission requests ------------------------------------------------------------------

#[derive(FromRow)]
struct PermissionRow {
    id: String,
    task_id: Option<String>,
    task_number: Option<i64>,
    session_id: Option<String>,
    tool_name: String,
    tool_input: String,
    status: String,
    reason: Option<String>,
    decided_by: Option<String>,
    created_at: i64,
    decided_at: Option<i64>,
}

impl PermissionRow {
    fn into_request(self) -> Result<PermissionRequest> {
        Ok(PermissionRequest {
            id: uuid(&self.id)?,
            task_id: uuid_opt(&self.task_id)?,
            task_reference: self.task_number.map(task_ref),
            session_id: uuid_opt(&self.session_id)?,
            tool_name: self.tool_name,
            tool_input: json(&self.tool_input)?,
            status: word::<PermissionStatus>(&self.status)?,
            reason: self.reason,
            decided_by: self.decided_by,
            created_at: self.created_at,
            decided_at: self.decided_at,
        })
    }
}

const SELECT_PERMISSION: &str = "SELECT p.id, p.task_id, t.number AS task_number, p.session_id,
        p.tool_name, p.tool_input, p.status, p.reason, p.decided_by, p.created_at, p.decided_at
    FROM permission_requests p LEFT JOIN tasks t ON t.id = p.task_id";

pub async fn insert_permission(c: &mut Conn, p: &PermissionRequest) -> Result<()> {
    sqlx::query(
        "INSERT INTO permission_requests (id, task_id, session_id, tool_name, tool_input, status, created_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
    )
    .bind(p.id.to_string())
    .bind(p.task_id.map(|u| u.to_string()))
    .bind(p.session_id.map(|u| u.to_string()))
    .bind(&p.tool_name)
    .bind(p.tool_input.to_string())
    .bind(p.created_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn permission(c: &mut Conn, id: Uuid) -> Result<Option<PermissionRequest>> {
    let sql = format!("{SELECT_PERMISSION} WHERE p.id = $1");
    let row = sqlx::query_as::<_, PermissionRow>(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(c)
        .await?;
    row.map(PermissionRow::into_request).transpose()
}

/// Permission requests, newest first, optionally of one status or one project.
pub async fn permissions(
    c: &mut Conn,
    status: Option<PermissionStatus>,
    project: Option<Uuid>,
) -> Result<Vec<PermissionRequest>> {
    let sql = format!(
        "{SELECT_PERMISSION} WHERE ($1 IS NULL OR p.status = $1) AND ($2 IS NULL OR t.project_id = $2)
         ORDER BY p.created_at DESC"
    );
    let rows = sqlx::query_as::<_, PermissionRow>(sqlx::AssertSqlSafe(sql))
        .bind(status.map(|s| s.as_str()))
        .bind(project.map(|p| p.to_string()))
        .fetch_all(c)
        .await?;
    rows.into_iter().map(PermissionRow::into_request).collect()
}

/// Decides a pending request; false when it was not pending.
pub async fn decide_permission(
    c: &mut Conn,
    id: Uuid,
    status: PermissionStatus,
    reason: Option<&str>,
    by: &str,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE permission_requests SET status = $2, reason = $3, decided_by = $4, decided_at = $5
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id.to_string())
    .bind(status.as_str())
    .bind(reason)
    .bind(by)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Cancels everything still waiting for a human on a task (it closed); returns how many.
pub async fn cancel_waiting_of_task(c: &mut Conn, task: Uuid, now: i64) -> Result<u64> {
    let t = task.to_string();
    let a = sqlx::query(
        "UPDATE interventions SET status = 'cancelled', answered_at = $2 WHERE task_id = $1 AND status = 'pending'",
    )
    .bind(&t)
    .bind(now)
    .execute(&mut *c)
    .await?
    .rows_affected();
    let b = sqlx::query(
        "UPDATE plans SET status = 'cancelled', decided_at = $2 WHERE task_id = $1 AND status = 'submitted'",
    )
    .bind(&t)
    .bind(now)
    .execute(&mut *c)
    .await?
    .rows_affected();
    let d = sqlx::query(
        "UPDATE permission_requests SET status = 'cancelled', decided_at = $2, reason = 'the task closed'
         WHERE task_id = $1 AND status = 'pending'",
    )
    .bind(&t)
    .bind(now)
    .execute(c)
    .await?
    .rows_affected();
    Ok(a + b + d)
}

// ---- notes --------------------------------------------------------------------------------

pub async fn insert_note(c: &mut Conn, n: &Note) -> Result<()> {
    sqlx::query(
        "INSERT INTO notes (id, task_id, actor, text, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(n.id.to_string())
    .bind(n.task_id.to_string())
    .bind(&n.actor)
    .bind(&n.text)
    .bind(n.created_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn notes_of_task(c: &mut Conn, task: Uuid) -> Result<Vec<Note>> {
    let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT id, task_id, actor, text, created_at FROM notes WHERE task_id = $1 ORDER BY created_at",
    )
    .bind(task.to_string())
    .fetch_all(c)
    .await?;
    rows.into_iter()
        .map(|(id, t, actor, text, at)| {
            Ok(Note {
                id: uuid(&id)?,
                task_id: uuid(&t)?,
                actor,
                text,
                created_at: at,
            })
        })
        .collect()
}
