//! The border question, answered from local facts: is this certificate of `issuer` recognised
//! at `at`, now? The decision itself is `aeo_domain::recognize`; this module gathers the facts.

use aeo_domain::{AdministrationCode, CertificateFacts, CertificateNumber, OperatorId, Reason, Status, recognize};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::app::AppState;
use crate::federation::jose::StatementClaims;
use crate::service::ServiceResult;
use crate::store::certificates::{self, Certificate, Summary};
use crate::store::mras::Mra;
use crate::wire;

/// What the question names: a certificate number or an operator identifier.
#[derive(Debug, Clone)]
pub enum Subject {
    Certificate(CertificateNumber),
    Identifier(OperatorId),
}

/// The certificate as a recognition answer shows it. Where the asker has no arrangement in force
/// with the issuer (or is a third party), only what the public check shows: no roles, no start
/// date, no status reason, and the operator's name only where it consented.
// What is kept then: `Answer::public_only`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CertificateSummary {
    pub number: String,
    #[schema(value_type = String)]
    pub status: aeo_domain::Status,
    #[schema(value_type = String)]
    pub category: aeo_domain::Category,
    /// Absent when the asker may see only the public facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub roles: Option<Vec<aeo_domain::Role>>,
    /// Absent when the asker may see only the public facts.
    #[serde(serialize_with = "wire::optional_date", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub valid_from: Option<NaiveDate>,
    #[serde(serialize_with = "wire::date")]
    pub valid_until: NaiveDate,
    pub status_reason: Option<String>,
    /// Absent when the asker may see only the public facts and the operator did not consent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorName>,
    /// Whether the operator consented to its name being public (unknown, so no, for a statement).
    #[serde(skip)]
    pub public: bool,
}

impl CertificateSummary {
    /// Keeps only what the public check would show.
    fn public_only(&mut self) {
        self.roles = None;
        self.valid_from = None;
        self.status_reason = None;
        if !self.public {
            self.operator = None;
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OperatorName {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MraSummary {
    pub partner: String,
    #[schema(value_type = String)]
    pub status: aeo_domain::MraStatus,
    #[serde(serialize_with = "wire::optional_date")]
    pub in_force_from: Option<NaiveDate>,
    #[schema(value_type = Vec<String>)]
    pub categories: Vec<aeo_domain::Category>,
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<aeo_domain::Role>,
}

/// Where an answer came from (the contract's `source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The issuer is hosted on this node.
    Local,
    /// The issuer's node was asked just now.
    Peer,
    /// A statement the issuer's node gave when asked live, still fresh.
    Cache,
    /// The mirror of the issuer's pushes and feed.
    Mirror,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Local => "local",
            Source::Peer => "peer",
            Source::Cache => "cache",
            Source::Mirror => "mirror",
        }
    }
}

/// The answer to the border question (the contract's recognition object).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Answer {
    pub recognized: bool,
    pub at: String,
    pub issuer: String,
    pub certificate: Option<CertificateSummary>,
    pub mra: Option<MraSummary>,
    #[schema(value_type = Vec<String>)]
    pub reasons: Vec<Reason>,
    pub source: Source,
    #[serde(serialize_with = "wire::instant")]
    pub as_of: DateTime<Utc>,
    pub stale: bool,
    /// When an identifier matched several certificates: the others, each judged on its own
    /// (the answer above is the one that fares best). For the pages; not on the wire.
    #[serde(skip)]
    pub others: Vec<Judged>,
}

/// One more certificate an identifier matched, and why it is not recognised (none: it is).
#[derive(Debug, Clone)]
pub struct Judged {
    pub certificate: CertificateSummary,
    pub reasons: Vec<Reason>,
}

impl Answer {
    /// Whether the asking administration has no arrangement in force with the issuer.
    fn without_arrangement(&self) -> bool {
        self.reasons.iter().any(|reason| matches!(reason, Reason::NoMra | Reason::MraNotInForce))
    }

    /// Keeps only what an asker without an arrangement in force (or a third party) may see:
    /// of a certificate asked by number, the public facts; of one found by an identifier,
    /// nothing, since the answer would tie a tax number to a certificate.
    pub fn public_only(&mut self, subject: &Subject) {
        match subject {
            Subject::Identifier(_) => {
                self.certificate = None;
                self.others.clear();
            }
            Subject::Certificate(_) => self.certificate.iter_mut().for_each(CertificateSummary::public_only),
        }
    }
}

/// A certificate the question may be about: its facts for the rule, its summary for the answer.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub facts: CertificateFacts,
    pub summary: CertificateSummary,
}

impl Candidate {
    /// A candidate from the facts the rule needs (with the stored lifecycle status) and what the
    /// answer shows besides; the status shown is derived again for today (expiry).
    fn new(number: &str, facts: CertificateFacts, status_reason: Option<&str>, operator: (&str, bool)) -> Self {
        let (operator_name, public) = operator;
        let summary = CertificateSummary {
            number: number.to_owned(),
            status: Status::effective(facts.status, facts.valid_until, certificates::today()),
            category: facts.category,
            roles: Some(facts.roles.clone()),
            valid_from: Some(facts.valid_from),
            valid_until: facts.valid_until,
            status_reason: status_reason.map(str::to_owned),
            operator: Some(OperatorName { name: operator_name.to_owned() }),
            public,
        };
        Candidate { facts, summary }
    }
}

impl From<&Certificate> for Candidate {
    fn from(c: &Certificate) -> Self {
        let facts = CertificateFacts {
            status: c.stored_status,
            category: c.category,
            roles: c.roles.clone(),
            valid_from: c.valid_from,
            valid_until: c.valid_until,
        };
        Candidate::new(&c.number, facts, c.status_reason.as_deref(), (&c.operator.name, c.operator.public))
    }
}

impl Candidate {
    pub fn from_summary(number: &str, s: &Summary) -> Self {
        let facts = CertificateFacts {
            status: s.stored_status,
            category: s.category,
            roles: s.roles.to_vec(),
            valid_from: s.valid_from,
            valid_until: s.valid_until,
        };
        Candidate::new(number, facts, s.status_reason.as_deref(), (&s.operator_name, s.public))
    }
}

impl From<&StatementClaims> for Candidate {
    fn from(claims: &StatementClaims) -> Self {
        let f = &claims.facts;
        let facts = CertificateFacts {
            status: f.status,
            category: f.category,
            roles: f.roles.clone(),
            valid_from: f.valid_from,
            valid_until: f.valid_until,
        };
        Candidate::new(&claims.sub, facts, f.status_reason.as_deref(), (&f.operator.name, false))
    }
}

fn mra_summary(mra: &Mra) -> MraSummary {
    MraSummary {
        partner: mra.partner.clone(),
        status: mra.status,
        in_force_from: mra.in_force_from,
        categories: mra.categories.clone(),
        roles: mra.roles.clone(),
    }
}

/// Decides for the certificates found: the first recognised one wins; when none is, the one
/// with the fewest failing reasons is shown. The others are kept in `others`, each judged.
pub fn decide(
    at: &AdministrationCode,
    issuer: &AdministrationCode,
    candidates: Vec<Candidate>,
    mra: Option<&Mra>,
    today: NaiveDate,
) -> Answer {
    let mra_facts = mra.map(Mra::facts);
    let mut judged: Vec<(Candidate, Vec<Reason>)> = candidates
        .into_iter()
        .map(|candidate| {
            let reasons = recognize(at, issuer, Some(&candidate.facts), mra_facts.as_ref(), today);
            (candidate, reasons)
        })
        .collect();
    // The first of those with the fewest reasons answers; the others are kept, judged.
    let best = judged.iter().enumerate().min_by_key(|(_, (_, reasons))| reasons.len()).map(|(index, _)| index);
    let (certificate, reasons) = match best {
        Some(index) => {
            let (candidate, reasons) = judged.remove(index);
            (Some(candidate.summary), reasons)
        }
        None => (None, recognize(at, issuer, None, mra_facts.as_ref(), today)),
    };
    let others =
        judged.into_iter().map(|(candidate, reasons)| Judged { certificate: candidate.summary, reasons }).collect();
    Answer {
        recognized: reasons.is_empty(),
        at: at.as_str().to_owned(),
        issuer: issuer.as_str().to_owned(),
        certificate,
        mra: mra.map(mra_summary),
        reasons,
        source: Source::Local,
        as_of: Utc::now(),
        stale: false,
        others,
    }
}

/// Answers from this node's own records (the issuer is hosted here).
pub async fn answer_locally(
    app: &AppState,
    at: &AdministrationCode,
    issuer: &AdministrationCode,
    subject: &Subject,
) -> crate::store::StoreResult<Answer> {
    let db = &app.store.db;
    let mra = if at == issuer { None } else { app.hot.mra(db, at.as_str(), issuer.as_str()).await? };
    let candidates: Vec<Candidate> = match subject {
        // The hot path: one indexed lookup of only the columns the answer needs.
        Subject::Certificate(number) => app
            .hot
            .certificates
            .summary(&app.store, issuer.as_str(), number.as_str())
            .await?
            .map(|summary| Candidate::from_summary(number.as_str(), &summary))
            .into_iter()
            .collect(),
        Subject::Identifier(id) => {
            certificates::find_by_identifier(db, Some(issuer.as_str()), id).await?.iter().map(Candidate::from).collect()
        }
    };
    Ok(decide(at, issuer, candidates, mra.as_deref(), certificates::today()))
}

/// The border question at `at` about a certificate of `issuer`, wherever the issuer is hosted.
pub async fn answer(
    app: &AppState,
    at: &AdministrationCode,
    issuer: &AdministrationCode,
    subject: &Subject,
) -> ServiceResult<Answer> {
    let mut answer = if app.hot.is_hosted(&app.store.db, issuer.as_str()).await? {
        answer_locally(app, at, issuer, subject).await?
    } else {
        crate::federation::remote::answer(app, at, issuer, subject).await?
    };
    // Without an arrangement in force, the asker is owed no more than anyone is.
    if answer.without_arrangement() {
        answer.public_only(subject);
    }
    Ok(answer)
}
