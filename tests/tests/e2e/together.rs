//! The township's morning reconnect: fifty phones renew their tokens, sign in again and sync at
//! the same moment while the supervision clock runs, on SQLite and on PostgreSQL. Every answer
//! is a success: none is a `5xx` (on SQLite, a write transaction that read first used to be
//! refused `database is locked` instead of waiting its turn).

use std::sync::{Arc, Barrier};
use std::time::Duration;

use gridsync_core::protocol::{decode_response, encode_request};
use gridsync_core::{Replica, Role};
use gridsync_server::supervision::Supervisor;
use gridsync_testkit::db;

use crate::server::{KEY, PASSWORD, Server, T0, agent, login, path, post_sync, report};

const PHONES: usize = 50;

/// A signed-in phone with both its tokens and its device secret.
struct Signed {
    user: String,
    device: String,
    replica: Replica,
    refresh: String,
    secret: String,
}

fn sign_in(server: &Server, i: usize) -> Signed {
    let (user, grid) = (format!("gw{i:02}"), format!("130322/101/2{:02}/01", i % 20));
    server.add_user(&user, Role::GridWorker, &grid);
    let device = format!("phone-{user}");
    let mut replica = Replica::open_in_memory(&KEY).unwrap();
    let mut resp = login(server, &user, &device, &replica);
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.body_mut().read_json().unwrap();
    replica
        .sign_in(
            gridsync_core::Identity::new(&user, Role::GridWorker, path(&grid), None, &device)
                .unwrap(),
        )
        .unwrap();
    replica.capture(&report("路灯不亮", &grid), T0 + 1).unwrap();
    Signed {
        user,
        device,
        replica,
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        secret: body["device_secret"].as_str().unwrap().to_owned(),
    }
}

/// POSTs JSON; the status and the body.
fn post_json(server: &Server, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let mut resp = agent()
        .post(format!("{}{path}", server.url))
        .send_json(body)
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_json().unwrap_or_default())
}

/// Each phone, all at once: renews its tokens, signs in again, syncs with the new token.
fn everyone_at_once(server: Server) {
    let phones: Vec<Signed> = (0..PHONES).map(|i| sign_in(&server, i)).collect();
    let store = server.state.store.clone();
    server.store(async move {
        let device = store
            .server_device(gridsync_server::now_ms())
            .await
            .unwrap();
        Supervisor::with_device(store, device).spawn(Duration::from_millis(20));
    });
    let server = Arc::new(server);
    let start = Arc::new(Barrier::new(PHONES));
    let threads: Vec<_> = phones
        .into_iter()
        .map(|p| {
            let (server, start) = (server.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let (renewed, tokens) = post_json(
                    &server,
                    "/v1/auth/refresh",
                    &serde_json::json!({ "refresh_token": p.refresh }),
                );
                let (signed, _) = post_json(
                    &server,
                    "/v1/auth/login",
                    &serde_json::json!({
                        "user": p.user, "password": PASSWORD, "device": p.device,
                        "actor": p.replica.actor_id().to_hex_string(), "device_secret": p.secret,
                    }),
                );
                let token = tokens["access_token"].as_str().unwrap_or_default();
                let body = encode_request(&p.replica.next_sync_request().unwrap()).unwrap();
                let (synced, answer) = post_sync(&server, token, &body);
                let accepted = decode_response(&answer)
                    .map(|r| r.accepted.iter().map(|a| a.hashes.len()).sum::<usize>())
                    .unwrap_or(0);
                ([renewed, signed, synced], accepted)
            })
        })
        .collect();
    let answers: Vec<([u16; 3], usize)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let failed: Vec<_> = answers.iter().filter(|(s, _)| *s != [200; 3]).collect();
    assert!(
        failed.is_empty(),
        "(refresh, login, sync) not all 200: {failed:?}"
    );
    assert!(
        answers.iter().all(|(_, accepted)| *accepted == 1),
        "every phone's case was accepted: {answers:?}"
    );
}

#[test]
fn fifty_phones_renew_sign_in_and_sync_at_once_on_sqlite() {
    everyone_at_once(Server::start());
}

#[test]
fn fifty_phones_renew_sign_in_and_sync_at_once_on_postgresql() {
    // `db::postgres` fails under CI=true without PostgreSQL and says "skip" elsewhere.
    if let Some(server) = Server::start_on(db::postgres()) {
        everyone_at_once(server);
    }
}
