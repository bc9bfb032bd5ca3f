//! The border question through the API: every reason code, lookups by number and by
//! identifier, the trader's view and the public check.

mod common;

use common::{Backend, Node};
use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

async fn ask(node: &Node, token: &str, at: &str, query: &str) -> Value {
    let reply = node.get(&format!("/api/v1/administrations/{at}/recognition?{query}"), Some(token)).await;
    reply.ok().clone()
}

fn reasons(answer: &Value) -> Vec<&str> {
    answer["reasons"].as_array().expect("reasons").iter().filter_map(Value::as_str).collect()
}

async fn recognized_across_the_pacific_alliance(backend: Backend) {
    let node = Node::start(backend).await;
    let border = node.token("border@pe.demo.aeo").await;
    let answer = ask(&node, &border, "PE", "issuer=CL&certificate=CL-OEA-0001").await;
    assert_eq!(answer["recognized"], true, "{answer}");
    assert_eq!(answer["at"], "PE");
    assert_eq!(answer["issuer"], "CL");
    assert_eq!(answer["source"], "local");
    assert_eq!(answer["stale"], false);
    assert_eq!(answer["certificate"]["operator"]["name"], "Exportadora Andina SpA");
    assert_eq!(answer["mra"]["status"], "in_force");
    assert_eq!(reasons(&answer), Vec::<&str>::new());

    // The same operator, asked by its tax number written as people write it.
    let by_identifier = ask(&node, &border, "PE", "issuer=CL&identifier=CL-RUT:76.086.428-5").await;
    assert_eq!(by_identifier["recognized"], true, "{by_identifier}");
    assert_eq!(by_identifier["certificate"]["number"], "CL-OEA-0001");
}

async fn revoked_certificate_is_never_recognized(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token("officer@cl.demo.aeo").await;
    let border = node.token("border@pe.demo.aeo").await;
    let reply = node
        .send(
            Method::POST,
            "/api/v1/administrations/CL/certificates/CL-OEA-0001/status",
            Some(&officer),
            Some(json!({"status": "revoked", "reason": "Fraude documental comprobado"})),
        )
        .await;
    assert_eq!(reply.ok()["status"], "revoked");
    let answer = ask(&node, &border, "PE", "issuer=CL&certificate=CL-OEA-0001").await;
    assert_eq!(answer["recognized"], false);
    assert_eq!(reasons(&answer), vec!["certificate_revoked"]);
    assert_eq!(answer["certificate"]["status"], "revoked");
}

async fn every_reason_code_is_reported(backend: Backend) {
    let node = Node::start(backend).await;
    let cl_admin = node.token("admin@cl.demo.aeo").await;
    let cl_officer = node.token("officer@cl.demo.aeo").await;
    let pe_admin = node.token("admin@pe.demo.aeo").await;
    let border = node.token("border@pe.demo.aeo").await;

    let create = |number: &str, category: &str, roles: Value, from: &str, until: &str| {
        json!({
            "number": number, "category": category, "roles": roles, "valid_from": from, "valid_until": until,
            "operator": {"name": format!("Operador {number}"), "identifiers": [{"scheme": "CL-TIN", "value": number}],
                         "address": {"street": "Calle 1", "city": "Santiago", "postal_code": "8320000", "country": "CL"}}
        })
    };
    for body in [
        create("T-SUSPENDED", "security", json!(["exporter"]), "2024-01-01", "2030-01-01"),
        create("T-EXPIRED", "security", json!(["exporter"]), "2020-01-01", "2023-01-01"),
        create("T-FUTURE", "security", json!(["exporter"]), "2099-01-01", "2101-01-01"),
        create("T-SIMPLE", "simplification", json!(["exporter"]), "2024-01-01", "2030-01-01"),
        create("T-CARRIER", "security", json!(["carrier"]), "2024-01-01", "2030-01-01"),
    ] {
        node.send(Method::POST, "/api/v1/administrations/CL/certificates", Some(&cl_officer), Some(body)).await.ok();
    }
    node.send(
        Method::POST,
        "/api/v1/administrations/CL/certificates/T-SUSPENDED/status",
        Some(&cl_officer),
        Some(json!({"status": "suspended", "reason": "Investigación en curso"})),
    )
    .await
    .ok();
    // PE recognises CL only for exporters.
    let mut mra = node.get("/api/v1/administrations/PE/mras/CL", Some(&pe_admin)).await.ok().clone();
    mra["roles"] = json!(["exporter", "importer"]);
    node.send(Method::PUT, "/api/v1/administrations/PE/mras/CL", Some(&pe_admin), Some(mra)).await.ok();

    let cases = [
        ("issuer=CL&certificate=NOPE-1", vec!["certificate_not_found"]),
        ("issuer=CL&certificate=T-SUSPENDED", vec!["certificate_suspended"]),
        ("issuer=CL&certificate=T-EXPIRED", vec!["certificate_expired"]),
        ("issuer=CL&certificate=T-FUTURE", vec!["certificate_not_yet_valid"]),
        ("issuer=CL&certificate=T-SIMPLE", vec!["category_not_covered"]),
        ("issuer=CL&certificate=T-CARRIER", vec!["role_not_covered"]),
    ];
    for (query, expected) in cases {
        let answer = ask(&node, &border, "PE", query).await;
        assert_eq!(answer["recognized"], false, "{query}: {answer}");
        assert_eq!(reasons(&answer), expected, "{query}");
    }

    // KR is only negotiating with PE (PE's record), and CO has no record with KR at all. KR is
    // neither hosted here nor a registered peer: its certificates cannot be known.
    let kr = ask(&node, &border, "PE", "issuer=KR&certificate=KR-1").await;
    assert_eq!(reasons(&kr), vec!["mra_not_in_force", "issuer_unreachable"]);
    assert_eq!(kr["stale"], true);
    let co_border = node.token("border@co.demo.aeo").await;
    let none = ask(&node, &co_border, "CO", "issuer=KR&certificate=KR-1").await;
    assert_eq!(reasons(&none), vec!["no_mra", "issuer_unreachable"]);

    // An MRA signed but not yet in force, and one in force only from a future date.
    let future = json!({"title": "Arrangement", "status": "in_force", "signed_on": "2026-01-01", "in_force_from": "2099-01-01",
                        "categories": ["security", "full"], "roles": []});
    node.send(Method::PUT, "/api/v1/administrations/PE/mras/CL", Some(&pe_admin), Some(future)).await.ok();
    let answer = ask(&node, &border, "PE", "issuer=CL&certificate=CL-OEA-0001").await;
    assert_eq!(reasons(&answer), vec!["mra_not_in_force"]);

    // Asked at the issuer itself, no MRA is needed.
    let cl_border = node.token("border@cl.demo.aeo").await;
    let home = ask(&node, &cl_border, "CL", "issuer=CL&certificate=T-CARRIER").await;
    assert_eq!(home["recognized"], true, "{home}");
    assert!(home["mra"].is_null());
    let _ = cl_admin;
}

async fn questions_with_missing_or_invalid_parts_name_the_field(backend: Backend) {
    let node = Node::start(backend).await;
    let border = node.token("border@pe.demo.aeo").await;
    let reply = node.get("/api/v1/administrations/PE/recognition", Some(&border)).await;
    reply.problem(422);
    assert_eq!(reply.fields(), vec!["issuer", "certificate"]);
    let reply =
        node.get("/api/v1/administrations/PE/recognition?issuer=cl&identifier=CL-RUT:76086428-4", Some(&border)).await;
    reply.problem(422);
    assert_eq!(reply.fields(), vec!["issuer", "identifier"]);
    let reply = node.get("/api/v1/administrations/PE/recognition?issuer=CL&certificate=%27%22;--", Some(&border)).await;
    reply.problem(422);
    assert_eq!(reply.fields(), vec!["certificate"]);
}

async fn a_trader_sees_where_it_is_recognised(backend: Backend) {
    let node = Node::start(backend).await;
    let trader = node.token("trader@andina.demo.aeo").await;
    let reply = node.get("/api/v1/me/certificates", Some(&trader)).await;
    let items = reply.ok()["items"].as_array().expect("list").clone();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["number"], "CL-OEA-0001");
    let places: Vec<&str> =
        items[0]["recognition"].as_array().expect("recognition").iter().filter_map(|r| r["at"].as_str()).collect();
    assert_eq!(places, vec!["CO", "MX", "PE"]);
    assert!(items[0]["recognition"].as_array().expect("recognition").iter().all(|r| r["recognized"] == true));

    let me = node.get("/api/v1/me", Some(&trader)).await;
    assert_eq!(me.ok()["operator_identifier"], "CL-RUT:76086428-5");
    // Traders cannot use administration routes.
    node.get("/api/v1/administrations/CL/certificates/CL-OEA-0001", Some(&trader)).await.problem(404);
    // And other roles have no trader view.
    let border = node.token("border@pe.demo.aeo").await;
    node.get("/api/v1/me/certificates", Some(&border)).await.problem(403);
}

async fn a_trader_sees_only_the_certificates_of_the_administration_that_vouched_for_it(backend: Backend) {
    let node = Node::start(backend).await;
    // The LEI of Grupo Logístico Pacífico Sur is on a certificate of PE and one of CL; PE
    // registered the account.
    let trader = node.token("trader@pacificosur.demo.aeo").await;
    let reply = node.get("/api/v1/me/certificates", Some(&trader)).await;
    let numbers: Vec<&str> =
        reply.ok()["items"].as_array().expect("list").iter().filter_map(|c| c["number"].as_str()).collect();
    assert_eq!(numbers, vec!["PE-OEA-0006"], "{}", reply.body);

    // CO cannot register a trader for an operator only CL certified (a Chilean RUT), and so
    // cannot read CL's certificate of it, address included, through such an account.
    let co_admin = node.token("admin@co.demo.aeo").await;
    let platform = node.token(common::PLATFORM_EMAIL).await;
    for token in [&co_admin, &platform] {
        let reply = node
            .send(
                Method::POST,
                "/api/v1/administrations/CO/users",
                Some(token),
                Some(json!({"email": "intruso@co.example.test", "password": "contrasena-larga-2026", "role": "trader",
                            "operator_identifier": "CL-RUT:76.086.428-5"})),
            )
            .await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec!["operator_identifier"], "{}", reply.body);
    }
    let refused = node
        .send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "intruso@co.example.test", "password": "contrasena-larga-2026"})),
        )
        .await;
    refused.problem(401);
    // CL may register one: it certified the operator.
    let cl_admin = node.token("admin@cl.demo.aeo").await;
    let reply = node
        .send(
            Method::POST,
            "/api/v1/administrations/CL/users",
            Some(&cl_admin),
            Some(json!({"email": "andina2@cl.example.test", "password": "contrasena-larga-2026", "role": "trader",
                        "operator_identifier": "CL-RUT:76.086.428-5"})),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
}

async fn without_an_mra_in_force_the_border_sees_only_the_public_facts(backend: Backend) {
    let node = Node::start(backend).await;
    let platform = node.token(common::PLATFORM_EMAIL).await;
    // KR is hosted here with no MRA with anyone.
    node.send(
        Method::POST,
        "/api/v1/administrations",
        Some(&platform),
        Some(json!({"code": "KR", "name": "Korea Customs Service", "country": "KR", "programme": "AEO"})),
    )
    .await
    .ok();
    node.send(
        Method::POST,
        "/api/v1/administrations/KR/users",
        Some(&platform),
        Some(json!({"email": "border@kr.example.test", "password": "border-password-2026", "role": "border_officer"})),
    )
    .await
    .ok();
    let kr = node.login("border@kr.example.test", "border-password-2026").await;
    // CL-OEA-0015: suspended with a reason, operator not public. CL-OEA-0007: public operator.
    let answer = ask(&node, &kr, "KR", "issuer=CL&certificate=CL-OEA-0015").await;
    assert!(reasons(&answer).contains(&"no_mra"), "{answer}");
    assert_eq!(answer["certificate"]["status"], "suspended", "{answer}");
    assert_public_only(&answer, None);
    let answer = ask(&node, &kr, "KR", "issuer=CL&certificate=CL-OEA-0007").await;
    assert_public_only(&answer, Some("public"));
    // Found by a tax number, not even the number: that would tie the tax number to a certificate.
    let by_id = ask(&node, &kr, "KR", "issuer=CL&identifier=CL-RUT:76.086.428-5").await;
    assert!(by_id["certificate"].is_null(), "{by_id}");
    assert_eq!(by_id["recognized"], false, "{by_id}");

    // PE's arrangement with CL suspended: the same.
    let pe_admin = node.token("admin@pe.demo.aeo").await;
    let mut mra = node.get("/api/v1/administrations/PE/mras/CL", Some(&pe_admin)).await.ok().clone();
    mra["status"] = json!("suspended");
    node.send(Method::PUT, "/api/v1/administrations/PE/mras/CL", Some(&pe_admin), Some(mra)).await.ok();
    let border = node.token("border@pe.demo.aeo").await;
    let answer = ask(&node, &border, "PE", "issuer=CL&certificate=CL-OEA-0015").await;
    assert!(reasons(&answer).contains(&"mra_not_in_force"), "{answer}");
    assert_public_only(&answer, None);
    // With an arrangement in force, a partner sees the details.
    let co = node.token("border@co.demo.aeo").await;
    let answer = ask(&node, &co, "CO", "issuer=CL&certificate=CL-OEA-0015").await;
    assert!(answer["certificate"]["roles"].is_array(), "{answer}");
    assert!(answer["certificate"]["status_reason"].is_string(), "{answer}");
    assert!(answer["certificate"]["operator"]["name"].is_string(), "{answer}");
}

/// An answer's certificate shows the number, status, category and expiry, the operator's name
/// only where it consented (`name` is `Some` then), and no roles, start date or status reason.
#[track_caller]
fn assert_public_only(answer: &Value, name: Option<&str>) {
    let certificate = answer["certificate"].as_object().unwrap_or_else(|| panic!("a certificate: {answer}"));
    for shown in ["number", "status", "category", "valid_until"] {
        assert!(certificate.contains_key(shown), "{shown} is public: {answer}");
    }
    for hidden in ["roles", "valid_from"] {
        assert!(!certificate.contains_key(hidden), "{hidden}: {answer}");
    }
    assert!(certificate["status_reason"].is_null(), "status_reason: {answer}");
    match name {
        Some(_) => assert!(certificate["operator"]["name"].is_string(), "a consenting operator's name: {answer}"),
        None => assert!(!certificate.contains_key("operator"), "an operator that did not consent: {answer}"),
    }
}

async fn the_public_check_shows_only_what_is_public(backend: Backend) {
    let node = Node::start_with(backend, true, |settings| settings.public_rate_limit = 5).await;
    let private = node.get("/api/v1/public/administrations/CL/certificates/CL-OEA-0001", None).await;
    let body = private.ok();
    let mut keys: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, vec!["administration", "category", "number", "status", "valid_until"]);
    let public = node.get("/api/v1/public/administrations/CL/certificates/CL-OEA-0007", None).await;
    assert_eq!(public.ok()["operator_name"], "Salmones Patagonia Austral S.A.");
    assert_eq!(public.body["status"], "suspended");
    node.get("/api/v1/public/administrations/CL/certificates/NOPE", None).await.problem(404);
    node.get("/api/v1/public/administrations/CL/certificates/NOPE", None).await.problem(404);
    node.get("/api/v1/public/administrations/CL/certificates/NOPE", None).await.problem(404);
    // The sixth request within the minute is one too many.
    let limited = node.get("/api/v1/public/administrations/CL/certificates/CL-OEA-0001", None).await;
    limited.problem(429);
    assert!(limited.headers.get("retry-after").is_some());
}

/// Every change is in the next answer: the summary cache never answers from before a write.
async fn answers_follow_every_change_at_once(backend: Backend) {
    let node = Node::start(backend).await;
    every_change_is_in_the_next_answer(&node).await;
    assert!(!node.state.hot.certificates.is_empty(), "the answers were kept in the summary cache");
}

/// With no room for summaries, every question is answered by reading the database in place,
/// and the answers are the same.
async fn answers_read_in_place_follow_every_change(backend: Backend) {
    let node = Node::start_with(backend, true, |settings| settings.summary_cache_mib = 0).await;
    every_change_is_in_the_next_answer(&node).await;
    assert_eq!(node.state.hot.certificates.len(), 0, "no summary was held: every answer was read in place");
}

async fn every_change_is_in_the_next_answer(node: &Node) {
    let officer = node.token("officer@cl.demo.aeo").await;
    let border = node.token("border@pe.demo.aeo").await;
    let question = "issuer=CL&certificate=CL-OEA-0002";
    let status = "/api/v1/administrations/CL/certificates/CL-OEA-0002/status";
    assert_eq!(ask(node, &border, "PE", question).await["recognized"], true);

    let suspend = json!({"status": "suspended", "reason": "Auditoría en curso"});
    node.send(Method::POST, status, Some(&officer), Some(suspend)).await.ok();
    let answer = ask(node, &border, "PE", question).await;
    assert_eq!(reasons(&answer), vec!["certificate_suspended"]);
    assert_eq!(answer["certificate"]["status_reason"], "Auditoría en curso");

    node.send(Method::POST, status, Some(&officer), Some(json!({"status": "active"}))).await.ok();
    assert_eq!(ask(node, &border, "PE", question).await["recognized"], true);

    // Details changed by a merge patch: the certificate has expired.
    let path = "/api/v1/administrations/CL/certificates/CL-OEA-0002";
    let patch = json!({"valid_from": "2019-01-01", "valid_until": "2020-01-01"});
    let reply = node.send(Method::PATCH, path, Some(&officer), Some(patch)).await;
    assert_eq!(reply.ok()["status"], "expired");
    let answer = ask(node, &border, "PE", question).await;
    assert_eq!(reasons(&answer), vec!["certificate_expired"]);
    assert_eq!(answer["certificate"]["valid_until"], "2020-01-01");

    // A certificate that did not exist when first asked about is found once created.
    let missing = "issuer=CL&certificate=CL-OEA-9001";
    assert_eq!(reasons(&ask(node, &border, "PE", missing).await), vec!["certificate_not_found"]);
    let create = json!({"number": "CL-OEA-9001", "category": "security", "roles": ["exporter"],
        "valid_from": "2026-01-01", "valid_until": "2029-01-01",
        "operator": {"name": "Nueva Exportadora SpA", "identifiers": [{"scheme": "CL-TIN", "value": "9001"}],
            "address": {"street": "Av. Libertad 1200", "city": "Viña del Mar", "postal_code": "2520000", "country": "CL"}}});
    let reply = node.send(Method::POST, "/api/v1/administrations/CL/certificates", Some(&officer), Some(create)).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(ask(node, &border, "PE", missing).await["recognized"], true);

    // An import that renews the expired certificate and adds another: both answered at once.
    let csv = "number,category,roles,valid_from,valid_until,operator_name,identifiers,street,city,postal_code,country,public\n\
        CL-OEA-0002,security,exporter,2026-01-01,2029-12-31,Renovada SpA,CL-TIN:0002,Calle 2,Santiago,,CL,true\n\
        CL-OEA-9002,full,importer,2026-01-01,2029-12-31,Importada SpA,CL-TIN:9002,Calle 3,Santiago,,CL,false\n";
    let import = "/api/v1/administrations/CL/certificates/import";
    let reply = node.send_raw(Method::POST, import, Some(&officer), "text/csv", csv.as_bytes().to_vec(), &[]).await;
    assert_eq!((reply.ok()["created"].clone(), reply.ok()["updated"].clone()), (json!(1), json!(1)));
    let renewed = ask(node, &border, "PE", question).await;
    assert_eq!(
        (renewed["recognized"].clone(), renewed["certificate"]["valid_until"].clone()),
        (json!(true), json!("2029-12-31"))
    );
    assert_eq!(renewed["certificate"]["operator"]["name"], "Renovada SpA");
    let imported = ask(node, &border, "PE", "issuer=CL&certificate=CL-OEA-9002").await;
    assert_eq!(imported["recognized"], true, "{imported}");

    // An import that only creates: nothing to forget, and still in the next answer.
    let fresh = "issuer=CL&certificate=CL-OEA-9003";
    assert_eq!(reasons(&ask(node, &border, "PE", fresh).await), vec!["certificate_not_found"]);
    let csv = "number,category,roles,valid_from,valid_until,operator_name,identifiers,street,city,postal_code,country,public\n\
        CL-OEA-9003,full,exporter,2026-01-01,2029-12-31,Recién Llegada SpA,CL-TIN:9003,Calle 4,Santiago,,CL,true\n";
    let reply = node.send_raw(Method::POST, import, Some(&officer), "text/csv", csv.as_bytes().to_vec(), &[]).await;
    assert_eq!(reply.ok()["created"], 1);
    let created = ask(node, &border, "PE", fresh).await;
    assert_eq!(created["recognized"], true, "{created}");
}

/// A second server on the same database (another process of the same deployment) answers with
/// a change made through the first within a couple of seconds, though it had answered before.
async fn a_second_server_on_the_same_database_follows_the_first(backend: Backend) {
    let first = Node::start(backend).await;
    let second = first.start_beside().await;
    revocation_through_the_first_is_seen_by_the_second(&first, &second).await;
    assert!(!second.state.hot.certificates.is_empty(), "the second server kept its answers");
}

/// The same with a second server that reads every answer in place: the snapshot its reading
/// connections keep between questions is renewed once it learns of the change.
async fn a_second_server_reading_in_place_follows_the_first(backend: Backend) {
    let first = Node::start(backend).await;
    let second = first.start_beside_with(|settings| settings.summary_cache_mib = 0).await;
    revocation_through_the_first_is_seen_by_the_second(&first, &second).await;
    assert_eq!(second.state.hot.certificates.len(), 0, "every answer of the second server was read in place");
}

async fn revocation_through_the_first_is_seen_by_the_second(first: &Node, second: &Node) {
    let officer = first.token("officer@cl.demo.aeo").await;
    let border = second.token("border@pe.demo.aeo").await;
    let question = "issuer=CL&certificate=CL-OEA-0003";
    assert_eq!(ask(second, &border, "PE", question).await["recognized"], true);

    let revoke = json!({"status": "revoked", "reason": "Fraude documental comprobado"});
    let path = "/api/v1/administrations/CL/certificates/CL-OEA-0003/status";
    first.send(Method::POST, path, Some(&officer), Some(revoke)).await.ok();
    let started = std::time::Instant::now();
    loop {
        let answer = ask(second, &border, "PE", question).await;
        if reasons(&answer) == vec!["certificate_revoked"] {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "still answering {answer}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// On SQLite, the snapshot a reading connection keeps between questions does not hold the
/// write-ahead log back: once idle for a moment it is let go, and a checkpoint copies every
/// change written after it into the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_idle_reader_does_not_hold_back_the_checkpoint() {
    let node = Node::start_with(Backend::Sqlite, true, |settings| settings.summary_cache_mib = 0).await;
    let officer = node.token("officer@cl.demo.aeo").await;
    let border = node.token("border@pe.demo.aeo").await;
    // Readers take their snapshots, then stay idle while the officer writes.
    for number in 1..=8 {
        ask(&node, &border, "PE", &format!("issuer=CL&certificate=CL-OEA-{number:04}")).await;
    }
    let suspend = json!({"status": "suspended", "reason": "Auditoría en curso"});
    let path = "/api/v1/administrations/CL/certificates/CL-OEA-0004/status";
    node.send(Method::POST, path, Some(&officer), Some(suspend)).await.ok();

    let db = &node.state.store.db;
    let started = std::time::Instant::now();
    loop {
        // (busy, frames in the log, frames copied into the database)
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), "PRAGMA wal_checkpoint(PASSIVE)"))
            .await
            .expect("checkpoint")
            .expect("a row");
        let (log, copied): (i32, i32) =
            (row.try_get_by_index(1).expect("log"), row.try_get_by_index(2).expect("copied"));
        if log == copied {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{copied} of {log} frames copied");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

both_backends!(
    a_trader_sees_only_the_certificates_of_the_administration_that_vouched_for_it,
    without_an_mra_in_force_the_border_sees_only_the_public_facts,
    answers_follow_every_change_at_once,
    answers_read_in_place_follow_every_change,
    a_second_server_on_the_same_database_follows_the_first,
    a_second_server_reading_in_place_follows_the_first,
    recognized_across_the_pacific_alliance,
    revoked_certificate_is_never_recognized,
    every_reason_code_is_reported,
    questions_with_missing_or_invalid_parts_name_the_field,
    a_trader_sees_where_it_is_recognised,
    the_public_check_shows_only_what_is_public,
);
