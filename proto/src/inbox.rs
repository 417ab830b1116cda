//! The inbox: everything waiting for a human (submitted plans, pending permission requests,
//! pending questions) in one list ranked by the work each holds up downstream, then by age,
//! built from the three lists and the task graph by pure functions, so the hub's `GET /inbox`
//! and a client that already holds the lists agree.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{
    Intervention, InterventionStatus, PermissionRequest, PermissionStatus, Plan, PlanStatus,
};

/// One thing waiting for a human: a submitted plan, a pending permission request or a
/// pending question. In JSON, the record's fields with `kind` beside them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboxItem {
    Plan(Plan),
    Permission(PermissionRequest),
    Question(Intervention),
}

impl InboxItem {
    /// When it arrived (the inbox lists newest first).
    pub fn created_at(&self) -> i64 {
        match self {
            InboxItem::Plan(p) => p.created_at,
            InboxItem::Permission(p) => p.created_at,
            InboxItem::Question(q) => q.created_at,
        }
    }

    /// The task it is about (a permission request may have none).
    pub fn task_id(&self) -> Option<Uuid> {
        match self {
            InboxItem::Plan(p) => Some(p.task_id),
            InboxItem::Permission(p) => p.task_id,
            InboxItem::Question(q) => Some(q.task_id),
        }
    }
}

impl Plan {
    /// Whether it waits for a human: submitted, not yet decided. The one rule the inbox and
    /// every client that counts what waits apply.
    pub fn waits(&self) -> bool {
        self.status == PlanStatus::Submitted
    }
}

impl PermissionRequest {
    /// Whether it waits for a human: pending, not yet allowed or denied.
    pub fn waits(&self) -> bool {
        self.status == PermissionStatus::Pending
    }
}

impl Intervention {
    /// Whether it waits for a human: pending, not yet answered.
    pub fn waits(&self) -> bool {
        self.status == InterventionStatus::Pending
    }
}

/// One inbox item with its rank: how many tasks wait on it downstream, and why it stands
/// where it does. In JSON, the item's fields with `blocks` and `why` beside them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InboxEntry {
    #[serde(flatten)]
    pub item: InboxItem,
    /// Open tasks downstream of the asking task, transitively (the work this decision holds up).
    #[serde(default)]
    pub blocks: usize,
    /// Why it ranks where it does, in a few words.
    #[serde(default)]
    pub why: String,
}

/// Everything waiting for a human, ranked: what holds up the most work downstream first, then
/// the oldest (`GET /inbox`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Inbox {
    pub items: Vec<InboxEntry>,
}

impl Inbox {
    /// The inbox of these lists with no graph to rank by: their submitted plans, pending
    /// permission requests and pending questions (other statuses are left out), oldest first.
    pub fn of(
        plans: &[Plan],
        permissions: &[PermissionRequest],
        questions: &[Intervention],
    ) -> Inbox {
        Inbox::ranked(plans, permissions, questions, &HashMap::new())
    }

    /// The inbox ranked by `blocks` (task id → open tasks downstream of it; see
    /// [`downstream_counts`]): most blocked work first, then oldest first. Items of equal rank
    /// and age keep the lists' order: plans, then permissions, then questions, each as listed.
    /// The hub answers `GET /inbox` with it, and a client that holds the lists and the graph
    /// builds the same inbox without asking.
    pub fn ranked(
        plans: &[Plan],
        permissions: &[PermissionRequest],
        questions: &[Intervention],
        blocks: &HashMap<Uuid, usize>,
    ) -> Inbox {
        let plans = plans
            .iter()
            .filter(|p| p.waits())
            .cloned()
            .map(InboxItem::Plan);
        let permissions = permissions
            .iter()
            .filter(|p| p.waits())
            .cloned()
            .map(InboxItem::Permission);
        let questions = questions
            .iter()
            .filter(|q| q.waits())
            .cloned()
            .map(InboxItem::Question);
        let mut items: Vec<InboxEntry> = plans
            .chain(permissions)
            .chain(questions)
            .map(|item| {
                let n = item
                    .task_id()
                    .and_then(|t| blocks.get(&t).copied())
                    .unwrap_or(0);
                let why = match n {
                    0 => "holds up no other task".to_string(),
                    1 => "holds up 1 task downstream".to_string(),
                    n => format!("holds up {n} tasks downstream"),
                };
                InboxEntry {
                    item,
                    blocks: n,
                    why,
                }
            })
            .collect();
        items.sort_by_key(|e| (std::cmp::Reverse(e.blocks), e.item.created_at()));
        Inbox { items }
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The plans in it, in rank order.
    pub fn plans(&self) -> impl Iterator<Item = &Plan> {
        self.items.iter().filter_map(|i| match &i.item {
            InboxItem::Plan(p) => Some(p),
            _ => None,
        })
    }

    /// The permission requests in it, in rank order.
    pub fn permissions(&self) -> impl Iterator<Item = &PermissionRequest> {
        self.items.iter().filter_map(|i| match &i.item {
            InboxItem::Permission(p) => Some(p),
            _ => None,
        })
    }

    /// The questions in it, in rank order.
    pub fn questions(&self) -> impl Iterator<Item = &Intervention> {
        self.items.iter().filter_map(|i| match &i.item {
            InboxItem::Question(q) => Some(q),
            _ => None,
        })
    }
}

/// For each task of `of`: how many distinct tasks lie downstream of it, transitively, over
/// `edges` (upstream, downstream) and counting only those for which `open` holds (closed
/// tasks wait for nothing). The inbox ranks by it.
pub fn downstream_counts(
    edges: &[(Uuid, Uuid)],
    of: &[Uuid],
    open: &dyn Fn(Uuid) -> bool,
) -> HashMap<Uuid, usize> {
    let mut next: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (up, down) in edges {
        next.entry(*up).or_default().push(*down);
    }
    let mut counts = HashMap::new();
    for start in of {
        if counts.contains_key(start) {
            continue;
        }
        let mut seen: HashSet<Uuid> = HashSet::new();
        let mut stack = vec![*start];
        while let Some(t) = stack.pop() {
            for d in next.get(&t).into_iter().flatten() {
                if *d != *start && seen.insert(*d) {
                    stack.push(*d);
                }
            }
        }
        counts.insert(*start, seen.into_iter().filter(|t| open(*t)).count());
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(at: i64, status: PlanStatus) -> Plan {
        Plan {
            id: Uuid::new_v4(),
            task_id: Uuid::new_v4(),
            task_reference: "T1".into(),
            task_title: "migrate".into(),
            content: "1. dump".into(),
            status,
            feedback: None,
            decided_by: None,
            created_at: at,
            decided_at: None,
            delivered_at: None,
            delivered_via: None,
        }
    }

    fn permission(at: i64, status: PermissionStatus) -> PermissionRequest {
        PermissionRequest {
            id: Uuid::new_v4(),
            task_id: None,
            task_reference: None,
            session_id: None,
            tool_name: "Bash".into(),
            tool_input: serde_json::json!({"command": "ls"}),
            status,
            reason: None,
            decided_by: None,
            created_at: at,
            decided_at: None,
            rule_id: None,
            suggested: Vec::new(),
        }
    }

    fn question(at: i64, status: InterventionStatus) -> Intervention {
        Intervention {
            id: Uuid::new_v4(),
            task_id: Uuid::new_v4(),
            task_reference: "T2".into(),
            task_title: "auth".into(),
            question: "JWT?".into(),
            status,
            response: None,
            answered_by: None,
            created_at: at,
            answered_at: None,
            delivered_at: None,
            delivered_via: None,
        }
    }

    #[test]
    fn the_inbox_holds_what_waits_oldest_first() {
        let plans = [
            plan(30, PlanStatus::Submitted),
            plan(50, PlanStatus::Approved),
        ];
        let perms = [
            permission(40, PermissionStatus::Pending),
            permission(30, PermissionStatus::Pending),
            permission(60, PermissionStatus::Allowed),
        ];
        let questions = [
            question(20, InterventionStatus::Pending),
            question(70, InterventionStatus::Answered),
        ];
        let inbox = Inbox::of(&plans, &perms, &questions);
        let order: Vec<(&str, i64)> = inbox
            .items
            .iter()
            .map(|e| &e.item)
            .map(|i| {
                let kind = match i {
                    InboxItem::Plan(_) => "plan",
                    InboxItem::Permission(_) => "permission",
                    InboxItem::Question(_) => "question",
                };
                (kind, i.created_at())
            })
            .collect();
        assert_eq!(
            order,
            vec![
                ("question", 20),
                ("plan", 30),
                ("permission", 30),
                ("permission", 40),
            ]
        );
        assert_eq!(inbox.plans().count(), 1);
        assert_eq!(inbox.permissions().count(), 2);
        assert_eq!(inbox.questions().count(), 1);
        assert!(Inbox::of(&[], &perms[2..], &questions[1..]).is_empty());
    }

    #[test]
    fn what_holds_up_more_work_comes_first() {
        let ids: Vec<Uuid> = (0..8).map(|_| Uuid::new_v4()).collect();
        // T0 → T1 → {T2, T3}; T3 → T4; T0 → T5 (closed); T6 alone; T7 → T6.
        let edges = [
            (ids[0], ids[1]),
            (ids[1], ids[2]),
            (ids[1], ids[3]),
            (ids[3], ids[4]),
            (ids[0], ids[5]),
            (ids[7], ids[6]),
        ];
        let open = |t: Uuid| t != ids[5];
        let counts = downstream_counts(&edges, &[ids[0], ids[3], ids[6]], &open);
        assert_eq!(counts[&ids[0]], 4);
        assert_eq!(counts[&ids[3]], 1);
        assert_eq!(counts[&ids[6]], 0);
        let mut early = permission(10, PermissionStatus::Pending);
        early.task_id = Some(ids[6]);
        let mut late = permission(90, PermissionStatus::Pending);
        late.task_id = Some(ids[0]);
        let inbox = Inbox::ranked(&[], &[early.clone(), late.clone()], &[], &counts);
        assert_eq!(inbox.items[0].item, InboxItem::Permission(late));
        assert_eq!(inbox.items[0].blocks, 4);
        assert_eq!(inbox.items[0].why, "holds up 4 tasks downstream");
        assert_eq!(inbox.items[1].item, InboxItem::Permission(early));
        let v = serde_json::to_value(&inbox.items[0]).expect("json");
        assert_eq!(v["kind"], "permission");
        assert_eq!(v["blocks"], 4);
        let back: InboxEntry = serde_json::from_value(v).expect("parse");
        assert_eq!(back, inbox.items[0]);
    }

    #[test]
    fn an_inbox_item_is_its_record_with_a_kind() {
        let q = question(20, InterventionStatus::Pending);
        let v = serde_json::to_value(InboxItem::Question(q.clone())).expect("json");
        assert_eq!(v["kind"], "question");
        assert_eq!(v["question"], "JWT?");
        assert_eq!(v["task_ref"], "T2");
        let back: InboxItem = serde_json::from_value(v).expect("parse");
        assert_eq!(back, InboxItem::Question(q));
    }
}
