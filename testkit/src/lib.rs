//! Test harness for end-to-end tests: starts the real hub binary on a free loopback port
//! (SQLite in a temp dir, or a fresh PostgreSQL database), runs the real CLI against it, and
//! plays daemons over the real WebSocket. Everything it starts is stopped when dropped, also
//! when a test fails.

pub mod agent;
pub mod claude;
pub mod claude_rig;
pub mod cluster;
pub mod console;
pub mod daemon;
pub mod git;
pub mod load;
pub mod load_report;
pub mod model;
pub mod pg;
pub mod soak;
pub mod telegram;
pub mod tmux;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use orchestratia_proto::client::HubClient;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub use agent::{DaemonOptions, TestDaemon};
pub use cluster::TestCluster;
pub use console::{Console, ConsoleMsg};
pub use daemon::{SimDaemon, wait_online};
pub use pg::PgDatabase;

/// Which database a test hub runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Whether a tool a test needs (`present`) is here. Outside CI a missing tool skips the test
/// and says so; in CI it fails the test, so none passes there by not running.
pub fn have(tool: &str, present: bool) -> bool {
    if !present {
        assert!(std::env::var("CI").is_err(), "{tool} is needed in CI");
        eprintln!("skipping: {tool} is not installed");
    }
    present
}

/// The directory holding the workspace's binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/debug/deps/test-binary → target/debug
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// The path of a workspace binary, building it if it is missing (a test run of one crate).
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let mut cmd = std::process::Command::new(cargo);
        cmd.arg("build")
            .arg("--manifest-path")
            .arg(workspace)
            .args(["--bin", name]);
        // A benchmark runs from target/release: build the same profile.
        if bin_dir().ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd.status();
        assert!(
            status.is_ok_and(|s| s.success()) && path.exists(),
            "{name} is not built: run `cargo build --workspace` (or the README's test command)"
        );
    }
    path
}

/// How a test hub is started.
#[derive(Debug, Clone)]
pub struct HubOptions {
    pub backend: Backend,
    pub heartbeat: Duration,
    pub offline_after: Duration,
    /// More `serve` arguments (the Telegram bot's, say).
    pub args: Vec<String>,
    /// More environment variables for the hub process (settings read from the environment).
    pub env: Vec<(String, String)>,
    /// An existing database to use instead of a fresh one (replicas share one).
    pub db_url: Option<String>,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            backend: Backend::Sqlite,
            heartbeat: Duration::from_millis(300),
            offline_after: Duration::from_secs(3),
            args: Vec::new(),
            env: Vec::new(),
            db_url: None,
        }
    }
}

/// A real hub process on a free loopback port, with its own temp dir and database.
pub struct TestHub {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub url: String,
    pub admin_token: String,
    pub db_url: String,
    pub options: HubOptions,
    /// Keeps a PostgreSQL database alive for the hub's lifetime (dropped last).
    _pg: Option<PgDatabase>,
}

impl TestHub {
    /// Starts a hub on SQLite with one project, `name`, made through the CLI.
    pub async fn with_project(name: &str) -> Option<TestHub> {
        let hub = TestHub::start(Backend::Sqlite).await?;
        hub.cli(&["project", "create", name]).await.ok();
        Some(hub)
    }

    /// Starts a hub on SQLite, or `None` on PostgreSQL when no server answers (and not in CI).
    pub async fn start(backend: Backend) -> Option<TestHub> {
        Self::start_with(HubOptions {
            backend,
            ..HubOptions::default()
        })
        .await
    }

    /// Starts a hub with these options (see [`TestHub::start`]).
    pub async fn start_with(options: HubOptions) -> Option<TestHub> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db_url, pg) = match options.backend {
            _ if options.db_url.is_some() => (options.db_url.clone().unwrap_or_default(), None),
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("hub.db").display()),
                None,
            ),
            Backend::Postgres => {
                let db = PgDatabase::create().await?;
                (db.url.clone(), Some(db))
            }
        };
        let mut hub = TestHub {
            child: None,
            dir,
            url: String::new(),
            admin_token: String::new(),
            db_url,
            options,
            _pg: pg,
        };
        hub.spawn(None).await;
        Some(hub)
    }

    fn admin_file(&self) -> PathBuf {
        self.dir.path().join("admin.yaml")
    }

    /// Starts the hub process (on `port`, or a free one) and waits until it answers.
    async fn spawn(&mut self, port: Option<u16>) {
        let listen = format!("127.0.0.1:{}", port.unwrap_or(0));
        let mut child = Command::new(bin("orchestratia-hub"))
            .args(["serve", "--db", &self.db_url, "--listen", &listen])
            .arg("--admin-file")
            .arg(self.admin_file())
            .args([
                "--heartbeat-interval",
                &format!("{}ms", self.options.heartbeat.as_millis()),
            ])
            .args([
                "--offline-after",
                &format!("{}ms", self.options.offline_after.as_millis()),
            ])
            .args(&self.options.args)
            .envs(self.options.env.iter().map(|(k, v)| (k, v)))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start orchestratia-hub");
        let stdout = child.stdout.take().expect("hub stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(i) = line.find("listening on ") {
                    let rest = &line[i + "listening on ".len()..];
                    return rest.split_whitespace().next().map(str::to_string);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("the hub did not say where it listens");
        // Keep draining stdout so the hub never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.url = url;
        let text = std::fs::read_to_string(self.admin_file()).expect("admin file");
        self.admin_token = text
            .lines()
            .find_map(|l| l.strip_prefix("token:"))
            .map(|t| t.trim().trim_matches('\'').trim_matches('"').to_string())
            .expect("token in admin file");
        self.child = Some(child);
    }

    /// The port the hub listens on.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_default()
    }

    /// The hub process's id (for reading its memory in `/proc`), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Kills the hub (like a crash) and starts it again on the same port and database.
    pub async fn restart(&mut self) {
        let port = self.port();
        self.kill().await;
        self.spawn(Some(port)).await;
    }

    /// Kills the hub process.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
            let _ = c.wait().await;
        }
    }

    /// Waits up to `within` for the hub process to exit by itself; its status, or `None`
    /// (still running: it is killed when the `TestHub` is dropped).
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let status = tokio::time::timeout(within, child.wait()).await.ok()?.ok();
        if status.is_some() {
            self.child = None;
        }
        status
    }

    /// A client with the admin token.
    pub fn admin(&self) -> HubClient {
        HubClient::new(&self.url, Some(self.admin_token.clone()))
    }

    /// A client with any token.
    pub fn client(&self, token: Option<&str>) -> HubClient {
        HubClient::new(&self.url, token.map(str::to_string))
    }

    /// Runs the real `orchestratia` CLI with the admin token.
    pub async fn cli(&self, args: &[&str]) -> CliOutput {
        self.cli_as(&self.admin_token, &[], args).await
    }

    /// Runs the real `orchestratia` CLI with `token` and extra environment.
    pub async fn cli_as(&self, token: &str, env: &[(&str, &str)], args: &[&str]) -> CliOutput {
        run_cli(&self.url, token, self.dir.path(), env, args).await
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.start_kill();
        }
    }
}

/// What a CLI run printed and how it ended.
#[derive(Debug, Clone)]
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "command failed: {}{}",
            self.stderr, self.stdout
        );
        &self.stdout
    }

    /// Asserts success and parses stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// Asserts failure with `code` and a one-line `error: …` on stderr; returns the message.
    pub fn fails(&self, code: i32) -> String {
        assert_eq!(
            self.code, code,
            "expected exit {code}; stdout: {} stderr: {}",
            self.stdout, self.stderr
        );
        let line = self.stderr.trim();
        assert!(
            line.starts_with("error: "),
            "stderr should be one 'error:' line: {line}"
        );
        assert_eq!(line.lines().count(), 1, "stderr should be one line: {line}");
        line.to_string()
    }
}

/// Runs `orchestratia` against `url` with `token`, isolated from the user's config files.
pub async fn run_cli(
    url: &str,
    token: &str,
    home: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> CliOutput {
    run_cli_stdin(url, token, home, env, args, None).await
}

/// [`run_cli`] with `stdin` fed to the command.
pub async fn run_cli_stdin(
    url: &str,
    token: &str,
    home: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
) -> CliOutput {
    use tokio::io::AsyncWriteExt;
    let mut cmd = Command::new(bin("orchestratia"));
    cmd.args(args)
        .env("ORCHESTRATIA_HUB", url)
        .env("ORCHESTRATIA_TOKEN", token)
        .env("XDG_CONFIG_HOME", home.join("cli-config"))
        .env_remove("ORCHESTRATIA_TASK_ID")
        .env_remove("RUST_BACKTRACE")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run orchestratia");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let _ = pipe.write_all(text.as_bytes()).await;
        drop(pipe);
    }
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the CLI did not finish within 2 minutes")
        .expect("wait for orchestratia");
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Polls `f` every 50 ms until it returns `Some`, failing the test after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A console WebSocket connection.
pub type ConsoleWs =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to the hub's console WebSocket as `client` (an admin), as a console would.
pub async fn connect_console(client: &HubClient) -> ConsoleWs {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = client
        .ws_url(orchestratia_proto::ws::CONSOLE_WS_PATH)
        .into_client_request()
        .expect("console request");
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", client.token().unwrap_or_default())
            .parse()
            .expect("header"),
    );
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("console connects");
    ws
}
