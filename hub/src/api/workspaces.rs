//! Tasks' workspaces: the diff, a fresh report, merge/keep/discard, review comments, and the
//! list and prune of every worktree.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use orchestratia_proto::api::ErrorBody;
use orchestratia_proto::workspace::{
    DiffQuery, MergeWorkspace, Merged, PruneItem, PruneWorkspaces, ReviewComment, StoredComment,
    Workspace, WorkspaceDiff, WorkspaceFilter,
};

use super::extract::{ApiJson, ApiQuery, Auth};
use crate::error::HubError;
use crate::service::Hub;

type Answer<T> = Result<Json<T>, HubError>;

/// A task's diff against its base, from the server holding its worktree (admins, its own
/// session, or an orchestrator session of its project).
#[utoipa::path(get, path = "/tasks/{id}/diff", tag = "workspaces",
    params(("id" = String, Path, description = "UUID, unique prefix, or T7"), DiffQuery),
    responses((status = 200, body = WorkspaceDiff), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn diff(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> Answer<WorkspaceDiff> {
    Ok(Json(hub.task_diff(&p, &id, &q).await?))
}

/// Asks the server holding a task's worktree to report it now.
#[utoipa::path(post, path = "/tasks/{id}/workspace/report", tag = "workspaces", params(("id" = String, Path)),
    responses((status = 200, body = Workspace), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn refresh(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Answer<Workspace> {
    Ok(Json(hub.refresh_workspace(&p, &id).await?))
}

/// Merges a closed task's branch into its base (or `into`); a conflict changes nothing.
#[utoipa::path(post, path = "/tasks/{id}/merge", tag = "workspaces", request_body = MergeWorkspace, params(("id" = String, Path)),
    responses((status = 200, body = Merged), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn merge(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MergeWorkspace>,
) -> Answer<Merged> {
    Ok(Json(hub.merge_workspace(&p, &id, &b).await?))
}

/// Keeps a closed task's branch for later.
#[utoipa::path(post, path = "/tasks/{id}/keep", tag = "workspaces", params(("id" = String, Path)),
    responses((status = 200, body = Workspace), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn keep(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Answer<Workspace> {
    Ok(Json(hub.keep_workspace(&p, &id).await?))
}

/// Throws a closed task's worktree and branch away.
#[utoipa::path(post, path = "/tasks/{id}/discard", tag = "workspaces", params(("id" = String, Path)),
    responses((status = 200, body = Workspace), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn discard(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Answer<Workspace> {
    Ok(Json(hub.discard_workspace(&p, &id).await?))
}

/// Comments on a line of a task's diff; delivered to its agent while the task runs.
#[utoipa::path(post, path = "/tasks/{id}/review", tag = "workspaces", request_body = ReviewComment, params(("id" = String, Path)),
    responses((status = 201, body = StoredComment), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn review(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReviewComment>,
) -> Result<(StatusCode, Json<StoredComment>), HubError> {
    Ok((
        StatusCode::CREATED,
        Json(hub.review_comment(&p, &id, &b).await?),
    ))
}

/// Every workspace the hub knows of (not removed ones unless `all`).
#[utoipa::path(get, path = "/workspaces", tag = "workspaces", params(WorkspaceFilter),
    responses((status = 200, body = Vec<Workspace>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiQuery(f): ApiQuery<WorkspaceFilter>,
) -> Answer<Vec<Workspace>> {
    Ok(Json(hub.workspaces(&p, &f).await?))
}

/// Removes worktrees whose work is merged or discarded (never one holding work found
/// nowhere else); offline servers keep theirs.
#[utoipa::path(post, path = "/workspaces/prune", tag = "workspaces", request_body = PruneWorkspaces,
    responses((status = 200, body = Vec<PruneItem>), (status = 404, body = ErrorBody)))]
pub async fn prune(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<PruneWorkspaces>,
) -> Answer<Vec<PruneItem>> {
    Ok(Json(hub.prune_workspaces(&p, &b).await?))
}
