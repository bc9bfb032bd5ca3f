//! The OpenAPI 3.1 document of every `/api/v1` route, and a page that shows it to a person
//! without fetching anything from outside the node: its style and script are served here too,
//! so its content security policy allows nothing inline.

use axum::Json;
use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};

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

/// The page may run and style only what this node serves, and fetch only from it.
const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn router(openapi: OpenApi) -> Router<AppState> {
    let document = serde_json::to_value(&openapi).unwrap_or_default();
    Router::new()
        .route("/api/v1/openapi.json", get(move || async move { Json(document) }))
        .route("/api/docs", get(|| async { ([(header::CONTENT_SECURITY_POLICY, DOCS_POLICY)], Html(DOCS_PAGE)) }))
        .route("/api/docs/docs.css", get(|| async { asset("text/css; charset=utf-8", DOCS_STYLE) }))
        .route("/api/docs/docs.js", get(|| async { asset("text/javascript; charset=utf-8", DOCS_SCRIPT) }))
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
}

const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>aeo-registry API</title>
<link rel="stylesheet" href="/api/docs/docs.css">
<script src="/api/docs/docs.js" defer></script>
</head>
<body>
<h1>aeo-registry API</h1>
<p id="description"></p>
<p>Machine-readable document: <a href="/api/v1/openapi.json"><code>/api/v1/openapi.json</code></a></p>
<main id="operations">Loading…</main>
</body>
</html>
"#;

const DOCS_STYLE: &str = r#"  body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 64rem; padding: 1.5rem; color: #1d2330; }
  h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
  .op { border: 1px solid #d5dae3; border-radius: 6px; margin: 0.6rem 0; }
  .op summary { cursor: pointer; padding: 0.5rem 0.8rem; display: flex; gap: 0.8rem; align-items: baseline; }
  .method { font: 600 0.8rem ui-monospace, monospace; text-transform: uppercase; width: 4.5rem; }
  .get { color: #1565c0; } .post { color: #2e7d32; } .put { color: #8d6e00; } .patch { color: #6a1b9a; } .delete { color: #c62828; }
  code, pre { font-family: ui-monospace, monospace; font-size: 0.85rem; }
  .body { padding: 0 0.8rem 0.8rem; }
  pre { background: #f4f6f9; padding: 0.6rem; overflow: auto; border-radius: 4px; }
  .tag { color: #5b6475; font-size: 0.85rem; }
"#;

const DOCS_SCRIPT: &str = r#"fetch('/api/v1/openapi.json').then(r => r.json()).then(doc => {
  document.getElementById('description').textContent = doc.info.description || '';
  const main = document.getElementById('operations');
  main.textContent = '';
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const details = document.createElement('details');
      details.className = 'op';
      const summary = document.createElement('summary');
      const m = document.createElement('span'); m.className = 'method ' + method; m.textContent = method;
      const p = document.createElement('code'); p.textContent = path;
      const t = document.createElement('span'); t.className = 'tag'; t.textContent = (op.summary || '') ;
      summary.append(m, p, t);
      const body = document.createElement('div'); body.className = 'body';
      const text = document.createElement('p'); text.textContent = op.description || op.summary || '';
      const pre = document.createElement('pre');
      pre.textContent = JSON.stringify({parameters: op.parameters, requestBody: op.requestBody, responses: op.responses}, null, 2);
      body.append(text, pre);
      details.append(summary, body);
      main.append(details);
    }
  }
});
"#;
