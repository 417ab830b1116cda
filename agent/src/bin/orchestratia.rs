//! `orchestratia`: the command line for orchestrator agents, worker agents and admins.

#[tokio::main]
async fn main() {
    orchestratia_agent::restore_sigpipe();
    let code = orchestratia_agent::cli::main().await;
    std::process::exit(code);
}
