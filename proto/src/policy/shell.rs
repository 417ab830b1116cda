//! A Bash command split into simple commands (a chain `a && b; c | d` has four), with what
//! makes each unmatchable by an allow rule.
//!
//! This is not a shell: it reads just enough of Bash's grammar (quotes, escapes, operators,
//! redirections, substitutions) to know the words each simple command will run with, and to
//! refuse to vouch for a command whose words are only known when it runs (`$VAR`, `$(…)`),
//! that escalates (`sudo`), writes outside the working dir, or hides commands in a structure
//! (subshells, loops). The commands inside substitutions and subshells are parsed too, so
//! that deny rules see them.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// Why an allow rule can never match a simple command: its words or its effect are not known
/// from its text alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmatchable {
    /// `$(…)` or backticks.
    CommandSubstitution,
    /// `<(…)` or `>(…)`.
    ProcessSubstitution,
    /// `$VAR`, `${…}`, `$((…))`, `$'…'` outside single quotes.
    Expansion,
    /// `sudo`, also after `env`, `command`, `exec`, `nohup` or `time`.
    Sudo,
    /// A redirection whose target is outside the working dir (or no working dir is known).
    RedirectionOutside(String),
    /// A here-document (`<<`, `<<-`) or here-string (`<<<`).
    HereDoc,
    /// A subshell `( … )` or a group `{ …; }`.
    Subshell,
    /// A control-flow keyword (`if`, `for`, `while`, `case`, `until`, `function`, …).
    ControlFlow(String),
    /// A quote, backtick or parenthesis that is never closed.
    UnbalancedQuotes,
}

impl fmt::Display for Unmatchable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unmatchable::CommandSubstitution => f.write_str("command substitution"),
            Unmatchable::ProcessSubstitution => f.write_str("process substitution"),
            Unmatchable::Expansion => f.write_str("a $ expansion"),
            Unmatchable::Sudo => f.write_str("sudo"),
            Unmatchable::RedirectionOutside(t) => {
                write!(f, "a redirection outside the working dir ({t})")
            }
            Unmatchable::HereDoc => f.write_str("a here-document"),
            Unmatchable::Subshell => f.write_str("a subshell or group"),
            Unmatchable::ControlFlow(k) => write!(f, "the control-flow keyword '{k}'"),
            Unmatchable::UnbalancedQuotes => f.write_str("unbalanced quotes"),
        }
    }
}

/// One simple command of a chain: what it runs, and whether an allow rule may vouch for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleCommand {
    /// The command as written (for people).
    pub text: String,
    /// Its words after quote removal, without the redirections that are fine (inside the
    /// working dir, `/dev/null`, fd duplications).
    pub words: Vec<String>,
    /// Why no allow rule may match it, if so (the first reason found).
    pub unmatchable: Option<Unmatchable>,
    /// Whether it sits inside a substitution or subshell of another command: only deny rules
    /// look at those.
    pub nested: bool,
}

/// Keywords that make a simple command part of a compound command: an allow rule never
/// vouches for it.
const CONTROL_KEYWORDS: &[&str] = &[
    "if", "then", "elif", "else", "fi", "for", "while", "until", "do", "done", "case", "esac",
    "function", "select", "coproc",
];

/// Keywords stripped from the front of a command before deny rules look at it
/// (`if rm -rf x` runs `rm -rf x`).
const LEADING_KEYWORDS: &[&str] = &[
    "if", "then", "elif", "else", "while", "until", "do", "!", "{",
];

/// How deep substitutions may nest before the rest is taken as one unmatchable command.
const MAX_DEPTH: usize = 32;

/// Splits `command` into its simple commands: first the top-level ones in order, then the
/// ones nested in substitutions and subshells (`nested`). Redirections are judged against
/// `working_dir` (none known: every file target is outside).
pub fn split(command: &str, working_dir: Option<&Path>) -> Vec<SimpleCommand> {
    let wd = working_dir.map(normalize);
    let mut parser = Parser::new(command, wd.as_deref(), 0);
    let mut parts = parser.list(false, false);
    parts.append(&mut parser.nested);
    parts
}

/// `path` with `.` and `..` resolved lexically (no file system access, symlinks not
/// followed); `..` at the root stays at the root.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            c => out.push(c),
        }
    }
    out.iter().collect()
}

/// Where `path` (absolute, or relative to `working_dir`) lands, resolved lexically; `None`
/// when it cannot be known (relative with no working dir, or starting with `~`).
pub fn resolve(path: &str, working_dir: Option<&Path>) -> Option<PathBuf> {
    if path.starts_with('~') {
        return None;
    }
    let p = Path::new(path);
    if p.is_absolute() {
        Some(normalize(p))
    } else {
        working_dir.map(|wd| normalize(&wd.join(p)))
    }
}

/// The indexes where the real command of `words` may start once leading keywords,
/// assignments (`A=1`) and wrappers (`env`, `command`, `exec`, `nohup`, `time`, `sudo`, with
/// their options) are skipped: `[0, …]`. Deny rules look at every such suffix. Also says
/// whether `sudo` was passed on the way.
pub fn command_starts(words: &[String], keywords: bool) -> (Vec<usize>, bool) {
    let mut starts = vec![0];
    let mut sudo = false;
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        if (keywords && LEADING_KEYWORDS.contains(&w)) || is_assignment(w) {
            i += 1;
        } else {
            let with_arg: &[&str] = match basename(w) {
                "sudo" => {
                    sudo = true;
                    &["-u", "-g", "-C", "-D", "-p", "-r", "-t", "-U", "-h"]
                }
                "env" => &["-u", "--unset", "-C", "--chdir", "-S", "--split-string"],
                "exec" => &["-a"],
                "command" | "nohup" | "time" => &[],
                _ => break,
            };
            i += 1;
            while let Some(opt) = words.get(i).filter(|o| o.starts_with('-')) {
                i += if with_arg.contains(&opt.as_str()) { 2 } else { 1 };
            }
        }
        if i < words.len() && starts.last() != Some(&i) {
            starts.push(i);
        }
    }
    (starts, sudo)
}

/// The last path component of a command word (`/usr/bin/sudo` → `sudo`).
pub fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// Whether `word` is a variable assignment `NAME=value`.
fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            let mut chars = name.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// A simple command being read.
struct Builder {
    start: usize,
    words: Vec<(String, bool)>,
    unmatchable: Option<Unmatchable>,
}

impl Builder {
    fn new(start: usize) -> Builder {
        Builder {
            start,
            words: Vec::new(),
            unmatchable: None,
        }
    }

    fn flag(&mut self, why: Unmatchable) {
        if self.unmatchable.is_none() {
            self.unmatchable = Some(why);
        }
    }
}

/// A word being read: its text after quote removal, and whether any of it was quoted.
#[derive(Default)]
struct Word {
    text: String,
    quoted: bool,
}

struct Parser<'a> {
    src: &'a str,
    chars: Vec<(usize, char)>,
    pos: usize,
    wd: Option<&'a Path>,
    depth: usize,
    /// Commands found inside substitutions and subshells.
    nested: Vec<SimpleCommand>,
    /// Here-document delimiters whose bodies start after the next newline.
    heredocs: Vec<(String, bool)>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, wd: Option<&'a Path>, depth: usize) -> Parser<'a> {
        Parser {
            src,
            chars: src.char_indices().collect(),
            pos: 0,
            wd,
            depth,
            nested: Vec::new(),
            heredocs: Vec::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|&(_, c)| c)
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).map(|&(_, c)| c)
    }

    fn offset(&self) -> usize {
        self.chars.get(self.pos).map_or(self.src.len(), |&(o, _)| o)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    /// Reads simple commands up to the end, or (with `until_paren`) up to the `)` closing
    /// the current substitution or subshell.
    fn list(&mut self, until_paren: bool, nested: bool) -> Vec<SimpleCommand> {
        let mut parts = Vec::new();
        self.skip_blanks();
        let mut cur = Builder::new(self.offset());
        loop {
            self.skip_blanks();
            let Some(c) = self.peek() else {
                if until_paren {
                    cur.flag(Unmatchable::UnbalancedQuotes);
                }
                self.finish(cur, nested, &mut parts);
                return parts;
            };
            let at = self.offset();
            match c {
                '\n' | ';' | '|' => {
                    self.pos += 1;
                    if c == '\n' {
                        self.skip_heredoc_bodies();
                    } else if matches!(self.peek(), Some(';' | '&' | '|')) {
                        self.pos += 1;
                    }
                    self.finish_at(cur, at, nested, &mut parts);
                    cur = self.next_builder();
                }
                '&' if self.peek_at(1) != Some('>') => {
                    self.pos += 1;
                    self.eat('&');
                    self.finish_at(cur, at, nested, &mut parts);
                    cur = self.next_builder();
                }
                ')' => {
                    self.pos += 1;
                    if until_paren {
                        self.finish_at(cur, at, nested, &mut parts);
                        return parts;
                    }
                    cur.flag(Unmatchable::UnbalancedQuotes);
                }
                '(' => {
                    self.pos += 1;
                    cur.flag(Unmatchable::Subshell);
                    self.sub_list();
                }
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                }
                '<' | '>' if self.peek_at(1) == Some('(') => {
                    self.pos += 2;
                    cur.flag(Unmatchable::ProcessSubstitution);
                    self.sub_list();
                    cur.words.push((self.src[at..self.offset()].to_string(), false));
                }
                _ if self.redirection_ahead() => self.redirection(&mut cur),
                _ => {
                    let w = self.word(&mut cur);
                    cur.words.push((w.text, w.quoted));
                }
            }
        }
    }

    fn next_builder(&mut self) -> Builder {
        self.skip_blanks();
        Builder::new(self.offset())
    }

    /// Parses a `( … )` body (the `(` already read) into `nested`.
    fn sub_list(&mut self) {
        if self.depth >= MAX_DEPTH {
            self.pos = self.chars.len();
            return;
        }
        self.depth += 1;
        let mut inner = self.list(true, true);
        self.depth -= 1;
        self.nested.append(&mut inner);
    }

    fn finish(&mut self, cur: Builder, nested: bool, parts: &mut Vec<SimpleCommand>) {
        let end = self.offset();
        self.finish_at(cur, end, nested, parts);
    }

    /// Closes the command `cur` that ends at byte `end`: keeps it unless it is empty, and
    /// notes keywords, groups and `sudo`.
    fn finish_at(&mut self, cur: Builder, end: usize, nested: bool, parts: &mut Vec<SimpleCommand>) {
        let Builder {
            start,
            words,
            mut unmatchable,
        } = cur;
        let text = self.src.get(start..end).unwrap_or("").trim().to_string();
        if words.is_empty() && unmatchable.is_none() && text.is_empty() {
            return;
        }
        if unmatchable.is_none()
            && let Some((first, false)) = words.first()
        {
            if CONTROL_KEYWORDS.contains(&first.as_str()) {
                unmatchable = Some(Unmatchable::ControlFlow(first.clone()));
            } else if first == "{" || first == "}" {
                unmatchable = Some(Unmatchable::Subshell);
            }
        }
        let words: Vec<String> = words.into_iter().map(|(w, _)| w).collect();
        if unmatchable.is_none() && command_starts(&words, false).1 {
            unmatchable = Some(Unmatchable::Sudo);
        }
        parts.push(SimpleCommand {
            text,
            words,
            unmatchable,
            nested,
        });
    }

    /// Whether a redirection operator starts here: `<`, `>`, `&>`, or digits then one.
    fn redirection_ahead(&self) -> bool {
        let mut n = 0;
        while self.peek_at(n).is_some_and(|c| c.is_ascii_digit()) {
            n += 1;
        }
        match self.peek_at(n) {
            Some('<' | '>') => true,
            Some('&') => n == 0 && self.peek_at(1) == Some('>'),
            _ => false,
        }
    }

    /// Reads one redirection: drops it when harmless, else marks the command.
    fn redirection(&mut self, cur: &mut Builder) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let first = self.peek();
        self.pos += 1;
        let mut dup = false;
        match first {
            Some('<') => {
                if self.eat('<') {
                    cur.flag(Unmatchable::HereDoc);
                    let string = self.eat('<');
                    let strip = !string && self.eat('-');
                    self.skip_blanks();
                    let delim = self.word(cur);
                    if !string {
                        self.heredocs.push((delim.text, strip));
                    }
                    return;
                }
                dup = self.eat('&');
                self.eat('>');
            }
            Some('>') => {
                dup = self.eat('&');
                if !dup {
                    let _ = self.eat('>') || self.eat('|');
                }
            }
            _ => {
                // `&>` or `&>>`
                self.eat('>');
                self.eat('>');
            }
        }
        self.skip_blanks();
        if self.peek().is_none_or(|c| "\n;&|()<>".contains(c)) {
            cur.flag(Unmatchable::RedirectionOutside("no target".into()));
            return;
        }
        let target = self.word(cur);
        let t = target.text.as_str();
        if dup && (t == "-" || t.chars().all(|c| c.is_ascii_digit())) || t == "/dev/null" {
            return;
        }
        let wd = self.wd;
        let inside = matches!((resolve(t, wd), wd), (Some(p), Some(wd)) if p.starts_with(wd));
        if !inside {
            cur.flag(Unmatchable::RedirectionOutside(target.text));
        }
    }

    /// After a newline: skips the bodies of the here-documents opened on the line before.
    fn skip_heredoc_bodies(&mut self) {
        for (delim, strip_tabs) in std::mem::take(&mut self.heredocs) {
            while self.pos < self.chars.len() {
                let start = self.offset();
                while self.peek().is_some_and(|c| c != '\n') {
                    self.pos += 1;
                }
                let line = &self.src[start..self.offset()];
                self.eat('\n');
                let line = if strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                if line == delim {
                    break;
                }
            }
        }
    }

    /// Reads one word, noting on `cur` what in it makes the command unmatchable.
    fn word(&mut self, cur: &mut Builder) -> Word {
        let mut w = Word::default();
        // Brace expansion (`{a,b}`, `{1..3}`) makes words the text does not show: an
        // unquoted `{` then `,` or `.` then `}` counts as an expansion.
        let mut brace = 0u8;
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')' => break,
                '\\' => {
                    self.pos += 1;
                    match self.peek() {
                        Some('\n') => self.pos += 1,
                        Some(c) => {
                            w.text.push(c);
                            w.quoted = true;
                            self.pos += 1;
                        }
                        None => w.text.push('\\'),
                    }
                }
                '\'' => {
                    self.pos += 1;
                    w.quoted = true;
                    loop {
                        match self.peek() {
                            Some('\'') => {
                                self.pos += 1;
                                break;
                            }
                            Some(c) => {
                                w.text.push(c);
                                self.pos += 1;
                            }
                            None => {
                                cur.flag(Unmatchable::UnbalancedQuotes);
                                break;
                            }
                        }
                    }
                }
                '"' => {
                    self.pos += 1;
                    w.quoted = true;
                    self.double_quoted(cur, &mut w);
                }
                '$' => self.dollar(cur, &mut w, false),
                '`' => self.backticks(cur, &mut w),
                c => {
                    match (c, brace) {
                        ('{', _) => brace = 1,
                        (',' | '.', 1) => brace = 2,
                        ('}', 2) => cur.flag(Unmatchable::Expansion),
                        _ => {}
                    }
                    w.text.push(c);
                    self.pos += 1;
                }
            }
        }
        w
    }

    /// The rest of a `"…"` string (the opening quote already read).
    fn double_quoted(&mut self, cur: &mut Builder, w: &mut Word) {
        loop {
            match self.peek() {
                Some('"') => {
                    self.pos += 1;
                    return;
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some('\n') => self.pos += 1,
                        Some(c @ ('$' | '`' | '"' | '\\')) => {
                            w.text.push(c);
                            self.pos += 1;
                        }
                        _ => w.text.push('\\'),
                    }
                }
                Some('$') => self.dollar(cur, w, true),
                Some('`') => self.backticks(cur, w),
                Some(c) => {
                    w.text.push(c);
                    self.pos += 1;
                }
                None => {
                    cur.flag(Unmatchable::UnbalancedQuotes);
                    return;
                }
            }
        }
    }

    /// A `$`: an expansion or substitution (the command becomes unmatchable; its text stays in
    /// the word as written), or a plain dollar sign.
    fn dollar(&mut self, cur: &mut Builder, w: &mut Word, in_double: bool) {
        let at = self.offset();
        self.pos += 1;
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                if self.peek() == Some('(') {
                    cur.flag(Unmatchable::Expansion);
                } else {
                    cur.flag(Unmatchable::CommandSubstitution);
                }
                self.sub_list();
            }
            Some('{') => {
                cur.flag(Unmatchable::Expansion);
                let mut depth = 0usize;
                while let Some(c) = self.peek() {
                    self.pos += 1;
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                if depth > 0 {
                    cur.flag(Unmatchable::UnbalancedQuotes);
                }
            }
            Some('\'') if !in_double => {
                cur.flag(Unmatchable::Expansion);
                self.pos += 1;
                loop {
                    match self.peek() {
                        Some('\\') => self.pos += 2,
                        Some('\'') => {
                            self.pos += 1;
                            break;
                        }
                        Some(_) => self.pos += 1,
                        None => {
                            cur.flag(Unmatchable::UnbalancedQuotes);
                            break;
                        }
                    }
                }
                self.pos = self.pos.min(self.chars.len());
            }
            Some('"') if !in_double => cur.flag(Unmatchable::Expansion),
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                cur.flag(Unmatchable::Expansion);
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.pos += 1;
                }
            }
            Some(c) if c.is_ascii_digit() || "?!#@*-$".contains(c) => {
                cur.flag(Unmatchable::Expansion);
                self.pos += 1;
            }
            _ => {}
        }
        w.text.push_str(&self.src[at..self.offset()]);
    }

    /// A `` `…` `` substitution: its body is parsed as a command of its own (nested).
    fn backticks(&mut self, cur: &mut Builder, w: &mut Word) {
        let at = self.offset();
        self.pos += 1;
        cur.flag(Unmatchable::CommandSubstitution);
        let mut body = String::new();
        loop {
            match self.peek() {
                Some('`') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ ('`' | '$' | '\\')) => {
                            body.push(c);
                            self.pos += 1;
                        }
                        _ => body.push('\\'),
                    }
                }
                Some(c) => {
                    body.push(c);
                    self.pos += 1;
                }
                None => {
                    cur.flag(Unmatchable::UnbalancedQuotes);
                    break;
                }
            }
        }
        w.text.push_str(&self.src[at..self.offset()]);
        if self.depth >= MAX_DEPTH {
            return;
        }
        let mut inner = Parser::new(&body, self.wd, self.depth + 1);
        let parts = inner.list(false, true);
        self.nested.extend(parts);
        self.nested.append(&mut inner.nested);
    }
}
