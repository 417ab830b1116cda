//! What the console knows of the hub: a snapshot read over REST, kept fresh by the console
//! WebSocket's events. Plain data with no I/O, so the views draw it and tests build it.

use std::collections::{HashMap, VecDeque};

use orchestratia_proto::api::Graph;
use orchestratia_proto::{
    Event, Intervention, InterventionStatus, PermissionRequest, PermissionStatus, Plan, PlanStatus,
    Project, Server, Session, SessionStatus, Task,
};
use uuid::Uuid;

/// How many recent events the console keeps for its timeline.
const EVENTS_KEPT: usize = 500;

/// The state of the hub as last read.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub projects: Vec<Project>,
    pub servers: Vec<Server>,
    pub tasks: Vec<Task>,
    pub sessions: Vec<Session>,
    pub plans: Vec<Plan>,
    pub permissions: Vec<PermissionRequest>,
    pub interventions: Vec<Intervention>,
    /// The graph of the project shown in the Graph view.
    pub graph: Option<Graph>,
}

/// One thing waiting for a human.
#[derive(Debug, Clone, PartialEq)]
pub enum InboxItem {
    Plan(Plan),
    Permission(PermissionRequest),
    Intervention(Intervention),
}

impl InboxItem {
    /// When it arrived (the Inbox lists newest first).
    pub fn created_at(&self) -> i64 {
        match self {
            InboxItem::Plan(p) => p.created_at,
            InboxItem::Permission(p) => p.created_at,
            InboxItem::Intervention(i) => i.created_at,
        }
    }

    /// The task it is about.
    pub fn task_id(&self) -> Option<Uuid> {
        match self {
            InboxItem::Plan(p) => Some(p.task_id),
            InboxItem::Permission(p) => p.task_id,
            InboxItem::Intervention(i) => Some(i.task_id),
        }
    }

    /// A short label: kind, task, and what is asked.
    pub fn summary(&self) -> (String, String, String) {
        match self {
            InboxItem::Plan(p) => (
                "plan".into(),
                p.task_reference.clone(),
                first_line(&p.content),
            ),
            InboxItem::Permission(p) => (
                "permission".into(),
                p.task_reference.clone().unwrap_or_else(|| "-".into()),
                format!("{}: {}", p.tool_name, tool_input_text(&p.tool_input)),
            ),
            InboxItem::Intervention(i) => (
                "question".into(),
                i.task_reference.clone(),
                i.question.clone(),
            ),
        }
    }
}

/// A tool's input as a person reads it: a Bash command whole, a file path, else the JSON.
pub fn tool_input_text(v: &serde_json::Value) -> String {
    for key in ["command", "file_path", "path", "url"] {
        if let Some(s) = v.get(key).and_then(|s| s.as_str()) {
            return s.to_string();
        }
    }
    v.to_string()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// The console's model: the snapshot, recent events, session previews and the link's state.
#[derive(Debug, Default)]
pub struct Model {
    pub snap: Snapshot,
    pub events: VecDeque<Event>,
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

    /// Adds an event to the timeline (ignoring one already seen).
    pub fn push_event(&mut self, e: Event) {
        if self.events.back().is_some_and(|last| last.id >= e.id) {
            return;
        }
        self.events.push_back(e);
        while self.events.len() > EVENTS_KEPT {
            self.events.pop_front();
        }
    }

    /// Everything waiting for a human, newest first.
    pub fn inbox(&self) -> Vec<InboxItem> {
        let mut items: Vec<InboxItem> = Vec::new();
        items.extend(
            self.snap
                .plans
                .iter()
                .filter(|p| p.status == PlanStatus::Submitted)
                .cloned()
                .map(InboxItem::Plan),
        );
        items.extend(
            self.snap
                .permissions
                .iter()
                .filter(|p| p.status == PermissionStatus::Pending)
                .cloned()
                .map(InboxItem::Permission),
        );
        items.extend(
            self.snap
                .interventions
                .iter()
                .filter(|i| i.status == InterventionStatus::Pending)
                .cloned()
                .map(InboxItem::Intervention),
        );
        items.sort_by_key(|i| std::cmp::Reverse(i.created_at()));
        items
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

    /// Whether a session's agent waits for a human: its hooks said so, or its task waits on a
    /// question, a plan or a permission.
    pub fn session_waits(&self, s: &Session) -> bool {
        if s.status == SessionStatus::Ended {
            return false;
        }
        s.waiting
            || s.task_id
                .is_some_and(|t| self.inbox().iter().any(|i| i.task_id() == Some(t)))
    }

    /// The events of one task (as cause or as the downstream task), oldest first.
    pub fn task_events(&self, task: Uuid) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| e.task_id == Some(task) || e.related_task_id == Some(task))
            .collect()
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
