//! What the console knows of the hub: a snapshot read over REST, kept fresh by the console
//! WebSocket's events. Plain data with no I/O, so the views draw it and tests build it.

use std::collections::HashMap;

use orchestratia_proto::api::{Graph, Inbox, InboxEntry, downstream_counts};
use orchestratia_proto::usage::{Budget, Usage};
use orchestratia_proto::{
    Intervention, PermissionRequest, Plan, Project, Server, Session, SessionState, SessionStatus,
    Task,
};
use uuid::Uuid;

/// The state of the hub as last read.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// The projects, with their budgets and what their tasks cost.
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
    /// The hub replica the link talks to, shown beside "live" (`None` for a single hub).
    pub replica: Option<String>,
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

    /// Everything waiting for a human, ranked as the hub ranks its inbox: what holds up the
    /// most open tasks downstream (over the graph's dependencies) first, then the oldest.
    pub fn inbox(&self) -> Vec<InboxEntry> {
        let asking: Vec<Uuid> = self.pending_tasks().flatten().collect();
        let counts = match &self.snap.graph {
            Some(g) => {
                let edges: Vec<(Uuid, Uuid)> = g.edges.iter().map(|e| (e.from, e.to)).collect();
                let open = |t: Uuid| self.task_open(t);
                downstream_counts(&edges, &asking, &open)
            }
            None => HashMap::new(),
        };
        Inbox::ranked(
            &self.snap.plans,
            &self.snap.permissions,
            &self.snap.interventions,
            &counts,
        )
        .items
    }

    /// Whether a task is open (not done, failed or cancelled), by the task list or else the
    /// graph; a task known to neither counts as open.
    fn task_open(&self, id: Uuid) -> bool {
        let status = self.task(id).map(|t| t.status).or_else(|| {
            self.snap
                .graph
                .as_ref()
                .and_then(|g| g.nodes.iter().find(|n| n.id == id))
                .map(|n| n.status)
        });
        status.is_none_or(|s| !s.is_terminal())
    }

    /// What the shown project (the graph's) has cost so far and its budget: the project's own
    /// total when the hub gave one, else the sum over its tasks. `None` without a project, or
    /// when it has neither a budget nor any reported usage.
    pub fn project_cost(&self) -> Option<ProjectCost> {
        let g = self.snap.graph.as_ref()?;
        let project = self.snap.projects.iter().find(|p| p.id == g.project_id);
        let usage = match project.and_then(|p| p.usage.clone()) {
            Some(u) => u,
            None => {
                let mut sum = Usage::default();
                self.snap
                    .tasks
                    .iter()
                    .filter(|t| t.project_id == g.project_id)
                    .filter_map(|t| t.usage.as_ref())
                    .for_each(|u| sum.add(u));
                sum
            }
        };
        let budget = project.and_then(|p| p.budget.clone());
        if usage.is_empty() && budget.is_none() {
            return None;
        }
        Some(ProjectCost { usage, budget })
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

/// What a project has cost and what it may cost.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectCost {
    pub usage: Usage,
    pub budget: Option<Budget>,
}

impl ProjectCost {
    /// As a header says it: `cost $1.20`, with `of $10.00 budget (12%)` when one is set and
    /// `, enforced` when reaching it holds new work.
    pub fn text(&self) -> String {
        let cost = self.usage.cost_text();
        match &self.budget {
            Some(b) => {
                let share = if b.usd > 0.0 {
                    (self.usage.cost_usd / b.usd * 100.0).round()
                } else {
                    0.0
                };
                let enforced = if b.enforce { ", enforced" } else { "" };
                format!("cost {cost} of ${:.2} budget ({share}%{enforced})", b.usd)
            }
            None => format!("cost {cost}"),
        }
    }

    /// How far spending is into the budget: 0 below the warning share, 1 from it, 2 once
    /// the budget is reached (no budget: 0).
    pub fn alarm(&self) -> u8 {
        let Some(b) = &self.budget else { return 0 };
        if self.usage.cost_usd >= b.usd {
            2
        } else if self.usage.cost_usd >= b.usd * orchestratia_proto::usage::BUDGET_WARN_AT {
            1
        } else {
            0
        }
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
