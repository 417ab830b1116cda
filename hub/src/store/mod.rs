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

// The tables, one module each.
pub mod contracts; // contracts: what a task published, the inputs of its downstream
pub mod deps; // dependencies: `blocks` and `input` edges between tasks
pub mod events; // events: the append-only log every timeline is read from
pub mod humans; // interventions, plans, permission_requests, notes: what waits for a human
pub mod projects; // projects: namespaces with their task-number and phase counters
pub mod prompts; // prompts: messages queued as an agent's next prompt
pub mod reminders; // inbox_reminders: waiting items announced again past their deadline
pub mod replicas; // replicas, leases, bus_payloads: hub replicas sharing the database
pub mod rules; // permission_rules: what decides tool calls without a human
pub mod servers; // servers: agent daemons, capabilities, status, heartbeats
pub mod sessions; // sessions and session_chunks: agent processes and their recordings
pub mod tasks; // tasks: the graph's nodes, with status, server, phase and result
pub mod tokens; // tokens: every credential, by the SHA-256 of its text
pub mod usage; // session_usage: what each session's model calls cost
pub mod workspaces; // workspaces, review_comments: tasks' git worktrees and their review

// The driver underneath them.
mod connection; // Conn and Tx: statements on either backend, commit or roll back
mod database; // Store: open and migrate the database, hand out connections
mod error; // StoreError
mod group_commit; // the SQLite writer: operations in savepoints, committed together
mod listen; // PostgreSQL LISTEN/NOTIFY and the replica's identity lock
mod location; // where the database lives: default path, URLs, private files
mod postgres; // PostgreSQL: pool, binding, reading rows
mod sqlite; // SQLite: the file, its connections and checkpoints, running statements
mod values; // Param and Row: values in, rows out

pub use connection::{Conn, Tx};
pub use database::{Backend, Store};
pub use error::{Result, StoreError};
pub use listen::{BusListener, Notifier, ReplicaLock};
pub use location::{default_sqlite_path, redact};
pub(crate) use values::{BATCH, placeholders};
pub use values::{Param, Row};
