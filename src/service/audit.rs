//! An administration's audit log: every write and every federation call made or served.

use super::ServiceResult;
use crate::app::App;
use crate::store::audit::{self, AuditFilter, AuditRecord};

/// A page of `administration`'s records that `filter` lets through, newest first, before the
/// record `before`; with the record the next page starts before, if there is one.
pub async fn page(
    app: &App,
    administration: &str,
    filter: &AuditFilter,
    limit: u64,
    before: Option<i64>,
) -> ServiceResult<(Vec<AuditRecord>, Option<i64>)> {
    Ok(audit::list(&app.store.db, administration, filter, limit, before).await?)
}
