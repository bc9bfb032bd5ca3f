//! Regression tests for what outside probes found: each test drives a real node over HTTP (real
//! SQLite files or PostgreSQL databases, real sockets) and fails on the code that had the hole.

mod common;

use std::time::Duration;

use common::{Backend, Node};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// Outbound calls

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

/// A loopback server that answers every connection with `reply` and closes it.
async fn answering(reply: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_millis(500), socket.read(&mut request)).await;
                let _ = socket.write_all(reply).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    port
}

async fn register(node: &Node, token: &str, base_url: &str, jwks: Option<Value>) -> common::Reply {
    let mut body = json!({ "base_url": base_url });
    if let Some(jwks) = jwks {
        body["jwks"] = jwks;
    }
    node.send(Method::PUT, "/api/v1/administrations/PE/peers/AR", Some(token), Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_on_a_private_address_is_refused_unless_the_operator_allows_it() {
    let node = Node::start_with(Backend::Sqlite, true, |settings| settings.federation_allow_private = false).await;
    let admin = node.token("admin@pe.demo.aeo").await;
    let jwks = node.get("/federation/v1/administrations/CL/jwks.json", None).await.ok().clone();
    let port = closed_port();
    for base_url in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
        "http://169.254.169.254".to_owned(),
        "http://10.0.0.7:8080".to_owned(),
        "http://192.168.1.1".to_owned(),
        format!("http://[::ffff:127.0.0.1]:{port}"),
    ] {
        // Fetched or given inline, the address is checked alike.
        for given in [None, Some(jwks.clone())] {
            let reply = register(&node, &admin, &base_url, given).await;
            reply.problem(422);
            assert_eq!(reply.fields(), vec!["base_url"], "{base_url}: {}", reply.body);
        }
    }
    let peers = node.get("/api/v1/administrations/PE/peers", Some(&admin)).await;
    assert_eq!(peers.ok()["items"], json!([]), "nothing was registered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_key_fetch_does_not_tell_a_closed_port_from_an_open_one() {
    let node = Node::start(Backend::Sqlite).await;
    let admin = node.token("admin@pe.demo.aeo").await;
    let ports = [
        closed_port(),
        answering(b"SSH-2.0-OpenSSH_9.2\r\n").await,
        answering(b"HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\ncontent-length: 9\r\n\r\nnot here.").await,
        answering(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello").await,
        answering(b"HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\n\r\n").await,
    ];
    let mut answers = Vec::new();
    for port in ports {
        let reply = register(&node, &admin, &format!("http://127.0.0.1:{port}"), None).await;
        reply.problem(502);
        let detail = reply.body["detail"].as_str().expect("detail").replace(&port.to_string(), "PORT");
        answers.push((reply.body["title"].clone(), detail));
    }
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]), "{answers:#?}");
}

// ---------------------------------------------------------------------------------------------
// The HTTP edge

/// Sends raw bytes on a new connection and reads the whole answer (the server closes it).
async fn raw_exchange(node: &Node, request: &[u8]) -> (u16, String, Value) {
    let address = node.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.expect("connect");
    socket.write_all(request).await.expect("send");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .expect("read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
    (status, head.to_ascii_lowercase(), body)
}

#[track_caller]
fn assert_problem_with_security_headers(status: u16, head: &str, body: &Value, expected: u16) {
    assert_eq!(status, expected, "{head}\n{body}");
    for header in [
        "content-type: application/problem+json",
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
        "cache-control: no-store",
        "content-security-policy: default-src 'none'",
        "referrer-policy: no-referrer",
    ] {
        assert!(head.contains(header), "{header} missing:\n{head}");
    }
    assert_eq!(body["status"], expected, "{body}");
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_hyper_cannot_parse_are_answered_as_problems_with_the_security_headers() {
    let node = Node::start(Backend::Sqlite).await;
    let long_path = format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70_000));
    let (status, head, body) = raw_exchange(&node, long_path.as_bytes()).await;
    assert_problem_with_security_headers(status, &head, &body, 414);
    let (status, head, body) = raw_exchange(&node, b"GET /health HTTP/1.1\r\nhost: x\r\nx-bad: a\x01b\r\n\r\n").await;
    assert_problem_with_security_headers(status, &head, &body, 400);
    let (status, head, body) = raw_exchange(&node, b"NOT HTTP AT ALL\r\n\r\n").await;
    assert_problem_with_security_headers(status, &head, &body, 400);
    let huge_header = format!("GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n", "b".repeat(500_000));
    let (status, head, body) = raw_exchange(&node, huge_header.as_bytes()).await;
    assert_problem_with_security_headers(status, &head, &body, 431);
    // Our own answers are left as they are.
    let (status, head, body) = raw_exchange(&node, b"GET /nope HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await;
    assert_problem_with_security_headers(status, &head, &body, 404);
    let (status, head, _) = raw_exchange(&node, b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await;
    assert_eq!(status, 200, "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_documentation_page_runs_no_inline_script_under_its_policy() {
    let node = Node::start(Backend::Sqlite).await;
    // `/api/docs` leads to Swagger UI, every asset of which this node serves.
    let page = node.get("/api/docs/", None).await;
    assert_eq!(page.status, 200);
    let policy = page.headers.get("content-security-policy").and_then(|v| v.to_str().ok()).expect("CSP");
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-"), "{policy}");
    let html = page.body.as_str().expect("html");
    assert!(!html.contains("<script>") && !html.contains("<style>") && !html.contains(" style="), "{html}");
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"), "{html}");
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-initializer.js"] {
        assert!(html.contains(asset), "{asset}");
        let reply = node.get(&format!("/api/docs/{asset}"), None).await;
        assert_eq!(reply.status, 200, "{asset}");
        let policy = reply.headers.get("content-security-policy").and_then(|v| v.to_str().ok()).expect("CSP");
        assert!(!policy.contains("unsafe-"), "{asset}: {policy}");
    }
    // It reads this node's own document, and lets a person try calls.
    let initializer = node.get("/api/docs/swagger-initializer.js", None).await;
    let script = initializer.body.as_str().expect("script");
    assert!(script.contains("/api/v1/openapi.json") && !script.contains("petstore"), "{script}");
    assert!(script.contains("\"tryItOutEnabled\": true"), "{script}");
    let redirect = node.get("/api/docs", None).await;
    assert!(redirect.status.is_redirection(), "{}", redirect.status);
    assert_eq!(redirect.headers.get("location").and_then(|v| v.to_str().ok()), Some("/api/docs/"));
    let json = node.get("/api/v1/administrations", None).await;
    let policy = json.headers.get("content-security-policy").and_then(|v| v.to_str().ok()).expect("CSP");
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
}

// ---------------------------------------------------------------------------------------------
// Sign-in

/// A client whose connections come from `ip` (any 127.x.y.z is this machine's).
fn from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(ip))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn login_from(node: &Node, client: &reqwest::Client, email: &str, password: &str) -> common::Reply {
    let response = client
        .post(node.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login request");
    common::Reply::read(response).await
}

fn retry_after(reply: &common::Reply) -> u64 {
    reply.problem(429);
    reply.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("Retry-After")
}

const WRONG: &str = "not-the-password-2026";

async fn parallel_guesses_are_counted_before_any_password_is_checked(backend: Backend) {
    let node = Node::start(backend).await;
    let attacker = from([127, 0, 0, 2]);
    let guesses = (0..60).map(|i| {
        let (node, attacker) = (&node, &attacker);
        async move {
            // The right password is among the guesses, late.
            let password = if i == 45 { common::DEMO_PASSWORD } else { WRONG };
            login_from(node, attacker, "officer@cl.demo.aeo", password).await.status.as_u16()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let evaluated = statuses.iter().filter(|status| **status != 429).count();
    assert!(evaluated <= 3, "{evaluated} of 60 parallel guesses were checked: {statuses:?}");
    assert!(statuses.iter().all(|status| [401, 429, 200].contains(status)), "{statuses:?}");
}

async fn a_stranger_cannot_lock_the_owner_out(backend: Backend) {
    let node = Node::start(backend).await;
    let (owner, stranger, elsewhere) = (from([127, 0, 0, 3]), from([127, 0, 0, 4]), from([127, 0, 0, 5]));
    login_from(&node, &owner, "officer@cl.demo.aeo", common::DEMO_PASSWORD).await.ok();
    for _ in 0..12 {
        let reply = login_from(&node, &stranger, "officer@cl.demo.aeo", WRONG).await;
        assert!([401, 429].contains(&reply.status.as_u16()), "{}", reply.body);
    }
    assert!(retry_after(&login_from(&node, &stranger, "officer@cl.demo.aeo", common::DEMO_PASSWORD).await) >= 1);
    // The owner gets in from its own address, and from a new one.
    login_from(&node, &owner, "officer@cl.demo.aeo", common::DEMO_PASSWORD).await.ok();
    login_from(&node, &elsewhere, "officer@cl.demo.aeo", common::DEMO_PASSWORD).await.ok();
}

async fn the_wait_doubles_with_every_failure_of_a_client_on_an_account(backend: Backend) {
    let node = Node::start(backend).await;
    let client = from([127, 0, 0, 6]);
    for _ in 0..3 {
        login_from(&node, &client, "border@cl.demo.aeo", WRONG).await.problem(401);
    }
    for expected in [1, 2, 4] {
        let wait = retry_after(&login_from(&node, &client, "border@cl.demo.aeo", WRONG).await);
        assert_eq!(wait, expected);
        // Refused attempts do not count; once the wait is over, one more is checked.
        tokio::time::sleep(Duration::from_millis(wait * 1000 + 100)).await;
        login_from(&node, &client, "border@cl.demo.aeo", WRONG).await.problem(401);
    }
    // The right password waits too; another account from the same client does not.
    retry_after(&login_from(&node, &client, "border@cl.demo.aeo", common::DEMO_PASSWORD).await);
    login_from(&node, &client, "auditor@cl.demo.aeo", common::DEMO_PASSWORD).await.ok();
}

async fn a_client_failing_on_many_accounts_is_held_back_and_others_are_not(backend: Backend) {
    let node = Node::start(backend).await;
    let (busy, other) = (from([127, 0, 0, 7]), from([127, 0, 0, 8]));
    for i in 0..20 {
        login_from(&node, &busy, &format!("nobody-{i}@cl.demo.aeo"), WRONG).await.problem(401);
    }
    retry_after(&login_from(&node, &busy, "auditor@cl.demo.aeo", common::DEMO_PASSWORD).await);
    login_from(&node, &other, "auditor@cl.demo.aeo", common::DEMO_PASSWORD).await.ok();
}

// ---------------------------------------------------------------------------------------------
// The session cookie

async fn with_cookie(
    node: &Node,
    method: Method,
    path: &str,
    session: &str,
    headers: &[(&str, &str)],
) -> common::Reply {
    let cookie = format!("aeo_session={session}");
    let mut all = vec![("cookie", cookie.as_str())];
    all.extend_from_slice(headers);
    node.send_raw(method, path, None, "", Vec::new(), &all).await
}

async fn the_session_cookie_changes_nothing_without_its_csrf_token(backend: Backend) {
    let node = Node::start(backend).await;
    let session = node.session("admin@cl.demo.aeo").await;
    let other_session = node.session("admin@cl.demo.aeo").await;
    let bearer = node.token("admin@cl.demo.aeo").await;
    const ROTATE: &str = "/api/v1/administrations/CL/keys/rotate";
    let keys = async || node.get("/api/v1/administrations/CL/keys", Some(&bearer)).await.ok()["items"].clone();
    let before = keys().await.as_array().map(Vec::len);

    // The token of the session, as the pages will get it: from /me, with the cookie.
    let me = with_cookie(&node, Method::GET, "/api/v1/me", &session, &[]).await;
    let csrf = me.ok()["csrf_token"].as_str().expect("csrf_token with the cookie").to_owned();
    assert!(node.get("/api/v1/me", Some(&bearer)).await.ok().get("csrf_token").is_none());
    // A session's secret is no bearer token.
    node.get("/api/v1/me", Some(&session)).await.problem(401);
    let theirs = with_cookie(&node, Method::GET, "/api/v1/me", &other_session, &[]).await;
    let theirs = theirs.ok()["csrf_token"].as_str().expect("csrf_token").to_owned();
    assert_ne!(csrf, theirs, "bound to the session");

    for (case, headers) in [
        ("no token", vec![]),
        ("a made-up token", vec![("x-csrf-token", "forged")]),
        ("another session's token", vec![("x-csrf-token", theirs.as_str())]),
        ("from another site", vec![("x-csrf-token", csrf.as_str()), ("sec-fetch-site", "cross-site")]),
    ] {
        let reply = with_cookie(&node, Method::POST, ROTATE, &session, &headers).await;
        reply.problem(403);
        assert!(reply.body["detail"].as_str().unwrap_or_default().contains("CSRF"), "{case}: {}", reply.body);
    }
    assert_eq!(keys().await.as_array().map(Vec::len), before, "no key was made");

    with_cookie(&node, Method::POST, ROTATE, &session, &[("x-csrf-token", &csrf), ("sec-fetch-site", "same-origin")])
        .await
        .ok();
    assert_eq!(keys().await.as_array().map(Vec::len), before.map(|n| n + 1));
    // A bearer token is sent on purpose, never by a hostile page: it needs no CSRF token, and
    // reaches the rotation itself, which refuses a second one while the first is announced.
    let again = node.send(Method::POST, ROTATE, Some(&bearer), None).await;
    again.problem(409);
    assert!(again.body["detail"].as_str().unwrap_or_default().contains("announced"), "{}", again.body);
}

// ---------------------------------------------------------------------------------------------
// Federation replay

/// An Ed25519 key of the test's own, registered at CL as the peer ZX (with an MRA in force).
struct PeerKey {
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl PeerKey {
    async fn registered_at_cl(node: &Node) -> PeerKey {
        use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).expect("key");
        let public = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key").public_key().as_ref().to_vec();
        let key = PeerKey { pkcs8: pkcs8.as_ref().to_vec(), public };
        let admin = node.token("admin@cl.demo.aeo").await;
        use base64::Engine;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key.public);
        let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1", "alg": "EdDSA"}]});
        let body = json!({"base_url": format!("http://127.0.0.1:{}", closed_port()), "jwks": jwks});
        node.send(Method::PUT, "/api/v1/administrations/CL/peers/ZX", Some(&admin), Some(body)).await.ok();
        let mra = json!({"title": "CL - ZX", "status": "in_force", "signed_on": "2020-01-01",
                         "in_force_from": "2020-01-01", "categories": ["security"], "roles": []});
        node.send(Method::PUT, "/api/v1/administrations/CL/mras/ZX", Some(&admin), Some(mra)).await.ok();
        key
    }

    /// A fresh assertion from ZX to CL.
    fn assertion(&self) -> String {
        let iat = chrono::Utc::now().timestamp();
        let claims = json!({"iss": "ZX", "sub": "ZX", "aud": "CL", "iat": iat, "exp": iat + 60,
                            "jti": uuid::Uuid::new_v4().to_string()});
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ed_der(&self.pkcs8)).expect("sign")
    }
}

async fn checkpoint(node: &Node, assertion: &str) -> u16 {
    node.send_raw(
        Method::GET,
        "/federation/v1/administrations/CL/checkpoint",
        None,
        "",
        Vec::new(),
        &[("authorization", &format!("Bearer {assertion}"))],
    )
    .await
    .status
    .as_u16()
}

async fn an_assertion_is_accepted_once_by_every_server_and_after_a_restart(backend: Backend) {
    let node = Node::start(backend).await;
    let key = PeerKey::registered_at_cl(&node).await;
    let once = key.assertion();
    assert_eq!(checkpoint(&node, &once).await, 200);
    assert_eq!(checkpoint(&node, &once).await, 401, "a replay to the same server");
    // A server started after the first accepted it, on the same database: as a restart does on
    // SQLite, and as a second server behind the same load balancer does on PostgreSQL.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = node.start_beside().await;
    assert_eq!(checkpoint(&second, &once).await, 401, "a replay to another server, or after a restart");
    let fresh = key.assertion();
    assert_eq!(checkpoint(&second, &fresh).await, 200);
    if backend == Backend::Postgres {
        // Processes running side by side: the database decides, at once.
        assert_eq!(checkpoint(&node, &fresh).await, 401, "used at the second server a moment ago");
        let parallel = key.assertion();
        let (a, b) = tokio::join!(checkpoint(&node, &parallel), checkpoint(&second, &parallel));
        assert_eq!([a.min(b), a.max(b)], [200, 401], "exactly one of two servers accepts it");
    }
}

both_backends!(
    an_assertion_is_accepted_once_by_every_server_and_after_a_restart,
    the_session_cookie_changes_nothing_without_its_csrf_token,
    parallel_guesses_are_counted_before_any_password_is_checked,
    a_stranger_cannot_lock_the_owner_out,
    the_wait_doubles_with_every_failure_of_a_client_on_an_account,
    a_client_failing_on_many_accounts_is_held_back_and_others_are_not,
);
