//! The border question: does administration `at` recognise, today, a certificate issued by
//! administration `issuer`? Pure rules over facts the caller has gathered (locally, from a
//! peer or from a mirror); where the facts came from is the federation layer's business.

use crate::certificate::{Category, Role, Status};
use crate::code::AdministrationCode;
use crate::mra::MraStatus;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A reason recognition fails. Declaration order is the order reasons are reported in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    CertificateNotFound,
    CertificateSuspended,
    CertificateRevoked,
    CertificateExpired,
    CertificateNotYetValid,
    NoMra,
    MraNotInForce,
    CategoryNotCovered,
    RoleNotCovered,
    IssuerUnreachable,
}

string_enum!(Reason {
    CertificateNotFound => "certificate_not_found",
    CertificateSuspended => "certificate_suspended",
    CertificateRevoked => "certificate_revoked",
    CertificateExpired => "certificate_expired",
    CertificateNotYetValid => "certificate_not_yet_valid",
    NoMra => "no_mra",
    MraNotInForce => "mra_not_in_force",
    CategoryNotCovered => "category_not_covered",
    RoleNotCovered => "role_not_covered",
    IssuerUnreachable => "issuer_unreachable",
});

/// What recognition needs to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// The stored lifecycle status (active, suspended or revoked); expiry is judged from dates.
    pub status: Status,
    pub category: Category,
    pub roles: Vec<Role>,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
}

/// What recognition needs to know about `at`'s MRA record with the issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MraFacts {
    pub status: MraStatus,
    /// `None` means in force since signing, i.e. already in force when the status says so.
    pub in_force_from: Option<NaiveDate>,
    pub categories: Vec<Category>,
    /// Empty means every role.
    pub roles: Vec<Role>,
}

/// Every reason `at` does not recognise the certificate today, in declaration order without
/// repeats; empty means recognised. Never yields `IssuerUnreachable` (the caller adds it).
pub fn recognize(
    at: &AdministrationCode,
    issuer: &AdministrationCode,
    certificate: Option<&CertificateFacts>,
    mra: Option<&MraFacts>,
    today: NaiveDate,
) -> Vec<Reason> {
    let mut reasons = Vec::new();

    match certificate {
        None => reasons.push(Reason::CertificateNotFound),
        Some(c) => {
            match c.status {
                Status::Revoked => reasons.push(Reason::CertificateRevoked),
                Status::Suspended => reasons.push(Reason::CertificateSuspended),
                // A stored `Expired` is not expected, but if a caller passes the effective
                // status it must still not be recognised.
                Status::Expired => reasons.push(Reason::CertificateExpired),
                Status::Active => {}
            }
            if c.status != Status::Revoked && c.valid_until < today {
                reasons.push(Reason::CertificateExpired);
            }
            if c.valid_from > today {
                reasons.push(Reason::CertificateNotYetValid);
            }
        }
    }

    if at != issuer {
        match mra {
            None => reasons.push(Reason::NoMra),
            Some(m) => {
                let in_force = m.status == MraStatus::InForce && m.in_force_from.is_none_or(|from| from <= today);
                if !in_force {
                    reasons.push(Reason::MraNotInForce);
                }
                if let Some(c) = certificate {
                    if !m.categories.contains(&c.category) {
                        reasons.push(Reason::CategoryNotCovered);
                    }
                    if !m.roles.is_empty() && !c.roles.iter().any(|r| m.roles.contains(r)) {
                        reasons.push(Reason::RoleNotCovered);
                    }
                }
            }
        }
    }

    reasons.sort();
    reasons.dedup();
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::parse_date;
    use Reason::*;

    fn date(s: &str) -> NaiveDate {
        parse_date(s).expect("test date")
    }

    fn code(s: &str) -> AdministrationCode {
        AdministrationCode::parse(s).expect("test code")
    }

    const TODAY: &str = "2026-06-15";

    fn cert() -> CertificateFacts {
        CertificateFacts {
            status: Status::Active,
            category: Category::Security,
            roles: vec![Role::Exporter, Role::Carrier],
            valid_from: date("2024-01-15"),
            valid_until: date("2027-01-14"),
        }
    }

    fn mra() -> MraFacts {
        MraFacts {
            status: MraStatus::InForce,
            in_force_from: Some(date("2019-01-01")),
            categories: vec![Category::Security, Category::Full],
            roles: vec![],
        }
    }

    fn at_pe(c: Option<&CertificateFacts>, m: Option<&MraFacts>) -> Vec<Reason> {
        recognize(&code("PE"), &code("CL"), c, m, date(TODAY))
    }

    #[test]
    fn reason_words_are_the_contract_codes_in_report_order() {
        let words: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            words,
            [
                "certificate_not_found",
                "certificate_suspended",
                "certificate_revoked",
                "certificate_expired",
                "certificate_not_yet_valid",
                "no_mra",
                "mra_not_in_force",
                "category_not_covered",
                "role_not_covered",
                "issuer_unreachable",
            ]
        );
        for r in Reason::ALL {
            assert_eq!(serde_json::to_value(r).expect("ser"), serde_json::json!(r.as_str()));
            assert_eq!(r.as_str().parse::<Reason>().expect("parses"), *r);
        }
        let mut sorted = Reason::ALL.to_vec();
        sorted.reverse();
        sorted.sort();
        assert_eq!(sorted, Reason::ALL);
    }

    #[test]
    fn active_certificate_under_a_covering_mra_in_force_is_recognized() {
        assert_eq!(at_pe(Some(&cert()), Some(&mra())), []);
    }

    #[test]
    fn each_failing_rule_alone_yields_exactly_its_reason() {
        type Edit = fn(&mut CertificateFacts, &mut MraFacts);
        let cases: Vec<(&str, Edit, Vec<Reason>)> = vec![
            ("suspended", |c, _| c.status = Status::Suspended, vec![CertificateSuspended]),
            ("revoked", |c, _| c.status = Status::Revoked, vec![CertificateRevoked]),
            ("expired yesterday", |c, _| c.valid_until = date("2026-06-14"), vec![CertificateExpired]),
            ("valid from tomorrow", |c, _| c.valid_from = date("2026-06-16"), vec![CertificateNotYetValid]),
            ("mra negotiating", |_, m| m.status = MraStatus::Negotiating, vec![MraNotInForce]),
            ("mra signed", |_, m| m.status = MraStatus::Signed, vec![MraNotInForce]),
            ("mra suspended", |_, m| m.status = MraStatus::Suspended, vec![MraNotInForce]),
            ("mra terminated", |_, m| m.status = MraStatus::Terminated, vec![MraNotInForce]),
            ("mra in force from tomorrow", |_, m| m.in_force_from = Some(date("2026-06-16")), vec![MraNotInForce]),
            ("category outside scope", |c, _| c.category = Category::Simplification, vec![CategoryNotCovered]),
            ("empty category scope covers nothing", |_, m| m.categories.clear(), vec![CategoryNotCovered]),
            ("no role in scope", |_, m| m.roles = vec![Role::Importer, Role::Manufacturer], vec![RoleNotCovered]),
        ];
        for (name, edit, want) in cases {
            let (mut c, mut m) = (cert(), mra());
            edit(&mut c, &mut m);
            assert_eq!(at_pe(Some(&c), Some(&m)), want, "case {name}");
        }
    }

    #[test]
    fn boundary_dates_count_as_valid_and_in_force() {
        type Edit = fn(&mut CertificateFacts, &mut MraFacts);
        let cases: Vec<(&str, Edit)> = vec![
            ("valid until today", |c, _| c.valid_until = date(TODAY)),
            ("valid from today", |c, _| c.valid_from = date(TODAY)),
            ("valid today only", |c, _| {
                c.valid_from = date(TODAY);
                c.valid_until = date(TODAY);
            }),
            ("in force from today", |_, m| m.in_force_from = Some(date(TODAY))),
            ("in force since signing", |_, m| m.in_force_from = None),
            ("one role in scope is enough", |_, m| m.roles = vec![Role::Carrier, Role::Importer]),
            ("every role in scope", |_, m| m.roles = Role::ALL.to_vec()),
        ];
        for (name, edit) in cases {
            let (mut c, mut m) = (cert(), mra());
            edit(&mut c, &mut m);
            assert_eq!(at_pe(Some(&c), Some(&m)), [], "case {name}");
        }
    }

    #[test]
    fn category_membership_is_exact() {
        for (cert_cat, scope, covered) in [
            (Category::Full, vec![Category::Security], false),
            (Category::Full, vec![Category::Security, Category::Simplification], false),
            (Category::Security, vec![Category::Full], false),
            (Category::Simplification, vec![Category::Full], false),
            (Category::Full, vec![Category::Full], true),
            (Category::Simplification, Category::ALL.to_vec(), true),
        ] {
            let c = CertificateFacts { category: cert_cat, ..cert() };
            let m = MraFacts { categories: scope.clone(), ..mra() };
            let want: Vec<Reason> = if covered { vec![] } else { vec![CategoryNotCovered] };
            assert_eq!(at_pe(Some(&c), Some(&m)), want, "{cert_cat} in {scope:?}");
        }
    }

    #[test]
    fn revoked_certificate_is_never_recognized_and_not_called_expired() {
        let c = CertificateFacts { status: Status::Revoked, valid_until: date("2020-01-01"), ..cert() };
        assert_eq!(at_pe(Some(&c), Some(&mra())), [CertificateRevoked]);
        assert_eq!(recognize(&code("CL"), &code("CL"), Some(&c), None, date(TODAY)), [CertificateRevoked]);
    }

    #[test]
    fn suspended_and_expired_certificate_reports_both() {
        let c = CertificateFacts { status: Status::Suspended, valid_until: date("2026-06-14"), ..cert() };
        assert_eq!(at_pe(Some(&c), Some(&mra())), [CertificateSuspended, CertificateExpired]);
    }

    #[test]
    fn a_stored_expired_status_is_still_reported_once() {
        let c = CertificateFacts { status: Status::Expired, valid_until: date("2026-06-14"), ..cert() };
        assert_eq!(at_pe(Some(&c), Some(&mra())), [CertificateExpired]);
        let c = CertificateFacts { status: Status::Expired, ..cert() };
        assert_eq!(at_pe(Some(&c), Some(&mra())), [CertificateExpired]);
    }

    #[test]
    fn missing_certificate_or_mra_reports_only_what_can_be_judged() {
        let cases: Vec<(Option<CertificateFacts>, Option<MraFacts>, Vec<Reason>)> = vec![
            (None, Some(mra()), vec![CertificateNotFound]),
            (Some(cert()), None, vec![NoMra]),
            (None, None, vec![CertificateNotFound, NoMra]),
            (
                None,
                Some(MraFacts { status: MraStatus::Terminated, categories: vec![], ..mra() }),
                vec![CertificateNotFound, MraNotInForce],
            ),
            (
                Some(CertificateFacts { status: Status::Suspended, category: Category::Full, ..cert() }),
                None,
                vec![CertificateSuspended, NoMra],
            ),
        ];
        for (c, m, want) in cases {
            assert_eq!(at_pe(c.as_ref(), m.as_ref()), want, "{c:?} / {m:?}");
        }
    }

    #[test]
    fn every_reason_at_once_is_reported_in_declaration_order() {
        let c = CertificateFacts {
            status: Status::Suspended,
            category: Category::Simplification,
            roles: vec![Role::Carrier],
            valid_from: date("2026-07-01"),
            valid_until: date("2026-01-01"),
        };
        let m = MraFacts {
            status: MraStatus::Signed,
            in_force_from: Some(date("2030-01-01")),
            categories: vec![Category::Security],
            roles: vec![Role::Importer],
        };
        assert_eq!(
            at_pe(Some(&c), Some(&m)),
            [
                CertificateSuspended,
                CertificateExpired,
                CertificateNotYetValid,
                MraNotInForce,
                CategoryNotCovered,
                RoleNotCovered
            ]
        );
    }

    #[test]
    fn certificate_and_mra_failures_combine() {
        let cases: Vec<(Status, MraStatus, Vec<Role>, Vec<Reason>)> = vec![
            (Status::Revoked, MraStatus::Suspended, vec![], vec![CertificateRevoked, MraNotInForce]),
            (Status::Suspended, MraStatus::InForce, vec![Role::Importer], vec![CertificateSuspended, RoleNotCovered]),
            (Status::Active, MraStatus::Negotiating, vec![Role::Exporter], vec![MraNotInForce]),
        ];
        for (status, mra_status, roles, want) in cases {
            let c = CertificateFacts { status, ..cert() };
            let m = MraFacts { status: mra_status, roles, ..mra() };
            assert_eq!(at_pe(Some(&c), Some(&m)), want, "{status} / {mra_status}");
        }
    }

    #[test]
    fn the_issuer_itself_needs_no_mra() {
        let cl = code("CL");
        let today = date(TODAY);
        let terminated =
            MraFacts { status: MraStatus::Terminated, categories: vec![], roles: vec![Role::Importer], ..mra() };
        let cases: Vec<(Option<CertificateFacts>, Option<MraFacts>, Vec<Reason>)> = vec![
            (Some(cert()), None, vec![]),
            (Some(cert()), Some(terminated.clone()), vec![]),
            (None, None, vec![CertificateNotFound]),
            (None, Some(terminated), vec![CertificateNotFound]),
            (Some(CertificateFacts { status: Status::Suspended, ..cert() }), None, vec![CertificateSuspended]),
            (Some(CertificateFacts { valid_until: date("2026-06-14"), ..cert() }), None, vec![CertificateExpired]),
            (Some(CertificateFacts { valid_from: date("2026-06-16"), ..cert() }), None, vec![CertificateNotYetValid]),
        ];
        for (c, m, want) in cases {
            assert_eq!(recognize(&cl, &cl, c.as_ref(), m.as_ref(), today), want, "{c:?} / {m:?}");
        }
    }

    #[test]
    fn sub_administrations_of_one_country_are_still_different_administrations() {
        let got = recognize(&code("EU-DE"), &code("EU-FR"), Some(&cert()), None, date(TODAY));
        assert_eq!(got, [NoMra]);
    }

    #[test]
    fn issuer_unreachable_is_never_produced_here() {
        let statuses = [Status::Active, Status::Suspended, Status::Revoked, Status::Expired];
        for status in statuses {
            for mra_status in MraStatus::ALL {
                for present in [true, false] {
                    let c = CertificateFacts { status, ..cert() };
                    let m = MraFacts { status: *mra_status, ..mra() };
                    let got = at_pe(present.then_some(&c), present.then_some(&m));
                    assert!(!got.contains(&IssuerUnreachable));
                    let mut sorted = got.clone();
                    sorted.sort();
                    sorted.dedup();
                    assert_eq!(got, sorted, "sorted and unique");
                }
            }
        }
    }
}
