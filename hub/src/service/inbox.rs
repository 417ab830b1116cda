//! The inbox: everything waiting for a human (submitted plans, pending permission requests,
//! pending questions) in one list, newest first. The console, the Telegram bot and the
//! headless demo read this one operation instead of assembling it each.

use orchestratia_proto::api::Inbox;
use orchestratia_proto::{InterventionStatus, PermissionStatus, PlanStatus};

use super::Hub;
use crate::auth::Principal;
use crate::error::HubResult;

impl Hub {
    /// What waits for a human. Only those who may list plans and permission requests (admins)
    /// may read it; each list keeps its own visibility rules.
    pub async fn inbox(&self, p: &Principal) -> HubResult<Inbox> {
        p.require_admin("reading the inbox")?;
        let plans = self.plans(p, Some(PlanStatus::Submitted)).await?;
        let permissions = self.permissions(p, Some(PermissionStatus::Pending)).await?;
        let questions = self
            .interventions(p, Some(InterventionStatus::Pending))
            .await?;
        Ok(Inbox::of(&plans, &permissions, &questions))
    }
}
