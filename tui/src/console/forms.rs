//! The console's two dialogs: `c` creates a task (title, repo, spec, priority, depends on),
//! `A` assigns the selected task to a server picked from the hub's ranking (each server with
//! its score, or why it cannot take the task).

use orchestratia_proto::Priority;
use orchestratia_proto::api::{CreateTask, Explanation};
use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use uuid::Uuid;

use super::app::Action;

/// The fields of the create form, in order.
pub const FIELDS: [&str; 5] = ["title", "repo", "spec", "priority", "depends on"];

/// What a dialog's key led to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Still open.
    Open,
    Cancel,
    /// Done: close the dialog and do this.
    Done(Action),
    /// The input is not acceptable; the dialog stays open with this reason.
    Invalid(String),
}

/// `c`: a new task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskForm {
    pub values: [String; 5],
    pub field: usize,
    /// The project the task goes into (the one the console shows).
    pub project: Option<String>,
}

impl TaskForm {
    pub fn new(project: Option<String>) -> TaskForm {
        TaskForm {
            values: [
                String::new(),
                String::new(),
                String::new(),
                "medium".into(),
                String::new(),
            ],
            field: 0,
            project,
        }
    }

    /// Tab/↓ next field, Shift-Tab/↑ previous, Enter creates, Esc cancels.
    pub fn on_key(&mut self, key: KeyEvent) -> Outcome {
        match key.code {
            KeyCode::Esc => Outcome::Cancel,
            KeyCode::Tab | KeyCode::Down => {
                self.field = (self.field + 1) % FIELDS.len();
                Outcome::Open
            }
            KeyCode::BackTab | KeyCode::Up => {
                self.field = (self.field + FIELDS.len() - 1) % FIELDS.len();
                Outcome::Open
            }
            KeyCode::Backspace => {
                self.values[self.field].pop();
                Outcome::Open
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.values[self.field].clear();
                Outcome::Open
            }
            KeyCode::Char(c) => {
                self.values[self.field].push(c);
                Outcome::Open
            }
            KeyCode::Enter => self.submit(),
            _ => Outcome::Open,
        }
    }

    fn submit(&self) -> Outcome {
        let [title, repo, spec, priority, deps] = &self.values;
        if title.trim().is_empty() {
            return Outcome::Invalid("a task needs a title".into());
        }
        let priority = match priority.trim().parse::<Priority>() {
            Ok(p) => p,
            Err(_) => {
                return Outcome::Invalid(format!(
                    "priority '{}': one of low, medium, high, critical",
                    priority.trim()
                ));
            }
        };
        let depends_on: Vec<String> = deps
            .split([',', ' '])
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect();
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        Outcome::Done(Action::CreateTask(Box::new(CreateTask {
            title: title.trim().to_string(),
            project: self.project.clone(),
            spec: spec.trim().to_string(),
            structured_spec: None,
            priority: Some(priority),
            repo: text(repo),
            languages: Vec::new(),
            agent: None,
            os: None,
            depends_on,
            require_plan_approval: false,
            orchestrator: false,
            keep_session: false,
            base: None,
            base_from: None,
            branch: None,
            pipeline_key: None,
        })))
    }

    pub fn draw(&self, f: &mut Frame, area: Rect) {
        let r = centered(area, 70, FIELDS.len() as u16 + 4);
        let mut lines: Vec<Line> = FIELDS
            .iter()
            .zip(self.values.iter())
            .enumerate()
            .map(|(i, (name, value))| {
                let active = i == self.field;
                Line::from(vec![
                    Span::styled(
                        format!("{name:>11}: "),
                        if active {
                            Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED)
                        } else {
                            Style::default().add_modifier(Modifier::BOLD)
                        },
                    ),
                    Span::raw(value.clone()),
                    Span::raw(if active { "█" } else { "" }),
                ])
            })
            .collect();
        lines.push(Line::raw(""));
        lines.push(Line::raw(
            " Tab next field · Enter create · Esc cancel · depends on: T1, T2",
        ));
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" create a task "),
            ),
            r,
        );
    }
}

/// `A`: pick a server for a task, from the hub's ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignPicker {
    pub task: Uuid,
    pub reference: String,
    /// The hub's ranking, once read.
    pub explanation: Option<Explanation>,
    pub selected: usize,
}

impl AssignPicker {
    pub fn new(task: Uuid, reference: String) -> AssignPicker {
        AssignPicker {
            task,
            reference,
            explanation: None,
            selected: 0,
        }
    }

    /// j/k move, Enter assigns, Esc cancels.
    pub fn on_key(&mut self, key: KeyEvent) -> Outcome {
        let n = self.explanation.as_ref().map_or(0, |e| e.candidates.len());
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => Outcome::Cancel,
            KeyCode::Down | KeyCode::Char('j') if n > 0 => {
                self.selected = (self.selected + 1).min(n - 1);
                Outcome::Open
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                Outcome::Open
            }
            KeyCode::Enter => {
                let Some(c) = self
                    .explanation
                    .as_ref()
                    .and_then(|e| e.candidates.get(self.selected))
                else {
                    return Outcome::Invalid("no server to assign to yet".into());
                };
                if let Some(why) = &c.disqualified {
                    return Outcome::Invalid(format!("{} cannot take it: {why}", c.server));
                }
                Outcome::Done(Action::Assign {
                    task: self.task,
                    server: c.server.clone(),
                })
            }
            _ => Outcome::Open,
        }
    }

    pub fn draw(&self, f: &mut Frame, area: Rect) {
        let rows = self
            .explanation
            .as_ref()
            .map_or(1, |e| e.candidates.len().max(1)) as u16;
        let r = centered(area, 90, rows + 4);
        let mut lines: Vec<Line> = match &self.explanation {
            None => vec![Line::raw(" reading the servers' scores…")],
            Some(e) if e.candidates.is_empty() => vec![Line::raw(" no servers registered")],
            Some(e) => e
                .candidates
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let what = match (&c.disqualified, c.score) {
                        (Some(why), _) => format!("cannot: {why}"),
                        (None, Some(s)) => format!("score {s}  {}", c.breakdown.join(", ")),
                        (None, None) => String::new(),
                    };
                    let text = format!(
                        " {}{:<14} {:<8} {what}",
                        if c.winner { "★ " } else { "  " },
                        c.server,
                        c.status.as_str()
                    );
                    Line::styled(
                        text,
                        if i == self.selected {
                            Style::default().add_modifier(Modifier::REVERSED)
                        } else {
                            Style::default()
                        },
                    )
                })
                .collect(),
        };
        lines.push(Line::raw(""));
        lines.push(Line::raw(
            " j/k choose · Enter assign · Esc cancel · ★ the hub's pick",
        ));
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" assign {} to a server ", self.reference)),
            ),
            r,
        );
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
