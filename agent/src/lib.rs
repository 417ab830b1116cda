//! The agent side of Orchestratia: the `orchestratia` CLI and the `orchestratia-agent` daemon.

pub mod cli;
pub mod daemon;

/// Restores the default SIGPIPE action so that `orchestratia … | head` ends quietly like any
/// Unix tool instead of panicking on a closed pipe.
pub fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default at start-up, before any thread
    // that could race on it exists, has no memory-safety implications.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
