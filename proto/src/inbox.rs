//! The inbox: everything waiting for a human (submitted plans, pending permission requests,
//! pending questions) in one list, newest first, built from the three lists by one pure
//! function, so the hub's `GET /inbox` and a client that already holds the lists agree.

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

/// Everything waiting for a human, newest first (`GET /inbox`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Inbox {
    pub items: Vec<InboxItem>,
}

impl Inbox {
    /// The inbox of these lists: their submitted plans, pending permission requests and
    /// pending questions (other statuses are left out), newest first. Items that arrived in
    /// the same millisecond keep the lists' order: plans, then permissions, then questions,
    /// each as listed. The hub answers `GET /inbox` with it, and a client that already holds
    /// the three lists builds the same inbox without asking.
    pub fn of(
        plans: &[Plan],
        permissions: &[PermissionRequest],
        questions: &[Intervention],
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
        let mut items: Vec<InboxItem> = plans.chain(permissions).chain(questions).collect();
        items.sort_by_key(|i| std::cmp::Reverse(i.created_at()));
        Inbox { items }
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The plans in it, newest first.
    pub fn plans(&self) -> impl Iterator<Item = &Plan> {
        self.items.iter().filter_map(|i| match i {
            InboxItem::Plan(p) => Some(p),
            _ => None,
        })
    }

    /// The permission requests in it, newest first.
    pub fn permissions(&self) -> impl Iterator<Item = &PermissionRequest> {
        self.items.iter().filter_map(|i| match i {
            InboxItem::Permission(p) => Some(p),
            _ => None,
        })
    }

    /// The questions in it, newest first.
    pub fn questions(&self) -> impl Iterator<Item = &Intervention> {
        self.items.iter().filter_map(|i| match i {
            InboxItem::Question(q) => Some(q),
            _ => None,
        })
    }
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
    fn the_inbox_holds_what_waits_newest_first() {
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
                ("permission", 40),
                ("plan", 30),
                ("permission", 30),
                ("question", 20)
            ]
        );
        assert_eq!(inbox.plans().count(), 1);
        assert_eq!(inbox.permissions().count(), 2);
        assert_eq!(inbox.questions().count(), 1);
        assert!(Inbox::of(&[], &perms[2..], &questions[1..]).is_empty());
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
