//! Drawing: the frame around every view (tabs with the Inbox badge, the hub banner, the
//! footer with the current view's keys, prompts, help), and one module per view.

mod graph;
mod inbox;
mod servers;
mod sessions;
mod tasks;

use orchestratia_proto::{ServerStatus, SessionState, SessionStatus, TaskStatus};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, PromptKind, View};

/// Styles that vanish under NO_COLOR (bold and reverse stay: they read without colour).
pub struct Theme {
    color: bool,
}

impl Theme {
    pub fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    pub fn task_status(&self, s: TaskStatus, blocked: bool) -> Style {
        let c = match s {
            TaskStatus::Done => Color::Green,
            TaskStatus::Failed => Color::Red,
            TaskStatus::Cancelled => Color::DarkGray,
            TaskStatus::NeedsHuman => Color::Magenta,
            TaskStatus::Running => Color::Cyan,
            TaskStatus::Assigned | TaskStatus::Planning => Color::Blue,
            TaskStatus::Pending if blocked => Color::Yellow,
            TaskStatus::Pending => Color::Gray,
        };
        self.fg(c)
    }

    pub fn server_status(&self, s: ServerStatus) -> Style {
        match s {
            ServerStatus::Online => self.fg(Color::Green),
            ServerStatus::Offline => self.fg(Color::Red),
        }
    }

    pub fn session_status(&self, s: SessionStatus) -> Style {
        match s {
            SessionStatus::Active => self.fg(Color::Green),
            SessionStatus::Starting | SessionStatus::Recovering => self.fg(Color::Yellow),
            SessionStatus::Ended => self.fg(Color::DarkGray),
        }
    }

    /// An agent's state: waiting for a human stands out.
    pub fn session_state(&self, s: SessionState) -> Style {
        match s {
            SessionState::Working => self.fg(Color::Green),
            SessionState::WaitingPermission | SessionState::WaitingInput => {
                self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
            }
            SessionState::Idle => self.fg(Color::Cyan),
            SessionState::Starting => self.fg(Color::Yellow),
            SessionState::Ended => self.fg(Color::DarkGray),
        }
    }
}

/// Ages as people say them: 4s, 3m, 2h, 5d.
pub fn age(ms: i64, now: i64) -> String {
    let s = ((now - ms) / 1000).max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// Draws the whole console.
pub fn draw(f: &mut Frame, app: &mut App) {
    let theme = Theme { color: app.color };
    let area = f.area();
    let banner = app.model.connected == Some(false);
    let bottom = if app.prompt.is_some() {
        3
    } else {
        1 + u16::from(app.status.is_some())
    };
    let [tabs, banner_area, main, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(banner)),
        Constraint::Min(1),
        Constraint::Length(bottom),
    ])
    .areas(area);

    draw_tabs(f, tabs, app, &theme);
    if banner {
        let why = app.model.hub_error.clone().unwrap_or_default();
        f.render_widget(
            Paragraph::new(format!(
                " hub unreachable ({why}); showing the last state, reconnecting…"
            ))
            .style(theme.fg(Color::Black).bg(if app.color {
                Color::Yellow
            } else {
                Color::Reset
            }))
            .style(Style::default().add_modifier(Modifier::REVERSED)),
            banner_area,
        );
    }
    match app.view {
        View::Servers => servers::draw(f, main, app, &theme),
        View::Tasks => tasks::draw(f, main, app, &theme),
        View::Graph => graph::draw(f, main, app, &theme),
        View::Sessions => sessions::draw(f, main, app, &theme),
        View::Inbox => inbox::draw(f, main, app, &theme),
    }
    draw_footer(f, footer, app, &theme);
    if let Some(form) = &app.form {
        form.draw(f, main);
    }
    if let Some(picker) = &app.picker {
        picker.draw(f, main);
    }
    if app.help {
        draw_help(f, area);
    }
}

/// The tab labels as drawn, in order (the mouse finds a tab by them).
pub fn tab_labels(app: &App) -> Vec<String> {
    let n = app.model.inbox_len();
    View::ALL
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if *v == View::Inbox && n > 0 {
                format!(" {} {} ({n}) ", i + 1, v.title())
            } else {
                format!(" {} {} ", i + 1, v.title())
            }
        })
        .collect()
}

fn draw_tabs(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = Vec::new();
    let waiting = app.model.inbox_len() > 0;
    for (v, label) in View::ALL.iter().zip(tab_labels(app)) {
        let style = if *v == app.view {
            theme.selected().add_modifier(Modifier::BOLD)
        } else if *v == View::Inbox && waiting {
            theme.fg(Color::Magenta).add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        spans.push(Span::styled(label, style));
    }
    let link = match app.model.connected {
        Some(true) => Span::styled(" ● live", theme.fg(Color::Green)),
        Some(false) => Span::styled(" ○ offline", theme.fg(Color::Red)),
        None => Span::raw(" … connecting"),
    };
    spans.push(link);
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The keys of the current view, for the footer.
fn footer_keys(app: &App) -> &'static str {
    if app.attached {
        return "attached to the session: keys go to it · Ctrl-] detach";
    }
    if app.prompt.is_some() {
        return "Enter send · Esc cancel · Ctrl-U clear";
    }
    if app.form.is_some() {
        return "Tab next field · Enter create · Esc cancel";
    }
    if app.picker.is_some() {
        return "j/k choose a server · Enter assign · Esc cancel";
    }
    match app.view {
        View::Servers => "1-5/Tab views · j/k move · ? help · q quit",
        View::Tasks if app.task_open.is_some() => {
            "Esc back · a/r plan · y/n permission · i answer · ? help · q quit"
        }
        View::Tasks => {
            "Enter open · / filter · c create · A assign · a/r/y/n/i decide · ? help · q quit"
        }
        View::Graph => {
            "j/k select · Enter open · c create · A assign · 1-5/Tab views · ? help · q quit"
        }
        View::Sessions => {
            "j/k focus · Enter attach · m message · PgUp/PgDn scroll · ? help · q quit"
        }
        View::Inbox => "a approve · r reject · y allow · n deny · i answer · Enter task · q quit",
    }
}

fn draw_footer(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut lines = Vec::new();
    if let Some(p) = &app.prompt {
        let (label, context) = match &p.kind {
            PromptKind::RejectPlan { reference, .. } => (
                "feedback: ".to_string(),
                format!("Reject {reference}'s plan"),
            ),
            PromptKind::Answer { question, .. } => ("answer: ".to_string(), question.clone()),
            PromptKind::Message { name, .. } => (
                "message: ".to_string(),
                format!("A message for {name}'s agent (submitted as its next prompt)"),
            ),
            PromptKind::Filter => (
                "status: ".to_string(),
                "Filter tasks by status (pending, running, blocked, done, …; empty clears)".into(),
            ),
        };
        // The end of a long answer stays in view as it is typed.
        let room = (area.width as usize).saturating_sub(label.chars().count() + 1);
        let typed: String = {
            let n = p.text.chars().count();
            p.text.chars().skip(n.saturating_sub(room)).collect()
        };
        lines.insert(
            0,
            Line::from(Span::styled(context, theme.fg(Color::Yellow))),
        );
        lines.push(Line::from(vec![
            Span::styled(label, theme.bold()),
            Span::raw(typed),
            Span::styled("█", Style::default()),
        ]));
    } else if let Some(s) = &app.status {
        lines.push(Line::from(Span::styled(s.clone(), theme.fg(Color::Yellow))));
    }
    lines.push(Line::from(Span::styled(
        footer_keys(app),
        theme.fg(Color::DarkGray),
    )));
    f.render_widget(Paragraph::new(lines), area);
}

/// Every key, in a box over the view.
pub const HELP: &str = "\
Views      1 Servers 2 Tasks 3 Graph 4 Sessions 5 Inbox · Tab/Shift-Tab
Move       j/k or ↓/↑ · g/G first/last · Enter open · Esc back
Tasks      / filter by status (empty clears) · Enter: spec, deps, timeline
Plans      a approve · r reject (type the feedback, Enter sends)
Permission y allow · n deny
Questions  i answer (type, Enter sends) — in the Inbox or on a task
Work       c create a task · A assign the selected task (servers ranked)
Sessions   j/k focus · Enter attach keys · Ctrl-] detach · PgUp/PgDn scroll
           m message an idle agent (type, Enter submits it as its prompt)
Mouse      click a tab or a row · the wheel scrolls or moves the selection
Console    ? this help · q quit (Ctrl-C too)";

fn draw_help(f: &mut Frame, area: Rect) {
    let w = area.width.saturating_sub(2).min(78);
    let h = (HELP.lines().count() as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(HELP).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" keys (? or Esc closes) "),
        ),
        r,
    );
}

#[cfg(test)]
mod tests;
