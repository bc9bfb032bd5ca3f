//! The pages in a real browser: Debian's headless Chromium, driven over WebDriver
//! (`chromedriver`), against a real node. Each step saves a screenshot (desk and phone, Spanish
//! and English) in `target/screenshots`, or where `AEO_SCREENSHOTS` points (the README's come
//! from `AEO_SCREENSHOTS=docs/screenshots`). axe-core, from the npm registry, checks every page
//! for accessibility. Without Chromium the test fails under `CI=true` and says it did not run
//! otherwise.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Backend, Node};
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::Method;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A browser session, and the driver serving it (stopped on drop).
struct Browser {
    client: Client,
    driver: Child,
    driver_url: String,
    session: String,
    shots: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Chromium and its driver, or `None` (said loudly) where they are not installed and this is
/// not CI.
async fn browser() -> Option<Browser> {
    if !std::path::Path::new(CHROMIUM).exists() || !std::path::Path::new(CHROMEDRIVER).exists() {
        let missing = "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)";
        assert!(std::env::var("CI").is_err(), "{missing}");
        eprintln!("NOT RUN: the browser tests: {missing}");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver_url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{driver_url}/status")).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"],
            // A browser in Chile: the pages answer in Spanish until told otherwise.
            "prefs": {"intl.accept_languages": "es-CL,es"},
        }),
    );
    capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver_url)
        .await
        .expect("a browser session");
    let session = client.session_id().await.expect("session").expect("session id");
    let shots = std::env::var("AEO_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("screenshots"));
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    Some(Browser { client, driver, driver_url, session, shots })
}

impl Browser {
    async fn go(&self, url: &str) {
        self.client.goto(url).await.expect("page loads");
    }

    async fn text(&self, css: &str) -> String {
        self.client.find(Locator::Css(css)).await.expect(css).text().await.expect("text")
    }

    async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        self.client.find(Locator::Css(css)).await.expect(css).attr(name).await.expect("attribute")
    }

    async fn fill(&self, css: &str, value: &str) {
        let field = self.client.find(Locator::Css(css)).await.expect(css);
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    /// Clicks `css` and waits until the page it was on has gone.
    async fn submit(&self, css: &str) {
        let old = self.client.find(Locator::Css("html")).await.expect("page");
        self.client.find(Locator::Css(css)).await.expect(css).click().await.expect("submit");
        let deadline = Instant::now() + Duration::from_secs(10);
        while old.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "clicking {css} led nowhere");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.client.wait().for_element(Locator::Css("main")).await.expect("next page");
    }

    /// Signs in as `email` on the sign-in page and lands where `/` sends that user.
    async fn sign_in(&self, base: &str, email: &str) {
        self.go(&format!("{base}/login")).await;
        self.fill("#email", email).await;
        self.fill("#password", common::DEMO_PASSWORD).await;
        self.submit("form.stack button[type=submit]").await;
    }

    async fn sign_out(&self) {
        self.submit(".bar form button[type=submit]").await;
    }

    async fn path(&self) -> String {
        self.client.current_url().await.expect("url").path().to_owned()
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("screenshot saved");
    }

    async fn phone(&self) {
        self.client.set_window_size(360, 780).await.expect("phone size");
    }

    async fn desk(&self) {
        self.client.set_window_size(1280, 900).await.expect("desk size");
    }

    /// What the page logged since the last call that is an error: a script error, a failed
    /// load, a violation of the page's policy.
    async fn console_errors(&self) -> Vec<String> {
        let url = format!("{}/session/{}/se/log", self.driver_url, self.session);
        let log: Value = reqwest::Client::new()
            .post(url)
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .expect("browser log")
            .json()
            .await
            .expect("log");
        log["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            // A form sent back with its errors is answered 422 on purpose; Chromium logs any
            // answer of 400 or more as a failed load.
            .filter(|entry| !entry["message"].as_str().unwrap_or_default().contains("with a status of 422"))
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The accessibility violations axe-core finds on the page that are serious or critical.
    async fn serious_violations(&self, axe: &str) -> Vec<String> {
        self.client.execute(axe, Vec::new()).await.expect("axe-core loads");
        let run = "const done = arguments[arguments.length - 1];\
            axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})\
              .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.html)}))))\
              .catch(e => done([{id: 'axe failed', impact: 'critical', nodes: [String(e)]}]));";
        let violations = self.client.execute_async(run, Vec::new()).await.expect("axe runs");
        violations
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
            .map(|v| v.to_string())
            .collect()
    }
}

/// axe-core's script, fetched from the npm registry into `target/` once. The tests of this file
/// run in parallel threads: one fetches while the others wait (two npm installs into one folder
/// race, and one of them reads a file the other is still moving).
fn axe_core() -> String {
    static SCRIPT: OnceLock<String> = OnceLock::new();
    SCRIPT
        .get_or_init(|| {
            let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("axe-core");
            let script = folder.join("node_modules/axe-core/axe.min.js");
            if !script.exists() {
                let status = Command::new("npm")
                    .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
                    .arg(&folder)
                    .arg("axe-core@4")
                    .status()
                    .expect("npm (the npm registry's axe-core checks the pages)");
                assert!(status.success(), "npm install axe-core failed");
            }
            std::fs::read_to_string(&script).unwrap_or_else(|e| panic!("{}: {e}", script.display()))
        })
        .clone()
}

/// A page of another site that posts a form to `target` as soon as it loads, as a hostile
/// page would: served on a loopback port of its own (another origin).
async fn hostile_site(target: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).await;
            let body = format!(
                "<!doctype html><html lang=\"en\"><body><form id=\"f\" method=\"post\" action=\"{target}\">\
                 <input name=\"csrf_token\" value=\"guessed\"></form>\
                 <script>document.getElementById('f').submit()</script></body></html>"
            );
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
        }
    });
    format!("http://{address}/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_border_officer_signs_in_asks_by_number_and_by_identifier_and_reads_the_verdict() {
    let Some(browser) = browser().await else { return };
    let axe = axe_core();
    let node = Node::start(Backend::Sqlite).await;
    let base = node.url("");

    // Signing in, from the border page itself.
    browser.go(&format!("{base}/border")).await;
    assert!(browser.client.current_url().await.expect("url").path().ends_with("/login"));
    assert_eq!(browser.attribute("html", "lang").await.as_deref(), Some("es"));
    assert_eq!(browser.serious_violations(&axe).await, Vec::<String>::new(), "the sign-in page");
    browser.screenshot("login-desk-es").await;
    browser.fill("#email", "border@pe.demo.aeo").await;
    browser.fill("#password", common::DEMO_PASSWORD).await;
    browser.submit("form.stack button[type=submit]").await;
    assert_eq!(browser.client.current_url().await.expect("url").path(), "/border");

    // By number, typed as people type it.
    browser.client.find(Locator::Css("#issuer option[value=CL]")).await.expect("CL").click().await.expect("choose");
    browser.fill("#q", "cl-oea-0001").await;
    browser.submit("form.ask button[type=submit]").await;
    assert_eq!(browser.attribute("[data-verdict]", "data-verdict").await.as_deref(), Some("recognized"));
    assert!(browser.text("[data-verdict]").await.contains("RECONOCIDO"));
    let url = browser.client.current_url().await.expect("url");
    assert_eq!(url.query(), Some("issuer=CL&q=cl-oea-0001"), "the verdict has a URL");
    assert_eq!(browser.serious_violations(&axe).await, Vec::<String>::new(), "the verdict");
    browser.screenshot("border-desk-es").await;

    // By the operator's tax number, with dots and a space, the issuer remembered.
    browser.fill("#q", "cl-rut: 76.086.428-5").await;
    browser.submit("form.ask button[type=submit]").await;
    assert_eq!(browser.attribute("[data-verdict]", "data-verdict").await.as_deref(), Some("recognized"));
    assert!(browser.text("main").await.contains("CL-OEA-0001"));

    // In English, the question kept.
    browser.client.find(Locator::Css("a[lang=en]")).await.expect("switch").click().await.expect("switch");
    browser.client.wait().for_element(Locator::Css("html[lang=en]")).await.expect("English");
    assert!(browser.text("[data-verdict]").await.contains("RECOGNISED"));
    browser.screenshot("border-desk-en").await;

    // Suspended at its issuer: the verdict changes at once.
    let officer = node.token("officer@cl.demo.aeo").await;
    let suspend = json!({"status": "suspended", "reason": "Auditoría en curso"});
    node.send(
        Method::POST,
        "/api/v1/administrations/CL/certificates/CL-OEA-0001/status",
        Some(&officer),
        Some(suspend),
    )
    .await
    .ok();
    browser.client.refresh().await.expect("reload");
    assert_eq!(browser.attribute("[data-verdict]", "data-verdict").await.as_deref(), Some("not_recognized"));
    assert!(browser.client.find(Locator::Css("[data-reason=certificate_suspended]")).await.is_ok());
    assert!(browser.text("[data-verdict]").await.contains("NOT RECOGNISED"));

    // On a phone.
    browser.phone().await;
    browser.screenshot("border-phone-en").await;
    browser.go(&format!("{base}/border?issuer=CL&q=CL-OEA-0002&lang=es")).await;
    assert_eq!(browser.attribute("[data-verdict]", "data-verdict").await.as_deref(), Some("recognized"));
    assert_eq!(browser.serious_violations(&axe).await, Vec::<String>::new(), "the verdict on a phone");
    // The verdict is seen first, whole, without scrolling.
    let bottom = browser
        .client
        .execute("return document.querySelector('[data-verdict]').getBoundingClientRect().bottom", Vec::new())
        .await
        .expect("position");
    assert!(bottom.as_f64().is_some_and(|bottom| bottom < 780.0), "the verdict ends at {bottom}");
    browser.screenshot("border-phone-es").await;
    // Its printable view, for the declaration file.
    browser.go(&format!("{base}/border?issuer=CL&q=CL-OEA-0002&print=1")).await;
    assert!(browser.text("#record-reference").await.len() == 32);
    browser.desk().await;
    browser.screenshot("border-print-desk-es").await;

    // No page logged an error or a violation of its policy.
    assert_eq!(browser.console_errors().await, Vec::<String>::new());

    // A form another site posts is refused, and the session goes on.
    let hostile = hostile_site(format!("{base}/logout")).await;
    browser.go(&hostile).await;
    browser.client.wait().for_element(Locator::Css("html[lang=es]")).await.expect("the refusal");
    assert!(browser.client.current_url().await.expect("url").as_str().starts_with(&base));
    assert!(browser.text("main").await.contains("Este formulario debe enviarse"));
    browser.go(&format!("{base}/border")).await;
    assert_eq!(browser.client.current_url().await.expect("url").path(), "/border", "still signed in");

    // Signing out ends it.
    browser.submit(".bar form button[type=submit]").await;
    browser.go(&format!("{base}/border")).await;
    assert!(browser.client.current_url().await.expect("url").path().ends_with("/login"));
    let _ = browser.client.clone().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyone_checks_a_certificate_without_signing_in() {
    let Some(browser) = browser().await else { return };
    let axe = axe_core();
    let node = Node::start(Backend::Sqlite).await;
    browser.go(&node.url("/check?lang=en")).await;
    browser.client.find(Locator::Css("#administration option[value=CL]")).await.expect("CL").click().await.expect("CL");
    browser.fill("#number", "cl-oea-0007").await;
    browser.submit("form.ask button[type=submit]").await;
    assert_eq!(browser.attribute("[data-status]", "data-status").await.as_deref(), Some("suspended"));
    assert_eq!(browser.serious_violations(&axe).await, Vec::<String>::new(), "the public check");
    browser.screenshot("check-desk-en").await;
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    let _ = browser.client.clone().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administration_suspends_and_imports_in_its_pages_and_each_role_lands_on_its_own() {
    let Some(browser) = browser().await else { return };
    let axe = axe_core();
    let node = Node::start(Backend::Sqlite).await;
    let base = node.url("");

    // Each role lands on its page.
    for (email, landing) in [
        ("admin@cl.demo.aeo", "/admin"),
        ("auditor@cl.demo.aeo", "/admin"),
        ("border@pe.demo.aeo", "/border"),
        ("trader@andina.demo.aeo", "/trader"),
    ] {
        browser.sign_in(&base, email).await;
        assert_eq!(browser.path().await, landing, "{email}");
        assert_eq!(browser.serious_violations(&axe).await, Vec::<String>::new(), "{email}'s page");
        if email == "admin@cl.demo.aeo" {
            for page in ["/admin/mras", "/admin/mras/PE", "/admin/users", "/admin/peers", "/admin/audit"] {
                browser.go(&format!("{base}{page}")).await;
                assert_eq!(browser.path().await, page);
                assert_eq!(browser.serious_violations(&axe).await, Vec::<String>::new(), "{page}");
            }
            browser.screenshot("admin-audit-desk-es").await;
        }
        if landing == "/trader" {
            assert!(browser.client.find(Locator::Css("[data-partner=PE][data-recognized=true]")).await.is_ok());
            browser.screenshot("trader-desk-es").await;
        }
        browser.sign_out().await;
    }

    // An officer finds a certificate, suspends it after a confirmation that names it.
    browser.sign_in(&base, "officer@cl.demo.aeo").await;
    assert_eq!(browser.path().await, "/admin");
    browser.fill("#q", "Andina").await;
    browser.submit("form.filters button[type=submit]").await;
    browser.screenshot("admin-desk-es").await;
    browser.submit("tr[data-number=CL-OEA-0001] a").await;
    browser.submit("a[data-action=suspended]").await;
    assert_eq!(browser.text("#confirm-number").await, "CL-OEA-0001");
    assert_eq!(browser.serious_violations(&axe).await, Vec::<String>::new(), "the confirmation");
    browser.fill("#reason", "Auditoría en curso").await;
    browser.screenshot("admin-suspend-desk-es").await;
    browser.submit("form.stack button[type=submit]").await;
    assert_eq!(browser.attribute(".badge", "data-status").await.as_deref(), Some("suspended"));
    assert_eq!(browser.serious_violations(&axe).await, Vec::<String>::new(), "the certificate and its history");

    // A CSV with one bad row: its error shown, nothing applied.
    let file = std::env::temp_dir().join(format!("aeo-import-{}.csv", std::process::id()));
    std::fs::write(
        &file,
        "number,category,roles,valid_from,valid_until,operator_name,identifiers,street,city,postal_code,country,public\n\
         CL-WEB-0001,security,exporter,2026-01-01,2029-12-31,Empresa Web Uno,CL-RUT:76.086.428-5,Calle 1,Santiago,8320000,CL,false\n\
         CL-WEB-0002,security,exporter,2026-01-01,2025-12-31,Empresa Web Dos,CL-RUT:76.086.428-5,Calle 2,Santiago,8320000,CL,false\n",
    )
    .expect("the file");
    browser.go(&format!("{base}/admin/import")).await;
    let chooser = browser.client.find(Locator::Css("#file")).await.expect("file field");
    chooser.send_keys(&file.display().to_string()).await.expect("file chosen");
    browser.submit("form.stack button[type=submit]").await;
    assert_eq!(browser.attribute("#import-preview", "data-outcome").await.as_deref(), Some("refused"));
    assert!(browser.client.find(Locator::Css("tr[data-row='2'][data-field=valid_until]")).await.is_ok());
    assert_eq!(browser.serious_violations(&axe).await, Vec::<String>::new(), "the import's errors");
    browser.screenshot("admin-import-desk-es").await;
    let _ = std::fs::remove_file(&file);
    let token = node.token("officer@cl.demo.aeo").await;
    let missing = node.get("/api/v1/administrations/CL/certificates/CL-WEB-0001", Some(&token)).await;
    assert_eq!(missing.status, reqwest::StatusCode::NOT_FOUND, "nothing applied");

    // The border sees the suspension at once.
    browser.sign_out().await;
    browser.sign_in(&base, "border@pe.demo.aeo").await;
    browser.go(&format!("{base}/border?issuer=CL&q=CL-OEA-0001")).await;
    assert_eq!(browser.attribute("[data-verdict]", "data-verdict").await.as_deref(), Some("not_recognized"));

    browser.phone().await;
    browser.sign_out().await;
    browser.sign_in(&base, "officer@cl.demo.aeo").await;
    browser.screenshot("admin-phone-es").await;
    assert_eq!(browser.serious_violations(&axe).await, Vec::<String>::new(), "the list on a phone");
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    let _ = browser.client.clone().close().await;
}
