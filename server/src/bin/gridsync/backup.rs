//! `gridsync backup` and `gridsync restore` (ADR 0032): the library does the work
//! (`gridsync_server::backup`); this says what it did.

use std::path::PathBuf;

use anyhow::Context;
use gridsync_server::backup::{self, BackupSummary};
use gridsync_server::blobs::BlobStore;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the backup (never overwritten). SQLite: a consistent copy of the database
    /// taken while it serves; PostgreSQL: a `pg_dump` custom-format archive.
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The file `gridsync backup` wrote.
    pub file: PathBuf,
    /// Only check that the file can be restored and say what it holds; change nothing.
    #[arg(long)]
    pub check: bool,
}

pub async fn backup(url: &str, args: BackupArgs) -> anyhow::Result<()> {
    let summary = backup::backup(url, &args.to)
        .await
        .with_context(|| format!("backing up to {}", args.to.display()))?;
    println!(
        "backup written: {} ({})",
        args.to.display(),
        describe(&summary)
    );
    Ok(())
}

/// `blob_store`: where `serve` keeps photos (its setting, from flag, environment or file).
pub async fn restore(url: &str, blob_store: &str, args: RestoreArgs) -> anyhow::Result<()> {
    if args.check {
        let summary = backup::check(url, &args.file)
            .await
            .with_context(|| format!("checking {}", args.file.display()))?;
        println!(
            "{} can be restored ({})",
            args.file.display(),
            describe(&summary)
        );
        return Ok(());
    }
    let blobs = BlobStore::open(blob_store)
        .with_context(|| format!("opening the blob store {blob_store}"))?;
    let done = backup::restore(url, &args.file, &blobs)
        .await
        .with_context(|| format!("restoring {}", args.file.display()))?;
    println!(
        "restored {} ({})",
        args.file.display(),
        describe(&done.backup)
    );
    if let Some(aside) = &done.kept_aside {
        println!("the database it replaced is kept as {}", aside.display());
    }
    println!(
        "new store generation {} from feed position {}: each phone gives back what the backup missed at its next sync",
        done.generation.id, done.generation.base
    );
    if done.blobs_forgotten > 0 {
        println!(
            "{} photos were missing from the blob store: their phones upload them again",
            done.blobs_forgotten
        );
    }
    Ok(())
}

fn describe(s: &BackupSummary) -> String {
    let mut parts = vec![format!("{} bytes", s.bytes)];
    if let Some(schema) = s.schema {
        parts.push(format!("schema {schema}"));
    }
    if let Some(feed) = s.feed {
        parts.push(format!("{feed} changes"));
    }
    if let Some(cases) = s.cases {
        parts.push(format!("{cases} cases"));
    }
    if let Some(tables) = s.tables {
        parts.push(format!("{tables} tables"));
    }
    parts.join(", ")
}
