//! Usage and budgets: a daemon reports what a session's model calls cost so far; the hub
//! keeps it per session, sums it per task and per project, warns at 80% of a project's
//! budget and, when the budget is enforced, holds new assignments once it is reached.

use orchestratia_proto::api::SetBudget;
use orchestratia_proto::time::now_ms;
use orchestratia_proto::usage::{BUDGET_WARN_AT, Budget, Usage};
use orchestratia_proto::{EventKind, Project};
use serde_json::json;
use uuid::Uuid;

use super::{Effects, Hub};
use crate::auth::Principal;
use crate::bad;
use crate::error::{HubError, HubResult};
use crate::store::events::NewEvent;
use crate::store::projects::{micros_to_usd, usd_to_micros};
use crate::store::{self, Conn};

/// The largest budget accepted, in US dollars.
const MAX_BUDGET_USD: f64 = 1e9;

/// How far a budget's announcement went, in order.
fn budget_rank(state: &str) -> u8 {
    match state {
        "warned" => 1,
        "reached" => 2,
        _ => 0,
    }
}

/// A budget as asked for, checked: more than zero, finite, not absurd.
pub(crate) fn checked_budget(usd: Option<f64>, enforce: bool) -> HubResult<Option<Budget>> {
    match usd {
        None => Ok(None),
        Some(v) if v.is_finite() && v > 0.0 && v <= MAX_BUDGET_USD => {
            Ok(Some(Budget { usd: v, enforce }))
        }
        Some(_) => Err(bad!(
            "budget_usd must be a number of US dollars more than 0 and at most 1000000000 (or null to clear the budget)"
        )),
    }
}

/// Why a project's new tasks wait: its enforced budget is spent.
pub(crate) fn held_reason(b: &Budget) -> String {
    format!("project budget of ${:.2} reached", b.usd)
}

impl Hub {
    /// A daemon reported a session's usage so far (totals).
    pub async fn record_usage(&self, server: Uuid, session: Uuid, usage: &Usage) -> HubResult<()> {
        let mut tx = self.store.write().await?;
        let s = self.own_session(&mut tx, server, session).await?;
        let project = match self.project_of(&mut tx, &s).await? {
            Some(p) => p,
            None => store::servers::get(&mut tx, server)
                .await?
                .map(|sv| sv.project_id)
                .ok_or_else(|| HubError::NotFound(format!("server {server} not found")))?,
        };
        store::usage::upsert(&mut tx, s.id, s.task_id, project, usage, now_ms()).await?;
        let mut out = Effects::default();
        self.check_budget(&mut tx, project, &mut out).await?;
        self.commit(tx, out).await
    }

    /// Moves a project's budget announcement forward to where its spending is (a
    /// `budget_warning` at 80%, `budget_reached` at 100%, each once); returns the budget when
    /// it is enforced and reached (new assignments are held).
    pub(crate) async fn check_budget(
        &self,
        c: &mut Conn,
        project: Uuid,
        out: &mut Effects,
    ) -> HubResult<Option<Budget>> {
        let Some(budget) = store::projects::get(c, project)
            .await?
            .and_then(|p| p.budget)
        else {
            return Ok(None);
        };
        let cost = store::usage::project_cost_micros(c, project).await?;
        let limit = usd_to_micros(budget.usd);
        let target = if cost >= limit {
            "reached"
        } else if cost as f64 >= limit as f64 * BUDGET_WARN_AT {
            "warned"
        } else {
            ""
        };
        let state = store::projects::budget_state(c, project).await?;
        let mut now = state.clone();
        if budget_rank(target) > budget_rank(&state)
            && store::projects::move_budget_state(c, project, &state, target).await?
        {
            now = target.to_string();
            let kind = if target == "reached" {
                EventKind::BudgetReached
            } else {
                EventKind::BudgetWarning
            };
            out.event(NewEvent {
                kind,
                actor: "hub".into(),
                project_id: Some(project),
                task_id: None,
                related_task_id: None,
                server_id: None,
                session_id: None,
                details: json!({"cost_usd": micros_to_usd(cost), "budget_usd": budget.usd,
                                "enforce": budget.enforce}),
            });
        }
        Ok((budget.enforce && now == "reached").then_some(budget))
    }

    /// The enforced budget holding a project's new assignments, if its spending reached it.
    pub(crate) async fn budget_hold(
        &self,
        c: &mut Conn,
        project: Uuid,
    ) -> HubResult<Option<Budget>> {
        let Some(budget) = store::projects::get(c, project)
            .await?
            .and_then(|p| p.budget)
            .filter(|b| b.enforce)
        else {
            return Ok(None);
        };
        let state = store::projects::budget_state(c, project).await?;
        Ok((state == "reached").then_some(budget))
    }

    /// Sets or clears a project's budget (admin). Its announcement starts over from the
    /// spending so far; tasks held by the old budget are assigned when the new one allows.
    pub async fn set_budget(
        &self,
        p: &Principal,
        key: &str,
        body: &SetBudget,
    ) -> HubResult<Project> {
        p.require_admin("setting a project's budget")?;
        let budget = checked_budget(body.budget_usd, body.enforce)?;
        let mut tx = self.store.write().await?;
        let project = self.resolve_project(&mut tx, p, key).await?;
        tx.lock_project(project.id).await?;
        store::projects::set_budget(&mut tx, project.id, budget.as_ref()).await?;
        let mut out = Effects::default();
        let held = self.check_budget(&mut tx, project.id, &mut out).await?;
        self.commit(tx, out).await?;
        if held.is_none() {
            self.assign_waiting(project.id).await?;
        }
        self.project_by_key(p, &project.id.to_string()).await
    }

    /// Fills in each project's usage so far.
    pub(crate) async fn with_usage(&self, c: &mut Conn, projects: &mut [Project]) -> HubResult<()> {
        let one = match projects {
            [p] => Some(p.id),
            _ => None,
        };
        let mut sums = store::usage::of_projects(c, one).await?;
        for p in projects {
            p.usage = sums.remove(&p.id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_must_be_positive_finite_and_sane() {
        for bad in [0.0, -0.01, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e10] {
            let err = checked_budget(Some(bad), true).expect_err("refused");
            assert!(err.to_string().contains("budget_usd"), "{bad}: {err}");
        }
        assert_eq!(checked_budget(None, true).expect("clear"), None);
        let b = checked_budget(Some(12.5), false).expect("ok").expect("set");
        assert_eq!((b.usd, b.enforce), (12.5, false));
        assert_eq!(held_reason(&b), "project budget of $12.50 reached");
        assert!(budget_rank("reached") > budget_rank("warned"));
        assert!(budget_rank("warned") > budget_rank(""));
    }
}
