//! Workspaces as text: the Workspace block of `task view` and `task workspace`, review
//! comments, and the tables of `workspace list` and `workspace prune`. Text from the hub is
//! shown with control characters escaped by the caller's `say!` and by [`table`].

use orchestratia_proto::time::{ago, now_ms};
use orchestratia_proto::workspace::{PruneItem, StoredComment, Workspace};

use super::diff::stat_lines;
use super::print::table;
use orchestratia_proto::workspace::stat;

/// The first 7 characters of a commit id (all of it when shorter).
pub fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}
/// The Workspace block: where it is, its branch and base, how far it is ahead and behind,
/// its review, the files it changed and those not committed.
pub fn block(w: &Workspace) -> String {
    let r = &w.report;
    let mut out = String::from("\nWorkspace\n");
    let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("  {k:<11}{v}\n"));
    let removed = if r.removed { "  (removed)" } else { "" };
    line(
        &mut out,
        "where",
        format!("{}:{}{removed}", w.server, r.path),
    );
    line(&mut out, "branch", r.branch.clone());
    line(
        &mut out,
        "base",
        format!("{} @ {}", r.base, short(&r.base_commit)),
    );
    line(
        &mut out,
        "head",
        format!("{}  ahead {}, behind {}", short(&r.head), r.ahead, r.behind),
    );
    line(&mut out, "review", w.review_words());
    line(&mut out, "changes", stat(&r.files, r.uncommitted.len()));
    for l in stat_lines(&r.files, "    ") {
        out.push_str(&l);
        out.push('\n');
    }
    if !r.uncommitted.is_empty() {
        out.push_str("  uncommitted\n");
        for p in &r.uncommitted {
            out.push_str(&format!("    {}\n", orchestratia_proto::text::one_line(p)));
        }
    }
    line(&mut out, "reported", ago(w.reported_at, now_ms()));
    out
}

/// The review comments, oldest first: where, who, what, and whether the agent has it.
pub fn comments(cs: &[StoredComment]) -> String {
    if cs.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nReview comments\n");
    for c in cs {
        let state = if c.delivered_at.is_some() {
            "delivered"
        } else {
            "waiting for the task to run again"
        };
        out.push_str(&format!(
            "  {}:{}  {}  ({state})\n    {}\n",
            orchestratia_proto::text::one_line(&c.file),
            c.line,
            c.author,
            c.text.replace('\n', "\n    ")
        ));
    }
    out
}

/// `workspace list` as a table.
pub fn list(ws: &[Workspace]) -> String {
    if ws.is_empty() {
        return "no workspaces".to_string();
    }
    let rows = ws
        .iter()
        .map(|w| {
            vec![
                w.reference.clone(),
                w.server.clone(),
                w.report.branch.clone(),
                w.review_words(),
                w.report.stat_line(),
                if w.report.removed {
                    format!("{} (removed)", w.report.path)
                } else {
                    w.report.path.clone()
                },
            ]
        })
        .collect();
    table(
        &["TASK", "SERVER", "BRANCH", "REVIEW", "CHANGES", "PATH"],
        rows,
    )
}

/// `workspace prune` as a table.
pub fn pruned(items: &[PruneItem]) -> String {
    if items.is_empty() {
        return "no worktrees to prune".to_string();
    }
    let rows = items
        .iter()
        .map(|i| {
            vec![
                i.reference.clone(),
                i.server.clone(),
                i.action.replace('_', " "),
                i.why.clone(),
            ]
        })
        .collect();
    table(&["TASK", "SERVER", "ACTION", "WHY"], rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestratia_proto::workspace::{FileChange, WorkspaceReport};
    use uuid::Uuid;

    fn ws() -> Workspace {
        Workspace {
            report: WorkspaceReport {
                task_id: Uuid::nil(),
                repo: "api".into(),
                path: "/w/api/T7-0000".into(),
                branch: "orc/T7-x".into(),
                base: "main".into(),
                base_commit: "0123456789abcdef".into(),
                head: "fedcba9876543210".into(),
                ahead: 2,
                behind: 1,
                files: vec![
                    FileChange {
                        path: "a.rs".into(),
                        insertions: Some(10),
                        deletions: Some(2),
                    },
                    FileChange {
                        path: "logo.png".into(),
                        insertions: None,
                        deletions: None,
                    },
                ],
                uncommitted: vec!["notes.txt".into()],
                removed: false,
            },
            reference: "T7".into(),
            server_id: Uuid::nil(),
            server: "dev-01".into(),
            review: orchestratia_proto::ReviewState::Merged,
            merged_into: Some("main".into()),
            merge_commit: Some("abc1234567".into()),
            reported_at: now_ms(),
        }
    }

    #[test]
    fn the_block_says_where_what_and_how_far() {
        let b = block(&ws());
        for want in [
            "where      dev-01:/w/api/T7-0000",
            "branch     orc/T7-x",
            "base       main @ 0123456",
            "head       fedcba9  ahead 2, behind 1",
            "review     merged into main as abc1234",
            "changes    2 files +10 -2, 1 uncommitted",
            "+10 -2  a.rs",
            "bin     logo.png",
            "uncommitted\n    notes.txt",
        ] {
            assert!(b.contains(want), "{want:?} missing from\n{b}");
        }
    }

    #[test]
    fn comments_say_whether_the_agent_has_them() {
        let c = StoredComment {
            id: Uuid::nil(),
            task_id: Uuid::nil(),
            file: "src/a.rs".into(),
            line: 12,
            text: "use a constant".into(),
            author: "admin".into(),
            created_at: 0,
            delivered_at: None,
        };
        let text = comments(&[
            c.clone(),
            StoredComment {
                delivered_at: Some(1),
                ..c
            },
        ]);
        assert!(text.contains("src/a.rs:12  admin  (waiting for the task to run again)"));
        assert!(text.contains("(delivered)\n    use a constant"), "{text}");
        assert_eq!(comments(&[]), "");
    }

    #[test]
    fn tables_list_and_prune() {
        let t = list(&[ws()]);
        assert!(t.contains("merged into main as abc1234"), "{t}");
        assert!(t.contains("2 files +10 -2, 1 uncommitted"), "{t}");
        let p = pruned(&[PruneItem {
            task_id: Uuid::nil(),
            reference: "T7".into(),
            server: "dev-01".into(),
            path: "/w".into(),
            branch: "b".into(),
            action: "would_remove".into(),
            why: "merged into main".into(),
        }]);
        assert!(
            p.contains("would remove") && p.contains("merged into main"),
            "{p}"
        );
        assert_eq!(pruned(&[]), "no worktrees to prune");
    }
}
