//! Projects and their graph.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use orchestratia_proto::Project;
use orchestratia_proto::api::{CreateProject, ErrorBody, Graph, SetBudget};

use super::extract::{ApiJson, Auth};
use crate::error::HubError;
use crate::service::Hub;

/// Creates a project.
#[utoipa::path(post, path = "/projects", tag = "projects", request_body = CreateProject,
    responses((status = 201, body = Project), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<CreateProject>,
) -> Result<(StatusCode, Json<Project>), HubError> {
    Ok((
        StatusCode::CREATED,
        Json(hub.create_project_with(&p, &b).await?),
    ))
}

/// Lists projects.
#[utoipa::path(get, path = "/projects", tag = "projects", responses((status = 200, body = Vec<Project>)))]
pub async fn list(State(hub): State<Hub>, Auth(p): Auth) -> Result<Json<Vec<Project>>, HubError> {
    Ok(Json(hub.projects(&p).await?))
}

/// A project by id or name.
#[utoipa::path(get, path = "/projects/{id}", tag = "projects", params(("id" = String, Path, description = "project id or name")),
    responses((status = 200, body = Project), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<Project>, HubError> {
    Ok(Json(hub.project_by_key(&p, &id).await?))
}

/// Sets or clears a project's budget (`budget_usd: null` clears it); tasks it held are
/// assigned when the new budget allows.
#[utoipa::path(post, path = "/projects/{id}/budget", tag = "projects", request_body = SetBudget,
    params(("id" = String, Path, description = "project id or name")),
    responses((status = 200, body = Project), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_budget(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SetBudget>,
) -> Result<Json<Project>, HubError> {
    Ok(Json(hub.set_budget(&p, &id, &b).await?))
}

/// The project's dependency graph: nodes, edges, layers and phases.
#[utoipa::path(get, path = "/projects/{id}/graph", tag = "projects", params(("id" = String, Path, description = "project id or name")),
    responses((status = 200, body = Graph), (status = 404, body = ErrorBody)))]
pub async fn graph(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<Graph>, HubError> {
    Ok(Json(hub.graph(&p, Some(&id)).await?))
}

/// The graph of the caller's project (or the only project).
#[utoipa::path(get, path = "/graph", tag = "projects", responses((status = 200, body = Graph), (status = 400, body = ErrorBody)))]
pub async fn default_graph(State(hub): State<Hub>, Auth(p): Auth) -> Result<Json<Graph>, HubError> {
    Ok(Json(hub.graph(&p, None).await?))
}
