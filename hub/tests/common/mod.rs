//! Helpers shared by the hub's end-to-end tests.
#![allow(dead_code)]

use orchestratia_hub::store::tasks::TaskRecord;
use orchestratia_proto::ws::SessionStart;
use orchestratia_proto::{Priority, TaskStatus};
use orchestratia_testkit::{CliOutput, TestHub};
use serde_json::json;
use uuid::Uuid;

/// Runs one scenario on SQLite and on PostgreSQL (skipped with a reason where no server
/// answers, except in CI).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(orchestratia_testkit::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(orchestratia_testkit::Backend::Postgres).await
            }
        }
    )+};
}

/// Runs the CLI as the agent of a session (its token and task id in the environment).
pub async fn as_worker(hub: &TestHub, s: &SessionStart, args: &[&str]) -> CliOutput {
    let task = s
        .task
        .as_ref()
        .map(|t| t.id.to_string())
        .unwrap_or_default();
    hub.cli_as(&s.token, &[("ORCHESTRATIA_TASK_ID", &task)], args)
        .await
}

/// The id of a task by its reference, through the CLI.
pub async fn task_id(hub: &TestHub, r: &str) -> uuid::Uuid {
    let v = hub.cli(&["task", "view", r, "--json"]).await.json();
    v["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("task id")
}

/// Creates a task through the CLI and returns its reference.
pub async fn create(hub: &TestHub, args: &[&str]) -> String {
    let mut all = vec!["task", "create", "--json"];
    all.extend_from_slice(args);
    let v = hub.cli(&all).await.json();
    v["ref"].as_str().expect("ref").to_string()
}

/// A task record with every field set, for the store suites.
pub fn task_record(project: Uuid, number: i64, title: &str) -> TaskRecord {
    TaskRecord {
        id: Uuid::new_v4(),
        project_id: project,
        number,
        title: title.into(),
        spec: String::new(),
        structured_spec: Some(json!({"requirements": []})),
        priority: Priority::High,
        repo: Some("r".into()),
        languages: vec!["rust".into()],
        agent: None,
        os: None,
        require_plan_approval: true,
        orchestrator: false,
        keep_session: false,
        status: TaskStatus::Pending,
        server_id: None,
        server_name: None,
        phase: None,
        released_by: None,
        wait_reason: None,
        result: None,
        pipeline_key: Some(format!("k{number}")),
        base: None,
        base_from: None,
        branch: None,
        created_by: "admin".into(),
        created_at: 1,
        updated_at: 1,
        completed_at: None,
    }
}

/// Creates a task in `project`, assigns it to `d`, and waits for its session to be active
/// (see `SimDaemon::started`).
pub async fn started(
    admin: &orchestratia_proto::client::HubClient,
    d: &orchestratia_testkit::SimDaemon,
    project: &str,
    title: &str,
    plan: bool,
) -> SessionStart {
    d.started(admin, project, title, plan).await
}
