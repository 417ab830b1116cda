//! Registration tokens, registration and servers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use orchestratia_proto::Server;
use orchestratia_proto::api::{
    CreateRegistrationToken, ErrorBody, RegisterServer, Registered, RegistrationToken, TokenInfo,
};

use super::extract::{ApiJson, Auth};
use crate::error::HubError;
use crate::service::Hub;
use crate::store::tokens::TokenKind;

/// Creates a one-time registration token for a project.
#[utoipa::path(post, path = "/servers/tokens", tag = "servers", request_body = CreateRegistrationToken,
    responses((status = 201, body = RegistrationToken), (status = 404, body = ErrorBody)))]
pub async fn token(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<CreateRegistrationToken>,
) -> Result<(StatusCode, Json<RegistrationToken>), HubError> {
    Ok((
        StatusCode::CREATED,
        Json(hub.create_registration_token(&p, &b).await?),
    ))
}

/// Lists registration tokens (never the tokens themselves), newest first, with their status.
#[utoipa::path(get, path = "/servers/tokens", tag = "servers",
    responses((status = 200, body = Vec<TokenInfo>)))]
pub async fn tokens(
    State(hub): State<Hub>,
    Auth(p): Auth,
) -> Result<Json<Vec<TokenInfo>>, HubError> {
    Ok(Json(hub.list_tokens(&p, TokenKind::Registration).await?))
}

/// Revokes a registration token by its id from the list (or a unique start of it).
#[utoipa::path(post, path = "/servers/tokens/{id}/revoke", tag = "servers",
    params(("id" = String, Path, description = "token id from the list, or a unique start of it (6+ hex digits)")),
    responses((status = 200, body = TokenInfo)))]
pub async fn revoke_token(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<TokenInfo>, HubError> {
    Ok(Json(
        hub.revoke_token(&p, TokenKind::Registration, &id).await?,
    ))
}

/// Registers a server with a registration token in the body; answers its key.
#[utoipa::path(post, path = "/servers/register", tag = "servers", request_body = RegisterServer,
    responses((status = 201, body = Registered), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn register(
    State(hub): State<Hub>,
    ApiJson(b): ApiJson<RegisterServer>,
) -> Result<(StatusCode, Json<Registered>), HubError> {
    Ok((StatusCode::CREATED, Json(hub.register_server(&b).await?)))
}

/// Lists servers.
#[utoipa::path(get, path = "/servers", tag = "servers", responses((status = 200, body = Vec<Server>)))]
pub async fn list(State(hub): State<Hub>, Auth(p): Auth) -> Result<Json<Vec<Server>>, HubError> {
    Ok(Json(hub.servers(&p).await?))
}

/// A server by id or name.
#[utoipa::path(get, path = "/servers/{id}", tag = "servers", params(("id" = String, Path, description = "server id or name")),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<Server>, HubError> {
    let all = hub.servers(&p).await?;
    all.into_iter()
        .find(|s| s.id.to_string() == id || s.name == id)
        .map(Json)
        .ok_or_else(|| HubError::NotFound(format!("server '{id}' not found")))
}

/// Revokes a server's key; it is disconnected and cannot connect again.
#[utoipa::path(post, path = "/servers/{id}/revoke", tag = "servers", params(("id" = String, Path, description = "server id or name")),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<Server>, HubError> {
    Ok(Json(hub.revoke_server(&p, &id).await?))
}
