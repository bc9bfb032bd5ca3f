//! The `/federation/v1` wire format: the body of every request and answer between nodes, as
//! typed values that the routes serve and the client reads. The signed parts (statements,
//! checkpoints, answers) are compact JWS strings, verified by `jose`.

use serde::{Deserialize, Serialize};

/// `GET .../certificates/{number}`: one certificate's signed status.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatementAnswer {
    pub statement: String,
}

/// `GET .../certificates?identifier=`: the signed statuses of every certificate under an
/// identifier.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatementsAnswer {
    pub statements: Vec<String>,
}

/// One change of the feed: its position and the certificate as it stood, signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeItem {
    pub seq: i64,
    pub statement: String,
}

/// `GET .../changes?after=&limit=`: the changes after `after`, in order, and where to go on.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChangesAnswer {
    pub items: Vec<ChangeItem>,
    pub next: i64,
}

/// `GET .../checkpoint`: the latest position of the administration's changes, signed.
#[derive(Debug, Serialize, Deserialize)]
pub struct CheckpointAnswer {
    pub checkpoint: String,
    /// While a key rotation is announced: the next keys, signed by the current one
    /// (`aeo-keys+jwt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_keys: Option<String>,
}

/// `POST .../events`: changes pushed by their issuer.
#[derive(Debug, Serialize, Deserialize)]
pub struct EventsRequest {
    pub items: Vec<ChangeItem>,
    /// As in [`CheckpointAnswer`]: a push teaches the next keys too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_keys: Option<String>,
}

/// What a follower did with pushed changes.
#[derive(Debug, Serialize, Deserialize)]
pub struct EventsAnswer {
    pub accepted: usize,
    pub synced_seq: i64,
}

/// `GET .../recognition`: the asked administration's recognition answer, signed.
#[derive(Debug, Serialize, Deserialize)]
pub struct RecognitionAnswer {
    pub answer: String,
}
