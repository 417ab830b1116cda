//! Projects: namespaces of servers and tasks, with their task-number and phase counters.

use orchestratia_proto::Project;
use orchestratia_proto::usage::Budget;
use uuid::Uuid;

use super::{Conn, Result, Row};
use crate::params;

fn project(r: &Row) -> Result<Project> {
    Ok(Project {
        id: r.uuid("id")?,
        name: r.text("name")?,
        budget: r.opt_int("budget_micros")?.map(|m| Budget {
            usd: micros_to_usd(m),
            enforce: r.flag("budget_enforce").unwrap_or(false),
        }),
        usage: None,
        created_at: r.int("created_at")?,
    })
}

/// Dollars as stored: integer micro-dollars (both backends hold integers exactly).
pub fn usd_to_micros(usd: f64) -> i64 {
    (usd * 1e6).round() as i64
}

/// Micro-dollars as dollars.
pub fn micros_to_usd(m: i64) -> f64 {
    m as f64 / 1e6
}

const COLUMNS: &str = "id, name, budget_micros, budget_enforce, created_at";

pub async fn insert(c: &mut Conn, p: &Project) -> Result<()> {
    c.execute(
        "INSERT INTO projects (id, name, budget_micros, budget_enforce, created_at)
         VALUES ($1, $2, $3, $4, $5)",
        &params![
            p.id,
            &p.name,
            p.budget.as_ref().map(|b| usd_to_micros(b.usd)),
            p.budget.as_ref().is_some_and(|b| b.enforce),
            p.created_at
        ],
    )
    .await?;
    Ok(())
}

/// Sets or clears a project's budget; its announcement starts over.
pub async fn set_budget(c: &mut Conn, id: Uuid, budget: Option<&Budget>) -> Result<()> {
    c.execute(
        "UPDATE projects SET budget_micros = $2, budget_enforce = $3, budget_state = '' WHERE id = $1",
        &params![
            id,
            budget.map(|b| usd_to_micros(b.usd)),
            budget.is_some_and(|b| b.enforce)
        ],
    )
    .await?;
    Ok(())
}

/// How far a project's budget was announced: `""`, `"warned"` or `"reached"`.
pub async fn budget_state(c: &mut Conn, id: Uuid) -> Result<String> {
    Ok(c.fetch_optional(
        "SELECT budget_state FROM projects WHERE id = $1",
        &params![id],
    )
    .await?
    .map(|r| r.text("budget_state"))
    .transpose()?
    .unwrap_or_default())
}

/// Moves a project's budget announcement from `from` to `to`; false when another writer did.
pub async fn move_budget_state(c: &mut Conn, id: Uuid, from: &str, to: &str) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE projects SET budget_state = $3 WHERE id = $1 AND budget_state = $2",
            &params![id, from, to],
        )
        .await?;
    Ok(n == 1)
}

pub async fn get(c: &mut Conn, id: Uuid) -> Result<Option<Project>> {
    c.fetch_optional(
        &format!("SELECT {COLUMNS} FROM projects WHERE id = $1"),
        &params![id],
    )
    .await?
    .as_ref()
    .map(project)
    .transpose()
}

pub async fn by_name(c: &mut Conn, name: &str) -> Result<Option<Project>> {
    c.fetch_optional(
        &format!("SELECT {COLUMNS} FROM projects WHERE name = $1"),
        &params![name],
    )
    .await?
    .as_ref()
    .map(project)
    .transpose()
}

pub async fn list(c: &mut Conn) -> Result<Vec<Project>> {
    c.fetch(
        &format!("SELECT {COLUMNS} FROM projects ORDER BY created_at, name"),
        &[],
    )
    .await?
    .iter()
    .map(project)
    .collect()
}

/// Takes the next task number of the project (`T1`, `T2`, …).
pub async fn allocate_number(c: &mut Conn, project: Uuid) -> Result<i64> {
    c.fetch_one(
        "UPDATE projects SET next_number = next_number + 1 WHERE id = $1 RETURNING next_number - 1 AS n",
        &params![project],
    )
    .await?
    .int("n")
}

/// Takes the next cascade phase number of the project.
pub async fn allocate_phase(c: &mut Conn, project: Uuid) -> Result<i64> {
    c.fetch_one(
        "UPDATE projects SET phase_counter = phase_counter + 1 WHERE id = $1 RETURNING phase_counter AS n",
        &params![project],
    )
    .await?
    .int("n")
}
