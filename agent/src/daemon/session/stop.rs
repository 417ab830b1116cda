//! Ending a session's agent when the hub says so: a task that is over lets a turn in progress
//! end first; then the agent is asked to exit on its own (Claude Code: `/exit`; any other
//! program: SIGTERM), then its processes get SIGTERM, then SIGKILL with its tmux session
//! killed. The runner moves to the next step when the agent's turn ends or a step's time is up.

use std::time::Duration;

use orchestratia_proto::SessionState;
use tokio::time::Instant;

use super::runner::Runner;
use super::terminal::{Input, signal_session, tmux_call, type_line};

/// After SIGTERM, how long before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// Where ending the agent has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Its task is over but a turn is in progress (or a program is on its way out): let it
    /// end, or the deadline pass.
    WaitTurn,
    /// Asked to exit on its own (Claude Code: `/exit`; any other program: SIGTERM).
    AskedToExit,
    /// Its processes got SIGTERM.
    Terminated,
    /// Its processes got SIGKILL and its tmux session was killed.
    Killed,
}

/// An agent being ended: the step reached, until when, and why.
pub struct Ending {
    step: Step,
    until: Instant,
    reason: String,
}

impl Ending {
    /// When the next step is due (none after the last).
    pub fn deadline(&self) -> Option<Instant> {
        (self.step != Step::Killed).then_some(self.until)
    }

    /// Still letting a turn in progress end.
    pub fn waits_for_turn(&self) -> bool {
        self.step == Step::WaitTurn
    }
}

impl Runner {
    /// Starts ending the agent (see [`Step`]). A task that is over lets a turn in progress
    /// end first; a daemon that keeps finished sessions keeps it.
    pub(super) async fn stop(&mut self, reason: String, finish: bool, input: &Input) {
        if self.ending.is_some() {
            return;
        }
        if finish && self.env.config.keep_finished_sessions {
            tracing::info!(session = %self.state.name, %reason, "task over; the session is kept (keep_finished_sessions)");
            return;
        }
        if self.files.exit_code().is_some() {
            // The agent is already gone; the script is let go by `check_exit`.
            return;
        }
        tracing::info!(session = %self.state.name, %reason, finish, "ending the agent");
        let cfg = &self.env.config;
        // A task that is over lets the agent end on its own: Claude Code its turn in progress,
        // any other program its exit (it reported the task done and is about to leave).
        let wait = match (finish, self.state.claude) {
            (true, true) if self.agent == Some(SessionState::Working) => cfg.finish_wait_secs,
            (true, false) => cfg.stop_grace_secs,
            _ => 0,
        };
        self.ending = Some(Ending {
            step: Step::WaitTurn,
            until: Instant::now() + Duration::from_secs(wait),
            reason,
        });
        if wait == 0 {
            self.advance(input).await;
        }
    }

    /// The next step of ending the agent.
    pub(super) async fn advance(&mut self, input: &Input) {
        let Some(e) = self.ending.as_mut() else {
            return;
        };
        let grace = Duration::from_secs(self.env.config.stop_grace_secs);
        let now = Instant::now();
        let leader = self.pid.unwrap_or(0);
        match e.step {
            Step::WaitTurn => {
                e.step = Step::AskedToExit;
                e.until = now + grace;
                let claude = self.state.claude;
                if claude {
                    self.ask_claude_to_exit(input).await;
                } else {
                    signal_session(leader, libc::SIGTERM);
                }
            }
            Step::AskedToExit => {
                e.step = Step::Terminated;
                e.until = now + TERM_GRACE;
                let n = signal_session(leader, libc::SIGTERM);
                tracing::info!(session = %self.state.name, processes = n, "the agent did not exit: SIGTERM");
            }
            Step::Terminated => {
                e.step = Step::Killed;
                e.until = now + TERM_GRACE;
                let n = signal_session(leader, libc::SIGKILL);
                tracing::warn!(session = %self.state.name, processes = n, reason = %e.reason, "the agent did not exit: SIGKILL");
                if let Some(t) = self.env.tmux.clone() {
                    let name = self.state.name.clone();
                    let _ = tmux_call(&t, move |t| t.kill_session(&name)).await;
                }
            }
            Step::Killed => {}
        }
    }

    /// Claude Code's own exit: `/exit` typed at its prompt.
    async fn ask_claude_to_exit(&mut self, input: &Input) {
        type_line(self.env.tmux.as_ref(), &self.state.name, "/exit", input).await;
    }
}
