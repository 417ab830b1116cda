//! Typed calls about tasks: create, list, view, update, wire, assign, close, notes, the
//! project's graph and the event log.

use serde_json::Value;

use super::{ClientError, HubClient, enc};
use crate::api::*;
use crate::model::*;

impl HubClient {
    /// Creates a task.
    pub async fn create_task(&self, body: &CreateTask) -> Result<Task, ClientError> {
        self.post("/tasks", body).await
    }

    /// Tasks, filtered by status, project or server.
    pub async fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>, ClientError> {
        let mut q = Vec::new();
        if let Some(s) = &filter.status {
            q.push(format!("status={}", enc(s)));
        }
        if let Some(p) = &filter.project {
            q.push(format!("project={}", enc(p)));
        }
        if let Some(s) = &filter.server {
            q.push(format!("server={}", enc(s)));
        }
        let path = if q.is_empty() {
            "/tasks".to_string()
        } else {
            format!("/tasks?{}", q.join("&"))
        };
        self.get(&path).await
    }

    /// One task with everything around it (dependencies, inputs, timeline…).
    pub async fn task(&self, task: &str) -> Result<TaskView, ClientError> {
        self.get(&format!("/tasks/{}", enc(task))).await
    }

    /// Changes a task's title, spec, priority, repo, languages or pinned agent.
    pub async fn update_task(&self, task: &str, body: &UpdateTask) -> Result<Task, ClientError> {
        self.patch(&format!("/tasks/{}", enc(task)), body).await
    }

    /// Makes a task wait for another, or receive its contract.
    pub async fn add_dependency(
        &self,
        task: &str,
        body: &AddDependency,
    ) -> Result<TaskView, ClientError> {
        self.post(&format!("/tasks/{}/dependencies", enc(task)), body)
            .await
    }

    /// Removes a dependency.
    pub async fn remove_dependency(
        &self,
        task: &str,
        body: &RemoveDependency,
    ) -> Result<TaskView, ClientError> {
        self.post(&format!("/tasks/{}/dependencies/remove", enc(task)), body)
            .await
    }

    /// Assigns a task to the server named `server`; a session starts there.
    pub async fn assign(&self, task: &str, server: &str) -> Result<Task, ClientError> {
        let body = AssignTask {
            session: Some(server.into()),
            server: None,
        };
        self.post(&format!("/tasks/{}/assign", enc(task)), &body)
            .await
    }

    /// Which servers may run a task and how each scores.
    pub async fn explain(&self, task: &str) -> Result<Explanation, ClientError> {
        self.get(&format!("/tasks/{}/explain", enc(task))).await
    }

    /// Reports a task done, with its result and contracts.
    pub async fn complete(&self, task: &str, body: &CompleteTask) -> Result<Task, ClientError> {
        self.post(&format!("/tasks/{}/complete", enc(task)), body)
            .await
    }

    /// Reports a task failed.
    pub async fn fail(&self, task: &str, reason: &str) -> Result<Task, ClientError> {
        let body = FailTask {
            reason: reason.into(),
        };
        self.post(&format!("/tasks/{}/fail", enc(task)), &body)
            .await
    }

    /// Cancels a task (its session is stopped).
    pub async fn cancel(&self, task: &str) -> Result<Task, ClientError> {
        self.post(&format!("/tasks/{}/cancel", enc(task)), &Value::Null)
            .await
    }

    /// Puts a failed or cancelled task back to pending.
    pub async fn retry(&self, task: &str) -> Result<Task, ClientError> {
        self.post(&format!("/tasks/{}/retry", enc(task)), &Value::Null)
            .await
    }

    /// Posts a note on a task.
    pub async fn note(&self, task: &str, text: &str) -> Result<Note, ClientError> {
        let body = AddNote { text: text.into() };
        self.post(&format!("/tasks/{}/notes", enc(task)), &body)
            .await
    }

    /// The DAG of one project, or of every project the token sees.
    pub async fn graph(&self, project: Option<&str>) -> Result<Graph, ClientError> {
        match project {
            Some(p) => self.get(&format!("/projects/{}/graph", enc(p))).await,
            None => self.get("/graph").await,
        }
    }

    /// Events after `after`, waiting up to `wait` for the first one.
    pub async fn events(&self, q: &EventQuery) -> Result<EventPage, ClientError> {
        let mut parts = Vec::new();
        if let Some(a) = q.after {
            parts.push(format!("after={a}"));
        }
        if let Some(t) = &q.task {
            parts.push(format!("task={}", enc(t)));
        }
        if let Some(p) = &q.project {
            parts.push(format!("project={}", enc(p)));
        }
        if let Some(k) = &q.kind {
            parts.push(format!("kind={}", enc(k)));
        }
        if let Some(l) = q.limit {
            parts.push(format!("limit={l}"));
        }
        if let Some(w) = &q.wait {
            parts.push(format!("wait={}", enc(w)));
        }
        let path = format!("/events?{}", parts.join("&"));
        let wait = q
            .wait
            .as_deref()
            .and_then(|w| humantime::parse_duration(w).ok())
            .unwrap_or_default();
        self.get_waiting(&path, wait).await
    }
}
