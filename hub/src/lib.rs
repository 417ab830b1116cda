//! The Orchestratia hub: store, task engine, REST and WebSocket API.

pub mod admin;
pub mod api;
pub mod auth;
pub mod bus;
pub mod config;
pub mod connections;
pub mod engine;
pub mod error;
pub mod listener;
pub mod server;
pub mod service;
pub mod store;
pub mod telegram;
pub mod ws;

pub use config::HubConfig;
pub use server::{RunningHub, start, start_with_admin};
