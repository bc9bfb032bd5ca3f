//! Mutual recognition arrangements as one administration records them: status, dates and
//! scope (categories and roles), and the parsing of MRA input into a validated draft.

use crate::certificate::{Category, Role, bounded, parse_word, parse_word_list};
use crate::date::parse_date;
use crate::error::FieldError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Where an arrangement stands in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MraStatus {
    Negotiating,
    Signed,
    InForce,
    Suspended,
    Terminated,
}

string_enum!(MraStatus {
    Negotiating => "negotiating",
    Signed => "signed",
    InForce => "in_force",
    Suspended => "suspended",
    Terminated => "terminated",
});

impl MraStatus {
    /// Whether the partner may call this administration's federation endpoints. A signed or
    /// suspended arrangement still needs data exchange (to prepare it, or to resume it), even
    /// though it yields no recognition.
    pub fn allows_federation(self) -> bool {
        matches!(self, Self::Signed | Self::InForce | Self::Suspended)
    }
}

/// MRA record as received from a client, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct MraInput {
    pub title: Option<String>,
    pub status: Option<String>,
    pub signed_on: Option<String>,
    pub in_force_from: Option<String>,
    pub categories: Option<Vec<String>>,
    pub roles: Option<Vec<String>>,
}

/// A validated MRA record. Empty `roles` means every role; empty `categories` covers none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MraDraft {
    pub title: String,
    pub status: MraStatus,
    pub signed_on: Option<NaiveDate>,
    pub in_force_from: Option<NaiveDate>,
    pub categories: Vec<Category>,
    pub roles: Vec<Role>,
}

/// Longest accepted title, in characters after trimming.
pub const TITLE_MAX_CHARS: usize = 200;

impl MraDraft {
    /// Validates every field and reports every error, each under its field path.
    pub fn parse(input: &MraInput) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();

        let title = match input.title.as_deref().map(str::trim) {
            None | Some("") => {
                errors.push(FieldError::new("title", "is required"));
                None
            }
            Some(t) => bounded(&mut errors, "title", t, TITLE_MAX_CHARS),
        };
        let status = parse_word::<MraStatus>(&mut errors, "status", input.status.as_deref());
        let signed_on = optional_date(&mut errors, "signed_on", input.signed_on.as_deref());
        let in_force_from = optional_date(&mut errors, "in_force_from", input.in_force_from.as_deref());
        if let (Some(Some(signed)), Some(Some(from))) = (signed_on, in_force_from)
            && from < signed
        {
            errors.push(FieldError::new("in_force_from", "must not be before signed_on"));
        }
        let categories =
            parse_word_list::<Category>(&mut errors, "categories", input.categories.as_deref().unwrap_or_default());
        let roles = parse_word_list::<Role>(&mut errors, "roles", input.roles.as_deref().unwrap_or_default());

        match (title, status, signed_on, in_force_from, categories, roles) {
            (Some(title), Some(status), Some(signed_on), Some(in_force_from), Some(categories), Some(roles))
                if errors.is_empty() =>
            {
                Ok(Self { title, status, signed_on, in_force_from, categories, roles })
            }
            _ => Err(errors),
        }
    }
}

/// `Some(None)` when absent or blank, `Some(Some(date))` when valid, `None` after an error.
fn optional_date(errors: &mut Vec<FieldError>, field: &str, s: Option<&str>) -> Option<Option<NaiveDate>> {
    match s.filter(|s| !s.trim().is_empty()) {
        None => Some(None),
        Some(s) => parse_date(s).map(Some).map_err(|m| errors.push(FieldError::new(field, m))).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        parse_date(s).expect("test date")
    }

    fn valid_input() -> MraInput {
        MraInput {
            title: Some("Pacific Alliance AEO MRA".into()),
            status: Some("in_force".into()),
            signed_on: Some("2018-07-21".into()),
            in_force_from: Some("2019-01-01".into()),
            categories: Some(vec!["security".into(), "full".into()]),
            roles: Some(vec!["exporter".into(), "importer".into()]),
        }
    }

    fn fields(result: Result<MraDraft, Vec<FieldError>>) -> Vec<String> {
        match result {
            Ok(d) => panic!("expected errors, got {d:?}"),
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn mra_status_words_round_trip_in_snake_case() {
        for s in MraStatus::ALL {
            assert_eq!(s.as_str().parse::<MraStatus>().expect("parses"), *s);
            assert_eq!(serde_json::to_value(s).expect("ser"), serde_json::json!(s.as_str()));
        }
        assert_eq!(MraStatus::InForce.as_str(), "in_force");
        assert_eq!(serde_json::from_str::<MraStatus>("\"in_force\"").expect("de"), MraStatus::InForce);
        assert_eq!(
            "in force".parse::<MraStatus>().unwrap_err(),
            "must be one of negotiating, signed, in_force, suspended, terminated"
        );
    }

    #[test]
    fn federation_is_open_while_signed_in_force_or_suspended() {
        let cases = [
            (MraStatus::Negotiating, false),
            (MraStatus::Signed, true),
            (MraStatus::InForce, true),
            (MraStatus::Suspended, true),
            (MraStatus::Terminated, false),
        ];
        for (status, allowed) in cases {
            assert_eq!(status.allows_federation(), allowed, "{status}");
        }
    }

    #[test]
    fn a_complete_mra_parses_with_scope_in_canonical_order() {
        let draft = MraDraft::parse(&valid_input()).expect("valid");
        assert_eq!(
            draft,
            MraDraft {
                title: "Pacific Alliance AEO MRA".into(),
                status: MraStatus::InForce,
                signed_on: Some(date("2018-07-21")),
                in_force_from: Some(date("2019-01-01")),
                categories: vec![Category::Security, Category::Full],
                roles: vec![Role::Importer, Role::Exporter],
            }
        );
    }

    #[test]
    fn optional_fields_default_to_absent_and_empty() {
        let input =
            MraInput { title: Some("  CL-PE  ".into()), status: Some("negotiating".into()), ..MraInput::default() };
        let draft = MraDraft::parse(&input).expect("valid");
        assert_eq!(draft.title, "CL-PE");
        assert_eq!(draft.signed_on, None);
        assert_eq!(draft.in_force_from, None);
        assert!(draft.categories.is_empty());
        assert!(draft.roles.is_empty());
    }

    #[test]
    fn in_force_without_a_start_date_is_accepted() {
        let mut input = valid_input();
        input.in_force_from = None;
        assert_eq!(MraDraft::parse(&input).expect("valid").in_force_from, None);
        input.signed_on = None;
        assert!(MraDraft::parse(&input).is_ok());
    }

    #[test]
    fn blank_optional_dates_mean_absent() {
        let mut input = valid_input();
        input.signed_on = Some("".into());
        input.in_force_from = Some("  ".into());
        let draft = MraDraft::parse(&input).expect("valid");
        assert_eq!((draft.signed_on, draft.in_force_from), (None, None));
    }

    #[test]
    fn scope_lists_are_deduplicated_and_sorted() {
        let mut input = valid_input();
        input.categories = Some(vec!["full".into(), "simplification".into(), "full".into(), "security".into()]);
        input.roles = Some(vec!["logistics_operator".into(), "manufacturer".into(), "Manufacturer".into()]);
        let draft = MraDraft::parse(&input).expect("valid");
        assert_eq!(draft.categories, Category::ALL);
        assert_eq!(draft.roles, [Role::Manufacturer, Role::LogisticsOperator]);
    }

    #[test]
    fn in_force_from_may_equal_signed_on() {
        let mut input = valid_input();
        input.in_force_from = input.signed_on.clone();
        assert!(MraDraft::parse(&input).is_ok());
    }

    #[test]
    fn each_invalid_field_is_reported_under_its_path() {
        type Edit = fn(&mut MraInput);
        let cases: Vec<(&str, Edit, &[&str])> = vec![
            ("no title", |i| i.title = None, &["title"]),
            ("blank title", |i| i.title = Some("   ".into()), &["title"]),
            ("long title", |i| i.title = Some("t".repeat(201)), &["title"]),
            ("no status", |i| i.status = None, &["status"]),
            ("bad status", |i| i.status = Some("active".into()), &["status"]),
            ("bad signed_on", |i| i.signed_on = Some("2018-7-21".into()), &["signed_on"]),
            ("bad in_force_from", |i| i.in_force_from = Some("2019-02-29".into()), &["in_force_from"]),
            ("in force before signing", |i| i.in_force_from = Some("2018-07-20".into()), &["in_force_from"]),
            ("bad categories", |i| i.categories = Some(vec!["security".into(), "aeoc".into()]), &["categories[1]"]),
            (
                "bad roles",
                |i| i.roles = Some(vec!["x".into(), "exporter".into(), "y".into()]),
                &["roles[0]", "roles[2]"],
            ),
        ];
        for (name, edit, want) in cases {
            let mut input = valid_input();
            edit(&mut input);
            assert_eq!(fields(MraDraft::parse(&input)), want, "case {name}");
        }
    }

    #[test]
    fn title_limit_is_two_hundred_characters_inclusive() {
        let mut input = valid_input();
        input.title = Some("é".repeat(200));
        assert!(MraDraft::parse(&input).is_ok());
    }

    #[test]
    fn an_empty_input_reports_title_and_status() {
        let errors = MraDraft::parse(&MraInput::default()).unwrap_err();
        assert_eq!(errors, [FieldError::new("title", "is required"), FieldError::new("status", "is required"),]);
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let input = MraInput {
            title: None,
            status: Some("x".into()),
            signed_on: Some("x".into()),
            in_force_from: Some("y".into()),
            categories: Some(vec!["z".into()]),
            roles: Some(vec!["w".into()]),
        };
        assert_eq!(
            fields(MraDraft::parse(&input)),
            ["title", "status", "signed_on", "in_force_from", "categories[0]", "roles[0]"]
        );
    }

    #[test]
    fn draft_serializes_with_contract_spellings() {
        let draft = MraDraft::parse(&valid_input()).expect("valid");
        assert_eq!(
            serde_json::to_value(&draft).expect("ser"),
            serde_json::json!({
                "title": "Pacific Alliance AEO MRA",
                "status": "in_force",
                "signed_on": "2018-07-21",
                "in_force_from": "2019-01-01",
                "categories": ["security", "full"],
                "roles": ["importer", "exporter"]
            })
        );
        let input: MraInput = serde_json::from_str(r#"{"title":"t","status":"signed","partner":"PE"}"#).expect("de");
        assert_eq!(MraDraft::parse(&input).expect("valid").status, MraStatus::Signed);
    }
}
