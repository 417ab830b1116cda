//! The real Claude Code CLI for end-to-end tests: installed from npm at a pinned version (the
//! package carries a native binary; nothing else is downloaded), run offline against
//! [`FakeModel`](crate::model::FakeModel) with a home of its own whose config has onboarding
//! done and the test's API key approved, as a user's would after a first manual run.
//!
//! Where npm cannot reach its registry the tests that need Claude Code skip with a printed
//! reason, except under `CI`, where they fail.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use serde_json::json;

use crate::model::FakeModel;

/// The pinned version: the newest that runs on the Node.js Debian ships here (20); later ones
/// declare node ≥ 22.
pub const VERSION: &str = "2.1.197";

/// Where the pinned version is installed: beside the workspace's build output
/// (`target/claude-code/VERSION`), where `.ci/run` installs it too.
pub fn install_dir() -> PathBuf {
    let target = crate::bin_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    target.join("claude-code").join(VERSION)
}

/// The directory holding the `claude` executable, installing it on first use; `None` (with
/// the reason printed) where it cannot be installed and `CI` is unset.
pub fn bin_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match DIR.get_or_init(install) {
        Ok(d) => Some(d.clone()),
        Err(why) => {
            assert!(
                std::env::var("CI").is_err(),
                "Claude Code {VERSION} is needed in CI: {why}"
            );
            eprintln!("skipping: Claude Code {VERSION} is not available ({why})");
            None
        }
    }
}

fn install() -> Result<PathBuf, String> {
    let dir = install_dir();
    let bin = dir.join("node_modules").join(".bin");
    if runs(&bin.join("claude")) {
        return Ok(bin);
    }
    // Install into a fresh directory, then move it into place: a half-finished install is
    // never mistaken for one.
    let tmp = dir.with_extension(format!("installing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    eprintln!(
        "installing Claude Code {VERSION} from npm into {}",
        dir.display()
    );
    let out = std::process::Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&tmp)
        .arg(format!("@anthropic-ai/claude-code@{VERSION}"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running npm: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(format!(
            "npm install failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another process finished first.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    if runs(&bin.join("claude")) {
        Ok(bin)
    } else {
        Err(format!(
            "{} does not run after the install",
            bin.join("claude").display()
        ))
    }
}

/// Whether `claude --version` answers.
fn runs(claude: &Path) -> bool {
    std::process::Command::new(claude)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The API key the test's Claude Code presents to the fake model.
pub const API_KEY: &str = "sk-ant-orchestratia-test-0123456789abcdefghij";

/// A home directory for Claude Code (its `~/.claude.json` and transcripts), removed on drop.
pub struct ClaudeHome {
    pub dir: tempfile::TempDir,
}

impl ClaudeHome {
    /// A home where onboarding is done and [`API_KEY`] is approved; no folder is trusted.
    pub fn new() -> ClaudeHome {
        let dir = tempfile::tempdir().expect("claude home");
        let tail: String = API_KEY
            .chars()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let config = json!({
            "hasCompletedOnboarding": true,
            "customApiKeyResponses": {"approved": [tail], "rejected": []},
        });
        std::fs::write(dir.path().join(".claude.json"), config.to_string()).expect("claude config");
        ClaudeHome { dir }
    }

    /// `~/.claude.json` of this home.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join(".claude.json")
    }

    /// The environment a daemon (and so the Claude Code it starts) runs with: this home, the
    /// fake model, `claude` first on PATH, and Claude Code kept offline.
    pub fn env(&self, model: &FakeModel, claude_bin: &Path) -> Vec<(String, String)> {
        let path = std::env::var("PATH").unwrap_or_default();
        vec![
            (
                "HOME".into(),
                self.dir.path().to_string_lossy().into_owned(),
            ),
            ("PATH".into(), format!("{}:{path}", claude_bin.display())),
            ("ANTHROPIC_BASE_URL".into(), model.url.clone()),
            ("ANTHROPIC_API_KEY".into(), API_KEY.into()),
            ("DISABLE_AUTOUPDATER".into(), "1".into()),
            (
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                "1".into(),
            ),
            (
                "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL".into(),
                "1".into(),
            ),
        ]
    }
}

impl Default for ClaudeHome {
    fn default() -> Self {
        Self::new()
    }
}
