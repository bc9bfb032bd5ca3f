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
    let document = serde_json::to_value(&openapi).unwrap_or_default();
    let config = Config::new(["/api/v1/openapi.json"]).try_it_out_enabled(true).display_request_duration(true);
    let swagger: Router<AppState> = SwaggerUi::new("/api/docs").config(config).into();
    Router::new().route("/api/v1/openapi.json", get(move || async move { Json(document) })).merge(swagger.layer(
        axum::middleware::map_response(|mut response: Response| async move {
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_POLICY));
            response
        }),
    ))
}
