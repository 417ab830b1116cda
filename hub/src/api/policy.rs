//! Permission rules: listed, added, removed, and tested against a tool call.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use orchestratia_proto::api::{ErrorBody, NewRule, PolicyTest, RulesFilter};
use orchestratia_proto::policy::{PermissionRule, Verdict};

use super::extract::{ApiJson, ApiQuery, Auth};
use crate::error::HubError;
use crate::service::Hub;

type Answer<T> = Result<Json<T>, HubError>;

/// Permission rules, oldest first (`?all=true`: expired ones too).
#[utoipa::path(get, path = "/policy/rules", tag = "policy", params(RulesFilter),
    responses((status = 200, body = Vec<PermissionRule>)))]
pub async fn list(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiQuery(f): ApiQuery<RulesFilter>,
) -> Answer<Vec<PermissionRule>> {
    Ok(Json(hub.rules(&p, f.all.unwrap_or(false)).await?))
}

/// Adds a permission rule; it decides the pending requests it matches at once.
#[utoipa::path(post, path = "/policy/rules", tag = "policy", request_body = NewRule,
    responses((status = 201, body = PermissionRule), (status = 400, body = ErrorBody)))]
pub async fn add(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<NewRule>,
) -> Result<(StatusCode, Json<PermissionRule>), HubError> {
    Ok((StatusCode::CREATED, Json(hub.add_rule(&p, &b, None).await?)))
}

/// Removes a permission rule (by id or unique id prefix).
#[utoipa::path(delete, path = "/policy/rules/{id}", tag = "policy", params(("id" = String, Path)),
    responses((status = 200, body = PermissionRule), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Answer<PermissionRule> {
    Ok(Json(hub.remove_rule(&p, &id).await?))
}

/// Which rule would decide a tool call, and why (nothing is filed or decided).
#[utoipa::path(post, path = "/policy/test", tag = "policy", request_body = PolicyTest,
    responses((status = 200, body = Verdict), (status = 400, body = ErrorBody)))]
pub async fn test(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<PolicyTest>,
) -> Answer<Verdict> {
    Ok(Json(hub.test_policy(&p, &b).await?))
}
