//! Every comparison of issue 29 from runs made back to back: the floor, the limit and the storm
//! (`floor`), then samod with a repo per connection, samod with one repo, and the JS sync
//! server on the same phones' documents, with the ratios between them.

use std::path::PathBuf;

use serde::Serialize;

use crate::floor::{FloorOptions, FloorReport, floor};
use crate::peer::{PeerKind, PeerOptions, peer};
use crate::peer_run::PeerReport;
use crate::samod::{SamodOptions, SamodProfile, SamodVariant};
use crate::workload::*;

#[derive(Debug, Clone, clap::Args)]
pub struct CompareOptions {
    #[command(flatten)]
    pub workload: Workload,
    #[command(flatten)]
    pub server: ServerBin,
    /// The one-repo samod run stops after this many seconds and reports how far it got.
    #[arg(long, default_value_t = 60.0)]
    pub peer_time_limit_s: f64,
    /// Leave out the JS sync server (npm, and minutes at large sizes).
    #[arg(long)]
    pub without_js: bool,
    /// Scratch directory for the peers (made on first use, never committed).
    #[arg(long, default_value = "target/peer-bench")]
    pub scratch: PathBuf,
    #[arg(long, value_enum, default_value_t = SamodProfile::Release)]
    pub samod_profile: SamodProfile,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CompareReport {
    /// The floor, and the limit and the storm right after it, with their ratios.
    pub floor: FloorReport,
    pub samod_repo_per_connection: PeerReport,
    pub samod_one_repo: PeerReport,
    pub js: Option<PeerReport>,
    /// Storm reports per second over samod's (a repo per connection: the variant that
    /// completes).
    pub storm_over_samod: Option<f64>,
    /// The storm server's CPU per report over samod's per document.
    pub storm_cpu_over_samod_cpu: Option<f64>,
    /// Storm reports per second over the JS server's.
    pub storm_over_js: Option<f64>,
}

pub fn compare(opts: &CompareOptions) -> anyhow::Result<CompareReport> {
    let floor = floor(&FloorOptions {
        workload: opts.workload.clone(),
        threads: None,
        alone: false,
        server: opts.server.clone(),
    })?;
    let peer_with = |kind: PeerKind, variant: SamodVariant| {
        peer(&PeerOptions {
            phones: opts.workload.phones.clone(),
            peer: kind,
            samod: SamodOptions {
                samod_variant: variant,
                peer_time_limit_s: opts.peer_time_limit_s,
                samod_profile: opts.samod_profile,
            },
            scratch: opts.scratch.clone(),
        })
    };
    let samod_repo_per_connection = peer_with(PeerKind::Samod, SamodVariant::RepoPerConnection)?;
    let samod_one_repo = peer_with(PeerKind::Samod, SamodVariant::OneRepo)?;
    let js = match opts.without_js {
        true => None,
        false => Some(peer_with(PeerKind::Js, SamodVariant::OneRepo)?),
    };
    let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
    let storm = floor.storm.clone().unwrap_or_default();
    Ok(CompareReport {
        storm_over_samod: ratio(
            storm.reports_per_s,
            samod_repo_per_connection.peer_reports_per_s,
        ),
        storm_cpu_over_samod_cpu: ratio(
            storm.server_cpu_ms_per_report,
            samod_repo_per_connection.server_cpu_ms_per_report,
        ),
        storm_over_js: js
            .as_ref()
            .and_then(|j| ratio(storm.reports_per_s, j.peer_reports_per_s)),
        floor,
        samod_repo_per_connection,
        samod_one_repo,
        js,
    })
}
