//! The soak's daemons: each holds every replica's URL and moves to the next one when its
//! connection fails or is lost, says hello with the sessions it still runs, and sends again
//! first the output chunks no replica acknowledged (`output_stored`). Each session it is
//! started for streams numbered chunks, may ask a question or a permission, completes its task
//! through the API with its session token, and ends once its output is acknowledged.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use orchestratia_proto::api::{CompleteTask, RequestPermission, TaskResult};
use orchestratia_proto::client::HubClient;
use orchestratia_proto::ws::{
    DAEMON_WS_PATH, DaemonToHub, Frame, FrameKind, HubToDaemon, RunningSession, SessionStart,
};
use orchestratia_proto::{InterventionStatus, PermissionStatus, TaskStatus};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

use super::{SessionLog, Shared, call, pick};

/// One simulated daemon of the soak.
pub(crate) struct SoakDaemon {
    pub name: String,
    api_key: String,
    /// Every replica's URL; the daemon starts at `first`.
    urls: Vec<String>,
    first: usize,
    /// Clients over every replica (admin, and the base of the agents' session clients).
    admin: HubClient,
    shared: Arc<Shared>,
    state: Mutex<State>,
}

/// What the daemon runs and the connection it writes to now.
#[derive(Default)]
struct State {
    link: Option<mpsc::UnboundedSender<Message>>,
    /// Which connection `link` is: `r<replica>#<n>` (for the report of lost chunks).
    via: String,
    connections: u64,
    sessions: HashMap<Uuid, Running>,
}

/// A session the daemon was started for.
struct Running {
    token: String,
    /// Encoded output frames sent but not acknowledged, by seq.
    unacked: BTreeMap<u64, Vec<u8>>,
    ended: bool,
    /// The hub stopped it (it is not ours to finish).
    stopped: bool,
}

impl SoakDaemon {
    /// A daemon for registered server `name`, starting at replica `first` of `urls`.
    pub fn new(
        name: String,
        api_key: String,
        urls: Vec<String>,
        first: usize,
        admin: HubClient,
        shared: Arc<Shared>,
    ) -> Arc<SoakDaemon> {
        Arc::new(SoakDaemon {
            name,
            api_key,
            urls,
            first,
            admin,
            shared,
            state: Mutex::new(State::default()),
        })
    }

    /// Connects, and reconnects to the next replica whenever the connection is lost, until
    /// `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut at = self.first;
        let mut connected_before = false;
        while !*stop.borrow() {
            let url = &self.urls[at % self.urls.len()];
            if let Ok(ws) = connect(url, &self.api_key).await {
                if connected_before {
                    self.shared.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                connected_before = true;
                self.serve(ws, at % self.urls.len(), &mut stop).await;
            }
            at += 1;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(150)) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Moves messages over one connection until it is lost or `stop` turns true.
    async fn serve(self: &Arc<Self>, ws: Socket, replica: usize, stop: &mut watch::Receiver<bool>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.attach(tx, replica);
        let (mut sink, mut stream) = ws.split();
        let mut beat = tokio::time::interval(Duration::from_millis(300));
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                m = rx.recv() => match m {
                    Some(m) => if sink.send(m).await.is_err() { break },
                    None => break,
                },
                _ = beat.tick() => {
                    let hb = DaemonToHub::Heartbeat { sessions: Vec::new() };
                    if sink.send(text(&hb)).await.is_err() { break }
                }
                m = stream.next() => match m {
                    Some(Ok(Message::Text(t))) => {
                        let Ok(msg) = serde_json::from_str::<HubToDaemon>(t.as_str()) else { continue };
                        if let Some(every) = self.on_message(msg) {
                            beat = tokio::time::interval(every);
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        if let Ok(mut s) = self.state.lock() {
            s.link = None;
        }
    }

    /// Makes `tx` the connection: hello with the sessions still running, then the chunks
    /// not acknowledged (in order, before anything newer), then the ends the hub may have
    /// missed. All under the lock, so no new chunk slips in between.
    fn attach(&self, tx: mpsc::UnboundedSender<Message>, replica: usize) {
        let Ok(mut s) = self.state.lock() else { return };
        s.connections += 1;
        s.via = format!("r{replica}#{}", s.connections);
        let running: Vec<RunningSession> = s
            .sessions
            .iter()
            .filter(|(_, r)| !r.ended && !r.stopped)
            .map(|(id, _)| RunningSession {
                session_id: *id,
                tmux: Some(format!("sim-{id}")),
                pid: Some(4242),
            })
            .collect();
        let hello = DaemonToHub::Hello {
            version: "soak".into(),
            sessions: running,
        };
        let _ = tx.send(text(&hello));
        let mut resent = 0;
        for r in s.sessions.values().filter(|r| !r.ended && !r.stopped) {
            for frame in r.unacked.values() {
                let _ = tx.send(Message::Binary(frame.clone().into()));
                resent += 1;
            }
        }
        for (id, _) in s.sessions.iter().filter(|(_, r)| r.ended) {
            let _ = tx.send(text(&ended(*id)));
        }
        self.shared.resent.fetch_add(resent, Ordering::Relaxed);
        s.link = Some(tx);
    }

    /// Handles a message from the hub; a new heartbeat interval when it is a welcome.
    fn on_message(self: &Arc<Self>, msg: HubToDaemon) -> Option<Duration> {
        match msg {
            HubToDaemon::Welcome {
                heartbeat_interval_ms,
                ..
            } => return Some(Duration::from_millis(heartbeat_interval_ms.max(50))),
            HubToDaemon::SessionStart(start) => self.started(start),
            HubToDaemon::OutputStored { session_id, seq } => {
                self.shared.acks.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut s) = self.state.lock()
                    && let Some(r) = s.sessions.get_mut(&session_id)
                {
                    r.unacked = r.unacked.split_off(&(seq + 1));
                }
            }
            HubToDaemon::SessionStop {
                session_id,
                finish: false,
                ..
            } => {
                if let Ok(mut s) = self.state.lock()
                    && let Some(r) = s.sessions.get_mut(&session_id)
                    && !r.ended
                {
                    r.stopped = true;
                    self.shared.stopped.fetch_add(1, Ordering::Relaxed);
                }
            }
            HubToDaemon::Error { error, detail } => {
                let n = self.shared.hub_errors.fetch_add(1, Ordering::Relaxed);
                if n < 5 {
                    self.shared
                        .note(format!("{} was refused: {error}: {detail}", self.name));
                }
            }
            _ => {}
        }
        None
    }

    /// A session start: a new session gets a runner; one started again gets its new token.
    fn started(self: &Arc<Self>, start: SessionStart) {
        let Some(task) = start.task.as_ref() else {
            return;
        };
        let Ok(mut s) = self.state.lock() else { return };
        if let Some(r) = s.sessions.get_mut(&start.session_id) {
            r.token = start.token.clone();
            return;
        }
        s.sessions.insert(
            start.session_id,
            Running {
                token: start.token.clone(),
                unacked: BTreeMap::new(),
                ended: false,
                stopped: false,
            },
        );
        if let Ok(mut logs) = self.shared.sessions.lock() {
            logs.insert(
                start.session_id,
                SessionLog {
                    task_id: task.id,
                    daemon: self.name.clone(),
                    ..SessionLog::default()
                },
            );
        }
        tokio::spawn(
            self.clone()
                .session(start.session_id, task.id, task.reference.clone()),
        );
    }

    /// Sends a control message on the connection in use (lost with it if it breaks).
    fn send(&self, m: &DaemonToHub) {
        if let Ok(s) = self.state.lock()
            && let Some(link) = &s.link
        {
            let _ = link.send(text(m));
        }
    }

    /// Sends output chunk `seq` of a session, keeping it until it is acknowledged.
    fn output(&self, session_id: Uuid, seq: u64, data: Vec<u8>) {
        let len = data.len() as u64;
        let frame = Frame {
            kind: FrameKind::Output,
            session_id,
            seq,
            data,
        }
        .encode();
        let mut via = String::from("none");
        if let Ok(mut s) = self.state.lock() {
            if let Some(r) = s.sessions.get_mut(&session_id) {
                r.unacked.insert(seq, frame.clone());
            }
            if let Some(link) = &s.link {
                let _ = link.send(Message::Binary(frame.into()));
                via = s.via.clone();
            }
        }
        if let Ok(mut logs) = self.shared.sessions.lock()
            && let Some(l) = logs.get_mut(&session_id)
        {
            l.bytes += len;
            l.chunks = seq;
            l.sent_via.push(via);
        }
    }

    /// The session's token now (a start sent again brings a new one), if it still runs.
    fn token(&self, session_id: Uuid) -> Option<String> {
        let s = self.state.lock().ok()?;
        s.sessions
            .get(&session_id)
            .filter(|r| !r.stopped)
            .map(|r| r.token.clone())
    }

    /// How many of the session's chunks wait for an acknowledgement.
    fn unacked(&self, session_id: Uuid) -> usize {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.sessions.get(&session_id).map(|r| r.unacked.len()))
            .unwrap_or(0)
    }

    /// A client as the session's agent (with its newest token).
    fn agent(&self, session_id: Uuid) -> HubClient {
        self.admin.with_token(self.token(session_id))
    }

    /// Whether the soak is over or the hub stopped this session.
    fn gone(&self, session_id: Uuid) -> bool {
        self.shared.over() || self.token(session_id).is_none()
    }

    /// Runs one session: active, output, maybe a question or a permission, completion, end.
    async fn session(self: Arc<Self>, sid: Uuid, task: Uuid, reference: String) {
        let o = &self.shared.options;
        if !self.until_running(sid, task).await {
            return;
        }
        let chunks = o.chunks.0 + pick(o.chunks.1.saturating_sub(o.chunks.0) + 1);
        let asks = pick(o.question_every.max(1) as u64) == 0;
        let permits = pick(o.permission_every.max(1) as u64) == 0;
        for seq in 1..=chunks {
            if self.gone(sid) {
                return;
            }
            let pad = "=".repeat(pick(300) as usize);
            let line = format!("[{} {reference} chunk {seq}] {pad}\r\n", self.name);
            self.output(sid, seq, line.into_bytes());
            tokio::time::sleep(o.chunk_pause.mul_f64((pick(100) + 1) as f64 / 100.0)).await;
            if seq == chunks / 2 {
                if asks && !self.question(sid, task).await {
                    return;
                }
                if permits && !self.permission(sid, task).await {
                    return;
                }
            }
        }
        if !self.complete(sid, task, &reference).await {
            return;
        }
        // The agent has exited, but its output is kept (and sent again after a reconnect)
        // until a replica says it is stored: only then does the session end.
        while self.unacked(sid) > 0 && !self.shared.over() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let left = self.unacked(sid) as u64;
        if let Ok(mut logs) = self.shared.sessions.lock()
            && let Some(l) = logs.get_mut(&sid)
        {
            l.unacked_at_end = left;
            l.ended = left == 0;
        }
        if left > 0 {
            return;
        }
        if let Ok(mut s) = self.state.lock()
            && let Some(r) = s.sessions.get_mut(&sid)
        {
            r.ended = true;
        }
        self.send(&ended(sid));
    }

    /// Reports the session active until its task leaves `assigned` (the report may be lost
    /// with a replica); false when the soak ended first.
    async fn until_running(&self, sid: Uuid, task: Uuid) -> bool {
        let active = DaemonToHub::SessionActive {
            session_id: sid,
            pid: Some(4242),
            tmux: Some(format!("sim-{sid}")),
            hooks: false,
        };
        let mut last_sent: Option<Instant> = None;
        while !self.gone(sid) {
            if last_sent.is_none_or(|t| t.elapsed() > Duration::from_secs(2)) {
                self.send(&active);
                last_sent = Some(Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            if self
                .task_status(task)
                .await
                .is_some_and(|s| s != TaskStatus::Assigned)
            {
                return true;
            }
        }
        false
    }

    /// Asks a question as the agent and waits for the admin's answer.
    async fn question(&self, sid: Uuid, task: Uuid) -> bool {
        let id = task.to_string();
        let asked = call(
            || self.agent(sid),
            |c| {
                let id = id.clone();
                async move {
                    c.ask_help(&id, "Which port should the service listen on?")
                        .await
                }
            },
        )
        .await;
        let Ok(iv) = asked else { return false };
        self.shared.questions.fetch_add(1, Ordering::Relaxed);
        self.until_decided(
            sid,
            |c| async move { c.intervention(iv.id, Some(Duration::from_secs(2))).await },
            |i| i.status != InterventionStatus::Pending,
        )
        .await
    }

    /// Asks for a tool call as the agent's hook does and waits for the decision.
    async fn permission(&self, sid: Uuid, task: Uuid) -> bool {
        let body = RequestPermission {
            task: Some(task.to_string()),
            tool_name: "Bash".into(),
            tool_input: json!({"command": format!("rm -rf target/soak-{sid}")}),
        };
        let asked = call(
            || self.agent(sid),
            |c| {
                let body = body.clone();
                async move { c.request_permission(&body).await }
            },
        )
        .await;
        let Ok(req) = asked else { return false };
        self.shared.permissions.fetch_add(1, Ordering::Relaxed);
        if req.status != PermissionStatus::Pending {
            return true;
        }
        self.until_decided(
            sid,
            |c| async move { c.permission(req.id, Some(Duration::from_secs(2))).await },
            |p| p.status != PermissionStatus::Pending,
        )
        .await
    }

    /// Long-polls with `poll` as the session's agent (moving between replicas) until
    /// `decided` says a human answered; false when the session ended first.
    async fn until_decided<T, F, Fut>(
        &self,
        sid: Uuid,
        poll: F,
        decided: impl Fn(&T) -> bool,
    ) -> bool
    where
        F: Fn(HubClient) -> Fut,
        Fut: std::future::Future<Output = Result<T, orchestratia_proto::client::ClientError>>,
    {
        while !self.gone(sid) {
            let got = call(|| self.agent(sid), &poll).await;
            if got.is_ok_and(|v| decided(&v)) {
                return true;
            }
        }
        false
    }

    /// Completes the task as its agent; a retry answered "already done" counts as done.
    async fn complete(&self, sid: Uuid, task: Uuid, reference: &str) -> bool {
        let id = task.to_string();
        let bytes = self
            .shared
            .sessions
            .lock()
            .ok()
            .and_then(|l| l.get(&sid).map(|l| l.bytes))
            .unwrap_or(0);
        let body = CompleteTask {
            result: TaskResult {
                summary: format!("{reference} done by {}", self.name),
                ..TaskResult::default()
            },
            contracts: [(
                "out".to_string(),
                json!({"task": reference, "bytes": bytes}),
            )]
            .into_iter()
            .collect(),
        };
        let done = call(
            || self.agent(sid),
            |c| {
                let (id, body) = (id.clone(), body.clone());
                async move { c.complete(&id, &body).await }
            },
        )
        .await;
        if done.is_ok() {
            return true;
        }
        // Maybe the first try went through before its replica died: look.
        let finished = self.task_status(task).await == Some(TaskStatus::Done);
        if finished {
            self.shared.already_done.fetch_add(1, Ordering::Relaxed);
        } else {
            self.shared
                .problem(format!("{reference}: completion refused: {done:?}"));
        }
        finished
    }

    /// The task's status as the admin reads it through any replica; `None` when none
    /// answered in time.
    async fn task_status(&self, task: Uuid) -> Option<TaskStatus> {
        let id = task.to_string();
        let view = call(
            || self.admin.clone(),
            |c| {
                let id = id.clone();
                async move { c.task(&id).await }
            },
        )
        .await;
        view.ok().map(|v| v.task.status)
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the daemon WebSocket at `url` with the server's key.
async fn connect(url: &str, key: &str) -> anyhow::Result<Socket> {
    let client = HubClient::new(url, None);
    let mut req = client.ws_url(DAEMON_WS_PATH).into_client_request()?;
    req.headers_mut()
        .insert("Authorization", format!("Bearer {key}").parse()?);
    let connecting = tokio_tungstenite::connect_async(req);
    let (ws, _) = tokio::time::timeout(Duration::from_secs(5), connecting).await??;
    Ok(ws)
}

/// A control message as a text frame.
fn text(m: &DaemonToHub) -> Message {
    Message::Text(serde_json::to_string(m).unwrap_or_default().into())
}

/// The end of a session whose agent exited cleanly.
fn ended(session_id: Uuid) -> DaemonToHub {
    DaemonToHub::SessionEnded {
        session_id,
        exit_code: Some(0),
        last_screen: None,
        reason: None,
    }
}
