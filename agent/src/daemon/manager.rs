//! The sessions this daemon runs: started on the hub's word, recovered after a restart,
//! addressed by id, forgotten when they end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use orchestratia_proto::workspace::{WorkspaceAnswer, WorkspaceOp};
use orchestratia_proto::ws::{
    DaemonToHub, Frame, FrameKind, HubToDaemon, RunningSession, SessionStart,
};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::session::{self, Cmd, Env, Files, Handle, State};

/// The sessions.
pub struct Manager {
    env: Arc<Env>,
    sessions: Mutex<HashMap<Uuid, Handle>>,
    /// Sessions being started (a second `session_start` for one is ignored).
    starting: Mutex<std::collections::HashSet<Uuid>>,
    /// Sessions lost with their terminal (a reboot) whose agent waits for the hub's `resume`
    /// to say its task is still open.
    lost: Mutex<HashMap<Uuid, State>>,
}

impl Manager {
    /// A manager; `ended` is the receiver of the channel in `env.ended`.
    pub fn new(env: Arc<Env>, mut ended: mpsc::UnboundedReceiver<Uuid>) -> Arc<Manager> {
        let m = Arc::new(Manager {
            env,
            sessions: Mutex::new(HashMap::new()),
            starting: Mutex::new(Default::default()),
            lost: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&m);
        tokio::spawn(async move {
            while let Some(id) = ended.recv().await {
                let Some(m) = weak.upgrade() else { break };
                m.sessions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
            }
        });
        m
    }

    fn get(&self, id: Uuid) -> Option<Handle> {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    fn send(&self, id: Uuid, cmd: Cmd) {
        if let Some(h) = self.get(id) {
            let _ = h.tx.send(cmd);
        }
    }

    /// The sessions that run, for `hello` and heartbeats; a lost one waiting for the hub's
    /// word is listed too (the hub answers it with `resume`, or tells it to stop).
    pub fn running(&self) -> Vec<RunningSession> {
        let mut v: Vec<RunningSession> = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|h| RunningSession {
                session_id: h.id,
                tmux: h.tmux.clone(),
                pid: h.pid,
            })
            .collect();
        v.extend(
            self.lost
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .map(|s| RunningSession {
                    session_id: s.session_id,
                    tmux: Some(s.name.clone()),
                    pid: None,
                }),
        );
        v.sort_by_key(|s| s.session_id);
        v
    }

    /// Starts a session unless it already runs.
    pub fn start(self: &Arc<Self>, s: SessionStart) {
        if self.get(s.session_id).is_some()
            || !self
                .starting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(s.session_id)
        {
            return;
        }
        let m = self.clone();
        tokio::spawn(async move {
            let id = s.session_id;
            let name = s.name.clone();
            match session::start(m.env.clone(), s).await {
                Ok(h) => {
                    tracing::info!(session = %name, "session started");
                    m.sessions
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id, h);
                }
                Err(e) => {
                    tracing::warn!(session = %name, error = %e, "could not start the session");
                    m.env.outbox.control(DaemonToHub::SessionEnded {
                        session_id: id,
                        exit_code: None,
                        last_screen: None,
                        reason: Some(format!("the session could not start: {e:#}")),
                    });
                }
            }
            m.starting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        });
    }

    /// After a restart: reattach the sessions tmux kept, keep the ones lost with their
    /// terminal for the hub's word, report the ones that ended meanwhile (and put back the
    /// Claude settings no session uses any more).
    pub async fn recover(self: &Arc<Self>) {
        let dir = self.env.state_dir.join("sessions");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        let mut orphans = Vec::new();
        let alive: Vec<String> = match &self.env.tmux {
            Some(t) => {
                let t = t.clone();
                tokio::task::spawn_blocking(move || t.list_sessions())
                    .await
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let files = Files::new(&self.env.state_dir, &name);
            let Some(state) = files.load_state() else {
                let _ = std::fs::remove_dir_all(&files.dir);
                continue;
            };
            if alive.contains(&name) {
                match session::recover(self.env.clone(), state.clone()).await {
                    Ok(h) => {
                        tracing::info!(session = %name, "reattached");
                        self.sessions
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(h.id, h);
                        continue;
                    }
                    Err(e) => tracing::warn!(session = %name, error = %e, "could not reattach"),
                }
            } else if session::resumable(&self.env, &state) {
                // Lost with its terminal (a reboot): the agent resumes its conversation once
                // the hub says its task is still open (see `resume_lost`).
                tracing::info!(session = %name, "lost with its terminal; the hub decides whether it resumes");
                self.lost
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(state.session_id, state);
                continue;
            }
            tracing::info!(session = %name, "ended while the daemon was away");
            if state.claude {
                orphans.push(state.working_dir.clone());
            }
            self.report_gone(&files, &state, None);
        }
        // After every reattach: a dir a reattached session uses keeps its settings.
        for dir in orphans {
            self.env.claude.restore_unused(&dir);
        }
    }

    /// Tells the hub a session ended while its agent was not running, and forgets its files.
    fn report_gone(&self, files: &Files, state: &State, reason: Option<String>) {
        self.env.outbox.control(DaemonToHub::SessionEnded {
            session_id: state.session_id,
            exit_code: files.exit_code(),
            last_screen: Some(state.screen.join("\n")),
            reason,
        });
        let _ = std::fs::remove_dir_all(&files.dir);
    }

    /// A session lost with its terminal that waits for the hub's word, taken off the list.
    fn take_lost(&self, id: Uuid) -> Option<State> {
        self.lost
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
    }

    /// The hub said no to a lost session: it ends as the hub would end it (the hub keeps its
    /// recording), and the Claude settings are put back unless another session uses them.
    fn end_lost(&self, state: State, reason: &str) {
        tracing::info!(session = %state.name, %reason, "not resumed");
        let files = Files::new(&self.env.state_dir, &state.name);
        self.report_gone(&files, &state, Some(format!("not resumed: {reason}")));
        self.env.claude.restore_unused(&state.working_dir);
    }

    /// The hub said a lost session's task is open: its agent resumes its conversation, and
    /// the session then takes the hub's `resume` (where numbering continues).
    fn resume_lost(self: &Arc<Self>, state: State, resume: Cmd) {
        let m = self.clone();
        tokio::spawn(async move {
            let name = state.name.clone();
            match session::resume_lost(m.env.clone(), state.clone()).await {
                Ok(h) => {
                    tracing::info!(session = %name, "the agent resumes its conversation");
                    let _ = h.tx.send(resume);
                    m.sessions
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(h.id, h);
                }
                Err(e) => {
                    tracing::warn!(session = %name, error = %e, "could not resume");
                    m.end_lost(state, &format!("could not resume: {e:#}"));
                }
            }
        });
    }

    /// Acts on a message from the hub.
    pub fn dispatch(self: &Arc<Self>, msg: HubToDaemon) {
        match msg {
            HubToDaemon::SessionStart(s) => self.start(s),
            HubToDaemon::SessionStop {
                session_id,
                reason,
                finish,
            } => match self.take_lost(session_id) {
                Some(state) => self.end_lost(state, &reason),
                None => self.send(session_id, Cmd::Stop { reason, finish }),
            },
            HubToDaemon::AgentState {
                session_id,
                state,
                conversation_id,
                transcript_path,
            } => self.send(
                session_id,
                Cmd::AgentState {
                    state,
                    conversation_id,
                    transcript_path,
                },
            ),
            HubToDaemon::SessionPrompt {
                session_id,
                prompt_id,
                text,
            } => self.send(
                session_id,
                Cmd::Prompt {
                    id: prompt_id,
                    text,
                },
            ),
            HubToDaemon::SessionResize {
                session_id,
                cols,
                rows,
            } => self.send(session_id, Cmd::Resize { cols, rows }),
            HubToDaemon::KeyframeRequest { session_id } => self.send(session_id, Cmd::Keyframe),
            HubToDaemon::OutputStored { session_id, seq } => self.env.outbox.ack(session_id, seq),
            HubToDaemon::Resume {
                session_id,
                last_seq,
                state,
                conversation_id,
                resume_agent,
            } => {
                let cmd = Cmd::Resume {
                    last_seq,
                    state,
                    conversation_id,
                };
                match self.take_lost(session_id) {
                    Some(state) if resume_agent => self.resume_lost(state, cmd),
                    Some(state) => {
                        self.end_lost(state, "its task was closed while the daemon was away")
                    }
                    None => self.send(session_id, cmd),
                }
            }
            HubToDaemon::Workspace {
                request_id,
                task_id,
                op,
            } => self.workspace(request_id, task_id, op),
            HubToDaemon::Error { error, detail } => {
                tracing::warn!(%error, %detail, "the hub refused a message")
            }
            HubToDaemon::TaskAssigned { task, .. } => {
                tracing::info!(task = %task.reference, "task assigned")
            }
            other => tracing::debug!(?other, "message from the hub"),
        }
    }

    /// Runs a workspace op off the connection's task (git may take a while) and sends the
    /// answer when it is done.
    fn workspace(&self, request_id: Uuid, task_id: Uuid, op: WorkspaceOp) {
        let (ws, outbox) = (self.env.workspaces.clone(), self.env.outbox.clone());
        tokio::spawn(async move {
            let answer = tokio::task::spawn_blocking(move || ws.handle(task_id, op))
                .await
                .unwrap_or_else(|e| WorkspaceAnswer::Refused {
                    reason: format!("the workspace operation failed: {e}"),
                    conflicts: Vec::new(),
                });
            outbox.control(DaemonToHub::WorkspaceReply { request_id, answer });
        });
    }

    /// After a (re)connect: a report of every worktree this daemon made (`removed` for those
    /// whose directory is gone), so the hub finds them again after a daemon restart.
    pub fn report_workspaces(&self) {
        let (ws, outbox) = (self.env.workspaces.clone(), self.env.outbox.clone());
        tokio::spawn(async move {
            if let Ok(reports) = tokio::task::spawn_blocking(move || ws.reports()).await {
                for report in reports {
                    outbox.control(DaemonToHub::WorkspaceReport { report });
                }
            }
        });
    }

    /// Keyboard input from a console.
    pub fn input(&self, f: Frame) {
        if f.kind == FrameKind::Input {
            self.send(f.session_id, Cmd::Input(f.data));
        }
    }

    /// Asks a session for a keyframe (after output was lost).
    pub fn keyframe(&self, id: Uuid) {
        self.send(id, Cmd::Keyframe);
    }
}
