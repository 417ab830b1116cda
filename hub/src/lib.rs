//! The Orchestratia hub: store, task engine, REST and WebSocket API.
//!
//! Public are the modules the binary, the other crates and the hub's own tests and benches use;
//! the rest is the hub's inside.

pub mod admin;
pub(crate) mod api;
pub mod auth;
pub(crate) mod bus;
pub mod config;
pub mod connections;
pub(crate) mod engine;
pub(crate) mod error;
pub mod listener;
pub mod metrics;
pub(crate) mod server;
pub mod service;
pub mod store;
pub mod telegram;
pub(crate) mod ws;

pub use config::HubConfig;
pub use server::{RunningHub, start, start_with_admin};
