//! Servers: registered agent daemons, their capabilities, status and heartbeats.

use orchestratia_proto::{Server, ServerStatus};
use uuid::Uuid;

use super::{Conn, Param, Result, Row};
use crate::params;

/// A server with the figures capability matching needs.
#[derive(Debug, Clone)]
pub struct ServerRecord {
    pub server: Server,
    /// Tasks it completed since the `since` given to the query.
    pub recent_successes: i64,
}

fn record(r: &Row) -> Result<ServerRecord> {
    Ok(ServerRecord {
        server: Server {
            id: r.uuid("id")?,
            project_id: r.uuid("project_id")?,
            name: r.text("name")?,
            status: r.word::<ServerStatus>("status")?,
            os: r.text("os")?,
            hostname: r.text("hostname")?,
            repos: r.json("repos")?,
            languages: r.json("languages")?,
            sessions: r.int("sessions")?,
            last_heartbeat: r.opt_int("last_heartbeat")?,
            revoked: r.flag("revoked")?,
            created_at: r.int("created_at")?,
        },
        recent_successes: r.int("recent_successes")?,
    })
}

const SELECT: &str = "SELECT s.id, s.project_id, s.name, s.os, s.hostname, s.repos, s.languages,
        s.status, s.last_heartbeat, s.revoked, s.created_at,
        (SELECT COUNT(*) FROM sessions x WHERE x.server_id = s.id
                                          AND x.status IN ('starting', 'active', 'recovering')) AS sessions,
        (SELECT COUNT(*) FROM tasks t WHERE t.server_id = s.id AND t.status = 'done'
                                        AND t.completed_at > $1) AS recent_successes
    FROM servers s";

/// The same for matching, which runs on every cascade step: the counts stop where they stop
/// changing the score (load at 100 sessions, recent successes at 5), so their cost does not
/// grow with a server's history.
const SELECT_CANDIDATES: &str = "SELECT s.id, s.project_id, s.name, s.os, s.hostname, s.repos, s.languages,
        s.status, s.last_heartbeat, s.revoked, s.created_at,
        (SELECT COUNT(*) FROM (SELECT 1 FROM sessions x WHERE x.server_id = s.id
                               AND x.status IN ('starting', 'active', 'recovering') LIMIT 100) AS open_sessions) AS sessions,
        (SELECT COUNT(*) FROM (SELECT 1 FROM tasks t WHERE t.server_id = s.id AND t.status = 'done'
                               AND t.completed_at > $1 LIMIT 5) AS recent) AS recent_successes
    FROM servers s";

pub async fn insert(c: &mut Conn, s: &Server) -> Result<()> {
    c.execute(
        "INSERT INTO servers (id, project_id, name, os, hostname, repos, languages, status,
                              last_heartbeat, revoked, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &params![
            s.id,
            s.project_id,
            &s.name,
            &s.os,
            &s.hostname,
            serde_json::to_string(&s.repos).unwrap_or_default(),
            serde_json::to_string(&s.languages).unwrap_or_default(),
            s.status.as_str(),
            s.last_heartbeat,
            s.revoked,
            s.created_at
        ],
    )
    .await?;
    Ok(())
}

/// Re-registration of an existing name: new capabilities, not revoked any more.
pub async fn update_registration(c: &mut Conn, s: &Server) -> Result<()> {
    c.execute(
        "UPDATE servers SET os = $2, hostname = $3, repos = $4, languages = $5, revoked = 0
         WHERE id = $1",
        &params![
            s.id,
            &s.os,
            &s.hostname,
            serde_json::to_string(&s.repos).unwrap_or_default(),
            serde_json::to_string(&s.languages).unwrap_or_default()
        ],
    )
    .await?;
    Ok(())
}

async fn fetch(
    c: &mut Conn,
    tail: &str,
    arg: Option<Param>,
    since: i64,
) -> Result<Vec<ServerRecord>> {
    let sql = format!(
        "{} {tail}",
        if since == i64::MAX {
            SELECT
        } else {
            SELECT_CANDIDATES
        }
    );
    let mut args = params![since].to_vec();
    args.extend(arg);
    c.fetch(&sql, &args).await?.iter().map(record).collect()
}

pub async fn get(c: &mut Conn, id: Uuid) -> Result<Option<Server>> {
    Ok(fetch(c, "WHERE s.id = $2", Some(id.into()), i64::MAX)
        .await?
        .pop()
        .map(|r| r.server))
}

pub async fn by_name(c: &mut Conn, name: &str) -> Result<Option<Server>> {
    Ok(fetch(c, "WHERE s.name = $2", Some(name.into()), i64::MAX)
        .await?
        .pop()
        .map(|r| r.server))
}

/// All servers, or those of one project, by name.
pub async fn list(c: &mut Conn, project: Option<Uuid>) -> Result<Vec<Server>> {
    let rows = match project {
        Some(p) => {
            fetch(
                c,
                "WHERE s.project_id = $2 ORDER BY s.name",
                Some(p.into()),
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
        Some(project.into()),
        since,
    )
    .await
}

/// Records a heartbeat; true when the server was offline until now.
pub async fn heartbeat(c: &mut Conn, id: Uuid, now: i64) -> Result<bool> {
    let came_online = c
        .execute(
            "UPDATE servers SET status = 'online', last_heartbeat = $2 WHERE id = $1 AND status <> 'online'",
            &params![id, now],
        )
        .await?
        == 1;
    if !came_online {
        c.execute(
            "UPDATE servers SET last_heartbeat = $2 WHERE id = $1",
            &params![id, now],
        )
        .await?;
    }
    Ok(came_online)
}

/// A server that just went offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WentOffline {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
}

/// Marks offline every online server not heard from since `cutoff`; returns them.
pub async fn mark_stale_offline(c: &mut Conn, cutoff: i64) -> Result<Vec<WentOffline>> {
    c.fetch(
        "UPDATE servers SET status = 'offline'
         WHERE status = 'online' AND (last_heartbeat IS NULL OR last_heartbeat < $1)
         RETURNING id, project_id, name",
        &params![cutoff],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(WentOffline {
            id: r.uuid("id")?,
            project_id: r.uuid("project_id")?,
            name: r.text("name")?,
        })
    })
    .collect()
}

/// Marks a server offline now (its key was revoked).
pub async fn set_offline(c: &mut Conn, id: Uuid) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE servers SET status = 'offline' WHERE id = $1 AND status = 'online'",
            &params![id],
        )
        .await?;
    Ok(n == 1)
}

pub async fn set_revoked(c: &mut Conn, id: Uuid) -> Result<()> {
    c.execute("UPDATE servers SET revoked = 1 WHERE id = $1", &params![id])
        .await?;
    Ok(())
}
