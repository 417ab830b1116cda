//! The reader behind [`split`]: a walk over the command's characters that knows quotes,
//! escapes, operators, redirections, substitutions and here-documents.

use std::path::Path;

use super::{CONTROL_KEYWORDS, MAX_DEPTH, SimpleCommand, Unmatchable, command_starts, resolve};

/// A simple command being read.
struct Builder {
    start: usize,
    words: Vec<(String, bool)>,
    unmatchable: Option<Unmatchable>,
    /// It has a redirection (a command of redirections alone still truncates files).
    redirected: bool,
}

impl Builder {
    fn new(start: usize) -> Builder {
        Builder {
            start,
            words: Vec::new(),
            unmatchable: None,
            redirected: false,
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

pub(super) struct Parser<'a> {
    src: &'a str,
    chars: Vec<(usize, char)>,
    pos: usize,
    wd: Option<&'a Path>,
    depth: usize,
    /// Commands found inside substitutions and subshells.
    pub(super) nested: Vec<SimpleCommand>,
    /// Here-document delimiters whose bodies start after the next newline.
    heredocs: Vec<(String, bool)>,
}

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a str, wd: Option<&'a Path>, depth: usize) -> Parser<'a> {
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
    pub(super) fn list(&mut self, until_paren: bool, nested: bool) -> Vec<SimpleCommand> {
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
                    cur.words
                        .push((self.src[at..self.offset()].to_string(), false));
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
    fn finish_at(
        &mut self,
        cur: Builder,
        end: usize,
        nested: bool,
        parts: &mut Vec<SimpleCommand>,
    ) {
        let Builder {
            start,
            words,
            mut unmatchable,
            redirected,
        } = cur;
        if words.is_empty() && unmatchable.is_none() && !redirected {
            return;
        }
        let text = self.src.get(start..end).unwrap_or("").trim().to_string();
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
        // After a change of directory, where a relative target lands is no longer known.
        if words
            .first()
            .is_some_and(|w| matches!(w.as_str(), "cd" | "pushd" | "popd"))
        {
            self.wd = None;
        }
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
        cur.redirected = true;
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
