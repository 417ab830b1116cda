//! The short kill -9 soak: three replicas on one PostgreSQL database, a 200-task pipeline,
//! 20 daemons failing over between replicas, a replica SIGKILLed and restarted every 5–10 s,
//! about 90 s in all. Nothing may be lost or doubled (see `orchestratia_testkit::soak`).

use orchestratia_testkit::soak::{self, SoakOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_lose_nothing_under_kill_9() {
    let options = SoakOptions::short();
    let Some(report) = soak::run(options.clone()).await else {
        return;
    };
    eprintln!("{report}");
    assert!(report.tasks >= 200, "the pipeline has at least 200 tasks");
    assert!(report.kills >= 1, "at least one replica was killed");
    assert!(report.questions > 0, "some agents asked a question");
    assert!(report.permissions > 0, "some agents asked a permission");
    assert_eq!(report.done, report.tasks, "every task is done");
    assert_eq!(
        report.bytes_recorded, report.bytes_sent,
        "every byte is recorded"
    );
    assert!(report.ok(), "the soak's checks failed:\n{report}");
}
