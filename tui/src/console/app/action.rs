//! What the app asks the runtime to do: each key, click or hub message comes to a list of
//! these, which the runtime (`console::runtime`) carries out.

use orchestratia_proto::api::AllowScope;
use uuid::Uuid;

/// What the app asks the runtime to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Quit,
    ApprovePlan {
        task: Uuid,
    },
    RejectPlan {
        task: Uuid,
        feedback: String,
    },
    /// Allow a tool call: once, for its session, or always (a project rule of `patterns`;
    /// empty: the hub takes the request's suggested ones).
    Allow {
        id: Uuid,
        scope: AllowScope,
        patterns: Vec<String>,
    },
    /// Deny a tool call; with `rule`, also deny calls like it from now on (a project rule of
    /// `patterns`; empty: the suggested ones).
    Deny {
        id: Uuid,
        rule: bool,
        patterns: Vec<String>,
    },
    Answer {
        id: Uuid,
        text: String,
    },
    /// Read a task's full view (spec, dependencies, inputs, contracts, timeline).
    OpenTask {
        task: Uuid,
    },
    /// Stream this session (and stop streaming the previous one).
    Watch {
        session: Uuid,
        previous: Option<Uuid>,
    },
    /// Draw an ended session from its stored recording (and stop streaming the previous one).
    Replay {
        session: Uuid,
        previous: Option<Uuid>,
    },
    /// Read a live session's stored recording, to scroll back through all of it.
    History {
        session: Uuid,
    },
    Input {
        session: Uuid,
        bytes: Vec<u8>,
    },
    CreateTask(Box<orchestratia_proto::api::CreateTask>),
    /// Read the hub's ranking of servers for a task (the assign picker shows it).
    Explain {
        task: Uuid,
    },
    Assign {
        task: Uuid,
        server: String,
    },
    Resize {
        session: Uuid,
        cols: u16,
        rows: u16,
    },
    /// A follow-up message for an idle agent, submitted as its next prompt.
    SendMessage {
        session: Uuid,
        name: String,
        text: String,
    },
    /// Read a task's diff against its base (and its workspace, for the review state).
    OpenDiff {
        task: Uuid,
    },
    /// Merge a task's branch into its base.
    Merge {
        task: Uuid,
    },
    /// Keep a task's branch for later.
    Keep {
        task: Uuid,
    },
    /// Throw a task's worktree and branch away.
    Discard {
        task: Uuid,
    },
    /// Comment on a line of a task's diff (delivered to its agent).
    Comment {
        task: Uuid,
        body: orchestratia_proto::workspace::ReviewComment,
    },
}
