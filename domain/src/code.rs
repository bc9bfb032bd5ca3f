//! Codes that name things across registries: administration codes and certificate numbers.
//!
//! Both appear in URLs, signed statements and peers' databases, so each has exactly one
//! spelling. An administration code is taken as given (a tenant key must not silently change
//! case); a certificate number is typed by people, so surrounding blanks and lower case are
//! forgiven and the canonical upper-case form is kept.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A customs administration (tenant) code: `^[A-Z]{2}(-[A-Z0-9]{1,8})?$`, e.g. `CL`, `EU-DE`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AdministrationCode(String);

impl AdministrationCode {
    pub fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        let country_ok = b.len() >= 2 && b[..2].iter().all(u8::is_ascii_uppercase);
        let suffix_ok = match b.get(2..) {
            Some([]) => true,
            Some([b'-', rest @ ..]) => {
                (1..=8).contains(&rest.len()) && rest.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            }
            _ => false,
        };
        if country_ok && suffix_ok {
            Ok(Self(s.to_string()))
        } else {
            Err("must be two upper-case letters, optionally followed by '-' and 1 to 8 \
                 upper-case letters or digits (e.g. CL or EU-DE)"
                .to_string())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The two-letter country part (`EU` for `EU-DE`).
    pub fn country(&self) -> &str {
        // Validation guarantees at least two ASCII bytes, so this slice is on a char boundary.
        &self.0[..2]
    }
}

impl fmt::Display for AdministrationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AdministrationCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<AdministrationCode> for String {
    fn from(c: AdministrationCode) -> String {
        c.0
    }
}

impl std::str::FromStr for AdministrationCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl AsRef<str> for AdministrationCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A certificate number, unique within its administration: 1 to 64 of `[A-Z0-9._-]`, starting
/// with a letter or digit. Safe to put in a URL path segment without escaping.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CertificateNumber(String);

impl CertificateNumber {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Self, String> {
        // ASCII only: full Unicode upper-casing turns letters the rule refuses into ones it
        // takes ("ß" into "SS", "ﬁ" into "FI"), and so would accept them under another name.
        let n = s.trim().to_ascii_uppercase();
        if n.is_empty() || n.chars().count() > Self::MAX_LEN {
            return Err(format!("must be 1 to {} characters", Self::MAX_LEN));
        }
        let mut chars = n.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !first_ok {
            return Err("must start with a letter or a digit".to_string());
        }
        let rest_ok = chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if !rest_ok {
            return Err("may contain only letters A-Z, digits, '.', '_' and '-'".to_string());
        }
        Ok(Self(n))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CertificateNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CertificateNumber {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<CertificateNumber> for String {
    fn from(c: CertificateNumber) -> String {
        c.0
    }
}

impl std::str::FromStr for CertificateNumber {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl AsRef<str> for CertificateNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administration_code_matches_the_contract_pattern_exactly() {
        let cases: &[(&str, bool)] = &[
            ("CL", true),
            ("PE", true),
            ("EU-DE", true),
            ("CL-1", true),
            ("CL-ABCDEFGH", true),
            ("CL-A1B2C3D4", true),
            ("CL-ABCDEFGHI", false),
            ("CL-", false),
            ("cl", false),
            ("Cl", false),
            ("C", false),
            ("CHL", false),
            ("", false),
            (" CL", false),
            ("CL ", false),
            ("CL_DE", false),
            ("CL-de", false),
            ("CL--DE", false),
            ("C1", false),
            ("12", false),
            ("ÑA", false),
            ("CL-DÉ", false),
        ];
        for (input, ok) in cases {
            assert_eq!(AdministrationCode::parse(input).is_ok(), *ok, "input {input:?}");
        }
    }

    #[test]
    fn administration_code_keeps_its_text_and_exposes_the_country() {
        let cases = [("CL", "CL"), ("EU-DE", "EU"), ("PE-LIMA01", "PE")];
        for (input, country) in cases {
            let code = AdministrationCode::parse(input).expect("valid");
            assert_eq!(code.as_str(), input);
            assert_eq!(code.to_string(), input);
            assert_eq!(code.country(), country);
        }
    }

    #[test]
    fn administration_code_serde_is_a_plain_string_and_validates() {
        let code = AdministrationCode::parse("CL").expect("valid");
        assert_eq!(serde_json::to_string(&code).expect("ser"), "\"CL\"");
        let back: AdministrationCode = serde_json::from_str("\"EU-DE\"").expect("de");
        assert_eq!(back.as_str(), "EU-DE");
        assert!(serde_json::from_str::<AdministrationCode>("\"cl\"").is_err());
        assert!(serde_json::from_str::<AdministrationCode>("42").is_err());
    }

    #[test]
    fn certificate_number_is_trimmed_upper_cased_and_restricted() {
        let cases: &[(&str, Option<&str>)] = &[
            ("CL-OEA-0001", Some("CL-OEA-0001")),
            ("  cl-oea-0001 ", Some("CL-OEA-0001")),
            ("a", Some("A")),
            ("7", Some("7")),
            ("PE.OEA_2024-01", Some("PE.OEA_2024-01")),
            ("", None),
            ("   ", None),
            ("-CL", None),
            (".CL", None),
            ("_CL", None),
            ("CL/0001", None),
            ("CL 0001", None),
            ("CL\"1", None),
            ("CL'1", None),
            ("CL:1", None),
            ("CLÑ1", None),
            ("CL\n1", None),
            ("straße-1", None),
            ("ﬁrma-1", None),
            ("cl-ı1", None),
        ];
        for (input, want) in cases {
            let got = CertificateNumber::parse(input).ok();
            assert_eq!(got.as_ref().map(|n| n.as_str()), *want, "input {input:?}");
        }
    }

    #[test]
    fn certificate_number_allows_sixty_four_characters_and_no_more() {
        let ok = "A".repeat(64);
        assert_eq!(CertificateNumber::parse(&ok).expect("64").as_str(), ok);
        assert!(CertificateNumber::parse(&"A".repeat(65)).is_err());
        // Surrounding blanks do not count against the limit.
        assert!(CertificateNumber::parse(&format!("  {ok}  ")).is_ok());
    }

    #[test]
    fn certificate_number_errors_explain_the_rule() {
        assert_eq!(CertificateNumber::parse("").unwrap_err(), "must be 1 to 64 characters");
        assert_eq!(CertificateNumber::parse("-X").unwrap_err(), "must start with a letter or a digit");
        assert_eq!(
            CertificateNumber::parse("X/Y").unwrap_err(),
            "may contain only letters A-Z, digits, '.', '_' and '-'"
        );
    }

    #[test]
    fn certificate_number_serde_normalises_on_the_way_in() {
        let n: CertificateNumber = serde_json::from_str("\" cl-oea-1 \"").expect("de");
        assert_eq!(n.as_str(), "CL-OEA-1");
        assert_eq!(serde_json::to_string(&n).expect("ser"), "\"CL-OEA-1\"");
        assert!(serde_json::from_str::<CertificateNumber>("\"a/b\"").is_err());
    }

    #[test]
    fn codes_order_by_their_text() {
        let mut v = ["PE", "CL", "CO", "CL-X"].map(|s| AdministrationCode::parse(s).expect("valid")).to_vec();
        v.sort();
        let got: Vec<&str> = v.iter().map(AdministrationCode::as_str).collect();
        assert_eq!(got, ["CL", "CL-X", "CO", "PE"]);
    }
}
