//! The hub scenarios of `gridsync_core::testing::scenarios` on the store, as on `MemoryHub`: on
//! SQLite and on PostgreSQL. Each scenario gets a fresh database.

use automerge::ActorId;
use gridsync_core::protocol::{SyncResponse, decode_request};
use gridsync_core::testing::scenarios::{self, Hub};
use gridsync_core::{Case, Identity};
use gridsync_server::store::UserRecord;

use crate::*;

/// The store behind the hub trait, on a runtime of its own (the scenarios are synchronous).
struct StoreHub {
    // Dropped before its runtime.
    db: TestDb,
    rt: tokio::runtime::Runtime,
}

impl StoreHub {
    fn on(make: impl std::future::Future<Output = Option<TestDb>>) -> Option<StoreHub> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let db = rt.block_on(make)?;
        Some(StoreHub { db, rt })
    }
}

impl Hub for StoreHub {
    fn enrol(&mut self, who: &Identity, actor: &ActorId) {
        let store = &self.db.store;
        self.rt.block_on(async {
            store
                .add_user(
                    &UserRecord {
                        id: who.user.clone(),
                        display_name: who.user.clone(),
                        role: who.role,
                        scope: who.scope.clone(),
                        department: who.department.clone(),
                        password_hash: "-".into(),
                        disabled: false,
                    },
                    T0,
                )
                .await
                .unwrap();
            store
                .bind_device(&who.device, &who.user, actor, T0)
                .await
                .unwrap();
        });
    }

    fn exchange(
        &mut self,
        who: &Identity,
        request: &[u8],
        now: i64,
    ) -> gridsync_core::Result<SyncResponse> {
        let req = decode_request(request)?;
        let store = &self.db.store;
        Ok(self.rt.block_on(async {
            let ctx = store.device_context(&who.device).await.unwrap().unwrap();
            let reader = ctx.users.iter().find(|u| u.user == who.user).unwrap();
            store.sync(&ctx, reader, &req, now).await.unwrap()
        }))
    }

    fn case(&mut self, id: &str) -> Option<Case> {
        let doc = self.rt.block_on(self.db.store.case_doc(id)).unwrap();
        doc.and_then(|d| d.read().ok())
    }

    fn quarantined(&mut self) -> Vec<String> {
        let rows = self.rt.block_on(self.db.store.quarantine()).unwrap();
        rows.into_iter().map(|(_, _, code, _)| code).collect()
    }
}

#[test]
fn the_store_on_sqlite_passes_every_hub_scenario() {
    scenarios::run_all(|| StoreHub::on(async { Some(sqlite().await) }).unwrap()).unwrap();
}

#[test]
fn the_store_on_postgresql_passes_every_hub_scenario() {
    // `postgres()` fails under CI=true without PostgreSQL and says "skip" elsewhere.
    if StoreHub::on(postgres()).is_none() {
        return;
    }
    scenarios::run_all(|| StoreHub::on(postgres()).unwrap()).unwrap();
}
