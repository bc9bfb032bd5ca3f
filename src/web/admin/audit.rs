//! The administration's audit log, newest first, filtered by kind of action and by actor.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{Permission, ReadAudit};
use crate::service::audit;
use crate::store::audit::{AuditFilter, AuditRecord};
use crate::web::page::{Chrome, PageError};

/// Records on one page.
const PAGE_SIZE: u64 = 100;

/// The kinds of action the filter offers (a prefix of the action's name).
const KINDS: [&str; 6] = ["certificate.", "mra.", "user.", "session.", "peer.", "federation."];

#[derive(Default, Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    action: String,
    actor: String,
    records: Vec<AuditRecord>,
    next: Option<String>,
}

impl AuditPage {
    fn kinds(&self) -> &'static [&'static str] {
        &KINDS
    }

    fn chosen(&self, kind: &str) -> bool {
        self.action == kind
    }

    fn details(&self, record: &AuditRecord) -> String {
        match &record.details {
            serde_json::Value::Null => String::new(),
            details => details.to_string(),
        }
    }
}

/// `GET /admin/audit?action=&actor=&cursor=`
pub async fn list(
    State(app): State<AppState>,
    chrome: Chrome,
    Query(query): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let (_, at) = chrome.tenant(ReadAudit::ROLES)?;
    let action = query.action.unwrap_or_default().trim().to_owned();
    let actor = query.actor.unwrap_or_default().trim().to_owned();
    let filter = AuditFilter {
        // Only the kinds offered: a prefix is a LIKE pattern, and no pattern comes from outside.
        action: KINDS.contains(&action.as_str()).then(|| action.clone()),
        actor: (!actor.is_empty()).then(|| actor.clone()),
    };
    let before = query.cursor.as_deref().filter(|c| !c.is_empty()).and_then(crate::store::cursor::decode);
    let (records, next) = {
        let _slot = chrome.slot(&app.classes.reading).await?;
        let page = audit::page(&app, at.as_str(), &filter, PAGE_SIZE, before).await;
        page.map_err(|error| chrome.service_failed(error))?
    };
    let next = next.map(|next| {
        let cursor = crate::store::cursor::encode(next);
        serde_urlencoded::to_string([("action", action.as_str()), ("actor", actor.as_str()), ("cursor", &cursor)])
            .unwrap_or_default()
    });
    let page = AuditPage { chrome, action, actor, records, next };
    Ok(page.chrome.render(StatusCode::OK, &page))
}
