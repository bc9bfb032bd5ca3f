//! Statements signed once per change and freshness window, not once per request.
//!
//! - **Ahead**: for every administration that has partners, [`sign_ahead`] keeps a statement of
//!   each of its certificates in the database (`store::statements`), signed again when the
//!   certificate changed, the signing key changed, the day changed what it derives (an expiry),
//!   or a third of its freshness is used up (spread evenly over that third, see [`sign_due`]),
//!   and keeps it in memory too as far as there is room. A partner's question then reads
//!   memory, or else one row.
//! - **In memory**: beside each summary, the statement signed or served lately, forgotten with
//!   the summary when the certificate changes.
//! - **On demand**: a certificate without a statement that may be served (changed since the
//!   last round, say) is read and signed for the question, and kept in memory.
//!
//! A statement is served while it has at least half its freshness left: what a partner holds
//! stays fresh at least half as long as if it had been signed for it. None is ever served of a
//! change older than the certificate's: a kept row stands only while its `seq` is the
//! certificate's, and memory forgets on every change this node learns of.

use std::sync::Arc;
use std::time::Duration;

use aeo_domain::freshness::Signing;
use chrono::{NaiveDate, Utc};
use tokio::sync::watch;

use super::jose::{self, CertificateState};
use super::keys::SigningKey;
use crate::app::{App, AppState};
use crate::cache::summaries::SummaryCache;
use crate::idle::IdleThread;
use crate::service::Work;
use crate::store::certificates::{self, Certificate};
use crate::store::statements::{self, Kept, SignedStatement, Standing};
use crate::store::{administrations, peers};

/// How often the signer goes over the certificates; also the shortest freshness it signs ahead
/// for is three times this, so that what it signs is not due again by its next round.
const ROUND: Duration = Duration::from_secs(10);

/// Certificates looked at, and at most signed, per transaction of the signer.
const PAGE: u64 = 500;

/// Whether statements fresh for `ttl_secs` are signed ahead: not when what a round signed would
/// be due again by the next one; questions then sign on demand.
fn signs_ahead(ttl_secs: i64) -> bool {
    ttl_secs >= 3 * ROUND.as_secs() as i64
}

/// Now, in milliseconds since the epoch.
fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// The statement to serve of the administration's certificate `number`, signed with `key`:
/// kept in memory, else kept in the database, else signed now. `None` when there is no such
/// certificate.
pub async fn served(app: &App, key: &SigningKey, administration: &str, number: &str) -> anyhow::Result<Option<String>> {
    let (cache, ttl) = (&app.hot.certificates, app.settings.statement_ttl_secs());
    let (now, today) = (now_ms(), certificates::today());
    if let Some(signed) = cache.signed(administration, number)
        && signed.signing.may_serve(&key.kid, now, today, ttl)
    {
        return Ok(Some(signed.token.clone()));
    }
    let read_at = cache.reading();
    // Without signing ahead no row is kept that may be served.
    let kept = if signs_ahead(ttl) { app.store.statement(administration, number, read_at).await? } else { None };
    if let Some(kept) = kept
        && kept.signing.may_serve(&key.kid, now, today, ttl)
    {
        let token = kept.token.clone();
        cache.keep_signed(administration, number, kept, read_at);
        return Ok(Some(token));
    }
    match app.store.certificate(administration, number, read_at).await? {
        Some(certificate) => Ok(Some(statement(cache, key, &certificate, ttl, read_at)?)),
        None => Ok(None),
    }
}

/// `certificate`'s statement signed now with `key`, fresh for `ttl_secs`.
fn sign(key: &SigningKey, certificate: &Certificate, ttl_secs: i64) -> anyhow::Result<SignedStatement> {
    let signing = Signing {
        kid: key.kid.clone(),
        signed_at: now_ms(),
        signed_on: certificates::today(),
        valid_until: certificate.valid_until,
    };
    let token = jose::sign_statement(key, &CertificateState::from(certificate), certificate.seq, ttl_secs)?;
    Ok(SignedStatement { token, seq: certificate.seq, signing })
}

/// The statement of `certificate`, read once the cache's count was `read_at`, signed with
/// `key` and fresh for `ttl_secs`: the one kept in memory when it is of the same change and may
/// be served, else signed now and kept.
pub fn statement(
    cache: &SummaryCache,
    key: &SigningKey,
    certificate: &Certificate,
    ttl_secs: i64,
    read_at: u64,
) -> anyhow::Result<String> {
    let (administration, number) = (&certificate.administration, &certificate.number);
    if let Some(signed) = cache.signed(administration, number)
        && signed.seq == certificate.seq
        && signed.signing.may_serve(&key.kid, now_ms(), certificates::today(), ttl_secs)
    {
        return Ok(signed.token.clone());
    }
    let signed = sign(key, certificate, ttl_secs)?;
    if ttl_secs == 0 {
        // Never served again: not worth the memory it would take from others.
        return Ok(signed.token);
    }
    let token = signed.token.clone();
    cache.keep_signed(administration, number, signed, read_at);
    Ok(token)
}

/// Keeps a statement of every certificate of the administrations that have partners, signed
/// ahead of the questions, until `stop`.
pub async fn sign_ahead(app: AppState, mut stop: watch::Receiver<bool>) {
    // Signing a registry's statements is seconds of CPU: taken only from what answers leave.
    let signer = match IdleThread::start("sign-ahead") {
        Ok(signer) => signer,
        Err(error) => {
            tracing::error!(%error, "no thread to sign statements ahead: partners are answered by signing on demand");
            return;
        }
    };
    let mut last = None;
    loop {
        if let Err(error) = sign_due(&app, Some(&signer), &mut last).await {
            tracing::warn!(%error, "signing statements ahead failed; the next round tries again");
        }
        tokio::select! {
            _ = tokio::time::sleep(ROUND) => {}
            _ = app.federation.sign_needed.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

/// What a finished round leaves behind for the next: the next goes over only what changed
/// since and what is due, unless the administrations that sign ahead, their keys or the day
/// changed (a day can expire certificates), which make it go over every certificate again.
#[derive(Debug)]
pub struct Round {
    /// Each administration that has partners, with its signing key's `kid`.
    signers: Vec<(String, String)>,
    day: NaiveDate,
    /// Per signer, in the same order: the place in its change sequence gone over.
    through: Vec<i64>,
    /// When the round started, in milliseconds since the epoch.
    started_ms: i64,
}

/// What a round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// The certificates it looked at.
    pub looked_at: usize,
    /// The statements it signed and kept.
    pub signed: usize,
}

/// One round: signs and keeps, on `signer` if given, a page at a time,
/// - after `last` is `None` (a start, or a round that could not finish) or tells of other
///   signers or another day: every statement missing or due, going over every certificate;
/// - else the statements of the certificates changed since `last`, those due, and as many of
///   the oldest as keep the re-signing even: a round signs again the share of the kept
///   statements its time since `last` is of a third of their freshness. Without that, the
///   statements signed together (at the first round, by an import) would keep coming due
///   together, a burst of seconds of work taken from the partners' questions every time.
///
/// Leaves in `last` what this round found (`None` when it could not finish).
pub async fn sign_due(app: &App, signer: Option<&IdleThread>, last: &mut Option<Round>) -> anyhow::Result<Done> {
    let mut done = Done { looked_at: 0, signed: 0 };
    let ttl = app.settings.statement_ttl_secs();
    if !signs_ahead(ttl) {
        return Ok(done);
    }
    let (started_ms, day) = (now_ms(), certificates::today());
    let mut signers = Vec::new();
    for administration in administrations::list(&app.store.db).await? {
        let code = administration.code;
        // Only partners ask for statements.
        if !peers::list(&app.store.db, &code).await?.is_empty() {
            let kid = app.federation.keyring.active(&app.store.db, &code).await?.kid.clone();
            signers.push((code, kid));
        }
    }
    // Taken until the round ends well: an error or a lost claim leaves the next to go over all.
    let since = last.take().filter(|last| last.signers == signers && last.day == day);
    let mut through = Vec::with_capacity(signers.len());
    for (index, (code, kid)) in signers.iter().enumerate() {
        let key = app.federation.keyring.active(&app.store.db, code).await?;
        if key.kid != *kid {
            // Rotated since the round began: the next goes over everything with the new key.
            return Ok(done);
        }
        let pass = Pass { app, signer, key, code, ttl, done: &mut done };
        let finished = match &since {
            None => pass.every_certificate().await?,
            Some(since) => pass.changed_and_due(since.through[index], since.started_ms, started_ms).await?,
        };
        match finished {
            Some(position) => through.push(position),
            // Another process shares the database and signs ahead now.
            None => return Ok(done),
        }
    }
    *last = Some(Round { signers, day, through, started_ms });
    Ok(done)
}

/// A round's pass over one administration's statements, signed with its active `key` and
/// fresh for `ttl` seconds.
struct Pass<'a> {
    app: &'a App,
    signer: Option<&'a IdleThread>,
    key: Arc<SigningKey>,
    code: &'a str,
    ttl: i64,
    done: &'a mut Done,
}

impl Pass<'_> {
    /// Goes over every certificate, signing what is missing or due. Returns the place in the
    /// administration's change sequence gone over, or `None` when another process signs.
    async fn every_certificate(mut self) -> anyhow::Result<Option<i64>> {
        let db = &self.app.store.db;
        // Read first: a change during the pass is after it, and the next round signs it.
        let through = statements::last_change(db, self.code).await?;
        let mut after = 0;
        loop {
            let page = statements::standing(db, self.code, after, PAGE).await?;
            let Some(last) = page.last() else { return Ok(Some(through)) };
            after = last.certificate_id;
            self.done.looked_at += page.len();
            let due: Vec<i64> = page
                .iter()
                .filter(|standing| is_due(standing, &self.key.kid, self.ttl))
                .map(|standing| standing.certificate_id)
                .collect();
            if !self.sign_and_keep(&due).await? {
                return Ok(None);
            }
        }
    }

    /// Signs the statements of the certificates changed after the place `through` in the
    /// administration's change sequence, then those due and the even share of the oldest for
    /// the time since the last round started (`last_started_ms`) until this one (`started_ms`).
    /// Returns the place gone over, or `None` when another process signs.
    async fn changed_and_due(
        mut self,
        mut through: i64,
        last_started_ms: i64,
        started_ms: i64,
    ) -> anyhow::Result<Option<i64>> {
        let db = &self.app.store.db;
        loop {
            let changed = statements::changed_since(db, self.code, through, PAGE).await?;
            let Some(&(_, last)) = changed.last() else { break };
            through = last;
            self.done.looked_at += changed.len();
            let ids: Vec<i64> = changed.iter().map(|(id, _)| *id).collect();
            if !self.sign_and_keep(&ids).await? {
                return Ok(None);
            }
        }
        let third_ms = self.ttl.saturating_mul(1000) / 3;
        let (kept, due) = statements::kept_with(db, &self.key.kid, started_ms - third_ms).await?;
        let mut left = due.max(even_share(kept, started_ms - last_started_ms, third_ms));
        while left > 0 {
            let ids = statements::oldest(db, self.code, &self.key.kid, left.min(PAGE)).await?;
            if ids.is_empty() {
                break;
            }
            left = left.saturating_sub(ids.len() as u64);
            self.done.looked_at += ids.len();
            if !self.sign_and_keep(&ids).await? {
                return Ok(None);
            }
        }
        Ok(Some(through))
    }

    /// Signs the statements of the certificates `ids` and keeps them, in the database and in
    /// memory; `false` when another process is doing the same (PostgreSQL), and nothing was kept.
    async fn sign_and_keep(&mut self, ids: &[i64]) -> anyhow::Result<bool> {
        if ids.is_empty() {
            return Ok(true);
        }
        let (app, ttl, key) = (self.app, self.ttl, Arc::clone(&self.key));
        let cache = &app.hot.certificates;
        // Taken before the read: what changes meanwhile is not kept in memory (see `keep_signed`).
        let read_at = cache.reading();
        let certificates = certificates::by_ids(&app.store.db, ids).await?;
        let sign_all = move || -> anyhow::Result<Vec<(Certificate, SignedStatement)>> {
            certificates
                .into_iter()
                .map(|certificate| {
                    let signed = sign(&key, &certificate, ttl)?;
                    Ok((certificate, signed))
                })
                .collect()
        };
        let signed = match self.signer {
            Some(signer) => signer.run(sign_all).await??,
            None => sign_all()?,
        };
        let kept: Vec<Kept<'_>> = signed
            .iter()
            .map(|(certificate, SignedStatement { token, seq, signing })| Kept {
                certificate_id: certificate.id,
                seq: *seq,
                kid: &signing.kid,
                signed_at: signing.signed_at,
                signed_on: signing.signed_on,
                token,
            })
            .collect();
        let work = Work::begin_when_free(app).await?;
        if !statements::claim_signing(&*work).await? {
            work.rollback().await?;
            return Ok(false);
        }
        statements::keep(&*work, &kept).await?;
        work.commit().await?;
        self.done.signed += kept.len();
        drop(kept);
        // Questions are then answered from memory, without reading the row, as far as it holds.
        for (certificate, signed) in signed {
            cache.keep_signed(&certificate.administration, &certificate.number, signed, read_at);
        }
        Ok(true)
    }
}

/// How many of `kept` statements a round signs again `elapsed_ms` after the last, for each to
/// be signed again once every `every_ms`, evenly.
fn even_share(kept: u64, elapsed_ms: i64, every_ms: i64) -> u64 {
    if every_ms <= 0 {
        return kept;
    }
    let elapsed = u128::try_from(elapsed_ms.clamp(0, every_ms)).unwrap_or(0);
    let share = u128::from(kept) * elapsed / u128::try_from(every_ms).unwrap_or(1);
    u64::try_from(share).unwrap_or(kept)
}

/// Whether the certificate's kept statement is missing or due.
fn is_due(standing: &Standing, active_kid: &str, ttl_secs: i64) -> bool {
    let Some((seq, signing)) = &standing.kept else { return true };
    *seq != standing.seq || signing.due(active_kid, now_ms(), certificates::today(), ttl_secs)
}

#[cfg(test)]
mod tests {
    use aeo_domain::{AdministrationCode, Category, Status};
    use chrono::{Days, Utc};
    use sea_orm::ConnectionTrait;

    use super::*;
    use crate::service;
    use crate::store::certificates::{AddressView, OperatorView};
    use crate::store::testing::{Backend, TestStore};

    fn certificate(seq: i64) -> Certificate {
        Certificate {
            number: "CL-1".into(),
            administration: "CL".into(),
            status: Status::Active,
            category: Category::Security,
            roles: Vec::new(),
            valid_from: certificates::today(),
            valid_until: certificates::today() + Days::new(30),
            status_reason: None,
            operator: OperatorView {
                name: "Exportadora".into(),
                identifiers: Vec::new(),
                address: AddressView {
                    street: "Calle 1".into(),
                    city: "Valparaíso".into(),
                    postal_code: "2340000".into(),
                    country: "CL".into(),
                },
                public: true,
            },
            version: 1,
            updated_at: Utc::now(),
            stored_status: Status::Active,
            id: 1,
            seq,
        }
    }

    /// The statement kept in memory of CL-1, if it may be served now with `key`.
    fn kept(cache: &SummaryCache, key: &SigningKey, ttl: i64) -> Option<String> {
        let signed = cache.signed("CL", "CL-1")?;
        signed.signing.may_serve(&key.kid, now_ms(), certificates::today(), ttl).then(|| signed.token.clone())
    }

    #[test]
    fn a_statement_is_signed_again_only_when_its_certificate_key_or_freshness_changed() {
        let cache = SummaryCache::new(1 << 20, 1 << 20);
        let sign =
            |key: &SigningKey, seq: i64, ttl: i64| statement(&cache, key, &certificate(seq), ttl, cache.reading());
        let (key, _) = SigningKey::ephemeral().expect("key");
        let first = sign(&key, 7, 300).expect("signed");
        assert_eq!(sign(&key, 7, 300).expect("signed"), first, "signed again");
        assert_eq!(kept(&cache, &key, 300).as_deref(), Some(first.as_str()), "not kept");
        let changed = sign(&key, 8, 300).expect("signed");
        assert_ne!(changed, first, "a change kept the old statement");
        let (other_key, _) = SigningKey::ephemeral().expect("key");
        assert_eq!(kept(&cache, &other_key, 300), None, "kept across a new key");
        assert_ne!(sign(&other_key, 8, 300).expect("signed"), changed, "a new key");
        // Fresh for one second, a statement is served again for half of one, no longer.
        let once = sign(&key, 9, 1).expect("signed");
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(kept(&cache, &key, 1), None, "kept past its window");
        assert_ne!(sign(&key, 9, 1).expect("signed"), once, "reused past its window");
        // Fresh for no time at all, a statement is never served again, so it takes no memory.
        let never = SummaryCache::new(1 << 20, 1 << 20);
        statement(&never, &key, &certificate(10), 0, never.reading()).expect("signed");
        assert!(never.signed("CL", "CL-1").is_none(), "a statement fresh for 0 s was kept");
    }

    #[test]
    fn a_statement_signed_from_a_read_older_than_a_change_is_not_kept() {
        let cache = SummaryCache::new(1 << 20, 1 << 20);
        let (key, _) = SigningKey::ephemeral().expect("key");
        let read_at = cache.reading();
        // A change to some certificate is forgotten between the read and the keeping.
        cache.forget("CL", &["CL-2".to_owned()]);
        statement(&cache, &key, &certificate(7), 300, read_at).expect("signed");
        assert_eq!(kept(&cache, &key, 300), None, "a read from before a change was kept");
        statement(&cache, &key, &certificate(7), 300, cache.reading()).expect("signed");
        assert!(kept(&cache, &key, 300).is_some(), "a current read was not kept");
        cache.forget("CL", &["CL-1".to_owned()]);
        assert_eq!(kept(&cache, &key, 300), None, "a change did not forget the statement");
    }

    /// What is kept of each of CL's certificates: (number, kept statement's seq or none,
    /// whether it is of the certificate's current change).
    async fn standing(app: &App) -> Vec<(String, Option<i64>, bool)> {
        let page = statements::standing(&app.store.db, "CL", 0, 100).await.expect("standing");
        page.into_iter()
            .map(|s| {
                let kept_seq = s.kept.as_ref().map(|(seq, _)| *seq);
                (s.number, kept_seq, kept_seq == Some(s.seq))
            })
            .collect()
    }

    async fn signs_ahead_for_partners_and_never_serves_a_statement_of_an_older_change(backend: Backend) {
        let test = TestStore::new(backend).await;
        let mut settings = crate::Settings::for_database(&test.url, test.dir().join("node.key"));
        // The partner is registered at an address never called.
        settings.federation_allow_private = true;
        let app = crate::start(settings).await.expect("start");
        let new = service::administrations::NewAdministration {
            code: "CL",
            name: "Aduana de Chile",
            country: "CL",
            programme: "OEA",
        };
        service::administrations::create(&app, "test", &new).await.expect("CL");
        let by = service::certificates::Publisher { administration: "CL", actor: "test" };
        let (input, _) = crate::demo::examples();
        let mut numbers = Vec::new();
        for _ in 0..3 {
            let mut input = input.clone();
            input.number = None;
            numbers.push(service::certificates::publish(&app, by, &input).await.expect("publish").number);
        }

        // Without partners, nobody asks: nothing is signed ahead.
        let mut last = None;
        assert_eq!(sign_due(&app, None, &mut last).await.expect("round"), Done { looked_at: 0, signed: 0 });
        assert!(standing(&app).await.iter().all(|(_, kept, _)| kept.is_none()), "{:?}", standing(&app).await);

        let (_, partner_jwks) = SigningKey::ephemeral().expect("key");
        let cl = AdministrationCode::parse("CL").expect("code");
        let jwks = serde_json::to_value(&partner_jwks).expect("jwks");
        service::peers::register(&app, &cl, "test", "PE", Some("http://127.0.0.1:9"), Some(jwks)).await.expect("peer");
        let round = sign_due(&app, None, &mut last).await.expect("round");
        assert_eq!(round, Done { looked_at: 3, signed: 3 }, "a new partner starts a round over everything");
        let kept = standing(&app).await;
        assert_eq!(kept.len(), 3);
        assert!(kept.iter().all(|(_, _, current)| *current), "every certificate's statement is kept: {kept:?}");
        // Nothing changed and nothing is due: the next round reads nothing.
        assert_eq!(sign_due(&app, None, &mut last).await.expect("round"), Done { looked_at: 0, signed: 0 });

        // Served from the row, as kept, without signing.
        let key = app.federation.keyring.active(&app.store.db, "CL").await.expect("key");
        let first = &numbers[0];
        let row = statements::current(&app.store.db, "CL", first).await.expect("read").expect("kept");
        // Kept in memory too: the first question reads no row.
        let in_memory = app.hot.certificates.signed("CL", first).expect("kept in memory");
        assert_eq!((in_memory.seq, &in_memory.token), (row.seq, &row.token), "memory holds what the row holds");
        assert_eq!(served(&app, &key, "CL", first).await.expect("served"), Some(row.token.clone()));
        assert_eq!(served(&app, &key, "CL", "CL-AEO-999999").await.expect("served"), None);

        // A change leaves the kept row behind: the next question is answered of the change,
        // and the next round signs that statement ahead again, and only it.
        let suspended = service::certificates::change_status(&app, by, first, Some("suspended"), Some("auditoría"))
            .await
            .expect("suspend");
        assert_eq!(statements::current(&app.store.db, "CL", first).await.expect("read"), None, "a stale row stands");
        assert!(app.hot.certificates.signed("CL", first).is_none(), "memory kept a statement of the older change");
        let answered = served(&app, &key, "CL", first).await.expect("served").expect("statement");
        let published = super::super::keys::published(&app.store.db, "CL").await.expect("keys");
        let claims = jose::verify_statement(&answered, "CL", &published, false).expect("verifies");
        assert_eq!(claims.seq, suspended.seq, "served of the change");
        let round = sign_due(&app, None, &mut last).await.expect("round");
        assert_eq!(round, Done { looked_at: 1, signed: 1 }, "a change is signed, alone");
        assert!(standing(&app).await.iter().all(|(_, _, current)| *current), "signed again after the change");
        assert_eq!(sign_due(&app, None, &mut last).await.expect("round"), Done { looked_at: 0, signed: 0 });
        // A round that did not finish leaves the next to go over every certificate.
        assert_eq!(sign_due(&app, None, &mut None).await.expect("round"), Done { looked_at: 3, signed: 0 });

        // Half of a third of the freshness after the last round, the oldest half of the
        // statements is signed again (rounded down: one of three), though none is due yet.
        app.store
            .db
            .execute_unprepared("UPDATE signed_statements SET signed_at = signed_at - 60000")
            .await
            .expect("age");
        let before = signed_at(&app).await;
        let oldest = before.iter().min_by_key(|(number, at)| (*at, numbers.iter().position(|n| n == number))).cloned();
        last.as_mut().expect("a finished round").started_ms -= 50_000;
        assert_eq!(sign_due(&app, None, &mut last).await.expect("round"), Done { looked_at: 1, signed: 1 });
        let after = signed_at(&app).await;
        let again: Vec<_> = before.iter().filter(|was| !after.contains(was)).cloned().collect();
        assert_eq!(again, Vec::from_iter(oldest), "not the oldest was signed again: {before:?} then {after:?}");
        // What is due is signed, however little time passed since the last round.
        app.store
            .db
            .execute_unprepared("UPDATE signed_statements SET signed_at = signed_at - 100000")
            .await
            .expect("age");
        assert_eq!(sign_due(&app, None, &mut last).await.expect("round"), Done { looked_at: 3, signed: 3 });
        assert_eq!(sign_due(&app, None, &mut last).await.expect("round"), Done { looked_at: 0, signed: 0 });

        // A statement of another administration's certificate under CL's key, however long
        // ago, is never signed again with it: a round takes only CL's certificates.
        let pe =
            service::administrations::NewAdministration { code: "PE", name: "SUNAT", country: "PE", programme: "OEA" };
        service::administrations::create(&app, "test", &pe).await.expect("PE");
        let mut input = input.clone();
        input.number = None;
        let by_pe = service::certificates::Publisher { administration: "PE", actor: "test" };
        service::certificates::publish(&app, by_pe, &input).await.expect("publish at PE");
        let planted = format!(
            "INSERT INTO signed_statements (certificate_id, seq, kid, signed_at, signed_on, token) \
             SELECT id, seq, '{}', 0, '2026-01-01', 'planted' FROM certificates WHERE administration = 'PE'",
            key.kid
        );
        app.store.db.execute_unprepared(&planted).await.expect("plant");
        sign_due(&app, None, &mut last).await.expect("round");
        let backend = app.store.db.get_database_backend();
        let token = sea_orm::Statement::from_string(
            backend,
            "SELECT s.token FROM signed_statements s JOIN certificates c ON c.id = s.certificate_id \
             WHERE c.administration = 'PE'",
        );
        let row = app.store.db.query_one_raw(token).await.expect("read").expect("the planted row");
        assert_eq!(
            row.try_get_by_index::<String>(0).expect("token"),
            "planted",
            "PE's certificate signed with CL's key"
        );
    }

    /// When each of CL's kept statements was signed: (number, milliseconds since the epoch).
    async fn signed_at(app: &App) -> Vec<(String, i64)> {
        let page = statements::standing(&app.store.db, "CL", 0, 100).await.expect("standing");
        page.into_iter().filter_map(|s| Some((s.number, s.kept?.1.signed_at))).collect()
    }

    #[test]
    fn each_round_signs_again_its_share_of_the_kept_statements() {
        // (kept, ms since the last round, every ms) → signed again
        for (kept, elapsed, every, share) in [
            (100_000, 10_000, 100_000, 10_000),
            (100_000, 250_000, 100_000, 100_000),
            (3, 10_000, 100_000, 0),
            (0, 10_000, 100_000, 0),
            (100_000, -5, 100_000, 0),
            (7, 10, 0, 7),
            (u64::MAX, i64::MAX, i64::MAX, u64::MAX),
        ] {
            assert_eq!(even_share(kept, elapsed, every), share, "{kept} kept, {elapsed} ms of {every}");
        }
    }

    #[tokio::test]
    async fn on_sqlite_signs_ahead_for_partners_and_never_serves_a_statement_of_an_older_change() {
        signs_ahead_for_partners_and_never_serves_a_statement_of_an_older_change(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn on_postgres_signs_ahead_for_partners_and_never_serves_a_statement_of_an_older_change() {
        signs_ahead_for_partners_and_never_serves_a_statement_of_an_older_change(Backend::Postgres).await;
    }
}
