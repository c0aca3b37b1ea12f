//! The same documents through another Automerge sync server, for comparison: the JavaScript
//! automerge-repo sync server, or a minimal one on the Rust crate samod (`crate::samod`).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, anyhow, bail};
use gridsync_testkit::process::{cpu_seconds_of, peak_rss_mb_of};

use crate::peer_run::{PeerReport, Run, count, phone_documents, report, run};
use crate::samod::{SamodOptions, samod_peer};
use crate::stored::wait_until_stored;
use crate::workload::*;

/// Which sync server gets the documents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PeerKind {
    /// @automerge/automerge-repo-sync-server, driven by a Node client.
    #[default]
    Js,
    /// A minimal sync server on the Rust crate samod, driven by samod phones.
    Samod,
}

/// The same documents through another sync server.
#[derive(Debug, Clone, clap::Args)]
pub struct PeerOptions {
    #[command(flatten)]
    pub phones: Phones,
    /// The sync server measured.
    #[arg(long, value_enum, default_value_t = PeerKind::Js)]
    pub peer: PeerKind,
    #[command(flatten)]
    pub samod: SamodOptions,
    /// Scratch directory for the npm packages and the samod build (made on first use, never
    /// committed).
    #[arg(long, default_value = "target/peer-bench")]
    pub scratch: PathBuf,
}

/// The sync server's version measured (its automerge-repo is 1.x; the client uses the same).
const PEER_PACKAGE: &str = "@automerge/automerge-repo-sync-server@0.2.8";

/// Installs the sync server (and with it automerge-repo 1.x) into the scratch directory.
fn install_peer(scratch: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(scratch)?;
    std::fs::write(
        scratch.join("client.mjs"),
        include_str!("../peer/client.mjs"),
    )?;
    if scratch
        .join("node_modules/@automerge/automerge-repo-sync-server/src/index.js")
        .exists()
    {
        return Ok(());
    }
    eprintln!(
        "installing {PEER_PACKAGE} into {} with npm",
        scratch.display()
    );
    std::fs::write(
        scratch.join("package.json"),
        r#"{"name":"gridsync-peer-bench","private":true,"type":"module"}"#,
    )?;
    run(Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            PEER_PACKAGE,
        ])
        .current_dir(scratch))?;
    Ok(())
}

/// The same workload through another sync server: the JS one or samod (`opts.peer`).
pub fn peer(opts: &PeerOptions) -> anyhow::Result<PeerReport> {
    match opts.peer {
        PeerKind::Js => js_peer(opts),
        PeerKind::Samod => samod_peer(&opts.phones, &opts.samod, &opts.scratch),
    }
}

/// The same workload through `@automerge/automerge-repo-sync-server`, driven by a Node client.
fn js_peer(opts: &PeerOptions) -> anyhow::Result<PeerReport> {
    use base64::Engine as _;
    let scratch = std::path::absolute(&opts.scratch)?;
    install_peer(&scratch)?;
    let docs = phone_documents(&opts.phones)?;
    let docs_file = scratch.join("docs.json");
    let encoded: Vec<Vec<String>> = docs
        .iter()
        .map(|phone| {
            phone
                .iter()
                .map(|d| base64::engine::general_purpose::STANDARD.encode(d))
                .collect()
        })
        .collect();
    std::fs::write(&docs_file, serde_json::to_vec(&encoded)?)?;
    let manifest = scratch.join("manifest.txt");
    let data = scratch.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let mut server = Command::new("node")
        .arg("node_modules/@automerge/automerge-repo-sync-server/src/index.js")
        .current_dir(&scratch)
        .env("PORT", port.to_string())
        .env("DATA_DIR", &data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting node (Node.js 18 or newer is needed)")?;
    let stdout = server.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    if !line.contains("Listening on port") {
        let _ = server.kill();
        bail!("the sync server did not start: {line:?}");
    }
    let cpu_before = cpu_seconds_of(server.id());
    let result = run(Command::new("node")
        .arg("client.mjs")
        .arg(format!("ws://127.0.0.1:{port}"))
        .arg(&docs_file)
        .arg(opts.phones.concurrency.to_string())
        .arg(&manifest)
        .current_dir(&scratch));
    // The client's "done" is the server's sync state (its remote heads), which the server
    // writes to its storage a little later: wait for the storage, and count that time too.
    let waited = match &result {
        Ok(_) => Some(wait_until_stored(&data, &manifest, &docs, STORAGE_PATIENCE)),
        Err(_) => None,
    };
    let rss = peak_rss_mb_of(server.id());
    let cpu = cpu_seconds_of(server.id()) - cpu_before;
    let _ = server.kill();
    let _ = server.wait();
    let out = result?;
    let (stored, flush) = waited.ok_or_else(|| anyhow!("no storage check"))??;
    let last = out.lines().last().unwrap_or_default();
    let parsed: serde_json::Value =
        serde_json::from_str(last).with_context(|| format!("the client printed {last:?}"))?;
    let seconds = parsed["seconds"]
        .as_f64()
        .ok_or_else(|| anyhow!("no seconds in {last}"))?;
    Ok(report(
        opts.phones.devices,
        PEER_PACKAGE.into(),
        "",
        Run {
            stored,
            documents: count(&docs),
            seconds: seconds + flush,
            flush_seconds: flush,
            server_rss_mb: rss,
            server_cpu_s: cpu,
            timed_out: false,
        },
    ))
}

/// How long the JS server may go without storing one more document before the count stops.
const STORAGE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);
