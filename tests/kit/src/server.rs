//! The real server in process (on 127.0.0.1:0, SQLite in a temporary directory) and phones
//! signed in to it over HTTP, syncing through the core's session driver.

use std::sync::Arc;

use gridsync_core::protocol::{SyncResponse, decode_response, encode_request};
use gridsync_core::{Identity, JurisdictionPath, Replica, Role};
use gridsync_server::auth::{self, Keys};
use gridsync_server::store::UserRecord;
use gridsync_server::{AppState, app};

use crate::db::{self, TestDb};

/// The phones' store key.
pub const KEY: [u8; 32] = [1; 32];
/// Every test account's password.
pub const PASSWORD: &str = "网格-2026-secret";

#[derive(Debug)]
pub struct Server {
    pub url: String,
    pub state: Arc<AppState>,
    // Kept for the server's life; dropped before its runtime.
    _db: TestDb,
    rt: tokio::runtime::Runtime,
}

pub fn path(s: &str) -> JurisdictionPath {
    JurisdictionPath::parse(s).unwrap()
}

impl Server {
    /// The server on a fresh SQLite file.
    pub fn start() -> Server {
        Server::start_on(async { Some(db::sqlite().await) }).unwrap()
    }

    /// The server on a fresh SQLite file, taking urgent SMS reports from a gateway that presents
    /// `token` (`POST /v1/sms/inbound`).
    pub fn start_with_sms_inbound(token: &str) -> Server {
        let token = token.to_owned();
        Server::start_with(async { Some(db::sqlite().await) }, move |state| {
            state.with_sms_inbound(Some(token))
        })
        .unwrap()
    }

    /// The server on a fresh SQLite file, with other deadlines than the defaults.
    pub fn start_with_deadlines(deadlines: gridsync_server::limit::Deadlines) -> Server {
        Server::start_with(async { Some(db::sqlite().await) }, move |state| {
            state.with_deadlines(deadlines)
        })
        .unwrap()
    }

    /// The server on the database `make` creates (`None`: skip, see [`db::postgres`]).
    pub fn start_on(make: impl std::future::Future<Output = Option<TestDb>>) -> Option<Server> {
        Server::start_with(make, |state| state)
    }

    /// The server on the database `make` creates, its state finished by `configure`.
    fn start_with(
        make: impl std::future::Future<Output = Option<TestDb>>,
        configure: impl FnOnce(AppState) -> AppState,
    ) -> Option<Server> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let db = rt.block_on(make)?;
        let store = db.store.clone();
        let (state, addr) = rt.block_on(async {
            let keys = Keys::load_or_create(&store).await.unwrap();
            let state = Arc::new(configure(AppState::new(store, keys)));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let router = app(state.clone());
            tokio::spawn(async move { axum_serve(listener, router).await });
            (state, addr)
        });
        Some(Server {
            url: format!("http://{addr}"),
            state,
            _db: db,
            rt,
        })
    }

    /// The server on the database `make` creates, photos as files under `blobs`.
    pub fn start_with_blob_dir(
        make: impl std::future::Future<Output = Option<TestDb>>,
        blobs: &std::path::Path,
    ) -> Option<Server> {
        let blobs = gridsync_server::blobs::BlobStore::local(blobs).unwrap();
        Server::start_with(make, move |state| state.with_blobs(blobs))
    }

    /// Stops serving (as a dead server does) and hands back its database, its connections
    /// closed, for a restore.
    pub fn stop(self) -> TestDb {
        let Server { _db: db, rt, .. } = self;
        rt.block_on(db.store.close());
        rt.shutdown_timeout(std::time::Duration::from_secs(5));
        db
    }

    /// Serves `db` again, reopened, photos as files under `blobs`.
    pub fn resume(mut db: TestDb, blobs: &std::path::Path) -> Server {
        let url = db.url.clone();
        let reopen = async move {
            db.store = gridsync_server::store::Store::connect(&url).await.unwrap();
            db.store.migrate().await.unwrap();
            Some(db)
        };
        Server::start_with_blob_dir(reopen, blobs).unwrap()
    }

    /// An account and its phone (`phone-<user>`), signed in.
    pub fn enrol(&self, user: &str, role: Role, scope: &str) -> Phone {
        self.add_user(user, role, scope);
        phone(self, user, role, scope, &format!("phone-{user}"))
    }

    pub fn add_user(&self, id: &str, role: Role, scope: &str) {
        self.add_account(id, role, scope, None);
    }

    pub fn add_department_handler(&self, id: &str, department: &str) {
        self.add_account(id, Role::DepartmentHandler, "130322", Some(department));
    }

    /// An enabled account with the kit's password.
    fn add_account(&self, id: &str, role: Role, scope: &str, department: Option<&str>) {
        let hash = auth::hash_password(PASSWORD).unwrap();
        self.rt
            .block_on(self.state.store.add_user(
                &UserRecord {
                    id: id.into(),
                    display_name: id.into(),
                    role,
                    scope: path(scope),
                    department: department.map(str::to_owned),
                    password_hash: hash,
                    disabled: false,
                },
                0,
            ))
            .unwrap();
    }

    /// A signed-in phone of a department handler (county scope).
    pub fn department_phone(&self, id: &str, department: &str) -> Phone {
        let who = Identity::new(
            id,
            Role::DepartmentHandler,
            path("130322"),
            Some(department.into()),
            format!("dev-{id}"),
        )
        .unwrap();
        signed_in_phone(self, who)
    }

    /// The database the server runs on (for the `gridsync` binary's admin commands).
    pub fn database_url(&self) -> &str {
        &self._db.url
    }

    pub fn store<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }
}

async fn axum_serve(listener: tokio::net::TcpListener, router: gridsync_server::http::Router) {
    let _ = gridsync_server::http::serve_router(listener, router).await;
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A phone: its replica, its access token, and the device secret its sign-in issued.
#[derive(Debug)]
pub struct Phone {
    pub replica: Replica,
    pub token: String,
    pub device: String,
    /// The device secret the login returned (empty when it returned none): it keys the device's
    /// urgent SMS reports.
    pub secret: String,
}

pub fn login(
    server: &Server,
    user: &str,
    device: &str,
    replica: &Replica,
) -> ureq::http::Response<ureq::Body> {
    let key = replica
        .device_key()
        .map(|k| gridsync_core::evidence::key_text(&k));
    let body = serde_json::json!({
        "user": user, "password": PASSWORD, "device": device, "actor": replica.actor_id().to_hex_string(),
        "device_key": key,
    });
    agent()
        .post(format!("{}/v1/auth/login", server.url))
        .send_json(&body)
        .unwrap()
}

pub fn phone(server: &Server, user: &str, role: Role, scope: &str, device: &str) -> Phone {
    signed_in_phone(
        server,
        Identity::new(user, role, path(scope), None, device).unwrap(),
    )
}

/// A fresh replica that signed in over HTTP as `who`.
fn signed_in_phone(server: &Server, who: Identity) -> Phone {
    let mut replica = Replica::open_in_memory(&KEY).unwrap();
    let mut resp = login(server, &who.user, &who.device, &replica);
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.body_mut().read_json().unwrap();
    let device = who.device.clone();
    replica.sign_in(who).unwrap();
    let server_key = body["server_key"]
        .as_str()
        .and_then(gridsync_core::evidence::key_from_text);
    replica.set_server_key(&server_key.unwrap()).unwrap();
    Phone {
        replica,
        token: body["access_token"].as_str().unwrap().to_owned(),
        device,
        secret: body["device_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

pub fn post_sync(server: &Server, token: &str, bytes: &[u8]) -> (u16, Vec<u8>) {
    let mut req = agent()
        .post(format!("{}/v1/sync", server.url))
        .content_type("application/x-gridsync");
    if !token.is_empty() {
        req = req.header("Authorization", &format!("Bearer {token}"));
    }
    let mut resp = req.send(bytes).unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_vec().unwrap(),
    )
}

pub fn error_code(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["code"].as_str().unwrap().to_owned()
}

impl Phone {
    pub fn sync_once(&mut self, server: &Server) -> SyncResponse {
        let req = encode_request(&self.replica.next_sync_request().unwrap()).unwrap();
        let (status, body) = post_sync(server, &self.token, &req);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let resp = decode_response(&body).unwrap();
        self.replica.apply_sync_response(&resp, 0).unwrap();
        resp
    }

    /// Syncs through the core's sync session until quiet.
    pub fn sync(&mut self, server: &Server) {
        let token = self.token.clone();
        let out = gridsync_core::session::sync_cases(&mut self.replica, 0, |req| {
            let (status, body) = post_sync(server, &token, &encode_request(req)?);
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            decode_response(&body)
        })
        .unwrap();
        assert!(!out.more, "{} did not settle", self.device);
    }
}
