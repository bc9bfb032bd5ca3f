//! The administration's audit log, newest first.

use axum::Json;
use axum::extract::State;

use super::extract::{ApiQuery, Page, Paged};
use crate::app::AppState;
use crate::auth::{ReadAudit, Tenant};
use crate::error::{ApiResult, Problem};
use crate::service::audit;
use crate::store::audit::{AuditFilter, AuditRecord};

/// Every write and every federation call made or served, newest first.
#[utoipa::path(get, path = "/api/v1/administrations/{code}/audit", tag = "audit", security(("bearer" = [])),
    params(("code" = String, Path), Page),
    responses((status = 200, body = Paged<AuditRecord>), (status = 404, body = Problem)))]
pub async fn list_audit(
    State(app): State<AppState>,
    tenant: Tenant<ReadAudit>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Paged<AuditRecord>>> {
    let (limit, before) = page.parse()?;
    let _slot = app.classes.reading.enter().await?;
    let (items, next) = audit::page(&app, tenant.code(), &AuditFilter::default(), limit, before).await?;
    Ok(Json(Paged::new(items, next)))
}
