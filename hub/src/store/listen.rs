//! PostgreSQL's LISTEN/NOTIFY for the bus between hub replicas, and the lock that keeps two
//! processes from running as one replica. Nothing here exists on SQLite (one hub there).

use std::time::Duration;

use sqlx::postgres::{PgConnection, PgListener};
use sqlx::{Connection, Row as _};

use super::{Result, Store, StoreError};

fn no_postgres() -> StoreError {
    StoreError::Corrupt("replicas need PostgreSQL".into())
}

/// Sends notifications on a connection of its own (not the pool's: the bus never waits for
/// a connection behind busy requests), reconnecting after a failure.
pub struct Notifier {
    store: Store,
    conn: Option<PgConnection>,
}

impl Notifier {
    /// A notifier for `store` (connects on first use).
    pub fn new(store: Store) -> Notifier {
        Notifier { store, conn: None }
    }

    /// The notifier's connection, made when there is none.
    async fn conn(&mut self) -> Result<&mut PgConnection> {
        if self.conn.is_none() {
            let pool = self.store.pg_pool().ok_or_else(no_postgres)?;
            self.conn = Some(PgConnection::connect_with(&pool.connect_options()).await?);
        }
        self.conn.as_mut().ok_or_else(no_postgres)
    }

    /// Stores a message too large for a notification (`bus_payloads`); its id.
    pub async fn put_payload(&mut self, body: &str, now: i64) -> Result<i64> {
        let conn = self.conn().await?;
        let row = sqlx::query("INSERT INTO bus_payloads (at, body) VALUES ($1, $2) RETURNING id")
            .bind(now)
            .bind(body)
            .fetch_one(&mut *conn)
            .await;
        match row {
            Ok(r) => Ok(r.try_get::<i64, _>("id")?),
            Err(e) => {
                self.conn = None;
                Err(e.into())
            }
        }
    }

    /// Sends `payloads` to every listener of `channel`, in order, in one statement (so one
    /// round trip; delivered when it commits, at once). Identical payloads in one statement
    /// are delivered once by PostgreSQL: callers make each payload unique.
    pub async fn notify(&mut self, channel: &str, payloads: &[String]) -> Result<()> {
        if payloads.is_empty() {
            return Ok(());
        }
        let conn = self.conn().await?;
        let sent = sqlx::query(
            "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS u(p, i) ORDER BY i",
        )
        .bind(channel)
        .bind(payloads)
        .execute(&mut *conn)
        .await;
        if let Err(e) = sent {
            self.conn = None;
            return Err(e.into());
        }
        Ok(())
    }
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

    /// A message stored in `bus_payloads`, read on the listener's own connection (never
    /// waiting for the pool behind busy requests); `None` once pruned.
    pub async fn payload(&mut self, id: i64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT body FROM bus_payloads WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut self.inner)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<String, _>("body")?),
            None => None,
        })
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
