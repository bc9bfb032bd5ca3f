//! The one write path (`service::Work`), on both databases: what a unit of work asks of memory
//! happens after its commit, once, and never for a unit of work that did not commit.

mod common;

use aeo_registry::service::{self, Work};
use aeo_registry::store::administrations::{self, Administration};
use aeo_registry::store::audit;
use common::{Backend, Node};

fn administration(code: &str) -> Administration {
    Administration {
        code: code.into(),
        name: format!("Aduana {code}"),
        country: code[..2].into(),
        programme: "OEA".into(),
    }
}

async fn a_unit_of_work_changes_memory_only_once_it_has_committed(backend: Backend) {
    let node = Node::start_empty(backend).await;
    let app = &node.state;
    let db = &app.store.db;
    // Memory holds "not hosted" for ZZ.
    assert!(!app.hot.is_hosted(db, "ZZ").await.expect("read"));

    // Abandoned: nothing is stored, nothing is forgotten, no audit record is written.
    {
        let mut work = Work::begin(app).await.expect("begin");
        service::administrations::create_in(&mut work, "test", &administration("ZZ")).await.expect("create");
    }
    assert!(administrations::find(db, "ZZ").await.expect("read").is_none());
    assert!(!app.hot.is_hosted(db, "ZZ").await.expect("read"));

    // Committed: a reader that asks while the transaction is open keeps the old answer in
    // memory; the commit then makes memory forget it, so the very next question sees the change.
    let mut work = Work::begin(app).await.expect("begin");
    service::administrations::create_in(&mut work, "test", &administration("ZZ")).await.expect("create");
    assert!(!app.hot.is_hosted(db, "ZZ").await.expect("read while the work is open"));
    work.commit().await.expect("commit");
    assert!(app.hot.is_hosted(db, "ZZ").await.expect("read"), "memory forgot the old answer after the commit");

    // Its audit record was written with it, once.
    let (records, _) = audit::list(db, "ZZ", &Default::default(), 100, None).await.expect("audit");
    let created: Vec<_> = records.iter().filter(|record| record.action == "administration.created").collect();
    assert_eq!(created.len(), 1, "{records:?}");
    assert_eq!(created[0].actor, "test");

    // The administration can sign at once: its key was made in the same unit of work.
    let signed = app.federation.keyring.active(db, "ZZ").await;
    assert!(signed.is_ok(), "{:?}", signed.err());
}

async fn readers_racing_a_commit_never_keep_what_it_changed(backend: Backend) {
    let node = Node::start_empty(backend).await;
    let app = node.state.clone();
    for round in 0..20 {
        let code = format!("Z{}", (b'A' + round) as char);
        assert!(!app.hot.is_hosted(&app.store.db, &code).await.expect("read"));
        // Readers ask as fast as they can while the administration is created: one that reads
        // the database after memory forgot and before the commit would keep "not hosted".
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (app, code, stop) = (app.clone(), code.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let _ = app.hot.is_hosted(&app.store.db, &code).await;
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        let mut work = Work::begin(&app).await.expect("begin");
        service::administrations::create_in(&mut work, "test", &administration(&code)).await.expect("create");
        work.commit().await.expect("commit");
        let hosted = app.hot.is_hosted(&app.store.db, &code).await.expect("read");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for reader in readers {
            reader.await.expect("reader");
        }
        assert!(hosted, "round {round}: memory kept what a reader read before the commit");
    }
}

async fn a_rolled_back_unit_of_work_leaves_no_trace(backend: Backend) {
    let node = Node::start_empty(backend).await;
    let app = &node.state;
    let mut work = Work::begin(app).await.expect("begin");
    service::administrations::create_in(&mut work, "test", &administration("YY")).await.expect("create");
    work.rollback().await.expect("rollback");
    assert!(administrations::find(&app.store.db, "YY").await.expect("read").is_none());
    assert!(!app.hot.is_hosted(&app.store.db, "YY").await.expect("read"));
    let (records, _) = audit::list(&app.store.db, "YY", &Default::default(), 100, None).await.expect("audit");
    assert!(records.is_empty(), "{records:?}");
}

both_backends!(
    a_unit_of_work_changes_memory_only_once_it_has_committed,
    readers_racing_a_commit_never_keep_what_it_changed,
    a_rolled_back_unit_of_work_leaves_no_trace,
);
