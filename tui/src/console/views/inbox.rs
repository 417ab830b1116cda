//! Inbox: plans, permission requests and questions waiting for a human, ranked by how many
//! open tasks each holds up downstream, then oldest first; below, the selected item with its
//! keys (and, for a permission, the rule `A`/`N` would propose).

use orchestratia_proto::api::InboxEntry;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{Theme, age};
use crate::console::app::{App, PATTERN_JOIN};
use crate::console::model::{InboxItem, summary};

/// From this width on, each row says why it ranks where it does.
const WHY_FROM: u16 = 110;

/// Draws the ranked inbox above and the selected item's detail below.
pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let entries = app.model.inbox();
    if entries.is_empty() {
        f.render_widget(
            Paragraph::new("Nothing waits for a human.")
                .block(Block::default().borders(Borders::TOP).title(" inbox ")),
            area,
        );
        return;
    }
    let wide = area.width >= WHY_FROM;
    let [list, detail] = Layout::vertical([Constraint::Fill(1), Constraint::Length(6)]).areas(area);
    let rows = rows(&entries, app, theme, wide);
    let mut widths = vec![
        Constraint::Length(3),
        Constraint::Length(10),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(4),
    ];
    let mut header = vec!["#", "KIND", "TASK", "BLOCKS", "AGE"];
    if wide {
        widths.push(Constraint::Length(28));
        header.push("WHY");
    }
    widths.push(Constraint::Min(10));
    header.push("WHAT");
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.bold()))
        .row_highlight_style(theme.selected())
        .block(Block::default().borders(Borders::TOP).title(format!(
            " inbox ({}, what holds up the most work first) ",
            entries.len()
        )));
    let mut state = TableState::default().with_selected(Some(app.selected[4]));
    f.render_stateful_widget(table, list, &mut state);

    let text = match entries.get(app.selected[4]) {
        Some(e) => format!(
            "#{}: {}\n{}",
            app.selected[4] + 1,
            e.why,
            detail_text(&e.item)
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

/// One table row per entry, in rank order; `wide` adds the WHY column.
fn rows(entries: &[InboxEntry], app: &App, theme: &Theme, wide: bool) -> Vec<Row<'static>> {
    entries
        .iter()
        .enumerate()
        .map(|(rank, e)| {
            let (kind, task, what) = summary(&e.item);
            let colour = match e.item {
                InboxItem::Plan(_) => Color::Blue,
                InboxItem::Permission(_) => Color::Red,
                InboxItem::Question(_) => Color::Magenta,
            };
            let blocks = Cell::from(e.blocks.to_string()).style(if e.blocks > 0 {
                theme.fg(Color::Yellow).patch(theme.bold())
            } else {
                theme.fg(Color::DarkGray)
            });
            let mut cells = vec![
                Cell::from((rank + 1).to_string()),
                Cell::from(kind).style(theme.fg(colour)),
                Cell::from(task),
                blocks,
                Cell::from(age(e.item.created_at(), app.now)),
            ];
            if wide {
                cells.push(Cell::from(e.why.clone()));
            }
            cells.push(Cell::from(what));
            Row::new(cells)
        })
        .collect()
}

/// The selected item below the list: what it is, its keys and its content.
fn detail_text(item: &InboxItem) -> String {
    match item {
        InboxItem::Plan(p) => format!(
            "{} {}: plan — a approves, r rejects with feedback\n{}",
            p.task_reference, p.task_title, p.content
        ),
        InboxItem::Permission(p) => {
            let rule = if p.suggested.is_empty() {
                "no rule can decide calls like it: y allows it once".to_string()
            } else {
                let joint = if p.tool_name == "Bash" {
                    PATTERN_JOIN
                } else {
                    " | "
                };
                format!("rule for A/N: {}", p.suggested.join(joint))
            };
            format!(
                "{}: {} wants to run — y/s/A allow (once, session, always), n/N deny\n{}\n{rule}",
                p.task_reference.as_deref().unwrap_or("-"),
                p.tool_name,
                p.input_text()
            )
        }
        InboxItem::Question(i) => format!(
            "{} {}: asks — i answers\n{}",
            i.task_reference, i.task_title, i.question
        ),
    }
}
