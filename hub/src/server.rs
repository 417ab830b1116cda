//! Starting and stopping a hub: open the store, bind, write the admin file, serve, and watch
//! heartbeats. Used by the binary, the tests and the embedded demo.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::HubConfig;
use crate::service::Hub;
use crate::store::{self, Store};

/// A hub that is serving.
pub struct RunningHub {
    pub addr: SocketAddr,
    pub hub: Hub,
    /// Where the admin token was written, if it was.
    pub admin_file: Option<PathBuf>,
    task: JoinHandle<()>,
}

impl RunningHub {
    /// The hub's URL.
    pub fn url(&self) -> String {
        self.hub.public_url.clone()
    }

    /// Stops serving: long-polls answer at once, WebSockets close, and other open requests
    /// get `config.shutdown_grace` to finish.
    pub async fn shutdown(self) {
        self.hub.begin_shutdown();
        let _ = self.task.await;
        // Upgraded sockets outlive the HTTP server: give their tasks a moment to send the
        // close that tells clients the hub restarts, rather than exit under them.
        let deadline = tokio::time::Instant::now() + SOCKETS_CLOSE_WAIT;
        while (self.hub.metrics.consoles() > 0 || self.hub.daemons.count_here() > 0)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.hub.store.close().await;
    }

    /// Waits until the server stops (it does not, until shut down).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Starts a hub (see [`start`]) and makes an admin token for the program that embeds it.
pub async fn start_with_admin(config: HubConfig) -> anyhow::Result<(RunningHub, String)> {
    let running = start(config).await?;
    let token = crate::admin::create_admin_token(&running.hub.store).await?;
    Ok((running, token))
}

/// How long shutdown waits for WebSocket tasks to send their close frames.
const SOCKETS_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How long a replica waits for a process of its name that just died to let go of it.
const REPLICA_LOCK_WAIT: Duration = Duration::from_secs(5);

/// Opens the store, binds `config.listen` (port 0 picks a free one) and starts serving.
pub async fn start(config: HubConfig) -> anyhow::Result<RunningHub> {
    let store = Store::open(&config.db_url)
        .await
        .with_context(|| format!("opening the database {}", store::redact(&config.db_url)))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    // A replica proves it is the only process of its name before it serves anything.
    let lock = match &config.replica_id {
        Some(id) => Some(crate::bus::replica::claim(&store, id, REPLICA_LOCK_WAIT).await?),
        None => None,
    };
    let addr = listener.local_addr()?;
    let public_url = config.public_url.clone().unwrap_or_else(|| {
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        format!("http://{host}:{}", addr.port())
    });
    let hub = Hub::new(store, config.clone(), public_url);
    if let (Some(id), Some(lock)) = (&config.replica_id, lock) {
        crate::bus::replica::start(&hub, id, lock).await?;
    }
    let admin_file = if config.write_admin_file {
        let path = config
            .admin_file
            .clone()
            .or_else(orchestratia_proto::files::admin_file)
            .context("no config directory: pass --admin-file")?;
        Some(crate::admin::ensure_admin_file(&hub, &path).await?)
    } else {
        None
    };
    spawn_monitor(hub.clone(), hub.shutdown_flag());
    if let Some(t) = config.telegram.clone() {
        crate::telegram::spawn(hub.clone(), t)?;
    }
    let app = crate::api::app(hub.clone());
    let task = tokio::spawn(crate::listener::serve(
        listener,
        app,
        config.limits.clone(),
        config.shutdown_grace,
        hub.shutdown_flag(),
    ));
    Ok(RunningHub {
        addr,
        hub,
        admin_file,
        task,
    })
}

/// Marks servers offline when their heartbeats stop, and watches the agents (stalls, late
/// answers). Between replicas only the holder of the `monitor` lease does it.
fn spawn_monitor(hub: Hub, mut stop: watch::Receiver<bool>) {
    let every =
        (hub.config.offline_after / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    // Between replicas, one at a time does the sweeps.
                    if !hub.holds_lease("monitor").await {
                        continue;
                    }
                    if let Err(e) = hub.mark_stale_offline().await {
                        tracing::warn!(error = %e, "offline check failed");
                    }
                    if let Err(e) = hub.watch_agents().await {
                        tracing::warn!(error = %e, "agent check failed");
                    }
                }
                _ = stop.changed() => break,
            }
        }
    });
}
