//! `gridsync channel`: the intake channels other platforms send work orders through
//! (`POST /v1/intake`). A channel's key is printed once when it is added; only its hash is kept.
//! Each change is audited.

use anyhow::bail;
use clap::Subcommand;
use gridsync_core::Source;
use gridsync_server::now_ms;
use gridsync_server::store::{Store, new_channel_id};

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Adds a channel and prints its API key once (keep it: it cannot be shown again).
    Add {
        /// What people call it, e.g. "12345 热线".
        #[arg(long)]
        name: String,
        /// The source its cases carry: hotline_12345, wechat, qr_code, walk_in, letter,
        /// police_110, leader or other.
        #[arg(long)]
        source: String,
        /// The channel's id (a-z, 0-9, - and _); generated from the source when not given.
        #[arg(long)]
        id: Option<String>,
    },
    /// Lists channels: id, name, source, created, revoked (never the key).
    List,
    /// Revokes a channel: its key is refused from now on.
    Revoke { id: String },
}

/// Runs a channel command.
pub async fn channel(store: &Store, cmd: ChannelCommand) -> anyhow::Result<()> {
    match cmd {
        ChannelCommand::Add { name, source, id } => {
            let Some(source) = Source::parse(&source).filter(|s| s.is_residents()) else {
                let known: Vec<&str> = Source::ALL
                    .into_iter()
                    .filter(|s| s.is_residents())
                    .map(Source::as_str)
                    .collect();
                bail!(
                    "未知来源 (unknown source) {source:?}: use {}",
                    known.join(", ")
                );
            };
            if name.trim().is_empty() {
                bail!("--name is required");
            }
            let id = id.unwrap_or_else(|| new_channel_id(source));
            let now = now_ms();
            let key = store.add_channel(&id, name.trim(), source, now).await?;
            store
                .audit(
                    "cli",
                    "channel_added",
                    &id,
                    &format!("source={source} name={}", name.trim()),
                    now,
                )
                .await?;
            println!("added channel {id} ({}, {})", name.trim(), source.name_zh());
            println!("API key (shown once, send as `Authorization: Bearer …`): {key}");
        }
        ChannelCommand::List => {
            let channels = store.channels().await?;
            if channels.is_empty() {
                eprintln!(
                    "还没有接入渠道 (no channels yet): gridsync channel add --name … --source …"
                );
            }
            for c in channels {
                let revoked = c
                    .revoked_at
                    .map(|t| format!("revoked {t}"))
                    .unwrap_or_else(|| "active".into());
                println!(
                    "{}\t{}\t{}\tcreated {}\t{revoked}",
                    c.id, c.name, c.source, c.created_at
                );
            }
        }
        ChannelCommand::Revoke { id } => {
            let now = now_ms();
            if !store.revoke_channel(&id, now).await? {
                bail!("no channel {id:?}");
            }
            store.audit("cli", "channel_revoked", &id, "", now).await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}
