//! The runtime: owns the terminal (restored on exit and on panic), feeds the app keys, mouse
//! events and what the hub link says, has its actions carried out (`exec`), and redraws when
//! something changed.

use std::time::Duration;

use orchestratia_proto::client::HubClient;
use orchestratia_proto::ws::HubToConsole;
use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event as TermEvent, KeyEventKind, MouseEventKind,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::app::{Action, App};
use super::exec::Exec;
use super::link::{self, Msg, Outgoing};
use super::views;

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

/// crossterm's reads block: one thread reads the terminal and hands events over.
fn read_terminal() -> mpsc::UnboundedReceiver<TermEvent> {
    let (key_tx, key_rx) = mpsc::unbounded_channel::<TermEvent>();
    std::thread::spawn(move || {
        while let Ok(ev) = event::read() {
            if key_tx.send(ev).is_err() {
                break;
            }
        }
    });
    key_rx
}

async fn run_loop(
    terminal: &mut ratatui::DefaultTerminal,
    client: HubClient,
    project: Option<String>,
) -> anyhow::Result<()> {
    let (msg_tx, mut msg_rx) = mpsc::unbounded_channel::<Msg>();
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Outgoing>();
    tokio::spawn(link::run(client.clone(), msg_tx.clone(), out_rx));
    let mut key_rx = read_terminal();

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
            draw(terminal, &mut app, &exec)?;
            dirty = false;
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
                if calls_for_refresh(&m) && refresh_at.is_none() {
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

/// Draws the app as of now; a new size of the focused session's area becomes a resize.
fn draw(terminal: &mut ratatui::DefaultTerminal, app: &mut App, exec: &Exec) -> anyhow::Result<()> {
    app.now = orchestratia_proto::time::now_ms();
    let area = terminal.draw(|f| views::draw(f, app))?.area;
    if let Some((cols, rows)) = views::session_area(app, area) {
        for a in app.set_session_area(cols, rows) {
            exec.run(a, app);
        }
    }
    Ok(())
}

/// Whether a message means the hub's state changed (read it again, shortly).
fn calls_for_refresh(m: &Msg) -> bool {
    matches!(
        m,
        Msg::Hub(HubToConsole::Event { .. })
            | Msg::Connected
            | Msg::Done(_)
            | Msg::Reviewed { .. }
            | Msg::Hub(HubToConsole::Resync { .. })
    )
}
