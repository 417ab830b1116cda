//! Dependencies between tasks: `blocks`, or `input` with a contract key.

use orchestratia_proto::{DepType, DependencyAfter, TaskStatus, task_ref};
use uuid::Uuid;

use super::{BATCH, Conn, Param, Result, Row, placeholders};
use crate::engine::cascade::{DepState, Downstream};
use crate::engine::deps::PairDep;
use crate::params;

/// A stored dependency with the number, title and status of the task at its other end.
#[derive(Debug, Clone, PartialEq)]
pub struct DepRecord {
    pub id: Uuid,
    pub upstream_id: Uuid,
    pub downstream_id: Uuid,
    pub dep_type: DepType,
    pub contract_key: Option<String>,
    pub resolved: bool,
    /// Met when the upstream is done, or once its branch is merged.
    pub after: DependencyAfter,
    /// The task at the other end (upstream for `of_downstream`, downstream for `of_upstream`).
    pub other_number: i64,
    pub other_title: String,
    pub other_status: TaskStatus,
}

fn record(r: &Row) -> Result<DepRecord> {
    Ok(DepRecord {
        id: r.uuid("id")?,
        upstream_id: r.uuid("upstream_id")?,
        downstream_id: r.uuid("downstream_id")?,
        dep_type: r.word("dep_type")?,
        contract_key: r.opt_text("contract_key")?,
        resolved: r.flag("resolved")?,
        after: r.word("met_after")?,
        other_number: r.int("other_number")?,
        other_title: r.text("other_title")?,
        other_status: r.word("other_status")?,
    })
}

fn records(rows: Vec<Row>) -> Result<Vec<DepRecord>> {
    rows.iter().map(record).collect()
}

/// A new dependency.
pub struct NewDep {
    pub id: Uuid,
    pub upstream: Uuid,
    pub downstream: Uuid,
    pub dep_type: DepType,
    pub contract_key: Option<String>,
    pub resolved: bool,
    pub after: DependencyAfter,
    pub now: i64,
}

pub async fn insert(c: &mut Conn, d: &NewDep) -> Result<()> {
    c.execute(
        "INSERT INTO dependencies (id, upstream_id, downstream_id, dep_type, contract_key, resolved,
                                   resolved_at, created_at, met_after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &params![
            d.id,
            d.upstream,
            d.downstream,
            d.dep_type.as_str(),
            &d.contract_key,
            d.resolved,
            d.resolved.then_some(d.now),
            d.now,
            d.after.as_str()
        ],
    )
    .await?;
    Ok(())
}

/// The dependencies already stored between one upstream and one downstream.
pub async fn between(c: &mut Conn, upstream: Uuid, downstream: Uuid) -> Result<Vec<PairDep>> {
    c.fetch(
        "SELECT id, dep_type, contract_key FROM dependencies
         WHERE upstream_id = $1 AND downstream_id = $2 ORDER BY created_at",
        &params![upstream, downstream],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(PairDep {
            id: r.uuid("id")?,
            dep_type: r.word("dep_type")?,
            contract_key: r.opt_text("contract_key")?,
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
    c.execute(
        "UPDATE dependencies SET dep_type = 'input', contract_key = $2, resolved = $3, resolved_at = $4
         WHERE id = $1",
        &params![id, key, resolved, resolved.then_some(now)],
    )
    .await?;
    Ok(())
}

pub async fn delete(c: &mut Conn, ids: &[Uuid]) -> Result<()> {
    for chunk in ids.chunks(BATCH) {
        let sql = format!(
            "DELETE FROM dependencies WHERE id IN ({})",
            placeholders(1, chunk.len())
        );
        let args: Vec<Param> = chunk.iter().map(|id| Param::from(*id)).collect();
        c.execute(&sql, &args).await?;
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
        let mut args = params![now].to_vec();
        args.extend(chunk.iter().map(|id| Param::from(*id)));
        c.execute(&sql, &args).await?;
    }
    Ok(())
}

const UPSTREAM_SIDE: &str =
    "SELECT d.id, d.upstream_id, d.downstream_id, d.dep_type, d.contract_key, d.resolved,
        d.met_after, u.number AS other_number, u.title AS other_title, u.status AS other_status
    FROM dependencies d JOIN tasks u ON u.id = d.upstream_id";

/// What a task depends on, with each upstream's number, title and status.
pub async fn of_downstream(c: &mut Conn, downstream: Uuid) -> Result<Vec<DepRecord>> {
    let sql = format!("{UPSTREAM_SIDE} WHERE d.downstream_id = $1 ORDER BY u.number, d.created_at");
    records(c.fetch(&sql, &params![downstream]).await?)
}

/// What depends on a task, with each downstream's number, title and status.
pub async fn of_upstream(c: &mut Conn, upstream: Uuid) -> Result<Vec<DepRecord>> {
    records(
        c.fetch(
            "SELECT d.id, d.upstream_id, d.downstream_id, d.dep_type, d.contract_key, d.resolved,
                    d.met_after, t.number AS other_number, t.title AS other_title, t.status AS other_status
             FROM dependencies d JOIN tasks t ON t.id = d.downstream_id
             WHERE d.upstream_id = $1 ORDER BY t.number, d.created_at",
            &params![upstream],
        )
        .await?,
    )
}

/// Every dependency of the given downstream tasks, with the upstream's state; the unit the
/// blocked reason and the cascade reason about.
pub async fn of_downstreams(c: &mut Conn, downstream: &[Uuid]) -> Result<Vec<DepRecord>> {
    let mut out = Vec::new();
    for chunk in downstream.chunks(BATCH) {
        let sql = format!(
            "{UPSTREAM_SIDE} WHERE d.downstream_id IN ({}) ORDER BY u.number",
            placeholders(1, chunk.len())
        );
        let args: Vec<Param> = chunk.iter().map(|id| Param::from(*id)).collect();
        out.extend(records(c.fetch(&sql, &args).await?)?);
    }
    Ok(out)
}

/// One dependency of a project's graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub upstream: Uuid,
    pub downstream: Uuid,
    pub dep_type: DepType,
    pub contract_key: Option<String>,
    pub resolved: bool,
    pub after: DependencyAfter,
}

/// Every edge of a project, oldest first.
pub async fn edges_of_project(c: &mut Conn, project: Uuid) -> Result<Vec<Edge>> {
    c.fetch(
        "SELECT d.upstream_id, d.downstream_id, d.dep_type, d.contract_key, d.resolved, d.met_after
         FROM dependencies d JOIN tasks t ON t.id = d.downstream_id
         WHERE t.project_id = $1 ORDER BY d.created_at",
        &params![project],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Edge {
            upstream: r.uuid("upstream_id")?,
            downstream: r.uuid("downstream_id")?,
            dep_type: r.word("dep_type")?,
            contract_key: r.opt_text("contract_key")?,
            resolved: r.flag("resolved")?,
            after: r.word("met_after")?,
        })
    })
    .collect()
}

/// The cascade's view of a completion: each task downstream of `upstream` with all of its
/// dependencies and their upstreams' states. One query, proportional to the downstream edges.
pub async fn downstream_of(c: &mut Conn, upstream: Uuid) -> Result<Vec<Downstream>> {
    let rows = c
        .fetch(
            "SELECT d.id, d.upstream_id, d.downstream_id, d.dep_type, d.contract_key, d.resolved,
                    d.met_after, u.number AS up_number, u.status AS up_status,
                    t.number AS down_number, t.status AS down_status
             FROM dependencies d
             JOIN tasks u ON u.id = d.upstream_id
             JOIN tasks t ON t.id = d.downstream_id
             WHERE d.downstream_id IN (SELECT downstream_id FROM dependencies WHERE upstream_id = $1)
             ORDER BY t.number, u.number",
            &params![upstream],
        )
        .await?;
    let mut out: Vec<Downstream> = Vec::new();
    for r in rows {
        let down = r.uuid("downstream_id")?;
        if out.last().map(|d| d.id) != Some(down) {
            out.push(Downstream {
                id: down,
                reference: task_ref(r.int("down_number")?),
                status: r.word("down_status")?,
                deps: Vec::new(),
            });
        }
        if let Some(last) = out.last_mut() {
            last.deps.push(DepState {
                id: r.uuid("id")?,
                upstream: r.uuid("upstream_id")?,
                upstream_ref: task_ref(r.int("up_number")?),
                upstream_status: r.word("up_status")?,
                dep_type: r.word("dep_type")?,
                contract_key: r.opt_text("contract_key")?,
                resolved: r.flag("resolved")?,
                after: r.word("met_after")?,
            });
        }
    }
    Ok(out)
}
