//! A fleet of light simulated daemons and consoles for load benchmarks. Each daemon is one
//! task holding one real WebSocket with small buffers: it says hello, beats at a fixed
//! interval and, when the hub starts a session on it and it was asked to, streams output
//! frames of that session. Nothing is recorded per daemon but counters, so ten thousand of
//! them fit in a few tens of megabytes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use orchestratia_proto::api::RegisterServer;
use orchestratia_proto::client::HubClient;
use orchestratia_proto::ws::{
    ConsoleToHub, DAEMON_WS_PATH, DaemonToHub, FRAME_HEADER, FrameKind, HubToConsole, HubToDaemon,
};
use orchestratia_proto::{Event, EventKind};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use uuid::Uuid;

/// A registered fleet member: what it needs to connect.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub server_id: Uuid,
    pub api_key: String,
}

/// Registers `n` servers named `{prefix}{i}` in `project` (with repo `app`), `concurrency`
/// registrations at a time, spread over `admins` (one per replica).
pub async fn register_fleet(
    admins: &[HubClient],
    project: &str,
    prefix: &str,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Member>> {
    let jobs = (0..n).map(|i| {
        let admin = admins[i % admins.len()].clone();
        let name = format!("{prefix}{i}");
        async move {
            let token = admin.registration_token(project).await?;
            let body = RegisterServer {
                token: token.token,
                name: name.clone(),
                os: "linux".into(),
                hostname: format!("{name}.load"),
                repos: [("app".to_string(), "/srv/app".to_string())]
                    .into_iter()
                    .collect::<BTreeMap<_, _>>(),
                languages: vec!["rust".into()],
            };
            let reg = admin.register(&body).await?;
            anyhow::Ok(Member {
                name,
                server_id: reg.server_id,
                api_key: reg.api_key,
            })
        }
    });
    futures_util::stream::iter(jobs)
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// How one fleet daemon behaves.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// When the first heartbeat goes, after connecting (spreads the fleet's beats).
    pub first_beat: Duration,
    /// Streams output of the session the hub starts on it: one frame of `bytes` every `every`.
    pub stream: Option<(Duration, usize)>,
}

/// Counters over the whole fleet (and its consoles).
#[derive(Default)]
pub struct FleetStats {
    /// Daemons whose socket is open and hello sent.
    pub connected: AtomicU64,
    /// Daemons whose socket closed (or never opened).
    pub closed: AtomicU64,
    /// Connection failures.
    pub failed: AtomicU64,
    pub heartbeats: AtomicU64,
    pub frames: AtomicU64,
    /// Error messages the hub sent to daemons.
    pub refused: AtomicU64,
    /// Sessions started on streaming daemons (their ids, for consoles to watch).
    pub sessions: Mutex<Vec<Uuid>>,
}

impl FleetStats {
    /// Reads a counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    /// How many sessions streaming daemons were started.
    pub fn session_count(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }
}

/// Small socket buffers: a daemon's messages are small, and ten thousand sockets with the
/// default 128 KiB buffers would measure the load generator, not the hub.
fn small_buffers() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// Starts one fleet daemon on `base`: connects (holding a `gate` permit meanwhile, so the
/// fleet connects a bounded number at a time), says hello, then behaves as `b` says until the
/// socket closes.
pub fn spawn_daemon(
    base: String,
    member: &Member,
    b: Behaviour,
    gate: Arc<Semaphore>,
    stats: Arc<FleetStats>,
) -> tokio::task::JoinHandle<()> {
    let key = member.api_key.clone();
    tokio::spawn(async move {
        let permit = gate.acquire_owned().await;
        let ws = async {
            let client = HubClient::new(&base, Some(key.clone()));
            let mut req = client.ws_url(DAEMON_WS_PATH).into_client_request()?;
            req.headers_mut()
                .insert("Authorization", format!("Bearer {key}").parse()?);
            let (mut ws, _) =
                tokio_tungstenite::connect_async_with_config(req, Some(small_buffers()), true)
                    .await?;
            ws.send(text(&DaemonToHub::Hello {
                version: "load".into(),
                sessions: Vec::new(),
            }))
            .await?;
            anyhow::Ok(ws)
        }
        .await;
        drop(permit);
        let Ok(ws) = ws else {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            stats.closed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        stats.connected.fetch_add(1, Ordering::Relaxed);
        run_daemon(ws, b, &stats).await;
        stats.connected.fetch_sub(1, Ordering::Relaxed);
        stats.closed.fetch_add(1, Ordering::Relaxed);
    })
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn text<T: serde::Serialize>(m: &T) -> Message {
    Message::Text(serde_json::to_string(m).unwrap_or_default().into())
}

/// The daemon's life after hello: beats, answers a session start with `session_active` and
/// (when streaming) sends output frames of that session.
async fn run_daemon(mut ws: Socket, b: Behaviour, stats: &FleetStats) {
    let far = Duration::from_secs(365 * 24 * 3600);
    let mut next_beat = Instant::now() + b.first_beat;
    let mut next_frame = Instant::now() + far;
    let mut session: Option<Uuid> = None;
    let mut seq = 0u64;
    loop {
        let sent = tokio::select! {
            m = ws.next() => {
                let Some(Ok(m)) = m else { return };
                match m {
                    Message::Text(t) => match serde_json::from_str::<HubToDaemon>(t.as_str()) {
                        Ok(HubToDaemon::SessionStart(s)) if session.is_none() => {
                            session = Some(s.session_id);
                            if let Some((every, _)) = b.stream {
                                next_frame = Instant::now() + every;
                                if let Ok(mut all) = stats.sessions.lock() {
                                    all.push(s.session_id);
                                }
                            }
                            ws.send(text(&DaemonToHub::SessionActive {
                                session_id: s.session_id,
                                pid: Some(1),
                                tmux: Some(s.name),
                                hooks: false,
                            }))
                            .await
                        }
                        Ok(HubToDaemon::KeyframeRequest { session_id }) if session == Some(session_id) => {
                            // A console began watching: the screen so far, valid after `seq`.
                            let mut f = output_frame(session_id, seq, 4);
                            f[0] = FrameKind::Keyframe as u8;
                            ws.send(Message::Binary(f.into())).await
                        }
                        Ok(HubToDaemon::Error { .. }) => {
                            stats.refused.fetch_add(1, Ordering::Relaxed);
                            Ok(())
                        }
                        _ => Ok(()),
                    },
                    Message::Close(_) => return,
                    _ => Ok(()),
                }
            }
            () = tokio::time::sleep_until(next_beat) => {
                next_beat += b.heartbeat;
                stats.heartbeats.fetch_add(1, Ordering::Relaxed);
                ws.send(text(&DaemonToHub::Heartbeat { sessions: Vec::new() })).await
            }
            () = tokio::time::sleep_until(next_frame) => {
                let (Some(id), Some((every, bytes))) = (session, b.stream) else {
                    next_frame += far;
                    continue;
                };
                next_frame += every;
                seq += 1;
                stats.frames.fetch_add(1, Ordering::Relaxed);
                ws.send(Message::Binary(output_frame(id, seq, bytes).into())).await
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

/// An encoded output frame of `bytes` printable bytes ending in a newline.
fn output_frame(session: Uuid, seq: u64, bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER + bytes);
    out.push(FrameKind::Output as u8);
    out.extend_from_slice(session.as_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend((0..bytes).map(|i| {
        if i + 1 == bytes {
            b'\n'
        } else {
            b'a' + (i % 26) as u8
        }
    }));
    out
}

/// What the consoles saw, and when each task completion reached the watching one.
#[derive(Default)]
pub struct ConsoleStats {
    pub events: AtomicU64,
    pub output_bytes: AtomicU64,
    pub resyncs: AtomicU64,
    /// Completions awaited: task → (when its request left, the replica it went to).
    pub awaited: Mutex<std::collections::HashMap<Uuid, (Instant, usize)>>,
    /// Completion → console latencies (ms) of awaited tasks, with the replica each went to.
    pub latencies: Mutex<Vec<(f64, usize)>>,
    /// Woken whenever an awaited completion arrives.
    pub arrived: tokio::sync::Notify,
}

impl ConsoleStats {
    /// Notes that the completion of `task` is being requested now, through `replica`.
    pub fn await_completion(&self, task: Uuid, replica: usize) {
        if let Ok(mut a) = self.awaited.lock() {
            a.insert(task, (Instant::now(), replica));
        }
    }

    /// Takes the latencies recorded so far.
    pub fn take_latencies(&self) -> Vec<(f64, usize)> {
        self.latencies
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }

    fn completed(&self, e: &Event) {
        if e.event != EventKind::TaskCompleted {
            return;
        }
        let Some(task) = e.task_id else { return };
        let Some((at, replica)) = self.awaited.lock().ok().and_then(|mut a| a.remove(&task)) else {
            return;
        };
        if let Ok(mut l) = self.latencies.lock() {
            l.push((at.elapsed().as_secs_f64() * 1000.0, replica));
        }
        self.arrived.notify_waiters();
    }
}

/// Opens a console on `admin`'s hub that watches `session` (if any) and reads everything;
/// with `probe`, it times awaited completions. The task ends when the socket closes.
pub async fn spawn_console(
    admin: &HubClient,
    session: Option<Uuid>,
    stats: Arc<ConsoleStats>,
    probe: bool,
) -> tokio::task::JoinHandle<()> {
    let mut ws = crate::connect_console(admin).await;
    tokio::spawn(async move {
        if let Some(session_id) = session
            && ws
                .send(text(&ConsoleToHub::Subscribe { session_id }))
                .await
                .is_err()
        {
            return;
        }
        while let Some(Ok(m)) = ws.next().await {
            match m {
                Message::Text(t) => match serde_json::from_str::<HubToConsole>(t.as_str()) {
                    Ok(HubToConsole::Event { event }) => {
                        stats.events.fetch_add(1, Ordering::Relaxed);
                        if probe {
                            stats.completed(&event);
                        }
                    }
                    Ok(HubToConsole::Resync { .. }) => {
                        stats.resyncs.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                },
                Message::Binary(b) => {
                    stats
                        .output_bytes
                        .fetch_add(b.len() as u64, Ordering::Relaxed);
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    })
}

/// Runs `n` jobs built by `make`, `limit` at a time; returns the elapsed time.
pub async fn run_many<F, Fut>(n: usize, limit: usize, make: F) -> std::time::Duration
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(limit));
    let t0 = std::time::Instant::now();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let fut = make(i);
        handles.push(tokio::spawn(async move {
            fut.await;
            drop(permit);
        }));
    }
    for h in handles {
        h.await.expect("request task");
    }
    t0.elapsed()
}

/// The pair a cascade benchmark completes: `up`, assigned to `server`, and `down`, which waits
/// for `up`'s contract `k`, so completing `up` releases and auto-assigns `down`. Both in
/// `project` (`None`: the hub's only one), on repo `repo`. Returns `up`.
pub async fn cascade_pair(
    c: &HubClient,
    i: usize,
    project: Option<&str>,
    server: &str,
) -> orchestratia_proto::Task {
    use orchestratia_proto::api::{AddDependency, CreateTask};
    let task = |title: String, depends_on: Vec<String>| CreateTask {
        title,
        project: project.map(str::to_string),
        repo: Some("repo".into()),
        depends_on,
        ..Default::default()
    };
    let up = c
        .create_task(&task(format!("up {i}"), vec![]))
        .await
        .expect("up");
    let down = c
        .create_task(&task(format!("down {i}"), vec![up.id.to_string()]))
        .await
        .expect("down");
    c.add_dependency(
        &down.id.to_string(),
        &AddDependency {
            depends_on: up.id.to_string(),
            dep_type: orchestratia_proto::DepType::Input,
            contract_key: Some("k".into()),
            after: None,
        },
    )
    .await
    .expect("input dependency");
    c.assign(&up.id.to_string(), server).await.expect("assign");
    up
}
