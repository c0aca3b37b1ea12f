//! Store conformance: every test runs unchanged on SQLite and on PostgreSQL.
//!
//! PostgreSQL comes from `GRIDSYNC_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each test gets a database of its own. Without PostgreSQL the tests fail under `CI=true` and
//! print a skip otherwise.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "../common/db.rs"]
mod db;

mod accounts;
mod case_loop;
mod org;
mod patrols;
mod stats;
mod sync;

use gridsync_core::{Identity, JurisdictionPath, Replica, Role};
use gridsync_server::store::{Store, UserRecord};

pub const KEY: [u8; 32] = [5; 32];
pub const T0: i64 = 1_790_000_000_000;

pub use db::{TestDb, postgres, sqlite};

/// Runs an async test body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! conformance {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let db = $crate::sqlite().await;
                ($body)(db.store.clone()).await;
            }
            #[tokio::test]
            async fn postgres() {
                if let Some(db) = $crate::postgres().await {
                    ($body)(db.store.clone()).await;
                }
            }
        }
    };
}

/// Like `conformance!`, for bodies that need the database URL too (a second server).
#[macro_export]
macro_rules! conformance_db {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let db = $crate::sqlite().await;
                ($body)(db.store.clone(), db.url.clone()).await;
            }
            #[tokio::test]
            async fn postgres() {
                if let Some(db) = $crate::postgres().await {
                    ($body)(db.store.clone(), db.url.clone()).await;
                }
            }
        }
    };
}

pub fn path(s: &str) -> JurisdictionPath {
    JurisdictionPath::parse(s).unwrap()
}

/// Creates the account and a phone replica signed in as it, bound on the store.
pub async fn phone(
    store: &Store,
    user: &str,
    role: Role,
    scope: &str,
    device: &str,
) -> (Identity, Replica) {
    store
        .add_user(
            &UserRecord {
                id: user.into(),
                display_name: user.into(),
                role,
                scope: path(scope),
                department: None,
                password_hash: "-".into(),
                disabled: false,
            },
            T0,
        )
        .await
        .unwrap();
    let who = Identity::new(user, role, path(scope), None, device).unwrap();
    let mut r = Replica::open_in_memory(&KEY).unwrap();
    r.sign_in(who.clone()).unwrap();
    store
        .bind_device(device, user, r.actor_id(), T0)
        .await
        .unwrap();
    (who, r)
}
