//! Servers: registered agent daemons, their capabilities, status and heartbeats.

use std::collections::BTreeMap;

use orchestratia_proto::{Server, ServerStatus};
use sqlx::FromRow;
use uuid::Uuid;

use super::{Conn, Result, json, uuid, word};

#[derive(FromRow)]
struct Row {
    id: String,
    project_id: String,
    name: String,
    os: String,
    hostname: String,
    repos: String,
    languages: String,
    status: String,
    last_heartbeat: Option<i64>,
    revoked: i64,
    created_at: i64,
    sessions: i64,
    recent_successes: i64,
}

/// A server with the figures capability matching needs.
#[derive(Debug, Clone)]
pub struct ServerRecord {
    pub server: Server,
    /// Tasks it completed since the `since` given to the query.
    pub recent_successes: i64,
}

impl Row {
    fn into_record(self) -> Result<ServerRecord> {
        Ok(ServerRecord {
            server: Server {
                id: uuid(&self.id)?,
                project_id: uuid(&self.project_id)?,
                name: self.name,
                status: word::<ServerStatus>(&self.status)?,
                os: self.os,
                hostname: self.hostname,
                repos: json::<BTreeMap<String, String>>(&self.repos)?,
                languages: json::<Vec<String>>(&self.languages)?,
                sessions: self.sessions,
                last_heartbeat: self.last_heartbeat,
                revoked: self.revoked != 0,
                created_at: self.created_at,
            },
            recent_successes: self.recent_successes,
        })
    }
}

const SELECT: &str = "SELECT s.id, s.project_id, s.name, s.os, s.hostname, s.repos, s.languages,
        s.status, s.last_heartbeat, s.revoked, s.created_at,
        (SELECT COUNT(*) FROM sessions x WHERE x.server_id = s.id AND x.status <> 'ended') AS sessions,
        (SELECT COUNT(*) FROM tasks t WHERE t.server_id = s.id AND t.status = 'done'
                                        AND t.completed_at > $1) AS recent_successes
    FROM servers s";

pub async fn insert(c: &mut Conn, s: &Server) -> Result<()> {
    sqlx::query(
        "INSERT INTO servers (id, project_id, name, os, hostname, repos, languages, status,
                              last_heartbeat, revoked, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(s.id.to_string())
    .bind(s.project_id.to_string())
    .bind(&s.name)
    .bind(&s.os)
    .bind(&s.hostname)
    .bind(serde_json::to_string(&s.repos).unwrap_or_default())
    .bind(serde_json::to_string(&s.languages).unwrap_or_default())
    .bind(s.status.as_str())
    .bind(s.last_heartbeat)
    .bind(s.revoked as i64)
    .bind(s.created_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Re-registration of an existing name: new capabilities, not revoked any more.
pub async fn update_registration(c: &mut Conn, s: &Server) -> Result<()> {
    sqlx::query(
        "UPDATE servers SET os = $2, hostname = $3, repos = $4, languages = $5, revoked = 0
         WHERE id = $1",
    )
    .bind(s.id.to_string())
    .bind(&s.os)
    .bind(&s.hostname)
    .bind(serde_json::to_string(&s.repos).unwrap_or_default())
    .bind(serde_json::to_string(&s.languages).unwrap_or_default())
    .execute(c)
    .await?;
    Ok(())
}

async fn fetch(
    c: &mut Conn,
    tail: &'static str,
    arg: Option<String>,
    since: i64,
) -> Result<Vec<ServerRecord>> {
    let sql = format!("{SELECT} {tail}");
    let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).bind(since);
    if let Some(a) = arg {
        q = q.bind(a);
    }
    q.fetch_all(c)
        .await?
        .into_iter()
        .map(Row::into_record)
        .collect()
}

pub async fn get(c: &mut Conn, id: Uuid) -> Result<Option<Server>> {
    Ok(fetch(c, "WHERE s.id = $2", Some(id.to_string()), i64::MAX)
        .await?
        .pop()
        .map(|r| r.server))
}

pub async fn by_name(c: &mut Conn, name: &str) -> Result<Option<Server>> {
    Ok(
        fetch(c, "WHERE s.name = $2", Some(name.to_string()), i64::MAX)
            .await?
            .pop()
            .map(|r| r.server),
    )
}

/// All servers, or those of one project, by name.
pub async fn list(c: &mut Conn, project: Option<Uuid>) -> Result<Vec<Server>> {
    let rows = match project {
        Some(p) => {
            fetch(
                c,
                "WHERE s.project_id = $2 ORDER BY s.name",
                Some(p.to_string()),
                i64::MAX,
            )
            .await?
        }
        None => fetch(c, "ORDER BY s.name", None, i64::MAX).await?,
    };
    Ok(rows.into_iter().map(|r| r.server).collect())
}

/// The servers of a project with their recent successes since `since`, for matching.
pub async fn candidates(c: &mut Conn, project: Uuid, since: i64) -> Result<Vec<ServerRecord>> {
    fetch(
        c,
        "WHERE s.project_id = $2 ORDER BY s.name",
        Some(project.to_string()),
        since,
    )
    .await
}

/// Records a heartbeat; true when the server was offline until now.
pub async fn heartbeat(c: &mut Conn, id: Uuid, now: i64) -> Result<bool> {
    let came_online = sqlx::query(
        "UPDATE servers SET status = 'online', last_heartbeat = $2 WHERE id = $1 AND status <> 'online'",
    )
    .bind(id.to_string())
    .bind(now)
    .execute(&mut *c)
    .await?
    .rows_affected()
        == 1;
    if !came_online {
        sqlx::query("UPDATE servers SET last_heartbeat = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(now)
            .execute(c)
            .await?;
    }
    Ok(came_online)
}

/// Marks offline every online server not heard from since `cutoff`; returns them.
pub async fn mark_stale_offline(c: &mut Conn, cutoff: i64) -> Result<Vec<(Uuid, Uuid, String)>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "UPDATE servers SET status = 'offline'
         WHERE status = 'online' AND (last_heartbeat IS NULL OR last_heartbeat < $1)
         RETURNING id, project_id, name",
    )
    .bind(cutoff)
    .fetch_all(c)
    .await?;
    rows.into_iter()
        .map(|(id, p, name)| Ok((uuid(&id)?, uuid(&p)?, name)))
        .collect()
}

/// Marks a server offline now (its key was revoked).
pub async fn set_offline(c: &mut Conn, id: Uuid) -> Result<bool> {
    let r =
        sqlx::query("UPDATE servers SET status = 'offline' WHERE id = $1 AND status = 'online'")
            .bind(id.to_string())
            .execute(c)
            .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_revoked(c: &mut Conn, id: Uuid) -> Result<()> {
    sqlx::query("UPDATE servers SET revoked = 1 WHERE id = $1")
        .bind(id.to_string())
        .execute(c)
        .await?;
    Ok(())
}
