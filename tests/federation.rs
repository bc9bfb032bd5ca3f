//! Federation between real registry nodes. Each test starts the `aeo-registry` binary several
//! times, each process in a temporary directory of its own hosting different administrations,
//! links them through the API the way administrators would (MRA records, peer registrations with
//! pinned keys) and watches what crosses the network: recognition answered by a partner's node,
//! pushed changes, a mirror that answers while the issuer is down and catches up after downtime,
//! hostile assertions, statements checked by an independent verifier (Python `cryptography`), a
//! peer that never answers, and a key change that waits for an administrator's consent.
//!
//! SQLite only: these tests are about processes and the network. How the store behaves on
//! PostgreSQL is covered by the in-process suites, which run every test on both backends.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_aeo-registry");
const SERVING: &str = "aeo-registry is serving on http://";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const PLATFORM_EMAIL: &str = "platform@federation.test";
const PASSWORD: &str = "federation-password-2026";
const TRADER_IDENTIFIER: &str = "CL-RUT:76086428-5";

// ---------------------------------------------------------------------------------------------
// Nodes: the real binary, killed when the guard goes.

/// A port that was free a moment ago. A node keeps its port across restarts, since its peers
/// pinned its base URL.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

struct Node {
    name: &'static str,
    dir: tempfile::TempDir,
    port: u16,
    base: String,
    env: Vec<(&'static str, String)>,
    child: Option<Child>,
    /// Everything the process printed, stdout and stderr, for the report of a failed test.
    output: Arc<Mutex<Vec<String>>>,
}

impl Node {
    /// Starts a node on a fresh SQLite database with a platform administrator and `env` (e.g.
    /// `AEO_STATEMENT_TTL`) on top of a clean environment.
    fn start(name: &'static str, env: &[(&'static str, &str)]) -> Node {
        let port = free_port();
        let mut node = Node {
            name,
            dir: tempfile::tempdir().expect("temporary directory"),
            port,
            base: format!("http://127.0.0.1:{port}"),
            env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            child: None,
            output: Arc::default(),
        };
        node.launch();
        node
    }

    fn launch(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let database = format!("sqlite://{}?mode=rwc", self.dir.path().join("x.db").display());
        let bind = format!("127.0.0.1:{}", self.port);
        let mut command = Command::new(BINARY);
        command.args(["serve", "--bind", &bind, "--database-url", &database]).current_dir(self.dir.path());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AEO_") {
                command.env_remove(name);
            }
        }
        command
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .env("RUST_LOG", "warn,aeo_registry=info")
            .env("NO_COLOR", "1")
            .env("AEO_ADMIN_EMAIL", PLATFORM_EMAIL)
            .env("AEO_ADMIN_PASSWORD", PASSWORD)
            .env("AEO_NODE_KEY_FILE", self.dir.path().join("node.key"))
            // Every node of these tests is on loopback, as in the README's one-machine federation.
            .env("AEO_FEDERATION_ALLOW_PRIVATE", "true");
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start aeo-registry");
        let (serving_tx, serving) = channel();
        let stdout = child.stdout.take().expect("stdout");
        let output = self.output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains(SERVING) {
                    let _ = serving_tx.send(());
                }
                output.lock().expect("output").push(line);
            }
        });
        let stderr = child.stderr.take().expect("stderr");
        let output = self.output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                output.lock().expect("output").push(line);
            }
        });
        self.child = Some(child);
        match serving.recv_timeout(START_TIMEOUT) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => panic!("{} did not serve in time:\n{}", self.name, self.logs()),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.as_mut().and_then(|c| c.wait().ok());
                panic!("{} exited ({status:?}) before serving:\n{}", self.name, self.logs())
            }
        }
    }

    /// SIGKILL: no graceful shutdown, as when a machine dies.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the node again on the same directory, database, node key and port.
    fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    fn logs(&self) -> String {
        let lines = self.output.lock().map(|l| l.clone()).unwrap_or_default();
        let skip = lines.len().saturating_sub(80);
        lines[skip..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("----- last output of node {} ({}) -----\n{}", self.name, self.base, self.logs());
        }
    }
}

/// Starts nodes side by side (each start runs migrations): `(name, env)` each.
fn start_nodes(specs: &[(&'static str, &[(&'static str, &str)])]) -> Vec<Node> {
    std::thread::scope(|scope| {
        let started: Vec<_> = specs.iter().map(|(name, env)| scope.spawn(move || Node::start(name, env))).collect();
        started.into_iter().map(|handle| handle.join().expect("node start")).collect()
    })
}

// ---------------------------------------------------------------------------------------------
// HTTP.

async fn send(method: Method, url: &str, token: Option<&str>, body: Option<&Value>) -> (StatusCode, Value) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let mut request = client.request(method.clone(), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap_or_else(|error| panic!("{method} {url}: {error:?}"));
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn login(base: &str, email: &str) -> String {
    let (status, body) = send(
        Method::POST,
        &format!("{base}/api/v1/auth/login"),
        None,
        Some(&json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "login {email} at {base}: {body}");
    body["access_token"].as_str().expect("access_token").to_owned()
}

/// A hosted administration, seen through its customs administrator's session.
struct Admin {
    code: String,
    base: String,
    email: String,
    token: String,
}

impl Admin {
    /// Creates the administration on `node` (which makes its signing key) and its customs
    /// administrator, and logs in as that administrator.
    async fn create(node: &Node, code: &str) -> Admin {
        let platform = login(&node.base, PLATFORM_EMAIL).await;
        let (status, body) = send(
            Method::POST,
            &format!("{}/api/v1/administrations", node.base),
            Some(&platform),
            Some(&json!({"code": code, "name": format!("Customs {code}"), "country": code, "programme": "AEO"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "create {code}: {body}");
        let email = format!("admin@{}.federation.test", code.to_lowercase());
        let (status, body) = send(
            Method::POST,
            &format!("{}/api/v1/administrations/{code}/users", node.base),
            Some(&platform),
            Some(&json!({"email": email, "password": PASSWORD, "role": "customs_admin"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "create the customs administrator of {code}: {body}");
        let token = login(&node.base, &email).await;
        Admin { code: code.to_owned(), base: node.base.clone(), email, token }
    }

    /// Signs in on the pages and accepts `peer`'s pending keys from `/admin/peers`, which must
    /// show exactly `new` as the keys to compare.
    async fn accept_keys_on_the_page(&self, peer: &str, new: &[String]) {
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let signed_in = browser
            .post(format!("{}/login", self.base))
            .form(&[("email", self.email.as_str()), ("password", PASSWORD)])
            .send()
            .await
            .expect("sign-in");
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        let cookie =
            signed_in.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
        let page =
            browser.get(format!("{}/admin/peers", self.base)).header("cookie", &cookie).send().await.expect("page");
        let html = page.text().await.expect("html");
        let pending = html.split("class=\"pending\"").nth(1).expect("a pending key change shown");
        let shown: Vec<&str> =
            pending.split("<li class=\"mono thumbprint\">").skip(1).filter_map(|li| li.split('<').next()).collect();
        assert_eq!(shown, new.iter().map(String::as_str).collect::<Vec<_>>(), "{html}");
        let csrf = html.split("name=\"csrf_token\" value=\"").nth(1).and_then(|v| v.split('"').next()).expect("csrf");
        let mut form = vec![("csrf_token", csrf)];
        form.extend(new.iter().map(|t| ("thumbprints", t.as_str())));
        let accepted = browser
            .post(format!("{}/admin/peers/{peer}/accept", self.base))
            .header("cookie", &cookie)
            .form(&form)
            .send()
            .await
            .expect("accept");
        assert_eq!(accepted.status(), StatusCode::SEE_OTHER, "{}", accepted.text().await.unwrap_or_default());
    }

    /// A new session, e.g. after the node restarted.
    async fn relogin(&mut self) {
        self.token = login(&self.base, &self.email).await;
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/administrations/{}{path}", self.base, self.code)
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        send(method, &self.url(path), Some(&self.token), body).await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {}: {body}", self.url(path));
        body
    }

    /// The newest records of the administration's audit log.
    async fn audit(&self) -> Vec<Value> {
        let audit = self.get("/audit?limit=500").await;
        audit["items"].as_array().cloned().unwrap_or_default()
    }

    async fn mra(&self, partner: &str, status: &str) {
        let record = json!({
            "title": format!("{} - {partner} AEO MRA", self.code),
            "status": status,
            "signed_on": "2018-07-21",
            "in_force_from": "2019-01-01",
            "categories": ["security", "full"],
            "roles": [],
        });
        let (code, body) = self.call(Method::PUT, &format!("/mras/{partner}"), Some(&record)).await;
        assert!(code == StatusCode::OK || code == StatusCode::CREATED, "MRA {} -> {partner}: {code} {body}", self.code);
    }

    /// Registers a peer administration; without `jwks` its keys are fetched from `base_url`.
    async fn register_peer(&self, partner: &str, base_url: &str, jwks: Option<&Value>) -> (StatusCode, Value) {
        let mut registration = json!({"base_url": base_url});
        if let Some(jwks) = jwks {
            registration["jwks"] = jwks.clone();
        }
        self.call(Method::PUT, &format!("/peers/{partner}"), Some(&registration)).await
    }

    async fn peer(&self, partner: &str) -> Value {
        self.get(&format!("/peers/{partner}")).await
    }

    async fn issue(&self, number: &str) {
        let certificate = json!({
            "number": number,
            "category": "security",
            "roles": ["exporter", "importer"],
            "valid_from": "2024-01-01",
            "valid_until": "2099-12-31",
            "operator": {
                "name": format!("Operator of {number}"),
                "identifiers": [{"scheme": "CL-RUT", "value": "76.086.428-5"}],
                "address": {"street": "Av. Apoquindo 3000", "city": "Santiago", "postal_code": "7550000", "country": "CL"},
            },
        });
        let (status, body) = self.call(Method::POST, "/certificates", Some(&certificate)).await;
        assert_eq!(status, StatusCode::CREATED, "issue {number} at {}: {body}", self.code);
    }

    async fn set_status(&self, number: &str, status: &str) {
        let change = json!({"status": status, "reason": format!("{status} by the federation test")});
        let (code, body) = self.call(Method::POST, &format!("/certificates/{number}/status"), Some(&change)).await;
        assert_eq!(code, StatusCode::OK, "{status} {number}: {body}");
    }

    /// The border question asked at this administration, and how long the answer took.
    async fn recognition(&self, issuer: &str, number: &str) -> (Value, Duration) {
        let started = Instant::now();
        let answer = self.get(&format!("/recognition?issuer={issuer}&certificate={number}")).await;
        (answer, started.elapsed())
    }

    /// The position of this administration's latest change, from a certificate's history.
    async fn seq_of(&self, number: &str) -> i64 {
        let history = self.get(&format!("/certificates/{number}/history")).await;
        let entries = history.as_array().or_else(|| history["items"].as_array()).expect("history entries").clone();
        entries.iter().filter_map(|entry| entry["seq"].as_i64()).max().expect("a seq in the history")
    }
}

/// MRA records in force both ways and peer registrations both ways (keys fetched and pinned).
async fn link(a: &Admin, b: &Admin) {
    a.mra(&b.code, "in_force").await;
    b.mra(&a.code, "in_force").await;
    for (from, to) in [(a, b), (b, a)] {
        let (status, body) = from.register_peer(&to.code, &to.base, None).await;
        assert_eq!(status, StatusCode::CREATED, "register {} at {}: {body}", to.code, from.code);
        assert!(!body["keys"].as_array().expect("keys").is_empty(), "{body}");
    }
}

/// Polls `probe` every 100 ms until it succeeds; fails with its last complaint at the deadline.
async fn eventually<T>(limit: Duration, what: &str, mut probe: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => panic!("{what}: not within {limit:?}; last: {last}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn reasons(answer: &Value) -> Vec<String> {
    answer["reasons"].as_array().expect("reasons").iter().map(|r| r.as_str().expect("reason").to_owned()).collect()
}

fn has_reason(answer: &Value, reason: &str) -> bool {
    reasons(answer).iter().any(|r| r == reason)
}

#[track_caller]
fn assert_source(answer: &Value, allowed: &[&str]) {
    let source = answer["source"].as_str().unwrap_or_default();
    assert!(allowed.contains(&source), "source {source:?} is not one of {allowed:?}: {answer}");
}

/// Waits until `at`'s mirror of `issuer` has applied every change up to `seq`.
async fn mirror_reaches(at: &Admin, issuer: &str, seq: i64, limit: Duration) {
    eventually(limit, &format!("{}'s mirror of {issuer} reaches seq {seq}", at.code), async || {
        let view = at.peer(issuer).await;
        if view["mirror_synced_seq"].as_i64() >= Some(seq) { Ok(()) } else { Err(view.to_string()) }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Assertions made by the test itself, with keys of its own.

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

struct TestKey {
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl TestKey {
    fn generate() -> TestKey {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("generate a key");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("read the key");
        TestKey { pkcs8: pkcs8.as_ref().to_vec(), public: pair.public_key().as_ref().to_vec() }
    }

    /// The public key as a JWK Set with the given kid.
    fn jwks(&self, kid: &str) -> Value {
        json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(&self.public),
            "kid": kid, "alg": "EdDSA", "use": "sig",
        }]})
    }

    fn sign(&self, kid: &str, claims: &Value) -> String {
        self.sign_typed("JWT", kid, claims)
    }

    fn sign_typed(&self, typ: &str, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        header.typ = Some(typ.into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&self.pkcs8)).expect("sign")
    }

    /// A status statement of `iss` about certificate `sub` at position `seq`, active and valid
    /// for ten years: what a forger would like a border to believe.
    fn statement(&self, iss: &str, sub: &str, seq: i64) -> String {
        let iat = now();
        let claims = json!({
            "iss": iss, "sub": sub, "iat": iat, "exp": iat + 10 * 365 * 86_400, "seq": seq,
            "status": "active", "category": "security", "roles": ["exporter", "importer"],
            "valid_from": "2024-01-01", "valid_until": "2099-12-31", "status_reason": null,
            "operator": {"name": format!("Forged operator of {sub}"), "identifiers": []},
        });
        self.sign_typed("aeo-status+jwt", "k1", &claims)
    }
}

/// Assertion claims from `iss` to `aud`, issued now, living `lifetime` seconds, with a new jti.
fn claims(iss: &str, aud: &str, lifetime: i64) -> Value {
    let iat = now();
    json!({"iss": iss, "sub": iss, "aud": aud, "iat": iat, "exp": iat + lifetime, "jti": uuid::Uuid::new_v4().to_string()})
}

/// A federation GET on `node` with `assertion` as the bearer (or no Authorization at all).
async fn federation_get(base: &str, path: &str, assertion: Option<&str>) -> (StatusCode, Value) {
    send(Method::GET, &format!("{base}/federation/v1/administrations/{path}"), assertion, None).await
}

/// A peer `ZX` registered at `admin` with a key the test holds, and an MRA record with it in
/// force: the test can then make assertions the node accepts. Nothing answers at its base URL.
/// CL hosted at `node` with its certificate CL-1, and the test peer ZX registered there with
/// its key.
async fn issuer_with_test_peer(node: &Node) -> (Admin, TestKey) {
    let cl = Admin::create(node, "CL").await;
    cl.issue("CL-1").await;
    let own = TestKey::generate();
    register_test_peer(&cl, &own).await;
    (cl, own)
}

async fn register_test_peer(admin: &Admin, key: &TestKey) {
    // Port 9 (discard): nothing of these tests ever listens there.
    let (status, body) = admin.register_peer("ZX", "http://127.0.0.1:9", Some(&key.jwks("k1"))).await;
    assert_eq!(status, StatusCode::CREATED, "register ZX: {body}");
    admin.mra("ZX", "in_force").await;
}

// ---------------------------------------------------------------------------------------------
// 1. Topology.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_answer_recognition_across_the_federation_and_locally_on_the_hub() {
    let nodes = start_nodes(&[("A", &[]), ("B", &[]), ("H", &[])]);
    let (a, b, h) = (&nodes[0], &nodes[1], &nodes[2]);
    let cl = Admin::create(a, "CL").await;
    let pe = Admin::create(b, "PE").await;
    let co = Admin::create(h, "CO").await;
    let mx = Admin::create(h, "MX").await;
    for (x, y) in [(&cl, &pe), (&cl, &co), (&cl, &mx), (&pe, &co), (&pe, &mx)] {
        link(x, y).await;
    }
    // Both on the hub: MRA records only, no peer registration.
    co.mra("MX", "in_force").await;
    mx.mra("CO", "in_force").await;

    cl.issue("CL-1").await;
    mx.issue("MX-1").await;
    // A partner whose mirror is current answers "not found" for a certificate issued after the
    // mirror's checkpoint until the push arrives: wait for the pushes.
    let (cl_seq, mx_seq) = (cl.seq_of("CL-1").await, mx.seq_of("MX-1").await);
    for at in [&pe, &co, &mx] {
        mirror_reaches(at, "CL", cl_seq, Duration::from_secs(10)).await;
    }
    mirror_reaches(&pe, "MX", mx_seq, Duration::from_secs(10)).await;

    for at in [&pe, &co, &mx] {
        let (answer, _) = at.recognition("CL", "CL-1").await;
        assert_eq!(answer["recognized"], true, "at {}: {answer}", at.code);
        assert_eq!(answer["at"], at.code.as_str(), "{answer}");
        assert_eq!(answer["issuer"], "CL", "{answer}");
        assert_eq!(answer["certificate"]["number"], "CL-1", "{answer}");
        assert_eq!(answer["stale"], false, "{answer}");
        assert_source(&answer, &["peer", "mirror", "cache"]);
    }
    let (answer, _) = co.recognition("MX", "MX-1").await;
    assert_eq!(answer["recognized"], true, "{answer}");
    assert_eq!(answer["source"], "local", "{answer}");
    // An MX certificate asked at PE crosses to the hub.
    let (answer, _) = pe.recognition("MX", "MX-1").await;
    assert_eq!(answer["recognized"], true, "{answer}");
    assert_source(&answer, &["peer", "mirror", "cache"]);

    // The trader's view at its home registry: each partner answered, signed, over the network.
    let (status, body) = cl
        .call(
            Method::POST,
            "/users",
            Some(&json!({"email": "trader@federation.test", "password": PASSWORD, "role": "trader",
                "operator_identifier": TRADER_IDENTIFIER})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let trader = login(&a.base, "trader@federation.test").await;
    let (status, mine) = send(Method::GET, &format!("{}/api/v1/me/certificates", a.base), Some(&trader), None).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let certificates = mine.as_array().or_else(|| mine["items"].as_array()).expect("certificates");
    let held = certificates.iter().find(|c| c["number"] == "CL-1").unwrap_or_else(|| panic!("no CL-1: {mine}"));
    let recognition = held["recognition"].as_array().expect("recognition");
    for partner in ["PE", "CO", "MX"] {
        let entry = recognition
            .iter()
            .find(|r| r["at"] == partner)
            .unwrap_or_else(|| panic!("no recognition at {partner}: {held}"));
        assert_eq!(entry["recognized"], true, "{entry}");
        assert_eq!(entry["source"], "peer", "{entry}");
        assert_eq!(entry["reasons"], json!([]), "{entry}");
    }

    // Only the page asked for is asked about: one certificate of two, one call to each partner.
    cl.issue("CL-2").await;
    // Partners record what they served a moment later: PE has been asked once so far, above.
    served_reaches(&pe, 1).await;
    let url = format!("{}/api/v1/me/certificates?limit=1", a.base);
    let (status, page) = send(Method::GET, &url, Some(&trader), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    assert!(page["next_cursor"].is_string(), "a second page: {page}");
    served_reaches(&pe, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(recognitions_served(&pe).await, 2, "PE asked once more, for the one certificate of the page");
}

/// Waits until the administration's node has recorded `count` recognition questions served.
async fn served_reaches(at: &Admin, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while recognitions_served(at).await < count {
        assert!(Instant::now() < deadline, "{} served fewer than {count} recognition questions", at.code);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many recognition questions the administration's node has answered for partners.
async fn recognitions_served(at: &Admin) -> usize {
    at.audit()
        .await
        .iter()
        .filter(|r| {
            r["action"] == "federation.served" && r["target"].as_str().is_some_and(|t| t.starts_with("recognition"))
        })
        .count()
}

// ---------------------------------------------------------------------------------------------
// 2. Push.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_is_pushed_to_partner_nodes_within_two_seconds() {
    let nodes = start_nodes(&[("A", &[]), ("B", &[]), ("H", &[])]);
    let cl = Admin::create(&nodes[0], "CL").await;
    let pe = Admin::create(&nodes[1], "PE").await;
    let co = Admin::create(&nodes[2], "CO").await;
    link(&cl, &pe).await;
    link(&cl, &co).await;
    cl.issue("CL-1").await;
    let seq = cl.seq_of("CL-1").await;
    mirror_reaches(&pe, "CL", seq, Duration::from_secs(10)).await;
    mirror_reaches(&co, "CL", seq, Duration::from_secs(10)).await;
    for at in [&pe, &co] {
        let (answer, _) = at.recognition("CL", "CL-1").await;
        assert_eq!(answer["recognized"], true, "{answer}");
    }

    cl.set_status("CL-1", "suspended").await;
    let suspended_at = Instant::now();
    for at in [&pe, &co] {
        let answer = eventually(Duration::from_secs(5), &format!("{} sees the suspension", at.code), async || {
            let (answer, _) = at.recognition("CL", "CL-1").await;
            if has_reason(&answer, "certificate_suspended") { Ok(answer) } else { Err(answer.to_string()) }
        })
        .await;
        let took = suspended_at.elapsed();
        assert!(took < Duration::from_secs(2), "{} saw the suspension only after {took:?}", at.code);
        assert_eq!(answer["recognized"], false, "{answer}");
        assert_eq!(answer["certificate"]["status"], "suspended", "{answer}");
        assert_source(&answer, &["mirror", "cache", "peer"]);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Issuer down.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_issuer_down_partners_answer_from_the_mirror_then_stale() {
    // CL's statements and checkpoints stay fresh 5 s; its followers keep the default TTL (300 s)
    // for their own, and refresh CL's checkpoint by its own lifetime.
    let mut nodes =
        start_nodes(&[("A", &[("AEO_STATEMENT_TTL", "5")]), ("B", &[]), ("C", &[("AEO_MAX_STALENESS", "60")])]);
    let cl = Admin::create(&nodes[0], "CL").await;
    // PE (node B) tolerates no staleness; CO (node C) tolerates 60 s.
    let pe = Admin::create(&nodes[1], "PE").await;
    let co = Admin::create(&nodes[2], "CO").await;
    link(&cl, &pe).await;
    link(&cl, &co).await;
    cl.issue("CL-1").await;
    let seq = cl.seq_of("CL-1").await;
    for at in [&pe, &co] {
        mirror_reaches(at, "CL", seq, Duration::from_secs(10)).await;
        eventually(Duration::from_secs(10), "a current mirror", async || {
            let view = at.peer("CL").await;
            let until =
                view["mirror_current_until"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            match until {
                Some(until) if until.timestamp() > now() + 2 => Ok(()),
                _ => Err(view.to_string()),
            }
        })
        .await;
    }

    nodes[0].kill();
    let killed = Instant::now();
    for at in [&pe, &co] {
        let (answer, took) = at.recognition("CL", "CL-1").await;
        assert!(took < Duration::from_secs(3), "{} took {took:?} with CL down", at.code);
        assert_eq!(answer["recognized"], true, "{answer}");
        assert_eq!(answer["stale"], false, "{answer}");
        assert_source(&answer, &["mirror", "cache"]);
    }

    // Past the checkpoint's freshness (5 s from its last refresh, before the kill).
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(killed.elapsed())).await;
    let answer = eventually(Duration::from_secs(8), "PE's answer turns stale", async || {
        let (answer, took) = pe.recognition("CL", "CL-1").await;
        assert!(took < Duration::from_secs(3), "PE took {took:?} with CL down");
        if answer["stale"] == true { Ok(answer) } else { Err(answer.to_string()) }
    })
    .await;
    assert_eq!(answer["recognized"], false, "{answer}");
    assert!(has_reason(&answer, "issuer_unreachable"), "{answer}");
    assert_eq!(answer["certificate"]["status"], "active", "the last known status is shown: {answer}");
    assert_source(&answer, &["mirror", "cache"]);

    // CO allows 60 s of staleness: still recognised, and says it is stale.
    let answer = eventually(Duration::from_secs(5), "CO's answer turns stale", async || {
        let (answer, _) = co.recognition("CL", "CL-1").await;
        if answer["stale"] == true { Ok(answer) } else { Err(answer.to_string()) }
    })
    .await;
    assert_eq!(answer["recognized"], true, "{answer}");
    assert_eq!(answer["reasons"], json!([]), "{answer}");
    assert_eq!(answer["certificate"]["status"], "active", "{answer}");

    // CL comes back (PE's circuit to it is open by now): its partners answer from it again
    // within 2 s of it serving.
    nodes[0].restart();
    let back = Instant::now();
    for at in [&pe, &co] {
        eventually(Duration::from_secs(2).saturating_sub(back.elapsed()), "an answer from CL again", async || {
            let (answer, _) = at.recognition("CL", "CL-1").await;
            let fresh = answer["stale"] == false && answer["recognized"] == true;
            if fresh { Ok(()) } else { Err(answer.to_string()) }
        })
        .await;
    }
    eprintln!("PE and CO answered from CL {:?} after it was back", back.elapsed());
}

// ---------------------------------------------------------------------------------------------
// 4. Catch-up.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_node_back_from_downtime_catches_up_on_every_change() {
    let mut nodes = start_nodes(&[("A", &[]), ("B", &[])]);
    let cl = Admin::create(&nodes[0], "CL").await;
    let mut pe = Admin::create(&nodes[1], "PE").await;
    link(&cl, &pe).await;
    for number in ["CL-1", "CL-2", "CL-3"] {
        cl.issue(number).await;
    }
    let before = cl.seq_of("CL-3").await;
    mirror_reaches(&pe, "CL", before, Duration::from_secs(10)).await;

    nodes[1].kill();
    cl.set_status("CL-1", "suspended").await;
    cl.set_status("CL-2", "revoked").await;
    cl.issue("CL-4").await;
    let last = cl.seq_of("CL-4").await;
    assert_eq!(last, before + 3, "three changes while PE was down");
    let view = cl.peer("PE").await;
    assert!(view["backlog"].as_u64().expect("backlog") > 0, "nothing waits for PE: {view}");
    eventually(Duration::from_secs(5), "CL notes the failed push to PE", async || {
        let view = cl.peer("PE").await;
        if view["last_error"].is_string() { Ok(()) } else { Err(view.to_string()) }
    })
    .await;

    nodes[1].restart();
    let back = Instant::now();
    pe.relogin().await;
    mirror_reaches(&pe, "CL", last, Duration::from_secs(10)).await;
    eprintln!("PE's mirror caught up {:?} after the restart", back.elapsed());
    eventually(Duration::from_secs(5), "CL's backlog for PE drains and its last error clears", async || {
        let view = cl.peer("PE").await;
        let healthy = view["backlog"] == 0 && view["last_error"].is_null() && view["last_error_at"].is_null();
        if healthy && view["last_success_at"].is_string() { Ok(()) } else { Err(view.to_string()) }
    })
    .await;
    eprintln!("CL's backlog drained {:?} after the restart", back.elapsed());

    // Everything PE says now comes from its own mirror.
    nodes[0].kill();
    let expected = [
        ("CL-1", false, Some("certificate_suspended"), "suspended"),
        ("CL-2", false, Some("certificate_revoked"), "revoked"),
        ("CL-3", true, None, "active"),
        ("CL-4", true, None, "active"),
    ];
    for (number, recognized, reason, status) in expected {
        let (answer, took) = pe.recognition("CL", number).await;
        assert!(took < Duration::from_secs(3), "{number}: {took:?}");
        assert_eq!(answer["recognized"], recognized, "{number}: {answer}");
        assert_eq!(answer["stale"], false, "{number}: {answer}");
        assert_eq!(answer["certificate"]["status"], status, "{number}: {answer}");
        assert_source(&answer, &["mirror", "cache"]);
        if let Some(reason) = reason {
            assert!(has_reason(&answer, reason), "{number}: {answer}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Hostile assertions.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_federation_api_refuses_every_assertion_that_is_not_fresh_signed_and_pinned() {
    let nodes = start_nodes(&[("A", &[]), ("B", &[])]);
    let a = &nodes[0];
    let cl = Admin::create(a, "CL").await;
    let pe = Admin::create(&nodes[1], "PE").await;
    link(&cl, &pe).await;
    cl.issue("CL-1").await;
    let own = TestKey::generate();
    register_test_peer(&cl, &own).await;
    let checkpoint = "CL/checkpoint";
    let refused = async |assertion: Option<&str>, what: &str| {
        let (status, body) = federation_get(&a.base, checkpoint, assertion).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    };

    refused(None, "no Authorization").await;
    refused(Some("garbage"), "garbage").await;
    refused(Some("a.b.c"), "three dots of garbage").await;

    // PE's real kid, but signed with a key PE never published.
    let (_, pe_keys) =
        send(Method::GET, &format!("{}/federation/v1/administrations/PE/jwks.json", pe.base), None, None).await;
    let pe_jwk = pe_keys["keys"][0].clone();
    let pe_kid = pe_jwk["kid"].as_str().expect("PE's kid");
    refused(Some(&own.sign(pe_kid, &claims("PE", "CL", 60))), "PE's kid, another key").await;
    refused(Some(&own.sign("k1", &claims("ZZ", "CL", 60))), "an unknown issuer").await;
    refused(Some(&own.sign("k1", &claims("ZX", "PE", 60))), "another audience").await;
    refused(Some(&own.sign("nope", &claims("ZX", "CL", 60))), "an unknown kid").await;
    let mut old = claims("ZX", "CL", 60);
    old["iat"] = json!(now() - 600);
    old["exp"] = json!(now() - 540);
    refused(Some(&own.sign("k1", &old)), "expired").await;
    let mut subject = claims("ZX", "CL", 60);
    subject["sub"] = json!("PE");
    refused(Some(&own.sign("k1", &subject)), "sub differs from iss").await;
    refused(Some(&own.sign("k1", &claims("ZX", "CL", 300))), "a five-minute assertion").await;

    // alg none: an unsigned token.
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": "k1"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims("ZX", "CL", 60).to_string())
    );
    refused(Some(&unsigned), "alg none").await;
    // Algorithm confusion: HS256 keyed with the public key's bytes (raw and as the JWK's x).
    for secret in [own.public.clone(), URL_SAFE_NO_PAD.encode(&own.public).into_bytes()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let token =
            jsonwebtoken::encode(&header, &claims("ZX", "CL", 60), &EncodingKey::from_secret(&secret)).expect("HS256");
        refused(Some(&token), "HS256 with the public key").await;
    }

    // A genuinely valid assertion works once.
    let valid = own.sign("k1", &claims("ZX", "CL", 60));
    let (status, body) = federation_get(&a.base, checkpoint, Some(&valid)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["checkpoint"].is_string(), "{body}");
    refused(Some(&valid), "a replay").await;
    let (status, body) = federation_get(&a.base, checkpoint, Some(&own.sign("k1", &claims("ZX", "CL", 60)))).await;
    assert_eq!(status, StatusCode::OK, "a fresh assertion: {body}");

    // Authenticated, but the MRA record decides whether CL talks to ZX.
    for (mra, expected) in [
        ("negotiating", StatusCode::FORBIDDEN),
        ("terminated", StatusCode::FORBIDDEN),
        ("suspended", StatusCode::OK),
        ("signed", StatusCode::OK),
        ("in_force", StatusCode::OK),
    ] {
        cl.mra("ZX", mra).await;
        let (status, body) = federation_get(&a.base, checkpoint, Some(&own.sign("k1", &claims("ZX", "CL", 60)))).await;
        assert_eq!(status, expected, "MRA {mra}: {body}");
    }
    // Every endpoint is guarded alike.
    for path in [
        "CL/certificates/CL-1",
        "CL/certificates?identifier=CL-RUT:76086428-5",
        "CL/statements?numbers=CL-1",
        "CL/changes?after=0",
    ] {
        let (status, _) = federation_get(&a.base, path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, body) = federation_get(&a.base, path, Some(&own.sign("k1", &claims("ZX", "CL", 60)))).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (status, _) = send(
        Method::POST,
        &format!("{}/federation/v1/administrations/CL/events", a.base),
        None,
        Some(&json!({"items": []})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------------
// 5b. Trust is per administration.

/// Pushes `items` to `administration` on `base` as the peer `issuer`, signing with `key`.
async fn push_as(base: &str, issuer: &str, administration: &str, key: &TestKey, items: Value) -> (StatusCode, Value) {
    let assertion = key.sign("k1", &claims(issuer, administration, 60));
    send(
        Method::POST,
        &format!("{base}/federation/v1/administrations/{administration}/events"),
        Some(&assertion),
        Some(&json!({ "items": items })),
    )
    .await
}

/// CL's border still says what AR really published: AR-1 revoked, AR-404 unknown to AR.
async fn assert_cl_is_not_fooled(cl: &Admin) {
    for _ in 0..3 {
        let (answer, _) = cl.recognition("AR", "AR-1").await;
        assert_eq!(answer["recognized"], false, "{answer}");
        assert_eq!(reasons(&answer), ["certificate_revoked"], "{answer}");
        let (answer, _) = cl.recognition("AR", "AR-404").await;
        assert_eq!(answer["recognized"], false, "{answer}");
        assert_eq!(reasons(&answer), ["certificate_not_found"], "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administration_cannot_make_another_administrations_border_trust_a_forged_issuer() {
    let mut nodes = start_nodes(&[("A", &[]), ("H", &[])]);
    let (a, h) = (&nodes[0], &nodes[1]);
    // AR is a real issuer on A. CL and CO share the node H; CL follows AR for real.
    let ar = Admin::create(a, "AR").await;
    let cl = Admin::create(h, "CL").await;
    let co = Admin::create(h, "CO").await;
    link(&ar, &cl).await;
    ar.issue("AR-1").await;
    ar.set_status("AR-1", "revoked").await;
    mirror_reaches(&cl, "AR", ar.seq_of("AR-1").await, Duration::from_secs(10)).await;
    let (before, _) = cl.recognition("AR", "AR-1").await;
    assert_eq!(reasons(&before), ["certificate_revoked"], "{before}");

    // CO registers a peer under AR's code with a key of its own, and an MRA with it in force.
    let forger = TestKey::generate();
    let (status, body) = co.register_peer("AR", "http://127.0.0.1:9", Some(&forger.jwks("k1"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    co.mra("AR", "in_force").await;

    // A forged push with a huge seq is not taken on faith, even into CO's own mirror.
    let huge = json!([
        {"seq": 1_000_000_000, "statement": forger.statement("AR", "AR-1", 1_000_000_000)},
        {"seq": 1_000_000_001, "statement": forger.statement("AR", "AR-404", 1_000_000_001)},
    ]);
    let (status, body) = push_as(&h.base, "AR", "CO", &forger, huge).await;
    assert_cl_is_not_fooled(&cl).await;
    assert_eq!(status, StatusCode::CONFLICT, "a seq far beyond any checkpoint: {body}");
    // Within reach of what CO verified (nothing yet), CO may believe its own pinned key...
    let near = json!([
        {"seq": 1, "statement": forger.statement("AR", "AR-1", 1)},
        {"seq": 2, "statement": forger.statement("AR", "AR-404", 2)},
    ]);
    let (status, body) = push_as(&h.base, "AR", "CO", &forger, near).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // ...but a later push that contradicts what it accepted is refused, naming the item.
    let contradiction = json!([{"seq": 2, "statement": forger.statement("AR", "AR-2", 2)}]);
    let (status, body) = push_as(&h.base, "AR", "CO", &forger, contradiction).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "items[0].statement", "{body}");

    // CO itself believes the key it pinned: AR-404 is recognised at CO, from CO's own mirror.
    let (answer, _) = co.recognition("AR", "AR-404").await;
    assert_eq!(answer["recognized"], true, "{answer}");
    // Until CO pins another key: what the old key vouched for is forgotten with it.
    let other = TestKey::generate();
    let (status, body) = co.register_peer("AR", "http://127.0.0.1:9", Some(&other.jwks("k2"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(co.peer("AR").await["mirror_synced_seq"], 0);
    let (answer, _) = co.recognition("AR", "AR-404").await;
    assert_eq!(answer["recognized"], false, "{answer}");
    assert!(has_reason(&answer, "issuer_unreachable"), "{answer}");

    // CL's border is untouched: what CO was told never decides CL's answer.
    assert_cl_is_not_fooled(&cl).await;
    // And with the real issuer down, CL answers from its own mirror: still not the forgery.
    nodes[0].kill();
    let (answer, _) = cl.recognition("AR", "AR-1").await;
    assert_eq!(answer["recognized"], false, "{answer}");
    assert!(has_reason(&answer, "certificate_revoked"), "{answer}");
    assert_source(&answer, &["mirror"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_asking_about_a_third_issuer_gets_only_the_public_facts() {
    let nodes = start_nodes(&[("A", &[])]);
    let a = &nodes[0];
    // CL and MX on one node, in force with each other; ZX is CL's partner on another node.
    let cl = Admin::create(a, "CL").await;
    let mx = Admin::create(a, "MX").await;
    cl.mra("MX", "in_force").await;
    mx.mra("CL", "in_force").await;
    mx.issue("MX-1").await;
    mx.set_status("MX-1", "suspended").await;
    let zx = TestKey::generate();
    register_test_peer(&cl, &zx).await;

    // ZX asks CL whether CL recognises MX's certificate: the answer is CL's to give, but MX's
    // operator, roles and reasons are not ZX's to read.
    let path = "CL/recognition?issuer=MX&certificate=MX-1";
    let (status, body) = federation_get(&a.base, path, Some(&zx.sign("k1", &claims("ZX", "CL", 60)))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["answer"].as_str().expect("a signed answer");
    let payload = token.split('.').nth(1).expect("payload");
    let answer: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json");
    assert_eq!(answer["reasons"], json!(["certificate_suspended"]), "{answer}");
    let certificate = answer["certificate"].as_object().expect("certificate");
    assert_eq!(certificate["number"], "MX-1", "{answer}");
    assert_eq!(certificate["status"], "suspended", "{answer}");
    for hidden in ["roles", "operator"] {
        assert!(!certificate.contains_key(hidden), "{hidden}: {answer}");
    }
    assert!(certificate["status_reason"].is_null(), "{answer}");
}

// ---------------------------------------------------------------------------------------------
// 6. Statements verified by another implementation.

const VERIFIER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/verify_statement.py");

/// Runs the Python verifier on `request`: (passed, what it printed).
fn python_verifies(request: &Value) -> (bool, String) {
    let mut child = Command::new("python3")
        .arg(VERIFIER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (with the cryptography package) is needed for this test");
    child.stdin.take().expect("stdin").write_all(request.to_string().as_bytes()).expect("write to python3");
    let output = child.wait_with_output().expect("python3 runs");
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success() && printed.trim() == "OK", printed)
}

/// The same token with its payload changed by `tamper` and the signature kept.
fn tampered(token: &str, tamper: impl FnOnce(&mut Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("payload")).expect("payload json");
    tamper(&mut payload);
    format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2])
}

/// A statement is served again from memory while it is fresh, but never once its certificate
/// changed: asked right after each change, by number and by identifier, it says the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_served_again_is_never_older_than_the_last_change() {
    let nodes = start_nodes(&[("A", &[])]);
    let a = &nodes[0];
    let (cl, own) = issuer_with_test_peer(a).await;
    let ask = |path: &'static str| {
        let assertion = own.sign("k1", &claims("ZX", "CL", 60));
        async move {
            let (status, body) = federation_get(&a.base, path, Some(&assertion)).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            let token = match body.get("statement") {
                Some(token) => token.clone(),
                None => body["statements"][0].clone(),
            };
            payload(token.as_str().expect("a statement"))
        }
    };
    let by_number = "CL/certificates/CL-1";
    let by_identifier = "CL/certificates?identifier=CL-RUT:76086428-5";
    let first = ask(by_number).await;
    assert_eq!(first["status"], "active", "{first}");
    assert_eq!(ask(by_number).await, first, "the statement was signed again instead of served again");
    for status in ["suspended", "active", "revoked"] {
        cl.set_status("CL-1", status).await;
        for path in [by_number, by_identifier] {
            let said = ask(path).await;
            assert_eq!(said["status"], status, "{path} after the change to {status}: {said}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_and_checkpoints_verify_with_an_independent_implementation() {
    let nodes = start_nodes(&[("A", &[])]);
    let a = &nodes[0];
    let (_, own) = issuer_with_test_peer(a).await;
    let (status, jwks) =
        send(Method::GET, &format!("{}/federation/v1/administrations/CL/jwks.json", a.base), None, None).await;
    assert_eq!(status, StatusCode::OK, "{jwks}");

    let (status, body) =
        federation_get(&a.base, "CL/certificates/CL-1", Some(&own.sign("k1", &claims("ZX", "CL", 60)))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let statement = body["statement"].as_str().expect("statement").to_owned();
    let request = |token: &str, kind: &str| json!({"token": token, "jwks": jwks, "kind": kind, "issuer": "CL", "subject": "CL-1"});
    let (ok, printed) = python_verifies(&request(&statement, "statement"));
    assert!(ok, "a genuine statement: {printed}");
    let forged = tampered(&statement, |claims| claims["status"] = json!("revoked"));
    let (ok, printed) = python_verifies(&request(&forged, "statement"));
    assert!(!ok && printed.contains("signature"), "a tampered statement passed: {printed}");
    let (ok, printed) =
        python_verifies(&json!({"token": statement, "jwks": jwks, "kind": "statement", "issuer": "PE"}));
    assert!(!ok, "a statement of CL passed as PE's: {printed}");
    let (ok, printed) = python_verifies(&request(&statement, "checkpoint"));
    assert!(!ok, "a statement passed as a checkpoint: {printed}");

    let (status, body) = federation_get(&a.base, "CL/checkpoint", Some(&own.sign("k1", &claims("ZX", "CL", 60)))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let checkpoint = body["checkpoint"].as_str().expect("checkpoint").to_owned();
    let (ok, printed) = python_verifies(&request(&checkpoint, "checkpoint"));
    assert!(ok, "a genuine checkpoint: {printed}");
    let forged = tampered(&checkpoint, |claims| claims["seq"] = json!(claims["seq"].as_i64().unwrap_or(0) + 1));
    let (ok, printed) = python_verifies(&request(&forged, "checkpoint"));
    assert!(!ok && printed.contains("signature"), "a tampered checkpoint passed: {printed}");
    // Another key set (the test's own key under CL's kid) does not verify CL's checkpoint.
    let kid = jwks["keys"][0]["kid"].as_str().expect("kid");
    let (ok, printed) =
        python_verifies(&json!({"token": checkpoint, "jwks": own.jwks(kid), "kind": "checkpoint", "issuer": "CL"}));
    assert!(!ok, "verified with the wrong key: {printed}");
}

/// The claims of a compact JWS, unverified (the tests above verify signatures).
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("payload json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_shows_each_certificate_as_it_stood_at_each_change() {
    // A creation is stored without a copy of the certificate; the first change keeps it. The
    // feed must still show the creation as it was, however the certificate changed since.
    let nodes = start_nodes(&[("A", &[])]);
    let a = &nodes[0];
    let cl = Admin::create(a, "CL").await;
    cl.issue("CL-1").await;
    cl.issue("CL-2").await;
    cl.set_status("CL-1", "suspended").await;
    cl.set_status("CL-1", "active").await;
    cl.set_status("CL-1", "revoked").await;
    let own = TestKey::generate();
    register_test_peer(&cl, &own).await;

    let (status, body) =
        federation_get(&a.base, "CL/changes?after=0", Some(&own.sign("k1", &claims("ZX", "CL", 60)))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let seen: Vec<(i64, String, String)> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            let claims = payload(item["statement"].as_str().expect("statement"));
            assert_eq!(claims["seq"], item["seq"], "{claims}");
            (
                item["seq"].as_i64().expect("seq"),
                claims["sub"].as_str().expect("sub").to_owned(),
                claims["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect();
    let story: Vec<(&str, &str)> = seen.iter().map(|(_, number, status)| (number.as_str(), status.as_str())).collect();
    assert_eq!(
        story,
        [("CL-1", "active"), ("CL-2", "active"), ("CL-1", "suspended"), ("CL-1", "active"), ("CL-1", "revoked")]
    );
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "in order: {seen:?}");
    // A change after CL-2's creation does not alter what its creation said either.
    cl.set_status("CL-2", "suspended").await;
    let (_, body) = federation_get(
        &a.base,
        &format!("CL/changes?after={}&limit=1", seen[0].0),
        Some(&own.sign("k1", &claims("ZX", "CL", 60))),
    )
    .await;
    let claims = payload(body["items"][0]["statement"].as_str().expect("statement"));
    assert_eq!((claims["sub"].as_str(), claims["status"].as_str()), (Some("CL-2"), Some("active")), "{claims}");
}

// ---------------------------------------------------------------------------------------------
// 7. A peer that never answers.

/// A listener that accepts connections and never writes a byte; its base URL.
fn silent_peer() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            match stream {
                Ok(stream) => held.push(stream),
                Err(_) => break,
            }
        }
    });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_answers_costs_the_border_two_seconds_then_nothing() {
    let nodes = start_nodes(&[("B", &[])]);
    let pe = Admin::create(&nodes[0], "PE").await;
    let silent = silent_peer();
    let (status, body) = pe.register_peer("XX", &silent, Some(&TestKey::generate().jwks("x1"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    pe.mra("XX", "in_force").await;

    let (answer, took) = pe.recognition("XX", "X-1").await;
    assert!(took < Duration::from_secs(3), "the first question took {took:?}");
    assert_eq!(answer["recognized"], false, "{answer}");
    assert!(has_reason(&answer, "issuer_unreachable"), "{answer}");
    assert_eq!(answer["stale"], true, "{answer}");

    // After three failures the circuit opens: questions no longer wait for the peer.
    let mut timings = vec![took];
    for _ in 0..6 {
        let (answer, took) = pe.recognition("XX", "X-1").await;
        assert!(took < Duration::from_secs(3), "a question took {took:?}");
        assert_eq!(answer["recognized"], false, "{answer}");
        assert!(has_reason(&answer, "issuer_unreachable"), "{answer}");
        timings.push(took);
    }
    eprintln!("questions about XX took {timings:?}");
    let fast = timings.iter().rev().take(3).all(|t| *t < Duration::from_millis(500));
    assert!(fast, "the circuit did not open: {timings:?}");
    let view = pe.peer("XX").await;
    assert!(view["last_error"].is_string(), "{view}");
}

// ---------------------------------------------------------------------------------------------
// 8. Key change at a peer.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_change_at_a_peer_waits_for_the_administrators_consent() {
    // A key change that was not announced (here: announced for no time at all) has no
    // endorsement from a pinned key: only the administrator can make it trusted.
    let nodes = start_nodes(&[("A", &[("AEO_KEY_ANNOUNCE_SECS", "0")]), ("B", &[])]);
    let cl = Admin::create(&nodes[0], "CL").await;
    let pe = Admin::create(&nodes[1], "PE").await;
    link(&cl, &pe).await;
    cl.issue("CL-1").await;
    cl.issue("CL-2").await;
    let seq = cl.seq_of("CL-2").await;
    mirror_reaches(&pe, "CL", seq, Duration::from_secs(10)).await;
    let pinned = pe.peer("CL").await["keys"].clone();
    assert_eq!(pinned.as_array().map(Vec::len), Some(1), "{pinned}");

    let (status, body) = cl.call(Method::POST, "/keys/rotate", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Re-registering fetches the new keys but keeps them pending.
    let (status, view) = pe.register_peer("CL", &cl.base, None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["keys"], pinned, "the pinned keys changed without consent: {view}");
    let pending = view["pending_keys"].as_array().expect("pending keys").clone();
    assert!(!pending.is_empty(), "{view}");
    let thumbprints: Vec<String> =
        pending.iter().map(|k| k["thumbprint"].as_str().expect("thumbprint").to_owned()).collect();
    assert!(pending.len() > pinned.as_array().map_or(0, Vec::len), "the new and the retired key: {view}");
    // Consent names the new keys only: the one pinned already was compared when it was pinned.
    let old = pinned[0]["thumbprint"].as_str().expect("thumbprint");
    let new: Vec<String> = thumbprints.iter().filter(|t| *t != old).cloned().collect();
    assert_eq!(new.len(), 1, "{view}");

    // Until then, what CL signs with its new key is not taken: PE keeps the old status.
    cl.set_status("CL-2", "suspended").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (answer, _) = pe.recognition("CL", "CL-2").await;
    assert_eq!(answer["certificate"]["status"], "active", "a statement under an unaccepted key was used: {answer}");
    let waiting = cl.peer("PE").await;
    assert!(waiting["backlog"].as_u64() > Some(0), "PE took the change signed with the new key: {waiting}");

    let accept = async |thumbprints: Value| {
        pe.call(Method::POST, "/peers/CL/keys/accept", Some(&json!({"thumbprints": thumbprints}))).await
    };
    let (status, body) = accept(json!(["not-a-thumbprint"])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = accept(json!(thumbprints)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the pinned key listed too: {body}");
    let (status, body) = accept(json!([])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "none of the new keys: {body}");
    assert_eq!(pe.peer("CL").await["keys"], pinned);
    // Accepted from the peers page, which shows the new key to compare.
    pe.accept_keys_on_the_page("CL", &new).await;
    let view = pe.peer("CL").await;
    assert!(view["pending_keys"].is_null(), "{view}");
    let now_pinned: Vec<&str> =
        view["keys"].as_array().expect("keys").iter().filter_map(|k| k["thumbprint"].as_str()).collect();
    assert_eq!(now_pinned.len(), thumbprints.len(), "{view}");
    assert!(thumbprints.iter().all(|t| now_pinned.contains(&t.as_str())), "{view}");

    // CL's statements verify again: the held-back change and a new one reach PE.
    let accepted = Instant::now();
    cl.set_status("CL-1", "revoked").await;
    for (number, reason) in [("CL-2", "certificate_suspended"), ("CL-1", "certificate_revoked")] {
        eventually(Duration::from_secs(5), &format!("PE sees {number} change"), async || {
            let (answer, _) = pe.recognition("CL", number).await;
            if has_reason(&answer, reason) { Ok(()) } else { Err(answer.to_string()) }
        })
        .await;
    }
    eprintln!("PE had CL's changes {:?} after accepting the new keys", accepted.elapsed());
    let last = cl.seq_of("CL-1").await;
    mirror_reaches(&pe, "CL", last, Duration::from_secs(15)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_can_announce_only_keys_its_pinned_key_signs_and_only_a_few() {
    let nodes = start_nodes(&[("A", &[])]);
    let cl = Admin::create(&nodes[0], "CL").await;
    let zx = TestKey::generate();
    register_test_peer(&cl, &zx).await;
    let announce = async |signer: &TestKey, signer_kid: &str, keys: Vec<Value>| {
        let iat = now();
        let token = signer.sign_typed(
            "aeo-keys+jwt",
            signer_kid,
            &json!({"iss": "ZX", "iat": iat, "exp": iat + 60, "keys": {"keys": keys}, "signs_from": iat + 600}),
        );
        let assertion = zx.sign("k1", &claims("ZX", "CL", 60));
        let url = format!("{}/federation/v1/administrations/CL/events", cl.base);
        send(Method::POST, &url, Some(&assertion), Some(&json!({"items": [], "next_keys": token}))).await
    };
    let key = |n: usize| TestKey::generate().jwks(&format!("n{n}"))["keys"][0].clone();
    let pinned = async || cl.peer("ZX").await["keys"].as_array().map_or(0, Vec::len);

    // Signed by a key CL never pinned for ZX: nothing is pinned, and CL's administrator sees why.
    let stranger = TestKey::generate();
    let (status, body) = announce(&stranger, "s1", vec![key(0)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view = eventually(Duration::from_secs(5), "CL notes the refused announcement", async || {
        let view = cl.peer("ZX").await;
        if view["last_error"].as_str().is_some_and(|e| e.contains("did not verify")) {
            Ok(view)
        } else {
            Err(view.to_string())
        }
    })
    .await;
    assert!(view["announced_keys"].is_null(), "{view}");
    assert_eq!(pinned().await, 1, "{view}");

    // More keys than a rotation makes: refused whole.
    let (status, _) = announce(&zx, "k1", (0..5).map(key).collect()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pinned().await, 1);

    // Signed by the pinned key: taken, and shown.
    let (status, _) = announce(&zx, "k1", vec![key(1)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pinned().await, 2);
    assert_eq!(cl.peer("ZX").await["announced_keys"]["thumbprints"].as_array().map(Vec::len), Some(1));

    // Announcing key after key stops at eight pinned in all.
    for n in 2..12 {
        announce(&zx, "k1", vec![key(n)]).await;
    }
    assert_eq!(pinned().await, 8, "{}", cl.peer("ZX").await);
    let audit = cl.audit().await;
    assert_eq!(audit.iter().filter(|r| r["action"] == "peer.keys_announced").count(), 7, "{audit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_is_announced_first_and_partners_never_stop_verifying() {
    // CL announces its next key for 8 s; its checkpoints live 5 s, so PE refreshes them often.
    let nodes = start_nodes(&[("A", &[("AEO_KEY_ANNOUNCE_SECS", "8"), ("AEO_STATEMENT_TTL", "5")]), ("B", &[])]);
    let cl = Admin::create(&nodes[0], "CL").await;
    let pe = Admin::create(&nodes[1], "PE").await;
    link(&cl, &pe).await;
    cl.issue("CL-1").await;
    mirror_reaches(&pe, "CL", cl.seq_of("CL-1").await, Duration::from_secs(10)).await;
    let old = pe.peer("CL").await["keys"][0]["thumbprint"].as_str().expect("thumbprint").to_owned();

    let (status, keys) = cl.call(Method::POST, "/keys/rotate", None).await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let next = keys["items"].as_array().and_then(|keys| keys.iter().find(|k| k["signs_from"].is_string())).cloned();
    let next = next.unwrap_or_else(|| panic!("no announced key: {keys}"));
    let next_thumbprint = next["thumbprint"].as_str().expect("thumbprint").to_owned();
    // A second rotation while one is announced is refused.
    let (status, body) = cl.call(Method::POST, "/keys/rotate", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // PE learns the next key from CL's current one, before it signs, and shows it.
    let rotated = Instant::now();
    let view = eventually(Duration::from_secs(7), "PE pins CL's announced key", async || {
        let view = pe.peer("CL").await;
        let pinned: Vec<&str> =
            view["keys"].as_array().into_iter().flatten().filter_map(|k| k["thumbprint"].as_str()).collect();
        if pinned.contains(&next_thumbprint.as_str()) && pinned.contains(&old.as_str()) {
            Ok(view)
        } else {
            Err(view.to_string())
        }
    })
    .await;
    eprintln!("PE pinned CL's next key {:?} after the rotation", rotated.elapsed());
    assert_eq!(view["announced_keys"]["thumbprints"], json!([next_thumbprint]), "{view}");
    assert!(view["pending_keys"].is_null(), "an endorsed key waits for no consent: {view}");
    let audit = pe.audit().await;
    assert!(audit.iter().any(|r| r["action"] == "peer.keys_announced"), "{audit:?}");

    // Once the new key signs, PE verifies what CL pushes: a revocation reaches PE's border at once.
    tokio::time::sleep(Duration::from_secs(8).saturating_sub(rotated.elapsed()) + Duration::from_millis(500)).await;
    cl.set_status("CL-1", "revoked").await;
    let revoked = Instant::now();
    eventually(Duration::from_secs(3), "PE's border sees the revocation signed with the new key", async || {
        let (answer, _) = pe.recognition("CL", "CL-1").await;
        let seen = has_reason(&answer, "certificate_revoked") && answer["stale"] == false;
        if seen { Ok(()) } else { Err(answer.to_string()) }
    })
    .await;
    eprintln!("PE answered the revocation {:?} after it", revoked.elapsed());
    let mirror = cl.seq_of("CL-1").await;
    mirror_reaches(&pe, "CL", mirror, Duration::from_secs(5)).await;
    let delivered = cl.peer("PE").await;
    assert_eq!(delivered["backlog"], 0, "{delivered}");
    assert!(delivered["last_error"].is_null(), "{delivered}");
    let followed = pe.peer("CL").await;
    assert!(followed["last_error"].is_null(), "{followed}");
}

// ---------------------------------------------------------------------------------------------
// 9. Questions asked together.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_asked_together_answer_each_number_in_order_and_only_of_the_asked_administration() {
    let nodes = start_nodes(&[("A", &[])]);
    let a = &nodes[0];
    let (cl, own) = issuer_with_test_peer(a).await;
    cl.issue("CL-2").await;
    cl.set_status("CL-2", "revoked").await;
    // Another administration of the same node: its certificates are never CL's to state.
    let mx = Admin::create(a, "MX").await;
    mx.issue("MX-1").await;
    let ask = async |query: &str| {
        let assertion = own.sign("k1", &claims("ZX", "CL", 60));
        federation_get(&a.base, &format!("CL/statements{query}"), Some(&assertion)).await
    };

    let (status, body) = ask("?numbers=cl-2,CL-404,CL-1,MX-1,not%20a%20number").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let statements = body["statements"].as_array().expect("statements");
    assert_eq!(statements.len(), 5, "one entry per number asked: {body}");
    let revoked = payload(statements[0].as_str().expect("CL-2's statement"));
    assert_eq!((revoked["sub"].as_str(), revoked["status"].as_str()), (Some("CL-2"), Some("revoked")), "{revoked}");
    let active = payload(statements[2].as_str().expect("CL-1's statement"));
    assert_eq!((active["sub"].as_str(), active["status"].as_str()), (Some("CL-1"), Some("active")), "{active}");
    for missing in [1, 3, 4] {
        assert!(statements[missing].is_null(), "entry {missing} is no certificate of CL: {body}");
    }
    // The statement is the one the single call serves.
    let (status, alone) =
        federation_get(&a.base, "CL/certificates/CL-1", Some(&own.sign("k1", &claims("ZX", "CL", 60)))).await;
    assert_eq!(status, StatusCode::OK, "{alone}");
    assert_eq!(payload(alone["statement"].as_str().expect("statement")), active);

    let too_many = format!("?numbers={}", vec!["CL-1"; 101].join(","));
    for query in ["", "?numbers=", "?numbers=CL-1,,CL-2", "?numbers=,CL-1", "?numbers=CL-1,", too_many.as_str()] {
        let (status, body) = ask(query).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["errors"][0]["field"], "numbers", "{query}: {body}");
    }
    let (status, _) = federation_get(&a.base, "CL/statements?numbers=CL-1", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The call is in CL's audit log with every number asked.
    eventually(Duration::from_secs(5), "CL's audit log records the call", async || {
        let audit = cl.audit().await;
        audit
            .iter()
            .find(|r| r["action"] == "federation.served" && r["target"] == "statements")
            .filter(|r| r["details"]["numbers"].as_array().is_some_and(|n| n.len() == 5) && r["details"]["found"] == 2)
            .map(|_| ())
            .ok_or_else(|| format!("{audit:?}"))
    })
    .await;
}

/// A TCP proxy to `target` (a base URL) that holds every chunk a client sends for `delay`
/// before passing it on: a slow network between a node and its peer. Its base URL.
fn slow_proxy(target: &str, delay: Duration) -> String {
    use std::io::Read;
    use std::net::TcpStream;
    let upstream = target.trim_start_matches("http://").to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { break };
            let upstream = upstream.clone();
            std::thread::spawn(move || {
                let Ok(mut server) = TcpStream::connect(&upstream) else { return };
                let (Ok(mut answers), Ok(mut to_client)) = (server.try_clone(), client.try_clone()) else { return };
                std::thread::spawn(move || std::io::copy(&mut answers, &mut to_client));
                let mut chunk = [0u8; 64 * 1024];
                while let Ok(read) = client.read(&mut chunk) {
                    if read == 0 {
                        break;
                    }
                    std::thread::sleep(delay);
                    if server.write_all(&chunk[..read]).is_err() {
                        break;
                    }
                }
                let _ = server.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn border_questions_waiting_for_one_issuer_go_in_one_call_and_each_gets_its_own_answer() {
    // CO's statements are never fresh, so PE asks CO's node for every answer, over a slow link.
    let nodes = start_nodes(&[("B", &[]), ("C", &[("AEO_STATEMENT_TTL", "0")])]);
    let pe = Admin::create(&nodes[0], "PE").await;
    let co = Admin::create(&nodes[1], "CO").await;
    let numbers: Vec<String> = (1..=30).map(|i| format!("CO-{i}")).collect();
    for number in &numbers {
        co.issue(number).await;
    }
    co.set_status("CO-7", "suspended").await;
    pe.mra("CO", "in_force").await;
    co.mra("PE", "in_force").await;
    let (status, body) = co.register_peer("PE", &pe.base, None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let slow = slow_proxy(&co.base, Duration::from_millis(300));
    let (status, body) = pe.register_peer("CO", &slow, None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // 32 border officers ask at once: 30 certificates and two numbers CO never issued.
    let asked: Vec<String> = numbers.iter().cloned().chain(["CO-404".into(), "CO-405".into()]).collect();
    let answers = futures_util::future::join_all(asked.iter().map(|number| pe.recognition("CO", number))).await;
    for (number, (answer, took)) in asked.iter().zip(&answers) {
        assert_eq!(answer["source"], "peer", "{number}: {answer}");
        assert_eq!(answer["stale"], false, "{number}: {answer}");
        assert!(*took < Duration::from_secs(3), "{number} took {took:?}");
        match number.as_str() {
            "CO-404" | "CO-405" => assert_eq!(reasons(answer), ["certificate_not_found"], "{number}: {answer}"),
            "CO-7" => assert_eq!(reasons(answer), ["certificate_suspended"], "{number}: {answer}"),
            _ => {
                assert_eq!(answer["recognized"], true, "{number}: {answer}");
                assert_eq!(answer["certificate"]["number"], number.as_str(), "{number}: {answer}");
            }
        }
    }

    // CO's node was asked a few times, most numbers in one call.
    let asked_of_co = async || {
        let calls: Vec<Value> = co
            .audit()
            .await
            .into_iter()
            .filter(|r| {
                r["action"] == "federation.served"
                    && r["target"].as_str().is_some_and(|t| t == "statements" || t.starts_with("certificates/"))
            })
            .collect();
        let numbers: usize = calls.iter().map(|r| r["details"]["numbers"].as_array().map_or(1, Vec::len)).sum();
        (calls, numbers)
    };
    let calls = eventually(Duration::from_secs(5), "CO records every number it was asked", async || {
        let (calls, numbers) = asked_of_co().await;
        if numbers >= asked.len() { Ok(calls) } else { Err(format!("{numbers} numbers in {calls:?}")) }
    })
    .await;
    assert!(calls.len() <= 6, "{} calls for {} questions: {calls:?}", calls.len(), asked.len());
    let largest = calls.iter().filter_map(|r| r["details"]["numbers"].as_array().map(Vec::len)).max();
    assert!(largest >= Some(20), "no call asked for most numbers at once: {calls:?}");
}

/// A peer node that answers every request with 200 and `body`; its base URL.
fn peer_answering(body: Value) -> String {
    use std::io::Read;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let body = body.to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let body = body.clone();
            std::thread::spawn(move || {
                let mut request = [0u8; 16 * 1024];
                while let Ok(read) = stream.read(&mut request) {
                    if read == 0 {
                        break;
                    }
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(answer.as_bytes()).is_err() {
                        break;
                    }
                }
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_of_another_certificate_never_answers_the_question_asked() {
    let nodes = start_nodes(&[("B", &[])]);
    let pe = Admin::create(&nodes[0], "PE").await;
    // ZZ's node signs, with its real key, an active statement of ZZ-2 whatever it is asked.
    let zz = TestKey::generate();
    let other = zz.statement("ZZ", "ZZ-2", 1);
    let base = peer_answering(json!({"statement": other, "statements": [other]}));
    let (status, body) = pe.register_peer("ZZ", &base, Some(&zz.jwks("k1"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    pe.mra("ZZ", "in_force").await;

    let (answer, _) = pe.recognition("ZZ", "ZZ-1").await;
    assert_eq!(answer["recognized"], false, "{answer}");
    assert!(has_reason(&answer, "issuer_unreachable"), "{answer}");
    assert_ne!(answer["certificate"]["number"], "ZZ-2", "{answer}");
    eventually(Duration::from_secs(5), "PE's audit log shows the answer refused", async || {
        let audit = pe.audit().await;
        audit
            .iter()
            .find(|r| r["action"] == "federation.answer_refused" && r["target"] == "GET ZZ/certificates/ZZ-1")
            .filter(|r| r["details"]["failure"] == "answer_unverified")
            .map(|_| ())
            .ok_or_else(|| format!("{audit:?}"))
    })
    .await;
    // The certificate it does state is recognised.
    let (answer, _) = pe.recognition("ZZ", "ZZ-2").await;
    assert_eq!(answer["recognized"], true, "{answer}");
}
