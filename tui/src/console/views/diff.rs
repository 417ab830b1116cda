//! A task's diff (`d`): the title has the branch, its base, the stat and the review state; a
//! note line says when the diff was cut or leaves uncommitted files out; the files changed
//! (path, +N -M) on the left, the diff on the right (`+` green, `-` red, `@@` cyan, headers
//! bold), the cursor's line reversed in the pane that has the keys.

use orchestratia_proto::workspace::{WorkspaceDiff, stat};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::Theme;
use crate::console::app::{App, DiffFocus, DiffView};
use crate::console::diff::LineKind;

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(v) = &app.diff else {
        return;
    };
    let block = Block::default().borders(Borders::TOP).title(title(v));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(d) = &v.diff else {
        let text = match &v.error {
            Some(e) => Line::styled(
                format!("{e} (r reads again · Esc back)"),
                theme.fg(Color::Red),
            ),
            None => Line::raw(format!("reading {}'s diff…", v.reference)),
        };
        f.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), inner);
        return;
    };
    let note = note(d);
    let [note_area, panes] = Layout::vertical([
        Constraint::Length(u16::from(note.is_some())),
        Constraint::Min(1),
    ])
    .areas(inner);
    if let Some(n) = note {
        f.render_widget(
            Paragraph::new(Line::styled(n, theme.fg(Color::Yellow))),
            note_area,
        );
    }
    let files_width = (panes.width / 3).clamp(16, 40);
    let [files_area, diff_area] =
        Layout::horizontal([Constraint::Length(files_width), Constraint::Fill(1)]).areas(panes);
    files(f, files_area, v, d, theme);
    if d.diff.is_empty() {
        let empty = if d.files.is_empty() {
            format!(" no changes on {} against {}", d.branch, d.base)
        } else {
            " the diff is empty (only the stat was read)".into()
        };
        f.render_widget(Paragraph::new(empty), diff_area);
        return;
    }
    lines(f, diff_area, v, theme);
}

/// ` T7 diff · orc/T7-x → main · 3 files +12 -4 · review: unreviewed `.
fn title(v: &DiffView) -> String {
    let mut t = format!(" {} diff", v.reference);
    if let Some((branch, base)) = v.branch() {
        t.push_str(&format!(" · {branch} → {base}"));
    }
    match (&v.workspace, &v.diff) {
        (Some(w), _) => t.push_str(&format!(" · {}", w.report.stat_line())),
        (None, Some(d)) => t.push_str(&format!(" · {}", stat(&d.files, d.uncommitted.len()))),
        _ => {}
    }
    if let Some(w) = &v.workspace {
        t.push_str(&format!(" · review: {}", w.review_words()));
        if let Some(into) = &w.merged_into {
            t.push_str(&format!(" into {into}"));
        }
    }
    t.push_str(" (j/k PgUp/PgDn g/G) ");
    t
}

/// Why the diff is not the whole story: the hub's note, or the uncommitted files left out.
fn note(d: &WorkspaceDiff) -> Option<String> {
    if let Some(n) = &d.note {
        return Some(format!(" note: {n}"));
    }
    match d.uncommitted.len() {
        0 if d.truncated => Some(" note: the diff was cut".into()),
        0 => None,
        n => Some(format!(
            " note: {n} uncommitted file{} not in this diff",
            if n == 1 { " is" } else { "s are" }
        )),
    }
}

/// The first row to draw so that `at` shows in `height` rows out of `len`: the cursor stays
/// in the middle once past the first half, and the end fills the pane.
fn top(at: usize, height: usize, len: usize) -> usize {
    at.saturating_sub(height / 2)
        .min(len.saturating_sub(height))
}

/// The files changed, one a row: path, +N -M (`binary` for a binary file).
fn files(f: &mut Frame, area: Rect, v: &DiffView, d: &WorkspaceDiff, theme: &Theme) {
    let h = area.height as usize;
    let first = top(v.file, h, d.files.len());
    let w = area.width.saturating_sub(1) as usize;
    let rows: Vec<Line> = d
        .files
        .iter()
        .enumerate()
        .skip(first)
        .take(h)
        .map(|(i, file)| {
            let counts = match (file.insertions, file.deletions) {
                (Some(a), Some(r)) => format!("+{a} -{r}"),
                _ => "binary".into(),
            };
            let room = w.saturating_sub(counts.chars().count() + 1);
            let path = clip_left(&file.path, room);
            let text = format!("{path:<room$} {counts}");
            let style = match (i == v.file, v.focus) {
                (true, DiffFocus::Files) => theme.selected(),
                (true, DiffFocus::Diff) => theme.bold(),
                _ => Style::default(),
            };
            Line::styled(text, style)
        })
        .collect();
    f.render_widget(
        Paragraph::new(rows).block(Block::default().borders(Borders::RIGHT)),
        area,
    );
}

/// The diff's lines from where the cursor keeps them, coloured by kind.
fn lines(f: &mut Frame, area: Rect, v: &DiffView, theme: &Theme) {
    let h = area.height as usize;
    let first = top(v.cursor, h, v.parsed.lines.len());
    let rows: Vec<Line> = v
        .parsed
        .lines
        .iter()
        .enumerate()
        .skip(first)
        .take(h)
        .map(|(i, l)| {
            let style = match l.kind {
                LineKind::Added => theme.fg(Color::Green),
                LineKind::Removed => theme.fg(Color::Red),
                LineKind::Hunk => theme.fg(Color::Cyan),
                LineKind::Header => theme.bold(),
                LineKind::Context | LineKind::Other => Style::default(),
            };
            let style = if i == v.cursor && v.focus == DiffFocus::Diff {
                style.patch(theme.selected())
            } else {
                style
            };
            Line::from(Span::styled(
                format!(" {}", l.text.replace('\t', "    ")),
                style,
            ))
        })
        .collect();
    f.render_widget(Paragraph::new(rows), area);
}

/// The end of a path that fits in `n` characters (`…` marks what was cut).
fn clip_left(s: &str, n: usize) -> String {
    let len = s.chars().count();
    if len <= n {
        return s.to_string();
    }
    let tail: String = s.chars().skip(len + 1 - n.max(1)).collect();
    format!("…{tail}")
}
