//! The OpenAPI 3.1 document of every `/api/v1` route and of the federation routes peers call,
//! and Swagger UI to show it to a person without fetching anything from outside the node: its
//! style and script are served here too, so its content security policy allows nothing inline.
//! Every description in it is Markdown, which Swagger UI renders (a test holds it to that).

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};
use utoipa_swagger_ui::{Config, SwaggerUi};

use serde_json::{Value, json};

use crate::app::AppState;
use crate::federation::jose::{ASSERTION_LIFETIME_SECS, CLOCK_SKEW_SECS};

/// The security scheme of a person's (or a system's) access token, from `POST /api/v1/auth/login`.
pub const BEARER: &str = "bearer";
/// The security scheme of a peer registry's signed assertion, on every federation call but
/// discovery and key sets.
pub const PEER_ASSERTION: &str = "peer_assertion";

/// What the document says first, shown above every route (Markdown).
const INTRODUCTION: &str = "\
Registry of Authorized Economic Operators (AEO) and of the mutual recognition arrangements \
(MRAs) between customs administrations: each administration publishes its certificates here, \
records its arrangements with its partners, and asks at the border whether a partner's \
certificate is recognised.

## Conventions

- **Authentication**: `POST /api/v1/auth/login` with an e-mail and a password answers an access \
token; send it as `Authorization: Bearer <token>`. Missing, malformed, expired or forged: 401. \
Authenticated but not allowed: 403. An object of another administration answers as a missing \
one does: 404.
- **Errors** are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem details \
(`application/problem+json`): `type`, `title`, `status`, `detail`, and for invalid input \
`errors: [{\"field\", \"message\"}]` naming every invalid field at once.
- **Bodies** are JSON in UTF-8, at most 1 MiB (an import, 64 MiB). Unknown fields are ignored: \
each request body schema says so with `additionalProperties: true`.
- **Lists** take `?limit=` (1 to 500, default 50) and `?cursor=` (the `next_cursor` of the page \
before) and answer `{\"items\": [...], \"next_cursor\": ...}`.
- **Dates** are `YYYY-MM-DD`; instants are [RFC 3339](https://www.rfc-editor.org/rfc/rfc3339) in UTC.
- **Busy or down**: 503 with `Retry-After`; too many requests: 429 with `Retry-After`.

## Federation

The routes tagged `federation` are called by peer registries, not by people. Each call carries \
an assertion signed by the calling administration (the `peer_assertion` scheme), and every signed \
part of an answer is a compact [JWS](https://www.rfc-editor.org/rfc/rfc7515) that the caller \
verifies with the keys it pinned from the signer's `jwks.json`.";

/// Each tag with what its routes are for, in the order Swagger UI lists them.
const TAGS: [(&str, &str); 11] = [
    ("sessions", "Sign in, and who the caller is."),
    ("administrations", "The customs administrations hosted on this node."),
    ("users", "An administration's users, traders included (`customs_admin`)."),
    (
        "certificates",
        "An administration's AEO certificates: publish, search, change, suspend, reinstate, revoke, import.",
    ),
    ("mras", "An administration's records of its mutual recognition arrangements, one per partner."),
    ("recognition", "The border question: is this certificate of that issuer recognised here, now?"),
    ("traders", "A trader's own certificates and their recognition."),
    ("public", "The public check of a certificate, without signing in."),
    ("audit", "Every write and every federation call, per administration."),
    (
        "peers",
        "Set up federation (`customs_admin`): peer registries, their pinned keys, and this administration's own keys.",
    ),
    (
        "federation",
        "Node to node: discovery, key sets, signed statements, the change feed, pushed changes and \
         signed recognition answers. Every route but discovery and `jwks.json` needs a peer assertion.",
    ),
];

/// The peer assertion, for those who write a peer registry (Markdown).
fn peer_assertion_description() -> String {
    format!(
        "A JWT ([RFC 7519](https://www.rfc-editor.org/rfc/rfc7519)) signed by the calling \
         administration with one of its Ed25519 keys: header `alg: EdDSA`, `typ: JWT` and the \
         `kid` of a key the asked administration pinned when it registered the caller as a peer \
         (`PUT /api/v1/administrations/{{code}}/peers/{{peer}}`). Its claims:\n\n\
         | claim | value |\n\
         | --- | --- |\n\
         | `iss` | the calling administration's code, e.g. `PE` |\n\
         | `sub` | the same code as `iss` |\n\
         | `aud` | the asked administration's code: the `{{code}}` of the path |\n\
         | `iat` | when it was signed (seconds since the epoch), not in the future |\n\
         | `exp` | at most {ASSERTION_LIFETIME_SECS} s after `iat` |\n\
         | `jti` | unique, 1 to 200 bytes: an assertion is good for one call |\n\n\
         Clocks may differ by {CLOCK_SKEW_SECS} s. An unknown issuer or `kid`, a bad signature, a wrong \
         `aud`, an expired assertion or a replayed `jti`: 401. A registered peer whose MRA record at the \
         asked administration is `negotiating`, `terminated` or absent: 403."
    )
}

pub fn api_doc() -> OpenApi {
    let tags =
        TAGS.iter().map(|(name, description)| TagBuilder::new().name(*name).description(Some(*description)).build());
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("aeo-registry")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(INTRODUCTION))
                .build(),
        )
        .tags(Some(tags.collect::<Vec<_>>()))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("The `access_token` that `POST /api/v1/auth/login` answers."))
                .build(),
        ),
    );
    components.add_security_scheme(
        PEER_ASSERTION,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT (EdDSA)")
                .description(Some(peer_assertion_description()))
                .build(),
        ),
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
    let document = document(&openapi);
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
const PARAMETER_ANSWER: (&str, &str) = ("422", "A path or query parameter is invalid; `errors` names it.");
const QUERY_ANSWER: (&str, &str) = ("400", "The query string is not well-formed (bad percent-encoding, say).");
const NOT_FOUND_ANSWER: (&str, &str) = ("404", "No such administration here, or nothing under this path.");
const UNAVAILABLE_ANSWER: (&str, &str) =
    ("503", "The database did not answer in time, or the node is shutting down; retry after `Retry-After` seconds.");

/// What a route secured by `scheme` answers when the credential is missing or refused (401), and
/// when it is good but does not allow the call (403).
fn refusals(scheme: &str) -> [(&'static str, &'static str); 2] {
    if scheme == PEER_ASSERTION {
        [
            (
                "401",
                "No valid peer assertion: missing or malformed, an unknown issuer or `kid`, a bad signature, \
                 a wrong `aud`, expired, or a replayed `jti`.",
            ),
            (
                "403",
                "The caller is a registered peer, but its MRA record here is `negotiating`, `terminated` or absent.",
            ),
        ]
    } else {
        [
            ("401", "No valid access token (`Authorization: Bearer`, from `POST /api/v1/auth/login`)."),
            ("403", "The caller's role or administration does not allow this."),
        ]
    }
}

/// An administration code in a path (`code`, `partner`, `peer`), as `AdministrationCode` reads it.
pub const ADMINISTRATION_CODE_PATTERN: &str = "^[A-Z]{2}(-[A-Z0-9]{1,8})?$";

/// The served document: the generated one, completed.
pub fn document(openapi: &OpenApi) -> Value {
    let mut document = serde_json::to_value(openapi).unwrap_or_default();
    complete(&mut document);
    document
}

/// Completes the generated document with what every route shares: errors are
/// `application/problem+json`, the common error answers are listed per operation, the
/// administration codes in paths carry their pattern, the request bodies written out in
/// `schemas` take their placeholders' places, and every request body says what it does with
/// unknown fields. Done on the JSON form because utoipa's builders cannot walk every operation
/// in place, nor state every JSON Schema keyword.
fn complete(document: &mut Value) {
    let schemas = &mut document["components"]["schemas"];
    for (name, schema) in super::schemas::written() {
        schemas[name] = schema;
    }
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        let Some(operation) = operation.as_object_mut() else { continue };
        let scheme = operation
            .get("security")
            .and_then(Value::as_array)
            .and_then(|requirements| requirements.first())
            .and_then(Value::as_object)
            .and_then(|requirement| requirement.keys().next().cloned());
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
        if let Some(scheme) = &scheme {
            wanted.extend(refusals(scheme));
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
        }
        for (status, answer) in responses.iter_mut() {
            if answer["description"] == "" {
                let reason = status.parse().ok().and_then(|code| StatusCode::from_u16(code).ok()?.canonical_reason());
                answer["description"] = json!(reason.unwrap_or("See the route's description."));
            }
            if status.as_str() >= "400" {
                answer["content"] =
                    json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
            }
            if matches!(status.as_str(), "429" | "503") {
                answer["headers"] = json!({"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}});
            }
            if status == "401" {
                answer["headers"] =
                    json!({"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}});
            }
        }
    }
    state_unknown_fields(document);
}

/// Says of every object a request body holds what the server does with fields it does not
/// know. serde ignores them unless a type says `deny_unknown_fields`, which the derive already
/// states as `additionalProperties: false`; everywhere else that is `true`, written out.
fn state_unknown_fields(document: &mut Value) {
    let mut pending = Vec::new();
    let bodies = document["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("requestBody"))
        .filter_map(|body| body.get_mut("content").and_then(Value::as_object_mut))
        .flat_map(|content| content.values_mut())
        .filter_map(|media| media.get_mut("schema"));
    for schema in bodies {
        allow_unknown_fields(schema, &mut pending);
    }
    let mut done = std::collections::BTreeSet::new();
    while let Some(name) = pending.pop() {
        if done.insert(name.clone())
            && let Some(schema) = document["components"]["schemas"].get_mut(&name)
        {
            allow_unknown_fields(schema, &mut pending);
        }
    }
}

/// Writes `additionalProperties: true` on every object schema in `schema` that does not say,
/// and collects the component schemas it refers to.
fn allow_unknown_fields(schema: &mut Value, refs: &mut Vec<String>) {
    let Some(object) = schema.as_object_mut() else { return };
    if let Some(name) = object.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        refs.push(name.to_owned());
    }
    let is_object = object.contains_key("properties")
        || match object.get("type") {
            Some(Value::String(kind)) => kind == "object",
            Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "object"),
            _ => false,
        };
    if is_object {
        object.entry("additionalProperties").or_insert(Value::Bool(true));
    }
    for (keyword, inner) in object.iter_mut() {
        match keyword.as_str() {
            "properties" => inner
                .as_object_mut()
                .into_iter()
                .flat_map(|p| p.values_mut())
                .for_each(|p| allow_unknown_fields(p, refs)),
            "items" | "not" => allow_unknown_fields(inner, refs),
            "anyOf" | "oneOf" | "allOf" => {
                inner.as_array_mut().into_iter().flatten().for_each(|branch| allow_unknown_fields(branch, refs))
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn served() -> Value {
        let (_, openapi) = crate::api::documented(Duration::from_secs(1), Duration::from_secs(1)).split_for_parts();
        document(&openapi)
    }

    /// Why `text` would not render as its author meant in Swagger UI's Markdown (CommonMark,
    /// with tables): HTML-looking text, unclosed code spans, rustdoc links, bare URLs, lists
    /// and tables glued to a paragraph, indented lines taken as code.
    fn markdown_problems(text: &str) -> Vec<String> {
        let mut problems = Vec::new();
        for paragraph in text.split("\n\n") {
            if paragraph.matches('`').count() % 2 == 1 {
                problems.push(format!("an unclosed code span in {paragraph:?}"));
                continue;
            }
            // Outside code spans: the odd pieces of a split on backticks are code.
            for (i, prose) in paragraph.split('`').enumerate().filter(|(i, _)| i % 2 == 0) {
                let _ = i;
                if prose.contains('<') {
                    problems.push(format!("`<` outside a code span (read as HTML): {prose:?}"));
                }
                let mut rest = prose;
                while let Some(at) = rest.find('[') {
                    let link = &rest[at..];
                    let well_formed = link
                        .find("](https://")
                        .is_some_and(|close| !link[1..close].contains(['[', ']']) && link[close..].contains(')'));
                    if !well_formed {
                        problems.push(format!("`[` that does not open a link `[text](https://...)`: {prose:?}"));
                        break;
                    }
                    rest = &link[1..];
                }
                let bare = prose.match_indices("http").any(|(at, _)| !prose[..at].ends_with("]("));
                if bare {
                    problems.push(format!("a bare URL (not a link): {prose:?}"));
                }
            }
            let lines: Vec<&str> = paragraph.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let block = |l: &str| {
                    if l.starts_with("- ") {
                        Some('-')
                    } else if l.starts_with('|') {
                        Some('|')
                    } else {
                        None
                    }
                };
                if let (Some(kind), Some(before)) = (block(line), i.checked_sub(1).map(|b| lines[b]))
                    && block(before) != Some(kind)
                {
                    problems.push(format!("a list or table line glued to the paragraph above: {line:?}"));
                }
                if line.starts_with("    ") {
                    problems.push(format!("an indented line, shown as code: {line:?}"));
                }
            }
        }
        problems
    }

    /// Every `description` and `summary` of `value`, with where it is.
    fn prose<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a str, &'a str)>) {
        match value {
            Value::Object(members) => {
                for (key, inner) in members {
                    match (key.as_str(), inner) {
                        ("description" | "summary", Value::String(text)) => out.push((at.clone(), key, text)),
                        _ => prose(inner, format!("{at}/{key}"), out),
                    }
                }
            }
            Value::Array(items) => items.iter().enumerate().for_each(|(i, item)| prose(item, format!("{at}/{i}"), out)),
            _ => {}
        }
    }

    #[test]
    fn every_description_in_the_document_is_markdown_that_renders() {
        let document = served();
        let mut texts = Vec::new();
        prose(&document, String::new(), &mut texts);
        assert!(texts.len() > 200, "only {} descriptions found", texts.len());
        let mut problems = Vec::new();
        for (at, key, text) in texts {
            if key == "summary" {
                // Swagger UI shows a summary as plain text, on one line.
                if text.contains(['\n', '`', '[', '<']) {
                    problems.push(format!("{at}: a summary that is not one line of plain text: {text:?}"));
                }
            } else {
                problems.extend(markdown_problems(text).into_iter().map(|problem| format!("{at}: {problem}")));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn the_markdown_check_finds_what_would_not_render() {
        let fine = "A [link](https://www.rfc-editor.org/rfc/rfc9457), `code <x>` and `items[0]`.\n\n- one\n- two";
        assert_eq!(markdown_problems(fine), Vec::<String>::new());
        for broken in [
            "Send `If-Match: \"<version>\"` or If-Match: <version>.",
            "An `unclosed code span.",
            "As in [`CheckpointAnswer`], say.",
            "See https://www.rfc-editor.org/rfc/rfc9457.",
            "A paragraph:\n- then a list",
            "A paragraph.\n    shown as code",
        ] {
            assert!(!markdown_problems(broken).is_empty(), "{broken:?} passed");
        }
    }

    #[test]
    fn the_written_request_schemas_take_their_placeholders_places() {
        let document = served().to_string();
        assert!(!document.contains(crate::api::schemas::PLACEHOLDER), "a placeholder is left in the document");
        let document: Value = serde_json::from_str(&document).expect("json");
        for (name, schema) in crate::api::schemas::written() {
            assert_eq!(document["components"]["schemas"][name], schema, "{name}");
            assert!(document.to_string().contains(&format!("\"#/components/schemas/{name}\"")), "{name} is never used");
        }
    }

    #[test]
    fn the_peer_assertion_describes_every_claim() {
        let document = served();
        let scheme = &document["components"]["securitySchemes"][PEER_ASSERTION];
        assert_eq!(scheme["type"], "http");
        assert_eq!(scheme["scheme"], "bearer");
        let description = scheme["description"].as_str().expect("a description");
        for claim in ["iss", "sub", "aud", "iat", "exp", "jti", "kid"] {
            assert!(description.contains(&format!("`{claim}`")), "{claim} is not described");
        }
        assert!(description.contains("`alg: EdDSA`"), "{description}");
    }
}
