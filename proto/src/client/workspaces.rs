//! Typed calls about tasks' workspaces: the report, the diff, merge/keep/discard, review
//! comments, and the list and prune of every worktree.

use super::{ClientError, HubClient, enc};
use crate::workspace::*;

impl HubClient {
    /// A task's diff against its base (fetched from the server that holds the worktree).
    pub async fn task_diff(&self, task: &str, q: &DiffQuery) -> Result<WorkspaceDiff, ClientError> {
        let mut params = Vec::new();
        if q.stat {
            params.push("stat=true".to_string());
        }
        if let Some(f) = &q.file {
            params.push(format!("file={}", enc(f)));
        }
        let mut path = format!("/tasks/{}/diff", enc(task));
        if !params.is_empty() {
            path.push('?');
            path.push_str(&params.join("&"));
        }
        self.get(&path).await
    }

    /// Asks the task's daemon to report its workspace now, and returns it.
    pub async fn refresh_workspace(&self, task: &str) -> Result<Workspace, ClientError> {
        self.post(
            &format!("/tasks/{}/workspace/report", enc(task)),
            &serde_json::json!({}),
        )
        .await
    }

    /// Merges a task's branch (into its base unless `into` says otherwise).
    pub async fn merge_task(
        &self,
        task: &str,
        body: &MergeWorkspace,
    ) -> Result<Merged, ClientError> {
        self.post(&format!("/tasks/{}/merge", enc(task)), body)
            .await
    }

    /// Keeps a task's branch for later (review state `kept`).
    pub async fn keep_task(&self, task: &str) -> Result<Workspace, ClientError> {
        self.post(
            &format!("/tasks/{}/keep", enc(task)),
            &serde_json::json!({}),
        )
        .await
    }

    /// Throws a task's worktree and branch away (review state `discarded`).
    pub async fn discard_task(&self, task: &str) -> Result<Workspace, ClientError> {
        self.post(
            &format!("/tasks/{}/discard", enc(task)),
            &serde_json::json!({}),
        )
        .await
    }

    /// Comments on a line of a task's diff; delivered to its agent while the task is open.
    pub async fn review_task(
        &self,
        task: &str,
        body: &ReviewComment,
    ) -> Result<StoredComment, ClientError> {
        self.post(&format!("/tasks/{}/review", enc(task)), body)
            .await
    }

    /// Every workspace the hub knows of.
    pub async fn workspaces(&self, f: &WorkspaceFilter) -> Result<Vec<Workspace>, ClientError> {
        let mut q = Vec::new();
        if let Some(p) = &f.project {
            q.push(format!("project={}", enc(p)));
        }
        if let Some(s) = &f.server {
            q.push(format!("server={}", enc(s)));
        }
        if f.all {
            q.push("all=true".to_string());
        }
        let path = if q.is_empty() {
            "/workspaces".to_string()
        } else {
            format!("/workspaces?{}", q.join("&"))
        };
        self.get(&path).await
    }

    /// Removes worktrees whose work is merged or discarded (never one holding work that is
    /// nowhere else); with `dry_run`, only says what it would do.
    pub async fn prune_workspaces(
        &self,
        body: &PruneWorkspaces,
    ) -> Result<Vec<PruneItem>, ClientError> {
        self.post("/workspaces/prune", body).await
    }
}
