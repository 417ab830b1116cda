//! Helpers shared by the hub's end-to-end tests.
#![allow(dead_code)]

use orchestratia_proto::ws::SessionStart;
use orchestratia_testkit::{CliOutput, TestHub};

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
