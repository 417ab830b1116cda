//! The workspaces store on SQLite and PostgreSQL: reports stored and replaced, a retried
//! task's new worktree starting its review afresh, review states, and review comments with
//! their delivery.

mod common;

use orchestratia_hub::store::{self, Store};
use orchestratia_proto::workspace::{FileChange, ReviewComment, ReviewState, WorkspaceReport};
use orchestratia_proto::{Project, Server, ServerStatus};
use orchestratia_testkit::PgDatabase;
use uuid::Uuid;

use common::task_record;

fn report(task: Uuid, head: &str, removed: bool) -> WorkspaceReport {
    WorkspaceReport {
        task_id: task,
        repo: "r".into(),
        path: "/w/r/T1".into(),
        branch: "orc/T1-a".into(),
        base: "main".into(),
        base_commit: "b0".into(),
        head: head.into(),
        ahead: 1,
        behind: 0,
        files: vec![FileChange {
            path: "a.txt".into(),
            insertions: Some(3),
            deletions: None,
        }],
        uncommitted: vec![],
        removed,
    }
}

async fn suite(store: Store) {
    let mut tx = store.write().await.expect("tx");
    let p = Project {
        id: Uuid::new_v4(),
        name: "P".into(),
        budget: None,
        usage: None,
        created_at: 1,
    };
    store::projects::insert(&mut tx, &p).await.expect("project");
    let s = Server {
        id: Uuid::new_v4(),
        project_id: p.id,
        name: "srv".into(),
        status: ServerStatus::Online,
        os: "linux".into(),
        hostname: "h".into(),
        repos: Default::default(),
        languages: vec![],
        sessions: 0,
        last_heartbeat: None,
        revoked: false,
        created_at: 1,
    };
    store::servers::insert(&mut tx, &s).await.expect("server");
    let t = task_record(p.id, 1, "A");
    store::tasks::insert(&mut tx, &t).await.expect("task");

    assert!(
        store::workspaces::get(&mut tx, t.id)
            .await
            .expect("get")
            .is_none()
    );
    let first =
        store::workspaces::upsert_report(&mut tx, p.id, s.id, &report(t.id, "h1", false), 10)
            .await
            .expect("insert");
    assert!(first, "the first report makes the row");
    let again =
        store::workspaces::upsert_report(&mut tx, p.id, s.id, &report(t.id, "h2", false), 20)
            .await
            .expect("update");
    assert!(!again);
    let w = store::workspaces::get(&mut tx, t.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(w.report.head, "h2");
    assert_eq!(w.reference, "T1");
    assert_eq!(w.server, "srv");
    assert_eq!(w.review, ReviewState::Unreviewed);
    assert_eq!(w.reported_at, 20);
    assert_eq!(w.to_workspace().report.files[0].insertions, Some(3));

    // A merge records where it went; the worktree's removal is kept.
    store::workspaces::set_review(
        &mut tx,
        t.id,
        ReviewState::Merged,
        Some(store::workspaces::MergeRecord {
            into: "main",
            commit: "m1",
            head: "h2",
        }),
    )
    .await
    .expect("merged");
    store::workspaces::set_removed(&mut tx, t.id)
        .await
        .expect("removed");
    let w = store::workspaces::get(&mut tx, t.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(w.review, ReviewState::Merged);
    assert_eq!(w.merged_into.as_deref(), Some("main"));
    assert_eq!(w.merge_commit.as_deref(), Some("m1"));
    assert_eq!(w.merged_head.as_deref(), Some("h2"));
    assert!(w.report.removed);
    assert!(
        store::workspaces::list(&mut tx, Some(p.id), None, false)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store::workspaces::list(&mut tx, None, Some(s.id), true)
            .await
            .expect("list")
            .len(),
        1
    );
    // A report of a removed worktree changes nothing of the review...
    store::workspaces::upsert_report(&mut tx, p.id, s.id, &report(t.id, "h2", true), 30)
        .await
        .expect("removed report");
    let w = store::workspaces::get(&mut tx, t.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(w.review, ReviewState::Merged);
    // ...but a retried task's new worktree starts a new review.
    store::workspaces::upsert_report(&mut tx, p.id, s.id, &report(t.id, "h3", false), 40)
        .await
        .expect("new worktree");
    let w = store::workspaces::get(&mut tx, t.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(w.review, ReviewState::Unreviewed);
    assert_eq!(w.merged_into, None);
    assert!(!w.report.removed);

    // Comments: stored in order, delivered once.
    let c1 = store::workspaces::add_comment(
        &mut tx,
        t.id,
        &ReviewComment {
            file: "a.txt".into(),
            line: 3,
            text: "why?".into(),
        },
        "admin",
        50,
    )
    .await
    .expect("comment");
    let c2 = store::workspaces::add_comment(
        &mut tx,
        t.id,
        &ReviewComment {
            file: "b.txt".into(),
            line: 1,
            text: "ok".into(),
        },
        "admin",
        51,
    )
    .await
    .expect("comment");
    let all = store::workspaces::comments(&mut tx, t.id)
        .await
        .expect("comments");
    assert_eq!(all, vec![c1.clone(), c2.clone()]);
    store::workspaces::mark_delivered(&mut tx, &[c1.id], 60)
        .await
        .expect("delivered");
    let waiting = store::workspaces::undelivered_of(&mut tx, &[t.id])
        .await
        .expect("undelivered");
    assert_eq!(waiting, vec![c2.clone()]);
    // A wave of tasks is read at once; tasks with none add nothing.
    let t2 = task_record(p.id, 2, "B");
    store::tasks::insert(&mut tx, &t2).await.expect("task");
    let c3 = store::workspaces::add_comment(
        &mut tx,
        t2.id,
        &ReviewComment {
            file: "c.txt".into(),
            line: 2,
            text: "and this".into(),
        },
        "admin",
        52,
    )
    .await
    .expect("comment");
    let wave = store::workspaces::undelivered_of(&mut tx, &[Uuid::new_v4(), t.id, t2.id])
        .await
        .expect("undelivered of a wave");
    assert_eq!(wave, vec![c2, c3]);
    let all = store::workspaces::comments(&mut tx, t.id)
        .await
        .expect("comments");
    assert_eq!(all[0].delivered_at, Some(60));
    tx.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("hub.db").display());
    let store = Store::open(&url).await.expect("open");
    suite(store.clone()).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let store = Store::open(&db.url).await.expect("open");
    suite(store.clone()).await;
    store.close().await;
}
