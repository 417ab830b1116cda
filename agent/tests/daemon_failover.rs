//! The daemon's hub URL may list several hubs (replicas): it moves on from one it cannot
//! reach to the next, at once, and says which one it connected to.

use orchestratia_testkit::{DaemonOptions, TestDaemon, TestHub, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_moves_past_a_hub_it_cannot_reach() {
    let Some(hub) = TestHub::with_project("P").await else {
        return;
    };
    // A loopback port nothing listens on: connections to it are refused.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let hubs = format!("{dead},{}", hub.url);
    let d = TestDaemon::start(
        &hub,
        DaemonOptions {
            name: "multi",
            repos: &["app"],
            runner: "pty",
            config: &format!("hub_url: \"{hubs}\"\n"),
            ..Default::default()
        },
    )
    .await;
    eventually(20, "multi online", || async {
        let s = hub.cli(&["server", "list", "--json"]).await.json();
        s.as_array()
            .into_iter()
            .flatten()
            .any(|x| x["name"] == "multi" && x["status"] == "online")
            .then_some(())
    })
    .await;
    let log = d.log();
    assert!(
        log.lines()
            .any(|l| l.contains("connected") && l.contains(&hub.url)),
        "the log names the hub it connected to: {log}"
    );
    assert!(
        log.contains(&dead),
        "the unreachable hub was tried first: {log}"
    );
}
