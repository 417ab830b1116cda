//! Projects, registration tokens, server registration and the server list.

use std::collections::BTreeMap;

use orchestratia_proto::api::{
    CreateRegistrationToken, RegisterServer, Registered, RegistrationToken,
};
use orchestratia_proto::time::now_ms;
use orchestratia_proto::{
    EventKind, Project, REGISTRATION_TOKEN_PREFIX, SERVER_KEY_PREFIX, Server, ServerStatus,
};
use serde_json::json;
use uuid::Uuid;

use super::{Hub, Outbox, validate};
use crate::auth::{Principal, hash_token, new_token};
use crate::bad;
use crate::error::{HubError, HubResult};
use crate::store::events::NewEvent;
use crate::store::tokens::{Token, TokenKind};
use crate::store::{self, Conn};

/// Longest life a registration token may be given.
const REGISTRATION_MAX_TTL_SECS: u64 = 30 * 24 * 3600;

impl Hub {
    pub async fn create_project(&self, p: &Principal, name: &str) -> HubResult<Project> {
        p.require_admin("creating a project")?;
        let name = validate::project_name(name)?;
        let mut tx = self.store.write().await?;
        if store::projects::by_name(&mut tx, &name).await?.is_some() {
            return Err(HubError::Conflict(format!(
                "project '{name}' already exists"
            )));
        }
        let project = Project {
            id: Uuid::new_v4(),
            name,
            created_at: now_ms(),
        };
        store::projects::insert(&mut tx, &project).await?;
        self.commit(tx, Outbox::default()).await?;
        Ok(project)
    }

    pub async fn projects(&self, p: &Principal) -> HubResult<Vec<Project>> {
        let mut c = self.read().await?;
        let all = store::projects::list(&mut c).await?;
        Ok(match p.project() {
            None => all,
            Some(id) => all.into_iter().filter(|x| x.id == id).collect(),
        })
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

    pub async fn project_by_key(&self, p: &Principal, key: &str) -> HubResult<Project> {
        let mut c = self.read().await?;
        self.resolve_project(&mut c, p, key).await
    }

    /// A one-time registration token for a project, with the commands to paste on a server.
    pub async fn create_registration_token(
        &self,
        p: &Principal,
        body: &CreateRegistrationToken,
    ) -> HubResult<RegistrationToken> {
        p.require_admin("creating a registration token")?;
        let ttl = body
            .expires_in_secs
            .unwrap_or(self.config.registration_token_ttl.as_secs());
        if ttl == 0 || ttl > REGISTRATION_MAX_TTL_SECS {
            return Err(bad!(
                "expires_in_secs must be between 1 and {REGISTRATION_MAX_TTL_SECS}"
            ));
        }
        let replace = body
            .replace
            .as_deref()
            .map(|n| validate::name("server name", n))
            .transpose()?;
        let mut tx = self.store.write().await?;
        let project = self.resolve_project(&mut tx, p, &body.project).await?;
        let replaces = match &replace {
            None => None,
            Some(name) => match store::servers::by_name(&mut tx, name).await? {
                Some(s) if s.project_id == project.id => Some(s),
                _ => {
                    return Err(HubError::NotFound(format!(
                        "no server named '{name}' in project '{}' to replace",
                        project.name
                    )));
                }
            },
        };
        let (token, hash) = new_token(REGISTRATION_TOKEN_PREFIX);
        let id = crate::service::credentials::short_id(&hash);
        let now = now_ms();
        let expires_at = now + (ttl as i64) * 1000;
        store::tokens::insert(
            &mut tx,
            &Token {
                hash,
                kind: TokenKind::Registration,
                project_id: Some(project.id),
                server_id: replaces.as_ref().map(|s| s.id),
                task_id: None,
                session_id: None,
                orchestrator: false,
                created_at: now,
                expires_at: Some(expires_at),
                used_at: None,
                revoked_at: None,
                server_name: None,
            },
        )
        .await?;
        self.commit(tx, Outbox::default()).await?;
        let name = match &replaces {
            Some(s) => s.name.clone(),
            None => "$(hostname -s)".to_string(),
        };
        let install = format!(
            "# On the development server (this token works once, until {}):\n\
             orchestratia-agent --register {token} --hub {hub} --name {name} \\\n  \
             --repo NAME=/path/to/repo --lang rust\n\
             # then run the daemon (or install it as a service: orchestratia-agent service):\n\
             orchestratia-agent",
            orchestratia_proto::time::format_ms(expires_at),
            hub = self.public_url,
        );
        Ok(RegistrationToken {
            token,
            project_id: project.id,
            expires_at,
            install,
            id,
            replaces: replaces.map(|s| s.name),
        })
    }

    /// Registers a server with a one-time token (seed Flow 1) and returns its key.
    pub async fn register_server(&self, body: &RegisterServer) -> HubResult<Registered> {
        // Everything is checked before the token is spent: a refused request loses nothing.
        let name = validate::name("server name", &body.name)?;
        let os = validate::optional_text("os", body.os.trim(), 32)?.to_ascii_lowercase();
        let hostname = validate::optional_text("hostname", body.hostname.trim(), 255)?;
        let mut repos = BTreeMap::new();
        for (k, v) in &body.repos {
            let k = validate::name("repo name", k)?;
            let v = validate::text(&format!("path of repo {k}"), v, 4096)?;
            repos.insert(k, v);
        }
        let mut languages = Vec::new();
        for l in &body.languages {
            let l = validate::name("language", l)?;
            if !languages.contains(&l) {
                languages.push(l);
            }
        }
        if !body.token.starts_with(REGISTRATION_TOKEN_PREFIX) {
            return Err(HubError::Unauthorized(format!(
                "registration needs an {REGISTRATION_TOKEN_PREFIX}… token from 'orchestratia server token'"
            )));
        }
        let hash = hash_token(body.token.trim());
        let now = now_ms();
        let mut tx = self.store.write().await?;
        let token = store::tokens::lookup(&mut tx, &hash)
            .await?
            .filter(|t| t.kind == TokenKind::Registration)
            .ok_or_else(|| HubError::Unauthorized("unknown registration token".into()))?;
        if token.used_at.is_some() {
            return Err(HubError::Unauthorized(
                "this registration token was already used; create a new one with 'orchestratia server token'"
                    .into(),
            ));
        }
        if token.revoked_at.is_some() {
            return Err(HubError::Unauthorized(
                "this registration token was revoked".into(),
            ));
        }
        if token.expires_at.is_some_and(|e| e <= now) {
            return Err(HubError::Unauthorized(
                "this registration token has expired; create a new one with 'orchestratia server token'"
                    .into(),
            ));
        }
        let project_id = token
            .project_id
            .ok_or_else(|| HubError::Internal("registration token without project".into()))?;
        let existing = store::servers::by_name(&mut tx, &name).await?;
        let replacing = existing
            .as_ref()
            .is_some_and(|s| token.server_id == Some(s.id));
        if let Some(wanted) = token.server_id
            && !replacing
        {
            let wanted = store::servers::get(&mut tx, wanted)
                .await?
                .map(|s| s.name)
                .unwrap_or_else(|| "a server that no longer exists".into());
            return Err(HubError::Conflict(format!(
                "this token replaces '{wanted}'; register with --name {wanted}"
            )));
        }
        let server = match existing {
            Some(s) if s.project_id != project_id => {
                return Err(HubError::Conflict(format!(
                    "a server named '{name}' is registered in another project; choose another --name"
                )));
            }
            Some(_) if !replacing => {
                // A registration token must not take over a server that exists (its daemon
                // would keep its socket and a second one would get its work).
                return Err(HubError::Conflict(format!(
                    "a server named '{name}' is already registered; to replace it (a reinstalled machine), \
                     create a token with 'orchestratia server token --project P --replace {name}'"
                )));
            }
            Some(mut s) => {
                // The admin's explicit replacement: new capabilities, new key; the old key is
                // revoked and its daemon disconnected after the commit.
                s.os = os;
                s.hostname = hostname;
                s.repos = repos;
                s.languages = languages;
                store::servers::update_registration(&mut tx, &s).await?;
                store::tokens::revoke_server_keys(&mut tx, s.id, now).await?;
                s
            }
            None => {
                let s = Server {
                    id: Uuid::new_v4(),
                    project_id,
                    name: name.clone(),
                    status: ServerStatus::Offline,
                    os,
                    hostname,
                    repos,
                    languages,
                    sessions: 0,
                    last_heartbeat: None,
                    revoked: false,
                    created_at: now,
                };
                store::servers::insert(&mut tx, &s).await?;
                s
            }
        };
        if !store::tokens::consume(&mut tx, &hash, now).await? {
            return Err(HubError::Conflict(
                "this registration token was used by a concurrent registration".into(),
            ));
        }
        let (api_key, key_hash) = new_token(SERVER_KEY_PREFIX);
        store::tokens::insert(
            &mut tx,
            &Token {
                hash: key_hash,
                kind: TokenKind::Server,
                project_id: Some(project_id),
                server_id: Some(server.id),
                task_id: None,
                session_id: None,
                orchestrator: false,
                created_at: now,
                expires_at: None,
                used_at: None,
                revoked_at: None,
                server_name: None,
            },
        )
        .await?;
        let mut out = Outbox {
            revoked_tokens: true,
            ..Outbox::default()
        };
        out.event(NewEvent {
            kind: EventKind::ServerRegistered,
            actor: format!("agent:{}", server.name),
            project_id: Some(project_id),
            task_id: None,
            related_task_id: None,
            server_id: Some(server.id),
            session_id: None,
            details: json!({"server": server.name, "replaced": replacing, "os": server.os, "repos": server.repos.keys().collect::<Vec<_>>(),
                            "languages": server.languages}),
        });
        self.commit(tx, out).await?;
        if replacing {
            self.daemons
                .close(server.id, "the server was replaced by a new registration");
        }
        Ok(Registered {
            server_id: server.id,
            project_id,
            name: server.name,
            api_key,
        })
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
        let mut out = Outbox {
            revoked_tokens: true,
            ..Outbox::default()
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
