//! Folder trust in the user's Claude config (`~/.claude.json`, or `$CLAUDE_CONFIG_DIR/
//! .claude.json`): Claude Code stops on "Is this a project you created or one you trust?"
//! in a directory it has never opened, and runs no hooks there until someone answers. Before a
//! session starts, its working dir is marked trusted (`projects.<dir>.hasTrustDialogAccepted`).
//!
//! The file belongs to the user and to Claude Code, which rewrites it while it runs: it is
//! read, changed only where needed, and replaced atomically (a temporary file renamed over
//! it) with its permissions kept; every other key and project stays as it was. A file that is
//! not a JSON object is never overwritten: the caller warns that the session may stall.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Map, Value, json};

/// Serializes this daemon's own changes (two sessions starting at once).
static WRITING: Mutex<()> = Mutex::new(());

/// Why the config could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{path} is not a JSON object ({reason}); left it alone")]
    Corrupt { path: String, reason: String },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no home directory to find Claude's config in (set HOME or CLAUDE_CONFIG_DIR)")]
    NoHome,
}

/// What [`ensure_trusted`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// The dir (or one of its parents) was trusted already: nothing written.
    Already,
    /// The dir was marked trusted.
    Marked,
}

/// Where Claude Code keeps its user config.
pub fn config_path() -> Result<PathBuf, TrustError> {
    if let Some(dir) = std::env::var_os("CLAUDE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join(".claude.json"));
    }
    dirs::home_dir()
        .map(|h| h.join(".claude.json"))
        .ok_or(TrustError::NoHome)
}

fn trusted(projects: &Map<String, Value>, dir: &Path) -> bool {
    dir.ancestors().any(|d| {
        projects
            .get(d.to_string_lossy().as_ref())
            .and_then(|p| p.get("hasTrustDialogAccepted"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    })
}

/// Marks `dir` trusted in the Claude config at `config` (created when missing).
pub fn ensure_trusted(config: &Path, dir: &Path) -> Result<Trust, TrustError> {
    let _guard = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let shown = config.display().to_string();
    let io = |what, source| TrustError::Io {
        what,
        path: shown.clone(),
        source,
    };
    let mut doc = match std::fs::read_to_string(config) {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                return Err(TrustError::Corrupt {
                    path: shown,
                    reason: "it is JSON but not an object".into(),
                });
            }
            Err(e) => {
                return Err(TrustError::Corrupt {
                    path: shown,
                    reason: e.to_string(),
                });
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(io("read", e)),
    };
    // Claude keys projects by the directory as given; mark the real path too.
    let mut dirs = vec![dir.to_path_buf()];
    if let Ok(real) = std::fs::canonicalize(dir)
        && real != dir
    {
        dirs.push(real);
    }
    let Some(obj) = doc.as_object_mut() else {
        return Ok(Trust::Already);
    };
    let projects = obj.entry("projects").or_insert_with(|| json!({}));
    if !projects.is_object() {
        return Err(TrustError::Corrupt {
            path: shown,
            reason: "its \"projects\" is not an object".into(),
        });
    }
    let Some(projects) = projects.as_object_mut() else {
        return Ok(Trust::Already);
    };
    if dirs.iter().all(|d| trusted(projects, d)) {
        return Ok(Trust::Already);
    }
    for d in &dirs {
        let entry = projects
            .entry(d.to_string_lossy().into_owned())
            .or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        if let Some(e) = entry.as_object_mut() {
            e.insert("hasTrustDialogAccepted".into(), Value::Bool(true));
        }
    }
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
    write_atomically(config, &text).map_err(|e| io("write", e))?;
    Ok(Trust::Marked)
}

/// Replaces `path` with `text` through a temporary file in the same directory, keeping the
/// file's permissions (0600 for a new one: it holds the user's account data).
pub(super) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(d) = dir {
        std::fs::create_dir_all(d)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".claude.json".into());
    let tmp = path.with_file_name(format!("{name}.orchestratia-{}", std::process::id()));
    let mode = std::fs::metadata(path).map(|m| m.permissions()).ok();
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Some(m) = mode {
            std::fs::set_permissions(&tmp, m)?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_the_dir_and_keeps_everything_else() {
        let home = tempfile::tempdir().expect("dir");
        let config = home.path().join(".claude.json");
        let repo = home.path().join("repo");
        std::fs::create_dir_all(&repo).expect("repo");
        let before = json!({"hasCompletedOnboarding": true, "numStartups": 7,
            "projects": {"/other": {"hasTrustDialogAccepted": false, "history": [1, 2]}}});
        std::fs::write(&config, before.to_string()).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        }
        assert_eq!(
            ensure_trusted(&config, &repo).expect("trust"),
            Trust::Marked
        );
        let after: Value =
            serde_json::from_str(&std::fs::read_to_string(&config).expect("read")).expect("json");
        assert_eq!(after["hasCompletedOnboarding"], true);
        assert_eq!(after["numStartups"], 7);
        assert_eq!(after["projects"]["/other"], before["projects"]["/other"]);
        let key = repo.to_string_lossy().into_owned();
        assert_eq!(after["projects"][&key]["hasTrustDialogAccepted"], true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&config)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o644, "the file keeps its permissions");
        }
        assert_eq!(
            ensure_trusted(&config, &repo).expect("again"),
            Trust::Already
        );
        let leftovers: Vec<_> = std::fs::read_dir(home.path())
            .expect("list")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("orchestratia"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left");
    }

    #[test]
    fn a_trusted_parent_counts_and_a_missing_file_is_created() {
        let home = tempfile::tempdir().expect("dir");
        let config = home.path().join("cfg").join(".claude.json");
        let repo = home.path().join("work").join("repo");
        std::fs::create_dir_all(&repo).expect("repo");
        assert_eq!(
            ensure_trusted(&config, &repo).expect("trust"),
            Trust::Marked
        );
        let parent = home.path().join("work");
        let other = home.path().join("work").join("other");
        std::fs::create_dir_all(&other).expect("other");
        let mut v: Value =
            serde_json::from_str(&std::fs::read_to_string(&config).expect("read")).expect("json");
        v["projects"][parent.to_string_lossy().as_ref()] = json!({"hasTrustDialogAccepted": true});
        std::fs::write(&config, v.to_string()).expect("write");
        assert_eq!(
            ensure_trusted(&config, &other).expect("trust"),
            Trust::Already
        );
    }

    #[test]
    fn a_corrupt_file_is_left_alone() {
        let home = tempfile::tempdir().expect("dir");
        let config = home.path().join(".claude.json");
        for text in ["{\"projects\": {", "[1, 2]", "{\"projects\": 3}"] {
            std::fs::write(&config, text).expect("write");
            let err = ensure_trusted(&config, home.path()).expect_err("corrupt");
            assert!(matches!(err, TrustError::Corrupt { .. }), "{err}");
            assert!(err.to_string().contains("left it alone"), "{err}");
            assert_eq!(std::fs::read_to_string(&config).expect("read"), text);
        }
    }
}
