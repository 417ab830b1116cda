//! Sessions and the event log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use orchestratia_proto::Session;
use orchestratia_proto::api::{
    AgentEvent, AgentMessage, CreateSession, ErrorBody, EventPage, EventQuery, SendMessage,
    StopSession,
};

use super::extract::{ApiJson, ApiQuery, Auth};
use crate::error::HubError;
use crate::service::Hub;

/// Starts a session on a server for an assigned task (returns the open one if it exists).
#[utoipa::path(post, path = "/sessions", tag = "sessions", request_body = CreateSession,
    responses((status = 201, body = Session), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<CreateSession>,
) -> Result<(StatusCode, Json<Session>), HubError> {
    Ok((StatusCode::CREATED, Json(hub.create_session(&p, &b).await?)))
}

/// Sessions, newest first.
#[utoipa::path(get, path = "/sessions", tag = "sessions", responses((status = 200, body = Vec<Session>)))]
pub async fn list(State(hub): State<Hub>, Auth(p): Auth) -> Result<Json<Vec<Session>>, HubError> {
    Ok(Json(hub.sessions(&p).await?))
}

/// A session by id or name.
#[utoipa::path(get, path = "/sessions/{id}", tag = "sessions", params(("id" = String, Path)),
    responses((status = 200, body = Session), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<Session>, HubError> {
    Ok(Json(hub.session(&p, &id).await?))
}

/// Events after a cursor, filtered by task, project and name; `wait` long-polls.
#[utoipa::path(get, path = "/events", tag = "events", params(EventQuery),
    responses((status = 200, body = EventPage), (status = 400, body = ErrorBody)))]
pub async fn events(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Json<EventPage>, HubError> {
    Ok(Json(hub.events(&p, &q).await?))
}

/// A page of a session's recording: output chunks and keyframes in replay order (base64).
#[utoipa::path(get, path = "/sessions/{id}/recording", tag = "sessions", params(("id" = String, Path), orchestratia_proto::api::RecordingQuery),
    responses((status = 200, body = orchestratia_proto::api::Recording), (status = 404, body = ErrorBody)))]
pub async fn recording(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    super::extract::ApiQuery(q): super::extract::ApiQuery<orchestratia_proto::api::RecordingQuery>,
) -> Result<Json<orchestratia_proto::api::Recording>, HubError> {
    Ok(Json(hub.recording(&p, &id, q.after, q.limit).await?))
}

/// What the agent's hook saw (its own session token): the session's state follows from it.
#[utoipa::path(post, path = "/sessions/{id}/agent-event", tag = "sessions", request_body = AgentEvent, params(("id" = String, Path)),
    responses((status = 200, body = Session), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn agent_event(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AgentEvent>,
) -> Result<Json<Session>, HubError> {
    Ok(Json(hub.agent_event(&p, &id, &b).await?))
}

/// Submits a message to an idle agent as its next prompt and waits (up to 20 s) until the
/// agent took it; `taken` says whether it did.
#[utoipa::path(post, path = "/sessions/{id}/message", tag = "sessions", request_body = SendMessage, params(("id" = String, Path)),
    responses((status = 200, body = AgentMessage), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn message(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SendMessage>,
) -> Result<Json<AgentMessage>, HubError> {
    Ok(Json(hub.send_message(&p, &id, &b.text).await?))
}

/// Stops a session whose task is closed (one kept after it) or that has none: its agent is
/// asked to exit, then ended; the recording stays.
#[utoipa::path(post, path = "/sessions/{id}/stop", tag = "sessions", request_body = StopSession, params(("id" = String, Path)),
    responses((status = 200, body = Session), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn stop(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<StopSession>,
) -> Result<Json<Session>, HubError> {
    Ok(Json(hub.stop_session(&p, &id, b.reason.as_deref()).await?))
}
