//! A simulated daemon: registers with a one-time token, speaks the daemon protocol over the
//! real WebSocket (hello, heartbeats, session reports, output frames) and records what the hub
//! tells it. The real daemon is the next issue; this plays its part in the hub's tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use orchestratia_proto::api::RegisterServer;
use orchestratia_proto::client::HubClient;
use orchestratia_proto::workspace::{WorkspaceAnswer, WorkspaceOp, WorkspaceReport};
use orchestratia_proto::ws::{
    DAEMON_WS_PATH, DaemonToHub, Frame, HubToDaemon, RunningSession, SessionStart,
};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

/// A daemon played by the test.
pub struct SimDaemon {
    pub name: String,
    pub server_id: Uuid,
    pub api_key: String,
    out: mpsc::UnboundedSender<Message>,
    received: Received,
    task: JoinHandle<()>,
    heartbeats: JoinHandle<()>,
}

/// What the hub sent so far, shared with the task that reads the socket.
#[derive(Clone, Default)]
struct Received {
    messages: Arc<Mutex<Vec<HubToDaemon>>>,
    /// Binary frames (terminal input).
    frames: Arc<Mutex<Vec<Frame>>>,
    /// Woken on every message, and when the socket closes.
    changed: Arc<Notify>,
    /// Answers `workspace` requests, when set.
    workspaces: Arc<Mutex<Option<WorkspaceAnswerer>>>,
}

/// What the test answers to a workspace request: (task id, op) → the answer (none: silence).
pub type WorkspaceAnswerer =
    Box<dyn Fn(Uuid, &WorkspaceOp) -> Option<WorkspaceAnswer> + Send + Sync>;

/// The daemon's WebSocket to the hub.
type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How the simulated daemon behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Answer every `session_start` with `session_active` at once.
    pub auto_active: bool,
    /// Send heartbeats at the interval the hub asks for.
    pub heartbeats: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            auto_active: true,
            heartbeats: true,
        }
    }
}

/// Registers a server with a fresh registration token from `admin`; returns its key.
pub async fn register(
    admin: &HubClient,
    project: &str,
    name: &str,
    os: &str,
    repos: &[&str],
    languages: &[&str],
) -> orchestratia_proto::api::Registered {
    let token = admin
        .registration_token(project)
        .await
        .expect("registration token");
    let body = RegisterServer {
        token: token.token,
        name: name.into(),
        os: os.into(),
        hostname: format!("{name}.test"),
        repos: repos
            .iter()
            .map(|r| (r.to_string(), format!("/srv/{r}")))
            .collect::<BTreeMap<_, _>>(),
        languages: languages.iter().map(|l| l.to_string()).collect(),
    };
    admin.register(&body).await.expect("register")
}

/// Waits until the hub shows server `name` online (its daemon's hello was handled, so tasks
/// can be assigned to it).
pub async fn wait_online(admin: &HubClient, name: &str) {
    crate::eventually(20, &format!("{name} online"), || async {
        let servers = admin.servers().await.ok()?;
        servers
            .iter()
            .any(|s| s.name == name && s.status == orchestratia_proto::ServerStatus::Online)
            .then_some(())
    })
    .await
}

impl SimDaemon {
    /// Registers and connects a daemon, and waits until the hub shows it online.
    pub async fn start(
        admin: &HubClient,
        project: &str,
        name: &str,
        os: &str,
        repos: &[&str],
        languages: &[&str],
    ) -> SimDaemon {
        let reg = register(admin, project, name, os, repos, languages).await;
        Self::online(admin, name, &reg, SimOptions::default()).await
    }

    /// [`SimDaemon::start`] on Linux with `repos` and these options (a daemon that reports its
    /// agents active only when the test says so, say).
    pub async fn start_with(
        admin: &HubClient,
        project: &str,
        name: &str,
        repos: &[&str],
        opts: SimOptions,
    ) -> SimDaemon {
        let reg = register(admin, project, name, "linux", repos, &[]).await;
        Self::online(admin, name, &reg, opts).await
    }

    /// Connects a registered daemon and waits until the hub shows it online.
    async fn online(
        admin: &HubClient,
        name: &str,
        reg: &orchestratia_proto::api::Registered,
        opts: SimOptions,
    ) -> SimDaemon {
        let d = SimDaemon::connect(
            admin.base(),
            name,
            reg.server_id,
            &reg.api_key,
            Vec::new(),
            opts,
        )
        .await
        .expect("connect");
        wait_online(admin, name).await;
        d
    }

    /// Connects with an existing key, reporting `running` sessions in its hello.
    pub async fn connect(
        base: &str,
        name: &str,
        server_id: Uuid,
        api_key: &str,
        running: Vec<RunningSession>,
        opts: SimOptions,
    ) -> anyhow::Result<SimDaemon> {
        let client = HubClient::new(base, Some(api_key.to_string()));
        let mut req = client.ws_url(DAEMON_WS_PATH).into_client_request()?;
        req.headers_mut()
            .insert("Authorization", format!("Bearer {api_key}").parse()?);
        let (ws, _) = tokio_tungstenite::connect_async(req).await?;
        let (out, out_rx) = mpsc::unbounded_channel::<Message>();
        let received = Received::default();
        // Until the welcome says otherwise, beat often.
        let interval = Arc::new(Mutex::new(Duration::from_millis(100)));
        let hello = DaemonToHub::Hello {
            version: "sim".into(),
            sessions: running,
        };
        out.send(Message::Text(serde_json::to_string(&hello)?.into()))?;
        let task = tokio::spawn(pump(
            ws,
            out_rx,
            out.clone(),
            received.clone(),
            interval.clone(),
            opts.auto_active,
        ));
        let heartbeats = tokio::spawn(beat(out.clone(), interval, opts.heartbeats));
        Ok(SimDaemon {
            name: name.to_string(),
            server_id,
            api_key: api_key.to_string(),
            out,
            received,
            task,
            heartbeats,
        })
    }

    /// Sends a control message to the hub.
    pub fn send(&self, m: &DaemonToHub) {
        if let Ok(t) = serde_json::to_string(m) {
            let _ = self.out.send(Message::Text(t.into()));
        }
    }

    /// Sends a binary frame (output or keyframe).
    pub fn send_frame(&self, f: &Frame) {
        let _ = self.out.send(Message::Binary(f.encode().into()));
    }

    /// Everything the hub has sent so far.
    pub fn received(&self) -> Vec<HubToDaemon> {
        self.received
            .messages
            .lock()
            .map(|i| i.clone())
            .unwrap_or_default()
    }

    /// Answers every later `workspace` request with what `f` returns for it.
    pub fn answer_workspaces(
        &self,
        f: impl Fn(Uuid, &WorkspaceOp) -> Option<WorkspaceAnswer> + Send + Sync + 'static,
    ) {
        if let Ok(mut w) = self.received.workspaces.lock() {
            *w = Some(Box::new(f));
        }
    }

    /// Reports a workspace, as a daemon does after making a worktree.
    pub fn report_workspace(&self, report: &WorkspaceReport) {
        self.send(&DaemonToHub::WorkspaceReport {
            report: report.clone(),
        });
    }

    /// Workspace requests received, in order: (task id, op).
    pub fn workspace_requests(&self) -> Vec<(Uuid, WorkspaceOp)> {
        self.received()
            .into_iter()
            .filter_map(|m| match m {
                HubToDaemon::Workspace { task_id, op, .. } => Some((task_id, op)),
                _ => None,
            })
            .collect()
    }

    /// Binary frames received (terminal input).
    pub fn frames(&self) -> Vec<Frame> {
        self.received
            .frames
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default()
    }

    /// Session starts received, in order.
    pub fn session_starts(&self) -> Vec<SessionStart> {
        self.received()
            .into_iter()
            .filter_map(|m| match m {
                HubToDaemon::SessionStart(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// The session start for a task, if one came.
    pub fn start_for(&self, task: Uuid) -> Option<SessionStart> {
        self.session_starts()
            .into_iter()
            .rev()
            .find(|s| s.task.as_ref().is_some_and(|t| t.id == task))
    }

    /// Waits until a received message satisfies `pred`.
    pub async fn wait_for(
        &self,
        secs: u64,
        what: &str,
        pred: impl Fn(&HubToDaemon) -> bool,
    ) -> HubToDaemon {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let notified = self.received.changed.notified();
            if let Some(m) = self.received().into_iter().find(|m| pred(m)) {
                return m;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(
                !left.is_zero(),
                "{}: timed out waiting for {what}; got {:?}",
                self.name,
                self.received()
            );
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }

    /// Creates a task `title` in `project` (repo `app`; `plan`: it needs plan approval),
    /// assigns it here, and waits for its session to be active (the task out of `assigned`),
    /// so what its agent asks next does not race this daemon's report. Its session start
    /// (with the agent's token) is returned.
    pub async fn started(
        &self,
        admin: &HubClient,
        project: &str,
        title: &str,
        plan: bool,
    ) -> SessionStart {
        let t = admin
            .create_task(&orchestratia_proto::api::CreateTask {
                title: title.into(),
                project: Some(project.into()),
                repo: Some("app".into()),
                require_plan_approval: plan,
                ..Default::default()
            })
            .await
            .expect("create task");
        admin
            .assign(&t.id.to_string(), &self.name)
            .await
            .expect("assign");
        let start = self.wait_start(10, t.id).await;
        let id = t.id.to_string();
        for _ in 0..100 {
            let v = admin.task(&id).await.expect("view task");
            if v.task.status != orchestratia_proto::TaskStatus::Assigned {
                return start;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{title} stayed assigned: its session never became active");
    }

    /// The highest output chunk number the hub said it stored for `session`, if any.
    pub fn stored(&self, session: Uuid) -> Option<u64> {
        self.received()
            .iter()
            .filter_map(|m| match m {
                HubToDaemon::OutputStored { session_id, seq } if *session_id == session => {
                    Some(*seq)
                }
                _ => None,
            })
            .max()
    }

    /// Waits until the hub said it stored `session`'s output up to `seq` (at least).
    pub async fn wait_stored(&self, secs: u64, session: Uuid, seq: u64) {
        self.wait_for(secs, &format!("output_stored up to {seq}"), |m| {
            matches!(m, HubToDaemon::OutputStored { session_id, seq: s } if *session_id == session && *s >= seq)
        })
        .await;
    }

    /// Waits for the session start of a task.
    pub async fn wait_start(&self, secs: u64, task: Uuid) -> SessionStart {
        let m = self
            .wait_for(secs, "session_start", |m| {
                matches!(m, HubToDaemon::SessionStart(s) if s.task.as_ref().is_some_and(|t| t.id == task))
            })
            .await;
        match m {
            HubToDaemon::SessionStart(s) => s,
            _ => unreachable!("matched a session start"),
        }
    }

    /// Stops heartbeats and closes the socket (the daemon goes away).
    pub async fn disconnect(mut self) {
        self.heartbeats.abort();
        let _ = self.out.send(Message::Close(None));
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
    }

    /// Whether the socket is still open.
    pub fn is_connected(&self) -> bool {
        !self.task.is_finished()
    }
}

/// Moves messages between the socket and the test until either side closes: what `out` gets
/// is sent; what the hub sends is recorded in `received` (and, with `auto_active`, a
/// `session_start` is answered with `session_active`; a welcome sets the heartbeat `interval`).
async fn pump(
    ws: Socket,
    mut out_rx: mpsc::UnboundedReceiver<Message>,
    out: mpsc::UnboundedSender<Message>,
    received: Received,
    interval: Arc<Mutex<Duration>>,
    auto_active: bool,
) {
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            m = out_rx.recv() => match m {
                Some(m) => if sink.send(m).await.is_err() { break },
                None => { let _ = sink.close().await; break }
            },
            m = stream.next() => {
                let Some(Ok(m)) = m else { break };
                match m {
                    Message::Text(t) => {
                        let Ok(msg) = serde_json::from_str::<HubToDaemon>(t.as_str()) else { continue };
                        on_message(&msg, &out, &interval, auto_active);
                        answer_workspace(&msg, &out, &received);
                        if let Ok(mut i) = received.messages.lock() { i.push(msg) }
                        received.changed.notify_waiters();
                    }
                    Message::Binary(b) => {
                        if let Some(f) = Frame::decode(&b) && let Ok(mut fs) = received.frames.lock() { fs.push(f) }
                        received.changed.notify_waiters();
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
            }
        }
    }
    received.changed.notify_waiters();
}

/// What the daemon does on its own about a message from the hub: a welcome sets the heartbeat
/// interval; with `auto_active`, a `session_start` is answered with `session_active`.
fn on_message(
    msg: &HubToDaemon,
    out: &mpsc::UnboundedSender<Message>,
    interval: &Mutex<Duration>,
    auto_active: bool,
) {
    if let HubToDaemon::Welcome {
        heartbeat_interval_ms,
        ..
    } = msg
        && let Ok(mut i) = interval.lock()
    {
        *i = Duration::from_millis(*heartbeat_interval_ms);
    }
    if auto_active && let HubToDaemon::SessionStart(s) = msg {
        let active = DaemonToHub::SessionActive {
            session_id: s.session_id,
            pid: Some(4242),
            tmux: Some(s.name.clone()),
            hooks: false,
        };
        if let Ok(t) = serde_json::to_string(&active) {
            let _ = out.send(Message::Text(t.into()));
        }
    }
}

/// Answers a `workspace` request with what the test's answerer says, if one is set.
fn answer_workspace(msg: &HubToDaemon, out: &mpsc::UnboundedSender<Message>, received: &Received) {
    let HubToDaemon::Workspace {
        request_id,
        task_id,
        op,
    } = msg
    else {
        return;
    };
    let answer = match received.workspaces.lock() {
        Ok(w) => w.as_ref().and_then(|f| f(*task_id, op)),
        Err(_) => None,
    };
    if let Some(answer) = answer {
        let reply = DaemonToHub::WorkspaceReply {
            request_id: *request_id,
            answer,
        };
        if let Ok(t) = serde_json::to_string(&reply) {
            let _ = out.send(Message::Text(t.into()));
        }
    }
}

/// Sends heartbeats (when `on`) at the interval the hub asked for, until the socket closes.
async fn beat(out: mpsc::UnboundedSender<Message>, interval: Arc<Mutex<Duration>>, on: bool) {
    if !on {
        return;
    }
    loop {
        let every = interval
            .lock()
            .map(|i| *i)
            .unwrap_or(Duration::from_secs(1));
        tokio::time::sleep(every).await;
        let hb = DaemonToHub::Heartbeat {
            sessions: Vec::new(),
        };
        let Ok(t) = serde_json::to_string(&hb) else {
            continue;
        };
        if out.send(Message::Text(t.into())).is_err() {
            break;
        }
    }
}

/// A worktree of repo `app` that a daemon might report for task `reference`: branch
/// `orc/{reference}-work` from `main`, one commit ahead, one file changed (+3 -1).
pub fn sample_workspace(task: Uuid, reference: &str) -> WorkspaceReport {
    WorkspaceReport {
        task_id: task,
        repo: "app".into(),
        path: format!("/w/app/{reference}"),
        branch: format!("orc/{reference}-work"),
        base: "main".into(),
        base_commit: "aaaa1111".into(),
        head: "bbbb2222".into(),
        ahead: 1,
        behind: 0,
        files: vec![orchestratia_proto::workspace::FileChange {
            path: "src/a.rs".into(),
            insertions: Some(3),
            deletions: Some(1),
        }],
        uncommitted: Vec::new(),
        removed: false,
    }
}

impl Drop for SimDaemon {
    fn drop(&mut self) {
        self.heartbeats.abort();
        self.task.abort();
    }
}
