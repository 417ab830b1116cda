//! Claude Code's hook settings in a working directory: while sessions run there, its
//! `.claude/settings.local.json` holds hooks that route permission prompts to the hub and tell
//! it when the agent waits or finishes its turn. The file's own content is kept (hooks from
//! several places add up) and restored when the last session in that directory ends.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use serde_json::{Value, json};

/// Hook events routed to `orchestratia hook claude-code`.
pub const EVENTS: &[&str] = &["PermissionRequest", "Notification", "Stop"];

/// How long Claude waits for a hook (a human's decision may take a while).
pub const TIMEOUT_SECS: u64 = 86_400;

/// The settings file of a working directory.
pub fn settings_path(dir: &Path) -> PathBuf {
    dir.join(".claude").join("settings.local.json")
}

/// `existing` with our hook command added to each of [`EVENTS`].
pub fn merged(existing: Option<&Value>, command: &str) -> Value {
    let mut v = existing
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let entry = json!({"matcher": "*", "hooks": [{"type": "command", "command": command, "timeout": TIMEOUT_SECS}]});
    if let Some(obj) = v.as_object_mut() {
        let hooks = obj.entry("hooks").or_insert_with(|| json!({}));
        if !hooks.is_object() {
            *hooks = json!({});
        }
        if let Some(h) = hooks.as_object_mut() {
            for event in EVENTS {
                let list = h.entry(*event).or_insert_with(|| json!([]));
                if !list.is_array() {
                    *list = json!([]);
                }
                if let Some(l) = list.as_array_mut()
                    && !l.contains(&entry)
                {
                    l.push(entry.clone());
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
    /// Makes sure `dir`'s settings route to `command`; one more session uses them.
    pub fn acquire(&self, dir: &Path, command: &str) -> anyhow::Result<()> {
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
        let v = merged(parsed.as_ref(), command);
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
        let before = json!({"permissions": {"allow": ["Bash(ls)"]},
                            "hooks": {"PermissionRequest": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "mine"}]}]}});
        let before_text = serde_json::to_string(&before).expect("json");
        std::fs::write(&path, &before_text).expect("write");
        let s = Settings::default();
        s.acquire(dir.path(), "/bin/orchestratia hook claude-code")
            .expect("acquire");
        s.acquire(dir.path(), "/bin/orchestratia hook claude-code")
            .expect("second session");
        let now: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let pr = now["hooks"]["PermissionRequest"].as_array().expect("list");
        assert_eq!(pr.len(), 2, "the existing hook is kept");
        assert_eq!(pr[0]["hooks"][0]["command"], "mine");
        assert_eq!(pr[1]["hooks"][0]["timeout"], TIMEOUT_SECS);
        assert_eq!(now["permissions"]["allow"][0], "Bash(ls)");
        assert!(now["hooks"]["Stop"].is_array() && now["hooks"]["Notification"].is_array());
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
        s.acquire(dir.path(), "x").expect("acquire");
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
        assert!(Settings::default().acquire(dir.path(), "x").is_err());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "{not json");
    }
}
