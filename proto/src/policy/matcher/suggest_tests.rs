//! What "allow always" proposes, and the checks a rule passes before it is saved.

use std::path::Path;

use serde_json::{Value, json};

use super::tests::{WD, allow, bash, file, request};
use super::*;
use crate::policy::{PermissionRule, RuleEffect};

#[test]
fn suggestions() {
    let wd = Some(Path::new(WD));
    let cases: &[(&str, &[&str])] = &[
        (
            "git status && cargo test -p x",
            &["git status", "cargo test -p x"],
        ),
        ("ls; ls", &["ls"]),
        ("echo $(date)", &[]),
        ("echo hi > /tmp/x", &[]),
        ("sudo ls", &[]),
        ("ls && echo $HOME", &["ls"]),
        (
            "cargo test 2>&1 | tee out.log",
            &["cargo test", "tee out.log"],
        ),
        ("echo hi > out.txt", &["echo hi"]),
        ("echo 'a b' \"it's\"", &["echo 'a b' 'it'\\''s'"]),
        ("rm *.o", &["rm '*.o'"]),
        ("", &[]),
    ];
    for (cmd, want) in cases {
        let got = suggest("Bash", &bash(cmd), wd);
        assert_eq!(got, *want, "{cmd}");
    }
    assert_eq!(
        suggest("Edit", &file("/work/proj/src/[a].rs"), wd),
        vec!["src/[[]a[]].rs"]
    );
    assert_eq!(
        suggest("Edit", &file("src/main.rs"), wd),
        vec!["src/main.rs"]
    );
    assert!(suggest("Edit", &file("/etc/passwd"), wd).is_empty());
    assert!(suggest("Edit", &file("src/main.rs"), None).is_empty());
    assert!(suggest("Edit", &json!({}), wd).is_empty());
    assert_eq!(
        suggest("WebFetch", &json!({"url": "https://x.dev/?q=*"}), wd),
        vec![r"https://x.dev/\?q=\*"]
    );
    assert_eq!(
        suggest("mcp__a__b", &json!({"q": "x*"}), wd),
        vec![r#"{"q":"x\*"}"#]
    );
}

#[test]
fn a_suggestion_made_a_rule_allows_exactly_that_call() {
    let wd = Path::new(WD);
    let calls: Vec<(&str, Value, Value)> = vec![
        (
            "Bash",
            bash("git status && cargo test -p 'my crate'"),
            bash("cargo test -p other"),
        ),
        ("Bash", bash("rm *.o"), bash("rm a.o")),
        (
            "Bash",
            bash("grep -e 'a|b' x > out.txt"),
            bash("grep -e a x"),
        ),
        ("Edit", file("src/[a].rs"), file("src/b.rs")),
        (
            "WebFetch",
            json!({"url": "https://x.dev/?q=*"}),
            json!({"url": "https://x.dev/?q=1"}),
        ),
        (
            "WebSearch",
            json!({"query": "what?"}),
            json!({"query": "whats"}),
        ),
        ("mcp__a__b", json!({"q": "x*"}), json!({"q": "xy"})),
    ];
    for (tool, input, other) in &calls {
        let rules: Vec<PermissionRule> = suggest(tool, input, Some(wd))
            .iter()
            .map(|p| {
                check_rule(tool, p, false).unwrap();
                allow(tool, p)
            })
            .collect();
        assert!(!rules.is_empty(), "{input}");
        let set = RuleSet::new(rules);
        let v = set.decide(&request(tool, input, Some(wd)));
        assert_eq!(v.effect, Some(RuleEffect::Allow), "{input}: {}", v.reason);
        let v = set.decide(&request(tool, other, Some(wd)));
        assert_eq!(
            v.effect, None,
            "{other} allowed by the suggestion for {input}"
        );
    }
}

#[test]
fn bad_rules_are_refused_with_one_line() {
    let unknown = check_rule("Bsh", "ls", false).unwrap_err();
    assert_eq!(
        unknown,
        "unknown tool 'Bsh': expected one of Bash, Edit, MultiEdit, Write, Read, NotebookEdit, \
         WebFetch, WebSearch, Glob, Grep, Task, TodoWrite, an MCP tool (mcp__server__tool) or *"
    );
    let bad: &[(&str, &str, bool, &str)] = &[
        ("Bash", "", false, "the pattern is empty"),
        ("Bash", "   ", true, "the pattern is empty"),
        ("mcp__github", "*", false, "unknown tool"),
        ("mcp____x", "*", false, "unknown tool"),
        ("bash", "ls", false, "unknown tool"),
        (
            "Bash",
            "*",
            false,
            "the pattern '*' matches every command; pass --force if you mean it",
        ),
        ("Bash", "* *", false, "matches every command"),
        ("*", "*", false, "matches every call of every tool"),
        ("Bash", "git\nstatus", false, "control characters"),
        ("Bash", "git status\u{1b}", true, "control characters"),
        ("Edit", "src/\u{202e}x", false, "invisible formatting"),
        ("Bash", "echo 'a", false, "unbalanced quotes"),
        ("Bash", "echo \"a", true, "unbalanced quotes"),
        ("*", "echo 'a", true, "unbalanced quotes"),
        ("Bash", "git status && rm x", false, "shell operator '&'"),
        ("Edit", "src/***", false, "invalid path glob"),
    ];
    for (tool, pattern, force, want) in bad {
        let e = check_rule(tool, pattern, *force).unwrap_err();
        assert!(e.contains(want), "{tool} {pattern:?}: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
    let unknown = check_rule("x\ny", "ls", false).unwrap_err();
    assert!(!unknown.contains('\n'), "{unknown}");
    let good: &[(&str, &str, bool)] = &[
        ("Bash", "git status", false),
        ("Bash", "cargo test *", false),
        ("Bash", "*", true),
        ("Bash", "'*'", false),
        ("Bash", "echo 'a && b'", false),
        ("*", "*", true),
        ("*", "https://x/?a=1&b=2", false),
        ("Edit", "src/**", false),
        ("Read", "/etc/**", false),
        ("WebFetch", "https://docs.rs/*", false),
        ("mcp__github__get_issue", "*", false),
        ("mcp__my-server__do_it", "{\"a\":*}", false),
    ];
    for (tool, pattern, force) in good {
        assert_eq!(
            check_rule(tool, pattern, *force),
            Ok(()),
            "{tool} {pattern}"
        );
    }
}
