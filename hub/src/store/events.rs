//! The append-only event log: every step of every task's timeline.

use orchestratia_proto::{Event, EventKind};
use serde_json::Value;
use sqlx::FromRow;
use uuid::Uuid;

use super::{BATCH, Conn, Result, json, placeholders, uuid_opt, word};

/// An event about to be written.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    pub actor: String,
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub related_task_id: Option<Uuid>,
    pub server_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub details: Value,
}

#[derive(FromRow)]
struct Row {
    id: i64,
    at: i64,
    event: String,
    actor: String,
    project_id: Option<String>,
    task_id: Option<String>,
    related_task_id: Option<String>,
    server_id: Option<String>,
    session_id: Option<String>,
    details: String,
}

impl Row {
    fn into_event(self) -> Result<Event> {
        Ok(Event {
            id: self.id,
            at: self.at,
            event: word(&self.event)?,
            actor: self.actor,
            project_id: uuid_opt(&self.project_id)?,
            task_id: uuid_opt(&self.task_id)?,
            related_task_id: uuid_opt(&self.related_task_id)?,
            server_id: uuid_opt(&self.server_id)?,
            session_id: uuid_opt(&self.session_id)?,
            details: json(&self.details)?,
        })
    }
}

/// Appends events (in batches) and returns them with their ids.
pub async fn insert(c: &mut Conn, events: &[NewEvent], now: i64) -> Result<Vec<Event>> {
    let mut out = Vec::with_capacity(events.len());
    for chunk in events.chunks(BATCH) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = 2 + i * 8;
                let cols: Vec<String> = (b..b + 8).map(|n| format!("${n}")).collect();
                format!("($1, {})", cols.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO events (at, event, actor, project_id, task_id, related_task_id, server_id, session_id, details)
             VALUES {} RETURNING id",
            values.join(", ")
        );
        let mut q = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql)).bind(now);
        for e in chunk {
            q = q
                .bind(e.kind.as_str())
                .bind(&e.actor)
                .bind(e.project_id.map(|u| u.to_string()))
                .bind(e.task_id.map(|u| u.to_string()))
                .bind(e.related_task_id.map(|u| u.to_string()))
                .bind(e.server_id.map(|u| u.to_string()))
                .bind(e.session_id.map(|u| u.to_string()))
                .bind(e.details.to_string());
        }
        let mut ids: Vec<i64> = q
            .fetch_all(&mut *c)
            .await?
            .into_iter()
            .map(|r| r.0)
            .collect();
        ids.sort_unstable();
        for (e, id) in chunk.iter().zip(ids) {
            out.push(Event {
                id,
                at: now,
                event: e.kind,
                actor: e.actor.clone(),
                project_id: e.project_id,
                task_id: e.task_id,
                related_task_id: e.related_task_id,
                server_id: e.server_id,
                session_id: e.session_id,
                details: e.details.clone(),
            });
        }
    }
    Ok(out)
}

/// Which events to read.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub after: i64,
    pub tasks: Vec<Uuid>,
    pub project: Option<Uuid>,
    pub kinds: Vec<EventKind>,
    pub limit: i64,
}

/// Events after `after` matching the filter, oldest first.
pub async fn list(c: &mut Conn, f: &EventFilter) -> Result<Vec<Event>> {
    let mut conds = vec!["id > $1".to_string()];
    let mut args: Vec<String> = Vec::new();
    if let Some(p) = f.project {
        args.push(p.to_string());
        conds.push(format!("project_id = ${}", args.len() + 1));
    }
    if !f.tasks.is_empty() {
        let start = args.len() + 2;
        args.extend(f.tasks.iter().map(|t| t.to_string()));
        let list = placeholders(start, f.tasks.len());
        conds.push(format!(
            "(task_id IN ({list}) OR related_task_id IN ({list}))"
        ));
    }
    if !f.kinds.is_empty() {
        let start = args.len() + 2;
        args.extend(f.kinds.iter().map(|k| k.as_str().to_string()));
        conds.push(format!("event IN ({})", placeholders(start, f.kinds.len())));
    }
    let sql = format!(
        "SELECT id, at, event, actor, project_id, task_id, related_task_id, server_id, session_id, details
         FROM events WHERE {} ORDER BY id LIMIT {}",
        conds.join(" AND "),
        f.limit.clamp(1, 10_000)
    );
    let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).bind(f.after);
    for a in args {
        q = q.bind(a);
    }
    q.fetch_all(c)
        .await?
        .into_iter()
        .map(Row::into_event)
        .collect()
}

/// The timeline of one task, oldest first.
pub async fn of_task(c: &mut Conn, task: Uuid) -> Result<Vec<Event>> {
    let rows = sqlx::query_as::<_, Row>(
        "SELECT id, at, event, actor, project_id, task_id, related_task_id, server_id, session_id, details
         FROM events WHERE task_id = $1 OR related_task_id = $1 ORDER BY id",
    )
    .bind(task.to_string())
    .fetch_all(c)
    .await?;
    rows.into_iter().map(Row::into_event).collect()
}

/// The id of the newest event (0 when there is none).
pub async fn last_id(c: &mut Conn) -> Result<i64> {
    let (id,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM events")
        .fetch_one(c)
        .await?;
    Ok(id.unwrap_or(0))
}
