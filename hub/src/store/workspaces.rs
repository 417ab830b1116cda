//! Workspaces and review comments: the last report of each task's git worktree (as JSON),
//! the server that holds it, its review (merged, kept, discarded), and the comments an admin
//! wrote on its diff with when they reached the agent.

use orchestratia_proto::model::task_ref;
use orchestratia_proto::workspace::{
    ReviewComment, ReviewState, StoredComment, Workspace, WorkspaceReport,
};
use uuid::Uuid;

use super::{BATCH, Conn, Param, Result, Row, StoreError, placeholders};
use crate::params;

/// A workspace as stored, with its task's reference and its server's name.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceRow {
    pub task_id: Uuid,
    pub project_id: Uuid,
    pub server_id: Uuid,
    pub server: String,
    pub reference: String,
    pub report: WorkspaceReport,
    pub review: ReviewState,
    pub merged_into: Option<String>,
    pub merge_commit: Option<String>,
    /// The branch's head when it was merged (what proves a squash-merged branch is in).
    pub merged_head: Option<String>,
    pub reported_at: i64,
}

impl WorkspaceRow {
    /// The API's view of it.
    pub fn to_workspace(&self) -> Workspace {
        Workspace {
            report: self.report.clone(),
            reference: self.reference.clone(),
            server_id: self.server_id,
            server: self.server.clone(),
            review: self.review,
            merged_into: self.merged_into.clone(),
            merge_commit: self.merge_commit.clone(),
            reported_at: self.reported_at,
        }
    }
}

fn row(r: &Row) -> Result<WorkspaceRow> {
    let mut report: WorkspaceReport = serde_json::from_str(&r.text("report")?)
        .map_err(|e| StoreError::Corrupt(format!("workspace report: {e}")))?;
    report.removed = r.flag("removed")?;
    Ok(WorkspaceRow {
        task_id: r.uuid("task_id")?,
        project_id: r.uuid("project_id")?,
        server_id: r.uuid("server_id")?,
        server: r.text("server_name")?,
        reference: task_ref(r.int("number")?),
        report,
        review: r.word::<ReviewState>("review")?,
        merged_into: r.opt_text("merged_into")?,
        merge_commit: r.opt_text("merge_commit")?,
        merged_head: r.opt_text("merged_head")?,
        reported_at: r.int("reported_at")?,
    })
}

const SELECT: &str = "SELECT w.task_id, w.project_id, w.server_id, s.name AS server_name,
        t.number, w.report, w.review, w.merged_into, w.merge_commit, w.merged_head, w.removed,
        w.reported_at
    FROM workspaces w JOIN tasks t ON t.id = w.task_id JOIN servers s ON s.id = w.server_id";

fn report_json(r: &WorkspaceReport) -> Result<String> {
    serde_json::to_string(r).map_err(|e| StoreError::Corrupt(format!("workspace report: {e}")))
}

/// A task's workspace, if one was ever reported.
pub async fn get(c: &mut Conn, task_id: Uuid) -> Result<Option<WorkspaceRow>> {
    let sql = format!("{SELECT} WHERE w.task_id = $1");
    c.fetch_optional(&sql, &params![task_id])
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

/// Workspaces, newest report first: of one project and/or one server, removed ones only
/// when `all`.
pub async fn list(
    c: &mut Conn,
    project: Option<Uuid>,
    server: Option<Uuid>,
    all: bool,
) -> Result<Vec<WorkspaceRow>> {
    let sql = format!(
        "{SELECT} WHERE ($1 IS NULL OR w.project_id = $1) AND ($2 IS NULL OR w.server_id = $2)
           AND ($3 = 1 OR w.removed = 0)
         ORDER BY w.reported_at DESC"
    );
    c.fetch(&sql, &params![project, server, i64::from(all)])
        .await?
        .iter()
        .map(row)
        .collect()
}

/// Stores a report: a new row (`true`), or the newest state of an existing one. A report of
/// a worktree that exists for a row whose worktree was removed (a retried task's new one)
/// starts its review afresh.
pub async fn upsert_report(
    c: &mut Conn,
    project_id: Uuid,
    server_id: Uuid,
    report: &WorkspaceReport,
    now: i64,
) -> Result<bool> {
    let json = report_json(report)?;
    let updated = c
        .execute(
            "UPDATE workspaces SET server_id = $2, report = $3, removed = $4, reported_at = $5,
                 review = CASE WHEN removed = 1 AND $4 = 0 THEN 'unreviewed' ELSE review END,
                 merged_into = CASE WHEN removed = 1 AND $4 = 0 THEN NULL ELSE merged_into END,
                 merge_commit = CASE WHEN removed = 1 AND $4 = 0 THEN NULL ELSE merge_commit END,
                 merged_head = CASE WHEN removed = 1 AND $4 = 0 THEN NULL ELSE merged_head END
             WHERE task_id = $1",
            &params![report.task_id, server_id, &json, report.removed, now],
        )
        .await?;
    if updated == 1 {
        return Ok(false);
    }
    c.execute(
        "INSERT INTO workspaces (task_id, project_id, server_id, report, removed, reported_at,
                                 created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
        &params![
            report.task_id,
            project_id,
            server_id,
            &json,
            report.removed,
            now
        ],
    )
    .await?;
    Ok(true)
}

/// What a merge left behind, as a workspace's row records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeRecord<'a> {
    /// The branch the work went into.
    pub into: &'a str,
    /// The commit the merge made (or found there already).
    pub commit: &'a str,
    /// The task branch's head at the time (what proves a squash-merged branch is in).
    pub head: &'a str,
}

/// Sets the review state; for a merge also where it went, the commit it made and the
/// branch's head at the time.
pub async fn set_review(
    c: &mut Conn,
    task_id: Uuid,
    review: ReviewState,
    merged: Option<MergeRecord<'_>>,
) -> Result<()> {
    let into = merged.map(|m| m.into);
    let commit = merged.map(|m| m.commit);
    let head = merged.map(|m| m.head);
    c.execute(
        "UPDATE workspaces SET review = $2, merged_into = COALESCE($3, merged_into),
             merge_commit = COALESCE($4, merge_commit), merged_head = COALESCE($5, merged_head)
         WHERE task_id = $1",
        &params![task_id, review.as_str(), into, commit, head],
    )
    .await?;
    Ok(())
}

/// Marks a workspace's worktree removed from disk.
pub async fn set_removed(c: &mut Conn, task_id: Uuid) -> Result<()> {
    c.execute(
        "UPDATE workspaces SET removed = 1 WHERE task_id = $1",
        &params![task_id],
    )
    .await?;
    Ok(())
}

fn comment(r: &Row) -> Result<StoredComment> {
    Ok(StoredComment {
        id: r.uuid("id")?,
        task_id: r.uuid("task_id")?,
        file: r.text("file")?,
        line: u64::try_from(r.int("line")?).unwrap_or(0),
        text: r.text("text")?,
        author: r.text("author")?,
        created_at: r.int("created_at")?,
        delivered_at: r.opt_int("delivered_at")?,
    })
}

const SELECT_COMMENT: &str =
    "SELECT id, task_id, file, line, text, author, created_at, delivered_at FROM review_comments";

/// Stores a review comment (not delivered yet).
pub async fn add_comment(
    c: &mut Conn,
    task_id: Uuid,
    body: &ReviewComment,
    author: &str,
    now: i64,
) -> Result<StoredComment> {
    let id = Uuid::new_v4();
    let line = i64::try_from(body.line).unwrap_or(i64::MAX);
    c.execute(
        "INSERT INTO review_comments (id, task_id, file, line, text, author, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &params![id, task_id, &body.file, line, &body.text, author, now],
    )
    .await?;
    Ok(StoredComment {
        id,
        task_id,
        file: body.file.clone(),
        line: body.line,
        text: body.text.clone(),
        author: author.to_string(),
        created_at: now,
        delivered_at: None,
    })
}

/// A task's review comments, oldest first.
pub async fn comments(c: &mut Conn, task_id: Uuid) -> Result<Vec<StoredComment>> {
    let sql = format!("{SELECT_COMMENT} WHERE task_id = $1 ORDER BY created_at, id");
    c.fetch(&sql, &params![task_id])
        .await?
        .iter()
        .map(comment)
        .collect()
}

/// The undelivered comments of any of `tasks`, oldest first: one statement per batch, so a
/// cascade wave asks once whatever its size.
pub async fn undelivered_of(c: &mut Conn, tasks: &[Uuid]) -> Result<Vec<StoredComment>> {
    let mut out = Vec::new();
    for chunk in tasks.chunks(BATCH) {
        let sql = format!(
            "{SELECT_COMMENT} WHERE task_id IN ({}) AND delivered_at IS NULL
             ORDER BY created_at, id",
            placeholders(1, chunk.len())
        );
        let args: Vec<Param> = chunk.iter().map(|id| Param::from(*id)).collect();
        for r in c.fetch(&sql, &args).await? {
            out.push(comment(&r)?);
        }
    }
    Ok(out)
}

/// Marks comments delivered.
pub async fn mark_delivered(c: &mut Conn, ids: &[Uuid], now: i64) -> Result<()> {
    for id in ids {
        c.execute(
            "UPDATE review_comments SET delivered_at = $2 WHERE id = $1 AND delivered_at IS NULL",
            &params![*id, now],
        )
        .await?;
    }
    Ok(())
}

/// Open tasks with review comments that have not reached their agent yet.
pub async fn open_tasks_with_undelivered(c: &mut Conn) -> Result<Vec<Uuid>> {
    c.fetch(
        "SELECT DISTINCT r.task_id FROM review_comments r JOIN tasks t ON t.id = r.task_id
         WHERE r.delivered_at IS NULL AND t.status NOT IN ('done', 'failed', 'cancelled')",
        &params![],
    )
    .await?
    .iter()
    .map(|r| r.uuid("task_id"))
    .collect()
}
