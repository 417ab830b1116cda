//! Claude Code's hook settings in a working directory: while sessions run there, its
//! `.claude/settings.local.json` holds hooks that route permission prompts to the hub and
//! report the agent's state (every hook event the state follows from), and pins the
//! permission mode the server is configured for. The file's own content is kept (hooks from
//! several places add up) and restored when the last session in that directory ends; what it
//! was is recorded under the daemon's state dir, so a restarted daemon restores the same.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::trust::write_atomically;

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

/// What the settings file was before the first session in a directory touched it; kept in
/// memory and in a record under the daemon's state dir, so a daemon that restarts (kill -9,
/// upgrade, reboot) still puts back the user's file and not one with our hooks in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Original {
    /// The working directory.
    dir: PathBuf,
    /// The file's content (`None`: it did not exist).
    content: Option<String>,
    /// We created the `.claude` directory.
    created_dir: bool,
}

struct Installed {
    /// Sessions using it.
    users: usize,
    original: Original,
}

/// Installs and removes the hook settings, counting the sessions per directory.
pub struct Settings {
    installed: Mutex<HashMap<PathBuf, Installed>>,
    /// Where the originals are recorded (`<state dir>/claude-settings`).
    records: PathBuf,
}

impl Settings {
    /// Settings whose originals are recorded under `state_dir`.
    pub fn new(state_dir: &Path) -> Settings {
        Settings {
            installed: Mutex::new(HashMap::new()),
            records: state_dir.join("claude-settings"),
        }
    }

    /// The record of `dir`'s original: named by a hash of the path (any length fits).
    fn record_path(&self, dir: &Path) -> PathBuf {
        let digest = Sha256::digest(dir.as_os_str().as_encoded_bytes());
        self.records.join(format!("{}.json", hex::encode(digest)))
    }

    /// The recorded original of `dir`, when an earlier daemon process (or this one) made one.
    fn load_record(&self, dir: &Path) -> Option<Original> {
        let path = self.record_path(dir);
        let text = std::fs::read_to_string(&path).ok()?;
        match serde_json::from_str::<Original>(&text) {
            Ok(o) if o.dir == dir => Some(o),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "an unreadable record of Claude settings; ignored");
                None
            }
        }
    }

    /// Records `dir`'s original (atomically, readable only by the daemon's user).
    fn save_record(&self, o: &Original) -> anyhow::Result<()> {
        let path = self.record_path(&o.dir);
        let text = serde_json::to_string_pretty(o)?;
        write_atomically(&path, &text)
            .with_context(|| format!("recording the original in {}", path.display()))
    }

    /// Makes sure `dir`'s settings route to `command` with permission mode `mode`; one more
    /// session uses them. The first session in `dir` records the file as it was, unless a
    /// record is there already (made before a daemon restart): that one stays the original.
    pub fn acquire(&self, dir: &Path, command: &str, mode: &str) -> anyhow::Result<()> {
        let mut map = self.installed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = map.get_mut(dir) {
            i.users += 1;
            return Ok(());
        }
        let path = settings_path(dir);
        let created_dir = !path.parent().is_some_and(Path::exists);
        let current = std::fs::read_to_string(&path).ok();
        let parsed = current
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok());
        if current.is_some() && parsed.is_none() {
            anyhow::bail!("{} is not valid JSON; not touching it", path.display());
        }
        let original = match self.load_record(dir) {
            Some(o) => o,
            None => {
                let o = Original {
                    dir: dir.to_path_buf(),
                    content: current,
                    created_dir,
                };
                self.save_record(&o)?;
                o
            }
        };
        let v = merged(parsed.as_ref(), command, mode);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, serde_json::to_string_pretty(&v)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        map.insert(dir.to_path_buf(), Installed { users: 1, original });
        Ok(())
    }

    /// One session less in `dir`; the last one puts the file back as it was and drops the
    /// record.
    pub fn release(&self, dir: &Path) {
        let mut map = self.installed.lock().unwrap_or_else(|e| e.into_inner());
        let Some(i) = map.get_mut(dir) else { return };
        i.users -= 1;
        if i.users > 0 {
            return;
        }
        if let Some(i) = map.remove(dir) {
            self.put_back(&i.original);
        }
    }

    /// Puts `dir`'s file back from its record when no session of this process uses it: its
    /// sessions ended, or were not resumed, while the daemon was away.
    pub fn restore_unused(&self, dir: &Path) {
        let map = self.installed.lock().unwrap_or_else(|e| e.into_inner());
        if map.contains_key(dir) {
            return;
        }
        if let Some(o) = self.load_record(dir) {
            self.put_back(&o);
        }
    }

    /// Restores the file and drops its record.
    fn put_back(&self, o: &Original) {
        restore(o);
        let record = self.record_path(&o.dir);
        if let Err(e) = std::fs::remove_file(&record)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, path = %record.display(), "could not remove the record of Claude settings");
        }
    }
}

/// Puts a directory's settings file back as it was.
fn restore(o: &Original) {
    let path = settings_path(&o.dir);
    match &o.content {
        Some(text) => {
            if let Err(e) = std::fs::write(&path, text) {
                tracing::warn!(error = %e, path = %path.display(), "could not restore Claude settings");
            }
        }
        None => {
            let _ = std::fs::remove_file(&path);
            if o.created_dir
                && let Some(parent) = path.parent()
            {
                let _ = std::fs::remove_dir(parent);
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
        let state = tempfile::tempdir().expect("state");
        let s = Settings::new(state.path());
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
        let state = tempfile::tempdir().expect("state");
        let s = Settings::new(state.path());
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
        let state = tempfile::tempdir().expect("state");
        assert!(
            Settings::new(state.path())
                .acquire(dir.path(), "x", "default")
                .is_err()
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "{not json");
    }

    /// The record of a directory's original, as `ls` shows it: one file, private.
    fn records(state: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(state.join("claude-settings"))
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_restarted_daemon_restores_the_original_it_recorded() {
        let dir = tempfile::tempdir().expect("dir");
        let state = tempfile::tempdir().expect("state");
        let path = settings_path(dir.path());
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let before = "{\"permissions\": {\"defaultMode\": \"auto\"}}";
        std::fs::write(&path, before).expect("write");
        Settings::new(state.path())
            .acquire(dir.path(), "x", "default")
            .expect("acquire");
        let recorded = records(state.path());
        assert_eq!(recorded.len(), 1, "the original is recorded");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&recorded[0]).expect("meta").permissions();
            assert_eq!(
                mode.mode() & 0o777,
                0o600,
                "only the daemon's user reads it"
            );
        }
        // The daemon died (the first `Settings` is gone with its memory); a new one finds the
        // file with our hooks in it, and still puts back what was there before.
        let again = Settings::new(state.path());
        again.acquire(dir.path(), "x", "default").expect("acquire");
        assert!(
            std::fs::read_to_string(&path)
                .expect("read")
                .contains("hooks")
        );
        again.release(dir.path());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), before);
        assert!(
            records(state.path()).is_empty(),
            "the record goes with the last session"
        );
    }

    #[test]
    fn a_created_directory_goes_when_its_sessions_ended_while_the_daemon_was_away() {
        let dir = tempfile::tempdir().expect("dir");
        let state = tempfile::tempdir().expect("state");
        Settings::new(state.path())
            .acquire(dir.path(), "x", "default")
            .expect("acquire");
        // After a restart: a session reattached in the dir keeps the settings in place.
        let again = Settings::new(state.path());
        again
            .acquire(dir.path(), "x", "default")
            .expect("a reattached session");
        again.restore_unused(dir.path());
        assert!(
            settings_path(dir.path()).exists(),
            "a session still uses it"
        );
        // After another restart no session came back: the dir is put back from the record.
        Settings::new(state.path()).restore_unused(dir.path());
        assert!(!dir.path().join(".claude").exists());
        assert!(records(state.path()).is_empty());
    }
}
