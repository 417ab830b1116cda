//! The SQLite writer and its group commit. Each operation runs in a savepoint of one open
//! transaction; a finished operation queues for the commit and takes the writer again, and
//! whoever gets it first commits every queued operation at once. Under load one COMMIT (and
//! its WAL frames, shared pages written once) covers many operations; alone, an operation
//! commits by itself. A failed operation rolls back to its savepoint, leaving the others.

use std::sync::Arc;

use tokio::sync::{OwnedMutexGuard, oneshot};

use super::sqlite::SqliteDb;
use super::{Result, StoreError};

/// The one SQLite connection that writes, with the transaction its operations share.
pub(super) struct Writer {
    pub(super) conn: rusqlite::Connection,
    /// A transaction is open (some operations in it may wait for their commit).
    open: bool,
    waiting: Vec<oneshot::Sender<std::result::Result<(), String>>>,
}

impl Writer {
    /// The writer on `conn`, with no transaction open.
    pub(super) fn new(conn: rusqlite::Connection) -> Writer {
        Writer {
            conn,
            open: false,
            waiting: Vec::new(),
        }
    }

    /// Starts an operation: opens the shared transaction if none is, then a savepoint.
    pub(super) fn begin_operation(&mut self) -> Result<()> {
        if !self.open {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.open = true;
        }
        if let Err(e) = self.conn.execute_batch("SAVEPOINT op") {
            if self.waiting.is_empty() {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.open = false;
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// Undoes the current operation; closes the transaction if nothing else waits in it.
    pub(super) fn abandon_operation(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK TO op; RELEASE op;");
        if self.waiting.is_empty() && self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.open = false;
        }
    }

    /// Finishes the current operation, queues it for the commit and waits until a commit
    /// (this one's or another's) covered it.
    pub(super) async fn commit_operation(
        mut w: OwnedMutexGuard<Writer>,
        db: Option<Arc<SqliteDb>>,
    ) -> Result<()> {
        if let Err(e) = w.conn.execute_batch("RELEASE op") {
            w.abandon_operation();
            return Err(e.into());
        }
        let (done, wait) = oneshot::channel();
        w.waiting.push(done);
        drop(w);
        let db =
            db.ok_or_else(|| StoreError::Corrupt("a SQLite transaction without its store".into()))?;
        Writer::flush(&db).await;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Corrupt(format!("the commit failed: {e}"))),
            Err(_) => Err(StoreError::Corrupt("the commit was lost".into())),
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
