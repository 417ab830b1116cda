//! Requests to daemons that wait for their answer.

use std::collections::HashMap;
use std::sync::Mutex;

use orchestratia_proto::workspace::WorkspaceAnswer;
use tokio::sync::oneshot;
use uuid::Uuid;

/// Requests to daemons waiting for an answer (`HubToDaemon::Workspace` →
/// `DaemonToHub::WorkspaceReply`), by request id, with the server that must answer.
#[derive(Default)]
pub struct Replies {
    waiting: Mutex<HashMap<Uuid, (Uuid, oneshot::Sender<WorkspaceAnswer>)>>,
}

impl Replies {
    /// A new request to `server`: its id, and where its answer arrives.
    pub fn open(&self, server: Uuid) -> (Uuid, oneshot::Receiver<WorkspaceAnswer>) {
        let id = Uuid::new_v4();
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, (server, tx));
        (id, rx)
    }

    /// Hands `answer` to the request `id` when `server` is the one it was sent to; false when
    /// nobody waits for it (unknown, another server's, or given up).
    pub fn complete(&self, server: Uuid, id: Uuid, answer: WorkspaceAnswer) -> bool {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        match waiting.get(&id) {
            Some((s, _)) if *s == server => {}
            _ => return false,
        }
        match waiting.remove(&id) {
            Some((_, tx)) => tx.send(answer).is_ok(),
            None => false,
        }
    }

    /// Gives up waiting for request `id`.
    pub fn forget(&self, id: Uuid) {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Fails every request to `server` at once (its connection ended).
    pub fn drop_server(&self, server: Uuid) {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, (s, _)| *s != server);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reply_reaches_only_the_request_of_its_server() {
        let r = Replies::default();
        let (server, other) = (Uuid::new_v4(), Uuid::new_v4());
        let (id, rx) = r.open(server);
        let answer = WorkspaceAnswer::Refused {
            reason: "no".into(),
            conflicts: Vec::new(),
        };
        assert!(
            !r.complete(other, id, answer.clone()),
            "another server's answer"
        );
        assert!(
            !r.complete(server, Uuid::new_v4(), answer.clone()),
            "unknown id"
        );
        assert!(r.complete(server, id, answer.clone()));
        assert_eq!(rx.await.ok(), Some(answer));
        let (_, rx) = r.open(server);
        r.drop_server(server);
        assert!(rx.await.is_err(), "a dropped server's requests fail");
    }
}
