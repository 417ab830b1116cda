//! The HTTP server's accept loop (HTTP/1.1 with upgrades, for the WebSockets), built so that
//! slow or numerous clients cannot starve the hub:
//! - a client must send a request's full headers within `Limits::header_timeout` of connecting
//!   or of its previous response, or it is disconnected;
//! - connections are counted per client address and in total; one over a cap is still
//!   accepted but served `/health` alone (anything else answers 503 and closes), with a short
//!   header timeout, from a small pool whose oldest member is dropped when a new one needs
//!   room: `/health` keeps answering however many idle connections are open;
//! - the total cap is lowered to what the process's open-file limit leaves, so accepting never
//!   fails for want of a file descriptor;
//! - on shutdown, accepting stops, idle connections close, and open requests get a bounded
//!   grace period.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use orchestratia_proto::api::ErrorBody;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::config::Limits;

/// How many connections over a cap are served at once; when full, the oldest is dropped.
const OVERFLOW_SLOTS: usize = 64;
/// The header timeout of a connection over a cap (the configured one, if shorter).
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// File descriptors left for the database, logs, outgoing requests and the overflow pool when
/// the total cap is fitted to the open-file limit.
const RESERVED_FDS: u64 = 256 + OVERFLOW_SLOTS as u64;
/// The open-file limit the hub asks for at most when it raises its own.
const WANTED_FDS: u64 = 1 << 20;

/// Serves `app` on `listener` until `stop` turns true, then lets open requests finish for up
/// to `grace` (long-polls are answered at once by the hub itself) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    grace: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let caps = Arc::new(Caps::new(&limits));
    let header_timeout = (!limits.header_timeout.is_zero()).then_some(limits.header_timeout);
    let overflow_timeout =
        Some(header_timeout.map_or(OVERFLOW_HEADER_TIMEOUT, |t| t.min(OVERFLOW_HEADER_TIMEOUT)));
    let busy_app = app.clone().layer(middleware::from_fn(health_only));
    // Every connection task holds a receiver: `closed()` resolves once they have all ended.
    let (alive_tx, alive_rx) = watch::channel(());
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors (despite the caps) or a connection reset before it
                    // was accepted: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        let ip = peer.ip().to_canonical();
        let conn = Conn {
            stop: stop.clone(),
            grace,
            alive: alive_rx.clone(),
        };
        match caps.admit(ip) {
            Some(slot) => {
                let tcp = Held { tcp, _place: slot };
                tokio::spawn(conn.run(tcp, app.clone(), header_timeout, true));
            }
            None => caps.overflow(|place| {
                let tcp = Held { tcp, _place: place };
                tokio::spawn(conn.run(tcp, busy_app.clone(), overflow_timeout, false))
                    .abort_handle()
            }),
        }
    }
    drop(listener);
    drop(alive_rx);
    let _ = tokio::time::timeout(grace + Duration::from_secs(1), alive_tx.closed()).await;
}

/// Resolves once `stop` is true.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// What a connection task needs besides its socket.
struct Conn {
    stop: watch::Receiver<bool>,
    grace: Duration,
    alive: watch::Receiver<()>,
}

impl Conn {
    /// Serves one connection (after an upgrade, the WebSocket task owns the socket).
    async fn run<G: Send + Unpin + 'static>(
        mut self,
        tcp: Held<G>,
        app: Router,
        header_timeout: Option<Duration>,
        keep_alive: bool,
    ) {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(keep_alive);
        let conn = builder
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app))
            .with_upgrades();
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = stopped(&mut self.stop) => {
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(self.grace, conn).await;
            }
        }
        drop(self.alive);
    }
}

/// Answers `/health` and refuses everything else: the service of connections over a cap.
async fn health_only(req: Request, next: Next) -> Response {
    if req
        .uri()
        .path()
        .strip_prefix(orchestratia_proto::API_PREFIX)
        == Some("/health")
    {
        return next.run(req).await;
    }
    let body = ErrorBody {
        error: "unavailable".into(),
        detail: "the hub has too many connections open (from this address or in all); \
                 try again later"
            .into(),
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONNECTION, "close"), (header::RETRY_AFTER, "1")],
        axum::Json(body),
    )
        .into_response()
}

/// The connection caps and what is open under them.
struct Caps {
    total: usize,
    per_address: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
    /// Connections over a cap, oldest first.
    overflow: VecDeque<(u64, AbortHandle)>,
    next_overflow: u64,
}

/// A connection's place under the caps, given back on drop.
struct Slot {
    caps: Arc<Caps>,
    ip: IpAddr,
}

/// A connection's place in the overflow pool, given back on drop.
struct OverflowSlot {
    caps: Arc<Caps>,
    id: u64,
}

impl Caps {
    fn new(limits: &Limits) -> Caps {
        let mut total = limits.max_connections.max(1);
        if let Some(files) = open_file_limit() {
            let fits =
                usize::try_from(files.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(usize::MAX);
            if fits < total {
                tracing::warn!(
                    open_files = files,
                    max_connections = fits,
                    "the open-file limit is low: connections are capped lower than asked"
                );
                total = fits;
            }
        }
        Caps {
            total,
            per_address: limits.max_connections_per_address.clamp(1, total),
            open: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a connection from `ip`, or `None` when a cap is reached.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut open = self.lock();
        let from_ip = open.by_address.get(&ip).copied().unwrap_or(0);
        if open.total >= self.total || from_ip >= self.per_address {
            return None;
        }
        open.total += 1;
        open.by_address.insert(ip, from_ip + 1);
        Some(Slot {
            caps: self.clone(),
            ip,
        })
    }

    /// Starts a connection over a cap with `spawn` (given its place in the pool) and drops the
    /// oldest ones beyond the pool's size.
    fn overflow(self: &Arc<Self>, spawn: impl FnOnce(OverflowSlot) -> AbortHandle) {
        let evicted: Vec<AbortHandle> = {
            // Spawned under the lock, so the task cannot end (and leave the pool) before it
            // is in it.
            let mut open = self.lock();
            let id = open.next_overflow;
            open.next_overflow += 1;
            let handle = spawn(OverflowSlot {
                caps: self.clone(),
                id,
            });
            open.overflow.push_back((id, handle));
            let excess = open.overflow.len().saturating_sub(OVERFLOW_SLOTS);
            open.overflow.drain(..excess).map(|(_, h)| h).collect()
        };
        for h in evicted {
            h.abort();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.caps.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.by_address.remove(&self.ip);
            }
        }
    }
}

impl Drop for OverflowSlot {
    fn drop(&mut self) {
        let mut open = self.caps.lock();
        if let Some(i) = open.overflow.iter().position(|(id, _)| *id == self.id) {
            open.overflow.remove(i);
        }
    }
}

/// The process's open-file limit (soft), when known.
#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass, nothing else.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim.rlim_cur)
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

/// Raises the process's open-file limit (soft) towards its hard limit, so the connection caps
/// need not be lowered; returns the limit in effect. A hub process calls it once at start.
#[cfg(unix)]
pub fn raise_open_file_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we pass, nothing else.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        let wanted = lim.rlim_max.min(WANTED_FDS);
        if lim.rlim_cur < wanted {
            let raised = libc::rlimit {
                rlim_cur: wanted,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = wanted;
            }
        }
    }
    Some(lim.rlim_cur)
}

/// Raises the open-file limit: nothing to do here.
#[cfg(not(unix))]
pub fn raise_open_file_limit() -> Option<u64> {
    None
}

/// A socket that holds its place under the caps (`G`) for as long as it is open, also after
/// a WebSocket upgrade took it over from the HTTP connection.
struct Held<G> {
    tcp: TcpStream,
    _place: G,
}

impl<G: Unpin> AsyncRead for Held<G> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl<G: Unpin> AsyncWrite for Held<G> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}
