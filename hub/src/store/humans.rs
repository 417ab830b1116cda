//! What waits for a human: interventions (questions), plans, permission requests; and notes.

use orchestratia_proto::{
    Intervention, InterventionStatus, Note, PermissionRequest, PermissionStatus, Plan, PlanStatus,
    TaskStatus, task_ref,
};
use uuid::Uuid;

use super::{Conn, Result, Row};
use crate::params;

// ---- interventions ------------------------------------------------------------------------

/// An intervention with the status its task resumes when answered.
#[derive(Debug, Clone)]
pub struct InterventionRecord {
    pub intervention: Intervention,
    pub resume_status: TaskStatus,
}

fn intervention_record(r: &Row) -> Result<InterventionRecord> {
    Ok(InterventionRecord {
        resume_status: r.word("resume_status")?,
        intervention: Intervention {
            id: r.uuid("id")?,
            task_id: r.uuid("task_id")?,
            task_reference: task_ref(r.int("task_number")?),
            task_title: r.text("task_title")?,
            question: r.text("question")?,
            status: r.word::<InterventionStatus>("status")?,
            response: r.opt_text("response")?,
            answered_by: r.opt_text("answered_by")?,
            created_at: r.int("created_at")?,
            answered_at: r.opt_int("answered_at")?,
            delivered_at: r.opt_int("delivered_at")?,
            delivered_via: r.opt_text("delivered_via")?,
        },
    })
}

const SELECT_INTERVENTION: &str = "SELECT i.id, i.task_id, t.number AS task_number,
        t.title AS task_title, i.question, i.status, i.resume_status, i.response, i.answered_by,
        i.created_at, i.answered_at, i.delivered_at, i.delivered_via
    FROM interventions i JOIN tasks t ON t.id = i.task_id";

pub async fn insert_intervention(
    c: &mut Conn,
    id: Uuid,
    task: Uuid,
    question: &str,
    resume: TaskStatus,
    now: i64,
) -> Result<()> {
    c.execute(
        "INSERT INTO interventions (id, task_id, question, status, resume_status, created_at)
         VALUES ($1, $2, $3, 'pending', $4, $5)",
        &params![id, task, question, resume.as_str(), now],
    )
    .await?;
    Ok(())
}

pub async fn intervention(c: &mut Conn, id: Uuid) -> Result<Option<InterventionRecord>> {
    let sql = format!("{SELECT_INTERVENTION} WHERE i.id = $1");
    c.fetch_optional(&sql, &params![id])
        .await?
        .as_ref()
        .map(intervention_record)
        .transpose()
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
    c.fetch(&sql, &params![status.map(|s| s.as_str()), task, project])
        .await?
        .iter()
        .map(intervention_record)
        .collect()
}

/// Answers a pending intervention; false when it was not pending.
pub async fn answer_intervention(
    c: &mut Conn,
    id: Uuid,
    response: &str,
    by: &str,
    now: i64,
) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE interventions SET status = 'answered', response = $2, answered_by = $3, answered_at = $4
             WHERE id = $1 AND status = 'pending'",
            &params![id, response, by, now],
        )
        .await?;
    Ok(n == 1)
}

/// Pending interventions of a task, oldest first.
pub async fn pending_interventions_of_task(
    c: &mut Conn,
    task: Uuid,
) -> Result<Vec<InterventionRecord>> {
    let sql = format!(
        "{SELECT_INTERVENTION} WHERE i.task_id = $1 AND i.status = 'pending' ORDER BY i.created_at"
    );
    c.fetch(&sql, &params![task])
        .await?
        .iter()
        .map(intervention_record)
        .collect()
}

/// The task's question with this text that has not reached its asker yet (pending, or answered
/// and not delivered): asking it again waits on that one rather than asking twice.
pub async fn open_intervention_for(
    c: &mut Conn,
    task: Uuid,
    question: &str,
) -> Result<Option<InterventionRecord>> {
    let sql = format!(
        "{SELECT_INTERVENTION} WHERE i.task_id = $1 AND i.question = $2
            AND (i.status = 'pending' OR (i.status = 'answered' AND i.delivered_at IS NULL))
         ORDER BY i.created_at DESC"
    );
    c.fetch(&sql, &params![task, question])
        .await?
        .first()
        .map(intervention_record)
        .transpose()
}

/// Records that an answer reached the agent; false when it had already.
pub async fn deliver_intervention(c: &mut Conn, id: Uuid, via: &str, now: i64) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE interventions SET delivered_at = $2, delivered_via = $3
             WHERE id = $1 AND status = 'answered' AND delivered_at IS NULL",
            &params![id, now, via],
        )
        .await?;
    Ok(n == 1)
}

/// Answers given before `cutoff` that never reached their asker, of tasks still open.
pub async fn undelivered_answers(c: &mut Conn, cutoff: i64) -> Result<Vec<InterventionRecord>> {
    let sql = format!(
        "{SELECT_INTERVENTION} WHERE i.status = 'answered' AND i.delivered_at IS NULL
            AND i.answered_at <= $1 AND t.status NOT IN ('done', 'failed', 'cancelled')
         ORDER BY i.answered_at"
    );
    c.fetch(&sql, &params![cutoff])
        .await?
        .iter()
        .map(intervention_record)
        .collect()
}

// ---- plans --------------------------------------------------------------------------------

fn plan_of(r: &Row) -> Result<Plan> {
    Ok(Plan {
        id: r.uuid("id")?,
        task_id: r.uuid("task_id")?,
        task_reference: task_ref(r.int("task_number")?),
        task_title: r.text("task_title")?,
        content: r.text("content")?,
        status: r.word::<PlanStatus>("status")?,
        feedback: r.opt_text("feedback")?,
        decided_by: r.opt_text("decided_by")?,
        created_at: r.int("created_at")?,
        decided_at: r.opt_int("decided_at")?,
        delivered_at: r.opt_int("delivered_at")?,
        delivered_via: r.opt_text("delivered_via")?,
    })
}

const SELECT_PLAN: &str = "SELECT p.id, p.task_id, t.number AS task_number, t.title AS task_title,
        p.content, p.status, p.feedback, p.decided_by, p.created_at, p.decided_at,
        p.delivered_at, p.delivered_via
    FROM plans p JOIN tasks t ON t.id = p.task_id";

pub async fn insert_plan(
    c: &mut Conn,
    id: Uuid,
    task: Uuid,
    content: &str,
    now: i64,
) -> Result<()> {
    c.execute(
        "INSERT INTO plans (id, task_id, content, status, created_at) VALUES ($1, $2, $3, 'submitted', $4)",
        &params![id, task, content, now],
    )
    .await?;
    Ok(())
}

pub async fn plan(c: &mut Conn, id: Uuid) -> Result<Option<Plan>> {
    let sql = format!("{SELECT_PLAN} WHERE p.id = $1");
    c.fetch_optional(&sql, &params![id])
        .await?
        .as_ref()
        .map(plan_of)
        .transpose()
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
    c.fetch(&sql, &params![status.map(|s| s.as_str()), task, project])
        .await?
        .iter()
        .map(plan_of)
        .collect()
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
    let n = c
        .execute(
            "UPDATE plans SET status = $2, feedback = $3, decided_by = $4, decided_at = $5
             WHERE id = $1 AND status = 'submitted'",
            &params![id, status.as_str(), feedback, by, now],
        )
        .await?;
    Ok(n == 1)
}

/// The task's plan with this content that has not reached the agent yet (waiting, or decided
/// and not delivered): submitting it again waits on that one.
pub async fn open_plan_for(c: &mut Conn, task: Uuid, content: &str) -> Result<Option<Plan>> {
    let sql = format!(
        "{SELECT_PLAN} WHERE p.task_id = $1 AND p.content = $2
            AND (p.status = 'submitted'
                 OR (p.status IN ('approved', 'rejected') AND p.delivered_at IS NULL))
         ORDER BY p.created_at DESC"
    );
    c.fetch(&sql, &params![task, content])
        .await?
        .first()
        .map(plan_of)
        .transpose()
}

/// Records that a plan decision reached the agent; false when it had already.
pub async fn deliver_plan(c: &mut Conn, id: Uuid, via: &str, now: i64) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE plans SET delivered_at = $2, delivered_via = $3
             WHERE id = $1 AND status IN ('approved', 'rejected') AND delivered_at IS NULL",
            &params![id, now, via],
        )
        .await?;
    Ok(n == 1)
}

/// Plan decisions made before `cutoff` that never reached the agent, of tasks still open.
pub async fn undelivered_decisions(c: &mut Conn, cutoff: i64) -> Result<Vec<Plan>> {
    let sql = format!(
        "{SELECT_PLAN} WHERE p.status IN ('approved', 'rejected') AND p.delivered_at IS NULL
            AND p.decided_at <= $1 AND t.status NOT IN ('done', 'failed', 'cancelled')
         ORDER BY p.decided_at"
    );
    c.fetch(&sql, &params![cutoff])
        .await?
        .iter()
        .map(plan_of)
        .collect()
}

// ---- permission requests ------------------------------------------------------------------

fn permission_of(r: &Row) -> Result<PermissionRequest> {
    Ok(PermissionRequest {
        id: r.uuid("id")?,
        task_id: r.opt_uuid("task_id")?,
        task_reference: r.opt_int("task_number")?.map(task_ref),
        session_id: r.opt_uuid("session_id")?,
        tool_name: r.text("tool_name")?,
        tool_input: r.json("tool_input")?,
        status: r.word::<PermissionStatus>("status")?,
        reason: r.opt_text("reason")?,
        decided_by: r.opt_text("decided_by")?,
        created_at: r.int("created_at")?,
        decided_at: r.opt_int("decided_at")?,
        rule_id: r.opt_uuid("rule_id")?,
        suggested: Vec::new(),
    })
}

const SELECT_PERMISSION: &str = "SELECT p.id, p.task_id, t.number AS task_number, p.session_id,
        p.tool_name, p.tool_input, p.status, p.reason, p.decided_by, p.created_at, p.decided_at,
        p.rule_id
    FROM permission_requests p LEFT JOIN tasks t ON t.id = p.task_id";

/// Files a request as it is: pending, or already decided by a rule.
pub async fn insert_permission(c: &mut Conn, p: &PermissionRequest) -> Result<()> {
    c.execute(
        "INSERT INTO permission_requests (id, task_id, session_id, tool_name, tool_input, status,
            reason, decided_by, created_at, decided_at, rule_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &params![
            p.id,
            p.task_id,
            p.session_id,
            &p.tool_name,
            p.tool_input.to_string(),
            p.status.as_str(),
            p.reason.as_deref(),
            p.decided_by.as_deref(),
            p.created_at,
            p.decided_at,
            p.rule_id
        ],
    )
    .await?;
    Ok(())
}

pub async fn permission(c: &mut Conn, id: Uuid) -> Result<Option<PermissionRequest>> {
    let sql = format!("{SELECT_PERMISSION} WHERE p.id = $1");
    c.fetch_optional(&sql, &params![id])
        .await?
        .as_ref()
        .map(permission_of)
        .transpose()
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
    c.fetch(&sql, &params![status.map(|s| s.as_str()), project])
        .await?
        .iter()
        .map(permission_of)
        .collect()
}

/// Decides a pending request (by a human, or by `rule`); false when it was not pending.
pub async fn decide_permission(
    c: &mut Conn,
    id: Uuid,
    status: PermissionStatus,
    reason: Option<&str>,
    by: &str,
    rule: Option<Uuid>,
    now: i64,
) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE permission_requests SET status = $2, reason = $3, decided_by = $4, decided_at = $5,
                rule_id = $6
             WHERE id = $1 AND status = 'pending'",
            &params![id, status.as_str(), reason, by, now, rule],
        )
        .await?;
    Ok(n == 1)
}

/// Cancels everything still waiting for a human on a task (it closed); returns how many.
/// `status` is the task's status before it closed: questions only wait in `needs_human` and
/// plans only in `planning`, so the other tables are not touched on the hot path.
pub async fn cancel_waiting_of_task(
    c: &mut Conn,
    task: Uuid,
    status: TaskStatus,
    now: i64,
) -> Result<u64> {
    let mut n = 0;
    if status == TaskStatus::NeedsHuman {
        n += c
            .execute(
                "UPDATE interventions SET status = 'cancelled', answered_at = $2 WHERE task_id = $1 AND status = 'pending'",
                &params![task, now],
            )
            .await?;
    }
    if status == TaskStatus::Planning || status == TaskStatus::NeedsHuman {
        n += c
            .execute(
                "UPDATE plans SET status = 'cancelled', decided_at = $2 WHERE task_id = $1 AND status = 'submitted'",
                &params![task, now],
            )
            .await?;
    }
    n += c
        .execute(
            "UPDATE permission_requests SET status = 'cancelled', decided_at = $2, reason = 'the task closed'
             WHERE task_id = $1 AND status = 'pending'",
            &params![task, now],
        )
        .await?;
    Ok(n)
}

// ---- notes --------------------------------------------------------------------------------

pub async fn insert_note(c: &mut Conn, n: &Note) -> Result<()> {
    c.execute(
        "INSERT INTO notes (id, task_id, actor, text, created_at) VALUES ($1, $2, $3, $4, $5)",
        &params![n.id, n.task_id, &n.actor, &n.text, n.created_at],
    )
    .await?;
    Ok(())
}

pub async fn notes_of_task(c: &mut Conn, task: Uuid) -> Result<Vec<Note>> {
    c.fetch(
        "SELECT id, task_id, actor, text, created_at FROM notes WHERE task_id = $1 ORDER BY created_at",
        &params![task],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Note {
            id: r.uuid("id")?,
            task_id: r.uuid("task_id")?,
            actor: r.text("actor")?,
            text: r.text("text")?,
            created_at: r.int("created_at")?,
        })
    })
    .collect()
}
