//! Sessions: the list (each agent's state; waiting ones marked), the focused session's live
//! screen drawn from its vt100 parser (keyframe, then chunks), and small previews of the
//! others from their `session_screen` lines.

use orchestratia_proto::Session;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use tui_term::widget::PseudoTerminal;

use super::Theme;
use crate::console::app::App;

/// The view's parts: the list, the focused screen and the previews row under it.
struct Areas {
    list: Rect,
    main: Rect,
    previews: Rect,
    /// Wide enough to list the session names too.
    wide: bool,
}

fn areas(area: Rect) -> Areas {
    // Room for the longest state word (`waiting_permission`); narrow screens leave out the
    // session name, which the focused screen's title shows.
    let wide = area.width >= 100;
    let list_w = if wide { 42 } else { 26 };
    let [list, right] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Fill(1)]).areas(area);
    let previews_h = if right.height >= 30 { 9 } else { 0 };
    let [main, previews] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(previews_h)]).areas(right);
    Areas {
        list,
        main,
        previews,
        wide,
    }
}

/// The size (cols, rows) inside the focused screen's border, when sessions are listed.
pub fn screen_area(app: &App, area: Rect) -> Option<(u16, u16)> {
    if app.model.snap.sessions.is_empty() {
        return None;
    }
    let inner = Block::default()
        .borders(Borders::ALL)
        .inner(areas(area).main);
    Some((inner.width, inner.height))
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let sessions: Vec<_> = app.model.sessions_in_order().into_iter().cloned().collect();
    if sessions.is_empty() {
        f.render_widget(
            Paragraph::new("No sessions yet: assign a task to a server.")
                .block(Block::default().borders(Borders::TOP).title(" sessions ")),
            area,
        );
        return;
    }
    let parts = areas(area);
    draw_list(f, &parts, &sessions, app, theme);
    draw_focused(f, parts.main, &sessions, app, theme);
    if parts.previews.height > 0 {
        draw_previews(f, parts.previews, &sessions, app, theme);
    }
}

/// The list of sessions, the focused one highlighted.
fn draw_list(f: &mut Frame, parts: &Areas, sessions: &[Session], app: &App, theme: &Theme) {
    let wide = parts.wide;
    let rows = sessions.iter().map(|s| {
        let waits = app.model.session_waits(s);
        let mut cells = vec![
            Cell::from(format!(
                "{}{}",
                if waits { "⚑ " } else { "  " },
                s.task.clone().unwrap_or_else(|| "-".into())
            ))
            .style(if waits {
                theme.fg(Color::Magenta).add_modifier(Modifier::BOLD)
            } else {
                ratatui::style::Style::default()
            }),
        ];
        if wide {
            cells.push(Cell::from(s.name.clone()));
        }
        cells.push(Cell::from(s.state.as_str()).style(theme.session_state(s.state)));
        Row::new(cells)
    });
    let (widths, header) = if wide {
        (
            vec![
                Constraint::Length(5),
                Constraint::Length(10),
                Constraint::Fill(1),
            ],
            vec!["TASK", "SESSION", "STATE"],
        )
    } else {
        (
            vec![Constraint::Length(5), Constraint::Fill(1)],
            vec!["TASK", "STATE"],
        )
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.bold()))
        .row_highlight_style(theme.selected())
        .block(
            Block::default()
                .borders(Borders::TOP | Borders::RIGHT)
                .title(format!(" sessions ({}) ", sessions.len())),
        );
    let mut state = TableState::default().with_selected(Some(app.session_index()));
    f.render_stateful_widget(table, parts.list, &mut state);
}

/// The focused session's screen, with what it is and whether it waits in the title.
fn draw_focused(f: &mut Frame, main: Rect, sessions: &[Session], app: &App, theme: &Theme) {
    let focused = app
        .focused
        .and_then(|id| sessions.iter().find(|s| s.id == id));
    let title = match focused {
        Some(s) => {
            let mut t = format!(
                " {} · {} · {} on {} · agent {} ",
                s.name,
                s.task.as_deref().unwrap_or("-"),
                s.status,
                s.server,
                s.state
            );
            if app.attached() {
                t.push_str("· ATTACHED (Ctrl-] detaches) ");
            }
            if app.model.session_waits(s) {
                t.push_str("· ⚑ waits for a human ");
            }
            if let Some(sc) = app.screens.get(&s.id)
                && sc.scrollback() > 0
            {
                let from = if sc.history.is_some() {
                    "the recording"
                } else {
                    "this view"
                };
                t.push_str(&format!("· scrolled back {} in {from} ", sc.scrollback()));
            }
            t
        }
        None => " no session focused ".into(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if app.attached() {
            theme.fg(Color::Green).add_modifier(Modifier::BOLD)
        } else {
            ratatui::style::Style::default()
        })
        .title(title);
    match focused.and_then(|s| app.screens.get(&s.id).filter(|sc| sc.synced)) {
        Some(sc) => {
            f.render_widget(PseudoTerminal::new(sc.view()).block(block), main);
        }
        None => {
            let lines: Vec<Line> = focused
                .and_then(|s| app.model.previews.get(&s.id))
                .map(|l| l.iter().map(|l| Line::raw(l.clone())).collect())
                .unwrap_or_else(|| vec![Line::raw("waiting for the session's screen…")]);
            f.render_widget(Paragraph::new(lines).block(block), main);
        }
    }
}

/// Small previews of the other live sessions, from their `session_screen` lines.
fn draw_previews(f: &mut Frame, previews: Rect, sessions: &[Session], app: &App, theme: &Theme) {
    let others: Vec<_> = sessions
        .iter()
        .filter(|s| Some(s.id) != app.focused)
        .filter(|s| s.status != orchestratia_proto::SessionStatus::Ended)
        .take(4)
        .collect();
    if others.is_empty() {
        return;
    }
    let cells = Layout::horizontal(vec![Constraint::Fill(1); others.len()]).split(previews);
    for (s, cell) in others.iter().zip(cells.iter()) {
        let waits = app.model.session_waits(s);
        let lines: Vec<Line> = app
            .model
            .previews
            .get(&s.id)
            .map(|l| {
                // The bottom of the screen is where a terminal's news is.
                let keep = cell.height.saturating_sub(2) as usize;
                let trimmed: Vec<&String> = {
                    let mut v: Vec<&String> = l.iter().collect();
                    while v.last().is_some_and(|x| x.trim().is_empty()) {
                        v.pop();
                    }
                    v
                };
                let start = trimmed.len().saturating_sub(keep);
                trimmed[start..]
                    .iter()
                    .map(|x| Line::raw(x.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let title = Span::styled(
            format!(
                " {}{} {} ",
                if waits { "⚑ " } else { "" },
                s.task.as_deref().unwrap_or("-"),
                s.name
            ),
            if waits {
                theme.fg(Color::Magenta).add_modifier(Modifier::BOLD)
            } else {
                theme.bold()
            },
        );
        f.render_widget(
            Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
            *cell,
        );
    }
}
