//! What every page shares: its language, who is signed in, the CSRF token of the session, the
//! headers a page is sent with, and how a page fails.

use std::borrow::Cow;
use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use url::form_urlencoded;

use super::assets;
use super::i18n::{LANG_COOKIE, Lang, Text};
use crate::app::AppState;
use aeo_domain::AdministrationCode;
use tokio::sync::SemaphorePermit;

use crate::api::slots::Slots;
use crate::auth::{Caller, ManageAdministration, Permission, PublishCertificates, ReadAudit, ReadRegistry, UserRole};
use crate::service::ServiceError;

/// The policy of every page: scripts, styles, images and fonts from this node only, nothing
/// inline, forms sent only here, never framed.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The name of the hidden field that carries a form's CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";

/// What a page shows around its content.
pub struct Chrome {
    pub lang: Lang,
    pub t: &'static Text,
    /// The signed-in user, if any.
    pub user: Option<Arc<Caller>>,
    /// The CSRF token of the session, for the forms that change something.
    pub csrf: String,
    /// This page in the other language.
    pub switch_url: String,
    pub stylesheet: &'static str,
    pub icon: &'static str,
    /// The path and query of this page, to come back to after signing in.
    pub here: String,
    /// Whether `?lang=` chose the language: it is then remembered in a cookie.
    remember_lang: bool,
}

impl FromRequestParts<AppState> for Chrome {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs: Vec<(Cow<str>, Cow<str>)> = form_urlencoded::parse(query.as_bytes()).collect();
        let asked = pairs.iter().find(|(name, _)| name == "lang").map(|(_, value)| value.as_ref());
        let cookie = cookie(&parts.headers, LANG_COOKIE);
        let accept = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok());
        let lang = Lang::negotiate(asked, cookie, accept);
        // This page's address without `lang`, to come back to, and with the other language.
        let path = parts.uri.path();
        let others = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().filter(|(name, _)| name != "lang"))
            .finish();
        let (here, switch_url) = match others.is_empty() {
            true => (path.to_owned(), format!("{path}?lang={}", lang.other().code())),
            false => (format!("{path}?{others}"), format!("{path}?{others}&lang={}", lang.other().code())),
        };
        let signed_in = crate::auth::signed_in(state, &parts.headers)
            .await
            .map_err(|_| failure(lang, StatusCode::SERVICE_UNAVAILABLE, lang.text().try_again).into_response())?;
        let (user, csrf) = match signed_in {
            Some(signed_in) => (Some(signed_in.caller), signed_in.csrf),
            None => (None, String::new()),
        };
        Ok(Chrome {
            lang,
            t: lang.text(),
            user,
            csrf,
            switch_url,
            stylesheet: assets::stylesheet(),
            icon: assets::icon(),
            here,
            remember_lang: asked.is_some_and(|asked| asked == lang.code()),
        })
    }
}

impl Chrome {
    /// For a page shown before the request was read (a refusal): nobody signed in.
    fn bare(lang: Lang) -> Chrome {
        Chrome {
            lang,
            t: lang.text(),
            user: None,
            csrf: String::new(),
            switch_url: format!("/?lang={}", lang.other().code()),
            stylesheet: assets::stylesheet(),
            icon: assets::icon(),
            here: "/".into(),
            remember_lang: false,
        }
    }

    /// The signed-in user if their role is one of `roles`; else to the sign-in page, or a
    /// refusal.
    pub fn require(&self, roles: &[UserRole]) -> Result<Arc<Caller>, PageError> {
        match &self.user {
            None => Err(PageError::SignIn { next: self.here.clone() }),
            Some(user) if roles.contains(&user.role) => Ok(user.clone()),
            Some(_) => Err(self.failed(StatusCode::FORBIDDEN, self.t.not_allowed)),
        }
    }

    /// The signed-in user, of an administration, if their role is one of `roles`; and that
    /// administration.
    pub fn tenant(&self, roles: &[UserRole]) -> Result<(Arc<Caller>, AdministrationCode), PageError> {
        let user = self.require(roles)?;
        match user.administration.clone() {
            Some(code) => Ok((user, code)),
            None => Err(self.failed(StatusCode::FORBIDDEN, self.t.not_allowed)),
        }
    }

    fn role(&self) -> Option<UserRole> {
        self.user.as_ref().map(|user| user.role)
    }

    /// Whether the signed-in user's role is one of `P`'s, for an administration.
    fn may<P: Permission>(&self) -> bool {
        self.user.as_ref().is_some_and(|user| user.administration.is_some() && P::ROLES.contains(&user.role))
    }

    /// Whether the signed-in user may ask the border question.
    pub fn may_ask_border(&self) -> bool {
        self.may::<ReadRegistry>()
    }

    /// Whether the signed-in user works in the administration's pages (`/admin`): a border
    /// officer has the border page instead.
    pub fn may_administer(&self) -> bool {
        self.may::<ReadRegistry>() && self.role() != Some(UserRole::BorderOfficer)
    }

    pub fn may_publish(&self) -> bool {
        self.may::<PublishCertificates>()
    }

    pub fn is_trader(&self) -> bool {
        self.role() == Some(UserRole::Trader)
    }

    /// MRA records, peers and users.
    pub fn may_manage(&self) -> bool {
        self.may::<ManageAdministration>()
    }

    pub fn may_read_audit(&self) -> bool {
        self.may::<ReadAudit>()
    }

    /// A slot of `slots` (expensive reads and imports are limited as in the API), or a page
    /// saying to try again.
    pub async fn slot<'a>(&self, slots: &'a Slots) -> Result<SemaphorePermit<'a>, PageError> {
        slots.enter().await.map_err(|_| self.failed(StatusCode::SERVICE_UNAVAILABLE, self.t.try_again))
    }

    /// A page of `status` saying `message`.
    pub fn failed(&self, status: StatusCode, message: &'static str) -> PageError {
        PageError::Failed { lang: self.lang, status, message }
    }

    /// What a page says when a service fails.
    pub fn service_failed(&self, error: ServiceError) -> PageError {
        match error {
            ServiceError::Unauthorized => PageError::SignIn { next: self.here.clone() },
            ServiceError::Forbidden => self.failed(StatusCode::FORBIDDEN, self.t.not_allowed),
            ServiceError::NotFound => self.failed(StatusCode::NOT_FOUND, self.t.not_found),
            ServiceError::Throttled { .. } => self.failed(StatusCode::TOO_MANY_REQUESTS, self.t.too_many_attempts),
            other => {
                let status = crate::error::ApiError::from(other).into_response().status();
                self.failed(status, self.t.try_again)
            }
        }
    }

    /// The page `page`, sent as HTML with the pages' headers.
    pub fn render(&self, status: StatusCode, page: &impl Template) -> Response {
        let mut response = match page.render() {
            Ok(html) => (status, html).into_response(),
            Err(error) => {
                tracing::error!(%error, "a page did not render");
                return failure(self.lang, StatusCode::INTERNAL_SERVER_ERROR, self.t.try_again).into_response();
            }
        };
        page_headers(response.headers_mut());
        if self.remember_lang {
            let cookie = format!("{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax", self.lang.code());
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        response
    }
}

/// The headers of every page: HTML, never cached (a page shows one user's data), the pages'
/// policy.
pub fn page_headers(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_POLICY));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::VARY, HeaderValue::from_static("Cookie, Accept-Language"));
}

/// The value of the cookie `name` of the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// How a page fails.
pub enum PageError {
    /// Not signed in (or the session ended): to the sign-in page, then back.
    SignIn {
        next: String,
    },
    Failed {
        lang: Lang,
        status: StatusCode,
        message: &'static str,
    },
}

#[derive(Template)]
#[template(path = "failed.html")]
struct Failed {
    chrome: Chrome,
    message: &'static str,
}

fn failure(lang: Lang, status: StatusCode, message: &'static str) -> PageError {
    PageError::Failed { lang, status, message }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn { next } => {
                let query = serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
                Redirect::to(&format!("/login?{query}")).into_response()
            }
            PageError::Failed { lang, status, message } => {
                let page = Failed { chrome: Chrome::bare(lang), message };
                let mut response = (status, page.render().unwrap_or_else(|_| message.to_owned())).into_response();
                page_headers(response.headers_mut());
                response
            }
        }
    }
}

/// A form that changes something, sent by a signed-in user: the CSRF token of the session must
/// come with it (field [`CSRF_FIELD`]), and not from another site; else 403 and nothing is done.
/// Its body may be at most `LIMIT` bytes.
pub struct CsrfForm<T, const LIMIT: usize = { crate::api::BODY_LIMIT }>(pub T);

impl<T: DeserializeOwned + Send, const LIMIT: usize> FromRequest<AppState> for CsrfForm<T, LIMIT> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let headers = &parts.headers;
        if LIMIT > crate::api::BODY_LIMIT {
            may_import(headers, state).await?;
        }
        let bytes = form_body(headers, body, LIMIT).await?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        let carried = fields.iter().find(|(name, _)| name == CSRF_FIELD).map(|(_, value)| value.as_str());
        check_csrf(headers, state, carried).map_err(|refused| *refused)?;
        read_form(headers, &bytes).map(CsrfForm).map_err(|refused| *refused)
    }
}

/// A form with a file (`multipart/form-data`), sent by a user who may publish certificates, checked as
/// [`CsrfForm`]; its size is bounded by the route's body limit.
pub struct CsrfUpload {
    /// The content of the form's file field (empty when none was chosen).
    pub file: Vec<u8>,
}

impl FromRequest<AppState> for CsrfUpload {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let headers = request.headers().clone();
        may_import(&headers, state).await?;
        let unreadable = |error: axum::extract::multipart::MultipartError| match error.status() {
            StatusCode::PAYLOAD_TOO_LARGE => refuse(&headers, StatusCode::PAYLOAD_TOO_LARGE, |t| t.file_too_large),
            status => refuse(&headers, status, |t| t.form_unreadable),
        };
        let mut multipart = axum::extract::Multipart::from_request(request, state)
            .await
            .map_err(|_| refuse(&headers, StatusCode::BAD_REQUEST, |t| t.form_unreadable))?;
        let (mut carried, mut file) = (None, Vec::new());
        while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
            if field.file_name().is_some() {
                file = field.bytes().await.map_err(unreadable)?.to_vec();
            } else if field.name() == Some(CSRF_FIELD) {
                carried = Some(field.text().await.map_err(unreadable)?);
            }
        }
        check_csrf(&headers, state, carried.as_deref()).map_err(|refused| *refused)?;
        Ok(CsrfUpload { file })
    }
}

/// Refuses (403) a request that comes with no live session of a user who may publish
/// certificates, before a large body is read: nobody else (not signed in, a trader, a border
/// officer) makes the node hold megabytes; only they import files. The CSRF token, in the body,
/// is checked after. Small forms need no such check: an ended session may still sign out.
async fn may_import(headers: &HeaderMap, state: &AppState) -> Result<(), Response> {
    match crate::auth::signed_in(state, headers).await {
        Ok(Some(signed_in)) if PublishCertificates::ROLES.contains(&signed_in.caller.role) => Ok(()),
        Ok(_) => Err(refuse(headers, StatusCode::FORBIDDEN, |t| t.form_refused)),
        Err(_) => Err(refuse(headers, StatusCode::SERVICE_UNAVAILABLE, |t| t.try_again)),
    }
}

/// Refuses (403) a request that changes something unless it carries the CSRF token of its
/// session and does not come from another site.
fn check_csrf(headers: &HeaderMap, state: &AppState, carried: Option<&str>) -> Result<(), Box<Response>> {
    let cross_site = headers.get("sec-fetch-site").is_some_and(|site| site.as_bytes() == b"cross-site");
    let secret = cookie(headers, crate::auth::SESSION_COOKIE);
    match (cross_site, secret, carried) {
        (false, Some(secret), Some(carried)) if state.tokens.csrf_matches(secret, carried) => Ok(()),
        _ => Err(Box::new(refuse(headers, StatusCode::FORBIDDEN, |t| t.form_refused))),
    }
}

/// A form sent before anyone is signed in (the sign-in itself): refused when another site
/// sends it, so that no page elsewhere can sign a visitor in to an account of its choosing.
pub struct SameSiteForm<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for SameSiteForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, _: &AppState) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let headers = &parts.headers;
        let cross_site = headers.get("sec-fetch-site").is_some_and(|site| site.as_bytes() == b"cross-site");
        let origin = headers.get(header::ORIGIN).and_then(|origin| origin.to_str().ok());
        let foreign_origin = origin.is_some_and(|origin| origin != "null" && !same_origin(origin, headers));
        if cross_site || foreign_origin {
            return Err(refuse(headers, StatusCode::FORBIDDEN, |t| t.form_refused));
        }
        let bytes = form_body(headers, body, crate::api::BODY_LIMIT).await?;
        read_form(headers, &bytes).map(SameSiteForm).map_err(|refused| *refused)
    }
}

/// A form's body, of at most `limit` bytes.
async fn form_body(headers: &HeaderMap, body: axum::body::Body, limit: usize) -> Result<axum::body::Bytes, Response> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| refuse(headers, StatusCode::PAYLOAD_TOO_LARGE, |t| t.form_unreadable))
}

/// The fields of a form (`application/x-www-form-urlencoded`); refused when unreadable.
fn read_form<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, Box<Response>> {
    serde_urlencoded::from_bytes(bytes)
        .map_err(|_| Box::new(refuse(headers, StatusCode::BAD_REQUEST, |t| t.form_unreadable)))
}

/// A page refusing a request before its handler ran, in the language the request asks for.
fn refuse(headers: &HeaderMap, status: StatusCode, message: fn(&Text) -> &'static str) -> Response {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok());
    let lang = Lang::negotiate(None, cookie(headers, LANG_COOKIE), accept);
    failure(lang, status, message(lang.text())).into_response()
}

/// Whether `origin` is the host the request was sent to.
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}
