//! Resolving what a person types to name a waiting item (a question, a permission request, a
//! token): its id, a task with exactly one such item pending, or a unique start of its id.

use orchestratia_proto::taskref::TaskRef;
use uuid::Uuid;

use super::Hub;
use crate::auth::Principal;
use crate::error::{HubError, HubResult};
use crate::store::{self, Conn};

/// Fewest characters of an id that may name an item by its start.
const MIN_ID_PREFIX: usize = 4;

/// The one item of `items`; `none()` when there is none, `many(n)` when there are several.
pub(super) fn exactly_one<T>(
    mut items: Vec<T>,
    none: impl FnOnce() -> HubError,
    many: impl FnOnce(usize) -> HubError,
) -> HubResult<T> {
    match items.len() {
        0 => Err(none()),
        1 => Ok(items.remove(0)),
        n => Err(many(n)),
    }
}

/// The items whose id (as `id` reads it) starts with `key` (any case; at least four
/// characters, else none).
pub(super) fn with_id_prefix<T>(items: Vec<T>, key: &str, id: impl Fn(&T) -> Uuid) -> Vec<T> {
    let lower = key.to_ascii_lowercase();
    items
        .into_iter()
        .filter(|x| lower.len() >= MIN_ID_PREFIX && id(x).to_string().starts_with(&lower))
        .collect()
}

impl Hub {
    /// The task a number names, for keys that name an item by its task. A bare number may
    /// also be the start of an item's id (eight hex digits can all be decimal digits), so when
    /// no such task exists it is `None` and the caller matches ids; only `T7` is surely a task.
    pub(super) async fn task_or_id_prefix(
        &self,
        c: &mut Conn,
        p: &Principal,
        key: &str,
        r: &TaskRef,
    ) -> HubResult<Option<store::tasks::TaskRecord>> {
        match self.resolve_task(c, p, &r.to_string(), None).await {
            Ok(t) => Ok(Some(t)),
            Err(HubError::NotFound(_)) if !key.starts_with(['T', 't']) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
