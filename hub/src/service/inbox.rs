//! The inbox: everything waiting for a human (submitted plans, pending permission requests,
//! pending questions) in one list, ranked by how much work waits on each (the open tasks
//! downstream of the asking task, transitively), then by age. The console, the Telegram bot,
//! the CLI and the headless demo read this one operation instead of assembling it each.

use std::collections::{HashMap, HashSet};

use orchestratia_proto::api::{Inbox, downstream_counts};
use orchestratia_proto::{InterventionStatus, PermissionStatus, PlanStatus};
use uuid::Uuid;

use super::Hub;
use crate::auth::Principal;
use crate::error::HubResult;
use crate::store;

impl Hub {
    /// What waits for a human, ranked. Only those who may list plans and permission requests
    /// (admins) may read it; each list keeps its own visibility rules.
    pub async fn inbox(&self, p: &Principal) -> HubResult<Inbox> {
        p.require_admin("reading the inbox")?;
        let plans = self.plans(p, Some(PlanStatus::Submitted)).await?;
        let permissions = self.permissions(p, Some(PermissionStatus::Pending)).await?;
        let questions = self
            .interventions(p, Some(InterventionStatus::Pending))
            .await?;
        let asking: Vec<Uuid> = plans
            .iter()
            .map(|x| x.task_id)
            .chain(permissions.iter().filter_map(|x| x.task_id))
            .chain(questions.iter().map(|x| x.task_id))
            .collect();
        let blocks = self.blocked_by(&asking).await?;
        Ok(Inbox::ranked(&plans, &permissions, &questions, &blocks))
    }

    /// Records that inbox item `id` was reminded to the admin; false when it already was, so
    /// a restart or a second sweep sends no second reminder.
    pub async fn mark_reminded(&self, id: Uuid, now: i64) -> HubResult<bool> {
        let mut tx = self.store.write().await?;
        let first = store::reminders::mark(&mut tx, id, now).await?;
        if first {
            tx.commit().await?;
        }
        Ok(first)
    }

    /// For each of `tasks`: how many open tasks wait downstream of it, transitively.
    async fn blocked_by(&self, tasks: &[Uuid]) -> HubResult<HashMap<Uuid, usize>> {
        if tasks.is_empty() {
            return Ok(HashMap::new());
        }
        let mut c = self.read().await?;
        let records = store::tasks::many(&mut c, tasks).await?;
        let projects: HashSet<Uuid> = records.iter().map(|t| t.project_id).collect();
        let mut edges = Vec::new();
        for project in projects {
            edges.extend(
                store::deps::edges_of_project(&mut c, project)
                    .await?
                    .into_iter()
                    .map(|e| (e.upstream, e.downstream)),
            );
        }
        let nodes: Vec<Uuid> = edges
            .iter()
            .map(|e| e.1)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let open: HashSet<Uuid> = store::tasks::many(&mut c, &nodes)
            .await?
            .into_iter()
            .filter(|t| !t.status.is_terminal())
            .map(|t| t.id)
            .collect();
        Ok(downstream_counts(&edges, tasks, &|t| open.contains(&t)))
    }
}
