//! Usage and budgets, end to end over a daemon's real WebSocket: a session's usage report
//! shows on its task and its project; a project's budget is warned about at 80% and reached
//! at 100% (one event each); an enforced budget holds new tasks pending with the reason, and
//! raising it releases them; bad budgets are refused with one line and change nothing; a
//! daemon cannot report another server's session.

mod common;

use orchestratia_proto::api::{CreateProject, CreateTask, EventQuery, SetBudget};
use orchestratia_proto::client::{ClientError, HubClient};
use orchestratia_proto::usage::Usage;
use orchestratia_proto::ws::{DaemonToHub, HubToDaemon};
use orchestratia_proto::{EventKind, Project, TaskStatus};
use orchestratia_testkit::{Backend, SimDaemon, TestHub, eventually};
use uuid::Uuid;

fn usage(cost: f64, calls: u64) -> Usage {
    Usage {
        model: Some("claude-sonnet-4-5".into()),
        input_tokens: 100 * calls,
        output_tokens: 10 * calls,
        cache_read_tokens: 1000,
        cache_write_tokens: 50,
        cost_usd: cost,
        calls,
        unpriced_calls: 0,
    }
}

async fn kinds(admin: &HubClient, project: &str) -> Vec<EventKind> {
    admin
        .events(&EventQuery {
            project: Some(project.into()),
            kind: Some("budget_warning,budget_reached".into()),
            ..Default::default()
        })
        .await
        .expect("events")
        .events
        .into_iter()
        .map(|e| e.event)
        .collect()
}

/// Project B as listed.
async fn project(admin: &HubClient) -> Project {
    admin
        .projects()
        .await
        .expect("projects")
        .into_iter()
        .find(|p| p.name == "B")
        .expect("project B")
}

fn bad_request(what: &str, r: Result<impl std::fmt::Debug, ClientError>) -> String {
    match r {
        Err(ClientError::Api {
            status: 400,
            detail,
            ..
        }) => {
            assert!(!detail.contains('\n'), "{what}: one line: {detail}");
            detail
        }
        other => panic!("{what}: expected 400, got {other:?}"),
    }
}

async fn budgets(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    let admin = hub.admin();

    // Bad budgets on create: refused, no project made.
    for bad in [0.0, -3.0, 2e9] {
        let r = admin
            .create_project_with(&CreateProject {
                name: "B".into(),
                budget_usd: Some(bad),
                enforce_budget: true,
            })
            .await;
        let why = bad_request(&format!("create with {bad}"), r);
        assert!(why.contains("budget_usd"), "{why}");
    }
    assert!(admin.projects().await.expect("projects").is_empty());

    let p = admin
        .create_project_with(&CreateProject {
            name: "B".into(),
            budget_usd: Some(1.0),
            enforce_budget: true,
        })
        .await
        .expect("project with a budget");
    let budget = p.budget.clone().expect("budget kept");
    assert_eq!((budget.usd, budget.enforce), (1.0, true));
    assert_eq!(p.usage, None);

    let d = SimDaemon::start(&admin, "B", "dev-01", "linux", &["app"], &["rust"]).await;
    let t1 = admin
        .create_task(&CreateTask {
            title: "first".into(),
            project: Some("B".into()),
            repo: Some("app".into()),
            ..Default::default()
        })
        .await
        .expect("T1");
    admin
        .assign(&t1.id.to_string(), "dev-01")
        .await
        .expect("assign T1");
    let s1 = d.wait_start(10, t1.id).await;

    // 85%: a warning, once; the task and the project show the usage.
    d.send(&DaemonToHub::Usage {
        session_id: s1.session_id,
        usage: usage(0.85, 3),
    });
    eventually(10, "the usage on T1", || async {
        let v = admin.task(&t1.id.to_string()).await.ok()?;
        (v.task.usage == Some(usage(0.85, 3))).then_some(())
    })
    .await;
    let listed = admin.tasks(&Default::default()).await.expect("task list");
    let t1_listed = listed.iter().find(|t| t.id == t1.id).expect("T1 listed");
    assert_eq!(t1_listed.usage, Some(usage(0.85, 3)));
    assert_eq!(kinds(&admin, "B").await, vec![EventKind::BudgetWarning]);
    let got = project(&admin).await.usage;
    assert_eq!(got.as_ref().map(|u| u.cost_usd), Some(0.85));
    assert_eq!(got.as_ref().map(|u| u.calls), Some(3));

    // The same totals again change nothing; 120% reaches the budget, once.
    d.send(&DaemonToHub::Usage {
        session_id: s1.session_id,
        usage: usage(0.85, 3),
    });
    d.send(&DaemonToHub::Usage {
        session_id: s1.session_id,
        usage: usage(1.2, 5),
    });
    d.send(&DaemonToHub::Usage {
        session_id: s1.session_id,
        usage: usage(1.25, 6),
    });
    eventually(10, "budget reached", || async {
        let k = kinds(&admin, "B").await;
        (k.len() >= 2).then_some(k)
    })
    .await;
    eventually(10, "the last report stored", || async {
        let u = project(&admin).await.usage?;
        (u.calls == 6).then_some(())
    })
    .await;
    assert_eq!(
        kinds(&admin, "B").await,
        vec![EventKind::BudgetWarning, EventKind::BudgetReached]
    );
    let projects = admin.projects().await.expect("projects");
    assert_eq!(projects[0].usage.as_ref().map(|u| u.cost_usd), Some(1.25));

    // Enforced and reached: a task the cascade releases waits with the reason, and one is
    // not assigned by hand either.
    let t2 = admin
        .create_task(&CreateTask {
            title: "second".into(),
            project: Some("B".into()),
            repo: Some("app".into()),
            depends_on: vec![t1.reference.clone()],
            ..Default::default()
        })
        .await
        .expect("T2");
    common::as_worker(&hub, &s1, &["task", "complete", "--summary", "done"])
        .await
        .ok();
    let v2 = eventually(10, "T2 released", || async {
        let v = admin.task(&t2.id.to_string()).await.ok()?;
        (!v.task.blocked).then_some(v)
    })
    .await;
    assert_eq!(v2.task.status, TaskStatus::Pending);
    assert_eq!(
        v2.task.blocked_reason.as_deref(),
        Some("project budget of $1.00 reached")
    );
    assert!(d.start_for(t2.id).is_none(), "T2 held, not started");
    let r = admin.assign(&t2.id.to_string(), "dev-01").await;
    match r {
        Err(ClientError::Api {
            status: 409,
            detail,
            ..
        }) => assert!(
            detail.contains("project budget of $1.00 reached"),
            "{detail}"
        ),
        other => panic!("assign while held: expected 409, got {other:?}"),
    }

    // Bad budgets on set: refused, the budget unchanged, T2 still held.
    for bad in [0.0, -1.0, 1e10] {
        let r = admin
            .set_budget(
                "B",
                &SetBudget {
                    budget_usd: Some(bad),
                    enforce: true,
                },
            )
            .await;
        bad_request(&format!("set {bad}"), r);
    }
    let r = admin
        .set_budget(
            "nope",
            &SetBudget {
                budget_usd: Some(5.0),
                enforce: true,
            },
        )
        .await;
    assert!(
        matches!(r, Err(ClientError::Api { status: 404, .. })),
        "{r:?}"
    );
    assert_eq!(project(&admin).await.budget.map(|b| b.usd), Some(1.0));
    assert!(d.start_for(t2.id).is_none(), "T2 still held");

    // A worker cannot set a budget.
    let worker = hub.client(Some(&s1.token));
    let r = worker
        .set_budget(
            "B",
            &SetBudget {
                budget_usd: Some(100.0),
                enforce: false,
            },
        )
        .await;
    assert!(
        matches!(r, Err(ClientError::Api { status: 403, .. })),
        "{r:?}"
    );

    // Raised: T2 is assigned; the warning state starts over (1.25 of 5 is below 80%).
    let raised = admin
        .set_budget(
            "B",
            &SetBudget {
                budget_usd: Some(5.0),
                enforce: true,
            },
        )
        .await
        .expect("raise");
    assert_eq!(raised.budget.map(|b| b.usd), Some(5.0));
    assert_eq!(raised.usage.map(|u| u.cost_usd), Some(1.25));
    d.wait_start(10, t2.id).await;
    assert_eq!(kinds(&admin, "B").await.len(), 2);

    // A report about a session that is not this daemon's is refused and stores nothing.
    d.send(&DaemonToHub::Usage {
        session_id: Uuid::now_v7(),
        usage: usage(100.0, 1),
    });
    d.wait_for(10, "the refusal", |m| {
        matches!(m, HubToDaemon::Error { .. })
    })
    .await;
    let after = project(&admin).await.usage.expect("usage");
    assert_eq!(after.cost_usd, 1.25);

    // Cleared: no budget, nothing held.
    let cleared = admin
        .set_budget("B", &SetBudget::default())
        .await
        .expect("clear");
    assert_eq!(cleared.budget, None);
}

on_both_backends!(budgets);
