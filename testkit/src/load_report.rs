//! The load benchmark's settings, what it measured, how it reads a process's memory and CPU
//! from `/proc`, and how it prints the figures next to their targets.

use std::time::Duration;

/// Linux reports CPU time in these ticks per second (USER_HZ, 100 on every architecture the
/// hub runs on).
const TICKS_PER_S: f64 = 100.0;

/// What the load benchmark runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub quick: bool,
    pub daemons: usize,
    pub consoles: usize,
    pub heartbeat: Duration,
    /// How long the steady fleet is measured.
    pub window: Duration,
    /// The share of daemons streaming session output.
    pub stream_share: f64,
    pub frame_every: Duration,
    pub frame_bytes: usize,
    /// Replica counts to run, in order.
    pub replicas: Vec<usize>,
    pub creations: usize,
    pub pairs: usize,
    pub probes: usize,
}

impl Settings {
    /// The settings from the command line (`--name value`) or the environment
    /// (`LOAD_NAME`); `--quick` makes a short run.
    pub fn from_args() -> Settings {
        let args: Vec<String> = std::env::args().collect();
        let quick = args.iter().any(|a| a == "--quick");
        let get = |name: &str| -> Option<String> {
            let flag = format!("--{name}");
            args.iter()
                .position(|a| *a == flag)
                .and_then(|i| args.get(i + 1).cloned())
                .or_else(|| {
                    std::env::var(format!("LOAD_{}", name.replace('-', "_").to_uppercase())).ok()
                })
        };
        let num = |name: &str, default: f64| -> f64 {
            get(name)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(default)
        };
        let (daemons, heartbeat, window, creations, pairs, probes) = if quick {
            (500.0, 2.0, 6.0, 1000.0, 300.0, 30.0)
        } else {
            (10_000.0, 30.0, 60.0, 5000.0, 1500.0, 200.0)
        };
        let rate = num("stream-rate", 1.0).max(0.001);
        Settings {
            quick,
            daemons: num("daemons", daemons) as usize,
            consoles: num("consoles", 10.0).max(2.0) as usize,
            heartbeat: Duration::from_secs_f64(num("heartbeat", heartbeat).max(0.1)),
            window: Duration::from_secs_f64(num("window", window).max(1.0)),
            stream_share: num("stream-share", 0.05).clamp(0.0, 1.0),
            frame_every: Duration::from_secs_f64(1.0 / rate),
            frame_bytes: num("frame-bytes", 200.0).max(1.0) as usize,
            replicas: get("replicas")
                .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
                .unwrap_or_else(|| vec![1, 3]),
            creations: num("creations", creations) as usize,
            pairs: num("pairs", pairs) as usize,
            probes: num("probes", probes) as usize,
        }
    }

    /// One paragraph saying what runs.
    pub fn describe(&self, open_files: u64) -> String {
        format!(
            "load: {} daemons (heartbeat every {:?}, {:.0}% streaming {} B frames every {:?}), \
             {} consoles, replicas {:?}; steady window {:?}; {} creations, {} completions \
             with cascade, {} fan-out probes; open-file limit {open_files}",
            self.daemons,
            self.heartbeat,
            self.stream_share * 100.0,
            self.frame_bytes,
            self.frame_every,
            self.consoles,
            self.replicas,
            self.window,
            self.creations,
            self.pairs,
            self.probes
        )
    }
}

/// One replica's figures.
#[derive(Debug, Clone, Default)]
pub struct ReplicaFigures {
    pub id: String,
    pub daemons: u64,
    pub consoles: u64,
    /// RSS at the end of the steady window, and after the throughput phases.
    pub rss_mb: f64,
    pub rss_after_mb: f64,
    /// Cores used in the steady window, while creating and while completing.
    pub cores: f64,
    pub cores_creating: f64,
    pub cores_completing: f64,
    pub heartbeat_p99_us: Option<u64>,
}

/// Everything one run (one replica count) measured.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub replicas: Vec<ReplicaFigures>,
    pub registered_in_s: f64,
    pub connected_in_s: f64,
    pub streaming: usize,
    pub heartbeats_per_s: f64,
    pub frames_per_s: f64,
    pub console_events: u64,
    pub console_output_bytes: u64,
    pub console_resyncs: u64,
    pub daemons_closed: u64,
    pub daemons_refused: u64,
    pub creations_per_s: f64,
    pub completions_per_s: f64,
    /// Completion → console latencies (ms) during the completion burst.
    pub burst_fanout_ms: Vec<f64>,
    /// The same, one completion at a time.
    pub probe_fanout_ms: Vec<f64>,
    pub probes_lost: usize,
}

/// The `q` quantile of `v` (0 when empty).
pub fn pctl(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((s.len() as f64 * q).ceil() as usize).clamp(1, s.len()) - 1;
    s[i]
}

/// A process's resident memory in MB (`VmRSS` of `/proc/PID/status`).
pub fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// A process's CPU time so far (user + system, all threads) in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the first, utime the
    // 12th and stime the 13th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_S)
}

fn mark(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

impl Measured {
    /// Prints this run's figures.
    pub fn print(&self, n: usize, s: &Settings) {
        println!("\n== {n} replica(s) ==");
        self.print_fleet();
        self.print_replicas();
        if n == 1
            && let Some(r) = self.replicas.first()
        {
            print_target(r, s);
        }
        self.print_throughput(n);
        self.print_fanout(n);
    }

    /// The fleet's and the consoles' totals.
    fn print_fleet(&self) {
        println!(
            "fleet: registered in {:.1} s, connected in {:.1} s; {} streaming; {:.0} heartbeats/s, \
             {:.0} frames/s; daemons dropped {}, refused messages {}",
            self.registered_in_s,
            self.connected_in_s,
            self.streaming,
            self.heartbeats_per_s,
            self.frames_per_s,
            self.daemons_closed,
            self.daemons_refused
        );
        println!(
            "consoles: {} events, {} output bytes, {} resyncs",
            self.console_events, self.console_output_bytes, self.console_resyncs
        );
    }

    /// One row per replica: its connections, memory, CPU and heartbeat latency.
    fn print_replicas(&self) {
        println!(
            "{:<8} {:>8} {:>8} {:>9} {:>10} {:>9} {:>9} {:>9} {:>10}",
            "replica",
            "daemons",
            "consoles",
            "RSS MB",
            "RSS end",
            "cores",
            "cores/cr",
            "cores/co",
            "hb p99 µs"
        );
        for r in &self.replicas {
            println!(
                "{:<8} {:>8} {:>8} {:>9.1} {:>10.1} {:>9.3} {:>9.2} {:>9.2} {:>10}",
                r.id,
                r.daemons,
                r.consoles,
                r.rss_mb,
                r.rss_after_mb,
                r.cores,
                r.cores_creating,
                r.cores_completing,
                r.heartbeat_p99_us
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into())
            );
        }
    }

    /// Creations and completions per second, against the target with three replicas.
    fn print_throughput(&self, n: usize) {
        println!(
            "throughput: {:.0} creations/s, {:.0} completions+cascade/s{}",
            self.creations_per_s,
            self.completions_per_s,
            if n >= 3 {
                format!(
                    "  (target with 3 replicas: ≥ 2,000 [{}] and ≥ 1,000 [{}])",
                    mark(self.creations_per_s >= 2000.0),
                    mark(self.completions_per_s >= 1000.0)
                )
            } else {
                String::new()
            }
        );
    }

    /// How long events take to reach a console, one at a time and during the burst.
    fn print_fanout(&self, n: usize) {
        let p = &self.probe_fanout_ms;
        let b = &self.burst_fanout_ms;
        println!(
            "fan-out {}: one at a time p50 {:.1} / p99 {:.1} / max {:.1} ms ({} probes, {} \
             lost){}; during the completion burst p50 {:.1} / p99 {:.1} ms ({} events)",
            if n > 1 {
                "r0 → console on r1"
            } else {
                "(one replica)"
            },
            pctl(p, 0.5),
            pctl(p, 0.99),
            pctl(p, 1.0),
            p.len(),
            self.probes_lost,
            if n > 1 {
                format!("  target p99 < 50 ms [{}]", mark(pctl(p, 0.99) < 50.0))
            } else {
                String::new()
            },
            pctl(b, 0.5),
            pctl(b, 0.99),
            b.len()
        );
    }
}

/// The one-replica target (10,000 daemons within 500 MB and one core), scaled to this run.
fn print_target(r: &ReplicaFigures, s: &Settings) {
    let scale = 10_000.0 / s.daemons.max(1) as f64;
    println!(
        "target (10,000 daemons, 30 s heartbeat, one replica): RSS < 500 MB [{}], \
         < 1 core [{}]{}",
        mark(r.rss_mb < 500.0),
        mark(r.cores < 1.0),
        if s.daemons == 10_000 && s.heartbeat == Duration::from_secs(30) {
            String::new()
        } else {
            format!(
                " (this run: {} daemons; ×{scale:.0} for the target)",
                s.daemons
            )
        }
    );
}

/// The runs side by side.
pub fn summary(rows: &[(usize, Measured)]) {
    println!("\n== summary ==");
    println!(
        "{:<9} {:>12} {:>12} {:>12} {:>14} {:>14} {:>14}",
        "replicas",
        "max RSS MB",
        "sum cores",
        "creations/s",
        "completions/s",
        "fan-out p99",
        "hb p99 µs"
    );
    for (n, m) in rows {
        let rss = m.replicas.iter().map(|r| r.rss_mb).fold(0.0, f64::max);
        let cores: f64 = m.replicas.iter().map(|r| r.cores).sum();
        let hb = m
            .replicas
            .iter()
            .filter_map(|r| r.heartbeat_p99_us)
            .max()
            .unwrap_or(0);
        println!(
            "{:<9} {:>12.1} {:>12.3} {:>12.0} {:>14.0} {:>14.1} {:>14}",
            n,
            rss,
            cores,
            m.creations_per_s,
            m.completions_per_s,
            pctl(&m.probe_fanout_ms, 0.99),
            hb
        );
    }
}
