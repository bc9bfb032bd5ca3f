//! Operator identifiers: national tax numbers and cross-border identifiers, validated and
//! normalised so that one operator is found by any spelling of any of its numbers.
//!
//! Mismatched identifiers are the most common practical failure of MRAs, so each known scheme
//! is checked (format and, where the scheme has one, check digit) and stored in one canonical
//! spelling. People type identifiers with dots, spaces, dashes and lower case; those are
//! forgiven, anything else is rejected rather than guessed at.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An identifier scheme. `Tin` holds the two upper-case letters of a country whose tax number
/// is accepted as opaque text (written `XX-TIN`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    ClRut,
    CoNit,
    MxRfc,
    PeRuc,
    Eori,
    Lei,
    Tin(String),
}

impl Scheme {
    /// The schemes known by name, each with its own format and check; any other country's
    /// tax number is `XX-TIN`.
    pub const NAMED: [Scheme; 6] =
        [Scheme::ClRut, Scheme::CoNit, Scheme::MxRfc, Scheme::PeRuc, Scheme::Eori, Scheme::Lei];

    /// Parses a scheme name; surrounding blanks and case are forgiven (`cl-rut` is `CL-RUT`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let upper = s.trim().to_ascii_uppercase();
        let scheme = match upper.as_str() {
            "CL-RUT" => Self::ClRut,
            "CO-NIT" => Self::CoNit,
            "MX-RFC" => Self::MxRfc,
            "PE-RUC" => Self::PeRuc,
            "EORI" => Self::Eori,
            "LEI" => Self::Lei,
            other => match other.as_bytes() {
                [a, b, b'-', b'T', b'I', b'N'] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
                    Self::Tin(other[..2].to_string())
                }
                _ => {
                    return Err("must be CL-RUT, CO-NIT, MX-RFC, PE-RUC, EORI, LEI or a country's XX-TIN".to_string());
                }
            },
        };
        Ok(scheme)
    }

    pub fn as_str(&self) -> String {
        match self {
            Self::ClRut => "CL-RUT".to_string(),
            Self::CoNit => "CO-NIT".to_string(),
            Self::MxRfc => "MX-RFC".to_string(),
            Self::PeRuc => "PE-RUC".to_string(),
            Self::Eori => "EORI".to_string(),
            Self::Lei => "LEI".to_string(),
            Self::Tin(country) => format!("{country}-TIN"),
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl std::str::FromStr for Scheme {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl Serialize for Scheme {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_str())
    }
}

impl<'de> Deserialize<'de> for Scheme {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    #[error(
        "unknown identifier scheme \"{0}\": expected CL-RUT, CO-NIT, MX-RFC, PE-RUC, EORI, LEI or a country's XX-TIN"
    )]
    UnknownScheme(String),
    #[error("invalid {scheme}: {message}")]
    InvalidFormat { scheme: String, message: String },
    #[error("invalid {scheme}: the check digit does not match")]
    InvalidCheckDigit { scheme: String },
    #[error("identifier must be SCHEME:VALUE")]
    MissingSeparator,
}

impl IdentifierError {
    /// True when the scheme, not the value, is at fault, so a caller can blame the right field.
    pub fn is_scheme_error(&self) -> bool {
        matches!(self, Self::UnknownScheme(_))
    }
}

/// A validated identifier in canonical form. Serialises as `{"scheme": ..., "value": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperatorId {
    pub scheme: Scheme,
    pub value: String,
}

impl OperatorId {
    pub fn parse(scheme: &str, value: &str) -> Result<Self, IdentifierError> {
        let scheme = Scheme::parse(scheme).map_err(|_| IdentifierError::UnknownScheme(scheme.trim().to_string()))?;
        let value = normalise(&scheme, value)?;
        Ok(Self { scheme, value })
    }

    /// Parses `SCHEME:VALUE`, split at the first ':' (an opaque TIN value may not contain one).
    pub fn parse_pair(s: &str) -> Result<Self, IdentifierError> {
        let (scheme, value) = s.split_once(':').ok_or(IdentifierError::MissingSeparator)?;
        Self::parse(scheme, value)
    }

    /// The value reduced to upper-case letters and digits, for matching loosely typed searches.
    pub fn compact(&self) -> String {
        compact(&self.value)
    }

    pub fn to_pair(&self) -> String {
        format!("{}:{}", self.scheme.as_str(), self.value)
    }
}

impl fmt::Display for OperatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scheme, self.value)
    }
}

impl std::str::FromStr for OperatorId {
    type Err = IdentifierError;
    fn from_str(s: &str) -> Result<Self, IdentifierError> {
        Self::parse_pair(s)
    }
}

#[derive(Serialize, Deserialize)]
struct OperatorIdWire<S> {
    scheme: S,
    value: S,
}

impl Serialize for OperatorId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        OperatorIdWire { scheme: self.scheme.as_str(), value: self.value.clone() }.serialize(serializer)
    }
}

/// Re-validates on the way in: data from a peer or an old row is not trusted to be canonical.
impl<'de> Deserialize<'de> for OperatorId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = OperatorIdWire::<String>::deserialize(deserializer)?;
        Self::parse(&wire.scheme, &wire.value).map_err(serde::de::Error::custom)
    }
}

/// Upper-case letters and digits of `text`, nothing else: `76.086.428-5` → `760864285`,
/// `Exportadora Andina` → `EXPORTADORAANDINA`.
pub fn compact(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_uppercase).collect()
}

/// Chilean RUT check digit of `body` (non-digits are skipped, so `76.086.428` works).
pub fn check_digit_cl_rut(body: &str) -> char {
    // Reduced as it goes: the weights cycle, so an arbitrarily long input must not overflow.
    let sum =
        digits(body).rev().zip([2, 3, 4, 5, 6, 7].into_iter().cycle()).fold(0u32, |acc, (d, w)| (acc + d * w) % 11);
    match 11 - sum {
        11 => '0',
        10 => 'K',
        d => digit_char(d),
    }
}

/// Colombian NIT check digit of `body` (DIAN weights, up to 15 digits; non-digits skipped).
pub fn check_digit_co_nit(body: &str) -> char {
    const WEIGHTS: [u32; 15] = [3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71];
    let sum: u32 = digits(body).rev().zip(WEIGHTS).map(|(d, w)| d * w).sum();
    match sum % 11 {
        r @ (0 | 1) => digit_char(r),
        r => digit_char(11 - r),
    }
}

/// Peruvian RUC check digit of its first ten digits (non-digits skipped).
pub fn check_digit_pe_ruc(first10: &str) -> char {
    const WEIGHTS: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let sum: u32 = digits(first10).zip(WEIGHTS).map(|(d, w)| d * w).sum();
    match 11 - sum % 11 {
        10 => '0',
        11 => '1',
        d => digit_char(d),
    }
}

/// True when `lei` (20 upper-case letters or digits) satisfies ISO 7064 mod 97-10.
pub fn lei_checksum_is_valid(lei: &str) -> bool {
    let mut rem: u32 = 0;
    for c in lei.chars() {
        let Some(v) = c.to_digit(36) else {
            return false;
        };
        // Letters stand for two decimal digits (A = 10 .. Z = 35), digits for one.
        rem = if v >= 10 { rem * 100 + v } else { rem * 10 + v } % 97;
    }
    !lei.is_empty() && rem == 1
}

fn digits(s: &str) -> impl DoubleEndedIterator<Item = u32> + '_ {
    s.chars().filter_map(|c| c.to_digit(10))
}

fn digit_char(d: u32) -> char {
    char::from_digit(d, 10).unwrap_or('?')
}

/// What people put between the parts of a number; removed before validation.
fn strip_separators(value: &str) -> String {
    value.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).flat_map(char::to_uppercase).collect()
}

fn invalid(scheme: &Scheme, message: &str) -> IdentifierError {
    IdentifierError::InvalidFormat { scheme: scheme.as_str(), message: message.to_string() }
}

fn bad_check_digit(scheme: &Scheme) -> IdentifierError {
    IdentifierError::InvalidCheckDigit { scheme: scheme.as_str() }
}

fn normalise(scheme: &Scheme, value: &str) -> Result<String, IdentifierError> {
    if value.trim().is_empty() {
        return Err(invalid(scheme, "the value must not be empty"));
    }
    match scheme {
        Scheme::ClRut => normalise_cl_rut(scheme, value),
        Scheme::CoNit => normalise_co_nit(scheme, value),
        Scheme::PeRuc => normalise_pe_ruc(scheme, value),
        Scheme::MxRfc => normalise_mx_rfc(scheme, value),
        Scheme::Eori => normalise_eori(scheme, value),
        Scheme::Lei => normalise_lei(scheme, value),
        Scheme::Tin(_) => normalise_tin(scheme, value),
    }
}

fn normalise_cl_rut(scheme: &Scheme, value: &str) -> Result<String, IdentifierError> {
    const RULE: &str = "must be 7 or 8 digits and a check digit (0-9 or K), e.g. 76.086.428-5";
    let s = strip_separators(value);
    let Some(dv) = s.chars().last() else {
        return Err(invalid(scheme, RULE));
    };
    let body = &s[..s.len() - dv.len_utf8()];
    let shaped =
        (7..=8).contains(&body.len()) && body.bytes().all(|b| b.is_ascii_digit()) && (dv.is_ascii_digit() || dv == 'K');
    if !shaped {
        return Err(invalid(scheme, RULE));
    }
    if check_digit_cl_rut(body) != dv {
        return Err(bad_check_digit(scheme));
    }
    Ok(format!("{body}-{dv}"))
}

fn normalise_co_nit(scheme: &Scheme, value: &str) -> Result<String, IdentifierError> {
    const RULE: &str = "must be 9 digits and a check digit, e.g. 800.197.268-4";
    let s = strip_separators(value);
    if s.len() != 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(scheme, RULE));
    }
    let (body, dv) = s.split_at(9);
    if !dv.starts_with(check_digit_co_nit(body)) {
        return Err(bad_check_digit(scheme));
    }
    Ok(format!("{body}-{dv}"))
}

fn normalise_pe_ruc(scheme: &Scheme, value: &str) -> Result<String, IdentifierError> {
    let s = strip_separators(value);
    if s.len() != 11 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(scheme, "must be 11 digits, e.g. 20131312955"));
    }
    if !matches!(&s[..2], "10" | "15" | "16" | "17" | "20") {
        return Err(invalid(scheme, "must start with 10, 15, 16, 17 or 20"));
    }
    let (first10, dv) = s.split_at(10);
    if !dv.starts_with(check_digit_pe_ruc(first10)) {
        return Err(bad_check_digit(scheme));
    }
    Ok(s)
}

fn normalise_mx_rfc(scheme: &Scheme, value: &str) -> Result<String, IdentifierError> {
    const RULE: &str = "must be 3 letters (companies) or 4 (persons), a date YYMMDD and 3 letters \
                        or digits, e.g. ABC010203XY9";
    let s = strip_separators(value);
    let chars: Vec<char> = s.chars().collect();
    let letters = match chars.len() {
        12 => 3,
        13 => 4,
        _ => return Err(invalid(scheme, RULE)),
    };
    let (name, rest) = chars.split_at(letters);
    let (date, homoclave) = rest.split_at(6);
    let shaped = name.iter().all(|c| c.is_ascii_uppercase() || matches!(c, 'Ñ' | '&'))
        && date.iter().all(char::is_ascii_digit)
        && homoclave.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !shaped {
        return Err(invalid(scheme, RULE));
    }
    let two = |i: usize| date[i..i + 2].iter().fold(0u32, |acc, c| acc * 10 + c.to_digit(10).unwrap_or(0));
    // The century is not written; 20YY accepts every day 19YY would (2000 was a leap year), so
    // checking the 2000s is enough to know whether the date exists in either century.
    let year = 2000 + two(0) as i32;
    if chrono::NaiveDate::from_ymd_opt(year, two(2), two(4)).is_none() {
        return Err(invalid(scheme, "contains a date YYMMDD that does not exist"));
    }
    Ok(s)
}

fn normalise_eori(scheme: &Scheme, value: &str) -> Result<String, IdentifierError> {
    let s = strip_separators(value);
    let b = s.as_bytes();
    let shaped = (3..=17).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !shaped {
        return Err(invalid(
            scheme,
            "must be a two-letter country code and 1 to 15 letters or digits, e.g. DE1234567890",
        ));
    }
    Ok(s)
}

fn normalise_lei(scheme: &Scheme, value: &str) -> Result<String, IdentifierError> {
    let s = strip_separators(value);
    if s.len() != 20 || !s.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        return Err(invalid(scheme, "must be 20 letters or digits"));
    }
    if !lei_checksum_is_valid(&s) {
        return Err(bad_check_digit(scheme));
    }
    Ok(s)
}

/// Longest accepted `XX-TIN` value, in characters once trimmed and upper-cased.
pub const TIN_MAX_CHARS: usize = 64;

fn normalise_tin(scheme: &Scheme, value: &str) -> Result<String, IdentifierError> {
    let s = value.trim().to_uppercase();
    if s.chars().count() > TIN_MAX_CHARS {
        return Err(invalid(scheme, "must be at most 64 characters"));
    }
    if s.chars().any(|c| c.is_control() || c == ':') {
        return Err(invalid(scheme, "must not contain ':' or control characters"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(scheme: &str, value: &str) -> String {
        OperatorId::parse(scheme, value).unwrap_or_else(|e| panic!("{scheme}:{value:?} should be valid: {e}")).value
    }

    fn err(scheme: &str, value: &str) -> IdentifierError {
        match OperatorId::parse(scheme, value) {
            Ok(id) => panic!("{scheme}:{value:?} should be invalid, got {id:?}"),
            Err(e) => e,
        }
    }

    fn is_format(e: &IdentifierError) -> bool {
        matches!(e, IdentifierError::InvalidFormat { .. })
    }

    fn is_check(e: &IdentifierError) -> bool {
        matches!(e, IdentifierError::InvalidCheckDigit { .. })
    }

    #[test]
    fn scheme_names_round_trip_and_forgive_case_and_blanks() {
        let cases: &[(&str, Scheme, &str)] = &[
            ("CL-RUT", Scheme::ClRut, "CL-RUT"),
            ("cl-rut", Scheme::ClRut, "CL-RUT"),
            (" CO-NIT ", Scheme::CoNit, "CO-NIT"),
            ("MX-RFC", Scheme::MxRfc, "MX-RFC"),
            ("PE-RUC", Scheme::PeRuc, "PE-RUC"),
            ("EORI", Scheme::Eori, "EORI"),
            ("eori", Scheme::Eori, "EORI"),
            ("LEI", Scheme::Lei, "LEI"),
            ("US-TIN", Scheme::Tin("US".into()), "US-TIN"),
            ("br-tin", Scheme::Tin("BR".into()), "BR-TIN"),
        ];
        for (input, scheme, name) in cases {
            let parsed = Scheme::parse(input).expect(input);
            assert_eq!(&parsed, scheme, "input {input:?}");
            assert_eq!(parsed.as_str(), *name);
            assert_eq!(parsed.to_string(), *name);
            assert_eq!(Scheme::parse(name).expect("canonical"), parsed);
        }
    }

    #[test]
    fn every_named_scheme_parses_back_and_none_is_a_tin() {
        for scheme in &Scheme::NAMED {
            assert_eq!(&Scheme::parse(&scheme.as_str()).expect("named"), scheme);
            assert!(!matches!(scheme, Scheme::Tin(_)));
        }
        let names: std::collections::BTreeSet<String> = Scheme::NAMED.iter().map(Scheme::as_str).collect();
        assert_eq!(names.len(), Scheme::NAMED.len());
    }

    #[test]
    fn unknown_schemes_are_refused() {
        for input in [
            "", "RUT", "CL_RUT", "CLRUT", "CL-NIT", "USA-TIN", "U-TIN", "1A-TIN", "US-TAX", "US-TIN-X", "ÑA-TIN", "VAT",
        ] {
            assert!(Scheme::parse(input).is_err(), "input {input:?}");
            let e = OperatorId::parse(input, "123").unwrap_err();
            assert!(e.is_scheme_error(), "input {input:?}");
            assert!(matches!(e, IdentifierError::UnknownScheme(_)));
        }
    }

    #[test]
    fn chilean_rut_check_digit_is_modulo_eleven() {
        let cases = [
            ("76086428", '5'),
            ("76.086.428", '5'),
            ("12345678", '5'),
            ("11111111", '1'),
            ("10000013", 'K'),
            ("1000005", 'K'),
            ("10000021", '0'),
        ];
        for (body, dv) in cases {
            assert_eq!(check_digit_cl_rut(body), dv, "body {body}");
        }
    }

    #[test]
    fn chilean_rut_accepts_human_spellings_and_normalises() {
        let cases = [
            ("76.086.428-5", "76086428-5"),
            ("76086428-5", "76086428-5"),
            ("760864285", "76086428-5"),
            (" 76 086 428 - 5 ", "76086428-5"),
            ("10000013-k", "10000013-K"),
            ("10.000.013-K", "10000013-K"),
            ("1.000.005-K", "1000005-K"),
            ("10000021-0", "10000021-0"),
        ];
        for (input, want) in cases {
            assert_eq!(ok("CL-RUT", input), want, "input {input:?}");
        }
    }

    #[test]
    fn chilean_rut_rejects_wrong_shapes_and_check_digits() {
        let format = [
            "",
            "   ",
            "K",
            "123456-7",
            "123456789-0",
            "7608642A-5",
            "76086428-X",
            "76,086,428-5",
            "76086428/5",
            "७६०८६४२८-5",
        ];
        for input in format {
            assert!(is_format(&err("CL-RUT", input)), "input {input:?}");
        }
        for input in ["76086428-4", "76086428-K", "10000013-0"] {
            assert!(is_check(&err("CL-RUT", input)), "input {input:?}");
        }
    }

    #[test]
    fn colombian_nit_check_digit_follows_dian() {
        let cases =
            [("800197268", '4'), ("800.197.268", '4'), ("900123456", '8'), ("860034313", '7'), ("000000000", '0')];
        for (body, dv) in cases {
            assert_eq!(check_digit_co_nit(body), dv, "body {body}");
        }
    }

    #[test]
    fn colombian_nit_accepts_ten_digits_with_or_without_separators() {
        let cases = [
            ("800.197.268-4", "800197268-4"),
            ("800197268-4", "800197268-4"),
            ("8001972684", "800197268-4"),
            ("800 197 268 4", "800197268-4"),
            ("900123456-8", "900123456-8"),
        ];
        for (input, want) in cases {
            assert_eq!(ok("CO-NIT", input), want, "input {input:?}");
        }
    }

    #[test]
    fn colombian_nit_rejects_other_lengths_and_bad_check_digits() {
        for input in ["80019726-4", "800197268", "800197268-41", "80019726A-4", "800197268_4"] {
            assert!(is_format(&err("CO-NIT", input)), "input {input:?}");
        }
        for input in ["800197268-5", "900123456-0"] {
            assert!(is_check(&err("CO-NIT", input)), "input {input:?}");
        }
    }

    #[test]
    fn peruvian_ruc_check_digit_is_modulo_eleven_with_its_weights() {
        let cases = [
            ("2013131295", '5'),
            ("20-131-312-95", '5'),
            // 11 - r == 10 maps to 0, 11 - r == 11 maps to 1.
            ("1000000009", '0'),
            ("1000000003", '1'),
        ];
        for (first10, dv) in cases {
            assert_eq!(check_digit_pe_ruc(first10), dv, "input {first10}");
        }
        for prefix in ["10", "15", "16", "17", "20"] {
            for tail in ["00000000", "12345678", "99999999", "31312950"] {
                let first10 = format!("{prefix}{tail}");
                assert_eq!(check_digit_pe_ruc(&first10), check_pe_by_hand(&first10));
            }
        }
    }

    fn check_pe_by_hand(first10: &str) -> char {
        let w = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
        let sum: u32 = first10.chars().zip(w).map(|(c, w)| c.to_digit(10).expect("digit") * w).sum();
        let r = 11 - sum % 11;
        let d = if r == 10 {
            0
        } else if r == 11 {
            1
        } else {
            r
        };
        char::from_digit(d, 10).expect("digit")
    }

    #[test]
    fn peruvian_ruc_needs_eleven_digits_a_known_prefix_and_its_check_digit() {
        assert_eq!(ok("PE-RUC", "20131312955"), "20131312955");
        assert_eq!(ok("PE-RUC", "20-13131295-5"), "20131312955");
        assert_eq!(ok("PE-RUC", " 20131312955 "), "20131312955");
        for prefix in ["10", "15", "16", "17", "20"] {
            let first10 = format!("{prefix}12345678");
            let ruc = format!("{first10}{}", check_digit_pe_ruc(&first10));
            assert_eq!(ok("PE-RUC", &ruc), ruc);
        }
        for input in ["2013131295", "201313129551", "2013131295A", "RUC20131312955"] {
            assert!(is_format(&err("PE-RUC", input)), "input {input:?}");
        }
        for prefix in ["11", "19", "21", "00", "30"] {
            let first10 = format!("{prefix}12345678");
            let ruc = format!("{first10}{}", check_digit_pe_ruc(&first10));
            assert!(is_format(&err("PE-RUC", &ruc)), "prefix {prefix}");
        }
        assert!(is_check(&err("PE-RUC", "20131312954")));
    }

    #[test]
    fn mexican_rfc_checks_shape_and_calendar_date_only() {
        let valid = [
            ("ABC010203XY9", "ABC010203XY9"),
            ("abc-010203-xy9", "ABC010203XY9"),
            ("A&C 010203 XY9", "A&C010203XY9"),
            ("ñab010203xy9", "ÑAB010203XY9"),
            ("GODE561231GR8", "GODE561231GR8"),
            ("XAXX010101000", "XAXX010101000"),
            ("ABC000229XY9", "ABC000229XY9"),
            ("ABC960229XY9", "ABC960229XY9"),
        ];
        for (input, want) in valid {
            assert_eq!(ok("MX-RFC", input), want, "input {input:?}");
        }
        let invalid = [
            "AB010203XY9",
            "ABCDE010203XY9",
            "ABC010203XY",
            "AB1010203XY9",
            "ABC01020AXY9",
            "ABC010203X_9",
            "ABC011303XY9",
            "ABC010230XY9",
            "ABC010229XY9",
            "ABC010200XY9",
            "ABCD010203XÑ9",
            "ÁBC010203XY9",
        ];
        for input in invalid {
            assert!(is_format(&err("MX-RFC", input)), "input {input:?}");
        }
    }

    #[test]
    fn eori_is_a_country_code_and_up_to_fifteen_characters() {
        let valid = [
            ("DE1234567890123", "DE1234567890123"),
            ("de 1234 5678", "DE12345678"),
            ("FR1", "FR1"),
            ("GB123456789000", "GB123456789000"),
            ("NLABCDEFGHIJKLMNO", "NLABCDEFGHIJKLMNO"),
        ];
        for (input, want) in valid {
            assert_eq!(ok("EORI", input), want, "input {input:?}");
        }
        for input in ["DE", "D1234", "12345", "DE1234567890123456", "DE12_34", "DE12/34", "ÑE123"] {
            assert!(is_format(&err("EORI", input)), "input {input:?}");
        }
    }

    #[test]
    fn lei_is_twenty_characters_passing_mod_97_10() {
        assert!(lei_checksum_is_valid("5493001KJTIIGC8Y1R12"));
        assert!(!lei_checksum_is_valid(""));
        assert!(!lei_checksum_is_valid("5493001KJTIIGC8Y1R1!"));
        assert_eq!(ok("LEI", "5493001KJTIIGC8Y1R12"), "5493001KJTIIGC8Y1R12");
        assert_eq!(ok("LEI", "5493001kjtiigc8y1r12"), "5493001KJTIIGC8Y1R12");
        assert_eq!(ok("LEI", "5493 001K JTII GC8Y 1R12"), "5493001KJTIIGC8Y1R12");
        for input in ["5493001KJTIIGC8Y1R1", "5493001KJTIIGC8Y1R123", "5493001KJTIIGC8Y1R_2"] {
            assert!(is_format(&err("LEI", input)), "input {input:?}");
        }
        for input in ["5493001KJTIIGC8Y1R13", "5493001KJTIIGC8Y1R21", "4493001KJTIIGC8Y1R12"] {
            assert!(is_check(&err("LEI", input)), "input {input:?}");
        }
    }

    #[test]
    fn country_tin_is_opaque_trimmed_upper_case_text() {
        let valid = [
            ("US-TIN", " 12-3456789 ", "12-3456789"),
            ("BR-TIN", "12.345.678/0001-95", "12.345.678/0001-95"),
            ("AR-TIN", "cuit 30 1", "CUIT 30 1"),
        ];
        for (scheme, input, want) in valid {
            assert_eq!(ok(scheme, input), want, "input {input:?}");
        }
        assert_eq!(ok("US-TIN", &"a".repeat(64)), "A".repeat(64));
        for input in ["", "  ", "12:34", "12\n34", "12\u{7}34"] {
            assert!(is_format(&err("US-TIN", input)), "input {input:?}");
        }
        assert!(is_format(&err("US-TIN", &"A".repeat(65))));
    }

    #[test]
    fn every_value_error_is_not_a_scheme_error() {
        let cases = [
            ("CL-RUT", "1"),
            ("CL-RUT", "76086428-4"),
            ("CO-NIT", "1"),
            ("PE-RUC", "1"),
            ("MX-RFC", "1"),
            ("EORI", "1"),
            ("LEI", "1"),
            ("US-TIN", ""),
        ];
        for (scheme, value) in cases {
            assert!(!err(scheme, value).is_scheme_error(), "{scheme}:{value}");
        }
        assert!(!IdentifierError::MissingSeparator.is_scheme_error());
    }

    #[test]
    fn normalised_values_parse_back_to_themselves() {
        let cases = [
            ("CL-RUT", "76.086.428-5"),
            ("CL-RUT", "10000013-k"),
            ("CO-NIT", "800.197.268-4"),
            ("PE-RUC", "20131312955"),
            ("MX-RFC", "ñab010203xy9"),
            ("EORI", "de 1234"),
            ("LEI", "5493001kjtiigc8y1r12"),
            ("us-tin", " 12-3456789 "),
        ];
        for (scheme, value) in cases {
            let once = OperatorId::parse(scheme, value).expect("valid");
            let twice = OperatorId::parse(&once.scheme.as_str(), &once.value).expect("again");
            assert_eq!(once, twice);
            assert_eq!(OperatorId::parse_pair(&once.to_pair()).expect("pair"), once);
        }
    }

    #[test]
    fn pair_splits_at_the_first_colon() {
        let id = OperatorId::parse_pair("CL-RUT:76.086.428-5").expect("valid");
        assert_eq!(id.scheme, Scheme::ClRut);
        assert_eq!(id.value, "76086428-5");
        assert_eq!(id.to_pair(), "CL-RUT:76086428-5");
        assert_eq!(id.to_string(), "CL-RUT:76086428-5");
        assert_eq!("cl-rut:760864285".parse::<OperatorId>().expect("valid"), id);

        assert_eq!(OperatorId::parse_pair("CL-RUT 76086428-5"), Err(IdentifierError::MissingSeparator));
        assert_eq!(OperatorId::parse_pair(""), Err(IdentifierError::MissingSeparator));
        assert!(matches!(OperatorId::parse_pair("US-TIN:12:34"), Err(IdentifierError::InvalidFormat { .. })));
        assert!(matches!(
            OperatorId::parse_pair("XYZ:1"),
            Err(IdentifierError::UnknownScheme(s)) if s == "XYZ"
        ));
        assert!(matches!(OperatorId::parse_pair(":1"), Err(IdentifierError::UnknownScheme(_))));
    }

    #[test]
    fn compact_keeps_upper_case_letters_and_digits_only() {
        let cases = [
            ("76.086.428-5", "760864285"),
            ("Exportadora Andina SpA", "EXPORTADORAANDINASPA"),
            ("ñandú & Cía.", "ÑANDÚCÍA"),
            ("  ", ""),
            ("a-b_c/d:e", "ABCDE"),
        ];
        for (input, want) in cases {
            assert_eq!(compact(input), want, "input {input:?}");
        }
        let id = OperatorId::parse("CO-NIT", "800.197.268-4").expect("valid");
        assert_eq!(id.compact(), "8001972684");
    }

    #[test]
    fn operator_id_serializes_as_scheme_and_value_and_validates_when_read() {
        let id = OperatorId::parse("CL-RUT", "76.086.428-5").expect("valid");
        let json = serde_json::to_value(&id).expect("ser");
        assert_eq!(json, serde_json::json!({"scheme": "CL-RUT", "value": "76086428-5"}));
        let back: OperatorId = serde_json::from_value(json).expect("de");
        assert_eq!(back, id);
        let tin = OperatorId::parse("US-TIN", "12-3").expect("valid");
        assert_eq!(serde_json::to_value(&tin).expect("ser"), serde_json::json!({"scheme": "US-TIN", "value": "12-3"}));
        let lax: OperatorId = serde_json::from_str(r#"{"scheme":"cl-rut","value":"760864285"}"#).expect("de");
        assert_eq!(lax, id);
        assert!(serde_json::from_str::<OperatorId>(r#"{"scheme":"CL-RUT","value":"1"}"#).is_err());
        assert!(serde_json::from_str::<OperatorId>(r#"{"scheme":"CL-RUT"}"#).is_err());
    }

    #[test]
    fn error_messages_name_the_scheme_and_never_a_rust_type() {
        let cases = [
            (err("CL-RUT", "76086428-4"), "invalid CL-RUT: the check digit does not match"),
            (err("CO-NIT", "1"), "invalid CO-NIT: must be 9 digits and a check digit, e.g. 800.197.268-4"),
            (err("EORI", " "), "invalid EORI: the value must not be empty"),
            (IdentifierError::MissingSeparator, "identifier must be SCHEME:VALUE"),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
        let unknown = err("VAT", "1").to_string();
        assert!(unknown.starts_with("unknown identifier scheme \"VAT\""), "{unknown}");
    }

    #[test]
    fn identifiers_order_by_scheme_then_value() {
        let mut ids = [
            OperatorId::parse("LEI", "5493001KJTIIGC8Y1R12").expect("valid"),
            OperatorId::parse("CL-RUT", "76086428-5").expect("valid"),
            OperatorId::parse("US-TIN", "1").expect("valid"),
            OperatorId::parse("CL-RUT", "10000013-K").expect("valid"),
        ];
        ids.sort();
        let pairs: Vec<String> = ids.iter().map(OperatorId::to_pair).collect();
        assert_eq!(pairs, ["CL-RUT:10000013-K", "CL-RUT:76086428-5", "LEI:5493001KJTIIGC8Y1R12", "US-TIN:1"]);
    }

    #[test]
    fn no_input_makes_any_scheme_panic() {
        let schemes = ["CL-RUT", "CO-NIT", "MX-RFC", "PE-RUC", "EORI", "LEI", "US-TIN"];
        let values = [
            "",
            "-",
            "K",
            "ß",
            "ẞ1234567",
            "1234567ß",
            "ÑÑÑ000101ÑÑÑ",
            "ǅ",
            "\u{0}",
            "🦀🦀🦀",
            "1234567Ñ",
            "ﬀ010101ABC",
            "ABC99 13 32XY9",
            "١٢٣٤٥٦٧٨٩٠",
            "::::",
            "\u{301}A",
        ];
        for scheme in schemes {
            for value in values {
                let _ = OperatorId::parse(scheme, value);
                let _ = OperatorId::parse_pair(&format!("{scheme}:{value}"));
                let _ = OperatorId::parse_pair(value);
            }
        }
        for value in values {
            let _ = Scheme::parse(value);
            let _ = check_digit_cl_rut(value);
            let _ = check_digit_co_nit(value);
            let _ = check_digit_pe_ruc(value);
            let _ = lei_checksum_is_valid(value);
            let _ = compact(value);
        }
    }
}
