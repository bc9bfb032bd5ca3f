//! When the database goes away: two servers share one PostgreSQL database, and the second
//! reaches it through a TCP proxy of the test's own, which the test cuts (it keeps the
//! connections open and stops forwarding, as a broken network does) and then mends. The shared
//! PostgreSQL itself is never stopped.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aeo_registry::federation::jose;
use aeo_registry::federation::keys::SigningKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Backend, Node};
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Forwards connections to PostgreSQL while open; while cut, holds every connection (old and
/// new) without passing a byte either way.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
}

impl Proxy {
    async fn to(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().expect("address").port();
        let cut = Arc::new(AtomicBool::new(false));
        let (target, flag) = (target.to_owned(), cut.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (target, flag) = (target.clone(), flag.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else { return };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(pump(client_read, server_write, flag.clone()), pump(server_read, client_write, flag));
                });
            }
        });
        Proxy { port, cut }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    fn mend(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Copies bytes from `from` to `to`, holding them back while `cut`.
async fn pump(mut from: tokio::net::tcp::OwnedReadHalf, mut to: tokio::net::tcp::OwnedWriteHalf, cut: Arc<AtomicBool>) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let Ok(n) = from.read(&mut buffer).await else { return };
        if n == 0 {
            return;
        }
        while cut.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

const CHECK: &str = "/api/v1/public/administrations/CL/certificates/CL-OEA-0001";
const ASK: &str = "/api/v1/administrations/PE/recognition?issuer=CL&certificate=CL-OEA-0001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_cut_off_from_the_database_never_answers_from_memory_as_if_current() {
    let first = Node::start_with(Backend::Postgres, true, |settings| settings.public_rate_limit = 100_000).await;
    let url = first.state.settings.database_url.clone();
    let address = url.split('@').nth(1).and_then(|rest| rest.split('/').next()).expect("host:port").to_owned();
    let proxy = Proxy::to(&address).await;
    let proxied = url.replacen(&address, &format!("127.0.0.1:{}", proxy.port), 1);
    let second = first
        .start_beside_with(|settings| {
            settings.database_url = proxied;
            settings.database_timeout = 2;
            settings.public_rate_limit = 100_000;
        })
        .await;
    let border = second.token("border@pe.demo.aeo").await;
    let officer = first.token("officer@cl.demo.aeo").await;
    let peer = TestPeer::register(&first).await;
    assert_eq!(second.get(CHECK, None).await.ok()["status"], "active");
    assert_eq!(second.get(ASK, Some(&border)).await.ok()["recognized"], true);
    // The statement a partner is served, kept in memory from here on.
    assert_eq!(peer.statement(&second).await.expect("a statement")["status"], "active");

    proxy.cut();
    let revoked = first
        .send(
            Method::POST,
            "/api/v1/administrations/CL/certificates/CL-OEA-0001/status",
            Some(&officer),
            Some(json!({"status": "revoked", "reason": "Fraude comprobado"})),
        )
        .await;
    revoked.ok();
    let revoked_at = Instant::now();

    // From now on the second server must not say "active" or "recognised" past the bound it
    // documents (3 s without hearing from the database, plus its one-second rounds), and it
    // must say so fast.
    let mut last_yes = None;
    let mut unavailable = 0;
    while revoked_at.elapsed() < Duration::from_secs(8) {
        let started = Instant::now();
        let check = second.get(CHECK, None).await;
        let answer = second.get(ASK, Some(&border)).await;
        assert!(started.elapsed() < Duration::from_millis(2500), "two answers took {:?}", started.elapsed());
        for reply in [&check, &answer] {
            if reply.status.as_u16() == 503 {
                reply.problem(503);
                assert!(reply.headers.get("retry-after").is_some(), "503 without Retry-After");
                unavailable += 1;
            }
        }
        if check.body["status"] == "active" || answer.body["recognized"] == true {
            last_yes = Some(revoked_at.elapsed());
        }
        // Timed apart: a statement may wait for the database's deadline before it is refused.
        let statement = peer.statement(&second).await;
        if statement.is_some_and(|claims| claims["status"] == "active") {
            last_yes = Some(revoked_at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(last_yes.is_none_or(|at| at < Duration::from_secs(4)), "said yes {last_yes:?} after the revocation");
    assert!(unavailable > 0, "the second server never said it could not answer");

    // Readiness says so within a second; a login fails fast rather than hanging.
    let started = Instant::now();
    second.get("/ready", None).await.problem(503);
    assert!(started.elapsed() < Duration::from_millis(1500), "/ready took {:?}", started.elapsed());
    let started = Instant::now();
    let login = second
        .send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "border@pe.demo.aeo", "password": common::DEMO_PASSWORD})),
        )
        .await;
    login.problem(503);
    assert!(started.elapsed() < Duration::from_secs(3), "login took {:?}", started.elapsed());

    // Mended: the second server answers again, with the revocation.
    proxy.mend();
    let started = Instant::now();
    loop {
        let check = second.get(CHECK, None).await;
        if check.status == 200 {
            assert_eq!(check.body["status"], "revoked", "{}", check.body);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "not back within 15 s: {}", check.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let answer = second.get(ASK, Some(&border)).await;
    assert_eq!(answer.ok()["recognized"], false, "{}", answer.body);
    assert_eq!(peer.statement(&second).await.expect("a statement")["status"], "revoked");
    second.get("/ready", None).await.ok();
}

const STATEMENT: &str = "/federation/v1/administrations/CL/certificates/CL-OEA-0001";

/// A partner administration ZX, registered at CL with an MRA in force, that asks for statements.
struct TestPeer {
    key: SigningKey,
}

impl TestPeer {
    async fn register(node: &Node) -> TestPeer {
        let (key, jwks) = SigningKey::ephemeral().expect("a key");
        let admin = node.token("admin@cl.demo.aeo").await;
        // Port 9 (discard): nothing ever listens there.
        let registration = json!({"base_url": "http://127.0.0.1:9", "jwks": jwks});
        let reply =
            node.send(Method::PUT, "/api/v1/administrations/CL/peers/ZX", Some(&admin), Some(registration)).await;
        assert_eq!(reply.status.as_u16(), 201, "register ZX: {}", reply.body);
        let record = json!({
            "title": "CL - ZX AEO MRA",
            "status": "in_force",
            "signed_on": "2018-07-21",
            "in_force_from": "2019-01-01",
            "categories": ["security", "full"],
            "roles": [],
        });
        let reply = node.send(Method::PUT, "/api/v1/administrations/CL/mras/ZX", Some(&admin), Some(record)).await;
        assert!(matches!(reply.status.as_u16(), 200 | 201), "MRA CL -> ZX: {}", reply.body);
        TestPeer { key }
    }

    /// The claims of the statement `node` serves of CL-OEA-0001, or None when it does not answer.
    async fn statement(&self, node: &Node) -> Option<serde_json::Value> {
        let assertion = jose::sign_assertion(&self.key, "ZX", "CL").expect("an assertion");
        let reply = node.get(STATEMENT, Some(&assertion)).await;
        if reply.status.as_u16() != 200 {
            return None;
        }
        let token = reply.body["statement"].as_str().expect("a statement").to_owned();
        let payload = token.split('.').nth(1).expect("a payload");
        Some(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("claims"))
    }
}

// ---------------------------------------------------------------------------------------------
// A full disk, on SQLite

/// A small filesystem of its own (tmpfs), unmounted when dropped. Mounting needs root, as CI and
/// this project's machines run; elsewhere the test says plainly that it did not run.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0700"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|status| status.success());
        if !mounted {
            assert!(std::env::var("CI").is_err(), "CI runs as root and must be able to mount a tmpfs");
            eprintln!("NOT RUN: mounting a tmpfs needs root (the full-disk test runs on CI)");
            return None;
        }
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Writes a file of `bytes` named `name`; false when the disk had no room for all of it.
    fn put(&self, name: &str, bytes: usize) -> bool {
        std::fs::write(self.path().join(name), vec![7u8; bytes]).is_ok()
    }

    /// Fills the disk to the last block, with files named `{prefix}-{n}`.
    fn fill(&self, prefix: &str) {
        let mut n = 0;
        for size in [1 << 20, 64 << 10, 4 << 10] {
            while self.put(&format!("{prefix}-{n}"), size) {
                n += 1;
            }
            n += 1;
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// A CSV import of `count` certificates numbered from `first`.
fn import_rows(first: usize, count: usize) -> Vec<u8> {
    let mut csv = String::from(
        "number,category,roles,valid_from,valid_until,operator_name,identifiers,street,city,postal_code,country,public\n",
    );
    for i in first..first + count {
        csv.push_str(&format!(
            "CL-X-{i:07},security,exporter;importer,2024-01-01,2030-01-01,Operador número {i} de nombre largo para ocupar espacio,\
             CL-TIN:X{i:07},Av. Providencia {i} oficina {},Santiago,7500000,CL,false\n",
            i % 100
        ));
    }
    csv.into_bytes()
}

async fn import(node: &Node, token: &str, first: usize, count: usize) -> common::Reply {
    node.send_raw(
        Method::POST,
        "/api/v1/administrations/CL/certificates/import",
        Some(token),
        "text/csv",
        import_rows(first, count),
        &[],
    )
    .await
}

async fn suspend(node: &Node, token: &str, number: &str, reason: &str) -> common::Reply {
    node.send(
        Method::POST,
        &format!("/api/v1/administrations/CL/certificates/{number}/status"),
        Some(token),
        Some(json!({"status": "suspended", "reason": reason})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_and_the_node_recovers_when_a_little_space_is_freed() {
    let Some(disk) = SmallDisk::mount(48) else { return };
    let database = disk.path().join("registry.db");
    let node = Node::start_with(Backend::Sqlite, true, |settings| {
        settings.database_url = format!("sqlite://{}?mode=rwc", database.display());
        settings.sqlite_reserve_mib = 8;
    })
    .await;
    let (reserve, log) = (disk.path().join("registry.db.reserve"), disk.path().join("registry.db-wal"));
    assert!(reserve.exists(), "a reserve is kept beside the database");
    let officer = node.token("officer@cl.demo.aeo").await;
    let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |meta| meta.len());

    // Room for an import's write-ahead log (about 4 MiB for 5 000 rows), but not for copying it
    // back into the database as well: the import commits, and then the disk is full.
    disk.fill("ballast");
    for n in 0..6 {
        std::fs::remove_file(disk.path().join(format!("ballast-{n}"))).expect("make room");
    }
    import(&node, &officer, 0, 5_000).await.ok();
    // The node gives up its reserve, copies the log back and truncates it, by itself.
    let started = Instant::now();
    while reserve.exists() || size(&log) > (1 << 20) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the write-ahead log is still {} bytes, the reserve {}",
            size(&log),
            if reserve.exists() { "kept" } else { "released" }
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    import(&node, &officer, 5_000, 1_000).await.ok();

    // Filled to the last block: writes are refused with 503 and Retry-After (never a 500), and
    // readiness says so within a second.
    disk.fill("more");
    let mut first = 6_000;
    let refused = loop {
        let reply = import(&node, &officer, first, 1_000).await;
        if reply.status.as_u16() != 200 {
            break reply;
        }
        first += 1_000;
        disk.fill(&format!("more-{first}"));
    };
    refused.problem(503);
    assert!(refused.headers.get("retry-after").is_some(), "{:?}", refused.headers);
    // Small writes may still fit where the refused import's log was; until they do not.
    let mut n = 0;
    loop {
        let status = if n % 2 == 0 { "suspended" } else { "active" };
        let body = json!({"status": status, "reason": format!("Ida y vuelta {n}")});
        let reply = node
            .send(
                Method::POST,
                "/api/v1/administrations/CL/certificates/CL-OEA-0002/status",
                Some(&officer),
                Some(body),
            )
            .await;
        if reply.status.as_u16() != 200 {
            reply.problem(503);
            break;
        }
        n += 1;
        assert!(n < 5_000, "small writes never filled the disk");
    }
    let started = Instant::now();
    let ready = node.get("/ready", None).await;
    assert!(started.elapsed() < Duration::from_millis(1500), "/ready took {:?}", started.elapsed());
    ready.problem(503);
    // Reads go on.
    node.get("/api/v1/public/administrations/CL/certificates/CL-OEA-0001", None).await.ok();

    // A modest amount freed (2 MiB of 48): writes are taken again within seconds.
    for n in 6..8 {
        std::fs::remove_file(disk.path().join(format!("ballast-{n}"))).expect("free a MiB");
    }
    let started = Instant::now();
    let mut n = 0;
    loop {
        let reply = suspend(&node, &officer, "CL-OEA-0001", &format!("Investigación {n}")).await;
        if reply.status.as_u16() == 200 {
            break;
        }
        n += 1;
        assert!(started.elapsed() < Duration::from_secs(10), "not recovered: {}", reply.body);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    node.get("/ready", None).await.ok();
}
