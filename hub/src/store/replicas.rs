//! replicas, leases, bus_payloads: the hub replicas sharing a database, the work one replica
//! at a time may do, and bus messages passed by reference.

use orchestratia_proto::api::ReplicaStatus;

use super::{Conn, Result, Row};
use crate::params;

/// A replica not heard from within this is reported dead (it reports every second).
pub const ALIVE_WITHIN_MS: i64 = 5_000;

/// What a replica reports about itself.
#[derive(Debug, Clone, Default)]
pub struct ReplicaReport {
    pub id: String,
    pub url: String,
    pub daemons: u64,
    pub consoles: u64,
    pub heartbeat_p99_us: Option<u64>,
}

/// Records that replica `r.id` is alive now (and what it holds); `started` on its first report.
pub async fn report(c: &mut Conn, r: &ReplicaReport, started: bool, now: i64) -> Result<()> {
    let p99 = r.heartbeat_p99_us.map(|v| v as i64);
    let sql = if started {
        "INSERT INTO replicas (id, url, version, started_at, seen_at, daemons, consoles, heartbeat_p99_us)
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET url = $2, version = $3, started_at = $4, seen_at = $4,
             daemons = $5, consoles = $6, heartbeat_p99_us = $7"
    } else {
        "INSERT INTO replicas (id, url, version, started_at, seen_at, daemons, consoles, heartbeat_p99_us)
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET url = $2, seen_at = $4, daemons = $5, consoles = $6,
             heartbeat_p99_us = $7"
    };
    c.execute(
        sql,
        &params![
            r.id.as_str(),
            r.url.as_str(),
            orchestratia_proto::VERSION,
            now,
            r.daemons as i64,
            r.consoles as i64,
            p99
        ],
    )
    .await?;
    Ok(())
}

fn replica(r: &Row, now: i64) -> Result<ReplicaStatus> {
    let seen_at = r.int("seen_at")?;
    Ok(ReplicaStatus {
        id: r.text("id")?,
        url: r.text("url")?,
        version: r.text("version")?,
        started_at: r.int("started_at")?,
        seen_at,
        alive: now - seen_at <= ALIVE_WITHIN_MS,
        daemons: r.int("daemons")?.max(0) as u64,
        consoles: r.int("consoles")?.max(0) as u64,
        heartbeat_p99_us: r.opt_int("heartbeat_p99_us")?.map(|v| v.max(0) as u64),
    })
}

/// Every replica heard from within `within_ms`, by id.
pub async fn list(c: &mut Conn, now: i64, within_ms: i64) -> Result<Vec<ReplicaStatus>> {
    let rows = c
        .fetch(
            "SELECT id, url, version, started_at, seen_at, daemons, consoles, heartbeat_p99_us
             FROM replicas WHERE seen_at >= $1 ORDER BY id",
            &params![now - within_ms],
        )
        .await?;
    rows.iter().map(|r| replica(r, now)).collect()
}

/// Takes (or keeps) the lease `name` for `holder` until `now + ttl_ms`: true when `holder`
/// holds it now. A lease whose holder stopped renewing it passes to the next taker.
pub async fn take_lease(
    c: &mut Conn,
    name: &str,
    holder: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<bool> {
    c.execute(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET holder = $2, expires_at = $3
         WHERE leases.holder = $2 OR leases.expires_at < $4",
        &params![name, holder, now + ttl_ms, now],
    )
    .await?;
    Ok(lease_holder(c, name, now).await?.as_deref() == Some(holder))
}

/// Who holds the lease `name` now, if anyone.
pub async fn lease_holder(c: &mut Conn, name: &str, now: i64) -> Result<Option<String>> {
    let row = c
        .fetch_optional(
            "SELECT holder FROM leases WHERE name = $1 AND expires_at >= $2",
            &params![name, now],
        )
        .await?;
    row.map(|r| r.text("holder")).transpose()
}

/// Lets go of the lease `name` if `holder` has it (a replica shutting down).
pub async fn release_lease(c: &mut Conn, name: &str, holder: &str) -> Result<()> {
    c.execute(
        "DELETE FROM leases WHERE name = $1 AND holder = $2",
        &params![name, holder],
    )
    .await?;
    Ok(())
}

/// Forgets stored bus messages older than `before` (every replica has read them by then).
pub async fn prune_payloads(c: &mut Conn, before: i64) -> Result<u64> {
    c.execute("DELETE FROM bus_payloads WHERE at < $1", &params![before])
        .await
}
