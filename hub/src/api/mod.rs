//! The REST API under `/api/v1`: thin handlers over the hub's operations, documented as
//! OpenAPI at `/api/v1/openapi.json`; the daemon and console WebSockets live beside it.

mod extract;
mod humans;
mod meta;
mod openapi;
mod policy;
mod projects;
mod servers;
mod sessions;
mod tasks;
mod workspaces;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::HubError;
use crate::service::Hub;

#[derive(OpenApi)]
#[openapi(
    info(title = "Orchestratia hub", description = "Projects, servers, tasks, dependencies, contracts and sessions. \
        Authenticate with `Authorization: Bearer TOKEN` (admin `orcadm_`, server `orc_`, session `orcses_`). \
        Errors are `{error, detail}`."),
    tags((name = "meta"), (name = "projects"), (name = "servers"), (name = "tasks"), (name = "humans"),
         (name = "sessions"), (name = "events"), (name = "workspaces"), (name = "websockets"))
)]
struct ApiDoc;

/// The API routes (relative to `/api/v1`) and their OpenAPI document.
pub fn api() -> (Router<Hub>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(meta::health))
        .routes(routes!(meta::whoami))
        .routes(routes!(meta::status))
        .routes(routes!(projects::create, projects::list))
        .routes(routes!(projects::get))
        .routes(routes!(projects::graph))
        .routes(routes!(projects::set_budget))
        .routes(routes!(projects::default_graph))
        .routes(routes!(meta::admin_tokens))
        .routes(routes!(meta::revoke_admin_token))
        .routes(routes!(servers::token, servers::tokens))
        .routes(routes!(servers::revoke_token))
        .routes(routes!(servers::register))
        .routes(routes!(servers::list))
        .routes(routes!(servers::get))
        .routes(routes!(servers::revoke))
        .routes(routes!(tasks::create, tasks::list))
        .routes(routes!(tasks::view, tasks::update))
        .routes(routes!(tasks::add_dependency))
        .routes(routes!(tasks::remove_dependency))
        .routes(routes!(tasks::assign))
        .routes(routes!(tasks::explain))
        .routes(routes!(tasks::complete))
        .routes(routes!(tasks::fail))
        .routes(routes!(tasks::cancel))
        .routes(routes!(tasks::retry))
        .routes(routes!(tasks::help))
        .routes(routes!(tasks::submit_plan))
        .routes(routes!(tasks::approve_plan))
        .routes(routes!(tasks::reject_plan))
        .routes(routes!(tasks::note))
        .routes(routes!(workspaces::diff))
        .routes(routes!(workspaces::refresh))
        .routes(routes!(workspaces::merge))
        .routes(routes!(workspaces::keep))
        .routes(routes!(workspaces::discard))
        .routes(routes!(workspaces::review))
        .routes(routes!(workspaces::list))
        .routes(routes!(workspaces::prune))
        .routes(routes!(humans::inbox))
        .routes(routes!(humans::interventions))
        .routes(routes!(humans::intervention))
        .routes(routes!(humans::respond))
        .routes(routes!(humans::plans))
        .routes(routes!(humans::plan))
        .routes(routes!(humans::request, humans::permissions))
        .routes(routes!(humans::permission))
        .routes(routes!(humans::allow))
        .routes(routes!(humans::deny))
        .routes(routes!(policy::list, policy::add))
        .routes(routes!(policy::remove))
        .routes(routes!(policy::test))
        .routes(routes!(sessions::create, sessions::list))
        .routes(routes!(sessions::get))
        .routes(routes!(sessions::recording))
        .routes(routes!(sessions::agent_event))
        .routes(routes!(sessions::message))
        .routes(routes!(sessions::stop))
        .routes(routes!(sessions::events))
        .split_for_parts();
    doc.servers = Some(vec![utoipa::openapi::Server::new(
        orchestratia_proto::API_PREFIX,
    )]);
    openapi::complete(&mut doc);
    (router, doc)
}

/// The whole HTTP application: API, OpenAPI document, WebSockets, JSON 404s.
pub fn app(hub: Hub) -> Router {
    let (api, doc) = api();
    let doc = std::sync::Arc::new(doc);
    let limit = hub.config.limits.max_body;
    let api = api
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .route(
            orchestratia_proto::ws::DAEMON_WS_PATH
                .trim_start_matches(orchestratia_proto::API_PREFIX),
            get(crate::ws::daemon::upgrade),
        )
        .route(
            orchestratia_proto::ws::CONSOLE_WS_PATH
                .trim_start_matches(orchestratia_proto::API_PREFIX),
            get(crate::ws::console::upgrade),
        );
    Router::new()
        .nest(orchestratia_proto::API_PREFIX, api)
        .fallback(not_found)
        .layer(axum::middleware::from_fn(extract::refuse_invalid_text))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(hub)
}

async fn not_found(uri: Uri) -> impl IntoResponse {
    let e = HubError::NotFound(format!("no such route: {}", uri.path()));
    (StatusCode::NOT_FOUND, axum::Json(e.body()))
}
