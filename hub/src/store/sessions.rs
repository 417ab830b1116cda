//! Sessions (agent processes in terminals on servers) and their numbered output chunks.

use orchestratia_proto::{Session, SessionState, SessionStatus, task_ref};
use uuid::Uuid;

use super::{BATCH, Conn, Param, Result, Row, placeholders};
use crate::params;

fn session(r: &Row) -> Result<Session> {
    let state = r.word::<SessionState>("state")?;
    Ok(Session {
        id: r.uuid("id")?,
        name: r.text("name")?,
        server_id: r.uuid("server_id")?,
        server: r.text("server_name")?,
        task_id: r.opt_uuid("task_id")?,
        task: r.opt_int("task_number")?.map(task_ref),
        status: r.word::<SessionStatus>("status")?,
        pid: r.opt_int("pid")?,
        tmux: r.opt_text("tmux")?,
        working_dir: r.opt_text("working_dir")?,
        exit_code: r.opt_int("exit_code")?,
        state,
        state_since: r.int("state_at")?,
        waiting: state.waits(),
        conversation_id: r.opt_text("conversation_id")?,
        started_at: r.int("started_at")?,
        ended_at: r.opt_int("ended_at")?,
    })
}

fn sessions(rows: Vec<Row>) -> Result<Vec<Session>> {
    rows.iter().map(session).collect()
}

const SELECT: &str = "SELECT x.id, x.name, x.server_id, s.name AS server_name, x.task_id,
        t.number AS task_number, x.status, x.pid, x.tmux, x.working_dir, x.exit_code, x.state,
        x.state_at, x.conversation_id, x.started_at, x.ended_at
    FROM sessions x JOIN servers s ON s.id = x.server_id LEFT JOIN tasks t ON t.id = x.task_id";

pub async fn insert(c: &mut Conn, s: &Session) -> Result<()> {
    insert_many(c, std::slice::from_ref(s)).await
}

/// Stores several new sessions in batches (a cascade wave starts one per released task).
pub async fn insert_many(c: &mut Conn, list: &[Session]) -> Result<()> {
    for chunk in list.chunks(BATCH / 9) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(1 + 9 * i, 9)))
            .collect();
        let sql = format!(
            "INSERT INTO sessions (id, name, server_id, task_id, status, working_dir, started_at,
                                   state, state_at) VALUES {}",
            rows.join(", ")
        );
        let mut args: Vec<Param> = Vec::with_capacity(chunk.len() * 9);
        for s in chunk {
            args.extend(params![
                s.id,
                &s.name,
                s.server_id,
                s.task_id,
                s.status.as_str(),
                &s.working_dir,
                s.started_at,
                s.state.as_str(),
                s.state_since
            ]);
        }
        c.execute(&sql, &args).await?;
    }
    Ok(())
}

/// Which of these names are taken already.
pub async fn names_taken(c: &mut Conn, names: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for chunk in names.chunks(BATCH) {
        let sql = format!(
            "SELECT name FROM sessions WHERE name IN ({})",
            placeholders(1, chunk.len())
        );
        let args: Vec<Param> = chunk.iter().map(Param::from).collect();
        for r in c.fetch(&sql, &args).await? {
            out.push(r.text("name")?);
        }
    }
    Ok(out)
}

pub async fn get(c: &mut Conn, id: Uuid) -> Result<Option<Session>> {
    let sql = format!("{SELECT} WHERE x.id = $1");
    c.fetch_optional(&sql, &params![id])
        .await?
        .as_ref()
        .map(session)
        .transpose()
}

/// A session by its `orc-` name.
pub async fn by_name(c: &mut Conn, name: &str) -> Result<Option<Session>> {
    let sql = format!("{SELECT} WHERE x.name = $1");
    c.fetch_optional(&sql, &params![name])
        .await?
        .as_ref()
        .map(session)
        .transpose()
}

/// Sessions, newest first: all, or of one server, or of one project.
pub async fn list(
    c: &mut Conn,
    server: Option<Uuid>,
    project: Option<Uuid>,
) -> Result<Vec<Session>> {
    let (cond, args) = match (server, project) {
        (Some(s), _) => ("WHERE x.server_id = $1", params![s].to_vec()),
        (None, Some(p)) => ("WHERE s.project_id = $1", params![p].to_vec()),
        (None, None) => ("", Vec::new()),
    };
    let sql = format!("{SELECT} {cond} ORDER BY x.started_at DESC, x.name");
    sessions(c.fetch(&sql, &args).await?)
}

/// Open (not ended) sessions of a task.
pub async fn open_of_task(c: &mut Conn, task: Uuid) -> Result<Vec<Session>> {
    let sql =
        format!("{SELECT} WHERE x.task_id = $1 AND x.status <> 'ended' ORDER BY x.started_at");
    sessions(c.fetch(&sql, &params![task]).await?)
}

/// All sessions of a task, oldest first.
pub async fn of_task(c: &mut Conn, task: Uuid) -> Result<Vec<Session>> {
    let sql = format!("{SELECT} WHERE x.task_id = $1 ORDER BY x.started_at");
    sessions(c.fetch(&sql, &params![task]).await?)
}

/// Sessions of a server in one status.
pub async fn of_server_with_status(
    c: &mut Conn,
    server: Uuid,
    status: SessionStatus,
) -> Result<Vec<Session>> {
    let sql = format!("{SELECT} WHERE x.server_id = $1 AND x.status = $2 ORDER BY x.started_at");
    sessions(c.fetch(&sql, &params![server, status.as_str()]).await?)
}

/// Open sessions of the orchestrator tasks of a project (they receive status updates).
pub async fn orchestrator_sessions(c: &mut Conn, project: Uuid) -> Result<Vec<Session>> {
    // Starts from the (few) orchestrator tasks of the project: indexes tasks_orchestrators, sessions_task.
    let sql = format!(
        "{SELECT} WHERE x.task_id IN (SELECT id FROM tasks WHERE project_id = $1 AND orchestrator = 1)
                    AND x.status <> 'ended' ORDER BY x.started_at"
    );
    sessions(c.fetch(&sql, &params![project]).await?)
}

/// The session runs: pid and tmux name known, and whether its agent reports through hooks.
pub async fn set_active(
    c: &mut Conn,
    id: Uuid,
    pid: Option<i64>,
    tmux: Option<&str>,
    hooks: bool,
    now: i64,
) -> Result<bool> {
    // A session still starting counts its silence from now (the stall check).
    let n = c
        .execute(
            "UPDATE sessions SET status = 'active', pid = COALESCE($2, pid), tmux = COALESCE($3, tmux),
                                 hooks = $4,
                                 state_at = CASE WHEN state = 'starting' THEN $5 ELSE state_at END
             WHERE id = $1 AND status <> 'ended'",
            &params![id, pid, tmux, hooks, now],
        )
        .await?;
    Ok(n == 1)
}

/// Sets the agent state of an open session; false when it was that already (or ended).
pub async fn set_state(c: &mut Conn, id: Uuid, state: SessionState, now: i64) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE sessions SET state = $2, state_at = $3
             WHERE id = $1 AND status <> 'ended' AND state <> $2",
            &params![id, state.as_str(), now],
        )
        .await?;
    Ok(n == 1)
}

/// Remembers the agent's conversation id (it changes when the agent starts a new one).
pub async fn set_conversation(c: &mut Conn, id: Uuid, conversation: &str) -> Result<()> {
    c.execute(
        "UPDATE sessions SET conversation_id = $2 WHERE id = $1",
        &params![id, conversation],
    )
    .await?;
    Ok(())
}

/// Whether a session's agent reports through hooks (then a message waits until it is idle).
pub async fn reports_hooks(c: &mut Conn, session: Uuid) -> Result<bool> {
    match c
        .fetch_optional(
            "SELECT hooks FROM sessions WHERE id = $1",
            &params![session],
        )
        .await?
    {
        Some(r) => r.flag("hooks"),
        None => Ok(false),
    }
}

/// Open sessions whose agent reports through hooks but has not since it started, before
/// `cutoff`: something (a dialog) holds it.
pub async fn silent_since(c: &mut Conn, cutoff: i64) -> Result<Vec<Session>> {
    let sql = format!(
        "{SELECT} WHERE x.status = 'active' AND x.hooks = 1 AND x.state = 'starting'
            AND x.state_at <= $1 ORDER BY x.started_at"
    );
    sessions(c.fetch(&sql, &params![cutoff]).await?)
}

/// Sets the status of an open session.
pub async fn set_status(c: &mut Conn, id: Uuid, status: SessionStatus) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE sessions SET status = $2 WHERE id = $1 AND status <> 'ended'",
            &params![id, status.as_str()],
        )
        .await?;
    Ok(n == 1)
}

/// Ends a session; false when it had already ended.
pub async fn set_ended(
    c: &mut Conn,
    id: Uuid,
    exit_code: Option<i64>,
    last_screen: Option<&str>,
    now: i64,
) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE sessions SET status = 'ended', exit_code = $2, last_screen = COALESCE($3, last_screen),
                                 ended_at = $4, state = 'ended', state_at = $4
             WHERE id = $1 AND status <> 'ended'",
            &params![id, exit_code, last_screen, now],
        )
        .await?;
    Ok(n == 1)
}

/// Remembers the latest rendered screen of a session.
pub async fn set_screen(c: &mut Conn, id: Uuid, screen: &str) -> Result<()> {
    c.execute(
        "UPDATE sessions SET last_screen = $2 WHERE id = $1",
        &params![id, screen],
    )
    .await?;
    Ok(())
}

/// The latest rendered screen of a session.
pub async fn screen(c: &mut Conn, id: Uuid) -> Result<Option<String>> {
    Ok(c.fetch_optional(
        "SELECT last_screen FROM sessions WHERE id = $1",
        &params![id],
    )
    .await?
    .map(|r| r.opt_text("last_screen"))
    .transpose()?
    .flatten())
}

/// One numbered piece of a session's recording: terminal output, or a keyframe (the screen
/// as escape sequences, valid after output chunk `seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub session_id: Uuid,
    pub seq: i64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

fn kind(keyframe: bool) -> i64 {
    if keyframe { 3 } else { 1 }
}

/// Stores chunks in batches; one already stored (same session, seq and kind) is kept as it was.
/// Returns the bytes really added, by session (a chunk sent twice is not counted again).
pub async fn insert_chunks(
    c: &mut Conn,
    chunks: &[Chunk],
    now: i64,
) -> Result<std::collections::HashMap<Uuid, i64>> {
    let mut added: std::collections::HashMap<Uuid, i64> = std::collections::HashMap::new();
    for batch in chunks.chunks(BATCH / 4) {
        let values: Vec<String> = (0..batch.len())
            .map(|i| format!("({}, $1)", placeholders(2 + 4 * i, 4)))
            .collect();
        let sql = format!(
            "INSERT INTO session_chunks (session_id, seq, kind, data, at) VALUES {}
             ON CONFLICT (session_id, seq, kind) DO NOTHING
             RETURNING session_id, LENGTH(data) AS n",
            values.join(", ")
        );
        let mut args = params![now].to_vec();
        for ch in batch {
            args.extend(params![
                ch.session_id,
                ch.seq,
                kind(ch.keyframe),
                ch.data.clone()
            ]);
        }
        for row in c.fetch(&sql, &args).await? {
            *added.entry(row.uuid("session_id")?).or_default() += row.int("n")?;
        }
    }
    Ok(added)
}

/// An output chunk or keyframe read back: the columns a query selects as `seq, kind, data`.
fn chunk(session: Uuid, r: &Row) -> Result<Chunk> {
    Ok(Chunk {
        session_id: session,
        seq: r.int("seq")?,
        keyframe: r.int("kind")? == 3,
        data: r.blob("data")?,
    })
}

/// A session's recording after output chunk `after_seq`, in replay order (a keyframe comes
/// after the chunk it follows), up to `limit`.
pub async fn chunks(c: &mut Conn, session: Uuid, after_seq: i64, limit: i64) -> Result<Vec<Chunk>> {
    c.fetch(
        "SELECT seq, kind, data FROM session_chunks WHERE session_id = $1 AND seq > $2
         ORDER BY seq, kind LIMIT $3",
        &params![session, after_seq, limit],
    )
    .await?
    .iter()
    .map(|r| chunk(session, r))
    .collect()
}

/// A piece of a recording with the time it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChunk {
    pub chunk: Chunk,
    /// When the hub stored it (ms).
    pub at: i64,
}

/// A page of a session's recording after output chunk `after`, in replay order, with the time
/// each piece was stored. A page never ends between a chunk and the keyframe that follows it.
pub async fn recording(
    c: &mut Conn,
    session: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredChunk>> {
    let read = |r: &Row| -> Result<StoredChunk> {
        Ok(StoredChunk {
            chunk: chunk(session, r)?,
            at: r.int("at")?,
        })
    };
    let mut out: Vec<StoredChunk> = c
        .fetch(
            "SELECT seq, kind, data, at FROM session_chunks WHERE session_id = $1 AND seq > $2
             ORDER BY seq, kind LIMIT $3",
            &params![session, after, limit],
        )
        .await?
        .iter()
        .map(read)
        .collect::<Result<_>>()?;
    if let Some(last) = out.last().map(|s| &s.chunk)
        && !last.keyframe
    {
        let seq = last.seq;
        let more = c
            .fetch(
                "SELECT seq, kind, data, at FROM session_chunks WHERE session_id = $1 AND seq = $2 AND kind = 3",
                &params![session, seq],
            )
            .await?;
        for r in &more {
            out.push(read(r)?);
        }
    }
    Ok(out)
}

/// The highest output chunk number stored for a session (0 when none).
pub async fn last_seq(c: &mut Conn, session: Uuid) -> Result<i64> {
    c.fetch_one(
        "SELECT COALESCE(MAX(seq), 0) AS seq FROM session_chunks WHERE session_id = $1 AND kind = 1",
        &params![session],
    )
    .await?
    .int("seq")
}

/// Bytes stored for a session.
pub async fn stored_bytes(c: &mut Conn, session: Uuid) -> Result<i64> {
    c.fetch_one(
        "SELECT COALESCE(SUM(LENGTH(data)), 0) AS n FROM session_chunks WHERE session_id = $1",
        &params![session],
    )
    .await?
    .int("n")
}

/// The size of one stored piece of a recording, for trimming.
struct ChunkSize {
    seq: i64,
    keyframe: bool,
    bytes: i64,
}

/// Drops a session's recording before the keyframe after output chunk `seq`.
async fn drop_before_keyframe(c: &mut Conn, session: Uuid, seq: i64) -> Result<()> {
    c.execute(
        "DELETE FROM session_chunks WHERE session_id = $1 AND (seq < $2 OR (seq = $2 AND kind = 1))",
        &params![session, seq],
    )
    .await?;
    Ok(())
}

/// Keeps a session's recording under `max_bytes`: drops everything before the earliest
/// keyframe from which the rest fits, so a replay still starts on a clean screen. Returns the
/// bytes kept. Without a keyframe to cut at, nothing is dropped.
pub async fn trim(c: &mut Conn, session: Uuid, max_bytes: i64) -> Result<i64> {
    let rows = c
        .fetch(
            "SELECT seq, kind, LENGTH(data) AS n FROM session_chunks WHERE session_id = $1 ORDER BY seq, kind",
            &params![session],
        )
        .await?;
    let sizes: Vec<ChunkSize> = rows
        .iter()
        .map(|r| {
            Ok(ChunkSize {
                seq: r.int("seq")?,
                keyframe: r.int("kind")? == 3,
                bytes: r.int("n")?,
            })
        })
        .collect::<Result<_>>()?;
    let total: i64 = sizes.iter().map(|s| s.bytes).sum();
    if total <= max_bytes {
        return Ok(total);
    }
    // Walk forward: the first keyframe from which what follows fits.
    let mut before = 0i64;
    for s in &sizes {
        if s.keyframe && total - before <= max_bytes {
            drop_before_keyframe(c, session, s.seq).await?;
            return Ok(total - before);
        }
        before += s.bytes;
    }
    // No keyframe lets it fit: cut at the last one.
    if let Some(seq) = sizes.iter().rev().find(|s| s.keyframe).map(|s| s.seq) {
        let kept: i64 = sizes
            .iter()
            .filter(|s| s.seq > seq || (s.seq == seq && s.keyframe))
            .map(|s| s.bytes)
            .sum();
        drop_before_keyframe(c, session, seq).await?;
        return Ok(kept);
    }
    Ok(total)
}
