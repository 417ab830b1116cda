//! The append-only event log: every step of every task's timeline.

use orchestratia_proto::{Event, EventKind};
use serde_json::Value;
use uuid::Uuid;

use super::{BATCH, Conn, Param, Result, Row, placeholders};
use crate::params;

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

fn event(r: &Row) -> Result<Event> {
    Ok(Event {
        id: r.int("id")?,
        at: r.int("at")?,
        event: r.word("event")?,
        actor: r.text("actor")?,
        project_id: r.opt_uuid("project_id")?,
        task_id: r.opt_uuid("task_id")?,
        related_task_id: r.opt_uuid("related_task_id")?,
        server_id: r.opt_uuid("server_id")?,
        session_id: r.opt_uuid("session_id")?,
        details: r.json("details")?,
    })
}

/// PostgreSQL: the oldest transaction still in flight. Every transaction below it has ended,
/// so the set of events below it only grows at its end.
const PG_SETTLED: &str = "pg_snapshot_xmin(pg_current_snapshot())";

const COLUMNS: &str =
    "id, at, event, actor, project_id, task_id, related_task_id, server_id, session_id, details";

/// Appends events (in batches) and returns them with their ids.
pub async fn insert(c: &mut Conn, events: Vec<NewEvent>, now: i64) -> Result<Vec<Event>> {
    let mut out = Vec::with_capacity(events.len());
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<NewEvent> = events.by_ref().take(BATCH / 8).collect();
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, {})", placeholders(2 + i * 8, 8)))
            .collect();
        let insert = format!(
            "INSERT INTO events (at, event, actor, project_id, task_id, related_task_id, server_id, session_id, details)
             VALUES {}",
            values.join(", ")
        );
        let mut args = params![now].to_vec();
        for e in &chunk {
            args.extend(params![
                e.kind.as_str(),
                &e.actor,
                e.project_id,
                e.task_id,
                e.related_task_id,
                e.server_id,
                e.session_id,
                e.details.to_string()
            ]);
        }
        // SQLite gives the rows of one insert consecutive rowids (events are never deleted, so
        // each is the largest plus one): the last one tells them all, cheaper than RETURNING.
        let probe = c.last_insert_rowid();
        let mut ids: Vec<i64> = match probe {
            Some(_) => {
                c.execute(&insert, &args).await?;
                let last = c.last_insert_rowid().unwrap_or_default();
                let n = chunk.len() as i64;
                (last - n + 1..=last).collect()
            }
            None => c
                .fetch(&format!("{insert} RETURNING id"), &args)
                .await?
                .iter()
                .map(|r| r.int("id"))
                .collect::<Result<_>>()?,
        };
        ids.sort_unstable();
        for (e, id) in chunk.into_iter().zip(ids) {
            out.push(Event {
                id,
                at: now,
                event: e.kind,
                actor: e.actor,
                project_id: e.project_id,
                task_id: e.task_id,
                related_task_id: e.related_task_id,
                server_id: e.server_id,
                session_id: e.session_id,
                details: e.details,
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

/// Events after the event `after` (0: from the start) matching the filter, in cursor order;
/// pass the id of a page's last event as the next `after`.
///
/// A follower must never skip an event. SQLite's one writer assigns ids and commits in the
/// same order, so id order is safe there. PostgreSQL draws ids at insert but transactions
/// commit in any order: a page there holds only events written by transactions older than the
/// oldest one still in flight (every one of those has ended, so no event can appear before
/// them later), ordered by (transaction, id), the order the cursor follows.
pub async fn list(c: &mut Conn, f: &EventFilter) -> Result<Vec<Event>> {
    let pg = c.is_postgres();
    let mut conds = if pg {
        vec![
            format!("xid < {PG_SETTLED}"),
            "(xid, id) > (COALESCE((SELECT xid FROM events WHERE id = $1), '0'::xid8), $1)"
                .to_string(),
        ]
    } else {
        vec!["id > $1".to_string()]
    };
    let order = if pg { "xid, id" } else { "id" };
    let mut args: Vec<Param> = params![f.after].to_vec();
    if let Some(p) = f.project {
        args.push(p.into());
        conds.push(format!("project_id = ${}", args.len()));
    }
    if !f.tasks.is_empty() {
        let start = args.len() + 1;
        args.extend(f.tasks.iter().map(|t| Param::from(*t)));
        let list = placeholders(start, f.tasks.len());
        conds.push(format!(
            "(task_id IN ({list}) OR related_task_id IN ({list}))"
        ));
    }
    if !f.kinds.is_empty() {
        let start = args.len() + 1;
        args.extend(f.kinds.iter().map(|k| Param::from(k.as_str())));
        conds.push(format!("event IN ({})", placeholders(start, f.kinds.len())));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE {} ORDER BY {order} LIMIT {}",
        conds.join(" AND "),
        f.limit.clamp(1, 10_000)
    );
    c.fetch(&sql, &args).await?.iter().map(event).collect()
}

/// The timeline of one task (its own events and those about it), oldest first.
pub async fn of_task(c: &mut Conn, task: Uuid) -> Result<Vec<Event>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE task_id = $1 OR related_task_id = $1 ORDER BY id"
    );
    c.fetch(&sql, &params![task])
        .await?
        .iter()
        .map(event)
        .collect()
}

/// The id of the newest event (0 when there is none).
pub async fn last_id(c: &mut Conn) -> Result<i64> {
    c.fetch_one("SELECT COALESCE(MAX(id), 0) AS id FROM events", &[])
        .await?
        .int("id")
}

/// A cursor at the end of what [`list`] can hand out now (0 when there is nothing): a
/// follower starting "from now on" passes it as `after`.
pub async fn head(c: &mut Conn) -> Result<i64> {
    if !c.is_postgres() {
        return last_id(c).await;
    }
    let sql = format!(
        "SELECT id FROM events WHERE xid < {PG_SETTLED} ORDER BY xid DESC, id DESC LIMIT 1"
    );
    match c.fetch_optional(&sql, &[]).await? {
        Some(r) => r.int("id"),
        None => Ok(0),
    }
}

/// Whether an event with this id exists (a cursor names one, or is 0).
pub async fn exists(c: &mut Conn, id: i64) -> Result<bool> {
    Ok(
        c.fetch_optional("SELECT id FROM events WHERE id = $1", &params![id])
            .await?
            .is_some(),
    )
}
