//! Store conformance: every test runs unchanged on SQLite and on PostgreSQL.
//!
//! PostgreSQL comes from `GRIDSYNC_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each test gets a database of its own. Without PostgreSQL the tests fail under `CI=true` and
//! print a skip otherwise.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod accounts;
mod assessment;
mod case_loop;
mod erasure;
mod evidence;
mod group;
mod hub;
mod notices;
mod org;
mod patrols;
mod quarantine;
mod read_audit;
mod recount;
mod rules;
mod stats;
mod sync;

use gridsync_core::case::{Location, NewCase};
use gridsync_core::protocol::{decode_request, encode_request};
use gridsync_core::session::{Answer, SessionOutcome, Step, SyncSession};
use gridsync_core::{CaseKind, Identity, JurisdictionPath, Replica, Role};
use gridsync_server::store::{Store, UserRecord};

pub const KEY: [u8; 32] = [5; 32];
pub const T0: i64 = 1_790_000_000_000;

pub use gridsync_testkit::db::{TestDb, postgres, sqlite};

/// Runs an async test body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! conformance {
    ($name:ident, $body:expr) => {
        $crate::conformance_db!($name, |store: gridsync_server::store::Store,
                                        _url: String| ($body)(
            store
        ));
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

/// Syncs a phone straight into the store through the core's session driver, the request
/// crossing the wire encoding, with the server's clock at `now`; until the session is done.
pub async fn sync_into(store: &Store, r: &mut Replica, now: i64) -> SessionOutcome {
    let mut session = SyncSession::cases_only();
    while let Step::Sync(req) = session.next(r).unwrap() {
        let req = decode_request(&encode_request(&req).unwrap()).unwrap();
        let ctx = store.device_context(&req.device).await.unwrap().unwrap();
        let user = r.identity().unwrap().user.clone();
        let writer = ctx.users.iter().find(|u| u.user == user).unwrap().clone();
        let resp = store.sync(&ctx, &writer, &req, now).await.unwrap();
        session
            .answer(r, Answer::Synced(Box::new(resp)), now)
            .unwrap();
    }
    assert!(!session.outcome().more, "did not settle");
    session.outcome().clone()
}

/// A case of `kind` at `place` with no text beyond its title.
pub fn new_case(kind: CaseKind, place: &str, category: &str, title: &str) -> NewCase {
    NewCase {
        kind,
        jurisdiction: path(place),
        category: category.into(),
        title: title.into(),
        description: String::new(),
        location: Location::default(),
        people: vec![],
    }
}

/// [`sync_into`], every change accepted.
pub async fn sync_accepted(store: &Store, r: &mut Replica, now: i64) {
    let out = sync_into(store, r, now).await;
    assert_eq!(out.rejected, 0);
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
