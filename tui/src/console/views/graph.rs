//! Graph: the project's dependency DAG, layers left to right, each task a box coloured by its
//! status with its incoming edges (`─blocks` or `═input:KEY`); below, the phases: which tasks
//! the cascade released together, in order. The top line says what the project has cost and
//! its budget.

use orchestratia_proto::api::{Graph, GraphNode};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};

use super::Theme;
use crate::console::app::App;
use crate::console::model::graph_order;

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(g) = &app.model.snap.graph else {
        f.render_widget(
            Paragraph::new(
                "No project yet: create tasks (orchestratia task create, pipeline apply).",
            )
            .block(Block::default().borders(Borders::TOP).title(" graph ")),
            area,
        );
        return;
    };
    let done = g
        .nodes
        .iter()
        .filter(|n| n.status == orchestratia_proto::TaskStatus::Done)
        .count();
    let phases_h = (g.phases.len() as u16 + 1).min(area.height / 3);
    let [top, body, phases] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(phases_h),
    ])
    .areas(area);
    let mut line = vec![
        Span::styled(format!(" {} ", g.project), theme.bold()),
        Span::raw(format!("{} tasks, {done} done", g.nodes.len())),
    ];
    if let Some(cost) = app.model.project_cost() {
        let style = match cost.alarm() {
            0 => theme.fg(Color::Gray),
            1 => theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            _ => theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        };
        line.push(Span::styled(format!(" · {}", cost.text()), style));
    }
    line.push(Span::styled(
        if g.all_done { "  ALL DONE" } else { "" },
        theme.fg(Color::Green).add_modifier(Modifier::BOLD),
    ));
    f.render_widget(Paragraph::new(Line::from(line)), top);
    draw_layers(f, body, g, app, theme);
    draw_phases(f, phases, g, theme);
}

/// The DAG: a column per layer, a box per task in it (as many as fit).
fn draw_layers(f: &mut Frame, body: Rect, g: &Graph, app: &App, theme: &Theme) {
    let order = graph_order(g);
    let layers = order.iter().map(|n| n.layer).max().map_or(0, |m| m + 1) as usize;
    if layers == 0 {
        return;
    }
    let columns = Layout::horizontal(vec![Constraint::Fill(1); layers]).split(body);
    for (layer, col) in columns.iter().enumerate() {
        let nodes: Vec<_> = order
            .iter()
            .enumerate()
            .filter(|(_, n)| n.layer as usize == layer)
            .collect();
        if nodes.is_empty() {
            continue;
        }
        let per = (col.height / nodes.len() as u16).clamp(3, 6);
        for (k, (index, n)) in nodes.iter().enumerate() {
            let y = col.y + per * k as u16;
            if y + 3 > col.y + col.height {
                break;
            }
            let r = Rect {
                x: col.x,
                y,
                width: col.width.saturating_sub(1),
                height: per.min(col.y + col.height - y),
            };
            draw_node(f, r, g, n, *index == app.selected[2], app, theme);
        }
    }
}

/// One task's box: its status and agent's state, then its incoming edges.
fn draw_node(
    f: &mut Frame,
    r: Rect,
    g: &Graph,
    n: &GraphNode,
    selected: bool,
    app: &App,
    theme: &Theme,
) {
    let status_style = theme.task_status(n.status, n.blocked);
    let mut title = format!("{} {}", n.reference, n.title);
    title.truncate(r.width.saturating_sub(2) as usize);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(if selected {
            BorderType::Double
        } else {
            BorderType::Rounded
        })
        .border_style(status_style)
        .title(Span::styled(
            title,
            if selected {
                theme.selected()
            } else {
                theme.bold()
            },
        ));
    let mut first = vec![Span::styled(
        if n.blocked {
            "blocked".to_string()
        } else {
            n.status.to_string()
        },
        status_style,
    )];
    if let Some(state) = app
        .model
        .task_state(n.id)
        .filter(|s| *s != orchestratia_proto::SessionState::Ended)
    {
        first.push(Span::raw(" · "));
        first.push(Span::styled(state.as_str(), theme.session_state(state)));
    }
    first.push(Span::raw(format!(
        " {}",
        n.server.as_deref().or(n.agent.as_deref()).unwrap_or("")
    )));
    let mut lines = vec![Line::from(first)];
    for e in g.edges.iter().filter(|e| e.to == n.id) {
        let from = g
            .nodes
            .iter()
            .find(|m| m.id == e.from)
            .map_or("?", |m| m.reference.as_str());
        let edge = match &e.contract_key {
            Some(k) => format!("◂ {from} ═input:{k}"),
            None => format!("◂ {from} ─blocks"),
        };
        lines.push(Line::from(Span::styled(
            edge,
            theme.fg(if e.resolved {
                Color::Green
            } else {
                Color::Yellow
            }),
        )));
    }
    f.render_widget(Paragraph::new(lines).block(block), r);
}

/// The phases: which tasks the cascade released together, in order.
fn draw_phases(f: &mut Frame, phases: Rect, g: &Graph, theme: &Theme) {
    let mut lines = vec![Line::from(Span::styled(
        " phases (the order the cascade released tasks)",
        theme.bold(),
    ))];
    for p in &g.phases {
        let text = match p.trigger.as_str() {
            "done" => format!(" {}  {} complete: ALL DONE", p.phase, p.completed.join(" ")),
            "manual" => format!(" {}  {}  assigned by hand", p.phase, p.released.join(" ")),
            _ => format!(
                " {}  {}  released by {}",
                p.phase,
                p.released.join(" "),
                p.released_by.as_deref().unwrap_or("?")
            ),
        };
        lines.push(Line::raw(text));
    }
    f.render_widget(Paragraph::new(lines), phases);
}
