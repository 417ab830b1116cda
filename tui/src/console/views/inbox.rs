//! Inbox: plans, permission requests and questions waiting for a human, newest first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{Theme, age};
use crate::console::app::App;
use crate::console::model::{InboxItem, summary};

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let items = app.model.inbox();
    if items.is_empty() {
        f.render_widget(
            Paragraph::new("Nothing waits for a human.")
                .block(Block::default().borders(Borders::TOP).title(" inbox ")),
            area,
        );
        return;
    }
    let [list, detail] = Layout::vertical([Constraint::Fill(1), Constraint::Length(6)]).areas(area);
    let rows = items.iter().map(|i| {
        let (kind, task, what) = summary(i);
        let colour = match i {
            InboxItem::Plan(_) => Color::Blue,
            InboxItem::Permission(_) => Color::Red,
            InboxItem::Question(_) => Color::Magenta,
        };
        Row::new(vec![
            Cell::from(kind).style(theme.fg(colour)),
            Cell::from(task),
            Cell::from(age(i.created_at(), app.now)),
            Cell::from(what),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(11),
            Constraint::Length(5),
            Constraint::Length(4),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["KIND", "TASK", "AGE", "WHAT"]).style(theme.bold()))
    .row_highlight_style(theme.selected())
    .block(
        Block::default()
            .borders(Borders::TOP)
            .title(format!(" inbox ({}) ", items.len())),
    );
    let mut state = TableState::default().with_selected(Some(app.selected[4]));
    f.render_stateful_widget(table, list, &mut state);

    let text = match items.get(app.selected[4]) {
        Some(InboxItem::Plan(p)) => format!(
            "{} {}: plan — a approves, r rejects with feedback\n{}",
            p.task_reference, p.task_title, p.content
        ),
        Some(InboxItem::Permission(p)) => format!(
            "{}: {} wants to run — y allows, n denies\n{}",
            p.task_reference.as_deref().unwrap_or("-"),
            p.tool_name,
            p.input_text()
        ),
        Some(InboxItem::Question(i)) => format!(
            "{} {}: asks — i answers\n{}",
            i.task_reference, i.task_title, i.question
        ),
        None => String::new(),
    };
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::TOP)),
        detail,
    );
}
