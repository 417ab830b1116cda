//! Projects and their graph.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use orchestratia_proto::Project;
use orchestratia_proto::api::{CreateProject, ErrorBody, Graph};

use super::extract::{ApiJson, Auth};
use crate::error::HubError;
use crate::service::Hub;

/// Creates a project.
#[utoipa::path(post, path = "/projects", tag = "projects", request_body = CreateProject,
    responses((status = 201, body = Project), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<CreateProject>,
) -> Result<(StatusCode, Json<Project>), HubError> {
    Ok((
        StatusCode::CREATED,
        Json(hub.create_project(&p, &b.name).await?),
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
