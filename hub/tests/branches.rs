//! What the hub tells a daemon about a task's worktree, and the settings behind it: a task's
//! branch (set, or `orc/T7-title-slug`), its base (a branch, another task's branch, or its
//! upstream's), a `blocks` dependency that waits for a merge, and the refusals of bad
//! settings (nothing stored).

mod common;

use orchestratia_proto::api::{AddDependency, CreateTask};
use orchestratia_proto::workspace::{
    MergeWorkspace, Merged, WorkspaceAnswer, WorkspaceOp, WorkspaceReport,
};
use orchestratia_proto::{DepType, DependencyAfter, EventKind};
use orchestratia_testkit::{Backend, SimDaemon, TestHub, eventually};

use common::as_worker;

fn task(title: &str) -> CreateTask {
    CreateTask {
        title: title.into(),
        project: Some("P".into()),
        repo: Some("app".into()),
        ..Default::default()
    }
}

async fn branches(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    let admin = hub.admin();
    let d = SimDaemon::start(&admin, "P", "dev-01", "linux", &["app"], &["rust"]).await;

    // Bad settings are refused with the reason, and nothing is stored.
    for (body, needle) in [
        (
            CreateTask {
                branch: Some("a..b".into()),
                ..task("x")
            },
            "invalid branch 'a..b'",
        ),
        (
            CreateTask {
                base: Some("-x".into()),
                ..task("x")
            },
            "invalid base '-x'",
        ),
        (
            CreateTask {
                base: Some("main".into()),
                base_from: Some("T1".into()),
                ..task("x")
            },
            "give --base or --base-from, not both",
        ),
        (
            CreateTask {
                base_from: Some("T99".into()),
                ..task("x")
            },
            "T99 not found",
        ),
        (
            CreateTask {
                base: Some("upstream".into()),
                ..task("x")
            },
            "--base upstream needs a task to start from",
        ),
    ] {
        let e = admin.create_task(&body).await.expect_err("refused");
        assert!(e.to_string().contains(needle), "{e} (expected {needle})");
    }
    assert!(
        admin
            .tasks(&Default::default())
            .await
            .expect("tasks")
            .is_empty()
    );

    // T1: the default branch, from the repo's current branch.
    let t1 = admin
        .create_task(&task("Gateway tests!"))
        .await
        .expect("T1");
    assert_eq!(t1.reference, "T1");
    // T2 starts from T1's branch (and so waits for T1); T3 from its upstream's; T4 waits for
    // T1's merge, with a branch of its own.
    let t2 = admin
        .create_task(&CreateTask {
            base_from: Some("T1".into()),
            ..task("Build on it")
        })
        .await
        .expect("T2");
    assert!(t2.blocked, "base_from makes T2 wait for T1");
    assert_eq!(t2.base_from, Some(t1.id));
    let t3 = admin
        .create_task(&CreateTask {
            base: Some("upstream".into()),
            depends_on: vec!["T1".into()],
            ..task("Also on it")
        })
        .await
        .expect("T3");
    let t4 = admin
        .create_task(&CreateTask {
            branch: Some("feature/after-review".into()),
            ..task("After the merge")
        })
        .await
        .expect("T4");
    let e = admin
        .add_dependency(
            "T4",
            &AddDependency {
                depends_on: "T1".into(),
                dep_type: DepType::Input,
                contract_key: Some("k".into()),
                after: Some(DependencyAfter::Merged),
            },
        )
        .await
        .expect_err("after merged on an input");
    assert!(
        e.to_string()
            .contains("--after merged applies only to --type blocks"),
        "{e}"
    );
    let v = admin
        .add_dependency(
            "T4",
            &AddDependency {
                depends_on: "T1".into(),
                dep_type: DepType::Blocks,
                contract_key: None,
                after: Some(DependencyAfter::Merged),
            },
        )
        .await
        .expect("after merged");
    assert_eq!(v.depends_on[0].after, DependencyAfter::Merged);

    admin.assign("T1", "dev-01").await.expect("assign T1");
    let s1 = d.wait_start(20, t1.id).await;
    let w1 = s1.workspace.clone().expect("T1's session gets a worktree");
    assert_eq!(w1.branch, "orc/T1-gateway-tests");
    assert_eq!(w1.base, None);
    assert_eq!(w1.reference, "T1");

    // The daemon reports T1's worktree as it makes it, before its agent runs.
    let report = WorkspaceReport {
        task_id: t1.id,
        repo: "app".into(),
        path: "/w/app/T1".into(),
        branch: w1.branch.clone(),
        base: "main".into(),
        base_commit: "aaaa1111".into(),
        head: "bbbb2222".into(),
        ahead: 1,
        behind: 0,
        files: Vec::new(),
        uncommitted: Vec::new(),
        removed: false,
    };
    d.report_workspace(&report);
    eventually(10, "T1's workspace stored", || async {
        admin.task("T1").await.ok()?.workspace.map(|_| ())
    })
    .await;
    as_worker(&hub, &s1, &["task", "complete", "--summary", "ok"])
        .await
        .ok();
    let s2 = d.wait_start(20, t2.id).await;
    assert_eq!(
        s2.workspace.expect("T2's worktree").base.as_deref(),
        Some("orc/T1-gateway-tests")
    );
    let s3 = d.wait_start(20, t3.id).await;
    assert_eq!(
        s3.workspace.expect("T3's worktree").base.as_deref(),
        Some("orc/T1-gateway-tests")
    );
    // T4 waits for T1's merge, and says so.
    eventually(10, "T4 says it waits for the merge", || async {
        let t = admin.task("T4").await.expect("T4").task;
        (t.blocked_reason.as_deref() == Some("waiting for T1's branch to be merged")).then_some(())
    })
    .await;
    assert!(d.start_for(t4.id).is_none());

    // Merging T1's branch releases T4 (and starts it), in the merge's transaction.
    d.answer_workspaces(move |_, op| match op {
        WorkspaceOp::Merge { squash, .. } => Some(WorkspaceAnswer::Merged {
            merged: Merged {
                into: "main".into(),
                commit: "cccc3333".into(),
                squash: *squash,
                removed: true,
                note: None,
            },
            report: WorkspaceReport {
                removed: true,
                ..report.clone()
            },
        }),
        _ => None,
    });
    admin
        .merge_task("T1", &MergeWorkspace::default())
        .await
        .expect("merge T1");
    let s4 = d.wait_start(20, t4.id).await;
    assert_eq!(
        s4.workspace.expect("T4's worktree").branch,
        "feature/after-review"
    );
    let v = admin.task("T4").await.expect("T4");
    assert!(v.depends_on[0].resolved);
    let released = v
        .events
        .iter()
        .find(|e| e.event == EventKind::TaskUnblocked)
        .expect("T4 released");
    assert_eq!(released.details["released_by"], "T1");
}

/// A task based on another's branch runs on the server that holds that branch, though
/// another server scores as well (ties go by name, so dev-a would win otherwise).
async fn based_on_a_branch_runs_where_it_is(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    let admin = hub.admin();
    let a = SimDaemon::start(&admin, "P", "dev-a", "linux", &["app"], &["rust"]).await;
    let b = SimDaemon::start(&admin, "P", "dev-b", "linux", &["app"], &["rust"]).await;
    let t1 = admin.create_task(&task("Schema")).await.expect("T1");
    let t2 = admin
        .create_task(&CreateTask {
            base_from: Some("T1".into()),
            ..task("On the schema")
        })
        .await
        .expect("T2");
    admin.assign("T1", "dev-b").await.expect("assign T1");
    let s1 = b.wait_start(20, t1.id).await;
    let branch = s1.workspace.clone().expect("T1's worktree").branch;
    b.report_workspace(&WorkspaceReport {
        task_id: t1.id,
        repo: "app".into(),
        path: "/w/app/T1".into(),
        branch: branch.clone(),
        base: "main".into(),
        base_commit: "aaaa1111".into(),
        head: "bbbb2222".into(),
        ahead: 1,
        behind: 0,
        files: Vec::new(),
        uncommitted: Vec::new(),
        removed: false,
    });
    eventually(10, "T1's workspace stored", || async {
        admin.task("T1").await.ok()?.workspace.map(|_| ())
    })
    .await;
    let e = admin.explain("T2").await.expect("explain T2");
    assert_eq!(e.winner.as_deref(), Some("dev-b"), "{e:?}");
    let loser = e
        .candidates
        .iter()
        .find(|c| c.server == "dev-a")
        .expect("dev-a");
    assert!(
        loser
            .disqualified
            .as_deref()
            .is_some_and(|d| d.contains("pinned to dev-b")),
        "{loser:?}"
    );

    as_worker(&hub, &s1, &["task", "complete", "--summary", "ok"])
        .await
        .ok();
    let s2 = b.wait_start(20, t2.id).await;
    assert_eq!(s2.workspace.expect("T2's worktree").base, Some(branch));
    assert!(a.start_for(t2.id).is_none());
}

/// An upstream with no workspace (its repo is not a git repository: the daemon reports none)
/// has no branch to merge: its completion meets `after: merged`, says why, and releases the
/// downstream; a dependency added later on it is met at once.
async fn after_merged_on_an_upstream_with_no_workspace(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    hub.cli(&["project", "create", "P"]).await.ok();
    let admin = hub.admin();
    let d = SimDaemon::start(&admin, "P", "dev-01", "linux", &["app"], &["rust"]).await;
    let t1 = admin.create_task(&task("Not git")).await.expect("T1");
    let t2 = admin.create_task(&task("After it")).await.expect("T2");
    let t3 = admin.create_task(&task("Later")).await.expect("T3");
    let after_merged = AddDependency {
        depends_on: "T1".into(),
        dep_type: DepType::Blocks,
        contract_key: None,
        after: Some(DependencyAfter::Merged),
    };
    admin
        .add_dependency("T2", &after_merged)
        .await
        .expect("T2 after merged");
    admin.assign("T1", "dev-01").await.expect("assign T1");
    let s1 = d.wait_start(20, t1.id).await;
    as_worker(&hub, &s1, &["task", "complete", "--summary", "ok"])
        .await
        .ok();
    d.wait_start(20, t2.id).await;
    let v1 = admin.task("T1").await.expect("T1");
    assert!(v1.workspace.is_none());
    let resolved = v1
        .events
        .iter()
        .find(|e| e.event == EventKind::DependencyResolved)
        .expect("T2's dependency resolved");
    assert_eq!(
        resolved.details["note"],
        "T1 has no workspace to merge: its completion meets after: merged"
    );
    let v = admin
        .add_dependency("T3", &after_merged)
        .await
        .expect("T3 after merged");
    assert!(
        v.depends_on[0].resolved,
        "nothing will be merged: met at once"
    );
    d.wait_start(20, t3.id).await;
}

on_both_backends!(
    branches,
    based_on_a_branch_runs_where_it_is,
    after_merged_on_an_upstream_with_no_workspace
);
