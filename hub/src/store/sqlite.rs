//! SQLite in-process (rusqlite): the database file with its migrations, one writer and a few
//! reader connections, the WAL checkpoints, and running `$N` statements on a connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};

use super::group_commit::Writer;
use super::location::{create_private_dir, create_private_file};
use super::values::Val;
use super::{Param, Result, Row, StoreError};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// Read connections kept open on a SQLite file.
const SQLITE_READERS: usize = 4;

/// An open SQLite database: its writer and its readers.
pub(super) struct SqliteDb {
    path: PathBuf,
    pub(super) writer: Arc<Mutex<Writer>>,
    readers: Vec<Arc<Mutex<rusqlite::Connection>>>,
    next: AtomicUsize,
}

impl SqliteDb {
    /// Creates the file (private) if needed, runs the migrations and opens the connections.
    /// `open_err` words a failure to create or reach the file.
    pub(super) async fn open(
        path: &Path,
        open_err: impl Fn(String) -> StoreError,
    ) -> Result<Arc<SqliteDb>> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            create_private_dir(parent).map_err(|e| open_err(e.to_string()))?;
        }
        create_private_file(path).map_err(|e| open_err(e.to_string()))?;
        // Migrations through sqlx; WAL is a property of the file, set once here.
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        pool.close().await;
        let writer = Arc::new(Mutex::new(Writer::new(open_conn(path)?)));
        let readers = (0..SQLITE_READERS)
            .map(|_| open_conn(path).map(|c| Arc::new(Mutex::new(c))))
            .collect::<Result<Vec<_>>>()?;
        let db = Arc::new(SqliteDb {
            path: path.to_path_buf(),
            writer,
            readers,
            next: AtomicUsize::new(0),
        });
        spawn_checkpointer(&db)?;
        Ok(db)
    }

    /// A free reader if there is one, else the next in turn once it is free.
    pub(super) async fn reader(&self) -> OwnedMutexGuard<rusqlite::Connection> {
        for r in &self.readers {
            if let Ok(g) = r.clone().try_lock_owned() {
                return g;
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        self.readers[i].clone().lock_owned().await
    }
}

fn open_conn(path: &Path) -> Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open(path)?;
    c.busy_timeout(Duration::from_secs(10))?;
    // NORMAL: in WAL mode a commit is durable against a crash of the hub, not of the OS.
    // mmap and a larger page cache keep reads out of syscalls as the file grows.
    c.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;
         PRAGMA mmap_size = 1073741824; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 0;",
    )?;
    c.set_prepared_statement_cache_capacity(256);
    Ok(c)
}

/// Checkpoints the WAL from a connection of its own, off the writer's path: with automatic
/// checkpoints a commit now and then paid for copying thousands of pages back into the
/// database file (and its fsync). A passive checkpoint never blocks the writer or readers.
fn spawn_checkpointer(db: &Arc<SqliteDb>) -> Result<()> {
    let conn = open_conn(&db.path)?;
    let weak = Arc::downgrade(db);
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while weak.strong_count() > 0 {
                std::thread::sleep(Duration::from_millis(500));
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::debug!(error = %e, "WAL checkpoint");
                }
            }
            // The store is gone: fold the WAL back into the file.
            let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        })
        .map_err(|e| StoreError::Open {
            url: db.path.display().to_string(),
            reason: format!("cannot start the checkpoint thread: {e}"),
        })?;
    Ok(())
}

/// For each SQLite parameter index (from 1), the `N` of its `$N`. SQLite numbers named
/// parameters in the order they first appear, so one pass over the text tells the mapping;
/// asking SQLite for each parameter's name is a linear search per parameter, quadratic on a
/// 400-value multi-row insert. Quoted text is skipped.
fn numbered_params(sql: &str) -> Vec<usize> {
    let bytes = sql.as_bytes();
    let mut order: Vec<usize> = Vec::new();
    let mut seen: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                let q = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                if let Ok(n) = sql[start..end].parse::<usize>() {
                    if seen.len() <= n {
                        seen.resize(n + 1, false);
                    }
                    if !seen[n] {
                        seen[n] = true;
                        order.push(n);
                    }
                }
                i = end.max(i + 1);
            }
            _ => i += 1,
        }
    }
    order
}

fn bind(stmt: &mut rusqlite::CachedStatement<'_>, sql: &str, params: &[Param]) -> Result<()> {
    let order = numbered_params(sql);
    if order.len() != stmt.parameter_count() {
        return Err(StoreError::Corrupt(format!(
            "statement has {} parameters, its text names {}",
            stmt.parameter_count(),
            order.len()
        )));
    }
    for (i, n) in order.into_iter().enumerate() {
        let idx = i + 1;
        let Some(p) = params.get(n.wrapping_sub(1)) else {
            return Err(StoreError::Corrupt(format!("no value for ${n}")));
        };
        match p {
            Param::Int(v) => stmt.raw_bind_parameter(idx, v)?,
            Param::Text(v) => stmt.raw_bind_parameter(idx, v)?,
            Param::Blob(v) => stmt.raw_bind_parameter(idx, v)?,
            Param::NullInt | Param::NullText => {
                stmt.raw_bind_parameter(idx, rusqlite::types::Null)?
            }
        }
    }
    Ok(())
}

/// Runs a statement on a SQLite connection and returns its rows.
pub(super) fn fetch(c: &rusqlite::Connection, sql: &str, params: &[Param]) -> Result<Vec<Row>> {
    let mut stmt = c.prepare_cached(sql)?;
    bind(&mut stmt, sql, params)?;
    let names: Arc<Vec<String>> =
        Arc::new(stmt.column_names().iter().map(|s| s.to_string()).collect());
    let n = names.len();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut vals = Vec::with_capacity(n);
        for i in 0..n {
            use rusqlite::types::ValueRef;
            vals.push(match r.get_ref(i)? {
                ValueRef::Null => Val::Null,
                ValueRef::Integer(v) => Val::Int(v),
                ValueRef::Real(v) => Val::Int(v as i64),
                ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Val::Blob(b.to_vec()),
            });
        }
        out.push(Row {
            names: names.clone(),
            vals,
        });
    }
    Ok(out)
}

/// Runs a statement on a SQLite connection; returns how many rows it changed.
pub(super) fn execute(c: &rusqlite::Connection, sql: &str, params: &[Param]) -> Result<u64> {
    let mut stmt = c.prepare_cached(sql)?;
    bind(&mut stmt, sql, params)?;
    Ok(stmt.raw_execute()? as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params;

    #[test]
    fn parameters_are_numbered_by_first_appearance() {
        assert_eq!(
            numbered_params("SELECT $2, $1, $2, '$9', $10"),
            vec![2, 1, 10]
        );
        assert_eq!(
            numbered_params("INSERT INTO t VALUES ($1, $3), ($1, $4)"),
            vec![1, 3, 4]
        );
    }

    #[tokio::test]
    async fn sqlite_binds_numbered_parameters_by_name() {
        let c = rusqlite::Connection::open_in_memory().expect("db");
        // $2 appears before $1: binding must follow the numbers, not the order of appearance.
        let rows = fetch(
            &c,
            "SELECT $2 AS b, $1 AS a, $2 AS b2",
            &params![1i64, "two"],
        )
        .expect("fetch");
        assert_eq!(rows[0].text("b").ok().as_deref(), Some("two"));
        assert_eq!(rows[0].int("a").ok(), Some(1));
        assert_eq!(rows[0].text("b2").ok().as_deref(), Some("two"));
    }
}
