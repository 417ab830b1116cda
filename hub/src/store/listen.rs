//! PostgreSQL's LISTEN/NOTIFY for the bus between hub replicas, and the lock that keeps two
//! processes from running as one replica. Nothing here exists on SQLite (one hub there).

use std::time::Duration;

use sqlx::postgres::{PgConnection, PgListener};
use sqlx::{Connection, Row as _};

use super::{Result, Store, StoreError};

fn no_postgres() -> StoreError {
    StoreError::Corrupt("replicas need PostgreSQL".into())
}

/// Sends `payload` to every listener of `channel` (delivered once the statement commits; it
/// runs on its own, so at once).
pub async fn notify(store: &Store, channel: &str, payload: &str) -> Result<()> {
    let pool = store.pg_pool().ok_or_else(no_postgres)?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(pool)
        .await?;
    Ok(())
}

/// A connection listening on one channel.
pub struct BusListener {
    inner: PgListener,
}

impl BusListener {
    /// Starts listening on `channel`.
    pub async fn connect(store: &Store, channel: &str) -> Result<BusListener> {
        let pool = store.pg_pool().ok_or_else(no_postgres)?;
        let mut inner = PgListener::connect_with(pool).await?;
        inner.listen(channel).await?;
        Ok(BusListener { inner })
    }

    /// The next notification's payload; `None` when the connection was lost (it reconnects
    /// on the next call, and what was sent meanwhile is lost: read the state again).
    pub async fn recv(&mut self) -> Result<Option<String>> {
        Ok(self
            .inner
            .try_recv()
            .await?
            .map(|n| n.payload().to_string()))
    }
}

/// A replica's identity: a session-level advisory lock on `--replica-id`, held on its own
/// connection for the life of the process. PostgreSQL lets go of it when the process dies
/// (its connection closes), so a replica killed with SIGKILL can start again at once, while a
/// second process with the same id is refused.
pub struct ReplicaLock {
    conn: PgConnection,
}

impl ReplicaLock {
    /// Takes the lock of replica `id`, trying for up to `wait`; `None` when another process
    /// holds it all that time.
    pub async fn acquire(store: &Store, id: &str, wait: Duration) -> Result<Option<ReplicaLock>> {
        let pool = store.pg_pool().ok_or_else(no_postgres)?;
        let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let row = sqlx::query(
                "SELECT pg_try_advisory_lock(hashtext('orchestratia-replica'), hashtext($1)) AS ok",
            )
            .bind(id)
            .fetch_one(&mut conn)
            .await?;
            if row.try_get::<bool, _>("ok")? {
                return Ok(Some(ReplicaLock { conn }));
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = conn.close().await;
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Whether the lock's connection still answers (the lock is held while it does).
    pub async fn check(&mut self) -> Result<()> {
        self.conn.ping().await?;
        Ok(())
    }
}
