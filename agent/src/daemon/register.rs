//! `orchestratia-agent --register`: trade a one-time token for this server's key (docs/WORKFLOWS.md, workflow 1)
//! and write config.yaml.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use orchestratia_proto::api::RegisterServer;
use orchestratia_proto::client::HubClient;

use super::config::{AgentConfig, RunnerKind};
use crate::cli::usage;

/// What `--register` was given.
pub struct Registration<'a> {
    pub token: &'a str,
    pub hub: &'a str,
    pub name: &'a str,
    /// `NAME=PATH` pairs.
    pub repos: &'a [String],
    pub languages: &'a [String],
    pub agent_command: Option<&'a str>,
    pub runner: Option<RunnerKind>,
}

/// Parses `NAME=PATH` pairs; each path must be an existing directory (made absolute).
pub fn parse_repos(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut repos = BTreeMap::new();
    for pair in pairs {
        let (name, path) = pair
            .split_once('=')
            .ok_or_else(|| usage(format!("--repo '{pair}': expected NAME=PATH")))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(usage(format!("--repo '{pair}': the name is empty")));
        }
        let dir = Path::new(path.trim());
        let abs = std::fs::canonicalize(dir)
            .map_err(|e| usage(format!("--repo {name}: {}: {e}", dir.display())))?;
        if !abs.is_dir() {
            return Err(usage(format!(
                "--repo {name}: {} is not a directory",
                abs.display()
            )));
        }
        if repos
            .insert(name.to_string(), abs.display().to_string())
            .is_some()
        {
            return Err(usage(format!("--repo {name} is given twice")));
        }
    }
    Ok(repos)
}

/// `--worktree-dir DIR`: made if missing, and absolute.
pub fn worktree_dir(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::canonicalize(dir))
        .map_err(|e| usage(format!("--worktree-dir {}: {e}", dir.display())))
}

/// Registers with the hub and writes the config; prints what to do next.
pub async fn register(r: Registration<'_>, config_path: &Path) -> anyhow::Result<AgentConfig> {
    if !r
        .token
        .starts_with(orchestratia_proto::REGISTRATION_TOKEN_PREFIX)
    {
        return Err(usage(
            "--register needs an orcreg_… token (orchestratia server token --project NAME)",
        ));
    }
    let repos = parse_repos(r.repos)?;
    // One URL or several (hub replicas), kept as a tidy comma-separated list.
    let urls = orchestratia_proto::client::parse_bases(r.hub);
    if let Some(bad) = urls
        .iter()
        .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
    {
        return Err(usage(format!(
            "--hub {bad}: expected an http:// or https:// URL (several: separated by commas)"
        )));
    }
    let hub = &urls.join(",");
    let hostname = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let body = RegisterServer {
        token: r.token.to_string(),
        name: r.name.to_string(),
        os: std::env::consts::OS.to_string(),
        hostname,
        repos: repos.clone(),
        languages: r.languages.to_vec(),
    };
    let registered = HubClient::new(hub, None).register(&body).await?;
    let mut config = AgentConfig::new(hub, &registered.api_key, &registered.name);
    config.server_id = Some(registered.server_id);
    config.project_id = Some(registered.project_id);
    config.repos = repos;
    config.languages = r.languages.to_vec();
    if let Some(cmd) = r.agent_command {
        config.agent_command = cmd.to_string();
    }
    if let Some(runner) = r.runner {
        config.runner = runner;
    }
    config.save(config_path).with_context(|| {
        format!(
            "registered as {}, but the config could not be written",
            registered.name
        )
    })?;
    Ok(config)
}
