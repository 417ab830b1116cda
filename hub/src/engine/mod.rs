//! The task engine: pure functions over the task graph, with no I/O. The service layer loads
//! the slice of the graph a decision needs, asks the engine, and writes what it answers.

pub mod agent_state;
pub mod cascade;
pub mod deps;
pub mod graph;
pub mod lifecycle;
pub mod matching;
