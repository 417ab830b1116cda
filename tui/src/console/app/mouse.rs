//! The mouse: a click on a tab switches to it, a click on a row selects it, the wheel
//! scrolls a session's screen, a task's detail or its diff, or moves the selection.

use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};

use super::{Action, App, Mode, View};
use crate::console::views;

impl App {
    /// Handles the mouse: a click on a tab switches to it, a click on a row selects it, the
    /// wheel scrolls a session's screen or a task's detail, or moves the selection.
    pub fn on_mouse(&mut self, m: MouseEvent) -> Vec<Action> {
        if !matches!(self.mode, Mode::Normal | Mode::Attached) {
            return Vec::new();
        }
        let up = matches!(m.kind, MouseEventKind::ScrollUp);
        match m.kind {
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                if let Some(d) = self.diff.as_mut().filter(|_| self.view == View::Tasks) {
                    d.move_by(if up { -3 } else { 3 });
                    Vec::new()
                } else if self.view == View::Sessions {
                    self.scroll_lines(up, 3)
                } else if self.task_open.is_some() {
                    self.scroll_task(if up { -3 } else { 3 })
                } else {
                    self.move_by(if up { -1 } else { 1 })
                }
            }
            MouseEventKind::Down(MouseButton::Left) if !self.attached() => {
                if m.row == 0 {
                    let mut x = 0u16;
                    for (v, label) in View::ALL.iter().zip(views::tab_labels(self)) {
                        let w = label.chars().count() as u16;
                        if m.column >= x && m.column < x + w {
                            return self.switch(*v);
                        }
                        x += w;
                    }
                    return Vec::new();
                }
                // Rows of the tables start under the tab bar, the banner, the title and the
                // header line.
                let banner = u16::from(self.model.connected == Some(false));
                let first = 3 + banner;
                let list_view = matches!(self.view, View::Servers | View::Inbox | View::Sessions)
                    || (self.view == View::Tasks
                        && self.task_open.is_none()
                        && self.diff.is_none());
                if !list_view || m.row < first {
                    return Vec::new();
                }
                if self.view == View::Sessions && m.column >= 26 {
                    return Vec::new();
                }
                let i = (m.row - first) as usize;
                if i >= self.rows() {
                    return Vec::new();
                }
                self.selected[self.view.index()] = i;
                self.after_move()
            }
            _ => Vec::new(),
        }
    }
}
