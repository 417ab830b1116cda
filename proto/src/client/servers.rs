//! Typed calls about the hub itself, projects, servers and their registration and admin
//! tokens.

use serde_json::Value;

use super::{ClientError, HubClient, enc};
use crate::api::*;
use crate::model::*;

impl HubClient {
    /// The hub's health and version.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get("/health").await
    }

    /// Which hub replica answers, its database, and every replica sharing it.
    pub async fn status(&self) -> Result<HubStatus, ClientError> {
        self.get("/status").await
    }

    /// Who this client's token stands for.
    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.get("/whoami").await
    }

    /// Creates a project.
    pub async fn create_project(&self, name: &str) -> Result<Project, ClientError> {
        self.create_project_with(&CreateProject {
            name: name.into(),
            ..CreateProject::default()
        })
        .await
    }

    /// Creates a project with all its settings (a budget).
    pub async fn create_project_with(&self, body: &CreateProject) -> Result<Project, ClientError> {
        self.post("/projects", body).await
    }

    /// Sets or clears a project's budget.
    pub async fn set_budget(
        &self,
        project: &str,
        body: &SetBudget,
    ) -> Result<Project, ClientError> {
        self.post(&format!("/projects/{}/budget", enc(project)), body)
            .await
    }

    /// The projects this token sees.
    pub async fn projects(&self) -> Result<Vec<Project>, ClientError> {
        self.get("/projects").await
    }

    /// A one-time registration token for a server to join `project`.
    pub async fn registration_token(
        &self,
        project: &str,
    ) -> Result<RegistrationToken, ClientError> {
        let body = CreateRegistrationToken {
            project: project.into(),
            ..Default::default()
        };
        self.create_registration_token(&body).await
    }

    /// A registration token with every option (expiry, a server to replace).
    pub async fn create_registration_token(
        &self,
        body: &CreateRegistrationToken,
    ) -> Result<RegistrationToken, ClientError> {
        self.post("/servers/tokens", body).await
    }

    /// Registration tokens, newest first, with their status.
    pub async fn registration_tokens(&self) -> Result<Vec<TokenInfo>, ClientError> {
        self.get("/servers/tokens").await
    }

    /// Revokes a registration token by its id (or a unique start of it).
    pub async fn revoke_registration_token(&self, id: &str) -> Result<TokenInfo, ClientError> {
        self.post(&format!("/servers/tokens/{}/revoke", enc(id)), &Value::Null)
            .await
    }

    /// Admin tokens, newest first, with their status.
    pub async fn admin_tokens(&self) -> Result<Vec<TokenInfo>, ClientError> {
        self.get("/admin/tokens").await
    }

    /// Revokes an admin token by its id (or a unique start of it).
    pub async fn revoke_admin_token(&self, id: &str) -> Result<TokenInfo, ClientError> {
        self.post(&format!("/admin/tokens/{}/revoke", enc(id)), &Value::Null)
            .await
    }

    /// Registers a server with a one-time token; answers its API key.
    pub async fn register(&self, body: &RegisterServer) -> Result<Registered, ClientError> {
        self.post("/servers/register", body).await
    }

    /// The servers with their status.
    pub async fn servers(&self) -> Result<Vec<Server>, ClientError> {
        self.get("/servers").await
    }

    /// Revokes a server's key (its daemon is disconnected).
    pub async fn revoke_server(&self, server: &str) -> Result<Server, ClientError> {
        self.post(&format!("/servers/{}/revoke", enc(server)), &Value::Null)
            .await
    }
}
