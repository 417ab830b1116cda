//! The hub's settings, from the command line (see `main.rs`) or set directly by tests and the
//! embedded demo.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the hub needs to run.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// `sqlite://…`, a file path, or `postgres://…`.
    pub db_url: String,
    pub listen: SocketAddr,
    /// How often daemons are told to send heartbeats.
    pub heartbeat_interval: Duration,
    /// A server with no heartbeat for this long goes offline.
    pub offline_after: Duration,
    /// The URL agents and install commands use to reach the hub; defaults to the listen address.
    pub public_url: Option<String>,
    /// Where the admin token file is written (`None`: the user's config dir).
    pub admin_file: Option<PathBuf>,
    /// Whether to write the admin token file at all.
    pub write_admin_file: bool,
    pub limits: Limits,
    /// The Telegram bot, when configured.
    pub telegram: Option<crate::telegram::TelegramConfig>,
    /// An agent that reports through hooks but has not this long after it started is
    /// reported stalled (a dialog holds it).
    pub stall_after: Duration,
    /// An answer its asker has not picked up this long after it was given goes to the agent
    /// as its next prompt.
    pub late_answer_after: Duration,
    /// How long a registration token works when its creator does not say (short: it is a
    /// bearer secret pasted into a terminal).
    pub registration_token_ttl: Duration,
    /// On shutdown, how long open requests may take to finish before their connections are
    /// dropped (long-polls are answered at once; this bounds everything else).
    pub shutdown_grace: Duration,
    /// An inbox item (plan, permission request, question) waiting longer than this is
    /// announced again, once (the Telegram bot's reminder).
    pub remind_after: Duration,
    /// This hub's name among replicas sharing one PostgreSQL database (`--replica-id`);
    /// `None`: a single hub.
    pub replica_id: Option<String>,
}

/// Bounds on what a request may carry.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Largest task spec (and structured spec), in bytes.
    pub max_spec: usize,
    /// Largest single contract's data, in bytes (serialized JSON).
    pub max_contract: usize,
    /// Longest wait a long-poll may ask for.
    pub max_wait: Duration,
    /// Stored terminal output kept per session, in bytes.
    pub max_session_bytes: u64,
    /// A WebSocket write (to a daemon or a console) not done within this means the client
    /// stopped reading: the hub drops the connection rather than hold its messages.
    pub ws_send_timeout: Duration,
    /// Most sessions a daemon's `hello` may list. A daemon runs tens of sessions; the hub
    /// answers each listed one, so the list bounds the burst queued for that daemon.
    pub max_hello_sessions: usize,
    /// Messages queued for one daemon; a daemon whose queue overflows is disconnected (it
    /// reconnects and resyncs). Must exceed `max_hello_sessions`: a hello's replies queue at once.
    pub daemon_queue: usize,
    /// A client that has not sent a request's full headers this long after it connected (or
    /// after its previous response) is disconnected. Zero disables the timeout.
    pub header_timeout: Duration,
    /// Open connections in total. Above it, new connections are served `/health` only (see
    /// `crate::listener`). The hub lowers it to what its open-file limit allows.
    pub max_connections: usize,
    /// Open connections from one client address. Behind a reverse proxy every client has the
    /// proxy's address: raise it to `max_connections` there.
    pub max_connections_per_address: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 8 * 1024 * 1024,
            max_spec: 100_000,
            max_contract: 1024 * 1024,
            max_wait: Duration::from_secs(300),
            max_session_bytes: 64 * 1024 * 1024,
            ws_send_timeout: Duration::from_secs(30),
            max_hello_sessions: 10_000,
            daemon_queue: crate::connections::DAEMON_QUEUE,
            header_timeout: Duration::from_secs(10),
            // A daemon holds one WebSocket and its agents' long-polls a few connections each; a
            // console holds one. Thousands of servers fit under 20,000; one machine with a
            // thousand connections open is a runaway client, not a deployment.
            max_connections: 20_000,
            max_connections_per_address: 1_000,
        }
    }
}

impl HubConfig {
    /// Settings for a hub on `db_url` listening on `listen`, with the documented defaults.
    pub fn new(db_url: &str, listen: SocketAddr) -> HubConfig {
        HubConfig {
            db_url: db_url.to_string(),
            listen,
            heartbeat_interval: Duration::from_secs(30),
            offline_after: Duration::from_secs(90),
            public_url: None,
            admin_file: None,
            write_admin_file: true,
            limits: Limits::default(),
            telegram: None,
            stall_after: Duration::from_secs(60),
            late_answer_after: Duration::from_secs(10),
            registration_token_ttl: Duration::from_secs(3600),
            shutdown_grace: Duration::from_secs(5),
            remind_after: Duration::from_secs(600),
            replica_id: None,
        }
    }

    /// A hub inside another program (the demo, benchmarks): a free loopback port and no
    /// admin token file (see [`crate::server::start_with_admin`]).
    pub fn embedded(db_url: &str) -> HubConfig {
        let mut c = HubConfig::new(db_url, SocketAddr::from(([127, 0, 0, 1], 0)));
        c.write_admin_file = false;
        c
    }
}
