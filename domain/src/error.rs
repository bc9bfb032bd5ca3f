//! Field-level validation errors, the shape every input parser in this crate reports.
//!
//! The API turns a `Vec<FieldError>` into the `errors` array of an RFC 9457 problem body, so a
//! field is a path a client can map back to its input (`operator.identifiers[0].value`) and a
//! message is a short English sentence meant for the person who typed the value.

use serde::Serialize;

/// One invalid input field: where it is and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_accepts_borrowed_and_owned_text() {
        let a = FieldError::new("number", "is required");
        let b = FieldError::new(String::from("number"), String::from("is required"));
        assert_eq!(a, b);
        assert_eq!(a.field, "number");
        assert_eq!(a.message, "is required");
    }

    #[test]
    fn display_names_the_field_then_the_message() {
        let e = FieldError::new("operator.name", "is required");
        assert_eq!(e.to_string(), "operator.name: is required");
    }

    #[test]
    fn serializes_as_field_and_message_only() {
        let e = FieldError::new("roles[1]", "must be one of importer, exporter");
        let json = serde_json::to_value(&e).expect("serializable");
        assert_eq!(json, serde_json::json!({"field": "roles[1]", "message": "must be one of importer, exporter"}));
    }
}
