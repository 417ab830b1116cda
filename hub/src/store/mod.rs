//! The store: the only place with SQL. One code path for SQLite (default) and PostgreSQL
//! through sqlx's `Any` driver: times are integer milliseconds, ids UUID text, JSON text, so
//! both backends share every statement (with `$N` placeholders, which both accept). Each
//! backend has its own migrations folder, chosen at run time.
//!
//! Functions take `&mut AnyConnection` so the service layer can compose several of them in one
//! transaction ([`Store::write`]) or run them on a read connection ([`Store::read`]).

pub mod contracts;
pub mod deps;
pub mod events;
pub mod humans;
pub mod projects;
pub mod servers;
pub mod sessions;
pub mod tasks;
pub mod tokens;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, ConnectOptions, Connection, Executor};
use uuid::Uuid;

pub use sqlx::AnyConnection as Conn;

/// A write transaction.
pub type Tx = sqlx::Transaction<'static, Any>;

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("cannot open database {url}: {reason}")]
    Open { url: String, reason: String },
}

impl StoreError {
    /// True for a violated unique constraint (a concurrent duplicate).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

/// Shorthand for store results.
pub type Result<T> = std::result::Result<T, StoreError>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The database: a write pool and a read pool (the same pool on PostgreSQL; on SQLite one
/// writer connection, so writers queue in the hub instead of failing with SQLITE_BUSY, and
/// several readers that WAL lets run beside it).
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    write: AnyPool,
    read: AnyPool,
}

/// The default SQLite file: `$XDG_DATA_HOME/orchestratia/hub.db`.
pub fn default_sqlite_path() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("orchestratia")
        .join("hub.db")
}

/// Turns a `--db` value into a URL: `postgres://…` and `sqlite:…` pass through; a bare path
/// becomes a SQLite file URL.
pub fn normalize_url(db: &str) -> String {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") || db.starts_with("sqlite:")
    {
        db.to_string()
    } else {
        format!("sqlite://{db}")
    }
}

impl Store {
    /// Opens (creating if needed) the database at `url` and runs the migrations.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let url = normalize_url(url);
        let open_err = |reason: String| StoreError::Open {
            url: redact(&url),
            reason,
        };
        if url.starts_with("sqlite:") {
            let path = sqlite_path(&url);
            if let Some(parent) = path.as_ref().and_then(|p| p.parent())
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| open_err(e.to_string()))?;
            }
            let url = if url.contains('?') {
                url.clone()
            } else {
                format!("{url}?mode=rwc")
            };
            // WAL is a property of the file: set it once, before the pools open.
            let mut first = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                .map_err(|e| open_err(e.to_string()))?
                .connect()
                .await
                .map_err(|e| open_err(e.to_string()))?;
            first.execute("PRAGMA journal_mode=WAL").await?;
            first.close().await?;
            let opts = AnyConnectOptions::from_str(&url).map_err(|e| open_err(e.to_string()))?;
            let pool = |max: u32| {
                AnyPoolOptions::new()
                    .max_connections(max)
                    .min_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;")
                                .await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts.clone())
            };
            let write = pool(1).await.map_err(|e| open_err(e.to_string()))?;
            let read = pool(8).await.map_err(|e| open_err(e.to_string()))?;
            SQLITE_MIGRATIONS.run(&write).await?;
            Ok(Store {
                backend: Backend::Sqlite,
                write,
                read,
            })
        } else {
            let opts = AnyConnectOptions::from_str(&url).map_err(|e| open_err(e.to_string()))?;
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts)
                .await
                .map_err(|e| open_err(e.to_string()))?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            Ok(Store {
                backend: Backend::Postgres,
                write: pool.clone(),
                read: pool,
            })
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for reads.
    pub async fn read(&self) -> Result<PoolConnection<Any>> {
        Ok(self.read.acquire().await?)
    }

    /// A write transaction; commit it or it rolls back on drop.
    pub async fn write(&self) -> Result<Tx> {
        Ok(self.write.begin().await?)
    }

    /// Closes both pools.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// Serializes graph changes of one project across concurrent transactions (PostgreSQL;
    /// SQLite already has one writer).
    pub async fn lock_project(&self, c: &mut Conn, project: Uuid) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT id FROM projects WHERE id = $1 FOR UPDATE")
                .bind(project.to_string())
                .execute(&mut *c)
                .await?;
        }
        Ok(())
    }
}

fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Hides a password in a database URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}://{}:***{}", &url[..s], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// `$start, $start+1, …` for `n` values, for `IN (…)` lists built at run time.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a stored UUID.
pub(crate) fn uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| StoreError::Corrupt(format!("bad id '{s}'")))
}

/// Parses an optional stored UUID.
pub(crate) fn uuid_opt(s: &Option<String>) -> Result<Option<Uuid>> {
    s.as_deref().map(uuid).transpose()
}

/// Parses a stored enum word.
pub(crate) fn word<T: FromStr>(s: &str) -> Result<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("unexpected value '{s}'")))
}

/// Parses stored JSON text.
pub(crate) fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("bad JSON: {e}")))
}

/// Size of the batches of multi-row statements (well under both backends' parameter limits).
pub(crate) const BATCH: usize = 400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(normalize_url("/tmp/x.db"), "sqlite:///tmp/x.db");
        assert_eq!(normalize_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            sqlite_path("sqlite:///tmp/x.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
    }
}
