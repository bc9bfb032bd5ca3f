//! The real `aeo-registry` binary: help, migrate, serve (with and without the demo data), the
//! platform administrator's bootstrap, graceful shutdown and the precedence of settings. Each
//! test runs the binary in a temporary directory of its own, on SQLite.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_aeo-registry");
const DEMO_PASSWORD: &str = "demo-password-2026";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const SERVING: &str = "aeo-registry is serving on http://";

/// The binary, run in `dir`, with no `AEO_*` setting inherited from the test's environment.
fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command.args(args).current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AEO_") {
            command.env_remove(name);
        }
    }
    // What an operator sees by default: no backtraces requested by the test's environment.
    command.env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE");
    command.env("AEO_NODE_KEY_FILE", dir.join("node.key"));
    command.env("NO_COLOR", "1");
    command
}

/// A child process that is killed when the guard goes, even when the test panics.
struct Running {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// Every stdout line read so far.
    lines: Vec<String>,
}

impl Running {
    fn spawn(mut command: Command) -> Running {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start aeo-registry");
        let (out_tx, stdout) = channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if out_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (err_tx, stderr) = channel();
        let mut err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            let _ = err_tx.send(text);
        });
        Running { child, stdout, stderr, lines: Vec::new() }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads stdout until a line contains `needle`; returns that line.
    fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    self.lines.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no line with {needle:?} in time; stdout so far:\n{}", self.output())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    let stderr = self.stderr.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
                    panic!(
                        "exited ({status:?}) before printing {needle:?}; stdout:\n{}\nstderr:\n{stderr}",
                        self.output()
                    )
                }
            }
        }
    }

    /// Waits for the serving line and returns the base URL it names.
    fn wait_until_serving(&mut self) -> String {
        let line = self.wait_for_line(SERVING);
        let rest = &line[line.find(SERVING).expect("serving") + SERVING.len()..];
        let address = rest.split_whitespace().next().expect("address");
        format!("http://{address}")
    }

    fn output(&self) -> String {
        self.lines.join("\n")
    }

    /// SIGTERM, then the exit status (panics when it does not stop within `limit`).
    fn terminate(&mut self, limit: Duration) -> ExitStatus {
        let sent = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        self.wait_exit(limit)
    }

    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // Collect what is left of stdout.
                while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(2)) {
                    self.lines.push(line);
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "aeo-registry did not exit within {limit:?}; stdout:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stderr_text(&self) -> String {
        self.stderr.recv_timeout(Duration::from_secs(5)).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Runs a command that is expected to end by itself: (status, stdout, stderr).
fn run_to_exit(command: Command) -> (ExitStatus, String, String) {
    let mut running = Running::spawn(command);
    let status = running.wait_exit(Duration::from_secs(60));
    let stderr = running.stderr_text();
    (status, running.output(), stderr)
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client")
}

async fn login(base: &str, email: &str, password: &str) -> Result<String, reqwest::StatusCode> {
    let response = client()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login request");
    if !response.status().is_success() {
        return Err(response.status());
    }
    let body: Value = response.json().await.expect("login body");
    Ok(body["access_token"].as_str().expect("access_token").to_owned())
}

async fn get_json(base: &str, path: &str, token: &str) -> Value {
    let response = client().get(format!("{base}{path}")).bearer_auth(token).send().await.expect("request");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.expect("json")
}

#[test]
fn help_lists_the_commands_and_flags() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (status, stdout, stderr) = run_to_exit(command(dir.path(), &["--help"]));
    assert!(status.success(), "{stderr}");
    for word in ["serve", "migrate", "admin"] {
        assert!(stdout.contains(word), "--help lacks {word}:\n{stdout}");
    }
    let (status, stdout, stderr) = run_to_exit(command(dir.path(), &["serve", "--help"]));
    assert!(status.success(), "{stderr}");
    for flag in ["--bind", "--database-url", "--public-url", "--config", "--demo"] {
        assert!(stdout.contains(flag), "serve --help lacks {flag}:\n{stdout}");
    }
    let (status, stdout, stderr) = run_to_exit(command(dir.path(), &["migrate", "--help"]));
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("--database-url"), "{stdout}");
    // Nothing was created by asking for help.
    assert!(!dir.path().join("data").exists());
}

#[test]
fn an_unknown_command_fails() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (status, _, stderr) = run_to_exit(command(dir.path(), &["frobnicate"]));
    assert!(!status.success());
    assert!(stderr.contains("frobnicate"), "{stderr}");
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("nested").join("x.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let (status, stdout, stderr) = run_to_exit(command(dir.path(), &["migrate", "--database-url", &url]));
    assert!(status.success(), "migrate failed:\n{stdout}\n{stderr}");
    assert!(file.exists(), "no database at {}", file.display());
    assert!(stdout.contains("migrations applied"), "{stdout}");
    // Again, on the migrated database: nothing to do, still fine.
    let (status, _, stderr) = run_to_exit(command(dir.path(), &["migrate", "--database-url", &url]));
    assert!(status.success(), "second migrate failed: {stderr}");
    // The default database is untouched.
    assert!(!dir.path().join("data").join("aeo-registry.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_then_stop_and_start_again() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");

    let mut server = Running::spawn(command(dir.path(), &["serve", "--demo", "--bind", &bind]));
    let base = server.wait_until_serving();
    assert_eq!(base, format!("http://{bind}"));
    let printed = server.output();
    assert!(dir.path().join("data").join("aeo-registry.db").exists(), "the default database was not created");
    for account in [
        "admin@pe.demo.aeo",
        "officer@pe.demo.aeo",
        "border@pe.demo.aeo",
        "auditor@pe.demo.aeo",
        "admin@cl.demo.aeo",
        "border@mx.demo.aeo",
    ] {
        assert!(printed.contains(account), "{account} not printed:\n{printed}");
    }
    assert!(printed.contains(DEMO_PASSWORD), "{printed}");
    assert!(printed.contains("120 certificates"), "{printed}");
    assert!(printed.contains(&format!("{base}/api/docs")), "{printed}");

    login(&base, "border@pe.demo.aeo", DEMO_PASSWORD).await.expect("the demo border officer logs in");
    let health = client().get(format!("{base}/health")).send().await.expect("health");
    assert_eq!(health.status(), 200);

    let started = Instant::now();
    let status = server.terminate(Duration::from_secs(15));
    assert!(status.success(), "SIGTERM should end cleanly: {status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(client().get(format!("{base}/health")).send().await.is_err(), "still answering after shutdown");
    drop(server);

    // Again on the same directory: the demo data is already there.
    let mut again = Running::spawn(command(dir.path(), &["serve", "--demo", "--bind", &bind]));
    let base = again.wait_until_serving();
    let printed = again.output();
    assert!(
        printed.contains("0 administrations, 0 certificates, 0 MRA records added"),
        "the second start added certificates:\n{printed}"
    );
    assert!(!printed.contains("120 certificates"), "{printed}");
    let mut total = 0;
    for code in ["CL", "CO", "MX", "PE"] {
        let email = format!("admin@{}.demo.aeo", code.to_lowercase());
        let token = login(&base, &email, DEMO_PASSWORD).await.expect("demo admin");
        let page = get_json(&base, &format!("/api/v1/administrations/{code}/certificates?limit=500"), &token).await;
        let count = page["items"].as_array().expect("items").len();
        assert_eq!(count, 30, "{code} has {count} certificates");
        assert!(page["next_cursor"].is_null());
        total += count;
    }
    assert_eq!(total, 120);
    let status = again.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admin_from_the_environment() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut command = command(dir.path(), &["serve", "--bind", "127.0.0.1:0"]);
    command.env("AEO_ADMIN_EMAIL", "Root@Example.org").env("AEO_ADMIN_PASSWORD", "correct-horse-battery");
    let mut server = Running::spawn(command);
    let base = server.wait_until_serving();
    let printed = server.output();
    assert!(!printed.contains("correct-horse-battery"), "the given password was printed:\n{printed}");
    let token =
        login(&base, "root@example.org", "correct-horse-battery").await.expect("the configured administrator logs in");
    let me = get_json(&base, "/api/v1/me", &token).await;
    assert_eq!(me["role"], "platform_admin", "{me}");
    assert_eq!(me["email"], "root@example.org", "{me}");
    assert!(me["administration"].is_null());
    assert_eq!(login(&base, "admin@localhost", "correct-horse-battery").await, Err(reqwest::StatusCode::UNAUTHORIZED));
    let status = server.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_password_is_printed_once() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut server = Running::spawn(command(dir.path(), &["serve", "--bind", "127.0.0.1:0"]));
    let line = server.wait_for_line("with the password ");
    let base = server.wait_until_serving();
    let rest = &line[line.find("Created the platform administrator ").expect("created line")
        + "Created the platform administrator ".len()..];
    let (email, password) = rest.split_once(" with the password ").expect("email and password");
    let password = password.trim();
    assert_eq!(email, "admin@localhost");
    assert!(password.len() >= 12, "weak generated password {password:?}");
    let token = login(&base, email, password).await.expect("the generated password works");
    let me = get_json(&base, "/api/v1/me", &token).await;
    assert_eq!(me["role"], "platform_admin", "{me}");
    let status = server.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");

    // A second start keeps the administrator and prints no password.
    let mut again = Running::spawn(command(dir.path(), &["serve", "--bind", "127.0.0.1:0"]));
    let base = again.wait_until_serving();
    let printed = again.output();
    assert!(!printed.contains(password), "{printed}");
    assert!(!printed.contains("password"), "{printed}");
    login(&base, email, password).await.expect("still the same password");
    let status = again.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
}

/// The platform administrator's e-mail and password from the line a start or a reset printed.
fn printed_credentials(line: &str, done: &str) -> (String, String) {
    let rest = &line[line.find(done).expect("the announcement") + done.len() + 1..];
    let (email, password) = rest.split_once(" with the password ").expect("email and password");
    (email.to_owned(), password.trim().to_owned())
}

#[tokio::test]
async fn a_start_that_cannot_listen_creates_nothing_and_the_next_start_prints_the_password() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let (status, stdout, stderr) = run_to_exit(command(dir.path(), &["serve", "--bind", &address]));
    assert!(!status.success(), "{stdout}");
    assert!(stderr.contains(&format!("cannot listen on {address}")), "{stderr}");
    assert!(!stdout.contains("password"), "a start that fails uses up no password: {stdout}");
    drop(taken);

    let mut server = Running::spawn(command(dir.path(), &["serve", "--bind", "127.0.0.1:0"]));
    let line = server.wait_for_line("with the password ");
    let base = server.wait_until_serving();
    let (email, password) = printed_credentials(&line, "Created the platform administrator");
    login(&base, &email, &password).await.expect("the password printed by the first start that served");
    let status = server.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn the_platform_administrators_lost_password_is_reset_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut server = Running::spawn(command(dir.path(), &["serve", "--bind", "127.0.0.1:0"]));
    let line = server.wait_for_line("with the password ");
    let base = server.wait_until_serving();
    let (email, first) = printed_credentials(&line, "Created the platform administrator");
    let old_token = login(&base, &email, &first).await.expect("first password");
    assert!(server.terminate(Duration::from_secs(15)).success());

    // Generated and printed once.
    let (status, stdout, stderr) = run_to_exit(command(dir.path(), &["admin", "reset-password"]));
    assert!(status.success(), "{stderr}");
    let (reset_email, second) = printed_credentials(&stdout, "Set a new password for the platform administrator");
    assert_eq!(reset_email, email);
    assert_ne!(second, first);
    // Chosen through the environment: nothing secret is printed.
    let mut chosen = command(dir.path(), &["admin", "reset-password", "--email", "ADMIN@localhost"]);
    chosen.env("AEO_ADMIN_PASSWORD", "chosen-password-2026");
    let (status, stdout, stderr) = run_to_exit(chosen);
    assert!(status.success(), "{stderr}");
    assert!(!stdout.contains("chosen-password-2026") && !stdout.contains("with the password"), "{stdout}");
    // Only a platform administrator's, and a clear message otherwise.
    let (status, _, stderr) =
        run_to_exit(command(dir.path(), &["admin", "reset-password", "--email", "nobody@localhost"]));
    assert!(!status.success());
    assert!(stderr.contains("there is no platform administrator nobody@localhost"), "{stderr}");

    let mut server = Running::spawn(command(dir.path(), &["serve", "--bind", "127.0.0.1:0"]));
    let base = server.wait_until_serving();
    assert_eq!(login(&base, &email, &first).await, Err(reqwest::StatusCode::UNAUTHORIZED));
    assert_eq!(login(&base, &email, &second).await, Err(reqwest::StatusCode::UNAUTHORIZED));
    let token = login(&base, &email, "chosen-password-2026").await.expect("the chosen password");
    assert_eq!(get_json(&base, "/api/v1/me", &token).await["role"], "platform_admin");
    let old = client().get(format!("{base}/api/v1/me")).bearer_auth(&old_token).send().await.expect("request");
    assert_eq!(old.status(), reqwest::StatusCode::UNAUTHORIZED, "a token from before the reset is dead");
    assert!(server.terminate(Duration::from_secs(15)).success());
}

/// A node stopped the moment it says it is serving shuts down cleanly: the signal handlers are
/// in place before that line (they were once installed only by the first wait, and a SIGTERM in
/// between killed the process on the spot, exit by signal 15).
#[test]
fn a_node_stopped_as_soon_as_it_serves_shuts_down_cleanly() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for round in 0..5 {
        let mut server = Running::spawn(command(dir.path(), &["serve", "--bind", "127.0.0.1:0"]));
        server.wait_until_serving();
        let status = server.terminate(Duration::from_secs(15));
        assert!(status.success(), "round {round}: {status:?}");
    }
}

/// The address a `serve` started with `command` actually listens on.
async fn listening_address(command: Command) -> String {
    let mut server = Running::spawn(command);
    let base = server.wait_until_serving();
    let health = client().get(format!("{base}/health")).send().await.expect("health at the printed address");
    assert_eq!(health.status(), 200);
    let status = server.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
    base.trim_start_matches("http://").to_owned()
}

fn ip_of(address: &str) -> &str {
    address.rsplit_once(':').map_or(address, |(ip, _)| ip)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_beats_environment_beats_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // Distinct loopback addresses tell the three sources apart without racing for ports.
    let file = dir.path().join("settings.toml");
    std::fs::write(&file, "bind = \"127.0.0.2:0\"\nstatement_ttl = 120\n").expect("write file");
    let config = file.to_str().expect("path");

    let from_file = listening_address(command(dir.path(), &["serve", "--config", config])).await;
    assert_eq!(ip_of(&from_file), "127.0.0.2", "{from_file}");

    let mut with_env = command(dir.path(), &["serve", "--config", config]);
    with_env.env("AEO_BIND", "127.0.0.3:0");
    let from_env = listening_address(with_env).await;
    assert_eq!(ip_of(&from_env), "127.0.0.3", "{from_env}");

    let mut with_flag = command(dir.path(), &["serve", "--config", config, "--bind", "127.0.0.4:0"]);
    with_flag.env("AEO_BIND", "127.0.0.3:0");
    let from_flag = listening_address(with_flag).await;
    assert_eq!(ip_of(&from_flag), "127.0.0.4", "{from_flag}");

    // The file may also be named by AEO_CONFIG.
    let mut by_env = command(dir.path(), &["serve"]);
    by_env.env("AEO_CONFIG", config);
    let named = listening_address(by_env).await;
    assert_eq!(ip_of(&named), "127.0.0.2", "{named}");

    // config/default.toml in the working directory is read when present.
    std::fs::create_dir_all(dir.path().join("config")).expect("config dir");
    std::fs::write(dir.path().join("config").join("default.toml"), "bind = \"127.0.0.5:0\"\n").expect("write default");
    let default = listening_address(command(dir.path(), &["serve"])).await;
    assert_eq!(ip_of(&default), "127.0.0.5", "{default}");
}

/// An error for a person: one `Error:` message, no backtrace or panic.
#[track_caller]
fn assert_clear(stderr: &str) {
    assert!(stderr.starts_with("Error: "), "{stderr}");
    for word in ["backtrace", "panicked", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(word), "stderr shows {word:?}:\n{stderr}");
    }
}

#[test]
fn invalid_settings_stop_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "bind = \n").expect("write");
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(&unknown, "colour = \"blue\"\n").expect("write");
    let wrong_type = dir.path().join("wrong.toml");
    std::fs::write(&wrong_type, "statement_ttl = \"soon\"\n").expect("write");
    let missing = dir.path().join("missing.toml");

    let cases = [
        (broken.clone(), vec!["broken.toml"]),
        (unknown.clone(), vec!["unknown.toml", "colour"]),
        (wrong_type.clone(), vec!["wrong.toml", "statement_ttl"]),
        (missing.clone(), vec!["missing.toml"]),
    ];
    for (file, words) in cases {
        let path = file.to_str().expect("path");
        let (status, stdout, stderr) =
            run_to_exit(command(dir.path(), &["serve", "--config", path, "--bind", "127.0.0.1:0"]));
        assert!(!status.success(), "{path} was accepted:\n{stdout}");
        assert!(!stdout.contains(SERVING), "{path}: served anyway");
        for word in &words {
            assert!(stderr.contains(word), "{path}: stderr lacks {word:?}:\n{stderr}");
        }
        assert_clear(&stderr);
    }

    for (name, value) in [("AEO_STATEMENT_TTL", "abc"), ("AEO_MAX_STALENESS", "-1"), ("AEO_TOKEN_TTL", "ten")] {
        let mut bad = command(dir.path(), &["serve", "--bind", "127.0.0.1:0"]);
        bad.env(name, value);
        let (status, stdout, stderr) = run_to_exit(bad);
        assert!(!status.success(), "{name}={value} was accepted:\n{stdout}");
        assert!(!stdout.contains(SERVING), "{name}: served anyway");
        assert!(stderr.contains(name), "stderr does not name {name}:\n{stderr}");
        assert_clear(&stderr);
    }
    // Nothing was started: no database was made along the way.
    assert!(!dir.path().join("data").join("aeo-registry.db").exists());
}

/// The peak resident memory of a process so far, in KiB.
fn peak_memory_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmHWM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_sign_ins_queues_for_hashing_slots_instead_of_taking_the_memory() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut server = Running::spawn(command(dir.path(), &["serve", "--bind", "127.0.0.1:0"]));
    let base = server.wait_until_serving();
    let _ = login(&base, "nobody@example.org", "a-wrong-password").await;
    let before = peak_memory_kib(server.pid());
    // 120 sign-ins at once, each from an address of its own, so that no throttle holds any back:
    // every one reaches the password check.
    let attempts = (0..120u8).map(|i| {
        let base = base.clone();
        async move {
            let client = reqwest::Client::builder()
                .local_address(std::net::IpAddr::from([127, 0, 1, i + 1]))
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client");
            let response = client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"email": format!("nobody-{i}@example.org"), "password": "a-wrong-password"}))
                .send()
                .await
                .expect("login request");
            let retry_after = response.headers().get("retry-after").is_some();
            (response.status().as_u16(), retry_after)
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let grown_mib = (peak_memory_kib(server.pid()).saturating_sub(before)) / 1024;
    assert!(answers.iter().all(|(status, _)| *status == 401 || *status == 503), "{answers:?}");
    assert!(answers.iter().filter(|(status, _)| *status == 503).all(|(_, retry)| *retry), "503 without Retry-After");
    // Each argon2id hash holds 19 MiB: all at once would be over 2 GiB.
    assert!(grown_mib < 120, "peak memory grew by {grown_mib} MiB");
    let status = server.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
}

/// The binary with at most `files` open files, as a node whose operator left the limit low.
fn with_open_files_limit(mut command: Command, files: u64) -> Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: only setrlimit, which is async-signal-safe, runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: files, rlim_max: files };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_finish_their_request_cannot_take_the_node_from_everyone() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut command = command(dir.path(), &["serve", "--bind", "127.0.0.1:0"]);
    command.env("AEO_HEADER_READ_TIMEOUT", "2");
    let mut server = Running::spawn(with_open_files_limit(command, 256));
    let base = server.wait_until_serving();
    let address = base.trim_start_matches("http://").to_owned();
    // 400 connections, each with half a request head, never finished.
    let mut idle = Vec::new();
    for _ in 0..400 {
        let Ok(mut socket) = tokio::net::TcpStream::connect(&address).await else { continue };
        let _ = socket.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n").await;
        idle.push(socket);
    }
    assert!(idle.len() > 300, "only {} connections were accepted", idle.len());
    // Another client is answered at once: one client may hold a quarter of the connections only,
    // and the process never runs out of file descriptors.
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 9]))
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let health = elsewhere.get(format!("{base}/health")).send().await.expect("answered");
    assert_eq!(health.status(), 200);
    // The same client too, once the idle ones are closed at the head deadline.
    let started = Instant::now();
    let served = loop {
        match client().get(format!("{base}/health")).timeout(Duration::from_secs(2)).send().await {
            Ok(response) if response.status() == 200 => break started.elapsed(),
            Ok(response) => assert_eq!(response.status(), 503, "over the cap: 503 at once"),
            Err(_) => {}
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no answer for 10 s:\n{}", server.stderr_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(served < Duration::from_secs(6), "answered only after {served:?}");
    // Every idle connection has been closed by the node (answered 503, or closed at the deadline).
    for mut socket in idle {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "an idle connection is still open");
    }
    let status = server.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_its_journal_and_the_node_key_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temporary directory");
    // A permissive umask, as on many servers: the modes must not depend on it.
    let mut command = command(dir.path(), &["serve", "--demo", "--bind", "127.0.0.1:0"]);
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: only umask, which is async-signal-safe, runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::umask(0o022);
                Ok(())
            });
        }
    }
    let mut server = Running::spawn(command);
    let base = server.wait_until_serving();
    login(&base, "border@pe.demo.aeo", DEMO_PASSWORD).await.expect("a write-ahead log exists by now");
    let data = dir.path().join("data");
    let mode = |path: &Path| std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode(&data).ok(), Some(0o700), "the data directory");
    for file in ["aeo-registry.db", "aeo-registry.db-wal", "aeo-registry.db-shm"] {
        assert_eq!(mode(&data.join(file)).ok(), Some(0o600), "{file}");
    }
    // (These tests keep the node key beside the data directory: AEO_NODE_KEY_FILE.)
    assert_eq!(mode(&dir.path().join("node.key")).ok(), Some(0o600), "node.key");
    let status = server.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_database_file_readable_by_others_is_made_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("old.db");
    std::fs::write(&file, b"").expect("an old, empty database file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let (status, stdout, stderr) = run_to_exit(command(dir.path(), &["migrate", "--database-url", &url]));
    assert!(status.success(), "{stderr}");
    let mode = std::fs::metadata(&file).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{stderr}");
    assert!(stdout.contains("made owner-only"), "said in the log: {stdout}");
}
