//! `/border`: the border officer's one question, "is this operator recognised here, now?",
//! asked as a GET form so that a verdict has a URL to reload, share or print.

use std::sync::Arc;

use aeo_domain::{AdministrationCode, CertificateNumber, OperatorId, Reason};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use url::form_urlencoded;

use super::page::{Chrome, PageError, cookie};
use crate::app::AppState;
use crate::auth::ReadRegistry;
use crate::cache::Issuer;
use crate::recognition::{self, Answer, Judged, Source, Subject};
use crate::service::administrations;
use crate::service::federation::{self, SignedAnswer};

/// The cookie that remembers the issuer of the last question.
const ISSUER_COOKIE: &str = "border_issuer";

#[derive(Deserialize)]
pub struct Question {
    issuer: Option<String>,
    q: Option<String>,
    /// The printable view, for the declaration file: the answer signed for the record.
    print: Option<String>,
}

/// A certificate number as people type it: any case, spaces for dashes.
pub fn as_typed(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join("-").to_uppercase()
}

/// What the question names: an identifier when it reads `SCHEME:VALUE`, else a number.
fn subject(q: &str) -> Result<Subject, String> {
    match q.split_once(':') {
        Some((scheme, value)) => OperatorId::parse_pair(&format!("{}:{}", scheme.trim().to_uppercase(), value.trim()))
            .map(Subject::Identifier)
            .map_err(|error| error.to_string()),
        None => CertificateNumber::parse(&as_typed(q)).map(Subject::Certificate).map_err(|error| error.to_string()),
    }
}

/// The verdict for a certificate failing for `reasons`, as the contract names it
/// (`data-verdict`).
fn verdict(reasons: &[Reason]) -> &'static str {
    if reasons.is_empty() {
        "recognized"
    } else if reasons.contains(&Reason::IssuerUnreachable) {
        "unknown"
    } else {
        "not_recognized"
    }
}

#[derive(Template)]
#[template(path = "border.html")]
struct BorderPage {
    chrome: Chrome,
    issuers: Arc<Vec<Issuer>>,
    issuer: String,
    q: String,
    /// What was wrong with the question, if it could not be asked.
    error: Option<String>,
    answer: Option<Answer>,
    /// In the printable view: the answer, signed by the asking administration.
    record: Option<SignedAnswer>,
}

impl BorderPage {
    /// This verdict's printable view.
    fn print_url(&self) -> String {
        let query = [("issuer", self.issuer.as_str()), ("q", self.q.as_str()), ("print", "1")];
        form_urlencoded::Serializer::for_suffix("/border?".to_owned(), "/border?".len()).extend_pairs(query).finish()
    }

    fn verdict(&self) -> &'static str {
        self.answer.as_ref().map_or("", |answer| verdict(&answer.reasons))
    }

    /// The verdict for one more certificate an identifier matched.
    fn verdict_of(&self, judged: &Judged) -> &'static str {
        verdict(&judged.reasons)
    }

    fn verdict_words(&self) -> &'static str {
        self.words(self.verdict())
    }

    fn words(&self, verdict: &str) -> &'static str {
        match verdict {
            "recognized" => self.chrome.t.recognized,
            "unknown" => self.chrome.t.unknown,
            _ => self.chrome.t.not_recognized,
        }
    }

    /// Where the answer came from and how fresh it is, in words.
    fn provenance(&self, answer: &Answer) -> String {
        let (t, lang) = (self.chrome.t, self.chrome.lang);
        let age = lang.ago((Utc::now() - answer.as_of).num_seconds());
        match answer.source {
            Source::Local => t.source_local.to_owned(),
            Source::Peer => format!("{} {} ({age})", t.source_peer, answer.issuer),
            Source::Cache => format!("{} {} ({age})", t.source_cache, answer.issuer),
            Source::Mirror => format!("{} {} ({age})", t.source_mirror, answer.issuer),
        }
    }
}

/// `GET /border?issuer=&q=`
pub async fn page(
    State(app): State<AppState>,
    chrome: Chrome,
    headers: axum::http::HeaderMap,
    Query(question): Query<Question>,
) -> Result<Response, PageError> {
    let caller = chrome.require(<ReadRegistry as crate::auth::Permission>::ROLES)?;
    let Some(at) = caller.administration.clone() else {
        return Err(chrome.failed(StatusCode::FORBIDDEN, chrome.t.not_allowed));
    };
    let issuers = administrations::issuers(&app, &at).await.map_err(|error| chrome.service_failed(error))?;
    let remembered = cookie(&headers, ISSUER_COOKIE);
    let issuer = question
        .issuer
        .map(|issuer| issuer.trim().to_uppercase())
        .filter(|issuer| !issuer.is_empty())
        .or_else(|| remembered.map(str::to_owned))
        .or_else(|| issuers.iter().find(|issuer| issuer.code != at.as_str()).map(|issuer| issuer.code.clone()))
        .unwrap_or_default();
    let q = question.q.unwrap_or_default().trim().to_owned();
    let (mut error, mut answer) = (None, None);
    if !q.is_empty() {
        match (AdministrationCode::parse(&issuer), subject(&q)) {
            (Ok(code), Ok(subject)) => {
                let answered = recognition::answer(&app, &at, &code, &subject).await;
                answer = Some(answered.map_err(|error| chrome.service_failed(error))?);
            }
            (Err(message), _) => error = Some(format!("{}: {message}", chrome.t.issuer)),
            (_, Err(message)) => error = Some(format!("{}: {message}", chrome.t.number_or_identifier)),
        }
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    // Set again only when it changes: most questions are about the issuer asked last.
    let remember = (answer.is_some() && remembered != Some(issuer.as_str())).then(|| issuer.clone());
    let record = match (&answer, question.print.is_some()) {
        (Some(answer), true) => {
            let signed = federation::signed_record(&app, &at, answer).await;
            Some(signed.map_err(|error| chrome.service_failed(error))?)
        }
        _ => None,
    };
    let page = BorderPage { chrome, issuers, issuer, q, error, answer, record };
    let mut response = page.chrome.render(status, &page);
    if let Some(issuer) = remember {
        let cookie = format!("{ISSUER_COOKIE}={issuer}; Path=/border; Max-Age=31536000; SameSite=Strict; HttpOnly");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_is_read_as_people_type_it() {
        assert!(matches!(subject("cl-oea-0001"), Ok(Subject::Certificate(n)) if n.as_str() == "CL-OEA-0001"));
        assert!(matches!(subject(" CL OEA 0001 "), Ok(Subject::Certificate(n)) if n.as_str() == "CL-OEA-0001"));
        assert!(matches!(subject("cl-rut: 76.086.428-5"), Ok(Subject::Identifier(_))));
        assert!(subject("CL-RUT:").is_err());
    }
}
