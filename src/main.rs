//! The `aeo-registry` command line: parse flags, resolve settings, call into the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use aeo_registry::config::{Overrides, Settings};
use aeo_registry::{bootstrap, demo};

/// mimalloc rather than the system allocator: under glibc's, an import of 50 000 certificates
/// spent a fifth of its time inside malloc (fragmented free lists from the many small, short-lived
/// buffers of statement building).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "aeo-registry",
    version,
    about = "Federated registry of Authorized Economic Operators and mutual recognition arrangements"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run migrations, then serve HTTP until SIGINT or SIGTERM.
    Serve {
        #[command(flatten)]
        settings: Overrides,
        /// Load the demo data set first (idempotent) and print the demo accounts.
        #[arg(long)]
        demo: bool,
    },
    /// Run migrations and exit.
    Migrate {
        #[command(flatten)]
        settings: Overrides,
    },
    /// The platform administrator's account.
    Admin {
        #[command(subcommand)]
        action: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Give the platform administrator a new password: AEO_ADMIN_PASSWORD, or one generated and
    /// printed once. Every token issued before stops working.
    ResetPassword {
        /// The platform administrator's e-mail [default: AEO_ADMIN_EMAIL, else admin@localhost]
        #[arg(long)]
        email: Option<String>,
        #[command(flatten)]
        settings: Overrides,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Whatever this process creates (database, its log and shared-memory files, keys, copies) is
    // its owner's alone; the code also asks for owner-only modes where it creates them.
    // SAFETY: umask only sets this process's file-creation mask.
    unsafe { libc::umask(0o077) };
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { settings, demo: with_demo } => {
            let settings = Settings::load(&settings)?;
            init_logging(&settings);
            // The address first: a start that cannot listen changes nothing (and above all does
            // not create, and use up the printing of, the platform administrator's password).
            let listener = tokio::net::TcpListener::bind(&settings.bind)
                .await
                .with_context(|| format!("cannot listen on {}", settings.bind))?;
            let state = aeo_registry::start(settings.clone()).await?;
            bootstrap::platform_admin(&state).await?;
            if with_demo {
                let report = demo::load(&state).await?;
                report.print(&settings.public_url);
            }
            let address = listener.local_addr()?;
            let stop = shutdown_signal()?;
            tracing::info!(%address, public_url = %settings.public_url, "aeo-registry is serving");
            println!("aeo-registry is serving on http://{address} (API docs: http://{address}/api/docs)");
            aeo_registry::serve(listener, state, stop).await?;
            tracing::info!("shut down cleanly");
        }
        Command::Migrate { settings } => {
            let settings = Settings::load(&settings)?;
            init_logging(&settings);
            let store = settings.connect().await?;
            store.migrate().await?;
            println!("migrations applied to {}", redact(&settings.database_url));
        }
        Command::Admin { action: AdminCommand::ResetPassword { email, settings } } => {
            let settings = Settings::load(&settings)?;
            init_logging(&settings);
            let state = aeo_registry::start(settings).await?;
            bootstrap::reset_platform_password(&state, email).await?;
        }
    }
    Ok(())
}

fn init_logging(settings: &Settings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm_migration=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if settings.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// A database URL without its password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed here, before the node says it is
/// serving: a signal that came between that line and the first wait would otherwise end the
/// process on the spot, without a clean shutdown.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let stop = {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
        }
    };
    #[cfg(not(unix))]
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    Ok(async move {
        stop.await;
        tracing::info!("shutdown requested; finishing in-flight requests");
    })
}
