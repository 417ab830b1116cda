//! The store: the only place with SQL. Every statement is written once, with `$N`
//! placeholders, integer milliseconds for times, integers for flags, text for ids and JSON, and
//! runs unchanged on both backends:
//!
//! - **PostgreSQL** through sqlx (a pool; the database serializes what must be serial).
//! - **SQLite** in-process through rusqlite, on one writer connection and a few readers (WAL).
//!   sqlx's SQLite driver hands each statement to a worker thread, a round trip of ~45 µs on
//!   this 2-core machine even when idle; a completion with its cascade runs ~20 statements on
//!   the single writer, so that capped the hub near 500 completions a second. In-process the
//!   same statements take a few µs each. Both crates link the same `libsqlite3-sys`.
//!
//! Ids that people type (tasks, questions, permission requests: by a unique prefix) are random
//! UUIDv4; ids that only machines use (sessions, dependencies) are time-ordered UUIDv7, so
//! their inserts land on the same index pages instead of random ones.
//!
//! Migrations for both backends run through sqlx (`migrations/sqlite`, `migrations/postgres`).
//! Functions take `&mut Conn`, so the service layer composes several in one transaction
//! ([`Store::write`]) or runs them on a read connection ([`Store::read`]).

pub mod contracts;
pub mod deps;
pub mod events;
pub mod humans;
mod location;
pub mod projects;
pub mod prompts;
pub mod servers;
pub mod sessions;
pub mod tasks;
pub mod tokens;
mod values;

use location::{create_private_dir, create_private_file, sqlite_path};
pub use location::{default_sqlite_path, normalize_url, redact};
use values::Val;
pub use values::{Param, Row};

use crate::params;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Column, Postgres, Row as _, TypeInfo};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};
use uuid::Uuid;

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
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("cannot open database {url}: {reason}")]
    Open { url: String, reason: String },
    /// Text with a NUL character: PostgreSQL cannot store it, so neither backend does.
    #[error("text may not contain a NUL character")]
    Nul,
}

impl StoreError {
    /// True for a violated unique constraint (a concurrent duplicate).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(e)) => e.is_unique_violation(),
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            _ => false,
        }
    }
}

/// Shorthand for store results.
pub type Result<T> = std::result::Result<T, StoreError>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Read connections kept open on a SQLite file.
const SQLITE_READERS: usize = 4;

/// A connection to either backend: a write transaction, or a connection for reads.
pub struct Conn(ConnKind);

enum ConnKind {
    /// A SQLite read connection.
    Sqlite(OwnedMutexGuard<rusqlite::Connection>),
    /// The SQLite writer, inside the savepoint of one operation.
    SqliteWrite(OwnedMutexGuard<Writer>),
    PgTx(sqlx::Transaction<'static, Postgres>),
    Pg(PoolConnection<Postgres>),
    /// A transaction that was committed.
    Closed,
}

/// The store's last guard against NUL in text (the API refuses it before): the same answer on
/// both backends instead of PostgreSQL's error.
fn refuse_nul(params: &[Param]) -> Result<()> {
    if params
        .iter()
        .any(|p| matches!(p, Param::Text(t) if t.contains('\0')))
    {
        return Err(StoreError::Nul);
    }
    Ok(())
}

fn closed() -> StoreError {
    StoreError::Corrupt("the transaction is already committed".into())
}

impl Conn {
    /// Runs a statement and returns its rows.
    pub async fn fetch(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Row>> {
        refuse_nul(params)?;
        match &mut self.0 {
            ConnKind::Sqlite(c) => sqlite_fetch(c, sql, params),
            ConnKind::SqliteWrite(w) => sqlite_fetch(&w.conn, sql, params),
            ConnKind::PgTx(tx) => pg_fetch(tx, sql, params).await,
            ConnKind::Pg(c) => pg_fetch(c, sql, params).await,
            ConnKind::Closed => Err(closed()),
        }
    }

    /// Runs a statement; returns how many rows it changed.
    pub async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        refuse_nul(params)?;
        match &mut self.0 {
            ConnKind::Sqlite(c) => sqlite_execute(c, sql, params),
            ConnKind::SqliteWrite(w) => sqlite_execute(&w.conn, sql, params),
            ConnKind::PgTx(tx) => Ok(pg_query(sql, params)
                .execute(&mut **tx)
                .await?
                .rows_affected()),
            ConnKind::Pg(c) => Ok(pg_query(sql, params)
                .execute(&mut **c)
                .await?
                .rows_affected()),
            ConnKind::Closed => Err(closed()),
        }
    }

    /// The first row, if any.
    pub async fn fetch_optional(&mut self, sql: &str, params: &[Param]) -> Result<Option<Row>> {
        Ok(self.fetch(sql, params).await?.into_iter().next())
    }

    /// Exactly one row.
    pub async fn fetch_one(&mut self, sql: &str, params: &[Param]) -> Result<Row> {
        self.fetch_optional(sql, params)
            .await?
            .ok_or_else(|| StoreError::Corrupt("expected a row".into()))
    }

    /// True on PostgreSQL (for the few statements whose text differs by backend).
    pub fn is_postgres(&self) -> bool {
        matches!(self.0, ConnKind::PgTx(_) | ConnKind::Pg(_))
    }

    /// The rowid of the last row this SQLite connection inserted (`None` on PostgreSQL).
    pub fn last_insert_rowid(&self) -> Option<i64> {
        match &self.0 {
            ConnKind::Sqlite(c) => Some(c.last_insert_rowid()),
            ConnKind::SqliteWrite(w) => Some(w.conn.last_insert_rowid()),
            _ => None,
        }
    }

    /// Serializes graph changes of one project across concurrent transactions (PostgreSQL;
    /// SQLite has one writer already).
    pub async fn lock_project(&mut self, project: Uuid) -> Result<()> {
        if matches!(self.0, ConnKind::PgTx(_)) {
            self.execute(
                "SELECT id FROM projects WHERE id = $1 FOR UPDATE",
                &params![project],
            )
            .await?;
        }
        Ok(())
    }
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

fn sqlite_bind(
    stmt: &mut rusqlite::CachedStatement<'_>,
    sql: &str,
    params: &[Param],
) -> Result<()> {
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

fn sqlite_fetch(c: &rusqlite::Connection, sql: &str, params: &[Param]) -> Result<Vec<Row>> {
    let mut stmt = c.prepare_cached(sql)?;
    sqlite_bind(&mut stmt, sql, params)?;
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

fn sqlite_execute(c: &rusqlite::Connection, sql: &str, params: &[Param]) -> Result<u64> {
    let mut stmt = c.prepare_cached(sql)?;
    sqlite_bind(&mut stmt, sql, params)?;
    Ok(stmt.raw_execute()? as u64)
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

fn pg_query<'q>(sql: &str, params: &[Param]) -> PgQuery<'q> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for p in params {
        q = match p {
            Param::Int(v) => q.bind(*v),
            Param::Text(v) => q.bind(v.clone()),
            Param::Blob(v) => q.bind(v.clone()),
            Param::NullInt => q.bind(None::<i64>),
            Param::NullText => q.bind(None::<String>),
        };
    }
    q
}

async fn pg_fetch(c: &mut sqlx::PgConnection, sql: &str, params: &[Param]) -> Result<Vec<Row>> {
    let rows: Vec<PgRow> = pg_query(sql, params).fetch_all(c).await?;
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let names: Arc<Vec<String>> = Arc::new(
        first
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect(),
    );
    let kinds: Vec<String> = first
        .columns()
        .iter()
        .map(|c| c.type_info().name().to_string())
        .collect();
    rows.iter()
        .map(|r| {
            let vals = kinds
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    Ok(match k.as_str() {
                        "INT8" => r.try_get::<Option<i64>, _>(i)?.map_or(Val::Null, Val::Int),
                        "INT4" => r
                            .try_get::<Option<i32>, _>(i)?
                            .map_or(Val::Null, |v| Val::Int(v.into())),
                        "INT2" => r
                            .try_get::<Option<i16>, _>(i)?
                            .map_or(Val::Null, |v| Val::Int(v.into())),
                        "BOOL" => r
                            .try_get::<Option<bool>, _>(i)?
                            .map_or(Val::Null, |v| Val::Int(v as i64)),
                        "BYTEA" => r
                            .try_get::<Option<Vec<u8>>, _>(i)?
                            .map_or(Val::Null, Val::Blob),
                        _ => r
                            .try_get::<Option<String>, _>(i)?
                            .map_or(Val::Null, Val::Text),
                    })
                })
                .collect::<Result<Vec<Val>>>()?;
            Ok(Row {
                names: names.clone(),
                vals,
            })
        })
        .collect()
}

/// A write transaction: commit it, or it rolls back when dropped.
pub struct Tx {
    conn: Conn,
    done: bool,
    /// The SQLite store, to take the writer again for the group commit.
    sqlite: Option<Arc<SqliteDb>>,
}

impl Tx {
    /// Commits the transaction; returns once its changes are durable and visible to readers.
    pub async fn commit(mut self) -> Result<()> {
        self.done = true;
        match std::mem::replace(&mut self.conn.0, ConnKind::Closed) {
            ConnKind::SqliteWrite(mut w) => {
                if let Err(e) = w.conn.execute_batch("RELEASE op") {
                    w.abandon_operation();
                    return Err(e.into());
                }
                let (done, wait) = oneshot::channel();
                w.waiting.push(done);
                drop(w);
                let db = self.sqlite.take().ok_or_else(|| {
                    StoreError::Corrupt("a SQLite transaction without its store".into())
                })?;
                Writer::flush(&db).await;
                match wait.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(StoreError::Corrupt(format!("the commit failed: {e}"))),
                    Err(_) => Err(StoreError::Corrupt("the commit was lost".into())),
                }
            }
            ConnKind::PgTx(tx) => Ok(tx.commit().await?),
            ConnKind::Sqlite(_) | ConnKind::Pg(_) | ConnKind::Closed => Ok(()),
        }
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if !self.done
            && let ConnKind::SqliteWrite(w) = &mut self.conn.0
        {
            w.abandon_operation();
        }
    }
}

/// The SQLite writer and its group commit. Each operation runs in a savepoint of one open
/// transaction; a finished operation queues for the commit and takes the writer again, and
/// whoever gets it first commits every queued operation at once. Under load one COMMIT (and
/// its WAL frames, shared pages written once) covers many operations; alone, an operation
/// commits by itself. A failed operation rolls back to its savepoint, leaving the others.
struct Writer {
    conn: rusqlite::Connection,
    /// A transaction is open (some operations in it may wait for their commit).
    open: bool,
    waiting: Vec<oneshot::Sender<std::result::Result<(), String>>>,
}

impl Writer {
    /// Undoes the current operation; closes the transaction if nothing else waits in it.
    fn abandon_operation(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK TO op; RELEASE op;");
        if self.waiting.is_empty() && self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.open = false;
        }
    }

    /// Commits every operation waiting for it (if another flusher has not already).
    async fn flush(db: &Arc<SqliteDb>) {
        let mut w = db.writer.clone().lock_owned().await;
        if !w.open || w.waiting.is_empty() {
            return;
        }
        let result = w.conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        if result.is_err() {
            let _ = w.conn.execute_batch("ROLLBACK");
        }
        w.open = false;
        for waiter in w.waiting.drain(..) {
            let _ = waiter.send(result.clone());
        }
    }
}

impl std::ops::Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

struct SqliteDb {
    path: PathBuf,
    writer: Arc<Mutex<Writer>>,
    readers: Vec<Arc<Mutex<rusqlite::Connection>>>,
    next: AtomicUsize,
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

fn open_sqlite_conn(path: &std::path::Path) -> Result<rusqlite::Connection> {
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

impl Store {
    /// Opens (creating if needed) the database at `url` and runs the migrations.
    pub async fn open(url: &str) -> Result<Store> {
        let url = normalize_url(url);
        let open_err = |reason: String| StoreError::Open {
            url: redact(&url),
            reason,
        };
        if url.starts_with("sqlite:") {
            let path =
                sqlite_path(&url).ok_or_else(|| open_err("a SQLite file path is needed".into()))?;
            if let Some(parent) = path.parent()
                && !parent.as_os_str().is_empty()
            {
                create_private_dir(parent).map_err(|e| open_err(e.to_string()))?;
            }
            create_private_file(&path).map_err(|e| open_err(e.to_string()))?;
            // Migrations through sqlx; WAL is a property of the file, set once here.
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await
                .map_err(|e| open_err(e.to_string()))?;
            SQLITE_MIGRATIONS.run(&pool).await?;
            pool.close().await;
            let writer = Arc::new(Mutex::new(Writer {
                conn: open_sqlite_conn(&path)?,
                open: false,
                waiting: Vec::new(),
            }));
            let readers = (0..SQLITE_READERS)
                .map(|_| open_sqlite_conn(&path).map(|c| Arc::new(Mutex::new(c))))
                .collect::<Result<Vec<_>>>()?;
            let db = Arc::new(SqliteDb {
                path: path.clone(),
                writer,
                readers,
                next: AtomicUsize::new(0),
            });
            spawn_checkpointer(&db)?;
            Ok(Store {
                pools: Arc::new(Pools::Sqlite(db)),
            })
        } else {
            let opts = sqlx::postgres::PgConnectOptions::from_str(&url)
                .map_err(|e| open_err(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts)
                .await
                .map_err(|e| open_err(e.to_string()))?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            Ok(Store {
                pools: Arc::new(Pools::Postgres(pool)),
            })
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match &*self.pools {
            Pools::Sqlite(_) => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// A connection for reads.
    pub async fn read(&self) -> Result<Conn> {
        match &*self.pools {
            Pools::Sqlite(db) => {
                // A free reader if there is one, else wait for the next in turn.
                for r in &db.readers {
                    if let Ok(g) = r.clone().try_lock_owned() {
                        return Ok(Conn(ConnKind::Sqlite(g)));
                    }
                }
                let i = db.next.fetch_add(1, Ordering::Relaxed) % db.readers.len();
                Ok(Conn(ConnKind::Sqlite(
                    db.readers[i].clone().lock_owned().await,
                )))
            }
            Pools::Postgres(p) => Ok(Conn(ConnKind::Pg(p.acquire().await?))),
        }
    }

    /// A write transaction; commit it or it rolls back on drop.
    pub async fn write(&self) -> Result<Tx> {
        match &*self.pools {
            Pools::Sqlite(db) => {
                let mut w = db.writer.clone().lock_owned().await;
                if !w.open {
                    w.conn.execute_batch("BEGIN IMMEDIATE")?;
                    w.open = true;
                }
                if let Err(e) = w.conn.execute_batch("SAVEPOINT op") {
                    if w.waiting.is_empty() {
                        let _ = w.conn.execute_batch("ROLLBACK");
                        w.open = false;
                    }
                    return Err(e.into());
                }
                Ok(Tx {
                    conn: Conn(ConnKind::SqliteWrite(w)),
                    done: false,
                    sqlite: Some(db.clone()),
                })
            }
            Pools::Postgres(p) => Ok(Tx {
                conn: Conn(ConnKind::PgTx(p.begin().await?)),
                done: false,
                sqlite: None,
            }),
        }
    }

    /// Closes the PostgreSQL pool (SQLite connections close when the store is dropped).
    pub async fn close(&self) {
        if let Pools::Postgres(p) = &*self.pools {
            p.close().await;
        }
    }
}

/// Checkpoints the WAL from a connection of its own, off the writer's path: with automatic
/// checkpoints a commit now and then paid for copying thousands of pages back into the
/// database file (and its fsync). A passive checkpoint never blocks the writer or readers.
fn spawn_checkpointer(db: &Arc<SqliteDb>) -> Result<()> {
    let conn = open_sqlite_conn(&db.path)?;
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

    #[tokio::test]
    async fn sqlite_binds_numbered_parameters_by_name() {
        let c = rusqlite::Connection::open_in_memory().expect("db");
        // $2 appears before $1: binding must follow the numbers, not the order of appearance.
        let rows = sqlite_fetch(
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
