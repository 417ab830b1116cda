//! The daemon's config.yaml: where the hub is, this server's key and name, its repos and
//! languages, and how it runs agents. Written (mode 0600) by `--register`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::claude::prices::Price;

/// How sessions are run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunnerKind {
    /// tmux when it is installed, else a plain PTY.
    #[default]
    Auto,
    /// Each agent in its own tmux session: it survives a daemon crash.
    Tmux,
    /// A plain PTY: no persistence across daemon restarts.
    Pty,
}

/// The daemon's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentConfig {
    pub hub_url: String,
    pub api_key: String,
    pub name: String,
    #[serde(default)]
    pub server_id: Option<Uuid>,
    #[serde(default)]
    pub project_id: Option<Uuid>,
    /// Repository name → path on this machine.
    #[serde(default)]
    pub repos: BTreeMap<String, String>,
    #[serde(default)]
    pub languages: Vec<String>,
    /// Run by `sh -c` in the repo's directory with the ORCHESTRATIA_* environment. When it is
    /// Claude Code (`claude`), the task's prompt is passed as its argument and its permission
    /// hooks are installed in the working directory.
    #[serde(default = "default_agent_command")]
    pub agent_command: String,
    #[serde(default)]
    pub runner: RunnerKind,
    /// Session files, the tmux socket and recovery state (default: beside this file).
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// Where tasks' git worktrees go (default: `<state_dir>/worktrees`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree_dir: Option<PathBuf>,
    /// Working directory of a task that names no repo this server has (default: home).
    #[serde(default)]
    pub default_dir: Option<PathBuf>,
    /// After a restart, how long reattached sessions stay `recovering` before `active`.
    #[serde(default = "default_grace")]
    pub recovery_grace_secs: u64,
    /// Output kept while the hub cannot be reached; past it the oldest is dropped and counted.
    #[serde(default = "default_buffer")]
    pub output_buffer_mib: u64,
    /// The `orchestratia` CLI that sessions call (default: beside the daemon, else on PATH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_path: Option<PathBuf>,
    /// Claude Code's permission mode, pinned in the hook settings while a session runs
    /// (`default`: every permission prompt reaches the hub).
    #[serde(default = "default_permission_mode")]
    pub permission_mode: String,
    /// Keep an agent running after its task is closed (to go on talking to it); a task can
    /// ask for it too. Default: a finished task's session ends.
    #[serde(default)]
    pub keep_finished_sessions: bool,
    /// How long a blocking command inside Claude Code (`orchestratia task help`, `task plan
    /// submit`) may wait for a human: Claude's Bash timeouts are raised to it.
    #[serde(default = "default_human_wait")]
    pub human_wait_secs: u64,
    /// A finished task's agent may end its turn for this long before it is told to exit.
    #[serde(default = "default_finish_wait")]
    pub finish_wait_secs: u64,
    /// An agent told to exit has this long before its processes are ended.
    #[serde(default = "default_stop_grace")]
    pub stop_grace_secs: u64,
    /// Model prices in US dollars per million tokens, by model-name prefix (the longest
    /// prefix wins), over the defaults for current Claude models: what a session's usage is
    /// estimated to cost.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, Price>,
}

fn default_agent_command() -> String {
    "claude".to_string()
}

fn default_grace() -> u64 {
    15
}

fn default_permission_mode() -> String {
    "default".to_string()
}

fn default_human_wait() -> u64 {
    86_400
}

fn default_finish_wait() -> u64 {
    60
}

fn default_stop_grace() -> u64 {
    10
}

fn default_buffer() -> u64 {
    32
}

impl AgentConfig {
    /// A fresh config for a newly registered server.
    pub fn new(hub_url: &str, api_key: &str, name: &str) -> AgentConfig {
        AgentConfig {
            hub_url: hub_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            name: name.to_string(),
            server_id: None,
            project_id: None,
            repos: BTreeMap::new(),
            languages: Vec::new(),
            agent_command: default_agent_command(),
            runner: RunnerKind::Auto,
            state_dir: None,
            worktree_dir: None,
            default_dir: None,
            recovery_grace_secs: default_grace(),
            output_buffer_mib: default_buffer(),
            cli_path: None,
            permission_mode: default_permission_mode(),
            keep_finished_sessions: false,
            human_wait_secs: default_human_wait(),
            finish_wait_secs: default_finish_wait(),
            stop_grace_secs: default_stop_grace(),
            prices: BTreeMap::new(),
        }
    }

    /// Reads a config file.
    pub fn load(path: &Path) -> anyhow::Result<AgentConfig> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read {} (register first: orchestratia-agent --register orcreg_… --hub URL --name NAME)",
                path.display()
            )
        })?;
        let config: AgentConfig = yaml_serde::from_str(&text)
            .with_context(|| format!("{} is not a valid config", path.display()))?;
        config
            .check()
            .with_context(|| format!("{} is not a valid config", path.display()))?;
        Ok(config)
    }

    /// Checks the values a file may get wrong.
    pub fn check(&self) -> anyhow::Result<()> {
        if !super::claude::PERMISSION_MODES.contains(&self.permission_mode.as_str()) {
            anyhow::bail!(
                "permission_mode '{}' is not one of Claude Code's modes ({})",
                self.permission_mode,
                super::claude::PERMISSION_MODES.join(", ")
            );
        }
        if self.human_wait_secs == 0 {
            anyhow::bail!("human_wait_secs must be more than 0");
        }
        for (model, price) in &self.prices {
            price.check(model).map_err(anyhow::Error::msg)?;
        }
        Ok(())
    }

    /// Writes the config, readable only by its owner.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = yaml_serde::to_string(self)?;
        orchestratia_proto::files::write_private(path, &text)
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The state directory for a config at `config_path`.
    pub fn state_dir(&self, config_path: &Path) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(|| {
            let dir = config_path.parent().unwrap_or(Path::new("."));
            let stem = config_path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("config");
            dir.join(format!("{stem}.state"))
        })
    }

    /// Where tasks' worktrees go, given the state directory.
    pub fn worktree_dir(&self, state_dir: &Path) -> PathBuf {
        self.worktree_dir
            .clone()
            .unwrap_or_else(|| state_dir.join("worktrees"))
    }

    /// Whether the agent command is Claude Code.
    pub fn is_claude(&self) -> bool {
        is_claude_command(&self.agent_command)
    }
}

/// True when a command's program is `claude`.
pub fn is_claude_command(cmd: &str) -> bool {
    cmd.split_whitespace()
        .next()
        .and_then(|p| Path::new(p).file_name())
        .is_some_and(|n| n == "claude")
}

/// The default config path: `~/.config/orchestratia/config.yaml`.
pub fn default_path() -> anyhow::Result<PathBuf> {
    orchestratia_proto::files::agent_config_file()
        .context("no home or XDG_CONFIG_HOME: pass --config PATH")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_defaults() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config.yaml");
        let mut c = AgentConfig::new("http://h:1/", "orc_x", "dev-01");
        c.repos.insert("api".into(), "/srv/api".into());
        c.save(&path).expect("save");
        assert_eq!(AgentConfig::load(&path).expect("load"), c);
        assert_eq!(c.hub_url, "http://h:1");
        assert_eq!(c.state_dir(&path), dir.path().join("config.state"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let minimal: AgentConfig =
            yaml_serde::from_str("hub_url: x\napi_key: y\nname: z\n").expect("parse");
        assert_eq!(minimal.agent_command, "claude");
        assert_eq!(minimal.recovery_grace_secs, 15);
        assert_eq!(minimal.permission_mode, "default");
        assert!(!minimal.keep_finished_sessions);
        assert_eq!(minimal.human_wait_secs, 86_400);
        assert_eq!(
            minimal.worktree_dir(Path::new("/s")),
            PathBuf::from("/s/worktrees")
        );
    }

    /// `worktree_dir` in the config is where the daemon's tasks get their worktrees.
    #[test]
    fn a_worktree_dir_set_in_the_config_holds_the_worktrees() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config.yaml");
        let trees = dir.path().join("elsewhere");
        std::fs::write(
            &path,
            format!(
                "hub_url: x\napi_key: y\nname: z\nworktree_dir: {}\n",
                trees.display()
            ),
        )
        .expect("write");
        let c = AgentConfig::load(&path).expect("load");
        let state = c.state_dir(&path);
        assert_eq!(c.worktree_dir(&state), trees);
        let rig = crate::daemon::workspace::testing::Rig::new();
        let ws = crate::daemon::workspace::Workspaces::new(&c.worktree_dir(&state), &state);
        let made = ws
            .create(
                uuid::Uuid::new_v4(),
                Some("api"),
                &rig.repo,
                &crate::daemon::workspace::testing::Rig::start("orc/T7-x", None),
            )
            .expect("create")
            .expect("a git repo");
        assert!(made.entry.path.starts_with(trees.join("api")), "{made:?}");
    }

    #[test]
    fn a_bad_permission_mode_is_refused_with_the_choices() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config.yaml");
        std::fs::write(
            &path,
            "hub_url: x\napi_key: y\nname: z\npermission_mode: yolo\n",
        )
        .expect("write");
        let err = format!("{:#}", AgentConfig::load(&path).expect_err("bad mode"));
        assert!(
            err.contains("permission_mode 'yolo'") && err.contains("acceptEdits"),
            "{err}"
        );
    }

    #[test]
    fn prices_come_from_the_config_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config.yaml");
        let base = "hub_url: x\napi_key: y\nname: z\n";
        std::fs::write(
            &path,
            format!("{base}prices:\n  claude-sonnet-4:\n    input: 2\n    output: 10\n    cache_read: 0.5\n"),
        )
        .expect("write");
        let c = AgentConfig::load(&path).expect("load");
        let p = &c.prices["claude-sonnet-4"];
        assert_eq!(
            (p.input, p.output, p.cache_read, p.cache_write),
            (2.0, 10.0, Some(0.5), None)
        );
        std::fs::write(
            &path,
            format!("{base}prices:\n  m:\n    input: -1\n    output: 1\n"),
        )
        .expect("write");
        let err = format!("{:#}", AgentConfig::load(&path).expect_err("negative"));
        assert!(err.contains("prices.\"m\".input"), "{err}");
    }

    #[test]
    fn knows_claude() {
        assert!(is_claude_command("claude"));
        assert!(is_claude_command("/usr/local/bin/claude --model x"));
        assert!(!is_claude_command("sh worker.sh"));
    }
}
