//! The plumbing under every typed call: one request to `/api/v1{path}` with the client's
//! token and a timeout, its JSON answer decoded, and the hub's error body or the transport's
//! failure turned into a [`ClientError`].

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ClientError, HubClient};
use crate::api::ErrorBody;

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
    /// Sends one request to `/api/v1{path}` and decodes the JSON answer.
    pub async fn request<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        timeout: Option<Duration>,
    ) -> Result<T, ClientError> {
        let base = self.base().to_string();
        let url = format!("{}{}{}", base, crate::API_PREFIX, path);
        let mut req = self.http.request(method, &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req = req.timeout(timeout.unwrap_or(Duration::from_secs(60)));
        let resp = req.send().await.map_err(|e| ClientError::Transport {
            url: base.clone(),
            reason: transport_reason(&e),
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| ClientError::Transport {
            url: base.clone(),
            reason: transport_reason(&e),
        })?;
        if !status.is_success() {
            return Err(api_error(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// GET of `path`, decoded.
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

    /// POST of `body` as JSON to `path`, decoded.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.request(Method::POST, path, Some(body), None).await
    }

    /// PATCH of `body` as JSON to `path`, decoded.
    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.request(Method::PATCH, path, Some(body), None).await
    }

    /// GET of a long-poll: with `wait`, the hub answers once the thing changed or `wait` passed.
    pub(super) async fn get_maybe_waiting<T: DeserializeOwned>(
        &self,
        path: &str,
        wait: Option<Duration>,
    ) -> Result<T, ClientError> {
        match wait {
            Some(w) => {
                self.get_waiting(&format!("{path}?wait={}ms", w.as_millis()), w)
                    .await
            }
            None => self.get(path).await,
        }
    }
}

/// `path` with a `status` filter, when there is one.
pub(super) fn with_status(path: &str, status: Option<&str>) -> String {
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
