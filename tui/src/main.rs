//! `orchestratia-console`: the operator console, and `demo`, the whole system on one machine
//! (with the default feature `demo`).
//!
//! Called through a link named `orchestratia`, this binary is the `orchestratia` CLI: the demo
//! puts such a link first on its workers' PATH, so it needs no other binary built.

#[cfg(feature = "demo")]
use std::time::Duration;

use clap::Parser;
#[cfg(feature = "demo")]
use clap::Subcommand;
use orchestratia_console::console;
#[cfg(feature = "demo")]
use orchestratia_console::{demo, headless};
use orchestratia_proto::client::{HubClient, discover};

#[derive(Parser)]
#[command(
    name = "orchestratia-console",
    version,
    about = "The Orchestratia operator console"
)]
#[cfg_attr(
    feature = "demo",
    command(after_help = "Try it with no hub and no LLM:\n  \
orchestratia-console demo              the e-commerce pipeline end to end, on screen (? shows the keys)\n  \
orchestratia-console demo --headless   the same with no screen, printing the timeline")
)]
struct Cli {
    /// Hub URL, or several replicas' URLs separated by commas, tried in order (default:
    /// ORCHESTRATIA_HUB, the config file, http://127.0.0.1:8600).
    #[arg(long, global = true, value_name = "URL[,URL…]")]
    hub: Option<String>,
    /// Admin token (default: ORCHESTRATIA_TOKEN, the admin token file the hub wrote).
    #[arg(long, global = true)]
    token: Option<String>,
    /// The project whose graph the Graph view draws (default: the newest).
    #[arg(long, global = true)]
    project: Option<String>,
    #[cfg(feature = "demo")]
    #[command(subcommand)]
    command: Option<Command>,
}

#[cfg(feature = "demo")]
#[derive(Subcommand)]
enum Command {
    /// An embedded hub, two local daemons and scripted workers running the seven-task
    /// e-commerce pipeline.
    Demo {
        /// No screen: print the timeline, answer the plan and the question through the API,
        /// exit 0 when every task is done.
        #[arg(long)]
        headless: bool,
        /// Give up (exit 1) when the pipeline is not done after this long.
        #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
}

/// The name this binary was called by (`orchestratia` through the demo's link).
#[cfg(feature = "demo")]
fn called_as() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default()
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    #[cfg(feature = "demo")]
    if called_as() == "orchestratia" {
        orchestratia_agent::restore_sigpipe();
        let code = runtime.block_on(orchestratia_agent::cli::main());
        std::process::exit(code);
    }
    let cli = Cli::parse();
    let code = runtime.block_on(run(cli));
    std::process::exit(code);
}

async fn run(cli: Cli) -> i32 {
    #[cfg(feature = "demo")]
    match cli.command {
        Some(Command::Demo {
            headless: true,
            timeout,
        }) => return demo_headless(timeout).await,
        Some(Command::Demo {
            headless: false, ..
        }) => return demo_console().await,
        None => {}
    }
    let (hub, token) = discover(cli.hub.as_deref(), cli.token.as_deref());
    let client = HubClient::new(&hub, token);
    match console::run(client, cli.project).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// The demo with the console on screen; the daemons' logs go to a file in the demo's dir.
#[cfg(feature = "demo")]
async fn demo_console() -> i32 {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        eprintln!("error: the console needs a terminal; use `demo --headless` without one");
        return 2;
    }
    println!("Orchestratia demo: starting an embedded hub and two daemons…");
    let say = |s: &str| println!("demo: {s}");
    let d = match demo::Demo::start(&say).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: the demo could not start: {e:#}");
            return 1;
        }
    };
    let log = d.dir.path().join("demo.log");
    if let Ok(file) = std::fs::File::create(&log) {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "info".into()),
            )
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init();
    }
    let code = match console::run(d.admin.clone(), Some(demo::PROJECT.into())).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    d.stop().await;
    code
}

/// The demo with no screen: the timeline printed, the plan and the question answered by it.
#[cfg(feature = "demo")]
async fn demo_headless(timeout: Duration) -> i32 {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    println!(
        "Orchestratia demo, headless: no screen; the plan and the question are answered by the demo itself."
    );
    let say = |s: &str| println!("demo: {s}");
    let d = tokio::select! {
        d = demo::Demo::start(&say) => d,
        _ = tokio::signal::ctrl_c() => return 130,
    };
    let d = match d {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: the demo could not start: {e:#}");
            return 1;
        }
    };
    let outcome = tokio::select! {
        o = headless::run(&d.admin, timeout) => Some(o),
        _ = tokio::signal::ctrl_c() => None,
    };
    let code = match outcome {
        Some(Ok(o)) => {
            println!(
                "ALL DONE: {} tasks in {:.1} s",
                o.tasks,
                o.elapsed.as_secs_f64()
            );
            if let Ok(g) = d.admin.graph(Some(demo::PROJECT)).await {
                let graph = orchestratia_agent::cli::print::graph(&g);
                print!("\n{}", orchestratia_proto::text::multi_line(&graph));
            }
            0
        }
        Some(Err(e)) => {
            eprintln!("error: {e:#}");
            1
        }
        None => 130,
    };
    d.stop().await;
    code
}
