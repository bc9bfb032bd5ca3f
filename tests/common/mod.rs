//! Test harness: a real registry node on a real database (a fresh SQLite file or a fresh
//! PostgreSQL database), serving real HTTP on a loopback port, with the demo data loaded.
//! `both_backends!` runs each test against SQLite and PostgreSQL.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use aeo_registry::{AppState, Settings};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;

pub use aeo_registry::demo::DEMO_PASSWORD;
pub const PLATFORM_EMAIL: &str = "platform@test.aeo";
pub const PLATFORM_PASSWORD: &str = "platform-password-2026";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn name(backend: Backend)` as two tests: `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::common::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::common::Backend::Postgres).await }
            )*
        }
    };
}

/// Where PostgreSQL test databases are created; a maintenance connection, never written to.
pub fn postgres_admin_url() -> String {
    std::env::var("AEO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The same server with another database name (the URL's path), keeping any query.
fn with_database(url: &str, database: &str) -> String {
    let (address, query) = url.split_once('?').map_or((url, ""), |(a, q)| (a, q));
    let server = address.rsplit_once('/').map_or(address, |(server, _)| server);
    if query.is_empty() { format!("{server}/{database}") } else { format!("{server}/{database}?{query}") }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Settings of a test node: the defaults, with peers allowed on loopback, where every test's
/// nodes are (as in the README's one-machine federation), and no disk reserve (the test of the
/// full disk asks for one).
fn test_settings(database_url: &str, node_key_file: std::path::PathBuf) -> Settings {
    let mut settings = Settings::for_database(database_url, node_key_file);
    settings.federation_allow_private = true;
    settings.sqlite_reserve_mib = 0;
    settings
}

pub struct Node {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub backend: Backend,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    postgres_database: Option<String>,
    _dir: tempfile::TempDir,
}

impl Node {
    /// A node with the demo data and a platform administrator.
    pub async fn start(backend: Backend) -> Node {
        Self::start_with(backend, true, |_| {}).await
    }

    /// A node with only the platform administrator.
    pub async fn start_empty(backend: Backend) -> Node {
        Self::start_with(backend, false, |_| {}).await
    }

    pub async fn start_with(backend: Backend, demo: bool, configure: impl FnOnce(&mut Settings)) -> Node {
        // The server's own log, shown for a failing test when RUST_LOG asks for it.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("temporary directory");
        let (url, postgres_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}?mode=rwc", dir.path().join("registry.db").display()), None),
            Backend::Postgres => {
                let name = format!(
                    "aeo_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    uuid::Uuid::new_v4().simple().to_string().get(..8).unwrap_or("x")
                );
                let admin = Database::connect(postgres_admin_url()).await.unwrap_or_else(|error| {
                    panic!(
                        "PostgreSQL is required for the PostgreSQL half of the tests and is not reachable at {} ({error}). \
                         Start it (see README) or set AEO_TEST_POSTGRES_URL.",
                        postgres_admin_url()
                    )
                });
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
                admin.close().await.ok();
                (with_database(&postgres_admin_url(), &name), Some(name))
            }
        };
        let mut settings = test_settings(&url, dir.path().join("node.key"));
        configure(&mut settings);
        Self::launch(settings, backend, demo, dir, postgres_database).await
    }

    /// A second server on this node's database (and node key), as a second process of the same
    /// deployment would be; it leaves the database to this node.
    pub async fn start_beside(&self) -> Node {
        self.start_beside_with(|_| {}).await
    }

    /// The same, with settings of its own.
    pub async fn start_beside_with(&self, configure: impl FnOnce(&mut Settings)) -> Node {
        let key = self._dir.path().join("node.key");
        let mut settings = test_settings(&self.state.settings.database_url, key);
        configure(&mut settings);
        let dir = tempfile::tempdir().expect("temporary directory");
        Self::launch(settings, self.backend, false, dir, None).await
    }

    async fn launch(
        mut settings: Settings,
        backend: Backend,
        demo: bool,
        dir: tempfile::TempDir,
        postgres_database: Option<String>,
    ) -> Node {
        settings.admin_email = Some(PLATFORM_EMAIL.into());
        settings.admin_password = Some(PLATFORM_PASSWORD.into());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        settings.public_url = format!("http://{address}");
        let state = aeo_registry::start(settings).await.expect("start node");
        aeo_registry::bootstrap::platform_admin(&state).await.expect("platform administrator");
        if demo {
            aeo_registry::demo::load(&state).await.expect("demo data");
        }
        let (shutdown, on_shutdown) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let server = tokio::spawn(async move {
            aeo_registry::serve(listener, served, async {
                let _ = on_shutdown.await;
            })
            .await
            .expect("serve");
        });
        Node {
            base: format!("http://{address}"),
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
            state,
            backend,
            shutdown: Some(shutdown),
            server: Some(server),
            postgres_database,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in and returns the access token (demo accounts share one password).
    pub async fn token(&self, email: &str) -> String {
        let password = if email == PLATFORM_EMAIL { PLATFORM_PASSWORD } else { DEMO_PASSWORD };
        self.login(email, password).await
    }

    /// Signs in on the `/login` page, as a browser does, and returns the session cookie's value.
    pub async fn session(&self, email: &str) -> String {
        let password = if email == PLATFORM_EMAIL { PLATFORM_PASSWORD } else { DEMO_PASSWORD };
        let form = serde_urlencoded::to_string([("email", email), ("password", password)]).expect("form");
        let reply = self
            .send_raw(Method::POST, "/login", None, "application/x-www-form-urlencoded", form.into_bytes(), &[])
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "sign-in of {email}: {}", reply.body);
        let cookie = reply.headers.get("set-cookie").and_then(|v| v.to_str().ok()).expect("set-cookie");
        let value = cookie.split(';').next().and_then(|pair| pair.strip_prefix("aeo_session=")).expect("aeo_session");
        value.to_owned()
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let reply = self
            .send(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(serde_json::json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "login of {email}: {}", reply.body);
        reply.body["access_token"].as_str().expect("access_token").to_owned()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None).await
    }

    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        match body {
            Some(body) => {
                self.send_raw(method, path, token, "application/json", body.to_string().into_bytes(), &[]).await
            }
            None => self.send_raw(method, path, token, "", Vec::new(), &[]).await,
        }
    }

    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if !content_type.is_empty() {
            request = request.header("content-type", content_type).body(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send().await.expect("request")).await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(name) = self.postgres_database.take() {
            // Drop runs inside the test's runtime; a thread of its own can block on cleanup.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async move {
                    if let Ok(admin) = Database::connect(postgres_admin_url()).await {
                        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// A response: status, headers and the body as JSON (or as a JSON string when it is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Reply { status, headers, body }
    }

    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// Asserts an RFC 9457 problem with this status and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "expected {status}, got {}: {}", self.status, self.body);
        assert_eq!(self.content_type(), "application/problem+json", "problem content type: {}", self.body);
        for key in ["type", "title", "status", "detail"] {
            assert!(self.body.get(key).is_some(), "problem lacks {key}: {}", self.body);
        }
        assert_eq!(self.body["status"], status);
        &self.body
    }

    /// The `field` of every error in a problem.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(self.status.is_success(), "expected success, got {}: {}", self.status, self.body);
        &self.body
    }
}
