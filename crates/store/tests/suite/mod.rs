//! The backend conformance suite: generic test bodies plus the `conformance_tests!` macro
//! that instantiates them for one backend.
//!
//! Every body takes a [`Fixture`] of a fresh, empty store. Revisions are checked relative
//! to the store's revision at the start, and lease tests use real time with short TTLs
//! and bounded waits, so a backend with its own clock (etcd) can pass them too. To add a
//! backend: implement [`Backend`] for it and write
//! `conformance_tests!(my_backend, my_fixture());` where `my_fixture()` is an async fn
//! returning a `Fixture`.
#![allow(dead_code)]

pub mod kv;
pub mod lease;
pub mod snapshot;
pub mod watch;

pub use kv::*;
pub use lease::*;
pub use snapshot::*;
pub use watch::*;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flotilla_store::{Event, Result, Revision, Store, WatchStream};
use futures::StreamExt;

/// What the suite needs beyond [`Store`].
#[async_trait]
pub trait Backend: Store + Sized {
    /// Discards watch history before `rev` (etcd's compact).
    async fn compact_to(&self, rev: Revision) -> Result<()>;
}

#[async_trait]
impl Backend for flotilla_store::MemoryStore {
    async fn compact_to(&self, rev: Revision) -> Result<()> {
        self.compact(rev).await
    }
}

#[async_trait]
impl Backend for flotilla_store::SqliteStore {
    async fn compact_to(&self, rev: Revision) -> Result<()> {
        self.compact(rev).await
    }
}

#[cfg(feature = "etcd")]
#[async_trait]
impl Backend for flotilla_store::EtcdStore {
    async fn compact_to(&self, rev: Revision) -> Result<()> {
        self.compact(rev).await
    }
}

/// A fresh store and whatever must live as long as it (a temporary directory).
pub struct Fixture<S> {
    pub store: Arc<S>,
    pub guard: Option<Box<dyn Any + Send + Sync>>,
}

/// How long any single expected event may take to arrive.
pub const WAIT: Duration = Duration::from_secs(10);

/// The next batch of a watch, failing the test on error, end, or timeout.
pub async fn next_batch(stream: &mut WatchStream) -> Vec<Event> {
    match tokio::time::timeout(WAIT, stream.next()).await {
        Ok(Some(Ok(batch))) => batch,
        Ok(Some(Err(e))) => panic!("watch failed: {e}"),
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("no watch event within {WAIT:?}"),
    }
}

/// Events until (and including) the batch that contains revision `rev`.
pub async fn events_through(stream: &mut WatchStream, rev: Revision) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    while out.last().is_none_or(|e| e.kv.mod_revision < rev) {
        out.extend(next_batch(stream).await);
    }
    out
}

/// Asserts that no batch arrives for a short while.
pub async fn assert_quiet(stream: &mut WatchStream) {
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(200), stream.next()).await {
        panic!("unexpected watch item: {item:?}");
    }
}

/// Instantiates every conformance test for one backend, in a module named `$name`.
/// `$fixture` is an expression evaluating to a future of a fresh [`Fixture`].
#[macro_export]
macro_rules! conformance_tests {
    ($name:ident, $fixture:expr) => {
        $crate::conformance_tests!(@module $name, $fixture;
            put_get_delete,
            revisions_increase_by_one,
            key_metadata,
            range_prefix,
            range_limit_and_continuation,
            txn_compare_ops,
            txn_branches_are_atomic,
            concurrent_cas_counter,
            watch_replays_then_goes_live,
            watch_filters_by_prefix,
            watch_delivers_deletes,
            watch_from_zero_is_live_only,
            watch_from_compacted_revision_fails,
            watch_progress_covers_other_prefixes,
            lease_expiry_deletes_keys,
            lease_keep_alive_extends,
            lease_revoke_deletes_now,
            lease_not_found,
            snapshot_is_the_store_at_one_revision_while_writes_go_on,
            snapshot_leaves_out_keys_on_a_lease,
            load_fills_an_empty_store_and_refuses_one_that_is_not,
        );
    };
    (@module $name:ident, $fixture:expr; $($test:ident),* $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let fixture = $fixture.await;
                    $crate::suite::$test(&fixture).await;
                }
            )*
        }
    };
}
