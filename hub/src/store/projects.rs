//! Projects: namespaces of servers and tasks, with their task-number and phase counters.

use orchestratia_proto::Project;
use sqlx::FromRow;
use uuid::Uuid;

use super::{Conn, Result, uuid};

#[derive(FromRow)]
struct Row {
    id: String,
    name: String,
    created_at: i64,
}

impl Row {
    fn into_project(self) -> Result<Project> {
        Ok(Project {
            id: uuid(&self.id)?,
            name: self.name,
            created_at: self.created_at,
        })
    }
}

pub async fn insert(c: &mut Conn, p: &Project) -> Result<()> {
    sqlx::query("INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(p.id.to_string())
        .bind(&p.name)
        .bind(p.created_at)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn get(c: &mut Conn, id: Uuid) -> Result<Option<Project>> {
    sqlx::query_as::<_, Row>("SELECT id, name, created_at FROM projects WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(c)
        .await?
        .map(Row::into_project)
        .transpose()
}

pub async fn by_name(c: &mut Conn, name: &str) -> Result<Option<Project>> {
    sqlx::query_as::<_, Row>("SELECT id, name, created_at FROM projects WHERE name = $1")
        .bind(name)
        .fetch_optional(c)
        .await?
        .map(Row::into_project)
        .transpose()
}

pub async fn list(c: &mut Conn) -> Result<Vec<Project>> {
    sqlx::query_as::<_, Row>("SELECT id, name, created_at FROM projects ORDER BY created_at, name")
        .fetch_all(c)
        .await?
        .into_iter()
        .map(Row::into_project)
        .collect()
}

/// Takes the next task number of the project (`T1`, `T2`, …).
pub async fn allocate_number(c: &mut Conn, project: Uuid) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "UPDATE projects SET next_number = next_number + 1 WHERE id = $1 RETURNING next_number - 1",
    )
    .bind(project.to_string())
    .fetch_one(c)
    .await?;
    Ok(n)
}

/// Takes the next cascade phase number of the project.
pub async fn allocate_phase(c: &mut Conn, project: Uuid) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "UPDATE projects SET phase_counter = phase_counter + 1 WHERE id = $1 RETURNING phase_counter",
    )
    .bind(project.to_string())
    .fetch_one(c)
    .await?;
    Ok(n)
}
