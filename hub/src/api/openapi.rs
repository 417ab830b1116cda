//! Completes the OpenAPI document that the handlers' annotations produce: the bearer security
//! scheme, the error answers every operation can give (derived from its shape, so a new route
//! is documented the same way without repeating six lines per handler), and the two WebSocket
//! routes, which the REST router does not see.

use utoipa::openapi::path::{Operation, OperationBuilder, ParameterIn, PathItem};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

/// Routes that take no bearer token (`/servers/register` authenticates by the token in its
/// body).
const PUBLIC: [&str; 2] = ["/health", "/servers/register"];

/// Adds the security scheme, the error responses and the WebSocket routes to `doc`.
pub fn complete(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    let mut bearer = Http::new(HttpAuthScheme::Bearer);
    bearer.description = Some(
        "An admin token (`orcadm_…`), a server key (`orc_…`) or a session token (`orcses_…`)."
            .into(),
    );
    components
        .security_schemes
        .insert("bearer".into(), RefOr::T(SecurityScheme::Http(bearer)));
    doc.security = Some(vec![SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);

    for (path, item) in doc.paths.paths.iter_mut() {
        let public = PUBLIC.contains(&path.as_str());
        for (method, op) in operations(item) {
            if public {
                // An empty requirement: no token needed.
                op.security = Some(vec![SecurityRequirement::default()]);
            }
            for (code, why) in errors(method, op, public, path) {
                op.responses
                    .responses
                    .entry(code.to_string())
                    .or_insert_with(|| error_response(why));
            }
        }
    }
    for (path, what) in [
        (
            orchestratia_proto::ws::DAEMON_WS_PATH,
            "The daemon's WebSocket (server key). The hub sends `welcome`, the daemon `hello`; \
             then JSON control messages both ways and binary terminal frames \
             `[kind u8][session uuid 16][seq u64 BE][bytes]`.",
        ),
        (
            orchestratia_proto::ws::CONSOLE_WS_PATH,
            "The console's WebSocket (admin token): every event, session screens and agent \
             states as JSON; `subscribe` to a session streams its terminal as binary frames \
             from a keyframe; input frames and resizes go to its daemon.",
        ),
    ] {
        let path = path.trim_start_matches(orchestratia_proto::API_PREFIX);
        let op = OperationBuilder::new()
            .tags(Some(["websockets"]))
            .summary(Some("WebSocket upgrade"))
            .description(Some(what))
            .operation_id(Some(format!(
                "ws_{}",
                path.trim_matches('/').replace('/', "_")
            )))
            .response(
                "101",
                ResponseBuilder::new().description("switching to the WebSocket protocol"),
            )
            .response(
                "400",
                ResponseBuilder::new().description("not a WebSocket upgrade request"),
            )
            .response(
                "401",
                error_response("no token, or a token of the wrong kind"),
            )
            .build();
        let mut item = PathItem::default();
        item.get = Some(op);
        doc.paths.paths.insert(path.to_string(), item);
    }
}

fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    let PathItem {
        get,
        put,
        post,
        delete,
        patch,
        ..
    } = item;
    [
        ("get", get),
        ("put", put),
        ("post", post),
        ("delete", delete),
        ("patch", patch),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_mut().map(|op| (m, op)))
    .collect()
}

/// The error answers an operation of this shape can give, with why.
fn errors(method: &str, op: &Operation, public: bool, path: &str) -> Vec<(u16, &'static str)> {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has = |place: ParameterIn| {
        params
            .iter()
            .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place))
    };
    let in_path = has(ParameterIn::Path);
    let in_query = has(ParameterIn::Query);
    let body = op.request_body.is_some();
    let writes = method != "get";
    let mut out = Vec::new();
    if in_path || in_query || body {
        out.push((400, "bad input: a one-line reason"));
    }
    if !public || path == "/servers/register" {
        out.push((401, "no token, an unknown, expired or revoked token"));
    }
    if !public {
        out.push((403, "the token's role may not do this"));
    }
    if in_path || in_query || body {
        out.push((
            404,
            "something the request names does not exist (or is not visible to this token)",
        ));
    }
    if writes && (in_path || body) {
        out.push((409, "conflicts with the current state"));
    }
    if body {
        out.push((413, "too large (body, spec or contract over its limit)"));
    }
    out
}

fn error_response(why: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(why)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn every_operation_declares_its_errors_and_the_scheme() {
        let (_, doc) = super::super::api();
        let v: Value = serde_json::to_value(&doc).expect("json");
        assert_eq!(
            v["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert_eq!(v["security"][0]["bearer"], serde_json::json!([]));
        let create = &v["paths"]["/tasks"]["post"]["responses"];
        for code in ["400", "401", "403", "404", "409", "413"] {
            assert!(create.get(code).is_some(), "POST /tasks lacks {code}");
        }
        let inbox = &v["paths"]["/inbox"]["get"]["responses"];
        for code in ["200", "401", "403"] {
            assert!(inbox.get(code).is_some(), "GET /inbox lacks {code}");
        }
        for schema in ["Inbox", "InboxItem"] {
            assert!(
                v["components"]["schemas"].get(schema).is_some(),
                "{schema} is not in the document"
            );
        }
        let health = &v["paths"]["/health"]["get"];
        assert_eq!(health["security"], serde_json::json!([{}]));
        assert!(health["responses"].get("401").is_none());
        for ws in ["/daemon/ws", "/console/ws"] {
            assert!(
                v["paths"][ws]["get"]["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("WebSocket")),
                "{ws} is not described"
            );
        }
    }
}
