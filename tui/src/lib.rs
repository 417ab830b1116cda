//! The Orchestratia operator console and the one-command demo.

pub mod console;
pub mod demo;
pub mod headless;
