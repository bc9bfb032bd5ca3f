//! Certificates through the API: publishing, validation, search and pagination, JSON Merge
//! Patch with optimistic concurrency, the status lifecycle, history and who may do what.

mod common;

use std::collections::BTreeSet;

use common::{Backend, Node, Reply};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CERTS: &str = "/api/v1/administrations/CL/certificates";
const OFFICER: &str = "officer@cl.demo.aeo";
const ADMIN: &str = "admin@cl.demo.aeo";
const BORDER: &str = "border@cl.demo.aeo";
const AUDITOR: &str = "auditor@cl.demo.aeo";
const MERGE_PATCH: &str = "application/merge-patch+json";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A valid certificate body; `number` omitted when `None`.
fn certificate(number: Option<&str>, name: &str, identifiers: Value) -> Value {
    let mut body = json!({
        "category": "security",
        "roles": ["exporter", "carrier"],
        "valid_from": "2025-03-01",
        "valid_until": "2028-02-28",
        "operator": {
            "name": name,
            "identifiers": identifiers,
            "address": {"street": "Av. Libertad 1200, Of. 5", "city": "Viña del Mar", "postal_code": "2520000", "country": "CL"},
            "public": true
        }
    });
    if let Some(number) = number {
        body["number"] = json!(number);
    }
    body
}

fn tin(value: &str) -> Value {
    json!([{"scheme": "CL-TIN", "value": value}])
}

fn cert_path(number: &str) -> String {
    format!("{CERTS}/{number}")
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn etag(reply: &Reply) -> &str {
    reply.headers.get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default()
}

async fn create(node: &Node, token: &str, body: Value) -> Reply {
    node.send(Method::POST, CERTS, Some(token), Some(body)).await
}

async fn created(node: &Node, token: &str, body: Value) -> Value {
    let reply = create(node, token, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "create: {}", reply.body);
    reply.body
}

async fn fetch(node: &Node, token: &str, number: &str) -> Value {
    node.get(&cert_path(number), Some(token)).await.ok().clone()
}

async fn patch(
    node: &Node,
    token: &str,
    number: &str,
    body: &Value,
    content_type: &str,
    if_match: Option<&str>,
) -> Reply {
    let headers: Vec<(&str, &str)> = if_match.map(|v| ("if-match", v)).into_iter().collect();
    node.send_raw(Method::PATCH, &cert_path(number), Some(token), content_type, body.to_string().into_bytes(), &headers)
        .await
}

async fn set_status(node: &Node, token: &str, number: &str, body: Value) -> Reply {
    node.send(Method::POST, &format!("{}/status", cert_path(number)), Some(token), Some(body)).await
}

async fn history(node: &Node, token: &str, number: &str) -> Vec<Value> {
    let reply = node.get(&format!("{}/history", cert_path(number)), Some(token)).await;
    reply.ok().as_array().expect("history is an array").clone()
}

/// Every certificate the list answers for `query` (e.g. `&status=active`), following cursors.
async fn walk(node: &Node, token: &str, query: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut path = format!("{CERTS}?limit={limit}{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", enc(cursor)));
        }
        let reply = node.get(&path, Some(token)).await;
        let page = reply.ok();
        let page_items = page["items"].as_array().expect("items");
        assert!(page_items.len() <= limit as usize, "a page of {} items for limit {limit}", page_items.len());
        items.extend(page_items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert!(page["next_cursor"].is_null(), "next_cursor: {page}");
                return items;
            }
        }
    }
    panic!("the list never ended");
}

fn numbers(items: &[Value]) -> BTreeSet<String> {
    items.iter().map(|item| item["number"].as_str().expect("number").to_owned()).collect()
}

async fn search(node: &Node, token: &str, query: &str) -> BTreeSet<String> {
    numbers(&walk(node, token, query, 500).await)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The demo data set's CL certificates, as written in `demo/demo.json`.
fn demo_cl() -> Vec<Value> {
    let data: Value = serde_json::from_str(include_str!("../demo/demo.json")).expect("demo data is JSON");
    data["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .filter(|c| c["administration"] == "CL")
        .cloned()
        .collect()
}

/// The status the contract says a demo certificate shows today.
fn derived_status(certificate: &Value) -> &str {
    let stored = certificate["status"].as_str().expect("status");
    let today = chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string();
    let until = certificate["valid_until"].as_str().expect("valid_until");
    match stored {
        "revoked" => "revoked",
        _ if until < today.as_str() => "expired",
        other => other,
    }
}

fn demo_numbers_where(keep: impl Fn(&Value) -> bool) -> BTreeSet<String> {
    demo_cl().iter().filter(|c| keep(c)).map(|c| c["number"].as_str().expect("number").to_owned()).collect()
}

/// A problem body must not leak implementation details.
#[track_caller]
fn assert_no_internals(reply: &Reply) {
    let text = reply.body.to_string();
    for leak in [
        "struct ",
        "Option<",
        "Vec<",
        "String",
        "alloc::",
        "::",
        "CertificateInput",
        "OperatorInput",
        "IdentifierInput",
        "AddressInput",
        "serde",
        "panicked",
        "SELECT",
    ] {
        assert!(!text.contains(leak), "the body leaks {leak:?}: {text}");
    }
}

fn without_volatile(mut certificate: Value) -> Value {
    if let Some(object) = certificate.as_object_mut() {
        object.remove("updated_at");
        object.remove("version");
    }
    certificate
}

// ---------------------------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------------------------

async fn creating_a_certificate_answers_201_with_the_contract_object_and_etag_1(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let body = certificate(
        Some("T-NEW-1"),
        "Exportadora de Prueba SpA",
        json!([{"scheme": "CL-RUT", "value": "76.543.210-3"}]),
    );
    let reply = create(&node, &officer, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert!(reply.content_type().starts_with("application/json"), "{}", reply.content_type());
    assert_eq!(etag(&reply), "\"1\"");
    let c = &reply.body;
    assert_eq!(c["number"], "T-NEW-1");
    assert_eq!(c["administration"], "CL");
    assert_eq!(c["status"], "active");
    assert_eq!(c["category"], "security");
    assert_eq!(c["roles"], json!(["exporter", "carrier"]));
    assert_eq!(c["valid_from"], "2025-03-01");
    assert_eq!(c["valid_until"], "2028-02-28");
    assert!(c.get("status_reason").is_some_and(Value::is_null), "{c}");
    assert_eq!(
        c["operator"],
        json!({
            "name": "Exportadora de Prueba SpA",
            "identifiers": [{"scheme": "CL-RUT", "value": "76543210-3"}],
            "address": {"street": "Av. Libertad 1200, Of. 5", "city": "Viña del Mar", "postal_code": "2520000", "country": "CL"},
            "public": true
        })
    );
    assert_eq!(c["version"], 1);
    let updated_at = c["updated_at"].as_str().expect("updated_at");
    let parsed = chrono::DateTime::parse_from_rfc3339(updated_at).expect("updated_at is RFC 3339");
    assert_eq!(parsed.offset().local_minus_utc(), 0, "updated_at is UTC");
    assert!(updated_at.ends_with('Z'), "{updated_at}");

    let got = node.get(&cert_path("T-NEW-1"), Some(&officer)).await;
    assert_eq!(got.ok(), c);
    assert_eq!(etag(&got), "\"1\"");
    // Numbers are typed by people: lower case finds the same certificate.
    assert_eq!(fetch(&node, &officer, "t-new-1").await["number"], "T-NEW-1");
}

async fn identifiers_are_validated_and_stored_in_their_normalised_spelling(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let written = json!([
        {"scheme": "CL-RUT", "value": "76.543.210-3"},
        {"scheme": "co-nit", "value": "900.123.456-8"},
        {"scheme": "PE-RUC", "value": "20600123450"},
        {"scheme": "LEI", "value": "5493001kjtiigc8y1r12"},
        {"scheme": "EORI", "value": "de 123 456 789"},
        {"scheme": "MX-RFC", "value": "abc-010203-xy9"},
        {"scheme": "AR-TIN", "value": " cuit 30-71234567/8 "}
    ]);
    let c = created(&node, &officer, certificate(Some("T-IDS"), "Multinacional Andina S.A.", written)).await;
    let stored = json!([
        {"scheme": "CL-RUT", "value": "76543210-3"},
        {"scheme": "CO-NIT", "value": "900123456-8"},
        {"scheme": "PE-RUC", "value": "20600123450"},
        {"scheme": "LEI", "value": "5493001KJTIIGC8Y1R12"},
        {"scheme": "EORI", "value": "DE123456789"},
        {"scheme": "MX-RFC", "value": "ABC010203XY9"},
        {"scheme": "AR-TIN", "value": "CUIT 30-71234567/8"}
    ]);
    assert_eq!(c["operator"]["identifiers"], stored);
    assert_eq!(fetch(&node, &officer, "T-IDS").await["operator"]["identifiers"], stored);
    // Found by any of them, as people write them.
    for q in ["76.543.210-3", "765432103", "900123456-8", "de123456789", "5493001KJTIIGC8Y1R12"] {
        assert_eq!(search(&node, &officer, &format!("&q={}", enc(q))).await, set(&["T-IDS"]), "q={q}");
    }
}

async fn an_omitted_number_is_assigned_and_each_assignment_differs(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let first = created(&node, &officer, certificate(None, "Primera Asignada SpA", tin("ASSIGNED-1"))).await;
    let second = created(&node, &officer, certificate(None, "Segunda Asignada SpA", tin("ASSIGNED-2"))).await;
    let (a, b) = (first["number"].as_str().expect("number"), second["number"].as_str().expect("number"));
    for number in [a, b] {
        let digits = number.strip_prefix("CL-AEO-").unwrap_or_else(|| panic!("{number}"));
        assert!(digits.len() == 6 && digits.bytes().all(|d| d.is_ascii_digit()), "{number}");
    }
    assert_ne!(a, b);
    assert_eq!(fetch(&node, &officer, a).await["operator"]["name"], "Primera Asignada SpA");
    assert_eq!(fetch(&node, &officer, b).await["operator"]["name"], "Segunda Asignada SpA");
    // An empty number means the same as none.
    let third = created(&node, &officer, {
        let mut body = certificate(None, "Tercera Asignada SpA", tin("ASSIGNED-3"));
        body["number"] = json!("");
        body
    })
    .await;
    assert!(third["number"].as_str().is_some_and(|n| n.starts_with("CL-AEO-") && n != a && n != b), "{third}");
}

async fn a_taken_number_is_a_conflict_and_changes_nothing(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    for number in ["CL-OEA-0001", "cl-oea-0001"] {
        let reply = create(&node, &officer, certificate(Some(number), "Usurpadora SpA", tin("X-1"))).await;
        reply.problem(409);
    }
    let original = fetch(&node, &officer, "CL-OEA-0001").await;
    assert_eq!(original["operator"]["name"], "Exportadora Andina SpA");
    assert_eq!(original["version"], 1);
    // Taken by an earlier create of this test, too.
    created(&node, &officer, certificate(Some("T-TWICE"), "Primera SpA", tin("T-1"))).await;
    create(&node, &officer, certificate(Some("T-TWICE"), "Segunda SpA", tin("T-2"))).await.problem(409);
    assert_eq!(fetch(&node, &officer, "T-TWICE").await["operator"]["name"], "Primera SpA");
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

async fn every_invalid_field_is_named_in_one_answer(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let body = json!({
        "number": "T-BAD",
        "category": "aeo",
        "roles": ["exporter", "pilot"],
        "valid_from": "2025-01-01",
        "valid_until": "2024-12-31",
        "operator": {
            "name": "   ",
            "identifiers": [
                {"scheme": "CL-RUT", "value": "76.086.428-4"},
                {"scheme": "XX-RUT", "value": "123"},
                {"scheme": "CO-NIT", "value": "800.197.268-5"}
            ],
            "address": {"street": "Calle 1", "city": "Santiago", "country": "Chile"}
        }
    });
    let reply = create(&node, &officer, body).await;
    reply.problem(422);
    let fields: BTreeSet<String> = reply.fields().into_iter().collect();
    assert_eq!(
        fields,
        set(&[
            "category",
            "roles[1]",
            "valid_until",
            "operator.name",
            "operator.identifiers[0].value",
            "operator.identifiers[1].scheme",
            "operator.identifiers[2].value",
            "operator.address.country",
        ]),
        "{}",
        reply.body
    );
    for error in reply.body["errors"].as_array().expect("errors") {
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
    }
    assert_no_internals(&reply);
    node.get(&cert_path("T-BAD"), Some(&officer)).await.problem(404);

    // An empty body names every required field.
    let reply = create(&node, &officer, json!({})).await;
    reply.problem(422);
    let fields: BTreeSet<String> = reply.fields().into_iter().collect();
    assert_eq!(fields, set(&["category", "roles", "valid_from", "valid_until", "operator"]));
}

async fn a_wrong_check_digit_is_refused_for_every_scheme_that_has_one(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    for (scheme, value) in [
        ("CL-RUT", "76.086.428-4"),
        ("CO-NIT", "800.197.268-5"),
        ("PE-RUC", "20131312956"),
        ("LEI", "984500IW8UZBMARL6V07"),
    ] {
        let body = certificate(Some("T-CHECK"), "Dígito SpA", json!([{"scheme": scheme, "value": value}]));
        let reply = create(&node, &officer, body).await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec!["operator.identifiers[0].value"], "{scheme}");
        let message = reply.body["errors"][0]["message"].as_str().unwrap_or("");
        assert!(message.contains("check digit"), "{scheme}: {message}");
    }
    // Badly shaped values and unknown schemes name the right part.
    for (scheme, value, field) in [
        ("CL-RUT", "ABC", "operator.identifiers[0].value"),
        ("MX-RFC", "ABC991332XY9", "operator.identifiers[0].value"),
        ("EORI", "12345", "operator.identifiers[0].value"),
        ("RUT", "76086428-5", "operator.identifiers[0].scheme"),
        ("USA-TIN", "1", "operator.identifiers[0].scheme"),
    ] {
        let body = certificate(Some("T-CHECK"), "Forma SpA", json!([{"scheme": scheme, "value": value}]));
        let reply = create(&node, &officer, body).await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec![field], "{scheme}:{value}");
    }
    node.get(&cert_path("T-CHECK"), Some(&officer)).await.problem(404);
}

async fn dates_must_be_written_yyyy_mm_dd(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    for bad in ["2025-3-1", "01/03/2025", "2025/03/01", "20250301", "2025-02-30", "2025-03-01T00:00:00Z", " 2025-03-01"]
    {
        let mut body = certificate(None, "Fechas SpA", tin("DATES"));
        body["valid_from"] = json!(bad);
        body["valid_until"] = json!(bad);
        let reply = create(&node, &officer, body).await;
        reply.problem(422);
        let fields: BTreeSet<String> = reply.fields().into_iter().collect();
        assert_eq!(fields, set(&["valid_from", "valid_until"]), "{bad}");
    }
    // The same day for both is fine.
    let mut body = certificate(None, "Un Día SpA", tin("ONE-DAY"));
    body["valid_from"] = json!("2026-01-01");
    body["valid_until"] = json!("2026-01-01");
    created(&node, &officer, body).await;
}

async fn wrong_json_types_name_the_field_without_rust_type_names(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let base = certificate(Some("T-TYPES"), "Tipos SpA", tin("TYPES"));
    // (field named in the answer, where in the body, the wrongly typed value)
    let cases = [
        ("roles", "/roles", json!("exporter")),
        ("category", "/category", json!(["security"])),
        ("valid_from", "/valid_from", json!(20250301)),
        ("operator", "/operator", json!("Tipos SpA")),
        ("operator.public", "/operator/public", json!("yes")),
        ("operator.identifiers", "/operator/identifiers", json!({"scheme": "CL-TIN"})),
        ("operator.identifiers[0].value", "/operator/identifiers/0/value", json!(76086428)),
        ("operator.address", "/operator/address", json!(["Calle 1"])),
    ];
    for (field, pointer, wrong) in cases {
        let mut body = base.clone();
        *body.pointer_mut(pointer).expect("pointer") = wrong;
        let reply = create(&node, &officer, body).await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec![field], "{}", reply.body);
        assert_no_internals(&reply);
    }
    // A body that is not an object at all.
    let reply = create(&node, &officer, json!(["security"])).await;
    reply.problem(422);
    assert_no_internals(&reply);
    node.get(&cert_path("T-TYPES"), Some(&officer)).await.problem(404);
}

async fn malformed_json_is_400_and_a_body_that_is_not_json_is_415(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    for text in ["{\"category\": ", "{'category': 'security'}", "{} trailing", ""] {
        let reply =
            node.send_raw(Method::POST, CERTS, Some(&officer), "application/json", text.as_bytes().to_vec(), &[]).await;
        reply.problem(400);
        assert_no_internals(&reply);
    }
    let json_text = certificate(Some("T-MEDIA"), "Media SpA", tin("MEDIA")).to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "text/csv"] {
        let reply =
            node.send_raw(Method::POST, CERTS, Some(&officer), content_type, json_text.clone().into_bytes(), &[]).await;
        reply.problem(415);
    }
    // No content type at all.
    let reply = Reply::read(
        node.client.post(node.url(CERTS)).bearer_auth(&officer).body(json_text.clone()).send().await.expect("request"),
    )
    .await;
    reply.problem(415);
    node.get(&cert_path("T-MEDIA"), Some(&officer)).await.problem(404);
    // JSON with a charset parameter is JSON.
    let reply = node
        .send_raw(Method::POST, CERTS, Some(&officer), "application/json; charset=utf-8", json_text.into_bytes(), &[])
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

// ---------------------------------------------------------------------------------------------
// Search and pagination
// ---------------------------------------------------------------------------------------------

async fn filtering_by_status_matches_the_derived_status_of_every_demo_certificate(backend: Backend) {
    let node = Node::start(backend).await;
    let border = node.token(BORDER).await;
    let everything = walk(&node, &border, "", 500).await;
    for item in &everything {
        let number = item["number"].as_str().expect("number");
        let demo = demo_cl().into_iter().find(|c| c["number"] == number).expect("only demo certificates");
        assert_eq!(item["status"], derived_status(&demo), "{number}");
    }
    for status in ["active", "suspended", "revoked", "expired"] {
        let expected = demo_numbers_where(|c| derived_status(c) == status);
        assert!(!expected.is_empty(), "the demo has a {status} certificate");
        let items = walk(&node, &border, &format!("&status={status}"), 500).await;
        assert_eq!(numbers(&items), expected, "status={status}");
        assert!(items.iter().all(|c| c["status"] == status), "{status}");
    }
    // The four statuses partition the certificates.
    assert_eq!(everything.len(), demo_cl().len());
}

async fn an_expired_certificate_is_shown_as_expired_unless_revoked(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let mut past = certificate(Some("T-PAST"), "Vencida SpA", tin("PAST"));
    past["valid_from"] = json!("2020-01-01");
    past["valid_until"] = json!("2023-01-01");
    let c = created(&node, &officer, past).await;
    assert_eq!(c["status"], "expired");
    // Suspending it records the suspension, but expiry is what the world sees.
    let suspended = set_status(&node, &officer, "T-PAST", json!({"status": "suspended", "reason": "Revisión"})).await;
    assert_eq!(suspended.ok()["status"], "expired");
    assert!(search(&node, &officer, "&status=expired").await.contains("T-PAST"));
    assert!(!search(&node, &officer, "&status=suspended").await.contains("T-PAST"));
    // And it can still be revoked, which outranks expiry.
    let revoked = set_status(&node, &officer, "T-PAST", json!({"status": "revoked", "reason": "Fraude"})).await;
    assert_eq!(revoked.ok()["status"], "revoked");
    assert_eq!(fetch(&node, &officer, "T-PAST").await["status"], "revoked");
    assert!(search(&node, &officer, "&status=revoked").await.contains("T-PAST"));
    assert!(!search(&node, &officer, "&status=expired").await.contains("T-PAST"));
}

async fn filtering_by_category_and_role_alone_and_combined(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    for category in ["security", "simplification", "full"] {
        let expected = demo_numbers_where(|c| c["category"] == category);
        assert_eq!(search(&node, &officer, &format!("&category={category}")).await, expected, "category={category}");
    }
    let has_role = |c: &Value, role: &str| c["roles"].as_array().is_some_and(|roles| roles.iter().any(|r| r == role));
    for role in ["exporter", "carrier", "port_operator", "terminal_operator", "customs_broker", "logistics_operator"] {
        let expected = demo_numbers_where(|c| has_role(c, role));
        assert!(!expected.is_empty(), "{role}");
        assert_eq!(search(&node, &officer, &format!("&role={role}")).await, expected, "role={role}");
    }
    // Every filter at once: all must hold.
    let expected = demo_numbers_where(|c| {
        derived_status(c) == "active"
            && c["category"] == "full"
            && has_role(c, "exporter")
            && c["operator"]["name"].as_str().is_some_and(|n| n.to_lowercase().contains("s.a."))
    });
    assert!(!expected.is_empty());
    assert_eq!(search(&node, &officer, "&status=active&category=full&role=exporter&q=S.A.").await, expected);
    let expected = demo_numbers_where(|c| derived_status(c) == "suspended" && c["category"] == "full");
    assert_eq!(search(&node, &officer, "&status=suspended&category=full").await, expected);
    // Empty filter values mean no filter.
    assert_eq!(search(&node, &officer, "&status=&category=&role=&q=").await.len(), demo_cl().len());
}

async fn q_finds_part_of_a_name_case_insensitively_accents_included(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let cases: [(&str, &[&str]); 7] = [
        ("andina", &["CL-OEA-0001"]),
        ("EXPORTADORA ANDINA", &["CL-OEA-0001"]),
        ("FRUTÍCOLA", &["CL-OEA-0004"]),
        ("frutícola valle", &["CL-OEA-0004"]),
        ("ÑUBLE", &["CL-OEA-0024"]),
        ("arándanos del ñuble", &["CL-OEA-0024"]),
        ("vinícola", &["CL-OEA-0028"]),
    ];
    for (q, expected) in cases {
        assert_eq!(search(&node, &officer, &format!("&q={}", enc(q))).await, set(expected), "q={q}");
    }
    // A common fragment finds exactly the names containing it.
    for q in ["SpA", "andes", "Valle", "  logístico  "] {
        let needle = q.trim().to_lowercase();
        let expected =
            demo_numbers_where(|c| c["operator"]["name"].as_str().is_some_and(|n| n.to_lowercase().contains(&needle)));
        assert!(!expected.is_empty(), "{q}");
        assert_eq!(search(&node, &officer, &format!("&q={}", enc(q))).await, expected, "q={q}");
    }
    assert!(search(&node, &officer, "&q=inexistente").await.is_empty());
}

async fn q_finds_an_identifier_in_any_written_form(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let cases: [(&str, &str); 8] = [
        ("76.086.428-5", "CL-OEA-0001"),
        ("76086428-5", "CL-OEA-0001"),
        ("760864285", "CL-OEA-0001"),
        (" 76 086 428 5 ", "CL-OEA-0001"),
        ("nl861990338", "CL-OEA-0002"),
        ("NL 861 990 338", "CL-OEA-0002"),
        ("984500iw8uzbmarl6v06", "CL-OEA-0003"),
        ("99217434-k", "CL-OEA-0008"),
    ];
    for (q, number) in cases {
        assert_eq!(search(&node, &officer, &format!("&q={}", enc(q))).await, set(&[number]), "q={q}");
    }
    // Combined with filters, the identifier must still satisfy them.
    assert!(search(&node, &officer, "&q=760864285&category=full").await.is_empty());
    assert_eq!(search(&node, &officer, "&q=760864285&role=carrier&status=active").await, set(&["CL-OEA-0001"]));
}

async fn pagination_walks_every_certificate_exactly_once(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    // A few more than the demo so that pages and creation interleave.
    for i in 0..5 {
        created(&node, &officer, certificate(None, &format!("Paginada {i} SpA"), tin(&format!("PAGE-{i}")))).await;
    }
    let all = walk(&node, &officer, "", 500).await;
    assert_eq!(all.len(), demo_cl().len() + 5);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("{CERTS}?limit=7");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", enc(cursor)));
        }
        let reply = node.get(&path, Some(&officer)).await;
        let page = reply.ok().clone();
        pages += 1;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 7);
        seen.extend(items.iter().map(|c| c["number"].as_str().expect("number").to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(items.len(), 7, "only the last page is short");
                cursor = Some(next.to_owned());
            }
            None => break,
        }
        assert!(pages < 100, "the pages never end");
    }
    let distinct: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(distinct.len(), seen.len(), "a certificate came twice: {seen:?}");
    assert_eq!(distinct, numbers(&all));
    assert_eq!(pages, all.len().div_ceil(7));
    // Filters and cursors combine.
    let active = walk(&node, &officer, "&status=active", 3).await;
    assert_eq!(numbers(&active), search(&node, &officer, "&status=active").await);
    assert_eq!(numbers(&active).len(), active.len());
    // The default page holds at most 50, and a limit of 500 is accepted.
    let default = node.get(CERTS, Some(&officer)).await;
    assert!(default.ok()["items"].as_array().expect("items").len() <= 50);
    node.get(&format!("{CERTS}?limit=500"), Some(&officer)).await.ok();
}

async fn an_administration_code_that_cannot_exist_is_named_in_a_path_as_in_a_query(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let border = node.token("border@pe.demo.aeo").await;
    let cases = [
        ("/api/v1/administrations/cl/certificates", officer.as_str(), "code"),
        ("/api/v1/administrations/cl/certificates/CL-OEA-0001", officer.as_str(), "code"),
        ("/api/v1/administrations/pe/recognition?issuer=CL&certificate=CL-OEA-0001", border.as_str(), "code"),
        ("/api/v1/administrations/PE/recognition?issuer=cl&certificate=CL-OEA-0001", border.as_str(), "issuer"),
        ("/api/v1/administrations/CL/mras/pe", officer.as_str(), "partner"),
    ];
    for (path, token, field) in cases {
        let reply = node.get(path, Some(token)).await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec![field], "{path}: {}", reply.body);
    }
    let public = node.get("/api/v1/public/administrations/cl/certificates/CL-OEA-0001", None).await;
    public.problem(422);
    assert_eq!(public.fields(), vec!["code"], "{}", public.body);
    // Without credentials the answer is still 401: nothing is said to an anonymous client.
    node.get("/api/v1/administrations/cl/certificates", None).await.problem(401);
}

async fn invalid_list_parameters_name_the_parameter(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let forged = format!("cursor={}", base64_url("xx:12"));
    let cases = [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=%21%21%21", "cursor"),
        ("cursor=AAAAAAAAAAB", "cursor"),
        (forged.as_str(), "cursor"),
        ("status=valid", "status"),
        ("status=activo", "status"),
        ("category=aeo", "category"),
        ("role=pilot", "role"),
    ];
    for (query, field) in cases {
        let reply = node.get(&format!("{CERTS}?{query}"), Some(&officer)).await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec![field], "{query}: {}", reply.body);
        assert_no_internals(&reply);
    }
}

/// Minimal base64url without padding, to forge a plausible-looking cursor.
fn base64_url(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

async fn q_follows_a_name_changed_by_a_patch_or_an_import(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    created(&node, &officer, certificate(Some("T-RENAMED"), "Nombre Antiguo Limitada", tin("RENAMED"))).await;
    assert_eq!(search(&node, &officer, "&q=antiguo").await, set(&["T-RENAMED"]));
    let rename = json!({"operator": {"name": "Razón Social Nueva SpA"}});
    patch(&node, &officer, "T-RENAMED", &rename, "application/merge-patch+json", None).await.ok();
    assert!(search(&node, &officer, "&q=antiguo").await.is_empty());
    assert_eq!(search(&node, &officer, &format!("&q={}", enc("razón social nueva"))).await, set(&["T-RENAMED"]));
    let csv = "number,category,roles,valid_from,valid_until,operator_name,identifiers,street,city,postal_code,country,public\n\
               T-RENAMED,security,exporter,2024-01-01,2030-01-01,Tercer Nombre Importado,CL-TIN:RENAMED,Calle 1,Santiago,8320000,CL,false\n";
    let reply = node
        .send_raw(Method::POST, &format!("{CERTS}/import"), Some(&officer), "text/csv", csv.as_bytes().to_vec(), &[])
        .await;
    assert_eq!(reply.ok()["updated"], 1, "{}", reply.body);
    assert!(search(&node, &officer, "&q=nueva").await.is_empty());
    assert_eq!(search(&node, &officer, "&q=tercer%20nombre").await, set(&["T-RENAMED"]));
}

async fn q_with_like_wildcards_quotes_and_sql_matches_only_literally(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    created(&node, &officer, certificate(Some("T-PERCENT"), "Jugos 100% Naturales_Ltda", tin("PCT"))).await;
    created(&node, &officer, certificate(Some("T-QUOTE"), "Comercial O'Higgins \"El Libertador\"", tin("QUO"))).await;
    let cases: [(&str, &[&str]); 14] = [
        ("0% n", &["T-PERCENT"]),
        ("100%", &["T-PERCENT"]),
        ("naturales_ltda", &["T-PERCENT"]),
        ("s_l", &["T-PERCENT"]),
        ("a%c", &[]),
        ("s_a", &[]),
        ("%%%", &[]),
        ("\\\\\\", &[]),
        ("o'h", &["T-QUOTE"]),
        ("\"el", &["T-QUOTE"]),
        ("o'higgins \"el", &["T-QUOTE"]),
        ("' OR '1'='1", &[]),
        ("%' OR 1=1 --", &[]),
        ("x'); DROP TABLE certificates; --", &[]),
    ];
    for (q, expected) in cases {
        let reply = node.get(&format!("{CERTS}?limit=500&q={}", enc(q)), Some(&officer)).await;
        let found = numbers(reply.ok()["items"].as_array().expect("items"));
        assert_eq!(found, set(expected), "q={q}");
    }
    // Under three characters, no index can find a part of a name: refused, never a scan.
    for q in ["%", "_", "'", "\"", "\\", "%%", "ab"] {
        let reply = node.get(&format!("{CERTS}?q={}", enc(q)), Some(&officer)).await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec!["q"], "q={q}");
    }
    // A q too long to be a name or an identifier is refused, never ignored (which would
    // answer every certificate).
    let long = node.get(&format!("{CERTS}?q={}", "x".repeat(301)), Some(&officer)).await;
    long.problem(422);
    assert_eq!(long.fields(), vec!["q"]);
    // Nothing was harmed.
    assert_eq!(walk(&node, &officer, "", 500).await.len(), demo_cl().len() + 2);
}

// ---------------------------------------------------------------------------------------------
// PATCH (JSON Merge Patch)
// ---------------------------------------------------------------------------------------------

async fn a_merge_patch_changes_only_the_fields_it_names(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let before = fetch(&node, &officer, "CL-OEA-0001").await;
    assert_eq!(before["version"], 1);
    let reply = patch(
        &node,
        &officer,
        "CL-OEA-0001",
        &json!({"operator": {"address": {"city": "Valparaíso"}}}),
        MERGE_PATCH,
        None,
    )
    .await;
    let after = reply.ok().clone();
    assert_eq!(etag(&reply), "\"2\"");
    assert_eq!(after["version"], 2);
    let mut expected = before.clone();
    expected["operator"]["address"]["city"] = json!("Valparaíso");
    assert_eq!(without_volatile(after.clone()), without_volatile(expected));
    assert_ne!(after["updated_at"], before["updated_at"]);
    assert_eq!(fetch(&node, &officer, "CL-OEA-0001").await, after);

    // Plain application/json is accepted as a merge patch too.
    let reply = patch(
        &node,
        &officer,
        "CL-OEA-0001",
        &json!({"category": "full", "valid_until": "2027-06-30"}),
        "application/json",
        None,
    )
    .await;
    let third = reply.ok().clone();
    assert_eq!(etag(&reply), "\"3\"");
    assert_eq!(third["category"], "full");
    assert_eq!(third["valid_until"], "2027-06-30");
    assert_eq!(third["operator"]["address"]["city"], "Valparaíso");
    assert_eq!(third["roles"], before["roles"]);
    assert_eq!(third["status"], "active");

    // A patch is validated like a new certificate.
    let reply = patch(
        &node,
        &officer,
        "CL-OEA-0001",
        &json!({"valid_until": "2020-01-01", "roles": ["exporter", "pilot"]}),
        MERGE_PATCH,
        None,
    )
    .await;
    reply.problem(422);
    let fields: BTreeSet<String> = reply.fields().into_iter().collect();
    assert_eq!(fields, set(&["valid_until", "roles[1]"]));
    let reply = patch(&node, &officer, "CL-OEA-0001", &json!({"roles": "exporter"}), MERGE_PATCH, None).await;
    reply.problem(422);
    assert_eq!(reply.fields(), vec!["roles"]);
    assert_no_internals(&reply);
    assert_eq!(fetch(&node, &officer, "CL-OEA-0001").await, third);
}

async fn null_in_a_merge_patch_removes_optional_details_and_required_ones_are_refused(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    // CL-OEA-0008 has a postal code and consented to publication.
    let reply = patch(
        &node,
        &officer,
        "CL-OEA-0008",
        &json!({"operator": {"address": {"postal_code": null}}}),
        MERGE_PATCH,
        None,
    )
    .await;
    let after = reply.ok();
    assert_eq!(after["operator"]["address"]["postal_code"], "");
    assert_eq!(after["operator"]["address"]["city"], "San Antonio");
    assert_eq!(after["version"], 2);
    let reply = patch(&node, &officer, "CL-OEA-0008", &json!({"operator": {"public": null}}), MERGE_PATCH, None).await;
    assert_eq!(reply.ok()["operator"]["public"], false);

    let required = [
        (json!({"category": null}), "category"),
        (json!({"roles": null}), "roles"),
        (json!({"valid_from": null}), "valid_from"),
        (json!({"valid_until": null}), "valid_until"),
        (json!({"operator": null}), "operator"),
        (json!({"operator": {"name": null}}), "operator.name"),
        (json!({"operator": {"identifiers": null}}), "operator.identifiers"),
        (json!({"operator": {"address": null}}), "operator.address"),
        (json!({"operator": {"address": {"street": null}}}), "operator.address.street"),
        (json!({"operator": {"address": {"city": null}}}), "operator.address.city"),
        (json!({"operator": {"address": {"country": null}}}), "operator.address.country"),
    ];
    let current = fetch(&node, &officer, "CL-OEA-0008").await;
    for (body, field) in required {
        let reply = patch(&node, &officer, "CL-OEA-0008", &body, MERGE_PATCH, None).await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec![field], "{body}: {}", reply.body);
    }
    assert_eq!(fetch(&node, &officer, "CL-OEA-0008").await, current);
}

async fn a_merge_patch_replaces_arrays_whole(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let reply = patch(&node, &officer, "CL-OEA-0001", &json!({"roles": ["importer"]}), MERGE_PATCH, None).await;
    assert_eq!(reply.ok()["roles"], json!(["importer"]));
    assert!(search(&node, &officer, "&role=importer").await.contains("CL-OEA-0001"));
    assert!(!search(&node, &officer, "&role=exporter").await.contains("CL-OEA-0001"));

    let reply = patch(
        &node,
        &officer,
        "CL-OEA-0001",
        &json!({"operator": {"identifiers": [{"scheme": "EORI", "value": "cl 760864285"}]}}),
        MERGE_PATCH,
        None,
    )
    .await;
    assert_eq!(reply.ok()["operator"]["identifiers"], json!([{"scheme": "EORI", "value": "CL760864285"}]));
    assert_eq!(reply.body["version"], 3);
    assert_eq!(search(&node, &officer, "&q=CL760864285").await, set(&["CL-OEA-0001"]));
    // The old identifier no longer leads to it.
    assert!(search(&node, &officer, &format!("&q={}", enc("76.086.428-5"))).await.is_empty());
}

async fn if_match_with_a_stale_version_is_412_and_changes_nothing(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let reply = patch(
        &node,
        &officer,
        "CL-OEA-0001",
        &json!({"operator": {"address": {"city": "Rancagua"}}}),
        MERGE_PATCH,
        Some("\"1\""),
    )
    .await;
    assert_eq!(reply.ok()["version"], 2);
    let current = fetch(&node, &officer, "CL-OEA-0001").await;

    let stale = patch(
        &node,
        &officer,
        "CL-OEA-0001",
        &json!({"operator": {"address": {"city": "Temuco"}}}),
        MERGE_PATCH,
        Some("\"1\""),
    )
    .await;
    stale.problem(412);
    assert_eq!(fetch(&node, &officer, "CL-OEA-0001").await, current);
    assert_eq!(history(&node, &officer, "CL-OEA-0001").await.len(), 2);

    // A status change moves the version too.
    set_status(&node, &officer, "CL-OEA-0001", json!({"status": "suspended", "reason": "Revisión"})).await.ok();
    patch(
        &node,
        &officer,
        "CL-OEA-0001",
        &json!({"operator": {"address": {"city": "Temuco"}}}),
        MERGE_PATCH,
        Some("\"2\""),
    )
    .await
    .problem(412);

    let fresh = patch(
        &node,
        &officer,
        "CL-OEA-0001",
        &json!({"operator": {"address": {"city": "Temuco"}}}),
        MERGE_PATCH,
        Some("\"3\""),
    )
    .await;
    assert_eq!(fresh.ok()["operator"]["address"]["city"], "Temuco");
    assert_eq!(fresh.body["version"], 4);
    assert_eq!(fresh.body["status"], "suspended");
    assert_eq!(etag(&fresh), "\"4\"");
}

async fn status_and_number_are_not_patchable(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let before = fetch(&node, &officer, "CL-OEA-0001").await;
    for (body, field) in [
        (json!({"status": "revoked"}), "status"),
        (json!({"status": "active", "operator": {"address": {"city": "Arica"}}}), "status"),
        (json!({"number": "CL-OEA-9999"}), "number"),
    ] {
        let reply = patch(&node, &officer, "CL-OEA-0001", &body, MERGE_PATCH, None).await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec![field], "{body}");
    }
    assert_eq!(fetch(&node, &officer, "CL-OEA-0001").await, before);
    node.get(&cert_path("CL-OEA-9999"), Some(&officer)).await.problem(404);
}

async fn a_patch_identical_to_the_current_data_changes_nothing(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let before = fetch(&node, &officer, "CL-OEA-0001").await;
    let entries = history(&node, &officer, "CL-OEA-0001").await.len();
    for body in [
        json!({}),
        json!({"operator": {"address": {"city": "Santiago"}}}),
        json!({"roles": ["carrier", "exporter"], "category": "security"}),
        // The same identifier, written as people write it.
        json!({"operator": {"identifiers": [{"scheme": "cl-rut", "value": "76.086.428-5"}]}}),
    ] {
        let reply = patch(&node, &officer, "CL-OEA-0001", &body, MERGE_PATCH, None).await;
        assert_eq!(reply.ok(), &before, "{body}");
        assert_eq!(etag(&reply), "\"1\"");
    }
    assert_eq!(history(&node, &officer, "CL-OEA-0001").await.len(), entries);
    assert_eq!(fetch(&node, &officer, "CL-OEA-0001").await, before);
}

async fn patching_a_missing_certificate_is_404(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let body = json!({"operator": {"address": {"city": "Arica"}}});
    for number in ["CL-OEA-9999", "NOPE", "PE-OEA-0001"] {
        patch(&node, &officer, number, &body, MERGE_PATCH, None).await.problem(404);
        patch(&node, &officer, number, &body, MERGE_PATCH, Some("\"1\"")).await.problem(404);
    }
    // Another administration's certificate is missing from here.
    let pe = node
        .send_raw(
            Method::PATCH,
            "/api/v1/administrations/PE/certificates/PE-OEA-0001",
            Some(&officer),
            MERGE_PATCH,
            body.to_string().into_bytes(),
            &[],
        )
        .await;
    pe.problem(404);
}

// ---------------------------------------------------------------------------------------------
// Status lifecycle
// ---------------------------------------------------------------------------------------------

async fn suspending_or_revoking_requires_a_reason(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    for body in [
        json!({"status": "suspended"}),
        json!({"status": "suspended", "reason": null}),
        json!({"status": "suspended", "reason": "   "}),
        json!({"status": "revoked"}),
        json!({"status": "revoked", "reason": ""}),
    ] {
        let reply = set_status(&node, &officer, "CL-OEA-0001", body.clone()).await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec!["reason"], "{body}");
    }
    let current = fetch(&node, &officer, "CL-OEA-0001").await;
    assert_eq!(current["status"], "active");
    assert_eq!(current["version"], 1);
}

async fn a_certificate_is_suspended_reinstated_and_revoked(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let reply =
        set_status(&node, &officer, "CL-OEA-0001", json!({"status": "suspended", "reason": "Investigación en curso"}))
            .await;
    let suspended = reply.ok().clone();
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(suspended["status_reason"], "Investigación en curso");
    assert_eq!(suspended["version"], 2);
    assert_eq!(etag(&reply), "\"2\"");
    assert_eq!(fetch(&node, &officer, "CL-OEA-0001").await, suspended);

    let reply = set_status(&node, &officer, "CL-OEA-0001", json!({"status": "active"})).await;
    let active = reply.ok().clone();
    assert_eq!(active["status"], "active");
    assert!(active["status_reason"].is_null(), "{active}");
    assert_eq!(active["version"], 3);

    let reply = set_status(
        &node,
        &officer,
        "CL-OEA-0001",
        json!({"status": "revoked", "reason": "Fraude documental comprobado"}),
    )
    .await;
    let revoked = reply.ok().clone();
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["status_reason"], "Fraude documental comprobado");
    assert_eq!(revoked["version"], 4);
    // The details are untouched by status changes.
    let before = demo_cl().into_iter().find(|c| c["number"] == "CL-OEA-0001").expect("demo");
    assert_eq!(revoked["operator"]["name"], before["operator"]["name"]);
    assert_eq!(revoked["valid_until"], before["valid_until"]);
    // A customs administrator may change status as well.
    let admin = node.token(ADMIN).await;
    let reply = set_status(
        &node,
        &admin,
        "CL-OEA-0007",
        json!({"status": "active", "reason": "Investigación cerrada sin hallazgos"}),
    )
    .await;
    assert_eq!(reply.ok()["status"], "active");
}

async fn revocation_is_final(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    // CL-OEA-0011 is revoked in the demo.
    let before = fetch(&node, &officer, "CL-OEA-0011").await;
    assert_eq!(before["status"], "revoked");
    for body in [
        json!({"status": "active"}),
        json!({"status": "active", "reason": "Error administrativo"}),
        json!({"status": "suspended", "reason": "Otra investigación"}),
        json!({"status": "revoked", "reason": "Otra vez"}),
        json!({"status": "revoked", "reason": before["status_reason"]}),
    ] {
        let reply = set_status(&node, &officer, "CL-OEA-0011", body.clone()).await;
        reply.problem(409);
    }
    assert_eq!(fetch(&node, &officer, "CL-OEA-0011").await, before);
}

async fn a_change_to_the_status_a_certificate_already_has_is_refused_and_leaves_no_event(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let before = fetch(&node, &officer, "CL-OEA-0001").await;
    assert_eq!(before["status"], "active");
    let reply = set_status(&node, &officer, "CL-OEA-0001", json!({"status": "active"})).await;
    assert!(reply.problem(409)["detail"].as_str().unwrap_or_default().contains("already"), "{}", reply.body);
    let reply = set_status(&node, &officer, "CL-OEA-0001", json!({"status": "active", "reason": "again"})).await;
    reply.problem(409);
    set_status(&node, &officer, "CL-OEA-0001", json!({"status": "suspended", "reason": "Investigación"})).await.ok();
    // A second suspension, even with another reason, is not a change of status.
    let reply =
        set_status(&node, &officer, "CL-OEA-0001", json!({"status": "suspended", "reason": "Otra razón"})).await;
    reply.problem(409);
    let after = fetch(&node, &officer, "CL-OEA-0001").await;
    assert_eq!((after["version"].as_i64(), after["status_reason"].as_str()), (Some(2), Some("Investigación")));
    assert_eq!(history(&node, &officer, "CL-OEA-0001").await.len(), 2, "creation and one suspension");
}

async fn expired_and_unknown_statuses_cannot_be_requested(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    for body in [
        json!({"status": "expired"}),
        json!({"status": "expired", "reason": "Vencido"}),
        json!({"status": "gone", "reason": "x"}),
        json!({"status": "ACTIVO"}),
        json!({"status": ""}),
        json!({"reason": "sin estado"}),
    ] {
        let reply = set_status(&node, &officer, "CL-OEA-0001", body.clone()).await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec!["status"], "{body}");
    }
    let reply = set_status(&node, &officer, "CL-OEA-0001", json!({"status": 1})).await;
    reply.problem(422);
    assert_eq!(reply.fields(), vec!["status"]);
    assert_no_internals(&reply);
    assert_eq!(fetch(&node, &officer, "CL-OEA-0001").await["version"], 1);
    set_status(&node, &officer, "CL-OEA-9999", json!({"status": "revoked", "reason": "x"})).await.problem(404);
}

async fn an_expired_demo_certificate_can_still_be_revoked(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let expired = demo_numbers_where(|c| derived_status(c) == "expired");
    let number = expired.iter().next().expect("an expired demo certificate");
    assert_eq!(fetch(&node, &officer, number).await["status"], "expired");
    let reply = set_status(
        &node,
        &officer,
        number,
        json!({"status": "revoked", "reason": "Incumplimiento posterior al vencimiento"}),
    )
    .await;
    assert_eq!(reply.ok()["status"], "revoked");
    set_status(&node, &officer, number, json!({"status": "active"})).await.problem(409);
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

async fn history_lists_every_change_in_order_with_actor_reason_and_diff(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    created(&node, &officer, certificate(Some("T-HIST"), "Historia SpA", tin("HIST"))).await;
    patch(&node, &officer, "T-HIST", &json!({"operator": {"address": {"city": "Concepción"}}}), MERGE_PATCH, None)
        .await
        .ok();
    set_status(&node, &officer, "T-HIST", json!({"status": "suspended", "reason": "Auditoría pendiente"})).await.ok();
    set_status(&node, &officer, "T-HIST", json!({"status": "active"})).await.ok();
    set_status(&node, &officer, "T-HIST", json!({"status": "revoked", "reason": "Fraude comprobado"})).await.ok();

    let entries = history(&node, &officer, "T-HIST").await;
    assert_eq!(entries.len(), 5, "{entries:#?}");
    let statuses: Vec<&str> = entries.iter().map(|e| e["status"].as_str().expect("status")).collect();
    assert_eq!(statuses, vec!["active", "active", "suspended", "active", "revoked"]);
    let reasons: Vec<Value> = entries.iter().map(|e| e["reason"].clone()).collect();
    assert_eq!(
        reasons,
        vec![Value::Null, Value::Null, json!("Auditoría pendiente"), Value::Null, json!("Fraude comprobado"),]
    );
    for entry in &entries {
        assert_eq!(entry["actor"], OFFICER, "{entry}");
        let at = entry["at"].as_str().expect("at");
        chrono::DateTime::parse_from_rfc3339(at).expect("at is RFC 3339");
        assert!(entry.get("changes").is_some(), "{entry}");
    }
    assert_eq!(entries[1]["changes"]["operator.address.city"], json!({"from": "Viña del Mar", "to": "Concepción"}));
    // The creation shows the details it was made with, not today's.
    assert_eq!(entries[0]["changes"]["operator"]["address"]["city"], "Viña del Mar", "{}", entries[0]);
    assert_eq!(entries[0]["changes"]["operator"]["name"], "Historia SpA", "{}", entries[0]);
    assert_eq!(
        entries[1]["changes"].as_object().map(|c| c.len()),
        Some(1),
        "only the city changed: {}",
        entries[1]["changes"]
    );
    let seqs: Vec<i64> = entries.iter().map(|e| e["seq"].as_i64().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let ats: Vec<chrono::DateTime<chrono::FixedOffset>> = entries
        .iter()
        .map(|e| chrono::DateTime::parse_from_rfc3339(e["at"].as_str().expect("at")).expect("at"))
        .collect();
    assert!(ats.windows(2).all(|w| w[0] <= w[1]), "{ats:?}");

    // Readers see it as well; a missing certificate has none.
    let auditor = node.token(AUDITOR).await;
    assert_eq!(history(&node, &auditor, "T-HIST").await, entries);
    node.get(&format!("{}/history", cert_path("CL-OEA-9999")), Some(&officer)).await.problem(404);
}

// ---------------------------------------------------------------------------------------------
// Permissions
// ---------------------------------------------------------------------------------------------

async fn border_officers_and_auditors_read_but_cannot_write(backend: Backend) {
    let node = Node::start(backend).await;
    for email in [BORDER, AUDITOR] {
        let token = node.token(email).await;
        node.get(CERTS, Some(&token)).await.ok();
        node.get(&cert_path("CL-OEA-0001"), Some(&token)).await.ok();
        node.get(&format!("{}/history", cert_path("CL-OEA-0001")), Some(&token)).await.ok();
        create(&node, &token, certificate(Some("T-FORBIDDEN"), "Prohibida SpA", tin("NO"))).await.problem(403);
        patch(&node, &token, "CL-OEA-0001", &json!({"operator": {"address": {"city": "Arica"}}}), MERGE_PATCH, None)
            .await
            .problem(403);
        set_status(&node, &token, "CL-OEA-0001", json!({"status": "revoked", "reason": "x"})).await.problem(403);
    }
    let officer = node.token(OFFICER).await;
    let unchanged = fetch(&node, &officer, "CL-OEA-0001").await;
    assert_eq!(unchanged["version"], 1);
    assert_eq!(unchanged["status"], "active");
    node.get(&cert_path("T-FORBIDDEN"), Some(&officer)).await.problem(404);
    // Without credentials: 401. Another administration's officer: as if missing.
    node.get(CERTS, None).await.problem(401);
    create(&node, "forged.token.value", certificate(None, "X", tin("X"))).await.problem(401);
    let pe_officer = node.token("officer@pe.demo.aeo").await;
    node.get(&cert_path("CL-OEA-0001"), Some(&pe_officer)).await.problem(404);
    create(&node, &pe_officer, certificate(None, "X", tin("X"))).await.problem(404);
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

async fn parallel_patches_with_the_same_if_match_let_exactly_one_win(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let url = node.url(&cert_path("CL-OEA-0001"));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (client, url, token) = (node.client.clone(), url.clone(), officer.clone());
        tasks.spawn(async move {
            let city = format!("Ciudad {i}");
            let response = client
                .patch(url)
                .bearer_auth(token)
                .header("content-type", MERGE_PATCH)
                .header("if-match", "\"1\"")
                .body(json!({"operator": {"address": {"city": city}}}).to_string())
                .send()
                .await
                .expect("request");
            (city, Reply::read(response).await)
        });
    }
    let mut winners = Vec::new();
    let mut losers = 0;
    while let Some(joined) = tasks.join_next().await {
        let (city, reply) = joined.expect("task");
        match reply.status.as_u16() {
            200 => winners.push(city),
            412 => {
                reply.problem(412);
                losers += 1;
            }
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(losers, 9);
    let current = fetch(&node, &officer, "CL-OEA-0001").await;
    assert_eq!(current["version"], 2);
    assert_eq!(current["operator"]["address"]["city"], json!(winners[0]));
    let updates = history(&node, &officer, "CL-OEA-0001").await;
    assert_eq!(updates.len(), 2, "one creation and one update: {updates:#?}");
}

async fn parallel_creates_of_one_number_answer_one_201_and_409s(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let url = node.url(CERTS);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (client, url, token) = (node.client.clone(), url.clone(), officer.clone());
        tasks.spawn(async move {
            let body = certificate(Some("T-RACE"), &format!("Carrera {i} SpA"), tin(&format!("RACE-{i}")));
            let response = client.post(url).bearer_auth(token).json(&body).send().await.expect("request");
            Reply::read(response).await
        });
    }
    let mut statuses = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let reply = joined.expect("task");
        if reply.status != StatusCode::CREATED {
            reply.problem(409);
        }
        statuses.push(reply.status.as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, vec![201, 409, 409, 409, 409, 409, 409, 409]);
    assert_eq!(search(&node, &officer, "&q=carrera").await, set(&["T-RACE"]));
}

async fn a_revocation_racing_with_other_status_changes_stays_final(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let url = node.url(&format!("{}/status", cert_path("CL-OEA-0001")));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (client, url, token) = (node.client.clone(), url.clone(), officer.clone());
        tasks.spawn(async move {
            let body = match i {
                4 => json!({"status": "revoked", "reason": "Fraude"}),
                i if i % 2 == 0 => {
                    json!({"status": "suspended", "reason": format!("Revisión {i}")})
                }
                _ => json!({"status": "active"}),
            };
            let response = client.post(url).bearer_auth(token).json(&body).send().await.expect("request");
            (i, Reply::read(response).await)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, reply) = joined.expect("task");
        if i == 4 {
            assert_eq!(reply.ok()["status"], "revoked");
        } else if reply.status != StatusCode::OK {
            reply.problem(409);
        }
    }
    let current = fetch(&node, &officer, "CL-OEA-0001").await;
    assert_eq!(current["status"], "revoked", "{current}");
    assert_eq!(current["status_reason"], "Fraude");
    let entries = history(&node, &officer, "CL-OEA-0001").await;
    assert_eq!(
        entries.last().map(|e| e["status"].clone()),
        Some(json!("revoked")),
        "nothing may follow the revocation: {entries:#?}"
    );
    assert_eq!(entries.iter().filter(|e| e["status"] == "revoked").count(), 1);
}

both_backends!(
    creating_a_certificate_answers_201_with_the_contract_object_and_etag_1,
    identifiers_are_validated_and_stored_in_their_normalised_spelling,
    an_omitted_number_is_assigned_and_each_assignment_differs,
    a_taken_number_is_a_conflict_and_changes_nothing,
    every_invalid_field_is_named_in_one_answer,
    a_wrong_check_digit_is_refused_for_every_scheme_that_has_one,
    dates_must_be_written_yyyy_mm_dd,
    wrong_json_types_name_the_field_without_rust_type_names,
    malformed_json_is_400_and_a_body_that_is_not_json_is_415,
    filtering_by_status_matches_the_derived_status_of_every_demo_certificate,
    an_expired_certificate_is_shown_as_expired_unless_revoked,
    filtering_by_category_and_role_alone_and_combined,
    q_finds_part_of_a_name_case_insensitively_accents_included,
    q_finds_an_identifier_in_any_written_form,
    pagination_walks_every_certificate_exactly_once,
    invalid_list_parameters_name_the_parameter,
    an_administration_code_that_cannot_exist_is_named_in_a_path_as_in_a_query,
    q_with_like_wildcards_quotes_and_sql_matches_only_literally,
    q_follows_a_name_changed_by_a_patch_or_an_import,
    a_merge_patch_changes_only_the_fields_it_names,
    null_in_a_merge_patch_removes_optional_details_and_required_ones_are_refused,
    a_merge_patch_replaces_arrays_whole,
    if_match_with_a_stale_version_is_412_and_changes_nothing,
    status_and_number_are_not_patchable,
    a_patch_identical_to_the_current_data_changes_nothing,
    patching_a_missing_certificate_is_404,
    suspending_or_revoking_requires_a_reason,
    a_certificate_is_suspended_reinstated_and_revoked,
    revocation_is_final,
    a_change_to_the_status_a_certificate_already_has_is_refused_and_leaves_no_event,
    expired_and_unknown_statuses_cannot_be_requested,
    an_expired_demo_certificate_can_still_be_revoked,
    history_lists_every_change_in_order_with_actor_reason_and_diff,
    border_officers_and_auditors_read_but_cannot_write,
    parallel_patches_with_the_same_if_match_let_exactly_one_win,
    parallel_creates_of_one_number_answer_one_201_and_409s,
    a_revocation_racing_with_other_status_changes_stays_final,
);
