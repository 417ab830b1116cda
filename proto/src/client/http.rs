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
    ///
    /// With several URLs (hub replicas), a replica that cannot be connected to or answers 503
    /// is passed over at once for the next (each URL once per call): nothing reached it, so
    /// even a POST is safe to send elsewhere. A connection lost after the request went out
    /// (a replica dying during a long-poll) moves the client on and returns the error, so the
    /// caller's own retry asks the next replica.
    pub async fn request<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        timeout: Option<Duration>,
    ) -> Result<T, ClientError> {
        let n = self.bases.len();
        let start = self.current.load(std::sync::atomic::Ordering::Relaxed) % n;
        let mut unreachable: Vec<(String, String)> = Vec::new();
        let mut last_unavailable = None;
        for k in 0..n {
            let base = &self.bases[(start + k) % n];
            match self.send_once(&method, base, path, body, timeout).await {
                Ok(t) => return Ok(t),
                Err(Attempt::NotSent(reason)) => {
                    self.rotate_from(base);
                    unreachable.push((base.clone(), reason));
                }
                Err(Attempt::Unavailable(e)) => {
                    self.rotate_from(base);
                    last_unavailable = Some(e);
                }
                Err(Attempt::Lost(reason)) => {
                    self.rotate_from(base);
                    return Err(ClientError::Transport {
                        url: base.clone(),
                        reason,
                    });
                }
                Err(Attempt::Failed(e)) => return Err(e),
            }
        }
        // A replica that answered 503 says more than one that could not be reached.
        if let Some(e) = last_unavailable {
            return Err(e);
        }
        Err(unreachable_error(unreachable))
    }

    /// One attempt at one base URL, its failure classified for `request`.
    async fn send_once<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &Method,
        base: &str,
        path: &str,
        body: Option<&B>,
        timeout: Option<Duration>,
    ) -> Result<T, Attempt> {
        let url = format!("{}{}{}", base, crate::API_PREFIX, path);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req = req.timeout(timeout.unwrap_or(Duration::from_secs(60)));
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() {
                Attempt::NotSent(transport_reason(&e))
            } else {
                Attempt::Lost(transport_reason(&e))
            }
        })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Attempt::Lost(transport_reason(&e)))?;
        if !status.is_success() {
            let e = api_error(status, &bytes);
            return Err(if status == StatusCode::SERVICE_UNAVAILABLE {
                Attempt::Unavailable(e)
            } else {
                Attempt::Failed(e)
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| Attempt::Failed(ClientError::Decode(e.to_string())))
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

/// How one attempt at one URL failed.
enum Attempt {
    /// Nothing reached the hub (no connection): the next URL may be tried at once.
    NotSent(String),
    /// The hub answered 503 (shutting down, or too many connections): try the next URL.
    Unavailable(ClientError),
    /// The connection broke after the request went out: the hub may have acted on it.
    Lost(String),
    /// The hub answered an error, or something the API does not promise.
    Failed(ClientError),
}

/// The error when no URL could be reached: every URL, each with why.
fn unreachable_error(mut failures: Vec<(String, String)>) -> ClientError {
    if failures.len() == 1 {
        let (url, reason) = failures.remove(0);
        return ClientError::Transport { url, reason };
    }
    let urls: Vec<&str> = failures.iter().map(|(u, _)| u.as_str()).collect();
    let reasons: Vec<String> = failures
        .iter()
        .map(|(u, r)| format!("{u}: {}", innermost(r)))
        .collect();
    ClientError::Transport {
        url: urls.join(", "),
        reason: reasons.join("; "),
    }
}

/// The last part of a chained reason (`a: b: connection refused` → `connection refused`).
fn innermost(reason: &str) -> &str {
    reason.rsplit(": ").next().unwrap_or(reason)
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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A port nothing listens on (bound, then let go).
    async fn dead_url() -> String {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", l.local_addr().expect("addr"));
        drop(l);
        url
    }

    /// A tiny HTTP server answering every request with `status` and `body`, or, with `None`,
    /// closing the connection once the request is read (a replica dying mid-request).
    async fn server(answer: Option<(u16, &'static str)>) -> String {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", l.local_addr().expect("addr"));
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = l.accept().await {
                tokio::spawn(async move {
                    read_request(&mut sock).await;
                    if let Some((status, body)) = answer {
                        let head = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(body.as_bytes()).await;
                    }
                    let _ = sock.shutdown().await;
                });
            }
        });
        url
    }

    /// Reads a request's head and its body (by content-length).
    async fn read_request(sock: &mut tokio::net::TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let Ok(n) = sock.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length {
                    return;
                }
            }
        }
    }

    #[tokio::test]
    async fn a_dead_replica_is_passed_over_for_the_next() {
        let dead = dead_url().await;
        let live = server(Some((200, r#"{"ok":true}"#))).await;
        let c = HubClient::new(&format!("{dead},{live}"), None);
        let v: serde_json::Value = c.get("/x").await.expect("the second URL answers");
        assert_eq!(v["ok"], true);
        assert_eq!(c.base(), live);
        // A POST too: nothing reached the dead one.
        let c = HubClient::new(&format!("{dead},{live}"), None);
        let v: serde_json::Value = c
            .post("/x", &serde_json::json!({"a": 1}))
            .await
            .expect("posted to the second URL");
        assert_eq!(v["ok"], true);
    }

    #[tokio::test]
    async fn a_replica_answering_503_is_passed_over() {
        let busy = server(Some((
            503,
            r#"{"error":"unavailable","detail":"shutting down"}"#,
        )))
        .await;
        let live = server(Some((200, r#"{"ok":true}"#))).await;
        let c = HubClient::new(&format!("{busy},{live}"), None);
        let v: serde_json::Value = c.get("/x").await.expect("the second URL answers");
        assert_eq!(v["ok"], true);
        // Only 503s: the hub's own answer comes back, retryable.
        let c = HubClient::new(&busy, None);
        let e = c.get::<serde_json::Value>("/x").await.expect_err("503");
        assert_eq!(e.status(), Some(503));
        assert!(e.is_retryable());
    }

    #[tokio::test]
    async fn every_url_dead_names_them_all() {
        let (a, b) = (dead_url().await, dead_url().await);
        let c = HubClient::new(&format!("{a},{b}"), None);
        let e = c
            .get::<serde_json::Value>("/x")
            .await
            .expect_err("all dead");
        assert!(e.is_transport(), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&a) && msg.contains(&b), "{msg}");
        assert!(msg.to_ascii_lowercase().contains("refused"), "{msg}");
    }

    #[tokio::test]
    async fn a_connection_lost_mid_request_moves_on_and_returns_the_error() {
        let dying = server(None).await;
        let live = server(Some((200, r#"{"ok":true}"#))).await;
        let c = HubClient::new(&format!("{dying},{live}"), None);
        let e = c
            .post::<_, serde_json::Value>("/x", &serde_json::json!({}))
            .await
            .expect_err("not sent again by itself");
        assert!(e.is_retryable(), "{e}");
        assert_eq!(c.base(), live);
        // The caller's retry asks the next replica.
        let v: serde_json::Value = c.get("/x").await.expect("the next one answers");
        assert_eq!(v["ok"], true);
    }

    #[tokio::test]
    async fn errors_the_hub_answers_are_not_retried_elsewhere() {
        let refuses = server(Some((
            404,
            r#"{"error":"not_found","detail":"no such task"}"#,
        )))
        .await;
        let live = server(Some((200, r#"{"ok":true}"#))).await;
        let c = HubClient::new(&format!("{refuses},{live}"), None);
        let e = c.get::<serde_json::Value>("/x").await.expect_err("404");
        assert_eq!(e.status(), Some(404));
        assert_eq!(c.base(), refuses);
    }
}
