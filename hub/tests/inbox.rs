//! `GET /api/v1/inbox`, end to end: what waits for a human in every project (a submitted
//! plan, a pending question, a pending permission request) in one list, newest first, each
//! item its record with a `kind`; it empties as the decisions are made, and only an admin
//! reads it: a worker, or another project's server, is refused.

mod common;

use common::started;

use orchestratia_proto::api::{InboxItem, RequestPermission};
use orchestratia_proto::client::ClientError;
use orchestratia_testkit::{Backend, SimDaemon, TestHub};
use serde_json::Value;

fn refused(what: &str, r: Result<Value, ClientError>) {
    match r {
        Err(ClientError::Api { status: 403, .. }) => {}
        other => panic!("{what}: expected 403, got {other:?}"),
    }
}

async fn inbox(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    let admin = hub.admin();
    admin.create_project("P").await.expect("project P");
    admin.create_project("P2").await.expect("project P2");
    let d = SimDaemon::start(&admin, "P", "dev-01", "linux", &["app"], &["rust"]).await;
    let d2 = SimDaemon::start(&admin, "P2", "dev-02", "linux", &["app"], &["rust"]).await;
    assert!(admin.inbox().await.expect("empty inbox").is_empty());

    // A plan and a question in P, a permission request in P2, in that order.
    let s1 = started(&admin, &d, "P", "migrate", true).await;
    let t1 = s1.task.as_ref().expect("task").id.to_string();
    let plan = hub
        .client(Some(&s1.token))
        .submit_plan(&t1, "1. dump\n2. migrate")
        .await
        .expect("submit plan");
    let s2 = started(&admin, &d, "P", "auth", false).await;
    let t2 = s2.task.as_ref().expect("task").id.to_string();
    let question = hub
        .client(Some(&s2.token))
        .ask_help(&t2, "JWT or session cookies?")
        .await
        .expect("ask help");
    let s3 = started(&admin, &d2, "P2", "deploy", false).await;
    let permission = hub
        .client(Some(&s3.token))
        .request_permission(&RequestPermission::bash("cargo build --release"))
        .await
        .expect("permission request");

    // Nothing waits downstream of these tasks: oldest first.
    let items: Vec<InboxItem> = admin
        .inbox()
        .await
        .expect("inbox")
        .items
        .into_iter()
        .map(|e| e.item)
        .collect();
    let at: Vec<i64> = items.iter().map(InboxItem::created_at).collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "oldest first: {at:?}");
    assert_eq!(
        items,
        vec![
            InboxItem::Plan(plan.clone()),
            InboxItem::Question(question.clone()),
            InboxItem::Permission(permission.clone()),
        ]
    );
    let raw: Value = admin.get("/inbox").await.expect("raw inbox");
    let kinds: Vec<&str> = raw["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["kind"].as_str())
        .collect();
    assert_eq!(kinds, vec!["plan", "question", "permission"]);
    assert_eq!(raw["items"][1]["question"], "JWT or session cookies?");
    assert_eq!(raw["items"][0]["task_ref"], plan.task_reference);
    assert_eq!(raw["items"][0]["blocks"], 0);
    assert_eq!(raw["items"][0]["why"], "holds up no other task");

    // Only an admin reads it: not a worker of P, nor P2's server, nor P2's worker.
    refused(
        "a worker of P",
        hub.client(Some(&s1.token)).get("/inbox").await,
    );
    refused(
        "the server of P2",
        hub.client(Some(&d2.api_key)).get("/inbox").await,
    );
    refused(
        "a worker of P2",
        hub.client(Some(&s3.token)).get("/inbox").await,
    );

    // Each decision takes its item out.
    admin
        .allow_permission(&permission.id.to_string())
        .await
        .expect("allow");
    admin
        .respond(&question.id.to_string(), "JWT")
        .await
        .expect("answer");
    let left: Vec<InboxItem> = admin
        .inbox()
        .await
        .expect("inbox")
        .items
        .into_iter()
        .map(|e| e.item)
        .collect();
    assert_eq!(left, vec![InboxItem::Plan(plan)]);
    admin.approve_plan(&t1).await.expect("approve");
    assert!(admin.inbox().await.expect("inbox").is_empty());
}

on_both_backends!(inbox);
