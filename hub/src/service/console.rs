//! What the admin's console socket asks of the hub: the event cursor to start from, and
//! watching, resizing and typing into a live session (one that has not ended, on a server
//! that is online with its daemon connected). The socket only speaks the WebSocket.

use orchestratia_proto::ws::{Frame, HubToDaemon};
use orchestratia_proto::{ServerStatus, SessionStatus};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Hub;
use crate::connections::Outbound;
use crate::error::HubError;
use crate::store;

/// Largest terminal width or height a console may ask for.
const MAX_TERMINAL_SIZE: u16 = 1000;

/// Why a console's request about a session was not carried out.
#[derive(Debug)]
pub enum ConsoleRefusal {
    /// The request itself is wrong (a terminal size out of range).
    Invalid(HubError),
    /// The session cannot stream now; the reason is for the person at the console.
    Unavailable(String),
}

impl Hub {
    /// Where a console starts following events: the newest one it can read now (0 when the
    /// store cannot be read, so the console starts from the beginning).
    pub async fn console_cursor(&self) -> i64 {
        match self.store.read().await {
            Ok(mut c) => store::events::head(&mut c).await.unwrap_or(0),
            Err(_) => 0,
        }
    }

    /// Streams a live session to console `console_id` through `tx`: its daemon is asked for
    /// a keyframe, then the output follows.
    pub async fn watch_session(
        &self,
        console_id: u64,
        tx: &mpsc::Sender<Outbound>,
        session_id: Uuid,
    ) -> Result<(), String> {
        let server = self.live_session(session_id).await?;
        self.streams.subscribe(session_id, console_id, tx.clone());
        self.daemons
            .send(server, &HubToDaemon::KeyframeRequest { session_id });
        Ok(())
    }

    /// Resizes a live session's terminal to `cols` x `rows`.
    pub async fn resize_session(
        &self,
        session_id: Uuid,
        cols: u16,
        rows: u16,
    ) -> Result<(), ConsoleRefusal> {
        if cols == 0 || rows == 0 || cols > MAX_TERMINAL_SIZE || rows > MAX_TERMINAL_SIZE {
            return Err(ConsoleRefusal::Invalid(HubError::BadRequest(format!(
                "invalid size {cols}x{rows}"
            ))));
        }
        let server = self
            .live_session(session_id)
            .await
            .map_err(ConsoleRefusal::Unavailable)?;
        self.daemons.send(
            server,
            &HubToDaemon::SessionResize {
                session_id,
                cols,
                rows,
            },
        );
        Ok(())
    }

    /// Passes a console's keyboard input frame on to its live session's daemon.
    pub async fn type_into_session(&self, frame: &Frame) -> Result<(), String> {
        let server = self.live_session(frame.session_id).await?;
        self.daemons.send_frame(server, frame);
        Ok(())
    }

    /// The server a session runs on, if it can stream now; otherwise why not.
    async fn live_session(&self, session: Uuid) -> Result<Uuid, String> {
        let mut c = self.store.read().await.map_err(|e| e.to_string())?;
        let s = store::sessions::get(&mut c, session)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no such session".to_string())?;
        if s.status == SessionStatus::Ended {
            return Err("the session has ended".into());
        }
        let server = store::servers::get(&mut c, s.server_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the session's server is gone".to_string())?;
        if server.status != ServerStatus::Online || !self.daemons.is_connected(server.id) {
            return Err(format!("server {} is offline", server.name));
        }
        Ok(server.id)
    }
}
