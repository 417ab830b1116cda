//! Health, identity and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use orchestratia_proto::api::{ErrorBody, Health, WhoAmI};

use super::extract::Auth;
use crate::auth::Principal;
use crate::error::HubError;
use crate::service::Hub;

/// Whether the hub answers (no token needed).
#[utoipa::path(get, path = "/health", tag = "meta", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: orchestratia_proto::VERSION.into(),
    })
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
