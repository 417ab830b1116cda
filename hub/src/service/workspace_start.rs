//! What a task's session needs for a git worktree of its own: its branch (set, or
//! `orc/T7-title-slug`), the base it starts from (a branch, `upstream`, or another task's
//! branch), the server that holds that base, and the review comments its agent has not seen.

use std::collections::HashMap;

use orchestratia_proto::Session;
use orchestratia_proto::workspace::{BASE_UPSTREAM, ReviewState, StoredComment, WorkspaceStart};
use uuid::Uuid;

use super::review::hand_over_comments;
use super::{Effects, Hub};
use crate::engine::matching::Requirements;
use crate::error::HubResult;
use crate::store::tasks::TaskRecord;
use crate::store::workspaces::WorkspaceRow;
use crate::store::{self, Conn};

/// Longest slug of a title in a default branch name.
const MAX_SLUG: usize = 40;

/// A title as a branch-name slug: lower case, runs of anything but `a-z0-9` as one `-`.
pub(crate) fn slug(title: &str) -> String {
    let mut s = String::new();
    for ch in title.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            s.push(ch);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
        if s.len() >= MAX_SLUG {
            break;
        }
    }
    s.trim_end_matches('-').to_string()
}

/// A task's branch: the one it was given, or `orc/T7-title-slug`.
pub(crate) fn branch_of(t: &TaskRecord) -> String {
    if let Some(b) = &t.branch {
        return b.clone();
    }
    let slug = slug(&t.title);
    if slug.is_empty() {
        format!("orc/{}", t.reference())
    } else {
        format!("orc/{}-{slug}", t.reference())
    }
}

/// Where a task based on the upstream workspace `w` starts: its branch, or once it is merged
/// (the merge deleted the branch) the branch it was merged into, which holds its work.
fn base_of(w: WorkspaceRow) -> String {
    if w.review == ReviewState::Merged {
        w.merged_into.unwrap_or(w.report.base)
    } else {
        w.report.branch
    }
}

impl Hub {
    /// The task whose branch `t`'s worktree starts from: `base_from`, or with `base:
    /// upstream` its `blocks`/`input` upstream (the lowest-numbered when several).
    async fn base_task(&self, c: &mut Conn, t: &TaskRecord) -> HubResult<Option<TaskRecord>> {
        let id = match (t.base_from, t.base.as_deref()) {
            (Some(id), _) => Some(id),
            (None, Some(BASE_UPSTREAM)) => store::deps::of_downstream(c, t.id)
                .await?
                .first()
                .map(|d| d.upstream_id),
            _ => None,
        };
        match id {
            Some(id) => Ok(store::tasks::get(c, id).await?),
            None => Ok(None),
        }
    }

    /// The worktree a session of `t` gets (tasks with a repo; the daemon decides whether the
    /// repo is a git repository).
    pub(crate) async fn workspace_start(
        &self,
        c: &mut Conn,
        t: &TaskRecord,
    ) -> HubResult<Option<WorkspaceStart>> {
        if t.repo.is_none() {
            return Ok(None);
        }
        let base = match self.base_task(c, t).await? {
            Some(up) => Some(match store::workspaces::get(c, up.id).await? {
                Some(w) => base_of(w),
                None => branch_of(&up),
            }),
            None => t.base.clone().filter(|b| b != BASE_UPSTREAM),
        };
        Ok(Some(WorkspaceStart {
            branch: branch_of(t),
            base,
            reference: t.reference(),
        }))
    }

    /// What `t` asks of a server, with the server that holds its base task's worktree as a
    /// pin (its branch is there, or the branch it was merged into) when it has no pin of its
    /// own.
    pub(crate) async fn requirements_of(
        &self,
        c: &mut Conn,
        t: &TaskRecord,
    ) -> HubResult<Requirements> {
        let mut req = super::facts::requirements(t);
        if req.agent.is_none()
            && (t.base_from.is_some() || t.base.as_deref() == Some(BASE_UPSTREAM))
            && let Some(up) = self.base_task(c, t).await?
            && let Some(w) = store::workspaces::get(c, up.id).await?
            && (!w.report.removed || w.review == ReviewState::Merged)
        {
            req.agent = Some(w.server);
        }
        Ok(req)
    }

    /// The review comments each new session's task has waiting, as the one message its
    /// agent reads, handed over in the caller's transaction. One query for the whole wave:
    /// most tasks have none.
    pub(crate) async fn take_reviews(
        &self,
        c: &mut Conn,
        starts: &[(&TaskRecord, &Session)],
        now: i64,
        out: &mut Effects,
    ) -> HubResult<HashMap<Uuid, String>> {
        let ids: Vec<Uuid> = starts.iter().map(|(t, _)| t.id).collect();
        let mut by_task: HashMap<Uuid, Vec<StoredComment>> = HashMap::new();
        for w in store::workspaces::undelivered_of(c, &ids).await? {
            by_task.entry(w.task_id).or_default().push(w);
        }
        let mut messages = HashMap::new();
        for (t, s) in starts {
            if let Some(pending) = by_task.remove(&t.id) {
                let text = hand_over_comments(c, t, &pending, s, "task start", now, out).await?;
                messages.insert(t.id, text);
            }
        }
        Ok(messages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_become_slugs() {
        assert_eq!(slug("Gateway tests"), "gateway-tests");
        assert_eq!(slug("  API: v2 / auth!! "), "api-v2-auth");
        assert_eq!(slug("Ünïcode—only"), "n-code-only");
        assert_eq!(slug("!!!"), "");
        assert!(slug(&"x".repeat(100)).len() <= MAX_SLUG);
    }
}
