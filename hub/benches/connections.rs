//! How many half-open connections (half a request, then silence) the hub holds while `/health`
//! keeps answering, and how fast it answers: p50/p99 of a fresh connection's `GET /health`
//! at each level.
//!
//! Scenario 1 spreads the connections over many client addresses (127.0.1.x, 500 each, under
//! the per-address cap) up to and beyond a total cap of 5,000; scenario 2 opens them all from
//! one address (the default per-address cap of 1,000 applies).
//!
//! `cargo bench -p orchestratia-hub --bench connections`. The hub runs in this process, so the
//! levels stop where this process's open-file limit (raised to its hard limit) runs out.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use orchestratia_hub::{HubConfig, RunningHub};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const TOTAL_CAP: usize = 5_000;
const PER_CLIENT: usize = 500;
const SAMPLES: usize = 40;

async fn start(dir: &std::path::Path) -> RunningHub {
    let db = format!("sqlite://{}", dir.join("hub.db").display());
    let mut config = HubConfig::embedded(&db);
    config.offline_after = Duration::from_secs(3600);
    // Long enough that no half-open connection times out while a level is measured.
    config.limits.header_timeout = Duration::from_secs(120);
    config.limits.max_connections = TOTAL_CAP;
    orchestratia_hub::start(config).await.expect("hub starts")
}

/// A half-open connection from `from`.
async fn half_open(hub: SocketAddr, from: Ipv4Addr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0))?;
    let mut s = socket.connect(hub).await?;
    s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: hub\r\n")
        .await?;
    Ok(s)
}

/// One `GET /health` on a fresh connection from `from`: how long it took, and whether it
/// answered 200.
async fn health(hub: SocketAddr, from: Ipv4Addr) -> (Duration, bool) {
    let t0 = Instant::now();
    let answer = async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(IpAddr::V4(from), 0))?;
        let mut s = socket.connect(hub).await?;
        s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
            .await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        std::io::Result::Ok(raw.starts_with(b"HTTP/1.1 200"))
    };
    let ok = matches!(
        tokio::time::timeout(Duration::from_secs(10), answer).await,
        Ok(Ok(true))
    );
    (t0.elapsed(), ok)
}

/// p50 and p99 of `SAMPLES` health checks from `from`, in ms, and how many failed.
async fn measure(hub: SocketAddr, from: Ipv4Addr) -> (f64, f64, usize) {
    let mut times = Vec::with_capacity(SAMPLES);
    let mut failed = 0;
    for _ in 0..SAMPLES {
        let (t, ok) = health(hub, from).await;
        times.push(t.as_secs_f64() * 1000.0);
        failed += usize::from(!ok);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99), failed)
}

fn client(i: usize) -> Ipv4Addr {
    let n = 1 + i / PER_CLIENT;
    Ipv4Addr::new(127, 0, 1 + (n / 250) as u8, (n % 250) as u8)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let files = orchestratia_hub::listener::raise_open_file_limit().unwrap_or(1024) as usize;
    // Each connection costs two descriptors here (client and hub side), plus some to spare.
    let fits = files.saturating_sub(600) / 2;
    println!("open-file limit {files}: up to {fits} half-open connections");
    println!(
        "hub caps: {TOTAL_CAP} in total, 1,000 per address, header timeout 120 s; {SAMPLES} \
         GET /health per level, each on a fresh connection"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let hub = start(dir.path()).await;
    let addr = hub.addr;
    println!("\nscenario 1: half-open connections from many addresses ({PER_CLIENT} each)");
    println!(
        "{:>8} {:>10} {:>10} {:>8}",
        "open", "p50 ms", "p99 ms", "failed"
    );
    let mut held = Vec::new();
    for level in [0, 1_000, 2_000, 5_000, 8_000] {
        if level > fits {
            println!("{level:>8}  (beyond this process's open-file limit)");
            break;
        }
        while held.len() < level {
            match half_open(addr, client(held.len())).await {
                Ok(s) => held.push(s),
                Err(e) => panic!("opening connection {}: {e}", held.len()),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (p50, p99, failed) = measure(addr, Ipv4Addr::LOCALHOST).await;
        println!("{level:>8} {p50:>10.2} {p99:>10.2} {failed:>8}");
    }
    drop(held);
    tokio::time::sleep(Duration::from_secs(1)).await;

    println!("\nscenario 2: half-open connections from one address (127.0.0.3)");
    println!(
        "{:>8} {:>14} {:>14} {:>14}",
        "open", "same p50/p99", "other p50/p99", "failed"
    );
    let one = Ipv4Addr::new(127, 0, 0, 3);
    let mut held = Vec::new();
    for level in [500, 1_000, 3_000, 6_000] {
        if level > fits {
            println!("{level:>8}  (beyond this process's open-file limit)");
            break;
        }
        while held.len() < level {
            match half_open(addr, one).await {
                Ok(s) => held.push(s),
                Err(e) => panic!("opening connection {}: {e}", held.len()),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (s50, s99, sf) = measure(addr, one).await;
        let (o50, o99, of) = measure(addr, Ipv4Addr::LOCALHOST).await;
        println!(
            "{level:>8} {:>14} {:>14} {:>14}",
            format!("{s50:.2}/{s99:.2}"),
            format!("{o50:.2}/{o99:.2}"),
            format!("{sf}+{of}")
        );
    }
    drop(held);
    hub.shutdown().await;
}
