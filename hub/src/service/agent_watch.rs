//! What the hub watches for in the agents every few seconds: one that never gave a sign of life
//! after it started (a dialog holds it), and answers whose asker was gone and review comments
//! written while it worked, which go to the idle agent as its next prompt.

use orchestratia_proto::time::now_ms;
use orchestratia_proto::ws::HubToDaemon;
use orchestratia_proto::{EventKind, PlanStatus, SessionState};
use serde_json::json;
use uuid::Uuid;

use super::sessions::session_event;
use super::{Effects, Hub};
use crate::engine::agent_state::Signal;
use crate::error::HubResult;
use crate::store::prompts::PromptRecord;
use crate::store::{self, Conn};

/// A prompt the agent did not take is sent again after this long.
const RESEND_AFTER_MS: i64 = 60_000;

impl Hub {
    /// Runs every few seconds: agents that never gave a sign of life are reported, and
    /// answers whose asker was gone are submitted to the agent as its next prompt.
    pub async fn watch_agents(&self) -> HubResult<()> {
        self.notice_stalls().await?;
        self.deliver_late_answers().await?;
        self.deliver_review_comments().await
    }

    /// Review comments written while the agent was busy go to it once it is idle.
    async fn deliver_review_comments(&self) -> HubResult<()> {
        if store::workspaces::open_tasks_with_undelivered(&mut self.read().await?)
            .await?
            .is_empty()
        {
            return Ok(());
        }
        let mut tx = self.store.write().await?;
        let mut out = Effects::default();
        let now = now_ms();
        for task in store::workspaces::open_tasks_with_undelivered(&mut tx).await? {
            if let Some(t) = store::tasks::get(&mut tx, task).await? {
                self.deliver_review(&mut tx, &t, now, &mut out).await?;
            }
        }
        self.commit(tx, out).await
    }

    /// Sessions whose agent reports through hooks but has not since it started: a dialog
    /// holds it. The task says so (an event, and the session waits for input).
    async fn notice_stalls(&self) -> HubResult<()> {
        let now = now_ms();
        let cutoff = now - self.config.stall_after.as_millis() as i64;
        // Read first: this runs every few seconds and almost always finds nothing.
        if store::sessions::silent_since(&mut self.read().await?, cutoff)
            .await?
            .is_empty()
        {
            return Ok(());
        }
        let mut tx = self.store.write().await?;
        let silent = store::sessions::silent_since(&mut tx, cutoff).await?;
        let mut out = Effects::default();
        for s in silent {
            self.signal(&mut tx, &s, Signal::Stalled, &mut out).await?;
            let screen = store::sessions::screen(&mut tx, s.id)
                .await?
                .map(|sc| last_lines(&sc, 12))
                .unwrap_or_default();
            let project = self.project_of(&mut tx, &s).await?;
            out.event(session_event(
                EventKind::AgentStalled,
                &s,
                project,
                json!({"session": s.name,
                    "reason": format!("the agent gave no sign of life through its hooks for {}s after it started: it may be showing a dialog (folder trust, API key); attach to the session to answer it",
                                      self.config.stall_after.as_secs()),
                    "screen": screen}),
            ));
        }
        self.commit(tx, out).await
    }

    /// Answers and plan decisions that never reached their asker (the CLI call was killed)
    /// go to the agent as its next prompt once it is idle.
    async fn deliver_late_answers(&self) -> HubResult<()> {
        let now = now_ms();
        let cutoff = now - self.config.late_answer_after.as_millis() as i64;
        {
            let mut c = self.read().await?;
            if store::humans::undelivered_answers(&mut c, cutoff)
                .await?
                .is_empty()
                && store::humans::undelivered_decisions(&mut c, cutoff)
                    .await?
                    .is_empty()
            {
                return Ok(());
            }
        }
        let mut tx = self.store.write().await?;
        let answers = store::humans::undelivered_answers(&mut tx, cutoff).await?;
        let plans = store::humans::undelivered_decisions(&mut tx, cutoff).await?;
        let mut out = Effects::default();
        for a in answers {
            let i = a.intervention;
            let text = format!(
                "A human answered the question you asked with `orchestratia task help` (\"{}\"). The command that waited for it is gone, so here is the answer:\n\n{}",
                i.question,
                i.response.as_deref().unwrap_or_default()
            );
            self.deliver_late(&mut tx, i.task_id, i.id, "answer", text, now, &mut out)
                .await?;
        }
        for p in plans {
            let text = match p.status {
                PlanStatus::Approved => format!(
                    "Your plan was approved{}. The command that waited for the decision is gone: go ahead with the plan.",
                    p.feedback
                        .as_deref()
                        .map(|f| format!(" (feedback: {f})"))
                        .unwrap_or_default()
                ),
                _ => format!(
                    "Your plan was rejected: {}. The command that waited for the decision is gone: revise the plan and submit it again with `orchestratia task plan submit`.",
                    p.feedback.as_deref().unwrap_or("no feedback given")
                ),
            };
            self.deliver_late(&mut tx, p.task_id, p.id, "plan", text, now, &mut out)
                .await?;
        }
        self.commit(tx, out).await
    }

    /// Submits one late answer to the task's idle agent, or sends it again when the agent has
    /// not taken it for a while.
    #[allow(clippy::too_many_arguments)]
    async fn deliver_late(
        &self,
        c: &mut Conn,
        task: Uuid,
        ref_id: Uuid,
        kind: &str,
        text: String,
        now: i64,
        out: &mut Effects,
    ) -> HubResult<()> {
        let Some(s) = store::sessions::open_of_task(c, task)
            .await?
            .into_iter()
            .find(|s| s.state == SessionState::Idle)
        else {
            return Ok(());
        };
        if !self.daemons.is_connected(s.server_id) {
            return Ok(());
        }
        match store::prompts::for_ref(c, ref_id).await? {
            None => {
                let record = PromptRecord {
                    task_id: Some(task),
                    ..PromptRecord::new(&s, text, kind, Some(ref_id), now)
                };
                self.submit_prompt(c, &record, "hub", &s, out).await
            }
            Some(m) if !m.message.taken && m.message.created_at < now - RESEND_AFTER_MS => {
                store::prompts::touch(c, m.message.id, now).await?;
                out.tell(
                    s.server_id,
                    HubToDaemon::SessionPrompt {
                        session_id: s.id,
                        prompt_id: m.message.id,
                        text: m.message.text,
                    },
                );
                Ok(())
            }
            Some(_) => Ok(()),
        }
    }
}

/// The last `n` non-empty lines of a screen.
fn last_lines(screen: &str, n: usize) -> String {
    let lines: Vec<&str> = screen
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
