//! Federation on both databases: two in-process nodes (each its own SQLite file or PostgreSQL
//! database, talking over real HTTP) peer, push, pull and answer from the mirror. The
//! multi-process scenarios (kills, restarts, hanging peers) are in `tests/federation.rs`.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, Node, PLATFORM_EMAIL};
use reqwest::Method;
use serde_json::{Value, json};

async fn setup_administration(node: &Node, code: &str) -> String {
    let platform = node.token(PLATFORM_EMAIL).await;
    node.send(
        Method::POST,
        "/api/v1/administrations",
        Some(&platform),
        Some(json!({"code": code, "name": format!("Aduana {code}"), "country": &code[..2], "programme": "OEA"})),
    )
    .await
    .ok();
    let email = format!("admin@{}.fed.test", code.to_lowercase());
    node.send(
        Method::POST,
        &format!("/api/v1/administrations/{code}/users"),
        Some(&platform),
        Some(json!({"email": email, "password": "federation-admin-2026", "role": "customs_admin"})),
    )
    .await
    .ok();
    node.login(&email, "federation-admin-2026").await
}

async fn peer(node: &Node, token: &str, code: &str, partner: &str, partner_node: &Node) {
    let mra = json!({"title": "Alianza del Pacífico", "status": "in_force", "signed_on": "2018-07-21",
                     "in_force_from": "2019-07-01", "categories": ["security", "full"], "roles": []});
    node.send(Method::PUT, &format!("/api/v1/administrations/{code}/mras/{partner}"), Some(token), Some(mra))
        .await
        .ok();
    let reply = node
        .send(
            Method::PUT,
            &format!("/api/v1/administrations/{code}/peers/{partner}"),
            Some(token),
            Some(json!({"base_url": partner_node.base})),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    assert_eq!(reply.body["keys"].as_array().map(Vec::len), Some(1), "{}", reply.body);
}

fn certificate(number: &str, rut: &str) -> Value {
    json!({"number": number, "category": "security", "roles": ["exporter"], "valid_from": "2024-01-01",
           "valid_until": "2030-01-01",
           "operator": {"name": format!("Operador {number}"), "identifiers": [{"scheme": "CL-RUT", "value": rut}],
                        "address": {"street": "Av. Apoquindo 4501", "city": "Santiago", "country": "CL"}}})
}

async fn ask(node: &Node, token: &str, query: &str) -> Value {
    node.get(&format!("/api/v1/administrations/PE/recognition?{query}"), Some(token)).await.ok().clone()
}

/// Polls until `check` holds or `within` passes; returns how long it took.
async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < within {
        if check().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met within {within:?}");
}

async fn partners_exchange_changes_and_answer_from_the_mirror(backend: Backend) {
    let chile = Node::start_empty(backend).await;
    let peru = Node::start_empty(backend).await;
    let cl = setup_administration(&chile, "CL").await;
    let pe = setup_administration(&peru, "PE").await;

    // A certificate that exists before the partners peer: PE must pull it from the feed.
    chile
        .send(
            Method::POST,
            "/api/v1/administrations/CL/certificates",
            Some(&cl),
            Some(certificate("CL-1", "76086428-5")),
        )
        .await
        .ok();
    peer(&chile, &cl, "CL", "PE", &peru).await;
    peer(&peru, &pe, "PE", "CL", &chile).await;

    // Asked at PE about CL's certificate, by number and by identifier.
    let answer = ask(&peru, &pe, "issuer=CL&certificate=CL-1").await;
    assert_eq!(answer["recognized"], true, "{answer}");
    assert!(["peer", "mirror", "cache"].contains(&answer["source"].as_str().unwrap_or_default()), "{answer}");
    let by_id = ask(&peru, &pe, "issuer=CL&identifier=CL-RUT:76.086.428-5").await;
    assert_eq!(by_id["certificate"]["number"], "CL-1", "{by_id}");

    // A change is pushed to PE and lands in its mirror.
    chile
        .send(
            Method::POST,
            "/api/v1/administrations/CL/certificates/CL-1/status",
            Some(&cl),
            Some(json!({"status": "suspended", "reason": "Investigación"})),
        )
        .await
        .ok();
    eventually(Duration::from_secs(3), async || {
        let answer = ask(&peru, &pe, "issuer=CL&certificate=CL-1").await;
        answer["reasons"] == json!(["certificate_suspended"]) && answer["source"] == "mirror"
    })
    .await;

    // The peer status shows the exchange: nothing left to deliver, the mirror synced.
    eventually(Duration::from_secs(3), async || {
        let peers = chile.get("/api/v1/administrations/CL/peers", Some(&cl)).await;
        peers.ok()["items"][0]["backlog"] == 0
    })
    .await;
    // The pushed change came after a gap (CL-1 was created before the peering): the pull fills
    // it, and the mirror is synced through both changes.
    eventually(Duration::from_secs(5), async || {
        let peers = peru.get("/api/v1/administrations/PE/peers", Some(&pe)).await;
        peers.ok()["items"][0]["mirror_synced_seq"].as_i64().unwrap_or_default() >= 2
    })
    .await;
    let peers = peru.get("/api/v1/administrations/PE/peers", Some(&pe)).await;
    let status = &peers.ok()["items"][0];
    assert_eq!(status["peer"], "CL");
    assert!(status["mirror_current_until"].is_string(), "{status}");
    assert!(status["last_success_at"].is_string(), "{status}");

    // A certificate the issuer does not have is answered from the current mirror.
    let missing = ask(&peru, &pe, "issuer=CL&certificate=CL-404").await;
    assert_eq!(missing["reasons"], json!(["certificate_not_found"]), "{missing}");

    // Every federation call is audited on both sides.
    eventually(Duration::from_secs(3), async || {
        let audit = chile.get("/api/v1/administrations/CL/audit?limit=500", Some(&cl)).await;
        let actions: Vec<String> = audit.ok()["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["action"].as_str().map(str::to_owned))
            .collect();
        actions.iter().any(|a| a == "federation.served") && actions.iter().any(|a| a == "federation.called")
    })
    .await;
}

both_backends!(partners_exchange_changes_and_answer_from_the_mirror);
