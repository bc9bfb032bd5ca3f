//! Layered settings: a command-line flag wins, then the environment, then the config file
//! (`config/default.toml` when present), then the built-in default.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// Settings given on the command line or in the environment (clap reads both).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "AEO_BIND")]
    pub bind: Option<String>,
    /// sqlite://... or postgres://... [default: sqlite://data/aeo-registry.db?mode=rwc]
    #[arg(long, env = "AEO_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Base URL peers use to reach this node [default: http:// + bind]
    #[arg(long, env = "AEO_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Settings file [default: config/default.toml when present]
    #[arg(long, env = "AEO_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The settings file; every field optional so that a partial file works.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<String>,
    database_url: Option<String>,
    public_url: Option<String>,
    admin_email: Option<String>,
    node_key_file: Option<PathBuf>,
    statement_ttl: Option<u64>,
    max_staleness: Option<u64>,
    key_announce_secs: Option<u64>,
    token_ttl: Option<u64>,
    session_idle: Option<u64>,
    request_timeout: Option<u64>,
    import_timeout: Option<u64>,
    public_rate_limit: Option<u32>,
    summary_cache_mib: Option<u64>,
    statement_cache_mib: Option<u64>,
    log_format: Option<String>,
    federation_allow_private: Option<bool>,
    max_connections: Option<u64>,
    header_read_timeout: Option<u64>,
    database_timeout: Option<u64>,
    sqlite_reserve_mib: Option<u64>,
}

/// The longest a new signing key may be announced before it signs.
pub const MAX_KEY_ANNOUNCE_SECS: u64 = 30 * 24 * 3600;

/// Everything the node needs to run, resolved once at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: String,
    pub database_url: String,
    pub public_url: String,
    pub admin_email: Option<String>,
    /// Never printed: `Debug` of this struct is only used in tests.
    pub admin_password: Option<String>,
    pub node_key_file: PathBuf,
    /// The node secret given directly (hex); never printed.
    pub node_key: Option<String>,
    pub statement_ttl: u64,
    pub max_staleness: u64,
    /// How long a new signing key is announced to partners before it signs, in seconds.
    pub key_announce_secs: u64,
    pub token_ttl: u64,
    /// Seconds a web page session may go unused before it ends.
    pub session_idle: u64,
    pub request_timeout: u64,
    /// Seconds an import may take (large bodies, many rows).
    pub import_timeout: u64,
    pub public_rate_limit: u32,
    /// Memory for the summaries of certificates asked about lately, in MiB.
    pub summary_cache_mib: u64,
    /// Memory for the statements signed lately for partners, in MiB.
    pub statement_cache_mib: u64,
    pub log_format: String,
    /// Whether peers (and later subscription URLs) may be on loopback or private addresses.
    pub federation_allow_private: bool,
    /// Connections served at once (a quarter of them per client); more are answered 503.
    pub max_connections: u64,
    /// Seconds a client has to send a request's head.
    pub header_read_timeout: u64,
    /// Seconds any one database statement may take before the request is answered 503.
    pub database_timeout: u64,
    /// Disk kept in reserve beside a SQLite database, in MiB, for when the disk fills.
    pub sqlite_reserve_mib: u64,
}

impl Settings {
    pub fn load(overrides: &Overrides) -> anyhow::Result<Self> {
        let file = match &overrides.config {
            Some(path) => read_file(path)?,
            None => {
                let default = Path::new("config/default.toml");
                if default.exists() { read_file(default)? } else { FileSettings::default() }
            }
        };
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let number = |name: &str, file: Option<u64>, default: u64| -> anyhow::Result<u64> {
            match env(name) {
                Some(v) => v.parse().with_context(|| format!("{name} must be a whole number")),
                None => Ok(file.unwrap_or(default)),
            }
        };

        let flag = |name: &str, file: Option<bool>| -> anyhow::Result<bool> {
            match env(name).map(|v| v.to_ascii_lowercase()) {
                Some(v) if matches!(v.as_str(), "true" | "1" | "yes") => Ok(true),
                Some(v) if matches!(v.as_str(), "false" | "0" | "no") => Ok(false),
                Some(_) => anyhow::bail!("{name} must be true or false"),
                None => Ok(file.unwrap_or(false)),
            }
        };

        let bind = overrides.bind.clone().or(file.bind).unwrap_or_else(|| "127.0.0.1:8080".into());
        let public_url = overrides
            .public_url
            .clone()
            .or(file.public_url)
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| format!("http://{bind}"));
        Ok(Settings {
            database_url: overrides
                .database_url
                .clone()
                .or(file.database_url)
                .unwrap_or_else(|| "sqlite://data/aeo-registry.db?mode=rwc".into()),
            public_url: public_url.trim_end_matches('/').to_string(),
            bind,
            admin_email: env("AEO_ADMIN_EMAIL").or(file.admin_email),
            admin_password: env("AEO_ADMIN_PASSWORD"),
            node_key: env("AEO_NODE_KEY"),
            node_key_file: env("AEO_NODE_KEY_FILE")
                .map(PathBuf::from)
                .or(file.node_key_file)
                .unwrap_or_else(|| PathBuf::from("data/node.key")),
            statement_ttl: number("AEO_STATEMENT_TTL", file.statement_ttl, 300)?,
            max_staleness: number("AEO_MAX_STALENESS", file.max_staleness, 0)?,
            key_announce_secs: match number("AEO_KEY_ANNOUNCE_SECS", file.key_announce_secs, 600)? {
                secs if secs <= MAX_KEY_ANNOUNCE_SECS => secs,
                _ => anyhow::bail!("AEO_KEY_ANNOUNCE_SECS must be at most {MAX_KEY_ANNOUNCE_SECS} (30 days)"),
            },
            token_ttl: number("AEO_TOKEN_TTL", file.token_ttl, 900)?,
            session_idle: number("AEO_SESSION_IDLE", file.session_idle, 1800)?.max(60),
            request_timeout: number("AEO_REQUEST_TIMEOUT", file.request_timeout, 30)?,
            import_timeout: number("AEO_IMPORT_TIMEOUT", file.import_timeout, 600)?,
            public_rate_limit: number("AEO_PUBLIC_RATE_LIMIT", file.public_rate_limit.map(u64::from), 60)?
                .try_into()
                .context("AEO_PUBLIC_RATE_LIMIT is too large")?,
            summary_cache_mib: number("AEO_SUMMARY_CACHE_MIB", file.summary_cache_mib, 64)?,
            statement_cache_mib: number("AEO_STATEMENT_CACHE_MIB", file.statement_cache_mib, 128)?,
            log_format: env("AEO_LOG_FORMAT").or(file.log_format).unwrap_or_else(|| "text".into()),
            federation_allow_private: flag("AEO_FEDERATION_ALLOW_PRIVATE", file.federation_allow_private)?,
            max_connections: number("AEO_MAX_CONNECTIONS", file.max_connections, 1024)?.max(1),
            header_read_timeout: number("AEO_HEADER_READ_TIMEOUT", file.header_read_timeout, 10)?.max(1),
            database_timeout: number("AEO_DATABASE_TIMEOUT", file.database_timeout, 5)?.max(1),
            sqlite_reserve_mib: number("AEO_SQLITE_RESERVE_MIB", file.sqlite_reserve_mib, 64)?,
        })
    }

    /// Connects to the configured database with the configured deadline and disk reserve.
    pub async fn connect(&self) -> anyhow::Result<crate::store::Store> {
        let deadline = std::time::Duration::from_secs(self.database_timeout);
        crate::store::Store::connect(&self.database_url, deadline, self.sqlite_reserve_mib.saturating_mul(1 << 20))
            .await
    }

    /// How long a signed statement or checkpoint stays fresh, for claims arithmetic.
    pub fn statement_ttl_secs(&self) -> i64 {
        i64::try_from(self.statement_ttl).unwrap_or(i64::MAX / 2)
    }

    /// Settings for tests and embedding: defaults, nothing read from files or the environment.
    pub fn for_database(database_url: &str, node_key_file: PathBuf) -> Self {
        Settings {
            bind: "127.0.0.1:0".into(),
            database_url: database_url.into(),
            public_url: "http://127.0.0.1:0".into(),
            admin_email: None,
            admin_password: None,
            node_key_file,
            node_key: None,
            statement_ttl: 300,
            max_staleness: 0,
            key_announce_secs: 600,
            token_ttl: 900,
            session_idle: 1800,
            request_timeout: 30,
            import_timeout: 600,
            public_rate_limit: 60,
            summary_cache_mib: 64,
            statement_cache_mib: 128,
            log_format: "text".into(),
            federation_allow_private: false,
            max_connections: 1024,
            header_read_timeout: 10,
            database_timeout: 5,
            sqlite_reserve_mib: 64,
        }
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read settings file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid settings file {}", path.display()))
}
