//! Input checks shared by the operations: each answers with a one-line reason.

use std::time::Duration;

use orchestratia_proto::TASK_SPEC_SCHEMA;
use serde_json::Value;

use crate::bad;
use crate::error::{HubError, HubResult};

/// A required free-text field: trimmed, non-empty, at most `max` characters, no control
/// characters other than newlines and tabs.
pub fn text(field: &str, value: &str, max: usize) -> HubResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(bad!("{field} must not be empty"));
    }
    optional_text(field, v, max)
}

/// A free-text field that may be empty.
pub fn optional_text(field: &str, value: &str, max: usize) -> HubResult<String> {
    let n = value.chars().count();
    if n > max {
        return Err(HubError::TooLarge(format!(
            "{field} is {n} characters; the limit is {max}"
        )));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(bad!("{field} contains control characters"));
    }
    Ok(value.to_string())
}

/// `text` cut to `max` characters (what an agent says, kept in an event).
pub fn bounded(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A name (server, repo, language): 1–64 of letters, digits, `_`, `-`, `.`, `+`, `#`.
pub fn name(field: &str, value: &str) -> HubResult<String> {
    let v = value.trim();
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+' | b'#'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(bad!(
            "invalid {field} '{value}': use 1-64 letters, digits, '_', '-', '.', '+' or '#'"
        ))
    }
}

/// A one-line title or name shown in tables: trimmed, non-empty, at most `max` characters, and
/// nothing that could move or hide text on a terminal (control characters including line
/// breaks, bidirectional overrides, zero-width characters).
pub fn line(field: &str, value: &str, max: usize) -> HubResult<String> {
    let v = text(field, value, max)?;
    match orchestratia_proto::text::name_problem(&v) {
        Some(what) => Err(bad!(
            "{field} must be one line of visible text: it contains {what}"
        )),
        None => Ok(v),
    }
}

/// A project name: one line of 1–100 visible characters.
pub fn project_name(value: &str) -> HubResult<String> {
    line("project name", value, 100)
}

/// A spec body: at most `max` bytes.
pub fn spec(value: &str, max: usize) -> HubResult<String> {
    if value.len() > max {
        return Err(HubError::TooLarge(format!(
            "spec is {} bytes; the limit is {max}",
            value.len()
        )));
    }
    Ok(value.to_string())
}

/// A structured spec in the `orchestratia/task-spec/v1` shape: an object; `$schema`, when
/// present, names that format; `requirements` is a list of `{description, priority:
/// must|should|could}`; `constraints` an object of string lists.
pub fn structured_spec(v: &Value, max: usize) -> HubResult<Value> {
    let size = v.to_string().len();
    if size > max {
        return Err(HubError::TooLarge(format!(
            "structured spec is {size} bytes; the limit is {max}"
        )));
    }
    let Some(obj) = v.as_object() else {
        return Err(bad!("structured spec must be a JSON object"));
    };
    if let Some(s) = obj.get("$schema")
        && s.as_str() != Some(TASK_SPEC_SCHEMA)
    {
        return Err(bad!(
            "structured spec $schema must be \"{TASK_SPEC_SCHEMA}\""
        ));
    }
    if let Some(reqs) = obj.get("requirements") {
        let Some(list) = reqs.as_array() else {
            return Err(bad!("structured spec: requirements must be a list"));
        };
        for (i, r) in list.iter().enumerate() {
            let desc = r.get("description").and_then(Value::as_str);
            if desc.is_none_or(|d| d.trim().is_empty()) {
                return Err(bad!(
                    "structured spec: requirements[{i}] needs a non-empty description"
                ));
            }
            if let Some(p) = r.get("priority")
                && !matches!(p.as_str(), Some("must" | "should" | "could"))
            {
                return Err(bad!(
                    "structured spec: requirements[{i}].priority must be must, should or could"
                ));
            }
        }
    }
    if let Some(c) = obj.get("constraints") {
        let Some(map) = c.as_object() else {
            return Err(bad!("structured spec: constraints must be an object"));
        };
        for (k, v) in map {
            let ok = v.as_array().is_some_and(|l| l.iter().all(Value::is_string));
            if !ok {
                return Err(bad!(
                    "structured spec: constraints.{k} must be a list of strings"
                ));
            }
        }
    }
    let mut out = v.clone();
    if let Some(o) = out.as_object_mut() {
        o.entry("$schema")
            .or_insert_with(|| Value::String(TASK_SPEC_SCHEMA.into()));
    }
    Ok(out)
}

/// The languages a structured spec's constraints name.
pub fn spec_languages(v: &Value) -> Vec<String> {
    v.pointer("/constraints/languages")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A long-poll duration (`30s`, `500ms`, or bare seconds), capped at `max`.
pub fn parse_wait(v: Option<&str>, max: Duration) -> HubResult<Duration> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Duration::ZERO);
    };
    let d = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(v)
            .map_err(|_| bad!("invalid wait '{v}': use a duration such as 30s or 500ms"))?,
    };
    Ok(d.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_and_names() {
        assert!(text("title", "  ", 10).is_err());
        assert_eq!(text("title", " ok ", 10).ok().as_deref(), Some("ok"));
        assert!(matches!(
            text("title", "abcdefghijk", 10),
            Err(HubError::TooLarge(_))
        ));
        assert!(text("title", "a\u{7}b", 10).is_err());
        assert!(name("server name", "dev-backend").is_ok());
        assert!(name("server name", "dev backend").is_err());
        assert!(name("language", "c++").is_ok());
        assert!(line("title", "Gateway tests ✓", 100).is_ok());
        for bad in [
            "a\rb",
            "a\nb",
            "a\tb",
            "x\u{202e}y",
            "x\u{200b}y",
            "\x1b[8mx",
        ] {
            assert!(line("title", bad, 100).is_err(), "{bad:?}");
            assert!(project_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn structured_specs() {
        let ok = json!({"requirements": [{"description": "x", "priority": "must"}],
                        "constraints": {"languages": ["python"]}});
        let v = structured_spec(&ok, 1000).unwrap();
        assert_eq!(v["$schema"], TASK_SPEC_SCHEMA);
        assert_eq!(spec_languages(&v), vec!["python"]);
        assert!(structured_spec(&json!([1]), 1000).is_err());
        assert!(structured_spec(&json!({"$schema": "other"}), 1000).is_err());
        assert!(structured_spec(&json!({"requirements": [{"priority": "must"}]}), 1000).is_err());
        assert!(
            structured_spec(
                &json!({"requirements": [{"description": "x", "priority": "urgent"}]}),
                1000
            )
            .is_err()
        );
        assert!(structured_spec(&json!({"constraints": {"languages": "rust"}}), 1000).is_err());
        assert!(matches!(
            structured_spec(&ok, 10),
            Err(HubError::TooLarge(_))
        ));
    }

    #[test]
    fn waits() {
        let max = Duration::from_secs(300);
        assert_eq!(parse_wait(None, max).ok(), Some(Duration::ZERO));
        assert_eq!(
            parse_wait(Some("30s"), max).ok(),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_wait(Some("250ms"), max).ok(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_wait(Some("20"), max).ok(),
            Some(Duration::from_secs(20))
        );
        assert_eq!(parse_wait(Some("1h"), max).ok(), Some(max));
        assert!(parse_wait(Some("soon"), max).is_err());
    }
}
