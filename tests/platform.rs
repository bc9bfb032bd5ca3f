//! The platform around the resources: health and readiness, the OpenAPI document, problem+json
//! on every error path, request ids, MRA records, the audit log and behaviour under load.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{Backend, Node, Reply};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// What no response body may reveal: Rust type names, SQL, driver names or stack traces.
const LEAKS: [&str; 12] = [
    "struct ",
    "alloc::",
    "::",
    "SELECT",
    "INSERT",
    "sqlx",
    "sea_orm",
    "SqliteError",
    "panicked",
    "backtrace",
    "stack backtrace",
    "src/",
];

#[track_caller]
fn assert_no_leak(reply: &Reply) {
    let text = reply.body.to_string();
    for word in LEAKS {
        assert!(!text.contains(word), "{} body reveals {word:?}: {text}", reply.status);
    }
}

/// A problem with `status`, which reveals nothing internal and carries a request id.
#[track_caller]
fn problem(reply: &Reply, status: u16) -> Value {
    let body = reply.problem(status).clone();
    assert_no_leak(reply);
    assert!(reply.headers.get("x-request-id").is_some(), "no x-request-id on {}: {}", reply.status, reply.body);
    body
}

fn certificate_body(number: &str) -> Value {
    json!({
        "number": number, "category": "security", "roles": ["exporter"],
        "valid_from": "2024-01-01", "valid_until": "2030-01-01",
        "operator": {
            "name": format!("Operador {number}"),
            "identifiers": [{"scheme": "PE-TIN", "value": number}],
            "address": {"street": "Av. Javier Prado 123", "city": "Lima", "postal_code": "15036", "country": "PE"}
        }
    })
}

fn mra_body() -> Value {
    json!({
        "title": "Acuerdo de Reconocimiento Mutuo Perú-Brasil",
        "status": "signed",
        "signed_on": "2025-03-10",
        "in_force_from": null,
        "categories": ["security"],
        "roles": ["exporter", "importer"]
    })
}

async fn health_and_readiness(backend: Backend) {
    let node = Node::start(backend).await;
    let health = node.get("/health", None).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
    let ready = node.get("/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert!(health.headers.get("x-request-id").is_some());

    // The database goes away: the process still lives, but it is no longer ready.
    node.state.store.db.inner().clone().close().await.expect("close the pool");
    let ready = node.get("/ready", None).await;
    problem(&ready, 503);
    let health = node.get("/health", None).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
}

async fn openapi_lists_every_route(backend: Backend) {
    let node = Node::start(backend).await;
    let reply = node.get("/api/v1/openapi.json", None).await;
    let doc = reply.ok().clone();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "openapi version: {}", doc["openapi"]);
    let expected: &[(&str, &[&str])] = &[
        ("/api/v1/auth/login", &["post"]),
        ("/api/v1/me", &["get"]),
        ("/api/v1/me/certificates", &["get"]),
        ("/api/v1/administrations", &["get", "post"]),
        ("/api/v1/administrations/{code}/users", &["post"]),
        ("/api/v1/administrations/{code}/certificates", &["get", "post"]),
        ("/api/v1/administrations/{code}/certificates/{number}", &["get", "patch"]),
        ("/api/v1/administrations/{code}/certificates/{number}/status", &["post"]),
        ("/api/v1/administrations/{code}/certificates/{number}/history", &["get"]),
        ("/api/v1/administrations/{code}/certificates/import", &["post"]),
        ("/api/v1/administrations/{code}/mras", &["get"]),
        ("/api/v1/administrations/{code}/mras/{partner}", &["get", "put"]),
        ("/api/v1/administrations/{code}/recognition", &["get"]),
        ("/api/v1/public/administrations/{code}/certificates/{number}", &["get"]),
        ("/api/v1/administrations/{code}/audit", &["get"]),
    ];
    let paths = doc["paths"].as_object().expect("paths");
    for (path, methods) in expected {
        let item =
            paths.get(*path).unwrap_or_else(|| panic!("{path} missing from {:?}", paths.keys().collect::<Vec<_>>()));
        for method in *methods {
            assert!(item.get(*method).is_some(), "{method} {path} missing: {item}");
        }
    }

    let docs = node.get("/api/docs/", None).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.content_type().starts_with("text/html"), "{}", docs.content_type());
    assert!(docs.body.as_str().expect("html").contains("swagger-ui"));
    let initializer = node.get("/api/docs/swagger-initializer.js", None).await;
    assert!(initializer.body.as_str().expect("script").contains("/api/v1/openapi.json"));
}

/// Every operation of the document: method, path and the operation.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            all.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    all
}

/// The schema a `$ref` names, or the schema itself.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &document["components"]["schemas"][name],
        None => schema,
    }
}

fn names(list: &Value) -> BTreeSet<&str> {
    list.as_array().expect("a list").iter().map(|v| v.as_str().expect("a string")).collect()
}

/// What the federation routes are: (method, path, whether a peer assertion is needed).
const FEDERATION_ROUTES: [(&str, &str, bool); 9] = [
    ("get", "/.well-known/aeo-registry", false),
    ("get", "/federation/v1/administrations/{code}/jwks.json", false),
    ("get", "/federation/v1/administrations/{code}/certificates", true),
    ("get", "/federation/v1/administrations/{code}/certificates/{number}", true),
    ("get", "/federation/v1/administrations/{code}/statements", true),
    ("get", "/federation/v1/administrations/{code}/changes", true),
    ("get", "/federation/v1/administrations/{code}/checkpoint", true),
    ("post", "/federation/v1/administrations/{code}/events", true),
    ("get", "/federation/v1/administrations/{code}/recognition", true),
];

async fn the_document_describes_every_federation_route_and_the_peer_assertion(backend: Backend) {
    let node = Node::start(backend).await;
    let document = node.get("/api/v1/openapi.json", None).await.ok().clone();

    let scheme = &document["components"]["securitySchemes"]["peer_assertion"];
    assert_eq!((scheme["type"].as_str(), scheme["scheme"].as_str()), (Some("http"), Some("bearer")), "{scheme}");
    let described = scheme["description"].as_str().expect("the assertion is described");
    for claim in ["iss", "sub", "aud", "iat", "exp", "jti"] {
        assert!(described.contains(&format!("| `{claim}` |")), "the claim {claim} is not in the table: {described}");
    }

    let documented: BTreeSet<(String, String)> = operations(&document)
        .into_iter()
        .filter(|(_, path, _)| !path.starts_with("/api/v1/"))
        .map(|(method, path, _)| (method, path))
        .collect();
    let expected: BTreeSet<(String, String)> =
        FEDERATION_ROUTES.iter().map(|(method, path, _)| (method.to_string(), path.to_string())).collect();
    assert_eq!(documented, expected);

    for (method, path, asserted) in FEDERATION_ROUTES {
        let operation = &document["paths"][path][method];
        assert_eq!(operation["tags"], json!(["federation"]), "{method} {path}");
        let ok = &operation["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(resolve(&document, ok)["properties"].is_object(), "{method} {path}: 200 has no schema: {ok}");
        if asserted {
            assert_eq!(operation["security"], json!([{"peer_assertion": []}]), "{method} {path}");
            for status in ["401", "403", "404", "422"] {
                let answer = &operation["responses"][status];
                assert!(answer["description"].as_str().is_some_and(|d| !d.is_empty()), "{method} {path} {status}");
                assert_eq!(
                    answer["content"],
                    json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}),
                    "{method} {path} {status}"
                );
            }
        } else {
            assert!(operation.get("security").is_none(), "{method} {path} is public");
        }
    }
    let events = &document["paths"]["/federation/v1/administrations/{code}/events"]["post"];
    let body = resolve(&document, &events["requestBody"]["content"]["application/json"]["schema"]);
    assert_eq!(names(&body["required"]), BTreeSet::from(["items"]));
    assert_eq!(body["additionalProperties"], true);

    // What the document says is what the node answers: without an assertion, and with a
    // person's access token in its place, every asserted route refuses with 401 problem+json.
    let token = node.token("admin@cl.demo.aeo").await;
    for (method, path, asserted) in FEDERATION_ROUTES.iter().filter(|(_, _, asserted)| *asserted) {
        let _ = asserted;
        let url = path.replace("{code}", "CL").replace("{number}", "CL-OEA-0001")
            + match *path {
                "/federation/v1/administrations/{code}/certificates" => "?identifier=CL-RUT:76086428-5",
                "/federation/v1/administrations/{code}/recognition" => "?issuer=CL&certificate=CL-OEA-0001",
                _ => "",
            };
        for credential in [None, Some(token.as_str())] {
            let reply = match *method {
                "post" => node.send(Method::POST, &url, credential, Some(json!({"items": []}))).await,
                _ => node.get(&url, credential).await,
            };
            problem(&reply, 401);
            assert_eq!(reply.headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"), "{url}");
        }
    }
    // The public ones answer what their schemas say.
    let discovery = node.get("/.well-known/aeo-registry", None).await;
    let codes: Vec<&str> =
        discovery.ok()["administrations"].as_array().expect("list").iter().filter_map(|a| a["code"].as_str()).collect();
    assert!(codes.contains(&"CL"), "{}", discovery.body);
    let keys = node.get("/federation/v1/administrations/CL/jwks.json", None).await;
    let key = &keys.ok()["keys"][0];
    let required = &document["components"]["schemas"]["PublishedKey"]["required"];
    for field in names(required) {
        assert!(key[field].is_string(), "{field} missing from {key}");
    }
    problem(&node.get("/federation/v1/administrations/ZZ/jwks.json", None).await, 404);
    problem(&node.get("/federation/v1/administrations/cl/jwks.json", None).await, 422);
}

async fn the_certificate_and_mra_bodies_are_documented_as_the_server_reads_them(backend: Backend) {
    let node = Node::start(backend).await;
    let document = node.get("/api/v1/openapi.json", None).await.ok().clone();
    let body_of = |method: &str, path: &str, media: &str| {
        let operation = &document["paths"][path][method];
        resolve(&document, &operation["requestBody"]["content"][media]["schema"]).clone()
    };
    let schema = |name: &str| document["components"]["schemas"][name].clone();

    let create = body_of("post", "/api/v1/administrations/{code}/certificates", "application/json");
    assert_eq!(
        names(&create["required"]),
        BTreeSet::from(["category", "roles", "valid_from", "valid_until", "operator"])
    );
    assert_eq!(create["additionalProperties"], true);
    let properties = &create["properties"];
    assert_eq!(names(&properties["category"]["enum"]), BTreeSet::from(["security", "simplification", "full"]));
    assert_eq!(properties["roles"]["minItems"], 1);
    assert_eq!(properties["roles"]["items"]["enum"].as_array().map(Vec::len), Some(10));
    for date in ["valid_from", "valid_until"] {
        assert_eq!(properties[date]["format"], "date", "{date}");
    }
    assert_eq!(properties["number"]["type"], json!(["string", "null"]));
    let operator = resolve(&document, &properties["operator"]);
    assert_eq!(names(&operator["required"]), BTreeSet::from(["name", "identifiers", "address"]));
    assert_eq!(operator["additionalProperties"], true);
    let identifier = schema("IdentifierInput");
    assert_eq!(names(&identifier["required"]), BTreeSet::from(["scheme", "value"]));
    let schemes = names(&identifier["properties"]["scheme"]["anyOf"][0]["enum"]);
    assert_eq!(schemes, BTreeSet::from(["CL-RUT", "CO-NIT", "MX-RFC", "PE-RUC", "EORI", "LEI"]));
    assert_eq!(names(&schema("AddressInput")["required"]), BTreeSet::from(["street", "city", "country"]));
    let import =
        &document["paths"]["/api/v1/administrations/{code}/certificates/import"]["post"]["requestBody"]["content"];
    assert_eq!(import["application/json"]["schema"]["items"]["$ref"], "#/components/schemas/CertificateInput");
    assert!(import["text/csv"].is_object(), "{import}");

    // The server takes what the document offers, unknown fields and all (`additionalProperties`).
    let officer = node.token("officer@cl.demo.aeo").await;
    let mut certificate = create["examples"][0].clone();
    certificate["number"] = json!("CL-DOC-0001");
    certificate["not_a_field"] = json!({"ignored": true});
    certificate["operator"]["address"]["floor"] = json!(3);
    let path = "/api/v1/administrations/CL/certificates";
    let created = node.send(Method::POST, path, Some(&officer), Some(certificate.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    // ... and refuses a body without a field the document requires, naming it.
    for field in names(&create["required"]) {
        let mut incomplete = certificate.clone();
        incomplete["number"] = json!(format!("CL-DOC-{field}").to_uppercase().replace('_', "-"));
        incomplete.as_object_mut().expect("object").remove(field);
        let reply = node.send(Method::POST, path, Some(&officer), Some(incomplete)).await;
        problem(&reply, 422);
        assert!(reply.fields().contains(&field.to_string()), "{field}: {}", reply.body);
    }

    // A merge patch may not hold what the document says it may not.
    let patch =
        body_of("patch", "/api/v1/administrations/{code}/certificates/{number}", "application/merge-patch+json");
    assert_eq!(patch["additionalProperties"], true);
    assert_eq!(patch["properties"]["status"]["not"], json!({}));
    let patched = node
        .send_raw(
            Method::PATCH,
            "/api/v1/administrations/CL/certificates/CL-DOC-0001",
            Some(&officer),
            "application/merge-patch+json",
            json!({"status": "revoked"}).to_string().into_bytes(),
            &[],
        )
        .await;
    problem(&patched, 422);
    assert_eq!(patched.fields(), ["status"]);

    let mra = body_of("put", "/api/v1/administrations/{code}/mras/{partner}", "application/json");
    assert_eq!(names(&mra["required"]), BTreeSet::from(["title", "status"]));
    assert_eq!(mra["additionalProperties"], true);
    assert_eq!(
        names(&mra["properties"]["status"]["enum"]),
        BTreeSet::from(["negotiating", "signed", "in_force", "suspended", "terminated"])
    );
    let admin = node.token("admin@cl.demo.aeo").await;
    let mut record = mra["examples"][0].clone();
    record["unknown"] = json!("ignored");
    let put = node.send(Method::PUT, "/api/v1/administrations/CL/mras/AR", Some(&admin), Some(record)).await;
    put.ok();
}

/// Walks a request body schema: every object it holds must say what is done with unknown fields.
fn unstated_unknown_fields(
    document: &Value,
    schema: &Value,
    at: &str,
    seen: &mut BTreeSet<String>,
    out: &mut Vec<String>,
) {
    if !schema.is_object() {
        return;
    }
    if let Some(name) = schema["$ref"].as_str() {
        if seen.insert(name.to_owned()) {
            unstated_unknown_fields(document, resolve(document, schema), name, seen, out);
        }
        return;
    }
    let is_object = schema["type"] == "object" || schema["properties"].is_object();
    if is_object && !schema["additionalProperties"].is_boolean() {
        out.push(at.to_owned());
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        unstated_unknown_fields(document, property, &format!("{at}.{name}"), seen, out);
    }
    unstated_unknown_fields(document, &schema["items"], &format!("{at}[]"), seen, out);
    for keyword in ["anyOf", "oneOf", "allOf"] {
        for branch in schema[keyword].as_array().into_iter().flatten() {
            unstated_unknown_fields(document, branch, at, seen, out);
        }
    }
}

async fn every_error_answer_is_documented_as_problem_json(backend: Backend) {
    let node = Node::start_empty(backend).await;
    let document = node.get("/api/v1/openapi.json", None).await.ok().clone();
    let problem_json = json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    let mut wrong = Vec::new();
    let all = operations(&document);
    assert!(all.len() >= 35, "only {} operations", all.len());
    for (method, path, operation) in &all {
        let responses = operation["responses"].as_object().expect("responses");
        for (status, answer) in responses {
            if status.as_str() >= "400" && answer["content"] != problem_json {
                wrong.push(format!("{method} {path} {status}: {}", answer["content"]));
            }
            if answer["description"].as_str().is_none_or(str::is_empty) {
                wrong.push(format!("{method} {path} {status}: no description"));
            }
        }
        let mut expected = vec!["503"];
        if operation["security"].as_array().is_some_and(|s| !s.is_empty()) {
            expected.extend(["401", "403"]);
        }
        if operation.get("requestBody").is_some() {
            expected.extend(["400", "413", "415", "422"]);
        }
        for status in expected {
            if !responses.contains_key(status) {
                wrong.push(format!("{method} {path}: {status} is not documented"));
            }
        }
        for (media, content) in operation["requestBody"]["content"].as_object().into_iter().flatten() {
            let mut unstated = Vec::new();
            unstated_unknown_fields(&document, &content["schema"], "body", &mut BTreeSet::new(), &mut unstated);
            wrong.extend(
                unstated.into_iter().map(|at| format!("{method} {path} {media}: {at} states no additionalProperties")),
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

async fn every_error_is_a_problem(backend: Backend) {
    let node = Node::start(backend).await;
    let border = node.token("border@cl.demo.aeo").await;
    let pe_admin = node.token("admin@pe.demo.aeo").await;

    // Unknown paths.
    for path in ["/api/v1/nothing-here", "/nothing", "/api/v1/administrations/PE/nope"] {
        problem(&node.get(path, Some(&border)).await, 404);
    }

    // A method the resource does not have.
    let reply = node.send(Method::DELETE, "/api/v1/administrations/CL/certificates", Some(&border), None).await;
    problem(&reply, 405);
    let allow =
        reply.headers.get("allow").and_then(|v| v.to_str().ok()).expect("Allow header on 405").to_ascii_uppercase();
    assert!(allow.contains("GET") && allow.contains("POST"), "Allow: {allow}");

    let login = |body: &'static [u8]| {
        node.send_raw(Method::POST, "/api/v1/auth/login", None, "application/json", body.to_vec(), &[])
    };
    // Malformed JSON, and trailing garbage after a valid value.
    problem(&login(b"{\"email\": ").await, 400);
    problem(&login(b"{not json}").await, 400);
    problem(&login(b"{\"email\":\"border@pe.demo.aeo\",\"password\":\"demo-password-2026\"} trailing").await, 400);
    problem(&login(b"{\"email\":\"a@b.cd\",\"password\":\"x\"}{\"again\":1}").await, 400);
    // Well-formed JSON of the wrong shape names the whole body or the field.
    let reply = login(b"[]").await;
    problem(&reply, 422);
    assert_eq!(reply.fields(), vec!["body"], "{}", reply.body);
    let reply = login(b"\"text\"").await;
    problem(&reply, 422);
    assert_eq!(reply.fields(), vec!["body"], "{}", reply.body);
    let reply = login(b"{\"email\": 5, \"password\": \"x\"}").await;
    problem(&reply, 422);
    assert_eq!(reply.fields(), vec!["email"], "{}", reply.body);
    let reply = login(b"{\"email\": \"a@b.cd\"}").await;
    problem(&reply, 422);
    let reply = node
        .send_raw(
            Method::PUT,
            "/api/v1/administrations/PE/mras/BR",
            Some(&pe_admin),
            "application/json",
            b"[]".to_vec(),
            &[],
        )
        .await;
    problem(&reply, 422);
    assert_eq!(reply.fields(), vec!["body"], "{}", reply.body);
    let reply = node
        .send_raw(
            Method::PUT,
            "/api/v1/administrations/PE/mras/BR",
            Some(&pe_admin),
            "application/json",
            b"{\"title\": [1], \"status\": {}}".to_vec(),
            &[],
        )
        .await;
    problem(&reply, 422);
    // A body not declared as JSON.
    problem(&node.send_raw(Method::POST, "/api/v1/auth/login", None, "text/plain", b"hello".to_vec(), &[]).await, 415);

    // Bodies over 1 MiB.
    let mut big = b"{\"email\": \"".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1024 * 1024 + 64 * 1024));
    big.extend(b"\", \"password\": \"x\"}");
    let reply = node.send_raw(Method::POST, "/api/v1/auth/login", None, "application/json", big.clone(), &[]).await;
    problem(&reply, 413);
    let mut big_mra = b"{\"title\": \"".to_vec();
    big_mra.extend(std::iter::repeat_n(b'a', 1024 * 1024 + 64 * 1024));
    big_mra.extend(b"\", \"status\": \"signed\"}");
    let reply = node
        .send_raw(Method::PUT, "/api/v1/administrations/PE/mras/BR", Some(&pe_admin), "application/json", big_mra, &[])
        .await;
    problem(&reply, 413);
    // Nothing was written by the rejected request.
    problem(&node.get("/api/v1/administrations/PE/mras/BR", Some(&pe_admin)).await, 404);

    // Quotes and SQL in path segments are just numbers that do not exist, or codes that cannot.
    for path in [
        "/api/v1/administrations/CL/certificates/%27%20OR%201=1--",
        "/api/v1/administrations/CL/certificates/%22",
        "/api/v1/administrations/CL/certificates/%27%3B%20DROP%20TABLE%20certificates%3B--/history",
        "/api/v1/public/administrations/CL/certificates/%27%20OR%20%271%27=%271",
    ] {
        problem(&node.get(path, Some(&border)).await, 404);
    }
    for (path, field) in [
        ("/api/v1/administrations/CL/mras/%27", "partner"),
        ("/api/v1/administrations/CL/mras/%22%20OR%20%221%22=%221", "partner"),
        ("/api/v1/administrations/%27/certificates", "code"),
    ] {
        let reply = node.get(path, Some(&border)).await;
        problem(&reply, 422);
        assert_eq!(reply.fields(), vec![field], "{path}: {}", reply.body);
    }
    // And in query strings they are searched for, or named as invalid: never a 500.
    for query in [
        "q=%27%22%3B--",
        "q=%25",
        "q=_",
        "q=%27%20OR%201=1--",
        "status=%27",
        "category=%22%3B",
        "role=%27--",
        "limit=%27",
        "cursor=%27",
    ] {
        let reply = node.get(&format!("/api/v1/administrations/CL/certificates?{query}"), Some(&border)).await;
        match reply.status.as_u16() {
            200 => {
                let items = reply.body["items"].as_array().expect("items");
                assert!(items.is_empty(), "{query} matched {} certificates", items.len());
            }
            422 => {
                problem(&reply, 422);
                let field = query.split('=').next().unwrap_or_default();
                assert_eq!(reply.fields(), vec![field], "{query}: {}", reply.body);
            }
            other => panic!("{query}: unexpected {other}: {}", reply.body),
        }
    }
    // The injection did not wipe anything.
    let all = node.get("/api/v1/administrations/CL/certificates?limit=500", Some(&border)).await;
    assert_eq!(all.ok()["items"].as_array().expect("items").len(), 30);

    // Unauthenticated and forged credentials.
    problem(&node.get("/api/v1/administrations/CL/certificates", None).await, 401);
    problem(&node.get("/api/v1/administrations/CL/certificates", Some("not.a.token")).await, 401);
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let node = Node::start(backend).await;
    let border = node.token("border@pe.demo.aeo").await;
    let mut seen = std::collections::HashSet::new();
    for (method, path, token) in [
        (Method::GET, "/health", None),
        (Method::GET, "/ready", None),
        (Method::GET, "/api/v1/openapi.json", None),
        (Method::GET, "/api/v1/me", Some(border.as_str())),
        (Method::GET, "/api/v1/me", None),
        (Method::GET, "/api/v1/nowhere", None),
        (Method::DELETE, "/api/v1/administrations/PE/certificates", Some(border.as_str())),
        (Method::GET, "/api/v1/administrations/PE/certificates/PE-OEA-0001", Some(border.as_str())),
    ] {
        let generated = node.send(method.clone(), path, token, None).await;
        let id = generated
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{method} {path}: no x-request-id"));
        assert!(!id.is_empty(), "{method} {path}: empty x-request-id");
        assert!(seen.insert(id.to_owned()), "{method} {path}: request id {id} given twice");
        if !generated.status.is_success() {
            assert_no_leak(&generated);
        }

        for (header, value) in
            [("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"), ("referrer-policy", "no-referrer")]
        {
            assert_eq!(generated.headers.get(header).and_then(|v| v.to_str().ok()), Some(value), "{method} {path}");
        }
        assert_eq!(
            generated.headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{method} {path}: answers about certificates and people stay out of caches"
        );

        let mine = format!("test-{}", path.len());
        let echoed =
            node.send_raw(method.clone(), path, token, "", Vec::new(), &[("x-request-id", mine.as_str())]).await;
        assert_eq!(
            echoed.headers.get("x-request-id").and_then(|v| v.to_str().ok()),
            Some(mine.as_str()),
            "{method} {path} does not echo the request id"
        );
    }
}

async fn a_public_key_set_may_be_cached_and_keeps_the_other_headers(backend: Backend) {
    let node = Node::start(backend).await;
    let reply = node.send(Method::GET, "/federation/v1/administrations/CL/jwks.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let header = |name: &str| reply.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header("cache-control").as_deref(), Some("public, max-age=60"));
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
}

async fn mra_records(backend: Backend) {
    let node = Node::start(backend).await;
    let admin = node.token("admin@pe.demo.aeo").await;
    let officer = node.token("officer@pe.demo.aeo").await;
    let border = node.token("border@pe.demo.aeo").await;
    let auditor = node.token("auditor@pe.demo.aeo").await;
    let list_path = "/api/v1/administrations/PE/mras";

    // The demo records of PE.
    let demo = node.get(list_path, Some(&border)).await.ok().clone();
    let demo = demo["items"].as_array().expect("list");
    let partners: Vec<&str> = demo.iter().filter_map(|m| m["partner"].as_str()).collect();
    assert_eq!(partners, vec!["CL", "CO", "KR", "MX"]);
    for record in demo {
        match record["partner"].as_str() {
            Some("KR") => assert_eq!(record["status"], "negotiating", "{record}"),
            _ => {
                assert_eq!(record["status"], "in_force", "{record}");
                assert_eq!(record["signed_on"], "2018-07-21", "{record}");
            }
        }
    }

    // Create, then replace.
    let created = node.send(Method::PUT, "/api/v1/administrations/PE/mras/BR", Some(&admin), Some(mra_body())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    for key in ["partner", "title", "status", "signed_on", "in_force_from", "categories", "roles"] {
        assert!(created.body.get(key).is_some(), "{key} missing: {}", created.body);
    }
    assert_eq!(created.body["partner"], "BR");
    assert_eq!(created.body["status"], "signed");
    assert_eq!(created.body["signed_on"], "2025-03-10");
    assert!(created.body["in_force_from"].is_null());
    assert_eq!(created.body["categories"], json!(["security"]));
    assert_eq!(created.body["roles"], json!(["importer", "exporter"]));

    let mut changed = mra_body();
    changed["status"] = json!("in_force");
    changed["in_force_from"] = json!("2026-01-01");
    changed["categories"] = json!(["security", "full"]);
    changed["roles"] = json!([]);
    let replaced = node.send(Method::PUT, "/api/v1/administrations/PE/mras/BR", Some(&admin), Some(changed)).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.body["status"], "in_force");
    assert_eq!(replaced.body["in_force_from"], "2026-01-01");
    assert_eq!(replaced.body["roles"], json!([]));

    // Read by every role of PE that may read.
    for token in [&admin, &officer, &border, &auditor] {
        let list = node.get(list_path, Some(token)).await.ok().clone();
        let partners: Vec<&str> =
            list["items"].as_array().expect("list").iter().filter_map(|m| m["partner"].as_str()).collect();
        assert_eq!(partners, vec!["BR", "CL", "CO", "KR", "MX"]);
    }
    for token in [&border, &auditor] {
        let one = node.get("/api/v1/administrations/PE/mras/BR", Some(token)).await;
        assert_eq!(one.ok()["title"], mra_body()["title"]);
        assert_eq!(one.body["status"], "in_force");
    }
    problem(&node.get("/api/v1/administrations/PE/mras/AR", Some(&border)).await, 404);
    // Another administration's records are not visible.
    problem(&node.get("/api/v1/administrations/CL/mras/PE", Some(&border)).await, 404);

    // Invalid bodies name each field.
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            {
                let mut b = mra_body();
                b["status"] = json!("active");
                b
            },
            vec!["status"],
        ),
        (
            {
                let mut b = mra_body();
                b["roles"] = json!(["pilot"]);
                b
            },
            vec!["roles[0]"],
        ),
        (
            {
                let mut b = mra_body();
                b["categories"] = json!(["security", "gold"]);
                b
            },
            vec!["categories[1]"],
        ),
        (
            {
                let mut b = mra_body();
                b["in_force_from"] = json!("2025-03-09");
                b
            },
            vec!["in_force_from"],
        ),
        (
            {
                let mut b = mra_body();
                b.as_object_mut().expect("object").remove("title");
                b
            },
            vec!["title"],
        ),
        (
            {
                let mut b = mra_body();
                b["signed_on"] = json!("2025-02-30");
                b
            },
            vec!["signed_on"],
        ),
        (
            json!({"status": "sometimes", "roles": ["exporter", "pilot"], "categories": ["gold"]}),
            vec!["title", "status", "categories[0]", "roles[1]"],
        ),
    ];
    for (body, expected) in cases {
        let reply =
            node.send(Method::PUT, "/api/v1/administrations/PE/mras/AR", Some(&admin), Some(body.clone())).await;
        problem(&reply, 422);
        let mut fields = reply.fields();
        fields.sort();
        let mut expected: Vec<String> = expected.into_iter().map(str::to_owned).collect();
        expected.sort();
        assert_eq!(fields, expected, "{body}: {}", reply.body);
    }
    // An administration has no arrangement with itself, in any spelling.
    for partner in ["PE", "pe"] {
        let reply = node
            .send(Method::PUT, &format!("/api/v1/administrations/PE/mras/{partner}"), Some(&admin), Some(mra_body()))
            .await;
        problem(&reply, 422);
        assert_eq!(reply.fields(), vec!["partner"], "{partner}: {}", reply.body);
    }
    // Nothing invalid was written.
    problem(&node.get("/api/v1/administrations/PE/mras/AR", Some(&admin)).await, 404);

    // Only the customs_admin writes.
    for token in [&officer, &border, &auditor] {
        let reply = node.send(Method::PUT, "/api/v1/administrations/PE/mras/BR", Some(token), Some(mra_body())).await;
        problem(&reply, 403);
    }
    // And only its own administration's records.
    let cl_admin = node.token("admin@cl.demo.aeo").await;
    problem(
        &node.send(Method::PUT, "/api/v1/administrations/PE/mras/BR", Some(&cl_admin), Some(mra_body())).await,
        404,
    );
    let unchanged = node.get("/api/v1/administrations/PE/mras/BR", Some(&admin)).await;
    assert_eq!(unchanged.ok()["status"], "in_force");
}

async fn audit_log(backend: Backend) {
    let node = Node::start(backend).await;
    let admin = node.token("admin@pe.demo.aeo").await;
    let officer = node.token("officer@pe.demo.aeo").await;
    let border = node.token("border@pe.demo.aeo").await;
    let auditor = node.token("auditor@pe.demo.aeo").await;
    let cl_auditor = node.token("auditor@cl.demo.aeo").await;

    node.send(
        Method::POST,
        "/api/v1/administrations/PE/certificates",
        Some(&officer),
        Some(certificate_body("PE-AUDIT-1")),
    )
    .await
    .ok();
    node.send(
        Method::POST,
        "/api/v1/administrations/PE/certificates/PE-AUDIT-1/status",
        Some(&officer),
        Some(json!({"status": "suspended", "reason": "Inspección pendiente"})),
    )
    .await
    .ok();
    node.send(Method::PUT, "/api/v1/administrations/PE/mras/BR", Some(&admin), Some(mra_body())).await.ok();
    let user = node
        .send(
            Method::POST,
            "/api/v1/administrations/PE/users",
            Some(&admin),
            Some(json!({"email": "new.border@pe.demo.aeo", "password": "a-long-password-2026", "role": "border_officer"})),
        )
        .await;
    assert_eq!(user.status, StatusCode::CREATED, "{}", user.body);
    let user_id = user.body["id"].as_i64().expect("user id");

    let path = "/api/v1/administrations/PE/audit";
    let all = node.get(path, Some(&auditor)).await.ok().clone();
    assert!(all["next_cursor"].is_null(), "{all}");
    let items = all["items"].as_array().expect("items").clone();
    assert!(items.len() >= 4, "{items:?}");
    for item in &items {
        for key in ["at", "actor", "action", "target", "details"] {
            assert!(item.get(key).is_some(), "{key} missing: {item}");
        }
    }
    let head: Vec<(&str, &str, &str)> = items[..4]
        .iter()
        .map(|i| {
            (
                i["action"].as_str().unwrap_or_default(),
                i["actor"].as_str().unwrap_or_default(),
                i["target"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let user_target = format!("users/{user_id}");
    assert_eq!(
        head,
        vec![
            ("user.created", "admin@pe.demo.aeo", user_target.as_str()),
            ("mra.created", "admin@pe.demo.aeo", "mras/BR"),
            ("certificate.status_changed", "officer@pe.demo.aeo", "certificates/PE-AUDIT-1"),
            ("certificate.created", "officer@pe.demo.aeo", "certificates/PE-AUDIT-1"),
        ]
    );
    assert_eq!(items[2]["details"]["to"], "suspended", "{}", items[2]);
    assert_eq!(items[1]["details"]["status"], "signed", "{}", items[1]);
    // Newest first, by time too.
    let times: Vec<chrono::DateTime<chrono::Utc>> =
        items.iter().map(|i| i["at"].as_str().expect("at").parse().expect("RFC 3339 instant")).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    // The password is not in the log.
    assert!(!all.to_string().contains("a-long-password-2026"));

    // Pages of two, in the same order, with nothing lost or repeated.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit=2&cursor={c}"),
            None => format!("{path}?limit=2"),
        };
        let page = node.get(&url, Some(&auditor)).await.ok().clone();
        let page_items = page["items"].as_array().expect("items").clone();
        assert!(page_items.len() <= 2);
        paged.extend(page_items);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(paged.len() <= items.len(), "paging does not end");
    }
    assert_eq!(paged, items);
    problem(&node.get(&format!("{path}?limit=0"), Some(&auditor)).await, 422);
    problem(&node.get(&format!("{path}?cursor=bogus"), Some(&auditor)).await, 422);

    // Who may read it.
    assert_eq!(node.get(path, Some(&admin)).await.ok()["items"], all["items"]);
    problem(&node.get(path, Some(&officer)).await, 403);
    problem(&node.get(path, Some(&border)).await, 403);
    problem(&node.get(path, Some(&cl_auditor)).await, 404);
    problem(&node.get(path, None).await, 401);
    let trader = node.token("trader@andina.demo.aeo").await;
    problem(&node.get(path, Some(&trader)).await, 404);

    // Nothing of PE in CL's log.
    let cl = node.get("/api/v1/administrations/CL/audit?limit=500", Some(&cl_auditor)).await.ok().to_string();
    for word in ["pe.demo.aeo", "PE-AUDIT-1", "mras/BR", &user_target] {
        assert!(!cl.contains(word), "CL's audit mentions {word}: {cl}");
    }
}

async fn reads_go_on_while_writes_happen(backend: Backend) {
    let node = Arc::new(Node::start(backend).await);
    let border = node.token("border@pe.demo.aeo").await;
    let officer = node.token("officer@pe.demo.aeo").await;
    let numbers = [
        "PE-OEA-0001",
        "PE-OEA-0002",
        "PE-OEA-0003",
        "PE-OEA-0004",
        "PE-OEA-0006",
        "PE-OEA-0008",
        "PE-OEA-0009",
        "PE-OEA-0011",
        "PE-OEA-0012",
        "PE-OEA-0013",
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for number in numbers {
        let node = node.clone();
        let officer = officer.clone();
        tasks.spawn(async move {
            let reply = node
                .send(
                    Method::POST,
                    &format!("/api/v1/administrations/PE/certificates/{number}/status"),
                    Some(&officer),
                    Some(json!({"status": "suspended", "reason": "Revisión simultánea"})),
                )
                .await;
            (format!("status {number}"), reply)
        });
    }
    for i in 0..20 {
        let node = node.clone();
        let border = border.clone();
        tasks.spawn(async move {
            let query = format!("issuer=CL&certificate=CL-OEA-000{}", 1 + i % 4);
            let reply = node.get(&format!("/api/v1/administrations/PE/recognition?{query}"), Some(&border)).await;
            (format!("recognition {query}"), reply)
        });
    }
    let mut answers = 0;
    while let Some(done) = tasks.join_next().await {
        let (what, reply) = done.expect("task");
        assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.body);
        assert!(!reply.body.to_string().contains("locked"), "{what}: {}", reply.body);
        if what.starts_with("recognition") {
            assert_eq!(reply.body["recognized"], true, "{what}: {}", reply.body);
            answers += 1;
        } else {
            assert_eq!(reply.body["status"], "suspended", "{what}: {}", reply.body);
        }
    }
    assert_eq!(answers, 20);
    for number in numbers {
        let reply = node.get(&format!("/api/v1/administrations/PE/certificates/{number}"), Some(&border)).await;
        assert_eq!(reply.ok()["status"], "suspended", "{number}");
    }
}

both_backends!(
    health_and_readiness,
    openapi_lists_every_route,
    the_document_describes_every_federation_route_and_the_peer_assertion,
    the_certificate_and_mra_bodies_are_documented_as_the_server_reads_them,
    every_error_answer_is_documented_as_problem_json,
    every_error_is_a_problem,
    every_response_carries_a_request_id,
    a_public_key_set_may_be_cached_and_keeps_the_other_headers,
    mra_records,
    audit_log,
    reads_go_on_while_writes_happen,
);
