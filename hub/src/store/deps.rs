//! Dependencies between tasks: `blocks`, or `input` with a contract key.

use orchestratia_proto::{DepType, TaskStatus};
use sqlx::FromRow;
use uuid::Uuid;

use super::{BATCH, Conn, Result, placeholders, uuid, word};
use crate::engine::cascade::{DepState, Downstream};
use crate::engine::deps::PairDep;

/// A stored dependency with the number, title and status of the task at its other end.
#[derive(Debug, Clone, PartialEq)]
pub struct DepRecord {
    pub id: Uuid,
    pub upstream_id: Uuid,
    pub downstream_id: Uuid,
    pub dep_type: DepType,
    pub contract_key: Option<String>,
    pub resolved: bool,
    /// The task at the other end (upstream for `of_downstream`, downstream for `of_upstream`).
    pub other_number: i64,
    pub other_title: String,
    pub other_status: TaskStatus,
}

#[derive(FromRow)]
struct Row {
    id: String,
    upstream_id: String,
    downstream_id: String,
    dep_type: String,
    contract_key: Option<String>,
    resolved: i64,
    other_number: i64,
    other_title: String,
    other_status: String,
}

impl Row {
    fn into_record(self) -> Result<DepRecord> {
        Ok(DepRecord {
            id: uuid(&self.id)?,
            upstream_id: uuid(&self.upstream_id)?,
            downstream_id: uuid(&self.downstream_id)?,
            dep_type: word(&self.dep_type)?,
            contract_key: self.contract_key,
            resolved: self.resolved != 0,
            other_number: self.other_number,
            other_title: self.other_title,
            other_status: word(&self.other_status)?,
        })
    }
}

/// A new dependency.
pub struct NewDep {
    pub id: Uuid,
    pub upstream: Uuid,
    pub downstream: Uuid,
    pub dep_type: DepType,
    pub contract_key: Option<String>,
    pub resolved: bool,
    pub now: i64,
}

pub async fn insert(c: &mut Conn, d: &NewDep) -> Result<()> {
    sqlx::query(
        "INSERT INTO dependencies (id, upstream_id, downstream_id, dep_type, contract_key, resolved,
                                   resolved_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(d.id.to_string())
    .bind(d.upstream.to_string())
    .bind(d.downstream.to_string())
    .bind(d.dep_type.as_str())
    .bind(&d.contract_key)
    .bind(d.resolved as i64)
    .bind(d.resolved.then_some(d.now))
    .bind(d.now)
    .execute(c)
    .await?;
    Ok(())
}

/// The dependencies already stored between one upstream and one downstream.
pub async fn between(c: &mut Conn, upstream: Uuid, downstream: Uuid) -> Result<Vec<PairDep>> {
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, dep_type, contract_key FROM dependencies
         WHERE upstream_id = $1 AND downstream_id = $2 ORDER BY created_at",
    )
    .bind(upstream.to_string())
    .bind(downstream.to_string())
    .fetch_all(c)
    .await?;
    rows.into_iter()
        .map(|(id, t, k)| {
            Ok(PairDep {
                id: uuid(&id)?,
                dep_type: word(&t)?,
                contract_key: k,
            })
        })
        .collect()
}

/// Turns a `blocks` dependency into `input` with a key.
pub async fn upgrade_to_input(
    c: &mut Conn,
    id: Uuid,
    key: &str,
    resolved: bool,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE dependencies SET dep_type = 'input', contract_key = $2, resolved = $3, resolved_at = $4
         WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(key)
    .bind(resolved as i64)
    .bind(resolved.then_some(now))
    .execute(c)
    .await?;
    Ok(())
}

pub async fn delete(c: &mut Conn, ids: &[Uuid]) -> Result<()> {
    for chunk in ids.chunks(BATCH) {
        let sql = format!(
            "DELETE FROM dependencies WHERE id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(id.to_string());
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// Marks dependencies resolved.
pub async fn resolve(c: &mut Conn, ids: &[Uuid], now: i64) -> Result<()> {
    for chunk in ids.chunks(BATCH) {
        let sql = format!(
            "UPDATE dependencies SET resolved = 1, resolved_at = $1 WHERE id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for id in chunk {
            q = q.bind(id.to_string());
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// What a task depends on, with each upstream's number, title and status.
pub async fn of_downstream(c: &mut Conn, downstream: Uuid) -> Result<Vec<DepRecord>> {
    let rows = sqlx::query_as::<_, Row>(
        "SELECT d.id, d.upstream_id, d.downstream_id, d.dep_type, d.contract_key, d.resolved,
                u.number AS other_number, u.title AS other_title, u.status AS other_status
         FROM dependencies d JOIN tasks u ON u.id = d.upstream_id
         WHERE d.downstream_id = $1 ORDER BY u.number, d.created_at",
    )
    .bind(downstream.to_string())
    .fetch_all(c)
    .await?;
    rows.into_iter().map(Row::into_record).collect()
}

/// What depends on a task, with each downstream's number, title and status.
pub async fn of_upstream(c: &mut Conn, upstream: Uuid) -> Result<Vec<DepRecord>> {
    let rows = sqlx::query_as::<_, Row>(
        "SELECT d.id, d.upstream_id, d.downstream_id, d.dep_type, d.contract_key, d.resolved,
                t.number AS other_number, t.title AS other_title, t.status AS other_status
         FROM dependencies d JOIN tasks t ON t.id = d.downstream_id
         WHERE d.upstream_id = $1 ORDER BY t.number, d.created_at",
    )
    .bind(upstream.to_string())
    .fetch_all(c)
    .await?;
    rows.into_iter().map(Row::into_record).collect()
}

/// Every dependency of the given downstream tasks, with the upstream's state; the unit the
/// blocked reason and the cascade reason about.
pub async fn of_downstreams(c: &mut Conn, downstream: &[Uuid]) -> Result<Vec<DepRecord>> {
    let mut out = Vec::new();
    for chunk in downstream.chunks(BATCH) {
        let sql = format!(
            "SELECT d.id, d.upstream_id, d.downstream_id, d.dep_type, d.contract_key, d.resolved,
                    u.number AS other_number, u.title AS other_title, u.status AS other_status
             FROM dependencies d JOIN tasks u ON u.id = d.upstream_id
             WHERE d.downstream_id IN ({}) ORDER BY u.number",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(id.to_string());
        }
        for r in q.fetch_all(&mut *c).await? {
            out.push(r.into_record()?);
        }
    }
    Ok(out)
}

/// Every dependency of the pending tasks of a project (for the blocked state of a listing).
pub async fn of_pending_in_project(c: &mut Conn, project: Uuid) -> Result<Vec<DepRecord>> {
    let rows = sqlx::query_as::<_, Row>(
        "SELECT d.id, d.upstream_id, d.downstream_id, d.dep_type, d.contract_key, d.resolved,
                u.number AS other_number, u.title AS other_title, u.status AS other_status
         FROM dependencies d
         JOIN tasks t ON t.id = d.downstream_id
         JOIN tasks u ON u.id = d.upstream_id
         WHERE t.project_id = $1 AND t.status = 'pending' ORDER BY u.number",
    )
    .bind(project.to_string())
    .fetch_all(c)
    .await?;
    rows.into_iter().map(Row::into_record).collect()
}

/// Every edge of a project: `(upstream, downstream, type, key, resolved)`.
pub async fn edges_of_project(
    c: &mut Conn,
    project: Uuid,
) -> Result<Vec<(Uuid, Uuid, DepType, Option<String>, bool)>> {
    let rows: Vec<(String, String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT d.upstream_id, d.downstream_id, d.dep_type, d.contract_key, d.resolved
         FROM dependencies d JOIN tasks t ON t.id = d.downstream_id
         WHERE t.project_id = $1 ORDER BY d.created_at",
    )
    .bind(project.to_string())
    .fetch_all(c)
    .await?;
    rows.into_iter()
        .map(|(u, d, t, k, r)| Ok((uuid(&u)?, uuid(&d)?, word(&t)?, k, r != 0)))
        .collect()
}

/// The cascade's view of a completion: each task downstream of `upstream` with all of its
/// dependencies and their upstreams' states. One query, proportional to the downstream edges.
pub async fn downstream_of(c: &mut Conn, upstream: Uuid) -> Result<Vec<Downstream>> {
    #[derive(FromRow)]
    struct CascadeRow {
        id: String,
        upstream_id: String,
        downstream_id: String,
        dep_type: String,
        contract_key: Option<String>,
        resolved: i64,
        up_number: i64,
        up_status: String,
        down_number: i64,
        down_status: String,
    }
    let rows = sqlx::query_as::<_, CascadeRow>(
        "SELECT d.id, d.upstream_id, d.downstream_id, d.dep_type, d.contract_key, d.resolved,
                u.number AS up_number, u.status AS up_status,
                t.number AS down_number, t.status AS down_status
         FROM dependencies d
         JOIN tasks u ON u.id = d.upstream_id
         JOIN tasks t ON t.id = d.downstream_id
         WHERE d.downstream_id IN (SELECT downstream_id FROM dependencies WHERE upstream_id = $1)
         ORDER BY t.number, u.number",
    )
    .bind(upstream.to_string())
    .fetch_all(c)
    .await?;
    let mut out: Vec<Downstream> = Vec::new();
    for r in rows {
        let down = uuid(&r.downstream_id)?;
        if out.last().map(|d| d.id) != Some(down) {
            out.push(Downstream {
                id: down,
                reference: orchestratia_proto::task_ref(r.down_number),
                status: word(&r.down_status)?,
                deps: Vec::new(),
            });
        }
        if let Some(last) = out.last_mut() {
            last.deps.push(DepState {
                id: uuid(&r.id)?,
                upstream: uuid(&r.upstream_id)?,
                upstream_ref: orchestratia_proto::task_ref(r.up_number),
                upstream_status: word(&r.up_status)?,
                dep_type: word(&r.dep_type)?,
                contract_key: r.contract_key,
                resolved: r.resolved != 0,
            });
        }
    }
    Ok(out)
}
