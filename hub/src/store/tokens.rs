//! Credentials: admin tokens, server keys, session tokens and registration tokens, stored as
//! the SHA-256 of the token and looked up by it.

use uuid::Uuid;

use super::{BATCH, Conn, Param, Result, Row, placeholders};
use crate::params;

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

fn values(t: &Token) -> Vec<Param> {
    params![
        &t.hash,
        t.kind.as_str(),
        t.project_id,
        t.server_id,
        t.task_id,
        t.session_id,
        t.orchestrator,
        t.created_at,
        t.expires_at
    ]
    .to_vec()
}

const COLUMNS: &str = "(hash, kind, project_id, server_id, task_id, session_id, orchestrator, created_at, expires_at)";

pub async fn insert(c: &mut Conn, t: &Token) -> Result<()> {
    insert_many(c, std::slice::from_ref(t)).await
}

/// Stores several tokens in batches (a cascade wave gives each new session its token).
pub async fn insert_many(c: &mut Conn, tokens: &[Token]) -> Result<()> {
    for chunk in tokens.chunks(BATCH / 9) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(1 + 9 * i, 9)))
            .collect();
        let sql = format!("INSERT INTO tokens {COLUMNS} VALUES {}", rows.join(", "));
        let args: Vec<Param> = chunk.iter().flat_map(values).collect();
        c.execute(&sql, &args).await?;
    }
    Ok(())
}

const SELECT: &str = "SELECT t.hash, t.kind, t.project_id, t.server_id, t.task_id, t.session_id,
            t.orchestrator, t.created_at, t.expires_at, t.used_at, t.revoked_at,
            COALESCE(sv.name, ss.name) AS server_name
     FROM tokens t
     LEFT JOIN servers sv ON sv.id = t.server_id
     LEFT JOIN sessions se ON se.id = t.session_id
     LEFT JOIN servers ss ON ss.id = se.server_id";

fn token(r: &Row) -> Result<Option<Token>> {
    let Some(kind) = TokenKind::parse(&r.text("kind")?) else {
        return Ok(None);
    };
    Ok(Some(Token {
        hash: r.text("hash")?,
        kind,
        project_id: r.opt_uuid("project_id")?,
        server_id: r.opt_uuid("server_id")?,
        task_id: r.opt_uuid("task_id")?,
        session_id: r.opt_uuid("session_id")?,
        orchestrator: r.flag("orchestrator")?,
        created_at: r.int("created_at")?,
        expires_at: r.opt_int("expires_at")?,
        used_at: r.opt_int("used_at")?,
        revoked_at: r.opt_int("revoked_at")?,
        server_name: r.opt_text("server_name")?,
    }))
}

/// The token with this hash, with the name of its server.
pub async fn lookup(c: &mut Conn, hash: &str) -> Result<Option<Token>> {
    let row = c
        .fetch_optional(&format!("{SELECT} WHERE t.hash = $1"), &params![hash])
        .await?;
    match row {
        Some(r) => token(&r),
        None => Ok(None),
    }
}

/// The tokens of one kind, newest first; with `hash_prefix`, only those whose hash starts
/// with it (the short ids admins see are such prefixes: lowercase hex only).
pub async fn list(c: &mut Conn, kind: TokenKind, hash_prefix: Option<&str>) -> Result<Vec<Token>> {
    let mut args: Vec<Param> = params![kind.as_str()].to_vec();
    let mut sql = format!("{SELECT} WHERE t.kind = $1");
    if let Some(p) = hash_prefix {
        args.push(format!("{p}%").into());
        sql.push_str(" AND t.hash LIKE $2");
    }
    sql.push_str(" ORDER BY t.created_at DESC, t.hash");
    let mut out = Vec::new();
    for r in c.fetch(&sql, &args).await? {
        out.extend(token(&r)?);
    }
    Ok(out)
}

/// Revokes one token by its hash; false when it was revoked already.
pub async fn revoke(c: &mut Conn, hash: &str, now: i64) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE tokens SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL",
            &params![hash, now],
        )
        .await?;
    Ok(n == 1)
}

/// Marks a registration token used; false when it was used, revoked or expired meanwhile.
pub async fn consume(c: &mut Conn, hash: &str, now: i64) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE tokens SET used_at = $2
             WHERE hash = $1 AND kind = 'registration' AND used_at IS NULL AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > $2)",
            &params![hash, now],
        )
        .await?;
    Ok(n == 1)
}

/// Revokes every key of a server and the session tokens of its sessions.
pub async fn revoke_server(c: &mut Conn, server: Uuid, now: i64) -> Result<u64> {
    c.execute(
        "UPDATE tokens SET revoked_at = $2
         WHERE revoked_at IS NULL
           AND (server_id = $1 OR session_id IN (SELECT id FROM sessions WHERE server_id = $1))",
        &params![server, now],
    )
    .await
}

/// Revokes the keys of a server (not its sessions' tokens: their agents keep working).
pub async fn revoke_server_keys(c: &mut Conn, server: Uuid, now: i64) -> Result<u64> {
    c.execute(
        "UPDATE tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND kind = 'server' AND server_id = $1",
        &params![server, now],
    )
    .await
}

/// Revokes the tokens of one session.
pub async fn revoke_session(c: &mut Conn, session: Uuid, now: i64) -> Result<()> {
    c.execute(
        "UPDATE tokens SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL",
        &params![session, now],
    )
    .await?;
    Ok(())
}
