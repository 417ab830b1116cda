//! Hub throughput through the HTTP API, on SQLite and on PostgreSQL:
//! - task creations per second,
//! - completions with cascade per second (each completion publishes a contract that releases
//!   and auto-assigns one downstream task),
//! - the time to complete one task with 1,000 direct dependents (all unblocked and assigned).
//!
//! `cargo bench -p orchestratia-hub --bench throughput` (add `-- --quick` for a short run).
//! The PostgreSQL part uses a fresh database on the local server and is skipped when none answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestratia_hub::{HubConfig, RunningHub};
use orchestratia_proto::api::{AddDependency, CompleteTask, CreateTask, TaskResult};
use orchestratia_proto::client::HubClient;
use orchestratia_proto::{DepType, Task};
use orchestratia_testkit::daemon::SimOptions;
use orchestratia_testkit::load::{cascade_pair, run_many};
use orchestratia_testkit::{PgDatabase, SimDaemon};
use serde_json::json;

const CONCURRENCY: usize = 16;

struct Figures {
    creations_per_s: f64,
    completions_per_s: f64,
    fanout_ms: Vec<f64>,
}

async fn start(db_url: &str) -> (RunningHub, HubClient) {
    let mut config = HubConfig::embedded(db_url);
    config.offline_after = Duration::from_secs(3600);
    let (running, token) = orchestratia_hub::start_with_admin(config)
        .await
        .expect("hub starts");
    let client = HubClient::new(&running.url(), Some(token));
    (running, client)
}

fn task(title: String, depends_on: Vec<String>) -> CreateTask {
    CreateTask {
        title,
        repo: Some("repo".into()),
        depends_on,
        ..Default::default()
    }
}

async fn measure(name: &str, db_url: &str, quick: bool) -> Figures {
    let (running, admin) = start(db_url).await;
    admin.create_project("bench").await.expect("project");
    let reg = admin.registration_token("bench").await.expect("token");
    let server = admin
        .register(&orchestratia_proto::api::RegisterServer {
            token: reg.token,
            name: "bench-server".into(),
            os: "linux".into(),
            hostname: "bench".into(),
            repos: [("repo".to_string(), "/srv/repo".to_string())]
                .into_iter()
                .collect(),
            languages: vec!["rust".into()],
        })
        .await
        .expect("register");
    // A daemon is connected over the real WebSocket, so every assignment also builds and sends
    // its task_assigned and session_start (it does not start anything: the figures are the
    // hub's own work).
    let daemon = SimDaemon::connect(
        &running.url(),
        "bench-server",
        server.server_id,
        &server.api_key,
        Vec::new(),
        SimOptions {
            auto_active: false,
            heartbeats: true,
        },
    )
    .await
    .expect("daemon connects");
    running
        .hub
        .daemon_heartbeat(server.server_id)
        .await
        .expect("heartbeat");

    // 1. Creations per second.
    let n_create = if quick { 1000 } else { 5000 };
    let c = admin.clone();
    let elapsed = run_many(n_create, CONCURRENCY, move |i| {
        let c = c.clone();
        async move {
            c.create_task(&task(format!("created {i}"), vec![]))
                .await
                .expect("create");
        }
    })
    .await;
    let creations_per_s = n_create as f64 / elapsed.as_secs_f64();
    eprintln!("[{name}] {n_create} creations in {elapsed:.2?}");

    // 2. Completions with cascade: pairs up → down (input:k); the ups are assigned first.
    let n_pairs = if quick { 300 } else { 1500 };
    let mut ups: Vec<Task> = Vec::with_capacity(n_pairs);
    for i in 0..n_pairs {
        let up = cascade_pair(&admin, i, None, "bench-server").await;
        ups.push(up);
    }
    let ups = Arc::new(ups);
    let c = admin.clone();
    let u = ups.clone();
    let elapsed = run_many(n_pairs, CONCURRENCY, move |i| {
        let (c, u) = (c.clone(), u.clone());
        async move {
            let body = CompleteTask {
                result: TaskResult {
                    summary: "done".into(),
                    ..Default::default()
                },
                contracts: [("k".to_string(), json!({"i": i}))].into_iter().collect(),
            };
            c.complete(&u[i].id.to_string(), &body)
                .await
                .expect("complete");
        }
    })
    .await;
    let completions_per_s = n_pairs as f64 / elapsed.as_secs_f64();
    let assigned = admin
        .tasks(&orchestratia_proto::api::TaskFilter {
            status: Some("assigned".into()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert!(
        assigned.len() >= n_pairs,
        "every downstream was released and assigned"
    );
    eprintln!("[{name}] {n_pairs} completions with cascade in {elapsed:.2?}");

    // 3. One completion releasing 1,000 dependents.
    let rounds = if quick { 1 } else { 5 };
    let mut fanout_ms = Vec::new();
    for round in 0..rounds {
        let root = admin
            .create_task(&task(format!("root {round}"), vec![]))
            .await
            .expect("root");
        let c = admin.clone();
        let root_id = root.id.to_string();
        run_many(1000, CONCURRENCY, move |i| {
            let (c, root_id) = (c.clone(), root_id.clone());
            async move {
                let d = c
                    .create_task(&task(format!("leaf {round}.{i}"), vec![root_id.clone()]))
                    .await
                    .expect("leaf");
                c.add_dependency(
                    &d.id.to_string(),
                    &AddDependency {
                        depends_on: root_id,
                        dep_type: DepType::Input,
                        contract_key: Some("schema".into()),
                        after: None,
                    },
                )
                .await
                .expect("input");
            }
        })
        .await;
        admin
            .assign(&root.id.to_string(), "bench-server")
            .await
            .expect("assign root");
        // Let the setup burst's WAL checkpoint and the kernel's write-back of it finish: the
        // figure is the cascade's own cost.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let body = CompleteTask {
            result: TaskResult {
                summary: "root done".into(),
                ..Default::default()
            },
            contracts: [("schema".to_string(), json!({"endpoints": ["/a", "/b"]}))]
                .into_iter()
                .collect(),
        };
        let t0 = Instant::now();
        admin
            .complete(&root.id.to_string(), &body)
            .await
            .expect("complete root");
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        let view = admin.task(&root.id.to_string()).await.expect("view");
        let released = view.dependents.iter().filter(|d| d.resolved).count();
        assert_eq!(released, 1000, "all 1,000 dependents resolved");
        fanout_ms.push(ms);
        eprintln!("[{name}] fan-out round {round}: {ms:.1} ms");
    }
    let received = daemon.received().len();
    assert!(
        received > 2 * n_pairs,
        "the daemon received the assignments ({received} messages)"
    );
    drop(daemon);
    running.shutdown().await;
    Figures {
        creations_per_s,
        completions_per_s,
        fanout_ms,
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[s.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut rows = Vec::new();
        let dir = tempfile::tempdir().expect("dir");
        let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
        rows.push(("SQLite", measure("sqlite", &sqlite, quick).await));
        if let Some(db) = PgDatabase::create().await {
            rows.push(("PostgreSQL", measure("postgres", &db.url, quick).await));
        }
        println!();
        println!(
            "hub throughput through the HTTP API ({CONCURRENCY} requests in flight, loopback)"
        );
        println!(
            "{:<11} {:>14} {:>24}   1,000-way fan-out (ms)",
            "backend", "creations/s", "completions+cascade/s"
        );
        for (name, f) in &rows {
            let fanout = format!(
                "{:.1} (median of {}, worst {:.1})",
                median(&f.fanout_ms),
                f.fanout_ms.len(),
                f.fanout_ms.iter().copied().fold(0.0, f64::max)
            );
            println!(
                "{:<11} {:>14.0} {:>24.0}   {fanout}",
                name, f.creations_per_s, f.completions_per_s
            );
        }
        println!("targets on SQLite: ≥ 3000 creations/s, ≥ 1500 completions/s, < 100 ms fan-out");
    });
}
