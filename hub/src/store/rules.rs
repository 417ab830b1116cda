//! Permission rules: what decides an agent's tool calls without a human, with its scope,
//! tool, pattern, effect, maker and expiry.

use orchestratia_proto::model::task_ref;
use orchestratia_proto::policy::{PermissionRule, RuleEffect, RuleScope};
use uuid::Uuid;

use super::{Conn, Result, Row};
use crate::params;

fn rule_of(r: &Row) -> Result<PermissionRule> {
    Ok(PermissionRule {
        id: r.uuid("id")?,
        scope: r.word::<RuleScope>("scope")?,
        project_id: r.opt_uuid("project_id")?,
        project: r.opt_text("project_name")?,
        task_id: r.opt_uuid("task_id")?,
        task_reference: r.opt_int("task_number")?.map(task_ref),
        session_id: r.opt_uuid("session_id")?,
        tool: r.text("tool")?,
        pattern: r.text("pattern")?,
        effect: r.word::<RuleEffect>("effect")?,
        created_by: r.text("created_by")?,
        created_at: r.int("created_at")?,
        expires_at: r.opt_int("expires_at")?,
        note: r.opt_text("note")?,
    })
}

const SELECT: &str = "SELECT r.id, r.scope, r.project_id, p.name AS project_name, r.task_id,
        t.number AS task_number, r.session_id, r.tool, r.pattern, r.effect, r.created_by,
        r.created_at, r.expires_at, r.note
    FROM permission_rules r LEFT JOIN projects p ON p.id = r.project_id
        LEFT JOIN tasks t ON t.id = r.task_id";

pub async fn insert(c: &mut Conn, r: &PermissionRule) -> Result<()> {
    c.execute(
        "INSERT INTO permission_rules (id, scope, project_id, task_id, session_id, tool, pattern,
            effect, created_by, created_at, expires_at, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &params![
            r.id,
            r.scope.as_str(),
            r.project_id,
            r.task_id,
            r.session_id,
            &r.tool,
            &r.pattern,
            r.effect.as_str(),
            &r.created_by,
            r.created_at,
            r.expires_at,
            r.note.as_deref()
        ],
    )
    .await?;
    Ok(())
}

pub async fn get(c: &mut Conn, id: Uuid) -> Result<Option<PermissionRule>> {
    let sql = format!("{SELECT} WHERE r.id = $1");
    c.fetch_optional(&sql, &params![id])
        .await?
        .as_ref()
        .map(rule_of)
        .transpose()
}

/// Every rule, oldest first; without `expired`, only those live at `now`.
pub async fn list(c: &mut Conn, expired: bool, now: i64) -> Result<Vec<PermissionRule>> {
    let sql = format!(
        "{SELECT} WHERE $1 = 1 OR r.expires_at IS NULL OR r.expires_at > $2
         ORDER BY r.created_at, r.id"
    );
    c.fetch(&sql, &params![expired, now])
        .await?
        .iter()
        .map(rule_of)
        .collect()
}

/// Removes a rule; false when it was not there.
pub async fn delete(c: &mut Conn, id: Uuid) -> Result<bool> {
    Ok(
        c.execute("DELETE FROM permission_rules WHERE id = $1", &params![id])
            .await?
            == 1,
    )
}
