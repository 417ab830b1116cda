//! A session's model usage, read from Claude Code's transcripts (one JSON object per line,
//! `~/.claude/projects/<dir>/<conversation>.jsonl`). Read incrementally: each file from the
//! byte after its last complete line, so a line still being written is read later. An
//! `assistant` line carries `message.usage`; Claude Code repeats it on every content block's
//! line, so each `message.id` counts once (across all of a session's transcripts: a resumed
//! conversation may copy its history into a new file).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use orchestratia_proto::usage::Usage;
use serde_json::Value;

use super::prices::Prices;

/// Longest line read; a longer one is skipped as bad.
const MAX_LINE: usize = 64 * 1024 * 1024;

/// A transcript path as an agent's hook reported it, if it looks like one: absolute, no `..`,
/// ending in `.jsonl`, in a directory whose parent is named `projects`.
pub fn transcript_path(raw: &str) -> Option<PathBuf> {
    let path = Path::new(raw);
    let plain = path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    let jsonl = path.extension().is_some_and(|e| e == "jsonl");
    let in_projects = path
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .is_some_and(|n| n == "projects");
    (plain && jsonl && in_projects).then(|| path.to_path_buf())
}

/// How far one transcript was read.
#[derive(Debug, Default)]
struct FileState {
    /// The byte after the last complete line read.
    offset: u64,
    /// A bad line was reported already (once per file).
    warned_bad: bool,
    /// The file was missing at the last read (reported once until it appears).
    warned_missing: bool,
}

/// What a session's model calls cost so far, over all its transcripts.
#[derive(Debug, Default)]
pub struct SessionUsage {
    files: HashMap<PathBuf, FileState>,
    /// The transcript read on every poll (the conversation's latest).
    current: Option<PathBuf>,
    /// Message ids counted.
    seen: HashSet<String>,
    totals: Usage,
}

impl SessionUsage {
    /// The totals so far.
    pub fn totals(&self) -> &Usage {
        &self.totals
    }

    /// The transcript polled, once one was reported.
    pub fn current(&self) -> Option<&Path> {
        self.current.as_deref()
    }

    /// Makes `path` the transcript polled (a new conversation gets a new file; the old
    /// file's usage stays in the totals).
    pub fn follow(&mut self, path: PathBuf) {
        self.files.entry(path.clone()).or_default();
        self.current = Some(path);
    }

    /// Reads what was added to the current transcript since the last read; true when the
    /// totals changed.
    pub fn read(&mut self, prices: &Prices) -> bool {
        let Some(path) = self.current.clone() else {
            return false;
        };
        let mut state = self.files.remove(&path).unwrap_or_default();
        let before = self.totals.clone();
        if let Err(e) = self.read_file(&path, &mut state, prices) {
            if e.kind() == std::io::ErrorKind::NotFound {
                if !state.warned_missing {
                    tracing::warn!(path = %path.display(), "the agent's transcript is missing; usage so far is kept");
                    state.warned_missing = true;
                }
            } else {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the agent's transcript");
            }
        }
        self.files.insert(path, state);
        self.totals != before
    }

    fn read_file(
        &mut self,
        path: &Path,
        state: &mut FileState,
        prices: &Prices,
    ) -> std::io::Result<()> {
        let mut file = File::open(path)?;
        state.warned_missing = false;
        if file.metadata()?.len() < state.offset {
            // Replaced or cut: read it again (counted messages are not counted twice).
            state.offset = 0;
        }
        file.seek(SeekFrom::Start(state.offset))?;
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 || line.last() != Some(&b'\n') {
                // The end, or a last line still being written: read it next time.
                return Ok(());
            }
            state.offset += n as u64;
            let parsed = (line.len() <= MAX_LINE)
                .then(|| serde_json::from_slice::<Value>(&line).ok())
                .flatten();
            match parsed {
                Some(v) => self.count(&v, prices),
                None if line.iter().all(u8::is_ascii_whitespace) => {}
                None => {
                    if !state.warned_bad {
                        tracing::warn!(path = %path.display(), offset = state.offset - n as u64,
                            "a line of the agent's transcript is not JSON; skipped (further ones silently)");
                        state.warned_bad = true;
                    }
                }
            }
        }
    }

    /// Counts one transcript entry when it is a model call not counted yet.
    fn count(&mut self, v: &Value, prices: &Prices) {
        if v.get("type").and_then(Value::as_str) != Some("assistant") {
            return;
        }
        let Some(message) = v.get("message") else {
            return;
        };
        let Some(usage) = message.get("usage").filter(|u| u.is_object()) else {
            return;
        };
        if let Some(id) = message.get("id").and_then(Value::as_str)
            && !self.seen.insert(id.to_string())
        {
            return;
        }
        let tokens = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
        let call = Usage {
            model: message
                .get("model")
                .and_then(Value::as_str)
                .map(|m| m.chars().take(200).collect()),
            input_tokens: tokens("input_tokens"),
            output_tokens: tokens("output_tokens"),
            cache_read_tokens: tokens("cache_read_input_tokens"),
            cache_write_tokens: tokens("cache_creation_input_tokens"),
            cost_usd: 0.0,
            calls: 1,
            unpriced_calls: 0,
        };
        let price = call.model.as_deref().and_then(|m| prices.of(m));
        let call = match price {
            Some(p) => Usage {
                cost_usd: p.cost(
                    call.input_tokens,
                    call.output_tokens,
                    call.cache_read_tokens,
                    call.cache_write_tokens,
                ),
                ..call
            },
            None => Usage {
                unpriced_calls: 1,
                ..call
            },
        };
        self.totals.add(&call);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn assistant(id: &str, model: &str, input: u64, output: u64, read: u64, write: u64) -> String {
        serde_json::json!({
            "type": "assistant",
            "sessionId": "c0ffee",
            "uuid": format!("u-{id}-{output}"),
            "message": {
                "id": id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": "ok"}],
                "usage": {
                    "input_tokens": input,
                    "output_tokens": output,
                    "cache_creation_input_tokens": write,
                    "cache_read_input_tokens": read,
                    "service_tier": "standard"
                }
            }
        })
        .to_string()
    }

    fn user(text: &str) -> String {
        serde_json::json!({"type": "user", "message": {"role": "user", "content": text}})
            .to_string()
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open");
        f.write_all(text.as_bytes()).expect("write");
    }

    fn transcript() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("dir");
        let sub = dir.path().join("projects").join("-work-repo");
        std::fs::create_dir_all(&sub).expect("mkdir");
        (dir, sub.join("c0ffee.jsonl"))
    }

    #[test]
    fn counts_each_message_once_and_waits_for_a_complete_last_line() {
        let (_dir, path) = transcript();
        let prices = Prices::default();
        let sonnet = "claude-sonnet-4-5-20250929";
        let first = assistant("msg_1", sonnet, 10, 100, 1000, 2000);
        append(
            &path,
            &format!(
                "{}\n{first}\n{first}\n{}\nnot json at all\n",
                user("hi"),
                assistant("msg_2", "claude-haiku-4-5", 5, 50, 0, 0)
            ),
        );
        let mut u = SessionUsage::default();
        assert!(!u.read(&prices), "nothing followed yet");
        u.follow(path.clone());
        assert!(u.read(&prices));
        let t = u.totals().clone();
        assert_eq!(t.calls, 2);
        assert_eq!(
            (
                t.input_tokens,
                t.output_tokens,
                t.cache_read_tokens,
                t.cache_write_tokens
            ),
            (15, 150, 1000, 2000)
        );
        // sonnet: (10×3 + 100×15 + 1000×0.3 + 2000×3.75)/1e6; haiku: (5×1 + 50×5)/1e6.
        let want = (30.0 + 1500.0 + 300.0 + 7500.0 + 5.0 + 250.0) / 1e6;
        assert!(
            (t.cost_usd - want).abs() < 1e-12,
            "{} vs {want}",
            t.cost_usd
        );
        assert_eq!(t.model.as_deref(), Some("claude-haiku-4-5"));

        // A line cut in the middle is not read until its newline arrives.
        let third = assistant("msg_3", "mystery-model", 7, 7, 0, 0);
        let (head, tail) = third.split_at(20);
        append(&path, head);
        assert!(!u.read(&prices), "a partial line counts nothing");
        append(&path, &format!("{tail}\n{first}\n"));
        assert!(u.read(&prices));
        let t = u.totals();
        assert_eq!((t.calls, t.unpriced_calls, t.input_tokens), (3, 1, 22));
        assert!(
            (t.cost_usd - want).abs() < 1e-12,
            "an unpriced call adds no cost"
        );
        assert!(!u.read(&prices), "nothing new");
    }

    #[test]
    fn a_missing_file_keeps_the_totals_and_a_new_conversation_adds_to_them() {
        let (dir, path) = transcript();
        let prices = Prices::default();
        append(
            &path,
            &format!("{}\n", assistant("m1", "claude-opus-4-5", 1, 1, 0, 0)),
        );
        let mut u = SessionUsage::default();
        u.follow(path.clone());
        assert!(u.read(&prices));
        std::fs::remove_file(&path).expect("rm");
        assert!(!u.read(&prices));
        assert_eq!(u.totals().calls, 1);

        let next = dir.path().join("projects/-work-repo/beef.jsonl");
        // A resumed conversation repeats m1; only m2 is new.
        append(
            &next,
            &format!(
                "{}\n{}\n",
                assistant("m1", "claude-opus-4-5", 1, 1, 0, 0),
                assistant("m2", "claude-opus-4-5", 2, 2, 0, 0)
            ),
        );
        u.follow(next.clone());
        assert_eq!(u.current(), Some(next.as_path()));
        assert!(u.read(&prices));
        assert_eq!((u.totals().calls, u.totals().input_tokens), (2, 3));
    }

    #[test]
    fn a_file_cut_shorter_keeps_the_figures_and_counts_nothing_twice() {
        let (_dir, path) = transcript();
        let prices = Prices::default();
        let first = assistant("m1", "claude-opus-4-5", 3, 30, 0, 0);
        let second = assistant("m2", "claude-opus-4-5", 4, 40, 0, 0);
        append(&path, &format!("{first}\n{second}\n"));
        let mut u = SessionUsage::default();
        u.follow(path.clone());
        assert!(u.read(&prices));
        let before = u.totals().clone();
        assert_eq!((before.calls, before.input_tokens), (2, 7));

        // Cut to the first line and half of the second: read again, nothing counts twice.
        let cut = format!("{first}\n{}", &second[..second.len() / 2]);
        std::fs::write(&path, cut).expect("cut");
        assert!(!u.read(&prices), "a cut file changes no figure");
        assert_eq!(u.totals(), &before);
        // Cut to nothing.
        std::fs::write(&path, "").expect("empty");
        assert!(!u.read(&prices));
        assert_eq!(u.totals(), &before);

        // What is written after the cut is read from its start: an old line (not counted
        // again) and a new one.
        let third = assistant("m3", "claude-opus-4-5", 5, 50, 0, 0);
        append(&path, &format!("{first}\n{third}\n"));
        assert!(u.read(&prices));
        let t = u.totals();
        assert_eq!((t.calls, t.input_tokens, t.output_tokens), (3, 12, 120));
    }

    #[test]
    fn a_line_that_is_not_json_in_the_middle_is_skipped() {
        let (_dir, path) = transcript();
        let prices = Prices::default();
        append(
            &path,
            &format!(
                "{}\n{{\"type\": \"assistant\", \"message\": {{\n{}\n",
                assistant("m1", "claude-opus-4-5", 1, 10, 0, 0),
                assistant("m2", "claude-opus-4-5", 2, 20, 0, 0)
            ),
        );
        let mut u = SessionUsage::default();
        u.follow(path.clone());
        assert!(u.read(&prices));
        assert_eq!((u.totals().calls, u.totals().input_tokens), (2, 3));
        assert!(u.files[&path].warned_bad, "the bad line is reported");

        append(
            &path,
            &format!(
                "\u{1}\u{ff} binary\n{}\n",
                assistant("m3", "claude-opus-4-5", 4, 40, 0, 0)
            ),
        );
        assert!(u.read(&prices));
        let t = u.totals();
        assert_eq!((t.calls, t.input_tokens, t.output_tokens), (3, 7, 70));
    }

    #[test]
    fn only_transcript_paths_are_accepted() {
        assert!(transcript_path("/home/a/.claude/projects/-srv-api/1234.jsonl").is_some());
        for bad in [
            "/etc/passwd",
            "relative/projects/x/1.jsonl",
            "/home/a/.claude/projects/1.jsonl",
            "/home/a/.claude/projects/x/1.json",
            "/home/a/.claude/projects/x/../../../etc/x.jsonl",
            "/home/a/.claude/other/x/1.jsonl",
            "",
        ] {
            assert!(transcript_path(bad).is_none(), "{bad}");
        }
    }
}
