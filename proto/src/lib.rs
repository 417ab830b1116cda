//! Wire types shared by every part of Orchestratia (hub, daemon, CLI, console) and the typed
//! hub client. Statuses and event names here are the words of the store, the API and the UI.

pub mod api;
pub mod client;
pub mod files;
mod humans;
mod inbox;
pub mod model;
pub mod policy;
pub mod taskref;
pub mod text;
pub mod time;
pub mod usage;
pub mod workspace;
pub mod ws;

pub use model::*;
pub use workspace::{DependencyAfter, ReviewState};

/// The API prefix every REST route lives under.
pub const API_PREFIX: &str = "/api/v1";

/// Default hub address when neither a flag, the environment nor a config file names one.
pub const DEFAULT_HUB_URL: &str = "http://127.0.0.1:8600";

/// Prefix of one-time registration tokens.
pub const REGISTRATION_TOKEN_PREFIX: &str = "orcreg_";
/// Prefix of server API keys.
pub const SERVER_KEY_PREFIX: &str = "orc_";
/// Prefix of admin tokens.
pub const ADMIN_TOKEN_PREFIX: &str = "orcadm_";
/// Prefix of session tokens (scoped to one task).
pub const SESSION_TOKEN_PREFIX: &str = "orcses_";

/// Crate version, reported by every binary and in the hub's health answer.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
