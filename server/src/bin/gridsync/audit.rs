//! `gridsync audit` and `gridsync case`: the evidence an administrator checks, files and hands
//! over (ADR 0028) — the receipt chain verified, its head printed, a case's verifiable export.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use gridsync_core::evidence;
use gridsync_server::now_ms;
use gridsync_server::reads;
use gridsync_server::store::{CaseRead, Store};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walks the receipt chain and checks every stored change and signature; exits 1 naming
    /// what does not hold.
    Verify,
    /// Prints the receipt chain's head (number, hash, time) for the county to print or file
    /// with another office; a later `audit verify` must pass through it.
    Head {
        /// Also write it to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Writes a case's verifiable export: its changes, their signatures, the keys and the
    /// receipt entries, signed by the server. Check it offline with `gridsync-verify FILE`.
    Export {
        /// The case id.
        id: String,
        /// The file to write (default: `<id>.gridsync-case`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub async fn audit(store: &Store, cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::Verify => {
            eprintln!("正在校验回执链与签名 (verifying the receipt chain and signatures)…");
            let report = store.audit_verify().await?;
            let reads = store.verify_read_audit().await?;
            println!(
                "回执 {} 条，修改 {} 条（已验签 {}），回执链之前的修改 {} 条",
                report.receipts, report.changes, report.signed, report.before_chain
            );
            println!(
                "receipts {}, changes {} ({} signatures verified), changes before the chain {}",
                report.receipts, report.changes, report.signed, report.before_chain
            );
            if let Some(head) = &report.head {
                println!("head {} {}", head.seq, evidence::hex(&head.hash));
            }
            println!(
                "查阅审计 {} 条 (read audit entries {})",
                reads.entries, reads.entries
            );
            if let Some((seq, hash)) = &reads.head {
                println!("read audit head {seq} {}", evidence::hex(hash));
            }
            let faults: Vec<String> = report
                .faults
                .iter()
                .cloned()
                .chain(reads.fault.map(|f| format!("read audit {f}")))
                .collect();
            if !faults.is_empty() {
                for f in &faults {
                    println!("FAULT {f}");
                }
                bail!(
                    "校验未通过 (the evidence does not hold): {} fault(s)",
                    faults.len()
                );
            }
            println!("校验通过 (all holds)");
        }
        AuditCommand::Head { out } => {
            let Some(head) = store.receipt_head().await? else {
                bail!("the receipt log is empty");
            };
            let key = store.change_key().await?;
            let mut text = format!(
                "gridsync 回执链链头 (receipt chain head)\n序号 seq: {}\n哈希 hash: {}\n时间 at: {} ms\n服务器密钥 server key: {}\n",
                head.seq,
                evidence::hex(&head.hash),
                head.at,
                evidence::fingerprint(&key.public())
            );
            if let Some((seq, hash)) = store.read_audit_head().await? {
                text.push_str(&format!(
                    "查阅审计链头 (read audit head): {seq} {}\n",
                    evidence::hex(&hash)
                ));
            }
            print!("{text}");
            if let Some(out) = out {
                std::fs::write(&out, &text)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
        }
    }
    Ok(())
}

pub async fn case(store: &Store, cmd: CaseCommand) -> anyhow::Result<()> {
    match cmd {
        CaseCommand::Export { id, out } => {
            let Some(bytes) = store.case_export(&id, "cli", now_ms()).await? else {
                bail!("no case {id:?}");
            };
            store
                .record_reads(
                    &[CaseRead {
                        user: "cli",
                        case: &id,
                        route: reads::CLI_EXPORT,
                        addr: "-",
                    }],
                    now_ms(),
                )
                .await?;
            let out = out.unwrap_or_else(|| PathBuf::from(format!("{id}.gridsync-case")));
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            store
                .audit("cli", "case_exported", &id, "", now_ms())
                .await?;
            println!("{} ({} bytes)", out.display(), bytes.len());
        }
    }
    Ok(())
}
