//! The long kill -9 soak of three hub replicas (see `orchestratia_testkit::soak`): 1,000 tasks,
//! 20 daemons, a replica SIGKILLed and restarted every 20–40 s, at most 10 minutes; prints
//! the report (kills, reconnects, tasks/min, and every check).
//!
//! `cargo bench --bench soak`, or on the debug build `cargo test --workspace --bench soak`
//! (options after `--`: `--minutes N` bound, `--tasks N` rounded up to tens, `--pause-ms N`
//! between a session's chunks (longer sessions: a longer run with more kills), `--short`).
//! Needs PostgreSQL (127.0.0.1:5432, or `ORCHESTRATIA_TEST_PG`); exits 1 when a check fails.

use std::time::Duration;

use orchestratia_testkit::soak::{self, SoakOptions};

/// The value after `flag` on the command line, parsed.
fn arg<T: std::str::FromStr>(flag: &str) -> Option<T> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1)?.parse().ok()
}

fn main() {
    let mut options = if std::env::args().any(|a| a == "--short") {
        SoakOptions::short()
    } else {
        SoakOptions::long()
    };
    if let Some(m) = arg::<u64>("--minutes") {
        options.duration = Duration::from_secs(m * 60);
    }
    if let Some(t) = arg::<usize>("--tasks") {
        options.groups = t.div_ceil(10).max(1);
    }
    if let Some(ms) = arg::<u64>("--pause-ms") {
        options.chunk_pause = Duration::from_millis(ms);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(soak::run(options.clone()));
    match report {
        Some(r) => {
            println!(
                "kill -9 soak: {} replicas, {} daemons, {} tasks, kills every {:?}–{:?}, bound {:?}",
                options.replicas,
                options.daemons,
                options.groups * 10,
                options.kill_every.0,
                options.kill_every.1,
                options.duration
            );
            println!("{r}");
            if !r.ok() {
                std::process::exit(1);
            }
        }
        None => println!("skipped: no PostgreSQL server"),
    }
}
