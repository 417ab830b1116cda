//! Tasks' workspaces in the hub, on SQLite and PostgreSQL, with a simulated daemon that
//! reports worktrees and answers the hub's requests: reports stored and shown with the task,
//! diffs relayed, merge refused while open and on a conflict (nothing changed), merged, kept,
//! discarded; review comments typed to a running agent; prune; offline servers; roles.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{create, task_id};
use orchestratia_proto::api::AgentEvent;
use orchestratia_proto::client::{ClientError, HubClient};
use orchestratia_proto::workspace::{
    DiffQuery, MergeWorkspace, Merged, PruneWorkspaces, PrunedWorktree, ReviewComment, ReviewState,
    WorkspaceAnswer, WorkspaceDiff, WorkspaceFilter, WorkspaceOp, WorkspaceReport,
};
use orchestratia_proto::ws::{DaemonToHub, HubToDaemon};
use orchestratia_proto::{EventKind, HookEvent};
use orchestratia_testkit::daemon::{SimOptions, sample_workspace};
use orchestratia_testkit::{Backend, SimDaemon, TestHub, eventually};
use uuid::Uuid;

fn report(task: Uuid, n: &str, removed: bool) -> WorkspaceReport {
    WorkspaceReport {
        removed,
        ..sample_workspace(task, n)
    }
}

/// The refusal's status and text.
fn refused<T: std::fmt::Debug>(r: Result<T, ClientError>) -> (u16, String) {
    match r {
        Err(e) => (e.status().unwrap_or(0), e.to_string()),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

async fn events_of(admin: &HubClient, t: &str, kind: EventKind) -> usize {
    admin
        .task(t)
        .await
        .map(|v| v.events.iter().filter(|e| e.event == kind).count())
        .unwrap_or(0)
}

/// What the simulated daemon answers.
fn answers(conflict: Arc<AtomicBool>) -> impl Fn(Uuid, &WorkspaceOp) -> Option<WorkspaceAnswer> {
    move |task, op| {
        Some(match op {
            WorkspaceOp::Report => WorkspaceAnswer::Report {
                report: WorkspaceReport {
                    ahead: 2,
                    ..report(task, "T", false)
                },
            },
            WorkspaceOp::Diff { file, .. } => WorkspaceAnswer::Diff {
                diff: WorkspaceDiff {
                    task_id: task,
                    branch: "orc/T-work".into(),
                    base: "main".into(),
                    base_commit: "aaaa1111".into(),
                    head: "bbbb2222".into(),
                    files: Vec::new(),
                    diff: match file.as_deref() {
                        // A daemon that ignores the bound.
                        Some("big.bin") => "+x\n".repeat(500_000),
                        f => format!(
                            "diff --git a/{f} b/{f}\n+hello\n",
                            f = f.unwrap_or("src/a.rs")
                        ),
                    },
                    truncated: false,
                    note: None,
                    uncommitted: Vec::new(),
                },
            },
            WorkspaceOp::Merge { into, squash, .. } if conflict.load(Ordering::SeqCst) => {
                let _ = (into, squash);
                WorkspaceAnswer::Refused {
                    reason: "conflicts".into(),
                    conflicts: vec!["a.txt".into(), "b.rs".into()],
                }
            }
            WorkspaceOp::Merge { into, squash, .. } => WorkspaceAnswer::Merged {
                merged: Merged {
                    into: into.clone().unwrap_or_else(|| "main".into()),
                    commit: "cccc3333".into(),
                    squash: *squash,
                    removed: true,
                    note: None,
                },
                report: report(task, "T", true),
            },
            WorkspaceOp::Discard => WorkspaceAnswer::Report {
                report: report(task, "T", true),
            },
            WorkspaceOp::Prune { removable, dry_run } => WorkspaceAnswer::Pruned {
                items: removable
                    .iter()
                    .map(|c| PrunedWorktree {
                        task_id: c.task_id,
                        path: "/w".into(),
                        branch: "b".into(),
                        action: if *dry_run { "would_remove" } else { "removed" }.into(),
                        why: "merged".into(),
                    })
                    .collect(),
            },
        })
    }
}

/// A task on dev-01 with a reported workspace; returns its ref and id.
async fn started(hub: &TestHub, d: &SimDaemon, title: &str) -> (String, Uuid) {
    let t = create(hub, &["--title", title, "--repo", "app"]).await;
    hub.cli(&["task", "assign", &t, "--session", "dev-01"])
        .await
        .ok();
    let id = task_id(hub, &t).await;
    d.wait_start(10, id).await;
    d.report_workspace(&report(id, &t, false));
    let admin = hub.admin();
    eventually(10, "workspace stored", || async {
        admin.task(&t).await.ok()?.workspace.map(|_| ())
    })
    .await;
    (t, id)
}

async fn workspaces(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    let admin = hub.admin();
    hub.cli(&["project", "create", "P"]).await.ok();
    let d = SimDaemon::start(&admin, "P", "dev-01", "linux", &["app"], &[]).await;
    let conflict = Arc::new(AtomicBool::new(true));
    d.answer_workspaces(answers(conflict.clone()));

    // No workspace yet: a clear 404.
    let t0 = create(&hub, &["--title", "Nothing yet", "--repo", "app"]).await;
    let (code, why) = refused(admin.task_diff(&t0, &DiffQuery::default()).await);
    assert_eq!(code, 404);
    assert!(why.contains("has no workspace"), "{why}");

    // A report is stored and shown with the task.
    let (t1, id1) = started(&hub, &d, "Build it").await;
    let v = hub.cli(&["task", "view", &t1, "--json"]).await.json();
    assert_eq!(v["workspace"]["branch"], format!("orc/{t1}-work"));
    assert_eq!(v["workspace"]["review"], "unreviewed");
    assert_eq!(events_of(&admin, &t1, EventKind::WorkspaceCreated).await, 1);
    // A report from a server that neither runs the task nor holds it is refused.
    let d2 = SimDaemon::start(&admin, "P", "dev-02", "linux", &["app"], &[]).await;
    d2.report_workspace(&WorkspaceReport {
        path: "/elsewhere".into(),
        ..report(id1, &t1, false)
    });
    d2.wait_for(10, "refusal", |m| matches!(m, HubToDaemon::Error { .. }))
        .await;
    let w = admin.task(&t1).await.expect("view").workspace.expect("ws");
    assert_eq!(w.report.path, format!("/w/app/{t1}"));
    assert_eq!(w.server, "dev-01");

    // The diff is relayed from the daemon; a refresh stores the daemon's answer.
    let diff = admin
        .task_diff(
            &t1,
            &DiffQuery {
                stat: false,
                file: Some("src/b.rs".into()),
            },
        )
        .await
        .expect("diff");
    assert!(diff.diff.contains("a/src/b.rs"), "{}", diff.diff);
    let big = DiffQuery {
        stat: false,
        file: Some("big.bin".into()),
    };
    let (code, why) = refused(admin.task_diff(&t1, &big).await);
    assert_eq!(code, 409);
    assert!(why.contains("over the limit"), "{why}");
    assert_eq!(
        admin
            .refresh_workspace(&t1)
            .await
            .expect("refresh")
            .report
            .ahead,
        2
    );

    // A review comment on a running task whose agent has no hooks is typed in at once.
    let stored = admin
        .review_task(
            &t1,
            &ReviewComment {
                file: "src/a.rs".into(),
                line: 3,
                text: "use a constant".into(),
            },
        )
        .await
        .expect("comment");
    assert!(stored.delivered_at.is_some());
    d.wait_for(10, "the review prompt", |m| {
        matches!(m, HubToDaemon::SessionPrompt { text, .. } if text.contains("review: src/a.rs:3: use a constant"))
    })
    .await;
    assert_eq!(events_of(&admin, &t1, EventKind::ReviewDelivered).await, 1);
    for (file, line, text) in [
        ("src/a.rs", 3, "   "),
        ("src/a.rs", 0, "zero"),
        ("a\nb", 1, "two lines"),
        ("", 1, "no file"),
    ] {
        let body = ReviewComment {
            file: file.into(),
            line,
            text: text.into(),
        };
        let (code, why) = refused(admin.review_task(&t1, &body).await);
        assert_eq!(code, 400, "{file:?} {line} {text:?}: {why}");
    }
    let long = ReviewComment {
        file: "a".into(),
        line: 1,
        text: "x".repeat(4001),
    };
    assert_eq!(refused(admin.review_task(&t1, &long).await).0, 400);
    assert_eq!(
        admin.task(&t1).await.expect("view").review_comments.len(),
        1
    );

    // Merge: refused while open, refused to a session or server token, a conflict changes
    // nothing, then merged.
    let (code, why) = refused(admin.merge_task(&t1, &MergeWorkspace::default()).await);
    assert_eq!(code, 409);
    assert!(why.contains("merge it once it is closed"), "{why}");
    let start = d.start_for(id1).expect("start");
    let agent = hub.client(Some(&start.token));
    assert_eq!(
        refused(agent.merge_task(&t1, &MergeWorkspace::default()).await).0,
        403
    );
    let server = hub.client(Some(&d.api_key));
    assert_eq!(
        refused(server.merge_task(&t1, &MergeWorkspace::default()).await).0,
        403
    );
    hub.cli(&["task", "cancel", &t1]).await.ok();
    let (code, why) = refused(admin.merge_task(&t1, &MergeWorkspace::default()).await);
    assert_eq!(code, 409);
    assert!(
        why.contains("conflicts in a.txt, b.rs; nothing was changed"),
        "{why}"
    );
    let w = admin.task(&t1).await.expect("view").workspace.expect("ws");
    assert_eq!(w.review, ReviewState::Unreviewed);
    assert_eq!(events_of(&admin, &t1, EventKind::WorkspaceMerged).await, 0);
    conflict.store(false, Ordering::SeqCst);
    let merged = admin
        .merge_task(&t1, &MergeWorkspace::default())
        .await
        .expect("merge");
    assert_eq!(
        (merged.into.as_str(), merged.commit.as_str()),
        ("main", "cccc3333")
    );
    let w = admin.task(&t1).await.expect("view").workspace.expect("ws");
    assert_eq!(w.review, ReviewState::Merged);
    assert_eq!(w.merged_into.as_deref(), Some("main"));
    assert!(w.report.removed);
    assert_eq!(events_of(&admin, &t1, EventKind::WorkspaceMerged).await, 1);
    let (code, why) = refused(admin.merge_task(&t1, &MergeWorkspace::default()).await);
    assert_eq!(code, 409);
    assert!(why.contains("already merged into main"), "{why}");
    let (code, why) = refused(admin.task_diff(&t1, &DiffQuery::default()).await);
    assert_eq!(code, 409);
    assert!(why.contains("removed (merged into main)"), "{why}");

    // Keep, then discard; a discarded branch cannot be merged.
    let (t2, _) = started(&hub, &d, "Keep it").await;
    hub.cli(&["task", "cancel", &t2]).await.ok();
    assert_eq!(
        admin.keep_task(&t2).await.expect("keep").review,
        ReviewState::Kept
    );
    assert_eq!(events_of(&admin, &t2, EventKind::WorkspaceKept).await, 1);
    let w = admin.discard_task(&t2).await.expect("discard");
    assert_eq!(w.review, ReviewState::Discarded);
    assert!(w.report.removed);
    assert_eq!(
        events_of(&admin, &t2, EventKind::WorkspaceDiscarded).await,
        1
    );
    assert_eq!(
        refused(admin.merge_task(&t2, &MergeWorkspace::default()).await).0,
        409
    );

    // Prune: a closed, unreviewed task's worktree may go; an open task's stays.
    let (t3, id3) = started(&hub, &d, "Open one").await;
    let (t4, id4) = started(&hub, &d, "Closed one").await;
    hub.cli(&["task", "cancel", &t4]).await.ok();
    let dry = admin
        .prune_workspaces(&PruneWorkspaces {
            dry_run: true,
            server: None,
        })
        .await
        .expect("dry run");
    assert!(
        dry.iter()
            .any(|i| i.task_id == id4 && i.action == "would_remove"),
        "{dry:?}"
    );
    let items = admin
        .prune_workspaces(&PruneWorkspaces::default())
        .await
        .expect("prune");
    assert!(
        items
            .iter()
            .any(|i| i.task_id == id4 && i.action == "removed"),
        "{items:?}"
    );
    assert!(
        items.iter().any(|i| i.task_id == id3 && i.action == "kept"),
        "{items:?}"
    );
    let sent = d.workspace_requests();
    let Some((_, WorkspaceOp::Prune { removable, .. })) = sent.last() else {
        panic!("no prune request: {sent:?}");
    };
    assert!(removable.iter().all(|c| c.task_id != id3));
    let listed = admin
        .workspaces(&WorkspaceFilter::default())
        .await
        .expect("list");
    assert!(listed.iter().all(|w| w.report.task_id != id4));
    assert!(listed.iter().any(|w| w.report.task_id == id3));
    let all = admin
        .workspaces(&WorkspaceFilter {
            all: true,
            ..WorkspaceFilter::default()
        })
        .await
        .expect("list all");
    assert!(
        all.iter()
            .any(|w| w.report.task_id == id4 && w.report.removed)
    );
    assert_eq!(events_of(&admin, &t4, EventKind::WorkspacePruned).await, 1);

    // An offline server: the diff says where the worktree is; prune keeps its worktrees.
    d.disconnect().await;
    let (code, why) = refused(admin.task_diff(&t3, &DiffQuery::default()).await);
    assert_eq!(code, 409);
    assert!(why.contains("server dev-01 is offline"), "{why}");
    let items = admin
        .prune_workspaces(&PruneWorkspaces::default())
        .await
        .expect("prune offline");
    assert!(
        items
            .iter()
            .any(|i| i.task_id == id3 && i.why == "server offline"),
        "{items:?}"
    );
}

fn hook(event: HookEvent) -> AgentEvent {
    AgentEvent {
        event,
        notification_type: None,
        source: None,
        tool_name: Some("Bash".into()),
        message: None,
        conversation_id: None,
        prompt: None,
        transcript_path: None,
    }
}

fn review_prompts(d: &SimDaemon) -> usize {
    d.received()
        .iter()
        .filter(
            |m| matches!(m, HubToDaemon::SessionPrompt { text, .. } if text.contains("review: ")),
        )
        .count()
}

/// An agent with hooks gets review comments once it is idle, all in one message; a closed
/// task's comments wait for its retry.
async fn hooked(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    let admin = hub.admin();
    hub.cli(&["project", "create", "P"]).await.ok();
    let opts = SimOptions {
        auto_active: false,
        heartbeats: true,
    };
    let d = SimDaemon::start_with(&admin, "P", "dev-01", &["app"], opts).await;
    let t = create(&hub, &["--title", "Hooked", "--repo", "app"]).await;
    hub.cli(&["task", "assign", &t, "--session", "dev-01"])
        .await
        .ok();
    let id = task_id(&hub, &t).await;
    let start = d.wait_start(10, id).await;
    d.send(&DaemonToHub::SessionActive {
        session_id: start.session_id,
        pid: Some(7),
        tmux: Some(start.name.clone()),
        hooks: true,
    });
    d.report_workspace(&report(id, &t, false));
    let agent = hub.client(Some(&start.token));
    eventually(10, "active", || async {
        agent
            .agent_event(&start.name, &hook(HookEvent::PreToolUse))
            .await
            .ok()
    })
    .await;
    eventually(10, "workspace stored", || async {
        admin.task(&t).await.ok()?.workspace.map(|_| ())
    })
    .await;
    for line in [4, 9] {
        let c = admin
            .review_task(
                &t,
                &ReviewComment {
                    file: "src/a.rs".into(),
                    line,
                    text: format!("fix line {line}"),
                },
            )
            .await
            .expect("comment");
        assert!(
            c.delivered_at.is_none(),
            "a working agent is not interrupted"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(review_prompts(&d), 0);
    agent
        .agent_event(&start.name, &hook(HookEvent::Stop))
        .await
        .expect("stop");
    let m = d
        .wait_for(
            20,
            "the review prompt",
            |m| matches!(m, HubToDaemon::SessionPrompt { text, .. } if text.contains("review: ")),
        )
        .await;
    let HubToDaemon::SessionPrompt { text, .. } = m else {
        unreachable!("matched a prompt");
    };
    assert!(text.contains("review: src/a.rs:4: fix line 4"), "{text}");
    assert!(text.contains("review: src/a.rs:9: fix line 9"), "{text}");
    let v = admin.task(&t).await.expect("view");
    assert!(v.review_comments.iter().all(|c| c.delivered_at.is_some()));
    assert_eq!(
        v.events
            .iter()
            .filter(|e| e.event == EventKind::ReviewDelivered)
            .count(),
        1
    );

    // Closed: a comment waits.
    hub.cli(&["task", "cancel", &t]).await.ok();
    let c = admin
        .review_task(
            &t,
            &ReviewComment {
                file: "src/b.rs".into(),
                line: 1,
                text: "later".into(),
            },
        )
        .await
        .expect("comment");
    assert!(c.delivered_at.is_none());
    assert_eq!(review_prompts(&d), 1);
}

on_both_backends!(workspaces, hooked);
