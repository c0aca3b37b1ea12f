//! `gridsync`: the server binary. Wiring only: configuration, store, migrations, serve.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use gridsync_core::calendar::Calendar;
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::{JurisdictionPath, Role};
use gridsync_server::auth::{self, Keys};
use gridsync_server::org::{self, OrgSummary};
use gridsync_server::store::{Store, UserRecord};
use gridsync_server::supervision::Supervisor;
use gridsync_server::{AppState, app, now_ms};

#[derive(Debug, Parser)]
#[command(
    name = "gridsync",
    version,
    about = "gridsync: offline case capture for grid workers, merged into the township's case store"
)]
struct Cli {
    /// Database: `sqlite://path` (the default, ./gridsync.db) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://gridsync.db",
        global = true
    )]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs migrations and serves the HTTP API.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "GRIDSYNC_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// A category catalogue replacing the shipped one.
        #[arg(long, env = "GRIDSYNC_CATEGORIES")]
        categories: Option<PathBuf>,
        /// A working-day calendar replacing the shipped one (holidays and 调休 make-up days).
        #[arg(long, env = "GRIDSYNC_CALENDAR")]
        calendar: Option<PathBuf>,
        /// Seconds between passes of the supervision clock (督办); 0 turns it off (when another
        /// server on the same database runs it, running it here too is harmless).
        #[arg(long, env = "GRIDSYNC_SUPERVISE_EVERY", default_value_t = 60)]
        supervise_every: u64,
        /// Where photos and documents are kept: a directory (created if missing) or an
        /// S3-compatible bucket, `s3://BUCKET`, configured by the `AWS_*` variables.
        #[arg(
            long,
            env = "GRIDSYNC_BLOB_STORE",
            alias = "blob-dir",
            default_value = "gridsync-blobs"
        )]
        blob_store: String,
        /// Days after which an upload nobody continued is forgotten (the phone starts it again).
        #[arg(long, env = "GRIDSYNC_ABANDON_UPLOADS_AFTER", default_value_t = 7)]
        abandon_uploads_after: i64,
        /// MiB of photos and documents each device may upload per hour, after a first 512 MiB
        /// (more answers `429 rate_limited`; the phone sends the rest at its next sync).
        #[arg(long, env = "GRIDSYNC_UPLOAD_MIB_PER_HOUR", default_value_t = gridsync_server::limit::UPLOAD_MIB_PER_HOUR)]
        upload_mib_per_hour: u32,
        /// On an empty database, seed a demo county (accounts, a few hundred cases) first.
        #[arg(long)]
        demo: bool,
    },
    /// Brings the database schema up to date.
    Migrate,
    /// User accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Phones and other devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// The jurisdiction tree: county, townships, villages, grids.
    #[command(subcommand)]
    Org(OrgCommand),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Adds an account; the password comes from GRIDSYNC_PASSWORD or is generated and printed once.
    Add {
        id: String,
        /// grid_worker, mediator, township_staff, county_admin or department_handler.
        #[arg(long)]
        role: String,
        /// Jurisdiction path, e.g. 130322/101/201/01 for a grid.
        #[arg(long)]
        scope: String,
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
    /// Changes an account: moves it to another grid or role, resets its password (from
    /// GRIDSYNC_PASSWORD, or generated and printed once), disables or re-enables it.
    Update {
        id: String,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        scope: Option<String>,
        /// A department code; `-` clears it.
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        reset_password: bool,
        /// Refuses the account's requests from now on (a departed worker).
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Lists accounts.
    List,
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Lists devices with their last sync.
    List,
    /// Revokes a lost phone: its next request is refused.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Imports the tree from a CSV (one row per grid); all rows or none. See --help for the format.
    #[command(long_about = org::FORMAT_HELP)]
    Import {
        /// The CSV file (UTF-8; columns county_code,county_name,…,grid_code,grid_name).
        csv: PathBuf,
    },
    /// Lists the tree: path, level and name, sorted by path.
    List,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let store = Store::connect(&cli.database_url)
        .await
        .with_context(|| format!("opening the database {}", redact(&cli.database_url)))?;
    store.migrate().await.context("migrating the database")?;
    match cli.command {
        Command::Migrate => println!("schema is up to date"),
        Command::Serve {
            listen,
            categories,
            calendar,
            supervise_every,
            blob_store,
            abandon_uploads_after,
            upload_mib_per_hour,
            demo,
        } => {
            let blobs = gridsync_server::blobs::BlobStore::open(&blob_store)
                .with_context(|| format!("opening the blob store {blob_store}"))?;
            let taxonomy = match categories {
                Some(path) => Taxonomy::load(&path)?,
                None => Taxonomy::builtin().clone(),
            };
            let calendar = match calendar {
                Some(path) => Calendar::load(&path)?,
                None => Calendar::builtin().clone(),
            };
            if !calendar.covers(now_ms()) {
                tracing::warn!(
                    "the calendar does not list this year's holidays: deadlines the server computes fall back to Monday to Friday; pass --calendar, and ship the same calendar in the apps"
                );
            }
            if demo {
                seed_demo(&store, &taxonomy).await?;
            }
            // One actor per process for the server's own changes: supervision and console
            // actions alike.
            let device = store.server_device(now_ms()).await?;
            if supervise_every > 0 {
                Supervisor::with_device(
                    store.clone(),
                    device.clone(),
                    Arc::new(taxonomy.clone()),
                    Arc::new(calendar.clone()),
                )
                .spawn(std::time::Duration::from_secs(supervise_every));
            }
            spawn_upload_sweeper(store.clone(), abandon_uploads_after);
            let keys = Keys::load_or_create(&store).await?;
            let state = Arc::new(
                AppState::new(store, keys, taxonomy)
                    .with_calendar(calendar)
                    .with_blobs(blobs)
                    .with_upload_mib_per_hour(upload_mib_per_hour)
                    .with_server_device(device),
            );
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            // Tests start the server on port 0 and read the real address from this line.
            println!("gridsync listening on http://{}", listener.local_addr()?);
            tracing::info!(addr = %listener.local_addr()?, "serving");
            axum::serve(listener, app(state))
                .with_graceful_shutdown(shutdown())
                .await?;
            tracing::info!("stopped");
        }
        Command::User(UserCommand::Add {
            id,
            role,
            scope,
            department,
            name,
        }) => {
            let role = person_role(&role)?;
            let scope = JurisdictionPath::parse(&scope)?;
            gridsync_core::Identity::new(&id, role, scope.clone(), department.clone(), "cli")?;
            let (password, generated) = new_password();
            let hash =
                auth::hash_password(&password).map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
            store
                .add_user(
                    &UserRecord {
                        display_name: name.unwrap_or_else(|| id.clone()),
                        id: id.clone(),
                        role,
                        scope,
                        department,
                        password_hash: hash,
                        disabled: false,
                    },
                    now_ms(),
                )
                .await?;
            if generated {
                println!("added {id}; password (shown once): {password}");
            } else {
                println!("added {id}");
            }
        }
        Command::User(UserCommand::Update {
            id,
            role,
            scope,
            department,
            name,
            reset_password,
            disable,
            enable,
        }) => {
            let Some(mut user) = store.user(&id).await? else {
                bail!("no user {id:?}");
            };
            if let Some(role) = role {
                user.role = person_role(&role)?;
            }
            if let Some(scope) = scope {
                user.scope = JurisdictionPath::parse(&scope)?;
            }
            if let Some(dept) = department {
                user.department = (dept != "-").then_some(dept);
            }
            if let Some(name) = name {
                user.display_name = name;
            }
            user.disabled = (user.disabled || disable) && !enable;
            // The same checks as for a new account: the scope must fit the role.
            gridsync_core::Identity::new(
                &id,
                user.role,
                user.scope.clone(),
                user.department.clone(),
                "cli",
            )?;
            let mut shown = None;
            if reset_password {
                let (password, generated) = new_password();
                user.password_hash =
                    auth::hash_password(&password).map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
                shown = generated.then_some(password);
            }
            store.update_user(&user).await?;
            let what = format!(
                "role={} scope={} disabled={}",
                user.role, user.scope, user.disabled
            );
            store
                .audit("cli", "user_updated", &id, &what, now_ms())
                .await?;
            match shown {
                Some(p) => println!("updated {id} ({what}); password (shown once): {p}"),
                None => println!("updated {id} ({what})"),
            }
        }
        Command::User(UserCommand::List) => {
            for u in store.users().await? {
                let dept = u.department.as_deref().unwrap_or("-");
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    u.id,
                    u.display_name,
                    u.role,
                    u.scope,
                    dept,
                    if u.disabled { "disabled" } else { "active" }
                );
            }
        }
        Command::Device(DeviceCommand::List) => {
            for d in store.devices().await? {
                let last = d
                    .last_sync_at
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{}\t{}\tlast sync {}\t{}",
                    d.id,
                    if d.revoked { "revoked" } else { "active" },
                    last,
                    d.users.join(",")
                );
            }
        }
        Command::Device(DeviceCommand::Revoke { id }) => {
            if !store.revoke_device(&id).await? {
                bail!("no device {id:?}");
            }
            store
                .audit("cli", "device_revoked", &id, "", now_ms())
                .await?;
            println!("revoked {id}");
        }
        Command::Org(OrgCommand::Import { csv }) => {
            let file =
                std::fs::File::open(&csv).with_context(|| format!("opening {}", csv.display()))?;
            let units = org::parse_org_csv_with_progress(std::io::BufReader::new(file), |rows| {
                eprintln!("已读取 {rows} 行 ({rows} rows read)…");
            })
            .with_context(|| format!("{}: nothing imported", csv.display()))?;
            store.import_org_units(&units).await?;
            let summary = OrgSummary::of(&units);
            store
                .audit(
                    "cli",
                    "org_imported",
                    &csv.display().to_string(),
                    &summary.en(),
                    now_ms(),
                )
                .await?;
            println!("{}", summary.zh());
            println!("{}", summary.en());
        }
        Command::Org(OrgCommand::List) => {
            let units = store.org_units().await?;
            if units.is_empty() {
                eprintln!("还没有组织架构 (no org units yet): gridsync org import <csv>");
            }
            for (path, name) in units {
                println!("{path}\t{}\t{name}", path.level());
            }
        }
    }
    Ok(())
}

/// A role a person may hold (`system` is the server's own actor, never a person).
fn person_role(role: &str) -> anyhow::Result<Role> {
    match Role::parse(role).filter(|r| *r != Role::System) {
        Some(r) => Ok(r),
        None => bail!(
            "unknown role {role:?}: use grid_worker, mediator, township_staff, county_admin or department_handler"
        ),
    }
}

/// The password from GRIDSYNC_PASSWORD, or a generated one (and whether it was generated).
fn new_password() -> (String, bool) {
    match std::env::var("GRIDSYNC_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (auth::new_refresh_token().0[..16].to_owned(), true),
    }
}

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

/// A database URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
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

/// Hourly, forgets the parts of uploads nobody continued for `days`.
fn spawn_upload_sweeper(store: gridsync_server::store::Store, days: i64) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match gridsync_server::blobs::BlobStore::drop_abandoned(&store, now_ms(), days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(parts = n, "forgot abandoned uploads"),
                Err(e) => tracing::warn!(error = %e, "sweeping abandoned uploads failed"),
            }
        }
    });
}
