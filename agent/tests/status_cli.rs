//! `orchestratia status` against a single hub and against replicas, and hub URLs given as a
//! list: the CLI and `orchestratia-agent --register` pass over a URL nothing answers at, and
//! a command that waits goes on at the next replica when the one it waits on dies.

use std::process::Stdio;

use orchestratia_proto::api::HubStatus;
use orchestratia_testkit::{HubOptions, TestCluster, TestHub, bin, eventually, run_cli};
use tokio::process::Command;

/// A URL nothing listens at (port 1 on loopback).
const DEAD: &str = "http://127.0.0.1:1";

#[tokio::test]
async fn a_single_hub_reports_itself_as_main_on_sqlite() {
    let Some(hub) = TestHub::with_project("P").await else {
        return;
    };
    let s: HubStatus =
        serde_json::from_value(hub.cli(&["status", "--json"]).await.json()).expect("HubStatus");
    assert_eq!(s.replica, None);
    assert_eq!(s.database, "sqlite");
    assert_eq!(s.replicas.len(), 1, "{s:?}");
    assert_eq!(s.replicas[0].id, "main");
    assert!(s.replicas[0].alive);
    // `--json` is the API's answer as it is.
    assert_eq!(
        s.version,
        hub.admin().status().await.expect("status").version
    );

    let text = hub.cli(&["status"]).await.ok().to_string();
    let first = text.lines().next().unwrap_or_default();
    assert!(first.contains("database sqlite"), "{text}");
    let main = text
        .lines()
        .find(|l| l.starts_with("main "))
        .expect("main row");
    assert!(main.contains("yes"), "{text}");
}

#[tokio::test]
async fn replicas_are_listed_alive_by_whichever_answers() {
    let Some(cluster) = TestCluster::start(2, HubOptions::default()).await else {
        return;
    };
    // The dead URL first: passed over for r1.
    let urls = format!("{DEAD},{}", cluster.urls_of(&[1, 0]));
    let s: HubStatus = eventually(20, "both replicas alive", || async {
        let out = cluster.cli_at(&urls, &["status", "--json"]).await;
        let s: HubStatus = serde_json::from_value(out.json()).ok()?;
        let alive = |id: &str| s.replicas.iter().any(|r| r.id == id && r.alive);
        (alive("r0") && alive("r1")).then_some(s)
    })
    .await;
    assert_eq!(s.replica.as_deref(), Some("r1"));
    assert_eq!(s.database, "postgresql");

    let text = cluster.cli_at(&urls, &["status"]).await.ok().to_string();
    assert!(text.contains("answered by r1"), "{text}");
    for id in ["r0", "r1"] {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no {id} row: {text}"));
        assert!(row.contains("yes"), "{row}");
    }
}

#[tokio::test]
async fn task_wait_goes_on_at_the_next_replica_when_its_replica_dies() {
    let Some(mut cluster) = TestCluster::start(2, HubOptions::default()).await else {
        return;
    };
    cluster
        .cli_at(&cluster.urls(), &["project", "create", "P"])
        .await
        .ok();
    let created = cluster
        .cli_at(
            &cluster.urls(),
            &["task", "create", "--title", "x", "--project", "P", "--json"],
        )
        .await
        .json();
    let id = created["id"].as_str().expect("task id").to_string();
    // `task wait` long-polls r0 first.
    let r0 = cluster.hubs[0].url.clone();
    let (urls, token) = (cluster.urls(), cluster.hubs[0].admin_token.clone());
    let home = tempfile::tempdir().expect("dir");
    let home_path = home.path().to_path_buf();
    let wait_id = id.clone();
    let waiting = tokio::spawn(async move {
        run_cli(
            &urls,
            &token,
            &home_path,
            &[],
            &["task", "wait", &wait_id, "--timeout", "60s"],
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    cluster.kill(0).await;
    cluster
        .cli_at(&cluster.urls_of(&[1]), &["task", "cancel", &id])
        .await
        .ok();
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), waiting)
        .await
        .expect("task wait ended")
        .expect("task wait ran");
    assert!(out.ok().contains("cancelled"), "{out:?}");
    // It was waiting on r0 when r0 died, said so once, and went on at r1.
    assert!(out.stderr.contains(&r0), "{}", out.stderr);
}

#[tokio::test]
async fn every_hub_url_unreachable_fails_naming_them() {
    let dir = tempfile::tempdir().expect("dir");
    let urls = format!("{DEAD},http://127.0.0.1:2");
    let out = run_cli(&urls, "orcadm_x", dir.path(), &[], &["status"]).await;
    let e = out.fails(1);
    assert!(
        e.contains("127.0.0.1:1") && e.contains("127.0.0.1:2"),
        "{e}"
    );
}

#[tokio::test]
async fn register_keeps_every_hub_url_in_the_config() {
    let Some(hub) = TestHub::with_project("P").await else {
        return;
    };
    let token = hub
        .admin()
        .registration_token("P")
        .await
        .expect("token")
        .token;
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("config.yaml");
    let urls = format!("{DEAD}, {}/", hub.url);
    let out = Command::new(bin("orchestratia-agent"))
        .args(["--register", &token, "--hub", &urls, "--name", "dev-01"])
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run orchestratia-agent --register");
    assert!(
        out.status.success(),
        "registration failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&config).expect("config");
    let doc: yaml_serde::Value = yaml_serde::from_str(&text).expect("yaml");
    assert_eq!(
        doc["hub_url"].as_str(),
        Some(format!("{DEAD},{}", hub.url).as_str()),
        "{text}"
    );

    // A list with something that is not a URL in it is refused before anything is sent.
    let out = Command::new(bin("orchestratia-agent"))
        .args(["--register", &token, "--hub", &format!("{},hub2", hub.url)])
        .args(["--name", "dev-02", "--config"])
        .arg(dir.path().join("other.yaml"))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run orchestratia-agent --register");
    assert_eq!(out.status.code(), Some(2));
}
