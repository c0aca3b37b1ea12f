//! `gridsync rules`: the county's rules (catalogue, departments, patrol checklist, calendar) out
//! to a file and back in, and their history.

use std::path::{Path, PathBuf};

use anyhow::Context;
use gridsync_server::now_ms;
use gridsync_server::store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Writes the rules in force to FILE (TOML, the shipped files' format).
    Export { file: PathBuf },
    /// Takes in FILE: a whole rules file, a catalogue (replaces the catalogue) or a calendar
    /// (replaces the years it lists). Phones receive the new version at their next sync.
    Import {
        file: PathBuf,
        /// Who makes the change, for the history and the audit log.
        #[arg(long, default_value = "gridsync rules import")]
        by: String,
    },
    /// Lists every version: who, when, what.
    History,
}

pub async fn rules(store: &Store, cmd: RulesCommand) -> anyhow::Result<()> {
    store.ensure_rules(now_ms()).await?;
    match cmd {
        RulesCommand::Export { file } => {
            let live = store.rules().await?;
            std::fs::write(&file, live.rules.to_toml())
                .with_context(|| format!("writing {}", file.display()))?;
            println!(
                "规则第 {} 版已导出到 {} (rules version {} exported)",
                live.rules.version(),
                file.display(),
                live.rules.version()
            );
        }
        RulesCommand::Import { file, by } => {
            import(store, &file, &by).await?;
        }
        RulesCommand::History => {
            for c in store.rules_history().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    c.version, c.changed_at, c.changed_by, c.summary
                );
            }
        }
    }
    Ok(())
}

/// Imports `path`; returns the version in force afterwards.
pub async fn import(store: &Store, path: &Path, by: &str) -> anyhow::Result<u64> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let before = store.rules().await?.rules.version();
    let (version, new) = store
        .import_rules(&text, by, now_ms())
        .await
        .with_context(|| {
            format!(
                "{}: refused; the rules in force (version {before}) are unchanged",
                path.display()
            )
        })?;
    if new {
        println!(
            "规则已更新为第 {version} 版 (rules version {version} now in force; phones receive it at their next sync)"
        );
    } else {
        println!(
            "规则未变，仍为第 {version} 版 (the file says what version {version} says; nothing changed)"
        );
    }
    Ok(version)
}
