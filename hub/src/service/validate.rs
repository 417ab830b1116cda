//! Input checks shared by the operations: each answers with a one-line reason.

use std::time::Duration;

use orchestratia_proto::TASK_SPEC_SCHEMA;
use orchestratia_proto::api::{CompleteTask, CreateTask, UpdateTask};
use orchestratia_proto::workspace::BASE_UPSTREAM;
use serde_json::{Value, json};

use crate::bad;
use crate::engine::deps::validate_contract_key;
use crate::error::{HubError, HubResult};
use crate::store::tasks::TaskRecord;

/// A task's title is at most this many characters.
pub const MAX_TITLE: usize = 200;
/// A task may list at most this many `--depends-on` at creation.
pub const MAX_DEPENDS_ON: usize = 1000;

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

/// Longest branch or base name accepted.
const MAX_GIT_REF: usize = 200;

/// Checks a branch or base name as git would take it (`git check-ref-format`, kept to a
/// plain subset): 1–200 of letters, digits and `/ . _ - +`, no `..` or `//`, no part
/// starting with `.` or `-`, not ending with `/`, `.` or `.lock`.
pub fn git_ref(what: &str, s: &str) -> HubResult<String> {
    let s = s.trim();
    let chars_ok = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'+'));
    let parts_ok = s
        .split('/')
        .all(|p| !p.is_empty() && !p.starts_with('.') && !p.starts_with('-'));
    let ok = !s.is_empty()
        && s.len() <= MAX_GIT_REF
        && chars_ok
        && parts_ok
        && !s.contains("..")
        && !s.ends_with('.')
        && !s.ends_with(".lock");
    if ok {
        Ok(s.to_string())
    } else {
        Err(bad!(
            "invalid {what} '{}': use 1-{MAX_GIT_REF} letters, digits, '/', '.', '_', '-' or '+' (no '..', no part starting with '.' or '-')",
            s.chars().take(80).collect::<String>()
        ))
    }
}

/// The fields of a new task, checked.
pub struct NewTask {
    pub title: String,
    pub spec: String,
    pub structured_spec: Option<Value>,
    pub repo: Option<String>,
    /// Lower-cased.
    pub os: Option<String>,
    /// Those given and those the structured spec names, each once (case-insensitively).
    pub languages: Vec<String>,
    pub pipeline_key: Option<String>,
    /// A branch or commit its worktree starts from, or `upstream`.
    pub base: Option<String>,
    /// Its branch name.
    pub branch: Option<String>,
}

/// Checks a new task's fields (the agent is checked against the project's servers later).
pub fn new_task(body: &CreateTask, max_spec: usize) -> HubResult<NewTask> {
    let title = line("title", &body.title, MAX_TITLE)?;
    if title.contains('\n') {
        return Err(bad!("title must be one line"));
    }
    let spec = spec(&body.spec, max_spec)?;
    let structured = body
        .structured_spec
        .as_ref()
        .filter(|v| !v.is_null())
        .map(|v| structured_spec(v, max_spec))
        .transpose()?;
    let repo = body.repo.as_deref().map(|r| name("repo", r)).transpose()?;
    let os = body
        .os
        .as_deref()
        .map(|o| name("os", o).map(|o| o.to_ascii_lowercase()))
        .transpose()?;
    let mut languages: Vec<String> = Vec::new();
    let from_spec = structured.as_ref().map(spec_languages).unwrap_or_default();
    for l in body.languages.iter().chain(from_spec.iter()) {
        let l = name("language", l)?;
        if !languages.iter().any(|x| x.eq_ignore_ascii_case(&l)) {
            languages.push(l);
        }
    }
    let pipeline_key = body
        .pipeline_key
        .as_deref()
        .map(|k| name("pipeline key", k))
        .transpose()?;
    let base = body
        .base
        .as_deref()
        .map(|b| git_ref("base", b))
        .transpose()?;
    let branch = body
        .branch
        .as_deref()
        .map(|b| git_ref("branch", b))
        .transpose()?;
    if base.is_some() && body.base_from.is_some() {
        return Err(bad!("give --base or --base-from, not both"));
    }
    // A pipeline task gets its dependencies right after it is made (`pipeline apply`
    // checks the file has them): only a task made alone must name them here.
    if base.as_deref() == Some(BASE_UPSTREAM)
        && body.depends_on.is_empty()
        && body.pipeline_key.is_none()
    {
        return Err(bad!(
            "--base upstream needs a task to start from: add --depends-on TASK, or use \
             --base-from TASK"
        ));
    }
    if body.depends_on.len() > MAX_DEPENDS_ON {
        return Err(bad!("at most {MAX_DEPENDS_ON} --depends-on per task"));
    }
    Ok(NewTask {
        title,
        spec,
        structured_spec: structured,
        repo,
        os,
        languages,
        pipeline_key,
        base,
        branch,
    })
}

/// Checks an edit and writes its fields into `t`; answers the names of the fields given.
pub fn task_edits(
    t: &mut TaskRecord,
    body: &UpdateTask,
    max_spec: usize,
) -> HubResult<Vec<&'static str>> {
    let mut changed = Vec::new();
    if let Some(v) = &body.title {
        t.title = line("title", v, MAX_TITLE)?;
        changed.push("title");
    }
    if let Some(v) = &body.spec {
        t.spec = spec(v, max_spec)?;
        changed.push("spec");
    }
    if let Some(v) = &body.structured_spec {
        t.structured_spec = if v.is_null() {
            None
        } else {
            Some(structured_spec(v, max_spec)?)
        };
        changed.push("structured_spec");
    }
    if let Some(v) = body.priority {
        t.priority = v;
        changed.push("priority");
    }
    if let Some(v) = &body.repo {
        t.repo = Some(name("repo", v)?);
        changed.push("repo");
    }
    if let Some(v) = &body.languages {
        t.languages = v
            .iter()
            .map(|l| name("language", l))
            .collect::<HubResult<_>>()?;
        changed.push("languages");
    }
    if let Some(v) = &body.agent {
        t.agent = Some(name("agent", v)?);
        changed.push("agent");
    }
    if let Some(v) = body.keep_session {
        t.keep_session = v;
        changed.push("keep_session");
    }
    Ok(changed)
}

/// Checks a completion (its texts, contract keys and sizes) and answers the result to store:
/// summary, changes, tests and the keys of the contracts it publishes.
pub fn completion(body: &CompleteTask, max_contract: usize) -> HubResult<Value> {
    let summary = text("summary", &body.result.summary, 20_000)?;
    let changes = body
        .result
        .changes
        .as_deref()
        .map(|v| optional_text("changes", v, 100_000))
        .transpose()?;
    let tests = body
        .result
        .tests
        .as_deref()
        .map(|v| optional_text("tests", v, 100_000))
        .transpose()?;
    if body.contracts.len() > 100 {
        return Err(bad!("at most 100 contracts per completion"));
    }
    for (k, v) in &body.contracts {
        validate_contract_key(k).map_err(|e| bad!("{e}"))?;
        let size = v.to_string().len();
        if size > max_contract {
            return Err(HubError::TooLarge(format!(
                "contract '{k}' is {size} bytes; the limit is {max_contract}"
            )));
        }
    }
    Ok(
        json!({"summary": summary, "changes": changes, "tests": tests,
              "contracts": body.contracts.keys().collect::<Vec<_>>()}),
    )
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

    #[test]
    fn branch_and_base_names_are_checked_as_git_would() {
        for ok in [
            "main",
            "orc/T7-gateway-tests",
            "release/1.2",
            "a+b_c",
            "abc123def",
        ] {
            assert_eq!(git_ref("branch", ok).ok().as_deref(), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "a..b",
            "a//b",
            "/a",
            "a/",
            "-a",
            "a/.b",
            "a.lock",
            "a.",
            "a b",
            "a~1",
            "a:b",
            "a\u{1b}[0m",
        ] {
            assert!(git_ref("branch", bad).is_err(), "{bad:?}");
        }
        assert!(git_ref("branch", &"a".repeat(201)).is_err());
    }
}
