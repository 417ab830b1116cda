//! A permission hook answered from a rule, end to end over HTTP, with 1,000 rules on the hub
//! (SQLite): an agent's session files `POST /permissions` for a command a rule allows and the
//! hub answers it decided. Prints p50/p99/max of the round trip, one request at a time, as
//! the hook makes it (the hook process's own start-up is not included).
//!
//! `cargo bench --workspace --bench hook_roundtrip` (add `-- --quick` for a short run).

use std::time::{Duration, Instant};

use orchestratia_hub::HubConfig;
use orchestratia_proto::PermissionStatus;
use orchestratia_proto::api::{NewRule, RequestPermission};
use orchestratia_proto::client::HubClient;
use orchestratia_proto::policy::RuleEffect;
use orchestratia_testkit::SimDaemon;

/// How many rules the hub holds.
const RULES: usize = 1_000;

fn rule(pattern: String, effect: RuleEffect) -> NewRule {
    NewRule {
        scope: None,
        project: Some("bench".into()),
        task: None,
        session: None,
        tool: "Bash".into(),
        pattern,
        effect,
        expires_at: None,
        note: None,
        force: false,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 300 } else { 3_000 };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hub.db");
    let mut config = HubConfig::embedded(&db.display().to_string());
    config.offline_after = Duration::from_secs(3600);
    let (running, token) = orchestratia_hub::start_with_admin(config)
        .await
        .expect("hub starts");
    let admin = HubClient::new(&running.url(), Some(token));
    admin.create_project("bench").await.expect("project");
    let d = SimDaemon::start(&admin, "bench", "bench-01", "linux", &["app"], &["rust"]).await;
    let start = d.started(&admin, "bench", "hooked", false).await;
    // 1,000 rules: many tools' commands allowed, some denied.
    let t0 = Instant::now();
    for i in 0..RULES {
        let (pattern, effect) = match i % 10 {
            0 => (format!("rm -rf dir{i} *"), RuleEffect::Deny),
            1 => (format!("git push origin branch{i}"), RuleEffect::Deny),
            _ => (format!("tool{i} run *"), RuleEffect::Allow),
        };
        admin
            .add_rule(&rule(pattern, effect))
            .await
            .expect("add rule");
    }
    println!("added {RULES} rules in {:.1} s", t0.elapsed().as_secs_f64());
    let agent = HubClient::new(&running.url(), Some(start.token.clone()));
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let k = 2 + (i * 10) % (RULES - 10);
        let body = RequestPermission::bash(format!("tool{k} run --fast && tool{} run", k + 10));
        let t = Instant::now();
        let r = agent.request_permission(&body).await.expect("request");
        times.push(t.elapsed());
        assert_eq!(r.status, PermissionStatus::Allowed, "{r:?}");
    }
    times.sort();
    println!(
        "hook round trip answered from a rule ({n} requests, {RULES} rules, SQLite): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&times, 1.0)
    );
    running.shutdown().await;
}
