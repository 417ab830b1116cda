//! Claude Code's hook settings in a working directory: while sessions run there, its
//! `.claude/settings.local.json` holds hooks that route permission prompts to the hub and
//! report the agent's state (every hook event the state follows from), and pins the
//! permission mode the server is configured for. The file's own content is kept (hooks from
//! several places add up) and restored when the last session in that directory ends.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use serde_json::{Value, json};

/// The hook event routed to `orchestratia hook claude-code`, which waits for the admin.
pub const PERMISSION_EVENT: &str = "PermissionRequest";

/// Hook events reported to the hub with `orchestratia hook claude-code --report-only`: the
/// agent's state follows from them.
pub const STATUS_EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "Notification",
    "Stop",
];

/// How long Claude waits for a permission hook (a human's decision may take a while).
pub const TIMEOUT_SECS: u64 = 86_400;
/// How long Claude waits for a status report (it never waits on a human).
pub const REPORT_TIMEOUT_SECS: u64 = 30;

/// The settings file of a working directory.
pub fn settings_path(dir: &Path) -> PathBuf {
    dir.join(".claude").join("settings.local.json")
}

fn hook_entry(command: &str, timeout: u64) -> Value {
    json!({"matcher": "*", "hooks": [{"type": "command", "command": command, "timeout": timeout}]})
}

/// `existing` with our hooks added (`command` is `orchestratia hook claude-code`) and the
/// permission mode set to `mode`.
pub fn merged(existing: Option<&Value>, command: &str, mode: &str) -> Value {
    let mut v = existing
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let report = format!("{command} --report-only");
    let mut ours: Vec<(&str, Value)> = vec![(PERMISSION_EVENT, hook_entry(command, TIMEOUT_SECS))];
    for e in STATUS_EVENTS {
        ours.push((e, hook_entry(&report, REPORT_TIMEOUT_SECS)));
    }
    if let Some(obj) = v.as_object_mut() {
        let permissions = obj.entry("permissions").or_insert_with(|| json!({}));
        if !permissions.is_object() {
            *permissions = json!({});
        }
        if let Some(p) = permissions.as_object_mut() {
            p.insert("defaultMode".into(), Value::String(mode.to_string()));
        }
        let hooks = obj.entry("hooks").or_insert_with(|| json!({}));
        if !hooks.is_object() {
            *hooks = json!({});
        }
        if let Some(h) = hooks.as_object_mut() {
            for (event, entry) in ours {
                let list = h.entry(event).or_insert_with(|| json!([]));
                if !list.is_array() {
                    *list = json!([]);
                }
                if let Some(l) = list.as_array_mut()
                    && !l.contains(&entry)
                {
                    l.push(entry);
                }
            }
        }
    }
    v
}

struct Installed {
    /// Sessions using it.
    users: usize,
    /// The file's content before we touched it (`None`: it did not exist).
    original: Option<String>,
    /// We created the `.claude` directory.
    created_dir: bool,
}

/// Installs and removes the hook settings, counting the sessions per directory.
#[derive(Default)]
pub struct Settings {
    installed: Mutex<HashMap<PathBuf, Installed>>,
}

impl Settings {
    /// Makes sure `dir`'s settings route to `command` with permission mode `mode`; one more
    /// session uses them.
    pub fn acquire(&self, dir: &Path, command: &str, mode: &str) -> anyhow::Result<()> {
        let mut map = self.installed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = map.get_mut(dir) {
            i.users += 1;
            return Ok(());
        }
        let path = settings_path(dir);
        let created_dir = !path.parent().is_some_and(Path::exists);
        let original = std::fs::read_to_string(&path).ok();
        let parsed = original
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok());
        if original.is_some() && parsed.is_none() {
            anyhow::bail!("{} is not valid JSON; not touching it", path.display());
        }
        let v = merged(parsed.as_ref(), command, mode);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, serde_json::to_string_pretty(&v)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        map.insert(
            dir.to_path_buf(),
            Installed {
                users: 1,
                original,
                created_dir,
            },
        );
        Ok(())
    }

    /// One session less in `dir`; the last one puts the file back as it was.
    pub fn release(&self, dir: &Path) {
        let mut map = self.installed.lock().unwrap_or_else(|e| e.into_inner());
        let Some(i) = map.get_mut(dir) else { return };
        i.users -= 1;
        if i.users > 0 {
            return;
        }
        let Some(i) = map.remove(dir) else { return };
        let path = settings_path(dir);
        match i.original {
            Some(text) => {
                if let Err(e) = std::fs::write(&path, text) {
                    tracing::warn!(error = %e, path = %path.display(), "could not restore Claude settings");
                }
            }
            None => {
                let _ = std::fs::remove_file(&path);
                if i.created_dir
                    && let Some(parent) = path.parent()
                {
                    let _ = std::fs::remove_dir(parent);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_with_existing_hooks_and_restores_them() {
        let dir = tempfile::tempdir().expect("dir");
        let path = settings_path(dir.path());
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let before = json!({"permissions": {"allow": ["Bash(ls)"], "defaultMode": "auto"},
                            "hooks": {"PermissionRequest": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "mine"}]}]}});
        let before_text = serde_json::to_string(&before).expect("json");
        std::fs::write(&path, &before_text).expect("write");
        let s = Settings::default();
        s.acquire(dir.path(), "/bin/orchestratia hook claude-code", "default")
            .expect("acquire");
        s.acquire(dir.path(), "/bin/orchestratia hook claude-code", "default")
            .expect("second session");
        let now: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let pr = now["hooks"]["PermissionRequest"].as_array().expect("list");
        assert_eq!(pr.len(), 2, "the existing hook is kept");
        assert_eq!(pr[0]["hooks"][0]["command"], "mine");
        assert_eq!(pr[1]["hooks"][0]["timeout"], TIMEOUT_SECS);
        assert_eq!(now["permissions"]["allow"][0], "Bash(ls)");
        assert_eq!(
            now["permissions"]["defaultMode"], "default",
            "the mode is pinned while sessions run"
        );
        for e in STATUS_EVENTS {
            let cmd = &now["hooks"][e][0]["hooks"][0]["command"];
            assert_eq!(
                cmd, "/bin/orchestratia hook claude-code --report-only",
                "{e} reports the state"
            );
        }
        s.release(dir.path());
        assert!(
            std::fs::read_to_string(&path)
                .expect("read")
                .contains("orchestratia"),
            "one session still runs"
        );
        s.release(dir.path());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), before_text);
    }

    #[test]
    fn a_directory_without_settings_is_left_as_it_was() {
        let dir = tempfile::tempdir().expect("dir");
        let s = Settings::default();
        s.acquire(dir.path(), "x", "default").expect("acquire");
        assert!(settings_path(dir.path()).exists());
        s.release(dir.path());
        assert!(!dir.path().join(".claude").exists());
    }

    #[test]
    fn invalid_json_is_not_touched() {
        let dir = tempfile::tempdir().expect("dir");
        let path = settings_path(dir.path());
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "{not json").expect("write");
        assert!(
            Settings::default()
                .acquire(dir.path(), "x", "default")
                .is_err()
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "{not json");
    }
}
