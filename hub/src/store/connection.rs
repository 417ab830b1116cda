//! Connections and transactions: [`Conn`] runs statements on whichever backend is behind it;
//! [`Tx`] is a write transaction that commits or rolls back when dropped.

use std::sync::Arc;

use sqlx::Postgres;
use sqlx::pool::PoolConnection;
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use super::group_commit::Writer;
use super::sqlite::SqliteDb;
use super::{Param, Result, Row, StoreError, postgres, sqlite};
use crate::params;

/// A connection to either backend: a write transaction, or a connection for reads.
pub struct Conn(pub(super) ConnKind);

pub(super) enum ConnKind {
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
            ConnKind::Sqlite(c) => sqlite::fetch(c, sql, params),
            ConnKind::SqliteWrite(w) => sqlite::fetch(&w.conn, sql, params),
            ConnKind::PgTx(tx) => postgres::fetch(tx, sql, params).await,
            ConnKind::Pg(c) => postgres::fetch(c, sql, params).await,
            ConnKind::Closed => Err(closed()),
        }
    }

    /// Runs a statement; returns how many rows it changed.
    pub async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        refuse_nul(params)?;
        match &mut self.0 {
            ConnKind::Sqlite(c) => sqlite::execute(c, sql, params),
            ConnKind::SqliteWrite(w) => sqlite::execute(&w.conn, sql, params),
            ConnKind::PgTx(tx) => postgres::execute(tx, sql, params).await,
            ConnKind::Pg(c) => postgres::execute(c, sql, params).await,
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

/// A write transaction: commit it, or it rolls back when dropped.
pub struct Tx {
    conn: Conn,
    done: bool,
    /// The SQLite store, to take the writer again for the group commit.
    sqlite: Option<Arc<SqliteDb>>,
}

impl Tx {
    /// A transaction on the SQLite writer, in the savepoint of its operation.
    pub(super) fn sqlite(writer: OwnedMutexGuard<Writer>, db: Arc<SqliteDb>) -> Tx {
        Tx {
            conn: Conn(ConnKind::SqliteWrite(writer)),
            done: false,
            sqlite: Some(db),
        }
    }

    /// A PostgreSQL transaction.
    pub(super) fn postgres(tx: sqlx::Transaction<'static, Postgres>) -> Tx {
        Tx {
            conn: Conn(ConnKind::PgTx(tx)),
            done: false,
            sqlite: None,
        }
    }

    /// Commits the transaction; returns once its changes are durable and visible to readers.
    pub async fn commit(mut self) -> Result<()> {
        self.done = true;
        match std::mem::replace(&mut self.conn.0, ConnKind::Closed) {
            ConnKind::SqliteWrite(w) => Writer::commit_operation(w, self.sqlite.take()).await,
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
