//! The hub's memory with many idle console WebSockets: starts the hub binary (SQLite), opens
//! 2,000 console sockets that read their `hello` and then stay idle, and prints the hub
//! process's resident memory (VmRSS) before and after.
//!
//! `cargo bench -p orchestratia-hub --bench consoles` (add `-- --quick` for 200 consoles, or
//! `-- --consoles N`).

use std::time::Duration;

use futures_util::StreamExt;
use orchestratia_testkit::{Backend, HubOptions, TestHub, connect_console};

/// The hub process's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let n: usize = args
        .iter()
        .position(|a| a == "--consoles")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 200 } else { 2000 });
    // Every console comes from 127.0.0.1: lift the per-address cap (1,000 by default) above n.
    let cap = (n + 100).to_string();
    let hub = TestHub::start_with(HubOptions {
        backend: Backend::Sqlite,
        args: vec!["--max-connections-per-address".into(), cap],
        ..HubOptions::default()
    })
    .await
    .expect("hub starts");
    let pid = hub.pid().expect("hub pid");
    let admin = hub.admin();
    // One request so the hub has touched its store and HTTP paths before the baseline.
    admin.create_project("bench").await.expect("project");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);
    let mut consoles = Vec::with_capacity(n);
    for _ in 0..n {
        let mut ws = connect_console(&admin).await;
        // The hub's hello: the socket's task runs.
        let _ = ws.next().await;
        consoles.push(ws);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    let per = (after.saturating_sub(before)) as f64 / n as f64;
    println!("hub RSS with 0 consoles:      {:8.1} MiB", mib(before));
    println!("hub RSS with {n} idle consoles: {:8.1} MiB", mib(after));
    println!("per idle console:             {per:8.1} KiB");
    drop(consoles);
}
