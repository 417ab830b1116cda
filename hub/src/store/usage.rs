//! Session usage: what each session's model calls cost so far (tokens, cache, model, cost in
//! micro-dollars), as its daemon reported it; summed per task and per project.

use std::collections::HashMap;

use orchestratia_proto::usage::Usage;
use uuid::Uuid;

use super::projects::{micros_to_usd, usd_to_micros};
use super::{BATCH, Conn, Param, Result, Row, placeholders};
use crate::params;

/// A count as stored (both backends hold signed 64-bit integers).
fn stored(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored count read back (never negative).
fn count(r: &Row, name: &str) -> Result<u64> {
    Ok(u64::try_from(r.opt_int(name)?.unwrap_or(0)).unwrap_or(0))
}

/// The usage columns of a row (or of a sum).
fn usage(r: &Row) -> Result<Usage> {
    Ok(Usage {
        model: r.opt_text("model")?,
        input_tokens: count(r, "input_tokens")?,
        output_tokens: count(r, "output_tokens")?,
        cache_read_tokens: count(r, "cache_read_tokens")?,
        cache_write_tokens: count(r, "cache_write_tokens")?,
        cost_usd: micros_to_usd(r.opt_int("cost_micros")?.unwrap_or(0)),
        calls: count(r, "calls")?,
        unpriced_calls: count(r, "unpriced_calls")?,
    })
}

/// Stores a session's usage so far (totals: the newest report replaces the last).
pub async fn upsert(
    c: &mut Conn,
    session: Uuid,
    task: Option<Uuid>,
    project: Uuid,
    u: &Usage,
    now: i64,
) -> Result<()> {
    c.execute(
        "INSERT INTO session_usage (session_id, task_id, project_id, model, input_tokens,
             output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, calls,
             unpriced_calls, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (session_id) DO UPDATE SET model = excluded.model,
             input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
             cache_read_tokens = excluded.cache_read_tokens,
             cache_write_tokens = excluded.cache_write_tokens,
             cost_micros = excluded.cost_micros, calls = excluded.calls,
             unpriced_calls = excluded.unpriced_calls, updated_at = excluded.updated_at",
        &params![
            session,
            task,
            project,
            u.model.as_deref(),
            stored(u.input_tokens),
            stored(u.output_tokens),
            stored(u.cache_read_tokens),
            stored(u.cache_write_tokens),
            usd_to_micros(u.cost_usd),
            stored(u.calls),
            stored(u.unpriced_calls),
            now
        ],
    )
    .await?;
    Ok(())
}

const SUMS: &str = "CAST(SUM(input_tokens) AS BIGINT) AS input_tokens,
    CAST(SUM(output_tokens) AS BIGINT) AS output_tokens,
    CAST(SUM(cache_read_tokens) AS BIGINT) AS cache_read_tokens,
    CAST(SUM(cache_write_tokens) AS BIGINT) AS cache_write_tokens,
    CAST(SUM(cost_micros) AS BIGINT) AS cost_micros,
    CAST(SUM(calls) AS BIGINT) AS calls,
    CAST(SUM(unpriced_calls) AS BIGINT) AS unpriced_calls";

/// The summed usage of each of `tasks` that has any (the model: of the session reported last).
pub async fn of_tasks(c: &mut Conn, tasks: &[Uuid]) -> Result<HashMap<Uuid, Usage>> {
    let mut out: HashMap<Uuid, Usage> = HashMap::new();
    for chunk in tasks.chunks(BATCH) {
        let sql = format!(
            "SELECT task_id, model, input_tokens, output_tokens, cache_read_tokens,
                 cache_write_tokens, cost_micros, calls, unpriced_calls
             FROM session_usage WHERE task_id IN ({}) ORDER BY updated_at",
            placeholders(1, chunk.len())
        );
        let args: Vec<Param> = chunk.iter().map(|id| Param::from(*id)).collect();
        for r in c.fetch(&sql, &args).await? {
            out.entry(r.uuid("task_id")?).or_default().add(&usage(&r)?);
        }
    }
    Ok(out)
}

/// The summed usage of a project's sessions, once any was reported.
pub async fn of_project(c: &mut Conn, project: Uuid) -> Result<Option<Usage>> {
    Ok(of_projects(c, Some(project)).await?.remove(&project))
}

/// The summed usage of every project (or of one) that has any, with the model reported last.
pub async fn of_projects(c: &mut Conn, project: Option<Uuid>) -> Result<HashMap<Uuid, Usage>> {
    let (filter, args) = match project {
        Some(p) => ("WHERE u.project_id = $1", params![p].to_vec()),
        None => ("", Vec::new()),
    };
    let sql = format!(
        "SELECT u.project_id, {SUMS},
             (SELECT l.model FROM session_usage l WHERE l.project_id = u.project_id
              ORDER BY l.updated_at DESC LIMIT 1) AS model
         FROM session_usage u {filter} GROUP BY u.project_id"
    );
    let mut out = HashMap::new();
    for r in c.fetch(&sql, &args).await? {
        out.insert(r.uuid("project_id")?, usage(&r)?);
    }
    Ok(out)
}

/// A project's spending so far in micro-dollars (0 when nothing was reported).
pub async fn project_cost_micros(c: &mut Conn, project: Uuid) -> Result<i64> {
    c.fetch_one(
        "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS n FROM session_usage
         WHERE project_id = $1",
        &params![project],
    )
    .await?
    .int("n")
}
