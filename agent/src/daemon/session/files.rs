//! A session's files under the daemon's state dir (`sessions/<name>/`): the task and prompt
//! the agent reads, the script that runs it, its exit status, and the state that lets a
//! restarted daemon find the session again, or start its agent again on its own conversation.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What survives a daemon crash, in `sessions/<name>/state.json` (readable by the daemon's
/// user only: it holds the session's token).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub session_id: Uuid,
    pub name: String,
    pub task_id: Option<Uuid>,
    pub working_dir: PathBuf,
    /// The last chunk number sent.
    pub seq: u64,
    /// The last rendered screen.
    pub screen: Vec<String>,
    /// The agent is Claude Code: hook settings were installed in the working dir.
    pub claude: bool,
    /// Claude Code's conversation id (chosen at start, kept current from its hooks): a
    /// session lost with its terminal resumes it.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// The agent's environment, to start it again after a reboot.
    #[serde(default)]
    pub vars: Vec<(String, String)>,
}

/// The files of one session.
pub struct Files {
    pub dir: PathBuf,
}

impl Files {
    pub fn new(state_dir: &Path, name: &str) -> Files {
        Files {
            dir: state_dir.join("sessions").join(name),
        }
    }
    pub fn task(&self) -> PathBuf {
        self.dir.join("task.json")
    }
    pub fn prompt(&self) -> PathBuf {
        self.dir.join("prompt.md")
    }
    /// The prompt a resumed conversation gets.
    pub fn resume_prompt(&self) -> PathBuf {
        self.dir.join("resume.md")
    }
    /// A message being pasted into the agent's terminal.
    pub fn paste(&self) -> PathBuf {
        self.dir.join("paste.txt")
    }
    pub fn script(&self) -> PathBuf {
        self.dir.join("run.sh")
    }
    pub fn exit(&self) -> PathBuf {
        self.dir.join("exit")
    }
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The agent's exit status, once it exited.
    pub fn exit_code(&self) -> Option<i64> {
        std::fs::read_to_string(self.exit())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn save_state(&self, s: &State) {
        if let Ok(text) = serde_json::to_string(s) {
            let tmp = self.dir.join("state.json.tmp");
            if orchestratia_proto::files::write_private(&tmp, &text).is_ok() {
                let _ = std::fs::rename(&tmp, self.state());
            }
        }
    }

    pub fn load_state(&self) -> Option<State> {
        serde_json::from_str(&std::fs::read_to_string(self.state()).ok()?).ok()
    }
}
