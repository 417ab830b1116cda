//! The [`Store`] handle: opens (creating and migrating) the database a URL names, and hands
//! out read connections and write transactions on it.

use std::sync::Arc;

use sqlx::postgres::PgPool;

use super::connection::{Conn, ConnKind, Tx};
use super::location::{normalize_url, redact, sqlite_path};
use super::sqlite::SqliteDb;
use super::{Result, StoreError, postgres};

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

enum Pools {
    Sqlite(Arc<SqliteDb>),
    Postgres(PgPool),
}

/// The database behind the hub.
#[derive(Clone)]
pub struct Store {
    pools: Arc<Pools>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `url` and runs the migrations.
    pub async fn open(url: &str) -> Result<Store> {
        let url = normalize_url(url);
        let open_err = |reason: String| StoreError::Open {
            url: redact(&url),
            reason,
        };
        let pools = if url.starts_with("sqlite:") {
            let path =
                sqlite_path(&url).ok_or_else(|| open_err("a SQLite file path is needed".into()))?;
            Pools::Sqlite(SqliteDb::open(&path, open_err).await?)
        } else {
            Pools::Postgres(postgres::open(&url, open_err).await?)
        };
        Ok(Store {
            pools: Arc::new(pools),
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match &*self.pools {
            Pools::Sqlite(_) => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// The PostgreSQL pool (for the bus between replicas), if this is PostgreSQL.
    pub(super) fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        match &*self.pools {
            Pools::Postgres(p) => Some(p),
            Pools::Sqlite(_) => None,
        }
    }

    /// A connection for reads.
    pub async fn read(&self) -> Result<Conn> {
        match &*self.pools {
            Pools::Sqlite(db) => Ok(Conn(ConnKind::Sqlite(db.reader().await))),
            Pools::Postgres(p) => Ok(Conn(ConnKind::Pg(p.acquire().await?))),
        }
    }

    /// A write transaction; commit it or it rolls back on drop.
    pub async fn write(&self) -> Result<Tx> {
        match &*self.pools {
            Pools::Sqlite(db) => {
                let mut w = db.writer.clone().lock_owned().await;
                w.begin_operation()?;
                Ok(Tx::sqlite(w, db.clone()))
            }
            Pools::Postgres(p) => Ok(Tx::postgres(p.begin().await?)),
        }
    }

    /// Closes the PostgreSQL pool (SQLite connections close when the store is dropped).
    pub async fn close(&self) {
        if let Pools::Postgres(p) = &*self.pools {
            p.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params;
    use uuid::Uuid;

    #[cfg(unix)]
    #[tokio::test]
    async fn the_database_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("dir");
        let dir = tmp.path().join("data");
        let path = dir.join("hub.db");
        let store = Store::open(&format!("sqlite://{}", path.display()))
            .await
            .expect("open");
        let mut tx = store.write().await.expect("tx");
        tx.execute(
            "INSERT INTO projects (id, name, created_at) VALUES ($1, 'P', 1)",
            &params![Uuid::new_v4()],
        )
        .await
        .expect("insert");
        tx.commit().await.expect("commit");
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(&dir), 0o700, "the directory");
        for f in ["hub.db", "hub.db-wal", "hub.db-shm"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
    }
}
