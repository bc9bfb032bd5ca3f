//! Signing in and out, and the home page that sends each user to their page.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::page::{Chrome, CsrfForm, PageError, SameSiteForm, cookie};
use crate::app::AppState;
use crate::auth::SESSION_COOKIE;
use crate::service::{ServiceError, sessions, users};

/// `/`: each user to their page; anyone else to sign in.
pub async fn home(chrome: Chrome) -> Redirect {
    Redirect::to(match chrome.user.as_ref().map(|user| user.role) {
        None => "/login",
        Some(_) if chrome.may_administer() => "/admin",
        Some(_) if chrome.may_ask_border() => "/border",
        Some(_) if chrome.is_trader() => "/trader",
        Some(_) => "/check",
    })
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    email: String,
    next: String,
    error: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Where to go after signing in: a page of this registry, never another site.
fn local(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") => path.to_owned(),
        _ => "/".to_owned(),
    }
}

/// `GET /login`
pub async fn form(chrome: Chrome, Query(query): Query<NextQuery>) -> Response {
    let next = local(query.next.as_deref());
    if chrome.user.is_some() {
        return Redirect::to(&next).into_response();
    }
    let page = LoginPage { email: String::new(), next, error: None, chrome };
    page.chrome.render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct Credentials {
    email: String,
    password: String,
    next: Option<String>,
}

/// The attributes of the session cookie: the contract's, and `Secure` behind https.
fn session_cookie(app: &AppState, value: &str, max_age: Option<i64>) -> Option<HeaderValue> {
    let secure = if app.settings.public_url.starts_with("https://") { "; Secure" } else { "" };
    let age = max_age.map(|secs| format!("; Max-Age={secs}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/{secure}{age}")).ok()
}

/// `POST /login`: throttled as the API's sign-in is; a wrong e-mail or password says which
/// of neither.
pub async fn sign_in(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    chrome: Chrome,
    SameSiteForm(credentials): SameSiteForm<Credentials>,
) -> Result<Response, PageError> {
    let next = local(credentials.next.as_deref());
    let refused = |status: StatusCode, error: &'static str, chrome: Chrome, email: String, next: String| {
        let page = LoginPage { email, next, error: Some(error), chrome };
        Ok(page.chrome.render(status, &page))
    };
    let user = match users::sign_in(&app, &credentials.email, credentials.password, client.ip()).await {
        Ok(user) => user,
        Err(ServiceError::Unauthorized) => {
            let error = chrome.t.wrong_credentials;
            return refused(StatusCode::UNAUTHORIZED, error, chrome, credentials.email, next);
        }
        Err(ServiceError::Throttled { .. }) => {
            let error = chrome.t.too_many_attempts;
            return refused(StatusCode::TOO_MANY_REQUESTS, error, chrome, credentials.email, next);
        }
        Err(other) => return Err(chrome.service_failed(other)),
    };
    let secret = sessions::open(&app, &user).await.map_err(|error| chrome.service_failed(error))?;
    let mut response = Redirect::to(&next).into_response();
    if let Some(cookie) = session_cookie(&app, &secret, None) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct SignOut {}

/// `POST /logout`: the session ends here and now, and the browser forgets its cookie.
pub async fn sign_out(
    State(app): State<AppState>,
    chrome: Chrome,
    headers: axum::http::HeaderMap,
    _form: CsrfForm<SignOut>,
) -> Result<Response, PageError> {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        sessions::close(&app, secret).await.map_err(|error| chrome.service_failed(error))?;
    }
    let mut response = Redirect::to("/login").into_response();
    if let Some(cookie) = session_cookie(&app, "", Some(0)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::local;

    #[test]
    fn after_signing_in_only_a_page_of_this_registry_is_next() {
        assert_eq!(local(Some("/border?issuer=CL&q=CL-1")), "/border?issuer=CL&q=CL-1");
        for elsewhere in ["https://evil.example/", "//evil.example/", "/\\evil.example", "evil", ""] {
            assert_eq!(local(Some(elsewhere)), "/", "{elsewhere}");
        }
        assert_eq!(local(None), "/");
    }
}
