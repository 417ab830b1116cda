//! Servers: name, status with the time since the last heartbeat, OS, repos, sessions.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use super::{Theme, age};
use crate::console::app::App;

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let rows = app.model.snap.servers.iter().map(|s| {
        let heard = s
            .last_heartbeat
            .map(|h| format!(" {}", age(h, app.now)))
            .unwrap_or_default();
        let repos: Vec<&str> = s.repos.keys().map(String::as_str).collect();
        Row::new(vec![
            Cell::from(s.name.clone()),
            Cell::from(format!("{}{heard}", s.status.as_str().to_uppercase()))
                .style(theme.server_status(s.status)),
            Cell::from(s.os.clone()),
            Cell::from(s.sessions.to_string()),
            Cell::from(repos.join(", ")),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(12),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["NAME", "STATUS", "OS", "SESSIONS", "REPOS"]).style(theme.bold()))
    .row_highlight_style(theme.selected())
    .block(
        Block::default()
            .borders(Borders::TOP)
            .title(format!(" servers ({}) ", app.model.snap.servers.len())),
    );
    let mut state = TableState::default().with_selected(Some(app.selected[0]));
    f.render_stateful_widget(table, area, &mut state);
}
