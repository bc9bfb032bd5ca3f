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

    // The issuer last asked about is remembered.
    let remembered = page(&node, "/border", &session, &[("cookie", "border_issuer=MX")]).await;
    assert!(html(&remembered).contains("<option value=\"MX\" selected>"), "{}", html(&remembered));
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

both_backends!(
    signing_in_opens_a_session_that_signing_out_ends,
    a_sign_in_from_another_site_or_to_another_site_is_refused,
    a_session_unused_for_longer_than_the_idle_limit_ends,
    the_border_page_gives_a_verdict_for_a_number_or_an_identifier_as_people_type_them,
    the_border_page_is_for_those_who_may_ask_the_border_question,
    the_public_check_page_shows_what_the_contract_allows_and_nothing_more,
    assets_are_served_by_the_node_under_names_that_change_with_their_content,
);
