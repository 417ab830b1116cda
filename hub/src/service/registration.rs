//! Server registration: an admin makes a one-time registration token (optionally to replace a
//! reinstalled server), and a server presents it with its capabilities to get its key.
//! Everything is checked before the token is spent, so a refused request loses nothing.

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

use super::{Effects, Hub, validate};
use crate::auth::{Principal, hash_token, new_token};
use crate::bad;
use crate::error::{HubError, HubResult};
use crate::store::events::NewEvent;
use crate::store::tokens::{Token, TokenKind};
use crate::store::{self, Conn};

/// Longest life a registration token may be given.
const REGISTRATION_MAX_TTL_SECS: u64 = 30 * 24 * 3600;

/// What a registering server says about itself, validated.
struct Capabilities {
    name: String,
    os: String,
    hostname: String,
    repos: BTreeMap<String, String>,
    languages: Vec<String>,
}

impl Capabilities {
    /// Validates a registration's name, os, hostname, repos and languages (duplicate
    /// languages are kept once).
    fn of(body: &RegisterServer) -> HubResult<Capabilities> {
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
        Ok(Capabilities {
            name,
            os,
            hostname,
            repos,
            languages,
        })
    }
}

/// A new token of a project (a registration token or a server's key), unused and unrevoked.
fn project_token(
    hash: String,
    kind: TokenKind,
    project: Uuid,
    server: Option<Uuid>,
    now: i64,
    expires_at: Option<i64>,
) -> Token {
    Token {
        hash,
        kind,
        project_id: Some(project),
        server_id: server,
        task_id: None,
        session_id: None,
        orchestrator: false,
        created_at: now,
        expires_at,
        used_at: None,
        revoked_at: None,
        server_name: None,
    }
}

impl Hub {
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
            Some(name) => Some(replaced_server(&mut tx, &project, name).await?),
        };
        let (token, hash) = new_token(REGISTRATION_TOKEN_PREFIX);
        let id = crate::service::credentials::short_id(&hash);
        let now = now_ms();
        let expires_at = now + (ttl as i64) * 1000;
        let record = project_token(
            hash,
            TokenKind::Registration,
            project.id,
            replaces.as_ref().map(|s| s.id),
            now,
            Some(expires_at),
        );
        store::tokens::insert(&mut tx, &record).await?;
        self.commit(tx, Effects::default()).await?;
        let install = self.install_commands(&token, expires_at, replaces.as_ref());
        Ok(RegistrationToken {
            token,
            project_id: project.id,
            expires_at,
            install,
            id,
            replaces: replaces.map(|s| s.name),
        })
    }

    /// The commands to paste on a server to register it with `token` and run its daemon.
    fn install_commands(&self, token: &str, expires_at: i64, replaces: Option<&Server>) -> String {
        let name = match replaces {
            Some(s) => s.name.clone(),
            None => "$(hostname -s)".to_string(),
        };
        format!(
            "# On the development server (this token works once, until {}):\n\
             orchestratia-agent --register {token} --hub {hub} --name {name} \\\n  \
             --repo NAME=/path/to/repo --lang rust\n\
             # then run the daemon (or install it as a service: orchestratia-agent service):\n\
             orchestratia-agent",
            orchestratia_proto::time::format_ms(expires_at),
            hub = self.public_url,
        )
    }

    /// Registers a server with a one-time token and returns its key.
    pub async fn register_server(&self, body: &RegisterServer) -> HubResult<Registered> {
        // Everything is checked before the token is spent: a refused request loses nothing.
        let caps = Capabilities::of(body)?;
        if !body.token.starts_with(REGISTRATION_TOKEN_PREFIX) {
            return Err(HubError::Unauthorized(format!(
                "registration needs an {REGISTRATION_TOKEN_PREFIX}… token from 'orchestratia server token'"
            )));
        }
        let hash = hash_token(body.token.trim());
        let now = now_ms();
        let mut tx = self.store.write().await?;
        let token = usable_registration_token(&mut tx, &hash, now).await?;
        let project_id = token
            .project_id
            .ok_or_else(|| HubError::Internal("registration token without project".into()))?;
        let (server, replacing) = registered_server(&mut tx, &token, project_id, caps, now).await?;
        if !store::tokens::consume(&mut tx, &hash, now).await? {
            return Err(HubError::Conflict(
                "this registration token was used by a concurrent registration".into(),
            ));
        }
        let (api_key, key_hash) = new_token(SERVER_KEY_PREFIX);
        let key = project_token(
            key_hash,
            TokenKind::Server,
            project_id,
            Some(server.id),
            now,
            None,
        );
        store::tokens::insert(&mut tx, &key).await?;
        let mut out = Effects {
            revoked_tokens: true,
            ..Effects::default()
        };
        out.event(registered_event(&server, replacing));
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
}

/// The server of `project` named `name` that a registration token is to replace.
async fn replaced_server(tx: &mut Conn, project: &Project, name: &str) -> HubResult<Server> {
    match store::servers::by_name(tx, name).await? {
        Some(s) if s.project_id == project.id => Ok(s),
        _ => Err(HubError::NotFound(format!(
            "no server named '{name}' in project '{}' to replace",
            project.name
        ))),
    }
}

/// The registration token with this hash, if it can still be used: not used, revoked or
/// expired.
async fn usable_registration_token(tx: &mut Conn, hash: &str, now: i64) -> HubResult<Token> {
    let token = store::tokens::lookup(tx, hash)
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
    Ok(token)
}

/// The server a registration makes (new) or replaces (the token names it), and whether it
/// replaced one. A name taken in another project, or taken without a replacing token, is
/// refused.
async fn registered_server(
    tx: &mut Conn,
    token: &Token,
    project_id: Uuid,
    caps: Capabilities,
    now: i64,
) -> HubResult<(Server, bool)> {
    let name = caps.name.clone();
    let existing = store::servers::by_name(tx, &name).await?;
    let replacing = existing
        .as_ref()
        .is_some_and(|s| token.server_id == Some(s.id));
    if let Some(wanted) = token.server_id
        && !replacing
    {
        let wanted = store::servers::get(tx, wanted)
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
            s.os = caps.os;
            s.hostname = caps.hostname;
            s.repos = caps.repos;
            s.languages = caps.languages;
            store::servers::update_registration(tx, &s).await?;
            store::tokens::revoke_server_keys(tx, s.id, now).await?;
            s
        }
        None => {
            let s = Server {
                id: Uuid::new_v4(),
                project_id,
                name: caps.name,
                status: ServerStatus::Offline,
                os: caps.os,
                hostname: caps.hostname,
                repos: caps.repos,
                languages: caps.languages,
                sessions: 0,
                last_heartbeat: None,
                revoked: false,
                created_at: now,
            };
            store::servers::insert(tx, &s).await?;
            s
        }
    };
    Ok((server, replacing))
}

/// The `server_registered` event of a server that registered (or replaced one).
fn registered_event(server: &Server, replacing: bool) -> NewEvent {
    NewEvent {
        kind: EventKind::ServerRegistered,
        actor: format!("agent:{}", server.name),
        project_id: Some(server.project_id),
        task_id: None,
        related_task_id: None,
        server_id: Some(server.id),
        session_id: None,
        details: json!({"server": server.name, "replaced": replacing, "os": server.os, "repos": server.repos.keys().collect::<Vec<_>>(),
                        "languages": server.languages}),
    }
}
