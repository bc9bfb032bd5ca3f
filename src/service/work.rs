//! The unit of work: the one way anything is written.
//!
//! A [`Work`] holds a write transaction (on SQLite, the writer slot), the audit records of what
//! it changed, and what this process must do once the change is committed: caches that must
//! forget or take what was written, workers that must wake. [`Work::commit`] writes the audit
//! records inside the transaction, commits, and only then does the rest, once each; a failed or
//! abandoned unit of work leaves memory as it was.

use std::ops::Deref;

use crate::app::App;
use crate::cache::summaries::Written;
use crate::store::mirror::{Followed, Held, State};
use crate::store::{StoreResult, WriteTxn, audit};

/// What a committed unit of work asks of this process.
#[derive(Debug)]
pub enum After {
    /// An administration's certificates changed: the summary cache catches up (skipping what
    /// the write says it wrote), so that this node answers with the change at once, and the
    /// outbox worker wakes to push it.
    Certificates(Written),
    /// A user's sign-in facts (disabled, password, token version) changed.
    User(i64),
    /// A web page session (by the hash of its secret) ended.
    Session(String),
    /// An administration came to be hosted here.
    Hosted(String),
    /// An administration's record of its arrangement with a partner changed.
    Mra { administration: String, partner: String },
    /// An administration's registration of a peer changed; the sync worker wakes to follow it,
    /// and the signer to sign ahead for it.
    Peer { administration: String, peer: String },
    /// A follower's mirror of an issuer was emptied (the keys it pinned changed).
    MirrorForgotten { administration: String, issuer: String },
    /// A statement was kept in a follower's mirror.
    Held { administration: String, issuer: String, held: Box<Held> },
    /// A follower's follow state moved on (synced position, checkpoint).
    Advanced { administration: String, issuer: String, state: State },
    /// An administration's signing keys changed; the signer wakes to sign with the new one.
    Keys(String),
    /// Data was loaded behind the caches' back (the demo): every small fact is forgotten.
    Everything,
    /// The outbox has entries that can go now.
    Outbox,
    /// A follow may have a gap to pull.
    Sync,
}

impl After {
    /// Whether doing `other` too would do nothing more.
    fn covers(&self, other: &After) -> bool {
        use After::*;
        match (self, other) {
            // Catching up with everything covers catching up again.
            (Certificates(a), Certificates(b)) => {
                a.administration == b.administration
                    && a.positions.is_none()
                    && b.positions.is_none()
                    && b.changed.is_empty()
            }
            (User(a), User(b)) => a == b,
            (Session(a), Session(b)) => a == b,
            (Hosted(a), Hosted(b)) | (Keys(a), Keys(b)) => a == b,
            (Mra { administration: a, partner: p }, Mra { administration: b, partner: q }) => a == b && p == q,
            (Peer { administration: a, peer: p }, Peer { administration: b, peer: q }) => a == b && p == q,
            (MirrorForgotten { administration: a, issuer: i }, MirrorForgotten { administration: b, issuer: j }) => {
                a == b && i == j
            }
            (Everything, Everything) | (Outbox, Outbox) | (Sync, Sync) => true,
            _ => false,
        }
    }
}

pub struct Work<'a> {
    app: &'a App,
    txn: WriteTxn<'a>,
    audit: Vec<audit::Entry>,
    after: Vec<After>,
}

impl<'a> Work<'a> {
    /// For a request: waiting for the writer counts against the database deadline.
    pub async fn begin(app: &'a App) -> StoreResult<Work<'a>> {
        Ok(Work::with(app, app.store.write().await?))
    }

    /// For background work, which may wait for the writer as long as it takes.
    pub async fn begin_when_free(app: &'a App) -> StoreResult<Work<'a>> {
        Ok(Work::with(app, app.store.write_when_free().await?))
    }

    fn with(app: &'a App, txn: WriteTxn<'a>) -> Self {
        Work { app, txn, audit: Vec::new(), after: Vec::new() }
    }

    pub fn app(&self) -> &'a App {
        self.app
    }

    /// Records in the audit log, with the change, that `actor` did `action` to `target`.
    pub fn audit(
        &mut self,
        administration: Option<&str>,
        actor: &str,
        action: &str,
        target: impl Into<String>,
        details: serde_json::Value,
    ) {
        self.audit.push(audit::Entry {
            administration: administration.map(str::to_owned),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.into(),
            details,
        });
    }

    /// Asks for `after` once the work is committed.
    pub fn then(&mut self, after: After) {
        if !self.after.iter().any(|done| done.covers(&after)) {
            self.after.push(after);
        }
    }

    /// Writes the audit records, commits, then does what was asked for after.
    pub async fn commit(self) -> StoreResult<()> {
        let Work { app, txn, audit, after } = self;
        audit::record(&txn, audit).await?;
        txn.commit().await?;
        for after in after {
            apply(app, after).await;
        }
        Ok(())
    }

    /// Undoes everything the work wrote (a dry run); nothing of it is recorded or applied.
    pub async fn rollback(self) -> StoreResult<()> {
        self.txn.rollback().await
    }
}

impl<'a> Deref for Work<'a> {
    type Target = WriteTxn<'a>;
    fn deref(&self) -> &WriteTxn<'a> {
        &self.txn
    }
}

async fn apply(app: &App, after: After) {
    let hot = &app.hot;
    match after {
        After::Certificates(written) => {
            let administration = written.administration.clone();
            if let Err(error) = hot.certificates.took(&app.store.db, written).await {
                tracing::warn!(%error, administration, "the summary cache catches up on its next round");
            }
            app.federation.outbox_ready.notify_one();
        }
        After::User(id) => hot.forget_user(id),
        After::Session(id) => hot.forget_session(&id),
        After::Hosted(code) => hot.forget_hosted(&code),
        After::Mra { administration, partner } => hot.forget_mra(&administration, &partner),
        After::Peer { administration, peer } => {
            hot.forget_peer(&administration, &peer);
            app.federation.sync_needed.notify_one();
            app.federation.sign_needed.notify_one();
        }
        After::MirrorForgotten { administration, issuer } => hot.held.forgot(Followed::new(&administration, &issuer)),
        After::Held { administration, issuer, held } => {
            hot.held.applied(Followed::new(&administration, &issuer), *held)
        }
        After::Advanced { administration, issuer, state } => {
            hot.held.advanced(Followed::new(&administration, &issuer), &state)
        }
        After::Keys(administration) => {
            app.federation.keyring.forget(&administration);
            app.federation.sign_needed.notify_one();
        }
        After::Everything => hot.forget_all(),
        After::Outbox => app.federation.outbox_ready.notify_one(),
        After::Sync => app.federation.sync_needed.notify_one(),
    }
}
