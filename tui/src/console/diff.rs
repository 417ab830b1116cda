//! A unified diff read line by line: what each line is (a header, a hunk head, an added,
//! removed or unchanged line) and where it is in the new file, so the diff view colours it
//! and a review comment names the file and line the cursor is on. Pure: no I/O, no drawing.

/// What a line of a unified diff is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// `diff --git`, `index`, `---`, `+++`, `new file mode`, `Binary files … differ`, ….
    Header,
    /// `@@ -a,b +c,d @@`.
    Hunk,
    Added,
    Removed,
    Context,
    /// `\ No newline at end of file`, or anything outside a file.
    Other,
}

/// One line of the diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub text: String,
    pub kind: LineKind,
    /// The file it belongs to (index into `Parsed::files`).
    pub file: Option<usize>,
    /// The line of the new file it stands at: its own for added and unchanged lines, the line
    /// that follows for a removed one; `None` for headers and for a deleted file.
    pub new_line: Option<u64>,
}

/// A file's place in the diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffFile {
    pub path: String,
    /// The index of its `diff --git` line.
    pub header: usize,
    /// The index of its first `@@` line (none for a binary file or a mode change).
    pub first_hunk: Option<usize>,
    /// The file is deleted by the change (its lines have no place in the new tree).
    pub deleted: bool,
}

/// A unified diff, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub lines: Vec<DiffLine>,
    pub files: Vec<DiffFile>,
}

impl Parsed {
    /// The file and new-file line that line `index` stands at, if it is a line of a hunk of a
    /// file that is not deleted.
    pub fn at(&self, index: usize) -> Option<(String, u64)> {
        let l = self.lines.get(index)?;
        let f = self.files.get(l.file?)?;
        Some((f.path.clone(), l.new_line?))
    }

    /// The line a file's diff starts at (its first hunk, else its header), by path.
    pub fn jump(&self, path: &str) -> Option<usize> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.first_hunk.unwrap_or(f.header))
    }

    /// The path of the file line `index` belongs to.
    pub fn file_of(&self, index: usize) -> Option<&str> {
        let f = self.lines.get(index)?.file?;
        self.files.get(f).map(|f| f.path.as_str())
    }
}

/// The file and new-file line that line `index` of `diff` stands at (see `Parsed::at`).
pub fn locate(diff: &str, index: usize) -> Option<(String, u64)> {
    parse(diff).at(index)
}

/// Reads a unified diff as `git diff --no-renames` writes it.
pub fn parse(diff: &str) -> Parsed {
    let mut p = Parsed::default();
    // The next new-file line while in a hunk.
    let mut next: Option<u64> = None;
    for text in diff.lines() {
        let index = p.lines.len();
        let mut kind = LineKind::Other;
        let mut new_line = None;
        if let Some(rest) = text.strip_prefix("diff --git ") {
            p.files.push(DiffFile {
                path: git_path(rest),
                header: index,
                first_hunk: None,
                deleted: false,
            });
            next = None;
            kind = LineKind::Header;
        } else if text.starts_with("@@") && !p.files.is_empty() {
            next = hunk_start(text);
            if let Some(f) = p.files.last_mut() {
                f.first_hunk.get_or_insert(index);
            }
            kind = LineKind::Hunk;
        } else if let (Some(n), Some(c)) = (next, text.chars().next()) {
            // Inside a hunk.
            let deleted = p.files.last().is_some_and(|f| f.deleted);
            let here = (n >= 1 && !deleted).then_some(n);
            match c {
                '+' => {
                    kind = LineKind::Added;
                    new_line = here;
                    next = Some(n + 1);
                }
                ' ' => {
                    kind = LineKind::Context;
                    new_line = here;
                    next = Some(n + 1);
                }
                '-' => {
                    kind = LineKind::Removed;
                    new_line = here;
                }
                '\\' => {}
                // A line git would not write inside a hunk: the hunk is over.
                _ => next = None,
            }
        } else if !p.files.is_empty() {
            kind = LineKind::Header;
            if (text == "+++ /dev/null" || text.starts_with("deleted file mode"))
                && let Some(f) = p.files.last_mut()
            {
                f.deleted = true;
            }
        }
        p.lines.push(DiffLine {
            text: text.to_string(),
            kind,
            file: p.files.len().checked_sub(1),
            new_line,
        });
    }
    p
}

/// The new file's first line from `@@ -a,b +c,d @@` (`c`; `+0,0`: the file is empty now).
fn hunk_start(text: &str) -> Option<u64> {
    let plus = text.split_whitespace().find(|w| w.starts_with('+'))?;
    let start = plus[1..].split(',').next()?;
    start.parse().ok()
}

/// The path from `a/PATH b/PATH` (both the same without renames; a path with spaces is
/// not quoted, one with unusual characters is: `"a/x\ty" "b/x\ty"`).
fn git_path(rest: &str) -> String {
    if rest.starts_with('"') {
        // The second quoted name, `"b/…"`.
        let mut parts = rest.split("\" \"");
        let b = parts.nth(1).unwrap_or(rest).trim_matches('"');
        return unquote(b.strip_prefix("b/").unwrap_or(b));
    }
    // `a/P b/P`: 2·len(P) + 5 bytes.
    let n = rest.len().saturating_sub(5) / 2;
    match rest.get(2..2 + n) {
        Some(p) if rest.get(n + 3..) == Some(&format!("b/{p}")[..]) => p.to_string(),
        _ => rest
            .rsplit(" b/")
            .next()
            .unwrap_or(rest)
            .trim_start_matches("a/")
            .to_string(),
    }
}

/// Undoes git's C-style quoting of a path (`\"`, `\\`, `\t`, `\n`; octal bytes stay).
fn unquote(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "\
diff --git a/src/a.rs b/src/a.rs
index 1111111..2222222 100644
--- a/src/a.rs
+++ b/src/a.rs
@@ -1,4 +1,5 @@
 fn a() {
-    old();
+    new();
+    more();
 }
@@ -20,2 +21,2 @@ fn b() {
 x
-y
+z
\\ No newline at end of file
diff --git a/dir with space/b.txt b/dir with space/b.txt
new file mode 100644
--- /dev/null
+++ b/dir with space/b.txt
@@ -0,0 +1,2 @@
+one
+two
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
diff --git a/logo.png b/logo.png
Binary files a/logo.png and b/logo.png differ
";

    /// Where a comment goes: a file and a line of the new file.
    type At = Option<(String, u64)>;

    /// Each line of the fixture: (index, what it is, where a comment on it goes).
    #[test]
    fn each_line_maps_to_its_file_and_new_line() {
        let a = |n| Some(("src/a.rs".to_string(), n));
        let b = |n| Some(("dir with space/b.txt".to_string(), n));
        let cases: &[(usize, LineKind, At)] = &[
            (0, LineKind::Header, None),
            (3, LineKind::Header, None),
            (4, LineKind::Hunk, None),
            (5, LineKind::Context, a(1)),
            // A removed line stands where the next new line is.
            (6, LineKind::Removed, a(2)),
            (7, LineKind::Added, a(2)),
            (8, LineKind::Added, a(3)),
            (9, LineKind::Context, a(4)),
            (10, LineKind::Hunk, None),
            (11, LineKind::Context, a(21)),
            (12, LineKind::Removed, a(22)),
            (13, LineKind::Added, a(22)),
            (14, LineKind::Other, None),
            (15, LineKind::Header, None),
            (18, LineKind::Header, None),
            (20, LineKind::Added, b(1)),
            (21, LineKind::Added, b(2)),
            // A deleted file has no new lines.
            (27, LineKind::Removed, None),
            (29, LineKind::Header, None),
            (99, LineKind::Other, None),
        ];
        let p = parse(DIFF);
        for (i, kind, want) in cases {
            assert_eq!(
                p.lines.get(*i).map_or(LineKind::Other, |l| l.kind),
                *kind,
                "line {i}"
            );
            assert_eq!(p.at(*i), *want, "line {i}: {:?}", p.lines.get(*i));
            assert_eq!(locate(DIFF, *i), *want, "line {i}");
        }
    }

    #[test]
    fn files_and_their_first_hunks() {
        let p = parse(DIFF);
        let files: Vec<(&str, usize, Option<usize>, bool)> = p
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.header, f.first_hunk, f.deleted))
            .collect();
        assert_eq!(
            files,
            [
                ("src/a.rs", 0, Some(4), false),
                ("dir with space/b.txt", 15, Some(19), false),
                ("gone.txt", 22, Some(26), true),
                ("logo.png", 28, None, false),
            ]
        );
        assert_eq!(p.jump("logo.png"), Some(28));
        assert_eq!(p.jump("dir with space/b.txt"), Some(19));
        assert_eq!(p.jump("nope"), None);
        assert_eq!(p.file_of(12), Some("src/a.rs"));
    }

    #[test]
    fn quoted_paths_and_odd_input() {
        assert_eq!(git_path("\"a/x\\ty\" \"b/x\\ty\""), "x\ty");
        assert_eq!(git_path("a/x b/x"), "x");
        assert_eq!(git_path("a/b/c b/b/c"), "b/c");
        assert_eq!(hunk_start("@@ -1,2 +7,3 @@ fn x"), Some(7));
        assert_eq!(hunk_start("@@ nonsense @@"), None);
        // No diff at all, or text before the first file: nothing to comment on.
        assert_eq!(parse("").lines.len(), 0);
        assert_eq!(locate("+ stray\n@@ -1 +1 @@\n+x", 2), None);
    }
}
