//! The typed hub client used by the CLI, the daemon, the console and the tests, and the lookup
//! of which hub and token to use (flag, environment, config file, default).

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::api::*;
use crate::model::*;

/// What can go wrong talking to the hub.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The hub answered with an error body.
    #[error("{detail}")]
    Api {
        status: u16,
        error: String,
        detail: String,
    },
    /// The hub could not be reached or the connection broke.
    #[error("cannot reach the hub at {url}: {reason}")]
    Transport { url: String, reason: String },
    /// The hub answered something that is not what the API promises.
    #[error("unexpected answer from the hub: {0}")]
    Decode(String),
}

impl ClientError {
    /// The HTTP status, when the hub answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when the hub could not be reached (worth retrying).
    pub fn is_transport(&self) -> bool {
        matches!(self, ClientError::Transport { .. })
    }

    /// True when asking again later may succeed: the hub could not be reached, or it answered
    /// 503 (too many connections open, or shutting down).
    pub fn is_retryable(&self) -> bool {
        self.is_transport() || self.status() == Some(503)
    }
}

/// A client for one hub with one token.
#[derive(Clone, Debug)]
pub struct HubClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// Percent-encodes one path segment or query value (task refs, names with spaces).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl HubClient {
    /// A client for `base` (e.g. `http://127.0.0.1:8600`), authenticating with `token`.
    pub fn new(base: &str, token: Option<String>) -> HubClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Shorter than the hub's header timeout (10 s by default), which also closes idle
            // connections: a pooled connection is dropped here before the hub drops it.
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        HubClient {
            base: base.trim_end_matches('/').to_string(),
            token,
            http,
        }
    }

    /// The hub's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The token this client presents.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The same hub with another token.
    pub fn with_token(&self, token: Option<String>) -> HubClient {
        HubClient {
            base: self.base.clone(),
            token,
            http: self.http.clone(),
        }
    }

    /// The WebSocket URL for `path` (`http` → `ws`, `https` → `wss`).
    pub fn ws_url(&self, path: &str) -> String {
        let base = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.base.clone()
        };
        format!("{base}{path}")
    }

    /// Sends one request to `/api/v1{path}` and decodes the JSON answer.
    pub async fn request<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        timeout: Option<Duration>,
    ) -> Result<T, ClientError> {
        let url = format!("{}{}{}", self.base, crate::API_PREFIX, path);
        let mut req = self.http.request(method, &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req = req.timeout(timeout.unwrap_or(Duration::from_secs(60)));
        let resp = req.send().await.map_err(|e| ClientError::Transport {
            url: self.base.clone(),
            reason: transport_reason(&e),
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| ClientError::Transport {
            url: self.base.clone(),
            reason: transport_reason(&e),
        })?;
        if !status.is_success() {
            return Err(api_error(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.request::<(), T>(Method::GET, path, None, None).await
    }

    /// GET with a longer timeout, for long-polls that wait `wait` on the hub.
    pub async fn get_waiting<T: DeserializeOwned>(
        &self,
        path: &str,
        wait: Duration,
    ) -> Result<T, ClientError> {
        self.request::<(), T>(
            Method::GET,
            path,
            None,
            Some(wait + Duration::from_secs(30)),
        )
        .await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.request(Method::POST, path, Some(body), None).await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.request(Method::PATCH, path, Some(body), None).await
    }

    // ---- typed calls -------------------------------------------------------------------

    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get("/health").await
    }

    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.get("/whoami").await
    }

    pub async fn create_project(&self, name: &str) -> Result<Project, ClientError> {
        self.post("/projects", &CreateProject { name: name.into() })
            .await
    }

    pub async fn projects(&self) -> Result<Vec<Project>, ClientError> {
        self.get("/projects").await
    }

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

    pub async fn register(&self, body: &RegisterServer) -> Result<Registered, ClientError> {
        self.post("/servers/register", body).await
    }

    pub async fn servers(&self) -> Result<Vec<Server>, ClientError> {
        self.get("/servers").await
    }

    pub async fn revoke_server(&self, server: &str) -> Result<Server, ClientError> {
        self.post(&format!("/servers/{}/revoke", enc(server)), &Value::Null)
            .await
    }

    pub async fn create_task(&self, body: &CreateTask) -> Result<Task, ClientError> {
        self.post("/tasks", body).await
    }

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

    pub async fn task(&self, task: &str) -> Result<TaskView, ClientError> {
        self.get(&format!("/tasks/{}", enc(task))).await
    }

    pub async fn update_task(&self, task: &str, body: &UpdateTask) -> Result<Task, ClientError> {
        self.patch(&format!("/tasks/{}", enc(task)), body).await
    }

    pub async fn add_dependency(
        &self,
        task: &str,
        body: &AddDependency,
    ) -> Result<TaskView, ClientError> {
        self.post(&format!("/tasks/{}/dependencies", enc(task)), body)
            .await
    }

    pub async fn remove_dependency(
        &self,
        task: &str,
        body: &RemoveDependency,
    ) -> Result<TaskView, ClientError> {
        self.post(&format!("/tasks/{}/dependencies/remove", enc(task)), body)
            .await
    }

    pub async fn assign(&self, task: &str, server: &str) -> Result<Task, ClientError> {
        let body = AssignTask {
            session: Some(server.into()),
            server: None,
        };
        self.post(&format!("/tasks/{}/assign", enc(task)), &body)
            .await
    }

    pub async fn explain(&self, task: &str) -> Result<Explanation, ClientError> {
        self.get(&format!("/tasks/{}/explain", enc(task))).await
    }

    pub async fn complete(&self, task: &str, body: &CompleteTask) -> Result<Task, ClientError> {
        self.post(&format!("/tasks/{}/complete", enc(task)), body)
            .await
    }

    pub async fn fail(&self, task: &str, reason: &str) -> Result<Task, ClientError> {
        let body = FailTask {
            reason: reason.into(),
        };
        self.post(&format!("/tasks/{}/fail", enc(task)), &body)
            .await
    }

    pub async fn cancel(&self, task: &str) -> Result<Task, ClientError> {
        self.post(&format!("/tasks/{}/cancel", enc(task)), &Value::Null)
            .await
    }

    pub async fn retry(&self, task: &str) -> Result<Task, ClientError> {
        self.post(&format!("/tasks/{}/retry", enc(task)), &Value::Null)
            .await
    }

    /// Reports what an agent's hook saw (the session's state follows from it), with a short
    /// timeout: a hook must never hold the agent up for long.
    pub async fn agent_event(
        &self,
        session: &str,
        body: &AgentEvent,
    ) -> Result<Session, ClientError> {
        self.request(
            Method::POST,
            &format!("/sessions/{}/agent-event", enc(session)),
            Some(body),
            Some(Duration::from_secs(10)),
        )
        .await
    }

    pub async fn note(&self, task: &str, text: &str) -> Result<Note, ClientError> {
        let body = AddNote { text: text.into() };
        self.post(&format!("/tasks/{}/notes", enc(task)), &body)
            .await
    }

    pub async fn ask_help(&self, task: &str, question: &str) -> Result<Intervention, ClientError> {
        let body = AskHelp {
            question: question.into(),
        };
        self.post(&format!("/tasks/{}/help", enc(task)), &body)
            .await
    }

    pub async fn intervention(
        &self,
        id: Uuid,
        wait: Option<Duration>,
    ) -> Result<Intervention, ClientError> {
        match wait {
            Some(w) => {
                self.get_waiting(&format!("/interventions/{id}?wait={}ms", w.as_millis()), w)
                    .await
            }
            None => self.get(&format!("/interventions/{id}")).await,
        }
    }

    pub async fn interventions(
        &self,
        status: Option<&str>,
    ) -> Result<Vec<Intervention>, ClientError> {
        self.get(&with_status("/interventions", status)).await
    }

    pub async fn respond(&self, id: &str, response: &str) -> Result<Intervention, ClientError> {
        let body = Respond {
            response: response.into(),
        };
        self.post(&format!("/interventions/{}/respond", enc(id)), &body)
            .await
    }

    pub async fn submit_plan(&self, task: &str, content: &str) -> Result<Plan, ClientError> {
        let body = SubmitPlan {
            content: content.into(),
        };
        self.post(&format!("/tasks/{}/plan", enc(task)), &body)
            .await
    }

    pub async fn plan(&self, id: Uuid, wait: Option<Duration>) -> Result<Plan, ClientError> {
        match wait {
            Some(w) => {
                self.get_waiting(&format!("/plans/{id}?wait={}ms", w.as_millis()), w)
                    .await
            }
            None => self.get(&format!("/plans/{id}")).await,
        }
    }

    pub async fn plans(&self, status: Option<&str>) -> Result<Vec<Plan>, ClientError> {
        self.get(&with_status("/plans", status)).await
    }

    pub async fn approve_plan(&self, task: &str) -> Result<Plan, ClientError> {
        self.post(&format!("/tasks/{}/plan/approve", enc(task)), &Value::Null)
            .await
    }

    pub async fn reject_plan(&self, task: &str, feedback: &str) -> Result<Plan, ClientError> {
        let body = RejectPlan {
            feedback: feedback.into(),
        };
        self.post(&format!("/tasks/{}/plan/reject", enc(task)), &body)
            .await
    }

    pub async fn request_permission(
        &self,
        body: &RequestPermission,
    ) -> Result<PermissionRequest, ClientError> {
        self.post("/permissions", body).await
    }

    pub async fn permission(
        &self,
        id: Uuid,
        wait: Option<Duration>,
    ) -> Result<PermissionRequest, ClientError> {
        match wait {
            Some(w) => {
                self.get_waiting(&format!("/permissions/{id}?wait={}ms", w.as_millis()), w)
                    .await
            }
            None => self.get(&format!("/permissions/{id}")).await,
        }
    }

    pub async fn permissions(
        &self,
        status: Option<&str>,
    ) -> Result<Vec<PermissionRequest>, ClientError> {
        self.get(&with_status("/permissions", status)).await
    }

    pub async fn allow_permission(&self, id: &str) -> Result<PermissionRequest, ClientError> {
        self.post(&format!("/permissions/{}/allow", enc(id)), &Value::Null)
            .await
    }

    pub async fn deny_permission(
        &self,
        id: &str,
        reason: Option<&str>,
    ) -> Result<PermissionRequest, ClientError> {
        let body = DenyPermission {
            reason: reason.map(str::to_string),
        };
        self.post(&format!("/permissions/{}/deny", enc(id)), &body)
            .await
    }

    pub async fn create_session(&self, body: &CreateSession) -> Result<Session, ClientError> {
        self.post("/sessions", body).await
    }

    /// A page of a session's recording after output chunk `after`.
    pub async fn recording(
        &self,
        session: &str,
        after: u64,
        limit: i64,
    ) -> Result<Recording, ClientError> {
        self.get(&format!(
            "/sessions/{}/recording?after={after}&limit={limit}",
            enc(session)
        ))
        .await
    }

    /// A session's whole recording.
    pub async fn recording_all(&self, session: &str) -> Result<Vec<RecordingChunk>, ClientError> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self.recording(session, after, 2000).await?;
            out.extend(page.chunks);
            match page.next_after {
                Some(n) => after = n,
                None => return Ok(out),
            }
        }
    }

    pub async fn sessions(&self) -> Result<Vec<Session>, ClientError> {
        self.get("/sessions").await
    }

    pub async fn session(&self, session: &str) -> Result<Session, ClientError> {
        self.get(&format!("/sessions/{}", enc(session))).await
    }

    /// Submits `text` to an idle agent as its next prompt; answers once the agent took it.
    pub async fn send_message(
        &self,
        session: &str,
        text: &str,
    ) -> Result<AgentMessage, ClientError> {
        let body = SendMessage { text: text.into() };
        self.request(
            Method::POST,
            &format!("/sessions/{}/message", enc(session)),
            Some(&body),
            Some(Duration::from_secs(90)),
        )
        .await
    }

    /// Stops a session (its agent is asked to exit, then ended); the recording is kept.
    pub async fn stop_session(
        &self,
        session: &str,
        reason: Option<&str>,
    ) -> Result<Session, ClientError> {
        let body = StopSession {
            reason: reason.map(str::to_string),
        };
        self.post(&format!("/sessions/{}/stop", enc(session)), &body)
            .await
    }

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

impl HubClient {
    /// What waits for a human (admin): submitted plans, pending permission requests and
    /// pending questions, newest first.
    pub async fn inbox(&self) -> Result<crate::api::Inbox, ClientError> {
        self.get("/inbox").await
    }
}

fn with_status(path: &str, status: Option<&str>) -> String {
    match status {
        Some(s) => format!("{path}?status={}", enc(s)),
        None => path.to_string(),
    }
}

fn transport_reason(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

fn api_error(status: StatusCode, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(b) => ClientError::Api {
            status: status.as_u16(),
            error: b.error,
            detail: b.detail,
        },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            error: status
                .canonical_reason()
                .unwrap_or("error")
                .to_ascii_lowercase()
                .replace(' ', "_"),
            detail: format!(
                "HTTP {}: {}",
                status.as_u16(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).trim()
            ),
        },
    }
}

/// Where the CLI and console find their hub and token when no flag or environment names them.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct CredentialFile {
    pub hub_url: Option<String>,
    /// The admin token file has `token`; the agent's config.yaml has `api_key`.
    pub token: Option<String>,
    pub api_key: Option<String>,
}

/// The user's Orchestratia config dir (`$XDG_CONFIG_HOME/orchestratia`).
pub fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("orchestratia"))
}

/// The admin token file the hub writes on first start.
pub fn admin_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("admin.yaml"))
}

/// The agent daemon's config file.
pub fn agent_config_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("config.yaml"))
}

fn read_credentials(path: &Path) -> Option<CredentialFile> {
    let text = std::fs::read_to_string(path).ok()?;
    yaml_serde::from_str(&text).ok()
}

/// The hub URL and token, each from the flag, else the environment, else the admin token file,
/// else the agent's config.yaml, else the default URL (the CLI's `--help`: "The hub comes from …").
pub fn discover(hub_flag: Option<&str>, token_flag: Option<&str>) -> (String, Option<String>) {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let files: Vec<CredentialFile> = [admin_file(), agent_config_file()]
        .into_iter()
        .flatten()
        .filter_map(|p| read_credentials(&p))
        .collect();
    let hub = hub_flag
        .map(str::to_string)
        .or_else(|| env("ORCHESTRATIA_HUB"))
        .or_else(|| files.iter().find_map(|f| f.hub_url.clone()))
        .unwrap_or_else(|| crate::DEFAULT_HUB_URL.to_string());
    let token = token_flag
        .map(str::to_string)
        .or_else(|| env("ORCHESTRATIA_TOKEN"))
        .or_else(|| {
            files
                .iter()
                .find_map(|f| f.token.clone().or_else(|| f.api_key.clone()))
        });
    (hub, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_path_segments() {
        assert_eq!(enc("T7"), "T7");
        assert_eq!(enc("E-Commerce Platform"), "E-Commerce%20Platform");
        assert_eq!(enc("a/b"), "a%2Fb");
    }

    #[test]
    fn ws_urls_follow_the_scheme() {
        let c = HubClient::new("https://hub.example:443/", None);
        assert_eq!(c.ws_url("/x"), "wss://hub.example:443/x");
        let c = HubClient::new("http://127.0.0.1:8600", None);
        assert_eq!(c.ws_url("/x"), "ws://127.0.0.1:8600/x");
    }
}
