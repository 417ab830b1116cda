//! Tasks: a table (number, title, status with the blocked reason, priority, server, age)
//! under the shown project's cost and budget, filtered by status with `/`; Enter opens one
//! task: its agent's state, what its model calls cost, its workspace, spec, requirements,
//! dependencies, resolved inputs, contracts, result and its timeline.

use orchestratia_proto::text::details;
use orchestratia_proto::{Task, TaskView};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{Theme, age};
use crate::console::app::App;

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if app.task_open.is_some() {
        return detail(f, area, app, theme);
    }
    let tasks = app.visible_tasks();
    let rows = tasks.iter().map(|t| {
        let mut status = t.status.as_str().to_string();
        if t.blocked {
            status = format!("blocked: {}", t.blocked_reason.clone().unwrap_or_default());
        } else if let Some(r) = &t.blocked_reason {
            status = format!("{status}: {r}");
        }
        Row::new(vec![
            Cell::from(t.reference.clone()),
            Cell::from(t.title.clone()),
            Cell::from(status).style(theme.task_status(t.status, t.blocked)),
            Cell::from(t.priority.as_str()),
            Cell::from(t.server.clone().unwrap_or_else(|| "-".into())),
            Cell::from(age(t.created_at, app.now)),
        ])
    });
    let mut title = match &app.filter {
        Some(f) => format!(" tasks: {f} ({}) ", tasks.len()),
        None => format!(" tasks ({}) ", tasks.len()),
    };
    if let (Some(cost), Some(g)) = (app.model.project_cost(), &app.model.snap.graph) {
        title.push_str(&format!("· {}: {} ", g.project, cost.text()));
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(4),
            Constraint::Fill(2),
            Constraint::Fill(3),
            Constraint::Length(8),
            Constraint::Length(12),
            Constraint::Length(4),
        ],
    )
    .header(Row::new(["#", "TITLE", "STATUS", "PRIORITY", "SERVER", "AGE"]).style(theme.bold()))
    .row_highlight_style(theme.selected())
    .block(Block::default().borders(Borders::TOP).title(title));
    let mut state = TableState::default().with_selected(Some(app.selected[1]));
    f.render_stateful_widget(table, area, &mut state);
}

fn heading<'a>(s: &'a str, theme: &Theme) -> Line<'a> {
    Line::from(Span::styled(s, theme.bold()))
}

fn detail(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(v) = &app.task_view else {
        f.render_widget(Paragraph::new("reading the task…"), area);
        return;
    };
    let mut lines = head(v, app, theme);
    lines.extend(spec(&v.task, theme));
    lines.extend(dependencies(v, theme));
    lines.extend(outcome(v, theme));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((app.detail_scroll, 0))
            .block(
                Block::default()
                    .borders(Borders::TOP)
                    .title(" task (Esc back · j/k PgUp/PgDn scroll) "),
            ),
        area,
    );
}

/// The task's line (status, priority, server, repo, its agent's live state), its workspace
/// (branch, stat, review) and why it waits.
fn head<'a>(v: &'a TaskView, app: &App, theme: &Theme) -> Vec<Line<'a>> {
    let t = &v.task;
    let mut head = vec![
        Span::styled(format!("{} {}  ", t.reference, t.title), theme.bold()),
        Span::styled(t.status.as_str(), theme.task_status(t.status, t.blocked)),
        Span::raw(format!(
            "  priority {}  server {}  repo {}",
            t.priority,
            t.server.as_deref().unwrap_or("-"),
            t.repo.as_deref().unwrap_or("-")
        )),
    ];
    // The newest session's agent, in its live state (the task view was read earlier).
    if let Some(s) = v.sessions.iter().max_by_key(|s| s.started_at) {
        let state = app
            .model
            .snap
            .sessions
            .iter()
            .find(|x| x.id == s.id)
            .map_or(s.state, |x| x.state);
        head.push(Span::raw(format!("  {} agent ", s.name)));
        head.push(Span::styled(state.as_str(), theme.session_state(state)));
    }
    let mut lines = vec![Line::from(head)];
    // What its model calls cost, as the snapshot last said (fresher than the view).
    let usage = app
        .model
        .task(t.id)
        .and_then(|x| x.usage.as_ref())
        .or(t.usage.as_ref());
    lines.push(Line::raw(match usage {
        Some(u) => format!(
            "cost {} · {} · {} calls · model {}",
            u.cost_text(),
            u.tokens_text(),
            u.calls,
            u.model.as_deref().unwrap_or("-")
        ),
        None => "cost: nothing reported yet".to_string(),
    }));
    if let Some(w) = &v.workspace {
        let mut review = format!("review: {}", w.review);
        if let Some(into) = &w.merged_into {
            review.push_str(&format!(" into {into}"));
        }
        lines.push(Line::from(vec![
            Span::raw(format!(
                "workspace {} on {} · {} · ",
                w.report.branch,
                w.server,
                w.report.stat_line()
            )),
            Span::styled(review, theme.bold()),
            Span::raw(" (d diff)"),
        ]));
    }
    if let Some(r) = &t.blocked_reason {
        lines.push(Line::from(Span::styled(
            format!("waiting: {r}"),
            theme.fg(Color::Yellow),
        )));
    }
    lines
}

/// The spec and its structured requirements.
fn spec<'a>(t: &'a Task, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = vec![Line::raw(""), heading("Spec", theme)];
    lines.extend(t.spec.lines().map(|l| Line::raw(format!("  {l}"))));
    if let Some(reqs) = t
        .structured_spec
        .as_ref()
        .and_then(|s| s.get("requirements"))
        .and_then(|r| r.as_array())
        .filter(|r| !r.is_empty())
    {
        lines.push(heading("Requirements", theme));
        for r in reqs {
            let level = r.get("priority").and_then(|p| p.as_str()).unwrap_or("-");
            let text = r
                .get("description")
                .or_else(|| r.get("text"))
                .and_then(|p| p.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| r.to_string());
            lines.push(Line::raw(format!("  [{level}] {text}")));
        }
    }
    lines
}

/// What the task waits on: its dependencies, the inputs they resolved, its contracts.
fn dependencies<'a>(v: &'a TaskView, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines: Vec<Line> = Vec::new();
    if !v.depends_on.is_empty() {
        lines.push(heading("Depends on", theme));
        for d in &v.depends_on {
            let kind = match &d.contract_key {
                Some(k) => format!("input:{k}"),
                None => d.dep_type.to_string(),
            };
            let state = if d.resolved { "resolved" } else { "waiting" };
            lines.push(Line::from(vec![
                Span::raw(format!("  {} {} ({kind}) ", d.reference, d.title)),
                Span::styled(
                    state,
                    theme.fg(if d.resolved {
                        Color::Green
                    } else {
                        Color::Yellow
                    }),
                ),
            ]));
        }
    }
    if !v.resolved_inputs.is_empty() {
        lines.push(heading("Resolved inputs", theme));
        for (k, val) in &v.resolved_inputs {
            lines.push(Line::raw(format!("  {k}: {val}")));
        }
    }
    if !v.contracts.is_empty() {
        lines.push(heading("Contracts", theme));
        for (k, c) in &v.contracts {
            lines.push(Line::raw(format!("  {k} ({}): {}", c.status, c.data)));
        }
    }
    lines
}

/// Its result and its timeline.
fn outcome<'a>(v: &'a TaskView, theme: &Theme) -> Vec<Line<'a>> {
    let t = &v.task;
    let mut lines: Vec<Line> = Vec::new();
    if let Some(r) = &t.result {
        lines.push(heading("Result", theme));
        lines.push(Line::raw(format!("  {}", details(r))));
    }
    lines.push(heading("Timeline", theme));
    for e in &v.events {
        let time = orchestratia_proto::time::format_ms(e.at);
        lines.push(Line::raw(format!(
            "  {}  {:<22} {:<17} {}",
            time.get(11..19).unwrap_or(&time),
            e.event.to_string(),
            e.actor,
            details(&e.details)
        )));
    }
    lines
}
