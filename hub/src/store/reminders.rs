//! Inbox reminders: which waiting items (plans, permission requests, questions) were
//! announced again after their deadline, so each is announced again once.

use uuid::Uuid;

use super::{Conn, Result};
use crate::params;

/// Marks `item` reminded at `now`; false when it already was (another sweep got there first).
pub async fn mark(c: &mut Conn, item: Uuid, now: i64) -> Result<bool> {
    let n = c
        .execute(
            "INSERT INTO inbox_reminders (item_id, reminded_at) VALUES ($1, $2)
             ON CONFLICT (item_id) DO NOTHING",
            &params![item, now],
        )
        .await?;
    Ok(n == 1)
}

/// Whether `item` was reminded.
pub async fn reminded(c: &mut Conn, item: Uuid) -> Result<bool> {
    Ok(c.fetch_optional(
        "SELECT item_id FROM inbox_reminders WHERE item_id = $1",
        &params![item],
    )
    .await?
    .is_some())
}
