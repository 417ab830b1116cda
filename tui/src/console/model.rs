//! What the console knows of the hub: a snapshot read over REST, kept fresh by the console
//! WebSocket's events. Plain data with no I/O, so the views draw it and tests build it.

use std::collections::HashMap;

use orchestratia_proto::api::{Graph, Inbox};
use orchestratia_proto::{
    Intervention, PermissionRequest, Plan, Server, Session, SessionState, SessionStatus, Task,
};
use uuid::Uuid;

/// The state of the hub as last read.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub servers: Vec<Server>,
    pub tasks: Vec<Task>,
    pub sessions: Vec<Session>,
    pub plans: Vec<Plan>,
    pub permissions: Vec<PermissionRequest>,
    pub interventions: Vec<Intervention>,
    /// The graph of the project shown in the Graph view.
    pub graph: Option<Graph>,
}

pub use orchestratia_proto::api::InboxItem;

/// A short label of an inbox item: kind, task, and what is asked.
pub fn summary(item: &InboxItem) -> (String, String, String) {
    match item {
        InboxItem::Plan(p) => (
            "plan".into(),
            p.task_reference.clone(),
            first_line(&p.content),
        ),
        InboxItem::Permission(p) => (
            "permission".into(),
            p.task_reference.clone().unwrap_or_else(|| "-".into()),
            format!("{}: {}", p.tool_name, p.input_text()),
        ),
        InboxItem::Question(i) => (
            "question".into(),
            i.task_reference.clone(),
            i.question.clone(),
        ),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// The console's model: the snapshot, session previews and the link's state.
#[derive(Debug, Default)]
pub struct Model {
    pub snap: Snapshot,
    /// Rendered screen lines of each session (`session_screen`), for previews.
    pub previews: HashMap<Uuid, Vec<String>>,
    /// Whether the console WebSocket is up; `None` before the first connection.
    pub connected: Option<bool>,
    /// Why the hub cannot be reached, shown in a banner.
    pub hub_error: Option<String>,
}

impl Model {
    /// Takes a new snapshot.
    pub fn set_snapshot(&mut self, snap: Snapshot) {
        self.snap = snap;
    }

    fn pending_plans(&self) -> impl Iterator<Item = &Plan> {
        self.snap.plans.iter().filter(|p| p.waits())
    }

    fn pending_permissions(&self) -> impl Iterator<Item = &PermissionRequest> {
        self.snap.permissions.iter().filter(|p| p.waits())
    }

    fn pending_questions(&self) -> impl Iterator<Item = &Intervention> {
        self.snap.interventions.iter().filter(|i| i.waits())
    }

    /// The tasks of everything waiting for a human, one entry per item (nothing cloned: the
    /// tab badge and the waiting marks ask on every frame).
    fn pending_tasks(&self) -> impl Iterator<Item = Option<Uuid>> {
        self.pending_plans()
            .map(|p| Some(p.task_id))
            .chain(self.pending_permissions().map(|p| p.task_id))
            .chain(self.pending_questions().map(|i| Some(i.task_id)))
    }

    /// How many items wait for a human.
    pub fn inbox_len(&self) -> usize {
        self.pending_tasks().count()
    }

    /// Everything waiting for a human, newest first (built as the hub builds its inbox).
    pub fn inbox(&self) -> Vec<InboxItem> {
        Inbox::of(
            &self.snap.plans,
            &self.snap.permissions,
            &self.snap.interventions,
        )
        .items
        .into_iter()
        .map(|e| e.item)
        .collect()
    }

    /// A task by id.
    pub fn task(&self, id: Uuid) -> Option<&Task> {
        self.snap.tasks.iter().find(|t| t.id == id)
    }

    /// Sessions that have not ended, then the ended ones (newest first in each group).
    pub fn sessions_in_order(&self) -> Vec<&Session> {
        let mut s: Vec<&Session> = self.snap.sessions.iter().collect();
        s.sort_by_key(|s| {
            (
                s.status == SessionStatus::Ended,
                std::cmp::Reverse(s.started_at),
            )
        });
        s
    }

    /// A session's agent state changed (the console socket said so; the next snapshot agrees).
    pub fn set_session_state(&mut self, session: Uuid, state: SessionState) {
        if let Some(s) = self.snap.sessions.iter_mut().find(|s| s.id == session) {
            s.state = state;
            s.waiting = state.waits();
            s.state_since = orchestratia_proto::time::now_ms();
        }
    }

    /// The agent state of a task's newest session, if it has one.
    pub fn task_state(&self, task: Uuid) -> Option<SessionState> {
        self.snap
            .sessions
            .iter()
            .filter(|s| s.task_id == Some(task))
            .max_by_key(|s| s.started_at)
            .map(|s| s.state)
    }

    /// Whether a session's agent waits for a human: its hooks said so, or its task waits on a
    /// question, a plan or a permission.
    pub fn session_waits(&self, s: &Session) -> bool {
        if s.status == SessionStatus::Ended {
            return false;
        }
        s.waiting
            || s.task_id
                .is_some_and(|t| self.pending_tasks().any(|p| p == Some(t)))
    }
}

/// The graph's nodes in drawing order: by layer, then by task number.
pub fn graph_order(g: &Graph) -> Vec<&orchestratia_proto::api::GraphNode> {
    let mut n: Vec<_> = g.nodes.iter().collect();
    n.sort_by_key(|n| {
        (
            n.layer,
            n.reference
                .trim_start_matches('T')
                .parse::<i64>()
                .unwrap_or(0),
        )
    });
    n
}
