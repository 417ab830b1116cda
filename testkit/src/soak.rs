//! A kill -9 soak of hub replicas: three replicas on one PostgreSQL database, a pipeline of
//! hundreds of tasks (chains, fan-out, fan-in, contracts) made through the API spread over
//! the replicas, simulated daemons over real WebSockets that fail over between replicas, an
//! admin answering questions and permissions, and a killer that SIGKILLs a random replica
//! and starts it again every few seconds. At the end it checks that nothing was lost or
//! doubled: every task done once, every task's events once and in order, every session's
//! recording complete, nothing left waiting for a human.
//!
//! `hub/tests/soak.rs` runs the short mode in CI; `hub/benches/soak.rs` the long one.

mod checks;
mod daemon;
mod pipeline;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orchestratia_proto::TaskStatus;
use orchestratia_proto::api::TaskFilter;
use orchestratia_proto::client::{ClientError, HubClient};
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

use crate::{HubOptions, TestCluster};

/// The soak's shape and pace.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    pub replicas: usize,
    pub daemons: usize,
    /// Pipeline groups of ten tasks each (a chain, a fan-out, a fan-in, contracts between).
    pub groups: usize,
    /// The soak stops here even when tasks are left.
    pub duration: Duration,
    /// How long the killer goes on once every task is done.
    pub grace: Duration,
    /// A replica is killed every `kill_every.0` to `kill_every.1`.
    pub kill_every: (Duration, Duration),
    /// Output chunks per session, from–to.
    pub chunks: (u64, u64),
    /// The longest pause between two chunks.
    pub chunk_pause: Duration,
    /// About one session in this many asks a question.
    pub question_every: usize,
    /// About one session in this many asks a permission.
    pub permission_every: usize,
    /// Once every task is done, how long sessions may still take to have their output
    /// acknowledged and end (a session ends only once all its chunks are acknowledged).
    pub ack_wait: Duration,
    pub heartbeat: Duration,
    pub offline_after: Duration,
}

impl SoakOptions {
    /// The CI run: 200 tasks, 20 daemons, 3 replicas, a kill every 5–10 s, about 90 s.
    pub fn short() -> SoakOptions {
        SoakOptions {
            replicas: 3,
            daemons: 20,
            groups: 20,
            duration: Duration::from_secs(90),
            grace: Duration::from_secs(3),
            kill_every: (Duration::from_secs(5), Duration::from_secs(10)),
            chunks: (60, 120),
            chunk_pause: Duration::from_millis(70),
            question_every: 8,
            permission_every: 8,
            ack_wait: Duration::from_secs(10),
            heartbeat: Duration::from_millis(300),
            offline_after: Duration::from_secs(3),
        }
    }

    /// The long run: 1,000 tasks, a kill every 20–40 s, at most 10 minutes.
    pub fn long() -> SoakOptions {
        SoakOptions {
            groups: 100,
            duration: Duration::from_secs(600),
            grace: Duration::from_secs(10),
            kill_every: (Duration::from_secs(20), Duration::from_secs(40)),
            chunks: (150, 300),
            ..SoakOptions::short()
        }
    }
}

/// What the soak did and what its checks found.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    pub tasks: usize,
    pub done: usize,
    pub sessions: usize,
    pub kills: u64,
    /// Daemon connections made again after one was lost.
    pub reconnects: u64,
    /// Chunks sent again after a reconnect (not acknowledged before).
    pub resent_chunks: u64,
    /// `output_stored` acknowledgements received.
    pub acks: u64,
    /// Sessions that ended with chunks never acknowledged.
    pub ended_unacked: u64,
    pub questions: u64,
    pub permissions: u64,
    /// Completions retried and answered "already done".
    pub already_done: u64,
    /// Sessions the hub stopped under the daemon.
    pub stopped: u64,
    /// Messages the hub refused (`error`).
    pub hub_errors: u64,
    pub events_checked: usize,
    /// Tasks whose events, in page order, do not have increasing ids: on PostgreSQL pages
    /// follow commit order (`EventQuery::after`), so this is a figure, not a failure.
    pub tasks_events_not_in_id_order: usize,
    pub bytes_sent: u64,
    pub bytes_recorded: u64,
    /// From the first assignment to the last completion (or the bound).
    pub elapsed: Duration,
    pub tasks_per_min: f64,
    /// Worth reading, not failures (the first messages the hub refused).
    pub notes: Vec<String>,
    /// Every check that failed, one line each (empty: all passed).
    pub problems: Vec<String>,
}

impl SoakReport {
    /// True when every check passed.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "soak: {}/{} tasks done in {:.1?} ({:.0} tasks/min)",
            self.done, self.tasks, self.elapsed, self.tasks_per_min
        )?;
        writeln!(
            f,
            "  kills {}, daemon reconnects {}, sessions {}",
            self.kills, self.reconnects, self.sessions
        )?;
        writeln!(
            f,
            "  chunks: acks {}, resent after reconnect {}, sessions ended unacknowledged {}",
            self.acks, self.resent_chunks, self.ended_unacked
        )?;
        writeln!(
            f,
            "  bytes sent {}, recorded {}",
            self.bytes_sent, self.bytes_recorded
        )?;
        writeln!(
            f,
            "  questions {}, permissions {}, completions already done {}, sessions stopped by the hub {}, hub errors {}",
            self.questions, self.permissions, self.already_done, self.stopped, self.hub_errors
        )?;
        writeln!(
            f,
            "  events checked {}, tasks whose events are not in id order {}",
            self.events_checked, self.tasks_events_not_in_id_order
        )?;
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        if self.problems.is_empty() {
            writeln!(f, "  every check passed")
        } else {
            writeln!(f, "  {} problem(s):", self.problems.len())?;
            for p in &self.problems {
                writeln!(f, "  - {p}")?;
            }
            Ok(())
        }
    }
}

/// What a daemon sent for one session.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionLog {
    pub task_id: Uuid,
    pub daemon: String,
    pub bytes: u64,
    pub chunks: u64,
    pub ended: bool,
    pub unacked_at_end: u64,
    /// The connection each chunk was first sent on (`r1#3`; `none` between connections).
    pub sent_via: Vec<String>,
}

/// What the daemons, the admin and the killer share: options, counters, the sessions run.
#[derive(Default)]
pub(crate) struct Shared {
    pub options: SoakOptions,
    pub over: AtomicBool,
    pub reconnects: AtomicU64,
    pub resent: AtomicU64,
    pub acks: AtomicU64,
    pub questions: AtomicU64,
    pub permissions: AtomicU64,
    pub already_done: AtomicU64,
    pub stopped: AtomicU64,
    pub hub_errors: AtomicU64,
    pub sessions: Mutex<HashMap<Uuid, SessionLog>>,
    pub problems: Mutex<Vec<String>>,
    pub notes: Mutex<Vec<String>>,
}

impl Default for SoakOptions {
    fn default() -> Self {
        SoakOptions::short()
    }
}

impl Shared {
    /// Whether the soak is over (runners stop).
    pub fn over(&self) -> bool {
        self.over.load(Ordering::Relaxed)
    }

    /// Notes something worth reading that is not a failure.
    pub fn note(&self, n: String) {
        if let Ok(mut ns) = self.notes.lock() {
            ns.push(n);
        }
    }

    /// Notes a failed check.
    pub fn problem(&self, p: String) {
        if let Ok(mut ps) = self.problems.lock() {
            ps.push(p);
        }
    }
}

/// A random number below `n` (0 when `n` is 0).
pub(crate) fn pick(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    (Uuid::new_v4().as_u128() % n as u128) as u64
}

/// A random duration from `range.0` to `range.1`.
fn between(range: (Duration, Duration)) -> Duration {
    let span = range.1.saturating_sub(range.0).as_millis() as u64;
    range.0 + Duration::from_millis(pick(span + 1))
}

/// Calls `f` with a client from `make` until the hub answers something other than "could not
/// reach" / 5xx / 401 (a token replaced meanwhile), moving to the next replica after each
/// failure, for at most 20 s.
pub(crate) async fn call<T, M, F, Fut>(make: M, f: F) -> Result<T, ClientError>
where
    M: Fn() -> HubClient,
    F: Fn(HubClient) -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let c = make();
        let base = c.base().to_string();
        match f(c.clone()).await {
            Err(e)
                if Instant::now() < deadline
                    && (e.is_retryable() || e.status().is_some_and(|s| s >= 500 || s == 401)) =>
            {
                c.rotate_from(&base);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// Runs the soak; `None` where PostgreSQL is missing (outside CI).
pub async fn run(options: SoakOptions) -> Option<SoakReport> {
    let cluster = TestCluster::start(
        options.replicas,
        HubOptions {
            heartbeat: options.heartbeat,
            offline_after: options.offline_after,
            ..HubOptions::default()
        },
    )
    .await?;
    let urls: Vec<String> = cluster.hubs.iter().map(|h| h.url.clone()).collect();
    let token = cluster.hubs[0].admin_token.clone();
    let admin = cluster.admin_all();
    let shared = Arc::new(Shared {
        options: options.clone(),
        ..Shared::default()
    });
    admin.create_project("soak").await.expect("project");
    let (stop_tx, stop) = watch::channel(false);
    let daemons = start_daemons(&admin, &urls, &token, &shared, &stop).await;

    let cluster = Arc::new(tokio::sync::Mutex::new(cluster));
    let kills = Arc::new(AtomicU64::new(0));
    let (killer_tx, killer_stop) = watch::channel(false);
    let killer = tokio::spawn(killer(
        cluster.clone(),
        options.clone(),
        kills.clone(),
        killer_stop,
    ));
    let answering = tokio::spawn(answer(admin.clone(), stop.clone()));

    let tasks = pipeline::create(&urls, &token, &shared, options.groups, options.daemons).await;
    let elapsed = wait_for_tasks(&admin, &options, tasks).await;
    let _ = killer_tx.send(true);
    let _ = killer.await;
    stop_daemons(&shared, stop_tx, answering, daemons).await;

    let mut report = SoakReport {
        tasks,
        kills: kills.load(Ordering::Relaxed),
        elapsed,
        ..SoakReport::default()
    };
    checks::run(&admin, &shared, &mut report).await;
    report.tasks_per_min = report.done as f64 / elapsed.as_secs_f64().max(1.0) * 60.0;
    fill_counters(&shared, &mut report);
    drop(cluster);
    Some(report)
}

/// Registers and starts the simulated daemons, spread over the replicas, and waits until
/// every one is online.
async fn start_daemons(
    admin: &HubClient,
    urls: &[String],
    token: &str,
    shared: &Arc<Shared>,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let n = shared.options.daemons;
    let mut daemons = Vec::new();
    for i in 0..n {
        let name = format!("soak-{i:02}");
        let reg = crate::daemon::register(admin, "soak", &name, "linux", &["app"], &["rust"]).await;
        let d = daemon::SoakDaemon::new(
            name,
            reg.api_key,
            urls.to_vec(),
            i % urls.len(),
            HubClient::new(&rotated(urls, i), Some(token.to_string())),
            shared.clone(),
        );
        daemons.push(tokio::spawn(d.run(stop.clone())));
    }
    all_online(admin, n).await;
    daemons
}

/// Waits, while the killer runs, until all `tasks` are done or the soak's time is up, then
/// lets the killer go on for the grace period; returns how long the tasks took.
async fn wait_for_tasks(admin: &HubClient, options: &SoakOptions, tasks: usize) -> Duration {
    let started = Instant::now();
    let bound = started + options.duration;
    let mut done = 0;
    while Instant::now() < bound {
        done = count_done(admin).await.unwrap_or(done);
        if done >= tasks {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let elapsed = started.elapsed();
    if done >= tasks {
        tokio::time::sleep(options.grace).await;
    }
    elapsed
}

/// With every replica up again: lets the sessions finish their acknowledgements and end,
/// then stops the daemons and the answering admin.
async fn stop_daemons(
    shared: &Shared,
    stop_tx: watch::Sender<bool>,
    answering: tokio::task::JoinHandle<()>,
    daemons: Vec<tokio::task::JoinHandle<()>>,
) {
    let settle = Instant::now() + shared.options.ack_wait + Duration::from_secs(5);
    while Instant::now() < settle && !all_ended(shared) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shared.over.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    // Runners still waiting for acknowledgements note what they hold.
    tokio::time::sleep(Duration::from_millis(300)).await;
    answering.abort();
    for d in daemons {
        let _ = d.await;
    }
}

/// `urls` comma-separated, starting at the `i`-th (mod their number).
fn rotated(urls: &[String], i: usize) -> String {
    let n = urls.len();
    (0..n)
        .map(|k| urls[(i + k) % n].clone())
        .collect::<Vec<_>>()
        .join(",")
}

/// Waits until the hub shows `n` servers online.
async fn all_online(admin: &HubClient, n: usize) {
    crate::eventually(60, "every soak daemon online", || async {
        let servers = admin.servers().await.ok()?;
        let online = servers
            .iter()
            .filter(|s| s.status == orchestratia_proto::ServerStatus::Online)
            .count();
        (online >= n).then_some(())
    })
    .await
}

/// How many of the soak's tasks are done.
async fn count_done(admin: &HubClient) -> Option<usize> {
    let filter = TaskFilter {
        project: Some("soak".into()),
        ..TaskFilter::default()
    };
    let tasks = call(
        || admin.clone(),
        |c| {
            let filter = filter.clone();
            async move { c.tasks(&filter).await }
        },
    )
    .await
    .ok()?;
    Some(
        tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Done)
            .count(),
    )
}

/// Whether every session the daemons ran has ended.
fn all_ended(shared: &Shared) -> bool {
    shared
        .sessions
        .lock()
        .map(|l| l.values().all(|s| s.ended))
        .unwrap_or(true)
}

/// SIGKILLs a random replica and starts it again, every `kill_every`, until told to stop.
async fn killer(
    cluster: Arc<tokio::sync::Mutex<TestCluster>>,
    options: SoakOptions,
    kills: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(between(options.kill_every)) => {}
            _ = stop.changed() => return,
        }
        let i = pick(options.replicas as u64) as usize;
        cluster.lock().await.restart(i).await;
        kills.fetch_add(1, Ordering::Relaxed);
    }
}

/// The admin: answers every pending question and allows every pending permission request.
async fn answer(admin: HubClient, stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let pending = call(
            || admin.clone(),
            |c| async move { c.interventions(Some("pending")).await },
        )
        .await;
        for iv in pending.unwrap_or_default() {
            let id = iv.id.to_string();
            let _ = call(
                || admin.clone(),
                |c| {
                    let id = id.clone();
                    async move { c.respond(&id, "use port 8080").await }
                },
            )
            .await;
        }
        let pending = call(
            || admin.clone(),
            |c| async move { c.permissions(Some("pending")).await },
        )
        .await;
        for p in pending.unwrap_or_default() {
            let id = p.id.to_string();
            let _ = call(
                || admin.clone(),
                |c| {
                    let id = id.clone();
                    async move { c.allow_permission(&id).await }
                },
            )
            .await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Copies the shared counters and problems into the report.
fn fill_counters(shared: &Shared, r: &mut SoakReport) {
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    r.reconnects = get(&shared.reconnects);
    r.resent_chunks = get(&shared.resent);
    r.acks = get(&shared.acks);
    r.questions = get(&shared.questions);
    r.permissions = get(&shared.permissions);
    r.already_done = get(&shared.already_done);
    r.stopped = get(&shared.stopped);
    r.hub_errors = get(&shared.hub_errors);
    if let Ok(logs) = shared.sessions.lock() {
        r.sessions = logs.len();
        r.bytes_sent = logs.values().map(|l| l.bytes).sum();
        r.ended_unacked = logs.values().filter(|l| l.unacked_at_end > 0).count() as u64;
    }
    if let Ok(ns) = shared.notes.lock() {
        r.notes = ns.clone();
    }
    if let Ok(ps) = shared.problems.lock() {
        r.problems.splice(0..0, ps.iter().cloned());
    }
}
