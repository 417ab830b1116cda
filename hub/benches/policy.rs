//! Permission policy speed: how many tool calls a set of 1,000 realistic rules decides per
//! second in process (Bash prefixes over ~200 commands, file globs, deny rules, rules of every
//! scope), over a mix of Bash chains, file edits, web fetches and MCP calls.
//!
//! `cargo bench --workspace --bench policy` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use orchestratia_proto::policy::{
    PermissionRule, Request, RuleEffect, RuleScope, RuleSet, check_rule,
};
use serde_json::{Value, json};
use uuid::Uuid;

const COMMON: &[&str] = &[
    "git",
    "cargo",
    "npm",
    "pnpm",
    "yarn",
    "make",
    "ls",
    "cat",
    "grep",
    "rg",
    "find",
    "sed",
    "awk",
    "head",
    "tail",
    "wc",
    "sort",
    "uniq",
    "diff",
    "echo",
    "python3",
    "pytest",
    "go",
    "rustc",
    "node",
    "docker",
    "kubectl",
    "terraform",
    "jq",
    "curl",
    "tar",
    "cp",
    "mv",
    "mkdir",
    "touch",
    "chmod",
    "tee",
    "xargs",
    "env",
    "which",
];

const SUBS: &[&str] = &[
    "status", "test", "build", "run", "check", "list", "show", "log",
];

/// The ~200 distinct command names the rules and requests use.
fn commands() -> Vec<String> {
    let mut all: Vec<String> = COMMON.iter().map(|s| s.to_string()).collect();
    let mut i = 0;
    while all.len() < 200 {
        all.push(format!("tool{i}"));
        i += 1;
    }
    all
}

fn rule(n: usize, tool: &str, pattern: String, effect: RuleEffect) -> PermissionRule {
    PermissionRule {
        id: Uuid::from_u128(n as u128 + 1),
        scope: RuleScope::Global,
        project_id: None,
        project: None,
        task_id: None,
        task_reference: None,
        session_id: None,
        tool: tool.into(),
        pattern,
        effect,
        created_by: "bench".into(),
        created_at: 0,
        expires_at: None,
        note: None,
    }
}

struct Ids {
    projects: Vec<Uuid>,
    tasks: Vec<Uuid>,
    sessions: Vec<Uuid>,
}

/// 1,000 rules: 700 Bash (prefixes, exact commands, globs in the first word, denies), 200
/// file globs, 50 WebFetch, 50 MCP; a quarter project rules, some task and session rules.
fn rules(ids: &Ids) -> Vec<PermissionRule> {
    let cmds = commands();
    let mut out = Vec::new();
    let mut n = 0;
    let mut push = |out: &mut Vec<PermissionRule>, tool: &str, pattern: String, effect| {
        check_rule(tool, &pattern, false).expect("bench rules are valid");
        let mut r = rule(n, tool, pattern, effect);
        match n % 8 {
            0 | 1 => {
                r.scope = RuleScope::Project;
                r.project_id = Some(ids.projects[n % ids.projects.len()]);
            }
            2 => {
                r.scope = RuleScope::Task;
                r.task_id = Some(ids.tasks[n % ids.tasks.len()]);
            }
            3 if n % 16 == 3 => {
                r.scope = RuleScope::Session;
                r.session_id = Some(ids.sessions[n % ids.sessions.len()]);
            }
            _ => {}
        }
        if n % 97 == 5 {
            r.expires_at = Some(1);
        }
        out.push(r);
        n += 1;
    };
    for i in 0..600 {
        let c = &cmds[i % cmds.len()];
        let sub = SUBS[(i / cmds.len()) % SUBS.len()];
        let pattern = match i % 3 {
            0 => format!("{c} {sub} *"),
            1 => format!("{c} {sub}"),
            _ => format!("{c} {sub} --flag{i} *"),
        };
        push(&mut out, "Bash", pattern, RuleEffect::Allow);
    }
    for i in 0..20 {
        push(
            &mut out,
            "Bash",
            format!("tool{i}? run *"),
            RuleEffect::Allow,
        );
    }
    for i in 0..80 {
        let c = &cmds[(i * 7) % cmds.len()];
        push(
            &mut out,
            "Bash",
            format!("{c} --dangerous{i} *"),
            RuleEffect::Deny,
        );
    }
    let tools = ["Edit", "Write", "Read", "MultiEdit"];
    for i in 0..180 {
        let pattern = match i % 3 {
            0 => format!("src/mod{i}/**"),
            1 => format!("crates/c{i}/**/*.rs"),
            _ => format!("docs/d{i}/*.md"),
        };
        push(&mut out, tools[i % 4], pattern, RuleEffect::Allow);
    }
    for i in 0..20 {
        push(
            &mut out,
            "Read",
            format!("/etc/secret{i}/**"),
            RuleEffect::Deny,
        );
    }
    for i in 0..50 {
        let pattern = format!("https://site{i}.example/*");
        push(&mut out, "WebFetch", pattern, RuleEffect::Allow);
    }
    for i in 0..50 {
        let pattern = format!("{{\"repo\":\"org/r{i}\",*}}");
        push(
            &mut out,
            &format!("mcp__srv{}__call", i % 5),
            pattern,
            RuleEffect::Allow,
        );
    }
    out
}

/// The requests decided in turn: (tool, input, which project, task and session they come
/// from).
fn requests() -> Vec<(String, Value, usize)> {
    let cmds = commands();
    let mut out = Vec::new();
    for i in 0..400 {
        let c = &cmds[(i * 13) % cmds.len()];
        let d = &cmds[(i * 17) % cmds.len()];
        let sub = SUBS[i % SUBS.len()];
        let command = match i % 6 {
            0 => format!("{c} {sub} -v"),
            1 => format!("{c} {sub} && {d} {sub} 2>&1 | tee out{i}.log"),
            2 => format!("cd sub && {c} {sub} --x \"quoted arg\" > build/out.txt"),
            3 => format!("{c} --dangerous{i} now; {d} {sub}"),
            4 => format!("{c} {sub} $(date) || echo failed"),
            _ => format!("{c} {sub} --flag{i} a b c"),
        };
        out.push(("Bash".to_string(), json!({ "command": command }), i));
    }
    for i in 0..100 {
        let path = match i % 4 {
            0 => format!("/w/p/src/mod{i}/lib.rs"),
            1 => format!("crates/c{i}/src/deep/x.rs"),
            2 => format!("/etc/secret{}/key", i % 20),
            _ => format!("../outside/{i}.md"),
        };
        let tool = ["Edit", "Write", "Read", "MultiEdit"][i % 4];
        out.push((tool.to_string(), json!({ "file_path": path }), i));
    }
    for i in 0..50 {
        let url = format!("https://site{i}.example/page?q={i}");
        out.push(("WebFetch".into(), json!({ "url": url }), i));
        let input = json!({ "repo": format!("org/r{i}"), "title": "x" });
        out.push((format!("mcp__srv{}__call", i % 5), input, i));
    }
    out
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let ids = Ids {
        projects: (0..5).map(|_| Uuid::new_v4()).collect(),
        tasks: (0..40).map(|_| Uuid::new_v4()).collect(),
        sessions: (0..40).map(|_| Uuid::new_v4()).collect(),
    };
    let rules = rules(&ids);
    let built = Instant::now();
    let set = RuleSet::new(rules);
    let build_time = built.elapsed();
    let reqs = requests();
    let wd = Path::new("/w/p");
    let run_for = if quick {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(2)
    };
    let (mut decided, mut allowed, mut denied) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < run_for {
        for (tool, input, k) in &reqs {
            let req = Request {
                tool,
                input,
                working_dir: Some(wd),
                project_id: Some(ids.projects[k % ids.projects.len()]),
                task_id: Some(ids.tasks[k % ids.tasks.len()]),
                session_id: Some(ids.sessions[k % ids.sessions.len()]),
                now: 1_000,
            };
            let v = black_box(set.decide(black_box(&req)));
            match v.effect {
                Some(RuleEffect::Allow) => allowed += 1,
                Some(RuleEffect::Deny) => denied += 1,
                None => {}
            }
            decided += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "policy: {} rules indexed in {:.2} ms; {decided} decisions in {secs:.2} s: {:.0} decisions/s \
         ({allowed} allowed, {denied} denied, {} to a human)",
        set.len(),
        build_time.as_secs_f64() * 1000.0,
        decided as f64 / secs,
        decided - allowed - denied,
    );
}
