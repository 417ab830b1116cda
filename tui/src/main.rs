//! `orchestratia-console`: the full-screen operator console. Its issue comes after the hub's
//! and the daemon's; until then this binary says so and points at the CLI.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "orchestratia-console",
    version,
    about = "The Orchestratia operator console (not built yet)"
)]
struct Cli {
    /// Hub URL.
    #[arg(long)]
    hub: Option<String>,
    /// Admin token.
    #[arg(long)]
    token: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let _ = Cli::parse();
    eprintln!(
        "orchestratia-console is not built yet. Meanwhile the CLI shows the same picture:\n  \
         orchestratia task list | orchestratia task graph | orchestratia events --follow"
    );
    std::process::exit(1);
}
