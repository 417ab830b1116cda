//! Messages submitted to an agent as its next prompt: by an admin (`session send`), or an
//! answer whose asker was gone. Taken when the agent's prompt hook saw the text.

use orchestratia_proto::Session;
use orchestratia_proto::api::AgentMessage;
use uuid::Uuid;

use super::{Conn, Result, Row};
use crate::params;

/// A prompt as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptRecord {
    pub message: AgentMessage,
    pub task_id: Option<Uuid>,
    /// The intervention or plan it delivers, for `answer` / `plan` prompts.
    pub ref_id: Option<Uuid>,
}

impl PromptRecord {
    /// A new, untaken prompt for session `s` (`kind`: `admin`, `answer`, `plan`), for its
    /// task and, for an answer or a plan decision, the intervention or plan it delivers.
    pub fn new(s: &Session, text: String, kind: &str, ref_id: Option<Uuid>, now: i64) -> Self {
        PromptRecord {
            message: AgentMessage {
                id: Uuid::new_v4(),
                session_id: s.id,
                session: s.name.clone(),
                text,
                kind: kind.into(),
                taken: false,
                created_at: now,
            },
            task_id: s.task_id,
            ref_id,
        }
    }
}

fn record(r: &Row) -> Result<PromptRecord> {
    Ok(PromptRecord {
        message: AgentMessage {
            id: r.uuid("id")?,
            session_id: r.uuid("session_id")?,
            session: r.text("session_name")?,
            text: r.text("text")?,
            kind: r.text("kind")?,
            taken: r.opt_int("taken_at")?.is_some(),
            created_at: r.int("created_at")?,
        },
        task_id: r.opt_uuid("task_id")?,
        ref_id: r.opt_uuid("ref_id")?,
    })
}

const SELECT: &str = "SELECT p.id, p.session_id, x.name AS session_name, p.task_id, p.kind,
        p.ref_id, p.text, p.created_at, p.taken_at
    FROM prompts p JOIN sessions x ON x.id = p.session_id";

/// Stores a new prompt (not taken yet).
pub async fn insert(c: &mut Conn, p: &PromptRecord, created_by: &str) -> Result<()> {
    c.execute(
        "INSERT INTO prompts (id, session_id, task_id, kind, ref_id, text, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &params![
            p.message.id,
            p.message.session_id,
            p.task_id,
            &p.message.kind,
            p.ref_id,
            &p.message.text,
            created_by,
            p.message.created_at
        ],
    )
    .await?;
    Ok(())
}

pub async fn get(c: &mut Conn, id: Uuid) -> Result<Option<PromptRecord>> {
    let sql = format!("{SELECT} WHERE p.id = $1");
    c.fetch_optional(&sql, &params![id])
        .await?
        .as_ref()
        .map(record)
        .transpose()
}

/// Prompts of a session the agent has not taken yet, oldest first.
pub async fn untaken(c: &mut Conn, session: Uuid) -> Result<Vec<PromptRecord>> {
    let sql =
        format!("{SELECT} WHERE p.session_id = $1 AND p.taken_at IS NULL ORDER BY p.created_at");
    c.fetch(&sql, &params![session])
        .await?
        .iter()
        .map(record)
        .collect()
}

/// The prompt that delivers `ref_id` (an answer, a plan decision), if one was made.
pub async fn for_ref(c: &mut Conn, ref_id: Uuid) -> Result<Option<PromptRecord>> {
    let sql = format!("{SELECT} WHERE p.ref_id = $1");
    c.fetch_optional(&sql, &params![ref_id])
        .await?
        .as_ref()
        .map(record)
        .transpose()
}

/// A prompt sent again: its time is now.
pub async fn touch(c: &mut Conn, id: Uuid, now: i64) -> Result<()> {
    c.execute(
        "UPDATE prompts SET created_at = $2 WHERE id = $1",
        &params![id, now],
    )
    .await?;
    Ok(())
}

/// The agent took a prompt; false when it had already.
pub async fn set_taken(c: &mut Conn, id: Uuid, now: i64) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE prompts SET taken_at = $2 WHERE id = $1 AND taken_at IS NULL",
            &params![id, now],
        )
        .await?;
    Ok(n == 1)
}
