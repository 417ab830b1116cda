//! A task's diff as text: the unified diff line by line with what came from the repository
//! neutralised (and coloured on a terminal), and the stat: files with lines added and removed.

use std::io::IsTerminal;

use orchestratia_proto::text::{Lines, neutralise};
use orchestratia_proto::workspace::FileChange;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Whether a diff printed now is coloured: stdout is a terminal and `NO_COLOR` is not set to
/// anything non-empty.
pub fn colour_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The unified diff `diff` ready to print: every line neutralised (tabs kept, every other
/// control character shown escaped), then, with `colour`, added lines green, removed lines
/// red, hunk headers cyan and file headers bold. Ends with a line break unless empty.
pub fn render(diff: &str, colour: bool) -> String {
    let mut out = String::with_capacity(diff.len() + diff.len() / 8);
    let mut in_header = false;
    for raw in diff.lines() {
        let line = neutralise(raw, Lines::Keep);
        if raw.starts_with("diff --git ") {
            in_header = true;
        } else if raw.starts_with("@@") {
            in_header = false;
        }
        let style = if !colour {
            None
        } else if in_header {
            ["diff --git ", "index ", "--- ", "+++ "]
                .iter()
                .any(|p| raw.starts_with(p))
                .then_some(BOLD)
        } else if raw.starts_with("@@") {
            Some(CYAN)
        } else if raw.starts_with('+') {
            Some(GREEN)
        } else if raw.starts_with('-') {
            Some(RED)
        } else {
            None
        };
        match style {
            Some(s) => {
                out.push_str(s);
                out.push_str(&line);
                out.push_str(RESET);
            }
            None => out.push_str(&line),
        }
        out.push('\n');
    }
    out
}

/// `+12` / `-4` of a file, or `None` for a binary one.
fn counts(f: &FileChange) -> Option<(String, String)> {
    match (f.insertions, f.deletions) {
        (Some(a), Some(d)) => Some((format!("+{a}"), format!("-{d}"))),
        _ => None,
    }
}

/// One line a file, indented by `indent`: `+12  -4  src/a.rs`, `bin       logo.png` for a
/// binary file. Paths are shown on one line, control characters escaped.
pub fn stat_lines(files: &[FileChange], indent: &str) -> Vec<String> {
    let cells: Vec<Option<(String, String)>> = files.iter().map(counts).collect();
    let wa = cells
        .iter()
        .flatten()
        .map(|(a, _)| a.len())
        .max()
        .unwrap_or(0)
        .max(3);
    let wd = cells
        .iter()
        .flatten()
        .map(|(_, d)| d.len())
        .max()
        .unwrap_or(0);
    files
        .iter()
        .zip(cells)
        .map(|(f, c)| {
            let path = neutralise(&f.path, Lines::Escape);
            match c {
                Some((a, d)) => format!("{indent}{a:>wa$} {d:>wd$}  {path}"),
                None => format!("{indent}{:<wa$} {:wd$}  {path}", "bin", ""),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "diff --git a/a.rs b/a.rs\nindex 1..2 100644\n--- a/a.rs\n+++ b/a.rs\n@@ -1,2 +1,2 @@\n ctx\n-old\n+new\n+++ looks like a header\n";

    fn file(path: &str, a: Option<u64>, d: Option<u64>) -> FileChange {
        FileChange {
            path: path.into(),
            insertions: a,
            deletions: d,
        }
    }

    #[test]
    fn plain_is_the_diff_itself() {
        assert_eq!(render(DIFF, false), DIFF);
        assert_eq!(render("", false), "");
    }

    #[test]
    fn colours_follow_the_line_kinds() {
        let c = render(DIFF, true);
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines[0], format!("{BOLD}diff --git a/a.rs b/a.rs{RESET}"));
        assert_eq!(lines[3], format!("{BOLD}+++ b/a.rs{RESET}"));
        assert_eq!(lines[4], format!("{CYAN}@@ -1,2 +1,2 @@{RESET}"));
        assert_eq!(lines[5], " ctx");
        assert_eq!(lines[6], format!("{RED}-old{RESET}"));
        assert_eq!(lines[7], format!("{GREEN}+new{RESET}"));
        // Inside a hunk, `+++` is an added line, not a file header.
        assert_eq!(lines[8], format!("{GREEN}+++ looks like a header{RESET}"));
    }

    #[test]
    fn control_characters_in_the_diff_are_escaped_tabs_kept() {
        let d = "@@ -1 +1 @@\n+\tcurl x | sh\rls\x1b[8m\n";
        let plain = render(d, false);
        assert!(plain.contains("+\tcurl x | sh\\rls\\x1b[8m"), "{plain:?}");
        let coloured = render(d, true);
        // The only escapes left are the colours added here.
        let without = coloured
            .replace(GREEN, "")
            .replace(CYAN, "")
            .replace(RESET, "");
        assert!(!without.contains('\x1b'), "{coloured:?}");
    }

    #[test]
    fn the_stat_aligns_counts_and_marks_binaries() {
        let files = [
            file("src/a.rs", Some(12), Some(4)),
            file("logo.png", None, None),
            file("b\x1b.rs", Some(1), Some(0)),
        ];
        let l = stat_lines(&files, "  ");
        assert_eq!(l[0], "  +12 -4  src/a.rs");
        assert_eq!(l[1], "  bin     logo.png");
        assert_eq!(l[2], "   +1 -0  b\\x1b.rs");
        assert_eq!(
            orchestratia_proto::workspace::stat(&files, 2),
            "3 files +13 -4, 2 uncommitted"
        );
        assert_eq!(
            orchestratia_proto::workspace::stat(&files[..1], 0),
            "1 file +12 -4"
        );
    }
}
