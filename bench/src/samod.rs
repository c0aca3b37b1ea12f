//! The same documents through a minimal sync server on the Rust crate samod.
//!
//! The server and its phones are one small program (`bench/peer/samod/`) built from crates.io
//! into the scratch directory at run time, with the versions pinned in its Cargo.lock; the built
//! binary is kept under a name carrying a hash of the sources and the profile, so a run rebuilds
//! only after they change, and the build's own target directory is removed once the binary is
//! copied out (it is most of a gigabyte). Whether a document arrived is judged by reading the server's storage directory after
//! the server stopped (samod's stop waits for its storage writes).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use gridsync_testkit::process::{cpu_seconds_of, peak_rss_mb_of};

use crate::peer_run::{PeerReport, Run, count, phone_documents, report, run};
use crate::stored::stored_at_heads;
use crate::workload::Phones;

/// The samod version of the server, as pinned in its Cargo.toml.
const SAMOD: &str = "samod 0.16.0";
const CARGO_TOML: &str = include_str!("../peer/samod/Cargo.toml.template");
const CARGO_LOCK: &str = include_str!("../peer/samod/Cargo.lock.template");
const MAIN_RS: &str = include_str!("../peer/samod/main.rs");

/// How the samod server holds its documents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SamodVariant {
    /// One Repo for every connection, as a sync server is meant to run.
    #[default]
    OneRepo,
    /// A Repo per WebSocket connection over one storage directory: no relay between phones,
    /// but samod's own per-document work and storage.
    RepoPerConnection,
}

impl SamodVariant {
    pub fn as_str(self) -> &'static str {
        match self {
            SamodVariant::OneRepo => "one-repo",
            SamodVariant::RepoPerConnection => "repo-per-connection",
        }
    }
}

/// The cargo profile the samod program is built with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SamodProfile {
    /// Optimised: for figures.
    #[default]
    Release,
    /// Unoptimised and quicker to build: for tests.
    Debug,
}

/// The samod peer's settings (`--peer samod`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SamodOptions {
    #[arg(long, value_enum, default_value_t = SamodVariant::OneRepo)]
    pub samod_variant: SamodVariant,
    /// The one-repo run stops after this many seconds and reports what was stored by then.
    #[arg(long, default_value_t = 60.0)]
    pub peer_time_limit_s: f64,
    #[arg(long, value_enum, default_value_t = SamodProfile::Release)]
    pub samod_profile: SamodProfile,
}

/// The repo-per-connection run's guard against hanging, not a limit it is meant to reach.
const NO_LIMIT_S: f64 = 3600.0;

/// FNV-1a: a hash that stays the same across Rust versions, for the binary's name.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The samod program, built into `scratch/samod` on first use and on every change of its sources.
pub fn samod_binary(scratch: &Path, profile: SamodProfile) -> anyhow::Result<PathBuf> {
    let dir = scratch.join("samod");
    let (profile_name, profile_dir) = match profile {
        SamodProfile::Release => ("release", "release"),
        SamodProfile::Debug => ("dev", "debug"),
    };
    let hash = fnv1a(&[CARGO_TOML, CARGO_LOCK, MAIN_RS, profile_name]);
    let bin = dir
        .join("bin")
        .join(format!("samod-peer-{profile_dir}-{hash:016x}"));
    if bin.exists() {
        return Ok(bin);
    }
    std::fs::create_dir_all(dir.join("src"))
        .and_then(|()| std::fs::create_dir_all(dir.join("bin")))
        .with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in [
        ("Cargo.toml", CARGO_TOML),
        ("Cargo.lock", CARGO_LOCK),
        ("src/main.rs", MAIN_RS),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "building the samod peer ({SAMOD}, {profile_dir}) from crates.io in {} \
         (a few minutes the first time)",
        dir.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let status = Command::new(cargo)
        .args([
            "build",
            "-q",
            "--locked",
            "--profile",
            profile_name,
            "--target-dir",
        ])
        .arg(dir.join("target"))
        .current_dir(&dir)
        // The workspace's build settings are not the scratch project's.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdout(Stdio::null())
        .status()
        .context("running cargo to build the samod peer")?;
    if !status.success() {
        bail!("building the samod peer in {} failed", dir.display());
    }
    eprintln!(
        "built the samod peer in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let built = dir.join("target").join(profile_dir).join("samod-peer");
    // Copied then renamed, so a half-copied binary never carries the final name.
    let partial = bin.with_extension("partial");
    std::fs::copy(&built, &partial).with_context(|| format!("copying {}", built.display()))?;
    std::fs::rename(&partial, &bin).with_context(|| format!("naming {}", bin.display()))?;
    let _ = std::fs::remove_dir_all(dir.join("target"));
    // Binaries of earlier sources of the same profile are not run again.
    let prefix = format!("samod-peer-{profile_dir}-");
    for old in std::fs::read_dir(dir.join("bin"))?.flatten() {
        let name = old.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && old.path() != bin {
            let _ = std::fs::remove_file(old.path());
        }
    }
    Ok(bin)
}

/// Each phone's saves in the phones' file format: u32 phones, per phone u32 documents, per
/// document u32 length and bytes (little-endian).
fn write_docs(path: &Path, docs: &[Vec<Vec<u8>>]) -> anyhow::Result<()> {
    let len = |n: usize| -> anyhow::Result<[u8; 4]> {
        Ok(u32::try_from(n).context("too many for u32")?.to_le_bytes())
    };
    let mut out = Vec::new();
    out.extend(len(docs.len())?);
    for phone in docs {
        out.extend(len(phone.len())?);
        for doc in phone {
            out.extend(len(doc.len())?);
            out.extend(doc);
        }
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// Reads the server's next stdout line, waiting at most `limit`.
fn next_line(
    lines: &mpsc::Receiver<String>,
    limit: Duration,
    what: &str,
) -> anyhow::Result<String> {
    lines
        .recv_timeout(limit)
        .map_err(|_| anyhow!("the samod server did not say {what:?} within {limit:?}"))
}

/// The same workload through the samod server, driven by samod phones.
pub fn samod_peer(
    phones: &Phones,
    samod: &SamodOptions,
    scratch: &Path,
) -> anyhow::Result<PeerReport> {
    let scratch = std::path::absolute(scratch)?;
    let bin = samod_binary(&scratch, samod.samod_profile)?;
    let variant = samod.samod_variant;
    let docs = phone_documents(phones)?;
    let run_dir = scratch.join("samod-run");
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let docs_file = run_dir.join("docs.bin");
    write_docs(&docs_file, &docs)?;
    let manifest = run_dir.join("manifest.txt");
    let data = run_dir.join("data");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let mut server = Command::new(&bin)
        .args(["serve", variant.as_str(), &port.to_string()])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = server.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let measured = (|| {
        let line = next_line(&lines, Duration::from_secs(30), "listening")?;
        if !line.contains("listening on port") {
            bail!("the samod server did not start: {line:?}");
        }
        let cpu_before = cpu_seconds_of(server.id());
        let limit = match variant {
            SamodVariant::OneRepo => samod.peer_time_limit_s,
            SamodVariant::RepoPerConnection => NO_LIMIT_S,
        };
        let out = run(Command::new(&bin)
            .arg("phones")
            .arg(format!("ws://127.0.0.1:{port}/"))
            .arg(&docs_file)
            .arg(phones.concurrency.to_string())
            .arg(limit.to_string())
            .arg(&manifest));
        // Stopped even when the phones failed, so their error is the one reported.
        let flush_started = Instant::now();
        let stdin = server.stdin.as_mut().ok_or_else(|| anyhow!("no stdin"))?;
        writeln!(stdin, "stop").context("asking the samod server to stop")?;
        next_line(&lines, Duration::from_secs(600), "stopped")?;
        let flush = flush_started.elapsed().as_secs_f64();
        let rss = peak_rss_mb_of(server.id());
        let cpu = cpu_seconds_of(server.id()) - cpu_before;
        Ok((out?, flush, rss, cpu))
    })();
    drop(server.stdin.take());
    let exit = Instant::now();
    while server.try_wait().ok().flatten().is_none() {
        if exit.elapsed() > Duration::from_secs(10) {
            let _ = server.kill();
            let _ = server.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (out, flush, rss, cpu) = measured?;
    let last = out.lines().last().unwrap_or_default();
    let parsed: serde_json::Value =
        serde_json::from_str(last).with_context(|| format!("the samod phones printed {last:?}"))?;
    let seconds = parsed["seconds"]
        .as_f64()
        .ok_or_else(|| anyhow!("no seconds in {last}"))?;
    let timed_out = parsed["timed_out"].as_bool().unwrap_or(false);
    Ok(report(
        phones.devices,
        SAMOD.into(),
        variant.as_str(),
        Run {
            stored: stored_at_heads(&data, &manifest, &docs)?,
            documents: count(&docs),
            seconds: seconds + flush,
            flush_seconds: flush,
            server_rss_mb: rss,
            server_cpu_s: cpu,
            timed_out,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binary_name_follows_the_sources_and_the_profile() {
        assert_ne!(fnv1a(&["a", "b"]), fnv1a(&["ab", ""]));
        assert_eq!(fnv1a(&["x"]), fnv1a(&["x"]));
    }
}
