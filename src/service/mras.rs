//! An administration's records of its MRAs, one per partner.

use aeo_domain::{AdministrationCode, MraDraft, MraInput};
use serde_json::json;

use super::{After, ServiceError, ServiceResult, Work};
use crate::app::App;
use crate::store::mras::{self, Mra};

pub async fn list(app: &App, administration: &str) -> ServiceResult<Vec<Mra>> {
    Ok(mras::list(&app.store.db, administration).await?)
}

pub async fn find(app: &App, administration: &str, partner: &str) -> ServiceResult<Mra> {
    mras::find(&app.store.db, administration, partner).await?.ok_or(ServiceError::NotFound)
}

/// Creates or replaces `administration`'s record of its arrangement with `partner`; says
/// whether it was created.
pub async fn record(
    app: &App,
    administration: &AdministrationCode,
    actor: &str,
    partner: &AdministrationCode,
    input: &MraInput,
) -> ServiceResult<(Mra, bool)> {
    if partner == administration {
        return Err(ServiceError::field("partner", "an administration has no arrangement with itself"));
    }
    let draft = MraDraft::parse(input).map_err(ServiceError::Invalid)?;
    let mut work = Work::begin(app).await?;
    let recorded = record_in(&mut work, administration.as_str(), actor, partner.as_str(), &draft).await?;
    work.commit().await?;
    Ok(recorded)
}

/// Records a validated arrangement in `work`.
pub async fn record_in(
    work: &mut Work<'_>,
    administration: &str,
    actor: &str,
    partner: &str,
    draft: &MraDraft,
) -> ServiceResult<(Mra, bool)> {
    let (mra, created) = mras::upsert(&**work, administration, partner, draft).await?;
    let action = if created { "mra.created" } else { "mra.updated" };
    work.audit(Some(administration), actor, action, format!("mras/{partner}"), json!(draft));
    work.then(After::Mra { administration: administration.to_owned(), partner: partner.to_owned() });
    Ok((mra, created))
}
