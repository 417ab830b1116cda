//! Splitting commands: operators, quotes, what makes a part unmatchable, nested parts.

use super::*;

fn top(command: &str, wd: Option<&str>) -> Vec<(Vec<String>, Option<Unmatchable>)> {
    split(command, wd.map(Path::new))
        .into_iter()
        .filter(|p| !p.nested)
        .map(|p| (p.words, p.unmatchable))
        .collect()
}

fn words(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_string).collect()
}

#[test]
fn chains_split_on_every_operator_outside_quotes() {
    let got = top("a 1 && b || c; d | e & f |& g\nh", None);
    let firsts: Vec<&str> = got.iter().map(|(w, _)| w[0].as_str()).collect();
    assert_eq!(firsts, ["a", "b", "c", "d", "e", "f", "g", "h"]);
    assert!(got.iter().all(|(_, u)| u.is_none()));
    let got = top("echo 'a;b' \"c|d\" e\\&f", None);
    assert_eq!(got, vec![(words("echo a;b c|d e&f"), None)]);
    let got = top("echo \"a \\\"b\\\" \\$x\" 'it'\\''s'", None);
    assert_eq!(got[0].0, ["echo", "a \"b\" $x", "it's"]);
    assert_eq!(got[0].1, None);
    assert!(top("  ;; \n # only a comment", None).is_empty());
    assert_eq!(top("> out", Some("/w")), vec![(Vec::new(), None)]);
}

#[test]
fn what_makes_a_command_unmatchable() {
    let wd = Some("/w/p");
    let cases: &[(&str, Option<Unmatchable>)] = &[
        ("ls -la", None),
        ("echo $(date)", Some(Unmatchable::CommandSubstitution)),
        ("echo `date`", Some(Unmatchable::CommandSubstitution)),
        ("cat <(ls)", Some(Unmatchable::ProcessSubstitution)),
        ("echo $X", Some(Unmatchable::Expansion)),
        ("echo \"${X:-y}\"", Some(Unmatchable::Expansion)),
        ("echo $'\\n'", Some(Unmatchable::Expansion)),
        ("echo a{1..3}", Some(Unmatchable::Expansion)),
        ("echo '$X'", None),
        ("sudo ls", Some(Unmatchable::Sudo)),
        ("time env A=1 command sudo ls", Some(Unmatchable::Sudo)),
        ("exec -a x sudo ls", Some(Unmatchable::Sudo)),
        ("echo sudo", None),
        (
            "ls > /tmp/x",
            Some(Unmatchable::RedirectionOutside("/tmp/x".into())),
        ),
        (
            "ls > a/../../x",
            Some(Unmatchable::RedirectionOutside("a/../../x".into())),
        ),
        (
            "ls >",
            Some(Unmatchable::RedirectionOutside("no target".into())),
        ),
        ("ls &> out 2>/dev/null 1>&2 3<&- >|out2", None),
        ("cat << EOF", Some(Unmatchable::HereDoc)),
        ("(ls)", Some(Unmatchable::Subshell)),
        ("{ ls; }", Some(Unmatchable::Subshell)),
        ("while true", Some(Unmatchable::ControlFlow("while".into()))),
        ("'if' x", None),
        ("echo 'a", Some(Unmatchable::UnbalancedQuotes)),
        ("echo $(ls", Some(Unmatchable::CommandSubstitution)),
        ("ls )", Some(Unmatchable::UnbalancedQuotes)),
    ];
    for (cmd, want) in cases {
        let got = top(cmd, wd);
        assert_eq!(got[0].1, *want, "{cmd}: {got:?}");
    }
    // No working dir: every file target is outside.
    assert_eq!(
        top("ls > x", None)[0].1,
        Some(Unmatchable::RedirectionOutside("x".into()))
    );
    // After `cd`, a relative target may land anywhere.
    let after_cd = top("ls > a; cd /tmp; ls > b", wd);
    assert_eq!(after_cd[0].1, None);
    assert_eq!(
        after_cd[2].1,
        Some(Unmatchable::RedirectionOutside("b".into()))
    );
    // A fine redirection is dropped from the words.
    assert_eq!(top("ls -l > out 2>&1", wd)[0].0, words("ls -l"));
}

#[test]
fn substitutions_and_subshells_are_parsed_for_denies() {
    let nested: Vec<Vec<String>> = split("echo $(a 1; b `c 2`) \"$(d)\" <(e) (f)", None)
        .into_iter()
        .filter(|p| p.nested)
        .map(|p| p.words)
        .collect();
    let b = vec!["b".to_string(), "`c 2`".to_string()];
    for want in [
        words("a 1"),
        b,
        words("c 2"),
        words("d"),
        words("e"),
        words("f"),
    ] {
        assert!(nested.contains(&want), "{want:?} in {nested:?}");
    }
    // A here-document's body is data, not commands.
    let parts = split("cat <<'EOF'\nrm -rf /\nEOF\nls", None);
    let texts: Vec<&str> = parts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["cat <<'EOF'", "ls"]);
    // Deep nesting ends without overflowing the stack.
    let deep = "$(".repeat(10_000);
    assert!(!split(&deep, None).is_empty());
}

#[test]
fn command_starts_skip_wrappers_and_keywords() {
    let w = words("if env -u X A=1 sudo -u root nohup rm -rf /");
    let (starts, sudo) = command_starts(&w, true);
    assert!(sudo);
    assert_eq!(w[*starts.last().unwrap()], "rm");
    assert!(starts.contains(&0));
    let (starts, sudo) = command_starts(&words("git status"), true);
    assert_eq!((starts, sudo), (vec![0], false));
    assert_eq!(basename("/usr/bin/sudo"), "sudo");
    assert_eq!(normalize(Path::new("/a/./b/../../../c")), Path::new("/c"));
    assert_eq!(resolve("~/x", Some(Path::new("/w"))), None);
    assert_eq!(
        resolve("x/../y", Some(Path::new("/w"))),
        Some(PathBuf::from("/w/y"))
    );
    assert_eq!(resolve("x", None), None);
}
