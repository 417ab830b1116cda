//! A follower paging `events?after=` never misses an event and never sees one twice, while
//! many transactions write events concurrently and commit in another order than their ids
//! (some hold their insert open while others commit). On SQLite and on PostgreSQL.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use orchestratia_hub::HubConfig;
use orchestratia_hub::auth::Principal;
use orchestratia_hub::service::Hub;
use orchestratia_hub::store::events::{EventFilter, NewEvent};
use orchestratia_hub::store::{self, Store};
use orchestratia_proto::EventKind;
use orchestratia_proto::api::{CreateTask, EventQuery};
use orchestratia_testkit::PgDatabase;
use serde_json::json;
use tokio::time::Instant;

/// Raw writers: each transaction inserts a few events, then holds them uncommitted for a while
/// (longer now and then) so that later ids commit first.
const RAW_WRITERS: usize = 6;
const RAW_TXS: usize = 30;
/// Writers through the hub's operations (task creations and notes, published on the bus).
const OP_WRITERS: usize = 2;
const OP_ROUNDS: usize = 15;

async fn raw_writer(hub: Hub, w: usize) {
    for i in 0..RAW_TXS {
        let mut tx = hub.store.write().await.expect("tx");
        let n = 1 + (w + i) % 3;
        let events: Vec<NewEvent> = (0..n)
            .map(|k| NewEvent {
                kind: EventKind::TaskCreated,
                actor: format!("writer-{w}"),
                project_id: None,
                task_id: None,
                related_task_id: None,
                server_id: None,
                session_id: None,
                details: json!({"tx": i, "k": k}),
            })
            .collect();
        let written = store::events::insert(&mut tx, events, 1)
            .await
            .expect("insert");
        let hold = if i % 5 == w % 5 {
            40
        } else {
            ((w * 7 + i * 13) % 11) as u64
        };
        tokio::time::sleep(Duration::from_millis(hold)).await;
        tx.commit().await.expect("commit");
        hub.bus.publish(written);
    }
}

async fn op_writer(hub: Hub, w: usize) {
    for i in 0..OP_ROUNDS {
        let t = hub
            .create_task(
                &Principal::Admin,
                &CreateTask {
                    title: format!("w{w} t{i}"),
                    project: Some("P".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("create");
        hub.add_note(&Principal::Admin, &t.id.to_string(), "a note")
            .await
            .expect("note");
    }
}

/// Pages with the store's cursor, no waiting, small pages.
async fn pager(store: Store, stop: Arc<AtomicBool>) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        let mut c = store.read().await.expect("read");
        let page = store::events::list(
            &mut c,
            &EventFilter {
                after,
                limit: 7,
                ..Default::default()
            },
        )
        .await
        .expect("list");
        drop(c);
        if let Some(last) = page.last() {
            after = last.id;
        }
        let empty = page.is_empty();
        seen.extend(page.iter().map(|e| e.id));
        if stopping && empty {
            return seen;
        }
        if empty {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// Follows with the long-poll (`wait`), as the CLI's `events --follow` does.
async fn follower(hub: Hub, stop: Arc<AtomicBool>) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        let page = hub
            .events(
                &Principal::Admin,
                &EventQuery {
                    after: Some(after),
                    limit: Some(5),
                    wait: Some(if stopping { "0s" } else { "1s" }.into()),
                    ..Default::default()
                },
            )
            .await
            .expect("events");
        after = page.cursor;
        let empty = page.events.is_empty();
        seen.extend(page.events.iter().map(|e| e.id));
        if stopping && empty {
            return seen;
        }
    }
}

fn check(who: &str, seen: &[i64], all: &BTreeSet<i64>) {
    let unique: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "{who} saw an event twice");
    let missed: Vec<i64> = all.difference(&unique).copied().collect();
    assert!(
        missed.is_empty(),
        "{who} missed {} of {} events: {missed:?}",
        missed.len(),
        all.len()
    );
    assert_eq!(&unique, all, "{who} saw events that are not stored");
}

async fn never_misses(url: &str) {
    let store = Store::open(url).await.expect("open");
    let hub = Hub::new(
        store.clone(),
        HubConfig::embedded(url),
        "http://127.0.0.1:1".into(),
    );
    hub.create_project(&Principal::Admin, "P")
        .await
        .expect("project");
    let stop = Arc::new(AtomicBool::new(false));
    let pager = tokio::spawn(pager(store.clone(), stop.clone()));
    let follower = tokio::spawn(follower(hub.clone(), stop.clone()));
    let mut writers = Vec::new();
    for w in 0..RAW_WRITERS {
        writers.push(tokio::spawn(raw_writer(hub.clone(), w)));
    }
    for w in 0..OP_WRITERS {
        writers.push(tokio::spawn(op_writer(hub.clone(), w)));
    }
    for w in writers {
        w.await.expect("writer");
    }
    let mut c = store.read().await.expect("read");
    let all: BTreeSet<i64> = c
        .fetch("SELECT id FROM events", &[])
        .await
        .expect("all")
        .iter()
        .map(|r| r.int("id").expect("id"))
        .collect();
    drop(c);
    assert!(
        all.len() >= RAW_WRITERS * RAW_TXS,
        "only {} events",
        all.len()
    );
    // Every writer has committed: what a follower has not seen yet is there to read now (on
    // PostgreSQL once transactions elsewhere on the server have ended too).
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let mut c = store.read().await.expect("read");
        let readable = store::events::list(
            &mut c,
            &EventFilter {
                after: 0,
                limit: 10_000,
                ..Default::default()
            },
        )
        .await
        .expect("list")
        .len();
        drop(c);
        if readable == all.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let paged = pager.await.expect("pager");
    let followed = follower.await.expect("follower");
    check("the pager", &paged, &all);
    check("the long-poll follower", &followed, &all);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("hub.db").display());
    never_misses(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    never_misses(&db.url).await;
}
