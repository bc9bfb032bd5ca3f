//! The request bodies whose rules `#[derive(ToSchema)]` cannot state: a certificate (to publish
//! or import), a merge patch of one, a change of its status, and an MRA record. Their input types keep every field an
//! optional string so that one answer can name every invalid field (see `aeo_domain`), so the
//! derive would document nothing but "strings, maybe"; their real rules are written out here as
//! JSON Schema, from the domain's own vocabularies and limits, so that the document cannot drift
//! from what the server accepts.
//!
//! What a schema here accepts, the server's parsing accepts, except for what JSON Schema cannot
//! say (check digits, dates in order, identifiers repeated once normalised), which each schema's
//! description names; what it refuses, the server refuses, except that the words of closed
//! vocabularies are listed in their one spelling while the server forgives their case and
//! surrounding blanks. Every text the server trims is held by a pattern of the same
//! whitespace Rust's `str::trim` takes away, so that blank and padded values are judged alike.
//!
//! Each schema is named by a marker type for the route annotations (`request_body = ...`), whose
//! placeholder `docs::complete` replaces with the schema written here.

use std::borrow::Cow;

use aeo_domain::certificate::{
    CITY_MAX_CHARS, NAME_MAX_CHARS, POSTAL_CODE_MAX_CHARS, REASON_MAX_CHARS, STREET_MAX_CHARS,
};
use aeo_domain::identifier::TIN_MAX_CHARS;
use aeo_domain::mra::TITLE_MAX_CHARS;
use aeo_domain::{Category, CertificateNumber, MraStatus, Role, Scheme, Status};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema};

use crate::service::certificates::NOT_PATCHABLE;

/// A marker type whose schema is written out in this module under `$name`.
macro_rules! written {
    ($(#[$doc:meta])* $marker:ident => $name:literal) => {
        $(#[$doc])*
        pub struct $marker;

        impl utoipa::PartialSchema for $marker {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new().description(Some(PLACEHOLDER)).into()
            }
        }

        impl utoipa::ToSchema for $marker {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

/// What a marker's schema says until `docs::complete` puts the written one in its place.
pub const PLACEHOLDER: &str = "written out by api::schemas";

written!(
    /// The body of `POST .../certificates`, and each item of a JSON import.
    CertificateInputSchema => "CertificateInput"
);
written!(
    /// The body of `PATCH .../certificates/{number}`.
    CertificatePatchSchema => "CertificatePatch"
);
written!(
    /// The body of `POST .../certificates/{number}/status`.
    StatusChangeSchema => "StatusChange"
);
written!(
    /// The body of `PUT .../mras/{partner}`.
    MraInputSchema => "MraInput"
);

/// The characters `str::trim` removes (Unicode `White_Space`), as a regular expression class
/// that ECMA-262 and Python read alike (`\s` differs between them).
const BLANK: &str = r"[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
const NOT_BLANK: &str = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// `YYYY-MM-DD` exactly: `aeo_domain::parse_date` trims nothing; `format: date` checks the
/// calendar.
const DATE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";

/// Text that, trimmed, has 1 to `max` characters (or, when `blank_allowed`, 0 to `max`).
fn trimmed_pattern(max: usize, blank_allowed: bool) -> String {
    let content = match max {
        0 => String::new(),
        1 => NOT_BLANK.to_string(),
        _ => format!(r"{NOT_BLANK}(?:[\s\S]{{0,{}}}{NOT_BLANK})?", max - 2),
    };
    let content = if blank_allowed { format!("(?:{content})?") } else { content };
    format!("^{BLANK}*{content}{BLANK}*$")
}

/// A text field the server trims, then requires (`max` characters at most).
fn required_text(max: usize, description: &str) -> Value {
    json!({
        "type": "string",
        "pattern": trimmed_pattern(max, false),
        "description": format!("{description} 1 to {max} characters once trimmed."),
    })
}

fn date(description: &str) -> Value {
    json!({"type": "string", "format": "date", "pattern": DATE_PATTERN, "description": description})
}

/// A date that may be left out, `null` or blank.
fn optional_date(description: &str) -> Value {
    json!({
        "description": format!("{description} Left out, `null` or blank: none."),
        "anyOf": [
            {"type": "string", "format": "date", "pattern": DATE_PATTERN},
            {"type": "string", "pattern": format!("^{BLANK}*$")},
            {"type": "null"},
        ],
    })
}

/// An object schema whose members not named in `properties` are ignored, as serde ignores them;
/// `required` may be empty, `example` null.
fn object(required: &[&str], description: &str, properties: Value, example: Value) -> Value {
    let mut schema =
        json!({"type": "object", "additionalProperties": true, "description": description, "properties": properties});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    if !example.is_null() {
        schema["examples"] = json!([example]);
    }
    schema
}

fn words<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|word| as_str(*word)).collect()
}

fn category() -> Value {
    json!({
        "type": "string",
        "enum": words(Category::ALL, Category::as_str),
        "description": "`security`, `simplification` or `full` (AEOS, AEOC or AEOF in EU terms).",
    })
}

fn role() -> Value {
    json!({"type": "string", "enum": words(Role::ALL, Role::as_str)})
}

/// The certificate's roles: one or more; a role given twice counts once.
fn roles() -> Value {
    json!({
        "type": "array",
        "minItems": 1,
        "items": role(),
        "description": "The operator's roles in the supply chain: at least one; a role given twice counts once.",
    })
}

/// Where a closed vocabulary is listed in one spelling, the server forgives more.
const WORDS_FORGIVEN: &str = "Words are read without regard to case or surrounding blanks.";

fn certificate_number() -> Value {
    let max = CertificateNumber::MAX_LEN;
    json!({
        "type": ["string", "null"],
        "pattern": format!("^{BLANK}*(?:[A-Za-z0-9][A-Za-z0-9._-]{{0,{}}})?{BLANK}*$", max - 1),
        "description": format!(
            "Trimmed and upper-cased: 1 to {max} of `A-Z`, `0-9`, `.`, `_` and `-`, starting with a letter \
             or digit, unique within the administration (a taken one answers 409). Left out, `null` or \
             blank: the registry assigns the next free number."
        ),
        "examples": ["CL-OEA-0001"],
    })
}

fn identifier_input() -> Value {
    let named: Vec<String> = Scheme::NAMED.iter().map(Scheme::as_str).collect();
    let description = format!(
        "One of the operator's identifiers. The value is checked by its scheme and stored \
         normalised; dots, spaces, dashes and lower case are forgiven. A value that breaks its \
         scheme's rule answers 422 naming `operator.identifiers[i].value`.\n\n\
         | scheme | value |\n\
         | --- | --- |\n\
         | `CL-RUT` | 7 or 8 digits and a check digit (`0`-`9` or `K`), e.g. `76.086.428-5` |\n\
         | `CO-NIT` | 9 digits and a check digit, e.g. `800.197.268-4` |\n\
         | `MX-RFC` | 3 letters (companies) or 4 (persons), a date `YYMMDD` and 3 letters or digits, e.g. `ABC010203XY9` |\n\
         | `PE-RUC` | 11 digits starting `10`, `15`, `16`, `17` or `20`, the last a check digit, e.g. `20131312955` |\n\
         | `EORI` | a two-letter country code and 1 to 15 letters or digits, e.g. `DE1234567890` |\n\
         | `LEI` | 20 letters or digits, the last two check digits (ISO 17442) |\n\
         | `XX-TIN` | any other country's tax number (`XX` its code): opaque text, at most {TIN_MAX_CHARS} \
         characters, no `:` and no control characters |\n\n\
         {WORDS_FORGIVEN}"
    );
    let properties = json!({
        "scheme": {
            "type": "string",
            "anyOf": [{"enum": named}, {"pattern": "^[A-Z]{2}-TIN$"}],
            "description": "One of the named schemes, or `XX-TIN` for another country's tax number.",
        },
        "value": {
            "type": "string",
            "pattern": NOT_BLANK,
            "description": "Not blank; the rest depends on the scheme (see above).",
        },
    });
    let example = json!({"scheme": "CL-RUT", "value": "76.086.428-5"});
    object(&["scheme", "value"], &description, properties, example)
}

/// The address's fields; `required` for a new certificate, none for a patch.
fn address_properties() -> Value {
    json!({
        "street": required_text(STREET_MAX_CHARS, "Street and number."),
        "city": required_text(CITY_MAX_CHARS, "City."),
        "postal_code": {
            "type": ["string", "null"],
            "pattern": trimmed_pattern(POSTAL_CODE_MAX_CHARS, true),
            "description": format!(
                "At most {POSTAL_CODE_MAX_CHARS} characters once trimmed; left out, `null` or blank: none."
            ),
        },
        "country": {
            "type": "string",
            "pattern": format!("^{BLANK}*[A-Za-z]{{2}}{BLANK}*$"),
            "description": "ISO 3166-1 alpha-2 country code, stored upper-case, e.g. `CL`.",
        },
    })
}

fn address_input() -> Value {
    object(&["street", "city", "country"], "The operator's address.", address_properties(), Value::Null)
}

/// The operator's fields; `identifiers` and `address` as given (references or inline schemas).
fn operator_properties(address: Value) -> Value {
    json!({
        "name": required_text(NAME_MAX_CHARS, "The operator's legal name."),
        "identifiers": {
            "type": "array",
            "minItems": 1,
            "items": {"$ref": "#/components/schemas/IdentifierInput"},
            "description": "At least one; the same identifier twice (once normalised) answers 422.",
        },
        "address": address,
        "public": {
            "type": ["boolean", "null"],
            "default": false,
            "description": "Whether the operator consents to its name being shown by the public check. \
                            Left out or `null`: `false`.",
        },
    })
}

fn operator_input() -> Value {
    let properties = operator_properties(json!({"$ref": "#/components/schemas/AddressInput"}));
    object(&["name", "identifiers", "address"], "The certified operator.", properties, Value::Null)
}

fn certificate_input() -> Value {
    let description = format!(
        "A certificate as its administration publishes it; it is created `active`.\n\n\
         Text is trimmed before it is checked. Besides what the schema states, the server refuses \
         with 422, naming the field:\n\n\
         - `valid_until` before `valid_from`;\n\
         - an identifier whose value breaks its scheme's format or check digit (see `IdentifierInput`);\n\
         - the same identifier twice, once normalised.\n\n\
         Unknown fields are ignored, so a certificate as it is read back (with `status`, `version` \
         and the rest) can be sent again. {WORDS_FORGIVEN}"
    );
    let properties = json!({
        "number": certificate_number(),
        "category": category(),
        "roles": roles(),
        "valid_from": date("First day of validity, `YYYY-MM-DD`."),
        "valid_until": date("Last day of validity, `YYYY-MM-DD`; not before `valid_from`."),
        "operator": {"$ref": "#/components/schemas/OperatorInput"},
    });
    let example = serde_json::to_value(crate::demo::examples().0).unwrap_or_default();
    object(&["category", "roles", "valid_from", "valid_until", "operator"], &description, properties, example)
}

/// Why a merge patch may not hold `member` (one of `service::certificates::NOT_PATCHABLE`).
fn not_patchable(member: &str) -> &'static str {
    match member {
        "number" => "Not patchable: a certificate keeps its number.",
        "status" => "Not patchable: change the status with `POST .../status`.",
        "status_reason" => "Not patchable: give the reason with `POST .../status`.",
        "version" => "Not patchable: send the version in `If-Match`.",
        _ => "Not patchable.",
    }
}

/// The details of a certificate as a new one has them, none required, and objects merged
/// member by member.
fn certificate_patch() -> Value {
    let mut properties = certificate_input()["properties"].clone();
    if let Some(details) = properties.as_object_mut() {
        details.remove("number");
    }
    let merged = |what: &str| format!("Merged into the {what}: name only what changes.");
    let address = object(&[], &merged("address"), address_properties(), Value::Null);
    properties["operator"] = object(&[], &merged("operator"), operator_properties(address), Value::Null);
    for member in NOT_PATCHABLE {
        properties[member] = json!({"not": {}, "description": not_patchable(member)});
    }
    let description = format!(
        "A JSON Merge Patch ([RFC 7396](https://www.rfc-editor.org/rfc/rfc7396)) of the certificate's \
         details: the members given replace the stored ones (objects are merged member by member, \
         arrays replaced whole) and the result is checked as a new certificate is (see \
         `CertificateInput`), so `null` removes a member, which only `operator.public` and \
         `operator.address.postal_code` may lose. An empty patch changes nothing.\n\n\
         Other unknown members are ignored. {WORDS_FORGIVEN}"
    );
    let example = json!({"valid_until": "2028-01-14", "operator": {"address": {"city": "Valparaíso"}}});
    object(&[], &description, properties, example)
}

fn mra_input() -> Value {
    let vocabulary = |items: Value, description: &str| json!({"type": ["array", "null"], "items": items, "description": description});
    let description = format!(
        "The record of an arrangement with one partner. Besides what the schema states, an \
         `in_force_from` before `signed_on` answers 422. Unknown fields are ignored. {WORDS_FORGIVEN}"
    );
    let properties = json!({
        "title": required_text(TITLE_MAX_CHARS, "The arrangement's title."),
        "status": {
            "type": "string",
            "enum": words(MraStatus::ALL, MraStatus::as_str),
            "description": "Only `in_force` yields recognition; `signed`, `in_force` and `suspended` \
                            let the partner call this administration's federation routes.",
        },
        "signed_on": optional_date("When it was signed, `YYYY-MM-DD`."),
        "in_force_from": optional_date("When it enters into force, `YYYY-MM-DD`; not before `signed_on`."),
        "categories": vocabulary(
            json!({"type": "string", "enum": words(Category::ALL, Category::as_str)}),
            "The categories it covers. Left out, `null` or empty: none.",
        ),
        "roles": vocabulary(role(), "The roles it covers. Left out, `null` or empty: every role."),
    });
    let example = serde_json::to_value(crate::demo::examples().1).unwrap_or_default();
    object(&["title", "status"], &description, properties, example)
}

fn status_change() -> Value {
    let description = format!(
        "A change of a certificate's status. A reason is required to suspend or revoke; \
         `revoked` is final. Unknown fields are ignored. {WORDS_FORGIVEN}"
    );
    let properties = json!({
        "status": {
            "type": "string",
            "enum": [Status::Active.as_str(), Status::Suspended.as_str(), Status::Revoked.as_str()],
            "description": "`expired` is never set: it follows from `valid_until`.",
        },
        "reason": {
            "type": ["string", "null"],
            "pattern": trimmed_pattern(REASON_MAX_CHARS, true),
            "description": format!(
                "Why, as the history and partners will show it: at most {REASON_MAX_CHARS} characters \
                 once trimmed. Left out, `null` or blank: none."
            ),
        },
    });
    let example = json!({"status": "suspended", "reason": "Auditoría de seguridad en curso"});
    object(&["status"], &description, properties, example)
}

/// Every schema written here, by its name in `components.schemas`.
pub fn written() -> Vec<(&'static str, Value)> {
    vec![
        ("CertificateInput", certificate_input()),
        ("OperatorInput", operator_input()),
        ("IdentifierInput", identifier_input()),
        ("AddressInput", address_input()),
        ("CertificatePatch", certificate_patch()),
        ("MraInput", mra_input()),
        ("StatusChange", status_change()),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use aeo_domain::{
        AddressInput, CertificateDraft, CertificateInput, IdentifierInput, MraDraft, MraInput, OperatorInput,
    };
    use proptest::prelude::*;

    use super::*;

    fn schema(name: &str) -> Value {
        written().into_iter().find(|(written, _)| *written == name).map(|(_, schema)| schema).expect("written")
    }

    fn pattern(schema: &Value, property: &str) -> regex::Regex {
        let pattern = schema["properties"][property]["pattern"].as_str().expect("a pattern");
        regex::Regex::new(pattern).expect("the pattern compiles")
    }

    fn example(name: &str) -> Value {
        schema(name)["examples"][0].clone()
    }

    /// The fields the domain rejects in `body`, read as the server reads a certificate.
    fn certificate_errors(body: &Value) -> Vec<String> {
        let input: CertificateInput = serde_json::from_value(body.clone()).expect("a certificate input");
        CertificateDraft::parse(&input).err().unwrap_or_default().into_iter().map(|e| e.field).collect()
    }

    fn mra_errors(body: &Value) -> Vec<String> {
        let input: MraInput = serde_json::from_value(body.clone()).expect("an MRA input");
        MraDraft::parse(&input).err().unwrap_or_default().into_iter().map(|e| e.field).collect()
    }

    fn with(mut body: Value, pointer: &str, value: &str) -> Value {
        *body.pointer_mut(pointer).expect("the example has the field") = json!(value);
        body
    }

    /// Each trimmed text field's pattern, the example body it is tried in, the JSON pointer to
    /// the field there, and the field the server names when it refuses it.
    fn text_fields() -> Vec<(regex::Regex, &'static str, &'static str, &'static str)> {
        vec![
            (pattern(&certificate_input(), "number"), "CertificateInput", "/number", "number"),
            (pattern(&operator_input(), "name"), "CertificateInput", "/operator/name", "operator.name"),
            (
                pattern(&address_input(), "street"),
                "CertificateInput",
                "/operator/address/street",
                "operator.address.street",
            ),
            (pattern(&address_input(), "city"), "CertificateInput", "/operator/address/city", "operator.address.city"),
            (
                pattern(&address_input(), "postal_code"),
                "CertificateInput",
                "/operator/address/postal_code",
                "operator.address.postal_code",
            ),
            (
                pattern(&address_input(), "country"),
                "CertificateInput",
                "/operator/address/country",
                "operator.address.country",
            ),
            (pattern(&mra_input(), "title"), "MraInput", "/title", "title"),
        ]
    }

    fn refused(name: &str, body: &Value) -> Vec<String> {
        if name == "MraInput" { mra_errors(body) } else { certificate_errors(body) }
    }

    /// Text built from what matters to the patterns: letters of both cases, digits, the
    /// punctuation numbers allow and some they do not, blanks `str::trim` takes and one it
    /// does not (U+001C, which Python's `\s` would take).
    fn text(max: usize) -> impl Strategy<Value = String> {
        let alphabet = vec!['a', 'Z', '7', '.', '_', '-', '/', 'ñ', ' ', '\t', '\n', '\u{3000}', '\u{a0}', '\u{1c}'];
        let length = prop_oneof![Just(max), Just(max + 1), Just(max + 2), 0..=max + 2];
        length
            .prop_flat_map(move |n| proptest::collection::vec(proptest::sample::select(alphabet.clone()), n))
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn a_text_field_matches_its_pattern_exactly_when_the_server_takes_it(
            short in text(2), postal in text(POSTAL_CODE_MAX_CHARS), long in text(TITLE_MAX_CHARS), longest in text(NAME_MAX_CHARS),
        ) {
            for (pattern, name, pointer, field) in text_fields() {
                for value in [&short, &postal, &long, &longest] {
                    let taken = !refused(name, &with(example(name), pointer, value)).iter().any(|f| f == field);
                    prop_assert_eq!(pattern.is_match(value), taken, "{} {:?}", field, value);
                }
            }
        }
    }

    #[test]
    fn text_limits_are_counted_after_trimming_as_the_server_counts_them() {
        for (pattern, name, pointer, field) in text_fields() {
            for value in [
                "",
                "   ",
                " \u{3000}x\t",
                "\u{1c}",
                "ñ",
                &"x".repeat(64),
                &"x".repeat(65),
                &format!("  {}  ", "y".repeat(300)),
            ] {
                let taken = !refused(name, &with(example(name), pointer, value)).iter().any(|f| f == field);
                assert_eq!(pattern.is_match(value), taken, "{field} {value:?}");
            }
        }
    }

    /// Whether the reason pattern and the domain agree on `value`: a reason too long once
    /// trimmed is refused by both, any other by neither.
    fn reason_judged_alike(value: &str) -> bool {
        use aeo_domain::certificate::{TransitionError, check_transition};
        let too_long =
            check_transition(Status::Active, Status::Suspended, Some(value)) == Err(TransitionError::ReasonTooLong);
        pattern(&status_change(), "reason").is_match(value) != too_long
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]

        #[test]
        fn a_reason_matches_its_pattern_exactly_when_the_server_takes_its_length(reason in text(REASON_MAX_CHARS)) {
            prop_assert!(reason_judged_alike(&reason), "{:?}", reason);
        }
    }

    #[test]
    fn a_reason_is_measured_after_trimming_as_the_server_measures_it() {
        for value in [
            String::new(),
            "   ".into(),
            "\u{1c}".into(),
            " \u{3000}ñ\t".into(),
            "x".repeat(REASON_MAX_CHARS),
            "x".repeat(REASON_MAX_CHARS + 1),
            format!("  {}\n", "é".repeat(REASON_MAX_CHARS)),
            format!(" {} y ", "é".repeat(REASON_MAX_CHARS - 2)),
            format!(" {} y ", "é".repeat(REASON_MAX_CHARS - 1)),
        ] {
            assert!(reason_judged_alike(&value), "{value:?}");
        }
        let example = example("StatusChange");
        assert_eq!(example["status"], "suspended");
        let reason = example["reason"].as_str();
        assert!(aeo_domain::certificate::check_transition(Status::Active, Status::Suspended, reason).is_ok());
    }

    #[test]
    fn every_example_is_a_request_the_server_takes() {
        assert_eq!(certificate_errors(&example("CertificateInput")), Vec::<String>::new());
        assert_eq!(mra_errors(&example("MraInput")), Vec::<String>::new());
        let mut patched = example("CertificateInput");
        json_patch::merge(&mut patched, &example("CertificatePatch"));
        assert_eq!(certificate_errors(&patched), Vec::<String>::new());
    }

    #[test]
    fn dates_are_exactly_what_the_server_reads() {
        let date = regex::Regex::new(DATE_PATTERN).expect("compiles");
        for (text, shaped) in [("2024-01-15", true), ("2024-1-15", false), (" 2024-01-15", false), ("20240115", false)]
        {
            assert_eq!(date.is_match(text), shaped, "{text:?}");
            let body = with(example("CertificateInput"), "/valid_from", text);
            assert_eq!(certificate_errors(&body).is_empty(), shaped, "{text:?}");
        }
        // A blank optional date is none, as `optional_date` says.
        let blank = regex::Regex::new(mra_input()["properties"]["signed_on"]["anyOf"][1]["pattern"].as_str().unwrap());
        assert!(blank.expect("compiles").is_match(" \t"));
        assert!(mra_errors(&with(example("MraInput"), "/signed_on", " \t")).is_empty());
    }

    #[test]
    fn every_scheme_the_schema_names_is_one_the_server_knows() {
        let scheme = &identifier_input()["properties"]["scheme"]["anyOf"];
        for named in scheme[0]["enum"].as_array().expect("named schemes") {
            Scheme::parse(named.as_str().expect("a name")).expect("a scheme the server knows");
        }
        let tin = regex::Regex::new(scheme[1]["pattern"].as_str().expect("a pattern")).expect("compiles");
        for (name, known) in [("US-TIN", true), ("BR-TIN", true), ("USA-TIN", false), ("VAT", false)] {
            assert_eq!(tin.is_match(name), known, "{name}");
            assert_eq!(Scheme::parse(name).is_ok(), known, "{name}");
        }
    }

    /// The names of `value`'s members, as serde writes them.
    fn members(value: impl serde::Serialize) -> BTreeSet<String> {
        serde_json::to_value(value).expect("json").as_object().expect("an object").keys().cloned().collect()
    }

    fn properties(schema: &Value) -> BTreeSet<String> {
        schema["properties"].as_object().expect("properties").keys().cloned().collect()
    }

    #[test]
    fn each_schema_names_every_field_its_input_type_reads() {
        assert_eq!(properties(&certificate_input()), members(CertificateInput::default()));
        assert_eq!(properties(&operator_input()), members(OperatorInput::default()));
        assert_eq!(properties(&identifier_input()), members(IdentifierInput::default()));
        assert_eq!(properties(&address_input()), members(AddressInput::default()));
        assert_eq!(properties(&mra_input()), members(MraInput::default()));
        assert_eq!(properties(&status_change()), members(crate::api::certificates::StatusChange::default()));
        // A patch names the same details, and the members it may not hold.
        let mut patchable = members(CertificateInput::default());
        patchable.remove("number");
        patchable.extend(NOT_PATCHABLE.map(String::from));
        assert_eq!(properties(&certificate_patch()), patchable);
    }
}
