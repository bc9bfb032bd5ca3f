//! Stores for the store's own tests, on each database the registry supports: a fresh SQLite
//! file, or a fresh PostgreSQL database that is dropped afterwards. PostgreSQL is required: a
//! test that cannot reach it fails (see the README for starting it, `AEO_TEST_POSTGRES_URL` for
//! pointing elsewhere).

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};

use super::Store;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated store, and what it takes to clean up after it.
pub struct TestStore {
    pub store: Store,
    /// Where `store` is.
    pub url: String,
    dir: tempfile::TempDir,
    postgres_database: Option<String>,
}

fn postgres_admin_url() -> String {
    std::env::var("AEO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl TestStore {
    pub async fn new(backend: Backend) -> TestStore {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (url, postgres_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}?mode=rwc", dir.path().join("store.db").display()), None),
            Backend::Postgres => {
                let name = format!("aeo_unit_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(postgres_admin_url())
                    .await
                    .unwrap_or_else(|error| panic!("PostgreSQL at {}: {error}", postgres_admin_url()));
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
                admin.close().await.ok();
                let server = postgres_admin_url();
                let server = server.rsplit_once('/').map_or(server.as_str(), |(server, _)| server).to_owned();
                (format!("{server}/{name}"), Some(name))
            }
        };
        let store = Store::connect(&url, Duration::from_secs(10), 0).await.expect("connect");
        store.migrate().await.expect("migrate");
        TestStore { store, url, dir, postgres_database }
    }

    /// A directory of the test's own, removed with it.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let Some(name) = self.postgres_database.take() else { return };
        // Drop runs inside the test's runtime; a thread of its own can block on the cleanup.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                if let Ok(admin) = Database::connect(postgres_admin_url()).await {
                    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                }
            });
        })
        .join();
    }
}
