//! The application state shared by every request: one `AppState(Arc<App>)`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::throttle::LoginThrottle;
use crate::auth::token::TokenKeys;
use crate::cache::HotFacts;
use crate::config::Settings;
use crate::federation::Federation;
use crate::store::Store;

pub struct App {
    /// The database, and the rule for writing to it.
    pub store: Store,
    /// Settings resolved at start-up.
    pub settings: Settings,
    /// Signs and verifies access tokens.
    pub tokens: TokenKeys,
    /// Failed-login counters per account and per client.
    pub login_throttle: LoginThrottle,
    /// Requests per client address to the unauthenticated public check.
    pub public_limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// Keys, peer client, replay cache and background work of the federation.
    pub federation: Federation,
    /// Users, hosted administrations and MRA records the hot path reads on every request.
    pub hot: HotFacts,
    /// Writes that reads cause, written in the background.
    pub later: crate::service::later::Later,
    /// Slots for the requests that cost more than the hot paths.
    pub classes: crate::api::slots::RouteClasses,
}

#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl AppState {
    /// Connects to the database, migrates it and loads the node secret.
    pub async fn start(settings: Settings) -> anyhow::Result<Self> {
        let store = settings.connect().await?;
        store.migrate().await?;
        let secret = match &settings.node_key {
            Some(hex) => hex_decode(hex.trim())
                .filter(|key| key.len() >= 32)
                .context("AEO_NODE_KEY must be at least 64 hex characters")?,
            None => load_or_create_node_key(&settings.node_key_file)?,
        };
        let tokens = TokenKeys::new(&secret, &settings.public_url, settings.token_ttl);
        let per_minute = NonZeroU32::new(settings.public_rate_limit).unwrap_or(NonZeroU32::MIN);
        let shared = sea_orm::ConnectionTrait::get_database_backend(&store.db) == sea_orm::DbBackend::Postgres;
        let federation = Federation::new(&secret, settings.federation_allow_private, shared)?;
        federation.replays.load(&store.db).await?;
        crate::federation::keys::ensure_all(&store.db, &federation.keyring).await?;
        let mib = |mib: u64| mib.saturating_mul(1024 * 1024);
        let hot = HotFacts::new(mib(settings.summary_cache_mib), mib(settings.statement_cache_mib));
        let loading = crate::store::Health::now();
        hot.load(&store.db).await?;
        store.health.heard(loading);
        Ok(AppState(Arc::new(App {
            store,
            tokens,
            login_throttle: LoginThrottle::default(),
            public_limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            federation,
            hot,
            later: Default::default(),
            classes: Default::default(),
            settings,
        })))
    }
}

/// The node's 32-byte secret, hex in a file readable by its owner only; made on first start.
pub fn load_or_create_node_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = hex_decode(text.trim()).with_context(|| format!("{} does not hold a hex key", path.display()))?;
            anyhow::ensure!(key.len() >= 32, "{} holds a key shorter than 32 bytes", path.display());
            Ok(key)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            let key: [u8; 32] = rand::random();
            let hex = hex::encode(key);
            // Written whole under another name, then put in place: a crash leaves no empty key
            // file behind, and of two processes starting at once, the first to finish wins.
            let written = path.with_extension("key.new");
            let _ = std::fs::remove_file(&written);
            crate::store::owner_only_file(&written)?;
            let mut file = std::fs::OpenOptions::new().write(true).open(&written)?;
            file.write_all(hex.as_bytes())?;
            file.sync_all()?;
            if std::fs::hard_link(&written, path).is_err() {
                let _ = std::fs::remove_file(&written);
                return load_or_create_node_key(path);
            }
            std::fs::remove_file(&written)?;
            Ok(key.to_vec())
        }
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}
