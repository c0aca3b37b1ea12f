//! The same documents through another Automerge sync server, for comparison: the JavaScript
//! automerge-repo sync server, or a minimal one on the Rust crate samod (`crate::samod`).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, anyhow, bail};
use gridsync_core::replica::CaseFilter;
use gridsync_testkit::process::{cpu_seconds_of, peak_rss_mb_of};
use serde::Serialize;

use crate::samod::{SamodOptions, samod_peer, stored_at_heads};
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

/// The peer's figures. A document (one case) counts as stored only when, after the run, the
/// server's storage directory holds it at the phone's heads.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeerReport {
    pub mode: &'static str,
    /// The sync server, name and version.
    pub peer: String,
    /// samod's server variant (`one-repo`, `repo-per-connection`); empty for the JS server.
    pub variant: &'static str,
    pub devices: usize,
    /// Cases, one Automerge document each.
    pub reports: usize,
    pub documents: usize,
    /// Documents found in the server's storage at the phone's heads after the run.
    pub stored: usize,
    /// From the first phone's connection to the last document acknowledged (samod: and the
    /// server's storage flushed).
    pub seconds: f64,
    /// Cases stored per second.
    pub peer_reports_per_s: f64,
    /// Documents stored per second (the same as `peer_reports_per_s`: one document a case).
    pub documents_per_s: f64,
    pub server_rss_mb: f64,
    /// The sync server's CPU time (user + system) over the timed phase, per document, ms.
    pub server_cpu_ms_per_report: f64,
    /// The run hit `--peer-time-limit-s` and stopped; `stored` is how far it got.
    pub timed_out: bool,
}

/// The sync server's version measured (its automerge-repo is 1.x; the client uses the same).
const PEER_PACKAGE: &str = "@automerge/automerge-repo-sync-server@0.2.8";

pub(crate) fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .chars()
                .take(2000)
                .collect::<String>()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

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

/// The phones' offline documents: per phone, each case's Automerge save.
pub(crate) fn export_documents(devices: &[Device]) -> anyhow::Result<Vec<Vec<Vec<u8>>>> {
    devices
        .iter()
        .map(|d| {
            d.replica
                .list(&CaseFilter::default())?
                .iter()
                .map(|s| Ok(d.replica.case(&s.id)?.save()))
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .collect()
}

/// How many documents all phones hold.
pub(crate) fn count(docs: &[Vec<Vec<u8>>]) -> usize {
    docs.iter().map(Vec::len).sum()
}

/// The phones, their offline captures, and those captures' saves.
pub(crate) fn phone_documents(phones: &Phones) -> anyhow::Result<Vec<Vec<Vec<u8>>>> {
    let w = Workload::on_sqlite(phones.clone());
    let rt = runtime()?;
    let db = rt.block_on(bench_db(&w))?;
    let devices = rt.block_on(async {
        let store = db.store.clone();
        prepare(&w, &store).await
    })?;
    export_documents(&devices)
}

/// The same workload through another sync server: the JS one or samod (`opts.peer`).
pub fn peer(opts: &PeerOptions) -> anyhow::Result<PeerReport> {
    match opts.peer {
        PeerKind::Js => js_peer(opts),
        PeerKind::Samod => samod_peer(opts),
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
    let rss = peak_rss_mb_of(server.id());
    let cpu = cpu_seconds_of(server.id()) - cpu_before;
    let _ = server.kill();
    let _ = server.wait();
    let out = result?;
    let last = out.lines().last().unwrap_or_default();
    let parsed: serde_json::Value =
        serde_json::from_str(last).with_context(|| format!("the client printed {last:?}"))?;
    let seconds = parsed["seconds"]
        .as_f64()
        .ok_or_else(|| anyhow!("no seconds in {last}"))?;
    let stored = stored_at_heads(&data, &manifest, &docs)?;
    Ok(report(
        opts,
        PEER_PACKAGE.into(),
        "",
        (stored, count(&docs)),
        seconds,
        (rss, cpu),
        false,
    ))
}

/// The report of a run: `server` is the server's peak RSS (MB) and CPU time (s) over the timed
/// phase.
pub(crate) fn report(
    opts: &PeerOptions,
    peer: String,
    variant: &'static str,
    (stored, documents): (usize, usize),
    seconds: f64,
    server: (f64, f64),
    timed_out: bool,
) -> PeerReport {
    let per_s = stored as f64 / seconds.max(1e-9);
    PeerReport {
        mode: "peer",
        peer,
        variant,
        devices: opts.phones.devices,
        reports: documents,
        documents,
        stored,
        seconds,
        peer_reports_per_s: per_s,
        documents_per_s: per_s,
        server_rss_mb: server.0,
        server_cpu_ms_per_report: server.1 * 1000.0 / documents.max(1) as f64,
        timed_out,
    }
}
