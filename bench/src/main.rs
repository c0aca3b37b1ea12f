//! `gridsync-bench`: prints progress on stderr and one JSON object as its last line on stdout.

use clap::{Parser, Subcommand};
use gridsync_bench::{StormOptions, Workload, limit, storm};

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let report = match cli.command {
        Command::Storm(opts) => storm(&opts)?,
        Command::Limit(w) => limit(&w)?,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
