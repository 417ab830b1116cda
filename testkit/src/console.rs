//! A console played by the test: the real console WebSocket of one hub (or replica) with the
//! admin token, reading its JSON messages and binary frames in order and keeping all of them,
//! so a test can wait for one and then count what came (events once, frames without gaps).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use orchestratia_proto::client::HubClient;
use orchestratia_proto::ws::{ConsoleToHub, Frame, FrameKind, HubToConsole};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::{ConsoleWs, connect_console};

/// One thing the hub sent to the console.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsoleMsg {
    /// A control message (hello, event, screen, state, …).
    Text(HubToConsole),
    /// A binary frame (output or keyframe).
    Frame(Frame),
}

/// A console connection and everything it received so far.
pub struct Console {
    ws: ConsoleWs,
    /// The cursor of the hub's hello.
    pub cursor: i64,
    /// Every message received, in order (the hello excluded).
    pub seen: Vec<ConsoleMsg>,
}

impl Console {
    /// Connects with `client`'s (admin) token and reads the hello.
    pub async fn connect(client: &HubClient) -> Console {
        let ws = connect_console(client).await;
        let mut c = Console {
            ws,
            cursor: 0,
            seen: Vec::new(),
        };
        let hello = c
            .wait_for(10, "the console's hello", |m| match m {
                ConsoleMsg::Text(HubToConsole::Hello { cursor }) => Some(*cursor),
                _ => None,
            })
            .await;
        c.cursor = hello;
        c.seen.clear();
        c
    }

    /// Sends a control message.
    pub async fn send(&mut self, m: &ConsoleToHub) {
        let text = serde_json::to_string(m).expect("console message as JSON");
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send to the console socket");
    }

    /// Asks to stream `session`.
    pub async fn subscribe(&mut self, session: Uuid) {
        self.send(&ConsoleToHub::Subscribe {
            session_id: session,
        })
        .await;
    }

    /// Reads the next message within `within`; `None` when nothing came. Panics when the
    /// socket closes.
    pub async fn next(&mut self, within: Duration) -> Option<ConsoleMsg> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = tokio::time::timeout(left, self.ws.next()).await.ok()?;
            let msg = match m {
                Some(Ok(Message::Text(t))) => match serde_json::from_str(t.as_str()) {
                    Ok(m) => ConsoleMsg::Text(m),
                    Err(e) => panic!("not a console message ({e}): {t}"),
                },
                Some(Ok(Message::Binary(b))) => match Frame::decode(&b) {
                    Some(f) => ConsoleMsg::Frame(f),
                    None => panic!("not a frame: {} bytes", b.len()),
                },
                Some(Ok(_)) => continue,
                other => panic!("the console socket closed: {other:?}"),
            };
            self.seen.push(msg.clone());
            return Some(msg);
        }
    }

    /// Reads until `f` picks a message (already received ones count too, once), failing the
    /// test after `secs` seconds.
    pub async fn wait_for<T>(
        &mut self,
        secs: u64,
        what: &str,
        mut f: impl FnMut(&ConsoleMsg) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(
                !left.is_zero(),
                "console: timed out waiting for {what}; got {:?}",
                self.summary()
            );
            if let Some(m) = self.next(left).await
                && let Some(v) = f(&m)
            {
                return v;
            }
        }
    }

    /// Reads whatever comes for `d` (to count what arrived, or make sure nothing more does).
    pub async fn drain(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() || self.next(left).await.is_none() {
                return;
            }
        }
    }

    /// The frames of `session` received so far, in order.
    pub fn frames(&self, session: Uuid) -> Vec<Frame> {
        self.seen
            .iter()
            .filter_map(|m| match m {
                ConsoleMsg::Frame(f) if f.session_id == session => Some(f.clone()),
                _ => None,
            })
            .collect()
    }

    /// The output bytes of `session` after its first keyframe, concatenated.
    pub fn output_text(&self, session: Uuid) -> String {
        self.frames(session)
            .iter()
            .skip_while(|f| f.kind != FrameKind::Keyframe)
            .filter(|f| f.kind == FrameKind::Output)
            .map(|f| String::from_utf8_lossy(&f.data).into_owned())
            .collect()
    }

    /// How many events of kind `name` (about `task` or with it as the related task, when
    /// given) were received.
    pub fn events(&self, name: &str, task: Option<Uuid>) -> usize {
        self.seen
            .iter()
            .filter(|m| match m {
                ConsoleMsg::Text(HubToConsole::Event { event }) => {
                    event.event.as_str() == name
                        && task.is_none_or(|t| {
                            event.task_id == Some(t) || event.related_task_id == Some(t)
                        })
                }
                _ => false,
            })
            .count()
    }

    /// A short description of what was received (for failure messages).
    pub fn summary(&self) -> Vec<String> {
        self.seen
            .iter()
            .map(|m| match m {
                ConsoleMsg::Frame(f) => format!("{:?} seq {} ({} B)", f.kind, f.seq, f.data.len()),
                ConsoleMsg::Text(HubToConsole::Event { event }) => {
                    format!("event {}", event.event.as_str())
                }
                ConsoleMsg::Text(t) => {
                    let s = format!("{t:?}");
                    s.chars().take(120).collect()
                }
            })
            .collect()
    }
}
