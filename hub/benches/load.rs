//! The load generator: real hub processes (1, then 3 replicas on one PostgreSQL database)
//! holding a fleet of simulated daemons over real WebSockets (hello, heartbeats, a share of
//! them streaming session output) and a few consoles, measured from outside:
//! - per replica: sockets held (`GET /status`), RSS and CPU (from `/proc`), heartbeat p99;
//! - task creations/s and completions-with-cascade/s through the API, spread over replicas
//!   and projects;
//! - event fan-out: a completion requested on replica A until its event reaches a console
//!   on replica B.
//!
//! `cargo bench --bench load` (10,000 daemons, 30 s heartbeats), `-- --quick` for a short
//! check. Settings: `--daemons N`, `--consoles M`, `--heartbeat SECS`, `--window SECS`,
//! `--stream-share F` (0..1), `--stream-rate FRAMES_PER_S`, `--frame-bytes B`,
//! `--replicas 1,3` (or `LOAD_DAEMONS`, `LOAD_HEARTBEAT`, … in the environment).

use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestratia_proto::Task;
use orchestratia_proto::api::{CompleteTask, CreateTask, TaskResult};
use orchestratia_proto::client::HubClient;
use orchestratia_testkit::daemon::SimOptions;
use orchestratia_testkit::load::{self, Behaviour, ConsoleStats, FleetStats, run_many};
use orchestratia_testkit::{HubOptions, SimDaemon, TestCluster};
use serde_json::json;
use tokio::sync::Semaphore;

use orchestratia_testkit::load_report::{
    self, Measured, ReplicaFigures, Settings, cpu_seconds, rss_mb,
};

/// Requests in flight per replica in the throughput phases.
const PER_REPLICA: usize = 16;
/// Projects the throughput tasks are spread over (one project lock each).
const PROJECTS: usize = 8;

fn task(title: String, project: usize, depends_on: Vec<String>) -> CreateTask {
    CreateTask {
        title,
        project: Some(format!("p{project}")),
        repo: Some("repo".into()),
        depends_on,
        ..Default::default()
    }
}

/// CPU seconds of every replica now.
fn cpu_now(cluster: &TestCluster) -> Vec<f64> {
    cluster
        .hubs
        .iter()
        .map(|h| h.pid().and_then(cpu_seconds).unwrap_or(0.0))
        .collect()
}

/// Cores each replica used since `before` (taken `elapsed` ago).
fn cores_since(cluster: &TestCluster, before: &[f64], elapsed: Duration) -> Vec<f64> {
    cpu_now(cluster)
        .iter()
        .zip(before)
        .map(|(now, then)| (now - then) / elapsed.as_secs_f64())
        .collect()
}

/// Waits until every daemon of the fleet tried to connect and the replicas together hold a
/// socket for each one connected (up to `secs`); whether they do.
async fn wait_held(admins: &[HubClient], stats: &FleetStats, n: u64, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        let connected = FleetStats::get(&stats.connected);
        if connected + FleetStats::get(&stats.failed) >= n {
            let mut held = 0;
            for a in admins {
                if let Ok(s) = a.status().await {
                    held += s.replicas.first().map(|r| r.daemons).unwrap_or(0);
                }
            }
            if held >= connected {
                return connected == n;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

async fn measure(replicas: usize, s: &Settings) -> Option<Measured> {
    let options = HubOptions {
        heartbeat: s.heartbeat,
        offline_after: s.heartbeat * 3,
        args: [
            "--max-connections",
            "30000",
            "--max-connections-per-address",
            "30000",
        ]
        .map(String::from)
        .to_vec(),
        ..HubOptions::default()
    };
    let cluster = TestCluster::start(replicas, options).await?;
    let admins: Vec<HubClient> = (0..replicas).map(|i| cluster.admin(i)).collect();
    let tag = format!("{replicas} replica(s)");
    admins[0].create_project("fleet").await.expect("project");
    for p in 0..PROJECTS {
        admins[0]
            .create_project(&format!("p{p}"))
            .await
            .expect("project");
    }

    // The fleet: registered, then connected (each daemon to replica i % replicas).
    let t0 = Instant::now();
    let members = load::register_fleet(&admins, "fleet", "d", s.daemons, 32 * replicas)
        .await
        .expect("fleet registers");
    let registered_in_s = t0.elapsed().as_secs_f64();
    eprintln!(
        "[{tag}] {} servers registered in {registered_in_s:.1} s",
        s.daemons
    );
    let stats = Arc::new(FleetStats::default());
    let gate = Arc::new(Semaphore::new(64));
    let stride = if s.stream_share > 0.0 {
        (1.0 / s.stream_share).round().max(1.0) as usize
    } else {
        usize::MAX
    };
    let t0 = Instant::now();
    let mut fleet = Vec::with_capacity(members.len());
    for (i, m) in members.iter().enumerate() {
        let b = Behaviour {
            heartbeat: s.heartbeat,
            first_beat: s.heartbeat.mul_f64(i as f64 / members.len() as f64),
            stream: (i % stride == 0).then_some((s.frame_every, s.frame_bytes)),
        };
        let url = cluster.hubs[i % replicas].url.clone();
        fleet.push(load::spawn_daemon(url, m, b, gate.clone(), stats.clone()));
    }
    let held = wait_held(&admins, &stats, s.daemons as u64, 600).await;
    let connect_s = t0.elapsed().as_secs_f64();
    eprintln!(
        "[{tag}] {} daemons connected in {connect_s:.1} s (all held: {held}, failed {})",
        FleetStats::get(&stats.connected),
        FleetStats::get(&stats.failed)
    );

    // Streaming daemons get a session each: a task assigned to them.
    let streamers: Vec<String> = members
        .iter()
        .enumerate()
        .filter(|(i, _)| i % stride == 0)
        .map(|(_, m)| m.name.clone())
        .collect();
    let n_stream = streamers.len();
    let streamers = Arc::new(streamers);
    let a = Arc::new(admins.clone());
    run_many(n_stream, PER_REPLICA * replicas, |i| {
        let (a, st) = (a.clone(), streamers.clone());
        async move {
            let admin = &a[i % a.len()];
            let t = admin
                .create_task(&CreateTask {
                    title: format!("stream {i}"),
                    project: Some("fleet".into()),
                    repo: Some("app".into()),
                    ..Default::default()
                })
                .await
                .expect("stream task");
            admin
                .assign(&t.id.to_string(), &st[i])
                .await
                .expect("assign stream task");
        }
    })
    .await;
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(60);
    while stats.session_count() < n_stream && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sessions = stats.sessions.lock().map(|s| s.clone()).unwrap_or_default();
    eprintln!(
        "[{tag}] {} of {n_stream} streaming sessions started (waited {:.1?})",
        sessions.len(),
        t0.elapsed()
    );

    // Throughput projects: one bench server each, connected to replica p % replicas.
    let mut bench_servers = Vec::new();
    for p in 0..PROJECTS {
        let name = format!("bench{p}");
        let admin = &admins[p % replicas];
        let reg = orchestratia_testkit::daemon::register(
            admin,
            &format!("p{p}"),
            &name,
            "linux",
            &["repo"],
            &["rust"],
        )
        .await;
        let d = SimDaemon::connect(
            admin.base(),
            &name,
            reg.server_id,
            &reg.api_key,
            Vec::new(),
            SimOptions {
                auto_active: false,
                heartbeats: true,
            },
        )
        .await
        .expect("bench daemon connects");
        orchestratia_testkit::wait_online(admin, &name).await;
        bench_servers.push(d);
    }

    // Consoles, spread over the replicas; console 1 (on replica 1 % replicas) times the
    // completions.
    let consoles = Arc::new(ConsoleStats::default());
    let probe_replica = 1 % replicas;
    let mut console_tasks = Vec::new();
    for j in 0..s.consoles {
        let watch = (!sessions.is_empty()).then(|| sessions[j % sessions.len()]);
        console_tasks.push(
            load::spawn_console(&admins[j % replicas], watch, consoles.clone(), j == 1).await,
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 1. The steady fleet: heartbeats, streams, consoles.
    let (hb0, fr0) = (
        FleetStats::get(&stats.heartbeats),
        FleetStats::get(&stats.frames),
    );
    let cpu0 = cpu_now(&cluster);
    let t0 = Instant::now();
    tokio::time::sleep(s.window).await;
    let window = t0.elapsed();
    let steady_cores = cores_since(&cluster, &cpu0, window);
    let mut per_replica = Vec::new();
    for (i, hub) in cluster.hubs.iter().enumerate() {
        let st = admins[i].status().await.expect("status");
        let me = st.replicas.first().cloned().expect("the replica itself");
        per_replica.push(ReplicaFigures {
            id: me.id,
            daemons: me.daemons,
            consoles: me.consoles,
            rss_mb: hub.pid().and_then(rss_mb).unwrap_or(0.0),
            cores: steady_cores[i],
            heartbeat_p99_us: me.heartbeat_p99_us,
            ..Default::default()
        });
    }
    let heartbeats_per_s = (FleetStats::get(&stats.heartbeats) - hb0) as f64 / window.as_secs_f64();
    let frames_per_s = (FleetStats::get(&stats.frames) - fr0) as f64 / window.as_secs_f64();

    // 2. Creations, spread over replicas and projects.
    let limit = PER_REPLICA * replicas;
    let cpu0 = cpu_now(&cluster);
    let elapsed = run_many(s.creations, limit, |i| {
        let a = a.clone();
        async move {
            a[i % a.len()]
                .create_task(&task(format!("created {i}"), i % PROJECTS, vec![]))
                .await
                .expect("create");
        }
    })
    .await;
    let creations_per_s = s.creations as f64 / elapsed.as_secs_f64();
    for (f, c) in per_replica
        .iter_mut()
        .zip(cores_since(&cluster, &cpu0, elapsed))
    {
        f.cores_creating = c;
    }
    eprintln!("[{tag}] {} creations in {elapsed:.2?}", s.creations);

    // 3. Completions with cascade: pairs up → down (input k), the ups assigned to their
    // project's bench server; each completion releases and auto-assigns its down.
    let ups: Arc<std::sync::Mutex<Vec<Option<Task>>>> =
        Arc::new(std::sync::Mutex::new(vec![None; s.pairs]));
    run_many(s.pairs, limit, |i| {
        let (a, ups) = (a.clone(), ups.clone());
        async move {
            let c = &a[i % a.len()];
            let p = i % PROJECTS;
            let up = load::cascade_pair(c, i, Some(&format!("p{p}")), &format!("bench{p}")).await;
            if let Ok(mut u) = ups.lock() {
                u[i] = Some(up);
            }
        }
    })
    .await;
    let ups: Arc<Vec<Task>> = Arc::new(
        ups.lock()
            .map(|u| u.iter().flatten().cloned().collect())
            .unwrap_or_default(),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    consoles.take_latencies();
    let cpu0 = cpu_now(&cluster);
    let n_pairs = ups.len();
    let elapsed = run_many(n_pairs, limit, |i| {
        let (a, u, cs) = (a.clone(), ups.clone(), consoles.clone());
        async move {
            let body = CompleteTask {
                result: TaskResult {
                    summary: "done".into(),
                    ..Default::default()
                },
                contracts: [("k".to_string(), json!({"i": i}))].into_iter().collect(),
            };
            let replica = i % a.len();
            cs.await_completion(u[i].id, replica);
            a[replica]
                .complete(&u[i].id.to_string(), &body)
                .await
                .expect("complete");
        }
    })
    .await;
    let completions_per_s = n_pairs as f64 / elapsed.as_secs_f64();
    for (f, c) in per_replica
        .iter_mut()
        .zip(cores_since(&cluster, &cpu0, elapsed))
    {
        f.cores_completing = c;
    }
    eprintln!("[{tag}] {n_pairs} completions with cascade in {elapsed:.2?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let burst: Vec<f64> = consoles
        .take_latencies()
        .into_iter()
        .filter(|(_, r)| replicas == 1 || *r != probe_replica)
        .map(|(ms, _)| ms)
        .collect();

    // 4. Fan-out probes, one at a time, through replica 0 to the console on replica 1.
    let mut probe_tasks = Vec::with_capacity(s.probes);
    for i in 0..s.probes {
        let p = i % PROJECTS;
        let t = admins[0]
            .create_task(&task(format!("probe {i}"), p, vec![]))
            .await
            .expect("probe task");
        admins[0]
            .assign(&t.id.to_string(), &format!("bench{p}"))
            .await
            .expect("assign probe");
        probe_tasks.push(t);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    consoles.take_latencies();
    let mut lost = 0;
    for t in &probe_tasks {
        let body = CompleteTask {
            result: TaskResult {
                summary: "probe".into(),
                ..Default::default()
            },
            contracts: Default::default(),
        };
        let arrived = consoles.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        consoles.await_completion(t.id, 0);
        admins[0]
            .complete(&t.id.to_string(), &body)
            .await
            .expect("complete probe");
        if tokio::time::timeout(Duration::from_secs(5), arrived)
            .await
            .is_err()
        {
            lost += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let probes: Vec<f64> = consoles
        .take_latencies()
        .into_iter()
        .map(|(ms, _)| ms)
        .collect();

    // Final socket counts and RSS (after the bursts).
    for (i, hub) in cluster.hubs.iter().enumerate() {
        per_replica[i].rss_after_mb = hub.pid().and_then(rss_mb).unwrap_or(0.0);
    }
    let m = Measured {
        replicas: per_replica,
        registered_in_s,
        connected_in_s: connect_s,
        streaming: sessions.len(),
        heartbeats_per_s,
        frames_per_s,
        console_events: FleetStats::get(&consoles.events),
        console_output_bytes: FleetStats::get(&consoles.output_bytes),
        console_resyncs: FleetStats::get(&consoles.resyncs),
        daemons_closed: FleetStats::get(&stats.closed),
        daemons_refused: FleetStats::get(&stats.refused),
        creations_per_s,
        completions_per_s,
        burst_fanout_ms: burst,
        probe_fanout_ms: probes,
        probes_lost: lost,
    };
    for t in fleet.into_iter().chain(console_tasks) {
        t.abort();
    }
    drop(bench_servers);
    drop(cluster);
    tokio::time::sleep(Duration::from_secs(2)).await;
    Some(m)
}

fn main() {
    let s = Settings::from_args();
    let files = orchestratia_hub::listener::raise_open_file_limit().unwrap_or(1024);
    println!("{}", s.describe(files));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut rows = Vec::new();
        for &n in &s.replicas {
            match measure(n, &s).await {
                Some(m) => {
                    m.print(n, &s);
                    rows.push((n, m));
                }
                None => println!("{n} replica(s): skipped (no PostgreSQL at 127.0.0.1:5432)"),
            }
        }
        load_report::summary(&rows);
    });
}
