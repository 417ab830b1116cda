//! Projects and servers: creating and naming projects, the server list, resolving a
//! server by id or name, revoking one. Registering a server is in `registration.rs`.

use orchestratia_proto::api::CreateProject;
use orchestratia_proto::time::now_ms;
use orchestratia_proto::{EventKind, Project, Server};
use serde_json::json;
use uuid::Uuid;

use super::usage::checked_budget;
use super::{Effects, Hub, validate};
use crate::auth::Principal;
use crate::bad;
use crate::error::{HubError, HubResult};
use crate::store::events::NewEvent;
use crate::store::{self, Conn};

impl Hub {
    /// Creates a project (admin); its name must be free.
    pub async fn create_project(&self, p: &Principal, name: &str) -> HubResult<Project> {
        self.create_project_with(
            p,
            &CreateProject {
                name: name.into(),
                ..CreateProject::default()
            },
        )
        .await
    }

    /// Creates a project with its settings (a budget) (admin); its name must be free.
    pub async fn create_project_with(
        &self,
        p: &Principal,
        body: &CreateProject,
    ) -> HubResult<Project> {
        p.require_admin("creating a project")?;
        let name = validate::project_name(&body.name)?;
        let budget = checked_budget(body.budget_usd, body.enforce_budget)?;
        let mut tx = self.store.write().await?;
        if store::projects::by_name(&mut tx, &name).await?.is_some() {
            return Err(HubError::Conflict(format!(
                "project '{name}' already exists"
            )));
        }
        let project = Project {
            id: Uuid::new_v4(),
            name,
            budget,
            usage: None,
            created_at: now_ms(),
        };
        store::projects::insert(&mut tx, &project).await?;
        self.commit(tx, Effects::default()).await?;
        Ok(project)
    }

    /// Projects the principal may see: all (admin, hub), else its own.
    pub async fn projects(&self, p: &Principal) -> HubResult<Vec<Project>> {
        let mut c = self.read().await?;
        let all = store::projects::list(&mut c).await?;
        let mut mine: Vec<Project> = match p.project() {
            None => all,
            Some(id) => all.into_iter().filter(|x| x.id == id).collect(),
        };
        self.with_usage(&mut c, &mut mine).await?;
        Ok(mine)
    }

    /// A project by id or name, as the principal may see it.
    pub(crate) async fn resolve_project(
        &self,
        c: &mut Conn,
        p: &Principal,
        key: &str,
    ) -> HubResult<Project> {
        let key = key.trim();
        let found = match Uuid::parse_str(key) {
            Ok(id) => store::projects::get(c, id).await?,
            Err(_) => store::projects::by_name(c, key).await?,
        };
        match found {
            Some(pr) if p.project().is_none_or(|mine| mine == pr.id) => Ok(pr),
            _ => Err(HubError::NotFound(format!("project '{key}' not found"))),
        }
    }

    /// The project a request means: the one named, else the caller's own, else the only one.
    pub(crate) async fn default_project(
        &self,
        c: &mut Conn,
        p: &Principal,
        named: Option<&str>,
    ) -> HubResult<Project> {
        if let Some(n) = named.filter(|n| !n.trim().is_empty()) {
            return self.resolve_project(c, p, n).await;
        }
        if let Some(id) = p.project() {
            return store::projects::get(c, id)
                .await?
                .ok_or_else(|| HubError::NotFound("your project no longer exists".into()));
        }
        let mut all = store::projects::list(c).await?;
        match all.len() {
            0 => Err(bad!(
                "there is no project yet: create one with 'orchestratia project create NAME'"
            )),
            1 => Ok(all.remove(0)),
            _ => Err(bad!(
                "there are {} projects; name one with --project ({})",
                all.len(),
                all.iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// A project by id or name, as the principal may see it, with its usage so far.
    pub async fn project_by_key(&self, p: &Principal, key: &str) -> HubResult<Project> {
        let mut c = self.read().await?;
        let mut project = self.resolve_project(&mut c, p, key).await?;
        self.with_usage(&mut c, std::slice::from_mut(&mut project))
            .await?;
        Ok(project)
    }

    /// Servers the principal may see: all (admin), its project's (orchestrator session), itself.
    pub async fn servers(&self, p: &Principal) -> HubResult<Vec<Server>> {
        let mut c = self.read().await?;
        match p {
            Principal::Admin | Principal::Hub => Ok(store::servers::list(&mut c, None).await?),
            Principal::Session {
                orchestrator: true,
                project_id,
                ..
            } => Ok(store::servers::list(&mut c, Some(*project_id)).await?),
            Principal::Server { server_id, .. } => Ok(store::servers::get(&mut c, *server_id)
                .await?
                .into_iter()
                .collect()),
            Principal::Session { .. } => Err(HubError::Forbidden(
                "listing servers needs an admin token or an orchestrator session's token".into(),
            )),
        }
    }

    /// A server by id or name, within what the principal may see.
    pub(crate) async fn resolve_server(
        &self,
        c: &mut Conn,
        p: &Principal,
        key: &str,
    ) -> HubResult<Server> {
        let key = key.trim();
        let found = match Uuid::parse_str(key) {
            Ok(id) => store::servers::get(c, id).await?,
            Err(_) => store::servers::by_name(c, key).await?,
        };
        match found {
            Some(s) if p.project().is_none_or(|mine| mine == s.project_id) => Ok(s),
            _ => Err(HubError::NotFound(format!("server '{key}' not found"))),
        }
    }

    /// Revokes a server's key: it is disconnected at once and cannot connect again.
    pub async fn revoke_server(&self, p: &Principal, key: &str) -> HubResult<Server> {
        p.require_admin("revoking a server")?;
        let mut tx = self.store.write().await?;
        let server = self.resolve_server(&mut tx, p, key).await?;
        let now = now_ms();
        store::tokens::revoke_server(&mut tx, server.id, now).await?;
        store::servers::set_revoked(&mut tx, server.id).await?;
        let was_online = store::servers::set_offline(&mut tx, server.id).await?;
        let mut out = Effects {
            revoked_tokens: true,
            ..Effects::default()
        };
        if was_online {
            out.event(NewEvent {
                kind: EventKind::ServerOffline,
                actor: p.actor(),
                project_id: Some(server.project_id),
                task_id: None,
                related_task_id: None,
                server_id: Some(server.id),
                session_id: None,
                details: json!({"server": server.name, "reason": "key revoked"}),
            });
        }
        self.commit(tx, out).await?;
        self.daemons
            .close(server.id, "the server's key was revoked");
        let mut c = self.read().await?;
        store::servers::get(&mut c, server.id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("server '{key}' not found")))
    }
}
