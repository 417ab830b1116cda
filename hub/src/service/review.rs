//! The review of a closed task's workspace: merge its branch (through the daemon that holds
//! it), keep it for later, or discard it; and review comments on its diff, delivered to the
//! task's agent as one message while it runs.

use orchestratia_proto::time::now_ms;
use orchestratia_proto::workspace::{
    MergeWorkspace, Merged, ReviewComment, ReviewState, StoredComment, Workspace, WorkspaceAnswer,
    WorkspaceOp, WorkspaceReport, comments_message,
};
use orchestratia_proto::{EventKind, Session, SessionState, SessionStatus};
use serde_json::json;
use uuid::Uuid;

use super::sessions::session_event;
use super::workspaces::{SLOW_WAIT, check_report, reason, removed_why, unexpected};
use super::{Effects, Hub, validate};
use crate::auth::Principal;
use crate::bad;
use crate::error::{HubError, HubResult};
use crate::store::prompts::PromptRecord;
use crate::store::tasks::TaskRecord;
use crate::store::workspaces::{MergeRecord, WorkspaceRow};
use crate::store::{self, Conn};

/// Longest review comment, in characters.
const MAX_COMMENT: usize = 4000;
/// Longest file name a comment names, in characters.
const MAX_FILE: usize = 1000;

/// Refuses a task that is still open: its branch is reviewed once the task is closed.
fn require_closed(t: &TaskRecord, what: &str) -> HubResult<()> {
    if t.status.is_terminal() {
        Ok(())
    } else {
        Err(HubError::Conflict(format!(
            "{} is {}: {what} it once it is closed",
            t.reference(),
            t.status
        )))
    }
}

/// A git object id as a daemon reports it: 4-64 hex digits.
fn commit_id(v: &str) -> bool {
    (4..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The daemon's answer to a merge, checked: what was merged and the worktree's report, or
/// the conflict or refusal as the error.
fn merge_answer(
    t: &TaskRecord,
    w: &WorkspaceRow,
    into: Option<&str>,
    answer: WorkspaceAnswer,
) -> HubResult<(Merged, WorkspaceReport)> {
    let (merged, report) = match answer {
        WorkspaceAnswer::Merged { merged, report } => (merged, report),
        WorkspaceAnswer::Refused {
            reason: r,
            conflicts,
        } if !conflicts.is_empty() => {
            let files: Vec<String> = conflicts.iter().take(50).map(|f| reason(f)).collect();
            return Err(HubError::Conflict(format!(
                "merging {} into {} conflicts in {}; nothing was changed{}",
                t.reference(),
                into.unwrap_or(&w.report.base),
                files.join(", "),
                if r.trim().is_empty() {
                    String::new()
                } else {
                    format!(" ({})", reason(&r))
                }
            )));
        }
        WorkspaceAnswer::Refused { reason: r, .. } => {
            return Err(HubError::Conflict(reason(&r)));
        }
        _ => return Err(unexpected(&w.server, "a merge")),
    };
    check_report(&report)?;
    if report.task_id != t.id
        || !commit_id(&merged.commit)
        || merged.into.is_empty()
        || merged.into.len() > 250
        || merged.into.contains('\0')
    {
        return Err(HubError::Conflict(format!(
            "server {} answered the merge with a report it should not have",
            w.server
        )));
    }
    Ok((merged, report))
}

/// Hands one task's undelivered comments to session `s` (`via`: `prompt` to a running agent,
/// `task start` with a retried task's new session): marks them delivered, records
/// `review_delivered`, and returns the one message the agent reads.
pub(super) async fn hand_over_comments(
    c: &mut Conn,
    t: &TaskRecord,
    pending: &[StoredComment],
    s: &Session,
    via: &str,
    now: i64,
    out: &mut Effects,
) -> HubResult<String> {
    let ids: Vec<Uuid> = pending.iter().map(|x| x.id).collect();
    store::workspaces::mark_delivered(c, &ids, now).await?;
    out.event(session_event(
        EventKind::ReviewDelivered,
        s,
        Some(t.project_id),
        json!({"session": s.name, "comments": ids.len(), "via": via}),
    ));
    Ok(comments_message(&t.reference(), pending))
}

impl Hub {
    /// Merges a closed task's branch into its base (or `into`) on the server holding it; a
    /// conflict changes nothing. Then the dependencies waiting for this merge resolve.
    pub async fn merge_workspace(
        &self,
        p: &Principal,
        reference: &str,
        body: &MergeWorkspace,
    ) -> HubResult<Merged> {
        p.require_admin("merging a task's branch")?;
        let into = body
            .into
            .as_deref()
            .map(|b| validate::git_ref("into", b))
            .transpose()?;
        let (t, w) = {
            let mut c = self.read().await?;
            self.task_workspace(&mut c, p, reference).await?
        };
        require_closed(&t, "merge")?;
        reviewable(&t, &w, "merge")?;
        let message = format!("Merge {}: {}", t.reference(), t.title);
        let op = WorkspaceOp::Merge {
            into: into.clone(),
            squash: body.squash,
            message,
        };
        let offline = format!("{}'s worktree is there", t.reference());
        let answer = self
            .ask_daemon((w.server_id, &w.server), t.id, op, SLOW_WAIT, &offline)
            .await?;
        let (merged, report) = merge_answer(&t, &w, into.as_deref(), answer)?;
        self.record_merge(p, &t, w.server_id, &merged, &report)
            .await?;
        Ok(Merged {
            note: merged.note.as_deref().map(reason),
            ..merged
        })
    }

    /// Stores the report of a merged workspace and its review `merged`, and resolves the
    /// dependencies that waited for the merge.
    async fn record_merge(
        &self,
        p: &Principal,
        t: &TaskRecord,
        server_id: Uuid,
        merged: &Merged,
        report: &WorkspaceReport,
    ) -> HubResult<()> {
        let mut tx = self.store.write().await?;
        let mut out = Effects::default();
        self.store_report(&mut tx, server_id, report, &mut out)
            .await?;
        let record = MergeRecord {
            into: &merged.into,
            commit: &merged.commit,
            head: &report.head,
        };
        store::workspaces::set_review(&mut tx, t.id, ReviewState::Merged, Some(record)).await?;
        out.task_event(
            EventKind::WorkspaceMerged,
            &p.actor(),
            t.project_id,
            t.id,
            json!({"into": merged.into, "commit": merged.commit, "squash": merged.squash,
                   "branch": report.branch}),
        );
        self.release_merged(&mut tx, t.id, &mut out).await?;
        self.commit(tx, out).await
    }

    /// Keeps a closed task's branch for later (review `kept`); nothing changes on disk.
    pub async fn keep_workspace(&self, p: &Principal, reference: &str) -> HubResult<Workspace> {
        p.require_admin("keeping a task's branch")?;
        let mut tx = self.store.write().await?;
        let (t, w) = self.task_workspace(&mut tx, p, reference).await?;
        require_closed(&t, "keep")?;
        if w.review == ReviewState::Kept {
            return Ok(w.to_workspace());
        }
        reviewable(&t, &w, "keep")?;
        let mut out = Effects::default();
        store::workspaces::set_review(&mut tx, t.id, ReviewState::Kept, None).await?;
        out.task_event(
            EventKind::WorkspaceKept,
            &p.actor(),
            t.project_id,
            t.id,
            json!({"branch": w.report.branch}),
        );
        self.commit(tx, out).await?;
        self.reload_workspace(t.id).await
    }

    /// Throws a closed task's worktree and branch away on the server holding them.
    pub async fn discard_workspace(&self, p: &Principal, reference: &str) -> HubResult<Workspace> {
        p.require_admin("discarding a task's branch")?;
        let (t, w) = {
            let mut c = self.read().await?;
            self.task_workspace(&mut c, p, reference).await?
        };
        require_closed(&t, "discard")?;
        match w.review {
            ReviewState::Merged => {
                return Err(HubError::Conflict(format!(
                    "{} is merged into {}; there is nothing to discard",
                    t.reference(),
                    w.merged_into.as_deref().unwrap_or("its base")
                )));
            }
            ReviewState::Discarded => {
                return Err(HubError::Conflict(format!(
                    "{}'s branch was discarded already",
                    t.reference()
                )));
            }
            _ => {}
        }
        let mut tx_out = Effects::default();
        let report = if w.report.removed {
            None
        } else {
            let offline = format!("{}'s worktree is there", t.reference());
            let answer = self
                .ask_daemon(
                    (w.server_id, &w.server),
                    t.id,
                    WorkspaceOp::Discard,
                    SLOW_WAIT,
                    &offline,
                )
                .await?;
            match answer {
                WorkspaceAnswer::Report { report } if report.task_id == t.id => {
                    check_report(&report)?;
                    Some(report)
                }
                WorkspaceAnswer::Refused { reason: r, .. } => {
                    return Err(HubError::Conflict(reason(&r)));
                }
                _ => return Err(unexpected(&w.server, "a discard")),
            }
        };
        let mut tx = self.store.write().await?;
        if let Some(r) = &report {
            self.store_report(&mut tx, w.server_id, r, &mut tx_out)
                .await?;
        }
        store::workspaces::set_review(&mut tx, t.id, ReviewState::Discarded, None).await?;
        tx_out.task_event(
            EventKind::WorkspaceDiscarded,
            &p.actor(),
            t.project_id,
            t.id,
            json!({"branch": w.report.branch}),
        );
        self.commit(tx, tx_out).await?;
        self.reload_workspace(t.id).await
    }

    /// A task's workspace as stored now.
    async fn reload_workspace(&self, task: Uuid) -> HubResult<Workspace> {
        let mut c = self.read().await?;
        store::workspaces::get(&mut c, task)
            .await?
            .map(|w| w.to_workspace())
            .ok_or_else(|| HubError::NotFound("workspace vanished".into()))
    }

    /// An admin's comment on a line of a task's diff. While the task runs, its undelivered
    /// comments go to its agent as one message (now, or when the agent next turns idle);
    /// for a closed task they wait for its retry.
    pub async fn review_comment(
        &self,
        p: &Principal,
        reference: &str,
        body: &ReviewComment,
    ) -> HubResult<StoredComment> {
        p.require_admin("commenting on a task's diff")?;
        if body.file.chars().count() > MAX_FILE {
            return Err(bad!("file is over {MAX_FILE} characters"));
        }
        let file = validate::line("file", &body.file, MAX_FILE)?;
        if body.line == 0 || body.line > i64::MAX as u64 {
            return Err(bad!("line must be 1 or more"));
        }
        if body.text.chars().count() > MAX_COMMENT {
            return Err(bad!("text is over {MAX_COMMENT} characters"));
        }
        let text = validate::text("text", &body.text, MAX_COMMENT)?;
        let comment = ReviewComment {
            file,
            line: body.line,
            text,
        };
        let mut tx = self.store.write().await?;
        let (t, _) = self.task_workspace(&mut tx, p, reference).await?;
        let now = now_ms();
        let stored =
            store::workspaces::add_comment(&mut tx, t.id, &comment, &p.actor(), now).await?;
        let mut out = Effects::default();
        out.task_event(
            EventKind::ReviewCommented,
            &p.actor(),
            t.project_id,
            t.id,
            json!({"file": comment.file, "line": comment.line, "text": comment.text}),
        );
        if !t.status.is_terminal() {
            self.deliver_review(&mut tx, &t, now, &mut out).await?;
        }
        self.commit(tx, out).await?;
        let mut c = self.read().await?;
        Ok(store::workspaces::comments(&mut c, t.id)
            .await?
            .into_iter()
            .find(|x| x.id == stored.id)
            .unwrap_or(stored))
    }

    /// Delivers a running task's undelivered review comments as one prompt when its session
    /// can take one now: a session without hooks at once, one with hooks when it is idle.
    /// False when they wait.
    pub(crate) async fn deliver_review(
        &self,
        c: &mut Conn,
        t: &TaskRecord,
        now: i64,
        out: &mut Effects,
    ) -> HubResult<bool> {
        let mut target = None;
        for s in store::sessions::open_of_task(c, t.id).await? {
            if s.status != SessionStatus::Active || !self.daemons.is_connected(s.server_id) {
                continue;
            }
            if s.state == SessionState::Idle || !store::sessions::reports_hooks(c, s.id).await? {
                target = Some(s);
                break;
            }
        }
        let Some(s) = target else {
            return Ok(false);
        };
        let pending = store::workspaces::undelivered_of(c, &[t.id]).await?;
        if pending.is_empty() {
            return Ok(false);
        }
        let text = hand_over_comments(c, t, &pending, &s, "prompt", now, out).await?;
        let record = PromptRecord {
            task_id: Some(t.id),
            ..PromptRecord::new(&s, text, "review", None, now)
        };
        self.submit_prompt(c, &record, "hub", &s, out).await?;
        Ok(true)
    }
}

/// Refuses a merge/keep of a branch that was merged, discarded, or whose worktree is gone.
fn reviewable(t: &TaskRecord, w: &WorkspaceRow, what: &str) -> HubResult<()> {
    match w.review {
        ReviewState::Merged => Err(HubError::Conflict(format!(
            "{} is already merged into {}",
            t.reference(),
            w.merged_into.as_deref().unwrap_or("its base")
        ))),
        ReviewState::Discarded => Err(HubError::Conflict(format!(
            "{}'s branch was discarded: there is nothing to {what}",
            t.reference()
        ))),
        _ if w.report.removed => Err(HubError::Conflict(format!(
            "{}'s worktree was removed ({})",
            t.reference(),
            removed_why(w)
        ))),
        _ => Ok(()),
    }
}
