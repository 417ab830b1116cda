//! `orchestratia session export`: a session's recording as an asciicast v2 file, asciinema's
//! format (a JSON header line, then one `[seconds, "o", text]` line per output chunk), so it
//! can be replayed with `asciinema play` or shared.
//!
//! Written by hand: the format is three lines of JSON and no crate for it is well kept.

use orchestratia_proto::api::RecordingChunk;
use serde_json::json;

/// What the header says of the recording.
pub struct CastInfo<'a> {
    pub cols: u16,
    pub rows: u16,
    pub title: &'a str,
}

/// The recording as asciicast v2 text, fed as a terminal would be
/// ([`RecordingChunk::to_replay`]).
pub fn asciicast(chunks: &[RecordingChunk], info: &CastInfo) -> String {
    let start = chunks.first().map_or(0, |c| c.at);
    let mut out = json!({
        "version": 2,
        "width": info.cols,
        "height": info.rows,
        "timestamp": start / 1000,
        "title": info.title,
        "env": {"TERM": "xterm-256color"},
    })
    .to_string();
    out.push('\n');
    let mut carry: Vec<u8> = Vec::new();
    for c in RecordingChunk::to_replay(chunks) {
        carry.extend_from_slice(&c.bytes());
        let text = take_utf8(&mut carry);
        if text.is_empty() {
            continue;
        }
        let t = (c.at - start).max(0) as f64 / 1000.0;
        out.push_str(&json!([t, "o", text]).to_string());
        out.push('\n');
    }
    out
}

/// Takes the text from `buf`, leaving an incomplete UTF-8 sequence at its end for the next
/// chunk (a chunk boundary may cut a character in two); invalid bytes become U+FFFD.
fn take_utf8(buf: &mut Vec<u8>) -> String {
    let mut text = String::new();
    let mut rest: &[u8] = buf;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                text.push_str(s);
                rest = &[];
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                text.push_str(std::str::from_utf8(good).unwrap_or_default());
                match e.error_len() {
                    Some(n) => {
                        text.push('\u{FFFD}');
                        rest = &bad[n..];
                    }
                    None => {
                        rest = bad;
                        break;
                    }
                }
            }
        }
    }
    *buf = rest.to_vec();
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn chunk(seq: u64, keyframe: bool, data: &[u8], at: i64) -> RecordingChunk {
        RecordingChunk {
            seq,
            keyframe,
            data: base64::engine::general_purpose::STANDARD.encode(data),
            at,
        }
    }

    #[test]
    fn a_recording_becomes_header_and_output_events() {
        let euro = "€".as_bytes();
        let chunks = vec![
            chunk(1, false, b"hello ", 10_000),
            chunk(2, false, &euro[..1], 10_500),
            chunk(2, true, b"\x1b[Hkeyframe", 10_500),
            chunk(3, false, &euro[1..], 11_250),
        ];
        let cast = asciicast(
            &chunks,
            &CastInfo {
                cols: 120,
                rows: 40,
                title: "orc-abc123",
            },
        );
        let lines: Vec<serde_json::Value> = cast
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines[0]["version"], 2);
        assert_eq!(lines[0]["width"], 120);
        assert_eq!(lines[0]["height"], 40);
        assert_eq!(lines[0]["timestamp"], 10);
        assert_eq!(lines[1], json!([0.0, "o", "hello "]));
        // The euro sign cut across two chunks arrives whole; the later keyframe is left out.
        assert_eq!(lines[2], json!([1.25, "o", "€"]));
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn a_trimmed_recording_starts_with_its_keyframe() {
        let chunks = vec![
            chunk(7, true, b"\x1b[H\x1b[2Jscreen", 5_000),
            chunk(8, false, b"\xffnext", 6_000),
        ];
        let cast = asciicast(
            &chunks,
            &CastInfo {
                cols: 80,
                rows: 24,
                title: "t",
            },
        );
        let lines: Vec<&str> = cast.lines().collect();
        assert!(lines[1].contains("screen"));
        assert!(lines[2].contains("\u{FFFD}next"));
    }
}
