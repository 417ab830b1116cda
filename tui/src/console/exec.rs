//! Carrying the app's actions out: decisions, reads and the review of a task's workspace over
//! REST on tasks of their own (their answers come back to the app as `Msg`s), stream control
//! and keystrokes over the console WebSocket.

use std::future::Future;

use orchestratia_proto::api::{AllowPermission, AllowScope, DenyPermission};
use orchestratia_proto::client::{ClientError, HubClient};
use orchestratia_proto::workspace::{DiffQuery, MergeWorkspace, Workspace};
use orchestratia_proto::ws::{ConsoleToHub, Frame, FrameKind};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::app::{Action, App};
use super::link::{self, Msg, Outgoing};

/// A review decision's message: what to say, and the workspace after it.
fn reviewed(task: Uuid, said: String, w: Option<Workspace>) -> Msg {
    Msg::Reviewed {
        task,
        said,
        workspace: w.map(Box::new),
    }
}

/// Carries actions out: REST calls on their own tasks (answers come back as `Msg`s), stream
/// control and keystrokes over the WebSocket.
pub struct Exec {
    pub client: HubClient,
    pub msg: mpsc::UnboundedSender<Msg>,
    pub out: mpsc::UnboundedSender<Outgoing>,
    /// The project whose graph the console shows.
    pub project: Option<String>,
}

impl Exec {
    /// Reads the hub's state again (the snapshot comes back as a `Msg`).
    pub fn refresh(&self) {
        let (client, tx, project) = (self.client.clone(), self.msg.clone(), self.project.clone());
        tokio::spawn(async move {
            let m = match link::snapshot(&client, project.as_deref()).await {
                Ok(s) => Msg::Snapshot(Box::new(s)),
                Err(e) => Msg::Error(format!("{e:#}")),
            };
            let _ = tx.send(m);
        });
    }

    /// Carries out one action: a decision, a read, or stream control.
    pub fn run(&self, a: Action, app: &App) {
        match a {
            Action::Quit => {}
            Action::ApprovePlan { .. }
            | Action::RejectPlan { .. }
            | Action::Allow { .. }
            | Action::Deny { .. }
            | Action::Answer { .. }
            | Action::Assign { .. } => self.decide(a, app),
            Action::SendMessage { .. }
            | Action::OpenTask { .. }
            | Action::CreateTask(_)
            | Action::Explain { .. } => self.read(a),
            Action::Watch { .. }
            | Action::Replay { .. }
            | Action::History { .. }
            | Action::Input { .. }
            | Action::Resize { .. } => self.stream(a),
            Action::OpenDiff { task } => self.diff(task),
            Action::Merge { .. }
            | Action::Keep { .. }
            | Action::Discard { .. }
            | Action::Comment { .. } => self.review(a, app),
        }
    }

    /// A decision over REST, said in the status line with the task's reference.
    fn decide(&self, a: Action, app: &App) {
        let reference = |task: Uuid| {
            app.model
                .task(task)
                .map(|t| t.reference.clone())
                .unwrap_or_else(|| task.to_string())
        };
        match a {
            Action::ApprovePlan { task } => {
                let r = reference(task);
                self.call(format!("approved {r}'s plan"), move |c| async move {
                    c.approve_plan(&task.to_string()).await.map(|_| ())
                });
            }
            Action::RejectPlan { task, feedback } => {
                let r = reference(task);
                self.call(format!("rejected {r}'s plan"), move |c| async move {
                    c.reject_plan(&task.to_string(), &feedback)
                        .await
                        .map(|_| ())
                });
            }
            Action::Allow {
                id,
                scope,
                patterns,
            } => {
                let said = match scope {
                    AllowScope::Once => "allowed once".to_string(),
                    AllowScope::Session => "allowed for the rest of its session".to_string(),
                    AllowScope::Always => format!("allowed always: {}", patterns.join(" · ")),
                };
                self.call(said, move |c| async move {
                    let body = AllowPermission { scope, patterns };
                    c.allow_permission_with(&id.to_string(), &body)
                        .await
                        .map(|_| ())
                });
            }
            Action::Deny { id, rule, patterns } => {
                let said = if rule {
                    format!("denied, and denied always: {}", patterns.join(" · "))
                } else {
                    "denied".to_string()
                };
                self.call(said, move |c| async move {
                    let body = DenyPermission {
                        reason: Some("denied from the console".into()),
                        rule,
                        patterns,
                    };
                    c.deny_permission_with(&id.to_string(), &body)
                        .await
                        .map(|_| ())
                });
            }
            Action::Answer { id, text } => {
                self.call("answer sent".into(), move |c| async move {
                    c.respond(&id.to_string(), &text).await.map(|_| ())
                });
            }
            Action::Assign { task, server } => {
                let r = reference(task);
                self.call(format!("assigned {r} to {server}"), move |c| async move {
                    c.assign(&task.to_string(), &server).await.map(|_| ())
                });
            }
            _ => {}
        }
    }

    /// A REST call whose answer comes back to the app: a message sent, a task read or
    /// created, a ranking of servers.
    fn read(&self, a: Action) {
        match a {
            Action::SendMessage {
                session,
                name,
                text,
            } => self.fetch(
                move |c| async move { c.send_message(&session.to_string(), &text).await },
                move |m| {
                    if m.taken {
                        Msg::Done(format!("{name} took the message"))
                    } else {
                        Msg::Error(format!(
                            "{name} did not take the message within 20s (see its screen)"
                        ))
                    }
                },
            ),
            Action::OpenTask { task } => self.fetch(
                move |c| async move { c.task(&task.to_string()).await },
                |v| Msg::TaskView(Box::new(v)),
            ),
            Action::CreateTask(body) => self.fetch(
                move |c| async move { c.create_task(&body).await },
                |t| {
                    Msg::Done(format!(
                        "created {} {} ({})",
                        t.reference, t.title, t.status
                    ))
                },
            ),
            Action::Explain { task } => self.fetch(
                move |c| async move { c.explain(&task.to_string()).await },
                |e| Msg::Explanation(Box::new(e)),
            ),
            _ => {}
        }
    }

    /// Reads a task's diff and its workspace; a diff that cannot be read says why in the view.
    fn diff(&self, task: Uuid) {
        let (client, tx) = (self.client.clone(), self.msg.clone());
        tokio::spawn(async move {
            let id = task.to_string();
            let m = match client.task_diff(&id, &DiffQuery::default()).await {
                Ok(d) => {
                    let workspace = client.task(&id).await.ok().and_then(|v| v.workspace);
                    Msg::Diff {
                        task,
                        diff: Ok(Box::new(d)),
                        workspace: workspace.map(Box::new),
                    }
                }
                Err(e) => Msg::Diff {
                    task,
                    diff: Err(e.to_string()),
                    workspace: None,
                },
            };
            let _ = tx.send(m);
        });
    }

    /// The review of a task's workspace: merge, keep, discard (each answered with the
    /// workspace after it), or a comment on a line.
    fn review(&self, a: Action, app: &App) {
        let r = |task: Uuid| {
            app.model
                .task(task)
                .map(|t| t.reference.clone())
                .or_else(|| app.diff.as_ref().map(|d| d.reference.clone()))
                .unwrap_or_else(|| task.to_string())
        };
        match a {
            Action::Merge { task } => {
                let r = r(task);
                self.fetch(
                    move |c| async move {
                        let id = task.to_string();
                        let m = c.merge_task(&id, &MergeWorkspace::default()).await?;
                        let w = c.task(&id).await.ok().and_then(|v| v.workspace);
                        Ok((m, w))
                    },
                    move |(m, w)| {
                        let commit: String = m.commit.chars().take(10).collect();
                        let mut said = format!("merged {r} into {} as {commit}", m.into);
                        if let Some(n) = m.note {
                            said.push_str(&format!(" ({n})"));
                        }
                        reviewed(task, said, w)
                    },
                );
            }
            Action::Keep { task } => {
                let r = r(task);
                self.fetch(
                    move |c| async move { c.keep_task(&task.to_string()).await },
                    move |w| {
                        let said = format!("kept {r}'s branch {}", w.report.branch);
                        reviewed(task, said, Some(w))
                    },
                );
            }
            Action::Discard { task } => {
                let r = r(task);
                self.fetch(
                    move |c| async move { c.discard_task(&task.to_string()).await },
                    move |w| {
                        let said = format!(
                            "discarded {r}: its worktree and branch {} are gone",
                            w.report.branch
                        );
                        reviewed(task, said, Some(w))
                    },
                );
            }
            Action::Comment { task, body } => {
                let r = r(task);
                self.fetch(
                    move |c| async move { c.review_task(&task.to_string(), &body).await },
                    move |s| {
                        let at = format!("{}:{}", s.file, s.line);
                        Msg::Done(if s.delivered_at.is_some() {
                            format!("comment on {at} delivered to {r}'s agent")
                        } else {
                            format!("comment on {at} saved: {r}'s agent gets it when it runs")
                        })
                    },
                );
            }
            _ => {}
        }
    }

    /// Stream control and keystrokes over the WebSocket; recordings over REST.
    fn stream(&self, a: Action) {
        match a {
            Action::Watch { session, previous } => {
                self.unsubscribe(previous);
                let _ = self.out.send(Outgoing::Control(ConsoleToHub::Subscribe {
                    session_id: session,
                }));
            }
            Action::Replay { session, previous } => {
                self.unsubscribe(previous);
                self.recording(session);
            }
            Action::History { session } => self.recording(session),
            Action::Input { session, bytes } => {
                let _ = self.out.send(Outgoing::Frame(Frame {
                    kind: FrameKind::Input,
                    session_id: session,
                    seq: 0,
                    data: bytes,
                }));
            }
            Action::Resize {
                session,
                cols,
                rows,
            } => {
                let _ = self.out.send(Outgoing::Control(ConsoleToHub::Resize {
                    session_id: session,
                    cols,
                    rows,
                }));
            }
            _ => {}
        }
    }

    /// A decision over REST; its outcome shows in the status line (a `Done` also has the
    /// state read again, so the decision shows at once).
    fn call<F, Fut>(&self, done: String, f: F)
    where
        F: FnOnce(HubClient) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), ClientError>> + Send,
    {
        self.fetch(f, move |()| Msg::Done(done));
    }

    /// A REST call on a task of its own; its answer (or its error) comes back as a `Msg`.
    fn fetch<T, F, Fut>(&self, f: F, ok: impl FnOnce(T) -> Msg + Send + 'static)
    where
        T: Send + 'static,
        F: FnOnce(HubClient) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ClientError>> + Send,
    {
        let (client, tx) = (self.client.clone(), self.msg.clone());
        tokio::spawn(async move {
            let m = match f(client).await {
                Ok(v) => ok(v),
                Err(e) => Msg::Error(e.to_string()),
            };
            let _ = tx.send(m);
        });
    }

    /// Reads a session's stored recording (to replay an ended one, or scroll back a live one).
    fn recording(&self, session: Uuid) {
        self.fetch(
            move |c| async move { c.recording_all(&session.to_string()).await },
            move |chunks| Msg::Recording(session, chunks),
        );
    }

    fn unsubscribe(&self, previous: Option<Uuid>) {
        if let Some(p) = previous {
            let _ = self.out.send(Outgoing::Control(ConsoleToHub::Unsubscribe {
                session_id: p,
            }));
        }
    }
}
