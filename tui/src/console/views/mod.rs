//! Drawing: the frame around every view (tabs with the Inbox badge, the hub banner, the
//! footer with the current place's keys, prompts, help), and one module per view. Drawing
//! reads the app and changes nothing in it.

mod diff;
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

use super::app::{App, Mode, PromptKind, View};
use super::keymap;

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

/// The frame's rows: tabs, the hub banner, the view, the footer (with the prompt or status).
fn layout(app: &App, area: Rect) -> [Rect; 4] {
    let banner = app.model.connected == Some(false);
    let bottom = if app.prompt().is_some() {
        3
    } else {
        1 + u16::from(app.status.is_some() || app.confirm().is_some())
    };
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(banner)),
        Constraint::Min(1),
        Constraint::Length(bottom),
    ])
    .areas(area)
}

/// The size (cols, rows) of the focused session's screen when the console fills `area`; `None`
/// when no session screen is drawn.
pub fn session_area(app: &App, area: Rect) -> Option<(u16, u16)> {
    if app.view != View::Sessions {
        return None;
    }
    let [_, _, main, _] = layout(app, area);
    sessions::screen_area(app, main)
}

/// Draws the whole console.
pub fn draw(f: &mut Frame, app: &App) {
    let theme = Theme { color: app.color };
    let area = f.area();
    let [tabs, banner_area, main, footer] = layout(app, area);

    draw_tabs(f, tabs, app, &theme);
    if app.model.connected == Some(false) {
        draw_banner(f, banner_area, app, &theme);
    }
    match app.view {
        View::Servers => servers::draw(f, main, app, &theme),
        View::Tasks if app.diff.is_some() => diff::draw(f, main, app, &theme),
        View::Tasks => tasks::draw(f, main, app, &theme),
        View::Graph => graph::draw(f, main, app, &theme),
        View::Sessions => sessions::draw(f, main, app, &theme),
        View::Inbox => inbox::draw(f, main, app, &theme),
    }
    draw_footer(f, footer, app, &theme);
    match &app.mode {
        Mode::Form(form) => form.draw(f, main),
        Mode::Picker(picker) => picker.draw(f, main),
        Mode::Help => draw_help(f, area),
        Mode::Normal | Mode::Prompt(_) | Mode::Attached | Mode::Confirm(_) => {}
    }
}

/// The hub is unreachable: what is shown is the last state.
fn draw_banner(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
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
        area,
    );
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
        Some(true) => match &app.model.replica {
            Some(r) => Span::styled(format!(" ● live · {r}"), theme.fg(Color::Green)),
            None => Span::styled(" ● live", theme.fg(Color::Green)),
        },
        Some(false) => Span::styled(" ○ offline", theme.fg(Color::Red)),
        None => Span::raw(" … connecting"),
    };
    spans.push(link);
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_footer(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut lines = Vec::new();
    if let Some(p) = app.prompt() {
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
            PromptKind::Comment {
                reference,
                file,
                line,
                ..
            } => (
                "comment: ".to_string(),
                format!("A review comment on {file}:{line} of {reference} (its agent gets it)"),
            ),
            PromptKind::Rule {
                allow,
                tool,
                reference,
                ..
            } => {
                let (label, verb) = if *allow {
                    ("allow always: ", "Allow")
                } else {
                    ("deny always: ", "Deny")
                };
                let between = if tool == "Bash" {
                    ", ' && ' between commands"
                } else {
                    ""
                };
                (
                    label.to_string(),
                    format!(
                        "{verb} {tool} calls like {reference}'s from now on (a project rule; \
                         edit the pattern{between})"
                    ),
                )
            }
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
    } else if let Some(c) = app.confirm() {
        lines.push(Line::from(Span::styled(
            c.question.clone(),
            theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
        )));
    } else if let Some(s) = &app.status {
        lines.push(Line::from(Span::styled(s.clone(), theme.fg(Color::Yellow))));
    }
    lines.push(Line::from(Span::styled(
        keymap::footer(app.place()),
        theme.fg(Color::DarkGray),
    )));
    f.render_widget(Paragraph::new(lines), area);
}

/// Every key, from the key table, in a box over the view.
fn draw_help(f: &mut Frame, area: Rect) {
    let help = keymap::help();
    let w = area.width.saturating_sub(2).min(78);
    let h = (help.lines().count() as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(help).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" keys (? or Esc closes) "),
        ),
        r,
    );
}

#[cfg(test)]
mod tests;
