//! The web pages over HTTP, as a browser sends and receives them: sign-in and sessions, the
//! CSRF and cross-site rules, the border verdict, the public check, languages, and the headers
//! every page carries. The same pages driven in a real browser are in `tests/browser.rs`.

mod common;

use std::time::Duration;

use common::{Backend, Node, Reply};
use reqwest::{Method, StatusCode};

const FORM: &str = "application/x-www-form-urlencoded";

/// The HTML of a reply.
fn html(reply: &Reply) -> &str {
    reply.body.as_str().unwrap_or_default()
}

fn header<'r>(reply: &'r Reply, name: &str) -> &'r str {
    reply.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// A page as the holder of `session` sees it (`""`: nobody signed in), with extra headers.
async fn page(node: &Node, path: &str, session: &str, headers: &[(&str, &str)]) -> Reply {
    let cookie = format!("aeo_session={session}");
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    if !session.is_empty() {
        all.push(("cookie", cookie.as_str()));
    }
    node.send_raw(Method::GET, path, None, "", Vec::new(), &all).await
}

/// Sends a form from a page of this registry (`headers` may say otherwise).
async fn post_form(node: &Node, path: &str, session: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
    let cookie = format!("aeo_session={session}");
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    if !session.is_empty() {
        all.push(("cookie", cookie.as_str()));
    }
    let body = serde_urlencoded::to_string(fields).expect("form").into_bytes();
    node.send_raw(Method::POST, path, None, FORM, body, &all).await
}

/// The CSRF token a signed-in page carries in its forms.
fn csrf_of(reply: &Reply) -> String {
    let html = html(reply);
    let marker = "name=\"csrf_token\" value=\"";
    let at = html.find(marker).expect("a form with the CSRF token") + marker.len();
    html[at..].split('"').next().unwrap_or_default().to_owned()
}

/// Every page is HTML with a policy that lets no inline or foreign script run.
fn assert_page(reply: &Reply, lang: &str) {
    assert!(header(reply, "content-type").starts_with("text/html"), "{reply:?}");
    let policy = header(reply, "content-security-policy");
    let scripts = policy.split(';').find(|d| d.trim().starts_with("script-src")).expect("script-src");
    assert!(
        !scripts.contains("unsafe-inline") && !scripts.contains("unsafe-eval") && !scripts.contains("http"),
        "{policy}"
    );
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(header(reply, "cache-control"), "no-store");
    assert!(html(reply).contains(&format!("<html lang=\"{lang}\">")), "{}", html(reply));
}

async fn signing_in_opens_a_session_that_signing_out_ends(backend: Backend) {
    let node = Node::start(backend).await;
    let login = page(&node, "/login", "", &[]).await;
    assert_eq!(login.status, StatusCode::OK);
    assert_page(&login, "es");
    for field in ["<label for=\"email\">", "name=\"email\"", "<label for=\"password\">", "name=\"password\""] {
        assert!(html(&login).contains(field), "{field}");
    }

    // A wrong password: the form again, saying so, and no session.
    let wrong = [("email", "border@pe.demo.aeo"), ("password", "not-the-password")];
    let refused = post_form(&node, "/login", "", &wrong, &[]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_page(&refused, "es");
    assert!(html(&refused).contains("no son correctos"), "{}", html(&refused));
    assert!(refused.headers.get("set-cookie").is_none());

    // Signed in: the cookie of the contract, and on to the page asked for.
    let good =
        [("email", "border@pe.demo.aeo"), ("password", common::DEMO_PASSWORD), ("next", "/border?q=CL-OEA-0001")];
    let signed = post_form(&node, "/login", "", &good, &[]).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    assert_eq!(header(&signed, "location"), "/border?q=CL-OEA-0001");
    let cookie = header(&signed, "set-cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.split("; ").any(|a| a == attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "not over http: {cookie}");
    let session = cookie.split(';').next().and_then(|pair| pair.strip_prefix("aeo_session=")).expect("session");

    // Home sends the border officer to the border.
    let home = page(&node, "/", session, &[]).await;
    assert_eq!((home.status, header(&home, "location")), (StatusCode::SEE_OTHER, "/border"));
    let border = page(&node, "/border", session, &[]).await;
    assert_eq!(border.status, StatusCode::OK);
    assert!(html(&border).contains("border@pe.demo.aeo"));

    // Signing out needs the session's CSRF token, and the page's own origin.
    let csrf = csrf_of(&border);
    for (case, fields, headers) in [
        ("no token", vec![], vec![]),
        ("a made-up token", vec![("csrf_token", "forged")], vec![]),
        ("from another site", vec![("csrf_token", csrf.as_str())], vec![("sec-fetch-site", "cross-site")]),
    ] {
        let reply = post_form(&node, "/logout", session, &fields, &headers).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{case}");
        assert_page(&reply, "es");
    }
    assert_eq!(page(&node, "/border", session, &[]).await.status, StatusCode::OK, "still signed in");
    let out = post_form(&node, "/logout", session, &[("csrf_token", &csrf)], &[]).await;
    assert_eq!((out.status, header(&out, "location")), (StatusCode::SEE_OTHER, "/login"));
    assert!(header(&out, "set-cookie").contains("Max-Age=0"), "{}", header(&out, "set-cookie"));

    // The session is over, for the pages and the API alike.
    let after = page(&node, "/border?issuer=CL&q=CL-OEA-0001", session, &[]).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(header(&after, "location"), "/login?next=%2Fborder%3Fissuer%3DCL%26q%3DCL-OEA-0001");
    let cookie = format!("aeo_session={session}");
    node.send_raw(Method::GET, "/api/v1/me", None, "", Vec::new(), &[("cookie", &cookie)]).await.problem(401);
}

async fn a_sign_in_from_another_site_or_to_another_site_is_refused(backend: Backend) {
    let node = Node::start(backend).await;
    let good = [("email", "border@pe.demo.aeo"), ("password", common::DEMO_PASSWORD)];
    for (case, headers) in
        [("another origin", [("origin", "https://evil.example")]), ("another site", [("sec-fetch-site", "cross-site")])]
    {
        let reply = post_form(&node, "/login", "", &good, &headers).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{case}");
        assert!(reply.headers.get("set-cookie").is_none(), "{case}");
    }
    // After signing in, only a page of this registry comes next.
    for next in ["https://evil.example/", "//evil.example/x"] {
        let fields = [good[0], good[1], ("next", next)];
        let reply = post_form(&node, "/login", "", &fields, &[]).await;
        assert_eq!((reply.status, header(&reply, "location")), (StatusCode::SEE_OTHER, "/"), "{next}");
    }
}

async fn a_session_unused_for_longer_than_the_idle_limit_ends(backend: Backend) {
    let node = Node::start_with(backend, true, |settings| settings.session_idle = 2).await;
    let session = node.session("border@pe.demo.aeo").await;
    assert_eq!(page(&node, "/border", &session, &[]).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let idle = page(&node, "/border", &session, &[]).await;
    assert_eq!(idle.status, StatusCode::SEE_OTHER, "{idle:?}");
    assert!(header(&idle, "location").starts_with("/login"));
}

async fn the_border_page_gives_a_verdict_for_a_number_or_an_identifier_as_people_type_them(backend: Backend) {
    let node = Node::start(backend).await;
    let session = node.session("border@pe.demo.aeo").await;
    let ask = async |query: &str| page(&node, &format!("/border?{query}"), &session, &[]).await;

    let recognised = ask("issuer=CL&q=cl-oea-0001").await;
    assert_eq!(recognised.status, StatusCode::OK);
    assert_page(&recognised, "es");
    let body = html(&recognised);
    assert!(body.contains("data-verdict=\"recognized\"") && body.contains("RECONOCIDO"), "{body}");
    assert!(body.contains("Exportadora Andina SpA") && body.contains("data-source=\"local\""), "{body}");
    // The arrangement's status, then when it took effect, without saying "in force" twice.
    assert!(body.contains("PE–CL: vigente; entró en vigor el <time"), "{body}");

    // An identifier typed with dots and a space, the scheme in lower case.
    let by_rut = ask("issuer=CL&q=cl-rut%3A+76.086.428-5").await;
    assert!(html(&by_rut).contains("data-verdict=\"recognized\""), "{}", html(&by_rut));
    assert!(html(&by_rut).contains("CL-OEA-0001"), "{}", html(&by_rut));

    // Suspended: not recognised, with the reason in words and in its code.
    let suspended = ask("issuer=CL&q=CL-OEA-0007&lang=en").await;
    assert_page(&suspended, "en");
    let body = html(&suspended);
    assert!(body.contains("data-verdict=\"not_recognized\"") && body.contains("NOT RECOGNISED"), "{body}");
    assert!(body.contains("data-reason=\"certificate_suspended\""), "{body}");
    // The choice of language is kept, and the switch keeps the question.
    assert!(header(&suspended, "set-cookie").contains("lang=en"), "{suspended:?}");
    assert!(body.contains("href=\"/border?issuer=CL&#38;q=CL-OEA-0007&#38;lang=es\""), "{body}");

    // An issuer on no node this one can ask: the verdict is unknown, never a guess.
    let unknown = ask("issuer=KR&q=KR-AEO-1").await;
    let body = html(&unknown);
    assert!(body.contains("data-verdict=\"unknown\"") && body.contains("DESCONOCIDO"), "{body}");
    assert!(body.contains("data-reason=\"issuer_unreachable\""), "{body}");

    // A question that cannot be asked says why, next to the form.
    let bad = ask("issuer=CL&q=CL-RUT%3A123").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(&bad).contains("form-error") && !html(&bad).contains("data-verdict"), "{}", html(&bad));

    // The issuer last asked about is remembered, and the cookie is set again only when the
    // issuer changes.
    let issuer_cookies = |reply: &Reply| -> Vec<String> {
        let all = reply.headers.get_all("set-cookie").iter().filter_map(|value| value.to_str().ok());
        all.filter(|cookie| cookie.starts_with("border_issuer=")).map(str::to_owned).collect()
    };
    let first = issuer_cookies(&recognised);
    assert!(matches!(&first[..], [cookie] if cookie.starts_with("border_issuer=CL;")), "{first:?}");
    let remembered = page(&node, "/border", &session, &[("cookie", "border_issuer=MX")]).await;
    assert!(html(&remembered).contains("<option value=\"MX\" selected>"), "{}", html(&remembered));
    let same = page(&node, "/border?issuer=CL&q=CL-OEA-0001", &session, &[("cookie", "border_issuer=CL")]).await;
    assert!(html(&same).contains("data-verdict=\"recognized\"") && issuer_cookies(&same).is_empty(), "{same:?}");
    let other = page(&node, "/border?issuer=CO&q=CO-OEA-0001", &session, &[("cookie", "border_issuer=CL")]).await;
    let changed = issuer_cookies(&other);
    assert!(matches!(&changed[..], [cookie] if cookie.starts_with("border_issuer=CO;")), "{changed:?}");
}

async fn the_border_page_is_for_those_who_may_ask_the_border_question(backend: Backend) {
    let node = Node::start(backend).await;
    let anonymous = page(&node, "/border?issuer=CL&q=CL-OEA-0001", "", &[]).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert!(header(&anonymous, "location").starts_with("/login?next="));
    let trader = node.session("trader@andina.demo.aeo").await;
    let refused = page(&node, "/border?issuer=CL&q=CL-OEA-0001", &trader, &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_page(&refused, "es");
    assert!(!html(&refused).contains("data-verdict"));
}

async fn the_public_check_page_shows_what_the_contract_allows_and_nothing_more(backend: Backend) {
    let node = Node::start(backend).await;
    // No sign-in needed; the number as people type it.
    let public =
        page(&node, "/check?administration=cl&number=cl-oea-0007", "", &[("accept-language", "en-GB,en;q=0.9")]).await;
    assert_eq!(public.status, StatusCode::OK);
    assert_page(&public, "en");
    let body = html(&public);
    assert!(body.contains("data-status=\"suspended\"") && body.contains("CL-OEA-0007"), "{body}");
    // Of an operator that did not consent, no name; nor the reason or the roles of anyone.
    let private = page(&node, "/check?administration=CL&number=CL-OEA-0015", "", &[]).await;
    let body = html(&private);
    assert!(body.contains("no autorizó") && !body.contains("Auditor"), "{body}");
    let missing = page(&node, "/check?administration=CL&number=CL-OEA-9999", "", &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_page(&missing, "es");
}

async fn assets_are_served_by_the_node_under_names_that_change_with_their_content(backend: Backend) {
    let node = Node::start(backend).await;
    let login = page(&node, "/login", "", &[]).await;
    let body = html(&login);
    let at = body.find("href=\"/assets/site.").expect("stylesheet") + 6;
    let path = body[at..].split('"').next().expect("path");
    let css = page(&node, path, "", &[]).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(header(&css, "content-type").starts_with("text/css"));
    assert_eq!(header(&css, "cache-control"), "public, max-age=31536000, immutable");
    assert_eq!(page(&node, "/assets/site.000000000000.css", "", &[]).await.status, StatusCode::NOT_FOUND);
}

/// A form with a file, as a browser sends `<input type="file">`.
async fn post_file(node: &Node, path: &str, session: &str, csrf: Option<&str>, file: &str) -> Reply {
    let boundary = "----aeo-test-boundary";
    let mut body = String::new();
    if let Some(csrf) = csrf {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"certificates.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    ));
    let cookie = format!("aeo_session={session}");
    let content_type = format!("multipart/form-data; boundary={boundary}");
    node.send_raw(Method::POST, path, None, &content_type, body.into_bytes(), &[("cookie", cookie.as_str())]).await
}

/// The value of the hidden field `name` of a page's form, as the browser would send it back.
fn hidden_field(reply: &Reply, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let body = html(reply);
    let at = body.find(&marker).unwrap_or_else(|| panic!("no field {name}: {body}")) + marker.len();
    let escaped = body[at..].split('"').next().unwrap_or_default();
    escaped
        .replace("&#10;", "\n")
        .replace("&#13;", "\r")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// How many of a page's list rows are certificates, and which.
fn listed(reply: &Reply) -> Vec<String> {
    html(reply).split("data-number=\"").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_owned).collect()
}

/// The status the API gives for one of CL's certificates.
async fn status_of(node: &Node, number: &str) -> String {
    let token = node.token("officer@cl.demo.aeo").await;
    let reply = node.get(&format!("/api/v1/administrations/CL/certificates/{number}"), Some(&token)).await;
    reply.body["status"].as_str().unwrap_or("missing").to_owned()
}

const CSV_HEADER: &str =
    "number,category,roles,valid_from,valid_until,operator_name,identifiers,street,city,postal_code,country,public";

/// A valid CSV row of a new certificate of CL.
fn csv_row(n: usize) -> String {
    format!(
        "CL-WEB-{n:04},security,exporter;importer,2026-01-01,2029-12-31,Empresa Web {n},CL-RUT:76.086.428-5,Calle {n},Santiago,8320000,CL,false"
    )
}

async fn an_import_is_checked_in_full_and_applied_only_when_asked(backend: Backend) {
    let node = Node::start(backend).await;
    let session = node.session("officer@cl.demo.aeo").await;
    let form = page(&node, "/admin/import", &session, &[]).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_page(&form, "es");
    let csrf = csrf_of(&form);

    // One bad row of three: every error listed, nothing applied.
    let bad = format!("{CSV_HEADER}\n{}\n{}\n{}\n", csv_row(1), csv_row(2).replace("security", "securty"), csv_row(3));
    let refused = post_file(&node, "/admin/import", &session, Some(&csrf), &bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", html(&refused));
    assert!(html(&refused).contains("data-row=\"2\" data-field=\"category\""), "{}", html(&refused));
    assert!(!html(&refused).contains("/admin/import/apply"), "no apply for a file with errors");
    assert_eq!(status_of(&node, "CL-WEB-0001").await, "missing");

    // A file with no error is previewed, still applying nothing.
    let rows: Vec<String> = (1..=60).map(csv_row).collect();
    let good = format!("{CSV_HEADER}\n{}\n", rows.join("\n"));
    let preview = post_file(&node, "/admin/import", &session, Some(&csrf), &good).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", html(&preview));
    assert!(html(&preview).contains("data-count=\"created\">60<"), "{}", html(&preview));
    assert_eq!(status_of(&node, "CL-WEB-0001").await, "missing");
    // Without the CSRF token, nothing is read.
    let forged = post_file(&node, "/admin/import", &session, None, &good).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // Applied: the file the preview carries back.
    let carried = hidden_field(&preview, "csv");
    assert_eq!(carried, good);
    let applied =
        post_form(&node, "/admin/import/apply", &session, &[("csrf_token", &csrf), ("csv", &carried)], &[]).await;
    assert_eq!(applied.status, StatusCode::OK, "{}", html(&applied));
    assert!(
        html(&applied).contains("data-outcome=\"applied\"") && html(&applied).contains("data-count=\"created\">60<")
    );
    assert_eq!(status_of(&node, "CL-WEB-0060").await, "active");

    // The list now runs over two pages, each certificate once, only CL's.
    let first = page(&node, "/admin", &session, &[]).await;
    let mut all = listed(&first);
    assert_eq!(all.len(), 50);
    let marker = "rel=\"next\" href=\"";
    let body = html(&first);
    let at = body.find(marker).expect("a next page") + marker.len();
    let next = body[at..].split('"').next().expect("href").replace("&#38;", "&");
    let second = page(&node, &next, &session, &[]).await;
    all.extend(listed(&second));
    let unique: std::collections::BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len());
    assert!(all.iter().all(|number| number.starts_with("CL-")) && all.len() > 60, "{all:?}");

    // The export is the import's format: imported back, every row is unchanged.
    let export = page(&node, "/admin/certificates.csv", &session, &[]).await;
    assert!(header(&export, "content-type").starts_with("text/csv"));
    let csv = export.body.as_str().map(str::to_owned).unwrap_or_else(|| export.body.to_string());
    assert!(csv.starts_with(CSV_HEADER), "{csv}");
    assert_eq!(csv.lines().count(), all.len() + 1);
    let again = post_file(&node, "/admin/import", &session, Some(&csrf), &csv).await;
    assert!(html(&again).contains(&format!("data-count=\"unchanged\">{}<", all.len())), "{}", html(&again));
}

async fn a_status_change_is_confirmed_naming_the_certificate_and_reaches_the_border(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.session("officer@cl.demo.aeo").await;
    let certificate = page(&node, "/admin/certificates/CL-OEA-0001", &officer, &[]).await;
    assert_eq!(certificate.status, StatusCode::OK);
    assert!(html(&certificate).contains("data-action=\"suspended\""), "{}", html(&certificate));
    let confirm = page(&node, "/admin/certificates/CL-OEA-0001/status?to=suspended", &officer, &[]).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(html(&confirm).contains("CL-OEA-0001") && html(&confirm).contains("Exportadora Andina SpA"));
    let csrf = csrf_of(&confirm);
    let path = "/admin/certificates/CL-OEA-0001/status";

    // Without the token, or without a reason: nothing changes.
    let forged = post_form(&node, path, &officer, &[("to", "suspended"), ("reason", "x")], &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let no_reason = post_form(&node, path, &officer, &[("csrf_token", &csrf), ("to", "suspended")], &[]).await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(&no_reason).contains("id=\"reason-error\""), "{}", html(&no_reason));
    assert_eq!(status_of(&node, "CL-OEA-0001").await, "active");

    let fields = [("csrf_token", csrf.as_str()), ("to", "suspended"), ("reason", "Auditoría en curso")];
    let done = post_form(&node, path, &officer, &fields, &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(header(&done, "location"), "/admin/certificates/CL-OEA-0001?done=status_changed");
    assert_eq!(status_of(&node, "CL-OEA-0001").await, "suspended");
    let shown = page(&node, "/admin/certificates/CL-OEA-0001?done=status_changed", &officer, &[]).await;
    assert!(html(&shown).contains("Auditoría en curso") && html(&shown).contains("role=\"status\""));
    let border = node.session("border@pe.demo.aeo").await;
    let verdict = page(&node, "/border?issuer=CL&q=CL-OEA-0001", &border, &[]).await;
    assert!(html(&verdict).contains("data-verdict=\"not_recognized\""), "{}", html(&verdict));

    // What each role may do: an auditor reads but changes nothing; a border officer has its own
    // page; another administration's certificate is missing.
    let auditor = node.session("auditor@cl.demo.aeo").await;
    let read = page(&node, "/admin/certificates/CL-OEA-0001", &auditor, &[]).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(!html(&read).contains("data-action=") && !html(&read).contains("/edit\""), "{}", html(&read));
    let refused = page(&node, "/admin/certificates/CL-OEA-0001/status?to=active", &auditor, &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(page(&node, "/admin", &border, &[]).await.status, StatusCode::FORBIDDEN);
    let foreign = page(&node, "/admin/certificates/PE-OEA-0001", &officer, &[]).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let fields = [("csrf_token", csrf.as_str()), ("to", "revoked"), ("reason", "ajeno")];
    let changed = post_form(&node, "/admin/certificates/PE-OEA-0001/status", &officer, &fields, &[]).await;
    assert_eq!(changed.status, StatusCode::NOT_FOUND);
    let pe = node.token("officer@pe.demo.aeo").await;
    let untouched = node.get("/api/v1/administrations/PE/certificates/PE-OEA-0001", Some(&pe)).await;
    assert_eq!(untouched.body["status"], "active", "{}", untouched.body);
}

async fn certificates_are_published_and_edited_with_the_apis_messages_next_to_each_field(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.session("officer@cl.demo.aeo").await;
    let form = page(&node, "/admin/certificates/new", &officer, &[]).await;
    assert_eq!(form.status, StatusCode::OK);
    for field in ["number", "category", "valid_from", "valid_until", "operator_name", "identifiers", "country"] {
        assert!(html(&form).contains(&format!("<label for=\"{field}\">")), "{field}");
    }
    let csrf = csrf_of(&form);
    let mut fields = vec![
        ("csrf_token", csrf.as_str()),
        ("category", "security"),
        ("roles", "exporter"),
        ("roles", "carrier"),
        ("valid_from", "2026-01-01"),
        ("valid_until", "2025-01-01"),
        ("operator_name", ""),
        ("identifiers", "CL-RUT:123"),
        ("street", "Av. Web 1"),
        ("city", "Valparaíso"),
        ("postal_code", "2340000"),
        ("country", "CL"),
    ];
    let refused = post_form(&node, "/admin/certificates/new", &officer, &fields, &[]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["valid_until", "operator_name", "identifiers"] {
        assert!(html(&refused).contains(&format!("id=\"{field}-error\"")), "{field}: {}", html(&refused));
    }
    // What was typed stays in the form.
    assert!(html(&refused).contains("value=\"Av. Web 1\"") && html(&refused).contains("value=\"carrier\" checked"));

    fields[5] = ("valid_until", "2029-01-01");
    fields[6] = ("operator_name", "Naviera Web Ltda.");
    fields[7] = ("identifiers", "CL-RUT:76.086.428-5\r\nEORI:NL861990338");
    let created = post_form(&node, "/admin/certificates/new", &officer, &fields, &[]).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", html(&created));
    let location = header(&created, "location").to_owned();
    let number = location.trim_start_matches("/admin/certificates/").split('?').next().expect("number").to_owned();
    let token = node.token("officer@cl.demo.aeo").await;
    let stored = node.get(&format!("/api/v1/administrations/CL/certificates/{number}"), Some(&token)).await;
    assert_eq!(stored.body["operator"]["identifiers"].as_array().map(Vec::len), Some(2), "{}", stored.body);
    assert_eq!(stored.body["roles"], serde_json::json!(["exporter", "carrier"]));

    // Edited from the form as opened; a second save of the same form is refused, as someone
    // changed it meanwhile.
    let edit = page(&node, &format!("/admin/certificates/{number}/edit"), &officer, &[]).await;
    assert!(html(&edit).contains("name=\"version\" value=\"1\""), "{}", html(&edit));
    fields.retain(|(name, _)| *name != "roles");
    fields.push(("roles", "importer"));
    fields.push(("version", "1"));
    fields.retain(|(name, _)| *name != "operator_name");
    fields.push(("operator_name", "Naviera Web Dos Ltda."));
    let path = format!("/admin/certificates/{number}/edit");
    let saved = post_form(&node, &path, &officer, &fields, &[]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", html(&saved));
    let stale = post_form(&node, &path, &officer, &fields, &[]).await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(&stale).contains("data-field=\"version\""), "{}", html(&stale));
    let stored = node.get(&format!("/api/v1/administrations/CL/certificates/{number}"), Some(&token)).await;
    assert_eq!(stored.body["roles"], serde_json::json!(["importer"]));
    assert_eq!(stored.body["version"], 2);
}

async fn a_trader_sees_where_each_certificate_is_recognised_and_its_history(backend: Backend) {
    let node = Node::start(backend).await;
    let trader = node.session("trader@andina.demo.aeo").await;
    let home = page(&node, "/", &trader, &[]).await;
    assert_eq!(header(&home, "location"), "/trader");
    let mine = page(&node, "/trader", &trader, &[]).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_page(&mine, "es");
    let body = html(&mine);
    assert!(body.contains("CL-OEA-0001") && body.contains("data-partner=\"PE\" data-recognized=\"true\""), "{body}");
    // The history says what happened, not which official did it.
    assert!(body.contains("publicado") && !body.contains("@cl.demo.aeo"), "{body}");
    assert_eq!(page(&node, "/admin", &trader, &[]).await.status, StatusCode::FORBIDDEN);
    let officer = node.session("officer@cl.demo.aeo").await;
    assert_eq!(page(&node, "/trader", &officer, &[]).await.status, StatusCode::FORBIDDEN);
}

async fn arrangements_users_peers_and_the_audit_log_are_kept_from_the_administrations_pages(backend: Backend) {
    let node = Node::start(backend).await;
    let admin = node.session("admin@cl.demo.aeo").await;
    let border = node.session("border@cl.demo.aeo").await;
    let recognised = page(&node, "/border?issuer=PE&q=PE-OEA-0001", &border, &[]).await;
    assert!(html(&recognised).contains("data-verdict=\"recognized\""), "{}", html(&recognised));

    // The arrangement with PE, suspended from its form: PE's operators are no longer
    // recognised at CL.
    let list = page(&node, "/admin/mras", &admin, &[]).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(html(&list).contains("data-partner=\"PE\""), "{}", html(&list));
    let form = page(&node, "/admin/mras/PE", &admin, &[]).await;
    let csrf = csrf_of(&form);
    let title = hidden_or_value(&form, "title");
    let mut fields = vec![
        ("csrf_token", csrf.as_str()),
        ("title", title.as_str()),
        ("status", "suspended"),
        ("signed_on", "2026-01-10"),
        ("in_force_from", "2026-01-01"),
        ("categories", "security"),
        ("categories", "full"),
    ];
    let refused = post_form(&node, "/admin/mras/PE", &admin, &fields, &[]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(&refused).contains("id=\"in_force_from-error\""), "{}", html(&refused));
    fields[3] = ("signed_on", "2025-12-01");
    let saved = post_form(&node, "/admin/mras/PE", &admin, &fields, &[]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", html(&saved));
    let verdict = page(&node, "/border?issuer=PE&q=PE-OEA-0001", &border, &[]).await;
    assert!(html(&verdict).contains("data-reason=\"mra_not_in_force\""), "{}", html(&verdict));
    // An officer reads the arrangements but may not change them.
    let officer = node.session("officer@cl.demo.aeo").await;
    let read = page(&node, "/admin/mras", &officer, &[]).await;
    assert!(!html(&read).contains("/admin/mras/new") && !html(&read).contains("href=\"/admin/mras/PE\""));
    assert_eq!(page(&node, "/admin/mras/PE", &officer, &[]).await.status, StatusCode::FORBIDDEN);

    // Users: a wrong field named next to it; a new border officer signs in; once disabled,
    // their session ends.
    let users = page(&node, "/admin/users", &admin, &[]).await;
    assert_eq!(users.status, StatusCode::OK);
    let csrf = csrf_of(&users);
    let bad =
        [("csrf_token", csrf.as_str()), ("email", "not-an-address"), ("password", "short"), ("role", "border_officer")];
    let refused = post_form(&node, "/admin/users", &admin, &bad, &[]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(&refused).contains("id=\"email-error\"") && html(&refused).contains("id=\"password-error\""));
    assert!(!html(&refused).contains("value=\"short\""), "a password is never sent back");
    let good = [
        ("csrf_token", csrf.as_str()),
        ("email", "quay@cl.demo.aeo"),
        ("password", "quay-password-2026"),
        ("role", "border_officer"),
    ];
    assert_eq!(post_form(&node, "/admin/users", &admin, &good, &[]).await.status, StatusCode::SEE_OTHER);
    let form =
        serde_urlencoded::to_string([("email", "quay@cl.demo.aeo"), ("password", "quay-password-2026")]).expect("form");
    let signed_in = node.send_raw(Method::POST, "/login", None, FORM, form.into_bytes(), &[]).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let quay = header(&signed_in, "set-cookie")
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("aeo_session="))
        .expect("session")
        .to_owned();
    assert_eq!(page(&node, "/border", &quay, &[]).await.status, StatusCode::OK);
    let users = page(&node, "/admin/users", &admin, &[]).await;
    let body = html(&users);
    let row = body.find("data-user=\"quay@cl.demo.aeo\"").expect("the new user listed");
    let action =
        body[row..].split("action=\"/admin/users/").nth(1).and_then(|rest| rest.split('"').next()).expect("id");
    let disable = [("csrf_token", csrf.as_str()), ("change", "disable")];
    let done = post_form(&node, &format!("/admin/users/{action}"), &admin, &disable, &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let ended = page(&node, "/border", &quay, &[]).await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER, "a disabled user's session ends");
    // Nor another administration's user on the same node: answered as if missing.
    let pe_admin = node.session("admin@pe.demo.aeo").await;
    let pe_users = page(&node, "/admin/users", &pe_admin, &[]).await;
    let pe_body = html(&pe_users);
    let pe_row = pe_body.find("data-user=\"border@pe.demo.aeo\"").expect("PE's border officer");
    let pe_id = pe_body[pe_row..].split("action=\"/admin/users/").nth(1).and_then(|r| r.split('"').next()).expect("id");
    let foreign = post_form(&node, &format!("/admin/users/{pe_id}"), &admin, &disable, &[]).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(page(&node, "/border", &node.session("border@pe.demo.aeo").await, &[]).await.status, StatusCode::OK);
    // No one disables themselves from the page: their own row has no such button.
    assert!(!html(&users).contains("Deshabilitar admin@cl.demo.aeo"));

    // Peers: this node hosts CL's partners itself; its own keys are shown to compare, and a
    // consent to a key change that is not pending is refused.
    let peers = page(&node, "/admin/peers", &admin, &[]).await;
    assert_eq!(peers.status, StatusCode::OK);
    assert!(html(&peers).contains("class=\"mono\">") && html(&peers).contains("kid"));
    let accept =
        post_form(&node, "/admin/peers/PE/accept", &admin, &[("csrf_token", &csrf), ("thumbprints", "x")], &[]).await;
    assert_eq!(accept.status, StatusCode::NOT_FOUND);
    assert_eq!(page(&node, "/admin/peers", &officer, &[]).await.status, StatusCode::FORBIDDEN);

    // The audit log, filtered by kind and by actor.
    let all = page(&node, "/admin/audit?action=mra.", &admin, &[]).await;
    assert!(html(&all).contains("data-action=\"mra.updated\""), "{}", html(&all));
    assert!(!html(&all).contains("data-action=\"user.created\""));
    let by_admin = page(&node, "/admin/audit?actor=admin%40cl.demo.aeo&action=user.", &admin, &[]).await;
    assert!(
        html(&by_admin).contains("data-action=\"user.created\"")
            && html(&by_admin).contains("data-action=\"user.updated\"")
    );
    let by_other = page(&node, "/admin/audit?actor=officer%40cl.demo.aeo&action=user.", &admin, &[]).await;
    assert!(!html(&by_other).contains("data-action=\"user."), "{}", html(&by_other));
    let auditor = node.session("auditor@cl.demo.aeo").await;
    assert_eq!(page(&node, "/admin/audit", &auditor, &[]).await.status, StatusCode::OK);
    assert_eq!(page(&node, "/admin/audit", &officer, &[]).await.status, StatusCode::FORBIDDEN);
}

/// The value of the input `name` of a page's form.
fn hidden_or_value(reply: &Reply, name: &str) -> String {
    let body = html(reply);
    let at = body.find(&format!("name=\"{name}\"")).unwrap_or_else(|| panic!("no field {name}"));
    let rest = &body[at..];
    let value = rest.split("value=\"").nth(1).and_then(|v| v.split('"').next()).unwrap_or_default();
    value.replace("&#38;", "&").replace("&#39;", "'").replace("&#34;", "\"")
}

async fn an_identifier_of_several_certificates_shows_each_and_a_verdict_prints_with_its_signed_record(
    backend: Backend,
) {
    let node = Node::start(backend).await;
    // A second certificate under CL-OEA-0001's tax number, suspended.
    let officer = node.token("officer@cl.demo.aeo").await;
    let second = serde_json::json!({
        "number": "CL-OEA-0801", "category": "security", "roles": ["importer"],
        "valid_from": "2025-01-01", "valid_until": "2029-01-01",
        "operator": {"name": "Exportadora Andina SpA", "identifiers": [{"scheme": "CL-RUT", "value": "76.086.428-5"}],
                     "address": {"street": "Av. Apoquindo 4501", "city": "Santiago", "postal_code": "7550000", "country": "CL"},
                     "public": false}
    });
    let created =
        node.send(Method::POST, "/api/v1/administrations/CL/certificates", Some(&officer), Some(second)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let suspend = serde_json::json!({"status": "suspended", "reason": "Auditoría en curso"});
    let path = "/api/v1/administrations/CL/certificates/CL-OEA-0801/status";
    assert_eq!(node.send(Method::POST, path, Some(&officer), Some(suspend)).await.status, StatusCode::OK);

    let border = node.session("border@pe.demo.aeo").await;
    let both = page(&node, "/border?issuer=CL&q=CL-RUT%3A76.086.428-5", &border, &[]).await;
    let body = html(&both);
    // One verdict for the question (the certificate that fares best), and one per certificate.
    assert_eq!(body.matches("data-verdict=").count(), 1, "{body}");
    assert!(body.contains("data-verdict=\"recognized\""), "{body}");
    assert!(body.contains("data-number=\"CL-OEA-0001\" data-certificate-verdict=\"recognized\""), "{body}");
    assert!(body.contains("data-number=\"CL-OEA-0801\" data-certificate-verdict=\"not_recognized\""), "{body}");
    assert!(body.contains("data-reason=\"certificate_suspended\""), "{body}");
    // The verdict comes before the form.
    assert!(body.find("data-verdict=").expect("verdict") < body.find("<form class=\"ask\"").expect("form"));

    // The printable view carries the answer signed by PE, verifiable with PE's published keys.
    let printable = page(&node, "/border?issuer=CL&q=CL-OEA-0001&print=1", &border, &[]).await;
    assert_eq!(printable.status, StatusCode::OK);
    let body = html(&printable);
    let at = body.find("id=\"record-token\">").expect("the signed record") + "id=\"record-token\">".len();
    let token = body[at..].split('<').next().expect("token").trim().to_owned();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').next().expect("header"),
        )
        .expect("base64"),
    )
    .expect("JSON");
    let keys = node.get("/federation/v1/administrations/PE/jwks.json", None).await;
    let kid = header["kid"].as_str().expect("kid");
    let jwk = keys.body["keys"].as_array().expect("keys").iter().find(|key| key["kid"] == kid).expect("published");
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).expect("a JWK");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["PE"]);
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("key");
    jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).expect("the record verifies with PE's key");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').nth(1).expect("claims"),
        )
        .expect("base64"),
    )
    .expect("JSON");
    assert_eq!(claims["iss"], "PE");
    assert_eq!(claims["recognized"], true);
    assert_eq!(claims["certificate"]["number"], "CL-OEA-0001");
    assert!(body.contains("id=\"record-reference\""));
}

async fn a_large_form_is_refused_before_its_body_is_read_unless_its_sender_may_import(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let node = Node::start(backend).await;
    let address = node.url("").trim_start_matches("http://").trim_end_matches('/').to_owned();
    let trader = node.session("trader@andina.demo.aeo").await;
    let officer = node.session("border@pe.demo.aeo").await;
    for cookie in
        [String::new(), format!("Cookie: aeo_session={trader}\r\n"), format!("Cookie: aeo_session={officer}\r\n")]
    {
        for (path, content_type) in [
            ("/admin/import", "multipart/form-data; boundary=x"),
            ("/admin/import/apply", "application/x-www-form-urlencoded"),
        ] {
            // Ten megabytes announced, a kilobyte sent, and then nothing: the node must answer
            // without waiting for the rest.
            let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: {address}\r\n{cookie}Content-Type: {content_type}\r\nContent-Length: 10000000\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await.expect("head");
            stream.write_all(&[b'a'; 1024]).await.expect("a little body");
            let mut answer = [0u8; 64];
            let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await;
            let read = read.unwrap_or_else(|_| panic!("{path} {cookie}: the node waited for a body it would refuse"));
            let answer = String::from_utf8_lossy(&answer[..read.expect("answer")]).into_owned();
            assert!(answer.starts_with("HTTP/1.1 403"), "{path} {cookie}: {answer}");
        }
    }
}

both_backends!(
    signing_in_opens_a_session_that_signing_out_ends,
    a_sign_in_from_another_site_or_to_another_site_is_refused,
    a_session_unused_for_longer_than_the_idle_limit_ends,
    the_border_page_gives_a_verdict_for_a_number_or_an_identifier_as_people_type_them,
    the_border_page_is_for_those_who_may_ask_the_border_question,
    the_public_check_page_shows_what_the_contract_allows_and_nothing_more,
    assets_are_served_by_the_node_under_names_that_change_with_their_content,
    an_import_is_checked_in_full_and_applied_only_when_asked,
    a_status_change_is_confirmed_naming_the_certificate_and_reaches_the_border,
    certificates_are_published_and_edited_with_the_apis_messages_next_to_each_field,
    a_trader_sees_where_each_certificate_is_recognised_and_its_history,
    arrangements_users_peers_and_the_audit_log_are_kept_from_the_administrations_pages,
    an_identifier_of_several_certificates_shows_each_and_a_verdict_prints_with_its_signed_record,
    a_large_form_is_refused_before_its_body_is_read_unless_its_sender_may_import,
);
