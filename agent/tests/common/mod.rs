//! What the workspace tests share: a hub with project P and one real daemon whose repos are
//! git repositories, tasks made and read through the real CLI, and waits on their state.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use orchestratia_testkit::agent::tmux_available;
use orchestratia_testkit::{
    Backend, DaemonOptions, HubOptions, TestDaemon, TestHub, eventually, git, have,
};
use serde_json::Value;

/// A hub with project P and the daemon dev-01 (online) holding `repos`.
pub struct Rig {
    pub hub: TestHub,
    pub daemon: TestDaemon,
}

impl Rig {
    /// Starts the rig with git repositories (`git: true`), or `None` (and says why) when
    /// tmux or git is missing outside CI.
    pub async fn start(repos: &[&str]) -> Option<Rig> {
        Self::start_with(repos, true).await
    }

    /// Starts the rig; `git` makes each repo a git repository.
    pub async fn start_with(repos: &[&str], git_repos: bool) -> Option<Rig> {
        if !have("tmux", tmux_available()) || !have("git", git::available()) {
            return None;
        }
        let hub = TestHub::start_with(HubOptions {
            backend: Backend::Sqlite,
            heartbeat: Duration::from_millis(300),
            offline_after: Duration::from_secs(5),
            ..HubOptions::default()
        })
        .await?;
        hub.cli(&["project", "create", "P"]).await.ok();
        let daemon = TestDaemon::start(
            &hub,
            DaemonOptions {
                repos,
                git: git_repos,
                ..Default::default()
            },
        )
        .await;
        let rig = Rig { hub, daemon };
        rig.online().await;
        Some(rig)
    }

    /// Waits until dev-01 is online.
    pub async fn online(&self) {
        eventually(20, "dev-01 online", || async {
            let s = self.hub.cli(&["server", "list", "--json"]).await.json();
            s.as_array()
                .into_iter()
                .flatten()
                .any(|x| x["name"] == "dev-01" && x["status"] == "online")
                .then_some(())
        })
        .await;
    }

    /// The main checkout of a repo.
    pub fn repo(&self, name: &str) -> PathBuf {
        self.daemon.repo(name)
    }

    /// `task create --title TITLE --repo REPO --spec SPEC ARGS…`; returns the task's reference.
    pub async fn create(&self, title: &str, repo: &str, steps: &[&str], args: &[&str]) -> String {
        let spec = steps
            .iter()
            .map(|s| format!("worker: {s}"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut all = vec![
            "task", "create", "--title", title, "--repo", repo, "--spec", &spec, "--json",
        ];
        all.extend_from_slice(args);
        let t = self.hub.cli(&all).await.json();
        t["ref"].as_str().unwrap_or_default().to_string()
    }

    /// `task assign R --server dev-01`.
    pub async fn assign(&self, r: &str) {
        self.hub
            .cli(&["task", "assign", r, "--server", "dev-01"])
            .await
            .ok();
    }

    /// `task view R --json`.
    pub async fn view(&self, r: &str) -> Value {
        self.hub.cli(&["task", "view", r, "--json"]).await.json()
    }

    /// Waits until task `r` has `status`; fails the test with the daemon's log otherwise.
    pub async fn status_is(&self, r: &str, status: &str, secs: u64) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.view(r).await;
            if v["status"] == status {
                return v;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{r} is {} not {status}: {}\ndaemon log:\n{}",
                    v["status"],
                    v["result"],
                    self.daemon.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until task `r` is done and its workspace reports the session's end (its head is
    /// the branch's head in the repo); returns the task's view.
    pub async fn done_with_workspace(&self, r: &str, repo: &str) -> Value {
        self.status_is(r, "done", 30).await;
        let path = self.repo(repo);
        eventually(20, &format!("{r}'s workspace reported"), || async {
            let v = self.view(r).await;
            let w = &v["workspace"];
            let branch = w["branch"].as_str()?;
            let head = git::branch_head(&path, branch)?;
            (w["head"] == head.as_str()).then_some(v)
        })
        .await
    }

    /// Task `r`'s workspace from its view.
    pub async fn workspace(&self, r: &str) -> Value {
        let v = self.view(r).await;
        assert!(v["workspace"].is_object(), "{r} has no workspace: {v}");
        v["workspace"].clone()
    }
}

/// The texts of a task view's notes.
pub fn notes(v: &Value) -> Vec<String> {
    v["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["text"].as_str().map(str::to_string))
        .collect()
}

/// A task view's events named `name`.
pub fn events_of(v: &Value, name: &str) -> Vec<Value> {
    v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["event"] == name)
        .cloned()
        .collect()
}

/// An event's time in ms.
pub fn at(e: &Value) -> i64 {
    e["at"]
        .as_str()
        .and_then(orchestratia_proto::time::parse_rfc3339)
        .unwrap_or_default()
}

/// A JSON string field as a path.
pub fn path_of(w: &Value) -> PathBuf {
    PathBuf::from(w["path"].as_str().unwrap_or_default())
}

/// A JSON string field's text.
pub fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Paths of a `files` list (a report's or a diff's).
pub fn file_paths(v: &Value) -> Vec<String> {
    v["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["path"].as_str().map(str::to_string))
        .collect()
}

/// Whether `dir` is inside `root`.
pub fn under(dir: &Path, root: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(dir).starts_with(canon(root))
}
