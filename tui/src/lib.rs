//! The Orchestratia operator console and the one-command demo.

pub mod console;
#[cfg(feature = "demo")]
pub mod demo;
#[cfg(feature = "demo")]
pub mod headless;
