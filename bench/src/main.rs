//! `gridsync-bench`: prints progress on stderr and one JSON object as its last line on stdout.

use clap::{Parser, Subcommand};
use gridsync_bench::{
    CompareOptions, FloorOptions, HandoffOptions, LinkOptions, PeerOptions, PhoneOptions,
    StormOptions, Workload, compare, floor, handoff, limit, link, peer, phone, storm,
};

#[derive(Debug, Parser)]
#[command(name = "gridsync-bench", about = "Benchmarks of the gridsync server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The morning reconnect storm: N phones that captured cases offline sync at once through
    /// K `gridsync serve` processes, until every change is acknowledged and pulled.
    Storm(StormOptions),
    /// The same changes applied in-process straight into the store (no HTTP): the ceiling.
    Limit(Workload),
    /// One phone syncing its offline cases over an emulated 2G link, against the physical
    /// minimum (its change bytes at the link's speed plus one round trip).
    Link(LinkOptions),
    /// The same documents through another sync server: @automerge/automerge-repo-sync-server
    /// (installed with npm into a scratch directory at run time) driven by a Node client, or
    /// (`--peer samod`) a minimal server on the Rust crate samod (built from crates.io into the
    /// scratch directory at run time) driven by samod phones.
    Peer(PeerOptions),
    /// One after another on the same phones: floor, limit, storm, samod (a repo per connection,
    /// then one repo) and the JS sync server, with the ratios between them.
    Compare(CompareOptions),
    /// Automerge's own floor: the storm's changes applied and saved with Automerge alone, in
    /// process; then the limit and the storm on the same workload, with their ratios to it.
    Floor(FloorOptions),
    /// Two servers on one PostgreSQL: how soon a case accepted by one reaches a phone syncing
    /// through the other.
    Handoff(HandoffOptions),
    /// The phone's own store with 10,000 cases: opening it and capturing through the FFI.
    Phone(PhoneOptions),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let line = match cli.command {
        Command::Storm(opts) => serde_json::to_string(&storm(&opts)?)?,
        Command::Limit(w) => serde_json::to_string(&limit(&w)?)?,
        Command::Link(opts) => serde_json::to_string(&link(&opts)?)?,
        Command::Peer(opts) => serde_json::to_string(&peer(&opts)?)?,
        Command::Compare(opts) => serde_json::to_string(&compare(&opts)?)?,
        Command::Floor(opts) => serde_json::to_string(&floor(&opts)?)?,
        Command::Handoff(opts) => serde_json::to_string(&handoff(&opts)?)?,
        Command::Phone(opts) => serde_json::to_string(&phone(&opts)?)?,
    };
    println!("{line}");
    Ok(())
}
