//! The mirror: for each hosted administration and each issuer it follows, the latest verified
//! statement of every certificate and how far the issuer's change sequence has been applied, so
//! a border still gets an answer when the issuer's node is down.
//!
//! Everything here is keyed by the follower ([`Followed`]): a statement was verified with the
//! keys that one administration pinned, so only that administration's answers may rest on it.

use aeo_domain::OperatorId;
use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use entity::{mirror_certificate, mirror_identifier, mirror_state};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;

use super::{StoreError, StoreResult};
use crate::federation::jose::{CertificateFacts, StatementClaims, StatementIdentifier};

/// Whose mirror: the hosted administration that follows, and the issuer it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Followed<'a> {
    pub administration: &'a str,
    pub issuer: &'a str,
}

impl<'a> Followed<'a> {
    pub fn new(administration: &'a str, issuer: &'a str) -> Self {
        Followed { administration, issuer }
    }
}

/// How a held statement came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Pushed by the issuer, or pulled from its feed.
    Feed,
    /// Fetched to answer a question.
    Live,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Feed => "feed",
            Origin::Live => "live",
        }
    }

    /// The stored spelling read back; anything else counts as the feed's, which claims less
    /// (a live answer may be reported as `cache`).
    fn stored(text: &str) -> Self {
        if text == "live" { Origin::Live } else { Origin::Feed }
    }
}

/// A statement held here, decoded.
#[derive(Debug, Clone)]
pub struct Held {
    pub claims: StatementClaims,
    pub origin: Origin,
    /// Until when it is fresh: its `exp`, but never later than the follower trusts it for.
    pub statement_exp: DateTime<Utc>,
    pub statement_iat: DateTime<Utc>,
}

/// How far an issuer has been followed.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub synced_seq: i64,
    pub checkpoint_seq: i64,
    pub checkpoint_iat: Option<DateTime<Utc>>,
    pub checkpoint_exp: Option<DateTime<Utc>>,
}

impl State {
    /// Until when the whole mirror of this issuer is current: the last checkpoint's expiry,
    /// provided every change up to it has been applied.
    pub fn current_until(&self) -> Option<DateTime<Utc>> {
        self.checkpoint_exp.filter(|_| self.synced_seq >= self.checkpoint_seq)
    }

    /// The furthest position this follower has verified: applied, or vouched for by a
    /// checkpoint. A pushed change far beyond it is not taken on the pusher's word.
    pub fn verified_seq(&self) -> i64 {
        self.synced_seq.max(self.checkpoint_seq)
    }
}

pub fn instant(timestamp: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(timestamp, 0).single().unwrap_or_default()
}

/// Until when something signed at `iat` to expire at `exp` is fresh to a follower that trusts
/// a partner's word for at most `trusted_for_secs`: a partner cannot make its statements (or a
/// forged one) stand for longer than this node's own statements do.
pub fn fresh_until(iat: i64, exp: i64, trusted_for_secs: i64) -> DateTime<Utc> {
    instant(exp.min(iat.saturating_add(trusted_for_secs)))
}

impl Held {
    pub fn new(claims: StatementClaims, origin: Origin, trusted_for_secs: i64) -> Self {
        let statement_exp = fresh_until(claims.iat, claims.exp, trusted_for_secs);
        let statement_iat = instant(claims.iat);
        Held { claims, origin, statement_exp, statement_iat }
    }
}

fn decode(model: mirror_certificate::Model) -> Option<Held> {
    // Verified when it arrived; decoding again needs no key.
    let claims = jsonwebtoken::dangerous::insecure_decode_claims::<StatementClaims>(&model.statement).ok()?;
    let origin = Origin::stored(&model.origin);
    Some(Held { claims, origin, statement_exp: model.statement_exp, statement_iat: model.statement_iat })
}

impl From<mirror_state::Model> for State {
    fn from(row: mirror_state::Model) -> Self {
        State {
            synced_seq: row.synced_seq,
            checkpoint_seq: row.checkpoint_seq,
            checkpoint_iat: row.checkpoint_iat,
            checkpoint_exp: row.checkpoint_exp,
        }
    }
}

pub async fn state(conn: &impl ConnectionTrait, followed: Followed<'_>) -> StoreResult<State> {
    Ok(mirror_state::Entity::find_by_id((followed.administration.to_owned(), followed.issuer.to_owned()))
        .one(conn)
        .await?
        .map(State::from)
        .unwrap_or_default())
}

/// Every follow state: ((administration, issuer), state).
pub async fn states(conn: &impl ConnectionTrait) -> StoreResult<Vec<((String, String), State)>> {
    Ok(mirror_state::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|row| ((row.administration.clone(), row.issuer.clone()), State::from(row)))
        .collect())
}

/// Makes the follow state when there is none yet.
async fn ensure_state(conn: &impl ConnectionTrait, followed: Followed<'_>) -> StoreResult<()> {
    let fresh = mirror_state::ActiveModel {
        administration: Set(followed.administration.to_owned()),
        issuer: Set(followed.issuer.to_owned()),
        synced_seq: Set(0),
        checkpoint: Set(None),
        checkpoint_seq: Set(0),
        checkpoint_iat: Set(None),
        checkpoint_exp: Set(None),
        updated_at: Set(Utc::now()),
    };
    Ok(mirror_state::Entity::insert(fresh)
        .on_conflict(
            OnConflict::columns([mirror_state::Column::Administration, mirror_state::Column::Issuer])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?)
    .map(|_| ())
}

/// The follow state, its row locked until the transaction ends: a pushed batch and a pulled
/// page of the same issuer take turns instead of overwriting each other's progress.
pub async fn lock_state(conn: &impl ConnectionTrait, followed: Followed<'_>) -> StoreResult<State> {
    ensure_state(conn, followed).await?;
    mirror_state::Entity::find_by_id((followed.administration.to_owned(), followed.issuer.to_owned()))
        .lock_exclusive()
        .one(conn)
        .await?
        .map(State::from)
        .ok_or_else(|| StoreError::inconsistent(format!("mirror state of {}", followed.issuer)))
}

fn of(followed: Followed<'_>) -> sea_orm::Select<mirror_certificate::Entity> {
    mirror_certificate::Entity::find()
        .filter(mirror_certificate::Column::Administration.eq(followed.administration))
        .filter(mirror_certificate::Column::Issuer.eq(followed.issuer))
}

pub async fn find(conn: &impl ConnectionTrait, followed: Followed<'_>, number: &str) -> StoreResult<Option<Held>> {
    Ok(of(followed).filter(mirror_certificate::Column::Number.eq(number)).one(conn).await?.and_then(decode))
}

pub async fn find_by_identifier(
    conn: &impl ConnectionTrait,
    followed: Followed<'_>,
    id: &OperatorId,
) -> StoreResult<Vec<Held>> {
    let numbers = Query::select()
        .column(mirror_identifier::Column::Number)
        .from(mirror_identifier::Entity)
        .and_where(mirror_identifier::Column::Administration.eq(followed.administration))
        .and_where(mirror_identifier::Column::Issuer.eq(followed.issuer))
        .and_where(mirror_identifier::Column::Scheme.eq(id.scheme.as_str()))
        .and_where(mirror_identifier::Column::Value.eq(id.value.clone()))
        .to_owned();
    Ok(of(followed)
        .filter(mirror_certificate::Column::Number.in_subquery(numbers))
        .all(conn)
        .await?
        .into_iter()
        .filter_map(decode)
        .collect())
}

/// What became of a verified statement offered to the mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It is newer than what was held, and is kept.
    Kept,
    /// What is held is as new or newer; nothing changed.
    Older,
    /// It claims a position already verified for other facts (another certificate, or the same
    /// certificate as it stood otherwise): the issuer cannot have signed both honestly, and the
    /// verified one stays.
    Contradicts,
}

/// A verified statement offered to the mirror: its token and what it says.
pub type Offered<'a> = (&'a str, &'a Held);

/// What the mirror holds of one certificate, as far as deciding on a newer statement goes.
struct Current<'a> {
    seq: i64,
    statement_exp: DateTime<Utc>,
    facts: Option<&'a CertificateFacts>,
    /// Its identifiers as stored, whatever this batch replaces (`None` when none are).
    identifiers: Option<&'a [StatementIdentifier]>,
    /// The statement of this batch that replaces the stored one.
    replaced_by: Option<usize>,
}

/// Offers `statements` to the mirror in order, as if one at a time: each is kept if it is
/// newer than what is held for its certificate, unless it contradicts what is held. What is
/// held is read in one query and what changed is written in one upsert, whatever the batch's
/// size; a certificate offered twice is written once, as it ends.
pub async fn apply_all(
    conn: &impl ConnectionTrait,
    followed: Followed<'_>,
    statements: &[Offered<'_>],
) -> StoreResult<Vec<Applied>> {
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    let stored = held_for(conn, followed, statements).await?;
    let mut by_number: HashMap<&str, Current<'_>> = HashMap::new();
    let mut by_seq: HashMap<i64, &str> = HashMap::new();
    for (row, claims) in &stored {
        by_seq.insert(row.seq, row.number.as_str());
        by_number.insert(
            row.number.as_str(),
            Current {
                seq: row.seq,
                statement_exp: row.statement_exp,
                facts: claims.as_ref().map(|claims| &claims.facts),
                identifiers: claims.as_ref().map(|claims| claims.facts.operator.identifiers.as_slice()),
                replaced_by: None,
            },
        );
    }
    let today = Utc::now().date_naive();
    let mut applied = Vec::with_capacity(statements.len());
    for (index, (_, held)) in statements.iter().enumerate() {
        let claims = &held.claims;
        let current = by_number.get(claims.sub.as_str());
        let outcome = match current {
            Some(current) if current.seq == claims.seq => {
                match current.facts.is_some_and(|known| known.same_change(&claims.facts, today)) {
                    false => Applied::Contradicts,
                    true if current.statement_exp >= held.statement_exp => Applied::Older,
                    true => Applied::Kept,
                }
            }
            Some(current) if current.seq > claims.seq => Applied::Older,
            _ if by_seq.get(&claims.seq).is_some_and(|number| *number != claims.sub) => Applied::Contradicts,
            _ => Applied::Kept,
        };
        if outcome == Applied::Kept {
            let previous = by_number.insert(
                claims.sub.as_str(),
                Current {
                    seq: claims.seq,
                    statement_exp: held.statement_exp,
                    facts: Some(&claims.facts),
                    identifiers: None,
                    replaced_by: Some(index),
                },
            );
            if let Some(previous) = previous {
                by_seq.remove(&previous.seq);
                // What is stored stays known, to learn whether the identifiers change.
                if let Some(current) = by_number.get_mut(claims.sub.as_str()) {
                    current.identifiers = previous.identifiers;
                }
            }
            by_seq.insert(claims.seq, claims.sub.as_str());
        }
        applied.push(outcome);
    }
    write_all(conn, followed, statements, by_number.into_values()).await?;
    Ok(applied)
}

/// The rows held of the certificates `statements` name, or at the positions they claim, each
/// with its decoded claims (`None` if it no longer decodes).
async fn held_for(
    conn: &impl ConnectionTrait,
    followed: Followed<'_>,
    statements: &[Offered<'_>],
) -> StoreResult<Vec<(mirror_certificate::Model, Option<StatementClaims>)>> {
    let mut rows = Vec::new();
    // Bounded, so that a page of any size stays under every database's limit on parameters;
    // two queries, because SQLite reads `number IN (..) OR seq IN (..)` by scanning every row
    // the follower holds of the issuer instead of seeking in each index.
    for chunk in statements.chunks(500) {
        let numbers = chunk.iter().map(|(_, held)| held.claims.sub.as_str());
        rows.extend(of(followed).filter(mirror_certificate::Column::Number.is_in(numbers)).all(conn).await?);
        let seqs = chunk.iter().map(|(_, held)| held.claims.seq);
        rows.extend(of(followed).filter(mirror_certificate::Column::Seq.is_in(seqs)).all(conn).await?);
    }
    rows.sort_by_key(|row| row.id);
    rows.dedup_by_key(|row| row.id);
    Ok(rows
        .into_iter()
        .map(|row| {
            let claims = jsonwebtoken::dangerous::insecure_decode_claims::<StatementClaims>(&row.statement).ok();
            (row, claims)
        })
        .collect())
}

/// A row of `mirror_certificates`, as `bulk` writes it.
#[derive(Serialize)]
struct CertificateRow<'a> {
    administration: &'a str,
    issuer: &'a str,
    number: &'a str,
    seq: i64,
    origin: &'static str,
    statement: &'a str,
    #[serde(serialize_with = "super::bulk::instant")]
    statement_iat: DateTime<Utc>,
    #[serde(serialize_with = "super::bulk::instant")]
    statement_exp: DateTime<Utc>,
    #[serde(serialize_with = "super::bulk::instant")]
    received_at: DateTime<Utc>,
}

/// A row of `mirror_identifiers`, as `bulk` writes it.
#[derive(Serialize)]
struct IdentifierRow<'a> {
    administration: &'a str,
    issuer: &'a str,
    number: &'a str,
    scheme: &'a str,
    value: &'a str,
}

/// Writes the statements that replace what was held; a certificate's identifiers are written
/// again only when they change.
async fn write_all<'a>(
    conn: &impl ConnectionTrait,
    followed: Followed<'_>,
    statements: &[Offered<'_>],
    certificates: impl Iterator<Item = Current<'a>>,
) -> StoreResult<()> {
    let received_at = Utc::now();
    let mut rows = Vec::new();
    let mut renamed = Vec::new();
    for current in certificates {
        let Some(index) = current.replaced_by else { continue };
        let (token, held) = statements[index];
        let claims = &held.claims;
        rows.push(CertificateRow {
            administration: followed.administration,
            issuer: followed.issuer,
            number: &claims.sub,
            seq: claims.seq,
            origin: held.origin.as_str(),
            statement: token,
            statement_iat: held.statement_iat,
            statement_exp: held.statement_exp,
            received_at,
        });
        if current.identifiers != Some(claims.facts.operator.identifiers.as_slice()) {
            renamed.push(claims);
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    super::bulk::upsert(conn, "mirror_certificates", &["administration", "issuer", "number"], &rows).await?;
    for chunk in renamed.chunks(500) {
        mirror_identifier::Entity::delete_many()
            .filter(mirror_identifier::Column::Administration.eq(followed.administration))
            .filter(mirror_identifier::Column::Issuer.eq(followed.issuer))
            .filter(mirror_identifier::Column::Number.is_in(chunk.iter().map(|claims| claims.sub.as_str())))
            .exec(conn)
            .await?;
    }
    let identifiers: Vec<_> = renamed
        .iter()
        .flat_map(|claims| {
            claims.facts.operator.identifiers.iter().map(|id| IdentifierRow {
                administration: followed.administration,
                issuer: followed.issuer,
                number: &claims.sub,
                scheme: &id.scheme,
                value: &id.value,
            })
        })
        .collect();
    super::bulk::insert(conn, "mirror_identifiers", &identifiers).await
}

/// Forgets everything the follower holds of the issuer (statements, identifiers, its follow
/// state): what was verified with keys it no longer pins is no longer its to rely on. It is
/// pulled again, with the keys pinned now.
pub async fn forget(conn: &impl ConnectionTrait, followed: Followed<'_>) -> StoreResult<()> {
    use sea_orm::ModelTrait;
    mirror_identifier::Entity::delete_many()
        .filter(mirror_identifier::Column::Administration.eq(followed.administration))
        .filter(mirror_identifier::Column::Issuer.eq(followed.issuer))
        .exec(conn)
        .await?;
    mirror_certificate::Entity::delete_many()
        .filter(mirror_certificate::Column::Administration.eq(followed.administration))
        .filter(mirror_certificate::Column::Issuer.eq(followed.issuer))
        .exec(conn)
        .await?;
    if let Some(state) =
        mirror_state::Entity::find_by_id((followed.administration.to_owned(), followed.issuer.to_owned()))
            .one(conn)
            .await?
    {
        state.delete(conn).await?;
    }
    Ok(())
}

async fn save_state(
    conn: &impl ConnectionTrait,
    followed: Followed<'_>,
    update: impl FnOnce(&mut mirror_state::ActiveModel),
) -> StoreResult<()> {
    ensure_state(conn, followed).await?;
    let mut model = mirror_state::ActiveModel {
        administration: sea_orm::ActiveValue::Unchanged(followed.administration.to_owned()),
        issuer: sea_orm::ActiveValue::Unchanged(followed.issuer.to_owned()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    update(&mut model);
    mirror_state::Entity::update(model).exec(conn).await?;
    Ok(())
}

/// Records that every change of the issuer up to `seq` has been applied.
pub async fn set_synced(conn: &impl ConnectionTrait, followed: Followed<'_>, seq: i64) -> StoreResult<()> {
    save_state(conn, followed, |model| model.synced_seq = Set(seq)).await
}

/// A verified checkpoint: the issuer's position `seq`, current from `iat` until `until`.
pub struct Checkpoint<'a> {
    pub token: &'a str,
    pub seq: i64,
    pub iat: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

pub async fn set_checkpoint(
    conn: &impl ConnectionTrait,
    followed: Followed<'_>,
    checkpoint: &Checkpoint<'_>,
) -> StoreResult<()> {
    save_state(conn, followed, |model| {
        model.checkpoint = Set(Some(checkpoint.token.to_owned()));
        model.checkpoint_seq = Set(checkpoint.seq);
        model.checkpoint_iat = Set(Some(checkpoint.iat));
        model.checkpoint_exp = Set(Some(checkpoint.until));
    })
    .await
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use serde_json::json;

    use super::*;
    use crate::store::testing::{Backend, TestStore};

    /// A statement of `number` at `seq`, fresh until `exp`, its operator known by the EORI numbers `ruts`. The
    /// mirror decodes what it holds without a key, so the signature here is any bytes.
    fn statement(number: &str, seq: i64, exp: i64, status: &str, ruts: &[&str]) -> (String, Held) {
        let claims: StatementClaims = serde_json::from_value(json!({
            "iss": "XX", "sub": number, "iat": 1_000, "exp": exp, "seq": seq,
            "status": status, "category": "security", "roles": ["exporter"],
            "valid_from": "2024-01-01", "valid_until": "2099-01-01", "status_reason": null,
            "operator": {"name": format!("Operador {number}"),
                         "identifiers": ruts.iter().map(|rut| json!({"scheme": "EORI", "value": rut})).collect::<Vec<_>>()}
        }))
        .expect("claims");
        let encode =
            |value: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
        let token = format!(
            "{}.{}.c2ln",
            encode(&json!({"alg": "EdDSA"})),
            encode(&serde_json::to_value(&claims).expect("json"))
        );
        (token, Held::new(claims, Origin::Feed, i64::MAX))
    }

    async fn offer(store: &crate::store::Store, followed: Followed<'_>, statements: &[(String, Held)]) -> Vec<Applied> {
        let txn = store.write().await.expect("write");
        let offered: Vec<Offered<'_>> = statements.iter().map(|(token, held)| (token.as_str(), held)).collect();
        let applied = apply_all(&txn, followed, &offered).await.expect("apply");
        txn.commit().await.expect("commit");
        applied
    }

    /// Everything the mirror answers of the certificates and identifiers of the scenario.
    async fn held(store: &crate::store::Store, followed: Followed<'_>) -> Vec<String> {
        let mut seen = Vec::new();
        for number in ["N-1", "N-2", "N-3", "N-4"] {
            let held = find(&store.db, followed, number).await.expect("find");
            seen.push(format!("{number}: {:?}", held.map(|held| (held.claims, held.statement_exp))));
        }
        for rut in ["R1", "R2", "R2B", "R3", "R4"] {
            let id = OperatorId { scheme: "EORI".parse().expect("scheme"), value: rut.into() };
            let mut numbers: Vec<_> = find_by_identifier(&store.db, followed, &id)
                .await
                .expect("by identifier")
                .into_iter()
                .map(|held| held.claims.sub)
                .collect();
            numbers.sort();
            seen.push(format!("{rut}: {numbers:?}"));
        }
        seen
    }

    /// A batch is decided as if its statements came one at a time: a certificate offered twice
    /// ends as its last kept statement, a position freed earlier in the batch may be taken
    /// later in it, and identifiers are replaced exactly when they change.
    async fn a_batch_ends_as_its_statements_offered_one_at_a_time(backend: Backend) {
        let test = TestStore::new(backend).await;
        let store = &test.store;
        let (batch, one_by_one) = (Followed::new("AA", "XX"), Followed::new("BB", "XX"));
        let before = [statement("N-1", 1, 5_000, "active", &["R1"]), statement("N-2", 2, 5_000, "active", &["R2"])];
        let offered = [
            statement("N-1", 1, 6_000, "active", &["R1"]),
            statement("N-1", 1, 5_500, "active", &["R1"]),
            statement("N-2", 2, 6_000, "revoked", &["R2"]),
            statement("N-3", 2, 6_000, "active", &["R3"]),
            statement("N-3", 5, 6_000, "active", &["R3"]),
            statement("N-3", 4, 6_000, "active", &["R3"]),
            statement("N-2", 6, 6_000, "suspended", &["R2B"]),
            statement("N-4", 2, 6_000, "active", &["R4"]),
            statement("N-3", 7, 6_000, "suspended", &["R3"]),
        ];
        use Applied::*;
        let expected = [Kept, Older, Contradicts, Contradicts, Kept, Older, Kept, Kept, Kept];

        assert_eq!(offer(store, batch, &before).await, [Kept, Kept]);
        assert_eq!(offer(store, batch, &offered).await, expected);
        assert_eq!(offer(store, one_by_one, &before).await, [Kept, Kept]);
        let mut applied = Vec::new();
        for statement in &offered {
            applied.extend(offer(store, one_by_one, std::slice::from_ref(statement)).await);
        }
        assert_eq!(applied, expected, "one at a time");
        let held_batch = held(store, batch).await;
        assert_eq!(held_batch, held(store, one_by_one).await);
        let expected_numbers = ["R1: [\"N-1\"]", "R2: []", "R2B: [\"N-2\"]", "R3: [\"N-3\"]", "R4: [\"N-4\"]"];
        assert_eq!(held_batch[4..], expected_numbers, "each identifier once, the replaced one gone");
        let n1 = find(&store.db, batch, "N-1").await.expect("find").expect("N-1");
        assert_eq!(n1.statement_exp, instant(6_000), "the refreshed statement is kept");
        let n3 = find(&store.db, batch, "N-3").await.expect("find").expect("N-3");
        assert_eq!((n3.claims.seq, n3.claims.facts.status), (7, aeo_domain::Status::Suspended));
        let others = find(&store.db, Followed::new("CC", "XX"), "N-1").await.expect("find");
        assert!(others.is_none(), "what one administration holds is not another's");
    }

    #[tokio::test]
    async fn a_batch_ends_as_one_at_a_time_on_sqlite() {
        a_batch_ends_as_its_statements_offered_one_at_a_time(Backend::Sqlite).await
    }

    #[tokio::test]
    async fn a_batch_ends_as_one_at_a_time_on_postgres() {
        a_batch_ends_as_its_statements_offered_one_at_a_time(Backend::Postgres).await
    }

    #[test]
    fn every_origin_reads_back_as_it_was_stored() {
        for origin in [Origin::Feed, Origin::Live] {
            assert_eq!(Origin::stored(origin.as_str()), origin);
        }
        assert_eq!(Origin::stored("anything else"), Origin::Feed, "an unknown origin claims the least");
    }
}
