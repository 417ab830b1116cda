//! A rule's pattern on a tool's input: command words for Bash, a path glob for file tools, a
//! text glob for URLs, search queries and JSON inputs.

use std::fmt;

use glob::MatchOptions;

/// Why a pattern cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// A quote that is never closed.
    UnbalancedQuotes,
    /// An unquoted shell operator: a Bash pattern is one simple command.
    Operator(char),
    /// A path glob the glob syntax refuses.
    Glob(String),
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::UnbalancedQuotes => f.write_str("unbalanced quotes in the pattern"),
            PatternError::Operator(c) => write!(
                f,
                "the pattern holds the shell operator '{c}': a Bash pattern is one simple command \
                 (quote it to match it literally, or make one rule per command)"
            ),
            PatternError::Glob(e) => write!(f, "invalid path glob: {e}"),
        }
    }
}

/// One piece of a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// Text that must be there as it is.
    Lit(String),
    /// `*`: any run of characters.
    Star,
    /// `?`: one character.
    One,
}

/// A glob on one string where `*` and `?` are the only wildcards.
///
/// Hand-written rather than `glob::Pattern`: in command words and URLs `[`, `]`, `{`, `}` are
/// ordinary text (`[ -f x ]`, `test[1]`), and `*` must cross `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextGlob {
    toks: Vec<Tok>,
}

impl TextGlob {
    /// A glob where `\` makes the next character literal (`\*` is a star).
    pub fn parse(pattern: &str) -> TextGlob {
        let mut b = TokBuilder::default();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => b.lit(chars.next().unwrap_or('\\')),
                '*' => b.star(),
                '?' => b.one(),
                c => b.lit(c),
            }
        }
        TextGlob { toks: b.toks }
    }

    /// Whether it matches the whole of `s`.
    pub fn matches(&self, s: &str) -> bool {
        glob_match(&self.toks, s)
    }

    /// The literal text it matches, when it has no wildcard.
    pub fn literal(&self) -> Option<&str> {
        match self.toks.as_slice() {
            [] => Some(""),
            [Tok::Lit(l)] => Some(l),
            _ => None,
        }
    }
}

/// `s` with `\`, `*` and `?` escaped, so that [`TextGlob::parse`] matches exactly `s`.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '\\' | '*' | '?') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[derive(Default)]
struct TokBuilder {
    toks: Vec<Tok>,
}

impl TokBuilder {
    fn lit(&mut self, c: char) {
        match self.toks.last_mut() {
            Some(Tok::Lit(l)) => l.push(c),
            _ => self.toks.push(Tok::Lit(c.to_string())),
        }
    }

    fn star(&mut self) {
        if self.toks.last() != Some(&Tok::Star) {
            self.toks.push(Tok::Star);
        }
    }

    fn one(&mut self) {
        self.toks.push(Tok::One);
    }
}

/// Whether `toks` match the whole of `s`: greedy, going back to the last `*` on a mismatch
/// (linear in practice, no recursion).
fn glob_match(toks: &[Tok], s: &str) -> bool {
    let (mut ti, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(t) = toks.get(ti) {
            let rest = &s[si..];
            match t {
                Tok::Star => {
                    ti += 1;
                    star = Some((ti, si));
                    continue;
                }
                Tok::One => {
                    if let Some(c) = rest.chars().next() {
                        si += c.len_utf8();
                        ti += 1;
                        continue;
                    }
                }
                Tok::Lit(l) => {
                    if rest.starts_with(l.as_str()) {
                        si += l.len();
                        ti += 1;
                        continue;
                    }
                }
            }
        } else if si == s.len() {
            return true;
        }
        match star {
            Some((sti, ssi)) => match s[ssi..].chars().next() {
                Some(c) => {
                    let next = ssi + c.len_utf8();
                    star = Some((sti, next));
                    ti = sti;
                    si = next;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

/// One word of a Bash pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WordGlob {
    toks: Vec<Tok>,
    /// An unquoted `*` and nothing else.
    bare_star: bool,
}

/// A Bash pattern: shell words, each a glob (`*`, `?` unquoted; quoted text is literal); a
/// last word `*` alone matches zero or more further words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BashPattern {
    words: Vec<WordGlob>,
    /// The last word was a bare `*` (kept out of `words`).
    rest: bool,
}

impl BashPattern {
    /// Reads a pattern: words split on blanks, `'…'` literal, `"…"` with `\` escaping
    /// `" \ $ \``, `\x` literal x. Unquoted shell operators are refused.
    pub fn parse(pattern: &str) -> Result<BashPattern, PatternError> {
        let mut words: Vec<WordGlob> = Vec::new();
        let mut chars = pattern.chars().peekable();
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if chars.peek().is_none() {
                break;
            }
            let mut b = TokBuilder::default();
            let mut quoted = false;
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                match c {
                    '\\' => {
                        quoted = true;
                        b.lit(chars.next().unwrap_or('\\'));
                    }
                    '\'' => {
                        quoted = true;
                        loop {
                            match chars.next() {
                                Some('\'') => break,
                                Some(c) => b.lit(c),
                                None => return Err(PatternError::UnbalancedQuotes),
                            }
                        }
                    }
                    '"' => {
                        quoted = true;
                        loop {
                            match chars.next() {
                                Some('"') => break,
                                Some('\\') => match chars.peek() {
                                    Some(&c @ ('"' | '\\' | '$' | '`')) => {
                                        chars.next();
                                        b.lit(c);
                                    }
                                    _ => b.lit('\\'),
                                },
                                Some(c) => b.lit(c),
                                None => return Err(PatternError::UnbalancedQuotes),
                            }
                        }
                    }
                    '*' => b.star(),
                    '?' => b.one(),
                    ';' | '&' | '|' | '<' | '>' | '(' | ')' | '`' => {
                        return Err(PatternError::Operator(c));
                    }
                    c => b.lit(c),
                }
            }
            if b.toks.is_empty() {
                // `''`: the empty word.
                b.toks.push(Tok::Lit(String::new()));
            }
            let bare_star = !quoted && b.toks == [Tok::Star];
            words.push(WordGlob {
                toks: b.toks,
                bare_star,
            });
        }
        let rest = words.last().is_some_and(|w| w.bare_star);
        if rest {
            words.pop();
        }
        Ok(BashPattern { words, rest })
    }

    /// Whether it matches a simple command's words.
    pub fn matches<S: AsRef<str>>(&self, words: &[S]) -> bool {
        let count_ok = if self.rest {
            words.len() >= self.words.len()
        } else {
            words.len() == self.words.len()
        };
        count_ok
            && self
                .words
                .iter()
                .zip(words)
                .all(|(p, w)| glob_match(&p.toks, w.as_ref()))
    }

    /// Its first word when that is literal: the index key.
    pub fn first_literal(&self) -> Option<&str> {
        match self.words.first()?.toks.as_slice() {
            [Tok::Lit(l)] => Some(l),
            _ => None,
        }
    }

    /// Whether every word is a bare `*` (it matches every command).
    pub fn matches_everything(&self) -> bool {
        self.rest && self.words.iter().all(|w| w.bare_star)
    }
}

/// `words` as a Bash pattern that matches exactly them: each word quoted when it holds
/// anything but plain characters.
pub fn exact_bash_pattern<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote_word(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word, single-quoted unless made only of characters that mean nothing to the pattern
/// reader or the shell.
pub fn quote_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// A path glob for file tools: relative to the working dir (or absolute when it starts with
/// `/`); `*` stays inside one component, `**` crosses them.
#[derive(Debug, Clone)]
pub struct PathGlob {
    glob: glob::Pattern,
    absolute: bool,
}

/// How path globs match: case-sensitive, `*` never crosses `/`, dot files are not special.
const PATH_MATCH: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl PathGlob {
    /// Reads a path glob (`./` at the start is dropped).
    pub fn parse(pattern: &str) -> Result<PathGlob, PatternError> {
        let p = pattern.strip_prefix("./").unwrap_or(pattern);
        let glob = glob::Pattern::new(p).map_err(|e| PatternError::Glob(e.to_string()))?;
        Ok(PathGlob {
            glob,
            absolute: p.starts_with('/'),
        })
    }

    /// Whether it is for absolute paths.
    pub fn absolute(&self) -> bool {
        self.absolute
    }

    /// Whether it matches `path` (relative or absolute, as [`PathGlob::absolute`] says).
    pub fn matches(&self, path: &str) -> bool {
        self.glob.matches_with(path, PATH_MATCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<&str> {
        s.split(' ').filter(|w| !w.is_empty()).collect()
    }

    #[test]
    fn bash_patterns_match_words() {
        let cases: &[(&str, &str, bool)] = &[
            ("git status", "git status", true),
            ("git status", "git status -s", false),
            ("git status *", "git status", true),
            ("git status *", "git status -s --long", true),
            ("cargo test *", "cargo test -p x", true),
            ("cargo test *", "cargo build", false),
            ("git * status", "git -C status", true),
            ("git * status", "git status", false),
            ("ls -l*", "ls -la", true),
            ("ls -l?", "ls -la", true),
            ("ls -l?", "ls -lah", false),
            ("'*' x", "* x", true),
            ("'*' x", "a x", false),
            ("\\* x", "a x", false),
            ("[ -f x ]", "[ -f x ]", true),
            ("echo \"a b\"", "echo a", false),
        ];
        for (p, w, want) in cases {
            let pat = BashPattern::parse(p).unwrap();
            assert_eq!(pat.matches(&words(w)), *want, "{p} on {w}");
        }
        let pat = BashPattern::parse("echo \"a b\"").unwrap();
        assert!(pat.matches(&["echo", "a b"]));
        let pat = BashPattern::parse("echo ''").unwrap();
        assert!(pat.matches(&["echo", ""]));
        assert!(!pat.matches(&["echo"]));
    }

    #[test]
    fn bash_pattern_errors_and_shape() {
        assert_eq!(
            BashPattern::parse("echo 'a").unwrap_err(),
            PatternError::UnbalancedQuotes
        );
        assert_eq!(
            BashPattern::parse("echo \"a").unwrap_err(),
            PatternError::UnbalancedQuotes
        );
        assert_eq!(
            BashPattern::parse("a && b").unwrap_err(),
            PatternError::Operator('&')
        );
        assert!(BashPattern::parse("echo 'a && b'").is_ok());
        assert!(BashPattern::parse("*").unwrap().matches_everything());
        assert!(BashPattern::parse("* *").unwrap().matches_everything());
        assert!(!BashPattern::parse("'*'").unwrap().matches_everything());
        assert!(!BashPattern::parse("git *").unwrap().matches_everything());
        assert_eq!(
            BashPattern::parse("git *").unwrap().first_literal(),
            Some("git")
        );
        assert_eq!(BashPattern::parse("g* x").unwrap().first_literal(), None);
    }

    #[test]
    fn exact_patterns_parse_back_to_the_same_words() {
        let cases: &[&[&str]] = &[
            &["git", "status"],
            &["echo", "it's", "a b", ""],
            &["rm", "*.o", "a?b"],
            &["grep", "-e", "x|y", "$HOME", "\\n", "\"q\""],
        ];
        for ws in cases {
            let p = exact_bash_pattern(ws);
            let pat = BashPattern::parse(&p).unwrap();
            assert!(pat.matches(ws), "{p}");
            let mut other: Vec<&str> = ws.to_vec();
            other.push("x");
            assert!(!pat.matches(&other), "{p} matches more");
        }
        assert!(
            !BashPattern::parse(&exact_bash_pattern(&["rm", "*.o"]))
                .unwrap()
                .matches(&["rm", "a.o"])
        );
    }

    #[test]
    fn text_globs() {
        let g = TextGlob::parse("https://docs.rs/*");
        assert!(g.matches("https://docs.rs/serde/latest/serde/"));
        assert!(!g.matches("https://evil.com/https://docs.rs/"));
        assert!(TextGlob::parse("*").matches(""));
        assert!(TextGlob::parse("a*b*c").matches("aXbYbZc"));
        assert!(!TextGlob::parse("a*b*c").matches("aXbYbZ"));
        assert!(TextGlob::parse("é?").matches("éü"));
        let s = r#"{"q":"a*b?\\"}"#;
        let e = TextGlob::parse(&escape_text(s));
        assert!(e.matches(s));
        assert!(!e.matches(r#"{"q":"aXXb!\\"}"#));
        assert_eq!(e.literal(), Some(s));
    }

    #[test]
    fn path_globs() {
        let cases: &[(&str, &str, bool)] = &[
            ("src/**", "src/a/b.rs", true),
            ("src/**", "src/main.rs", true),
            ("src/**", "tests/a.rs", false),
            ("src/*", "src/a/b.rs", false),
            ("src/*", "src/main.rs", true),
            ("**/*.rs", "main.rs", true),
            ("**/*.rs", "a/b/c.rs", true),
            ("**/*.rs", "a/b/c.toml", false),
            ("Cargo.toml", "Cargo.toml", true),
            ("Cargo.toml", "sub/Cargo.toml", false),
            ("./docs/*.md", "docs/x.md", true),
            ("**/.env", ".env", true),
        ];
        for (p, path, want) in cases {
            assert_eq!(
                PathGlob::parse(p).unwrap().matches(path),
                *want,
                "{p} on {path}"
            );
        }
        assert!(PathGlob::parse("/etc/**").unwrap().absolute());
        assert!(PathGlob::parse("a/***").is_err());
    }
}
