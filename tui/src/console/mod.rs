//! The full-screen console: one App (`app.rs`) that turns keys into actions and draws itself
//! (`views/`), a link to the hub (`link.rs`) that feeds it, and this runtime, which owns the
//! terminal (restored on exit and on panic), carries actions out and redraws when something
//! changed.

pub mod app;
pub mod forms;
pub mod link;
pub mod model;
pub mod screen;
pub mod views;

use std::time::Duration;

use std::future::Future;

use orchestratia_proto::client::{ClientError, HubClient};
use orchestratia_proto::ws::{ConsoleToHub, Frame, FrameKind};
use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event as TermEvent, KeyEventKind, MouseEventKind,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use app::{Action, App};
use link::{Msg, Outgoing};

/// How long after an event the console reads the hub's state again (events come in bursts).
const REFRESH_DELAY: Duration = Duration::from_millis(200);
/// Ages on screen ("4s ago") move on at this pace even when nothing happens.
const TICK: Duration = Duration::from_secs(5);

/// Whether colours are on: off when NO_COLOR is set to anything non-empty.
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Runs the console against `client` (an admin) until `q`.
pub async fn run(client: HubClient, project: Option<String>) -> anyhow::Result<()> {
    // Checked before the screen is taken, so a bad token is one clear line.
    client.whoami().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut terminal =
        ratatui::try_init().map_err(|e| anyhow::anyhow!("cannot take over the terminal: {e}"))?;
    // ratatui::try_init's panic hook restores the screen; this one first gives the mouse back.
    let _ = ratatui::crossterm::execute!(std::io::stdout(), EnableMouseCapture);
    let restore_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = ratatui::crossterm::execute!(std::io::stdout(), DisableMouseCapture);
        restore_hook(info);
    }));
    let result = run_loop(&mut terminal, client, project).await;
    let _ = ratatui::crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

async fn run_loop(
    terminal: &mut ratatui::DefaultTerminal,
    client: HubClient,
    project: Option<String>,
) -> anyhow::Result<()> {
    let (msg_tx, mut msg_rx) = mpsc::unbounded_channel::<Msg>();
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Outgoing>();
    let (key_tx, mut key_rx) = mpsc::unbounded_channel::<TermEvent>();
    tokio::spawn(link::run(client.clone(), msg_tx.clone(), out_rx));
    // crossterm's reads block: one thread reads the terminal and hands events over.
    std::thread::spawn(move || {
        while let Ok(ev) = event::read() {
            if key_tx.send(ev).is_err() {
                break;
            }
        }
    });

    let mut app = App::new(color_enabled());
    let exec = Exec {
        client,
        msg: msg_tx,
        out: out_tx,
        project,
    };
    exec.refresh();
    let mut refresh_at: Option<Instant> = None;
    let mut dirty = true;
    let mut tick = tokio::time::interval(TICK);
    loop {
        if dirty {
            app.now = orchestratia_proto::time::now_ms();
            terminal.draw(|f| views::draw(f, &mut app))?;
            dirty = false;
            if let Some((cols, rows)) = app.pending_area.take() {
                for a in app.set_session_area(cols, rows) {
                    exec.run(a, &app);
                }
            }
        }
        let actions = tokio::select! {
            Some(ev) = key_rx.recv() => {
                // Mouse motion changes nothing on screen: no redraw for it.
                dirty = !matches!(ev, TermEvent::Mouse(m) if m.kind == MouseEventKind::Moved);
                match ev {
                    TermEvent::Key(k) if k.kind != KeyEventKind::Release => app.on_key(k),
                    TermEvent::Mouse(m) => app.on_mouse(m),
                    _ => Vec::new(),
                }
            }
            Some(m) = msg_rx.recv() => {
                dirty = true;
                let is_event = matches!(m, Msg::Hub(orchestratia_proto::ws::HubToConsole::Event { .. })
                    | Msg::Connected | Msg::Done(_) | Msg::Hub(orchestratia_proto::ws::HubToConsole::Resync { .. }));
                if is_event && refresh_at.is_none() {
                    refresh_at = Some(Instant::now() + REFRESH_DELAY);
                }
                app.on_msg(m)
            }
            _ = async { tokio::time::sleep_until(refresh_at.unwrap_or_else(Instant::now)).await }, if refresh_at.is_some() => {
                refresh_at = None;
                exec.refresh();
                if let Some(t) = app.task_open {
                    exec.run(Action::OpenTask { task: t }, &app);
                }
                Vec::new()
            }
            _ = tick.tick() => {
                dirty = true;
                Vec::new()
            }
        };
        for a in actions {
            if a == Action::Quit {
                return Ok(());
            }
            exec.run(a, &app);
        }
        if app.quit {
            return Ok(());
        }
    }
}

/// Carries actions out: REST calls on their own tasks (answers come back as `Msg`s), stream
/// control and keystrokes over the WebSocket.
struct Exec {
    client: HubClient,
    msg: mpsc::UnboundedSender<Msg>,
    out: mpsc::UnboundedSender<Outgoing>,
    project: Option<String>,
}

impl Exec {
    fn refresh(&self) {
        let (client, tx, project) = (self.client.clone(), self.msg.clone(), self.project.clone());
        tokio::spawn(async move {
            let m = match link::snapshot(&client, project.as_deref()).await {
                Ok(s) => Msg::Snapshot(Box::new(s)),
                Err(e) => Msg::Error(format!("{e:#}")),
            };
            let _ = tx.send(m);
        });
    }

    fn run(&self, a: Action, app: &App) {
        let reference = |task: Uuid| {
            app.model
                .task(task)
                .map(|t| t.reference.clone())
                .unwrap_or_else(|| task.to_string())
        };
        match a {
            Action::Quit => {}
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
            Action::Allow { id } => {
                self.call("allowed".into(), move |c| async move {
                    c.allow_permission(&id.to_string()).await.map(|_| ())
                });
            }
            Action::Deny { id } => {
                self.call("denied".into(), move |c| async move {
                    c.deny_permission(&id.to_string(), Some("denied from the console"))
                        .await
                        .map(|_| ())
                });
            }
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
            Action::Answer { id, text } => {
                self.call("answer sent".into(), move |c| async move {
                    c.respond(&id.to_string(), &text).await.map(|_| ())
                });
            }
            Action::OpenTask { task } => self.fetch(
                move |c| async move { c.task(&task.to_string()).await },
                |v| Msg::TaskView(Box::new(v)),
            ),
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
            Action::Assign { task, server } => {
                let r = reference(task);
                self.call(format!("assigned {r} to {server}"), move |c| async move {
                    c.assign(&task.to_string(), &server).await.map(|_| ())
                });
            }
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
