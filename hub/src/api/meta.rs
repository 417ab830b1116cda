//! Health, identity and the OpenAPI document.

use axum::Json;
use axum::extract::{Path, State};
use orchestratia_proto::api::{ErrorBody, Health, HubStatus, TokenInfo, WhoAmI};

use super::extract::Auth;
use crate::auth::Principal;
use crate::error::HubError;
use crate::service::Hub;
use crate::store::tokens::TokenKind;

/// Whether the hub answers (no token needed).
#[utoipa::path(get, path = "/health", tag = "meta", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: orchestratia_proto::VERSION.into(),
    })
}

/// Which hub replica answers, on which database, and every replica sharing it (any token).
#[utoipa::path(get, path = "/status", tag = "meta",
    responses((status = 200, body = HubStatus), (status = 401, body = ErrorBody)))]
pub async fn status(State(hub): State<Hub>, Auth(_p): Auth) -> Result<Json<HubStatus>, HubError> {
    Ok(Json(hub.status().await?))
}

/// Who the presented token belongs to.
#[utoipa::path(get, path = "/whoami", tag = "meta",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
pub async fn whoami(State(_hub): State<Hub>, Auth(p): Auth) -> Result<Json<WhoAmI>, HubError> {
    let (server_id, task_id, orchestrator) = match &p {
        Principal::Server { server_id, .. } => (Some(*server_id), None, false),
        Principal::Session {
            task_id,
            orchestrator,
            ..
        } => (None, *task_id, *orchestrator),
        _ => (None, None, false),
    };
    Ok(Json(WhoAmI {
        role: p.role().into(),
        project_id: p.project(),
        server_id,
        task_id,
        orchestrator,
        actor: p.actor(),
    }))
}

/// Lists admin tokens (never the tokens themselves), newest first, with their status.
#[utoipa::path(get, path = "/admin/tokens", tag = "meta",
    responses((status = 200, body = Vec<TokenInfo>)))]
pub async fn admin_tokens(
    State(hub): State<Hub>,
    Auth(p): Auth,
) -> Result<Json<Vec<TokenInfo>>, HubError> {
    Ok(Json(hub.list_tokens(&p, TokenKind::Admin).await?))
}

/// Revokes an admin token by its id from the list (or a unique start of it). New ones come
/// from `orchestratia-hub admin-token` on the hub's machine.
#[utoipa::path(post, path = "/admin/tokens/{id}/revoke", tag = "meta",
    params(("id" = String, Path, description = "token id from the list, or a unique start of it (6+ hex digits)")),
    responses((status = 200, body = TokenInfo)))]
pub async fn revoke_admin_token(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<TokenInfo>, HubError> {
    Ok(Json(hub.revoke_token(&p, TokenKind::Admin, &id).await?))
}
