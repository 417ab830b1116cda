//! The user's Orchestratia files: where they live (`$XDG_CONFIG_HOME/orchestratia`), the hub
//! URL and token the admin token file and the agent's config.yaml hold, and writing such a file
//! so only its owner can read it.

use std::path::{Path, PathBuf};

/// Where the CLI and console find their hub and token when no flag or environment names them.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct CredentialFile {
    pub hub_url: Option<String>,
    /// The admin token file has `token`; the agent's config.yaml has `api_key`.
    pub token: Option<String>,
    pub api_key: Option<String>,
}

/// The user's Orchestratia config dir (`$XDG_CONFIG_HOME/orchestratia`).
pub fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("orchestratia"))
}

/// The admin token file the hub writes on first start.
pub fn admin_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("admin.yaml"))
}

/// The agent daemon's config file.
pub fn agent_config_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("config.yaml"))
}

/// The credentials in the file at `path`, if it is there and reads as one.
pub fn read_credentials(path: &Path) -> Option<CredentialFile> {
    let text = std::fs::read_to_string(path).ok()?;
    yaml_serde::from_str(&text).ok()
}

/// Writes a file readable only by its owner (mode 0600), atomically through a temporary file
/// beside it; creates its directory if need be. Tokens and keys are written this way.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_for_their_owner_only() {
        let dir = std::env::temp_dir().join(format!("orc-files-{}", std::process::id()));
        let path = dir.join("sub").join("admin.yaml");
        write_private(&path, "token: orcadm_x\n").expect("write");
        assert_eq!(
            read_credentials(&path).and_then(|c| c.token).as_deref(),
            Some("orcadm_x")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
