//! Interventions, plans and permission requests: listed, waited on and decided; the inbox
//! that gathers what of them waits for a human.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use orchestratia_proto::api::{
    AllowPermission, DenyPermission, ErrorBody, Inbox, RequestPermission, Respond, StatusFilter,
    WaitParam,
};
use orchestratia_proto::{Intervention, PermissionRequest, Plan};

use super::extract::{ApiJson, ApiQuery, Auth, uuid};
use crate::error::HubError;
use crate::service::Hub;

type Answer<T> = Result<Json<T>, HubError>;

/// A list's `?status=` word as the status it names (none when absent or blank); an unknown
/// word is a bad request that names the choices.
fn status_filter<T: std::str::FromStr<Err = orchestratia_proto::UnknownWord>>(
    s: Option<&str>,
) -> Result<Option<T>, HubError> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<T>().map_err(|e| crate::bad!("{e}")))
        .transpose()
}

/// What waits for a human (admin): submitted plans, pending permission requests and pending
/// questions, newest first.
#[utoipa::path(get, path = "/inbox", tag = "humans", responses((status = 200, body = Inbox)))]
pub async fn inbox(State(hub): State<Hub>, Auth(p): Auth) -> Answer<Inbox> {
    Ok(Json(hub.inbox(&p).await?))
}

/// Interventions, newest first (`?status=pending`).
#[utoipa::path(get, path = "/interventions", tag = "humans", params(StatusFilter),
    responses((status = 200, body = Vec<Intervention>)))]
pub async fn interventions(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<StatusFilter>,
) -> Answer<Vec<Intervention>> {
    let status = status_filter(q.status.as_deref())?;
    Ok(Json(hub.interventions(&p, status).await?))
}

/// One intervention; with `?wait=30s` the answer waits for a human's response.
#[utoipa::path(get, path = "/interventions/{id}", tag = "humans", params(("id" = String, Path), WaitParam),
    responses((status = 200, body = Intervention), (status = 404, body = ErrorBody)))]
pub async fn intervention(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(w): ApiQuery<WaitParam>,
) -> Answer<Intervention> {
    Ok(Json(
        hub.wait_intervention(&p, uuid("intervention", &id)?, w.wait.as_deref())
            .await?,
    ))
}

/// Answers an intervention (id, unique prefix, or a task with one pending question).
#[utoipa::path(post, path = "/interventions/{id}/respond", tag = "humans", request_body = Respond, params(("id" = String, Path)),
    responses((status = 200, body = Intervention), (status = 409, body = ErrorBody)))]
pub async fn respond(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Respond>,
) -> Answer<Intervention> {
    Ok(Json(hub.respond(&p, &id, &b.response).await?))
}

/// Plans, newest first (`?status=submitted`).
#[utoipa::path(get, path = "/plans", tag = "humans", params(StatusFilter), responses((status = 200, body = Vec<Plan>)))]
pub async fn plans(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<StatusFilter>,
) -> Answer<Vec<Plan>> {
    let status = status_filter(q.status.as_deref())?;
    Ok(Json(hub.plans(&p, status).await?))
}

/// One plan; with `?wait=30s` the answer waits for a decision.
#[utoipa::path(get, path = "/plans/{id}", tag = "humans", params(("id" = String, Path), WaitParam),
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody)))]
pub async fn plan(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(w): ApiQuery<WaitParam>,
) -> Answer<Plan> {
    Ok(Json(
        hub.wait_plan(&p, uuid("plan", &id)?, w.wait.as_deref())
            .await?,
    ))
}

/// Files a permission request for a tool call (the Claude Code hook's way in).
#[utoipa::path(post, path = "/permissions", tag = "humans", request_body = RequestPermission,
    responses((status = 201, body = PermissionRequest), (status = 400, body = ErrorBody)))]
pub async fn request(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<RequestPermission>,
) -> Result<(StatusCode, Json<PermissionRequest>), HubError> {
    Ok((
        StatusCode::CREATED,
        Json(hub.request_permission(&p, &b).await?),
    ))
}

/// Permission requests, newest first (`?status=pending`).
#[utoipa::path(get, path = "/permissions", tag = "humans", params(StatusFilter),
    responses((status = 200, body = Vec<PermissionRequest>)))]
pub async fn permissions(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<StatusFilter>,
) -> Answer<Vec<PermissionRequest>> {
    let status = status_filter(q.status.as_deref())?;
    Ok(Json(hub.permissions(&p, status).await?))
}

/// One permission request; with `?wait=30s` the answer waits for a decision.
#[utoipa::path(get, path = "/permissions/{id}", tag = "humans", params(("id" = String, Path), WaitParam),
    responses((status = 200, body = PermissionRequest), (status = 404, body = ErrorBody)))]
pub async fn permission(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(w): ApiQuery<WaitParam>,
) -> Answer<PermissionRequest> {
    Ok(Json(
        hub.wait_permission(&p, uuid("permission request", &id)?, w.wait.as_deref())
            .await?,
    ))
}

/// An optional JSON body: empty (or `null`) is `T::default()`.
fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, HubError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice::<Option<T>>(body)
        .map(Option::unwrap_or_default)
        .map_err(|e| HubError::BadRequest(format!("invalid JSON: {e}")))
}

/// Allows a tool call: once (the default), for the rest of its session, or always (a project
/// rule).
#[utoipa::path(post, path = "/permissions/{id}/allow", tag = "humans", request_body = AllowPermission, params(("id" = String, Path)),
    responses((status = 200, body = PermissionRequest), (status = 409, body = ErrorBody)))]
pub async fn allow(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer<PermissionRequest> {
    let b: AllowPermission = optional_body(&body)?;
    Ok(Json(hub.allow_permission(&p, &id, &b, None).await?))
}

/// Denies a tool call, with an optional reason for the agent, and maybe a deny rule.
#[utoipa::path(post, path = "/permissions/{id}/deny", tag = "humans", request_body = DenyPermission, params(("id" = String, Path)),
    responses((status = 200, body = PermissionRequest), (status = 409, body = ErrorBody)))]
pub async fn deny(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer<PermissionRequest> {
    let b: DenyPermission = optional_body(&body)?;
    Ok(Json(hub.deny_permission(&p, &id, &b, None).await?))
}
