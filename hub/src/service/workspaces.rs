//! Tasks' git worktrees as the hub sees them: the reports daemons send (stored when they come
//! from the server that holds the worktree), requests relayed to that daemon and their
//! answers (report now, diff), the list of every workspace, and prune. Merge, keep, discard
//! and review comments are in `review.rs`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use orchestratia_proto::time::now_ms;
use orchestratia_proto::workspace::{
    DEFAULT_DIFF_LIMIT, DiffQuery, PruneCandidate, PruneItem, PruneWorkspaces, PrunedWorktree,
    ReviewState, Workspace, WorkspaceAnswer, WorkspaceDiff, WorkspaceFilter, WorkspaceOp,
    WorkspaceReport,
};
use orchestratia_proto::ws::HubToDaemon;
use orchestratia_proto::{EventKind, TaskStatus};
use serde_json::json;
use uuid::Uuid;

use super::{Effects, Hub, validate};
use crate::auth::Principal;
use crate::bad;
use crate::error::{HubError, HubResult};
use crate::store::tasks::TaskRecord;
use crate::store::workspaces::WorkspaceRow;
use crate::store::{self, Conn};

/// How long the hub waits for a daemon to report or diff.
pub(super) const QUICK_WAIT: Duration = Duration::from_secs(30);
/// How long the hub waits for a daemon to merge, discard or prune.
pub(super) const SLOW_WAIT: Duration = Duration::from_secs(120);
/// A diff may exceed the limit it was asked for by this much (the cut is at a line boundary).
const DIFF_SLACK: u64 = 64 * 1024;
/// Most files a report may list (changed, or uncommitted).
const MAX_FILES: usize = 50_000;
/// Longest path, branch, commit or name in a report, in bytes.
const MAX_FIELD: usize = 4096;
/// Longest reason a daemon gives, in characters.
const MAX_REASON: usize = 2000;

/// A text from a daemon, checked before it is stored: bounded and without NUL.
fn field(what: &str, v: &str) -> HubResult<()> {
    if v.len() > MAX_FIELD || v.contains('\0') {
        return Err(bad!(
            "workspace report: {what} is over {MAX_FIELD} bytes or holds NUL"
        ));
    }
    Ok(())
}

/// Checks a daemon's report before it is stored (a daemon's answer is untrusted input).
pub(super) fn check_report(r: &WorkspaceReport) -> HubResult<()> {
    for (what, v) in [
        ("repo", &r.repo),
        ("path", &r.path),
        ("branch", &r.branch),
        ("base", &r.base),
        ("base_commit", &r.base_commit),
        ("head", &r.head),
    ] {
        field(what, v)?;
    }
    if r.path.trim().is_empty() || r.branch.trim().is_empty() {
        return Err(bad!("workspace report: path and branch must not be empty"));
    }
    if r.files.len() > MAX_FILES || r.uncommitted.len() > MAX_FILES {
        return Err(bad!("workspace report: more than {MAX_FILES} files"));
    }
    for f in &r.files {
        field("file path", &f.path)?;
    }
    for f in &r.uncommitted {
        field("uncommitted path", f)?;
    }
    Ok(())
}

/// A daemon's reason, bounded for the caller.
pub(super) fn reason(r: &str) -> String {
    validate::bounded(r, MAX_REASON)
}

/// `T7 has no workspace (…)`: the answer when nothing was ever reported.
fn no_workspace(t: &TaskRecord) -> HubError {
    HubError::NotFound(format!(
        "{} has no workspace (its repo is not a git repository on {}, or it has not started)",
        t.reference(),
        t.server_name.as_deref().unwrap_or("its server")
    ))
}

/// Why a removed worktree is gone, for `T7's worktree was removed (…)`.
pub(super) fn removed_why(w: &WorkspaceRow) -> String {
    match (w.review, &w.merged_into) {
        (ReviewState::Merged, Some(into)) => format!("merged into {into}"),
        (ReviewState::Merged, None) => "merged".into(),
        (ReviewState::Discarded, _) => "discarded".into(),
        _ => "pruned".into(),
    }
}

impl Hub {
    /// Sends `op` about `task` to the daemon of `server` and waits up to `wait` for its
    /// answer. `offline`: what to say when the daemon is not connected.
    pub(super) async fn ask_daemon(
        &self,
        server: (Uuid, &str),
        task: Uuid,
        op: WorkspaceOp,
        wait: Duration,
        offline: &str,
    ) -> HubResult<WorkspaceAnswer> {
        let (server_id, name) = server;
        if !self.daemons.is_connected(server_id) {
            return Err(HubError::Conflict(format!(
                "server {name} is offline: {offline}"
            )));
        }
        let (request_id, rx) = self.daemons.replies.open(server_id);
        let msg = HubToDaemon::Workspace {
            request_id,
            task_id: task,
            op,
        };
        if !self.daemons.send(server_id, &msg) {
            self.daemons.replies.forget(request_id);
            return Err(HubError::Conflict(format!(
                "server {name} is offline: {offline}"
            )));
        }
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(HubError::Conflict(format!(
                "server {name} disconnected before it answered; try again once it is back"
            ))),
            Err(_) => {
                self.daemons.replies.forget(request_id);
                Err(HubError::Conflict(format!(
                    "server {name} did not answer in {} s",
                    wait.as_secs()
                )))
            }
        }
    }

    /// A daemon's answer to a request: handed to the waiting operation (a late or unknown
    /// one is dropped).
    pub fn workspace_reply(&self, server: Uuid, request_id: Uuid, answer: WorkspaceAnswer) {
        if !self.daemons.answer(server, request_id, answer) {
            tracing::debug!(%server, %request_id, "workspace answer nobody waits for here");
        }
    }

    /// A daemon reports a workspace (made, its session ended, found after a restart).
    pub async fn workspace_reported(
        &self,
        server: Uuid,
        report: &WorkspaceReport,
    ) -> HubResult<()> {
        check_report(report)?;
        let mut tx = self.store.write().await?;
        let mut out = Effects::default();
        self.store_report(&mut tx, server, report, &mut out).await?;
        self.commit(tx, out).await
    }

    /// Stores a report of `server` in the caller's transaction, if that server holds the
    /// task's worktree or runs the task; the first report (or the first of a new worktree
    /// after one was removed) is the event `workspace_created`.
    pub(super) async fn store_report(
        &self,
        c: &mut Conn,
        server: Uuid,
        report: &WorkspaceReport,
        out: &mut Effects,
    ) -> HubResult<WorkspaceRow> {
        let Some(t) = store::tasks::get(c, report.task_id).await? else {
            return Err(HubError::NotFound(format!(
                "workspace report for unknown task {}",
                report.task_id
            )));
        };
        let before = store::workspaces::get(c, t.id).await?;
        let holds = before.as_ref().is_some_and(|w| w.server_id == server);
        if !holds && t.server_id != Some(server) {
            return Err(HubError::Forbidden(format!(
                "{}'s workspace is not on this server",
                t.reference()
            )));
        }
        store::workspaces::upsert_report(c, t.project_id, server, report, now_ms()).await?;
        let created = match &before {
            None => true,
            Some(w) => w.report.removed && !report.removed,
        };
        if created && !report.removed {
            out.task_event(
                EventKind::WorkspaceCreated,
                "hub",
                t.project_id,
                t.id,
                json!({"branch": report.branch, "base": report.base, "path": report.path}),
            );
        }
        store::workspaces::get(c, t.id)
            .await?
            .ok_or_else(|| HubError::Internal("workspace vanished".into()))
    }

    /// The task `reference` names and its workspace row (404 when none was reported).
    pub(super) async fn task_workspace(
        &self,
        c: &mut Conn,
        p: &Principal,
        reference: &str,
    ) -> HubResult<(TaskRecord, WorkspaceRow)> {
        let t = self.resolve_task(c, p, reference, None).await?;
        match store::workspaces::get(c, t.id).await? {
            Some(w) => Ok((t, w)),
            None => Err(no_workspace(&t)),
        }
    }

    /// A task's diff against its base, from the daemon holding its worktree: admins, the
    /// task's own session, or an orchestrator session of its project.
    pub async fn task_diff(
        &self,
        p: &Principal,
        reference: &str,
        q: &DiffQuery,
    ) -> HubResult<WorkspaceDiff> {
        let file = q
            .file
            .as_deref()
            .map(|f| validate::line("file", f, 1000))
            .transpose()?;
        let (t, w) = {
            let mut c = self.read().await?;
            self.task_workspace(&mut c, p, reference).await?
        };
        let allowed = match p {
            Principal::Admin | Principal::Hub => true,
            Principal::Session {
                task_id,
                orchestrator,
                project_id,
                ..
            } => *task_id == Some(t.id) || (*orchestrator && *project_id == t.project_id),
            Principal::Server { .. } => false,
        };
        if !allowed {
            return Err(HubError::Forbidden(
                "a task's diff is for admins, its own session, or an orchestrator session of its project"
                    .into(),
            ));
        }
        if w.report.removed {
            return Err(HubError::Conflict(format!(
                "{}'s worktree was removed ({})",
                t.reference(),
                removed_why(&w)
            )));
        }
        let op = WorkspaceOp::Diff {
            file,
            stat: q.stat,
            limit: DEFAULT_DIFF_LIMIT,
        };
        let offline = format!("{}'s worktree is there", t.reference());
        let answer = self
            .ask_daemon((w.server_id, &w.server), t.id, op, QUICK_WAIT, &offline)
            .await?;
        match answer {
            WorkspaceAnswer::Diff { diff } => {
                if diff.diff.len() as u64 > DEFAULT_DIFF_LIMIT + DIFF_SLACK {
                    return Err(HubError::Conflict(format!(
                        "server {} answered a diff of {} bytes, over the limit of {DEFAULT_DIFF_LIMIT}",
                        w.server,
                        diff.diff.len()
                    )));
                }
                if diff.task_id != t.id {
                    return Err(HubError::Conflict(format!(
                        "server {} answered with another task's diff",
                        w.server
                    )));
                }
                Ok(diff)
            }
            WorkspaceAnswer::Refused { reason: r, .. } => Err(HubError::Conflict(reason(&r))),
            _ => Err(unexpected(&w.server, "a diff")),
        }
    }

    /// Asks the daemon holding a task's worktree to report it now, and returns it stored.
    pub async fn refresh_workspace(&self, p: &Principal, reference: &str) -> HubResult<Workspace> {
        p.require_admin("refreshing a workspace")?;
        let (t, w) = {
            let mut c = self.read().await?;
            self.task_workspace(&mut c, p, reference).await?
        };
        if w.report.removed {
            return Ok(w.to_workspace());
        }
        let offline = format!("{}'s worktree is there", t.reference());
        let answer = self
            .ask_daemon(
                (w.server_id, &w.server),
                t.id,
                WorkspaceOp::Report,
                QUICK_WAIT,
                &offline,
            )
            .await?;
        let report = match answer {
            WorkspaceAnswer::Report { report } => report,
            WorkspaceAnswer::Refused { reason: r, .. } => {
                return Err(HubError::Conflict(reason(&r)));
            }
            _ => return Err(unexpected(&w.server, "a report")),
        };
        let row = self.answered_report(w.server_id, t.id, &report).await?;
        Ok(row.to_workspace())
    }

    /// Stores a report that came as an answer about task `task`.
    async fn answered_report(
        &self,
        server: Uuid,
        task: Uuid,
        report: &WorkspaceReport,
    ) -> HubResult<WorkspaceRow> {
        check_report(report)?;
        if report.task_id != task {
            return Err(HubError::Conflict(
                "the daemon answered with another task's report".into(),
            ));
        }
        let mut tx = self.store.write().await?;
        let mut out = Effects::default();
        let row = self.store_report(&mut tx, server, report, &mut out).await?;
        self.commit(tx, out).await?;
        Ok(row)
    }

    /// Workspaces the hub knows of (not removed ones unless `all`).
    pub async fn workspaces(
        &self,
        p: &Principal,
        f: &WorkspaceFilter,
    ) -> HubResult<Vec<Workspace>> {
        p.require_admin("listing workspaces")?;
        let mut c = self.read().await?;
        let project = match f.project.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(k) => Some(self.resolve_project(&mut c, p, k).await?.id),
            None => None,
        };
        let server = match f.server.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(k) => Some(self.resolve_server(&mut c, p, k).await?.id),
            None => None,
        };
        let rows = store::workspaces::list(&mut c, project, server, f.all).await?;
        Ok(rows.iter().map(WorkspaceRow::to_workspace).collect())
    }

    /// Removes worktrees whose work is merged or discarded, or whose closed task left
    /// nothing to review, on every online server holding some (or one server); the daemon
    /// keeps any that hold work found nowhere else.
    pub async fn prune_workspaces(
        &self,
        p: &Principal,
        body: &PruneWorkspaces,
    ) -> HubResult<Vec<PruneItem>> {
        p.require_admin("pruning workspaces")?;
        let (rows, statuses) = {
            let mut c = self.read().await?;
            let server = match body.server.as_deref().filter(|s| !s.trim().is_empty()) {
                Some(k) => Some(self.resolve_server(&mut c, p, k).await?.id),
                None => None,
            };
            let rows = store::workspaces::list(&mut c, None, server, false).await?;
            let ids: Vec<Uuid> = rows.iter().map(|w| w.task_id).collect();
            let statuses: HashMap<Uuid, TaskStatus> = store::tasks::many(&mut c, &ids)
                .await?
                .into_iter()
                .map(|t| (t.id, t.status))
                .collect();
            (rows, statuses)
        };
        let mut by_server: BTreeMap<(String, Uuid), Vec<WorkspaceRow>> = BTreeMap::new();
        for w in rows {
            by_server
                .entry((w.server.clone(), w.server_id))
                .or_default()
                .push(w);
        }
        let mut items = Vec::new();
        for ((name, server), rows) in by_server {
            items.extend(
                self.prune_server((server, &name), rows, &statuses, body.dry_run)
                    .await?,
            );
        }
        Ok(items)
    }

    /// Prune on one server: what may go is sent; what the daemon removed is marked removed.
    async fn prune_server(
        &self,
        server: (Uuid, &str),
        rows: Vec<WorkspaceRow>,
        statuses: &HashMap<Uuid, TaskStatus>,
        dry_run: bool,
    ) -> HubResult<Vec<PruneItem>> {
        let all_kept = |why: String| {
            rows.iter()
                .map(|w| prune_item(w, "kept", why.clone()))
                .collect()
        };
        if !self.daemons.is_connected(server.0) {
            return Ok(all_kept("server offline".into()));
        }
        let removable = removable(&rows, statuses);
        let op = WorkspaceOp::Prune {
            dry_run,
            removable: removable.clone(),
        };
        let answer = match self
            .ask_daemon(
                server,
                Uuid::nil(),
                op,
                SLOW_WAIT,
                "its worktrees are there",
            )
            .await
        {
            Ok(a) => a,
            Err(e) => return Ok(all_kept(e.to_string())),
        };
        let pruned = match answer {
            WorkspaceAnswer::Pruned { items } => items,
            WorkspaceAnswer::Refused { reason: r, .. } => return Ok(all_kept(reason(&r))),
            _ => return Err(unexpected(server.1, "a prune")),
        };
        self.record_pruned(&rows, &pruned, &removable, dry_run)
            .await
    }

    /// Marks removed each worktree the daemon removed and the hub let it, and says what
    /// became of every one of `rows` (kept when its daemon did not mention it).
    async fn record_pruned(
        &self,
        rows: &[WorkspaceRow],
        pruned: &[PrunedWorktree],
        removable: &[PruneCandidate],
        dry_run: bool,
    ) -> HubResult<Vec<PruneItem>> {
        let by_task: HashMap<Uuid, &WorkspaceRow> = rows.iter().map(|w| (w.task_id, w)).collect();
        let mut out_items = Vec::new();
        let mut tx = self.store.write().await?;
        let mut out = Effects::default();
        for p in pruned.iter().take(MAX_FILES) {
            let Some(w) = by_task.get(&p.task_id) else {
                continue;
            };
            let may = removable.iter().any(|c| c.task_id == p.task_id);
            let action = match p.action.as_str() {
                "removed" if may && !dry_run => "removed",
                "would_remove" if may => "would_remove",
                _ => "kept",
            };
            if action == "removed" {
                store::workspaces::set_removed(&mut tx, w.task_id).await?;
                out.task_event(
                    EventKind::WorkspacePruned,
                    "admin",
                    w.project_id,
                    w.task_id,
                    json!({"branch": w.report.branch, "path": w.report.path}),
                );
            }
            out_items.push(prune_item(w, action, reason(&p.why)));
        }
        for w in rows {
            if !pruned.iter().any(|p| p.task_id == w.task_id) {
                let why = "its daemon does not know this worktree".into();
                out_items.push(prune_item(w, "kept", why));
            }
        }
        self.commit(tx, out).await?;
        Ok(out_items)
    }

    /// A task's workspace and review comments, for its view.
    pub(crate) async fn workspace_of(
        &self,
        c: &mut Conn,
        task: Uuid,
    ) -> HubResult<(
        Option<Workspace>,
        Vec<orchestratia_proto::workspace::StoredComment>,
    )> {
        let w = store::workspaces::get(c, task).await?;
        let comments = store::workspaces::comments(c, task).await?;
        Ok((w.map(|w| w.to_workspace()), comments))
    }
}

/// What became of one worktree in a prune, for the admin.
fn prune_item(w: &WorkspaceRow, action: &str, why: String) -> PruneItem {
    PruneItem {
        task_id: w.task_id,
        reference: w.reference.clone(),
        server: w.server.clone(),
        path: w.report.path.clone(),
        branch: w.report.branch.clone(),
        action: action.into(),
        why,
    }
}

/// The worktrees a prune may remove: merged, discarded, or unreviewed with their task over.
fn removable(rows: &[WorkspaceRow], statuses: &HashMap<Uuid, TaskStatus>) -> Vec<PruneCandidate> {
    rows.iter()
        .filter(|w| match w.review {
            ReviewState::Merged | ReviewState::Discarded => true,
            ReviewState::Unreviewed => statuses.get(&w.task_id).is_some_and(|s| s.is_terminal()),
            ReviewState::Kept => false,
        })
        .map(|w| PruneCandidate {
            task_id: w.task_id,
            review: w.review,
            merged_head: w.merged_head.clone(),
        })
        .collect()
}

/// A daemon answered something else than what was asked.
pub(super) fn unexpected(server: &str, what: &str) -> HubError {
    HubError::Conflict(format!(
        "server {server} answered a request for {what} with something else"
    ))
}

#[cfg(test)]
mod tests {
    use orchestratia_proto::workspace::FileChange;

    use super::*;

    fn report() -> WorkspaceReport {
        WorkspaceReport {
            task_id: Uuid::nil(),
            repo: "app".into(),
            path: "/w/app/T1".into(),
            branch: "orc/T1".into(),
            base: "main".into(),
            base_commit: "a".into(),
            head: "b".into(),
            ahead: 0,
            behind: 0,
            files: Vec::new(),
            uncommitted: Vec::new(),
            removed: false,
        }
    }

    #[test]
    fn a_report_is_bounded_before_it_is_stored() {
        assert!(check_report(&report()).is_ok());
        let long = WorkspaceReport {
            path: "x".repeat(MAX_FIELD + 1),
            ..report()
        };
        assert!(check_report(&long).is_err());
        let nul = WorkspaceReport {
            branch: "a\0b".into(),
            ..report()
        };
        assert!(check_report(&nul).is_err());
        let empty = WorkspaceReport {
            branch: " ".into(),
            ..report()
        };
        assert!(check_report(&empty).is_err());
        let many = WorkspaceReport {
            files: vec![
                FileChange {
                    path: "a".into(),
                    insertions: None,
                    deletions: None,
                };
                MAX_FILES + 1
            ],
            ..report()
        };
        assert!(check_report(&many).is_err());
    }
}
