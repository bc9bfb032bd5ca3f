//! Pure domain rules of aeo-registry: administration codes and certificate numbers, operator
//! identifiers, the certificate lifecycle, MRAs and the recognition decision.
//!
//! No I/O lives here, so every rule the border depends on can be tested exhaustively and reused
//! unchanged by the HTTP layer, the importer and the federation code.

#[macro_use]
mod macros;

pub mod certificate;
pub mod code;
pub mod date;
pub mod error;
pub mod freshness;
pub mod identifier;
pub mod mra;
pub mod recognition;

pub use certificate::{
    Address, AddressInput, Category, CertificateDraft, CertificateInput, IdentifierInput, Operator, OperatorInput,
    REASON_MAX_CHARS, Role, RoleSet, Status, TransitionError, check_transition,
};
pub use code::{AdministrationCode, CertificateNumber};
pub use date::parse_date;
pub use error::FieldError;
pub use identifier::{
    IdentifierError, OperatorId, Scheme, check_digit_cl_rut, check_digit_co_nit, check_digit_pe_ruc, compact,
    lei_checksum_is_valid,
};
pub use mra::{MraDraft, MraInput, MraStatus};
pub use recognition::{CertificateFacts, MraFacts, Reason, recognize};
