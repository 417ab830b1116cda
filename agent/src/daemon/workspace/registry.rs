//! The worktrees this daemon made, one JSON file per task under
//! `<state_dir>/workspaces/<task_id>.json`: what a restarted daemon reads to find them again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One task's worktree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub task_id: Uuid,
    /// Task reference (`T7`), for messages.
    #[serde(default, rename = "ref")]
    pub reference: String,
    /// The repo's name on this server.
    pub repo: String,
    /// The main checkout the worktree was made from.
    pub repo_path: PathBuf,
    /// The worktree's directory.
    pub path: PathBuf,
    pub branch: String,
    /// The branch (or commit) it started from.
    pub base: String,
    /// The commit it started from (diffs fall back to it when the base is gone).
    pub base_commit: String,
}

/// The registry's directory.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
}

impl Registry {
    /// The registry in `dir` (made on the first save).
    pub fn new(dir: &Path) -> Registry {
        Registry {
            dir: dir.to_path_buf(),
        }
    }

    fn file(&self, task_id: Uuid) -> PathBuf {
        self.dir.join(format!("{task_id}.json"))
    }

    /// The entry of a task, if it has one.
    pub fn get(&self, task_id: Uuid) -> Option<Entry> {
        let text = std::fs::read_to_string(self.file(task_id)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes an entry (atomically: a crash leaves the old one or the new one).
    pub fn save(&self, e: &Entry) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let text = serde_json::to_string_pretty(e).map_err(std::io::Error::other)?;
        let tmp = self.dir.join(format!("{}.json.tmp", e.task_id));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, self.file(e.task_id))
    }

    /// Forgets a task's worktree (it was removed).
    pub fn remove(&self, task_id: Uuid) {
        let _ = std::fs::remove_file(self.file(task_id));
    }

    /// Every entry, oldest task id first (unreadable files are skipped, with a log line).
    pub fn all(&self) -> Vec<Entry> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut v: Vec<Entry> = dir
            .flatten()
            .filter(|f| f.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|f| {
                let text = std::fs::read_to_string(f.path()).ok()?;
                serde_json::from_str(&text)
                    .map_err(|e| {
                        tracing::warn!(file = %f.path().display(), error = %e, "unreadable workspace entry")
                    })
                    .ok()
            })
            .collect();
        v.sort_by_key(|e: &Entry| e.task_id);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_go() {
        let dir = tempfile::tempdir().expect("dir");
        let r = Registry::new(&dir.path().join("workspaces"));
        assert!(r.all().is_empty());
        let e = Entry {
            task_id: Uuid::new_v4(),
            reference: "T7".into(),
            repo: "api".into(),
            repo_path: "/srv/api".into(),
            path: "/w/api/T7-x".into(),
            branch: "orc/T7-x".into(),
            base: "main".into(),
            base_commit: "abc".into(),
        };
        r.save(&e).expect("save");
        assert_eq!(r.get(e.task_id), Some(e.clone()));
        assert_eq!(r.all(), vec![e.clone()]);
        r.remove(e.task_id);
        assert!(r.get(e.task_id).is_none());
    }
}
