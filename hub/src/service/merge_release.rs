//! What a merge releases: the `blocks` dependencies with `after: merged` on the merged task
//! resolve, and their downstream tasks that are now fully met are released and assigned, as
//! a completion's cascade does for the others.

use orchestratia_proto::time::now_ms;
use uuid::Uuid;

use super::{Effects, Hub};
use crate::engine::cascade::plan_merge;
use crate::error::{HubError, HubResult};
use crate::store::{self, Conn};

impl Hub {
    /// Resolves the `after: merged` dependencies on `upstream` (its branch was just merged)
    /// and releases what they held, in the caller's transaction.
    pub(crate) async fn release_merged(
        &self,
        c: &mut Conn,
        upstream: Uuid,
        out: &mut Effects,
    ) -> HubResult<()> {
        let t = store::tasks::get(c, upstream)
            .await?
            .ok_or_else(|| HubError::NotFound("the merged task vanished".into()))?;
        c.lock_project(t.project_id).await?;
        let downstream = store::deps::downstream_of(c, t.id).await?;
        let plan = plan_merge(t.id, &downstream);
        if plan.resolved.is_empty() {
            return Ok(());
        }
        self.apply_cascade(c, &t, &plan, now_ms(), out).await
    }
}
