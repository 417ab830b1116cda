//! The console's link to the hub: the REST snapshot, and the console WebSocket (events,
//! session screens, session streams) kept up with reconnects. What arrives becomes a `Msg` for
//! the app; what the app sends (subscriptions, keystrokes, resizes) goes through `Outgoing`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use orchestratia_proto::api::{Graph, TaskFilter};
use orchestratia_proto::client::HubClient;
use orchestratia_proto::text::{self, Lines};
use orchestratia_proto::workspace::{Workspace, WorkspaceDiff};
use orchestratia_proto::ws::{CONSOLE_WS_PATH, ConsoleToHub, Frame, HubToConsole};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::model::Snapshot;

/// What the link tells the app.
#[derive(Debug)]
pub enum Msg {
    /// The WebSocket is up (again).
    Connected,
    /// The WebSocket went down, with the reason; the link retries by itself (at the next of
    /// the hub's URLs when it has several).
    Disconnected(String),
    /// The hub replica the link talks to, read on each connection (`None` for a single hub).
    Replica(Option<String>),
    Hub(HubToConsole),
    Frame(Frame),
    /// A fresh snapshot.
    Snapshot(Box<Snapshot>),
    /// A session's stored recording, for replay.
    Recording(uuid::Uuid, Vec<orchestratia_proto::api::RecordingChunk>),
    /// The hub's ranking of servers for a task.
    Explanation(Box<orchestratia_proto::api::Explanation>),
    /// A task opened in the Tasks view, read in full.
    TaskView(Box<orchestratia_proto::TaskView>),
    /// A task's diff for the diff view (or why it could not be read), with its workspace.
    Diff {
        task: uuid::Uuid,
        diff: Result<Box<WorkspaceDiff>, String>,
        workspace: Option<Box<Workspace>>,
    },
    /// A merge, keep or discard went through: what to say, and the workspace after it.
    Reviewed {
        task: uuid::Uuid,
        said: String,
        workspace: Option<Box<Workspace>>,
    },
    /// A REST read or a decision failed.
    Error(String),
    /// A decision went through (shown in the status line).
    Done(String),
}

impl Msg {
    /// The message with every text that came from an agent or the API shown escaped (see
    /// `orchestratia_proto::text`): the one gate between the hub and what the console draws.
    /// Terminal frames and recordings stay raw: the session screen's terminal parser reads them.
    pub fn neutralised(self) -> Msg {
        match self {
            Msg::Disconnected(s) => Msg::Disconnected(line(s)),
            Msg::Replica(r) => Msg::Replica(r.map(line)),
            Msg::Hub(h) => Msg::Hub(safe(h)),
            Msg::Snapshot(s) => Msg::Snapshot(Box::new(Snapshot {
                projects: safe(s.projects),
                servers: safe(s.servers),
                tasks: safe(s.tasks),
                sessions: safe(s.sessions),
                plans: safe(s.plans),
                permissions: safe(s.permissions),
                interventions: safe(s.interventions),
                graph: safe(s.graph),
            })),
            Msg::Explanation(e) => Msg::Explanation(safe(e)),
            Msg::TaskView(v) => Msg::TaskView(safe(v)),
            Msg::Diff {
                task,
                diff,
                workspace,
            } => Msg::Diff {
                task,
                diff: diff.map(safe).map_err(line),
                workspace: workspace.map(safe),
            },
            Msg::Reviewed {
                task,
                said,
                workspace,
            } => Msg::Reviewed {
                task,
                said: line(said),
                workspace: workspace.map(safe),
            },
            Msg::Error(s) => Msg::Error(line(s)),
            Msg::Done(s) => Msg::Done(line(s)),
            m @ (Msg::Connected | Msg::Frame(_) | Msg::Recording(..)) => m,
        }
    }
}

/// `v` with its strings neutralised, line breaks kept (the views cut lines themselves). The
/// API's types all round-trip through JSON (a test checks the snapshot's); were one not to,
/// it stays as it is and the terminal backend still drops its control characters.
fn safe<T: serde::Serialize + serde::de::DeserializeOwned>(v: T) -> T {
    text::neutralised(&v, Lines::Keep).unwrap_or(v)
}

fn line(s: String) -> String {
    text::one_line(&s).into_owned()
}

/// What the app sends to the hub over the WebSocket.
#[derive(Debug)]
pub enum Outgoing {
    Control(ConsoleToHub),
    Frame(Frame),
}

/// Reads everything the console shows over REST.
pub async fn snapshot(client: &HubClient, project: Option<&str>) -> anyhow::Result<Snapshot> {
    let projects = client.projects().await?;
    let project = project.map(str::to_string).or_else(|| {
        // The newest project that has work in it is the one to draw.
        projects
            .iter()
            .max_by_key(|p| p.created_at)
            .map(|p| p.name.clone())
    });
    let graph: Option<Graph> = match &project {
        Some(p) => client.graph(Some(p)).await.ok(),
        None => None,
    };
    Ok(Snapshot {
        projects,
        servers: client.servers().await?,
        tasks: client.tasks(&TaskFilter::default()).await?,
        sessions: client.sessions().await?,
        plans: client.plans(None).await?,
        permissions: client.permissions(None).await?,
        interventions: client.interventions(None).await?,
        graph,
    })
}

/// Keeps the console WebSocket up until `out` closes: connects, says which replica answers,
/// forwards what arrives, sends what the app queues, and on a drop says so and reconnects,
/// to the next of the hub's URLs when it has several; the pause grows once every URL failed.
pub async fn run(
    client: HubClient,
    tx: mpsc::UnboundedSender<Msg>,
    mut out: mpsc::UnboundedReceiver<Outgoing>,
) {
    let mut pause = Duration::from_millis(500);
    let mut failed_in_a_row = 0;
    loop {
        let base = client.base().to_string();
        match connect(&client).await {
            Ok(ws) => {
                pause = Duration::from_millis(500);
                failed_in_a_row = 0;
                if tx.send(Msg::Replica(replica(&client).await)).is_err()
                    || tx.send(Msg::Connected).is_err()
                {
                    return;
                }
                let (mut sink, mut stream) = ws.split();
                let reason = loop {
                    tokio::select! {
                        m = stream.next() => match m {
                            Some(Ok(Message::Text(t))) => {
                                if let Ok(h) = serde_json::from_str::<HubToConsole>(&t)
                                    && tx.send(Msg::Hub(h)).is_err() {
                                    return;
                                }
                            }
                            Some(Ok(Message::Binary(b))) => {
                                if let Some(f) = Frame::decode(&b)
                                    && tx.send(Msg::Frame(f)).is_err() {
                                    return;
                                }
                            }
                            Some(Ok(Message::Close(_))) | None => break "the hub closed the connection".to_string(),
                            Some(Ok(_)) => {}
                            Some(Err(e)) => break e.to_string(),
                        },
                        o = out.recv() => {
                            let msg = match o {
                                None => return,
                                Some(Outgoing::Control(c)) => match serde_json::to_string(&c) {
                                    Ok(s) => Message::Text(s.into()),
                                    Err(_) => continue,
                                },
                                Some(Outgoing::Frame(f)) => Message::Binary(f.encode().into()),
                            };
                            if let Err(e) = sink.send(msg).await {
                                break e.to_string();
                            }
                        }
                    }
                };
                if tx.send(Msg::Disconnected(reason)).is_err() {
                    return;
                }
            }
            Err(e) => {
                if tx.send(Msg::Disconnected(format!("{e:#}"))).is_err() {
                    return;
                }
            }
        }
        // Keystrokes typed while the hub is away are dropped, not replayed later.
        while out.try_recv().is_ok() {}
        client.rotate_from(&base);
        failed_in_a_row += 1;
        if failed_in_a_row < client.bases().len() {
            // Another replica has not been tried since the last good connection: at once.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        failed_in_a_row = 0;
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// Which replica answers (`GET /status`), or `None` for a single hub or one that does not say
/// in time (the header then names no replica).
async fn replica(client: &HubClient) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(3), client.status())
        .await
        .ok()?
        .ok()?
        .replica
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(client: &HubClient) -> anyhow::Result<Ws> {
    let mut req = client.ws_url(CONSOLE_WS_PATH).into_client_request()?;
    if let Some(t) = client.token() {
        req.headers_mut()
            .insert("Authorization", format!("Bearer {t}").parse()?);
    }
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(req),
    )
    .await
    .map_err(|_| anyhow::anyhow!("timed out connecting to the hub"))??;
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use orchestratia_testkit::{HubOptions, TestCluster, TestHub};

    use super::*;

    /// The next message that is not a frame or a console event, within 20 s.
    async fn next(rx: &mut mpsc::UnboundedReceiver<Msg>) -> Msg {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .expect("the link said something")
                .expect("the link runs");
            if !matches!(m, Msg::Hub(_) | Msg::Frame(_)) {
                return m;
            }
        }
    }

    /// Waits for the link to be up, returning the replica it named.
    async fn connected(rx: &mut mpsc::UnboundedReceiver<Msg>) -> Option<String> {
        let mut replica = None;
        loop {
            match next(rx).await {
                Msg::Replica(r) => replica = r,
                Msg::Connected => return replica,
                _ => {}
            }
        }
    }

    #[tokio::test]
    async fn a_single_hub_names_no_replica() {
        let Some(hub) = TestHub::start(orchestratia_testkit::Backend::Sqlite).await else {
            return;
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (_out, out_rx) = mpsc::unbounded_channel();
        let link = tokio::spawn(run(hub.admin(), tx, out_rx));
        assert_eq!(connected(&mut rx).await, None);
        link.abort();
    }

    #[tokio::test]
    async fn the_link_moves_to_the_next_replica_when_its_replica_dies() {
        let Some(mut cluster) = TestCluster::start(2, HubOptions::default()).await else {
            return;
        };
        // A URL nothing answers at first: passed over.
        let client = HubClient::new(
            &format!("http://127.0.0.1:1,{}", cluster.urls()),
            Some(cluster.hubs[0].admin_token.clone()),
        );
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (_out, out_rx) = mpsc::unbounded_channel();
        let link = tokio::spawn(run(client, tx, out_rx));
        assert_eq!(connected(&mut rx).await.as_deref(), Some("r0"));
        cluster.kill(0).await;
        assert!(matches!(next(&mut rx).await, Msg::Disconnected(_)));
        assert_eq!(connected(&mut rx).await.as_deref(), Some("r1"));
        link.abort();
    }
}
