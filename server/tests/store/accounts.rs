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
