//! The server side of the benchmark, run as child processes of the bench itself: a registry node
//! (the real application, as `aeo-registry serve` builds it) and the baseline (a bare axum
//! handler answering a constant body). Both run on the same tokio runtime settings
//! (`#[tokio::main]`, multi-thread, one worker per core), serve with `axum::serve` over TCP and
//! print `LISTENING <address>` on stdout once they accept connections.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use axum::Router;
use axum::http::header;
use axum::routing::get;

pub const PLATFORM_EMAIL: &str = "platform@bench.aeo";
pub const PLATFORM_PASSWORD: &str = "platform-password-bench-2026";

#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// sqlite://... or postgres://...
    #[arg(long)]
    pub database_url: String,
    /// Where the node secret is kept.
    #[arg(long)]
    pub key_file: PathBuf,
    /// Seconds statements and checkpoints signed here stay valid.
    #[arg(long, default_value_t = 300)]
    pub statement_ttl: u64,
    /// Public checks per minute per client address.
    #[arg(long, default_value_t = 60)]
    pub public_rate_limit: u32,
    /// Memory for certificate summaries, in MiB [default: the registry's].
    #[arg(long)]
    pub summary_cache_mib: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct BaselineArgs {
    /// Length in bytes of the constant body (that of a real recognition answer).
    #[arg(long)]
    pub size: usize,
}

fn init_logging() {
    // As the real server does; the parent sets RUST_LOG=warn so logging does not dominate.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn announce(address: std::net::SocketAddr) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "LISTENING {address}")?;
    out.flush()?;
    Ok(())
}

#[tokio::main]
pub async fn node(args: NodeArgs) -> anyhow::Result<()> {
    init_logging();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("bind")?;
    let address = listener.local_addr()?;
    let mut settings = aeo_registry::Settings::for_database(&args.database_url, args.key_file);
    settings.bind = address.to_string();
    settings.public_url = format!("http://{address}");
    settings.admin_email = Some(PLATFORM_EMAIL.into());
    settings.admin_password = Some(PLATFORM_PASSWORD.into());
    settings.statement_ttl = args.statement_ttl;
    settings.public_rate_limit = args.public_rate_limit;
    // Every node of the bench is on loopback.
    settings.federation_allow_private = true;
    // Long enough for the longest run; logins (argon2) are not what is measured.
    settings.token_ttl = 86_400;
    if let Some(mib) = args.summary_cache_mib {
        settings.summary_cache_mib = mib;
    }
    let state = aeo_registry::start(settings).await?;
    aeo_registry::bootstrap::platform_admin(&state).await?;
    announce(address)?;
    aeo_registry::serve(listener, state, shutdown_signal()).await?;
    Ok(())
}

#[tokio::main]
pub async fn baseline(args: BaselineArgs) -> anyhow::Result<()> {
    init_logging();
    let body = constant_body(args.size);
    let handler = move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body) }
    };
    let router =
        Router::new().route("/api/v1/administrations/{code}/recognition", get(handler.clone())).fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("bind")?;
    announce(listener.local_addr()?)?;
    axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}

/// A JSON object of exactly `size` bytes (at least the 10 of `{"pad":""}`).
pub fn constant_body(size: usize) -> bytes::Bytes {
    let padding = size.saturating_sub(10);
    bytes::Bytes::from(format!("{{\"pad\":\"{}\"}}", "x".repeat(padding)))
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = terminate => {},
    }
}
