//! `gridsync serve`: the store, the rules, the blob store, the supervision clock and the
//! upload sweeper, the SMS delivery loop, wired to one router and served until a signal stops it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use gridsync_core::taxonomy::Taxonomy;
use gridsync_server::auth::Keys;
use gridsync_server::blobs::BlobStore;
use gridsync_server::sms::{Delivery, SmsConfig};
use gridsync_server::store::{SmsWriting, Store};
use gridsync_server::supervision::Supervisor;
use gridsync_server::tls::{self, CertFiles, ServingCert, TlsListener};
use gridsync_server::{AppState, app, now_ms};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GRIDSYNC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// A category catalogue to import into the rules at start (as `gridsync rules import`).
    #[arg(long, env = "GRIDSYNC_CATEGORIES")]
    pub categories: Option<PathBuf>,
    /// A working-day calendar to import into the rules at start (holidays and 调休 make-up
    /// days of the years it lists).
    #[arg(long, env = "GRIDSYNC_CALENDAR")]
    pub calendar: Option<PathBuf>,
    /// Seconds between passes of the supervision clock (督办); 0 turns it off (when another
    /// server on the same database runs it, running it here too is harmless).
    #[arg(long, env = "GRIDSYNC_SUPERVISE_EVERY", default_value_t = 60)]
    pub supervise_every: u64,
    /// Where photos and documents are kept: a directory (created if missing) or an
    /// S3-compatible bucket, `s3://BUCKET`, configured by the `AWS_*` variables.
    #[arg(
        long,
        env = "GRIDSYNC_BLOB_STORE",
        alias = "blob-dir",
        default_value = "gridsync-blobs"
    )]
    pub blob_store: String,
    /// Days after which an upload nobody continued is forgotten (the phone starts it again).
    #[arg(long, env = "GRIDSYNC_ABANDON_UPLOADS_AFTER", default_value_t = 7)]
    pub abandon_uploads_after: i64,
    /// MiB of photos and documents each device may upload per hour, after a first 512 MiB
    /// (more answers `429 rate_limited`; the phone sends the rest at its next sync).
    #[arg(long, env = "GRIDSYNC_UPLOAD_MIB_PER_HOUR", default_value_t = gridsync_server::limit::UPLOAD_MIB_PER_HOUR)]
    pub upload_mib_per_hour: u32,
    /// The county's SMS settings (gateway, inbound token, quiet hours, daily cap; a TOML file,
    /// see README.md, "Notices and SMS"). Without it no SMS is written or sent and the inbound route is off.
    #[arg(long, env = "GRIDSYNC_SMS_CONFIG")]
    pub sms_config: Option<PathBuf>,
    /// The server's certificate chain (PEM, the server's own first) for HTTPS, with
    /// `--tls-key`; reread with the key on SIGHUP. Without both the server speaks plain HTTP.
    #[arg(long, env = "GRIDSYNC_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "GRIDSYNC_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// On an empty database, seed a demo county (accounts, a few hundred cases) first.
    #[arg(long)]
    pub demo: bool,
}

impl ServeArgs {
    /// The certificate to serve HTTPS with, read now; `None` for plain HTTP. An unusable file
    /// stops `serve` (and `config check`) with its key and path named.
    pub fn tls(&self) -> anyhow::Result<Option<Arc<ServingCert>>> {
        let files = CertFiles::from_settings(self.tls_cert.clone(), self.tls_key.clone())?;
        Ok(files.map(ServingCert::load).transpose()?)
    }
}

/// Serves until a signal stops it: plain HTTP, or HTTPS with `https` (from [`ServeArgs::tls`]).
pub async fn run(
    store: Store,
    args: ServeArgs,
    https: Option<Arc<ServingCert>>,
) -> anyhow::Result<()> {
    let ServeArgs {
        listen,
        categories,
        calendar,
        supervise_every,
        blob_store,
        abandon_uploads_after,
        upload_mib_per_hour,
        sms_config,
        demo,
        tls_cert: _,
        tls_key: _,
    } = args;
    // Read first: a broken file stops the server before it serves anything.
    let sms = sms_config
        .map(|path| SmsConfig::load(&path, |k| std::env::var(k).ok()))
        .transpose()?;
    let blobs = BlobStore::open(&blob_store)
        .with_context(|| format!("opening the blob store {blob_store}"))?;
    store.ensure_rules(now_ms()).await?;
    // Files given here are imported as `gridsync rules import` would (a no-op when unchanged).
    for path in categories.iter().chain(&calendar) {
        let version = crate::rules::import(&store, path, "gridsync serve").await?;
        tracing::info!(file = %path.display(), version, "rules imported at start");
    }
    let live = store.rules().await?;
    if let Some(w) = live.rules.calendar_warning(now_ms()) {
        tracing::warn!(
            code = gridsync_core::rules::CalendarWarning::CODE,
            year = w.year,
            "the working-day calendar lacks {}: deadlines over it count only weekends as days off; import the State Council's notice with `gridsync rules import FILE`",
            w.year
        );
    }
    if std::env::var(gridsync_server::store::DATA_KEY_ENV).is_err() {
        tracing::warn!(
            code = "data_key_in_database",
            "no {}: the case keys are wrapped under a key kept in the database, so a copy of the database opens personal data not yet erased; give the deployment's key in {} (32 bytes, base64url)",
            gridsync_server::store::DATA_KEY_ENV,
            gridsync_server::store::DATA_KEY_ENV
        );
    }
    if demo {
        seed_demo(&store, live.rules.taxonomy()).await?;
    }
    // One actor per process for the server's own changes: supervision and console
    // actions alike.
    let device = store.server_device(now_ms()).await?;
    if supervise_every > 0 {
        Supervisor::with_device(store.clone(), device.clone())
            .spawn(std::time::Duration::from_secs(supervise_every));
    }
    BlobStore::spawn_sweeper(store.clone(), abandon_uploads_after);
    let inbound_token = sms.as_ref().and_then(|c| c.inbound_token.clone());
    if let Some(config) = sms {
        store.set_sms_writing(Some(SmsWriting {
            track_url: config.delivery.track_url.clone(),
        }));
        Delivery::new(store.clone(), config)?.spawn();
    }
    let keys = Keys::load_or_create(&store).await?;
    let state = Arc::new(
        AppState::new(store, keys)
            .with_blobs(blobs)
            .with_upload_mib_per_hour(upload_mib_per_hour)
            .with_sms_inbound(inbound_token)
            .with_server_device(device),
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    let router = app(state);
    // The client's address reaches handlers that limit by it (the progress page's guesses).
    match https {
        None => {
            // Tests start the server on port 0 and read the real address from this line.
            println!("gridsync listening on http://{addr}");
            tracing::info!(%addr, "serving");
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown())
            .await?
        }
        Some(cert) => {
            let config = cert.server_config()?;
            // Before the address is printed: a SIGHUP from then on reloads, never kills.
            reload_on_hangup(cert)?;
            println!("gridsync listening on https://{addr}");
            tracing::info!(%addr, "serving HTTPS");
            // axum hands the client's address to listeners it wraps; `tap_io` is its wrapper.
            let listener = TlsListener::new(listener, config)?.tap_io(|_| {});
            let router = router.layer(axum::middleware::map_response(tls::https_only));
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown())
            .await?
        }
    }
    tracing::info!("stopped");
    Ok(())
}

#[cfg(feature = "demo")]
async fn seed_demo(store: &Store, taxonomy: &Taxonomy) -> anyhow::Result<()> {
    println!("正在生成演示数据 (seeding the demo county through the sync path)…");
    let Some(summary) = gridsync_server::demo::seed(store, taxonomy, now_ms()).await? else {
        println!("演示数据已存在 (the database already has accounts; nothing seeded)");
        return Ok(());
    };
    println!(
        "演示县: {} 个案件, {} 条变更, {} 处编辑冲突 ({} cases, {} changes, {} conflicts)",
        summary.cases,
        summary.changes,
        summary.conflicts,
        summary.cases,
        summary.changes,
        summary.conflicts
    );
    println!("群众诉求回执 (try them on /track):");
    for (title, number, code) in &summary.receipts {
        println!("  回执号 {number}  查询码 {code}  {title}");
    }
    println!("账号 (passwords are shown once; keep them):");
    println!(
        "{:<18} {:<20} {:<14} scope / name",
        "user", "role", "password"
    );
    for a in &summary.accounts {
        println!(
            "{:<18} {:<20} {:<14} {}  {}",
            a.user,
            a.role.as_str(),
            a.password,
            a.scope,
            a.name
        );
    }
    Ok(())
}

#[cfg(not(feature = "demo"))]
async fn seed_demo(_: &Store, _: &Taxonomy) -> anyhow::Result<()> {
    anyhow::bail!("this build has no demo county: build it with the default features to use --demo")
}

/// SIGHUP rereads the certificate and key (renewed by certbot or the county's CA); files that
/// cannot be used leave the certificate in use as it was.
fn reload_on_hangup(cert: Arc<ServingCert>) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match cert.reload() {
                    Ok(()) => tracing::info!("TLS certificate reloaded"),
                    Err(e) => tracing::error!(
                        code = "tls_reload_failed",
                        error = %e,
                        "the TLS certificate was not reloaded: the one in use stays"
                    ),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = cert;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
