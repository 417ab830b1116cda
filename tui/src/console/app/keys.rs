//! Keys, by the mode that has them: the views look keys up in the key table
//! (`console::keymap`), the dialogs take their own, an attached session gets the bytes a
//! terminal would send.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{Action, App, Mode, PromptKind};
use crate::console::forms::Outcome;
use crate::console::keymap::{self, Place};

impl App {
    /// Handles one key.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Action> {
        match &mut self.mode {
            Mode::Form(form) => {
                let outcome = form.on_key(key);
                self.after_dialog(outcome)
            }
            Mode::Picker(picker) => {
                let outcome = picker.on_key(key);
                self.after_dialog(outcome)
            }
            Mode::Prompt(_) => self.on_prompt_key(key),
            Mode::Confirm(_) => self.on_confirm_key(key),
            Mode::Attached => self.on_attached_key(key),
            Mode::Help => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q')
                ) {
                    self.mode = Mode::Normal;
                }
                Vec::new()
            }
            Mode::Normal => match keymap::command(self.place(), key) {
                Some(run) => run(self, key),
                None => Vec::new(),
            },
        }
    }

    /// What a dialog's key came to: a reason in the status line, or the dialog closed
    /// (with its action, when it was done).
    fn after_dialog(&mut self, outcome: Outcome) -> Vec<Action> {
        match outcome {
            Outcome::Open => {
                self.status = None;
                Vec::new()
            }
            Outcome::Invalid(why) => {
                self.status = Some(why);
                Vec::new()
            }
            Outcome::Cancel => {
                self.mode = Mode::Normal;
                Vec::new()
            }
            Outcome::Done(action) => {
                self.mode = Mode::Normal;
                vec![action]
            }
        }
    }

    /// The prompt's keys: typing, Backspace, Ctrl-U clears, Esc cancels, Enter sends.
    fn on_prompt_key(&mut self, key: KeyEvent) -> Vec<Action> {
        let Mode::Prompt(p) = &mut self.mode else {
            return Vec::new();
        };
        match key.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Backspace => {
                p.text.pop();
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => p.text.clear(),
            KeyCode::Char(c) => p.text.push(c),
            KeyCode::Enter => return self.submit_prompt(),
            _ => {}
        }
        Vec::new()
    }

    /// Enter in a prompt: sets the filter, or sends what was typed (an empty text stays in
    /// the prompt with a reason).
    fn submit_prompt(&mut self) -> Vec<Action> {
        let Mode::Prompt(p) = std::mem::replace(&mut self.mode, Mode::Normal) else {
            return Vec::new();
        };
        let text = p.text.trim().to_string();
        match p.kind {
            PromptKind::Filter => {
                self.filter = (!text.is_empty()).then_some(text);
                self.set_sel(0);
                Vec::new()
            }
            _ if text.is_empty() => {
                self.status = Some("empty: nothing sent (Esc cancels)".into());
                self.mode = Mode::Prompt(p);
                Vec::new()
            }
            PromptKind::Rule {
                id,
                allow,
                ref tool,
                ..
            } => {
                let tool = tool.clone();
                self.submit_rule(p, id, allow, &tool)
            }
            PromptKind::RejectPlan { task, .. } => vec![Action::RejectPlan {
                task,
                feedback: text,
            }],
            PromptKind::Answer { id, .. } => vec![Action::Answer { id, text }],
            PromptKind::Comment {
                task, file, line, ..
            } => self.comment(task, file, line, text),
            PromptKind::Message { session, name } => {
                self.status = Some(format!("sending to {name}…"));
                vec![Action::SendMessage {
                    session,
                    name,
                    text,
                }]
            }
        }
    }

    /// A question: `y` runs its action, `n` or Esc drops it; other keys are ignored.
    fn on_confirm_key(&mut self, key: KeyEvent) -> Vec<Action> {
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                let Mode::Confirm(c) = std::mem::replace(&mut self.mode, Mode::Normal) else {
                    return Vec::new();
                };
                self.status = Some(format!("{}…", c.question.trim_end_matches("? y/n")));
                vec![c.action]
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                self.mode = Mode::Normal;
                self.status = Some("cancelled: nothing changed".into());
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Attached: the table's keys (Ctrl-] detaches), and every other key to the session.
    fn on_attached_key(&mut self, key: KeyEvent) -> Vec<Action> {
        if let Some(run) = keymap::command(Place::Attached, key) {
            return run(self, key);
        }
        let Some(session) = self.focused else {
            self.mode = Mode::Normal;
            return Vec::new();
        };
        match key_bytes(key) {
            Some(bytes) => vec![Action::Input { session, bytes }],
            None => Vec::new(),
        }
    }
}

/// The bytes a terminal sends for a key.
pub fn key_bytes(key: KeyEvent) -> Option<Vec<u8>> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char(c) if ctrl && c.is_ascii_alphabetic() => {
            vec![(c.to_ascii_lowercase() as u8) & 0x1f]
        }
        KeyCode::Char(c) => c.to_string().into_bytes(),
        KeyCode::Enter => vec![b'\r'],
        KeyCode::Backspace => vec![0x7f],
        KeyCode::Tab => vec![b'\t'],
        KeyCode::BackTab => b"\x1b[Z".to_vec(),
        KeyCode::Esc => vec![0x1b],
        KeyCode::Up => b"\x1b[A".to_vec(),
        KeyCode::Down => b"\x1b[B".to_vec(),
        KeyCode::Right => b"\x1b[C".to_vec(),
        KeyCode::Left => b"\x1b[D".to_vec(),
        KeyCode::Home => b"\x1b[H".to_vec(),
        KeyCode::End => b"\x1b[F".to_vec(),
        KeyCode::PageUp => b"\x1b[5~".to_vec(),
        KeyCode::PageDown => b"\x1b[6~".to_vec(),
        KeyCode::Delete => b"\x1b[3~".to_vec(),
        _ => return None,
    })
}
