//! AEO certificates: their vocabularies (category, role, status), the lifecycle rules for
//! status changes, and the parsing of certificate input into a validated draft.
//!
//! Input arrives as optional strings on purpose: the API must report every invalid field by
//! name in one answer (and an import every invalid row), which a typed serde model that stops
//! at the first error cannot do.

use crate::code::CertificateNumber;
use crate::date::parse_date;
use crate::error::FieldError;
use crate::identifier::OperatorId;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What a certificate covers: AEOS, AEOC or AEOF in EU terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Security,
    Simplification,
    Full,
}

string_enum!(Category {
    Security => "security",
    Simplification => "simplification",
    Full => "full",
});

/// The operator's place in the supply chain. Declaration order is the canonical sort order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Manufacturer,
    Importer,
    Exporter,
    CustomsBroker,
    Carrier,
    FreightForwarder,
    WarehouseOperator,
    PortOperator,
    TerminalOperator,
    LogisticsOperator,
}

string_enum!(Role {
    Manufacturer => "manufacturer",
    Importer => "importer",
    Exporter => "exporter",
    CustomsBroker => "customs_broker",
    Carrier => "carrier",
    FreightForwarder => "freight_forwarder",
    WarehouseOperator => "warehouse_operator",
    PortOperator => "port_operator",
    TerminalOperator => "terminal_operator",
    LogisticsOperator => "logistics_operator",
});

/// A set of roles in one word: how a million certificates keep their roles in memory. Iterates
/// in canonical order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RoleSet(u16);

impl RoleSet {
    pub fn contains(self, role: Role) -> bool {
        self.0 & (1 << role as u16) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.iter().copied().filter(move |role| self.contains(*role))
    }

    pub fn to_vec(self) -> Vec<Role> {
        self.iter().collect()
    }
}

impl FromIterator<Role> for RoleSet {
    fn from_iter<I: IntoIterator<Item = Role>>(roles: I) -> Self {
        RoleSet(roles.into_iter().fold(0, |bits, role| bits | 1 << role as u16))
    }
}

/// A certificate's status. `Expired` is never stored: it is derived from `valid_until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Suspended,
    Revoked,
    Expired,
}

string_enum!(Status {
    Active => "active",
    Suspended => "suspended",
    Revoked => "revoked",
    Expired => "expired",
});

impl Status {
    /// The status shown to the world on `today`. Revocation outranks expiry because it is the
    /// stronger statement (benefits were withdrawn, not merely not renewed).
    pub fn effective(stored: Status, valid_until: NaiveDate, today: NaiveDate) -> Status {
        match stored {
            Status::Revoked => Status::Revoked,
            _ if valid_until < today => Status::Expired,
            other => other,
        }
    }
}

/// Longest accepted status-change reason, in characters after trimming.
pub const REASON_MAX_CHARS: usize = 1000;

/// Why a requested status change is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("status \"expired\" cannot be set: a certificate expires when its valid_until date passes")]
    ExpiredIsDerived,
    #[error("the certificate is revoked, and revocation is final")]
    RevokedIsFinal,
    #[error("the certificate already has this status")]
    Unchanged,
    #[error("a reason is required to suspend or revoke a certificate")]
    ReasonRequired,
    #[error("the reason must be at most 1000 characters")]
    ReasonTooLong,
}

/// Checks a status change from the stored status `current` and returns the reason to record
/// (trimmed; `None` when blank or absent).
pub fn check_transition(
    current: Status,
    requested: Status,
    reason: Option<&str>,
) -> Result<Option<String>, TransitionError> {
    if requested == Status::Expired {
        return Err(TransitionError::ExpiredIsDerived);
    }
    if current == Status::Revoked {
        return Err(TransitionError::RevokedIsFinal);
    }
    // A change to the status it has would add an event to its history that changes nothing.
    if current == requested {
        return Err(TransitionError::Unchanged);
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > REASON_MAX_CHARS) {
        return Err(TransitionError::ReasonTooLong);
    }
    if reason.is_none() && matches!(requested, Status::Suspended | Status::Revoked) {
        return Err(TransitionError::ReasonRequired);
    }
    Ok(reason.map(str::to_string))
}

/// Certificate as received from a client or an import row, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct CertificateInput {
    pub number: Option<String>,
    pub category: Option<String>,
    pub roles: Option<Vec<String>>,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub operator: Option<OperatorInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct OperatorInput {
    pub name: Option<String>,
    pub identifiers: Option<Vec<IdentifierInput>>,
    pub address: Option<AddressInput>,
    pub public: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct IdentifierInput {
    pub scheme: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct AddressInput {
    pub street: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

/// A validated certificate, ready to store. `number` is `None` when the registry assigns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateDraft {
    pub number: Option<CertificateNumber>,
    pub category: Category,
    pub roles: Vec<Role>,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub operator: Operator,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operator {
    pub name: String,
    pub identifiers: Vec<OperatorId>,
    pub address: Address,
    /// Whether the operator consented to its name being shown by the public check.
    pub public: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// Longest accepted text of each field, in characters after trimming (what the API document
/// states, too).
pub const NAME_MAX_CHARS: usize = 300;
pub const STREET_MAX_CHARS: usize = 300;
pub const CITY_MAX_CHARS: usize = 120;
pub const POSTAL_CODE_MAX_CHARS: usize = 20;

impl CertificateDraft {
    /// Validates every field and reports every error, each under its field path.
    pub fn parse(input: &CertificateInput) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();

        // A blank number means "assign one", which is what an empty CSV cell says.
        let number = match blank_to_none(input.number.as_deref()) {
            None => Some(None),
            Some(n) => {
                CertificateNumber::parse(n).map(Some).map_err(|m| errors.push(FieldError::new("number", m))).ok()
            }
        };
        let category = parse_word::<Category>(&mut errors, "category", input.category.as_deref());
        let roles = parse_roles(&mut errors, input.roles.as_deref());
        let valid_from = required_date(&mut errors, "valid_from", input.valid_from.as_deref());
        let valid_until = required_date(&mut errors, "valid_until", input.valid_until.as_deref());
        if let (Some(from), Some(until)) = (valid_from, valid_until)
            && until < from
        {
            errors.push(FieldError::new("valid_until", "must not be before valid_from"));
        }
        let operator = match &input.operator {
            None => {
                errors.push(FieldError::new("operator", "is required"));
                None
            }
            Some(op) => parse_operator(&mut errors, op),
        };

        match (number, category, roles, valid_from, valid_until, operator) {
            (Some(number), Some(category), Some(roles), Some(valid_from), Some(valid_until), Some(operator))
                if errors.is_empty() =>
            {
                Ok(Self { number, category, roles, valid_from, valid_until, operator })
            }
            _ => Err(errors),
        }
    }
}

/// The input that parses back to this draft: lets a caller apply a JSON Merge Patch to a
/// stored certificate and validate the result with the same rules as a new one.
impl From<&CertificateDraft> for CertificateInput {
    fn from(d: &CertificateDraft) -> Self {
        Self {
            number: d.number.as_ref().map(|n| n.as_str().to_string()),
            category: Some(d.category.as_str().to_string()),
            roles: Some(d.roles.iter().map(|r| r.as_str().to_string()).collect()),
            valid_from: Some(d.valid_from.format("%Y-%m-%d").to_string()),
            valid_until: Some(d.valid_until.format("%Y-%m-%d").to_string()),
            operator: Some(OperatorInput {
                name: Some(d.operator.name.clone()),
                identifiers: Some(
                    d.operator
                        .identifiers
                        .iter()
                        .map(|id| IdentifierInput { scheme: Some(id.scheme.as_str()), value: Some(id.value.clone()) })
                        .collect(),
                ),
                address: Some(AddressInput {
                    street: Some(d.operator.address.street.clone()),
                    city: Some(d.operator.address.city.clone()),
                    postal_code: Some(d.operator.address.postal_code.clone()),
                    country: Some(d.operator.address.country.clone()),
                }),
                public: Some(d.operator.public),
            }),
        }
    }
}

fn blank_to_none(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

/// A required word of a closed vocabulary.
pub(crate) fn parse_word<T>(errors: &mut Vec<FieldError>, field: &str, s: Option<&str>) -> Option<T>
where
    T: std::str::FromStr<Err = String>,
{
    match blank_to_none(s) {
        None => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
        Some(s) => s.parse().map_err(|m| errors.push(FieldError::new(field, m))).ok(),
    }
}

/// Each word validated under `field[i]`; the valid ones deduplicated in canonical order.
/// `None` when any word is invalid.
pub(crate) fn parse_word_list<T>(errors: &mut Vec<FieldError>, field: &str, words: &[String]) -> Option<Vec<T>>
where
    T: std::str::FromStr<Err = String> + Ord,
{
    let mut out = Vec::with_capacity(words.len());
    let mut ok = true;
    for (i, w) in words.iter().enumerate() {
        match w.parse::<T>() {
            Ok(v) => out.push(v),
            Err(m) => {
                errors.push(FieldError::new(format!("{field}[{i}]"), m));
                ok = false;
            }
        }
    }
    out.sort();
    out.dedup();
    ok.then_some(out)
}

fn parse_roles(errors: &mut Vec<FieldError>, roles: Option<&[String]>) -> Option<Vec<Role>> {
    match roles {
        None | Some([]) => {
            errors.push(FieldError::new("roles", "must list at least one role"));
            None
        }
        Some(words) => parse_word_list(errors, "roles", words),
    }
}

pub(crate) fn required_date(errors: &mut Vec<FieldError>, field: &str, s: Option<&str>) -> Option<NaiveDate> {
    match blank_to_none(s) {
        None => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
        Some(s) => parse_date(s).map_err(|m| errors.push(FieldError::new(field, m))).ok(),
    }
}

/// Trimmed text of 1..=`max` characters.
fn required_text(errors: &mut Vec<FieldError>, field: &str, s: Option<&str>, max: usize) -> Option<String> {
    match blank_to_none(s).map(str::trim) {
        None => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
        Some(t) => bounded(errors, field, t, max),
    }
}

pub(crate) fn bounded(errors: &mut Vec<FieldError>, field: &str, t: &str, max: usize) -> Option<String> {
    if t.chars().count() > max {
        errors.push(FieldError::new(field, format!("must be at most {max} characters")));
        None
    } else {
        Some(t.to_string())
    }
}

fn parse_operator(errors: &mut Vec<FieldError>, op: &OperatorInput) -> Option<Operator> {
    let name = required_text(errors, "operator.name", op.name.as_deref(), NAME_MAX_CHARS);
    let identifiers = parse_identifiers(errors, op.identifiers.as_deref());
    let address = match &op.address {
        None => {
            errors.push(FieldError::new("operator.address", "is required"));
            None
        }
        Some(a) => parse_address(errors, a),
    };
    Some(Operator { name: name?, identifiers: identifiers?, address: address?, public: op.public.unwrap_or(false) })
}

fn parse_identifiers(errors: &mut Vec<FieldError>, ids: Option<&[IdentifierInput]>) -> Option<Vec<OperatorId>> {
    let ids = match ids {
        None | Some([]) => {
            errors.push(FieldError::new("operator.identifiers", "must list at least one identifier"));
            return None;
        }
        Some(ids) => ids,
    };
    let mut seen_at: Vec<(usize, OperatorId)> = Vec::with_capacity(ids.len());
    let mut ok = true;
    for (i, input) in ids.iter().enumerate() {
        let field = format!("operator.identifiers[{i}]");
        let scheme = blank_to_none(input.scheme.as_deref());
        let value = input.value.as_deref();
        if scheme.is_none() {
            errors.push(FieldError::new(format!("{field}.scheme"), "is required"));
        }
        if value.is_none() {
            errors.push(FieldError::new(format!("{field}.value"), "is required"));
        }
        let (Some(scheme), Some(value)) = (scheme, value) else {
            ok = false;
            continue;
        };
        match OperatorId::parse(scheme, value) {
            Ok(id) => {
                if let Some(&(first, _)) = seen_at.iter().find(|(_, seen)| *seen == id) {
                    errors.push(FieldError::new(
                        format!("{field}.value"),
                        format!("repeats operator.identifiers[{first}] ({})", id.to_pair()),
                    ));
                    ok = false;
                } else {
                    seen_at.push((i, id));
                }
            }
            Err(e) => {
                let part = if e.is_scheme_error() { "scheme" } else { "value" };
                errors.push(FieldError::new(format!("{field}.{part}"), e.to_string()));
                ok = false;
            }
        }
    }
    ok.then(|| seen_at.into_iter().map(|(_, id)| id).collect())
}

fn parse_address(errors: &mut Vec<FieldError>, a: &AddressInput) -> Option<Address> {
    let street = required_text(errors, "operator.address.street", a.street.as_deref(), STREET_MAX_CHARS);
    let city = required_text(errors, "operator.address.city", a.city.as_deref(), CITY_MAX_CHARS);
    let postal_code = bounded(
        errors,
        "operator.address.postal_code",
        a.postal_code.as_deref().unwrap_or("").trim(),
        POSTAL_CODE_MAX_CHARS,
    );
    let country = match blank_to_none(a.country.as_deref()).map(str::trim) {
        None => {
            errors.push(FieldError::new("operator.address.country", "is required"));
            None
        }
        Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => Some(c.to_ascii_uppercase()),
        Some(_) => {
            errors.push(FieldError::new("operator.address.country", "must be a two-letter country code, e.g. CL"));
            None
        }
    };
    Some(Address { street: street?, city: city?, postal_code: postal_code?, country: country? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifier::Scheme;

    fn date(s: &str) -> NaiveDate {
        parse_date(s).expect("test date")
    }

    #[test]
    fn every_vocabulary_word_round_trips_and_matches_its_serde_spelling() {
        fn check<T>(all: &[T], as_str: fn(T) -> &'static str)
        where
            T: Copy + std::fmt::Debug + PartialEq + Serialize + std::str::FromStr<Err = String>,
        {
            for v in all {
                let word = as_str(*v);
                assert_eq!(word.parse::<T>().expect("parses"), *v);
                assert_eq!(serde_json::to_value(v).expect("ser"), serde_json::json!(word));
            }
        }
        check(Category::ALL, Category::as_str);
        check(Role::ALL, Role::as_str);
        check(Status::ALL, Status::as_str);
        assert_eq!(Category::ALL.len(), 3);
        assert_eq!(Role::ALL.len(), 10);
        assert_eq!(Status::ALL.len(), 4);
    }

    #[test]
    fn vocabulary_words_forgive_blanks_and_case_but_nothing_else() {
        let cases: &[(&str, Option<Role>)] = &[
            ("customs_broker", Some(Role::CustomsBroker)),
            (" Customs_Broker ", Some(Role::CustomsBroker)),
            ("LOGISTICS_OPERATOR", Some(Role::LogisticsOperator)),
            ("customs broker", None),
            ("customs-broker", None),
            ("customsbroker", None),
            ("", None),
            ("broker", None),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<Role>().ok(), *want, "input {input:?}");
        }
    }

    #[test]
    fn unknown_words_list_what_is_accepted() {
        assert_eq!("aeo".parse::<Category>().unwrap_err(), "must be one of security, simplification, full");
        assert_eq!("gone".parse::<Status>().unwrap_err(), "must be one of active, suspended, revoked, expired");
        assert_eq!(
            "pilot".parse::<Role>().unwrap_err(),
            "must be one of manufacturer, importer, exporter, customs_broker, carrier, \
             freight_forwarder, warehouse_operator, port_operator, terminal_operator, \
             logistics_operator"
        );
    }

    #[test]
    fn role_sets_keep_every_role_in_canonical_order() {
        let set: RoleSet = [Role::LogisticsOperator, Role::Importer, Role::Importer].into_iter().collect();
        assert_eq!(set.to_vec(), [Role::Importer, Role::LogisticsOperator]);
        assert!(set.contains(Role::Importer) && !set.contains(Role::Exporter));
        let all: RoleSet = Role::ALL.iter().copied().collect();
        assert_eq!(all.to_vec(), Role::ALL);
        assert_eq!(RoleSet::default().to_vec(), []);
    }

    #[test]
    fn roles_sort_in_declaration_order() {
        let mut sorted = Role::ALL.to_vec();
        sorted.reverse();
        sorted.sort();
        assert_eq!(sorted, Role::ALL);
        assert_eq!(Role::Exporter.to_string(), "exporter");
    }

    #[test]
    fn effective_status_derives_expiry_but_revocation_wins() {
        let today = date("2026-06-15");
        let cases = [
            (Status::Active, "2026-06-15", Status::Active),
            (Status::Active, "2026-06-14", Status::Expired),
            (Status::Active, "2030-01-01", Status::Active),
            (Status::Suspended, "2026-06-15", Status::Suspended),
            (Status::Suspended, "2026-06-14", Status::Expired),
            (Status::Revoked, "2026-06-15", Status::Revoked),
            (Status::Revoked, "2020-01-01", Status::Revoked),
            (Status::Expired, "2030-01-01", Status::Expired),
            (Status::Expired, "2020-01-01", Status::Expired),
        ];
        for (stored, until, want) in cases {
            assert_eq!(Status::effective(stored, date(until), today), want, "{stored} until {until}");
        }
    }

    #[test]
    fn status_transitions_follow_the_lifecycle_rules() {
        use Status::*;
        use TransitionError::*;
        let long = "x".repeat(1001);
        let max = "x".repeat(1000);
        let padded_max = format!("  {max}  ");
        type Case<'a> = (Status, Status, Option<&'a str>, Result<Option<&'a str>, TransitionError>);
        let cases: Vec<Case> = vec![
            (Active, Suspended, Some("audit findings"), Ok(Some("audit findings"))),
            (Active, Suspended, Some("  audit  "), Ok(Some("audit"))),
            (Active, Suspended, None, Err(ReasonRequired)),
            (Active, Suspended, Some(""), Err(ReasonRequired)),
            (Active, Suspended, Some(" \t\n "), Err(ReasonRequired)),
            (Active, Revoked, Some("fraud"), Ok(Some("fraud"))),
            (Active, Revoked, None, Err(ReasonRequired)),
            (Active, Active, None, Err(Unchanged)),
            (Active, Active, Some("  "), Err(Unchanged)),
            (Suspended, Active, None, Ok(None)),
            (Suspended, Active, Some("cleared"), Ok(Some("cleared"))),
            (Suspended, Suspended, Some("still open"), Err(Unchanged)),
            (Suspended, Revoked, Some("confirmed"), Ok(Some("confirmed"))),
            (Suspended, Revoked, None, Err(ReasonRequired)),
            (Revoked, Active, Some("mistake"), Err(RevokedIsFinal)),
            (Revoked, Suspended, Some("x"), Err(RevokedIsFinal)),
            (Revoked, Revoked, Some("again"), Err(RevokedIsFinal)),
            (Revoked, Active, None, Err(RevokedIsFinal)),
            (Active, Expired, Some("x"), Err(ExpiredIsDerived)),
            (Suspended, Expired, None, Err(ExpiredIsDerived)),
            (Revoked, Expired, None, Err(ExpiredIsDerived)),
            (Active, Suspended, Some(&max), Ok(Some(&max))),
            (Active, Suspended, Some(&padded_max), Ok(Some(&max))),
            (Active, Suspended, Some(&long), Err(ReasonTooLong)),
            (Active, Active, Some(&long), Err(Unchanged)),
            (Expired, Active, None, Ok(None)),
        ];
        for (current, requested, reason, want) in cases {
            let got = check_transition(current, requested, reason);
            let want = want.map(|r| r.map(str::to_string));
            assert_eq!(got, want, "{current} -> {requested} with {reason:?}");
        }
    }

    #[test]
    fn reason_length_counts_characters_not_bytes() {
        let accents = "é".repeat(1000);
        assert_eq!(check_transition(Status::Active, Status::Revoked, Some(&accents)), Ok(Some(accents.clone())));
    }

    #[test]
    fn transition_errors_read_as_public_messages() {
        let cases = [
            (
                TransitionError::ExpiredIsDerived,
                "status \"expired\" cannot be set: a certificate expires when its valid_until date passes",
            ),
            (TransitionError::RevokedIsFinal, "the certificate is revoked, and revocation is final"),
            (TransitionError::ReasonRequired, "a reason is required to suspend or revoke a certificate"),
            (TransitionError::ReasonTooLong, "the reason must be at most 1000 characters"),
            (TransitionError::Unchanged, "the certificate already has this status"),
        ];
        for (e, msg) in cases {
            assert_eq!(e.to_string(), msg);
        }
    }

    fn valid_input() -> CertificateInput {
        CertificateInput {
            number: Some("CL-OEA-0001".into()),
            category: Some("security".into()),
            roles: Some(vec!["exporter".into(), "carrier".into()]),
            valid_from: Some("2024-01-15".into()),
            valid_until: Some("2027-01-14".into()),
            operator: Some(OperatorInput {
                name: Some("Exportadora Andina SpA".into()),
                identifiers: Some(vec![IdentifierInput {
                    scheme: Some("CL-RUT".into()),
                    value: Some("76.086.428-5".into()),
                }]),
                address: Some(AddressInput {
                    street: Some("Av. Apoquindo 1234".into()),
                    city: Some("Santiago".into()),
                    postal_code: Some("7550000".into()),
                    country: Some("CL".into()),
                }),
                public: Some(true),
            }),
        }
    }

    fn op(i: &mut CertificateInput) -> &mut OperatorInput {
        i.operator.as_mut().expect("operator")
    }

    fn addr(i: &mut CertificateInput) -> &mut AddressInput {
        op(i).address.as_mut().expect("address")
    }

    fn ids(i: &mut CertificateInput) -> &mut Vec<IdentifierInput> {
        op(i).identifiers.as_mut().expect("identifiers")
    }

    fn id(scheme: &str, value: &str) -> IdentifierInput {
        IdentifierInput { scheme: Some(scheme.into()), value: Some(value.into()) }
    }

    fn fields(result: Result<CertificateDraft, Vec<FieldError>>) -> Vec<String> {
        match result {
            Ok(d) => panic!("expected errors, got {d:?}"),
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn a_complete_certificate_parses_into_a_normalised_draft() {
        let draft = CertificateDraft::parse(&valid_input()).expect("valid");
        assert_eq!(draft.number.as_ref().map(CertificateNumber::as_str), Some("CL-OEA-0001"));
        assert_eq!(draft.category, Category::Security);
        assert_eq!(draft.roles, [Role::Exporter, Role::Carrier]);
        assert_eq!(draft.valid_from, date("2024-01-15"));
        assert_eq!(draft.valid_until, date("2027-01-14"));
        assert_eq!(draft.operator.name, "Exportadora Andina SpA");
        assert_eq!(draft.operator.identifiers.len(), 1);
        assert_eq!(draft.operator.identifiers[0].scheme, Scheme::ClRut);
        assert_eq!(draft.operator.identifiers[0].value, "76086428-5");
        assert_eq!(
            draft.operator.address,
            Address {
                street: "Av. Apoquindo 1234".into(),
                city: "Santiago".into(),
                postal_code: "7550000".into(),
                country: "CL".into(),
            }
        );
        assert!(draft.operator.public);
    }

    #[test]
    fn parsing_trims_upper_cases_sorts_and_fills_defaults() {
        let mut input = valid_input();
        input.number = Some("  cl-oea-0002 ".into());
        input.category = Some("Full".into());
        input.roles = Some(vec!["carrier".into(), "manufacturer".into(), "carrier".into(), " Importer ".into()]);
        op(&mut input).name = Some("  Naviera Sur  ".into());
        op(&mut input).public = None;
        addr(&mut input).postal_code = None;
        addr(&mut input).country = Some(" cl ".into());
        addr(&mut input).street = Some(" Calle 1 ".into());
        let draft = CertificateDraft::parse(&input).expect("valid");
        assert_eq!(draft.number.expect("number").as_str(), "CL-OEA-0002");
        assert_eq!(draft.category, Category::Full);
        assert_eq!(draft.roles, [Role::Manufacturer, Role::Importer, Role::Carrier]);
        assert_eq!(draft.operator.name, "Naviera Sur");
        assert!(!draft.operator.public);
        assert_eq!(draft.operator.address.postal_code, "");
        assert_eq!(draft.operator.address.country, "CL");
        assert_eq!(draft.operator.address.street, "Calle 1");
    }

    #[test]
    fn missing_or_blank_number_means_the_registry_assigns_one() {
        for number in [None, Some(""), Some("   ")] {
            let mut input = valid_input();
            input.number = number.map(String::from);
            let draft = CertificateDraft::parse(&input).expect("valid");
            assert_eq!(draft.number, None, "number {number:?}");
        }
    }

    #[test]
    fn each_invalid_field_is_reported_under_its_path() {
        type Edit = fn(&mut CertificateInput);
        let cases: Vec<(&str, Edit, &[&str])> = vec![
            ("bad number", |i| i.number = Some("CL/1".into()), &["number"]),
            ("no category", |i| i.category = None, &["category"]),
            ("blank category", |i| i.category = Some(" ".into()), &["category"]),
            ("bad category", |i| i.category = Some("aeof".into()), &["category"]),
            ("no roles", |i| i.roles = None, &["roles"]),
            ("empty roles", |i| i.roles = Some(vec![]), &["roles"]),
            (
                "bad roles",
                |i| i.roles = Some(vec!["exporter".into(), "pilot".into(), "x".into()]),
                &["roles[1]", "roles[2]"],
            ),
            ("no valid_from", |i| i.valid_from = None, &["valid_from"]),
            ("bad valid_from", |i| i.valid_from = Some("15/01/2024".into()), &["valid_from"]),
            ("no valid_until", |i| i.valid_until = None, &["valid_until"]),
            ("bad valid_until", |i| i.valid_until = Some("2027-02-30".into()), &["valid_until"]),
            ("until before from", |i| i.valid_until = Some("2024-01-14".into()), &["valid_until"]),
            ("no operator", |i| i.operator = None, &["operator"]),
            ("no name", |i| op(i).name = None, &["operator.name"]),
            ("blank name", |i| op(i).name = Some("  ".into()), &["operator.name"]),
            ("long name", |i| op(i).name = Some("n".repeat(301)), &["operator.name"]),
            ("no identifiers", |i| op(i).identifiers = None, &["operator.identifiers"]),
            ("empty identifiers", |i| op(i).identifiers = Some(vec![]), &["operator.identifiers"]),
            ("unknown scheme", |i| ids(i)[0].scheme = Some("VAT".into()), &["operator.identifiers[0].scheme"]),
            ("missing scheme", |i| ids(i)[0].scheme = None, &["operator.identifiers[0].scheme"]),
            ("missing value", |i| ids(i)[0].value = None, &["operator.identifiers[0].value"]),
            (
                "missing scheme and value",
                |i| ids(i)[0] = IdentifierInput::default(),
                &["operator.identifiers[0].scheme", "operator.identifiers[0].value"],
            ),
            ("bad check digit", |i| ids(i)[0].value = Some("76086428-4".into()), &["operator.identifiers[0].value"]),
            (
                "second identifier bad",
                |i| ids(i).push(id("LEI", "5493001KJTIIGC8Y1R13")),
                &["operator.identifiers[1].value"],
            ),
            (
                "duplicate after normalisation",
                |i| ids(i).push(id("cl-rut", "760864285")),
                &["operator.identifiers[1].value"],
            ),
            (
                "every duplicate after the first",
                |i| {
                    ids(i).push(id("LEI", "5493001KJTIIGC8Y1R12"));
                    ids(i).push(id("CL-RUT", "76086428-5"));
                    ids(i).push(id("CL-RUT", "76.086.428-5"));
                },
                &["operator.identifiers[2].value", "operator.identifiers[3].value"],
            ),
            ("no address", |i| op(i).address = None, &["operator.address"]),
            ("no street", |i| addr(i).street = None, &["operator.address.street"]),
            ("long street", |i| addr(i).street = Some("s".repeat(301)), &["operator.address.street"]),
            ("no city", |i| addr(i).city = Some("".into()), &["operator.address.city"]),
            ("long city", |i| addr(i).city = Some("c".repeat(121)), &["operator.address.city"]),
            ("long postal code", |i| addr(i).postal_code = Some("1".repeat(21)), &["operator.address.postal_code"]),
            ("no country", |i| addr(i).country = None, &["operator.address.country"]),
            ("three-letter country", |i| addr(i).country = Some("CHL".into()), &["operator.address.country"]),
            ("digit country", |i| addr(i).country = Some("C1".into()), &["operator.address.country"]),
            ("non-ascii country", |i| addr(i).country = Some("ÑA".into()), &["operator.address.country"]),
        ];
        for (name, edit, want) in cases {
            let mut input = valid_input();
            edit(&mut input);
            assert_eq!(fields(CertificateDraft::parse(&input)), want, "case {name}");
        }
    }

    #[test]
    fn length_limits_are_inclusive_and_count_characters() {
        type Edit = fn(&mut CertificateInput);
        let cases: Vec<(&str, Edit)> = vec![
            ("name 300", |i| op(i).name = Some("ñ".repeat(300))),
            ("street 300", |i| addr(i).street = Some("ñ".repeat(300))),
            ("city 120", |i| addr(i).city = Some("ñ".repeat(120))),
            ("postal code 20", |i| addr(i).postal_code = Some("ñ".repeat(20))),
            ("postal code blank", |i| addr(i).postal_code = Some("  ".into())),
            ("name padded", |i| op(i).name = Some(format!("  {}  ", "n".repeat(300)))),
        ];
        for (name, edit) in cases {
            let mut input = valid_input();
            edit(&mut input);
            assert!(CertificateDraft::parse(&input).is_ok(), "case {name}");
        }
    }

    #[test]
    fn valid_until_may_equal_valid_from() {
        let mut input = valid_input();
        input.valid_until = input.valid_from.clone();
        assert!(CertificateDraft::parse(&input).is_ok());
    }

    #[test]
    fn an_empty_input_reports_every_required_field_at_once() {
        let got = fields(CertificateDraft::parse(&CertificateInput::default()));
        assert_eq!(got, ["category", "roles", "valid_from", "valid_until", "operator"]);
        let mut input = CertificateInput {
            operator: Some(OperatorInput { address: Some(AddressInput::default()), ..OperatorInput::default() }),
            ..CertificateInput::default()
        };
        input.number = Some("/".into());
        assert_eq!(
            fields(CertificateDraft::parse(&input)),
            [
                "number",
                "category",
                "roles",
                "valid_from",
                "valid_until",
                "operator.name",
                "operator.identifiers",
                "operator.address.street",
                "operator.address.city",
                "operator.address.country",
            ]
        );
    }

    #[test]
    fn error_messages_are_sentences_for_users() {
        let mut input = valid_input();
        input.category = Some("aeo".into());
        input.roles = Some(vec![]);
        input.valid_until = Some("2020-01-01".into());
        ids(&mut input).push(id("CL-RUT", "76086428-5"));
        ids(&mut input).push(id("CO-NIT", "1"));
        op(&mut input).name = Some("n".repeat(301));
        let errors = CertificateDraft::parse(&input).unwrap_err();
        let got: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(
            got,
            [
                ("category", "must be one of security, simplification, full"),
                ("roles", "must list at least one role"),
                ("valid_until", "must not be before valid_from"),
                ("operator.name", "must be at most 300 characters"),
                ("operator.identifiers[1].value", "repeats operator.identifiers[0] (CL-RUT:76086428-5)"),
                (
                    "operator.identifiers[2].value",
                    "invalid CO-NIT: must be 9 digits and a check digit, e.g. 800.197.268-4"
                ),
            ]
        );
    }

    #[test]
    fn several_identifiers_keep_their_order() {
        let mut input = valid_input();
        ids(&mut input).push(id("lei", "5493001kjtiigc8y1r12"));
        ids(&mut input).push(id("eori", "cl 76086428"));
        let draft = CertificateDraft::parse(&input).expect("valid");
        let pairs: Vec<String> = draft.operator.identifiers.iter().map(OperatorId::to_pair).collect();
        assert_eq!(pairs, ["CL-RUT:76086428-5", "LEI:5493001KJTIIGC8Y1R12", "EORI:CL76086428"]);
    }

    #[test]
    fn input_json_ignores_unknown_fields_and_accepts_missing_ones() {
        let json = r#"{
            "number": "cl-oea-9", "status": "active", "version": 3,
            "category": "simplification", "roles": ["importer"],
            "valid_from": "2025-01-01", "valid_until": "2026-01-01",
            "operator": {
                "name": "Importadora", "extra": 1,
                "identifiers": [{"scheme": "PE-RUC", "value": "20131312955", "note": "x"}],
                "address": {"street": "Jr. Lima 1", "city": "Lima", "country": "pe"}
            }
        }"#;
        let input: CertificateInput = serde_json::from_str(json).expect("de");
        let draft = CertificateDraft::parse(&input).expect("valid");
        assert_eq!(draft.operator.address.country, "PE");
        assert_eq!(draft.operator.address.postal_code, "");
        assert!(!draft.operator.public);
    }

    #[test]
    fn a_draft_converts_back_to_input_that_parses_to_the_same_draft() {
        let draft = CertificateDraft::parse(&valid_input()).expect("valid");
        let again = CertificateDraft::parse(&CertificateInput::from(&draft)).expect("valid");
        assert_eq!(again, draft);
        let mut no_number = draft.clone();
        no_number.number = None;
        let input = CertificateInput::from(&no_number);
        assert_eq!(input.number, None);
        assert_eq!(CertificateDraft::parse(&input).expect("valid"), no_number);
    }

    #[test]
    fn draft_serializes_with_contract_field_names_and_spellings() {
        let draft = CertificateDraft::parse(&valid_input()).expect("valid");
        let json = serde_json::to_value(&draft).expect("ser");
        assert_eq!(
            json,
            serde_json::json!({
                "number": "CL-OEA-0001",
                "category": "security",
                "roles": ["exporter", "carrier"],
                "valid_from": "2024-01-15",
                "valid_until": "2027-01-14",
                "operator": {
                    "name": "Exportadora Andina SpA",
                    "identifiers": [{"scheme": "CL-RUT", "value": "76086428-5"}],
                    "address": {
                        "street": "Av. Apoquindo 1234",
                        "city": "Santiago",
                        "postal_code": "7550000",
                        "country": "CL"
                    },
                    "public": true
                }
            })
        );
    }
}
