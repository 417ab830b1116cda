//! Checks of pipeline files: order, names, references, `after:` and `base: upstream`.

use super::*;

fn parse(y: &str) -> anyhow::Result<Vec<usize>> {
    let f: PipelineFile = yaml_serde::from_str(y)?;
    check(&f, y, Path::new("p.yaml"))
}

#[test]
fn orders_by_dependencies() {
    let y = "tasks:\n  - name: b\n    title: B\n    depends_on: [a]\n  - name: a\n    title: A\n";
    assert_eq!(parse(y).unwrap(), vec![1, 0]);
}

#[test]
fn unknown_names_and_cycles_name_the_line() {
    let y = "tasks:\n  - name: a\n    title: A\n    depends_on: [zz]\n";
    let e = parse(y).unwrap_err().to_string();
    assert!(
        e.contains("p.yaml:4") && e.contains("unknown task 'zz'"),
        "{e}"
    );
    let y = "tasks:\n  - name: a\n    title: A\n    depends_on: [b]\n  - name: b\n    title: B\n    depends_on:\n      - {task: a, contract: k}\n";
    let e = parse(y).unwrap_err().to_string();
    assert!(e.contains("cycle") && e.contains("p.yaml:2"), "{e}");
}

#[test]
fn after_merged_is_read_and_checked_with_the_line() {
    let y = "tasks:\n  - name: a\n    title: A\n    base: main\n    branch: feat/a\n  - name: b\n    title: B\n    base: upstream\n    depends_on:\n      - { task: a, after: merged }\n";
    assert_eq!(parse(y).unwrap(), vec![0, 1]);
    let f: PipelineFile = yaml_serde::from_str(y).unwrap();
    assert_eq!(f.tasks[0].branch.as_deref(), Some("feat/a"));
    assert_eq!(f.tasks[1].base.as_deref(), Some("upstream"));
    assert!(f.tasks[1].waits_for_a_merge() && !f.tasks[0].waits_for_a_merge());
    let y = "tasks:\n  - name: a\n    title: A\n  - name: b\n    title: B\n    depends_on:\n      - { task: a, after: later }\n";
    let e = parse(y).unwrap_err().to_string();
    assert!(
        e.contains("p.yaml:7") && e.contains("'later' is neither"),
        "{e}"
    );
    let y = "tasks:\n  - name: a\n    title: A\n  - name: b\n    title: B\n    depends_on:\n      - { task: a, contract: k, after: merged }\n";
    let e = parse(y).unwrap_err().to_string();
    assert!(
        e.contains("p.yaml:7") && e.contains("not one that receives contract 'k'"),
        "{e}"
    );
    let y = "tasks:\n  - name: a\n    title: A\n  - name: b\n    title: B\n    depends_on:\n      - { task: a, contract: k }\n      - { task: a, after: merged }\n";
    let e = parse(y).unwrap_err().to_string();
    assert!(e.contains("p.yaml:8"), "{e}");
}

#[test]
fn base_upstream_without_a_dependency_is_refused_with_the_line() {
    let y = "tasks:\n  - name: a\n    title: A\n  - name: b\n    title: B\n    base: upstream\n";
    let e = parse(y).unwrap_err().to_string();
    assert!(
        e.contains("p.yaml:6") && e.contains("task 'b': base: upstream needs a dependency"),
        "{e}"
    );
    let y = "tasks:\n  - name: a\n    title: A\n  - name: b\n    title: B\n    base: upstream\n    depends_on: [a]\n";
    assert_eq!(parse(y).unwrap(), vec![0, 1]);
}
