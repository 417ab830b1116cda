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

use super::session::{self, Cmd, Env, Files, Handle};

/// The sessions.
pub struct Manager {
    env: Arc<Env>,
    sessions: Mutex<HashMap<Uuid, Handle>>,
    /// Sessions being started (a second `session_start` for one is ignored).
    starting: Mutex<std::collections::HashSet<Uuid>>,
}

impl Manager {
    /// A manager; `ended` is the receiver of the channel in `env.ended`.
    pub fn new(env: Arc<Env>, mut ended: mpsc::UnboundedReceiver<Uuid>) -> Arc<Manager> {
        let m = Arc::new(Manager {
            env,
            sessions: Mutex::new(HashMap::new()),
            starting: Mutex::new(Default::default()),
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

    /// The sessions that run, for `hello` and heartbeats.
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

    /// After a restart: reattach the sessions tmux kept, report the ones that ended meanwhile.
    pub async fn recover(self: &Arc<Self>) {
        let dir = self.env.state_dir.join("sessions");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
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
                // Lost with its terminal (a reboot): the agent resumes its conversation. The
                // hub stops it again if its task closed meanwhile.
                match session::resume_lost(self.env.clone(), state.clone()).await {
                    Ok(h) => {
                        tracing::info!(session = %name, "the agent resumes its conversation");
                        self.sessions
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(h.id, h);
                        continue;
                    }
                    Err(e) => tracing::warn!(session = %name, error = %e, "could not resume"),
                }
            }
            tracing::info!(session = %name, "ended while the daemon was away");
            self.env.outbox.control(DaemonToHub::SessionEnded {
                session_id: state.session_id,
                exit_code: files.exit_code(),
                last_screen: Some(state.screen.join("\n")),
                reason: None,
            });
            let _ = std::fs::remove_dir_all(&files.dir);
        }
    }

    /// Acts on a message from the hub.
    pub fn dispatch(self: &Arc<Self>, msg: HubToDaemon) {
        match msg {
            HubToDaemon::SessionStart(s) => self.start(s),
            HubToDaemon::SessionStop {
                session_id,
                reason,
                finish,
            } => self.send(session_id, Cmd::Stop { reason, finish }),
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
            } => self.send(
                session_id,
                Cmd::Resume {
                    last_seq,
                    state,
                    conversation_id,
                },
            ),
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
