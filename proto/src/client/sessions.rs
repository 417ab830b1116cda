//! Typed calls about agent sessions: start one, list them, page through a recording, send an
//! agent a message, stop it, and the reports of its hooks.

use std::time::Duration;

use reqwest::Method;

use super::{ClientError, HubClient, enc};
use crate::api::*;
use crate::model::*;

impl HubClient {
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

    /// Starts a session on a server (an interactive one, or for a task).
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

    /// The sessions with their agent's state.
    pub async fn sessions(&self) -> Result<Vec<Session>, ClientError> {
        self.get("/sessions").await
    }

    /// One session, by name or id.
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
}
