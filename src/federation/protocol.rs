//! The `/federation/v1` wire format: the body of every request and answer between nodes, as
//! typed values that the routes serve and the client reads. The signed parts (statements,
//! checkpoints, answers) are compact JWS strings, verified by `jose`. Each type is also the
//! schema the API document shows for its route.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A compact JWS (`header.payload.signature`, each part base64url): what every signed part of
/// the wire format is.
pub const COMPACT_JWS_PATTERN: &str = "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$";

/// `GET /.well-known/aeo-registry`: the administrations hosted on a node and where to reach them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Discovery {
    pub administrations: Vec<DiscoveredAdministration>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DiscoveredAdministration {
    /// The administration's code, e.g. `CL`.
    pub code: String,
    pub name: String,
    /// The base of its `/federation/v1` routes on this node.
    #[schema(format = "uri")]
    pub federation_url: String,
    /// Its public signing keys (`jwks.json`).
    #[schema(format = "uri")]
    pub jwks_uri: String,
}

/// `GET .../jwks.json`: an administration's public signing keys, as a JWK Set
/// ([RFC 7517](https://www.rfc-editor.org/rfc/rfc7517)).
// Only the shape is written here: the set served is `jsonwebtoken`'s, as it serialises.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PublishedKeys {
    /// The key that signs now, then retired ones still published while what they signed is fresh.
    keys: Vec<PublishedKey>,
}

/// One Ed25519 public key ([RFC 8037](https://www.rfc-editor.org/rfc/rfc8037)).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PublishedKey {
    /// Always `OKP`.
    #[schema(pattern = "^OKP$")]
    kty: String,
    /// Always `Ed25519`.
    #[schema(pattern = "^Ed25519$")]
    crv: String,
    /// The public key, base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]+$")]
    x: String,
    /// The key's id: the `kid` of the JWS headers it verifies.
    kid: String,
    /// `EdDSA`.
    #[schema(pattern = "^EdDSA$")]
    alg: Option<String>,
    /// `sig`.
    #[schema(rename = "use", pattern = "^sig$")]
    r#use: Option<String>,
}

/// `GET .../certificates/{number}`: one certificate's signed status.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatementAnswer {
    /// A compact JWS (`EdDSA`, `typ: aeo-status+jwt`) whose claims are `iss`, `sub` (the
    /// number), `iat`, `exp`, `seq` and the certificate's `status`, `category`, `roles`,
    /// `valid_from`, `valid_until`, `status_reason` and `operator`.
    #[schema(value_type = CompactJws)]
    pub statement: String,
}

/// `GET .../certificates?identifier=`: the signed statuses of every certificate under an
/// identifier.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatementsAnswer {
    /// One statement per certificate, as in `StatementAnswer`; none when the identifier holds
    /// no certificate here.
    #[schema(value_type = Vec<CompactJws>)]
    pub statements: Vec<String>,
}

/// The most certificate numbers one `GET .../statements?numbers=` asks about: with numbers of
/// up to 64 characters, its URL stays under the 8 KiB that servers and proxies commonly take.
pub const MAX_NUMBERS_PER_CALL: usize = 100;

/// `GET .../statements?numbers=`: the signed statuses of several certificates, in the order
/// asked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatementsByNumberAnswer {
    /// One entry per number asked, in the same order: the certificate's statement, as in
    /// `StatementAnswer`, or `null` when the number is not one of the administration's
    /// certificates.
    #[schema(value_type = Vec<Option<CompactJws>>)]
    pub statements: Vec<Option<String>>,
}

/// The schema of every signed part: a string of [`COMPACT_JWS_PATTERN`].
pub struct CompactJws;

impl utoipa::PartialSchema for CompactJws {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(COMPACT_JWS_PATTERN))
            .description(Some(
                "A compact JWS (RFC 7515): `header.payload.signature`, each part base64url, signed `EdDSA` \
                 with the `kid` of one of the signer's keys in its `jwks.json`.",
            ))
            .into()
    }
}

impl ToSchema for CompactJws {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CompactJws")
    }
}

/// One change of the feed: its position and the certificate as it stood, signed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangeItem {
    /// The change's position in the issuer's sequence, from 1; equal to the statement's `seq`.
    #[schema(minimum = 1)]
    pub seq: i64,
    /// The certificate as it stood after this change, signed by the issuer.
    #[schema(value_type = CompactJws)]
    pub statement: String,
}

/// `GET .../changes?after=&limit=`: the changes after `after`, in order, and where to go on.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangesAnswer {
    pub items: Vec<ChangeItem>,
    /// The `after` of the next page: the last item's `seq`, or the asked `after` when none.
    #[schema(minimum = 0)]
    pub next: i64,
}

/// `GET .../checkpoint`: the latest position of the administration's changes, signed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckpointAnswer {
    /// A compact JWS (`typ: aeo-checkpoint+jwt`) with claims `iss`, `seq` (the latest), `iat`
    /// and `exp`: a mirror synced to `seq` is current until `exp`.
    #[schema(value_type = CompactJws)]
    pub checkpoint: String,
    /// While a key rotation is announced: the next keys, signed by the current one
    /// (`aeo-keys+jwt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<CompactJws>)]
    pub next_keys: Option<String>,
}

/// `POST .../events`: changes pushed by their issuer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventsRequest {
    /// The changes, in any order; each statement must verify with the issuer's keys pinned here.
    pub items: Vec<ChangeItem>,
    /// As in `CheckpointAnswer`: a push teaches the next keys too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<CompactJws>)]
    pub next_keys: Option<String>,
}

/// What a follower did with pushed changes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventsAnswer {
    /// How many changes were verified and taken.
    pub accepted: usize,
    /// The position up to which this administration's mirror of the issuer is now complete.
    pub synced_seq: i64,
}

/// `GET .../recognition`: the asked administration's recognition answer, signed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecognitionAnswer {
    /// A compact JWS (`typ: aeo-recognition+jwt`, `aud` the caller) whose claims hold the
    /// recognition answer of `/api/v1/administrations/{code}/recognition`.
    #[schema(value_type = CompactJws)]
    pub answer: String,
}
