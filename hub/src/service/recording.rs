//! A session's terminal output: numbered chunks and keyframes from its daemon (stored in
//! batches, kept under a bound, passed to the consoles watching), its rendered screens, and
//! the stored recording read back for replay and export.

use std::collections::HashMap;
use std::sync::Weak;
use std::time::Duration;

use orchestratia_proto::api::{Recording, RecordingChunk};
use orchestratia_proto::time::now_ms;
use orchestratia_proto::ws::{Frame, FrameKind, HubToDaemon};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{Hub, Inner};
use crate::auth::Principal;
use crate::bad;
use crate::bus::BusMessage;
use crate::error::{HubError, HubResult};
use crate::store::sessions::Chunk;
use crate::store::{self, Conn, Store};

impl Hub {
    /// A page of a session's recording (output chunks and keyframes), for replay and export.
    pub async fn recording(
        &self,
        p: &Principal,
        key: &str,
        after: Option<u64>,
        limit: Option<i64>,
    ) -> HubResult<Recording> {
        let session = self.session(p, key).await?;
        let limit = limit.unwrap_or(1000);
        if !(1..=5000).contains(&limit) {
            return Err(bad!("limit must be between 1 and 5000"));
        }
        let mut c = self.read().await?;
        let rows = store::sessions::recording(&mut c, session.id, after.unwrap_or(0) as i64, limit)
            .await?;
        use base64::Engine;
        let engine = base64::engine::general_purpose::STANDARD;
        let full = rows.len() as i64 >= limit;
        let next_after = if full {
            rows.last().map(|s| s.chunk.seq as u64)
        } else {
            None
        };
        Ok(Recording {
            session_id: session.id,
            chunks: rows
                .into_iter()
                .map(|s| RecordingChunk {
                    seq: s.chunk.seq as u64,
                    keyframe: s.chunk.keyframe,
                    data: engine.encode(&s.chunk.data),
                    at: s.at,
                })
                .collect(),
            next_after,
        })
    }

    /// A rendered screen: kept as the session's last screen and published live.
    pub async fn session_screen(
        &self,
        server: Uuid,
        session: Uuid,
        lines: Vec<String>,
        cols: u16,
        rows: u16,
    ) -> HubResult<()> {
        let mut tx = self.store.write().await?;
        let s = self.own_session(&mut tx, server, session).await?;
        store::sessions::set_screen(&mut tx, s.id, &lines.join("\n")).await?;
        tx.commit().await?;
        self.bus.publish_live(BusMessage::Screen {
            session_id: s.id,
            task_id: s.task_id,
            lines: std::sync::Arc::new(lines),
            cols,
            rows,
        });
        Ok(())
    }

    /// The last screen a session's daemon sent (its lines joined), if any.
    pub async fn last_screen(&self, p: &Principal, key: &str) -> HubResult<Option<String>> {
        let s = self.session(p, key).await?;
        let mut c = self.read().await?;
        Ok(store::sessions::screen(&mut c, s.id).await?)
    }

    /// An output chunk or keyframe from a daemon: stored (chunks) and passed to watchers.
    pub async fn session_frame(
        &self,
        server: Uuid,
        frame: Frame,
        raw: &[u8],
        known: &mut std::collections::HashSet<Uuid>,
    ) -> HubResult<()> {
        if !known.contains(&frame.session_id) {
            let mut c = self.read().await?;
            self.own_session(&mut c, server, frame.session_id).await?;
            known.insert(frame.session_id);
        }
        let fan = self.streams.offer(&frame, raw);
        if self.streams.watched_elsewhere(frame.session_id)
            && let Some(link) = self.bus.link()
        {
            use base64::Engine;
            link.send(
                None,
                crate::bus::wire::Wire::Output {
                    server,
                    frame: base64::engine::general_purpose::STANDARD.encode(raw),
                },
            );
        }
        if fan.need_keyframe {
            self.daemons.send(
                server,
                &HubToDaemon::KeyframeRequest {
                    session_id: frame.session_id,
                },
            );
        }
        if frame.kind == FrameKind::Output
            && let Ok(mut seqs) = self.last_seqs.lock()
        {
            let last = seqs.entry(frame.session_id).or_insert(0);
            *last = (*last).max(frame.seq as i64);
        }
        let chunk = Chunk {
            session_id: frame.session_id,
            seq: frame.seq as i64,
            keyframe: frame.kind == FrameKind::Keyframe,
            data: frame.data,
        };
        if self.chunks.send(Incoming { server, chunk }).await.is_err() {
            return Err(HubError::Internal("the chunk writer stopped".into()));
        }
        Ok(())
    }

    /// The last output chunk number received for a session, here or in the store (read on
    /// `c`, the caller's connection: taking a second one inside a transaction can wait
    /// forever on a pool whose connections all wait on that transaction's locks): a daemon
    /// that reattaches continues after it (no chunk lost, none numbered twice).
    pub(crate) async fn last_seq(&self, c: &mut Conn, session: Uuid) -> HubResult<i64> {
        let here = self
            .last_seqs
            .lock()
            .ok()
            .and_then(|m| m.get(&session).copied())
            .unwrap_or(0);
        Ok(here.max(store::sessions::last_seq(c, session).await?))
    }
}

/// A chunk on its way to the store, with the server whose daemon sent it (told once it is
/// stored).
pub struct Incoming {
    pub server: Uuid,
    pub chunk: Chunk,
}

/// Writes output chunks and keyframes to the store in batches, off the socket's path, keeps
/// each session's recording under its bound, and tells each daemon which of its output is
/// stored (`OutputStored`) so it can forget it.
pub struct ChunkWriter;

/// How many times a batch is tried before its chunks are given up (not acknowledged: the
/// daemon still holds them and sends them again when it reconnects).
const TRIES: u32 = 3;

impl ChunkWriter {
    /// Starts the writer; it stops when every sender is gone. `hub` reaches the daemons for
    /// the acknowledgements (weak: the writer does not keep the hub alive).
    pub fn spawn(
        store: Store,
        mut rx: mpsc::Receiver<Incoming>,
        max_session_bytes: u64,
        hub: Weak<Inner>,
    ) {
        tokio::spawn(async move {
            let mut sizes: HashMap<Uuid, i64> = HashMap::new();
            let mut batch: Vec<Incoming> = Vec::with_capacity(256);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                let deadline = tokio::time::sleep(Duration::from_millis(20));
                tokio::pin!(deadline);
                while batch.len() < 256 {
                    tokio::select! {
                        more = rx.recv() => match more {
                            Some(c) => batch.push(c),
                            None => break,
                        },
                        _ = &mut deadline => break,
                    }
                }
                let (servers, chunks): (Vec<Uuid>, Vec<Chunk>) =
                    batch.drain(..).map(|i| (i.server, i.chunk)).unzip();
                let acks = Self::acks(&servers, &chunks);
                let mut stored = false;
                for attempt in 1..=TRIES {
                    match Self::write(&store, &chunks, &mut sizes, max_session_bytes as i64).await {
                        Ok(()) => {
                            stored = true;
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, chunks = chunks.len(), attempt, "could not store output chunks");
                            tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt)))
                                .await;
                        }
                    }
                }
                if !stored {
                    continue;
                }
                let Some(inner) = hub.upgrade() else { break };
                for ((server, session_id), seq) in acks {
                    inner
                        .daemons
                        .send(server, &HubToDaemon::OutputStored { session_id, seq });
                }
            }
        });
    }

    /// The highest chunk number of each (server, session) in a batch. A keyframe counts: it
    /// is numbered after the output it follows, which came before it and is stored too.
    fn acks(servers: &[Uuid], chunks: &[Chunk]) -> HashMap<(Uuid, Uuid), u64> {
        let mut acks: HashMap<(Uuid, Uuid), u64> = HashMap::new();
        for (server, c) in servers.iter().zip(chunks) {
            if c.seq < 0 {
                continue;
            }
            let seq = acks.entry((*server, c.session_id)).or_default();
            *seq = (*seq).max(c.seq as u64);
        }
        acks
    }

    async fn write(
        store: &Store,
        batch: &[Chunk],
        sizes: &mut HashMap<Uuid, i64>,
        max: i64,
    ) -> Result<(), store::StoreError> {
        let mut tx = store.write().await?;
        let added = store::sessions::insert_chunks(&mut tx, batch, now_ms()).await?;
        let mut next = Vec::with_capacity(added.len());
        for (session, added) in added {
            let size = match sizes.get(&session) {
                Some(n) => n + added,
                None => store::sessions::stored_bytes(&mut tx, session).await?,
            };
            let size = if size > max {
                store::sessions::trim(&mut tx, session, max).await?
            } else {
                size
            };
            next.push((session, size));
        }
        tx.commit().await?;
        sizes.extend(next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(session: Uuid, seq: i64, keyframe: bool) -> Chunk {
        Chunk {
            session_id: session,
            seq,
            keyframe,
            data: vec![b'x'],
        }
    }

    #[test]
    fn acks_name_the_highest_chunk_per_server_and_session() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let (s1, s2) = (Uuid::new_v4(), Uuid::new_v4());
        let servers = [a, a, a, b, a];
        let chunks = [
            chunk(s1, 3, false),
            chunk(s1, 5, false),
            chunk(s1, 5, true),
            chunk(s2, 7, false),
            chunk(s1, 4, false),
        ];
        let acks = ChunkWriter::acks(&servers, &chunks);
        assert_eq!(acks.len(), 2);
        assert_eq!(acks.get(&(a, s1)), Some(&5));
        assert_eq!(acks.get(&(b, s2)), Some(&7));
    }
}
