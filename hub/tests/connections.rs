//! Slow and numerous clients cannot starve the hub, and a restart does not wait for long-polls:
//! - a connection that never finishes its request headers is closed after the header timeout;
//! - connections over the per-address or total cap get `/health` and a 503 for everything
//!   else, and the hub serves normally again once they close;
//! - on SIGTERM an open long-poll is answered at once, consoles are told the hub restarts, and
//!   the process exits.

use std::time::Duration;

use futures_util::StreamExt;
use orchestratia_proto::api::EventPage;
use orchestratia_testkit::{HubOptions, TestHub, connect_console, eventually};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;

async fn hub_with(args: &[&str]) -> TestHub {
    TestHub::start_with(HubOptions {
        args: args.iter().map(|a| a.to_string()).collect(),
        ..HubOptions::default()
    })
    .await
    .expect("a SQLite hub starts")
}

fn addr(hub: &TestHub) -> String {
    format!("127.0.0.1:{}", hub.port())
}

/// One GET on a fresh connection: the status and the body.
async fn get(hub: &TestHub, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr(hub)).await.expect("connect");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        hub.admin_token
    );
    s.write_all(req.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut raw))
        .await
        .expect("the hub answers within 20 s")
        .expect("read the answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A connection that sent half a request line and stays silent.
async fn half_open(hub: &TestHub) -> TcpStream {
    let mut s = TcpStream::connect(addr(hub)).await.expect("connect");
    s.write_all(b"GET /api/v1/heal").await.expect("send");
    s
}

/// Whether the hub closes `s` within 20 s (it may answer first, 408 say).
async fn closed_by_hub(mut s: TcpStream) -> bool {
    let mut sink = Vec::new();
    matches!(
        tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut sink)).await,
        Ok(Ok(_)) | Ok(Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_headers_time_out() {
    let hub = hub_with(&["--header-timeout", "300ms"]).await;
    let half = half_open(&hub).await;
    let mut headers_only = TcpStream::connect(addr(&hub)).await.expect("connect");
    headers_only
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: hub\r\n")
        .await
        .expect("send");
    let silent = TcpStream::connect(addr(&hub)).await.expect("connect");
    assert!(
        closed_by_hub(half).await,
        "a connection with half a request line is never closed"
    );
    assert!(
        closed_by_hub(headers_only).await,
        "a connection whose headers never end is never closed"
    );
    assert!(
        closed_by_hub(silent).await,
        "a connection that sends nothing is never closed"
    );
    let (status, body) = get(&hub, "/api/v1/health").await;
    assert_eq!(status, 200, "{body}");
}

/// `open` idle connections fill the cap; `/health` answers, other routes answer 503, and the
/// hub serves normally once they close.
async fn over_the_cap(hub: &TestHub, open: usize) {
    let mut idle = Vec::new();
    for _ in 0..open {
        idle.push(half_open(hub).await);
    }
    let (status, body) = get(hub, "/api/v1/health").await;
    assert_eq!(status, 200, "/health answers over the cap: {body}");
    assert!(body.contains("\"ok\""), "{body}");
    let (status, body) = get(hub, "/api/v1/projects").await;
    assert_eq!(status, 503, "other routes are refused over the cap: {body}");
    let err: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(err["error"], "unavailable", "{body}");
    assert!(err["detail"].as_str().is_some_and(|d| !d.is_empty()));

    // Many more idle connections over the cap do not take /health away either.
    for _ in 0..150 {
        idle.push(half_open(hub).await);
    }
    let (status, body) = get(hub, "/api/v1/health").await;
    assert_eq!(
        status, 200,
        "/health answers with many over the cap: {body}"
    );

    drop(idle);
    eventually(
        20,
        "normal service after the idle connections close",
        || async { (get(hub, "/api/v1/projects").await.0 == 200).then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_address_cap_keeps_health() {
    let hub = hub_with(&[
        "--header-timeout",
        "60s",
        "--max-connections-per-address",
        "4",
    ])
    .await;
    over_the_cap(&hub, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_cap_keeps_health() {
    let hub = hub_with(&["--header-timeout", "60s", "--max-connections", "3"]).await;
    over_the_cap(&hub, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_long_polls_and_exits() {
    let mut hub = hub_with(&[]).await;
    let admin = hub.admin();
    let poll = tokio::spawn(async move {
        admin
            .get_waiting::<EventPage>("/events?wait=300s", Duration::from_secs(300))
            .await
    });
    let mut console = connect_console(&hub.admin()).await;
    let hello = tokio::time::timeout(Duration::from_secs(10), console.next()).await;
    assert!(matches!(hello, Ok(Some(Ok(Message::Text(_))))), "{hello:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !poll.is_finished(),
        "the long-poll waits while nothing happens"
    );

    let pid = hub.pid().expect("the hub runs").to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("run kill");
    assert!(kill.success());

    let status = hub.wait_exit(Duration::from_secs(30)).await;
    let status = status.expect("the hub exits within 30 s of SIGTERM with a long-poll open");
    assert!(status.success(), "{status:?}");
    let page = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("the long-poll ended")
        .expect("poll task")
        .expect("the long-poll was answered before the hub exited");
    assert!(
        page.events.is_empty(),
        "nothing happened: {:?}",
        page.events
    );

    let mut told = false;
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(5), console.next()).await {
        if let Message::Close(Some(frame)) = m {
            told = u16::from(frame.code) == 1012;
            break;
        }
    }
    assert!(told, "the console is told the hub restarts (close 1012)");
}
