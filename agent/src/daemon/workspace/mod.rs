//! Workspaces: each task whose repo is a git repository works in its own `git worktree`, on a
//! branch of its own. This module makes them (`create`), reports what changed (`report`),
//! merges or discards them (`merge`), and removes the ones whose work is safe elsewhere
//! (`prune`). The registry (`registry`) is how a restarted daemon finds them again.
//!
//! Everything here is blocking (it runs `git`): async callers go through `spawn_blocking`.

mod create;
pub mod git;
mod merge;
mod prune;
pub mod registry;
mod report;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use orchestratia_proto::workspace::{WorkspaceAnswer, WorkspaceOp, WorkspaceReport};
use uuid::Uuid;

pub use create::Created;
pub use registry::{Entry, Registry};

/// The workspaces of this daemon: where worktrees go, and the registry of those it made.
pub struct Workspaces {
    root: PathBuf,
    registry: Registry,
    /// One git operation at a time (two on one repo would fight over its lock files).
    lock: Mutex<()>,
}

impl Workspaces {
    /// Worktrees under `root`; the registry in `<state_dir>/workspaces`.
    pub fn new(root: &Path, state_dir: &Path) -> Workspaces {
        Workspaces {
            root: root.to_path_buf(),
            registry: Registry::new(&state_dir.join("workspaces")),
            lock: Mutex::new(()),
        }
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Does what the hub asked about a task's workspace (the task is `Uuid::nil()` for a
    /// prune). Never fails: what could not be done is `Refused`, with why.
    pub fn handle(&self, task_id: Uuid, op: WorkspaceOp) -> WorkspaceAnswer {
        let _g = self.guard();
        if let WorkspaceOp::Prune { dry_run, removable } = op {
            return WorkspaceAnswer::Pruned {
                items: prune::prune(&self.registry, dry_run, &removable),
            };
        }
        let Some(entry) = self.registry.get(task_id) else {
            return refused(format!("this server has no worktree for task {task_id}"));
        };
        let answer = match op {
            WorkspaceOp::Report => {
                report::report(&entry).map(|report| WorkspaceAnswer::Report { report })
            }
            WorkspaceOp::Diff { file, stat, limit } => {
                report::diff(&entry, file.as_deref(), stat, limit)
            }
            WorkspaceOp::Merge {
                into,
                squash,
                message,
            } => merge::merge(&self.registry, &entry, into.as_deref(), squash, &message),
            WorkspaceOp::Discard => merge::discard(&self.registry, &entry)
                .map(|report| WorkspaceAnswer::Report { report }),
            WorkspaceOp::Prune { .. } => Ok(refused("a prune names no task".to_string())),
        };
        answer.unwrap_or_else(|e| refused(e.to_string()))
    }

    /// The report of a task's worktree, if this daemon has one.
    pub fn report(&self, task_id: Uuid) -> Option<WorkspaceReport> {
        let _g = self.guard();
        let entry = self.registry.get(task_id)?;
        report::report(&entry)
            .map_err(|e| tracing::warn!(task = %task_id, error = %e, "workspace report failed"))
            .ok()
    }

    /// Reports of every registered worktree (after a (re)connect); `removed` for those whose
    /// directory is gone.
    pub fn reports(&self) -> Vec<WorkspaceReport> {
        let _g = self.guard();
        self.registry
            .all()
            .iter()
            .filter_map(|e| {
                report::report(e)
                    .map_err(|err| tracing::warn!(task = %e.task_id, error = %err, "workspace report failed"))
                    .ok()
            })
            .collect()
    }

    /// Makes (or finds again) a task's worktree for a session starting in `working_dir`;
    /// `Ok(None)` when that is not in a git repository. The error is why the session cannot
    /// start.
    pub fn create(
        &self,
        task_id: Uuid,
        repo: Option<&str>,
        working_dir: &Path,
        start: &orchestratia_proto::workspace::WorkspaceStart,
    ) -> Result<Option<Created>, String> {
        let _g = self.guard();
        create::create(self, task_id, repo, working_dir, start)
    }
}

/// An answer refusing an op, nothing changed.
pub(crate) fn refused(reason: String) -> WorkspaceAnswer {
    WorkspaceAnswer::Refused {
        reason,
        conflicts: Vec::new(),
    }
}

/// `a.txt, b.rs` (and `and N more` past five).
pub(crate) fn list(paths: &[String]) -> String {
    let mut s = paths
        .iter()
        .take(5)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > 5 {
        s.push_str(&format!(" and {} more", paths.len() - 5));
    }
    s
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
