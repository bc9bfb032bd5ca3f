//! The OpenAPI 3.1 document of every `/api/v1` route, and Swagger UI to show it to a person
//! without fetching anything from outside the node: its style and script are served here too,
//! so its content security policy allows nothing inline.

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};
use utoipa_swagger_ui::{Config, SwaggerUi};

use serde_json::{Value, json};

use crate::app::AppState;

pub fn api_doc() -> OpenApi {
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("aeo-registry")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Registry of Authorized Economic Operators and mutual recognition arrangements. \
                     Errors are RFC 9457 problem+json; authenticate with `Authorization: Bearer <token>` from /api/v1/auth/login.",
                ))
                .build(),
        )
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
    );
    doc
}

/// The page may run and style only what this node serves, and fetch only from it (Swagger UI's
/// icons are `data:` images).
const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The OpenAPI document, and Swagger UI at `/api/docs` to read it and try calls: every asset is
/// the vendored Swagger UI distribution, served from the binary; it runs no inline script.
pub fn router(openapi: OpenApi) -> Router<AppState> {
    let mut document = serde_json::to_value(&openapi).unwrap_or_default();
    complete(&mut document);
    let config = Config::new(["/api/v1/openapi.json"]).try_it_out_enabled(true).display_request_duration(true);
    let swagger: Router<AppState> = SwaggerUi::new("/api/docs").config(config).into();
    Router::new().route("/api/v1/openapi.json", get(move || async move { Json(document) })).merge(swagger.layer(
        axum::middleware::map_response(|mut response: Response| async move {
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_POLICY));
            response
        }),
    ))
}

/// The answers every route of a kind can give, whichever handler it reaches: the extractors,
/// the tenant guard, the database gate and the timeout answer them, so the handlers' own
/// annotations leave them out and they are added here, once.
const BODY_ANSWERS: [(&str, &str); 4] = [
    ("400", "The body is not well-formed JSON (or CSV)."),
    ("413", "The body is larger than the route accepts."),
    ("415", "The body is not sent as the media type this route reads."),
    ("422", "A field is missing or invalid; `errors` names every one."),
];
const AUTHENTICATED_ANSWERS: [(&str, &str); 2] = [
    ("401", "No valid access token (`Authorization: Bearer`, from /api/v1/auth/login)."),
    ("403", "The caller's role or administration does not allow this."),
];
const PARAMETER_ANSWER: (&str, &str) = ("422", "A path or query parameter is invalid; `errors` names it.");
const QUERY_ANSWER: (&str, &str) = ("400", "The query string is not well-formed (bad percent-encoding, say).");
const NOT_FOUND_ANSWER: (&str, &str) = ("404", "No such administration here, or nothing under this path.");
const UNAVAILABLE_ANSWER: (&str, &str) =
    ("503", "The database did not answer in time, or the node is shutting down; retry after `Retry-After` seconds.");

/// An administration code in a path (`code`, `partner`, `peer`), as `AdministrationCode` reads it.
pub const ADMINISTRATION_CODE_PATTERN: &str = "^[A-Z]{2}(-[A-Z0-9]{1,8})?$";

/// Completes the generated document with what every route shares: errors are
/// `application/problem+json`, the common error answers are listed per operation, and the
/// administration codes in paths carry their pattern. Done on the JSON form because utoipa's
/// builders cannot walk every operation in place.
fn complete(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        let Some(operation) = operation.as_object_mut() else { continue };
        let secured = operation.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
        let has_body = operation.contains_key("requestBody");
        let mut has_parameters = false;
        let mut in_path = false;
        let mut has_query = false;
        for parameter in operation.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
            has_parameters = true;
            // A query string or a header has no null: an optional parameter is one left out.
            if let Some(kinds) = parameter["schema"]["type"].as_array() {
                let kinds: Vec<Value> = kinds.iter().filter(|kind| *kind != "null").cloned().collect();
                parameter["schema"]["type"] = if kinds.len() == 1 { kinds[0].clone() } else { Value::Array(kinds) };
            }
            has_query |= parameter["in"] == "query";
            let path_parameter = parameter["in"] == "path";
            in_path |= path_parameter;
            let name = parameter["name"].as_str().unwrap_or_default().to_string();
            if path_parameter && matches!(name.as_str(), "code" | "partner" | "peer") {
                parameter["schema"] = json!({"type": "string", "pattern": ADMINISTRATION_CODE_PATTERN});
            }
            if !path_parameter && name == "cursor" {
                parameter["schema"]["pattern"] = json!(crate::store::cursor::PATTERN);
            }
        }
        let responses = operation.entry("responses").or_insert_with(|| json!({}));
        let Some(responses) = responses.as_object_mut() else { continue };
        let mut wanted: Vec<(&str, &str)> = vec![UNAVAILABLE_ANSWER];
        if secured {
            wanted.extend(AUTHENTICATED_ANSWERS);
        }
        if has_body {
            wanted.extend(BODY_ANSWERS);
        }
        if has_parameters {
            wanted.push(PARAMETER_ANSWER);
        }
        if has_query {
            wanted.push(QUERY_ANSWER);
        }
        if in_path {
            wanted.push(NOT_FOUND_ANSWER);
        }
        for (status, description) in wanted {
            let answer = responses.entry(status).or_insert_with(|| json!({"description": description}));
            if answer["description"] == "" {
                answer["description"] = json!(description);
            }
            answer["content"] =
                json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
        }
        for (status, answer) in responses.iter_mut() {
            if status.as_str() >= "400" {
                answer["content"] =
                    json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
            }
            if matches!(status.as_str(), "429" | "503") {
                answer["headers"] = json!({"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}});
            }
        }
    }
}
