//! Projects: namespaces of servers and tasks, with their task-number and phase counters.

use orchestratia_proto::Project;
use uuid::Uuid;

use super::{Conn, Result, Row};
use crate::params;

fn project(r: &Row) -> Result<Project> {
    Ok(Project {
        id: r.uuid("id")?,
        name: r.text("name")?,
        created_at: r.int("created_at")?,
    })
}

pub async fn insert(c: &mut Conn, p: &Project) -> Result<()> {
    c.execute(
        "INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3)",
        &params![p.id, &p.name, p.created_at],
    )
    .await?;
    Ok(())
}

pub async fn get(c: &mut Conn, id: Uuid) -> Result<Option<Project>> {
    c.fetch_optional(
        "SELECT id, name, created_at FROM projects WHERE id = $1",
        &params![id],
    )
    .await?
    .as_ref()
    .map(project)
    .transpose()
}

pub async fn by_name(c: &mut Conn, name: &str) -> Result<Option<Project>> {
    c.fetch_optional(
        "SELECT id, name, created_at FROM projects WHERE name = $1",
        &params![name],
    )
    .await?
    .as_ref()
    .map(project)
    .transpose()
}

pub async fn list(c: &mut Conn) -> Result<Vec<Project>> {
    c.fetch(
        "SELECT id, name, created_at FROM projects ORDER BY created_at, name",
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
