//! The full-screen console: one App (`app`) that turns keys into actions, the key table its
//! footer and help are drawn from (`keymap`), drawing (`views`), a link to the hub (`link`)
//! that feeds it, and the runtime (`runtime`), which owns the terminal and has the actions
//! carried out (`exec`). `diff` reads a task's unified diff for its view.

pub mod app;
pub mod diff;
pub mod exec;
pub mod forms;
pub mod keymap;
pub mod link;
pub mod model;
pub mod runtime;
pub mod screen;
pub mod views;

pub use runtime::{color_enabled, run};
