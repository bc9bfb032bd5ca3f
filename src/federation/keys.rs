//! Each administration's Ed25519 signing keys. A key is made when the administration is
//! created; its private half is sealed (AES-256-GCM) under a key derived from the node secret
//! and only opened in memory to sign. A rotation retires the active key, which stays published
//! until every statement it signed has expired.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use anyhow::{Context, anyhow};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use entity::signing_key::{self, Column, Entity};
use jsonwebtoken::jwk::{Jwk, JwkSet, ThumbprintHash};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};

/// The RFC 7638 thumbprint (SHA-256, base64url) of a public key.
pub fn thumbprint(jwk: &Jwk) -> String {
    jwk.thumbprint(ThumbprintHash::SHA256).unwrap_or_default()
}

/// The public JWK of an Ed25519 public key, with its thumbprint as `kid`.
pub fn public_jwk(public_key: &[u8]) -> anyhow::Result<Jwk> {
    let mut jwk: Jwk = serde_json::from_value(serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(public_key),
        "use": "sig",
        "alg": "EdDSA",
    }))?;
    jwk.common.key_id = Some(thumbprint(&jwk));
    Ok(jwk)
}

/// Seals and opens private keys under a key derived from the node secret.
pub struct KeyVault {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl KeyVault {
    pub fn new(node_secret: &[u8]) -> anyhow::Result<Self> {
        let derived = Sha256::new().chain_update(b"aeo-registry key sealing v1").chain_update(node_secret).finalize();
        let key = UnboundKey::new(&AES_256_GCM, &derived).map_err(|_| anyhow!("cannot make the sealing key"))?;
        Ok(KeyVault { key: LessSafeKey::new(key), rng: SystemRandom::new() })
    }

    fn seal(&self, plain: &[u8], context: &str) -> anyhow::Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| anyhow!("no randomness"))?;
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut sealed)
            .map_err(|_| anyhow!("sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    fn open(&self, sealed: &str, context: &str) -> anyhow::Result<Vec<u8>> {
        let bytes = STANDARD.decode(sealed).context("sealed key is not base64")?;
        anyhow::ensure!(bytes.len() > NONCE_LEN, "sealed key is too short");
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow!("bad nonce"))?;
        let mut buffer = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| anyhow!("a sealed key does not open: is this the node key it was made with?"))?;
        Ok(plain.to_vec())
    }
}

/// A key ready to sign.
pub struct SigningKey {
    pub kid: String,
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// The key whose private half is `pkcs8` (a PKCS#8 v1 or v2 document).
    pub fn from_pkcs8(kid: String, pkcs8: &[u8]) -> anyhow::Result<SigningKey> {
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| anyhow!("a signing key is unreadable"))?;
        Ok(SigningKey { kid, pair })
    }

    /// `message` signed with the key.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut signature = [0u8; 64];
        signature.copy_from_slice(self.pair.sign(message).as_ref());
        signature
    }

    /// A new key held in memory only, with its public half as a JWK Set: for checks that sign
    /// and verify without a database (`hostile`).
    pub fn ephemeral() -> anyhow::Result<(SigningKey, JwkSet)> {
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| anyhow!("key generation failed"))?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow!("generated key unreadable"))?;
        let jwk = public_jwk(pair.public_key().as_ref())?;
        let kid = jwk.common.key_id.clone().unwrap_or_default();
        Ok((SigningKey { kid, pair }, JwkSet { keys: vec![jwk] }))
    }
}

/// The key an administration signs with, held until it stops signing.
struct Active {
    key: Arc<SigningKey>,
    /// When it stops signing (a rotation announced a successor), if it is known to.
    until: Option<DateTime<Utc>>,
    /// Another process sharing the database may have rotated: read again after a while.
    loaded: std::time::Instant,
}

/// Keys in memory: the signing key of each administration, loaded on first use.
pub struct Keyring {
    vault: KeyVault,
    active: RwLock<HashMap<String, Active>>,
}

impl Keyring {
    pub fn new(node_secret: &[u8]) -> anyhow::Result<Self> {
        Ok(Keyring { vault: KeyVault::new(node_secret)?, active: RwLock::new(HashMap::new()) })
    }

    /// Makes the first signing key of a new administration; it signs at once.
    pub async fn create(&self, conn: &impl ConnectionTrait, administration: &str) -> anyhow::Result<String> {
        self.insert(conn, administration, None).await
    }

    /// Makes the next key of `administration`, announced now and signing from `signs_from`: until
    /// then the current key signs, and it stays published until `publish_old_until`, when what
    /// it signed has expired. A rotation already announced is a conflict. The cached signing key
    /// is forgotten once this is committed (`service::After::Keys`).
    pub async fn announce(
        &self,
        conn: &impl ConnectionTrait,
        administration: &str,
        signs_from: DateTime<Utc>,
        publish_old_until: DateTime<Utc>,
    ) -> anyhow::Result<Result<String, DateTime<Utc>>> {
        let now = Utc::now();
        // Two rotations at once (processes sharing PostgreSQL) take turns on the
        // administration's row: the second one then sees the first one's announcement.
        entity::administration::Entity::find_by_id(administration.to_owned()).lock_exclusive().one(conn).await?;
        if let Some((_, pending)) = announced(conn, administration).await? {
            return Ok(Err(pending));
        }
        Entity::update_many()
            .col_expr(Column::RetiredAt, sea_orm::sea_query::Expr::value(signs_from))
            .col_expr(Column::PublishUntil, sea_orm::sea_query::Expr::value(publish_old_until.max(now)))
            .filter(Column::Administration.eq(administration))
            .filter(Column::RetiredAt.is_null())
            .exec(conn)
            .await?;
        Ok(Ok(self.insert(conn, administration, Some(signs_from)).await?))
    }

    async fn insert(
        &self,
        conn: &impl ConnectionTrait,
        administration: &str,
        signs_from: Option<DateTime<Utc>>,
    ) -> anyhow::Result<String> {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow!("key generation failed"))?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow!("generated key unreadable"))?;
        let jwk = public_jwk(pair.public_key().as_ref())?;
        let kid = jwk.common.key_id.clone().unwrap_or_default();
        let model = signing_key::ActiveModel {
            administration: Set(administration.to_owned()),
            kid: Set(kid.clone()),
            public_jwk: Set(serde_json::to_string(&jwk)?),
            sealed_private_key: Set(self.vault.seal(pkcs8.as_ref(), &format!("{administration}/{kid}"))?),
            created_at: Set(Utc::now()),
            retired_at: Set(None),
            publish_until: Set(None),
            signs_from: Set(signs_from),
            ..Default::default()
        };
        Entity::insert(model).exec_without_returning(conn).await?;
        Ok(kid)
    }

    /// Drops the cached signing key, e.g. after a rotation.
    pub fn forget(&self, administration: &str) {
        if let Ok(mut active) = self.active.write() {
            active.remove(administration);
        }
    }

    /// The key `administration` signs with now: the newest that has begun signing and not
    /// stopped.
    pub async fn active(&self, conn: &impl ConnectionTrait, administration: &str) -> anyhow::Result<Arc<SigningKey>> {
        let now = Utc::now();
        let cached = self.active.read().ok().and_then(|active| {
            active
                .get(administration)
                .filter(|held| held.until.is_none_or(|until| until > now))
                .filter(|held| held.loaded.elapsed() < crate::cache::TIME_TO_LIVE)
                .map(|held| held.key.clone())
        });
        if let Some(key) = cached {
            return Ok(key);
        }
        let row = Entity::find()
            .filter(Column::Administration.eq(administration))
            .filter(sea_orm::Condition::any().add(Column::RetiredAt.is_null()).add(Column::RetiredAt.gt(now)))
            .filter(sea_orm::Condition::any().add(Column::SignsFrom.is_null()).add(Column::SignsFrom.lte(now)))
            .order_by_desc(Column::Id)
            .one(conn)
            .await?
            .with_context(|| format!("administration {administration} has no signing key"))?;
        let pkcs8 = self.vault.open(&row.sealed_private_key, &format!("{administration}/{}", row.kid))?;
        let key = Arc::new(SigningKey::from_pkcs8(row.kid, &pkcs8)?);
        if let Ok(mut active) = self.active.write() {
            let held = Active { key: key.clone(), until: row.retired_at, loaded: std::time::Instant::now() };
            active.insert(administration.to_owned(), held);
        }
        Ok(key)
    }
}

/// The keys `administration` has announced and that do not sign yet, and when they will.
pub async fn announced(
    conn: &impl ConnectionTrait,
    administration: &str,
) -> crate::store::StoreResult<Option<(JwkSet, DateTime<Utc>)>> {
    let rows = Entity::find()
        .filter(Column::Administration.eq(administration))
        .filter(Column::SignsFrom.gt(Utc::now()))
        .all(conn)
        .await?;
    let Some(signs_from) = rows.iter().filter_map(|row| row.signs_from).min() else { return Ok(None) };
    let keys = rows.iter().filter_map(|row| serde_json::from_str(&row.public_jwk).ok()).collect();
    Ok(Some((JwkSet { keys }, signs_from)))
}

/// While a rotation is announced: the next keys, signed with `key` (the one that signs now) and
/// valid for `ttl_secs`, to go with every checkpoint and push.
pub async fn signed_announcement(
    conn: &impl ConnectionTrait,
    administration: &str,
    key: &SigningKey,
    ttl_secs: i64,
) -> anyhow::Result<Option<String>> {
    let Some((next, signs_from)) = announced(conn, administration).await? else { return Ok(None) };
    Ok(Some(super::jose::sign_keys(key, administration, next, signs_from.timestamp(), ttl_secs)?))
}

/// Gives every administration without a signing key its first one (e.g. after an upgrade).
pub async fn ensure_all(conn: &impl ConnectionTrait, keyring: &Keyring) -> anyhow::Result<()> {
    for administration in entity::administration::Entity::find().all(conn).await? {
        let has_key = Entity::find()
            .filter(Column::Administration.eq(&administration.code))
            .filter(Column::RetiredAt.is_null())
            .one(conn)
            .await?
            .is_some();
        if !has_key {
            keyring.create(conn, &administration.code).await?;
        }
    }
    Ok(())
}

/// The published keys of an administration: the active one and retired ones still in use.
pub async fn published(conn: &impl ConnectionTrait, administration: &str) -> crate::store::StoreResult<JwkSet> {
    let now = Utc::now();
    let rows = Entity::find()
        .filter(Column::Administration.eq(administration))
        .filter(sea_orm::Condition::any().add(Column::PublishUntil.is_null()).add(Column::PublishUntil.gt(now)))
        .order_by_desc(Column::Id)
        .all(conn)
        .await?;
    Ok(JwkSet { keys: rows.iter().filter_map(|row| serde_json::from_str(&row.public_jwk).ok()).collect() })
}

/// Key facts for administrators: kid, thumbprint, since, retired.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct KeyInfo {
    pub kid: String,
    pub thumbprint: String,
    pub created_at: DateTime<Utc>,
    /// When it stopped (or will stop) signing.
    pub retired_at: Option<DateTime<Utc>>,
    pub publish_until: Option<DateTime<Utc>>,
    /// When an announced key starts signing; absent for a key that signed from its creation.
    pub signs_from: Option<DateTime<Utc>>,
}

pub async fn list(conn: &impl ConnectionTrait, administration: &str) -> crate::store::StoreResult<Vec<KeyInfo>> {
    let rows =
        Entity::find().filter(Column::Administration.eq(administration)).order_by_desc(Column::Id).all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let thumbprint =
                serde_json::from_str::<Jwk>(&row.public_jwk).map(|jwk| thumbprint(&jwk)).unwrap_or_default();
            KeyInfo {
                kid: row.kid,
                thumbprint,
                created_at: row.created_at,
                retired_at: row.retired_at,
                publish_until: row.publish_until,
                signs_from: row.signs_from,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use sea_orm::TransactionTrait;

    use super::*;
    use crate::store::administrations::{self, Administration};
    use crate::store::testing::{Backend, TestStore};

    /// Two processes sharing PostgreSQL rotate the same administration's key at the same time:
    /// one key is announced, and the other rotation is told so.
    #[tokio::test]
    async fn two_rotations_at_once_on_postgres_announce_one_key() {
        let test = TestStore::new(Backend::Postgres).await;
        // The rotations run on connections of their own, as two processes' would.
        let db = sea_orm::Database::connect(&test.url).await.expect("connect");
        let cl =
            Administration { code: "CL".into(), name: "Aduana".into(), country: "CL".into(), programme: "OEA".into() };
        administrations::insert(&db, &cl).await.expect("administration");
        let keyring = Arc::new(Keyring::new(b"node secret of the test.........").expect("keyring"));
        keyring.create(&db, "CL").await.expect("first key");
        let later = Utc::now() + chrono::Duration::seconds(60);

        let first = db.begin().await.expect("begin");
        assert!(keyring.announce(&first, "CL", later, later).await.expect("announce").is_ok());
        let second = tokio::spawn({
            let (db, keyring) = (db.clone(), keyring.clone());
            async move {
                let txn = db.begin().await.expect("begin");
                let announced = keyring.announce(&txn, "CL", later, later).await.expect("announce");
                txn.commit().await.expect("commit");
                announced.is_ok()
            }
        });
        // The second rotation is under way while the first one is not committed yet.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        first.commit().await.expect("commit");
        assert!(!second.await.expect("second rotation"), "a second key was announced beside the first");
        let (next, _) = announced(&db, "CL").await.expect("announced").expect("a key is announced");
        assert_eq!(next.keys.len(), 1, "announced: {next:?}");
    }

    #[test]
    fn a_sealed_key_opens_only_with_its_node_key_and_context() {
        let vault = KeyVault::new(b"node secret one................").expect("vault");
        let sealed = vault.seal(b"private key bytes", "CL/kid").expect("seal");
        assert_eq!(vault.open(&sealed, "CL/kid").expect("open"), b"private key bytes");
        assert!(vault.open(&sealed, "PE/kid").is_err());
        let other = KeyVault::new(b"node secret two................").expect("vault");
        assert!(other.open(&sealed, "CL/kid").is_err());
        assert!(!sealed.contains("private"));
    }

    #[test]
    fn a_public_jwk_names_itself_by_its_rfc7638_thumbprint() {
        let jwk = public_jwk(&[7u8; 32]).expect("jwk");
        let value = serde_json::to_value(&jwk).expect("json");
        assert_eq!(value["kty"], "OKP");
        assert_eq!(value["crv"], "Ed25519");
        assert_eq!(value["kid"], thumbprint(&jwk));
        assert_eq!(thumbprint(&jwk).len(), 43);
    }
}
