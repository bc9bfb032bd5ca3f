//! Who may do what: logging in (its throttling is in `security.rs`), hostile and stale tokens, token
//! invalidation, users and administrations, tenant isolation on every tenant route, and the
//! role matrix within one administration.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{Backend, DEMO_PASSWORD, Node, PLATFORM_EMAIL, Reply};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const LOGIN: &str = "/api/v1/auth/login";
const ME: &str = "/api/v1/me";
const CL_CERTIFICATE: &str = "/api/v1/administrations/CL/certificates/CL-OEA-0001";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

async fn try_login(node: &Node, email: &str, password: &str) -> Reply {
    node.send(Method::POST, LOGIN, None, Some(json!({"email": email, "password": password}))).await
}

/// A GET with this exact `Authorization` header (or none).
async fn get_with_authorization(node: &Node, path: &str, authorization: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = authorization.map(|value| ("authorization", value)).into_iter().collect();
    node.send_raw(Method::GET, path, None, "", Vec::new(), &headers).await
}

/// The items of a list, whether it is a bare array or a `{"items": [...]}` page.
fn list_items(body: &Value) -> Vec<Value> {
    body.as_array().or_else(|| body["items"].as_array()).cloned().unwrap_or_else(|| panic!("not a list: {body}"))
}

/// The id of a user of `code`, as listed to its customs_admin (or the platform administrator).
async fn user_id(node: &Node, admin_token: &str, code: &str, email: &str) -> i64 {
    let reply = node.get(&format!("/api/v1/administrations/{code}/users"), Some(admin_token)).await;
    list_items(reply.ok())
        .iter()
        .find(|user| user["email"] == email)
        .and_then(|user| user["id"].as_i64())
        .unwrap_or_else(|| panic!("{email} is not listed at {code}: {}", reply.body))
}

async fn create_user(node: &Node, token: &str, code: &str, body: Value) -> Reply {
    node.send(Method::POST, &format!("/api/v1/administrations/{code}/users"), Some(token), Some(body)).await
}

async fn patch_user(node: &Node, token: &str, code: &str, id: i64, body: Value) -> Reply {
    node.send(Method::PATCH, &format!("/api/v1/administrations/{code}/users/{id}"), Some(token), Some(body)).await
}

/// A compact JWT's header and payload as JSON, and its three raw segments.
fn jwt(token: &str) -> (Value, Value, [String; 3]) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {token}");
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON segment")
    };
    (decode(parts[0]), decode(parts[1]), [parts[0].to_owned(), parts[1].to_owned(), parts[2].to_owned()])
}

fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn sign(algorithm: Algorithm, claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(algorithm), claims, &EncodingKey::from_secret(key)).expect("sign")
}

/// The HMAC key this node signs access tokens with, derived from its node key file exactly as
/// the node does; used to forge tokens that are wrong in one claim only.
fn node_token_key(node: &Node) -> Vec<u8> {
    let text = std::fs::read_to_string(&node.state.settings.node_key_file).expect("node key file");
    let text = text.trim();
    let secret: Vec<u8> =
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex node key")).collect();
    Sha256::new().chain_update(b"aeo-registry access token key v1").chain_update(&secret).finalize().to_vec()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Asserts the uniform 401: a problem, `WWW-Authenticate: Bearer`, and the same body as `expected`.
#[track_caller]
fn assert_unauthorized(reply: &Reply, expected: &Value, case: &str) {
    assert_eq!(reply.status.as_u16(), 401, "{case}: expected 401, got {}: {}", reply.status, reply.body);
    reply.problem(401);
    assert_eq!(&reply.body, expected, "{case}: the 401 body differs");
    let challenge = reply.headers.get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{case}: WWW-Authenticate is {challenge:?}");
}

fn certificate(number: Option<&str>) -> Value {
    let mut body = json!({
        "category": "security", "roles": ["exporter"], "valid_from": "2025-01-01", "valid_until": "2028-01-01",
        "operator": {"name": "Operador de Prueba SpA", "identifiers": [{"scheme": "CL-TIN", "value": "TEST-1"}],
                     "address": {"street": "Calle 1", "city": "Santiago", "postal_code": "8320000", "country": "CL"}}
    });
    if let Some(number) = number {
        body["number"] = json!(number);
    }
    body
}

fn mra_body(status: &str) -> Value {
    json!({"title": "Acuerdo de Reconocimiento Mutuo", "status": status, "signed_on": "2018-07-21",
           "in_force_from": "2019-07-01", "categories": ["security", "full"], "roles": []})
}

// ---------------------------------------------------------------------------------------------
// The table of tenant routes
// ---------------------------------------------------------------------------------------------

/// What a tenant route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Read certificates and MRA records, ask the border question.
    Read,
    /// Publish and change certificates.
    Publish,
    /// MRAs and users.
    Manage,
    /// The audit log.
    Audit,
}

impl Need {
    fn allows(self, role: &str) -> bool {
        let roles: &[&str] = match self {
            Need::Read => &["customs_admin", "customs_officer", "border_officer", "auditor"],
            Need::Publish => &["customs_admin", "customs_officer"],
            Need::Manage => &["customs_admin"],
            Need::Audit => &["customs_admin", "auditor"],
        };
        roles.contains(&role)
    }
}

/// The objects a route is aimed at.
struct Target<'a> {
    code: &'a str,
    number: &'a str,
    partner: &'a str,
    /// A peer registry on another node (peer routes; an administration hosted here needs none).
    peer: &'a str,
    user: i64,
    /// What bodies need from the node: `base_url`, and `jwks`, PE's real signing keys.
    context: &'a Value,
}

struct Route {
    method: &'static str,
    /// The path exactly as in the OpenAPI document.
    template: &'static str,
    query: &'static str,
    /// The body of the `n`-th request on this route (so that creations stay unique).
    body: fn(&Value, usize) -> Option<Value>,
    need: Need,
    /// The status of success, for a role that may (for one route, a 409 past authorisation).
    success: &'static [u16],
}

impl Route {
    fn method(&self) -> Method {
        self.method.parse().expect("method")
    }

    fn path(&self, target: &Target) -> String {
        let path = self
            .template
            .replace("{code}", target.code)
            .replace("{number}", target.number)
            .replace("{partner}", target.partner)
            .replace("{peer}", target.peer)
            .replace("{id}", &target.user.to_string());
        format!("{path}{}", self.query)
    }

    fn name(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    async fn send(&self, node: &Node, target: &Target<'_>, token: &str, n: usize) -> Reply {
        node.send(self.method(), &self.path(target), Some(token), (self.body)(target.context, n)).await
    }
}

/// Every route under `/api/v1/administrations/{code}`. Each body is a valid, effective write,
/// so that a request that got through would show (and change something).
fn tenant_routes() -> Vec<Route> {
    const CERTIFICATES: &str = "/api/v1/administrations/{code}/certificates";
    const CERTIFICATE: &str = "/api/v1/administrations/{code}/certificates/{number}";
    const MRA: &str = "/api/v1/administrations/{code}/mras/{partner}";
    const USERS: &str = "/api/v1/administrations/{code}/users";
    const PEER: &str = "/api/v1/administrations/{code}/peers/{peer}";
    fn none(_: &Value, _: usize) -> Option<Value> {
        None
    }
    vec![
        Route { method: "GET", template: CERTIFICATES, query: "", body: none, need: Need::Read, success: &[200] },
        Route {
            method: "POST",
            template: CERTIFICATES,
            query: "",
            body: |_, _| Some(certificate(None)),
            need: Need::Publish,
            success: &[201],
        },
        Route { method: "GET", template: CERTIFICATE, query: "", body: none, need: Need::Read, success: &[200] },
        Route {
            method: "PATCH",
            template: CERTIFICATE,
            query: "",
            body: |_, _| Some(json!({"operator": {"public": true, "name": "Nombre Cambiado SpA"}})),
            need: Need::Publish,
            success: &[200],
        },
        Route {
            method: "POST",
            template: "/api/v1/administrations/{code}/certificates/{number}/status",
            query: "",
            body: |_, _| Some(json!({"status": "suspended", "reason": "Fiscalización en curso"})),
            need: Need::Publish,
            // The second role allowed finds it suspended already: a 409 past authorisation.
            success: &[200, 409],
        },
        Route {
            method: "GET",
            template: "/api/v1/administrations/{code}/certificates/{number}/history",
            query: "",
            body: none,
            need: Need::Read,
            success: &[200],
        },
        Route {
            method: "POST",
            template: "/api/v1/administrations/{code}/certificates/import",
            query: "",
            body: |_, _| Some(json!([certificate(Some("CL-OEA-0001")), certificate(Some("IMP-0001"))])),
            need: Need::Publish,
            success: &[200],
        },
        Route {
            method: "GET",
            template: "/api/v1/administrations/{code}/mras",
            query: "",
            body: none,
            need: Need::Read,
            success: &[200],
        },
        Route { method: "GET", template: MRA, query: "", body: none, need: Need::Read, success: &[200] },
        Route {
            method: "PUT",
            template: MRA,
            query: "",
            body: |_, _| Some(mra_body("suspended")),
            need: Need::Manage,
            success: &[200],
        },
        Route {
            method: "GET",
            template: "/api/v1/administrations/{code}/recognition",
            query: "?issuer=CL&certificate=CL-OEA-0001",
            body: none,
            need: Need::Read,
            success: &[200],
        },
        Route {
            method: "GET",
            template: "/api/v1/administrations/{code}/audit",
            query: "",
            body: none,
            need: Need::Audit,
            success: &[200],
        },
        Route { method: "GET", template: USERS, query: "", body: none, need: Need::Audit, success: &[200] },
        Route {
            method: "POST",
            template: USERS,
            query: "",
            body: |_, n| {
                Some(json!({"email": format!("new-{n}@example.test"), "password": "a-long-password-2026",
                            "role": "customs_officer"}))
            },
            need: Need::Manage,
            success: &[201],
        },
        Route {
            method: "PATCH",
            template: "/api/v1/administrations/{code}/users/{id}",
            query: "",
            body: |_, _| Some(json!({"disabled": true})),
            need: Need::Manage,
            success: &[200],
        },
        // Peers: registered before they are read, with PE's real keys given inline.
        Route {
            method: "PUT",
            template: PEER,
            query: "",
            body: |context, _| Some(json!({"base_url": context["base_url"], "jwks": context["jwks"]})),
            need: Need::Manage,
            success: &[200, 201],
        },
        Route { method: "GET", template: PEER, query: "", body: none, need: Need::Audit, success: &[200] },
        Route {
            method: "GET",
            template: "/api/v1/administrations/{code}/peers",
            query: "",
            body: none,
            need: Need::Audit,
            success: &[200],
        },
        Route {
            // With no key change pending, an allowed caller gets past authorisation to a 409.
            method: "POST",
            template: "/api/v1/administrations/{code}/peers/{peer}/keys/accept",
            query: "",
            body: |_, _| Some(json!({"thumbprints": []})),
            need: Need::Manage,
            success: &[409],
        },
        Route {
            method: "GET",
            template: "/api/v1/administrations/{code}/keys",
            query: "",
            body: none,
            need: Need::Audit,
            success: &[200],
        },
        Route {
            method: "POST",
            template: "/api/v1/administrations/{code}/keys/rotate",
            query: "",
            body: none,
            need: Need::Manage,
            success: &[200],
        },
    ]
}

/// `base_url` and `jwks` (PE's published signing keys), for the bodies of peer routes.
async fn route_context(node: &Node) -> Value {
    let jwks = node.get("/federation/v1/administrations/PE/jwks.json", None).await;
    json!({"base_url": node.base, "jwks": jwks.ok().clone()})
}

/// Routes whose path has `{code}` but which are public by design.
const PUBLIC_CODE_ROUTES: [&str; 1] = ["/api/v1/public/administrations/{code}/certificates/{number}"];

/// What CL's administrator sees of CL's data, to show that nothing changed.
async fn snapshot_of_cl(node: &Node, cl_admin: &str) -> Vec<Value> {
    let mut parts = Vec::new();
    for path in [
        "/api/v1/administrations/CL/certificates/CL-OEA-0001",
        "/api/v1/administrations/CL/certificates/CL-OEA-0001/history",
        "/api/v1/administrations/CL/certificates?limit=500",
        "/api/v1/administrations/CL/mras",
        "/api/v1/administrations/CL/mras/PE",
        "/api/v1/administrations/CL/users",
        "/api/v1/administrations/CL/audit?limit=500",
        "/api/v1/administrations/CL/peers",
        "/api/v1/administrations/CL/keys",
    ] {
        parts.push(node.get(path, Some(cl_admin)).await.ok().clone());
    }
    parts
}

// ---------------------------------------------------------------------------------------------
// 1. Login and /me
// ---------------------------------------------------------------------------------------------

async fn login_gives_a_bearer_token_with_its_lifetime(backend: Backend) {
    let node = Node::start(backend).await;
    let reply = try_login(&node, "officer@cl.demo.aeo", DEMO_PASSWORD).await;
    let body = reply.ok();
    let token = body["access_token"].as_str().expect("access_token");
    assert_eq!(token.split('.').count(), 3, "a compact JWT: {token}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], node.state.settings.token_ttl);
    assert!(body["expires_in"].as_u64().expect("expires_in") > 0);
    node.get(ME, Some(token)).await.ok();
}

async fn a_wrong_password_and_an_unknown_email_get_byte_identical_401s(backend: Backend) {
    let node = Node::start(backend).await;
    let wrong_password = try_login(&node, "officer@cl.demo.aeo", "not-the-password-2026").await;
    let unknown_email = try_login(&node, "nobody@cl.demo.aeo", DEMO_PASSWORD).await;
    wrong_password.problem(401);
    unknown_email.problem(401);
    assert_eq!(wrong_password.body, unknown_email.body);
    assert_eq!(wrong_password.content_type(), unknown_email.content_type());
    // An empty password is just another wrong one.
    let empty = try_login(&node, "officer@cl.demo.aeo", "").await;
    empty.problem(401);
    assert_eq!(empty.body, unknown_email.body);
    // Nothing in the answer tells which part was wrong.
    let text = wrong_password.body.to_string().to_lowercase();
    assert!(!text.contains("password") && !text.contains("e-mail") && !text.contains("unknown"), "{text}");
}

async fn login_email_is_case_insensitive(backend: Backend) {
    let node = Node::start(backend).await;
    let token = node.login("Officer@CL.Demo.AEO", DEMO_PASSWORD).await;
    let me = node.get(ME, Some(&token)).await;
    assert_eq!(me.ok()["email"], "officer@cl.demo.aeo");
}

async fn me_describes_a_customs_user_a_trader_and_the_platform_administrator(backend: Backend) {
    let node = Node::start(backend).await;
    let cases = [
        ("officer@cl.demo.aeo", "customs_officer", json!("CL"), Value::Null),
        ("auditor@pe.demo.aeo", "auditor", json!("PE"), Value::Null),
        ("trader@andina.demo.aeo", "trader", Value::Null, json!("CL-RUT:76086428-5")),
        (PLATFORM_EMAIL, "platform_admin", Value::Null, Value::Null),
    ];
    for (email, role, administration, operator) in cases {
        let token = node.token(email).await;
        let me = node.get(ME, Some(&token)).await;
        let body = me.ok();
        assert_eq!(body["email"], email, "{body}");
        assert_eq!(body["role"], role, "{body}");
        assert_eq!(body["administration"], administration, "{body}");
        assert_eq!(body["operator_identifier"], operator, "{body}");
        for key in ["administration", "operator_identifier"] {
            assert!(body.get(key).is_some(), "{key} is present even when null: {body}");
        }
        assert!(body.get("password_hash").is_none() && body.get("password").is_none(), "{body}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Hostile, expired and foreign tokens
// ---------------------------------------------------------------------------------------------

async fn forged_malformed_and_non_bearer_credentials_get_401(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token("officer@cl.demo.aeo").await;
    let platform = node.token(PLATFORM_EMAIL).await;
    // The genuine token works on both routes, so every refusal below is the forgery's doing.
    node.get(ME, Some(&officer)).await.ok();
    node.get(CL_CERTIFICATE, Some(&officer)).await.ok();

    let (header, claims, [raw_header, raw_payload, signature]) = jwt(&officer);
    assert_eq!(header["alg"], "HS256");
    let (_, platform_claims, _) = jwt(&platform);
    assert_ne!(claims["sub"], platform_claims["sub"]);

    let none_header = segment(&json!({"alg": "none", "typ": "JWT"}));
    let rs256_header = segment(&json!({"alg": "RS256", "typ": "JWT"}));
    // The officer's claims, now naming the platform administrator; the signature is kept.
    let payload_text = String::from_utf8(URL_SAFE_NO_PAD.decode(&raw_payload).expect("b64")).expect("utf8");
    let officer_sub = format!("\"sub\":{}", claims["sub"]);
    assert!(payload_text.contains(&officer_sub), "{payload_text}");
    let escalated =
        URL_SAFE_NO_PAD.encode(payload_text.replace(&officer_sub, &format!("\"sub\":{}", platform_claims["sub"])));
    let mut newer = claims.clone();
    newer["exp"] = json!(claims["exp"].as_i64().expect("exp") + 86_400);
    let basic = STANDARD.encode(format!("officer@cl.demo.aeo:{DEMO_PASSWORD}"));

    let cases: Vec<(&str, Option<String>)> = vec![
        ("no Authorization header", None),
        ("the scheme alone", Some("Bearer".into())),
        ("Bearer garbage", Some("Bearer garbage".into())),
        ("Bearer three garbage segments", Some("Bearer abc.def.ghi".into())),
        ("the token without a scheme", Some(officer.clone())),
        ("alg none, no signature", Some(format!("Bearer {none_header}.{raw_payload}."))),
        ("alg none, signature kept", Some(format!("Bearer {none_header}.{raw_payload}.{signature}"))),
        ("sub changed to the platform administrator", Some(format!("Bearer {raw_header}.{escalated}.{signature}"))),
        ("exp extended, signature kept", Some(format!("Bearer {raw_header}.{}.{signature}", segment(&newer)))),
        ("signature truncated", Some(format!("Bearer {raw_header}.{raw_payload}.{}", &signature[..10]))),
        ("re-signed HS512 with 'secret'", Some(format!("Bearer {}", sign(Algorithm::HS512, &claims, b"secret")))),
        ("re-signed HS384 with 'secret'", Some(format!("Bearer {}", sign(Algorithm::HS384, &claims, b"secret")))),
        ("re-signed HS256 with 'secret'", Some(format!("Bearer {}", sign(Algorithm::HS256, &claims, b"secret")))),
        (
            "re-signed HS256 with the issuer URL as key",
            Some(format!("Bearer {}", sign(Algorithm::HS256, &claims, node.base.as_bytes()))),
        ),
        ("header claims RS256, signature kept", Some(format!("Bearer {rs256_header}.{raw_payload}.{signature}"))),
        ("Basic with the right e-mail and password", Some(format!("Basic {basic}"))),
        ("Basic with the genuine token", Some(format!("Basic {officer}"))),
        ("Token scheme with the genuine token", Some(format!("Token {officer}"))),
    ];

    let baseline = get_with_authorization(&node, ME, None).await;
    baseline.problem(401);
    for path in [ME, CL_CERTIFICATE] {
        for (case, authorization) in &cases {
            let reply = get_with_authorization(&node, path, authorization.as_deref()).await;
            assert_unauthorized(&reply, &baseline.body, &format!("{case} on {path}"));
        }
        // The web pages' cookie is held to the same standard.
        for (case, cookie) in [
            ("an alg none cookie", format!("aeo_session={none_header}.{raw_payload}.")),
            ("a tampered cookie", format!("aeo_session={raw_header}.{escalated}.{signature}")),
        ] {
            let reply = node.send_raw(Method::GET, path, None, "", Vec::new(), &[("cookie", cookie.as_str())]).await;
            assert_unauthorized(&reply, &baseline.body, &format!("{case} on {path}"));
        }
    }
    // None of it hurt the genuine token.
    node.get(ME, Some(&officer)).await.ok();
}

async fn tokens_signed_with_the_node_key_are_still_refused_when_a_claim_is_wrong(backend: Backend) {
    let node = Node::start(backend).await;
    let key = node_token_key(&node);
    let (_, claims, _) = jwt(&node.token("officer@cl.demo.aeo").await);
    let genuine = |edit: &dyn Fn(&mut Value)| {
        let mut claims = claims.clone();
        claims["jti"] = json!(uuid::Uuid::new_v4().to_string());
        edit(&mut claims);
        sign(Algorithm::HS256, &claims, &key)
    };
    // Unchanged claims under the node's key pass: the forgeries below differ in one thing only.
    let control = genuine(&|_| {});
    assert!(
        node.get(ME, Some(&control)).await.status.is_success(),
        "a token minted with the node's key was refused: the key derivation in this test is out of date"
    );
    let remove = |name: &'static str| {
        move |c: &mut Value| {
            c.as_object_mut().expect("claims").remove(name);
        }
    };
    let cases: Vec<(&str, String)> = vec![
        ("expired a minute ago", genuine(&|c| c["exp"] = json!(now() - 60))),
        ("another audience", genuine(&|c| c["aud"] = json!("another-api"))),
        ("another issuer", genuine(&|c| c["iss"] = json!("http://127.0.0.1:1"))),
        ("no exp", genuine(&remove("exp"))),
        ("no aud", genuine(&remove("aud"))),
        ("no iss", genuine(&remove("iss"))),
        ("no sub", genuine(&remove("sub"))),
        ("no ver", genuine(&remove("ver"))),
        ("a user that does not exist", genuine(&|c| c["sub"] = json!("999999"))),
        ("a sub that is no id", genuine(&|c| c["sub"] = json!("officer@cl.demo.aeo"))),
        ("a later token version", genuine(&|c| c["ver"] = json!(c["ver"].as_i64().unwrap_or(0) + 1))),
        ("an earlier token version", genuine(&|c| c["ver"] = json!(c["ver"].as_i64().unwrap_or(0) - 1))),
        ("HS512 under the node key", {
            let mut c = claims.clone();
            c["jti"] = json!("x");
            sign(Algorithm::HS512, &c, &key)
        }),
    ];
    let baseline = node.get(ME, None).await;
    for (case, token) in &cases {
        for path in [ME, CL_CERTIFICATE] {
            assert_unauthorized(&node.get(path, Some(token)).await, &baseline.body, &format!("{case} on {path}"));
        }
    }
}

async fn an_expired_token_gets_401(backend: Backend) {
    let node = Node::start_with(backend, true, |settings| settings.token_ttl = 1).await;
    let reply = try_login(&node, "officer@cl.demo.aeo", DEMO_PASSWORD).await;
    assert_eq!(reply.ok()["expires_in"], 1);
    let token = reply.body["access_token"].as_str().expect("token").to_owned();
    node.get(ME, Some(&token)).await.ok();
    node.get(CL_CERTIFICATE, Some(&token)).await.ok();
    // Past expiry and the 5 s leeway.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let baseline = node.get(ME, None).await;
    assert_unauthorized(&node.get(ME, Some(&token)).await, &baseline.body, "expired on /me");
    assert_unauthorized(&node.get(CL_CERTIFICATE, Some(&token)).await, &baseline.body, "expired on a tenant route");
    // Logging in again is the way back.
    let fresh = node.token("officer@cl.demo.aeo").await;
    node.get(ME, Some(&fresh)).await.ok();
}

async fn a_token_of_another_node_gets_401(backend: Backend) {
    let a = Node::start(backend).await;
    let b = Node::start(backend).await;
    let from_a = a.token("admin@cl.demo.aeo").await;
    let from_b = b.token("admin@cl.demo.aeo").await;
    // The same account with the same id and version on both: only the node tells them apart.
    assert_eq!(jwt(&from_a).1["sub"], jwt(&from_b).1["sub"]);
    assert_eq!(jwt(&from_a).1["ver"], jwt(&from_b).1["ver"]);
    let baseline = b.get(ME, None).await;
    assert_unauthorized(&b.get(ME, Some(&from_a)).await, &baseline.body, "A's token at B on /me");
    assert_unauthorized(
        &b.get(CL_CERTIFICATE, Some(&from_a)).await,
        &baseline.body,
        "A's token at B on a tenant route",
    );
    assert_unauthorized(&a.get(ME, Some(&from_b)).await, &baseline.body, "B's token at A on /me");
    a.get(ME, Some(&from_a)).await.ok();
    b.get(CL_CERTIFICATE, Some(&from_b)).await.ok();
}

// ---------------------------------------------------------------------------------------------
// 3. Token invalidation
// ---------------------------------------------------------------------------------------------

async fn disabling_a_user_kills_its_tokens_and_its_logins_until_re_enabled(backend: Backend) {
    let node = Node::start(backend).await;
    let admin = node.token("admin@cl.demo.aeo").await;
    let officer = node.token("officer@cl.demo.aeo").await;
    let id = user_id(&node, &admin, "CL", "officer@cl.demo.aeo").await;
    node.get(ME, Some(&officer)).await.ok();

    let disabled = patch_user(&node, &admin, "CL", id, json!({"disabled": true})).await;
    assert_eq!(disabled.ok()["disabled"], true);
    let baseline = node.get(ME, None).await;
    assert_unauthorized(&node.get(ME, Some(&officer)).await, &baseline.body, "disabled user's token on /me");
    assert_unauthorized(&node.get(CL_CERTIFICATE, Some(&officer)).await, &baseline.body, "disabled user's token");
    // Its login fails exactly like an unknown e-mail.
    let refused = try_login(&node, "officer@cl.demo.aeo", DEMO_PASSWORD).await;
    let unknown = try_login(&node, "nobody@cl.demo.aeo", DEMO_PASSWORD).await;
    refused.problem(401);
    assert_eq!(refused.body, unknown.body);

    let enabled = patch_user(&node, &admin, "CL", id, json!({"disabled": false})).await;
    assert_eq!(enabled.ok()["disabled"], false);
    let again = node.token("officer@cl.demo.aeo").await;
    node.get(CL_CERTIFICATE, Some(&again)).await.ok();
    // Re-enabling does not revive the tokens issued before.
    assert_unauthorized(&node.get(ME, Some(&officer)).await, &baseline.body, "pre-disable token after re-enable");
    // An administrator cannot lock itself out.
    let admin_id = user_id(&node, &admin, "CL", "admin@cl.demo.aeo").await;
    let myself = patch_user(&node, &admin, "CL", admin_id, json!({"disabled": true})).await;
    myself.problem(422);
    assert_eq!(myself.fields(), vec!["disabled"]);
}

async fn changing_ones_password_kills_the_old_token(backend: Backend) {
    let node = Node::start(backend).await;
    let token = node.token("border@cl.demo.aeo").await;
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let put = |body: Value| {
        let token = token.clone();
        let node = &node;
        async move { node.send(Method::PUT, "/api/v1/me/password", Some(&token), Some(body)).await }
    };

    let wrong = put(change("not-my-password-at-all", "a-brand-new-password")).await;
    wrong.problem(422);
    assert_eq!(wrong.fields(), vec!["current_password"]);
    let short = put(change(DEMO_PASSWORD, "short-pass1")).await;
    short.problem(422);
    assert_eq!(short.fields(), vec!["new_password"]);
    // Refused changes change nothing.
    node.get(ME, Some(&token)).await.ok();
    node.login("border@cl.demo.aeo", DEMO_PASSWORD).await;

    let done = put(change(DEMO_PASSWORD, "a-brand-new-password")).await;
    assert_eq!(done.status.as_u16(), 204, "{}", done.body);
    let baseline = node.get(ME, None).await;
    assert_unauthorized(&node.get(ME, Some(&token)).await, &baseline.body, "token from before the change");
    try_login(&node, "border@cl.demo.aeo", DEMO_PASSWORD).await.problem(401);
    let fresh = node.login("border@cl.demo.aeo", "a-brand-new-password").await;
    node.get(CL_CERTIFICATE, Some(&fresh)).await.ok();
    // Without a token there is no password to change.
    let anonymous = node
        .send(Method::PUT, "/api/v1/me/password", None, Some(change("a-brand-new-password", "x-another-password")))
        .await;
    assert_unauthorized(&anonymous, &baseline.body, "password change without a token");
}

async fn an_administrator_setting_a_password_kills_that_users_tokens(backend: Backend) {
    let node = Node::start(backend).await;
    let admin = node.token("admin@cl.demo.aeo").await;
    let auditor = node.token("auditor@cl.demo.aeo").await;
    let id = user_id(&node, &admin, "CL", "auditor@cl.demo.aeo").await;

    let short = patch_user(&node, &admin, "CL", id, json!({"password": "short-pass1"})).await;
    short.problem(422);
    assert_eq!(short.fields(), vec!["password"]);
    node.get(ME, Some(&auditor)).await.ok();

    let reply = patch_user(&node, &admin, "CL", id, json!({"password": "set-by-the-administrator"})).await;
    let body = reply.ok();
    assert_eq!(body["disabled"], false);
    assert!(body.get("password").is_none() && body.get("password_hash").is_none(), "{body}");
    let baseline = node.get(ME, None).await;
    assert_unauthorized(&node.get(ME, Some(&auditor)).await, &baseline.body, "token from before the reset");
    try_login(&node, "auditor@cl.demo.aeo", DEMO_PASSWORD).await.problem(401);
    let fresh = node.login("auditor@cl.demo.aeo", "set-by-the-administrator").await;
    node.get("/api/v1/administrations/CL/audit", Some(&fresh)).await.ok();
    // The administrator's own token is untouched.
    node.get(ME, Some(&admin)).await.ok();
}

// ---------------------------------------------------------------------------------------------
// 4. Users
// ---------------------------------------------------------------------------------------------

fn new_user(email: &str, role: &str) -> Value {
    json!({"email": email, "password": "a-long-password-2026", "role": role, "display_name": "Persona de Prueba"})
}

async fn users_are_created_by_the_platform_or_the_administrations_own_admin(backend: Backend) {
    let node = Node::start(backend).await;
    let platform = node.token(PLATFORM_EMAIL).await;
    let cl_admin = node.token("admin@cl.demo.aeo").await;
    let cl_officer = node.token("officer@cl.demo.aeo").await;
    let pe_admin = node.token("admin@pe.demo.aeo").await;

    let by_platform = create_user(&node, &platform, "CO", new_user("first@co.example.test", "customs_admin")).await;
    assert_eq!(by_platform.status.as_u16(), 201, "{}", by_platform.body);
    assert_eq!(by_platform.body["email"], "first@co.example.test");
    assert_eq!(by_platform.body["role"], "customs_admin");
    assert_eq!(by_platform.body["administration"], "CO");
    assert!(by_platform.body.get("password").is_none() && by_platform.body.get("password_hash").is_none());
    let first = node.login("first@co.example.test", "a-long-password-2026").await;
    assert_eq!(node.get(ME, Some(&first)).await.ok()["administration"], "CO");

    let missing_for_platform = create_user(&node, &platform, "ZZ", new_user("ghost@zz.example.test", "auditor")).await;
    missing_for_platform.problem(404);

    let by_admin =
        create_user(&node, &cl_admin, "CL", new_user("New.Officer@CL.example.test", "customs_officer")).await;
    assert_eq!(by_admin.status.as_u16(), 201, "{}", by_admin.body);
    assert_eq!(by_admin.body["email"], "new.officer@cl.example.test");
    assert_eq!(by_admin.body["administration"], "CL");
    let officer = node.login("new.officer@cl.example.test", "a-long-password-2026").await;
    node.get(CL_CERTIFICATE, Some(&officer)).await.ok();

    create_user(&node, &cl_officer, "CL", new_user("by-officer@cl.example.test", "auditor")).await.problem(403);
    let foreign = create_user(&node, &pe_admin, "CL", new_user("by-pe@cl.example.test", "auditor")).await;
    foreign.problem(404);
    let missing = node.get("/api/v1/administrations/PE/certificates/NOPE-404", Some(&pe_admin)).await;
    assert_eq!(foreign.body, missing.body);
    // None of the refused creations made an account.
    for email in ["ghost@zz.example.test", "by-officer@cl.example.test", "by-pe@cl.example.test"] {
        try_login(&node, email, "a-long-password-2026").await.problem(401);
    }
}

async fn invalid_new_users_are_refused_naming_the_field(backend: Backend) {
    let node = Node::start(backend).await;
    let admin = node.token("admin@cl.demo.aeo").await;
    for email in ["officer@cl.demo.aeo", "OFFICER@cl.demo.aeo", "trader@andina.demo.aeo", PLATFORM_EMAIL] {
        create_user(&node, &admin, "CL", new_user(email, "auditor")).await.problem(409);
    }
    let cases = [
        (json!({"email": "a@cl.example.test", "password": "short-pass1", "role": "auditor"}), "password"),
        (json!({"email": "b@cl.example.test", "role": "auditor"}), "password"),
        (json!({"email": "c@cl.example.test", "password": "a-long-password-2026", "role": "superuser"}), "role"),
        (json!({"email": "d@cl.example.test", "password": "a-long-password-2026", "role": "platform_admin"}), "role"),
        (json!({"email": "e@cl.example.test", "password": "a-long-password-2026"}), "role"),
        (
            json!({"email": "f@cl.example.test", "password": "a-long-password-2026", "role": "trader"}),
            "operator_identifier",
        ),
        (
            json!({"email": "g@cl.example.test", "password": "a-long-password-2026", "role": "trader",
                   "operator_identifier": "CL-RUT:76086428-4"}),
            "operator_identifier",
        ),
        (json!({"email": "not-an-email", "password": "a-long-password-2026", "role": "auditor"}), "email"),
    ];
    for (body, field) in cases {
        let reply = create_user(&node, &admin, "CL", body.clone()).await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec![field], "{body}: {}", reply.body);
    }
    // Every error at once.
    let all = create_user(&node, &admin, "CL", json!({"email": "x", "password": "short", "role": "boss"})).await;
    all.problem(422);
    assert_eq!(
        all.fields().into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from(["email".into(), "password".into(), "role".into()])
    );
    // Nothing was created.
    let listed = node.get("/api/v1/administrations/CL/users", Some(&admin)).await;
    assert!(
        list_items(listed.ok())
            .iter()
            .all(|u| { !u["email"].as_str().unwrap_or_default().ends_with("@cl.example.test") })
    );
}

async fn a_trader_registered_by_an_administration_logs_in_with_its_normalised_identifier(backend: Backend) {
    let node = Node::start(backend).await;
    let admin = node.token("admin@cl.demo.aeo").await;
    let body = json!({"email": "exportaciones@andina.example.test", "password": "a-long-password-2026", "role": "trader",
                      "operator_identifier": "CL-RUT:76.086.428-5"});
    let reply = create_user(&node, &admin, "CL", body).await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    assert_eq!(reply.body["operator_identifier"], "CL-RUT:76086428-5");
    assert_eq!(reply.body["administration"], Value::Null);

    let trader = node.login("exportaciones@andina.example.test", "a-long-password-2026").await;
    let me = node.get(ME, Some(&trader)).await;
    assert_eq!(me.ok()["role"], "trader");
    assert_eq!(me.body["administration"], Value::Null);
    assert_eq!(me.body["operator_identifier"], "CL-RUT:76086428-5");
    let mine = node.get("/api/v1/me/certificates", Some(&trader)).await;
    let numbers: Vec<Value> = list_items(mine.ok()).iter().map(|c| c["number"].clone()).collect();
    assert_eq!(numbers, vec![json!("CL-OEA-0001")]);
    // A trader belongs to no administration, not even the one that registered it.
    let missing = node.get("/api/v1/administrations/CL/certificates/NOPE-404", Some(&admin)).await;
    let reply = node.get(CL_CERTIFICATE, Some(&trader)).await;
    reply.problem(404);
    assert_eq!(reply.body, missing.body);

    // The registering administration manages it: it is listed and can be disabled.
    let id = user_id(&node, &admin, "CL", "exportaciones@andina.example.test").await;
    patch_user(&node, &admin, "CL", id, json!({"disabled": true})).await.ok();
    node.get(ME, Some(&trader)).await.problem(401);
}

async fn the_customs_admin_and_the_auditor_list_the_administrations_users(backend: Backend) {
    let node = Node::start(backend).await;
    let admin = node.token("admin@cl.demo.aeo").await;
    create_user(&node, &admin, "CL", new_user("listed@cl.example.test", "border_officer")).await.ok();
    let reply = node.get("/api/v1/administrations/CL/users", Some(&admin)).await;
    let users = list_items(reply.ok());
    let emails: BTreeSet<&str> = users.iter().filter_map(|u| u["email"].as_str()).collect();
    let expected: BTreeSet<&str> = [
        "admin@cl.demo.aeo",
        "officer@cl.demo.aeo",
        "border@cl.demo.aeo",
        "auditor@cl.demo.aeo",
        "listed@cl.example.test",
        // The trader account CL registered, having certified the operator.
        "trader@andina.demo.aeo",
    ]
    .into();
    assert_eq!(emails, expected);
    for user in &users {
        assert!(user.get("password").is_none() && user.get("password_hash").is_none(), "{user}");
        assert!(user["id"].is_i64(), "{user}");
    }
    // The auditor reads everything of its administration, users included.
    let auditor = node.token("auditor@cl.demo.aeo").await;
    assert_eq!(list_items(node.get("/api/v1/administrations/CL/users", Some(&auditor)).await.ok()).len(), users.len());
    for email in ["officer@cl.demo.aeo", "border@cl.demo.aeo"] {
        let token = node.token(email).await;
        node.get("/api/v1/administrations/CL/users", Some(&token)).await.problem(403);
    }
    let pe_admin = node.token("admin@pe.demo.aeo").await;
    node.get("/api/v1/administrations/CL/users", Some(&pe_admin)).await.problem(404);
}

// ---------------------------------------------------------------------------------------------
// 5. Administrations
// ---------------------------------------------------------------------------------------------

async fn anyone_lists_the_hosted_administrations(backend: Backend) {
    let node = Node::start(backend).await;
    let reply = node.get("/api/v1/administrations", None).await;
    let items = list_items(reply.ok());
    let codes: Vec<&str> = items.iter().filter_map(|a| a["code"].as_str()).collect();
    assert_eq!(codes.iter().copied().collect::<BTreeSet<_>>(), BTreeSet::from(["CL", "CO", "MX", "PE"]));
    assert_eq!(codes.len(), 4);
    for administration in &items {
        for field in ["name", "country", "programme"] {
            let value = administration[field].as_str().unwrap_or_default();
            assert!(!value.is_empty(), "{field} of {administration}");
        }
        assert_eq!(administration["country"], administration["code"]);
    }
    let chile = items.iter().find(|a| a["code"] == "CL").expect("CL");
    assert_eq!(chile["name"], "Servicio Nacional de Aduanas");
}

async fn the_platform_administrator_creates_administrations(backend: Backend) {
    let node = Node::start(backend).await;
    let platform = node.token(PLATFORM_EMAIL).await;
    let post = |token: Option<String>, body: Value| {
        let node = &node;
        async move { node.send(Method::POST, "/api/v1/administrations", token.as_deref(), Some(body)).await }
    };
    let argentina = json!({"code": "AR", "name": "Dirección General de Aduanas", "country": "AR",
                           "programme": "Operador Económico Autorizado (OEA) Argentina"});
    let created = post(Some(platform.clone()), argentina.clone()).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    for field in ["code", "name", "country", "programme"] {
        assert_eq!(created.body[field], argentina[field], "{field}");
    }
    let sub = json!({"code": "EU-DE", "name": "Generalzolldirektion", "country": "DE", "programme": "AEO"});
    assert_eq!(post(Some(platform.clone()), sub).await.status.as_u16(), 201);
    let listed = node.get("/api/v1/administrations", None).await;
    let codes: BTreeSet<String> =
        list_items(listed.ok()).iter().filter_map(|a| a["code"].as_str().map(str::to_owned)).collect();
    assert!(codes.contains("AR") && codes.contains("EU-DE"), "{codes:?}");

    for code in ["cl", "CHILE", "C1", "", "CL-", "CL-ABCDEFGHI", "cl-x"] {
        let reply =
            post(Some(platform.clone()), json!({"code": code, "name": "N", "country": "CL", "programme": "P"})).await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec!["code"], "{code}: {}", reply.body);
    }
    let taken =
        post(Some(platform.clone()), json!({"code": "CL", "name": "N", "country": "CL", "programme": "P"})).await;
    taken.problem(409);
    let also_taken = post(Some(platform.clone()), argentina.clone()).await;
    also_taken.problem(409);

    let bare = post(Some(platform.clone()), json!({"code": "BR"})).await;
    bare.problem(422);
    let fields: BTreeSet<String> = bare.fields().into_iter().collect();
    assert_eq!(fields, BTreeSet::from(["name".into(), "country".into(), "programme".into()]));
    for missing in ["name", "country", "programme"] {
        let mut body = json!({"code": "BR", "name": "Receita Federal", "country": "BR", "programme": "OEA Brasil"});
        body.as_object_mut().expect("object").remove(missing);
        let reply = post(Some(platform.clone()), body).await;
        reply.problem(422);
        assert_eq!(reply.fields(), vec![missing]);
    }

    let cl_admin = node.token("admin@cl.demo.aeo").await;
    let brazil = json!({"code": "BR", "name": "Receita Federal", "country": "BR", "programme": "OEA Brasil"});
    post(Some(cl_admin), brazil.clone()).await.problem(403);
    let trader = node.token("trader@andina.demo.aeo").await;
    post(Some(trader), brazil.clone()).await.problem(403);
    let anonymous = post(None, brazil.clone()).await;
    anonymous.problem(401);
    // None of the refused requests created BR.
    let listed = node.get("/api/v1/administrations", None).await;
    assert!(list_items(listed.ok()).iter().all(|a| a["code"] != "BR"));
    // A new administration is empty, and the platform administrator gives it its first user.
    let first = create_user(&node, &platform, "AR", new_user("admin@ar.example.test", "customs_admin")).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    let ar_admin = node.login("admin@ar.example.test", "a-long-password-2026").await;
    let certificates = node.get("/api/v1/administrations/AR/certificates", Some(&ar_admin)).await;
    assert!(list_items(certificates.ok()).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 6. Tenant isolation
// ---------------------------------------------------------------------------------------------

async fn the_route_table_covers_every_tenant_route_of_the_openapi_document(backend: Backend) {
    let node = Node::start_empty(backend).await;
    let document = node.get("/api/v1/openapi.json", None).await;
    let paths = document.ok()["paths"].as_object().expect("paths").clone();
    let mut documented = BTreeSet::new();
    for (path, item) in &paths {
        // The federation routes answer peer registries' assertions, never a person's token
        // (`federation.rs` walks them).
        let federation = !path.starts_with("/api/v1/");
        if federation || !path.contains("{code}") || PUBLIC_CODE_ROUTES.contains(&path.as_str()) {
            continue;
        }
        for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
            if item.get(method).is_some() {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let table: BTreeSet<String> = tenant_routes().iter().map(Route::name).collect();
    assert_eq!(table.len(), tenant_routes().len(), "the table lists a route twice");
    let untested: Vec<&String> = documented.difference(&table).collect();
    let stale: Vec<&String> = table.difference(&documented).collect();
    assert!(untested.is_empty(), "tenant routes missing from the isolation and role tables: {untested:?}");
    assert!(stale.is_empty(), "table routes no longer documented: {stale:?}");
    for public in PUBLIC_CODE_ROUTES {
        assert!(paths.contains_key(public), "{public} is no longer documented");
    }
}

async fn another_administrations_data_answers_as_missing_on_every_tenant_route(backend: Backend) {
    let node = Node::start(backend).await;
    let cl_admin = node.token("admin@cl.demo.aeo").await;
    let pe_admin = node.token("admin@pe.demo.aeo").await;
    let pe_auditor = node.token("auditor@pe.demo.aeo").await;
    let cl_user = user_id(&node, &cl_admin, "CL", "officer@cl.demo.aeo").await;
    let cl_certificate = node.get(CL_CERTIFICATE, Some(&cl_admin)).await.ok().clone();
    assert_eq!(cl_certificate["version"], 1);
    let before = snapshot_of_cl(&node, &cl_admin).await;

    // What a missing object on one's own side looks like.
    let missing = node.get("/api/v1/administrations/PE/certificates/NOPE-404", Some(&pe_admin)).await;
    missing.problem(404);
    assert_eq!(
        node.get("/api/v1/administrations/PE/certificates/NOPE-404", Some(&pe_auditor)).await.body,
        missing.body
    );

    let context = route_context(&node).await;
    let targets = [
        Target { code: "CL", number: "CL-OEA-0001", partner: "PE", peer: "AR", user: cl_user, context: &context },
        Target { code: "ZZ", number: "ZZ-OEA-0001", partner: "PE", peer: "AR", user: cl_user, context: &context },
    ];
    // A code that cannot exist is malformed, and said so alike to every caller: what it says
    // depends on the spelling alone, never on whose data is behind it.
    let malformed =
        Target { code: "cl", number: "CL-OEA-0001", partner: "PE", peer: "AR", user: cl_user, context: &context };
    // A trader account that PE registered (for an operator PE certified) reaches nothing of CL.
    let pe_trader = node.token("trader@pacificosur.demo.aeo").await;
    let mut n = 0;
    for (who, token) in [("PE customs_admin", &pe_admin), ("PE auditor", &pe_auditor), ("PE's trader", &pe_trader)] {
        for target in &targets {
            for route in tenant_routes() {
                n += 1;
                let reply = route.send(&node, target, token, n).await;
                let case = format!("{who}: {} {}", route.method, route.path(target));
                assert_eq!(reply.status.as_u16(), 404, "{case}: got {}: {}", reply.status, reply.body);
                reply.problem(404);
                assert_eq!(reply.body, missing.body, "{case}: the 404 differs from a missing object's");
                assert!(reply.headers.get("etag").is_none(), "{case}: an ETag leaks a version");
            }
        }
        let mut refusal = None;
        for route in tenant_routes() {
            n += 1;
            let reply = route.send(&node, &malformed, token, n).await;
            let case = format!("{who}: {} {}", route.method, route.path(&malformed));
            reply.problem(422);
            assert_eq!(reply.fields(), vec!["code"], "{case}: {}", reply.body);
            assert_eq!(refusal.get_or_insert_with(|| reply.body.clone()), &reply.body, "{case}: the refusals differ");
        }
    }

    // Nothing changed at CL.
    let after = snapshot_of_cl(&node, &cl_admin).await;
    assert_eq!(before, after, "a foreign request changed CL's data");
    let certificate = node.get(CL_CERTIFICATE, Some(&cl_admin)).await;
    assert_eq!(certificate.ok()["version"], 1);
    assert_eq!(certificate.body["status"], "active");
    let mra = node.get("/api/v1/administrations/CL/mras/PE", Some(&cl_admin)).await;
    assert_eq!(mra.ok()["status"], "in_force");
    let officer = node.login("officer@cl.demo.aeo", DEMO_PASSWORD).await;
    node.get(ME, Some(&officer)).await.ok();
    let audit = node.get("/api/v1/administrations/CL/audit?limit=500", Some(&cl_admin)).await;
    assert!(
        list_items(audit.ok()).iter().all(|r| !r["actor"].as_str().unwrap_or_default().ends_with("@pe.demo.aeo")),
        "{}",
        audit.body
    );
    // PE's trader sees PE's certificate of its operator, not CL's of the same LEI.
    let mine = node.get("/api/v1/me/certificates", Some(&pe_trader)).await;
    assert!(list_items(mine.ok()).iter().all(|c| c["administration"] == "PE"), "{}", mine.body);
    // PE registers a peer of its own under a foreign code, and may not take a hosted one's.
    let jwks = context["jwks"].clone();
    let foreign = json!({"base_url": context["base_url"], "jwks": jwks});
    let reply =
        node.send(Method::PUT, "/api/v1/administrations/PE/peers/AR", Some(&pe_admin), Some(foreign.clone())).await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    let reply = node.send(Method::PUT, "/api/v1/administrations/PE/peers/CL", Some(&pe_admin), Some(foreign)).await;
    reply.problem(422);
    assert_eq!(reply.fields(), vec!["peer"]);
    let cl_peers = node.get("/api/v1/administrations/CL/peers", Some(&cl_admin)).await;
    assert!(list_items(cl_peers.ok()).iter().all(|p| p["peer"] != "AR"), "{}", cl_peers.body);
    // Asked at PE without an arrangement in force with CL, the border sees the public facts only.
    let mut pe_mra = node.get("/api/v1/administrations/PE/mras/CL", Some(&pe_admin)).await.ok().clone();
    pe_mra["status"] = json!("negotiating");
    node.send(Method::PUT, "/api/v1/administrations/PE/mras/CL", Some(&pe_admin), Some(pe_mra)).await.ok();
    let pe_border = node.token("border@pe.demo.aeo").await;
    let answer =
        node.get("/api/v1/administrations/PE/recognition?issuer=CL&certificate=CL-OEA-0015", Some(&pe_border)).await;
    let shown = answer.ok()["certificate"].clone();
    assert!(shown.get("roles").is_none() && shown.get("operator").is_none(), "{shown}");
    assert!(shown["status_reason"].is_null(), "{shown}");

    // And nothing meant for CL landed at PE instead.
    let pe_mra = node.get("/api/v1/administrations/PE/mras/PE", Some(&pe_admin)).await;
    pe_mra.problem(404);
    let imported = node.get("/api/v1/administrations/PE/certificates/IMP-0001", Some(&pe_admin)).await;
    imported.problem(404);
}

async fn another_administrations_objects_under_ones_own_code_answer_as_missing(backend: Backend) {
    let node = Node::start(backend).await;
    let cl_admin = node.token("admin@cl.demo.aeo").await;
    let pe_admin = node.token("admin@pe.demo.aeo").await;
    let platform = node.token(PLATFORM_EMAIL).await;
    let pe_officer = user_id(&node, &pe_admin, "PE", "officer@pe.demo.aeo").await;
    let platform_id = jwt(&platform).1["sub"].as_str().expect("sub").parse::<i64>().expect("id");
    // A trader account PE registered.
    let trader_id = jwt(&node.token("trader@pacificosur.demo.aeo").await).1["sub"]
        .as_str()
        .expect("sub")
        .parse::<i64>()
        .expect("id");
    let missing = node.get("/api/v1/administrations/CL/certificates/NOPE-404", Some(&cl_admin)).await;
    missing.problem(404);

    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/administrations/CL/certificates/PE-OEA-0001".into(), None),
        (Method::GET, "/api/v1/administrations/CL/certificates/PE-OEA-0001/history".into(), None),
        (
            Method::POST,
            "/api/v1/administrations/CL/certificates/PE-OEA-0001/status".into(),
            Some(json!({"status": "revoked", "reason": "Intento ajeno"})),
        ),
        (
            Method::PATCH,
            "/api/v1/administrations/CL/certificates/PE-OEA-0001".into(),
            Some(json!({"operator": {"public": true}})),
        ),
        (Method::GET, "/api/v1/administrations/CL/mras/KR".into(), None),
        (Method::PATCH, format!("/api/v1/administrations/CL/users/{pe_officer}"), Some(json!({"disabled": true}))),
        (
            Method::PATCH,
            format!("/api/v1/administrations/CL/users/{platform_id}"),
            Some(json!({"password": "taken-over-2026"})),
        ),
        (Method::PATCH, format!("/api/v1/administrations/CL/users/{trader_id}"), Some(json!({"disabled": true}))),
        (Method::PATCH, "/api/v1/administrations/CL/users/999999".into(), Some(json!({"disabled": true}))),
        (Method::PATCH, "/api/v1/administrations/CL/users/not-a-number".into(), Some(json!({"disabled": true}))),
    ];
    for (method, path, body) in cases {
        let reply = node.send(method.clone(), &path, Some(&cl_admin), body).await;
        let case = format!("{method} {path}");
        assert_eq!(reply.status.as_u16(), 404, "{case}: {}", reply.body);
        assert_eq!(reply.body, missing.body, "{case}");
    }
    // The objects are intact.
    let pe_certificate = node.get("/api/v1/administrations/PE/certificates/PE-OEA-0001", Some(&pe_admin)).await;
    assert_ne!(pe_certificate.ok()["status"], "revoked");
    assert_eq!(pe_certificate.body["version"], 1);
    node.login("officer@pe.demo.aeo", DEMO_PASSWORD).await;
    node.get(ME, Some(&platform)).await.ok();
    node.token("trader@pacificosur.demo.aeo").await;
}

// ---------------------------------------------------------------------------------------------
// 7. Roles within one administration
// ---------------------------------------------------------------------------------------------

async fn each_role_may_use_exactly_the_routes_of_its_role(backend: Backend) {
    let node = Node::start(backend).await;
    let platform = node.token(PLATFORM_EMAIL).await;
    // A user of CL whom the PATCH route may disable without hurting the callers below.
    let spare = create_user(&node, &platform, "CL", new_user("spare@cl.example.test", "auditor")).await;
    let spare = spare.ok()["id"].as_i64().expect("id");
    let mut callers = Vec::new();
    for (role, email) in [
        ("customs_admin", "admin@cl.demo.aeo"),
        ("customs_officer", "officer@cl.demo.aeo"),
        ("border_officer", "border@cl.demo.aeo"),
        ("auditor", "auditor@cl.demo.aeo"),
        ("trader", "trader@andina.demo.aeo"),
    ] {
        callers.push((role, node.token(email).await));
    }
    let missing = node.get("/api/v1/administrations/CL/certificates/NOPE-404", Some(&callers[0].1)).await;
    missing.problem(404);
    let context = route_context(&node).await;
    let target =
        Target { code: "CL", number: "CL-OEA-0001", partner: "PE", peer: "AR", user: spare, context: &context };

    let mut n = 0;
    let mut failures = Vec::new();
    for route in tenant_routes() {
        for (role, token) in &callers {
            n += 1;
            let reply = route.send(&node, &target, token, n).await;
            let (expected, ok) = if *role == "trader" {
                (404, reply.status.as_u16() == 404 && reply.body == missing.body)
            } else if route.need.allows(role) {
                (route.success[0], route.success.contains(&reply.status.as_u16()))
            } else {
                (403, reply.status.as_u16() == 403 && reply.content_type() == "application/problem+json")
            };
            if !ok {
                failures.push(format!(
                    "{role} {}: expected {expected}, got {} {}",
                    route.name(),
                    reply.status,
                    reply.body
                ));
            }
        }
    }
    assert!(failures.is_empty(), "role matrix violations:\n{}", failures.join("\n"));

    // No refused request reached the audit log.
    let audit = node.get("/api/v1/administrations/CL/audit?limit=500", Some(&callers[0].1)).await;
    let actors: BTreeSet<String> =
        list_items(audit.ok()).iter().filter_map(|r| r["actor"].as_str().map(str::to_owned)).collect();
    // ("demo" is the loader of the demo data; "system" the node's own calls to the peer the
    // customs_admin registered.)
    let allowed: BTreeSet<String> = ["admin@cl.demo.aeo", "officer@cl.demo.aeo", PLATFORM_EMAIL, "demo", "system"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert!(actors.is_subset(&allowed), "audit actors {actors:?}");
    assert!(actors.contains("officer@cl.demo.aeo"), "the officer's writes are audited: {actors:?}");
}

async fn the_platform_administrator_manages_users_but_reads_no_administrations_data(backend: Backend) {
    let node = Node::start(backend).await;
    let platform = node.token(PLATFORM_EMAIL).await;
    let missing = node.get("/api/v1/administrations/CL/certificates/NOPE-404", Some(&platform)).await;
    missing.problem(404);
    for path in [
        CL_CERTIFICATE,
        "/api/v1/administrations/CL/certificates",
        "/api/v1/administrations/CL/mras",
        "/api/v1/administrations/CL/audit",
        "/api/v1/administrations/CL/recognition?issuer=CL&certificate=CL-OEA-0001",
    ] {
        let reply = node.get(path, Some(&platform)).await;
        assert_eq!(reply.status.as_u16(), 404, "{path}: {}", reply.body);
        assert_eq!(reply.body, missing.body, "{path}");
    }
    let trader = node.token("trader@andina.demo.aeo").await;
    create_user(&node, &trader, "CL", new_user("by-trader@cl.example.test", "customs_admin")).await.problem(404);
    node.get("/api/v1/me/certificates", Some(&platform)).await.problem(403);
}

both_backends!(
    login_gives_a_bearer_token_with_its_lifetime,
    a_wrong_password_and_an_unknown_email_get_byte_identical_401s,
    login_email_is_case_insensitive,
    me_describes_a_customs_user_a_trader_and_the_platform_administrator,
    forged_malformed_and_non_bearer_credentials_get_401,
    tokens_signed_with_the_node_key_are_still_refused_when_a_claim_is_wrong,
    an_expired_token_gets_401,
    a_token_of_another_node_gets_401,
    disabling_a_user_kills_its_tokens_and_its_logins_until_re_enabled,
    changing_ones_password_kills_the_old_token,
    an_administrator_setting_a_password_kills_that_users_tokens,
    users_are_created_by_the_platform_or_the_administrations_own_admin,
    invalid_new_users_are_refused_naming_the_field,
    a_trader_registered_by_an_administration_logs_in_with_its_normalised_identifier,
    the_customs_admin_and_the_auditor_list_the_administrations_users,
    anyone_lists_the_hosted_administrations,
    the_platform_administrator_creates_administrations,
    the_route_table_covers_every_tenant_route_of_the_openapi_document,
    another_administrations_data_answers_as_missing_on_every_tenant_route,
    another_administrations_objects_under_ones_own_code_answer_as_missing,
    each_role_may_use_exactly_the_routes_of_its_role,
    the_platform_administrator_manages_users_but_reads_no_administrations_data,
);
