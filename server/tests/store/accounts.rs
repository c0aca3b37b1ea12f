use gridsync_core::Role;
use gridsync_server::store::{Store, StoreError};

use crate::*;

conformance!(
    an_account_moved_to_another_grid_acts_there_from_its_next_request,
    |store: Store| async move {
        let (_, r) = phone(&store, "wang", Role::GridWorker, "130322/101/201/02", "p1").await;
        let mut user = store.user("wang").await.unwrap().unwrap();
        user.scope = path("130322/101/201/01");
        store.update_user(&user).await.unwrap();
        let ctx = store.device_context("p1").await.unwrap().unwrap();
        assert_eq!(ctx.users[0].scope, path("130322/101/201/01"));
        assert!(ctx.actors.contains(r.actor_id()));

        user.disabled = true;
        store.update_user(&user).await.unwrap();
        let ctx = store.device_context("p1").await.unwrap().unwrap();
        assert!(ctx.users.is_empty(), "a disabled account acts nowhere");

        user.id = "nobody".into();
        assert!(matches!(
            store.update_user(&user).await,
            Err(StoreError::NotFound(_))
        ));
    }
);

/// Every signed-in request reads its device's context (`Store::device_context`): each of those
/// lookups must find the device's rows by an index, not scan the rows of every device in the
/// county (the actors did, before migration 17). SQLite's plan is checked; PostgreSQL plans tiny
/// tables as scans whatever their indexes.
#[tokio::test]
async fn the_device_context_is_read_by_index() {
    use sqlx::Row;
    let db = sqlite().await;
    // Asked on connections opened after the migrations: EXPLAIN does not check the schema's
    // version, so a pooled connection may plan with the schema it read before them.
    let fresh = Store::connect(&db.url).await.unwrap();
    for sql in [
        "SELECT d.revoked, d.sign_key, d.last_sync_at, r.version
         FROM devices d LEFT JOIN device_rules r ON r.device_id = d.id WHERE d.id = 'p1'",
        "SELECT actor FROM device_actors WHERE device_id = 'p1' ORDER BY actor",
        "SELECT u.id FROM device_users d JOIN users u ON u.id = d.user_id
         WHERE d.device_id = 'p1' ORDER BY d.signed_in_at DESC, u.id",
    ] {
        let plan: Vec<String> =
            sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .fetch_all(fresh.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get::<String, _>(3).unwrap())
                .collect();
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN")),
            "{sql}: {plan:?}"
        );
    }
}
