//! A task's workspace from the command line: `task diff|merge|keep|discard|review|workspace`
//! and `workspace list|prune`. The hub relays each to the daemon holding the worktree.

use orchestratia_proto::taskref::TaskRef;
use orchestratia_proto::text;
use orchestratia_proto::workspace::{
    DiffQuery, MergeWorkspace, PruneWorkspaces, ReviewComment, WorkspaceFilter,
};

use super::args::WorkspaceCmd;
use super::diff::{colour_wanted, render, stat_lines};

use super::tasks::{read_text, task_key};
use super::wsview::{self, short};
use super::{Ctx, TaskCmd, usage};

/// The longest file name a review comment may point at (the hub's bound).
const MAX_FILE: usize = 1000;
/// The longest review comment (the hub's bound).
const MAX_TEXT: usize = 4000;

/// Where a review comment points: `FILE:LINE`, split at the last colon (a file name may hold
/// colons); the line is a positive integer.
pub fn parse_location(s: &str) -> Result<(String, u64), String> {
    let want = "--comment wants FILE:LINE, e.g. src/lib.rs:12";
    let (file, line) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{want}; '{}' has no ':LINE'", text::one_line(s)))?;
    if file.trim().is_empty() {
        return Err(format!("{want}; the file is missing"));
    }
    if text::name_problem(file).is_some() {
        return Err("--comment: the file name has control or invisible characters".into());
    }
    if file.chars().count() > MAX_FILE {
        return Err(format!(
            "--comment: the file name is longer than {MAX_FILE} characters"
        ));
    }
    match line.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok((file.to_string(), n)),
        _ => Err(format!(
            "{want}; the line '{}' is not a positive integer",
            text::one_line(line)
        )),
    }
}

/// The text of a review comment: not blank, at most [`MAX_TEXT`] characters.
fn comment_text(t: &str) -> Result<String, String> {
    let t = t.trim_end_matches(['\n', '\r']);
    if t.trim().is_empty() {
        return Err("the comment is empty".into());
    }
    if t.chars().count() > MAX_TEXT {
        return Err(format!("the comment is longer than {MAX_TEXT} characters"));
    }
    Ok(t.to_string())
}

/// `T7` for a task named by its number; else the reference the hub knows it by.
async fn reference(ctx: &Ctx, typed: &str, key: &str) -> anyhow::Result<String> {
    if let Ok(TaskRef::Number(n)) = TaskRef::parse(typed) {
        return Ok(format!("T{n}"));
    }
    Ok(ctx.client.task(key).await?.task.reference)
}

/// The `task` subcommands about a task's workspace.
pub(crate) async fn task(ctx: &Ctx, cmd: TaskCmd) -> anyhow::Result<()> {
    match cmd {
        TaskCmd::Diff {
            id,
            stat,
            file,
            project,
        } => {
            let key = task_key(ctx, &id, project.as_deref()).await?;
            diff(ctx, &key, DiffQuery { stat, file }).await
        }
        TaskCmd::Merge {
            id,
            into,
            squash,
            project,
        } => {
            let key = task_key(ctx, &id, project.as_deref()).await?;
            let m = ctx
                .client
                .merge_task(&key, &MergeWorkspace { into, squash })
                .await?;
            let r = if ctx.json {
                String::new()
            } else {
                reference(ctx, &id, &key).await?
            };
            ctx.out(&m, |m| {
                say!(
                    "merged {r} into {} as {}{}",
                    m.into,
                    short(&m.commit),
                    if m.squash { " (squashed)" } else { "" }
                );
                if let Some(n) = &m.note {
                    say!("{n}");
                }
            })
        }
        TaskCmd::Keep { id, project } => {
            let key = task_key(ctx, &id, project.as_deref()).await?;
            let w = ctx.client.keep_task(&key).await?;
            ctx.out(&w, |w| {
                say!(
                    "{} kept: branch {} at {}:{}",
                    w.reference,
                    w.report.branch,
                    w.server,
                    w.report.path
                )
            })
        }
        TaskCmd::Discard { id, project } => {
            let key = task_key(ctx, &id, project.as_deref()).await?;
            let w = ctx.client.discard_task(&key).await?;
            ctx.out(&w, |w| {
                say!(
                    "{} discarded: branch {} and its worktree on {} removed",
                    w.reference,
                    w.report.branch,
                    w.server
                )
            })
        }
        TaskCmd::Review {
            id,
            comment,
            text,
            project,
        } => review(ctx, &id, &comment, &text, project.as_deref()).await,
        TaskCmd::Workspace { id, project } => {
            let key = task_key(ctx, &id, project.as_deref()).await?;
            let w = ctx.client.refresh_workspace(&key).await?;
            ctx.out(&w, |w| {
                say!("{}{}", w.reference, wsview::block(w).trim_end())
            })
        }
        other => Err(anyhow::anyhow!("not a workspace command: {other:?}")),
    }
}

/// `task diff`: the stat, or the diff coloured on a terminal; the hub's note on stderr.
async fn diff(ctx: &Ctx, key: &str, q: DiffQuery) -> anyhow::Result<()> {
    let stat = q.stat;
    let d = ctx.client.task_diff(key, &q).await?;
    if ctx.json {
        return ctx.out(&d, |_| {});
    }
    if stat {
        for l in stat_lines(&d.files, "") {
            println!("{l}");
        }
        say!(
            "{}",
            orchestratia_proto::workspace::stat(&d.files, d.uncommitted.len())
        );
    } else if d.diff.is_empty() {
        eprintln!(
            "no committed changes on {} against {}",
            text::one_line(&d.branch),
            text::one_line(&d.base)
        );
    } else {
        print!("{}", render(&d.diff, colour_wanted()));
    }
    if let Some(n) = &d.note {
        eprintln!("note: {}", text::one_line(n));
    }
    Ok(())
}

/// `task review ID --comment FILE:LINE TEXT`.
async fn review(
    ctx: &Ctx,
    id: &str,
    location: &str,
    text_arg: &str,
    project: Option<&str>,
) -> anyhow::Result<()> {
    let (file, line) = parse_location(location).map_err(usage)?;
    let raw = if text_arg == "-" {
        read_text(std::path::Path::new("-"))?
    } else {
        text_arg.to_string()
    };
    let text = comment_text(&raw).map_err(usage)?;
    let key = task_key(ctx, id, project).await?;
    let c = ctx
        .client
        .review_task(&key, &ReviewComment { file, line, text })
        .await?;
    let r = if ctx.json {
        String::new()
    } else {
        reference(ctx, id, &key).await?
    };
    ctx.out(&c, |c| {
        say!(
            "comment on {r} {}:{} {}",
            c.file,
            c.line,
            if c.delivered_at.is_some() {
                "delivered to the agent"
            } else {
                "stored; the agent gets it when the task runs again (task retry)"
            }
        )
    })
}

/// `workspace list|prune`.
pub(crate) async fn workspaces(ctx: &Ctx, cmd: WorkspaceCmd) -> anyhow::Result<()> {
    match cmd {
        WorkspaceCmd::List {
            server,
            project,
            all,
        } => {
            let ws = ctx
                .client
                .workspaces(&WorkspaceFilter {
                    project,
                    server,
                    all,
                })
                .await?;
            ctx.out(&ws, |ws| say!("{}", wsview::list(ws)))
        }
        WorkspaceCmd::Prune { dry_run, server } => {
            let items = ctx
                .client
                .prune_workspaces(&PruneWorkspaces { dry_run, server })
                .await?;
            ctx.out(&items, |items| say!("{}", wsview::pruned(items)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_split_at_the_last_colon() {
        assert_eq!(parse_location("src/a.rs:12"), Ok(("src/a.rs".into(), 12)));
        assert_eq!(parse_location("C:/x/a.rs:3"), Ok(("C:/x/a.rs".into(), 3)));
        assert_eq!(parse_location("a:b:7"), Ok(("a:b".into(), 7)));
    }

    #[test]
    fn bad_locations_say_what_is_wrong() {
        for (bad, says) in [
            ("src/a.rs", "has no ':LINE'"),
            (":12", "the file is missing"),
            ("a.rs:0", "not a positive integer"),
            ("a.rs:-3", "not a positive integer"),
            ("a.rs:x", "not a positive integer"),
            ("a.rs:", "not a positive integer"),
            ("a\nb.rs:1", "control"),
        ] {
            let e = parse_location(bad).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        let long = format!("{}:1", "a".repeat(MAX_FILE + 1));
        assert!(parse_location(&long).unwrap_err().contains("longer"));
    }

    #[test]
    fn comment_text_is_bounded() {
        assert_eq!(comment_text("fix\n"), Ok("fix".into()));
        assert!(comment_text("  \n").unwrap_err().contains("empty"));
        assert!(
            comment_text(&"x".repeat(MAX_TEXT + 1))
                .unwrap_err()
                .contains("longer")
        );
    }
}
