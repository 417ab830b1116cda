//! Typed calls about what waits for a human: an agent's questions (interventions), its plans
//! and its permission requests; asking, waiting for the decision, and deciding.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use super::http::with_status;
use super::{ClientError, HubClient, enc};
use crate::api::*;
use crate::model::*;

impl HubClient {
    /// What waits for a human (admin): submitted plans, pending permission requests and
    /// pending questions, newest first.
    pub async fn inbox(&self) -> Result<Inbox, ClientError> {
        self.get("/inbox").await
    }

    /// Asks a human a question about a task (an intervention); the answer comes later.
    pub async fn ask_help(&self, task: &str, question: &str) -> Result<Intervention, ClientError> {
        let body = AskHelp {
            question: question.into(),
        };
        self.post(&format!("/tasks/{}/help", enc(task)), &body)
            .await
    }

    /// One question; with `wait`, answers once it is answered or `wait` passed.
    pub async fn intervention(
        &self,
        id: Uuid,
        wait: Option<Duration>,
    ) -> Result<Intervention, ClientError> {
        self.get_maybe_waiting(&format!("/interventions/{id}"), wait)
            .await
    }

    /// Questions, optionally of one status.
    pub async fn interventions(
        &self,
        status: Option<&str>,
    ) -> Result<Vec<Intervention>, ClientError> {
        self.get(&with_status("/interventions", status)).await
    }

    /// Answers a question: by its id, a unique prefix, or a task with one pending question.
    pub async fn respond(&self, id: &str, response: &str) -> Result<Intervention, ClientError> {
        let body = Respond {
            response: response.into(),
        };
        self.post(&format!("/interventions/{}/respond", enc(id)), &body)
            .await
    }

    /// Submits a task's plan for approval.
    pub async fn submit_plan(&self, task: &str, content: &str) -> Result<Plan, ClientError> {
        let body = SubmitPlan {
            content: content.into(),
        };
        self.post(&format!("/tasks/{}/plan", enc(task)), &body)
            .await
    }

    /// One plan; with `wait`, answers once it is decided or `wait` passed.
    pub async fn plan(&self, id: Uuid, wait: Option<Duration>) -> Result<Plan, ClientError> {
        self.get_maybe_waiting(&format!("/plans/{id}"), wait).await
    }

    /// Plans, optionally of one status.
    pub async fn plans(&self, status: Option<&str>) -> Result<Vec<Plan>, ClientError> {
        self.get(&with_status("/plans", status)).await
    }

    /// Approves the plan waiting on a task.
    pub async fn approve_plan(&self, task: &str) -> Result<Plan, ClientError> {
        self.post(&format!("/tasks/{}/plan/approve", enc(task)), &Value::Null)
            .await
    }

    /// Rejects the plan waiting on a task, with feedback for the agent.
    pub async fn reject_plan(&self, task: &str, feedback: &str) -> Result<Plan, ClientError> {
        let body = RejectPlan {
            feedback: feedback.into(),
        };
        self.post(&format!("/tasks/{}/plan/reject", enc(task)), &body)
            .await
    }

    /// Asks for a tool call to be allowed (an agent's hook does).
    pub async fn request_permission(
        &self,
        body: &RequestPermission,
    ) -> Result<PermissionRequest, ClientError> {
        self.post("/permissions", body).await
    }

    /// One permission request; with `wait`, answers once it is decided or `wait` passed.
    pub async fn permission(
        &self,
        id: Uuid,
        wait: Option<Duration>,
    ) -> Result<PermissionRequest, ClientError> {
        self.get_maybe_waiting(&format!("/permissions/{id}"), wait)
            .await
    }

    /// Permission requests, optionally of one status.
    pub async fn permissions(
        &self,
        status: Option<&str>,
    ) -> Result<Vec<PermissionRequest>, ClientError> {
        self.get(&with_status("/permissions", status)).await
    }

    /// Allows a tool call (by id, prefix, or a task with one pending request).
    pub async fn allow_permission(&self, id: &str) -> Result<PermissionRequest, ClientError> {
        self.post(&format!("/permissions/{}/allow", enc(id)), &Value::Null)
            .await
    }

    /// Denies a tool call, with an optional reason for the agent.
    pub async fn deny_permission(
        &self,
        id: &str,
        reason: Option<&str>,
    ) -> Result<PermissionRequest, ClientError> {
        let body = DenyPermission {
            reason: reason.map(str::to_string),
            ..DenyPermission::default()
        };
        self.deny_permission_with(id, &body).await
    }

    /// Allows a tool call once, for the rest of its session, or always (a project rule with
    /// `body.patterns`, default the suggested ones).
    pub async fn allow_permission_with(
        &self,
        id: &str,
        body: &AllowPermission,
    ) -> Result<PermissionRequest, ClientError> {
        self.post(&format!("/permissions/{}/allow", enc(id)), body)
            .await
    }

    /// Denies a tool call, maybe also making a deny rule.
    pub async fn deny_permission_with(
        &self,
        id: &str,
        body: &DenyPermission,
    ) -> Result<PermissionRequest, ClientError> {
        self.post(&format!("/permissions/{}/deny", enc(id)), body)
            .await
    }
}
