//! The same documents through the automerge-repo sync server, for comparison.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, anyhow, bail};
use gridsync_core::replica::CaseFilter;
use gridsync_testkit::process::{cpu_seconds_of, peak_rss_mb_of};
use serde::Serialize;

use crate::workload::*;

/// The same documents through the automerge-repo sync server.
#[derive(Debug, Clone, clap::Args)]
pub struct PeerOptions {
    #[command(flatten)]
    pub phones: Phones,
    /// Scratch directory for the npm packages (installed on first use, never committed).
    #[arg(long, default_value = "target/peer-bench")]
    pub scratch: PathBuf,
}

/// The peer's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeerReport {
    pub mode: &'static str,
    pub peer: &'static str,
    pub devices: usize,
    pub reports: usize,
    pub seconds: f64,
    pub peer_reports_per_s: f64,
    pub server_rss_mb: f64,
    /// The sync server's CPU time (user + system) while the client ran, per report, ms.
    pub server_cpu_ms_per_report: f64,
}

/// The sync server's version measured (its automerge-repo is 1.x; the client uses the same).
const PEER_PACKAGE: &str = "@automerge/automerge-repo-sync-server@0.2.8";

fn run(cmd: &mut Command) -> anyhow::Result<String> {
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

/// The phones' offline documents, as the peer's client reads them: per phone, base64 saves.
fn export_documents(devices: &[Device]) -> anyhow::Result<Vec<Vec<String>>> {
    use base64::Engine as _;
    devices
        .iter()
        .map(|d| {
            d.replica
                .list(&CaseFilter::default())?
                .iter()
                .map(|s| {
                    let mut doc = d.replica.case(&s.id)?;
                    Ok(base64::engine::general_purpose::STANDARD.encode(doc.save()))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .collect()
}

/// The same workload through `@automerge/automerge-repo-sync-server`, driven by a Node client.
pub fn peer(opts: &PeerOptions) -> anyhow::Result<PeerReport> {
    let w = Workload::on_sqlite(opts.phones.clone());
    let scratch = std::path::absolute(&opts.scratch)?;
    install_peer(&scratch)?;
    let rt = runtime()?;
    let db = rt.block_on(bench_db(&w))?;
    let devices = rt.block_on(async {
        let store = db.store.clone();
        prepare(&w, &store).await
    })?;
    let docs_file = scratch.join("docs.json");
    std::fs::write(
        &docs_file,
        serde_json::to_vec(&export_documents(&devices)?)?,
    )?;
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
    let reports = opts.phones.devices * opts.phones.reports;
    Ok(PeerReport {
        mode: "peer",
        peer: PEER_PACKAGE,
        devices: opts.phones.devices,
        reports,
        seconds,
        peer_reports_per_s: reports as f64 / seconds,
        server_rss_mb: rss,
        server_cpu_ms_per_report: cpu * 1000.0 / reports.max(1) as f64,
    })
}
