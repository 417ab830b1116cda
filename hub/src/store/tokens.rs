//! Credentials: admin tokens, server keys, session tokens and registration tokens, stored as
//! the SHA-256 of the token and looked up by it.

use sqlx::FromRow;
use uuid::Uuid;

use super::{Conn, Result, uuid_opt};

/// What a token lets its bearer be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Admin,
    Server,
    Session,
    Registration,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Admin => "admin",
            TokenKind::Server => "server",
            TokenKind::Session => "session",
            TokenKind::Registration => "registration",
        }
    }

    fn parse(s: &str) -> Option<TokenKind> {
        Some(match s {
            "admin" => TokenKind::Admin,
            "server" => TokenKind::Server,
            "session" => TokenKind::Session,
            "registration" => TokenKind::Registration,
            _ => return None,
        })
    }
}

/// A stored token.
#[derive(Debug, Clone)]
pub struct Token {
    pub hash: String,
    pub kind: TokenKind,
    pub project_id: Option<Uuid>,
    pub server_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub orchestrator: bool,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Name of the server behind a server or session token (for event actors).
    pub server_name: Option<String>,
}

#[derive(FromRow)]
struct Row {
    hash: String,
    kind: String,
    project_id: Option<String>,
    server_id: Option<String>,
    task_id: Option<String>,
    session_id: Option<String>,
    orchestrator: i64,
    created_at: i64,
    expires_at: Option<i64>,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
    server_name: Option<String>,
}

pub async fn insert(c: &mut Conn, t: &Token) -> Result<()> {
    sqlx::query(
        "INSERT INTO tokens (hash, kind, project_id, server_id, task_id, session_id, orchestrator,
                             created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&t.hash)
    .bind(t.kind.as_str())
    .bind(t.project_id.map(|u| u.to_string()))
    .bind(t.server_id.map(|u| u.to_string()))
    .bind(t.task_id.map(|u| u.to_string()))
    .bind(t.session_id.map(|u| u.to_string()))
    .bind(t.orchestrator as i64)
    .bind(t.created_at)
    .bind(t.expires_at)
    .execute(c)
    .await?;
    Ok(())
}

/// The token with this hash, with the name of its server.
pub async fn lookup(c: &mut Conn, hash: &str) -> Result<Option<Token>> {
    let row = sqlx::query_as::<_, Row>(
        "SELECT t.hash, t.kind, t.project_id, t.server_id, t.task_id, t.session_id, t.orchestrator,
                t.created_at, t.expires_at, t.used_at, t.revoked_at,
                COALESCE(sv.name, ss.name) AS server_name
         FROM tokens t
         LEFT JOIN servers sv ON sv.id = t.server_id
         LEFT JOIN sessions se ON se.id = t.session_id
         LEFT JOIN servers ss ON ss.id = se.server_id
         WHERE t.hash = $1",
    )
    .bind(hash)
    .fetch_optional(c)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let Some(kind) = TokenKind::parse(&r.kind) else {
        return Ok(None);
    };
    Ok(Some(Token {
        hash: r.hash,
        kind,
        project_id: uuid_opt(&r.project_id)?,
        server_id: uuid_opt(&r.server_id)?,
        task_id: uuid_opt(&r.task_id)?,
        session_id: uuid_opt(&r.session_id)?,
        orchestrator: r.orchestrator != 0,
        created_at: r.created_at,
        expires_at: r.expires_at,
        used_at: r.used_at,
        revoked_at: r.revoked_at,
        server_name: r.server_name,
    }))
}

/// Marks a registration token used; false when it was used, revoked or expired meanwhile.
pub async fn consume(c: &mut Conn, hash: &str, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE tokens SET used_at = $2
         WHERE hash = $1 AND kind = 'registration' AND used_at IS NULL AND revoked_at IS NULL
           AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(hash)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Revokes every key of a server and the session tokens of its sessions.
pub async fn revoke_server(c: &mut Conn, server: Uuid, now: i64) -> Result<u64> {
    let r = sqlx::query(
        "UPDATE tokens SET revoked_at = $2
         WHERE revoked_at IS NULL
           AND (server_id = $1 OR session_id IN (SELECT id FROM sessions WHERE server_id = $1))",
    )
    .bind(server.to_string())
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected())
}

/// Revokes the keys of a server (not its sessions' tokens: their agents keep working).
pub async fn revoke_server_keys(c: &mut Conn, server: Uuid, now: i64) -> Result<u64> {
    let r = sqlx::query(
        "UPDATE tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND kind = 'server' AND server_id = $1",
    )
    .bind(server.to_string())
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected())
}

/// Revokes the tokens of one session.
pub async fn revoke_session(c: &mut Conn, session: Uuid, now: i64) -> Result<()> {
    sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL")
        .bind(session.to_string())
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}
