//! The decision of a set of rules on one tool call.
//!
//! Per part (a simple command of a Bash chain, or the whole input of another tool): any
//! matching live deny denies; else the allow of the narrowest scope, then the longest
//! pattern, names the rule. A Bash chain is allowed only when every top-level part is, and
//! denied when any part (nested ones too) is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use uuid::Uuid;

use super::pattern::{
    BashPattern, PathGlob, PatternError, TextGlob, escape_text, exact_bash_pattern,
};
use super::shell::{self, SimpleCommand};
use super::{KNOWN_TOOLS, PartVerdict, PermissionRule, RuleEffect, RuleScope, Verdict};
use crate::model::short_id;
use crate::text;

/// One tool call to decide, with where it comes from.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub tool: &'a str,
    pub input: &'a Value,
    /// The session's working dir: file paths and redirections are judged against it.
    pub working_dir: Option<&'a Path>,
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    /// Now, in milliseconds (expired rules decide nothing).
    pub now: i64,
}

/// How a tool's input is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `command` split into simple commands, matched word by word.
    Bash,
    /// `file_path` / `notebook_path` against a path glob.
    File,
    /// `url` against a text glob.
    Url,
    /// `query` against a text glob.
    Query,
    /// The compact JSON input against a text glob.
    Json,
}

fn kind_of(tool: &str) -> Kind {
    match tool {
        "Bash" => Kind::Bash,
        "Edit" | "MultiEdit" | "Write" | "Read" | "NotebookEdit" => Kind::File,
        "WebFetch" => Kind::Url,
        "WebSearch" => Kind::Query,
        _ => Kind::Json,
    }
}

/// A rule's pattern read for the kinds it applies to (all of them for tool `*`); a pattern
/// that does not read as a kind never matches it.
#[derive(Debug, Clone, Default)]
struct Compiled {
    bash: Option<BashPattern>,
    path: Option<PathGlob>,
    text: Option<TextGlob>,
}

/// Where to look for the rules that may match a request.
#[derive(Debug, Clone, Default)]
struct Index {
    /// Bash rules (and tool `*` rules) by their literal first word.
    bash_first: HashMap<String, Vec<usize>>,
    /// Bash rules (and tool `*` rules) whose first word is a glob.
    bash_wild: Vec<usize>,
    /// Other rules by tool.
    by_tool: HashMap<String, Vec<usize>>,
    /// Tool `*` rules, for requests other than Bash.
    any_tool: Vec<usize>,
}

/// Rules indexed for deciding fast.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<PermissionRule>,
    compiled: Vec<Compiled>,
    index: Index,
}

/// How one part came out.
enum Outcome {
    Denied(usize),
    Allowed(usize),
    Unmatchable(String),
    NoRule,
}

impl RuleSet {
    /// Reads and indexes `rules` (their order breaks ties: earlier wins).
    pub fn new(rules: Vec<PermissionRule>) -> RuleSet {
        let mut compiled = Vec::with_capacity(rules.len());
        let mut index = Index::default();
        for (i, r) in rules.iter().enumerate() {
            let any = r.tool == "*";
            let kind = kind_of(&r.tool);
            let mut c = Compiled::default();
            if any || kind == Kind::Bash {
                c.bash = BashPattern::parse(&r.pattern).ok();
                if let Some(b) = &c.bash {
                    match b.first_literal() {
                        Some(w) => index.bash_first.entry(w.to_string()).or_default().push(i),
                        None => index.bash_wild.push(i),
                    }
                }
            }
            if any || kind == Kind::File {
                c.path = PathGlob::parse(&r.pattern).ok();
            }
            if any || matches!(kind, Kind::Url | Kind::Query | Kind::Json) {
                c.text = Some(TextGlob::parse(&r.pattern));
            }
            if any {
                index.any_tool.push(i);
            } else if kind != Kind::Bash {
                index.by_tool.entry(r.tool.clone()).or_default().push(i);
            }
            compiled.push(c);
        }
        RuleSet {
            rules,
            compiled,
            index,
        }
    }

    /// How many rules it holds.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules it holds, in the order given.
    pub fn rules(&self) -> &[PermissionRule] {
        &self.rules
    }

    /// The rules' decision on `req`.
    pub fn decide(&self, req: &Request<'_>) -> Verdict {
        match kind_of(req.tool) {
            Kind::Bash => self.decide_bash(req),
            kind => self.decide_single(req, kind),
        }
    }

    /// Whether rule `i` takes part for `req`: live, and its scope holds the request.
    fn applies(&self, i: usize, req: &Request<'_>) -> bool {
        let r = &self.rules[i];
        r.live(req.now)
            && match r.scope {
                RuleScope::Global => true,
                RuleScope::Project => r.project_id.is_some() && r.project_id == req.project_id,
                RuleScope::Task => r.task_id.is_some() && r.task_id == req.task_id,
                RuleScope::Session => r.session_id.is_some() && r.session_id == req.session_id,
            }
    }

    /// Keeps in `best` the more specific of it and rule `i`: the narrower scope, then the
    /// longer pattern, then the earlier rule.
    fn prefer(&self, best: &mut Option<usize>, i: usize) {
        let key = |j: usize| {
            let r = &self.rules[j];
            (r.scope, r.pattern.chars().count(), std::cmp::Reverse(j))
        };
        if best.is_none_or(|b| key(i) > key(b)) {
            *best = Some(i);
        }
    }

    fn decide_bash(&self, req: &Request<'_>) -> Verdict {
        let Some(command) = req.input.get("command").and_then(Value::as_str) else {
            return undecided("the input has no command: no rule matches".into());
        };
        let parts = shell::split(command, req.working_dir);
        let mut shown = Vec::new();
        let mut outcomes = Vec::new();
        for part in &parts {
            let (deny, allow) = self.bash_part(part, req);
            let outcome = match (deny, &part.unmatchable, allow) {
                (Some(d), _, _) => Outcome::Denied(d),
                _ if part.nested => continue,
                (None, Some(why), _) => Outcome::Unmatchable(why.to_string()),
                (None, None, Some(a)) => Outcome::Allowed(a),
                (None, None, None) => Outcome::NoRule,
            };
            shown.push(part.text.as_str());
            outcomes.push(outcome);
        }
        self.verdict(&shown, outcomes, "the command is empty: no rule matches")
    }

    /// The best deny and the best allow rule for one simple command.
    fn bash_part(&self, part: &SimpleCommand, req: &Request<'_>) -> (Option<usize>, Option<usize>) {
        let (mut deny, mut allow) = (None, None);
        let (starts, _) = shell::command_starts(&part.words, true);
        for (n, &start) in starts.iter().enumerate() {
            let words = &part.words[start..];
            let first = words.first().map(String::as_str);
            let based = first.map(shell::basename).filter(|b| Some(*b) != first);
            let keys = [first, based];
            let by_first = keys
                .iter()
                .flatten()
                .filter_map(|w| self.index.bash_first.get(*w))
                .flatten();
            for &i in by_first.chain(&self.index.bash_wild) {
                let r = &self.rules[i];
                // Only the command as written may be allowed; every way of reading it is
                // looked at for denies.
                if r.effect == RuleEffect::Allow && (n > 0 || part.unmatchable.is_some()) {
                    continue;
                }
                let Some(p) = &self.compiled[i].bash else {
                    continue;
                };
                let hit = p.matches(words)
                    || based.is_some_and(|b| {
                        r.effect == RuleEffect::Deny && p.matches(&based_words(b, words))
                    });
                if hit && self.applies(i, req) {
                    match r.effect {
                        RuleEffect::Deny => self.prefer(&mut deny, i),
                        RuleEffect::Allow => self.prefer(&mut allow, i),
                    }
                }
            }
        }
        (deny, allow)
    }

    fn decide_single(&self, req: &Request<'_>, kind: Kind) -> Verdict {
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| req.input.get(*n).and_then(Value::as_str))
        };
        let (shown, subject) = match kind {
            Kind::File => match field(&["file_path", "notebook_path"]) {
                Some(p) => (
                    p.to_string(),
                    Subject::Path(FilePath::new(p, req.working_dir)),
                ),
                None => return undecided("the input has no file_path: no rule matches".into()),
            },
            Kind::Url => match field(&["url"]) {
                Some(u) => (u.to_string(), Subject::Text(u.to_string())),
                None => return undecided("the input has no url: no rule matches".into()),
            },
            Kind::Query => match field(&["query"]) {
                Some(q) => (q.to_string(), Subject::Text(q.to_string())),
                None => return undecided("the input has no query: no rule matches".into()),
            },
            Kind::Json | Kind::Bash => {
                let json = req.input.to_string();
                (json.clone(), Subject::Text(json))
            }
        };
        let (mut deny, mut allow) = (None, None);
        let candidates = self
            .index
            .by_tool
            .get(req.tool)
            .into_iter()
            .flatten()
            .chain(&self.index.any_tool);
        for &i in candidates {
            let effect = self.rules[i].effect;
            let c = &self.compiled[i];
            let hit = match &subject {
                Subject::Path(fp) => c.path.as_ref().is_some_and(|g| fp.matched_by(g, effect)),
                Subject::Text(t) => c.text.as_ref().is_some_and(|g| g.matches(t)),
            };
            if hit && self.applies(i, req) {
                match effect {
                    RuleEffect::Deny => self.prefer(&mut deny, i),
                    RuleEffect::Allow => self.prefer(&mut allow, i),
                }
            }
        }
        let outcome = match (deny, allow) {
            (Some(d), _) => Outcome::Denied(d),
            (None, Some(a)) => Outcome::Allowed(a),
            (None, None) => Outcome::NoRule,
        };
        self.verdict(&[shown.as_str()], vec![outcome], "")
    }

    /// The verdict from each shown part's outcome.
    fn verdict(&self, shown: &[&str], outcomes: Vec<Outcome>, empty: &str) -> Verdict {
        let parts: Vec<PartVerdict> = shown
            .iter()
            .zip(&outcomes)
            .map(|(part, o)| self.part_verdict(part, o))
            .collect();
        if let Some((n, i)) = outcomes.iter().enumerate().find_map(|(n, o)| match o {
            Outcome::Denied(i) => Some((n, *i)),
            _ => None,
        }) {
            let mut reason = format!("denied by rule {}", self.rule_line(i));
            if shown.len() > 1 {
                reason.push_str(&format!(" on {}", quoted(shown, n)));
            }
            return Verdict {
                effect: Some(RuleEffect::Deny),
                rule: Some(self.rules[i].clone()),
                parts,
                reason,
            };
        }
        let blocker = outcomes
            .iter()
            .enumerate()
            .find(|(_, o)| !matches!(o, Outcome::Allowed(_)));
        match blocker {
            Some((n, Outcome::Unmatchable(why))) => Verdict {
                effect: None,
                rule: None,
                parts,
                reason: format!("{}: {why} is never allowed by a rule", quoted(shown, n)),
            },
            Some((n, _)) => Verdict {
                effect: None,
                rule: None,
                parts,
                reason: format!("no rule matches {}", quoted(shown, n)),
            },
            None if outcomes.is_empty() => undecided(empty.to_string()),
            None => self.allowed(&outcomes, parts),
        }
    }

    /// One part's verdict: its effect, the rule that decided it and why.
    fn part_verdict(&self, part: &str, outcome: &Outcome) -> PartVerdict {
        let (effect, rule_id, why) = match outcome {
            Outcome::Denied(i) => (
                Some(RuleEffect::Deny),
                Some(self.rules[*i].id),
                format!("denied by rule {}", self.rule_line(*i)),
            ),
            Outcome::Allowed(i) => (
                Some(RuleEffect::Allow),
                Some(self.rules[*i].id),
                format!("allowed by rule {}", self.rule_line(*i)),
            ),
            Outcome::Unmatchable(why) => (None, None, format!("{why} is never allowed by a rule")),
            Outcome::NoRule => (None, None, "no rule matches".into()),
        };
        PartVerdict {
            part: text::clip(part, 500),
            effect,
            rule_id,
            why,
        }
    }

    /// The verdict when every part is allowed: it names each allowing rule once, in order.
    fn allowed(&self, outcomes: &[Outcome], parts: Vec<PartVerdict>) -> Verdict {
        let mut ids: Vec<usize> = Vec::new();
        for o in outcomes {
            if let Outcome::Allowed(i) = o
                && !ids.contains(i)
            {
                ids.push(*i);
            }
        }
        let reason = if let [only] = ids.as_slice() {
            format!("allowed by rule {}", self.rule_line(*only))
        } else {
            let list: Vec<String> = ids.iter().map(|&i| self.rule_line(i)).collect();
            format!("allowed by rules {}", list.join("; "))
        };
        Verdict {
            effect: Some(RuleEffect::Allow),
            rule: ids.first().map(|&i| self.rules[i].clone()),
            parts,
            reason,
        }
    }

    /// A rule as reasons name it: its short id and what it says.
    fn rule_line(&self, i: usize) -> String {
        let r = &self.rules[i];
        format!("{}: {}", short_id(r.id), r.describe())
    }
}

/// Part `n` of a shown request, quoted and clipped for a reason.
fn quoted(shown: &[&str], n: usize) -> String {
    format!("\"{}\"", text::clip(shown[n], 120))
}

/// What a non-Bash request is matched on.
enum Subject {
    Path(FilePath),
    Text(String),
}

/// A file tool's path, resolved lexically.
struct FilePath {
    /// Where it lands (`None`: relative with no working dir, or `~…`).
    absolute: Option<PathBuf>,
    /// Where it lands relative to the working dir, when inside it.
    relative: Option<String>,
}

impl FilePath {
    fn new(path: &str, working_dir: Option<&Path>) -> FilePath {
        let wd = working_dir.map(shell::normalize);
        let absolute = shell::resolve(path, wd.as_deref());
        let relative = match (&absolute, &wd) {
            (Some(a), Some(wd)) => a
                .strip_prefix(wd)
                .ok()
                .and_then(|r| r.to_str())
                .map(str::to_string),
            _ => None,
        };
        FilePath { absolute, relative }
    }

    /// An allow matches only a path inside the working dir; a deny also an absolute path
    /// anywhere, by a glob starting with `/`.
    fn matched_by(&self, glob: &PathGlob, effect: RuleEffect) -> bool {
        let Some(rel) = &self.relative else {
            return effect == RuleEffect::Deny
                && glob.absolute()
                && self
                    .absolute
                    .as_ref()
                    .and_then(|a| a.to_str())
                    .is_some_and(|a| glob.matches(a));
        };
        if glob.absolute() {
            self.absolute
                .as_ref()
                .and_then(|a| a.to_str())
                .is_some_and(|a| glob.matches(a))
        } else {
            glob.matches(rel)
        }
    }
}

/// `words` with the first replaced by its basename (`/bin/rm -rf x` → `rm -rf x`).
fn based_words<'w>(base: &'w str, words: &'w [String]) -> Vec<&'w str> {
    std::iter::once(base)
        .chain(words.iter().skip(1).map(String::as_str))
        .collect()
}

fn undecided(reason: String) -> Verdict {
    Verdict {
        effect: None,
        rule: None,
        parts: Vec::new(),
        reason,
    }
}

/// The narrowest patterns that would allow this call (one per distinct simple command of a
/// Bash chain), for "allow always" to propose.
pub fn suggest(tool: &str, input: &Value, working_dir: Option<&Path>) -> Vec<String> {
    let field = |name: &str| input.get(name).and_then(Value::as_str);
    match kind_of(tool) {
        Kind::Bash => {
            let Some(command) = field("command") else {
                return Vec::new();
            };
            let mut out: Vec<String> = Vec::new();
            for part in shell::split(command, working_dir) {
                let usable = !part.nested
                    && part.unmatchable.is_none()
                    && !part.words.is_empty()
                    && !part.words.iter().any(|w| w.chars().any(char::is_control));
                if usable {
                    let p = exact_bash_pattern(&part.words);
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
            out
        }
        Kind::File => {
            let path = field("file_path").or_else(|| field("notebook_path"));
            path.and_then(|p| FilePath::new(p, working_dir).relative)
                .filter(|r| !r.is_empty() && !r.chars().any(char::is_control))
                .map(|r| vec![glob::Pattern::escape(&r)])
                .unwrap_or_default()
        }
        Kind::Url => field("url")
            .map(|u| vec![escape_text(u)])
            .unwrap_or_default(),
        Kind::Query => field("query")
            .map(|q| vec![escape_text(q)])
            .unwrap_or_default(),
        Kind::Json => vec![escape_text(&input.to_string())],
    }
}

/// Whether `tool` names an MCP tool: `mcp__<server>__<tool>`.
fn is_mcp_tool(tool: &str) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    tool.strip_prefix("mcp__")
        .and_then(|rest| rest.split_once("__"))
        .is_some_and(|(server, name)| ok(server) && ok(name))
}

/// Checks that a rule may name `tool`: a known tool, an MCP tool (`mcp__server__tool`) or `*`.
pub fn check_tool(tool: &str) -> Result<(), String> {
    if tool == "*" || KNOWN_TOOLS.contains(&tool) || is_mcp_tool(tool) {
        return Ok(());
    }
    Err(format!(
        "unknown tool '{}': expected one of {}, an MCP tool (mcp__server__tool) or *",
        text::clip(tool, 60),
        KNOWN_TOOLS.join(", ")
    ))
}

/// Checks a rule's tool and pattern before it is saved: a known tool, a pattern that is not
/// empty and, for Bash, not one that matches everything (`*` alone) unless `force`.
pub fn check_rule(tool: &str, pattern: &str, force: bool) -> Result<(), String> {
    check_tool(tool)?;
    if pattern.trim().is_empty() {
        return Err("the pattern is empty".into());
    }
    if let Some(what) = text::name_problem(pattern) {
        return Err(format!("the pattern holds {what}"));
    }
    let kind = kind_of(tool);
    if tool == "*" || kind == Kind::Bash {
        match BashPattern::parse(pattern) {
            Ok(p) if p.matches_everything() && !force => {
                let what = if tool == "*" {
                    "every call of every tool"
                } else {
                    "every command"
                };
                return Err(format!(
                    "the pattern '{pattern}' matches {what}; pass --force if you mean it"
                ));
            }
            Ok(_) => {}
            // A `*` rule's pattern may be meant for another kind of tool: only quotes must
            // balance.
            Err(PatternError::Operator(_)) if tool == "*" => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    if kind == Kind::File
        && let Err(e) = PathGlob::parse(pattern)
    {
        return Err(e.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod suggest_tests;
#[cfg(test)]
mod tests;
