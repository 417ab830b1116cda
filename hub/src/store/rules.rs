//! Permission rules: what decides an agent's tool calls without a human, with its scope,
//! tool, pattern, effect, maker and expiry.

use orchestratia_proto::model::task_ref;
use orchestratia_proto::policy::{PermissionRule, RuleEffect, RuleScope};
use uuid::Uuid;

use super::connection::ConnKind;
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

/// Marks a rule change: writes a new version of the rules. Call it first in the transaction
/// that changes rules: on PostgreSQL it takes the version row's lock until the commit, so
/// requests deciding meanwhile wait for the change (see [`version`]).
pub async fn new_version(c: &mut Conn) -> Result<()> {
    c.execute(
        "UPDATE policy_version SET version = $1 WHERE id = 1",
        &params![Uuid::new_v4().to_string()],
    )
    .await?;
    Ok(())
}

/// The current version of the rules. In a PostgreSQL write transaction the row is read
/// `FOR SHARE`: the version cannot change (no rule can be added or removed) until this
/// transaction ends, and a rule change in flight is waited for. SQLite has one writer.
pub async fn version(c: &mut Conn) -> Result<String> {
    let lock = if matches!(c.0, ConnKind::PgTx(_)) {
        " FOR SHARE"
    } else {
        ""
    };
    let sql = format!("SELECT version FROM policy_version WHERE id = 1{lock}");
    c.fetch_one(&sql, &[]).await?.text("version")
}
