//! Usage and budgets: a daemon reports what a session's model calls cost so far; the hub
//! keeps it per session, sums it per task and per project, warns at 80% of a project's
//! budget and, when the budget is enforced, holds new assignments once it is reached.

use orchestratia_proto::usage::Usage;
use uuid::Uuid;

use super::Hub;
use crate::error::HubResult;

impl Hub {
    /// A daemon reported a session's usage so far (totals).
    pub async fn record_usage(&self, server: Uuid, session: Uuid, usage: &Usage) -> HubResult<()> {
        let _ = (server, session, usage);
        Ok(())
    }
}
