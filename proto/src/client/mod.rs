//! The typed hub client used by the CLI, the daemon, the console and the tests, and the lookup
//! of which hub and token to use (flag, environment, config file, default).
//!
//! - `http`: the plumbing: one request to `/api/v1…`, its timeout, token and errors.
//! - `servers`: the hub itself, projects, servers and their tokens.
//! - `tasks`: tasks, their dependencies, the graph and the event log.
//! - `humans`: what waits for a human: questions, plans and permission requests.
//! - `sessions`: agent sessions, their recordings, messages to them and their hooks' reports.
//! - `policy`: permission rules: list, add, remove, test.
//! - `workspaces`: tasks' git worktrees: diff, merge, keep, discard, review, list, prune.

mod http;
mod humans;
mod policy;
mod servers;
mod sessions;
mod tasks;
mod workspaces;

use std::time::Duration;

pub use http::enc;

use crate::files::{CredentialFile, admin_file, agent_config_file, read_credentials};

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

/// A client for one hub (or several replicas of it) with one token.
#[derive(Clone, Debug)]
pub struct HubClient {
    /// The hub's URLs: one, or the replicas sharing one database, in order of preference.
    bases: std::sync::Arc<Vec<String>>,
    /// Which of `bases` is used now; moves on when one cannot be reached (shared by clones).
    current: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    token: Option<String>,
    http: reqwest::Client,
}

/// The URLs of `base`: one URL, or several separated by commas (hub replicas).
pub fn parse_bases(base: &str) -> Vec<String> {
    let list: Vec<String> = base
        .split(',')
        .map(|b| b.trim().trim_end_matches('/').to_string())
        .filter(|b| !b.is_empty())
        .collect();
    if list.is_empty() {
        vec![base.trim().trim_end_matches('/').to_string()]
    } else {
        list
    }
}

impl HubClient {
    /// A client for `base` (e.g. `http://127.0.0.1:8600`, or several replicas' URLs separated
    /// by commas), authenticating with `token`.
    pub fn new(base: &str, token: Option<String>) -> HubClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Shorter than the hub's header timeout (10 s by default), which also closes idle
            // connections: a pooled connection is dropped here before the hub drops it.
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        HubClient {
            bases: std::sync::Arc::new(parse_bases(base)),
            current: Default::default(),
            token,
            http,
        }
    }

    /// The hub's base URL in use now.
    pub fn base(&self) -> &str {
        let i = self.current.load(std::sync::atomic::Ordering::Relaxed) % self.bases.len();
        &self.bases[i]
    }

    /// Every URL this client may use, in order.
    pub fn bases(&self) -> &[String] {
        &self.bases
    }

    /// Moves on to the next URL when `failed` is still the one in use (another caller may
    /// have moved on already); true when there is another URL to try.
    pub fn rotate_from(&self, failed: &str) -> bool {
        use std::sync::atomic::Ordering;
        let n = self.bases.len();
        if n < 2 {
            return false;
        }
        let now = self.current.load(Ordering::Relaxed);
        if self.bases[now % n] == failed {
            let _ = self.current.compare_exchange(
                now,
                (now + 1) % n,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        true
    }

    /// The token this client presents.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The same hub with another token.
    pub fn with_token(&self, token: Option<String>) -> HubClient {
        HubClient {
            bases: self.bases.clone(),
            current: self.current.clone(),
            token,
            http: self.http.clone(),
        }
    }

    /// The WebSocket URL for `path` (`http` → `ws`, `https` → `wss`).
    pub fn ws_url(&self, path: &str) -> String {
        let current = self.base();
        let base = if let Some(rest) = current.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = current.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            current.to_string()
        };
        format!("{base}{path}")
    }
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
