//! What both peers share: the report, the run it is made from, running a helper program, and
//! the phones' documents as Automerge saves.

use std::process::Command;

use anyhow::{Context, bail};
use gridsync_core::replica::CaseFilter;
use serde::Serialize;

use crate::workload::*;

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
    /// From the first phone's connection until the server's storage held what it acknowledged.
    pub seconds: f64,
    /// The part of `seconds` after the phones were done: samod's stop, which waits for its
    /// storage writes; for the JS server, until its storage directory held every document (or
    /// stopped gaining any).
    pub flush_seconds: f64,
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

/// What a run measured.
pub(crate) struct Run {
    pub(crate) stored: usize,
    pub(crate) documents: usize,
    /// The timed phase, storage flush included.
    pub(crate) seconds: f64,
    /// The part of `seconds` after the phones were done, until the server's storage held it.
    pub(crate) flush_seconds: f64,
    pub(crate) server_rss_mb: f64,
    /// The server's CPU time (user + system) over the timed phase.
    pub(crate) server_cpu_s: f64,
    pub(crate) timed_out: bool,
}

/// The report of a run.
pub(crate) fn report(devices: usize, peer: String, variant: &'static str, r: Run) -> PeerReport {
    let per_s = r.stored as f64 / r.seconds.max(1e-9);
    PeerReport {
        mode: "peer",
        peer,
        variant,
        devices,
        reports: r.documents,
        documents: r.documents,
        stored: r.stored,
        seconds: r.seconds,
        flush_seconds: r.flush_seconds,
        peer_reports_per_s: per_s,
        documents_per_s: per_s,
        server_rss_mb: r.server_rss_mb,
        server_cpu_ms_per_report: r.server_cpu_s * 1000.0 / r.documents.max(1) as f64,
        timed_out: r.timed_out,
    }
}
