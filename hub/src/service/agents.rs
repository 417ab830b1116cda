//! The agents inside sessions: their state from their own hooks, messages submitted to them as
//! prompts, stopping and finishing them. What runs every few seconds (stalls, late answers) is
//! in `agent_watch.rs`.

use std::time::Duration;

use orchestratia_proto::api::{AgentEvent, AgentMessage};
use orchestratia_proto::time::now_ms;
use orchestratia_proto::ws::HubToDaemon;
use orchestratia_proto::{EventKind, HookEvent, Session, SessionState};
use serde_json::json;
use uuid::Uuid;

use super::sessions::{require_open, session_event};
use super::{Effects, Hub, StateChange, validate};
use crate::auth::Principal;
use crate::bad;
use crate::bus::BusMessage;
use crate::engine::agent_state::{Signal, next_state};
use crate::error::{HubError, HubResult};
use crate::store::events::NewEvent;
use crate::store::prompts::PromptRecord;
use crate::store::{self, Conn};

/// Longest message an admin may send to an agent, in characters.
const MAX_MESSAGE: usize = 100_000;
/// How long `session send` waits for the agent to take the message.
const TAKE_WAIT: Duration = Duration::from_secs(20);
/// What an agent's own words may add to an event, in characters.
const MAX_AGENT_TEXT: usize = 2_000;

/// A conversation id an agent reports: 1-200 letters, digits, '-' or '_' (none when blank).
fn conversation_id(raw: Option<&str>) -> HubResult<Option<String>> {
    raw.map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            if c.len() <= 200
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
            {
                Ok(c.to_string())
            } else {
                Err(bad!(
                    "conversation_id must be 1-200 letters, digits, '-' or '_'"
                ))
            }
        })
        .transpose()
}

/// A transcript path an agent's hook reported, when it is one a daemon could read: not blank,
/// at most 4096 bytes, no control characters (the daemon checks where it points).
fn transcript_path(raw: Option<&str>) -> Option<String> {
    raw.map(str::trim)
        .filter(|p| !p.is_empty() && p.len() <= 4096 && !p.chars().any(char::is_control))
        .map(str::to_string)
}

/// The event an agent's hook is logged as when it moved the session's state from `before`
/// to `after`: the agent now waits (a notification), or is idle (a stop or notification).
fn waiting_or_idle(
    p: &Principal,
    s: &Session,
    project: Option<Uuid>,
    body: &AgentEvent,
    before: SessionState,
    after: SessionState,
) -> Option<NewEvent> {
    let kind = match (body.event, after) {
        (HookEvent::Notification, SessionState::WaitingPermission | SessionState::WaitingInput) => {
            EventKind::AgentWaiting
        }
        (HookEvent::Stop | HookEvent::Notification, SessionState::Idle) => EventKind::AgentIdle,
        _ => return None,
    };
    if after == before {
        return None;
    }
    let said = body
        .message
        .as_deref()
        .map(|m| validate::bounded(m, MAX_AGENT_TEXT));
    Some(NewEvent {
        kind,
        actor: p.actor(),
        project_id: project,
        task_id: s.task_id,
        related_task_id: None,
        server_id: Some(s.server_id),
        session_id: Some(s.id),
        details: json!({"session": s.name, "state": after, "message": said}),
    })
}

impl Hub {
    /// Moves a session's agent state by `signal`; a change is stored and, after the commit,
    /// published live and told to the session's daemon. Returns the state after.
    pub(crate) async fn signal(
        &self,
        c: &mut Conn,
        s: &Session,
        signal: Signal<'_>,
        out: &mut Effects,
    ) -> HubResult<SessionState> {
        let state = next_state(s.state, signal);
        if state != s.state && store::sessions::set_state(c, s.id, state, now_ms()).await? {
            out.states.push(StateChange::of(s, state));
        }
        Ok(state)
    }

    /// [`Hub::signal`] for every open session of a task.
    pub(crate) async fn signal_task(
        &self,
        c: &mut Conn,
        task: Uuid,
        signal: Signal<'_>,
        out: &mut Effects,
    ) -> HubResult<()> {
        for s in store::sessions::open_of_task(c, task).await? {
            self.signal(c, &s, signal, out).await?;
        }
        Ok(())
    }

    /// A session named by id or `orc-` name, for the agent inside it (its own only) or an
    /// admin.
    async fn agent_session(&self, c: &mut Conn, p: &Principal, key: &str) -> HubResult<Session> {
        let key = key.trim();
        let found = match Uuid::parse_str(key) {
            Ok(id) => store::sessions::get(c, id).await?,
            Err(_) => store::sessions::by_name(c, key).await?,
        };
        let visible = found.filter(|s| match p {
            Principal::Admin | Principal::Hub => true,
            Principal::Session { session_id, .. } => *session_id == Some(s.id),
            Principal::Server { server_id, .. } => *server_id == s.server_id,
        });
        visible.ok_or_else(|| HubError::NotFound(format!("session '{key}' not found")))
    }

    /// What an agent's hook saw: the session's state follows from it; a prompt it took
    /// confirms a message sent to it; a new conversation id is kept for resuming.
    pub async fn agent_event(
        &self,
        p: &Principal,
        key: &str,
        body: &AgentEvent,
    ) -> HubResult<Session> {
        if !matches!(p, Principal::Session { .. }) {
            return Err(HubError::Forbidden(
                "agent events come from the agent's own session token".into(),
            ));
        }
        let conversation = conversation_id(body.conversation_id.as_deref())?;
        let mut tx = self.store.write().await?;
        let mut s = self.agent_session(&mut tx, p, key).await?;
        require_open(&s)?;
        let mut out = Effects::default();
        let new_conversation = conversation
            .as_ref()
            .is_some_and(|conv| s.conversation_id.as_ref() != Some(conv));
        if new_conversation && let Some(conv) = &conversation {
            store::sessions::set_conversation(&mut tx, s.id, conv).await?;
            s.conversation_id = Some(conv.clone());
        }
        let signal = Signal::Hook {
            event: body.event,
            notification_type: body.notification_type.as_deref(),
            source: body.source.as_deref(),
            tool: body.tool_name.as_deref(),
        };
        let before = s.state;
        let after = self.signal(&mut tx, &s, signal, &mut out).await?;
        if new_conversation && after == before {
            // The daemon resumes the newest conversation after a reboot.
            out.states.push(StateChange::of(&s, after));
        }
        if let Some(path) = transcript_path(body.transcript_path.as_deref()) {
            // The daemon reads the agent's usage from it: on a state change, a turn's end, a
            // start or a new conversation.
            let turn = matches!(body.event, HookEvent::Stop | HookEvent::SessionStart);
            if !out.states.iter().any(|c| c.session == s.id) && turn {
                out.states.push(StateChange::of(&s, after));
            }
            for c in out.states.iter_mut().filter(|c| c.session == s.id) {
                c.transcript_path = Some(path.clone());
            }
        }
        let project = self.project_of(&mut tx, &s).await?;
        if let Some(e) = waiting_or_idle(p, &s, project, body, before, after) {
            out.event(e);
        }
        if body.event == HookEvent::UserPromptSubmit
            && let Some(prompt) = &body.prompt
        {
            self.prompt_taken(&mut tx, &s, project, prompt, &mut out)
                .await?;
        }
        self.commit(tx, out).await?;
        self.stored_session(s.id).await
    }

    /// The agent took `prompt`: the message it matches is taken, and the answer it carried
    /// has reached the agent.
    async fn prompt_taken(
        &self,
        c: &mut Conn,
        s: &Session,
        project: Option<Uuid>,
        prompt: &str,
        out: &mut Effects,
    ) -> HubResult<()> {
        let prompt = prompt.trim();
        let pending = store::prompts::untaken(c, s.id).await?;
        let Some(m) = pending
            .into_iter()
            .find(|m| m.message.text.trim() == prompt)
        else {
            return Ok(());
        };
        let now = now_ms();
        if !store::prompts::set_taken(c, m.message.id, now).await? {
            return Ok(());
        }
        match (m.message.kind.as_str(), m.ref_id) {
            ("answer", Some(id)) => {
                store::humans::deliver_intervention(c, id, "prompt", now).await?;
            }
            ("plan", Some(id)) => {
                store::humans::deliver_plan(c, id, "prompt", now).await?;
            }
            _ => {}
        }
        out.event(session_event(
            EventKind::AgentPrompted,
            s,
            project,
            json!({"session": s.name, "prompt_id": m.message.id, "kind": m.message.kind,
                            "text": validate::bounded(&m.message.text, MAX_AGENT_TEXT)}),
        ));
        Ok(())
    }

    /// An admin's follow-up message to an idle agent, submitted as its next prompt; answers
    /// once the agent took it (its prompt hook saw the text), or after a bound with `taken`
    /// false.
    pub async fn send_message(
        &self,
        p: &Principal,
        key: &str,
        text: &str,
    ) -> HubResult<AgentMessage> {
        p.require_admin("sending a message to an agent")?;
        let text = validate::text("text", text, MAX_MESSAGE)?;
        let mut tx = self.store.write().await?;
        let s = self.agent_session(&mut tx, p, key).await?;
        require_open(&s)?;
        if s.state != SessionState::Idle {
            let why = match s.state {
                SessionState::Working => "it is working on a turn",
                SessionState::WaitingPermission => "it waits for a permission decision",
                SessionState::WaitingInput => "it waits for a human's answer",
                SessionState::Starting => "it has not started yet (or its agent reports no state)",
                _ => "it is not idle",
            };
            return Err(HubError::Conflict(format!(
                "session {} is {}: {why}; a message goes to an idle agent",
                s.name, s.state
            )));
        }
        if !self.daemons.is_connected(s.server_id) {
            return Err(HubError::Conflict(format!(
                "server {} is offline; the message cannot be delivered",
                s.server
            )));
        }
        let record = PromptRecord::new(&s, text, "admin", None, now_ms());
        let mut out = Effects::default();
        self.submit_prompt(&mut tx, &record, &p.actor(), &s, &mut out)
            .await?;
        self.commit(tx, out).await?;
        let id = record.message.id;
        let session = s.id;
        self.wait_until(
            TAKE_WAIT,
            || async {
                let mut c = self.read().await?;
                let m = store::prompts::get(&mut c, id)
                    .await?
                    .ok_or_else(|| HubError::NotFound("message vanished".into()))?
                    .message;
                let done = m.taken;
                Ok((m, done))
            },
            |m| matches!(m, BusMessage::Event(e) if e.session_id == Some(session) && e.event == EventKind::AgentPrompted),
        )
        .await
    }

    /// Stores a prompt and tells the session's daemon to submit it.
    pub(super) async fn submit_prompt(
        &self,
        c: &mut Conn,
        record: &PromptRecord,
        by: &str,
        s: &Session,
        out: &mut Effects,
    ) -> HubResult<()> {
        store::prompts::insert(c, record, by).await?;
        out.tell(
            s.server_id,
            HubToDaemon::SessionPrompt {
                session_id: s.id,
                prompt_id: record.message.id,
                text: record.message.text.clone(),
            },
        );
        Ok(())
    }

    /// Stops a session by hand (one kept after its task, or an interactive one): its agent is
    /// asked to exit, then ended; the recording stays.
    pub async fn stop_session(
        &self,
        p: &Principal,
        key: &str,
        reason: Option<&str>,
    ) -> HubResult<Session> {
        p.require_admin("stopping a session")?;
        let reason = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| validate::text("reason", r, 1000))
            .transpose()?
            .unwrap_or_else(|| "stopped by an admin".into());
        let mut tx = self.store.write().await?;
        let s = self.agent_session(&mut tx, p, key).await?;
        require_open(&s)?;
        let task = match s.task_id {
            Some(t) => store::tasks::get(&mut tx, t).await?,
            None => None,
        };
        if let Some(t) = task.as_ref().filter(|t| !t.status.is_terminal()) {
            return Err(HubError::Conflict(format!(
                "{} is {}: cancel or fail the task instead (orchestratia task cancel {}), which stops its session",
                t.reference(),
                t.status,
                t.reference()
            )));
        }
        let mut out = Effects::default();
        self.end_session(
            &mut tx,
            &s,
            task.as_ref().map(|t| t.project_id),
            &reason,
            &mut out,
        )
        .await?;
        self.commit(tx, out).await?;
        self.stored_session(s.id).await
    }

    /// Ends a session on the hub now and tells its daemon to stop it (its token is revoked).
    pub(crate) async fn end_session(
        &self,
        c: &mut Conn,
        s: &Session,
        project: Option<Uuid>,
        reason: &str,
        out: &mut Effects,
    ) -> HubResult<()> {
        let now = now_ms();
        if !store::sessions::set_ended(c, s.id, None, None, now).await? {
            return Ok(());
        }
        store::tokens::revoke_session(c, s.id, now).await?;
        out.revoked_tokens = true;
        out.states.push(StateChange::of(s, SessionState::Ended));
        out.event(session_event(
            EventKind::SessionEnded,
            s,
            project,
            json!({"session": s.name, "reason": reason}),
        ));
        out.tell(
            s.server_id,
            HubToDaemon::SessionStop {
                session_id: s.id,
                reason: reason.to_string(),
                finish: false,
            },
        );
        Ok(())
    }

    /// The asker itself received an answer or decision (its long-poll returned it).
    pub(crate) async fn delivered_to_caller(
        &self,
        intervention: Option<Uuid>,
        plan: Option<Uuid>,
    ) -> HubResult<()> {
        let mut tx = self.store.write().await?;
        let now = now_ms();
        let mut changed = false;
        if let Some(id) = intervention {
            changed |= store::humans::deliver_intervention(&mut tx, id, "caller", now).await?;
        }
        if let Some(id) = plan {
            changed |= store::humans::deliver_plan(&mut tx, id, "caller", now).await?;
        }
        if changed {
            tx.commit().await?;
        }
        Ok(())
    }
}
