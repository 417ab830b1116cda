//! Sessions (agent processes in terminals on servers) and their numbered output chunks.

use orchestratia_proto::{Session, SessionStatus, task_ref};
use sqlx::FromRow;
use uuid::Uuid;

use super::{BATCH, Conn, Result, uuid, uuid_opt, word};

#[derive(FromRow)]
struct Row {
    id: String,
    name: String,
    server_id: String,
    server_name: String,
    task_id: Option<String>,
    task_number: Option<i64>,
    status: String,
    pid: Option<i64>,
    tmux: Option<String>,
    working_dir: Option<String>,
    exit_code: Option<i64>,
    waiting: i64,
    started_at: i64,
    ended_at: Option<i64>,
}

impl Row {
    fn into_session(self) -> Result<Session> {
        Ok(Session {
            id: uuid(&self.id)?,
            name: self.name,
            server_id: uuid(&self.server_id)?,
            server: self.server_name,
            task_id: uuid_opt(&self.task_id)?,
            task: self.task_number.map(task_ref),
            status: word::<SessionStatus>(&self.status)?,
            pid: self.pid,
            tmux: self.tmux,
            working_dir: self.working_dir,
            exit_code: self.exit_code,
            waiting: self.waiting != 0,
            started_at: self.started_at,
            ended_at: self.ended_at,
        })
    }
}

const SELECT: &str = "SELECT x.id, x.name, x.server_id, s.name AS server_name, x.task_id,
        t.number AS task_number, x.status, x.pid, x.tmux, x.working_dir, x.exit_code, x.waiting,
        x.started_at, x.ended_at
    FROM sessions x JOIN servers s ON s.id = x.server_id LEFT JOIN tasks t ON t.id = x.task_id";

fn sessions(rows: Vec<Row>) -> Result<Vec<Session>> {
    rows.into_iter().map(Row::into_session).collect()
}

pub async fn insert(c: &mut Conn, s: &Session) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, name, server_id, task_id, status, working_dir, started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(s.id.to_string())
    .bind(&s.name)
    .bind(s.server_id.to_string())
    .bind(s.task_id.map(|u| u.to_string()))
    .bind(s.status.as_str())
    .bind(&s.working_dir)
    .bind(s.started_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn get(c: &mut Conn, id: Uuid) -> Result<Option<Session>> {
    let sql = format!("{SELECT} WHERE x.id = $1");
    let row = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(c)
        .await?;
    row.map(Row::into_session).transpose()
}

/// A session by id or by name (`orc-xxxxxx`).
pub async fn find(c: &mut Conn, key: &str) -> Result<Option<Session>> {
    let sql = format!("{SELECT} WHERE x.id = $1 OR x.name = $1");
    let row = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(c)
        .await?;
    row.map(Row::into_session).transpose()
}

/// Sessions, newest first: all, or of one server, or of one project.
pub async fn list(
    c: &mut Conn,
    server: Option<Uuid>,
    project: Option<Uuid>,
) -> Result<Vec<Session>> {
    let (cond, arg) = match (server, project) {
        (Some(s), _) => ("WHERE x.server_id = $1", Some(s)),
        (None, Some(p)) => ("WHERE s.project_id = $1", Some(p)),
        (None, None) => ("", None),
    };
    let sql = format!("{SELECT} {cond} ORDER BY x.started_at DESC, x.name");
    let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql));
    if let Some(a) = arg {
        q = q.bind(a.to_string());
    }
    sessions(q.fetch_all(c).await?)
}

/// Open (not ended) sessions of a task.
pub async fn open_of_task(c: &mut Conn, task: Uuid) -> Result<Vec<Session>> {
    let sql =
        format!("{SELECT} WHERE x.task_id = $1 AND x.status <> 'ended' ORDER BY x.started_at");
    let rows = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
        .bind(task.to_string())
        .fetch_all(c)
        .await?;
    sessions(rows)
}

/// All sessions of a task, oldest first.
pub async fn of_task(c: &mut Conn, task: Uuid) -> Result<Vec<Session>> {
    let sql = format!("{SELECT} WHERE x.task_id = $1 ORDER BY x.started_at");
    let rows = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
        .bind(task.to_string())
        .fetch_all(c)
        .await?;
    sessions(rows)
}

/// Sessions of a server in one status.
pub async fn of_server_with_status(
    c: &mut Conn,
    server: Uuid,
    status: SessionStatus,
) -> Result<Vec<Session>> {
    let sql = format!("{SELECT} WHERE x.server_id = $1 AND x.status = $2 ORDER BY x.started_at");
    let rows = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
        .bind(server.to_string())
        .bind(status.as_str())
        .fetch_all(c)
        .await?;
    sessions(rows)
}

/// The session runs: pid and tmux name known.
pub async fn set_active(
    c: &mut Conn,
    id: Uuid,
    pid: Option<i64>,
    tmux: Option<&str>,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE sessions SET status = 'active', pid = COALESCE($2, pid), tmux = COALESCE($3, tmux)
         WHERE id = $1 AND status <> 'ended'",
    )
    .bind(id.to_string())
    .bind(pid)
    .bind(tmux)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets the status of an open session.
pub async fn set_status(c: &mut Conn, id: Uuid, status: SessionStatus) -> Result<bool> {
    let r = sqlx::query("UPDATE sessions SET status = $2 WHERE id = $1 AND status <> 'ended'")
        .bind(id.to_string())
        .bind(status.as_str())
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Ends a session; false when it had already ended.
pub async fn set_ended(
    c: &mut Conn,
    id: Uuid,
    exit_code: Option<i64>,
    last_screen: Option<&str>,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE sessions SET status = 'ended', exit_code = $2, last_screen = COALESCE($3, last_screen),
                             ended_at = $4, waiting = 0
         WHERE id = $1 AND status <> 'ended'",
    )
    .bind(id.to_string())
    .bind(exit_code)
    .bind(last_screen)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Remembers the latest rendered screen of a session.
pub async fn set_screen(c: &mut Conn, id: Uuid, screen: &str) -> Result<()> {
    sqlx::query("UPDATE sessions SET last_screen = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(screen)
        .execute(c)
        .await?;
    Ok(())
}

/// The latest rendered screen of a session.
pub async fn screen(c: &mut Conn, id: Uuid) -> Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT last_screen FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(c)
            .await?;
    Ok(row.and_then(|r| r.0))
}

/// Marks whether the agent of the open sessions of a task waits for a human.
pub async fn set_waiting_for_task(c: &mut Conn, task: Uuid, waiting: bool) -> Result<()> {
    sqlx::query("UPDATE sessions SET waiting = $2 WHERE task_id = $1 AND status <> 'ended'")
        .bind(task.to_string())
        .bind(waiting as i64)
        .execute(c)
        .await?;
    Ok(())
}

/// One numbered chunk of terminal output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub session_id: Uuid,
    pub seq: i64,
    pub data: Vec<u8>,
}

/// Stores chunks in batches; a chunk already stored (same session and seq) is kept as it was.
pub async fn insert_chunks(c: &mut Conn, chunks: &[Chunk], now: i64) -> Result<()> {
    for batch in chunks.chunks(BATCH) {
        let values: Vec<String> = (0..batch.len())
            .map(|i| format!("(${}, ${}, ${}, $1)", 2 + 3 * i, 3 + 3 * i, 4 + 3 * i))
            .collect();
        let sql = format!(
            "INSERT INTO session_chunks (session_id, seq, data, at) VALUES {}
             ON CONFLICT (session_id, seq) DO NOTHING",
            values.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for ch in batch {
            q = q
                .bind(ch.session_id.to_string())
                .bind(ch.seq)
                .bind(ch.data.clone());
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// Stored chunks of a session after `after_seq`, oldest first, up to `limit`.
pub async fn chunks(c: &mut Conn, session: Uuid, after_seq: i64, limit: i64) -> Result<Vec<Chunk>> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT seq, data FROM session_chunks WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(session.to_string())
    .bind(after_seq)
    .bind(limit)
    .fetch_all(c)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, data)| Chunk {
            session_id: session,
            seq,
            data,
        })
        .collect())
}

/// Open sessions of the orchestrator tasks of a project (they receive status updates).
pub async fn orchestrator_sessions(c: &mut Conn, project: Uuid) -> Result<Vec<Session>> {
    let sql = format!(
        "{SELECT} WHERE t.orchestrator = 1 AND t.project_id = $1 AND x.status <> 'ended' ORDER BY x.started_at"
    );
    let rows = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
        .bind(project.to_string())
        .fetch_all(c)
        .await?;
    sessions(rows)
}
