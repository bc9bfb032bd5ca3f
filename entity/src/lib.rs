//! sea-orm entities: the shape of each table and nothing else. Behaviour lives in the
//! registry's `store` module; rules live in `aeo-domain`.

pub mod administration;
pub mod audit_log;
pub mod certificate;
pub mod certificate_event;
pub mod certificate_identifier;
pub mod federation_assertion;
pub mod mirror_certificate;
pub mod mirror_identifier;
pub mod mirror_state;
pub mod mra;
pub mod outbox;
pub mod peer;
pub mod signing_key;
pub mod user;
pub mod web_session;
