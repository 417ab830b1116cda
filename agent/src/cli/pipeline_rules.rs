//! A pipeline file's `rules:`: the permission rules its tasks run under, checked with the rest
//! of the file before anything is created and added once its tasks exist. A rule already on
//! the hub (same tool, pattern, effect and place, still live) is not added again, so applying
//! a file twice makes no duplicates.
//!
//! ```yaml
//! rules:
//!   - { tool: Bash, pattern: "cargo test *" }                 # allow, the whole project
//!   - { tool: Edit, pattern: "src/**", task: gateway }         # only the task named gateway
//!   - { tool: Bash, pattern: "git push *", effect: deny, note: "humans push" }
//!   - { tool: WebFetch, pattern: "https://docs.rs/*", expires: 7d }
//! ```

use std::collections::HashMap;
use std::path::Path;

use orchestratia_proto::api::NewRule;
use orchestratia_proto::policy::{PermissionRule, RuleEffect, RuleScope, check_rule};
use orchestratia_proto::time::now_ms;
use serde::Deserialize;
use serde_json::{Value, json};

use super::policy::parse_expiry;
use super::print::table;
use super::{Ctx, usage};
use orchestratia_proto::model::short_id;

/// One rule of a pipeline file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleSpec {
    tool: String,
    pattern: String,
    /// `allow` (the default) or `deny`.
    #[serde(default)]
    effect: Option<RuleEffect>,
    /// `project` (the default) or `task` (then `task:` names the task).
    #[serde(default)]
    scope: Option<RuleScope>,
    /// The pipeline task (its `name`) whose sessions the rule is for.
    #[serde(default)]
    task: Option<String>,
    /// A duration from when the file is applied (`7d`) or an RFC 3339 time.
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    note: Option<String>,
    /// Accept a Bash pattern that matches every command (`*`).
    #[serde(default)]
    force: bool,
}

impl RuleSpec {
    fn effect(&self) -> RuleEffect {
        self.effect.unwrap_or(RuleEffect::Allow)
    }

    fn scope(&self) -> RuleScope {
        match (self.scope, &self.task) {
            (Some(s), _) => s,
            (None, Some(_)) => RuleScope::Task,
            (None, None) => RuleScope::Project,
        }
    }
}

/// The 1-based line of the `n`th `pattern:` key of the file (where rule `n` is), or 0.
fn rule_line(text: &str, n: usize) -> usize {
    let start = text
        .lines()
        .position(|l| l.trim_start().starts_with("rules:"))
        .unwrap_or(0);
    text.lines()
        .enumerate()
        .skip(start)
        .filter(|(_, l)| l.contains("pattern:"))
        .nth(n)
        .map(|(i, _)| i + 1)
        .unwrap_or(0)
}

/// Checks every rule (tool, pattern, scope, task name, expiry) before anything is sent; the
/// first fault is refused naming its line.
pub(super) fn check(
    rules: &[RuleSpec],
    task_names: &[&str],
    text: &str,
    path: &Path,
) -> anyhow::Result<()> {
    for (n, r) in rules.iter().enumerate() {
        let fail = |msg: String| {
            usage(format!(
                "{}:{}: rule {}: {msg}",
                path.display(),
                rule_line(text, n),
                n + 1
            ))
        };
        check_rule(&r.tool, &r.pattern, r.force).map_err(&fail)?;
        match (r.scope(), &r.task) {
            (RuleScope::Project, None) => {}
            (RuleScope::Task, Some(t)) if task_names.contains(&t.as_str()) => {}
            (RuleScope::Task, Some(t)) => {
                return Err(fail(format!("task '{t}' is not a task of the pipeline")));
            }
            (RuleScope::Task, None) => {
                return Err(fail("scope: task needs task: NAME".into()));
            }
            (RuleScope::Project, Some(_)) => {
                return Err(fail("task: is for a task rule, not scope: project".into()));
            }
            (s, _) => {
                return Err(fail(format!(
                    "scope: {s}: a pipeline's rules are for its project or one of its tasks"
                )));
            }
        }
        if let Some(e) = &r.expires {
            parse_expiry(e, now_ms()).map_err(&fail)?;
        }
    }
    Ok(())
}

/// A rule of the file as it is on the hub or was just added, and whether this run added it.
pub(super) type AppliedRule = (PermissionRule, bool);

/// Adds the file's rules that are not on the hub yet; `task_ids` maps the pipeline's task
/// names to their ids.
pub(super) async fn apply(
    ctx: &Ctx,
    rules: &[RuleSpec],
    project: &str,
    task_ids: &HashMap<String, String>,
) -> anyhow::Result<Vec<AppliedRule>> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let project_id = ctx
        .client
        .projects()
        .await?
        .into_iter()
        .find(|p| p.name == project || p.id.to_string() == project)
        .map(|p| p.id);
    let existing = ctx.client.rules(false).await?;
    let now = now_ms();
    let mut out = Vec::new();
    for r in rules {
        let task_id = r.task.as_ref().and_then(|t| task_ids.get(t)).cloned();
        let same = existing.iter().find(|x| {
            x.tool == r.tool
                && x.pattern == r.pattern
                && x.effect == r.effect()
                && x.scope == r.scope()
                && x.project_id == project_id
                && (r.scope() != RuleScope::Task || x.task_id.map(|t| t.to_string()) == task_id)
        });
        if let Some(x) = same {
            out.push((x.clone(), false));
            continue;
        }
        let expires_at = r
            .expires
            .as_deref()
            .map(|e| parse_expiry(e, now))
            .transpose()
            .map_err(usage)?;
        let body = NewRule {
            scope: Some(r.scope()),
            project: Some(project.to_string()),
            task: task_id,
            session: None,
            tool: r.tool.clone(),
            pattern: r.pattern.clone(),
            effect: r.effect(),
            expires_at,
            note: r.note.clone(),
            force: r.force,
        };
        out.push((ctx.client.add_rule(&body).await?, true));
    }
    Ok(out)
}

/// The applied rules for `--json`: `{id, tool, pattern, effect, scope, task, created}`.
pub(super) fn json_rows(applied: &[AppliedRule]) -> Vec<Value> {
    applied
        .iter()
        .map(|(r, created)| {
            json!({
                "id": r.id,
                "tool": r.tool,
                "pattern": r.pattern,
                "effect": r.effect,
                "scope": r.scope,
                "task": r.task_reference,
                "created": created,
            })
        })
        .collect()
}

/// The applied rules as a table (nothing when the file has none).
pub(super) fn text(applied: &[AppliedRule]) -> String {
    if applied.is_empty() {
        return String::new();
    }
    let rows = applied
        .iter()
        .map(|(r, created)| {
            vec![
                short_id(r.id),
                if *created {
                    "created".into()
                } else {
                    "unchanged".into()
                },
                r.describe(),
            ]
        })
        .collect();
    format!("\n{}", table(&["RULE", "", "WHAT"], rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> anyhow::Result<()> {
        #[derive(Deserialize)]
        struct F {
            rules: Vec<RuleSpec>,
        }
        let f: F = yaml_serde::from_str(y)?;
        check(&f.rules, &["build"], y, Path::new("p.yaml"))
    }

    #[test]
    fn rules_are_checked_naming_the_line() {
        let ok = "rules:\n  - { tool: Bash, pattern: \"cargo test *\" }\n  - { tool: Edit, pattern: \"src/**\", task: build, effect: deny, expires: 2h }\n";
        parse(ok).expect("valid");
        let e = parse(
            "rules:\n  - { tool: Bash, pattern: x }\n  - { tool: Edit, pattern: y, task: ghost }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("p.yaml:3: rule 2") && e.contains("'ghost'"),
            "{e}"
        );
        let e =
            parse("rules:\n  - tool: Bash\n    pattern: x\n    expires: 2001-01-01T00:00:00Z\n")
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("p.yaml:3") && e.contains("not in the future"),
            "{e}"
        );
        let e = parse("rules:\n  - { tool: Bash, pattern: x, scope: global }\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("its project or one of its tasks"), "{e}");
        assert!(parse("rules:\n  - { tool: Bash, pattern: x, effect: maybe }\n").is_err());
    }
}
