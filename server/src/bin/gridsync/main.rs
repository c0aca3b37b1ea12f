//! `gridsync`: the server binary. Wiring only: configuration, store, migrations, then the
//! command — serving ([`serve`]) or an administrator's change ([`admin`]).

mod admin;
mod audit;
mod backup;
mod channel;
mod config;
mod erase;
mod rules;
mod serve;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use gridsync_server::store::Store;

// jemalloc, not glibc malloc (ADR 0021): one 19 MiB Argon2 block freed raised glibc's mmap
// threshold, after which its heaps kept ~0.5 GB of a demo seeding whose live heap peaked at 32 MB.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// The configuration file (every `serve` setting; flags and environment variables win
    /// over it). Default: ./gridsync.toml when it exists.
    #[arg(long, env = "GRIDSYNC_CONFIG", global = true)]
    config: Option<std::path::PathBuf>,
    /// Logs on standard error as text for people, or as one JSON object a line for a log
    /// collector.
    #[arg(
        long,
        env = "GRIDSYNC_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs migrations and serves the HTTP API.
    Serve(serve::ServeArgs),
    /// Brings the database schema up to date.
    Migrate,
    /// User accounts.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Phones and other devices.
    #[command(subcommand)]
    Device(admin::DeviceCommand),
    /// The jurisdiction tree: county, townships, villages, grids.
    #[command(subcommand)]
    Org(admin::OrgCommand),
    /// The county's rules: categories, departments, time limits, patrol checklist, calendar.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Intake channels: other platforms (12345 hotline, mini-program, QR code) and their API keys.
    #[command(subcommand)]
    Channel(channel::ChannelCommand),
    /// The evidence: the receipt chain verified, its head for filing.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// One case: its verifiable export.
    #[command(subcommand)]
    Case(audit::CaseCommand),
    /// Erases a case's (or a person's) personal data by destroying its keys (PIPL; ADR 0029).
    Erase(erase::EraseArgs),
    /// The configuration in effect.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Writes a consistent backup of the database while it serves (ADR 0032).
    Backup(backup::BackupArgs),
    /// Restores a backup, with every server on the database stopped; phones give back what it
    /// missed at their next sync (ADR 0032).
    Restore(backup::RestoreArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Prints the settings `serve` would run with and where each came from (flag,
    /// environment, file, default), secrets hidden; a bad file or an unusable TLS certificate
    /// is refused as `serve` would.
    Check,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // A broken configuration file stops every command before anything is opened.
    let loaded = config::load(cli.config.as_deref())?;
    let log_source = config::log_format(&matches, &mut cli.log_format, &loaded.file);
    // Logs go to standard error, coloured only on a terminal; standard output carries what
    // people and scripts read (the listening address, the demo's accounts, command results).
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().with_current_span(false).init(),
    }
    let url_source = config::database_url(&matches, &mut cli.database_url, &loaded.file);
    if let Command::Config(ConfigCommand::Check) = &cli.command {
        // `serve`'s settings as it would take them: its environment and defaults, then the file.
        let as_serve = Cli::command().try_get_matches_from(["gridsync", "serve"])?;
        let sub = as_serve
            .subcommand_matches("serve")
            .context("serve's settings")?;
        let mut args = serve::ServeArgs::from_arg_matches(sub)?;
        let mut settings = config::serve_args(sub, &mut args, &loaded.file);
        // A certificate `serve` could not use is refused here too.
        args.tls()?;
        settings.push(config::Setting::log_format(cli.log_format, log_source));
        config::print(&loaded, &cli.database_url, url_source, &settings);
        return Ok(());
    }
    let mut command = match cli.command {
        Command::Backup(args) => return backup::backup(&cli.database_url, args).await,
        Command::Restore(args) => {
            // Photos are where `serve` keeps them: its setting from flag, environment or file.
            let as_serve = Cli::command().try_get_matches_from(["gridsync", "serve"])?;
            let sub = as_serve
                .subcommand_matches("serve")
                .context("serve's settings")?;
            let mut serve_args = serve::ServeArgs::from_arg_matches(sub)?;
            config::serve_args(sub, &mut serve_args, &loaded.file);
            return backup::restore(&cli.database_url, &serve_args.blob_store, args).await;
        }
        other => other,
    };
    // `serve` takes the file's values, and reads its certificate, before the database is opened.
    let https = match &mut command {
        Command::Serve(args) => {
            if let Some(sub) = matches.subcommand_matches("serve") {
                config::serve_args(sub, args, &loaded.file);
            }
            args.tls()?
        }
        _ => None,
    };
    let store = Store::connect(&cli.database_url)
        .await
        .with_context(|| format!("opening the database {}", redact(&cli.database_url)))?;
    store.migrate().await.context("migrating the database")?;
    match command {
        Command::Migrate => println!("schema is up to date"),
        Command::Serve(args) => serve::run(store, args, https).await?,
        Command::User(cmd) => admin::user(&store, cmd).await?,
        Command::Device(cmd) => admin::device(&store, cmd).await?,
        Command::Org(cmd) => admin::org(&store, cmd).await?,
        Command::Rules(cmd) => rules::rules(&store, cmd).await?,
        Command::Channel(cmd) => channel::channel(&store, cmd).await?,
        Command::Audit(cmd) => audit::audit(&store, cmd).await?,
        Command::Case(cmd) => audit::case(&store, cmd).await?,
        Command::Erase(args) => erase::erase(&store, args).await?,
        Command::Config(_) | Command::Backup(_) | Command::Restore(_) => {}
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
